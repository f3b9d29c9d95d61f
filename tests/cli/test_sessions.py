"""``a2actl sessions`` against sandboxes with real sessions made by real sends: the debug API (open
and token-protected, leaky and clean) and the ListTasks fallback on a plain a2a-sdk agent; plus the
OpenAPI contract, validated and checked against the sandbox's real answers."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.conftest import DEBUG_TOKEN
from tests.procs import a2actl_stdin_closed

OPENAPI = Path(__file__).resolve().parents[2] / "a2actl" / "schemas" / "debug-api.openapi.json"
AUTH = {"A2ACTL_TOKEN": DEBUG_TOKEN}


def start(cli: Any, url: str, text: str = "/slow 30") -> dict[str, Any]:
    r = cli("send", url, text, "--no-wait", "-o", "json")
    assert r.exit_code == 0, r.stderr
    return r.json


def finished(cli: Any, url: str) -> dict[str, Any]:
    r = cli("send", url, "hi", "-o", "json")
    assert r.exit_code == 0 and r.json["state"] == "completed"
    return r.json


def conforms(doc: Any, schema_name: str) -> None:
    spec = json.loads(OPENAPI.read_text())
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    errors = list(Draft202012Validator(schema).iter_errors(doc))
    assert errors == [], [e.message for e in errors]


def test_openapi_document_is_valid() -> None:
    from openapi_spec_validator import validate

    validate(json.loads(OPENAPI.read_text()))


def test_list_shows_live_sessions_with_ages(cli: Any, sandbox_leaky: Any) -> None:
    running = start(cli, sandbox_leaky.url)
    r = cli("sessions", "list", sandbox_leaky.url, "-o", "json", env=AUTH)
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["source"] == "debug" and doc["warnings"] == []
    mine = [s for s in doc["sessions"] if running["result"]["contextId"] in s["contextIds"]]
    assert len(mine) == 1 and mine[0]["state"] == "active" and mine[0]["ageSeconds"] >= 0
    assert mine[0]["tasks"] == [{"id": running["taskId"], "state": "working"}]
    created = [s["createdAt"] for s in doc["sessions"]]
    assert created == sorted(created)  # oldest first
    table = cli("sessions", "list", sandbox_leaky.url, env=AUTH)
    assert table.exit_code == 0 and "session(s) from debug" in table.stdout


def test_session_counts_payload_bytes_in_and_out(cli: Any, sandbox_leaky: Any) -> None:
    """bytesIn is the message's payload, bytesOut every answer's: three 1000-byte stream chunks and
    the task's events must all be counted."""
    sent = cli("send", sandbox_leaky.url, "/stream 3 1000", "--stream", "-o", "json")
    assert sent.exit_code == 0 and sent.json["state"] == "completed", sent.stderr
    r = cli("sessions", "list", sandbox_leaky.url, "-o", "json", env=AUTH)
    assert r.exit_code == 0, r.stderr
    mine = [s for s in r.json["sessions"] if {"id": sent.json["taskId"], "state": "completed"} in s["tasks"]]
    assert len(mine) == 1
    s = mine[0]
    assert s["messages"] == 1
    assert 0 < s["bytesIn"] < 1000  # "/stream 3 1000" plus ids, protobuf-encoded
    assert s["bytesOut"] >= 3 * 1000
    conforms(s, "Session")


def test_leaks_on_a_leaking_sandbox_and_a_clean_one(cli: Any, sandbox_leaky: Any, sandbox: Any) -> None:
    done = finished(cli, sandbox_leaky.url)
    r = cli(
        "sessions", "leaks", sandbox_leaky.url, "--max-age", "5m", "--grace", "0s", "-o", "json", env=AUTH
    )
    assert r.exit_code == 7
    leaked = {x["id"] for x in r.json["leaks"]}
    assert f"ctx-{done['result']['contextId']}" in leaked
    finished(cli, sandbox.url)
    clean = cli("sessions", "leaks", sandbox.url, "--max-age", "5m", "--grace", "0s", "-o", "json")
    assert clean.exit_code == 0 and clean.json["ok"] is True and clean.json["leaks"] == []


def test_leaks_flags_sessions_over_max_age(cli: Any, sandbox_leaky: Any) -> None:
    start(cli, sandbox_leaky.url)
    r = cli("sessions", "leaks", sandbox_leaky.url, "--max-age", "0s", "-o", "json", env=AUTH)
    assert r.exit_code == 7
    assert any("over --max-age" in reason for leak in r.json["leaks"] for reason in leak["reasons"])


def test_kill_cancels_the_running_task_and_is_idempotent(cli: Any, sandbox_leaky: Any) -> None:
    running = start(cli, sandbox_leaky.url)
    sid = f"ctx-{running['result']['contextId']}"
    r = cli("sessions", "kill", sandbox_leaky.url, sid, "--yes", "-o", "json", env=AUTH)
    assert r.exit_code == 0, r.stderr
    result = r.json["results"][0]
    assert result["found"] and result["canceledTasks"] == [running["taskId"]] and not result["alreadyClosed"]
    conforms(result, "KillResult")
    # The agent reports the task canceled.
    task = cli("task", "get", sandbox_leaky.url, running["taskId"], "-o", "json")
    assert task.json["task"]["state"] == "canceled"
    again = cli("sessions", "kill", sandbox_leaky.url, sid, "--yes", "-o", "json", env=AUTH).json["results"][
        0
    ]
    assert again["found"] and again["alreadyClosed"] and again["canceledTasks"] == []
    shown = cli("sessions", "show", sandbox_leaky.url, sid, "-o", "json", env=AUTH)
    assert shown.json["session"]["state"] == "closed" and shown.json["session"]["closeReason"] == "killed"


def test_kill_unknown_id(cli: Any, sandbox_leaky: Any) -> None:
    r = cli("sessions", "kill", sandbox_leaky.url, "ctx-no-such", "--yes", "-o", "json", env=AUTH)
    assert r.exit_code == 1
    assert r.json["results"][0]["found"] is False
    assert "no such session" in r.stderr


def test_kill_by_filter_dry_run_and_confirmation(cli: Any, sandbox_leaky: Any) -> None:
    start(cli, sandbox_leaky.url)
    dry = cli("sessions", "kill", sandbox_leaky.url, "--state", "active", "--dry-run", "-o", "json", env=AUTH)
    assert dry.exit_code == 0 and dry.json["dryRun"] is True and dry.json["selected"]
    assert dry.json["results"] == []
    refused = cli("sessions", "kill", sandbox_leaky.url, "--state", "active", env=AUTH)
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    both = cli("sessions", "kill", sandbox_leaky.url, "x", "--state", "active", "--yes", env=AUTH)
    assert both.exit_code == 2


def test_debug_api_requires_auth_and_warns_when_open(cli: Any, sandbox_leaky: Any, sandbox: Any) -> None:
    denied = cli("sessions", "list", sandbox_leaky.url, "-o", "json")
    assert denied.exit_code == 4
    assert httpx.get(sandbox_leaky.url + "/debug/a2a/sessions").status_code == 401
    wrong = cli("sessions", "list", sandbox_leaky.url, "-o", "json", env={"A2ACTL_TOKEN": "wrong"})
    assert wrong.exit_code == 4
    opened = cli("sessions", "list", sandbox.url, "-o", "json")
    assert opened.exit_code == 0
    assert any("WITHOUT credentials" in w for w in opened.json["warnings"])
    assert "WITHOUT credentials" in opened.stderr
    assert DEBUG_TOKEN not in cli("sessions", "list", sandbox_leaky.url, "-vv", env=AUTH).stderr


