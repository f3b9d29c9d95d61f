"""One fleet agent checked (a2actl.fleet.check): every agent kind of the fleet fixture server
(tests/fleet_server.py, real loopback) gives its cause and funnel stages; retries, the per-request
timeout and the per-agent budget; per-agent headers (Host routing) and token precedence; the cause of
each transport failure; schema validators compiled once. The retry policy itself runs on a scripted
transport (no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from a2actl.core.config import Settings
from a2actl.core.errors import (
    A2ACtlError,
    A2AError,
    AuthError,
    HTTPStatusError,
    NoSuchRoute,
    ProtocolViolation,
    UnreachableError,
)
from a2actl.fleet import check
from a2actl.fleet.check import AgentTransport, agent_headers, cause_of, check_agent, first_schema_error
from a2actl.fleet.inventory import AgentSpec
from a2actl.fleet.result import DEFAULT_CHECKS, FleetOptions
from a2actl.transport.connmarks import MarkedFastTransport
from a2actl.transport.failures import (
    connect_timed_out,
    connection_lost,
    dns_failed,
    read_timed_out,
    refused,
    tls_failed,
)
from a2actl.transport.timing import HttpResult, Timing
from tests.fleet_server import CLIENT_KINDS, EXPECTED, KINDS, FleetServer, Planned, card_for, free_port, plan

SEND = DEFAULT_CHECKS | {"send"}


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetServer]:
    with FleetServer(slow=5.0, lag=0.05) as server:
        yield server


def spec_of(p: Planned, **kw: Any) -> AgentSpec:
    return AgentSpec(url=p.url, name=p.name, headers=dict(p.headers), **kw)


def run_checks(specs: list[AgentSpec], options: FleetOptions, settings: Settings | None = None) -> list[Any]:
    """check_agent for each spec, all at once, on one MarkedFastTransport."""
    s = settings or Settings(connect_timeout=options.timeout, read_timeout=options.timeout)

    async def go() -> list[Any]:
        async with MarkedFastTransport(s, max_connections=50) as tr:
            return list(await asyncio.gather(*(check_agent(sp, options, tr, settings=s) for sp in specs)))

    return asyncio.run(go())


def one(p: Planned, options: FleetOptions) -> Any:
    return run_checks([spec_of(p)], options)[0]


# --- every kind ----------------------------------------------------------------------------------


@pytest.mark.parametrize("send", [False, True], ids=["card-validate-rpc", "with-send"])
def test_every_kind_gives_its_cause_and_stages(fleet: FleetServer, send: bool) -> None:
    agents = plan(fleet.url, {k: 1 for k in [*KINDS, *CLIENT_KINDS]}, by_host=0)
    options = FleetOptions(timeout=0.5, retries=1, checks=SEND if send else DEFAULT_CHECKS)
    results = run_checks([spec_of(a) for a in agents], options)
    got = {a.kind: (r.cause, r.passed, r.ok) for a, r in zip(agents, results, strict=True)}
    want = {
        a.kind: (
            EXPECTED[a.kind].outcome(send),
            EXPECTED[a.kind].passed(send),
            EXPECTED[a.kind].outcome(send) is None,
        )
        for a in agents
    }
    assert got == want
    # only the agent whose card names another host for its interface carries a note (and stays ok)
    noted = {a.kind: r.notes for a, r in zip(agents, results, strict=True) if r.notes}
    assert noted == {"elsewhere": ("interface host localhost differs from the card's host 127.0.0.1",)}


def test_details_name_what_failed(fleet: FleetServer) -> None:
    kinds = [
        "invalid",
        "notjson",
        "nocard",
        "error500",
        "cardauth",
        "rpcerror",
        "rpc401",
        "badversion",
        "grpconly",
    ]
    agents = plan(fleet.url, dict.fromkeys(kinds, 1))
    results = {
        a.kind: r
        for a, r in zip(
            agents, run_checks([spec_of(a) for a in agents], FleetOptions(retries=0)), strict=True
        )
    }
    assert results["invalid"].detail.startswith("/name: 42 is not of type 'string'")
    assert results["notjson"].detail == "the card is not JSON (text/html)"
    assert (results["nocard"].http_status, results["error500"].http_status) == (404, 500)
    assert (results["rpcerror"].error_code, results["rpcerror"].detail.split(":")[0]) == (
        -32603,
        "-32603 InternalError",
    )
    assert results["rpc401"].http_status == 401
    assert (results["cardauth"].http_status, results["cardauth"].passed[-1]) == (401, "reachable")
    assert "WWW-Authenticate: Bearer" in (results["cardauth"].detail or "")
    assert "2.0" in results["badversion"].detail and results["badversion"].declared_versions == ("2.0",)
    assert "GRPC" in results["grpconly"].detail
    for r in results.values():
        assert r.detail and "\n" not in r.detail and len(r.detail) <= check.MAX_DETAIL


def test_negotiated_version_binding_and_declared_versions(fleet: FleetServer) -> None:
    agents = plan(fleet.url, {"healthy": 1, "rest": 1, "healthy03": 1, "hybrid": 1})
    results = {
        a.kind: r
        for a, r in zip(agents, run_checks([spec_of(a) for a in agents], FleetOptions()), strict=True)
    }
    seen = {k: (r.version, r.binding, r.declared_versions) for k, r in results.items()}
    assert seen == {
        "healthy": ("1.0", "JSONRPC", ("1.0",)),
        "rest": ("1.0", "HTTP+JSON", ("1.0",)),
        "healthy03": ("0.3", "JSONRPC", ("0.3",)),
        "hybrid": ("1.0", "JSONRPC", ("1.0", "0.3")),
    }
    assert results["rest"].interface_url == f"{fleet.url}/a/rest-0/rest"
    assert all(set(r.phases) >= {"card", "validate", "rpc"} and r.total > 0 for r in results.values())


def test_forced_version_is_what_a2actl_speaks(fleet: FleetServer) -> None:
    """--a2a-version 0.3 on a 1.0-only agent: 0.3 is tried on its URL and the agent's MethodNotFound
    for tasks/get is an RPC error; on the hybrid agent 0.3 works."""
    agents = plan(fleet.url, {"healthy": 1, "hybrid": 1})
    results = run_checks([spec_of(a) for a in agents], FleetOptions(a2a_version="0.3"))
    assert [(r.ok, r.version, r.cause, r.error_code) for r in results] == [
        (False, "0.3", "rpc-error", -32601),
        (True, "0.3", None, None),
    ]


def test_checks_decide_the_stages(fleet: FleetServer) -> None:
    agents = plan(fleet.url, {"invalid": 1, "healthy": 1})
    no_validate = run_checks([spec_of(a) for a in agents], FleetOptions(checks=frozenset({"card", "rpc"})))
    assert [(r.ok, r.passed[-1]) for r in no_validate] == [(True, "rpc"), (True, "rpc")]
    card_only = run_checks([spec_of(a) for a in agents], FleetOptions(checks=frozenset({"card"})))
    assert [(r.ok, r.passed, "rpc" in r.phases) for r in card_only] == [
        (True, ("listed", "reachable", "card"), False)
    ] * 2


# --- routing by Host, headers, tokens --------------------------------------------------------------


def test_host_routed_agents_need_their_host_header(fleet: FleetServer) -> None:
    agents = plan(fleet.url, {"healthy": 2, "rpcerror": 1}, by_host=2)
    assert all(a.headers for a in agents)
    with_host = run_checks([spec_of(a) for a in agents], FleetOptions(retries=0))
    assert [(r.ok, r.cause) for r in with_host] == [(True, None), (False, "rpc-error"), (True, None)]
    without = run_checks([AgentSpec(url=a.url) for a in agents], FleetOptions(retries=0))
    assert {(r.cause, r.http_status) for r in without} == {("http-4xx", 404)}


def test_agent_headers_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_AGENT_TOKEN", "agent-token")
    options = FleetOptions(headers=(("X-Team", "global"), ("X-Env", "prod")), token="global-token")
    plain = agent_headers(AgentSpec(url="http://a"), options)
    assert plain == {"x-team": "global", "x-env": "prod", "authorization": "Bearer global-token"}
    own = agent_headers(AgentSpec(url="http://a", headers={"X-Team": "mine", "Host": "h"}), options)
    assert own == {"x-team": "mine", "x-env": "prod", "authorization": "Bearer global-token", "host": "h"}
    with_env = agent_headers(
        AgentSpec(url="http://a", headers={"Authorization": "Basic x"}, token_env="FLEET_AGENT_TOKEN"),
        options,
    )
    assert with_env["authorization"] == "Bearer agent-token"


# --- retries, timeout, budget ----------------------------------------------------------------------


def test_a_transient_5xx_is_retried(fleet: FleetServer) -> None:
    fleet.reset()
    flaky = plan(fleet.url, {"flaky": 2})
    first = one(flaky[0], FleetOptions(retries=0))
    assert (first.ok, first.cause, first.http_status, first.attempts) == (False, "http-5xx", 503, 1)
    second = one(flaky[1], FleetOptions(retries=1))
    assert (second.ok, second.attempts) == (True, 2)
    hits = fleet.stats()["hits"]
    assert hits["flaky-0"] == 1 and hits["flaky-1"] == 3  # 503, the card again, GetTask


def test_retries_stop_at_the_limit(fleet: FleetServer) -> None:
    fleet.reset()
    agents = plan(fleet.url, {"error500": 1, "refused": 1, "dns": 1, "nocard": 1})
    results = run_checks([spec_of(a) for a in agents], FleetOptions(retries=2))
    assert [(r.cause, r.attempts) for r in results] == [
        ("http-5xx", 3),
        ("refused", 3),
        ("dns", 1),  # not transient
        ("http-4xx", 1),  # a 404 walks the discovery paths, it is not retried
    ]
    assert fleet.stats()["hits"]["error500-0"] == 3


def test_per_request_timeout_and_budget(fleet: FleetServer) -> None:
    slow, lag = plan(fleet.url, {"slow": 1, "lag": 1})
    timed_out = one(slow, FleetOptions(timeout=0.3, retries=0))
    assert (timed_out.cause, timed_out.passed, timed_out.attempts) == ("timeout", ("listed",), 1)
    assert "0.3s" in (timed_out.detail or "")
    over = run_checks([spec_of(slow, budget=0.3)], FleetOptions(timeout=3.0, retries=3))[0]
    assert (over.cause, over.ok, over.passed) == ("over-budget", False, ("listed",))
    assert over.detail == "over the 0.3s budget (during reachable)"
    assert 0.3 <= over.total < 2.5
    run_budget = one(lag, FleetOptions(budget=0.01))
    assert run_budget.cause == "over-budget"
    fits = run_checks([spec_of(lag, budget=5.0)], FleetOptions(budget=0.01))[0]  # the agent's budget wins
    assert (fits.ok, fits.cause) == (True, None)


def test_a_dead_port_is_refused_fast() -> None:
    r = one(Planned(f"http://127.0.0.1:{free_port()}/a/x", "refused", "x"), FleetOptions(retries=0))
    assert (r.cause, r.passed, r.ok, r.attempts) == ("refused", ("listed",), False, 1)


# --- the retry policy on a scripted transport -----------------------------------------------------


class Scripted:
    """A Transport whose request() plays ``outcomes`` in order (an error is raised, an int is the status
    of an empty answer) and counts the calls."""

    def __init__(self, outcomes: list[Any]) -> None:
        self.settings = Settings()
        from a2actl.core.sink import NullSink

        self.sink = NullSink()
        self.outcomes = outcomes
        self.calls: list[dict[str, str]] = []

    async def request(self, method: str, url: str, **kw: Any) -> HttpResult:
        self.calls.append(dict(kw.get("headers") or {}))
        out = self.outcomes.pop(0)
        if isinstance(out, BaseException):
            raise out
        return HttpResult(out, "", {}, b"", url, Timing(), "")  # type: ignore[arg-type]

    async def open_stream(self, *a: Any, **kw: Any) -> Any:
        raise NotImplementedError

    async def read_rest(self, *a: Any, **kw: Any) -> bytes:
        raise NotImplementedError

    def redact_body(self, body: bytes) -> bytes:
        return body


def scripted(outcomes: list[Any], retries: int, *, connect_only: bool = False) -> tuple[Scripted, Any]:
    base = Scripted(outcomes)
    tr = AgentTransport(base, {"x-agent": "1"}, timeout=5.0, retries=retries)
    tr.connect_only = connect_only
    check.FIRST_BACKOFF = 0.0  # no pauses in these tests (restored by the fixture below)

    async def go() -> Any:
        try:
            return await tr.request("POST", "http://a/rpc", headers={"A2A-Version": "1.0"})
        except A2ACtlError as err:
            return err

    return tr, asyncio.run(go())


@pytest.fixture(autouse=True)
def _restore_backoff() -> Iterator[None]:
    saved = check.FIRST_BACKOFF
    yield
    check.FIRST_BACKOFF = saved


URL = "http://a/rpc"


def test_retry_policy_for_unary_requests() -> None:
    tr, res = scripted([refused(URL), connection_lost(URL, "reset"), 503, 200], retries=3)
    assert (res.status, tr.retried, len(tr.base.calls)) == (200, 3, 4)
    tr, res = scripted([read_timed_out(URL, Settings()), 502], retries=1)
    assert (res.status, tr.retried) == (502, 1)  # the last answer, once retries are spent
    tr, res = scripted([dns_failed("a", "nope"), 200], retries=3)
    assert isinstance(res, UnreachableError) and tr.retried == 0
    tr, res = scripted([tls_failed(URL, "bad cert", verify=True), 200], retries=3)
    assert isinstance(res, UnreachableError) and tr.retried == 0
    tr, res = scripted([AuthError("401"), 200], retries=3)
    assert isinstance(res, AuthError) and tr.retried == 0


def test_a_send_is_retried_only_when_it_never_connected() -> None:
    tr, res = scripted([refused(URL), 200], retries=2, connect_only=True)
    assert (res.status, tr.retried) == (200, 1)
    for first in (read_timed_out(URL, Settings()), connection_lost(URL, "reset"), 503):
        tr, res = scripted([first, 200], retries=2, connect_only=True)
        assert tr.retried == 0 and len(tr.base.calls) == 1


def test_agent_headers_go_out_under_the_protocol_ones() -> None:
    tr, _ = scripted([200], retries=0)
    assert tr.base.calls == [{"x-agent": "1", "a2a-version": "1.0"}]
    tr.closing = True
    tr.base.outcomes.append(200)
    asyncio.run(tr.request("GET", URL))
    assert tr.base.calls[-1]["connection"] == "close"


# --- causes --------------------------------------------------------------------------------------


def test_cause_of_every_error_class() -> None:
    s = Settings()
    cases: list[tuple[A2ACtlError, str]] = [
        (refused(URL), "refused"),
        (connection_lost(URL, "reset by peer"), "refused"),
        (dns_failed("x.invalid", "Name or service not known"), "dns"),
        (tls_failed(URL, "certificate verify failed", verify=True), "tls"),
        (connect_timed_out(URL, s), "timeout"),
        (read_timed_out(URL, s), "timeout"),
        (AuthError(f"{URL} answered HTTP 403 Forbidden"), "auth"),
        (HTTPStatusError("x", details={"httpStatus": 503}), "http-5xx"),
        (HTTPStatusError("x", details={"httpStatus": 418}), "http-4xx"),
        (HTTPStatusError("x", details={"httpStatus": 302}), "protocol"),
        (NoSuchRoute("no route", details={"httpStatus": 404}), "http-4xx"),
        (A2AError("boom", a2a_code=-32603), "rpc-error"),
        (ProtocolViolation("bad envelope"), "protocol"),
        (A2ACtlError("something else"), "protocol"),
    ]
    assert [(e.message[:30], cause_of(e)) for e, _ in cases] == [(e.message[:30], c) for e, c in cases]
    assert check.http_status_of(AuthError(f"{URL} answered HTTP 403 Forbidden")) == 403


def test_the_cause_follows_the_exception_chain_over_the_message() -> None:
    import socket

    err = UnreachableError("cannot connect to http://x: weird")
    err.__cause__ = socket.gaierror(-2, "Name or service not known")
    assert cause_of(err) == "dns"


# --- validation ----------------------------------------------------------------------------------


def test_first_schema_error_in_document_order() -> None:
    good = card_for("healthy-0", "http://127.0.0.1:1/a/healthy-0")
    assert first_schema_error(good, "1.0") is None
    hybrid = card_for("hybrid-0", "http://127.0.0.1:1/a/hybrid-0")
    assert first_schema_error(hybrid, "hybrid") is None
    bad = dict(good, name=42, version=7)
    assert first_schema_error(bad, "1.0") == "/name: 42 is not of type 'string' (A2A 1.0 schema)"
    v03 = card_for("healthy03-0", "http://127.0.0.1:1/a/healthy03-0")
    del v03["url"]
    problem = first_schema_error(v03, "0.3")
    assert problem is not None and problem.startswith("/url:") and "0.3 schema" in problem


@pytest.mark.parametrize("agents", [3, 12])
def test_validators_are_compiled_once_not_per_agent(
    fleet: FleetServer, monkeypatch: pytest.MonkeyPatch, agents: int
) -> None:
    import jsonschema

    real = jsonschema.Draft202012Validator
    built: list[str] = []

    def counting(schema: Any, *a: Any, **kw: Any) -> Any:
        built.append(str(schema.get("$id")))
        return real(schema, *a, **kw)

    monkeypatch.setattr(jsonschema, "Draft202012Validator", counting)
    check.compiled_validator.cache_clear()
    try:
        planned = plan(fleet.url, {"healthy": agents, "hybrid": agents, "healthy03": agents})
        results = run_checks([spec_of(a) for a in planned], FleetOptions())
    finally:
        check.compiled_validator.cache_clear()
    assert [r.detail for r in results if not r.ok] == []
    assert len(built) == 2  # the 1.0 and the 0.3 schema, whatever the number of agents


def _mutations(card: dict[str, Any]) -> Iterator[Any]:
    """``card`` and every card one change away from it: any member or list item, at any depth,
    dropped or given a value of another JSON type."""
    wrong: list[Any] = [42, "x", None, [], {"a": 1}]

    def paths(node: Any, at: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        keys = range(len(node)) if isinstance(node, list) else node if isinstance(node, dict) else ()
        for k in keys:
            yield (*at, k)
            yield from paths(node[k], (*at, k))

    def changed(node: Any, path: tuple[Any, ...], value: Any) -> Any:
        key, rest = path[0], path[1:]
        copy = list(node) if isinstance(node, list) else dict(node)
        if rest:
            copy[key] = changed(node[key], rest, value)
        elif value is _DROP:
            del copy[key]
        else:
            copy[key] = value
        return copy

    def at(path: tuple[Any, ...]) -> Any:
        node: Any = card
        for k in path:
            node = node[k]
        return node

    yield card
    for path in paths(card, ()):
        for value in [_DROP, *wrong]:
            yield changed(card, path, value)
        # members a sibling object has, added here too (two members of a ProtoJSON oneof, …)
        node, parent = at(path), at(path[:-1])
        if isinstance(node, dict):
            siblings = parent.values() if isinstance(parent, dict) else parent
            for other in siblings:
                for k, v in other.items() if isinstance(other, dict) else ():
                    if k not in node:
                        yield changed(card, path, {**node, k: v})


_DROP = object()


def _with_security(card: dict[str, Any], v1: bool) -> dict[str, Any]:
    if v1:
        schemes = {
            "key": {"apiKeySecurityScheme": {"location": "header", "name": "X-Key"}},
            "oauth": {
                "oauth2SecurityScheme": {
                    "flows": {"clientCredentials": {"tokenUrl": "https://a/t", "scopes": {"r": "read"}}}
                }
            },
        }
        return {
            **card,
            "securitySchemes": schemes,
            "securityRequirements": [{"schemes": {"key": {"list": []}}}],
        }
    schemes = {
        "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
        "oauth": {
            "type": "oauth2",
            "flows": {"clientCredentials": {"tokenUrl": "https://a/t", "scopes": {"r": "read"}}},
        },
    }
    return {**card, "securitySchemes": schemes, "security": [{"key": []}]}


@pytest.mark.parametrize("version", ["1.0", "0.3"])
def test_inlined_schema_accepts_exactly_what_the_shipped_one_does(version: str) -> None:
    from jsonschema import Draft202012Validator

    from a2actl.schemas import load_schema

    schema = load_schema(version)
    flat = check.inline_refs(schema)
    assert flat is not None and "$defs" not in flat and "$ref" not in str(flat)
    original, inlined = Draft202012Validator(schema), Draft202012Validator(flat)
    kinds = ["healthy", "rest", "hybrid", "invalid"] if version == "1.0" else ["healthy03", "hybrid"]
    verdicts = []
    for kind in kinds:
        base = card_for(f"{kind}-0", f"http://127.0.0.1:1/a/{kind}-0")
        for card in [base, _with_security(base, version == "1.0")]:
            for mutated in _mutations(card):
                verdicts.append((original.is_valid(mutated), inlined.is_valid(mutated)))
    assert all(a == b for a, b in verdicts)
    assert len(verdicts) > 500 and 0.1 < sum(a for a, _ in verdicts) / len(verdicts) < 0.9  # both kinds


def test_inline_refs_refuses_what_it_cannot_inline() -> None:
    recursive = {"$ref": "#/$defs/A", "$defs": {"A": {"properties": {"a": {"$ref": "#/$defs/A"}}}}}
    assert check.inline_refs(recursive) is None
    remote = {"$ref": "https://example.com/s.json", "$defs": {}}
    assert check.inline_refs(remote) is None
    named = {"properties": {"$ref": {"type": "string"}}, "$defs": {}}  # a property named $ref stays one
    assert check.inline_refs(named) == {"properties": {"$ref": {"type": "string"}}}
