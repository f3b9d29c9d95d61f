"""``a2actl send`` and ``a2actl task get|list|cancel``: the operations of the official a2a-cli spec,
on any negotiated family (0.3, 1.0) and binding (JSON-RPC, HTTP+JSON, and gRPC with the ``grpc`` extra:
``docs/grpc.md``). Each job returns a typed result (``tasks/results.py``)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import NotCanceled, ProtocolViolation, TimeoutError_, UsageError
from a2actl.core.exit_codes import ExitCode
from a2actl.protocol.events import message_params, other_task_answer, task_view
from a2actl.protocol.paging import CursorTrail
from a2actl.protocol.versions import TASK_STATES, Family, StateKind, canonical_state, state_kind
from a2actl.tasks.request import SendOptions, dry_run
from a2actl.tasks.results import SendResult, SentMessage, StreamedSend, TaskListResult, TaskResult

if TYPE_CHECKING:
    from a2actl.agent.connect import AgentClient
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.stream.tail import Emit

__all__ = [
    "POLL_FIRST",
    "POLL_MAX",
    "cancel_task_job",
    "get_task_job",
    "list_tasks_job",
    "needs_poll",
    "poll_until_settled",
    "require_canceled",
    "require_same_task",
    "send_job",
]

#: GetTask polling after a blocking send answered an active state: first delay and cap, in seconds.
POLL_FIRST, POLL_MAX = 0.1, 1.0
#: Seconds the polling leaves of ``SendOptions.poll_budget`` (at most a tenth of it) for the last
#: GetTask to answer: the polling, not the deadline, ends the send, and names the task.
POLL_MARGIN = 0.5


async def send_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    opts: SendOptions,
    card_path: str | None,
    emit: Emit | None = None,
) -> SendResult:
    """``send``: a ``SendDryRun`` (``--dry-run``), a ``StreamedSend`` (``--stream``: ``emit`` gets every
    ``stream tail`` record, the summary last) or a ``SentMessage``.

    Exit 7 when the task ends in a ``--fail-on`` state; a failed task is otherwise exit 0 (official
    a2a-cli spec) with its state shown. A blocking send that an agent answers with an active state
    (``submitted``/``working``: an agent that ignores ``blocking``) is followed with GetTask until the
    task is terminal or interrupted, for at most ``settings.read_timeout`` seconds, or until
    ``POLL_MARGIN`` before the end of ``opts.poll_budget`` (what is left of ``--max-time``) when that
    comes first (``polled`` in the document says so); past that ``TimeoutError_`` (5) names the task. A blocking send that times out
    before any answer names the task it created when the agent can list tasks (1.0 ``ListTasks``).
    An A2A error answer raises ``A2AError`` (1); discovery and transport errors as ``connect``.
    """
    from a2actl.agent.connect import connected
    from a2actl.transport.http import HttpTransport

    if opts.stream and not opts.dry_run:
        return await _send_streaming(target, settings, sink, opts, card_path, emit)
    started = time.perf_counter()
    async with (
        HttpTransport(settings, sink) as transport,
        connected(target, settings, transport, card_path) as client,
    ):
        params = _send_params(client, opts, opts.message_id)
        operation = "SendStreamingMessage" if opts.stream else "SendMessage"
        if opts.dry_run:
            return dry_run(client, operation, params, settings, opts.show_secrets)
        message_id: str = params["message"]["messageId"]
        try:
            out = await client.call(operation, params)
        except TimeoutError_ as exc:
            # a connect timeout (gRPC: the channel never READY) sent nothing: no task to look for
            if opts.no_wait or (exc.details or {}).get("phase") == "connect":
                raise
            raise await _timeout_with_task(client, message_id, exc) from exc
        if out.error is not None:
            raise out.error.to_exception(out.method)
        view = task_view(out.result)
        polled = None
        if needs_poll(view, opts.no_wait):
            limit, bound = settings.read_timeout, f"--timeout {settings.read_timeout:g}s"
            if opts.poll_budget is not None:
                left = opts.poll_budget - (time.perf_counter() - started)
                left -= min(POLL_MARGIN, opts.poll_budget / 10)
                if left < limit:
                    limit = max(left, 0.0)
                    bound = (
                        f"--max-time {settings.max_time:g}s"
                        if settings.max_time
                        else "the default --max-time"
                    )
            view, raw, polled = await poll_until_settled(client, view, limit, bound=bound)
        else:
            raw = out.result
    state = view.get("state")
    failed_on = state if state in opts.fail_on else None
    return SentMessage(
        method=out.method,
        message_id=message_id,
        result=view,
        task_id=view.get("id") if view.get("kind") == "task" else view.get("taskId"),
        state=state,
        raw=raw,
        trace_id=settings.trace_id,
        polled=polled,
        failed_on=failed_on,
        exit=ExitCode.CHECK_FAILED if failed_on is not None else ExitCode.OK,
    )


def _send_params(client: AgentClient, opts: SendOptions, message_id: str | None) -> dict[str, Any]:
    """The SendMessage params of ``opts`` in the client's family and binding."""
    return message_params(
        opts.parts,
        client.family,
        client.binding,
        message_id=message_id,
        context_id=opts.context_id,
        task_id=opts.task_id,
        tenant=client.selection.interface.tenant,
        no_wait=opts.no_wait,
    )


