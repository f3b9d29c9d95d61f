"""The load scenarios: what one request of ``a2actl load run --scenario NAME`` does and measures.

=============  ======================================================================================
``card``       GET the agent card (the URL discovery found); ok when HTTP 2xx with a JSON object.
``handshake``  what ``handshake probe`` times, on a new connection each time: card fetch, parse,
               negotiation, first RPC (GetTask on a random id: TaskNotFound is healthy). Phases go
               to ``phase.<name>`` histograms. Runs on the httpx transport, whose connection clock
               the phases come from.
``send``       a blocking ``SendMessage`` / ``message/send``: ok when the agent answers without an
               A2A error and the task does not end failed/rejected/canceled.
``stream``     ``SendStreamingMessage`` / ``message/stream`` read to the end: time to first event,
               to first artifact, to a terminal (or interrupted) state, gaps, events and bytes.
               Audited as ``stream tail`` audits a stream: a lifecycle violation, an event over
               ``Settings.max_event_bytes`` or a close before a terminal (or interrupted) state
               makes the request ``transport-error`` ``protocol``, never ``ok``.
``get``        ``GetTask`` on a task created once before the run starts; an answer about another
               task (as ``task get`` flags it, exit 6) is ``transport-error`` ``protocol``.
=============  ======================================================================================

Every request carries a fresh ``messageId`` (idempotency key: a retried message is a new message).
Scenarios fill a ``RequestRecord``; they never raise an ``A2ACtlError`` (it is recorded).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from a2actl.core.errors import A2ACtlError, HTTPStatusError, TimeoutError_
from a2actl.load.metrics import FAILED_STATES, RequestRecord
from a2actl.load.thresholds import STREAM_TIMINGS
from a2actl.protocol.events import PartSpec, message_params, result_state, status_text, task_view
from a2actl.protocol.lifecycle import Lifecycle
from a2actl.protocol.versions import StateKind, canonical_state, state_kind
from a2actl.transport.a2a import RpcOutcome, new_id
from a2actl.transport.channel import Heartbeat, TimedEvent

if TYPE_CHECKING:
    from a2actl.agent.connect import AgentClient
    from a2actl.core.config import Settings
    from a2actl.probe.report import ProbeOptions
    from a2actl.transport.grpc import GrpcOutcome

SCENARIOS = ("send", "stream", "get", "card", "handshake")
#: ``Task.uncancel`` (Python 3.11+), which ``Deadlines`` needs.
_UNCANCEL = sys.version_info >= (3, 11)

#: A scenario: fills the record for request ``seq`` whose timing base is ``base`` (perf_counter s).
Scenario = Callable[[RequestRecord, float], Awaitable[None]]


def timing_metrics(scenario: str, open_model: bool = True) -> tuple[str, ...]:
    """The timing metrics a run of ``scenario`` can record (what ``--threshold`` may name):
    ``latency``; ``lag`` in the open model (the closed model has no schedule); ``ttfe``, ``ttfa``,
    ``terminal``, ``gap`` for ``stream``; ``phase.NAME`` for ``handshake``: the phases
    ``handshake probe`` times (``a2actl.core.phases.PHASES``; ``grpc_*`` on a gRPC interface) but
    those of its ``--handshake-path`` and ``--send``, which the scenario does not take."""
    from a2actl.core.phases import PHASES

    names = ("latency", "lag") if open_model else ("latency",)
    if scenario == "stream":
        return names + STREAM_TIMINGS
    if scenario == "handshake":
        unused = ("session", "first_event", "terminal")
        return names + tuple(f"phase.{name}" for name in PHASES if name not in unused)
    return names


def error_code(err: A2ACtlError) -> tuple[str, str]:
    """``(status, code)`` of a request that raised: ``http-error`` with the HTTP status for an
    unexpected status, else ``transport-error`` with the error class (``unreachable``,
    ``timeout``, ``auth``, ``protocol``, …; the exit-code classes of docs/exit-codes.md)."""
    from a2actl.probe.sample import error_class

    if isinstance(err, HTTPStatusError) and err.details.get("httpStatus"):
        return "http-error", str(err.details["httpStatus"])
    return "transport-error", error_class(err)


def _size(out: RpcOutcome | GrpcOutcome) -> int:
    """The answer's size: the HTTP body's bytes, or the gRPC message's protobuf bytes."""
    return len(out.http.body) if isinstance(out, RpcOutcome) else out.size


def _a2a_error(rec: RequestRecord, out: RpcOutcome | GrpcOutcome) -> None:
    assert out.error is not None
    rec.status = "a2a-error"
    rec.code = f"{out.error.name} {out.error.code}" if out.error.code is not None else out.error.name
    rec.message = out.error.message[:200] if out.error.message else None


