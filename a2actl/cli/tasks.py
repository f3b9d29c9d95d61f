"""``a2actl send`` and ``a2actl task``: messages and tasks (verbs of the official a2a-cli spec)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from a2actl.cli.context import invocation
from a2actl.cli.otel import OtlpOpt, traced
from a2actl.cli.params import CardPath, FailOnStates

if TYPE_CHECKING:
    from a2actl.cli.context import Invocation
    from a2actl.protocol.events import PartSpec

task_app = typer.Typer(help="Tasks: get, list, cancel, subscribe.", no_args_is_help=True)


def send(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Agent base URL, card URL or card file.")],
    text: Annotated[str | None, typer.Argument(help="Text part; '-' reads standard input.")] = None,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data", metavar="JSON|@FILE", help="A data part: inline JSON or @file.json (repeatable)."
        ),
    ] = None,
    file: Annotated[
        list[str] | None,
        typer.Option(
            "--file", metavar="PATH", help="A file part, sent as bytes with its media type (repeatable)."
        ),
    ] = None,
    context_id: Annotated[
        str | None, typer.Option("--context-id", help="Continue a conversation (contextId).")
    ] = None,
    task_id: Annotated[
        str | None, typer.Option("--task-id", help="Continue a task (taskId), e.g. after input-required.")
    ] = None,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="SendStreamingMessage, printing events as they come; a stream cut mid-task is resubscribed as 'stream tail --send' does (5 attempts).",
        ),
    ] = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Return at once (1.0 returnImmediately, 0.3 blocking:false).")
    ] = False,
    fail_on: FailOnStates = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the exact request and an equivalent curl command; send nothing."
        ),
    ] = False,
    message_id: Annotated[
        str | None,
        typer.Option("--message-id", help="The messageId (idempotency key); a new UUID by default."),
    ] = None,
    show_secrets: Annotated[
        bool,
        typer.Option(
            "--show-secrets",
            help="With --dry-run: print the token and sensitive -H values instead of $A2ACTL_… placeholders.",
        ),
    ] = False,
    card_path: CardPath = None,
    otlp: OtlpOpt = None,
) -> None:
    """Send a message (SendMessage / message/send) with text, data and file parts, and show the
    task's state, status message and artifacts. A task that ends failed is still exit 0 unless
    --fail-on names its state (as the official a2a-cli spec says); the state is always shown.

    Examples:

      a2actl send http://localhost:9999 "hello"

      echo '{"q": 1}' | a2actl send http://localhost:9999 - --fail-on failed,rejected

      a2actl send http://localhost:9999 --data @query.json --file ./report.pdf --stream

      a2actl send https://agent.example.com hi --dry-run     # the request and a curl command
    """
    from a2actl.render import stream as render_stream
    from a2actl.render import tasks as render_tasks
    from a2actl.tasks.jobs import send_job
    from a2actl.tasks.request import SendOptions, parse_fail_on

    run = invocation(ctx)
    if show_secrets and not dry_run:
        from a2actl.core.errors import UsageError

        raise UsageError("--show-secrets goes with --dry-run", hint="secrets are never printed otherwise")
    run.show_secrets = show_secrets
    parts = _read_parts(run, text, data or [], file or [])  # a FIFO or pipe read here spends --max-time
    opts = SendOptions(
        parts=parts,
        context_id=context_id,
        task_id=task_id,
        stream=stream,
        no_wait=no_wait,
        fail_on=parse_fail_on(fail_on or []),
        dry_run=dry_run,
        message_id=message_id,
        show_secrets=show_secrets,
        # --stream ends at --max-time with a summary (as stream tail), not an error without the task;
        # what is left of it after the parts were read (run.budget)
        max_time=run.budget() if stream and not dry_run else None,
        poll_budget=run.budget() if not stream and not dry_run else None,
    )

    # --stream: the records as they come (not RecordWriter: with -o json this command's document is
    # the send result alone, without the records, and with -o jsonl its last line is "type": "result").
    def emit(record: dict[str, Any]) -> None:
        if run.format == "table":
            render_stream.record(run.out, record)
        elif run.format == "jsonl":
            run.out.jsonl(record)

    trace = traced(ctx, otlp)
    result = trace.run(
        send_job(target, run.settings, trace.sink, opts, card_path, trace.records(emit)),
        bounded=opts.max_time is None,
    )
    if run.format == "jsonl" and stream:
        run.out.jsonl({"type": "result", **result.to_json()})
    else:
        run.show(result, render_tasks.send_result)
    raise typer.Exit(int(result.exit))


def _read_parts(run: Invocation, text: str | None, data: list[str], files: list[str]) -> list[PartSpec]:
    """``build_parts`` under ``--max-time``: when a ``--data @FILE`` or ``--file`` is not a regular
    file (a FIFO, ``<(cmd)``), or TEXT ``-`` reads a stdin that is not one (a pipe), the parts are read in a thread (``core.offloop.off_the_loop``), so
    the deadline (``TimeoutError_``, exit 5) and Ctrl-C/SIGTERM end a wait for a writer that never
    comes (the read blocked past both); regular files are read at once. Raises what ``build_parts``
    raises (``UsageError``, exit 2)."""
    from a2actl.core.offloop import is_regular, off_the_loop, stdin_is_regular
    from a2actl.tasks.request import build_parts

    paths = [d[1:] for d in data if d.startswith("@")] + files
    # TEXT "-" reads stdin: a pipe or terminal that never ends (`sleep 100 | a2actl send URL -`)
    # held the command past --max-time as a FIFO did
    if (text != "-" or stdin_is_regular()) and all(is_regular(p) for p in paths):
        return build_parts(text, data, files)
    parts: list[PartSpec] = run.run(off_the_loop(lambda: build_parts(text, data, files), "a2actl-send-parts"))
    return parts


@task_app.command("get")
def get(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Agent base URL, card URL or card file.")],
    task_id: Annotated[str, typer.Argument(metavar="TASK_ID", help="The task id.")],
    history: Annotated[
        int | None, typer.Option("--history", min=0, help="historyLength: messages of history to include.")
    ] = None,
    card_path: CardPath = None,
) -> None:
    """Show a task (GetTask / tasks/get): state, status message, artifacts.

    Examples:

      a2actl task get http://localhost:9999 5f0c2a1e-...

      a2actl task get http://localhost:9999 5f0c2a1e-... --history 10 -o json | jq .raw
    """
    from a2actl.render import tasks as render_tasks
    from a2actl.tasks.jobs import get_task_job

    run = invocation(ctx)
    result = run.run(
        get_task_job(target, run.settings, run.sink, task_id, history=history, card_path=card_path)
    )
    run.show(result, render_tasks.task)
    raise typer.Exit(int(result.exit))


@task_app.command("cancel")
def cancel(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Agent base URL, card URL or card file.")],
    task_id: Annotated[str, typer.Argument(metavar="TASK_ID", help="The task id.")],
    card_path: CardPath = None,
) -> None:
    """Cancel a task (CancelTask / tasks/cancel). Exit 0 only when the agent answers the task
    canceled. A task already in a terminal state answers TaskNotCancelableError (-32002): exit 1
    with that code. An agent that answers the task in another state (still working, already
    completed) did not cancel it: exit 1, error code not_canceled, with the state it answered.

    Examples:

      a2actl task cancel http://localhost:9999 5f0c2a1e-...
    """
    from a2actl.render import tasks as render_tasks
    from a2actl.tasks.jobs import cancel_task_job

    run = invocation(ctx)
    result = run.run(cancel_task_job(target, run.settings, run.sink, task_id, card_path=card_path))
    run.show(result, render_tasks.task)
    raise typer.Exit(int(result.exit))


@task_app.command("list")
def list_tasks(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Agent base URL, card URL or card file.")],
    context_id: Annotated[
        str | None, typer.Option("--context-id", help="Only tasks of this contextId.")
    ] = None,
    state: Annotated[
        str | None, typer.Option("--state", help="Only tasks in this state (working, completed, ...).")
    ] = None,
    page_size: Annotated[
        int | None, typer.Option("--page-size", min=1, max=1000, help="Tasks per page.")
    ] = None,
    page_token: Annotated[
        str | None, typer.Option("--page-token", help="Continue from a previous page's nextPageToken.")
    ] = None,
    card_path: CardPath = None,
) -> None:
    """List tasks (ListTasks, A2A 1.0 only; 0.3 has no such method), newest first.

    Examples:

      a2actl task list http://localhost:9999 --state working

      a2actl task list http://localhost:9999 --context-id ctx-42 --page-size 50 -o json
    """
    from a2actl.render import tasks as render_tasks
    from a2actl.tasks.jobs import list_tasks_job

    run = invocation(ctx)
    result = run.run(
        list_tasks_job(
            target,
            run.settings,
            run.sink,
            context_id=context_id,
            state=state,
            page_size=page_size,
            page_token=page_token,
            card_path=card_path,
        )
    )
    run.show(result, render_tasks.task_list)
    raise typer.Exit(int(result.exit))


@task_app.command("subscribe")
def subscribe(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Agent base URL, card URL or card file.")],
    task_id: Annotated[str, typer.Argument(metavar="TASK_ID", help="The task id.")],
    heartbeat: Annotated[
        str | None,
        typer.Option("--heartbeat", metavar="DURATION", help="Flag silences longer than this (exit 7)."),
    ] = None,
    card_path: CardPath = None,
) -> None:
    """Re-attach to a running task's stream (SubscribeToTask / tasks/resubscribe); the same as
    'a2actl stream tail TARGET --task ID'.

    Examples:

      a2actl task subscribe http://localhost:9999 5f0c2a1e-... -o jsonl
    """
    from a2actl.cli.stream import tail

    tail(
        ctx,
        target=target,
        send=None,
        task=task_id,
        sse=None,
        heartbeat=heartbeat,
        max_event_bytes=None,
        reconnect=5,
        card_path=card_path,
    )