async def _send_streaming(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    opts: SendOptions,
    card_path: str | None,
    emit: Emit | None,
) -> StreamedSend:
    """``send --stream``: SendStreamingMessage followed as ``stream tail --send`` does
    (``stream.follow.tail_a2a``), with its reconnect policy (``TailOptions``' default, as ``task
    subscribe``: a stream cut once it named the task is resubscribed up to 5 times, and GetTask says
    how the task ended when the resubscribe is refused; the message is never sent again), under
    ``opts.max_time`` (the card discovery included, ``stream.follow.connected_within``): at the
    deadline the tail ends as ``max-time`` (exit 5) with its summary, and the document still names
    the task and the last state seen (docs/exit-codes.md, ``stream tail`` and ``send --stream``)."""
    from a2actl.stream.follow import connected_within, max_time_before_stream, tail_a2a
    from a2actl.stream.tail import TailOptions
    from a2actl.transport.http import HttpTransport

    records: Emit = emit or (lambda _r: None)
    tail_opts = TailOptions(
        max_event_bytes=settings.max_event_bytes,  # as stream tail: a larger event is oversize (exit 7)
        # resubscribes after a cut as stream tail's default (it was 0: a stream cut mid-task was
        # exit 6 with the last state seen, where stream tail --send recovered the task's end)
        fail_on=frozenset(opts.fail_on),
        max_time=opts.max_time,
    )
    message_id = opts.message_id or str(uuid.uuid4())
    method = "SendStreamingMessage"
    started = time.perf_counter()
    async with (
        HttpTransport(settings, sink) as transport,
        connected_within(target, settings, transport, card_path, tail_opts) as (client, left),
    ):
        if client is None:  # --max-time passed while the card was fetched: nothing was sent
            summary = max_time_before_stream(tail_opts, records, started)
        else:
            method = client.method_name(method)
            params = _send_params(client, opts, message_id)
            summary = await tail_a2a(client, "SendStreamingMessage", params, left, records)
    if emit is not None:
        emit(summary.to_json())
    return StreamedSend(
        method=method,
        message_id=message_id,
        task_id=summary.task_id,
        state=summary.final_state,
        events=summary.events,
        outcome=summary.outcome,
        exit=summary.exit,
        trace_id=settings.trace_id,
        failed_on=summary.failed_on,
        status_message=summary.status_message,
        reason=summary.reason,
        missed=tuple(summary.missed),
    )