def _settle(rec: RequestRecord, state: str | None) -> None:
    """Set the task's last state; a failed/rejected/canceled task makes the request ``task-failed``
    (the caller then sets ``message``: ``_reason``)."""
    rec.state = state
    if state in FAILED_STATES and rec.status == "ok":
        rec.status = "task-failed"
        rec.code = state


def _reason(text: str | None) -> str | None:
    """A ``task-failed`` request's ``message``, the error table's example: the agent's status
    message with the final state (at most 200 characters), ``None`` when it gave none."""
    return text[:200] if text else None


@dataclass
class Messages:
    """The messages to send, cycled one per request: lists of ``PartSpec``."""

    items: list[list[PartSpec]]

    def at(self, seq: int) -> list[PartSpec]:
        """The parts of request ``seq`` (cycled)."""
        return self.items[seq % len(self.items)]


@dataclass
class ScenarioContext:
    """What scenarios share: the client (on the fast transport; a ``GrpcClient`` on a gRPC interface,
    ``--binding GRPC``), the card URL, the settings, the messages, and for ``get`` the task id
    created before the run."""

    client: AgentClient
    card_url: str
    settings: Settings
    messages: Messages
    task_id: str | None = None
    probe_options: ProbeOptions | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: ``message_params`` of each message, built once (``params`` copies it with a fresh id).
    _templates: list[dict[str, Any]] | None = field(default=None, init=False, repr=False)

    def params(self, seq: int) -> dict[str, Any]:
        """SendMessage params for request ``seq``: its parts, a fresh ``messageId``.

        The same document ``message_params`` builds, key order included; built once per message
        (``templates``) and copied per request with a new ``messageId`` (the parts are shared, never
        modified)."""
        templates = self._templates
        if templates is None:
            templates = self.templates()
        template = templates[seq % len(templates)]
        return {**template, "message": {**template["message"], "messageId": new_id()}}

    def templates(self) -> list[dict[str, Any]]:
        """``message_params`` of each message, built on the first call (a few µs a message: seconds
        for a ``--messages`` file of a million lines) and kept."""
        if self._templates is None:
            c = self.client
            self._templates = [
                message_params(
                    parts, c.family, c.binding, message_id=new_id(), tenant=c.selection.interface.tenant
                )
                for parts in self.messages.items
            ]
        return self._templates


