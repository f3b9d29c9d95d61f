"""a2actl.exporter.probe: one handshake probe through run_probe under a module, against real
loopback agents (the sandbox); failures become a cause and an error code, never an exception."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from a2actl.core.config import Settings
from a2actl.core.errors import UsageError
from a2actl.exporter.config import Module
from a2actl.exporter.probe import HANDSHAKE_PHASES, classify, normalise_target, probe_settings, probe_target
from a2actl.probe.budget import Budget


def _probe(url: str, module: Module | None = None, **kw: Any) -> Any:
    return asyncio.run(probe_target(url, module or Module("default"), Settings(), **kw))


def test_a_healthy_agent(sandbox: Any) -> None:
    r = _probe(sandbox.url)
    assert r.success and r.cause is None and r.error_code is None
    assert {"connect", "ttfb", "parse", "negotiate", "rpc"} <= set(r.phases)
    assert "first_event" not in r.phases and r.task is None
    assert r.handshake == pytest.approx(sum(r.phases[p] for p in HANDSHAKE_PHASES if p in r.phases))
    assert 0 < r.handshake <= r.duration
    assert (r.version, r.binding, r.card_shape) == ("1.0", "JSONRPC", "hybrid")
    assert set(r.declared_versions) == {"1.0", "0.3"}


def test_the_module_picks_the_version(sandbox: Any) -> None:
    r = _probe(sandbox.url, Module("m", a2a_version="0.3"))
    assert r.success and r.version == "0.3"


def test_the_send_check_times_the_task(sandbox: Any) -> None:
    r = _probe(sandbox.url, Module("s", checks=frozenset({"card", "rpc", "send"}), send_text="hi"))
    assert r.success, r.message
    assert {"first_event", "terminal"} <= set(r.phases)
    assert r.task == pytest.approx(r.phases["first_event"] + r.phases["terminal"])
    assert r.final_state == "completed"
    # the handshake does not include the send
    assert r.handshake == pytest.approx(sum(r.phases[p] for p in HANDSHAKE_PHASES if p in r.phases))


def test_a_refused_port_is_a_result_not_an_exception(refused_url: str) -> None:
    r = _probe(refused_url)
    assert not r.success
    assert (r.cause, r.error_code, r.failed_phase) == ("refused", "refused", "card")
    assert r.handshake is None and r.version is None


def test_the_deadline_ends_a_slow_agent(sandbox_slow: Any) -> None:
    r = _probe(sandbox_slow.url, timeout=0.1)  # the card takes 0.3 s
    assert (r.success, r.cause, r.error_code) == (False, "timeout", "timeout")
    assert r.duration < 0.3
    # caught in discovery: the card phase, nothing completed before it
    assert (r.failed_phase, r.phases, r.version) == ("card", {}, None)
    assert r.message == "no result within the probe's 0.1s deadline (in the card phase)"


@pytest.fixture(scope="module")
def sandbox_rpc_hangs() -> Iterator[Any]:
    from a2actl.server.sandbox.options import SandboxOptions
    from a2actl.server.sandbox.server import RunningSandbox

    sb = RunningSandbox(SandboxOptions(stream_interval=0.01, rpc_delay=5.0)).start()
    try:
        yield sb
    finally:
        sb.stop()


def test_a_deadline_in_the_rpc_keeps_the_phase_and_the_phases_before_it(sandbox_rpc_hangs: Any) -> None:
    r = _probe(sandbox_rpc_hangs.url, timeout=0.5)
    assert (r.success, r.cause, r.error_code, r.failed_phase) == (False, "timeout", "timeout", "rpc")
    assert {"connect", "ttfb", "parse", "negotiate"} <= set(r.phases) and "rpc" not in r.phases
    assert (r.version, r.binding) == ("1.0", "JSONRPC")  # negotiated before the RPC hung
    assert r.handshake is None


def test_an_rpc_that_answers_503(sandbox_down: Any) -> None:
    r = _probe(sandbox_down.url)
    assert not r.success
    assert (r.cause, r.error_code, r.failed_phase) == ("http-5xx", "http_503", "rpc")
    assert r.version == "1.0"  # negotiated before the RPC failed
    assert r.handshake is None


def test_a_missing_token_is_auth(sandbox_auth: Any) -> None:
    r = _probe(sandbox_auth.url)
    assert (r.success, r.cause) == (False, "auth")
    assert r.error_code is not None and r.error_code.startswith(("http_401", "auth"))


def test_the_module_token_is_sent(sandbox_auth: Any) -> None:
    from tests.conftest import TOKEN

    r = _probe(sandbox_auth.url, Module("t", token_env="T", token=TOKEN))
    assert r.success, r.message


def test_an_exceeded_budget_fails_with_the_handshake_recorded(sandbox: Any) -> None:
    r = _probe(sandbox.url, budgets=[Budget("total", 1e-9)])
    assert (r.success, r.cause, r.error_code) == (False, "over-budget", "over_budget")
    assert r.handshake is not None and r.message and "total" in r.message


@pytest.fixture(scope="module")
def fleet() -> Iterator[str]:
    from tests.fleet_server import FleetServer

    with FleetServer() as srv:
        yield srv.url


@pytest.mark.parametrize(
    ("kind", "checks", "expected"),
    [
        ("healthy", {"card", "rpc", "send"}, (True, None, None, None)),
        ("grpconly", {"card", "rpc"}, (False, "version-mismatch", "negotiation", "negotiate")),
        # a card of protocolVersion 2.0 only: nothing sent, as fleet probe (tests/fleet_server.py
        # EXPECTED); it was spoken as 0.3 and failed at the rpc phase with the agent's -32601
        ("badversion", {"card", "rpc"}, (False, "version-mismatch", "negotiation", "negotiate")),
        ("notjson", {"card", "rpc"}, (False, "invalid-card", "protocol", "card")),
        ("nocard", {"card", "rpc"}, (False, "http-4xx", "http_404", "card")),
        ("error500", {"card", "rpc"}, (False, "http-5xx", "http_500", "card")),
        ("rpcerror", {"card", "rpc"}, (False, "rpc-error", "-32603", "rpc")),
        ("rpc401", {"card", "rpc"}, (False, "auth", "http_401", "rpc")),
        ("sendfail", {"card", "rpc", "send"}, (False, "send-failed", "task_failed", "terminal")),
        ("sendfail", {"card", "rpc"}, (True, None, None, None)),
    ],
)
def test_each_way_an_agent_fails(
    fleet: str, kind: str, checks: set[str], expected: tuple[bool, str | None, str | None, str | None]
) -> None:
    r = _probe(f"{fleet}/a/{kind}-1", Module("m", checks=frozenset(checks)))
    assert (r.success, r.cause, r.error_code, r.failed_phase) == expected, r.to_json()
    if r.failed_phase in ("rpc", "terminal") or r.success:
        assert r.version is not None  # negotiated before it failed
    if kind == "sendfail" and "send" in checks:
        assert r.handshake is not None and r.task is None  # the handshake passed, the task did not


@pytest.mark.parametrize("route", ["big", "nonjson"])
def test_a_card_over_the_limit_is_invalid_card_as_a_non_json_card(fault: str, route: str) -> None:
    """A card over 10 MiB (read no further) and one that is not JSON: both invalid-card, error code
    protocol, at the card phase; fleet probe gives the same cause (tests/cli/test_fleet.py)."""
    r = _probe(f"{fault}/{route}/agent-card.json")
    assert (r.success, r.cause, r.error_code, r.failed_phase) == (False, "invalid-card", "protocol", "card")


@pytest.mark.parametrize(
    ("error", "phase", "expected"),
    [
        ({"code": "unreachable", "message": "DNS lookup for 'x' failed: nope"}, "card", ("dns", "dns")),
        (
            {"code": "unreachable", "message": "connection to http://x refused"},
            "card",
            ("refused", "refused"),
        ),
        (
            {"code": "unreachable", "message": "TLS handshake with https://x failed: bad"},
            "card",
            ("tls", "tls"),
        ),
        (
            {"code": "unreachable", "message": "connection to http://x lost: reset"},
            "rpc",
            ("unreachable", "unreachable"),
        ),
        ({"code": "timeout", "message": "no answer"}, "rpc", ("timeout", "timeout")),
        ({"code": "auth", "message": "401", "details": {"httpStatus": 401}}, "rpc", ("auth", "http_401")),
        (
            {"code": "http_status", "message": "x", "details": {"httpStatus": 404}},
            "card",
            ("http-4xx", "http_404"),
        ),
        (
            {"code": "http_status", "message": "x", "details": {"httpStatus": 502}},
            "rpc",
            ("http-5xx", "http_502"),
        ),
        (
            {"code": "http_status", "message": "x", "details": {"httpStatus": 500}},
            "terminal",
            ("send-failed", "http_500"),
        ),
        ({"code": "a2a_error", "message": "x", "a2aCode": -32601}, "rpc", ("rpc-error", "-32601")),
        ({"code": "a2a_error", "message": "x", "a2aCode": -32009}, "rpc", ("version-mismatch", "-32009")),
        ({"code": "a2a_error", "message": "x", "a2aCode": -32603}, "first_event", ("send-failed", "-32603")),
        ({"code": "protocol", "message": "not JSON"}, "parse", ("invalid-card", "protocol")),
        # no HTTP answer to the card request (http:// to a TLS port): the card was never seen
        (
            {"code": "protocol", "message": "malformed HTTP from http://x/card: the server closed"},
            "card",
            ("protocol", "protocol"),
        ),
        # -L: a redirect loop (the last redirect's status), a redirect a2actl cannot follow (none)
        (
            {
                "code": "http_status",
                "message": "x redirected more than 20 times",
                "details": {"httpStatus": 307},
            },
            "card",
            ("protocol", "http_307"),
        ),
        (
            {"code": "http_status", "message": "x redirected to file:///etc/passwd"},
            "card",
            ("protocol", "protocol"),
        ),
        ({"code": "no_such_route", "message": "x"}, "rpc", ("protocol", "no_such_route")),
        ({"code": "stream_cut", "message": "x"}, "terminal", ("send-failed", "stream_cut")),
        ({"code": "error", "message": "x"}, "rpc", ("error", "error")),
        # a JSON-RPC error whose code is not an integer (true, missing): an A2A error all the same
        (
            {"code": "a2a_error", "message": "UnknownError (no integer code)"},
            "rpc",
            ("rpc-error", "a2a_error"),
        ),
        ({"code": "a2a_error", "message": "x"}, "terminal", ("send-failed", "a2a_error")),
        # an interface URL the card gave that cannot be requested (relative, file://)
        ({"code": "usage", "message": "unsupported URL '/rpc'"}, "rpc", ("protocol", "protocol")),
    ],
)
def test_classify(error: dict[str, Any], phase: str, expected: tuple[str, str]) -> None:
    assert classify(error, phase) == expected


def test_targets_are_urls_never_local_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert normalise_target("127.0.0.1:9999") == "http://127.0.0.1:9999"
    assert normalise_target(" https://a.example/x ") == "https://a.example/x"
    (tmp_path / "card.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert normalise_target("card.json") == "http://card.json"  # a host name, not the file
    for bad in ("", "ftp://x", "http://", str(tmp_path / "card.json")):
        with pytest.raises(UsageError):
            normalise_target(bad)


def test_probe_settings_layer_module_then_agent() -> None:
    base = Settings(
        headers=(("X-Cli", "no"),), token="cli-token-xyz", read_timeout=30.0, connect_timeout=10.0
    )
    mod = Module(
        "m", headers=(("X-Tenant", "acme"), ("X-Env", "prod")), token="module-token", binding="HTTP+JSON"
    )
    s = probe_settings(replace(base, headers=(), token=None), mod, timeout=2.0, headers={"X-Env": "dev"})
    assert dict(s.headers) == {"X-Tenant": "acme", "X-Env": "dev"}
    assert s.token == "module-token" and s.binding == "HTTP+JSON"
    assert (s.read_timeout, s.connect_timeout) == (2.0, 2.0)
    s2 = probe_settings(base, mod, timeout=60.0, token="agent-token")
    assert s2.token == "agent-token" and (s2.read_timeout, s2.connect_timeout) == (30.0, 10.0)
    assert s.trace_id != s2.trace_id  # one trace per probe


@pytest.fixture
def redirecting(sandbox: Any) -> Iterator[str]:
    """A loopback server that answers every request with a 302 to the sandbox's card."""
    import http.server
    import threading

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(302)
            self.send_header("Location", sandbox.url + "/.well-known/agent-card.json")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_is_not_an_http_4xx(redirecting: str) -> None:
    r = _probe(redirecting)  # not followed without -L, as handshake probe does
    assert (r.success, r.cause, r.error_code, r.failed_phase) == (False, "protocol", "http_302", "card")
    followed = asyncio.run(probe_target(redirecting, Module("default"), Settings(follow_redirects=True)))
    assert followed.success, followed.message


def test_an_agent_header_replaces_the_module_header_whatever_its_case() -> None:
    # both went out ('X-Api-Key: module…' and 'x-api-key: agent…'): the server read either
    base = Settings(read_timeout=30.0, connect_timeout=10.0)
    mod = Module("m", headers=(("X-Api-Key", "module-key-1234"), ("X-Tenant", "acme")))
    s = probe_settings(base, mod, timeout=2.0, headers={"x-api-key": "agent-key-5678"})
    assert sorted(s.headers) == [("X-Tenant", "acme"), ("x-api-key", "agent-key-5678")]