def needs_poll(view: dict[str, Any], no_wait: bool) -> bool:
    """Whether a blocking send's answer (a ``task_view``) must be followed with GetTask: a task with an
    id in an active state (``submitted``/``working``), unless the caller asked not to wait."""
    return (
        not no_wait
        and view.get("kind") == "task"
        and bool(view.get("id"))
        and state_kind(view.get("state")) is StateKind.ACTIVE
    )


async def poll_until_settled(
    client: AgentClient,
    view: dict[str, Any],
    limit: float,
    *,
    bound: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """GetTask every ``POLL_FIRST`` seconds (doubling to ``POLL_MAX``) until the task leaves the
    active states; returns the last view, its raw task and ``{"reason", "polls", "seconds",
    "firstState"}``. Raises ``TimeoutError_`` (exit 5, ``details`` ``{"taskId", "state"}``) when the
    next poll would pass ``limit`` seconds (``bound``: the option that set it, for the message;
    ``--timeout LIMIT`` by default), ``A2AError`` (1) when GetTask fails, ``ProtocolViolation`` (6)
    when GetTask answers another task than the one the send started. ``sleep`` and ``clock`` are
    seams for tests."""
    first_state = view.get("state")
    reason = (
        f"the agent answered '{first_state}' to a blocking send (it ignored "
        f"{'configuration.blocking' if client.family is not Family.V1_0 else 'blocking mode'}); "
        "followed with GetTask until the task settled"
    )
    client.transport.sink.on_note(reason)
    t0 = clock()
    polls, delay, raw = 0, POLL_FIRST, None
    while state_kind(view.get("state")) is StateKind.ACTIVE:
        if clock() - t0 + delay > limit:
            by = bound or f"--timeout {limit:g}s"
            raise TimeoutError_(
                f"task {view.get('id')} is still '{view.get('state')}' after {polls} GetTask "
                f"poll(s) over {clock() - t0:.1f}s ({by})",
                hint=f"a2actl task get TARGET {view.get('id')} shows it later; raise "
                f"{by.split()[0] if by.startswith('--') else '--max-time'} to wait longer",
                details={"taskId": view.get("id"), "state": view.get("state")},
            )
        await sleep(delay)
        delay = min(delay * 2, POLL_MAX)
        got = await client.call("GetTask", {"id": view["id"]})
        polls += 1
        if got.error is not None:
            raise got.error.to_exception(got.method)
        raw = got.result
        asked = view["id"]
        view = task_view(
            {"task": got.result}
            if isinstance(got.result, dict) and "kind" not in got.result and "task" not in got.result
            else got.result
        )
        require_same_task(got.method, asked, view)
    return (
        view,
        raw,
        {
            "reason": reason,
            "polls": polls,
            "seconds": round(clock() - t0, 6),
            "firstState": first_state,
        },
    )


async def _timeout_with_task(client: AgentClient, message_id: str, exc: TimeoutError_) -> TimeoutError_:
    """The read timeout of a blocking send, with the task it created when the agent can say (1.0:
    ``ListTasks``, newest first, looking for the task whose history holds ``message_id``)."""
    from a2actl.core.errors import A2ACtlError

    found: dict[str, Any] | None = None
    if client.family is Family.V1_0:
        try:
            got = await client.call("ListTasks", {"pageSize": 50, "historyLength": 50})
            tasks = (
                (got.result or {}).get("tasks")
                if got.error is None and isinstance(got.result, dict)
                else None
            )
            for t in tasks or []:
                if isinstance(t, dict) and any(
                    isinstance(m, dict) and m.get("messageId") == message_id for m in t.get("history") or []
                ):
                    found = task_view({"task": t})
                    break
        except A2ACtlError:
            found = None
    if found is not None:
        return TimeoutError_(
            f"{exc.message}; the agent created task {found['id']} (state {found['state']}), "
            "which may still be running",
            hint=f"a2actl task get TARGET {found['id']}  or  a2actl stream tail TARGET --task "
            f"{found['id']}; raise --timeout to wait longer",
            details={"taskId": found["id"], "state": found["state"], "messageId": message_id},
        )
    how = (
        "0.3 has no ListTasks to find it" if client.family is not Family.V1_0 else "ListTasks did not show it"
    )
    return TimeoutError_(
        f"{exc.message}; the task this message ({message_id}) started is unknown ({how})",
        hint=exc.hint or "raise --timeout; --no-wait returns the task id at once",
        details={"messageId": message_id},
    )


def require_same_task(method: str, asked: str, view: dict[str, Any]) -> None:
    """Raises ``ProtocolViolation`` (exit 6) when the answer ``view`` (a ``task_view``) to ``method``
    about task ``asked`` is about another task (``protocol.events.other_task_answer``): its state is
    not this task's, and reporting it as such would call a task canceled, completed or failed that
    may not be."""
    got = other_task_answer(asked, view)
    if got is not None:
        raise ProtocolViolation(
            f"{method} for task {asked[:80]!r} answered task {got[:80]!r}",
            hint="the agent (or a cache or proxy in front of it) answered about another task; what it "
            "says tells nothing about this one",
            details={"taskId": asked, "answeredTaskId": got},
        )


def _require_task_id(task_id: str) -> None:
    """Raises ``UsageError`` (exit 2) for an empty or blank TASK_ID."""
    if not task_id.strip():
        raise UsageError("TASK_ID is empty", hint="a2actl task list TARGET shows the task ids (A2A 1.0)")


async def get_task_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    task_id: str,
    *,
    history: int | None = None,
    card_path: str | None = None,
) -> TaskResult:
    """``task get``: GetTask (``historyLength`` = ``history`` messages when given). Raises
    ``UsageError`` (2) for an empty ``task_id``, ``A2AError`` (1) for an A2A error (TaskNotFound
    -32001), ``ProtocolViolation`` (6) for an answer about another task, and what ``connect``
    raises."""
    from a2actl.agent.connect import connected
    from a2actl.transport.http import HttpTransport

    _require_task_id(task_id)
    params: dict[str, Any] = {"id": task_id}
    if history is not None:
        params["historyLength"] = history
    async with (
        HttpTransport(settings, sink) as transport,
        connected(target, settings, transport, card_path) as client,
    ):
        out = await client.call("GetTask", params)
    if out.error is not None:
        raise out.error.to_exception(out.method)
    view = task_view(out.result)
    require_same_task(out.method, task_id, view)
    return TaskResult(out.method, view, out.result, settings.trace_id)


