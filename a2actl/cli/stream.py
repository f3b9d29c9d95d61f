"""``a2actl stream``: follow SSE and WebSocket streams."""

from __future__ import annotations

from typing import Annotated

import typer

from a2actl.cli.context import invocation
from a2actl.cli.otel import OtlpOpt, traced
from a2actl.cli.params import CardPath, FailOnStates

app = typer.Typer(
    help="Streams: follow SSE and WebSocket streams with timing, heartbeats and an audit.",
    no_args_is_help=True,
)


@app.command("tail")
def tail(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Argument(help="Agent base URL (with --send/--task), or a ws:// / wss:// URL.")
    ] = None,
    send: Annotated[
        str | None,
        typer.Option(
            "--send",
            metavar="TEXT",
            help="Start a streaming send (SendStreamingMessage / message/stream) and follow it.",
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            "--task", metavar="ID", help="Follow an existing task (SubscribeToTask / tasks/resubscribe)."
        ),
    ] = None,
    sse: Annotated[
        str | None,
        typer.Option(
            "--sse",
            metavar="URL",
            help="Follow any SSE URL (GET); after a cut it reconnects with Last-Event-ID, as a browser's EventSource does.",
        ),
    ] = None,
    heartbeat: Annotated[
        str | None,
        typer.Option(
            "--heartbeat",
            metavar="DURATION",
            help="Expected heartbeat interval: a timer reports every silence longer than this as it happens (exit 7).",
        ),
    ] = None,
    stall_timeout: Annotated[
        str | None,
        typer.Option(
            "--stall-timeout",
            metavar="DURATION",
            help="End the tail after this much silence (outcome stalled, exit 7). Default: 3 x --heartbeat; none without --heartbeat.",
        ),
    ] = None,
    max_event_bytes: Annotated[
        str | None,
        typer.Option(
            "--max-event-bytes",
            metavar="SIZE",
            help="Flag events larger than this, e.g. 4MiB (exit 7). It also bounds memory: at most this much of one event is buffered; a larger event is counted, not read (default 16MiB).",
        ),
    ] = None,
    reconnect: Annotated[
        int,
        typer.Option(
            "--reconnect",
            min=0,
            max=100,
            help="Resubscribe (or, with --sse, reconnect) attempts after a cut (backoff 0.25s doubling, at most 5s; --sse honours the server's retry: up to 5s).",
        ),
    ] = 5,
    fail_on: FailOnStates = None,
    card_path: CardPath = None,
    otlp: OtlpOpt = None,
) -> None:
    """Follow a stream event by event: wall time, +delta, kind, task state and size; heartbeats
    (SSE ': ping' comments, WebSocket pongs with RTT); silences over --heartbeat; events over
    --max-event-bytes; an inline lifecycle audit; cuts, resubscribes and what was missed; and a
    summary. --max-time ends the tail with a summary (exit 5).

    With --heartbeat a timer watches the stream: a silence longer than the heartbeat is reported
    when it happens (a 'stall' record), and one longer than --stall-timeout (default 3 x heartbeat)
    ends the tail (outcome stalled, exit 7).

    Exit codes: 0 the stream reached the task's end (whatever the state, unless --fail-on names it);
    5 --max-time; 6 the stream ended without a terminal state (not recovered) or broke the lifecycle
    rules; 7 a bound was exceeded (a silence, a stall, an oversized event), events were missed, or the
    task ended in a --fail-on state.

    Examples:

      a2actl stream tail http://localhost:9999 --send hi

      a2actl stream tail http://localhost:9999 --task 5f0c... --heartbeat 10s -o jsonl | jq .

      a2actl stream tail http://localhost:9999 --send '/stream 3 5000000' --max-event-bytes 4MiB

      a2actl stream tail ws://localhost:9999/a2a/ws --send hi --heartbeat 10s

      a2actl stream tail --sse https://gateway.example/events -o jsonl
    """
    from a2actl.core.errors import UsageError
    from a2actl.core.units import parse_duration
    from a2actl.render import stream as render_stream
    from a2actl.stream.jobs import tail_job
    from a2actl.stream.tail import TailOptions
    from a2actl.tasks.request import parse_fail_on

    run = invocation(ctx)
    try:
        hb = parse_duration(heartbeat) if heartbeat else None
        stall = parse_duration(stall_timeout) if stall_timeout else None
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if max_event_bytes is not None:
        from a2actl.cli.params import event_bound

        run.settings = event_bound(run.settings, max_event_bytes)
    if (hb is not None and hb <= 0) or (stall is not None and stall <= 0):
        raise UsageError("--heartbeat and --stall-timeout must be positive")
    opts = TailOptions(
        heartbeat=hb,
        max_event_bytes=run.settings.max_event_bytes
        if max_event_bytes is not None
        else None,  # None: tail_job applies the default bound
        reconnect_attempts=reconnect,
        stall_timeout=stall,
        max_time=run.max_time,
        fail_on=frozenset(parse_fail_on(fail_on or [])),
    )

    writer = run.out.records(
        key="records", record_view=render_stream.record, summary_view=render_stream.summary
    )
    trace = traced(ctx, otlp)
    summary = trace.run(
        tail_job(
            target,
            run.settings,
            trace.sink,
            trace.records(writer.record),
            send=send,
            task=task,
            sse=sse,
            opts=opts,
            card_path=card_path,
            together=run.out.together,
        ),
        bounded=False,
    )
    writer.finish(summary.to_json())
    raise typer.Exit(int(summary.exit))