def test_pagination(cli: Any, sandbox_leaky: Any) -> None:
    for _ in range(5):
        finished(cli, sandbox_leaky.url)
    headers = {"Authorization": f"Bearer {DEBUG_TOKEN}"}
    first = httpx.get(sandbox_leaky.url + "/debug/a2a/sessions?pageSize=2", headers=headers).json()
    conforms(first, "SessionPage")
    assert len(first["sessions"]) == 2 and first["nextCursor"] and first["total"] >= 5
    second = httpx.get(
        sandbox_leaky.url + f"/debug/a2a/sessions?pageSize=2&cursor={first['nextCursor']}", headers=headers
    ).json()
    assert {s["id"] for s in first["sessions"]}.isdisjoint({s["id"] for s in second["sessions"]})

    from a2actl.core.config import Settings
    from a2actl.sessions.client import Sessions
    from a2actl.sessions.rules import Filters

    async def all_pages() -> list[dict[str, Any]]:
        async with Sessions(sandbox_leaky.url, Settings(token=DEBUG_TOKEN), None) as conn:
            return await conn.list(Filters(), page_size=2)

    everything = asyncio.run(all_pages())
    assert len(everything) == first["total"] and len({s["id"] for s in everything}) == len(everything)
    limited = cli("sessions", "list", sandbox_leaky.url, "--limit", "3", "-o", "json", env=AUTH).json
    assert limited["count"] == 3


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("olderThan=-1", "olderThan must be a number of seconds >= 0, not '-1'"),
        ("olderThan=nan", "olderThan must be a number of seconds >= 0, not 'nan'"),
        ("idleFor=inf", "idleFor must be a number of seconds >= 0, not 'inf'"),
        ("idleFor=soon", "idleFor must be a number of seconds >= 0, not 'soon'"),
        ("pageSize=0", "pageSize must be 1..500"),
    ],
)
def test_debug_api_refuses_query_values_outside_the_contract(
    sandbox_leaky: Any, query: str, message: str
) -> None:
    """The OpenAPI document says ``minimum: 0`` for ``olderThan``/``idleFor``: a negative, NaN or
    infinite value was a 200 (NaN and infinity matching no session), not the 400 it is."""
    r = httpx.get(
        sandbox_leaky.url + "/debug/a2a/sessions?" + query,
        headers={"Authorization": f"Bearer {DEBUG_TOKEN}"},
    )
    assert r.status_code == 400
    assert r.json() == {"error": {"code": "invalid_argument", "message": f"bad query parameter: {message}"}}


def test_sandbox_answers_conform_to_the_openapi_document(cli: Any, sandbox_leaky: Any) -> None:
    running = start(cli, sandbox_leaky.url)
    headers = {"Authorization": f"Bearer {DEBUG_TOKEN}"}
    base = sandbox_leaky.url + "/debug/a2a"
    conforms(httpx.get(base, headers=headers).json(), "Discovery")
    sid = f"ctx-{running['result']['contextId']}"
    conforms(httpx.get(f"{base}/sessions/{sid}", headers=headers).json(), "Session")
    conforms(httpx.get(f"{base}/sessions/nope", headers=headers).json(), "Error")
    conforms(httpx.get(f"{base}/sessions?state=weird", headers=headers).json(), "Error")
    conforms(httpx.get(f"{base}/sessions", headers={}).json(), "Error")
    hs = httpx.post(sandbox_leaky.url + "/a2a/handshake", json={}).json()
    token_session = httpx.get(f"{base}/sessions/{hs['sessionId']}", headers=headers).json()
    conforms(token_session, "Session")
    assert token_session["token"]["scope"] == "a2a:tasks" and "Token" not in json.dumps(token_session)


def test_list_filters(cli: Any, sandbox_leaky: Any) -> None:
    start(cli, sandbox_leaky.url)
    active = cli("sessions", "list", sandbox_leaky.url, "--state", "active", "-o", "json", env=AUTH).json
    assert active["sessions"] and {s["state"] for s in active["sessions"]} == {"active"}
    none = cli("sessions", "list", sandbox_leaky.url, "--older-than", "1h", "-o", "json", env=AUTH).json
    assert none["sessions"] == []
    assert cli("sessions", "list", sandbox_leaky.url, "--state", "sleepy", env=AUTH).exit_code == 2
    assert cli("sessions", "list", sandbox_leaky.url, "--idle", "soon", env=AUTH).exit_code == 2


def test_watch_emits_refreshes_until_max_time(cli: Any, sandbox: Any) -> None:
    r = cli(
        "sessions", "list", sandbox.url, "--watch", "--interval", "0.2s", "--max-time", "1", "-o", "jsonl"
    )
    assert r.exit_code == 5
    assert len(r.jsonl) >= 3 and all("sessions" in line for line in r.jsonl[:-1])


@pytest.mark.parametrize("interval", ["0", "0s", "99ms", "1us"])
def test_watch_refuses_an_interval_under_a_tenth_of_a_second(cli: Any, sandbox: Any, interval: str) -> None:
    """`--watch --interval 0` refreshed as fast as the agent answered (~220 requests a second at the
    sandbox); an interval under 0.1 s is exit 2 naming the option and value, before any request."""
    r = cli(
        "-o", "json", "--max-time", "1", "sessions", "list", sandbox.url, "--watch", "--interval", interval
    )
    assert r.exit_code == 2, r.stdout + r.stderr
    error = r.json["error"]
    assert error["code"] == "usage"
    assert error["message"] == f"--interval must be at least 0.1s, got {interval!r}"


def test_a_catch_all_page_at_the_discovery_url_is_no_debug_api(cli: Any) -> None:
    """A plain agent behind a front end whose catch-all answers ``GET /debug/a2a`` with a 200 HTML
    page: no debug API is there. It was flagged open ("answered WITHOUT credentials", a false alarm)
    and ``/sessions`` then failed (exit 6) instead of the ListTasks fallback."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Mount, Route

    from a2actl.server.sandbox.app import build_app
    from a2actl.server.sandbox.options import SandboxOptions
    from tests.servers import LoopbackServer

    async def spa(_: Any) -> HTMLResponse:
        return HTMLResponse("<html><body><div id=app></div></body></html>")

    def app(url: str) -> Starlette:
        plain = build_app(SandboxOptions(debug=False), url)
        return Starlette(routes=[Route("/debug/a2a", spa), Mount("/", app=plain)])

    with LoopbackServer(app) as srv:
        r = cli("sessions", "list", srv.url, "-o", "json")
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["source"] == "a2a-listtasks"
    assert not any("WITHOUT credentials" in w for w in doc["warnings"])


def test_a_sign_in_page_for_anonymous_callers_is_not_taken_for_no_debug_api(cli: Any) -> None:
    """A gateway that answers an anonymous ``GET /debug/a2a`` with its sign-in page (200 HTML) and
    the token's holder with the API: the discovery is asked again with the token, and the debug API
    is used (protected: no warning). Taking the page for no debug API fell back to ListTasks, whose
    kill is a CancelTask, not the debug API's (review of 6437761)."""
    from starlette.responses import HTMLResponse

    from a2actl.server.sandbox.app import build_app
    from a2actl.server.sandbox.options import SandboxOptions
    from tests.servers import LoopbackServer

    def app(url: str) -> Any:
        inner = build_app(SandboxOptions(debug=True, debug_token=DEBUG_TOKEN), url)

        async def gateway(scope: Any, receive: Any, send: Any) -> None:
            anonymous = not any(k == b"authorization" for k, _ in scope.get("headers", []))
            if scope["type"] == "http" and scope["path"] == "/debug/a2a" and anonymous:
                await HTMLResponse("<html><body>sign in</body></html>")(scope, receive, send)
                return
            await inner(scope, receive, send)

        return gateway

    with LoopbackServer(app) as srv:
        r = cli("sessions", "list", srv.url, "-o", "json", env=AUTH)
    assert r.exit_code == 0, r.stderr
    assert (r.json["source"], r.json["warnings"]) == ("debug", [])


