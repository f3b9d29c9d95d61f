"""``a2actl.sessions``: the pure rules (filters, sessions derived from ListTasks, leaks, what is still
within grace, what a kill request must give) and the debug-API connection over
``httpx.MockTransport`` (discovery without credentials, paging, kill of an unknown id), plus the
results' documents and exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from a2actl.core.config import Settings
from a2actl.core.errors import A2ACtlError, HTTPStatusError, UsageError
from a2actl.core.exit_codes import ExitCode
from a2actl.core.sink import EventSink
from a2actl.sessions.client import OPEN_API_WARNING, Sessions
from a2actl.sessions.results import KillPlan, KillReport, LeakReport, SessionDetail, SessionList, Source
from a2actl.sessions.rules import (
    Filters,
    check_kill_request,
    derive_sessions,
    find_leaks,
    killed_nothing,
    within_grace,
)
from a2actl.transport.http import HttpTransport

URL = "http://127.0.0.1:9"
DEBUG = URL + "/debug/a2a"


def session(
    sid: str, state: str, age: float, idle: float, *task_states: str, peer: str | None = None
) -> dict[str, Any]:
    return {
        "id": sid,
        "state": state,
        "ageSeconds": age,
        "idleSeconds": idle,
        "tasks": [{"id": f"{sid}-t{i}", "state": s} for i, s in enumerate(task_states)],
        "peer": peer,
    }


# -- rules --------------------------------------------------------------------------------------------


def test_filters_query_and_keep() -> None:
    f = Filters(older_than=60, idle_for=5, state="idle", peer="p1")
    assert f.query() == {"olderThan": 60, "idleFor": 5, "state": "idle", "peer": "p1"}
    assert Filters().query() == {}
    assert f.keep(session("a", "idle", 61, 6, peer="p1"))
    assert not f.keep(session("a", "idle", 59, 6, peer="p1"))
    assert not f.keep(session("a", "idle", 61, 4, peer="p1"))
    assert not f.keep(session("a", "active", 61, 6, peer="p1"))
    assert not f.keep(session("a", "idle", 61, 6, peer="p2"))
    assert Filters().keep(session("a", "active", 0, 0)) and not Filters().keep(session("a", "closed", 0, 0))
    assert Filters(state="closed").keep(session("a", "closed", 0, 0))


def test_sessions_derived_from_list_tasks() -> None:
    def t(tid: str, ctx: str | None, state: str, ts: str | None) -> dict[str, Any]:
        return {"id": tid, "contextId": ctx, "status": {"state": state, **({"timestamp": ts} if ts else {})}}

    now = 1_767_225_600.0  # 2026-01-01T00:00:00Z
    tasks = [
        t("t1", "c2", "TASK_STATE_COMPLETED", "2025-12-31T23:59:00Z"),
        t("t2", "c1", "TASK_STATE_WORKING", "2025-12-31T23:50:00Z"),
        t("t3", "c1", "TASK_STATE_COMPLETED", "2025-12-31T23:55:00Z"),
        t("t4", None, "TASK_STATE_FAILED", None),
    ]
    out = derive_sessions(tasks, now)
    assert [s["id"] for s in out] == ["ctx-c1", "ctx-c2", "ctx--"]
    c1 = out[0]
    assert c1["state"] == "active" and c1["contextIds"] == ["c1"] and c1["messages"] == 2
    assert (c1["ageSeconds"], c1["idleSeconds"]) == (600.0, 300.0)
    assert c1["tasks"] == [{"id": "t2", "state": "working"}, {"id": "t3", "state": "completed"}]
    assert out[1]["state"] == "idle" and out[2]["ageSeconds"] == 0.0
    assert list(c1) == [
        "id",
        "state",
        "peer",
        "contextIds",
        "createdAt",
        "lastActivityAt",
        "ageSeconds",
        "idleSeconds",
        "tasks",
        "token",
        "messages",
        "bytesIn",
        "bytesOut",
        "closedAt",
        "closeReason",
    ]


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_timestamp_with_no_utc_form_counts_as_none(stamp: str) -> None:
    """A status timestamp that parses but falls outside years 1-9999 in UTC was written back as
    ``createdAt``: ``sessions list`` on the fallback was exit 1 ``unexpected ValueError: year 0 is
    out of range``. It counts as no timestamp, as text that is no time does."""
    now = 1_767_225_600.0
    task = {"id": "t", "contextId": "c", "status": {"state": "TASK_STATE_WORKING", "timestamp": stamp}}
    (s,) = derive_sessions([task], now)
    assert s["createdAt"] == s["lastActivityAt"] == "2026-01-01T00:00:00.000Z"
    assert s["ageSeconds"] == s["idleSeconds"] == 0.0


def test_leaks_and_within_grace() -> None:
    sessions = [
        session("old", "active", 400, 1, "working"),
        session("ended", "idle", 30, 10, "completed", "failed"),
        session("fresh", "idle", 30, 2, "completed"),
        session("busy", "active", 30, 10, "completed", "working"),
        session("closed", "closed", 900, 900, "completed"),
        session("empty", "idle", 30, 30),
    ]
    leaks = find_leaks(sessions, max_age=300, grace=5)
    assert [x["id"] for x in leaks] == ["old", "ended"]
    assert leaks[0]["reasons"] == ["open for 400s, over --max-age 300s"]
    assert leaks[1]["reasons"] == ["still open 10.0s after all 2 task(s) ended"]
    assert list(leaks[1]) == ["id", "reasons", "ageSeconds", "idleSeconds", "tasks", "peer"]
    assert within_grace(sessions, 5) == ["fresh"]
    assert [x["id"] for x in find_leaks(sessions, 300, 0)] == ["old", "ended", "fresh"]


def test_sessions_dated_in_the_future_are_judged_with_the_clock_skew() -> None:
    """On the ListTasks fallback an agent whose clock is 60 s ahead dates its sessions in the
    future: ``ended`` (open 50 s, its tasks ended 40 s ago) had ages -10/-20 s, so it was never over
    --max-age 30s and was listed 'within grace'. The skew's lower bound (60 s: ``busy``'s last
    activity) is added: it is the leak it is; a session only dated a little in the future, with no
    more skew shown, is not made older than that."""
    from a2actl.sessions.rules import clock_ahead

    sessions = [
        session("ended", "idle", -10, -20, "completed"),
        session("busy", "active", -50, -60, "working"),
        session("closed", "closed", -900, -900, "completed"),  # ages of a closed one stop at closedAt
    ]
    assert clock_ahead(sessions) == 60
    leaks = find_leaks(sessions, max_age=30, grace=5)
    assert [x["id"] for x in leaks] == ["ended"]
    assert leaks[0]["reasons"] == [
        "open for 50s, over --max-age 30s",
        "still open 40.0s after all 1 task(s) ended",
    ]
    assert (leaks[0]["ageSeconds"], leaks[0]["idleSeconds"]) == (-10, -20)  # as the source gave them
    assert within_grace(sessions, 5) == []
    just_ended = [session("ended", "idle", 1.5, -0.2, "completed")]  # the agent 0.2 s ahead
    assert clock_ahead(just_ended) == pytest.approx(0.2)
    assert find_leaks(just_ended, max_age=30, grace=5) == [] and within_grace(just_ended, 5) == ["ended"]


def test_a_kill_request_needs_ids_or_filters_and_a_confirmation() -> None:
    asked: list[bool] = []

    def tty() -> bool:
        asked.append(True)
        return False

    check_kill_request(["s1"], False, confirm=True, can_prompt=tty)
    check_kill_request([], True, confirm=True, can_prompt=tty)
    assert asked == []  # stdin is not looked at when --yes / --dry-run was given
    with pytest.raises(UsageError, match="not both or neither"):
        check_kill_request(["s1"], True, confirm=True, can_prompt=tty)
    with pytest.raises(UsageError, match="not both or neither"):
        check_kill_request([], False, confirm=True, can_prompt=tty)
    with pytest.raises(UsageError, match="stdin is not a terminal") as caught:
        check_kill_request(["s1"], False, confirm=False, can_prompt=tty)
    assert caught.value.hint == "add --yes" and asked == [True]
    check_kill_request(["s1"], False, confirm=False, can_prompt=lambda: True)


# -- the debug API over MockTransport -----------------------------------------------------------------


def run_with(
    handler: Callable[[httpx.Request], httpx.Response],
    body: Callable[[Sessions], Any],
    settings: Settings | None = None,
) -> Any:
    def open_transport(s: Settings, sink: EventSink | None) -> HttpTransport:
        return HttpTransport(s, sink, http_transport=httpx.MockTransport(handler))

    async def go() -> Any:
        async with Sessions(
            URL, settings or Settings(token="tok"), None, open_transport=open_transport
        ) as conn:
            return conn, await body(conn)

    return asyncio.run(go())


def _session(sid: str) -> dict[str, Any]:
    return {"id": sid, "state": "idle", "ageSeconds": 1, "idleSeconds": 1}


def test_a_protected_debug_api_is_used_with_credentials_and_pages_are_followed() -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((str(request.url), request.headers.get("authorization")))
        if request.headers.get("authorization") != "Bearer tok":
            return httpx.Response(401, json={"error": {"message": "no"}})
        cursor = request.url.params.get("cursor")
        if cursor is None:
            return httpx.Response(
                200, json={"sessions": [_session("s1"), _session("s2")], "nextCursor": "c2"}
            )
        return httpx.Response(200, json={"sessions": [_session("s3")], "nextCursor": None})

    conn, found = run_with(handler, lambda c: c.list(Filters(state="idle"), page_size=2))
    assert [s["id"] for s in found] == ["s1", "s2", "s3"]
    assert conn.source == "debug" and conn.warnings == []
    assert seen[0] == (DEBUG, None)  # the probe goes without credentials
    assert seen[1] == (DEBUG + "/sessions?state=idle&pageSize=2", "Bearer tok")
    assert seen[2] == (DEBUG + "/sessions?state=idle&pageSize=2&cursor=c2", "Bearer tok")


def test_the_probe_for_an_open_debug_api_sends_no_credential_header() -> None:
    """A debug API behind a gateway that checks ``X-Api-Key`` (or a cookie): the probe "without
    credentials" sent the ``-H`` credential headers, got 200, and the API was flagged open."""
    probes: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/debug/a2a":
            probes.append(dict(request.headers))
            return httpx.Response(200 if "x-api-key" in request.headers else 401, json={})
        return httpx.Response(200, json={"sessions": [], "nextCursor": None})

    headers = (("X-Api-Key", "k"), ("Cookie", "s=1"), ("X-Team-Token", "t"), ("X-Trace", "keep"))
    conn, _ = run_with(handler, lambda c: c.list(Filters()), Settings(token="tok", headers=headers))
    assert conn.warnings == [] and conn.source == "debug"
    (probe,) = probes
    assert probe.get("x-trace") == "keep"
    assert not {"authorization", "x-api-key", "cookie", "x-team-token"} & set(probe)


