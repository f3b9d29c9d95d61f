"""``a2actl sessions`` against sandboxes with real sessions made by real sends: the debug API (open
and token-protected, leaky and clean) and the ListTasks fallback on a plain a2a-sdk agent; plus the
OpenAPI contract, validated and checked against the sandbox's real answers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.conftest import DEBUG_TOKEN

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
}


def _broken_debug_app(_: str) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def discovery(request: Request) -> JSONResponse:
        return JSONResponse({"contractVersion": "1", "features": ["sessions"]}, status_code=401)

    async def sessions(request: Request) -> JSONResponse:
        return JSONResponse(_BROKEN[request.path_params["mode"]][0])

    async def one(request: Request) -> JSONResponse:
        which = 1 if request.method == "GET" else 2
        return JSONResponse(_BROKEN[request.path_params["mode"]][which])

    return Starlette(
        routes=[
            Route("/{mode}", discovery),
            Route("/{mode}/sessions", sessions),
            Route("/{mode}/sessions/{sid}", one, methods=["GET", "DELETE"]),
        ]
    )


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
