"""`a2actl --version` and `--help` must not import the heavy client stack or the core; `--version`
alone is answered before typer is imported (issue #12 item 9)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = (
    "httpx",
    "httpx_sse",
    "websockets",
    "jsonschema",
    "a2a",
    "uvicorn",
    "a2actl.transport",
    "a2actl.probe",
    "a2actl.protocol",
    "a2actl.agent.discovery",
    "a2actl.server.sandbox",
    "a2actl.caps",
)


@pytest.mark.parametrize(
    "args", [["--version"], ["--help"], ["handshake", "probe", "--help"], ["caps", "diff", "--help"]]
)
def test_no_heavy_imports(args):
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "a2actl", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    leaked = sorted(m for m in imported for h in HEAVY if m == h or m.startswith(h + "."))
    assert leaked == []


def imports_of(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "a2actl", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    return {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}


def test_version_output():
    from a2actl import __version__

    proc = subprocess.run(
        [sys.executable, "-m", "a2actl", "--version"], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == f"a2actl {__version__}\n"


def test_version_is_answered_before_typer_is_imported():
    imported = imports_of("--version")
    assert {"typer", "rich", "click", "pydantic", "a2actl.cli", "a2actl.cli.app"}.isdisjoint(imported)
    assert "a2actl" in imported


def test_version_fast_path_matches_the_root_option(cli):
    """The typer path (``--version`` among other arguments, or the app run in-process) prints the
    same line as the fast path."""
    from a2actl import __version__

    r = cli("--version")
    assert (r.exit_code, r.stdout) == (0, f"a2actl {__version__}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "a2actl", "-o", "json", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (proc.returncode, proc.stdout) == (0, r.stdout)


def test_console_entry_point_answers_version(capsys, monkeypatch):
    from a2actl import __version__
    from a2actl.__main__ import main

    monkeypatch.setattr(sys, "argv", ["a2actl", "--version"])
    main()
    assert capsys.readouterr().out == f"a2actl {__version__}\n"
