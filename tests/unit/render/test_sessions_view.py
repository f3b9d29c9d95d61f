"""``sessions list|show|kill|leaks`` table views, rendered whole at 100 columns without colour, from
documents the typed results build (``a2actl.sessions.results``, leaks by ``rules.find_leaks``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from a2actl.render import sessions as render_sessions
from a2actl.sessions.results import KillPlan, KillReport, LeakReport, SessionDetail, SessionList, Source
from a2actl.sessions.rules import find_leaks
from tests.unit.render.rendering import lines, render

SOURCE = Source("debug", "http://127.0.0.1:9/debug/a2a", [])
SESSIONS = [
    {
        "id": "ctx-1",
        "state": "active",
        "ageSeconds": 400,
        "idleSeconds": 2,
        "tasks": [{"id": "t1", "state": "working"}, {"id": "t2", "state": "completed"}],
        "peer": "a2actl/1.0",
        "token": {"scope": "tasks", "expiresAt": "2026-01-01T00:10:00Z", "revoked": False},
    },
    {
        "id": "ctx-2",
        "state": "idle",
        "ageSeconds": 30,
        "idleSeconds": 12,
        "tasks": [],
        "peer": None,
        "token": {"scope": "tasks", "expiresAt": "2026-01-01T00:10:00Z", "revoked": True},
    },
    {
        "id": "ctx-3",
        "state": "closed",
        "ageSeconds": 3700,
        "idleSeconds": 65,
        "tasks": [{"id": "t3", "state": "failed"}],
        "peer": None,
        "token": None,
    },
]
DETAIL = {
    "id": "ctx-1",
    "state": "idle",
    "peer": "p",
    "contextIds": ["c1", "c2"],
    "createdAt": "2026-01-01T00:00:00Z",
    "lastActivityAt": "2026-01-01T00:01:00Z",
    "ageSeconds": 90,
    "idleSeconds": 30,
    "tasks": [{"id": "t1", "state": "completed"}],
    "token": {"scope": "tasks", "expiresAt": "2026-01-01T00:10:00Z", "revoked": True},
    "messages": 4,
    "bytesIn": 1234,
    "bytesOut": 5678,
    "closedAt": None,
    "closeReason": None,
}
CLOSED = {**DETAIL, "closedAt": "2026-01-01T00:02:00Z", "closeReason": "killed", "token": None}
PLAN = KillPlan(SOURCE, ["ctx-1", "ctx-9", "ctx-2"])
RESULTS = [
    {
        "id": "ctx-1",
        "found": True,
        "alreadyClosed": False,
        "canceledTasks": ["t1"],
        "alreadyTerminalTasks": ["t2"],
        "tokenRevoked": True,
    },
    {
        "id": "ctx-9",
        "found": False,
        "alreadyClosed": False,
        "canceledTasks": [],
        "alreadyTerminalTasks": [],
        "tokenRevoked": False,
    },
    {
        "id": "ctx-2",
        "found": True,
        "alreadyClosed": True,
        "canceledTasks": [],
        "alreadyTerminalTasks": [],
        "tokenRevoked": False,
    },
]
OPEN = SESSIONS[:2] + [
    {
        "id": "ctx-4",
        "state": "idle",
        "ageSeconds": 20,
        "idleSeconds": 9,
        "tasks": [{"id": "t4", "state": "completed"}],
        "peer": None,
    }
]

CASES: dict[str, Callable[[], tuple[str, str]]] = {
    "list": lambda: render(render_sessions.table, SessionList(SOURCE, SESSIONS).to_json()),
    "detail": lambda: render(render_sessions.detail, SessionDetail(SOURCE, "ctx-1", DETAIL).to_json()),
    "detail_closed": lambda: render(render_sessions.detail, SessionDetail(SOURCE, "ctx-1", CLOSED).to_json()),
    "kill_dry": lambda: render(render_sessions.killed, KillReport(PLAN, True, []).to_json()),
    "kill_nothing": lambda: render(
        render_sessions.killed, KillReport(KillPlan(SOURCE, []), False, []).to_json()
    ),
    "killed": lambda: render(render_sessions.killed, KillReport(PLAN, False, RESULTS).to_json()),
    "leaks": lambda: render(
        render_sessions.leaks, LeakReport(SOURCE, 300, 5, 3, find_leaks(OPEN, 300, 5), ["ctx-5"]).to_json()
    ),
    "no_leaks": lambda: render(render_sessions.leaks, LeakReport(SOURCE, 300, 5, 3, [], ["ctx-5"]).to_json()),
    "none_open": lambda: render(render_sessions.leaks, LeakReport(SOURCE, 300, 0, 0, [], []).to_json()),
}


@pytest.fixture(autouse=True)
def _width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")


LIST_OUT = """\
3 session(s) from debug

  id      state    age     idle    tasks           peer         token
 ────────────────────────────────────────────────────────────────────────────────────────────────
  ctx-1   active   6m40s   2.0s    2 (1 running)   a2actl/1.0   tasks until 2026-01-01T00:10:00Z
  ctx-2   idle     30s     12s     0 (0 running)   -            revoked
  ctx-3   closed   1h01m   1m05s   1 (0 running)   -            -