def build(name: str, ctx: ScenarioContext) -> Scenario:
    """The scenario function for ``name`` (one of ``SCENARIOS``); ``KeyError`` otherwise. For the
    scenarios that send messages, every message's params are built now, before the run's clock
    starts: built at the first request, they were timed as its latency (and in the open model held
    the event loop, so later requests started late)."""
    perf = time.perf_counter
    client = ctx.client
    if name in ("send", "stream"):
        ctx.templates()

    async def card(rec: RequestRecord, base: float) -> None:
        res = await client.transport.request(
            "GET", ctx.card_url, headers={"Accept": "application/json"}, max_bytes=ctx.settings.max_card_bytes
        )
        rec.latency = perf() - base
        rec.bytes = len(res.body)
        if res.status >= 400:
            rec.status, rec.code = "http-error", str(res.status)
            return
        try:
            ok = isinstance(orjson.loads(res.body), dict)
        except orjson.JSONDecodeError:
            ok = False
        if not ok:
            rec.status, rec.code, rec.message = (
                "transport-error",
                "protocol",
                "card is not a JSON object",
            )

    async def send(rec: RequestRecord, base: float) -> None:
        out = await client.call("SendMessage", ctx.params(rec.seq))
        rec.latency = perf() - base
        rec.bytes = _size(out)
        if out.error is not None:
            _a2a_error(rec, out)
            return
        _settle(rec, result_state(out.result)[2])
        if rec.status == "task-failed":  # why, as send shows it (only then: the ok path is untouched)
            rec.message = _reason(task_view(out.result).get("statusMessage"))

    # as stream tail: an event over this (--max-event-bytes, default 16 MiB) is oversize
    event_limit = ctx.settings.max_event_bytes

    async def stream(rec: RequestRecord, base: float) -> None:
        last: float | None = None
        answered_by_message = False
        # stream tail's lifecycle audit (protocol/lifecycle.py) and bound: the first problem found
        lifecycle = Lifecycle(client.family)
        problem: str | None = None
        events = client.stream("SendStreamingMessage", ctx.params(rec.seq))
        async with contextlib.aclosing(events):  # a break closes the stream now, not at GC
            async for item in events:
                now = perf() - base
                if not isinstance(item, TimedEvent):
                    if not isinstance(item, Heartbeat):  # an error answer (RpcOutcome / GrpcOutcome)
                        _a2a_error(rec, item)
                        break
                    continue
                rec.events += 1
                rec.bytes += item.size
                if last is None:
                    rec.ttfe = now
                else:
                    rec.gaps.append(now - last)
                last = now
                ev = item.event
                if problem is None and (item.truncated or item.size > event_limit):
                    problem = f"oversize event: {item.size} bytes, over --max-event-bytes {event_limit}"
                found = lifecycle.observe(ev)
                if found and problem is None:
                    problem = f"{found[0].rule}: {found[0].message}"
                if ev.kind == "message":
                    answered_by_message = True
                if ev.kind == "artifact-update" and rec.ttfa is None:
                    rec.ttfa = now
                if ev.state:
                    state = canonical_state(ev.state)
                    rec.state = state
                    settled = state_kind(state) in (StateKind.TERMINAL, StateKind.INTERRUPTED)
                    if rec.terminal is None and settled:
                        rec.terminal = now
                    if settled and lifecycle.ends_without_final(ev.kind):
                        # A2A 0.3 without `final: true` (@a2a-js/sdk's 0.3 compatibility sends
                        # auth-required so and keeps the stream open): nothing can follow, and waiting
                        # for the close made every such request a --timeout. As stream tail ends there.
                        # Only this case: a stream read to its close keeps its connection for reuse.
                        break
        rec.latency = perf() - base
        if rec.status != "ok":
            return
        if problem is None and rec.terminal is None and not answered_by_message:
            # as stream tail's lifecycle audit (missing-terminal): a stream that closes before a
            # terminal or interrupted state is a broken stream, not a finished task
            problem = (
                f"the stream closed in state {rec.state or 'none'} without a terminal or interrupted state"
            )
        if problem is not None:
            # what stream tail reports as a violation (exit 6) or an oversize event (exit 7) is a
            # protocol error here, as every other protocol violation of a request
            rec.status, rec.code, rec.message = "transport-error", "protocol", problem[:200]
            return
        _settle(rec, rec.state)
        if rec.status == "task-failed":  # the status message that came with the final state
            rec.message = _reason(status_text(lifecycle.status))

    async def get(rec: RequestRecord, base: float) -> None:
        out = await client.call("GetTask", {"id": ctx.task_id})
        rec.latency = perf() - base
        rec.bytes = _size(out)
        if out.error is not None:
            _a2a_error(rec, out)
            return
        _, answered, state = result_state(out.result)
        if isinstance(answered, str) and answered != ctx.task_id:
            # as task get (exit 6): an answer about another task (a cache or proxy mixing them up)
            # says nothing about this one; its state is not this task's
            rec.status, rec.code = "transport-error", "protocol"
            rec.message = f"GetTask for task {ctx.task_id!r} answered task {answered!r}"[:200]
            return
        rec.state = state

    async def handshake(rec: RequestRecord, base: float) -> None:
        from a2actl.probe.sample import one_sample
        from a2actl.transport.http import HttpTransport

        assert ctx.probe_options is not None
        async with HttpTransport(ctx.settings) as transport:
            sample = await one_sample(rec.seq, transport, ctx.card_url, ctx.probe_options, ctx.settings)
        rec.latency = perf() - base
        rec.phases = dict(sample.phases)
        if not sample.ok and sample.error is not None:
            status = sample.error.get("details", {}).get("httpStatus") if sample.error else None
            rec.status = "http-error" if status else "transport-error"
            a2a = sample.error.get("a2aCode")
            # the A2A error by name and code, as the other scenarios count it ("InternalError -32603")
            answered = (sample.rpc or {}).get("error")
            name = answered.get("name") if isinstance(answered, dict) else None
            rec.code = (
                str(status)
                if status
                else (f"{name or sample.error.get('code')} {a2a}" if a2a else sample.error_class)
            )
            if a2a:
                rec.status = "a2a-error"
            rec.message = str(sample.error.get("message", ""))[:200] or None

    table: dict[str, Scenario] = {
        "card": card,
        "send": send,
        "stream": stream,
        "get": get,
        "handshake": handshake,
    }
    return table[name]


class _Deadline:
    """One request's place in ``Deadlines``: its task until it ends (then ``None``), whether its
    deadline cancelled it, and the task's ``cancelling()`` count when it started."""

    __slots__ = ("at", "task", "fired", "cancelling")

    def __init__(self, at: float, task: asyncio.Task[Any], cancelling: int) -> None:
        self.at = at
        self.task: asyncio.Task[Any] | None = task
        self.fired = False
        self.cancelling = cancelling