def test_an_open_debug_api_is_flagged_and_limit_stops_paging() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/debug/a2a":
            return httpx.Response(200, json={})
        return httpx.Response(200, json={"sessions": [_session("s1"), _session("s2")], "nextCursor": "more"})

    conn, found = run_with(handler, lambda c: c.list(Filters(), limit=1))
    assert [s["id"] for s in found] == ["s1"]
    assert conn.warnings == [OPEN_API_WARNING.format(url=DEBUG)]


def test_kill_and_get_of_an_unknown_session() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/debug/a2a":
            return httpx.Response(401)
        return httpx.Response(404, json={"error": {"message": "no such session"}})

    _, killed = run_with(handler, lambda c: c.kill("nope/1"))
    assert killed == killed_nothing("nope/1") and killed["found"] is False
    _, got = run_with(handler, lambda c: c.get("nope"))
    assert got is None


def test_an_error_status_from_the_debug_api_is_an_http_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/debug/a2a":
            return httpx.Response(401)
        return httpx.Response(500, json={"error": {"message": "boom"}})

    with pytest.raises(HTTPStatusError, match="HTTP 500: boom"):
        run_with(handler, lambda c: c.list(Filters()))
    with pytest.raises(HTTPStatusError, match="answered HTTP 502"):
        run_with(lambda r: httpx.Response(502), lambda c: c.list(Filters()))


