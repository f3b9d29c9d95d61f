"""``caps fingerprint`` over gRPC (#18): the card's GRPC interfaces are probed with side-effect-free
GetTask calls on a random id (NOT_FOUND + TASK_NOT_FOUND = answers), on the 1.0 and 0.3 services, with
``a2a-version: 99.0`` and without the key; server reflection is reported with its service list.
Against the sandbox (reflection on, both services), a 1.0-only sandbox, a plain a2a-sdk agent (no
reflection), a sandbox that wants a token, a GRPC interface nobody listens on, and without the extra."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from a2actl.server.sandbox.server import RunningSandbox
from tests.conftest import TOKEN
from tests.grpc.sdk_grpc_agent import SdkGrpcAgent
from tests.grpc.views import grpc_card_file

HINT = "pip install 'a2actl[grpc]'"


def _grpc(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in doc["endpoints"] if e["protocolBinding"] == "GRPC"]


def _mismatches(doc: dict[str, Any], url: str) -> list[tuple[str, str]]:
    return [(m["severity"], m["message"]) for m in doc["mismatches"] if m["url"] == url]


def test_the_sandbox_grpc_interface_answers_both_versions_and_lists_its_services(
    cli: Any, sandbox_grpc: RunningSandbox
) -> None:
    r = cli("caps", "fingerprint", sandbox_grpc.url, "-o", "json")
    assert r.exit_code == 0, r.stderr
    doc = r.json
    (ep,) = _grpc(doc)
    assert ep["url"] == sandbox_grpc.grpc_url
    assert (ep["declaredVersions"], ep["speaks"], ep["skipped"]) == (["1.0", "0.3"], ["1.0", "0.3"], None)
    v1, v03 = ep["probes"]["1.0"], ep["probes"]["0.3"]
    assert (v1["call"], v1["headers"], v1["verdict"], v1["code"]) == (
        "GetTask (lf.a2a.v1.A2AService)",
        {"a2a-version": "1.0"},
        "answers",
        -32001,
    )
    assert (v03["call"], v03["headers"], v03["verdict"]) == ("GetTask (a2a.v1.A2AService)", {}, "answers")
    assert ep["reflection"]["enabled"] is True
    assert ep["reflection"]["services"] == [
        "a2a.v1.A2AService",
        "grpc.reflection.v1alpha.ServerReflection",
        "lf.a2a.v1.A2AService",
    ]
    # a2a-sdk 1.3's GrpcHandler reads no a2a-version metadata: 99.0 and none are both accepted.
    assert ep["versionHeader"] == {"honoured": False, "missingHeaderReadAs": "1.0"}
    assert [s for s, _ in _mismatches(doc, ep["url"])] == ["warning", "info"]
    assert "a2a-version metadata is ignored" in _mismatches(doc, ep["url"])[0][1]
    assert doc["bindingsAgree"] is True
    assert doc["verdict"] == "0.3-compat"


def test_the_table_names_grpc_and_its_reflection(cli: Any, sandbox_grpc: RunningSandbox) -> None:
    r = cli("caps", "fingerprint", sandbox_grpc.url)
    assert r.exit_code == 0, r.stderr
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines() if line.strip()}
    assert rows["GRPC"][1:] == [
        str(sandbox_grpc.grpc_url),
        "1.0,",
        "0.3",
        "answers",
        "answers",
        "ignored;",
        "missing",
        "=",
        "1.0",
    ]
    assert f"reflection on {sandbox_grpc.grpc_url}: a2a.v1.A2AService, " in r.stdout
    assert "bindings: JSON-RPC, HTTP+JSON and gRPC agree" in r.stdout.splitlines()


def test_a_1_0_only_sandbox_rejects_the_0_3_service(cli: Any, sandbox_grpc_v1: RunningSandbox) -> None:
    r = cli("caps", "fingerprint", sandbox_grpc_v1.url, "-o", "json")
    assert r.exit_code == 0, r.stderr
    (ep,) = _grpc(r.json)
    assert (ep["declaredVersions"], ep["speaks"]) == (["1.0"], ["1.0"])
    assert (ep["probes"]["0.3"]["verdict"], ep["probes"]["0.3"]["code"]) == ("rejects", -32601)
    assert "UNIMPLEMENTED" in ep["probes"]["0.3"]["detail"]
    assert "a2a.v1.A2AService" not in ep["reflection"]["services"]
    assert r.json["verdict"] == "1.0-only"


def test_a_plain_sdk_agent_without_reflection(cli: Any, sdk_grpc_agent: SdkGrpcAgent) -> None:
    r = cli("caps", "fingerprint", sdk_grpc_agent.url, "-o", "json")
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert [e["protocolBinding"] for e in doc["endpoints"]] == ["GRPC"]
    (ep,) = _grpc(doc)
    assert ep["speaks"] == ["1.0"] and ep["probes"]["0.3"]["verdict"] == "rejects"
    assert ep["reflection"] == {
        "enabled": False,
        "service": None,
        "services": [],
        "status": "UNIMPLEMENTED",
        "message": ep["reflection"]["message"],
    }
    assert doc["bindingsAgree"] is None  # one binding
    r = cli("caps", "fingerprint", sdk_grpc_agent.url)
    assert f"reflection on {sdk_grpc_agent.grpc_url}: off (UNIMPLEMENTED)" in r.stdout.splitlines()


def test_jsonrpc_and_grpc_of_a_plain_sdk_agent_agree(cli: Any, sdk_grpc_agent_jsonrpc: SdkGrpcAgent) -> None:
    r = cli("caps", "fingerprint", sdk_grpc_agent_jsonrpc.url, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert [(e["protocolBinding"], e["speaks"]) for e in r.json["endpoints"]] == [
        ("JSONRPC", ["1.0"]),
        ("GRPC", ["1.0"]),
    ]
    assert r.json["bindingsAgree"] is True


def test_a_token_protected_grpc_interface(cli: Any, sandbox_grpc_auth: RunningSandbox) -> None:
    r = cli("caps", "fingerprint", sandbox_grpc_auth.url, "-o", "json")
    (ep,) = _grpc(r.json)
    assert ep["probes"]["1.0"]["verdict"] == "error"
    assert ep["probes"]["1.0"]["detail"] == "gRPC UNAUTHENTICATED: unauthorized; set A2ACTL_TOKEN"
    assert (
        "warning",
        f"GRPC {ep['url']}: could not check the declared 1.0: {ep['probes']['1.0']['detail']}",
    ) in (_mismatches(r.json, ep["url"]))
    r = cli("caps", "fingerprint", sandbox_grpc_auth.url, "-o", "json", env={"A2ACTL_TOKEN": TOKEN})
    assert r.exit_code == 0, r.stderr
    (ep,) = _grpc(r.json)
    assert ep["speaks"] == ["1.0", "0.3"]
    assert TOKEN not in r.stdout + r.stderr


def _card_file(tmp_path: Path, grpc_url: str) -> str:
    return grpc_card_file(tmp_path, grpc_url, "a card whose gRPC interface nobody serves", {})


def test_nothing_listening_is_a_probe_error_not_a_crash(cli: Any, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = cli(
        "caps",
        "fingerprint",
        _card_file(tmp_path, f"127.0.0.1:{port}"),
        "--connect-timeout",
        "2",
        "-o",
        "json",
    )
    # no probe got an answer: UNAVAILABLE's exit code, 3 (it was 0 with verdict none)
    assert r.exit_code == 3, r.stderr
    (ep,) = _grpc(r.json)
    assert ep["speaks"] == [] and ep["probes"]["1.0"]["verdict"] == "error"
    assert ep["probes"]["1.0"]["detail"].startswith("gRPC UNAVAILABLE")
    assert (
        ep["reflection"]["enabled"] is None and ep["reflection"]["status"] == "UNAVAILABLE"
    )  # unknown: nothing answered
    assert r.json["verdict"] == "none"


def test_a_url_that_is_not_host_port_is_skipped_with_the_reason(cli: Any, tmp_path: Path) -> None:
    r = cli("caps", "fingerprint", _card_file(tmp_path, "127.0.0.1"), "-o", "json")
    assert r.exit_code == 0, r.stderr
    (ep,) = _grpc(r.json)
    assert ep["probes"] == {} and "has no port" in ep["skipped"]
    assert [s for s, _ in _mismatches(r.json, ep["url"])] == ["info"]


def test_without_the_extra_the_grpc_interface_is_skipped_with_the_hint(
    cli: Any, sandbox_grpc: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("a2actl.agent.connect.grpc_available", lambda: False)
    r = cli("caps", "fingerprint", sandbox_grpc.url, "-o", "json")
    assert r.exit_code == 0, r.stderr
    doc = r.json
    (ep,) = _grpc(doc)
    assert ep["skipped"] == f"the gRPC extra is not installed ({HINT})"
    assert ep["probes"] == {} and ep["reflection"] is None
    (m,) = [m for m in doc["mismatches"] if m["url"] == ep["url"]]
    assert (m["severity"], m["suggestion"]) == ("info", HINT)
    assert doc["verdict"] == "0.3-compat"  # the HTTP bindings are unchanged


def test_a_card_without_grpc_never_imports_grpc(sandbox: RunningSandbox) -> None:
    """The import footprint: fingerprinting a card with no GRPC interface loads neither grpc nor the
    gRPC probes (a fresh interpreter; the sandbox fixture serves HTTP only)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from a2actl.cli.app import app\n"
        f"r = CliRunner().invoke(app, ['caps', 'fingerprint', {sandbox.url!r}, '-o', 'json'])\n"
        "print(r.exit_code, sorted(m for m in sys.modules if m == 'grpc' or m.endswith('grpc_probe')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split(None, 1) == ["0", "[]\n"], proc.stderr


def test_a_channel_that_never_gets_ready_is_the_connect_timeouts_exit_5(cli: Any, tmp_path: Path) -> None:
    """A listener that takes the connection and never speaks HTTP/2: the channel is not ready within
    --connect-timeout, which is exit 5 in handshake probe; caps fingerprint said exit 1 (the code
    of the NO_CALL probe was lost; review r1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        port = s.getsockname()[1]
        r = cli(
            "--connect-timeout", "1", "caps", "fingerprint", _card_file(tmp_path, f"127.0.0.1:{port}"),
            "-o", "json",
        )  # fmt: skip
    assert r.exit_code == 5, r.stdout[-600:]
    (ep,) = _grpc(r.json)
    assert ep["probes"]["1.0"]["verdict"] == "error"
