"""Helpers shared by tests/grpc: one task read over several bindings (``task get --binding B -o
json``, for the binding-equivalence tests) and a card file whose only interface is GRPC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def grpc_card_file(tmp_path: Path, url: str, description: str, capabilities: dict[str, Any]) -> str:
    """The path of a 1.0 card file (in ``tmp_path``) whose only interface is GRPC at ``url``."""
    card = {
        "name": "grpc only",
        "description": description,
        "version": "1.0.0",
        "supportedInterfaces": [{"url": url, "protocolBinding": "GRPC", "protocolVersion": "1.0"}],
        "capabilities": capabilities,
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [],
    }
    path = tmp_path / "card.json"
    path.write_text(json.dumps(card))
    return str(path)


def task_views(cli: Any, url: str, task_id: str, bindings: tuple[str, ...], version: str) -> dict[str, Any]:
    """``{binding: the -o json document of 'task get'}``; asserts each call exits 0."""
    views = {}
    for binding in bindings:
        r = cli("task", "get", url, task_id, "--binding", binding, "--a2a-version", version, "-o", "json")
        assert r.exit_code == 0, (binding, r.stderr)
        views[binding] = r.json
    return views
