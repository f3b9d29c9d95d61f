"""``smoke`` over gRPC (#18): a check's ``binding: GRPC`` (kinds probe, send, stream) runs that check
through the card's gRPC interface while the others keep the run's ``--binding``; the row's
``details.binding`` names it. A bad value is a suite error (exit 2); without the extra the check is an
error row naming the install hint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from a2actl.server.sandbox.server import RunningSandbox


def _suite(tmp_path: Path, url: str, checks: str) -> str:
    p = tmp_path / "suite.yaml"
    p.write_text(f"target: {url}\nchecks:\n{checks}")
    return str(p)


CHECKS = """\
  - name: send over the card's choice
    kind: send
    text: hello
  - name: send over gRPC
    kind: send
    binding: GRPC
    text: hello
    expectText: "echo: hello"
    firstEvent: 5s
  - name: stream over gRPC
    kind: stream
    binding: GRPC
    text: /stream 3 10
  - name: probe over gRPC
    kind: probe
    binding: GRPC
    samples: 2
    budget: 5s
"""


def test_binding_grpc_per_check(cli: Any, sandbox_grpc: RunningSandbox, tmp_path: Path) -> None:
    r = cli("smoke", "run", _suite(tmp_path, sandbox_grpc.url, CHECKS), "-v", "-o", "json")
    assert r.exit_code == 0, r.stderr
    rows = r.json["results"]
    assert [(c["status"], c["details"].get("binding")) for c in rows] == [
        ("pass", None),
        ("pass", "GRPC"),
        ("pass", "GRPC"),
        ("pass", "GRPC"),
    ]
    negotiated = [line.split(" at ")[0] for line in r.stderr.splitlines() if "negotiated" in line]
    assert negotiated[0] == "* negotiated JSONRPC 1.0"
    assert set(negotiated[1:]) == {"* negotiated GRPC 1.0"}
    assert any(f"at {sandbox_grpc.grpc_url}:" in line for line in r.stderr.splitlines())


def test_a_bad_binding_is_a_suite_error(cli: Any, sandbox_grpc: RunningSandbox, tmp_path: Path) -> None:
    path = _suite(tmp_path, sandbox_grpc.url, "  - kind: send\n    text: hi\n    binding: CORBA\n")
    r = cli("smoke", "run", path, "-o", "json")
    assert r.exit_code == 2
    assert r.json["error"]["message"].startswith(f"{path}:")
    assert "CORBA" in r.json["error"]["message"]


def test_binding_grpc_without_the_extra_is_an_error_row_with_the_hint(
    cli: Any, sandbox_grpc: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("a2actl.agent.connect.grpc_available", lambda: False)
    r = cli("smoke", "run", _suite(tmp_path, sandbox_grpc.url, CHECKS), "-o", "json")
    rows = r.json["results"]
    assert rows[0]["status"] == "pass"  # the other bindings are unchanged
    assert rows[1]["status"] == "error" and rows[1]["details"] == {"binding": "GRPC"}
    assert "gRPC extra" in rows[1]["message"]
