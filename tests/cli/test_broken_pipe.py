"""A table piped into a reader that stops early (``a2actl … | head -2``) ends quietly with exit 0, as
``-o jsonl | head -1`` does: rich's Console turned the broken pipe into a silent exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fleet_server import FleetServer, plan, write_inventory


def test_a_table_to_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    with FleetServer() as server:
        inv = write_inventory(tmp_path / "inv.txt", plan(server.url, {"healthy": 40}), fmt="text")
        proc = subprocess.Popen(
            [sys.executable, "-m", "a2actl", "fleet", "probe", str(inv), "--no-progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before the table is written (| head -0)
        err = proc.stderr.read().decode()
        assert proc.wait(60) == 0, err
        assert err == ""