def test_a_card_file_is_not_a_session_target() -> None:
    with pytest.raises(UsageError, match="not a card file"):
        Sessions("card.json", Settings(), None)


# -- results ------------------------------------------------------------------------------------------

SOURCE = Source("debug", DEBUG, ["w"])


def test_list_and_show_documents() -> None:
    listed = SessionList(SOURCE, [{"id": "s1"}])
    assert listed.to_json() == {
        "source": "debug",
        "debugUrl": DEBUG,
        "warnings": ["w"],
        "sessions": [{"id": "s1"}],
        "count": 1,
    }
    assert listed.exit is ExitCode.OK
    shown = SessionDetail(SOURCE, "s1", {"id": "s1"})
    shown.check()
    assert (
        list(shown.to_json()) == ["source", "debugUrl", "warnings", "session"] and shown.exit is ExitCode.OK
    )
    missing = SessionDetail(SOURCE, "s9", None)
    assert missing.exit is ExitCode.ERROR
    with pytest.raises(A2ACtlError, match="no session 's9'"):
        missing.check()


def test_kill_report_exit_is_1_when_an_id_is_unknown() -> None:
    plan = KillPlan(SOURCE, ["s1", "s9"])
    report = KillReport(plan, False, [{**killed_nothing("s1"), "found": True}, killed_nothing("s9")])
    assert report.missing == ["s9"] and report.exit is ExitCode.ERROR
    assert list(report.to_json()) == ["source", "debugUrl", "warnings", "selected", "dryRun", "results"]
    assert KillReport(plan, True, []).exit is ExitCode.OK