class Deadlines:
    """The total ``timeout`` (seconds) of every request of a run, kept with one timer.

    ``asyncio.timeout`` schedules and cancels a loop timer per request (~10 µs of the generator's CPU
    per request with uvloop, measured); here every request has the same timeout and starts after the
    one before, so their deadlines come in order: a queue, and one timer at the oldest open deadline.
    When it fires, every request past its deadline is cancelled, exactly as ``asyncio.timeout``
    cancels it (``run_one`` turns that cancellation into the same ``timeout`` record and lets any
    other cancellation through), and the timer moves to the next open deadline. Python 3.11+
    (``Task.uncancel``); ``run_one`` without it uses ``asyncio.timeout``/``wait_for``."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._queue: deque[_Deadline] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def start(self, task: asyncio.Task[Any]) -> _Deadline:
        """Register ``task``'s request, starting now (the loop's clock)."""
        loop = asyncio.get_running_loop()
        cancelling = 0
        if sys.version_info >= (3, 11):
            cancelling = task.cancelling()
        entry = _Deadline(loop.time() + self.timeout, task, cancelling)
        self._queue.append(entry)
        if self._timer is None:
            self._timer = loop.call_at(entry.at, self._expire)
        return entry

    def end(self, entry: _Deadline) -> None:
        """The request ended (any way): forget it."""
        entry.task = None
        queue = self._queue
        while queue and queue[0].task is None:
            queue.popleft()

    def _expire(self) -> None:
        self._timer = None
        queue = self._queue
        loop = asyncio.get_running_loop()
        now = loop.time()
        while queue:
            entry = queue[0]
            if entry.task is None:
                queue.popleft()
                continue
            if entry.at > now:
                self._timer = loop.call_at(entry.at, self._expire)
                return
            queue.popleft()
            entry.fired = True
            entry.task.cancel()

    def close(self) -> None:
        """Stop the timer (the run is over)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()


def _uncancel(task: asyncio.Task[Any]) -> int:
    """``task.uncancel()`` (Python 3.11+; ``Deadlines`` is not used before)."""
    if sys.version_info >= (3, 11):
        return task.uncancel()
    raise NotImplementedError("Deadlines need Python 3.11")  # pragma: no cover


async def _run_with(scenario: Scenario, rec: RequestRecord, base: float, deadlines: Deadlines) -> None:
    task = asyncio.current_task()
    assert task is not None
    entry = deadlines.start(task)
    try:
        await scenario(rec, base)
    except asyncio.CancelledError:
        # as asyncio.timeout's __aexit__: our cancellation is a timeout, unless the task was
        # cancelled by someone else as well
        if entry.fired:
            entry.fired = False
            if _uncancel(task) <= entry.cancelling:
                raise asyncio.TimeoutError from None
        raise
    finally:
        if entry.fired:  # cancelled by its deadline, but it ended another way: take ours back
            _uncancel(task)
        deadlines.end(entry)


async def run_one(
    scenario: Scenario,
    rec: RequestRecord,
    base: float,
    timeout: float,
    deadlines: Deadlines | None = None,
) -> RequestRecord:
    """Run ``scenario`` for ``rec`` with a total ``timeout`` (seconds); an ``A2ACtlError``, the
    timeout or any other exception (its class as the code: an unmapped failure is counted, never
    lost) is recorded in ``rec`` (``transport-error``/``http-error``), never raised. ``deadlines``
    (the run's, same ``timeout``): the timeout is kept there instead of a timer per request."""
    try:
        if deadlines is not None and _UNCANCEL:
            await _run_with(scenario, rec, base, deadlines)
        elif sys.version_info >= (3, 11):  # a context manager: no extra task per request
            async with asyncio.timeout(timeout):
                await scenario(rec, base)
        else:
            await asyncio.wait_for(scenario(rec, base), timeout)
    except asyncio.TimeoutError:
        rec.latency = time.perf_counter() - base
        rec.status, rec.code = "transport-error", "timeout"
        rec.message = TimeoutError_(f"no complete answer within --timeout {timeout:g}s").message
    except A2ACtlError as err:
        rec.latency = time.perf_counter() - base
        rec.status, rec.code = error_code(err)
        rec.message = err.message[:200]
    except Exception as exc:  # noqa: BLE001 - a bug or an unmapped library error: counted, never lost
        rec.latency = time.perf_counter() - base
        rec.status, rec.code = "transport-error", type(exc).__name__
        rec.message = f"unexpected {type(exc).__name__}: {exc}"[:200]
    return rec


__all__ = [
    "SCENARIOS",
    "Deadlines",
    "Messages",
    "Scenario",
    "ScenarioContext",
    "build",
    "error_code",
    "run_one",
    "timing_metrics",
]