async def cancel_task_job(
    target: str, settings: Settings, sink: EventSink | None, task_id: str, *, card_path: str | None = None
) -> TaskResult:
    """``task cancel``: CancelTask. Raises ``UsageError`` (2) for an empty ``task_id``, ``A2AError``
    (1) for an A2A error (a terminal task: TaskNotCancelable -32002), ``ProtocolViolation`` (6) for
    an answer about another task, ``NotCanceled`` (1) for an answer whose task is not ``canceled``
    (``require_canceled``), and what ``connect`` raises."""
    from a2actl.agent.connect import connected
    from a2actl.transport.http import HttpTransport

    _require_task_id(task_id)
    async with (
        HttpTransport(settings, sink) as transport,
        connected(target, settings, transport, card_path) as client,
    ):
        out = await client.call("CancelTask", {"id": task_id})
    if out.error is not None:
        raise out.error.to_exception(out.method)
    view = task_view(out.result)
    require_same_task(out.method, task_id, view)
    require_canceled(out.method, task_id, view)
    return TaskResult(out.method, view, out.result, settings.trace_id)


def require_canceled(method: str, task_id: str, view: dict[str, Any]) -> None:
    """Raises ``NotCanceled`` (exit 1) when the answer ``view`` (a ``task_view``) to ``method``
    (CancelTask) is a task whose state is not ``canceled``: an agent that returns the task still
    ``working`` (a cancel it ignored, or one still under way) or already ``completed`` instead of
    TaskNotCancelable (-32002). Exit 0 would tell a script the task was canceled. ``details``:
    ``{"taskId", "state", "task"}``."""
    state = view.get("state")
    if state == "canceled":
        return
    raise NotCanceled(
        f"{method}: the agent answered task {task_id[:80]!r} in state {state}, not canceled",
        hint=f"the task was not canceled (or not yet): a2actl task get TARGET {task_id[:80]} shows "
        "its state; an agent that cannot cancel should answer TaskNotCancelable (-32002)",
        details={"taskId": task_id, "state": state, "task": view},
    )


