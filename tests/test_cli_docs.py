"""Completions and docs/cli-reference.md are generated from the app: stale files, or a command
without help text or an example, fail here. Completion scripts really complete."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def gen() -> Any:
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_files_are_fresh_and_every_command_documented() -> None:
    files, problems = gen().build_all()
    assert problems == []
    for rel, text in files.items():
        assert (ROOT / rel).read_text(encoding="utf-8") == text, (
            f"{rel} is stale: run python3 scripts/gen_cli_docs.py"
        )


def test_reference_covers_every_command() -> None:
    ref = (ROOT / "docs" / "cli-reference.md").read_text()
    for cmd in (
        "a2actl caps diff",
        "a2actl stream tail",
        "a2actl sessions kill",
        "a2actl dlq replay",
        "a2actl smoke run",
        "a2actl send",
        "a2actl task list",
        "a2actl handshake probe",
    ):
        assert f"## `{cmd}`" in ref


def test_bash_completion_answers() -> None:
    env = {**os.environ, "_A2ACTL_COMPLETE": "complete_bash", "COMP_WORDS": "a2actl ca", "COMP_CWORD": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "a2actl"], env=env, capture_output=True, text=True, timeout=30
    )
    assert {"caps", "card"} <= set(out.stdout.split())


def test_default_deadlines_are_documented() -> None:
    """docs/exit-codes.md's table of default deadlines says what DEFAULT_MAX_TIME does."""
    import re

    from a2actl.cli.context import DEFAULT_MAX_TIME

    units = {"s": 1, "min": 60, "h": 3600}
    text = (ROOT / "docs" / "exit-codes.md").read_text()
    documented: dict[str, float] = {}
    for row in re.findall(r"^\| (`.+?) \| (\d+) (s|min|h) \|$", text, re.M):
        for cmd in re.findall(r"`([a-z ]+?)`", row[0]):
            documented[cmd] = int(row[1]) * units[row[2]]
    assert documented == DEFAULT_MAX_TIME
