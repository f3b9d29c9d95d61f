"""One task read over several bindings (``task get --binding B -o json``), for the binding-equivalence
tests of tests/grpc."""

from __future__ import annotations

from typing import Any


def task_views(cli: Any, url: str, task_id: str, bindings: tuple[str, ...], version: str) -> dict[str, Any]:
    """``{binding: the -o json document of 'task get'}``; asserts each call exits 0."""
    views = {}
    for binding in bindings:
        r = cli("task", "get", url, task_id, "--binding", binding, "--a2a-version", version, "-o", "json")
        assert r.exit_code == 0, (binding, r.stderr)
        views[binding] = r.json
    return views
