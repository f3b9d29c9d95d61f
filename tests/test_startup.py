"""`a2actl --version` and `--help` must not import the heavy client stack or the core."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("httpx", "httpx_sse", "websockets", "jsonschema", "a2a", "uvicorn", "a2actl.transport",
         "a2actl.probe", "a2actl.protocol", "a2actl.discovery", "a2actl.sandbox", "a2actl.caps")


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["handshake", "probe", "--help"], ["caps", "diff", "--help"]])
def test_no_heavy_imports(args):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "a2actl", *args],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr[-500:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    leaked = sorted(m for m in imported for h in HEAVY if m == h or m.startswith(h + "."))
    assert leaked == []


def test_version_output():
    from a2actl import __version__

    proc = subprocess.run([sys.executable, "-m", "a2actl", "--version"], capture_output=True, text=True, timeout=30)
    assert proc.stdout.strip() == f"a2actl {__version__}"
