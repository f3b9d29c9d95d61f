"""``a2actl dlq``: inspect and replay dead-lettered messages without losing one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from a2actl.cli.context import invocation

if TYPE_CHECKING:
    from a2actl.dlq.filter import EntryFilter

app = typer.Typer(
    help="Dead letters: list, show, stats, replay, purge (file, Redis, HTTP, RabbitMQ or SQS sources).",
    no_args_is_help=True,
)

Src = Annotated[
    str,
    typer.Argument(
        metavar="SRC",
        help="file://dlq.jsonl (relative), file:///abs/dlq.jsonl, a path, redis://HOST:PORT/DB?stream=KEY[&group=NAME&consumer=NAME], http(s)://AGENT/debug/a2a/dlq, amqp(s)://USER@HOST:5672/VHOST?queue=NAME (password from $A2ACTL_AMQP_PASSWORD, password-env=NAME or password-file=PATH), or sqs://REGION/QUEUE_NAME or an SQS queue URL (AWS credentials from the standard chain).",
    ),
]
EndpointUrl = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        metavar="URL",
        help="SQS sources: the endpoint to call instead of AWS's (an emulator, a VPC endpoint).",
    ),
]
Since = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="DURATION|ISO",
        help="Only entries enqueued in the last DURATION (1h) or since an ISO 8601 time.",
    ),
]
ErrClass = Annotated[
    str | None, typer.Option("--error-class", metavar="CLASS", help="transient or permanent.")
]
Method = Annotated[
    str | None, typer.Option("--method", help="Only this A2A method (SendMessage, message/send).")
]
Limit = Annotated[int | None, typer.Option("--limit", min=1, help="At most this many entries.")]


def _selection(
    ids: list[str] | None, since: str | None, error_class: str | None, method: str | None, limit: int | None
) -> EntryFilter:
    """The ``EntryFilter`` of the filter options. Raises ``UsageError`` (exit 2) for a bad
    ``--error-class`` or ``--since``."""
    import time

    from a2actl.core.errors import UsageError
    from a2actl.core.units import parse_duration
    from a2actl.core.units import parse_timestamp as parse_iso
    from a2actl.dlq.filter import EntryFilter

    if error_class not in (None, "transient", "permanent"):
        raise UsageError(f"--error-class {error_class!r}: use transient or permanent")
    since_ts = None
    if since:
        since_ts = parse_iso(since)
        if since_ts is None:
            try:
                since_ts = time.time() - parse_duration(since)
            except ValueError as exc:
                raise UsageError(f"--since {since!r}: give a duration (1h) or an ISO 8601 time") from exc
    return EntryFilter(
        ids=set(ids) if ids else None, since=since_ts, error_class=error_class, method=method, limit=limit
    )


@app.command("list")
def list_entries(
    ctx: typer.Context,
    src: Src,
    since: Since = None,
    error_class: ErrClass = None,
    method: Method = None,
    limit: Limit = None,
    endpoint_url: EndpointUrl = None,
) -> None:
    """List dead letters: id, method, messageId, target, age, attempts, error class and code.
    With -o jsonl entries stream out one per line (memory stays flat over millions).

    Examples:

      a2actl dlq list file://dlq.jsonl --error-class transient

      a2actl dlq list 'redis://localhost:6379/0?stream=a2a:dlq' --since 1h -o jsonl | jq .messageId

      a2actl dlq list sqs://eu-west-1/orders-dlq

      a2actl dlq list 'amqp://ops@rabbit:5672/%2F?queue=orders.dlq&password-env=RMQ_PASSWORD'
    """
    from a2actl.dlq.jobs import list_job
    from a2actl.render import dlq as render_dlq

    run = invocation(ctx)
    sel = _selection(None, since, error_class, method, limit)
    if run.format == "jsonl":  # rows stream out as they are read; no summary line
        run.run(
            list_job(
                src,
                run.settings,
                run.sink,
                sel,
                emit=run.out.jsonl,
                warn=run.out.warn,
                endpoint_url=endpoint_url,
            )
        )
        return
    result = run.run(list_job(src, run.settings, run.sink, sel, warn=run.out.warn, endpoint_url=endpoint_url))
    run.show(result, render_dlq.entries)
    raise typer.Exit(int(result.exit))


@app.command("show")
def show(
    ctx: typer.Context,
    src: Src,
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="The entry id.")],
    endpoint_url: EndpointUrl = None,
) -> None:
    """Show one dead letter in full, pretty-printed.

    Examples:

      a2actl dlq show file://dlq.jsonl dlq-3f2a...
    """
    from a2actl.dlq.jobs import show_job
    from a2actl.render import dlq as render_dlq

    run = invocation(ctx)
    result = run.run(
        show_job(src, run.settings, run.sink, entry_id, warn=run.out.warn, endpoint_url=endpoint_url)
    )
    run.show(result, render_dlq.entry)
    raise typer.Exit(int(result.exit))


@app.command("stats")
def stats(ctx: typer.Context, src: Src, endpoint_url: EndpointUrl = None) -> None:
    """Depth, oldest entry, an age histogram, top error codes and counts by target.

    Examples:

      a2actl dlq stats file://dlq.jsonl
    """
    from a2actl.dlq.jobs import stats_job
    from a2actl.render import dlq as render_dlq

    run = invocation(ctx)
    result = run.run(stats_job(src, run.settings, run.sink, warn=run.out.warn, endpoint_url=endpoint_url))
    run.show(result, render_dlq.stats)
    raise typer.Exit(int(result.exit))


@app.command("replay")
def replay(
    ctx: typer.Context,
    src: Src,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="URL", help="Deliver to this agent instead of each entry's target."),
    ] = None,
    ids: Annotated[
        list[str] | None, typer.Option("--ids", metavar="ID", help="Only these entries (repeatable).")
    ] = None,
    since: Since = None,
    error_class: ErrClass = None,
    method: Method = None,
    limit: Limit = None,
    rate: Annotated[
        str | None, typer.Option("--rate", metavar="N/s", help="At most N messages per second, e.g. 50/s.")
    ] = None,
    max_in_flight: Annotated[
        int, typer.Option("--max-in-flight", min=1, max=1024, help="Requests in flight at once.")
    ] = 16,
    max_attempts: Annotated[
        int,
        typer.Option(
            "--max-attempts",
            min=1,
            max=100,
            help="Attempts per entry for transient failures (backoff with jitter).",
        ),
    ] = 3,
    breaker: Annotated[
        int,
        typer.Option("--breaker", min=1, help="Pause after this many consecutive failures to one target."),
    ] = 5,
    breaker_cooldown: Annotated[
        str, typer.Option("--breaker-cooldown", metavar="DURATION", help="How long the breaker pauses.")
    ] = "5s",
    journal: Annotated[
        str | None,
        typer.Option(
            "--journal",
            metavar="PATH",
            help="Replay journal (default: $XDG_STATE_HOME/a2actl/journals/<hash of SRC>.jsonl).",
        ),
    ] = None,
    wait_lock: Annotated[
        bool,
        typer.Option(
            "--wait-lock",
            help="If another replay of SRC is running, wait for it to end (bounded by --max-time) instead of exiting 1.",
        ),
    ] = False,
    claim_after: Annotated[
        str,
        typer.Option(
            "--claim-after",
            metavar="DURATION",
            help="Redis consumer groups (group=): take over entries another replayer has left pending this long.",
        ),
    ] = "1m",
    to_broker: Annotated[
        bool,
        typer.Option(
            "--to-broker",
            help="Back into the broker instead of the agent: SQS's own redrive (StartMessageMoveTask) to the source queues; RabbitMQ: the original exchange and routing key.",
        ),
    ] = False,
    endpoint_url: EndpointUrl = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be replayed; deliver nothing.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask; required when stdin is not a terminal.")
    ] = False,
) -> None:
    """Redeliver dead letters, at least once, keeping each messageId (idempotent agents dedupe). An
    entry leaves its source only after the agent answered without an error. Transient failures are
    retried with backoff and jitter up to --max-attempts; permanent ones are not. An interrupted or
    killed replay resumes from its journal without loss.

    One replay per source at a time: a second one exits 1 unless --wait-lock. To replay one Redis
    stream from several processes or machines, give each the same group=NAME and its own consumer=NAME.
    Entries that do not match the entry schema are skipped and reported (never block the rest).

    Exit codes: 0 every selected entry acknowledged; 7 some are still dead (attempts and lastError
    updated in the source) or invalid entries were skipped; 1 an --ids id names no entry in SRC (the
    others are still replayed) or another replay holds SRC; 130 Ctrl-C or SIGTERM (no new delivery
    starts, those in flight get 2s to be answered, what was acknowledged is removed, then the
    summary; a second Ctrl-C stops at once).

    Examples:

      a2actl dlq replay file://dlq.jsonl --dry-run

      a2actl dlq replay 'redis://localhost:6379/0?stream=a2a:dlq' --rate 50/s --max-in-flight 16 --yes

      a2actl dlq replay file://dlq.jsonl --to http://localhost:9999 --error-class transient --yes

      a2actl dlq replay 'redis://localhost:6379/0?stream=a2a:dlq&group=redrive&consumer=host-1' --yes

      a2actl dlq replay sqs://eu-west-1/orders-dlq --to-broker --yes

      a2actl dlq replay 'amqp://ops@rabbit:5672/%2F?queue=orders.dlq' --to-broker --rate 100/s --yes
    """
    from dataclasses import replace
    from pathlib import Path
    from typing import Any

    from a2actl.cli.params import confirm, stdin_is_terminal
    from a2actl.core.errors import UsageError
    from a2actl.core.units import parse_duration
    from a2actl.dlq.jobs import list_job, replay_job
    from a2actl.dlq.replay import ReplayOptions
    from a2actl.render import dlq as render_dlq

    run = invocation(ctx)
    sel = _selection(ids, since, error_class, method, limit)
    try:
        per_second = float(rate.removesuffix("/s")) if rate else None
    except ValueError as exc:
        raise UsageError(f"--rate {rate!r}: give messages per second, e.g. 50/s") from exc
    if per_second is not None and not per_second > 0:
        raise UsageError(f"--rate {rate!r}: give a positive rate, e.g. 50/s (leave it out for no limit)")
    if journal is not None and not journal.strip():
        # an unset $VARIABLE: the default journal would be used without a word, and a resume that
        # meant another journal would deliver again what that one recorded
        raise UsageError(
            f"--journal {journal!r}: give a file path (leave the option out for the default journal)"
        )
    try:
        cooldown = parse_duration(breaker_cooldown)
    except ValueError as exc:
        raise UsageError(f"--breaker-cooldown {breaker_cooldown!r}: {exc}") from exc
    try:
        claim = parse_duration(claim_after)
    except ValueError as exc:
        raise UsageError(f"--claim-after {claim_after!r}: {exc}") from exc
    if not claim > 0:
        raise UsageError(
            f"--claim-after {claim_after!r}: give a positive duration, longer than one delivery takes"
        )
    if to is not None:
        from a2actl.agent.target import parse_target

        parse_target(to)  # a bad --to is a usage error now, not after the first entry
    if to is not None and to_broker:
        raise UsageError("--to and --to-broker: choose one (the agent, or back into the broker)")
    if dry_run:
        listed = run.run(
            list_job(src, run.settings, run.sink, sel, warn=run.out.warn, endpoint_url=endpoint_url)
        )
        run.show(replace(listed, dry_run=True), render_dlq.entries)
        raise typer.Exit(int(listed.exit))
    if not yes and not stdin_is_terminal():  # a closed stdin (<&-) too: sys.stdin is None
        raise UsageError("refusing to replay without confirmation: stdin is not a terminal", hint="add --yes")
    # on stderr, masked (SRC's user:password@); Ctrl-C/SIGTERM here is 130 and replays nothing
    if not yes and not confirm(
        run.out, f"replay dead letters from {src} (entries leave the DLQ once acknowledged)?"
    ):
        raise typer.Exit(1)
    opts = ReplayOptions(
        to=to,
        rate=per_second,
        max_in_flight=max_in_flight,
        max_attempts=max_attempts,
        breaker_failures=breaker,
        breaker_cooldown=cooldown,
        claim_after=claim,
    )
    # jsonl: each result as it comes, then the summary; json: the summary with "results"; table: a
    # progress bar on stderr, then the summary table.
    progress = render_dlq.replay_progress(run.out) if run.format == "table" else None
    records = run.out.records(
        key="results",
        summary_view=render_dlq.replay_summary,
        record_view=progress.record if progress is not None else None,
    )

    def emit(rec: dict[str, Any]) -> None:
        if rec["type"] == "result":
            records.record(rec)
        elif progress is not None:
            progress.notice(rec["message"])
        else:
            run.out.warn(rec["message"])

    stopped: list[Any] = []  # Ctrl-C or SIGTERM: the summary of what was done, then exit 130
    try:
        result = run.run(
            replay_job(
                src,
                run.settings,
                run.sink,
                sel,
                opts,
                Path(journal) if journal else None,
                emit,
                warn=run.out.warn,
                wait_lock=wait_lock,
                endpoint_url=endpoint_url,
                to_broker=to_broker,
                on_interrupted=stopped.append,
            )
        )
    except KeyboardInterrupt:
        if not stopped:  # before the deliveries began (the lock, the resume), or no summary to give
            raise
        result = stopped[0]
    finally:
        if progress is not None:
            progress.stop()
    summary = result.to_json()
    if summary.get("interrupted"):
        render_dlq.interrupted(run.out, summary)
    records.finish(summary)
    raise typer.Exit(int(result.exit))


@app.command("purge")
def purge(
    ctx: typer.Context,
    src: Src,
    ids: Annotated[
        list[str],
        typer.Option(
            "--ids", metavar="ID", help="The entries to remove (repeatable). Filters are not accepted."
        ),
    ],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Required: purging deletes dead letters for good.")
    ] = False,
    endpoint_url: EndpointUrl = None,
) -> None:
    """Remove explicit dead letters for good (never by filter).

    Examples:

      a2actl dlq purge file://dlq.jsonl --ids dlq-3f2a... --ids dlq-9b01... --yes
    """
    from a2actl.core.errors import UsageError
    from a2actl.dlq.jobs import purge_job
    from a2actl.render import dlq as render_dlq

    run = invocation(ctx)
    if not yes:
        raise UsageError("purge deletes dead letters for good: add --yes")
    result = run.run(
        purge_job(src, run.settings, run.sink, ids, warn=run.out.warn, endpoint_url=endpoint_url)
    )
    run.show(result, render_dlq.purged)
    raise typer.Exit(int(result.exit))