"""
LIST_ERR = ""

DETAIL_OUT = """\

  id              ctx-1
  state           idle
  peer            p
  contexts        c1, c2
  created         2026-01-01T00:00:00Z (1m30s ago)
  last activity   2026-01-01T00:01:00Z (30s ago)
  token           scope tasks, expires 2026-01-01T00:10:00Z, revoked
  messages        4 (1,234 bytes in, 5,678 out)
  closed          -
  task            t1  completed

"""
DETAIL_ERR = ""

DETAIL_CLOSED_OUT = """\

  id              ctx-1
  state           idle
  peer            p
  contexts        c1, c2
  created         2026-01-01T00:00:00Z (lived 1m30s)
  last activity   2026-01-01T00:01:00Z (30s before it closed)
  token           -
  messages        4 (1,234 bytes in, 5,678 out)
  closed          2026-01-01T00:02:00Z (killed)
  task            t1  completed

"""
DETAIL_CLOSED_ERR = ""

KILL_DRY_OUT = """\
would kill 3 session(s): ctx-1, ctx-9, ctx-2
"""
KILL_DRY_ERR = ""

KILL_NOTHING_OUT = """\
nothing to kill: 0 session(s)
"""
KILL_NOTHING_ERR = ""

KILLED_OUT = """\

  session   result           cancelled tasks   already ended   token revoked
 ────────────────────────────────────────────────────────────────────────────
  ctx-1     killed           t1                t2              yes
  ctx-9     not found        -                 -               no
  ctx-2     already closed   -                 -               no

"""
KILLED_ERR = ""

LEAKS_OUT = """\
LEAK ctx-1: open for 400s, over --max-age 300s
LEAK ctx-4: still open 9.0s after all 1 task(s) ended
2 leaked of 3 open session(s)
"""
LEAKS_ERR = "note: 1 session(s) have ended all their tasks but are still within --grace 5.0s: not counted yet; check again later or pass --grace 0\n"

NO_LEAKS_OUT = """\
no leaks: 3 open session(s), none over --max-age 5m00s or open after their tasks ended (1 within --grace)
"""
NO_LEAKS_ERR = "note: 1 session(s) have ended all their tasks but are still within --grace 5.0s: not counted yet; check again later or pass --grace 0\n"

NONE_OPEN_OUT = """\
no leaks: 0 open session(s), none over --max-age 5m00s or open after their tasks ended
"""
NONE_OPEN_ERR = ""


@pytest.mark.parametrize("case", list(CASES))
def test_view(case: str) -> None:
    out, err = CASES[case]()
    assert lines(out) == globals()[f"{case.upper()}_OUT"]
    assert err == globals()[f"{case.upper()}_ERR"]


def test_ages_dated_in_the_future_show_the_clock_skew(monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent whose clock is ahead (ListTasks fallback) gave ages of ``-3.2s`` in the table and
    ``-3.2s ago`` in ``sessions show``: shown as the skew they are, never as a negative age."""
    doc = SessionList(SOURCE, [{**SESSIONS[1], "ageSeconds": -3.2, "idleSeconds": -75}]).to_json()
    out, _ = render(render_sessions.table, doc, monkeypatch, columns=140)
    assert "0s (clock skew +3.2s)" in out and "0s (clock skew +1m15s)" in out and "-3" not in out, out
    detail = {"source": "debug", "session": {**DETAIL, "ageSeconds": -3.2, "idleSeconds": 30}}
    out, _ = render(render_sessions.detail, detail, monkeypatch, columns=140)
    assert "2026-01-01T00:00:00Z (3.2s in the future: clock skew)" in out, out
    assert "2026-01-01T00:01:00Z (30s ago)" in out, out
    report = LeakReport(SOURCE, 300, 5, 1, [], [], clock_ahead=75).to_json()
    _, err = render(render_sessions.leaks, report, monkeypatch, columns=300)
    assert "dated up to 1m15s in the future" in err, err


def test_ages_dated_over_a_day_in_the_future_are_bogus_not_skew(monkeypatch: pytest.MonkeyPatch) -> None:
    """A session dated in the year 3000 was listed as ``0s (clock skew +355415d06h)``, where
    ``sessions leaks`` calls it a bogus timestamp: the same words in every view, at the same bound."""
    from a2actl.sessions.rules import MAX_CLOCK_AHEAD

    assert render_sessions.BOGUS_AHEAD == MAX_CLOCK_AHEAD
    doc = SessionList(
        SOURCE, [{**SESSIONS[1], "ageSeconds": -3e10, "idleSeconds": -MAX_CLOCK_AHEAD}]
    ).to_json()
    out, _ = render(render_sessions.table, doc, monkeypatch, columns=200)
    assert "in the future: bogus timestamp)" in out and "0s (clock skew +1d00h)" in out, out
    assert "clock skew +3" not in out
    detail = {"source": "debug", "session": {**DETAIL, "ageSeconds": -3e10, "idleSeconds": 30}}
    out, _ = render(render_sessions.detail, detail, monkeypatch, columns=200)
    assert "2026-01-01T00:00:00Z (" in out and "in the future: bogus timestamp)" in out, out
