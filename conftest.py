"""Collects the console examples of README.md and docs/*.md as tests (Sybil; the evaluator and the
conventions are in tests/docs/console.py). Generated pages are left out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sybil import Sybil
from sybil.parsers.markdown import CodeBlockParser

from tests.docs.console import evaluate, teardown

ROOT = Path(__file__).resolve().parent
GENERATED = {"cli-reference.md", "interop.md"}  # scripts/gen_cli_docs.py, tests/interop

_docs = Sybil(
    parsers=[CodeBlockParser(language="console", evaluator=evaluate)],
    patterns=["README.md", "docs/*.md"],
    teardown=teardown,
    name="console",
).pytest()


def pytest_collect_file(file_path: Path, parent: Any) -> Any:
    if file_path == ROOT / "README.md" or (
        file_path.parent == ROOT / "docs" and file_path.suffix == ".md" and file_path.name not in GENERATED
    ):
        return _docs(file_path, parent)
    return None
