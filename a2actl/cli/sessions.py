"""``a2actl sessions``: list, show and kill sessions, and find leaks (debug API or ListTasks)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from a2actl.cli.context import invocation

app = typer.Typer(
    help="Sessions: list, show, kill, and find leaks (debug API, or ListTasks as a fallback).",
    no_args_is_help=True,
)

Target = Annotated[str, typer.Argument(help="Agent base URL.")]
Prefix = Annotated[str, typer.Option("--debug-prefix", metavar="PATH", help="Where the debug API lives.")]
OlderThan = Annotated[
    str | None,
    typer.Option("--older-than", metavar="DURATION", help="Only sessions at least this old, e.g. 5m."),
]
Idle = Annotated[
    str | None, typer.Option("--idle", metavar="DURATION", help="Only sessions idle at least this long.")
]
State = Annotated[
    str | None, typer.Option("--state", help="active, idle or closed (default: active and idle).")
]
Peer = Annotated[str | None, typer.Option("--peer", help="Only sessions of this peer.")]


def _filters(older_than: str | None, idle: str | None, state: str | None, peer: str | None) -> object:
    from a2actl.core.errors import UsageError
    from a2actl.core.units import parse_duration
    from a2actl.sessions.jobs import Filters

    if state is not None and state not in ("active", "idle", "closed"):
        raise UsageError(f"--state {state!r}: use active, idle or closed")
    try:
        return Filters(
            parse_duration(older_than) if older_than else None,
            parse_duration(idle) if idle else None,
            state,
            peer,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


@app.command("list")
def list_sessions(
    ctx: typer.Context,
    target: Target,
    older_than: OlderThan = None,
    idle: Idle = None,
    state: State = None,
    peer: Peer = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="Refresh a live table until Ctrl-C (with -o jsonl: one line per refresh)."
        ),
    ] = False,
    interval: Annotated[
        str, typer.Option("--interval", metavar="DURATION", help="Refresh interval for --watch.")
    ] = "2s",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many sessions.")] = None,
    debug_prefix: Prefix = "/debug/a2a",
) -> None:
    """List sessions oldest first, with ages, idle times, tasks and token state (never the token).
    --watch refreshes until Ctrl-C (exit 130) or --max-time (exit 5).

    Examples:

      a2actl sessions list http://localhost:9999

      a2actl sessions list http://localhost:9999 --older-than 5m --state idle

      a2actl sessions list http://localhost:9999 --watch
    """
    import time

    from a2actl.core.errors import UsageError
    from a2actl.core.units import parse_duration
    from a2actl.render import sessions as render_sessions
    from a2actl.sessions.jobs import Sessions, envelope

    run = invocation(ctx)
    filters = _filters(older_than, idle, state, peer)
    try:
        every = parse_duration(interval)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc

    async def fetch() -> dict:  # type: ignore[type-arg]
        async with Sessions(target, run.settings, run.sink, debug_prefix) as conn:
            found = await conn.list(filters, limit)  # type: ignore[arg-type]
            return envelope(conn, sessions=found, count=len(found))

    first = True
    started = time.monotonic()
    while True:
        doc = run.run(fetch())
        if first:
            for w in doc["warnings"]:
                run.out.warn(w)
            first = False
        if not watch:
            run.show(doc, render_sessions.table)
            return
        if run.format == "table":
            render_sessions.live(run.out, doc)
        else:
            run.out.jsonl(doc)
        limit_s = run.settings.max_time
        if limit_s is not None and time.monotonic() - started + every > limit_s:
            from a2actl.core.errors import TimeoutError_

            raise TimeoutError_(f"--watch stopped at --max-time {limit_s:g}s")
        time.sleep(every)


@app.command("show")
def show(
    ctx: typer.Context,
    target: Target,
    session_id: Annotated[str, typer.Argument(metavar="ID", help="The session id.")],
    debug_prefix: Prefix = "/debug/a2a",
) -> None:
    """Show one session: contexts, tasks with states, token scope and expiry, counts.

    Examples:

      a2actl sessions show http://localhost:9999 ctx-3f2a...
    """
    from a2actl.core.errors import A2ACtlError
    from a2actl.render import sessions as render_sessions
    from a2actl.sessions.jobs import Sessions, envelope

    run = invocation(ctx)

    async def fetch() -> dict:  # type: ignore[type-arg]
        async with Sessions(target, run.settings, run.sink, debug_prefix) as conn:
            return envelope(conn, session=await conn.get(session_id))

    doc = run.run(fetch())
    for w in doc["warnings"]:
        run.out.warn(w)
    if doc["session"] is None:
        raise A2ACtlError(f"no session {session_id!r}", hint="list them with 'a2actl sessions list TARGET'")
    run.show(doc, render_sessions.detail)


@app.command("kill")
def kill(
    ctx: typer.Context,
    target: Target,
    ids: Annotated[
        list[str] | None, typer.Argument(metavar="[ID]...", help="Session ids; or select with filters.")
    ] = None,
    older_than: OlderThan = None,
    idle: Idle = None,
    state: State = None,
    peer: Peer = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be killed; kill nothing.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask; required when stdin is not a terminal.")
    ] = False,
    debug_prefix: Prefix = "/debug/a2a",
) -> None:
    """Kill sessions: cancel their non-terminal tasks and revoke their tokens. Idempotent. Give ids,
    or filters (--older-than 30m). Asks for confirmation unless --yes; without a terminal, --yes is
    required. Exit 1 if an id is unknown.

    Examples:

      a2actl sessions kill http://localhost:9999 ctx-3f2a... --yes

      a2actl sessions kill http://localhost:9999 --older-than 30m --dry-run
    """
    from a2actl.core.errors import UsageError
    from a2actl.render import sessions as render_sessions
    from a2actl.sessions.jobs import Sessions, envelope

    run = invocation(ctx)
    filters = _filters(older_than, idle, state, peer)
    by_filter = any(v is not None for v in (older_than, idle, state, peer))
    if bool(ids) == by_filter:
        raise UsageError(
            "give session ids, or filters (--older-than, --idle, --state, --peer), not both or neither"
        )
    if not dry_run and not yes and not sys.stdin.isatty():
        raise UsageError("refusing to kill without confirmation: stdin is not a terminal", hint="add --yes")

    async def select() -> dict:  # type: ignore[type-arg]
        async with Sessions(target, run.settings, run.sink, debug_prefix) as conn:
            chosen = list(ids or []) if ids else [s["id"] for s in await conn.list(filters)]  # type: ignore[arg-type]
            return envelope(conn, selected=chosen)

    plan = run.run(select())
    for w in plan["warnings"]:
        run.out.warn(w)
    if dry_run or not plan["selected"]:
        run.show({**plan, "dryRun": dry_run, "results": []}, render_sessions.killed)
        return
    if not yes and not typer.confirm(f"kill {len(plan['selected'])} session(s) at {plan['debugUrl']}?"):
        raise typer.Exit(1)

    async def do_kill() -> list:  # type: ignore[type-arg]
        async with Sessions(target, run.settings, run.sink, debug_prefix) as conn:
            return [await conn.kill(sid) for sid in plan["selected"]]

    results = run.run(do_kill())
    run.show({**plan, "dryRun": False, "results": results}, render_sessions.killed)
    missing = [r["id"] for r in results if not r["found"]]
    if missing:  # the results above are the one document; the miss is exit 1 and a line on stderr
        run.out.warn(f"no such session: {', '.join(missing)}")
        raise typer.Exit(1)


@app.command("leaks")
def leaks(
    ctx: typer.Context,
    target: Target,
    max_age: Annotated[
        str, typer.Option("--max-age", metavar="DURATION", help="Longest a session may live (seed 001: 5m).")
    ] = "5m",
    grace: Annotated[
        str,
        typer.Option(
            "--grace",
            metavar="DURATION",
            help="How long a session may stay open after its last task ended before it counts as leaked (sessions inside it are reported as 'within grace'); 0 for none.",
        ),
    ] = "5s",
    debug_prefix: Prefix = "/debug/a2a",
) -> None:
    """Find leaked sessions: older than --max-age, or still open more than --grace (default 5s)
    after all their tasks ended. Sessions still inside --grace are listed as 'within grace', not
    as leaks: right after a run, check again later or pass --grace 0. Exit 7 when there is a leak:
    seed 001's session leak as a CI check.

    Examples:

      a2actl sessions leaks http://localhost:9999 --max-age 5m

      a2actl sessions leaks http://localhost:9999 --grace 0 -o json | jq .leaks
    """
    from a2actl.core.errors import UsageError
    from a2actl.core.units import parse_duration
    from a2actl.render import sessions as render_sessions
    from a2actl.sessions.jobs import Filters, Sessions, envelope, find_leaks, within_grace

    run = invocation(ctx)
    try:
        bound, slack = parse_duration(max_age), parse_duration(grace)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc

    async def check() -> dict:  # type: ignore[type-arg]
        async with Sessions(target, run.settings, run.sink, debug_prefix) as conn:
            found = await conn.list(Filters())
            return envelope(
                conn,
                maxAge=bound,
                grace=slack,
                checked=len(found),
                leaks=find_leaks(found, bound, slack),
                withinGrace=within_grace(found, slack),
            )

    doc = run.run(check())
    doc["ok"] = not doc["leaks"]
    for w in doc["warnings"]:
        run.out.warn(w)
    run.show(doc, render_sessions.leaks)
    raise typer.Exit(0 if doc["ok"] else 7)
