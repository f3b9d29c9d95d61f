"""The pure rules of ``a2actl sessions`` (no I/O): filters, sessions derived from ListTasks, leak
detection and what a kill request must give. Sessions are the debug API's ``Session`` documents
(``docs/debug-endpoints.md``): ``id``, ``state`` (``active``/``idle``/``closed``), ``ageSeconds``,
``idleSeconds``, ``tasks`` (``[{"id", "state"}]``), ``peer``, …; durations in seconds."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from a2actl.core.errors import A2ACtlError, UsageError
from a2actl.protocol.versions import StateKind, canonical_state, state_kind

#: One session: the debug API's ``Session`` document (``docs/debug-endpoints.md``), passed through.
Session = dict[str, Any]


@dataclasses.dataclass
class Filters:
    """Session filters; durations in seconds. ``state`` ``None`` means active and idle."""

    older_than: float | None = None
    idle_for: float | None = None
    state: str | None = None
    peer: str | None = None

    def query(self) -> dict[str, Any]:
        """The debug API's query parameters (``olderThan``, ``idleFor`` in seconds, ``state``, ``peer``)."""
        q: dict[str, Any] = {}
        if self.older_than is not None:
            q["olderThan"] = self.older_than
        if self.idle_for is not None:
            q["idleFor"] = self.idle_for
        if self.state:
            q["state"] = self.state
        if self.peer:
            q["peer"] = self.peer
        return q

    def keep(self, s: Session) -> bool:
        """The same filters applied client-side (the fallback source has no server filtering)."""
        if (
            self.state is None
            and s["state"] == "closed"
            or self.state is not None
            and s["state"] != self.state
        ):
            return False
        if self.older_than is not None and s["ageSeconds"] < self.older_than:
            return False
        if self.idle_for is not None and s["idleSeconds"] < self.idle_for:
            return False
        return self.peer is None or s.get("peer") == self.peer


def _ts(value: object) -> float | None:
    """A task's status ``timestamp`` (ISO 8601) as epoch seconds; ``None`` when it is none, as for
    text that is no time, when it has no UTC form (``0001-01-01T00:00:00+14:00``: year 0 in UTC),
    which ``derive_sessions`` writes back: ``sessions list`` on the ListTasks fallback was exit 1
    ``unexpected ValueError: year 0 is out of range``."""
    from a2actl.core.units import format_timestamp, parse_timestamp

    ts = parse_timestamp(value)
    if ts is None:
        return None
    try:
        format_timestamp(ts)
    except (ValueError, OverflowError, OSError):
        return None
    return ts


def derive_sessions(tasks: list[dict[str, Any]], now: float) -> list[Session]:
    """Group ListTasks results (A2A 1.0 ``Task`` objects) by ``contextId`` into the ``Session`` shape,
    oldest first: ``createdAt`` / ``lastActivityAt`` are the earliest / latest status timestamps of
    the context's tasks (``now``, a Unix time in seconds, when none has one that is a time with a
    UTC form: ``_ts``); a context with a non-terminal task is ``active``, else ``idle``."""
    from a2actl.core.units import format_timestamp as iso

    groups: dict[str, list[dict[str, Any]]] = {}
    for t in tasks:
        groups.setdefault(str(t.get("contextId") or "-"), []).append(t)
    out = []
    for ctx, ts in groups.items():
        stamps = [x for x in (_ts((t.get("status") or {}).get("timestamp")) for t in ts) if x is not None]
        created = min(stamps) if stamps else now
        last = max(stamps) if stamps else now
        states = [
            {"id": t.get("id"), "state": canonical_state((t.get("status") or {}).get("state"))} for t in ts
        ]
        running = any(state_kind(s["state"]) is not StateKind.TERMINAL for s in states)
        out.append(
            {
                "id": f"ctx-{ctx}",
                "state": "active" if running else "idle",
                "peer": None,
                "contextIds": [ctx],
                "createdAt": iso(created),
                "lastActivityAt": iso(last),
                "ageSeconds": round(now - created, 3),
                "idleSeconds": round(now - last, 3),
                "tasks": states,
                "token": None,
                "messages": len(ts),
                "bytesIn": None,
                "bytesOut": None,
                "closedAt": None,
                "closeReason": None,
            }
        )
    return sorted(out, key=lambda s: (s["createdAt"] or "", s["id"]))


