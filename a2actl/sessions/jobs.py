"""``a2actl sessions``: list, show, kill sessions and find leaks, through the debug API
(``docs/debug-endpoints.md``) or, where a deployment has none, derived from standard A2A 1.0
``ListTasks`` (``sessions/client.py``). Each job opens one ``Sessions`` connection and returns a typed
result (``sessions/results.py``); the rules are in ``sessions/rules.py``.

Every job raises what entering ``Sessions`` raises: ``UsageError`` (2) for a card file or when no
source is possible, ``AuthError`` (4), ``HTTPStatusError`` (1), ``ProtocolViolation`` (6), and the
transport's errors (3, 5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from a2actl.core.errors import A2ACtlError
from a2actl.sessions.client import DEFAULT_PREFIX, Sessions
from a2actl.sessions.results import (
    KillPlan,
    KillReport,
    LeakReport,
    SessionDetail,
    SessionList,
    Source,
)
from a2actl.sessions.rules import (
    Filters,
    bogus_dated,
    clock_ahead,
    failed_kill,
    find_leaks,
    within_grace,
)

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink

__all__ = [
    "kill_job",
    "killed_until",
    "leaks_job",
    "list_job",
    "plan_kill_job",
    "show_job",
    "skip_kill",
]


def _source(conn: Sessions) -> Source:
    return Source(conn.source, conn.base, conn.warnings)


async def list_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    filters: Filters,
    *,
    limit: int | None = None,
    prefix: str = DEFAULT_PREFIX,
) -> SessionList:
    """``sessions list``: the sessions matching ``filters``, oldest first, at most ``limit``."""
    async with Sessions(target, settings, sink, prefix) as conn:
        found = await conn.list(filters, limit)
        return SessionList(_source(conn), found)


async def show_job(
    target: str, settings: Settings, sink: EventSink | None, session_id: str, *, prefix: str = DEFAULT_PREFIX
) -> SessionDetail:
    """``sessions show``: one session (``session`` ``None`` when unknown: ``SessionDetail.check``)."""
    async with Sessions(target, settings, sink, prefix) as conn:
        return SessionDetail(_source(conn), session_id, await conn.get(session_id))


async def plan_kill_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    ids: list[str],
    filters: Filters,
    *,
    prefix: str = DEFAULT_PREFIX,
) -> KillPlan:
    """``sessions kill``, first step: the sessions to kill: ``ids`` when given, else every session
    ``filters`` match (``rules.check_kill_request`` has checked that exactly one was given)."""
    async with Sessions(target, settings, sink, prefix) as conn:
        chosen = list(ids) if ids else [s["id"] for s in await conn.list(filters)]
        return KillPlan(_source(conn), chosen)


def skip_kill(plan: KillPlan, dry_run: bool) -> KillReport:
    """The report of a kill that kills nothing: a dry run, or nothing selected."""
    return KillReport(plan, dry_run, [])


async def kill_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    plan: KillPlan,
    *,
    prefix: str = DEFAULT_PREFIX,
    into: list[dict[str, Any]] | None = None,
) -> KillReport:
    """``sessions kill``, second step: kill each planned session (idempotent: the debug API's
    ``DELETE``, or CancelTask on the fallback); an unknown id is ``found: false`` (exit 1). A kill
    that fails (an HTTP error, auth, a timeout, a contract violation) is that id's result, with its
    ``error`` (``rules.failed_kill``), and the other ids are still killed and reported. Each result
    is appended to ``into`` (when given) as soon as it is known: a caller whose deadline cancels the
    job still has the kills done (``killed_until``)."""
    results = into if into is not None else []
    async with Sessions(target, settings, sink, prefix) as conn:
        for sid in plan.selected:
            try:
                results.append(await conn.kill(sid))
            except A2ACtlError as exc:
                results.append(failed_kill(sid, exc))
        return KillReport(plan, False, list(results))


def killed_until(plan: KillPlan, done: list[dict[str, Any]], stopped: A2ACtlError) -> KillReport:
    """The report of a kill ``stopped`` (``--max-time``) after the results ``done``: those, and
    ``stopped`` as the result of every id not done (the one in flight may or may not be killed)."""
    return KillReport(
        plan, False, [*done, *(failed_kill(sid, stopped) for sid in plan.selected[len(done) :])]
    )


async def leaks_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    max_age: float,
    grace: float,
    *,
    prefix: str = DEFAULT_PREFIX,
) -> LeakReport:
    """``sessions leaks``: open sessions older than ``max_age`` seconds or open more than ``grace``
    seconds after all their tasks ended (``rules.find_leaks``); exit 7 when there is one."""
    async with Sessions(target, settings, sink, prefix) as conn:
        found = await conn.list(Filters())
        return LeakReport(
            _source(conn),
            max_age=max_age,
            grace=grace,
            checked=len(found),
            leaks=find_leaks(found, max_age, grace),
            within_grace=within_grace(found, grace),
            clock_ahead=clock_ahead(found),
            bogus_timestamps=bogus_dated(found),
        )