def test_fallback_on_a_plain_agent(cli: Any, sandbox_plain: Any) -> None:
    running = start(cli, sandbox_plain.url)
    done = finished(cli, sandbox_plain.url)
    r = cli("sessions", "list", sandbox_plain.url, "-o", "json")
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["source"] == "a2a-listtasks" and any("ListTasks" in w for w in doc["warnings"])
    ids = {s["id"]: s for s in doc["sessions"]}
    assert ids[f"ctx-{running['result']['contextId']}"]["state"] == "active"
    assert ids[f"ctx-{done['result']['contextId']}"]["state"] == "idle"
    for s in doc["sessions"]:
        conforms(s, "Session")
    k = cli(
        "sessions", "kill", sandbox_plain.url, f"ctx-{running['result']['contextId']}", "--yes", "-o", "json"
    )
    assert k.exit_code == 0 and k.json["results"][0]["canceledTasks"] == [running["taskId"]]
    assert (
        cli("task", "get", sandbox_plain.url, running["taskId"], "-o", "json").json["task"]["state"]
        == "canceled"
    )


def test_fallback_impossible_on_03(cli: Any, sandbox_plain_v03: Any) -> None:
    r = cli("sessions", "list", sandbox_plain_v03.url, "-o", "json")
    assert r.exit_code == 2
    assert "sessions cannot be listed" in r.json["error"]["message"]


def test_registry_rules_with_a_fake_clock() -> None:
    from a2actl.server.debug.registry import SessionRegistry

    now = [1000.0]
    reg = SessionRegistry(max_age=300, clock=lambda: now[0])
    reg.touch(session_id=None, context_id="c1", task_id="t1", state="working", peer="p")
    hs = reg.open_session("p")
    now[0] += 10
    reg.sessions["ctx-c1"].task_states["t1"] = "completed"
    assert reg.sweep() == [] and reg.sessions["ctx-c1"].close_reason == "tasks-ended"
    now[0] += 300
    expired = reg.sweep()
    assert [s.id for s in expired] == [hs.id] and hs.token is not None and hs.token.revoked
    assert reg.query() == [] and {s.id for s in reg.query(state="closed")} == {"ctx-c1", hs.id}


@pytest.mark.parametrize("args", [["list"], ["leaks", "--max-age", "never"]])
def test_sessions_usage(cli: Any, sandbox: Any, args: list[str]) -> None:
    r = cli("sessions", *args[:1], *([sandbox.url] if len(args) > 1 or args == ["list"] else []), *args[1:])
    # `sessions list URL` is a plain listing (0); `--max-age never` is a bad duration (2, usage)
    assert r.exit_code == (0 if args == ["list"] else 2) and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["list", "--older-than", "abc"], "--older-than"),
        (["list", "--idle", "-5s"], "--idle"),
        (["list", "--watch", "--interval", "often"], "--interval"),
        (["kill", "--older-than", "5q", "--dry-run"], "--older-than"),
        (["leaks", "--max-age", "never"], "--max-age"),
        (["leaks", "--grace", "soon"], "--grace"),
    ],
)
def test_a_bad_duration_names_its_option(cli: Any, sandbox: Any, args: list[str], option: str) -> None:
    """`sessions list --older-than abc` said "not a duration: 'abc'" without saying which option
    (a command line may give four durations); the message starts with the option, as elsewhere."""
    r = cli("-o", "json", "sessions", args[0], sandbox.url, *args[1:])
    assert r.exit_code == 2, r.stdout + r.stderr
    error = r.json["error"]
    assert error["code"] == "usage" and error["message"].startswith(f"{option}: not a duration: ")


def test_leaks_says_what_is_still_within_grace(cli: Any, sandbox_leaky: Any) -> None:
    """Issue #13: right after a run, 'no leaks' hid the sessions that --grace (5 s) had not counted yet."""
    done = finished(cli, sandbox_leaky.url)
    sid = f"ctx-{done['result']['contextId']}"
    r = cli(
        "sessions", "leaks", sandbox_leaky.url, "--max-age", "5m", "--grace", "10m", "-o", "json", env=AUTH
    )
    assert r.exit_code == 0 and sid in r.json["withinGrace"] and sid not in {x["id"] for x in r.json["leaks"]}
    table = cli("sessions", "leaks", sandbox_leaky.url, "--max-age", "5m", "--grace", "10m", env=AUTH)
    assert table.exit_code == 0 and "within --grace" in table.stderr


def test_show_of_a_closed_session_says_its_lifetime(cli: Any, sandbox_leaky: Any) -> None:
    running = start(cli, sandbox_leaky.url)
    sid = f"ctx-{running['result']['contextId']}"
    assert cli("sessions", "kill", sandbox_leaky.url, sid, "--yes", env=AUTH).exit_code == 0
    shown = cli("sessions", "show", sandbox_leaky.url, sid, env=AUTH)
    created = next(line for line in shown.stdout.splitlines() if line.strip().startswith("created"))
    assert "lived" in created and "ago" not in created


def test_kill_dry_run_with_nothing_selected_reads_cleanly(cli: Any, sandbox_leaky: Any) -> None:
    r = cli("sessions", "kill", sandbox_leaky.url, "--older-than", "1000h", "--dry-run", env=AUTH)
    assert r.exit_code == 0
    assert r.stdout.strip() == "would kill 0 session(s)"


# ------------------------------------------------------- a debug API that breaks its contract
_GOOD_SESSION: dict[str, Any] = {
    "id": "ctx-a",
    "state": "idle",
    "peer": "p",
    "contextIds": ["a"],
    "createdAt": "2026-11-22T04:30:01.695Z",
    "lastActivityAt": "2026-11-22T04:30:01.695Z",
    "ageSeconds": 1000,
    "idleSeconds": 900,
    "tasks": [{"id": "t", "state": "completed"}],
    "token": None,
    "messages": 1,
    "bytesIn": None,
    "bytesOut": None,
    "closedAt": None,
    "closeReason": None,
}
#: prefix → (the session list's page, GET /sessions/{id}, DELETE /sessions/{id})
_BROKEN: dict[str, tuple[Any, Any, Any]] = {
    "noage": (
        {
            "sessions": [{k: v for k, v in _GOOD_SESSION.items() if k != "ageSeconds"}],
            "nextCursor": None,
            "total": 1,
        },
        {k: v for k, v in _GOOD_SESSION.items() if k != "state"},
        {},
    ),
    "strings": ({"sessions": ["ctx-a", 5], "nextCursor": None, "total": 2}, [1, 2], []),
    "textage": (
        {
            "sessions": [{**_GOOD_SESSION, "ageSeconds": "1000", "tasks": "none"}],
            "nextCursor": None,
            "total": 1,
        },
        {**_GOOD_SESSION, "token": {"scope": "x"}},
        {"id": "ctx-a", "found": "yes"},
    ),
    "loop": ({"sessions": [_GOOD_SESSION], "nextCursor": "same", "total": 1}, _GOOD_SESSION, {}),
    # answers about another session than the one asked for (a cache or proxy mixing them up)
    "other": (
        {"sessions": [_GOOD_SESSION], "nextCursor": None, "total": 1},
        {**_GOOD_SESSION, "id": "ctx-other"},
        {
            "id": "ctx-other",
            "found": True,
            "alreadyClosed": False,
            "canceledTasks": ["t"],
            "alreadyTerminalTasks": [],
            "tokenRevoked": True,
        },
    ),
}