def _all_tasks_ended(s: Session) -> bool:
    tasks = s.get("tasks") or []
    return bool(tasks) and all(state_kind(t["state"]) is StateKind.TERMINAL for t in tasks)


#: The furthest in the future (seconds) a session may be dated and still be read as the agent's clock
#: running ahead: a day covers an agent writing its local time as UTC (at most +14 h). A session
#: dated further (``"3000-01-01T00:00:00Z"``) has a bogus timestamp: taken as skew, it was added to
#: every other session's ages and made them all leaks.
MAX_CLOCK_AHEAD = 86_400.0


def _dated(s: Session, key: str) -> bool:
    """Whether ``s[key]`` (``ageSeconds`` or ``idleSeconds``) can be judged: a number not dated more
    than ``MAX_CLOCK_AHEAD`` seconds in the future."""
    value = s.get(key)
    return isinstance(value, (int, float)) and value >= -MAX_CLOCK_AHEAD


def bogus_dated(sessions: list[Session]) -> list[str]:
    """Ids of the open ``sessions`` dated more than ``MAX_CLOCK_AHEAD`` seconds in the future
    (``ageSeconds`` or ``idleSeconds`` below ``-MAX_CLOCK_AHEAD``): no clock skew explains them, so
    they say nothing of the agent's clock (``clock_ahead`` leaves them out) and the age so dated
    cannot be judged (``find_leaks``, ``within_grace`` skip it)."""
    return [
        s["id"]
        for s in sessions
        if s.get("state") != "closed"
        and any(
            isinstance(s.get(key), (int, float)) and not _dated(s, key)
            for key in ("ageSeconds", "idleSeconds")
        )
    ]


def clock_ahead(sessions: list[Session]) -> float:
    """Seconds the clock that dated the open ``sessions`` is at least ahead of this machine's (0 when
    none is dated in the future): the most negative ``ageSeconds`` or ``idleSeconds``, negated, of
    those not dated more than ``MAX_CLOCK_AHEAD`` in the future (``bogus_dated``: a bogus timestamp,
    not a clock). On the ListTasks fallback the ages are this machine's now minus the agent's
    timestamps, so an agent whose clock is ahead dates its sessions in the future; its now was at
    least its latest timestamp, so this is a lower bound of the skew."""
    worst = 0.0
    for s in sessions:
        if s.get("state") == "closed":  # a closed session's ages stop at closedAt
            continue
        for key in ("ageSeconds", "idleSeconds"):
            value = s.get(key)
            if isinstance(value, (int, float)) and -MAX_CLOCK_AHEAD <= value < worst:
                worst = float(value)
    return -worst


def find_leaks(sessions: list[Session], max_age: float, grace: float) -> list[dict[str, Any]]:
    """Open sessions that outlive ``max_age`` seconds, or stay open more than ``grace`` seconds after
    all their tasks ended (a session leak: ``docs/debug-endpoints.md``). Each leak: ``{"id",
    "reasons", "ageSeconds", "idleSeconds", "tasks", "peer"}`` (the ages as the source gave them).

    The ages are judged with ``clock_ahead`` added: a session dated in the future (an agent whose
    clock is ahead) is neither taken as younger than its clock says (a negative age never passed
    ``max_age``, however long it had been open) nor as older than it can be shown to be (the skew
    added is its lower bound), so a leak is never one of clock skew alone. An age dated more than
    ``MAX_CLOCK_AHEAD`` in the future (``bogus_dated``) is not judged: neither a leak nor a pass."""
    ahead = clock_ahead(sessions)
    leaks = []
    for s in sessions:
        if s["state"] == "closed":
            continue
        reasons = []
        age, idle = s["ageSeconds"] + ahead, s["idleSeconds"] + ahead
        if _dated(s, "ageSeconds") and age > max_age:
            reasons.append(f"open for {age:.0f}s, over --max-age {max_age:g}s")
        tasks = s.get("tasks") or []
        if _dated(s, "idleSeconds") and _all_tasks_ended(s) and idle > grace:
            reasons.append(f"still open {idle:.1f}s after all {len(tasks)} task(s) ended")
        if reasons:
            leaks.append(
                {
                    "id": s["id"],
                    "reasons": reasons,
                    "ageSeconds": s["ageSeconds"],
                    "idleSeconds": s["idleSeconds"],
                    "tasks": tasks,
                    "peer": s.get("peer"),
                }
            )
    return leaks


