"""``a2actl sessions``: list, show and kill sessions, and find leaks (debug API or ListTasks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from a2actl.cli.context import Invocation, invocation

if TYPE_CHECKING:
    from a2actl.sessions.results import Source
    from a2actl.sessions.rules import Filters

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


#: The longest ``time.sleep`` between ``--watch`` refreshes (a year, in seconds): a longer
#: ``--interval`` (``99999999999999h``) was exit 1 ``unexpected OverflowError`` after the first
#: refresh, as ``time.sleep`` takes at most ~292 years; a year is as good as for ever here.
_LONGEST_SLEEP = 365 * 86400.0


def _filters(older_than: str | None, idle: str | None, state: str | None, peer: str | None) -> Filters:
    """The filter options parsed; ``UsageError`` (exit 2) for a bad state or duration (naming the
    option)."""
    from a2actl.cli.params import duration
    from a2actl.core.errors import UsageError
    from a2actl.sessions.rules import Filters

    if state is not None and state not in ("active", "idle", "closed"):
        raise UsageError(f"--state {state!r}: use active, idle or closed")
    return Filters(
        duration(older_than, "--older-than") if older_than else None,
        duration(idle, "--idle") if idle else None,
        state,
        peer,
    )


def _warn(run: Invocation, origin: Source) -> None:
    """The source's warnings on stderr (an unprotected debug API, the ListTasks fallback)."""
    for w in origin.warnings:
        run.out.warn(w)


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
        str,
        typer.Option("--interval", metavar="DURATION", help="Refresh interval for --watch, at least 0.1s."),
    ] = "2s",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many sessions.")] = None,
    debug_prefix: Prefix = "/debug/a2a",
) -> None:
    """List sessions oldest first, with ages, idle times, tasks and token state (never the token).
    --watch refreshes until Ctrl-C (exit 130) or --max-time (exit 5). A refresh that fails in a way
    that may pass (unreachable, a timeout, HTTP 5xx/429, an answer outside the contract) is said
    (the table's caption; stderr with -o jsonl or stdout not a terminal) and the watch goes on with
    the last good table; one that cannot (401/403, another HTTP 4xx such as 404) ends it with its
    exit code.

    Examples:

      a2actl sessions list http://localhost:9999

      a2actl sessions list http://localhost:9999 --older-than 5m --state idle

      a2actl sessions list http://localhost:9999 --watch
    """
    import time

    from a2actl.cli.params import MIN_INTERVAL, duration
    from a2actl.render import sessions as render_sessions
    from a2actl.sessions.jobs import list_job

    run = invocation(ctx)
    filters = _filters(older_than, idle, state, peer)
    every = duration(interval, "--interval", minimum=MIN_INTERVAL) or 0.0

    if not watch:
        result = run.run(list_job(target, run.settings, run.sink, filters, limit=limit, prefix=debug_prefix))
        _warn(run, result.origin)
        run.show(result, render_sessions.table)
        raise typer.Exit(int(result.exit))

    from a2actl.core.errors import A2ACtlError
    from a2actl.sessions.rules import refresh_may_recover

    first = True
    started = time.monotonic()
    limit_s = run.settings.max_time
    last: dict[str, Any] | None = None  # the last good refresh's document, kept on a failed one
    failed = 0  # refreshes failed in a row
    drawn = run.format == "table" and run.out.out.is_terminal  # else nothing shows until the end
    try:
        while True:
            # With --max-time, the watch as a whole ends there: a refresh gets only what is left of
            # it (each one had a whole --max-time); without it, each refresh has the command's
            # default deadline of its own (the sleeps between them are not counted either way).
            run.spent = 0.0 if limit_s is None else time.monotonic() - run.started
            try:
                result = run.run(
                    list_job(target, run.settings, run.sink, filters, limit=limit, prefix=debug_prefix)
                )
            except A2ACtlError as exc:
                # --max-time reached (no time left), or what the next refresh would get again: the end
                if not refresh_may_recover(exc) or (limit_s is not None and run.time_left() == 0):
                    raise
                failed += 1
                if run.format == "table":
                    render_sessions.live(run.out, last, failure=(exc.message, failed))
                if not drawn:  # a live table on a terminal has it in its caption
                    run.out.warn(f"refresh failed, still watching: {exc.message}")
            else:
                failed = 0
                last = result.to_json()
                if first:
                    _warn(run, result.origin)
                    first = False
                if run.format == "table":
                    render_sessions.live(run.out, last)
                else:
                    run.out.jsonl(last)
            if limit_s is not None and time.monotonic() - started + every > limit_s:
                from a2actl.core.errors import TimeoutError_

                raise TimeoutError_(f"--watch stopped at --max-time {limit_s:g}s")
            time.sleep(min(every, _LONGEST_SLEEP))
    finally:
        # Ctrl-C, --max-time or an error: the live table stops, so the terminal gets its cursor
        # back and a pipe or file (where nothing is drawn until then) gets the last table
        render_sessions.stop_live(run.out)


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
    from a2actl.render import sessions as render_sessions
    from a2actl.sessions.jobs import show_job
    from a2actl.sessions.rules import check_session_id

    check_session_id(session_id)
    run = invocation(ctx)
    result = run.run(show_job(target, run.settings, run.sink, session_id, prefix=debug_prefix))
    _warn(run, result.origin)
    result.check()
    run.show(result, render_sessions.detail)
    raise typer.Exit(int(result.exit))


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
    required. Exit 1 if an id is unknown; a kill that fails (HTTP error, auth, timeout) is that id's
    result with its error, the others are still killed, and the exit code is the first failure's.

    Examples:

      a2actl sessions kill http://localhost:9999 ctx-3f2a... --yes

      a2actl sessions kill http://localhost:9999 --older-than 30m --dry-run
    """
    from a2actl.cli.params import confirm, stdin_is_terminal
    from a2actl.core.errors import TimeoutError_
    from a2actl.render import sessions as render_sessions
    from a2actl.sessions.jobs import kill_job, killed_until, plan_kill_job, skip_kill
    from a2actl.sessions.rules import check_kill_request

    run = invocation(ctx)
    filters = _filters(older_than, idle, state, peer)
    by_filter = any(v is not None for v in (older_than, idle, state, peer))
    check_kill_request(ids or [], by_filter, confirm=dry_run or yes, can_prompt=stdin_is_terminal)

    plan = run.run(plan_kill_job(target, run.settings, run.sink, ids or [], filters, prefix=debug_prefix))
    _warn(run, plan.origin)
    if dry_run or not plan.selected:
        run.show(skip_kill(plan, dry_run), render_sessions.killed)
        return
    # on stderr, masked (the URL's user:password@); Ctrl-C here is 130, as anywhere
    if not yes and not confirm(run.out, f"kill {len(plan.selected)} session(s) at {plan.origin.debug_url}?"):
        raise typer.Exit(1)
    done: list[dict[str, Any]] = []
    try:
        report = run.run(kill_job(target, run.settings, run.sink, plan, prefix=debug_prefix, into=done))
    except TimeoutError_ as exc:  # --max-time: the kills done are reported, the rest carry the timeout
        report = killed_until(plan, done, exc)
    run.show(report, render_sessions.killed)
    render_sessions.kill_failures(run.out, report.to_json())
    if report.missing:  # the results above are the one document; the miss is exit 1 and a line on stderr
        run.out.warn(f"no such session: {', '.join(report.missing)}")
    raise typer.Exit(int(report.exit))


@app.command("leaks")
def leaks(
    ctx: typer.Context,
    target: Target,
    max_age: Annotated[
        str,
        typer.Option(
            "--max-age",
            metavar="DURATION",
            help="Longest a session may live (the sandbox closes sessions at 5m).",
        ),
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
    the session leak of docs/debug-endpoints.md as a CI check.

    Examples:

      a2actl sessions leaks http://localhost:9999 --max-age 5m

      a2actl sessions leaks http://localhost:9999 --grace 0 -o json | jq .leaks
    """
    from a2actl.cli.params import duration
    from a2actl.render import sessions as render_sessions
    from a2actl.sessions.jobs import leaks_job

    run = invocation(ctx)
    bound, slack = duration(max_age, "--max-age") or 0.0, duration(grace, "--grace") or 0.0
    result = run.run(leaks_job(target, run.settings, run.sink, bound, slack, prefix=debug_prefix))
    _warn(run, result.origin)
    run.show(result, render_sessions.leaks)
    raise typer.Exit(int(result.exit))
