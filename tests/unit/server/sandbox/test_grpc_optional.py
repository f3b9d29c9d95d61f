"""``sandbox serve`` and gRPC: on when grpcio imports, ``--no-grpc``/``--grpc-port`` checks, and the
sandbox still starting (HTTP only, one note) when grpc is hidden (the extra not installed)."""

from __future__ import annotations

import sys
from typing import Any

import httpx
import pytest

from a2actl.server.sandbox.options import SandboxOptions
from a2actl.server.sandbox.server import RunningSandbox


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[SandboxOptions]:
    """``sandbox serve`` records its options instead of serving."""
    calls: list[SandboxOptions] = []
    monkeypatch.setattr(
        "a2actl.server.sandbox.server.serve", lambda opts, on_ready=None, **kw: calls.append(opts)
    )
    return calls


@pytest.fixture
def no_grpc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide grpcio as if the grpc extra were not installed (``import grpc`` raises ImportError)."""
    for name in ("grpc", "grpc.aio", "grpc_reflection"):
        monkeypatch.setitem(sys.modules, name, None)


def test_grpc_is_on_by_default_when_grpcio_imports(cli: Any, seen: list[SandboxOptions]) -> None:
    pytest.importorskip("grpc")
    r = cli("sandbox", "serve", "--port", "0", "--grpc-port", "0")
    assert r.exit_code == 0, r.stderr
    assert (seen[0].grpc, seen[0].grpc_port) == (True, 0)
    assert cli("sandbox", "serve", "--no-grpc").exit_code == 0
    assert cli("sandbox", "serve", "--legacy-card").exit_code == 0
    assert [o.grpc for o in seen] == [True, False, False]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--no-grpc", "--grpc-port", "50051"], "--grpc-port excludes --no-grpc"),
        (["--legacy-card", "--grpc-port", "50051"], "--grpc-port excludes --legacy-card"),
    ],
)
def test_grpc_port_conflicts_are_usage_errors(
    cli: Any, seen: list[SandboxOptions], args: list[str], needle: str
) -> None:
    r = cli("sandbox", "serve", *args, "-o", "json")
    assert r.exit_code == 2
    assert r.json["error"]["message"] == needle
    assert seen == []


def test_without_grpcio_the_sandbox_serves_http_with_a_note(
    cli: Any, seen: list[SandboxOptions], no_grpc: None
) -> None:
    r = cli("sandbox", "serve", "--port", "0")
    assert r.exit_code == 0, r.stderr
    assert seen[0].grpc is False
    notes = [line for line in r.stderr.splitlines() if "gRPC" in line]
    assert notes == ["no gRPC interface: grpcio is not installed (pip install 'a2actl[grpc]')"]


def test_without_grpcio_an_explicit_grpc_port_is_a_usage_error(
    cli: Any, seen: list[SandboxOptions], no_grpc: None
) -> None:
    r = cli("sandbox", "serve", "--grpc-port", "50051", "-o", "json")
    assert r.exit_code == 2
    assert r.json["error"]["message"] == "--grpc-port needs the grpc extra"
    assert "a2actl[grpc]" in r.json["error"]["hint"]


def test_without_grpcio_the_sandbox_starts_and_its_card_has_no_grpc(no_grpc: None) -> None:
    with RunningSandbox(SandboxOptions()) as sb:
        card = httpx.get(sb.url + "/.well-known/agent-card.json").json()
    assert sb.grpc_url is None
    assert "GRPC" not in [i["protocolBinding"] for i in card["supportedInterfaces"]]