def within_grace(sessions: list[Session], grace: float) -> list[str]:
    """Ids of open sessions whose tasks all ended at most ``grace`` seconds ago: not leaks yet, but
    ``find_leaks`` will call them leaks once ``grace`` has passed (said, so "no leaks" right after a
    run is not taken as a pass it is not). Idle times are judged with ``clock_ahead`` added, as
    there; one dated more than ``MAX_CLOCK_AHEAD`` in the future is not (``bogus_dated``)."""
    ahead = clock_ahead(sessions)
    return [
        s["id"]
        for s in sessions
        if s["state"] != "closed"
        and _all_tasks_ended(s)
        and _dated(s, "idleSeconds")
        and s["idleSeconds"] + ahead <= grace
    ]


#: HTTP statuses of the debug API that a later request may not get: overload (429), a request
#: timeout (408), early data (425) and every server-side 5xx (a gateway's 502 during a deploy).
_PASSING_STATUSES = frozenset({408, 425, 429})


def refresh_may_recover(error: A2ACtlError) -> bool:
    """Whether a failed ``sessions list --watch`` refresh (``error``) may go better next time, so
    the watch goes on: the agent unreachable (3), a refresh's own timeout (5), an answer outside
    the contract (6: a gateway's page in place of the debug API during a deploy), an HTTP 5xx,
    408, 425 or 429, a JSON-RPC error of the ListTasks fallback. ``False`` for what the next
    refresh would get again: a usage error (2: no source, a card file), refused credentials (4:
    401/403), any other HTTP 4xx (404: no debug API at ``--debug-prefix``; 400, 405…)."""
    from a2actl.core.errors import AuthError, HTTPStatusError

    if isinstance(error, (UsageError, AuthError)):
        return False
    if isinstance(error, HTTPStatusError):
        status = error.details.get("httpStatus")
        if isinstance(status, int) and 400 <= status < 500:
            return status in _PASSING_STATUSES
    return True


def check_session_id(session_id: str) -> None:
    """Raise ``UsageError`` (exit 2) for an empty session id (``sessions kill URL "$UNSET"``): the
    id is the last path segment of ``{prefix}/sessions/{id}``, and an empty one made the request
    ``DELETE {prefix}/sessions/``, the sessions collection itself, which servers that ignore a
    trailing slash (Express, by default) route as ``{prefix}/sessions``."""
    if not session_id:
        raise UsageError(
            "a session id cannot be empty (an unset variable?)",
            hint="list them with 'a2actl sessions list TARGET'",
        )


def check_kill_request(
    ids: list[str], by_filter: bool, *, confirm: bool, can_prompt: Callable[[], bool]
) -> None:
    """What ``sessions kill`` needs before it touches the agent: ids or filters (``by_filter``: a
    filter option was given), not both and not neither; and a confirmation it can get (``confirm``:
    ``--yes`` or ``--dry-run``; ``can_prompt()``: stdin is a terminal, asked only when needed), and
    no empty id (``check_session_id``). Raises ``UsageError`` (exit 2, docs/exit-codes.md) otherwise."""
    if bool(ids) == by_filter:
        raise UsageError(
            "give session ids, or filters (--older-than, --idle, --state, --peer), not both or neither"
        )
    for session_id in ids:
        check_session_id(session_id)
    if not confirm and not can_prompt():
        raise UsageError("refusing to kill without confirmation: stdin is not a terminal", hint="add --yes")


def killed_nothing(session_id: str) -> dict[str, Any]:
    """The debug API's ``KillResult`` for an unknown session (``found: false``)."""
    return {
        "id": session_id,
        "found": False,
        "alreadyClosed": False,
        "canceledTasks": [],
        "alreadyTerminalTasks": [],
        "tokenRevoked": False,
    }


def failed_kill(session_id: str, error: A2ACtlError) -> dict[str, Any]:
    """The result of a kill that failed before the agent said what it did (an HTTP error, auth, a
    timeout): nothing known killed, ``found`` ``None`` (unknown), the failure under ``error`` (the
    error object of docs/output-formats.md, with its ``exitCode``)."""
    return {**killed_nothing(session_id), "found": None, "error": error.to_json()["error"]}