def _debug_api_per_mode(sessions: Any, one: Any) -> Any:
    """A protected debug API under each ``/{mode}`` prefix (``--debug-prefix /MODE``): discovery
    refuses anonymous callers (401), ``sessions`` answers ``GET …/sessions``, ``one`` answers
    ``GET``/``DELETE …/sessions/{sid}``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def discovery(_: Request) -> JSONResponse:
        return JSONResponse({"contractVersion": "1", "features": ["sessions"]}, status_code=401)

    return Starlette(
        routes=[
            Route("/{mode}", discovery),
            Route("/{mode}/sessions", sessions),
            Route("/{mode}/sessions/{sid}", one, methods=["GET", "DELETE"]),
        ]
    )


def _broken_debug_app(_: str) -> Any:
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    async def sessions(request: Request) -> JSONResponse:
        return JSONResponse(_BROKEN[request.path_params["mode"]][0])

    async def one(request: Request) -> JSONResponse:
        which = 1 if request.method == "GET" else 2
        return JSONResponse(_BROKEN[request.path_params["mode"]][which])

    return _debug_api_per_mode(sessions, one)


@pytest.fixture(scope="module")
def broken_debug() -> Any:
    from tests.servers import LoopbackServer

    with LoopbackServer(_broken_debug_app) as srv:
        yield srv.url


@pytest.mark.parametrize("mode", ["noage", "strings", "textage"])
@pytest.mark.parametrize(
    "args",
    [["list"], ["list", "--older-than", "1s"], ["leaks"], ["show", "ctx-a"], ["kill", "ctx-a", "--yes"]],
)
def test_a_debug_api_answer_outside_the_contract_is_a_protocol_violation(
    cli: Any, broken_debug: str, mode: str, args: list[str]
) -> None:
    """A session without ageSeconds, a session or task that is a string, a KillResult without found:
    exit 6 naming the field, not 'unexpected KeyError' (exit 1)."""
    r = cli(
        "sessions", args[0], broken_debug, *args[1:], "--debug-prefix", f"/{mode}", "-o", "json", env=AUTH
    )
    assert r.exit_code == 6, r.stdout + r.stderr
    error = r.json["error"]
    assert error["code"] == "protocol" and "debug API contract" in error["message"]
    assert "unexpected" not in error["message"]


@pytest.mark.parametrize("args", [["show", "ctx-a"], ["kill", "ctx-a", "--yes"]])
def test_an_answer_about_another_session_is_a_protocol_violation(
    cli: Any, broken_debug: str, args: list[str]
) -> None:
    """``kill ctx-a`` answered by a ``KillResult`` of ``ctx-other`` reported "killed", exit 0, while
    ``ctx-a`` may still be open; ``show ctx-a`` showed ``ctx-other``. Exit 6, as ``task get``."""
    r = cli("sessions", args[0], broken_debug, *args[1:], "--debug-prefix", "/other", "-o", "json", env=AUTH)
    assert r.exit_code == 6, r.stdout[-500:]
    error = r.json["results"][0]["error"] if args[0] == "kill" else r.json["error"]
    assert error["code"] == "protocol" and error["details"]["answeredSessionId"] == "ctx-other", error
    if args[0] == "kill":
        assert r.json["results"][0]["id"] == "ctx-a" and r.json["results"][0]["found"] is None


def test_a_debug_api_whose_pages_loop_is_a_protocol_violation(cli: Any, broken_debug: str) -> None:
    r = cli(
        "--max-time",
        "20",
        "sessions",
        "list",
        broken_debug,
        "--debug-prefix",
        "/loop",
        "-o",
        "json",
        env=AUTH,
    )
    assert r.exit_code == 6 and "loop" in r.json["error"]["message"]


# ------------------------------------------- a debug API answering garbage, errors, null
_GOOD_RAW = json.dumps(_GOOD_SESSION)
#: prefix → (status, content type, body) of every answer under it but the discovery (a 401)
_GARBAGE: dict[str, tuple[int, str, str]] = {
    # a gateway's error page in front of the debug API: exit 6 'not JSON', not the HTTP 502 it is
    "html502": (502, "text/html", "<html><body>502 Bad Gateway</body></html>"),
    # an error that is a string: exit 1 'unexpected AttributeError'
    "errstr": (500, "application/json", '{"error": "database down"}'),
    # non-finite ages: the table was exit 1 'unexpected ValueError/OverflowError', -o json wrote
    # null, 'leaks' flagged a session 'open for infs'
    "nan": (200, "application/json", _GOOD_RAW.replace('"ageSeconds": 1000', '"ageSeconds": NaN')),
    "inf": (200, "application/json", _GOOD_RAW.replace('"idleSeconds": 900', '"idleSeconds": 1e999')),
    # a success that is JSON null was read as a 404: 'no such session', exit 1
    "null": (200, "application/json", "null"),
}


def _garbage_debug_app(_: str) -> Any:
    from starlette.requests import Request
    from starlette.responses import Response

    def answer(request: Request, body: str | None = None) -> Response:
        status, ctype, raw = _GARBAGE[request.path_params["mode"]]
        return Response(raw if body is None else body, status_code=status, media_type=ctype)

    async def sessions(request: Request) -> Response:
        _, _, raw = _GARBAGE[request.path_params["mode"]]
        page = '{"sessions": [' + raw + '], "nextCursor": null}' if raw.startswith('{"id"') else None
        return answer(request, page)

    async def one(request: Request) -> Response:
        return answer(request)

    return _debug_api_per_mode(sessions, one)


@pytest.fixture(scope="module")
def garbage_debug() -> Any:
    from tests.servers import LoopbackServer

    with LoopbackServer(_garbage_debug_app) as srv:
        yield srv.url


_GARBAGE_EXPECTED = {
    "html502": ("http_status", 1, "HTTP 502: Bad Gateway"),
    "errstr": ("http_status", 1, "HTTP 500: database down"),
    "nan": ("protocol", 6, "ageSeconds: not a finite number"),
    "inf": ("protocol", 6, "idleSeconds: not a finite number"),
    "null": ("protocol", 6, "with null"),
}


@pytest.mark.parametrize(
    "mode, args",
    [
        (mode, args)
        for mode in _GARBAGE
        for args in (["list"], ["leaks"], ["show", "ctx-a"], ["kill", "ctx-a", "--yes"])
        # a null page was already a protocol violation; a KillResult has no number
        if not (mode == "null" and args[0] in ("list", "leaks"))
        and not (mode in ("nan", "inf") and args[0] == "kill")
    ],
)
def test_a_debug_api_answering_garbage_gets_its_exit_code(
    cli: Any, garbage_debug: str, mode: str, args: list[str]
) -> None:
    """Exit 1 for an HTTP error whatever its body, 6 for a success outside the contract (a
    non-finite number, a JSON null): never 'unexpected', never a session 'not found'."""
    code, exit_code, needle = _GARBAGE_EXPECTED[mode]
    for fmt in ("json", "table"):
        r = cli(
            "-o", fmt, "sessions", args[0], garbage_debug, *args[1:], "--debug-prefix", f"/{mode}", env=AUTH
        )
        assert r.exit_code == exit_code, (fmt, r.stdout[-500:], r.stderr)
        assert "unexpected" not in r.stdout + r.stderr and "Traceback" not in r.stderr
        if fmt == "table":
            continue
        error = r.json["results"][0]["error"] if args[0] == "kill" else r.json["error"]
        assert error["code"] == code and needle in error["message"], error


@pytest.mark.parametrize("prefix", ["/null#", "/null?x=1", "/null\n"])
@pytest.mark.parametrize("args", [["list"], ["show", "ctx-a"], ["kill", "ctx-a", "--yes"]])
def test_a_debug_prefix_that_is_no_path_is_a_usage_error(
    cli: Any, garbage_debug: str, prefix: str, args: list[str]
) -> None:
    """A ``#`` or ``?`` moved ``/sessions/{id}`` into the fragment or the query: ``kill`` sent
    ``DELETE /null``, the debug API's root, and ``list`` read the discovery answer (here a 401:
    exit 4, "the token was refused")."""
    r = cli("-o", "json", "sessions", args[0], garbage_debug, *args[1:], "--debug-prefix", prefix, env=AUTH)
    assert r.exit_code == 2, r.stdout[-500:]
    assert r.json["error"]["message"].startswith(f"--debug-prefix {prefix!r}: not a URL path")


@pytest.mark.parametrize("args", [["show", ""], ["kill", "", "--yes"], ["kill", "ctx-a", "", "--yes"]])
def test_an_empty_session_id_is_a_usage_error(cli: Any, args: list[str]) -> None:
    """``sessions kill URL "$UNSET"`` sent ``DELETE {prefix}/sessions/``: the sessions collection,
    which a server that ignores a trailing slash routes as ``{prefix}/sessions``."""
    r = cli("-o", "json", "sessions", args[0], "http://127.0.0.1:9", *args[1:])
    assert r.exit_code == 2, r.stdout[-500:]
    assert r.json["error"]["code"] == "usage" and "cannot be empty" in r.json["error"]["message"]


# ------------------------------------------- CancelTask refusals on the ListTasks fallback
#: contextId → (the task's state in ListTasks, what CancelTask answers, the state GetTask then says)
_CANCEL: dict[str, tuple[str, Any, str]] = {
    "ok": ("TASK_STATE_WORKING", "canceled", "TASK_STATE_CANCELED"),
    # ended between ListTasks and CancelTask: -32002 for a task GetTask shows terminal
    "ended": (
        "TASK_STATE_WORKING",
        {"code": -32002, "message": "Task cannot be canceled"},
        "TASK_STATE_COMPLETED",
    ),
    # -32002 for a task still running: the agent refused, nothing was killed
    "refused": ("TASK_STATE_WORKING", {"code": -32002, "message": "not cancelable"}, "TASK_STATE_WORKING"),
    "internal": (
        "TASK_STATE_WORKING",
        {"code": -32603, "message": "database is on fire"},
        "TASK_STATE_WORKING",
    ),
    # CancelTask answered with the task, not canceled: still working (a failure) / already
    # completed (ended before the cancel, as -32002 for a terminal task)
    "stillworking": ("TASK_STATE_WORKING", "TASK_STATE_WORKING", "TASK_STATE_WORKING"),
    "answeredended": ("TASK_STATE_WORKING", "TASK_STATE_COMPLETED", "TASK_STATE_COMPLETED"),
    "auth": ("TASK_STATE_WORKING", 401, "TASK_STATE_WORKING"),
    "http500": ("TASK_STATE_WORKING", 500, "TASK_STATE_WORKING"),
}


def _cancel_refusing_app(base: str) -> Any:
    """A plain A2A 1.0 agent (no debug API): one working task per context of ``_CANCEL``, task id
    ``t-<context>``, whose CancelTask answers as the table says."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from tests.servers import v1_card

    def task(ctx: str, state: str) -> dict[str, Any]:
        return {
            "id": f"t-{ctx}",
            "contextId": ctx,
            "status": {"state": state, "timestamp": "2026-11-22T04:30:01.695Z"},
        }

    async def card(_: Request) -> Response:
        return JSONResponse(v1_card(base, "/rpc"))

    async def rpc(request: Request) -> Response:
        body = json.loads(await request.body())
        rid, method, params = body.get("id"), body.get("method"), body.get("params") or {}
        if method == "ListTasks":
            result: Any = {"tasks": [task(c, v[0]) for c, v in _CANCEL.items()], "nextPageToken": ""}
        else:
            ctx = str(params.get("id", "")).removeprefix("t-")
            listed, cancel, after = _CANCEL[ctx]
            if method == "GetTask":
                result = task(ctx, after)
            elif cancel == "canceled":
                result = task(ctx, "TASK_STATE_CANCELED")
            elif isinstance(cancel, str):  # the task as CancelTask answers it, in that state
                result = task(ctx, cancel)
            elif cancel == 401:
                return JSONResponse({"error": "no"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
            elif cancel == 500:
                return PlainTextResponse("boom", status_code=500)
            else:
                return JSONResponse({"jsonrpc": "2.0", "id": rid, "error": cancel})
        return JSONResponse({"jsonrpc": "2.0", "id": rid, "result": result})

    return Starlette(
        routes=[
            Route("/.well-known/agent-card.json", card),
            Route("/rpc", rpc, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def cancel_refusing() -> Any:
    from tests.servers import LoopbackServer

    with LoopbackServer(_cancel_refusing_app) as srv:
        yield srv.url


def test_fallback_kill_counts_only_a_terminal_task_as_already_ended(cli: Any, cancel_refusing: str) -> None:
    """-32002 TaskNotCancelable for a task that has ended, or CancelTask answered with the task
    completed, is 'already ended' (exit 0)."""
    ids = ("ctx-ok", "ctx-ended", "ctx-answeredended")
    r = cli("sessions", "kill", cancel_refusing, *ids, "--yes", "-o", "json")
    assert r.exit_code == 0, r.stdout + r.stderr
    ok, ended, answered = r.json["results"]
    assert ok["canceledTasks"] == ["t-ok"] and ok["alreadyTerminalTasks"] == []
    assert ended["canceledTasks"] == [] and ended["alreadyTerminalTasks"] == ["t-ended"]
    assert answered["canceledTasks"] == [] and answered["alreadyTerminalTasks"] == ["t-answeredended"]
    assert "error" not in ok and "error" not in ended and "error" not in r.json


@pytest.mark.parametrize(
    ("ctx", "exit_code", "code", "a2a_code"),
    [
        ("refused", 1, "a2a_error", -32002),
        ("stillworking", 1, "not_canceled", None),  # was counted in canceledTasks, exit 0
        ("internal", 1, "a2a_error", -32603),
        ("auth", 4, "auth", None),
        ("http500", 1, "http_status", None),
    ],
)
def test_fallback_kill_reports_a_failed_cancel_as_a_failure(
    cli: Any, cancel_refusing: str, ctx: str, exit_code: int, code: str, a2a_code: int | None
) -> None:
    """Any other CancelTask error (or -32002 for a task still running) killed nothing: it is the
    failure it is, with its exit code, never 'already ended' with exit 0; the other ids keep theirs."""
    r = cli("sessions", "kill", cancel_refusing, f"ctx-{ctx}", "ctx-ok", "--yes", "-o", "json")
    assert r.exit_code == exit_code, r.stdout + r.stderr
    failed, ok = r.json["results"]
    assert failed["id"] == f"ctx-{ctx}" and failed["found"] is True
    assert failed["canceledTasks"] == [] and failed["alreadyTerminalTasks"] == []
    assert failed["error"]["code"] == code and failed["error"]["exitCode"] == exit_code
    assert failed["error"].get("a2aCode") == a2a_code
    assert ok["canceledTasks"] == ["t-ok"] and "error" not in ok
    assert r.json["error"] == failed["error"]  # the failure that decides the exit code, beside the results
    assert f"ctx-{ctx}" in r.stderr


# ------------------------------------------- one id's failure must not lose the others' results
def _partly_failing_debug_app(_: str) -> Any:
    """A protected debug API whose DELETE answers a KillResult, except for ``ctx-boom`` (HTTP 500)
    and ``ctx-slow`` (answers after 3 s: a read timeout under ``--timeout 0.5``)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def discovery(request: Request) -> JSONResponse:
        return JSONResponse({"contractVersion": "1", "features": ["sessions"]}, status_code=401)

    async def one(request: Request) -> JSONResponse:
        sid = request.path_params["sid"]
        if sid == "ctx-boom":
            return JSONResponse({"error": {"message": "registry is locked"}}, status_code=500)
        if sid == "ctx-slow":
            await asyncio.sleep(3)
        if sid == "ctx-gone":
            return JSONResponse({"error": {"message": "no such session"}}, status_code=404)
        return JSONResponse(
            {
                "id": sid,
                "found": True,
                "alreadyClosed": False,
                "canceledTasks": [f"t-{sid}"],
                "alreadyTerminalTasks": [],
                "tokenRevoked": True,
            }
        )

    return Starlette(
        routes=[
            Route("/debug/a2a", discovery),
            Route("/debug/a2a/sessions/{sid}", one, methods=["DELETE"]),
        ]
    )


@pytest.fixture(scope="module")
def partly_failing_debug() -> Any:
    from tests.servers import LoopbackServer

    with LoopbackServer(_partly_failing_debug_app) as srv:
        yield srv.url


@pytest.mark.parametrize(
    ("bad", "exit_code", "code"), [("ctx-boom", 1, "http_status"), ("ctx-slow", 5, "timeout")]
)
@pytest.mark.parametrize("output", ["json", "jsonl"])
def test_kill_of_several_ids_reports_every_id_when_one_fails(
    cli: Any, partly_failing_debug: str, bad: str, exit_code: int, code: str, output: str
) -> None:
    """`sessions kill ID1 ID2 ID3` with a 500 or a timeout on ID2: ID1 and ID3 were killed and are
    reported so; ID2 carries its error; the exit code is ID2's failure."""
    r = cli(
        "--timeout",
        "0.5",
        "sessions",
        "kill",
        partly_failing_debug,
        "ctx-a",
        bad,
        "ctx-b",
        "ctx-gone",
        "--yes",
        "-o",
        output,
        env=AUTH,
    )
    assert r.exit_code == exit_code, r.stdout + r.stderr
    docs = r.jsonl if output == "jsonl" else [r.json]
    assert len(docs) == 1  # one document, in jsonl one line
    doc = docs[0]
    assert doc["selected"] == ["ctx-a", bad, "ctx-b", "ctx-gone"]
    a, failed, b, gone = doc["results"]
    for killed in (a, b):
        assert killed["found"] is True and killed["canceledTasks"] == [f"t-{killed['id']}"]
        assert "error" not in killed
        conforms(killed, "KillResult")
    assert gone["found"] is False and "error" not in gone
    assert failed["id"] == bad and failed["error"]["code"] == code
    assert failed["error"]["exitCode"] == exit_code
    assert failed["canceledTasks"] == [] and failed["tokenRevoked"] is False
    assert doc["error"] == failed["error"]
    assert bad in r.stderr and "no such session: ctx-gone" in r.stderr
    table = cli("--timeout", "0.5", "sessions", "kill", partly_failing_debug, "ctx-a", bad, "--yes", env=AUTH)
    assert table.exit_code == exit_code and "killed" in table.stdout and "failed" in table.stdout


# ------------------------------------------- ListTasks answers outside the A2A Task shape (fallback)
#: mode → (the ListTasks tasks, nextPageToken, what the error message names)
_HOSTILE_LISTS: dict[str, tuple[Any, str, str]] = {
    "strstatus": ([{"id": "t", "contextId": "c", "status": "working"}], "", "tasks[0].status"),
    "noid": ([{"contextId": "c", "status": {"state": "TASK_STATE_WORKING"}}], "", "tasks[0].id"),
    "intid": ([{"id": 5, "contextId": "c"}], "", "tasks[0].id"),
    "listctx": ([{"id": "t", "contextId": ["a"]}], "", "tasks[0].contextId"),
    "notobject": (["t1"], "", "tasks[0]"),
    "loop": ([{"id": "t", "contextId": "c"}], "same", "nextPageToken"),
}


def _hostile_list_app(base: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from tests.servers import v1_card

    def routes(mode: str) -> list[Route]:
        async def card(_: Request) -> Response:
            return JSONResponse(v1_card(base, f"/{mode}/rpc"))

        async def rpc(request: Request) -> Response:
            body = json.loads(await request.body())
            tasks, token, _ = _HOSTILE_LISTS[mode]
            result = {"tasks": tasks, "nextPageToken": token}
            return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": result})

        return [Route(f"/{mode}/agent-card.json", card), Route(f"/{mode}/rpc", rpc, methods=["POST"])]

    return Starlette(routes=[r for mode in _HOSTILE_LISTS for r in routes(mode)])


@pytest.fixture(scope="module")
def hostile_lists() -> Any:
    from tests.servers import LoopbackServer

    with LoopbackServer(_hostile_list_app) as srv:
        yield srv.url


@pytest.mark.parametrize("mode", sorted(_HOSTILE_LISTS))
@pytest.mark.parametrize("args", [["list"], ["kill", "--state", "active", "--yes"], ["leaks"]])
def test_a_list_tasks_answer_outside_the_task_shape_is_a_protocol_violation(
    cli: Any, hostile_lists: str, mode: str, args: list[str]
) -> None:
    """A task whose status is a string, a task without a string id (a kill sent CancelTask with
    id null), a list as contextId, a task that is no object (silently dropped), a nextPageToken
    that comes back (ran to --max-time): exit 6 naming the field, never 'unexpected' (1) or 5."""
    r = cli(
        "--max-time",
        "20",
        "sessions",
        args[0],
        f"{hostile_lists}/{mode}/agent-card.json",
        *args[1:],
        "-o",
        "json",
    )
    assert r.exit_code == 6, r.stdout + r.stderr
    error = r.json["error"]
    assert error["code"] == "protocol" and "unexpected" not in error["message"]
    assert _HOSTILE_LISTS[mode][2] in error["message"]


def test_kill_stopped_by_max_time_reports_the_kills_done(cli: Any, partly_failing_debug: str) -> None:
    """--max-time passing during `sessions kill ID1 ID2 ID3` (ID2 answers after 3 s) lost ID1's
    kill: only the timeout was reported. ID1 is reported killed; ID2 (in flight) and ID3 (not tried)
    carry the timeout; exit 5."""
    r = cli(
        "--max-time",
        "1.5",
        "sessions",
        "kill",
        partly_failing_debug,
        "ctx-a",
        "ctx-slow",
        "ctx-b",
        "--yes",
        "-o",
        "json",
        env=AUTH,
    )
    assert r.exit_code == 5, r.stdout + r.stderr
    a, slow, b = r.json["results"]
    assert a["found"] is True and a["canceledTasks"] == ["t-ctx-a"] and "error" not in a
    assert [x["error"]["code"] for x in (slow, b)] == ["timeout", "timeout"]
    assert slow["found"] is None and b["found"] is None
    assert r.json["error"]["exitCode"] == 5


@pytest.mark.parametrize("sid", [".", "..", "a/b", "a?b#c"])
def test_an_id_is_one_path_segment(cli: Any, sandbox_leaky: Any, sid: str) -> None:
    """``sessions kill/show ID`` puts the id in the debug API's URL as one percent-encoded path
    segment (``protocol.versions.rest_path``): ``.`` and ``..`` were left as they are, and URL
    normalisation turned ``/sessions/.`` into ``/sessions/`` (a DELETE of the collection on a debug
    API that reads it so) and ``/sessions/..`` into the API's root. Such an id names no session."""
    r = cli("sessions", "kill", sandbox_leaky.url, sid, "--yes", "-o", "json", env=AUTH)
    assert r.exit_code == 1, r.stdout[-500:]
    assert r.json["results"][0]["found"] is False and r.json["results"][0]["id"] == sid
    shown = cli("sessions", "show", sandbox_leaky.url, sid, "-o", "json", env=AUTH)
    assert shown.exit_code == 1, shown.stdout[-500:]


# ------------------------------------------- the kill confirmation, asked on a real terminal (a pty)
def _kill_at_a_prompt(url: str, sid: str, answer: bytes | None, *before: str) -> tuple[int, str, str]:
    """``a2actl [BEFORE] sessions kill URL SID`` with stdin a terminal (a pty; stdout and stderr
    pipes), so it asks for confirmation: types ``answer`` once the question shows (Ctrl-C, a
    SIGINT, when ``None``). Returns ``(exit code, stdout, stderr)``; the question must show within
    20 s, on stdout or stderr."""
    import os
    import pty
    import select
    import signal
    import subprocess
    import sys
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", *before, "sessions", "kill", url, sid],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(slave)
    assert proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    got = {out_fd: b"", err_fd: b""}
    try:
        deadline = time.monotonic() + 20
        while not any(b"[y/N]" in v for v in got.values()):
            assert time.monotonic() < deadline and proc.poll() is None, got
            for fd in select.select(list(got), [], [], 0.2)[0]:
                got[fd] += os.read(fd, 65536)
        if answer is None:
            proc.send_signal(signal.SIGINT)
        else:
            os.write(master, answer)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.returncode, (got[out_fd] + out).decode(), (got[err_fd] + err).decode()


def test_kill_confirmation_is_asked_on_stderr_with_the_password_masked(cli: Any, sandbox: Any) -> None:
    """The question went to stdout through typer.confirm: it corrupted the ``-o json`` document
    (``kill 1 session(s) at …? [y/N]: {…``), a user whose stdout was redirected never saw it, and
    it printed the TARGET's ``user:password@`` in clear (every other line masks it)."""
    running = start(cli, sandbox.url)
    sid = f"ctx-{running['result']['contextId']}"
    secret = "pw-s3cret-for-the-prompt"
    url = sandbox.url.replace("http://", f"http://operator:{secret}@")
    code, out, err = _kill_at_a_prompt(url, sid, b"y\n", "-o", "json")
    assert code == 0, (out, err)
    doc = json.loads(out)  # stdout is the document alone
    assert doc["selected"] == [sid] and doc["results"][0]["found"] is True
    assert doc["results"][0]["canceledTasks"] == [running["taskId"]]
    assert "kill 1 session(s) at http://operator:***@" in err and "[y/N]" not in out
    assert secret not in out + err


def test_ctrl_c_at_the_kill_confirmation_is_130_and_kills_nothing(cli: Any, sandbox: Any) -> None:
    """Ctrl-C (or SIGTERM) at the question was typer's "Aborted!", exit 1: an interrupt is 130
    everywhere else (docs/exit-codes.md). Answering no is still exit 1, and neither kills anything."""
    running = start(cli, sandbox.url)
    sid = f"ctx-{running['result']['contextId']}"
    code, out, err = _kill_at_a_prompt(sandbox.url, sid, None)
    assert code == 130, (out, err)
    assert "a2actl: interrupted" in err and "Aborted" not in err
    code, out, err = _kill_at_a_prompt(sandbox.url, sid, b"n\n")
    assert code == 1, (out, err)
    shown = cli("sessions", "show", sandbox.url, sid, "-o", "json")
    assert shown.exit_code == 0 and shown.json["session"]["state"] == "active"
    task = cli("task", "get", sandbox.url, running["taskId"], "-o", "json")
    assert task.json["task"]["state"] == "working"


def test_kill_with_stdin_closed_is_a_usage_error(sandbox: Any) -> None:
    """``a2actl sessions kill URL ID <&-`` (no stdin at all, as under some job runners): Python's
    ``sys.stdin`` is None, and asking it ``isatty`` was exit 1 "unexpected AttributeError". It is
    the documented refusal without --yes: exit 2."""
    r = a2actl_stdin_closed("-o", "json", "sessions", "kill", sandbox.url, "ctx-x")
    assert r.returncode == 2, (r.stdout, r.stderr)
    error = json.loads(r.stdout)["error"]
    assert error["code"] == "usage" and "stdin is not a terminal" in error["message"]


# ------------------------------------------- one --max-time for the whole command
def _slow_debug_app(_: str) -> Any:
    """Protected debug APIs (discovery answers 401) with a slow step: under ``/slowdisc`` the
    discovery takes 1.5 s (so do both steps of a kill: the plan and the kill each discover);
    under ``/slowlist`` a list of sessions takes 1.5 s. Kills answer at once."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def discovery(delay: float) -> Any:
        async def handler(_: Request) -> JSONResponse:
            await asyncio.sleep(delay)
            return JSONResponse({"error": {"message": "token needed"}}, status_code=401)

        return handler

    async def sessions(_: Request) -> JSONResponse:
        await asyncio.sleep(1.5)
        return JSONResponse({"sessions": []})

    async def kill(request: Request) -> JSONResponse:
        sid = request.path_params["sid"]
        return JSONResponse(
            {
                "id": sid,
                "found": True,
                "alreadyClosed": False,
                "canceledTasks": [],
                "alreadyTerminalTasks": [],
                "tokenRevoked": True,
            }
        )

    return Starlette(
        routes=[
            Route("/slowdisc", discovery(1.5)),
            Route("/slowdisc/sessions/{sid}", kill, methods=["DELETE"]),
            Route("/slowlist", discovery(0)),
            Route("/slowlist/sessions", sessions),
        ]
    )


@pytest.fixture(scope="module")
def slow_debug() -> Any:
    from tests.servers import LoopbackServer

    with LoopbackServer(_slow_debug_app) as srv:
        yield srv.url


def test_kill_plan_and_kills_share_one_max_time(cli: Any, slow_debug: str) -> None:
    """The plan (1.5 s) and the kills (1.5 s more) each had a whole --max-time: `--max-time 2.5`
    killed at 3 s with exit 0. The kills get what the plan left (1 s): exit 5, the id reported
    with the timeout."""
    r = cli(
        "--max-time",
        "2.5",
        "sessions",
        "kill",
        slow_debug,
        "ctx-a",
        "--debug-prefix",
        "/slowdisc",
        "--yes",
        "-o",
        "json",
        env=AUTH,
    )
    assert r.exit_code == 5, r.stdout + r.stderr
    (only,) = r.json["results"]
    assert only["id"] == "ctx-a" and only["error"]["code"] == "timeout"
    assert r.json["error"]["message"].startswith("gave up after --max-time 2.5s")


def test_watch_refresh_gets_what_is_left_of_max_time(cli: Any, slow_debug: str) -> None:
    """`sessions list --watch --max-time 2.5` on a debug API that lists in 1.5 s: the second refresh
    (from 1.6 s) had a whole --max-time of its own and ran to 3.1 s. It is cut at 2.5 s: one
    refresh, then the timeout (exit 5)."""
    r = cli(
        "--max-time",
        "2.5",
        "-o",
        "jsonl",
        "sessions",
        "list",
        slow_debug,
        "--debug-prefix",
        "/slowlist",
        "--watch",
        "--interval",
        "0.1s",
        env=AUTH,
    )
    assert r.exit_code == 5, r.stdout + r.stderr
    *refreshes, last = r.jsonl
    assert len(refreshes) == 1 and refreshes[0]["sessions"] == []
    assert last["error"]["code"] == "timeout"


def test_watch_with_an_interval_longer_than_sleep_takes_waits(sandbox: Any) -> None:
    """``--watch --interval 99999999999999h``: the first refresh, then exit 1 ``unexpected
    OverflowError`` (``time.sleep`` takes at most ~292 years). It waits, until Ctrl-C (130)."""
    import signal
    import subprocess
    import sys
    import time

    from tests.procs import finish

    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "-o", "jsonl", "sessions", "list", sandbox.url, "--watch",
         "--interval", "99999999999999h"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    time.sleep(1.0)
    alive = proc.poll() is None
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc, 20)
    assert first["source"] == "debug" and alive, err
    assert proc.returncode == 130 and "unexpected" not in err, err


def test_watch_table_is_written_when_the_watch_ends(cli: Any, sandbox: Any) -> None:
    """`sessions list --watch` (table) to a pipe or file wrote nothing at all: the live table draws
    only on a terminal and was never stopped (on a terminal the cursor stayed hidden after Ctrl-C).
    It is stopped when the watch ends, which writes the last table."""
    start(cli, sandbox.url)
    r = cli("--max-time", "1", "sessions", "list", sandbox.url, "--watch", "--interval", "0.2s")
    assert r.exit_code == 5, r.stderr
    assert "session(s) from debug" in r.stdout and "active" in r.stdout


# ------------------------------------------- --watch on a debug API whose refreshes fail
#: prefix → the status of each ``GET …/sessions`` by its number (0 is the first): 200 is a good page
_FLAKY: dict[str, Any] = {
    "flaky": lambda n: 200 if n % 2 == 0 else 503,  # every other refresh fails
    "down": lambda n: 200 if n == 0 else 502,  # a gateway's 502 from the second refresh on
    "gone403": lambda n: 200 if n == 0 else 403,
    "gone400": lambda n: 200 if n == 0 else 400,
}


def _flaky_debug_app(_: str) -> Any:
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    calls: dict[str, int] = {}

    async def sessions(request: Request) -> JSONResponse:
        mode = request.path_params["mode"]
        n = calls[mode] = calls.get(mode, -1) + 1
        status = _FLAKY[mode](n)
        if status == 200:
            return JSONResponse({"sessions": [_GOOD_SESSION], "nextCursor": None, "total": 1})
        return JSONResponse({"error": {"message": f"refresh {n} fails"}}, status_code=status)

    async def one(_: Request) -> JSONResponse:
        return JSONResponse(_GOOD_SESSION)

    return _debug_api_per_mode(sessions, one)


@pytest.fixture
def flaky_debug() -> Any:
    from tests.servers import LoopbackServer

    with LoopbackServer(_flaky_debug_app) as srv:
        yield srv.url


def _watch(cli: Any, url: str, mode: str, *extra: str) -> Any:
    return cli(
        "--max-time", "1.5", *extra, "sessions", "list", url, "--debug-prefix", f"/{mode}",
        "--watch", "--interval", "0.1s", env=AUTH,
    )  # fmt: skip


def test_watch_goes_on_after_a_failed_refresh(cli: Any, flaky_debug: str) -> None:
    """``sessions list --watch`` on a debug API that fails every other refresh (HTTP 503) ended at
    the first failure, exit 1. Each failed refresh is one line on stderr and the watch goes on to
    --max-time (exit 5), each good refresh a JSON line."""
    r = _watch(cli, flaky_debug, "flaky", "-o", "jsonl")
    assert r.exit_code == 5, r.stdout[-500:] + r.stderr
    *refreshes, end = r.jsonl
    assert len(refreshes) >= 3 and all(d["sessions"][0]["id"] == "ctx-a" for d in refreshes), r.stdout
    assert end["error"]["code"] == "timeout"
    failed = [x for x in r.stderr.splitlines() if x.startswith("warning: refresh failed, still watching: ")]
    assert len(failed) >= 2 and "HTTP 503" in failed[0], r.stderr


def test_watch_table_keeps_the_last_good_refresh_and_says_the_failure(cli: Any, flaky_debug: str) -> None:
    """The table, after refreshes that failed: the last good one's sessions, and the failure in
    its caption (and, stdout not being a terminal, on stderr)."""
    r = _watch(cli, flaky_debug, "down")
    assert r.exit_code == 5, r.stdout[-500:] + r.stderr
    assert "1 session(s) from debug" in r.stdout and "ctx-a" in r.stdout, r.stdout
    assert "in a row), still watching:" in r.stdout and "HTTP 502" in r.stdout, r.stdout
    assert "warning: refresh failed, still watching: " in r.stderr


@pytest.mark.parametrize(("mode", "code"), [("gone403", 4), ("gone400", 1)])
def test_watch_ends_on_a_refresh_that_cannot_pass(cli: Any, flaky_debug: str, mode: str, code: int) -> None:
    """A refresh refused (403: the token revoked) or answered another HTTP 4xx (400) would be the
    same the next time: the watch ends with its exit code, after the good refresh."""
    r = _watch(cli, flaky_debug, mode, "-o", "jsonl")
    assert r.exit_code == code, r.stdout[-500:] + r.stderr
    first, end = r.jsonl
    assert first["sessions"][0]["id"] == "ctx-a" and end["error"]["exitCode"] == code


def test_watch_ctrl_c_after_failed_refreshes_is_130(flaky_debug: str) -> None:
    """Ctrl-C while the refreshes fail ends the watch as ever: exit 130."""
    import signal
    import subprocess
    import sys

    from tests.procs import finish

    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "-o", "jsonl", "sessions", "list", flaky_debug,
         "--debug-prefix", "/down", "--watch", "--interval", "0.1s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **AUTH},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    first = json.loads(proc.stdout.readline())
    failed = [proc.stderr.readline() for _ in range(2)]
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc, 20)
    assert first["sessions"][0]["id"] == "ctx-a"
    assert all(x.startswith("warning: refresh failed, still watching: ") for x in failed), failed
    assert proc.returncode == 130, err


# ------------------------------------------- a session dated in the year 3000 (ListTasks fallback)
def _far_future_app(base: str) -> Any:
    """A plain A2A 1.0 agent whose ListTasks has a task that ended 10 s ago (``ctx-fine``), one
    working for 30 s (``ctx-busy``), and one whose status is dated in the year 3000 (``ctx-bogus``)."""
    import time

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from a2actl.core.units import format_timestamp
    from tests.servers import v1_card

    async def card(_: Request) -> Response:
        return JSONResponse(v1_card(base, "/rpc"))

    async def rpc(request: Request) -> Response:
        body = json.loads(await request.body())
        now = time.time()
        tasks = [
            ("fine", "TASK_STATE_COMPLETED", format_timestamp(now - 10)),
            ("busy", "TASK_STATE_WORKING", format_timestamp(now - 30)),
            ("bogus", "TASK_STATE_WORKING", "3000-01-01T00:00:00Z"),
        ]
        result = {
            "tasks": [
                {"id": f"t-{c}", "contextId": c, "status": {"state": s, "timestamp": ts}}
                for c, s, ts in tasks
            ],
            "nextPageToken": "",
        }
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": result})

    return Starlette(
        routes=[Route("/.well-known/agent-card.json", card), Route("/rpc", rpc, methods=["POST"])]
    )


def test_leaks_is_not_skewed_by_a_session_dated_in_the_year_3000(cli: Any) -> None:
    """One task dated 3000-01-01 made ``clockAheadSeconds`` 3e10 and that was added to every age:
    ``ctx-fine`` (ended 10 s ago, within --grace 1m) and ``ctx-busy`` (30 s old) were leaks
    'open for 30935…s', exit 7. Such a date is no clock skew: it is listed under
    ``bogusTimestamps`` (and on stderr), not judged, and the others are judged as they are."""
    from tests.servers import LoopbackServer

    with LoopbackServer(_far_future_app) as srv:
        r = cli("sessions", "leaks", srv.url, "--max-age", "5m", "--grace", "1m", "-o", "json")
        table = cli("sessions", "leaks", srv.url, "--max-age", "5m", "--grace", "1m")
    assert r.exit_code == 0, r.stdout + r.stderr
    doc = r.json
    assert doc["source"] == "a2a-listtasks" and doc["checked"] == 3
    assert doc["leaks"] == [] and doc["ok"] is True
    assert doc["clockAheadSeconds"] == 0
    assert doc["bogusTimestamps"] == ["ctx-bogus"] and doc["withinGrace"] == ["ctx-fine"]
    assert table.exit_code == 0 and "ctx-bogus" in table.stderr and "bogus timestamp" in table.stderr
