"""Follow an A2A task stream into a ``Tail``: ``SendStreamingMessage`` or ``SubscribeToTask`` (A2A 1.0
spec §3.1.2 stream patterns; 0.3 ``message/stream`` / ``tasks/resubscribe``) on any
``transport.channel.Channel`` (JSON-RPC, HTTP+JSON or WebSocket), resubscribing after cuts and asking ``GetTask`` what a
refused or lost stream missed."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING, Any, cast

from a2actl.core.deadline import within
from a2actl.core.errors import (
    A2ACtlError,
    A2AError,
    HTTPStatusError,
    ProtocolViolation,
    StreamCut,
    TimeoutError_,
    UnreachableError,
)
from a2actl.protocol.events import EventFields, StreamEvent, classify_event, reason_outside_status
from a2actl.protocol.versions import StateKind, canonical_state, state_kind
from a2actl.stream.summary import TailSummary
from a2actl.stream.tail import Emit, Tail, TailOptions

#: ``TaskNotFoundError`` (spec v1.0 §5.4; 0.x the same code).
_TASK_NOT_FOUND = -32001
#: Seconds without a stream event (heartbeats do not count) after which ``tail_a2a`` asks GetTask
#: whether the task ended without its stream saying so, and again after as many more.
IDLE_POLL = 10.0
#: Seconds the stream is still given to deliver a terminal state GetTask already shows (the two race).
IDLE_GRACE = 2.0

if TYPE_CHECKING:
    from a2actl.agent.connect import AgentClient
    from a2actl.agent.target import Target
    from a2actl.core.config import Settings
    from a2actl.transport.base import Transport
    from a2actl.transport.channel import Channel


@asynccontextmanager
async def connected_within(
    target: Target | str, settings: Settings, transport: Transport, card_path: str | None, opts: TailOptions
) -> AsyncIterator[tuple[AgentClient | None, TailOptions]]:
    """``agent.connect.connected`` under the tail's ``--max-time`` (``opts.max_time``): the card
    discovery and negotiation count against it, so an agent whose card never comes still ends the
    tail at its deadline. Yields the client and ``opts`` with the time left for the stream, or
    ``(None, opts)`` when the deadline passed first (the caller ends the tail as ``max-time``, exit 5,
    with its summary). Raises what ``connect_channel`` raises; closes a gRPC client on exit."""
    from a2actl.agent.connect import close_client, connect_channel
    from a2actl.core.deadline import within

    start = time.perf_counter()
    work = connect_channel(target, settings, transport, card_path)
    if opts.max_time is None:
        client = await work
    else:
        try:
            client = await within(work, opts.max_time)
        except asyncio.TimeoutError:
            yield None, opts
            return
        left = max(opts.max_time - (time.perf_counter() - start), 0.0)
        opts = dataclasses.replace(opts, max_time=left)
    try:
        yield client, opts
    finally:
        await close_client(client)


def max_time_before_stream(opts: TailOptions, emit: Emit, started: float) -> TailSummary:
    """The summary of a tail whose ``--max-time`` passed before its stream started (the card never
    came: ``connected_within``): outcome ``max-time`` (exit 5), no event, ``duration`` counted from
    ``started`` (``time.perf_counter``)."""
    tail = Tail(opts, emit)
    tail.t0 = started
    return tail.summary("max-time")


def missed_after_resync(tail: Tail, snapshot: EventFields) -> list[str]:
    """What a resubscribe's first Task snapshot (or a ``GetTask`` answer; a ``StreamEvent`` or the
    plain tuple of its fields) says was lost during the outage: a state change, and artifact chunks
    beyond those the stream delivered."""
    missed = []
    before = tail.lifecycle.state
    _, state, _, _, payload = snapshot
    if state and before and state != before:
        missed.append(f"state {before} → {state} happened during the outage")
    for art in payload.get("artifacts") or []:
        if not isinstance(art, dict):
            continue
        aid = str(art.get("artifactId", ""))
        parts = len(art.get("parts") or art.get("content") or [])
        seen = tail.lifecycle.artifacts.get(aid, {}).get("chunks", 0)
        if parts > seen:
            missed.append(f"artifact {aid!r}: {parts - seen} chunk(s) arrived during the outage")
    return missed


async def _consume(tail: Tail, client: Channel, operation: str, params: dict[str, Any], resync: bool) -> str:
    """Read one stream into ``tail``. Returns ``settled`` or ``closed``; raises ``StreamCut`` /
    ``TimeoutError_`` on a cut and ``A2AError`` for an error answer before any event."""
    from a2actl.transport.channel import Heartbeat, Outcome, TimedEvent, stream_batches

    first = True
    take = tail.take  # one call per network read: the per-event loop is Tail.take's
    batches = stream_batches(client, operation, params, heartbeats=True)  # a list per read (or slice)
    together = tail.together
    # Not closed here when the stream settles: closing can wait (a WebSocket close handshake the
    # peer never answers, up to its close_timeout) and the outcome is known now; asyncio's
    # async-generator finalizer closes it after the tail, as it always did.
    async for batch in batches:
        with together():  # the records of one read are written in one go
            i, n = 0, len(batch)
            while i < n:
                item = batch[i]
                if type(item) is tuple or type(item) is TimedEvent:  # an event (EventTuple)
                    # SubscribeToTask's first event is the task as it is now (spec v1.0 §3.1.2)
                    ev = item[2]  # EventFields: (kind, state, task_id, final, payload)
                    snapshot = first and operation == "SubscribeToTask" and ev[0] == "task"
                    if snapshot and resync:
                        tail.reconnected(operation, missed_after_resync(tail, ev))
                    # resync: the first event only; a first subscribe's snapshot too, so the
                    # artifact chunks it already holds are known (appends to them are no violation)
                    i, done = take(batch, i, first and (resync or snapshot))
                    first = False
                    if done or (snapshot and tail.lifecycle.settled):
                        # A snapshot already terminal or interrupted ends the stream as a status
                        # update in that state would: servers may keep the stream of an
                        # input-required task open, and waiting there ran to --max-time.
                        return "settled"
                elif type(item) is Heartbeat:
                    tail.heartbeat(
                        "ws-pong" if item.rtt is not None else "sse-comment", item.text, item.rtt, at=item.at
                    )
                    i += 1
                else:  # an error answer (it ends the stream)
                    answer = cast("Outcome", item)
                    if answer.error is None:
                        raise ProtocolViolation(
                            f"{answer.method}: the stream ended with an answer that is no event"
                        )
                    raise _with_task(answer.error.to_exception(answer.method), tail, resync)
    return "settled" if tail.lifecycle.settled else "closed"


def _with_task(exc: A2ACtlError, tail: Tail, resync: bool) -> A2ACtlError:
    """``exc``, an error answer that ended a stream after events of a task: its message names the
    task and the last state seen, its ``details`` carry them (``taskId``, ``lastState``), so the
    task the stream created can still be looked at (the table's event lines show no task id, and
    ``send --stream -o json`` shows the error alone). Unchanged before any event, or on a
    resubscribe (the caller's business)."""
    task_id = tail.lifecycle.task_id
    if resync or task_id is None or not tail.events:
        return exc
    state = tail.lifecycle.state
    exc.message += f" (after {tail.events} event(s) of task {task_id}, last state {state or 'none'})"
    exc.details = {**exc.details, "taskId": task_id, "lastState": state}
    if exc.hint is None:
        exc.hint = f"a2actl task get TARGET {task_id} shows what became of it"
    return exc


async def tail_a2a(
    client: Channel,
    operation: str,
    params: dict[str, Any],
    opts: TailOptions,
    emit: Emit,
    together: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> TailSummary:
    """Tail ``operation`` (``SendStreamingMessage`` or ``SubscribeToTask``) with up to
    ``opts.reconnect_attempts`` resubscribes after cuts; ``emit`` gets every record, the summary is
    returned (the caller writes it). A resubscribe that cannot connect (``UnreachableError``) or is
    answered an HTTP 5xx is one more cut of the same outage: the next attempt follows the backoff. Raises ``A2AError`` (exit 1) when the first call is refused
    (``task … already ended`` when GetTask says the task is terminal, ``task … is input-required``
    when it waits for the client), ``HTTPStatusError`` (1) for
    an HTTP error instead of the stream, and ``UnreachableError`` (3) or ``TimeoutError_`` (5) when
    the first call gets no answer (nothing streamed yet). A ``SubscribeToTask`` asks GetTask
    alongside its first call: a stream that ends without an event although the task was running
    as it began is no refusal; a terminal or interrupted state GetTask then shows ends the tail as
    seen only via GetTask (a ``reconnect`` record, exit 7)."""
    tail = Tail(opts, emit, client.family, together=together)
    earlier: asyncio.Future[StreamEvent | None] | None = None
    if operation == "SubscribeToTask" and isinstance(params.get("id"), str):
        # The stream is this task's: an event of another task is an ``other-task`` violation, not
        # the task's outcome (an agent or proxy answering with another task's stream was exit 0).
        tail.lifecycle.task_id = params["id"]
        # The task's state as the subscribe begins, asked alongside it (no wait before the stream;
        # only read when the stream ends before its first event): a task running then whose stream
        # then closes, and that GetTask shows ended, was followed, not refused.
        earlier = asyncio.ensure_future(_quiet_snapshot(client, params["id"]))

    async def run() -> str:
        op, prm, resync, attempt = operation, params, False, 0
        while True:
            before = tail.events
            try:
                result = await _consume_watched(tail, client, op, prm, resync)
                if result == "settled":
                    return "completed"
                if tail.last_unread and await _ended_over_bound(tail, client, op, prm):
                    return "oversize"
                reason, ending = (
                    "the stream closed right after an event over the bound (not read), before a "
                    "terminal state"
                    if tail.last_unread
                    else "the server closed the stream before a terminal state",
                    "closed-without-terminal",
                )
            except (StreamCut, TimeoutError_) as exc:
                if isinstance(exc, TimeoutError_) and not resync and tail.events == 0:
                    # No answer to the first call (--connect-timeout, or no response within
                    # --timeout): a timeout (exit 5), as for `send`; no stream began, so there is
                    # nothing cut and no missing terminal state (it was exit 6, "missing-terminal").
                    raise
                reason, ending = exc.message, "cut"
            except UnreachableError as exc:
                if not resync:
                    raise
                # A resubscribe that cannot connect: the agent is restarting (a rolling deploy, a
                # crash) or the path is down. The outage goes on: another attempt after the backoff,
                # as after a cut (this ended the tail at the first refused connection, exit 3).
                reason, ending = exc.message, "cut"
            except HTTPStatusError as exc:
                if resync and int(exc.details.get("httpStatus") or 0) >= 500:
                    # A gateway's 502/503 while the agent restarts, or a 500 for a task that ended
                    # during the outage (GetTask below tells): the outage goes on, as above.
                    reason, ending = exc.message, "cut"
                else:
                    # A server error instead of the stream (a2a-sdk's 0.3 compat answers 500 for
                    # a terminal task behind a buffering proxy): GetTask says whether it ended.
                    if not resync and op == "SubscribeToTask":
                        await _explain_refused_subscribe(client, prm.get("id"), A2AError(exc.message))
                    raise
            except A2AError as exc:
                if not resync:
                    if op == "SubscribeToTask":
                        await _explain_refused_subscribe(client, prm.get("id"), exc)
                    raise
                # Resubscribe refused: the task ended during the outage (terminal tasks cannot be
                # subscribed to, -32004) or is gone. GetTask tells which.
                return await _settle_via_get_task(tail, client, exc)
            if op == "SubscribeToTask" and not resync and tail.events == 0:
                if _running(await earlier if earlier is not None else None):
                    # The task was running as the subscribe began: a stream that then ends without
                    # an event (a2a-sdk 0.3 closes a subscriber's stream at another client's
                    # CancelTask without the canceled event) was followed, not refused. Its end
                    # is then seen only via GetTask (exit 7), as after an outage; "already ended"
                    # (exit 1) was wrong. Still running: a cut like any other.
                    if await _ended_during_outage(tail, client, reason, first=True):
                        return "completed"
                else:
                    # Some servers refuse a terminal task by opening the stream and dropping it
                    # (a2a-sdk 0.3's HTTP+JSON binding raises inside its SSE generator): the same
                    # question as a refusal, answered the same way (GetTask; "already ended" when
                    # it is terminal).
                    await _explain_refused_subscribe(client, prm.get("id"), A2AError(reason))
            if resync and tail.events == before and await _ended_during_outage(tail, client, reason):
                # the same refusal on a resubscribe: the task ended while the stream was down
                return "completed"
            task_id = tail.lifecycle.task_id
            attempt += 1
            tail.cut(reason, attempt, outage_goes_on=resync and tail.events == before)
            if task_id is None or attempt > opts.reconnect_attempts:
                return ending
            await asyncio.sleep(opts.delay(attempt))
            op, prm, resync = "SubscribeToTask", {"id": task_id}, True

    try:
        summary = await tail.finish(run())
    finally:
        if earlier is not None:
            earlier.cancel()
            await asyncio.gather(earlier, return_exceptions=True)
    return await _with_reason(summary, tail, client, opts)


#: The end states whose reason a tail reports (``TailSummary.reason``).
_FAILED = frozenset({"failed", "rejected"})


async def _with_reason(summary: TailSummary, tail: Tail, client: Channel, opts: TailOptions) -> TailSummary:
    """``summary`` with the agent's reason for a ``failed`` or ``rejected`` end: its status message;
    else the last agent message of the task's history or its last artifact's text
    (``reason_outside_status``), from the task GetTask answered when the end was seen there, else
    from one more GetTask within what is left of ``--max-time`` (a GetTask that fails, or runs out
    of it, leaves no reason: the outcome stands). Unchanged for any other end."""
    if summary.final_state not in _FAILED:
        return summary
    if summary.status_message:
        return dataclasses.replace(summary, reason={"text": summary.status_message, "from": "status"})
    seen = tail.lifecycle.task
    if isinstance(seen, dict) and canonical_state((seen.get("status") or {}).get("state")) in _FAILED:
        found = reason_outside_status(seen)
        if found is not None:
            return dataclasses.replace(summary, reason=found)
    left = opts.max_time - summary.duration if opts.max_time is not None else None
    if summary.task_id is None or (left is not None and left <= 0):
        return summary
    try:
        ask = _task_snapshot(client, summary.task_id)
        snap = await (within(ask, left) if left is not None else ask)
    except (A2ACtlError, asyncio.TimeoutError):
        return summary
    if snap is None or snap.state not in _FAILED:
        return summary
    return dataclasses.replace(summary, reason=reason_outside_status(snap.payload))


async def _ended_unannounced(tail: Tail, client: Channel) -> StreamEvent:
    """Return the task's GetTask snapshot once GetTask shows it terminal while its stream, silent for
    ``IDLE_POLL`` seconds (heartbeats do not count), still says nothing of it after ``IDLE_GRACE``
    more. a2a-sdk 0.3 never sends the ``canceled`` event to the streams open on a task another
    client cancels, and keeps them open (SSE pings every 15 s): the tail waited for ``--max-time``
    (exit 5), or for ever. Runs until cancelled otherwise; a GetTask that fails is asked again
    later."""
    seen, quiet, tick = tail.events, 0.0, IDLE_POLL / 2
    while True:
        await asyncio.sleep(tick)
        task_id = tail.lifecycle.task_id
        if tail.events != seen or tail.lifecycle.settled or not task_id:
            seen, quiet = tail.events, 0.0
            continue
        quiet += tick
        if quiet < IDLE_POLL:
            continue
        quiet = 0.0  # the next question after as much silence again
        try:
            snap = await _task_snapshot(client, task_id)
        except A2ACtlError:
            continue
        if snap is None or not snap.state or state_kind(snap.state) is not StateKind.TERMINAL:
            continue
        await asyncio.sleep(IDLE_GRACE)
        if tail.events == seen and not tail.lifecycle.settled:
            return snap
        seen = tail.events


async def _consume_watched(
    tail: Tail, client: Channel, operation: str, params: dict[str, Any], resync: bool
) -> str:
    """``_consume`` (its result, or what it raises), watched by ``_ended_unannounced``: when GetTask
    shows the task ended and the stream does not, the stream is left and the end is reported as
    seen only via GetTask (a ``reconnect`` record via GetTask, ``missed``: exit 7, as for a
    resubscribe that finds the task ended); returns ``settled`` then."""
    consume = asyncio.ensure_future(_consume(tail, client, operation, params, resync))
    watch = asyncio.ensure_future(_ended_unannounced(tail, client))
    try:
        done, _ = await asyncio.wait({consume, watch}, return_when=asyncio.FIRST_COMPLETED)
        if consume not in done and (watch.cancelled() or watch.exception() is not None):
            await asyncio.wait({consume})  # the watch failed: the stream alone decides, as before it
    finally:  # also when cancelled (--max-time, a stall, Ctrl-C): neither outlives the call
        for running in (consume, watch):
            running.cancel()
        await asyncio.gather(consume, watch, return_exceptions=True)
    if consume.done() and not consume.cancelled():
        return consume.result()
    snap = watch.result()
    # the artifact chunks the stream did not deliver; the state change is said here, not as one
    # that "happened during the outage": there was none
    missed = [m for m in missed_after_resync(tail, snap) if m.startswith("artifact ")]
    missed.append(
        f"terminal state {snap.state} seen only via GetTask (last state on the stream "
        f"{tail.lifecycle.state or 'none'}): the stream stayed open without it, no event for "
        f"{IDLE_POLL:g}s; its last events were lost"
    )
    tail.reconnected("GetTask", missed)
    tail.lifecycle.observe(snap, resync=True)
    return "settled"


async def _quiet_snapshot(client: Channel, task_id: object) -> StreamEvent | None:
    """``_task_snapshot``, ``None`` when GetTask fails in any way (its error is the subscribe's to
    report, if the subscribe meets it too)."""
    try:
        return await _task_snapshot(client, task_id)
    except A2ACtlError:
        return None


def _running(snap: StreamEvent | None) -> bool:
    """``snap`` (a GetTask answer) shows the task still running: submitted, working (an ``active``
    state: neither terminal nor waiting for the client, nor an unknown one)."""
    return snap is not None and bool(snap.state) and state_kind(snap.state) is StateKind.ACTIVE


async def _task_snapshot(client: Channel, task_id: object) -> StreamEvent | None:
    """The task as GetTask answers it now, classified like a stream's first Task event; ``None`` when
    GetTask fails or answers no task, or another task than ``task_id``."""
    out = await client.call("GetTask", {"id": task_id})
    return None if out.error is not None else _snapshot_of(out.result, task_id)


def _snapshot_of(result: Any, task_id: object) -> StreamEvent | None:
    """A GetTask result about ``task_id`` classified like a stream's first Task event (``None``: no
    task, or one with another id: its state is not this task's)."""
    if not isinstance(result, dict):
        return None
    task = result.get("task", result)
    if not isinstance(task, dict):
        return None
    snap = classify_event({"task": task} if "kind" not in task else task)
    return None if snap.task_id is not None and snap.task_id != task_id else snap


async def _explain_refused_subscribe(client: Channel, task_id: object, exc: A2AError) -> None:
    """A refused SubscribeToTask is usually a task that already ended (A2A 1.0 spec §10.4.6 /
    §11.3.2: UnsupportedOperationError for a terminal task; a2a-sdk answers -32004), or one that does
    not exist. Ask GetTask; when the task is terminal, raise an ``A2AError`` (exit 1) that says so
    (same code) instead of the agent's generic one; likewise when it waits for the client
    (input-required, auth-required: a2a-sdk 0.3 has nothing running to subscribe to and answers
    TaskNotFound, or drops the stream on HTTP+JSON); when GetTask answers TaskNotFound (-32001) and
    the refusal did not say it (a2a-sdk 0.3's HTTP+JSON binding drops the stream instead), raise
    that (exit 1), not a cut (6). Returns quietly otherwise (the caller re-raises the original)."""
    try:
        out = await client.call("GetTask", {"id": task_id})
    except A2ACtlError:
        return
    if out.error is not None:
        if out.error.code == _TASK_NOT_FOUND and exc.a2a_code != _TASK_NOT_FOUND:
            raise A2AError(
                f"task {task_id} not found (GetTask: {out.error.code} {out.error.name}: "
                f"{out.error.message}): there is no stream to follow",
                hint=out.error.hint,
                a2a_code=out.error.code,
            ) from exc
        return
    snap = _snapshot_of(out.result, task_id)
    if snap is not None and snap.state and state_kind(snap.state) is StateKind.TERMINAL:
        raise A2AError(
            f"task {task_id} already ended ({snap.state}): there is no stream to follow",
            hint="'a2actl task get TARGET TASK_ID' shows its final state and artifacts",
            a2a_code=exc.a2a_code,
        ) from exc
    if snap is not None and snap.state and state_kind(snap.state) is StateKind.INTERRUPTED:
        raise A2AError(
            f"task {task_id} is {snap.state}: it waits for the client, and the agent refused to "
            f"stream it ({exc.message}): there is no stream to follow",
            hint="'a2actl task get TARGET TASK_ID' shows what it asks for; 'a2actl send TARGET "
            "--task-id TASK_ID TEXT' answers it",
            a2a_code=exc.a2a_code,
        ) from exc


async def _ended_over_bound(tail: Tail, client: Channel, operation: str, params: dict[str, Any]) -> bool:
    """The stream closed right after an event over ``--max-event-bytes`` that was not read: the end
    (the terminal event, as a rule) may be in it, so the close is not the agent's fault. GetTask (on
    the task the stream followed, or the one subscribed to) says the state that event carried: when
    it is terminal or interrupted it is the tail's final state; when GetTask shows the task still
    running, the agent did close early: False (the caller reports it and resubscribes). True when
    the end was over the bound or cannot be known (no task id, GetTask failed)."""
    task_id = tail.lifecycle.task_id or (params.get("id") if operation == "SubscribeToTask" else None)
    if not task_id:
        return True
    try:
        snap = await _task_snapshot(client, task_id)
    except A2ACtlError:
        return True
    if snap is None or not snap.state:
        return True
    if state_kind(snap.state) not in (StateKind.TERMINAL, StateKind.INTERRUPTED):
        return False
    tail.lifecycle.observe(snap, resync=True)
    return True


async def _ended_during_outage(tail: Tail, client: Channel, why: str, *, first: bool = False) -> bool:
    """A resubscribe that closed (or was cut) before its first event: a2a-sdk 0.3's HTTP+JSON
    binding refuses a task that already ended that way, instead of an error. Ask GetTask: when the
    task is terminal or interrupted, its end is reported as for a refused resubscribe (a
    ``reconnect`` via GetTask with what was ``missed``) and True is returned; else False (the
    caller goes on reconnecting), GetTask failing included. ``first``: the first subscribe's
    stream, of a task running as it began (``tail_a2a``), not a resubscribe's (the message says
    so)."""
    try:
        snap = await _task_snapshot(client, tail.lifecycle.task_id)
    except A2ACtlError:
        return False
    if snap is None or state_kind(snap.state) not in (StateKind.TERMINAL, StateKind.INTERRUPTED):
        return False
    # a first subscribe saw no snapshot: the artifact chunks GetTask shows may predate it, and no
    # outage came before it
    missed = [] if first else missed_after_resync(tail, snap)
    which = (
        "the subscribe's stream, opened while the task was running, ended without an event"
        if first
        else "the resubscribe ended before its first event"
    )
    missed.append(
        f"terminal state {snap.state} seen only via GetTask ({which}: {why}): the stream's last "
        "events were lost"
    )
    tail.reconnected("GetTask", missed)
    tail.lifecycle.observe(snap, resync=True)
    return tail.lifecycle.settled


async def _settle_via_get_task(tail: Tail, client: Channel, exc: A2AError) -> str:
    """A refused resubscribe: ``GetTask`` says how the task ended; what the stream lost is reported
    as missed. Returns ``completed`` when the task settled, else ``cut``."""
    snap = await _task_snapshot(client, tail.lifecycle.task_id)
    if snap is None:
        tail.reconnected(
            "GetTask",
            [
                f"resubscribe refused ({exc.message}) and GetTask did not answer this task: the task's "
                "end is unknown"
            ],
        )
        return "cut"
    missed = missed_after_resync(tail, snap)
    missed.append(f"terminal state {snap.state} seen only via GetTask: the stream's last events were lost")
    tail.reconnected("GetTask", missed)
    tail.lifecycle.observe(snap, resync=True)
    return "completed" if tail.lifecycle.settled else "cut"