def test_leak_report_exit_is_7_with_a_leak() -> None:
    clean = LeakReport(SOURCE, 300, 5, 2, [], ["s2"])
    assert clean.ok and clean.exit is ExitCode.OK
    assert list(clean.to_json()) == [
        "source",
        "debugUrl",
        "warnings",
        "maxAge",
        "grace",
        "checked",
        "leaks",
        "withinGrace",
        "clockAheadSeconds",
        "bogusTimestamps",
        "ok",
    ]
    leaky = LeakReport(SOURCE, 300, 5, 2, [{"id": "s1"}], [])
    assert leaky.exit is ExitCode.CHECK_FAILED and leaky.to_json()["ok"] is False


@pytest.mark.parametrize(
    ("error", "recovers"),
    [
        (HTTPStatusError("x: HTTP 503: down", details={"httpStatus": 503}), True),
        (HTTPStatusError("x: HTTP 429: slow down", details={"httpStatus": 429}), True),
        (HTTPStatusError("x: HTTP 404: gone", details={"httpStatus": 404}), False),
        (HTTPStatusError("x: HTTP 400: bad", details={"httpStatus": 400}), False),
        (UsageError("no source"), False),
    ],
)
def test_which_failed_watch_refresh_may_recover(error: A2ACtlError, recovers: bool) -> None:
    from a2actl.sessions.rules import refresh_may_recover

    assert refresh_may_recover(error) is recovers


def test_unreachable_timeout_protocol_and_auth_refreshes() -> None:
    from a2actl.core.errors import AuthError, ProtocolViolation, TimeoutError_, UnreachableError
    from a2actl.sessions.rules import refresh_may_recover

    assert refresh_may_recover(UnreachableError("refused"))
    assert refresh_may_recover(TimeoutError_("read timeout"))
    assert refresh_may_recover(ProtocolViolation("a gateway's page"))
    assert not refresh_may_recover(AuthError("HTTP 403"))


def test_a_session_dated_over_a_day_in_the_future_is_no_clock_skew() -> None:
    """A session dated in the year 3000 (ages of -3e10 s) was taken as the agent's clock 3e10 s
    ahead, added to every session's ages: all of them leaked. Dates more than a day ahead are bogus
    (``bogus_dated``); they set no skew and are not judged; a skew within the day still counts."""
    from a2actl.sessions.rules import MAX_CLOCK_AHEAD, bogus_dated, clock_ahead

    sessions = [
        session("bogus", "active", -3e10, -3e10, "working"),
        session("half", "idle", 400, -3e10, "completed"),  # one task dated in the year 3000
        session("ended", "idle", 30, 2, "completed"),
        session("busy", "active", -50, -60, "working"),  # 60 s of real skew
    ]
    assert bogus_dated(sessions) == ["bogus", "half"]
    assert clock_ahead(sessions) == 60
    leaks = find_leaks(sessions, max_age=300, grace=5)
    assert [(x["id"], x["reasons"]) for x in leaks] == [
        ("half", ["open for 460s, over --max-age 300s"]),  # its age is judged, its idle time is not
        ("ended", ["still open 62.0s after all 1 task(s) ended"]),
    ]
    assert within_grace(sessions, 100) == ["ended"]
    edge = [session("tz", "active", -MAX_CLOCK_AHEAD, -MAX_CLOCK_AHEAD, "working")]
    assert bogus_dated(edge) == [] and clock_ahead(edge) == MAX_CLOCK_AHEAD