async def list_tasks_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    *,
    context_id: str | None = None,
    state: str | None = None,
    page_size: int | None = None,
    page_token: str | None = None,
    card_path: str | None = None,
) -> TaskListResult:
    """``task list``: one page of ListTasks (A2A 1.0 only; 0.3 has no tasks/list). Raises
    ``UsageError`` (2) on a 0.x endpoint or for an unknown ``state``, ``A2AError`` (1) for an A2A
    error, ``ProtocolViolation`` (6) when the page's ``nextPageToken`` is ``page_token`` (the
    pages loop), and what ``connect`` raises."""
    from a2actl.agent.connect import connected
    from a2actl.transport.http import HttpTransport

    async with (
        HttpTransport(settings, sink) as transport,
        connected(target, settings, transport, card_path) as client,
    ):
        if client.family is not Family.V1_0:
            speaks_v1 = any(i.family is Family.V1_0 for i in client.selection.candidates)
            raise UsageError(
                f"ListTasks does not exist in A2A {client.family.value} (0.3 has no tasks/list; "
                "it is new in 1.0)",
                hint=f"the card declares 1.0: drop --a2a-version {settings.a2a_version}"
                if speaks_v1
                else "the agent declares no A2A 1.0 interface; 'a2actl sessions "
                "list' works through debug endpoints instead",
            )
        params: dict[str, Any] = {}
        if context_id:
            params["contextId"] = context_id
        if state:
            canon = canonical_state(state)
            if canon == "unknown":
                raise UsageError(f"--state {state!r}: use one of {', '.join(TASK_STATES)}")
            params["status"] = TASK_STATES[canon][1]
        if page_size:
            params["pageSize"] = page_size
        if page_token:
            params["pageToken"] = page_token
        out = await client.call("ListTasks", params)
        v1_declared = any(i.family is Family.V1_0 for i in client.selection.candidates)
        if out.error is not None and out.error.version_mismatch and not v1_declared:
            # forced 1.0 on a 0.x-only card: "try 0.3" would be a dead end (0.3 has no ListTasks)
            declared = sorted({i.family.value for i in client.selection.candidates if i.family}) or ["0.x"]
            raise UsageError(
                f"ListTasks is A2A 1.0 and this agent declares only {', '.join(declared)} "
                f"(it answered {out.error.code} {out.error.name} to {out.method})",
                hint="0.3 has no way to list tasks; 'a2actl sessions list' works through debug "
                "endpoints, 'a2actl task get TARGET ID' reads one task",
            )
    if out.error is not None:
        raise out.error.to_exception(out.method)
    result = out.result if isinstance(out.result, dict) else {}
    if page_token:
        # a page whose next page is itself: a script following nextPageToken would go round forever
        trail = CursorTrail(
            f"{out.method} with --page-token",
            field="nextPageToken",
            hint="the agent's ListTasks paging is broken (A2A 1.0 ListTasks): the page names itself "
            "as the next one",
        )
        trail.followed.add(str(page_token))
        trail.next(result)
    return TaskListResult(
        method=out.method,
        tasks=[task_view({"task": t}) for t in result.get("tasks") or []],
        next_page_token=result.get("nextPageToken") or None,
        total_size=result.get("totalSize"),
        trace_id=settings.trace_id,
    )
