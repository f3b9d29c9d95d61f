"""``stream tail``: follow a stream and account for every event, heartbeat, silence, cut and reconnect.

Records (the JSONL contract, ``docs/output-formats.md``), each a dict with ``type``:

* ``event``: ``wall`` (ISO 8601 UTC), ``t`` and ``delta`` (seconds since the start / the previous
  received item), ``kind``, ``state``, ``taskId``, ``bytes``, ``oversize``, ``violations``.
* ``heartbeat``: an SSE comment (``: ping``) or a WebSocket pong (``rtt`` in seconds).
* ``stall``: emitted by the heartbeat timer as soon as a silence passes ``--heartbeat``
  (``silentFor``, ``expected``, ``stallTimeout``), once per silence.
* ``gap``: a silence longer than ``--heartbeat`` (``seconds``, ``expected``), emitted when it ends.
* ``cut``: the connection ended before the stream did (``reason``, ``attempt``).
* ``reconnect``: a resubscribe after a cut: ``outage`` seconds and ``missed`` (what was lost:
  a state jump, artifact chunks, or a terminal state seen only via GetTask).
* ``summary`` (last): counts, bytes, duration, first-event latency, gap percentiles (constant
  memory: log buckets, exact to 2.3%; ``max`` exact), heartbeats,
  violations, cuts, final state, ``outcome`` (``completed``, ``recovered`` after cuts, ``cut``,
  ``closed-without-terminal``, ``stalled`` (silent past ``--stall-timeout``), ``max-time``) and
  ``exitCode``.

Exit codes: 5 ``--max-time`` reached; 6 the stream ended without a terminal (or interrupted) state and
could not be recovered, or the lifecycle audit found a violation; 7 a bound was exceeded (a silence
over ``--heartbeat``, a silence past ``--stall-timeout`` (default 3 x heartbeat) that ended the tail,
an event over ``--max-event-bytes``), events were missed across a reconnect, or
the task ended in a ``--fail-on`` state (``failedOn``); else 0. ``outcome`` describes the stream
(``completed``: it reached the task's end), ``finalState`` the task. A dropped stream is never
reported as success.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import A2ACtlError, A2AError, HTTPStatusError, StreamCut, TimeoutError_
from a2actl.core.stats import LogHistogram
from a2actl.protocol.events import StreamEvent
from a2actl.protocol.lifecycle import Lifecycle
from a2actl.protocol.versions import Family, StateKind, state_kind

if TYPE_CHECKING:
    from a2actl.transport.a2a import A2AClient

Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class TailOptions:
    """Bounds and reconnect policy. Seconds and bytes. ``reconnect_attempts`` resubscribes after a
    cut, waiting ``backoff`` seconds doubled each time (at most ``max_backoff``)."""

    heartbeat: float | None = None
    max_event_bytes: int | None = None
    reconnect_attempts: int = 5
    backoff: float = 0.25
    max_backoff: float = 5.0
    max_time: float | None = None
    #: Canonical task states that make a stream which reached them exit 7 (``--fail-on``).
    fail_on: frozenset[str] = frozenset()
    #: Seconds of silence after which the tail gives up (outcome ``stalled``, exit 7); ``None``:
    #: 3 x ``heartbeat`` when a heartbeat is expected, else no watchdog (``--stall-timeout``).
    stall_timeout: float | None = None

    def stall_limit(self) -> float | None:
        """The silence (seconds) that ends the tail: ``stall_timeout``, else 3 x ``heartbeat``."""
        if self.stall_timeout is not None:
            return self.stall_timeout
        return 3 * self.heartbeat if self.heartbeat is not None else None

    def delay(self, attempt: int, retry_ms: int | None = None) -> float:
        """Seconds to wait before reconnect ``attempt`` (1-based): the server's ``retry:`` when it sent
        one (SSE), else ``backoff`` doubled per attempt; never more than ``max_backoff``."""
        wanted = retry_ms / 1000 if retry_ms is not None else self.backoff * 2 ** (attempt - 1)
        return min(wanted, self.max_backoff)


_WALL_CACHE: list[Any] = [-1, ""]


def _wall() -> str:
    """UTC wall time, ISO 8601 with milliseconds and ``Z``; formatted once per millisecond (a stream
    delivers many events per millisecond and formatting dominated the per-event cost)."""
    now = time.time()
    ms = int(now * 1000)
    if ms != _WALL_CACHE[0]:
        _WALL_CACHE[0] = ms
        _WALL_CACHE[1] = (
            datetime.fromtimestamp(ms / 1000, timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
    return _WALL_CACHE[1]


@dataclass
class Tail:
    """The running account of one tail. ``emit`` receives every record as soon as it is known."""

    opts: TailOptions
    emit: Emit
    family: Family = Family.V1_0
    t0: float = field(default_factory=time.perf_counter)
    last: float | None = None
    events: int = 0
    total_bytes: int = 0
    max_bytes: int = 0
    heartbeats: int = 0
    rtts: LogHistogram = field(default_factory=LogHistogram)
    intervals: LogHistogram = field(default_factory=LogHistogram)
    stalls: list[dict[str, Any]] = field(default_factory=list)
    oversize: list[dict[str, Any]] = field(default_factory=list)
    cuts: list[dict[str, Any]] = field(default_factory=list)
    reconnects: list[dict[str, Any]] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    first_event: float | None = None
    cut_at: float | None = None
    stalled: bool = False
    lifecycle: Lifecycle = field(init=False)

    def __post_init__(self) -> None:
        self.lifecycle = Lifecycle(self.family)

    # -- arrivals ---------------------------------------------------------------------------------
    def _arrive(self, now: float) -> float:
        """Account the silence before an arrival at ``now``; returns the delta in seconds."""
        delta = now - (self.last if self.last is not None else self.t0)
        if self.last is not None:
            self.intervals.add(delta)
        self._check_silence(delta, now)
        self.last = now
        return delta

    def _check_silence(self, seconds: float, now: float) -> None:
        hb = self.opts.heartbeat
        if hb is not None and seconds > hb:
            gap = {
                "type": "gap",
                "wall": _wall(),
                "t": round(now - self.t0, 6),
                "seconds": round(seconds, 6),
                "expected": hb,
            }
            self.stalls.append(gap)
            self.emit(gap)

    def event(self, ev: StreamEvent, size: int, *, resync: bool = False, truncated: bool = False) -> None:
        # The per-event path (tens of thousands a second): no per-event allocations beyond the record.
        now = time.perf_counter()
        delta = self._arrive(now)
        if self.first_event is None:
            self.first_event = now - self.t0
        self.events += 1
        self.total_bytes += size
        if size > self.max_bytes:
            self.max_bytes = size
        limit = self.opts.max_event_bytes
        over = truncated or (limit is not None and size > limit)
        found = self.lifecycle.observe(ev, resync=resync)
        t = round(now - self.t0, 6)
        self.emit(
            {
                "type": "event",
                "wall": _wall(),
                "t": t,
                "delta": round(delta, 6),
                "kind": ev.kind,
                "state": ev.state,
                "taskId": ev.task_id,
                "bytes": size,
                "oversize": over,
                "violations": [v.to_json() for v in found] if found else [],
            }
        )
        if over:
            self.oversize.append({"t": t, "bytes": size, "limit": limit})

    def heartbeat(self, source: str, text: str = "", rtt: float | None = None) -> None:
        now = time.perf_counter()
        delta = self._arrive(now)
        self.heartbeats += 1
        if rtt is not None:
            self.rtts.add(rtt)
        self.emit(
            {
                "type": "heartbeat",
                "wall": _wall(),
                "t": round(now - self.t0, 6),
                "delta": round(delta, 6),
                "source": source,
                "text": text[:80],
                "rtt": round(rtt, 6) if rtt is not None else None,
            }
        )

    def cut(self, reason: str, attempt: int) -> None:
        now = time.perf_counter()
        self.cut_at = now
        rec = {
            "type": "cut",
            "wall": _wall(),
            "t": round(now - self.t0, 6),
            "reason": reason,
            "attempt": attempt,
            "state": self.lifecycle.state,
        }
        self.cuts.append(rec)
        self.emit(rec)

    def reconnected(self, how: str, missed: list[str]) -> None:
        now = time.perf_counter()
        outage = now - self.cut_at if self.cut_at is not None else 0.0
        rec = {
            "type": "reconnect",
            "wall": _wall(),
            "t": round(now - self.t0, 6),
            "outage": round(outage, 6),
            "via": how,
            "missed": missed,
        }
        self.missed += missed
        self.reconnects.append(rec)
        self.emit(rec)

    # -- the end ------------------------------------------------------------------------------------
    async def _watchdog(self, main: asyncio.Future[Any]) -> None:
        """The heartbeat timer: while ``main`` runs, emit a ``stall`` record as soon as the silence
        passes ``--heartbeat`` (once per silence), and cancel ``main`` when it passes the stall
        limit (``TailOptions.stall_limit``); ``finish`` then ends the tail as ``stalled``."""
        hb, limit = self.opts.heartbeat, self.opts.stall_limit()
        tick = min(x for x in (hb, limit) if x is not None) / 4
        noticed: Any = object()  # the arrival whose following silence was reported
        while not main.done():
            await asyncio.sleep(tick)
            now = time.perf_counter()
            quiet = now - (self.last if self.last is not None else self.t0)
            if hb is not None and quiet > hb and noticed is not self.last:
                noticed = self.last
                self.emit(
                    {
                        "type": "stall",
                        "wall": _wall(),
                        "t": round(now - self.t0, 6),
                        "silentFor": round(quiet, 6),
                        "expected": hb,
                        "stallTimeout": limit,
                        "state": self.lifecycle.state,
                    }
                )
            if limit is not None and quiet > limit and not main.done():
                self.stalled = True
                main.cancel()
                return

    async def finish(self, run: Any) -> dict[str, Any]:
        """Await ``run`` (a coroutine returning the outcome) under ``--max-time`` and the heartbeat
        watchdog; emit and return the summary. ``completed`` after cuts is ``recovered``; a silence
        over the stall limit ends it as ``stalled``."""
        main = asyncio.ensure_future(run)
        dog = asyncio.ensure_future(self._watchdog(main)) if self.opts.stall_limit() is not None else None
        try:
            if self.opts.max_time is not None:
                outcome = await asyncio.wait_for(main, self.opts.max_time)
            else:
                outcome = await main
        except asyncio.TimeoutError:
            outcome = "max-time"
        except asyncio.CancelledError:
            if not self.stalled:
                raise
            outcome = "stalled"
        finally:
            if dog is not None:
                dog.cancel()
        if outcome == "completed" and self.cuts:
            outcome = "recovered"
        summary = self.summary(outcome)
        self.emit(summary)
        return summary

    def summary(self, outcome: str) -> dict[str, Any]:
        now = time.perf_counter()
        if outcome in ("max-time", "cut", "closed-without-terminal", "stalled"):
            # a silence still going on at the end
            self._check_silence(now - (self.last if self.last is not None else self.t0), now)
        violations = [v.to_json() for v in self.lifecycle.violations]
        if (
            outcome in ("cut", "closed-without-terminal", "max-time")
            and not self.lifecycle.settled
            and not self.lifecycle.ended
        ):
            violations.append(
                {
                    "rule": "missing-terminal",
                    "message": f"no terminal state seen (last state {self.lifecycle.state or 'none'})",
                }
            )
        if outcome == "max-time":
            code = 5
        elif outcome == "stalled" and not self.lifecycle.violations:
            code = 7
        elif outcome in ("cut", "closed-without-terminal") or violations:
            code = 6
        elif self.stalls or self.oversize or self.missed:
            code = 7
        else:
            code = 0
        failed_on = self.lifecycle.state if self.lifecycle.state in self.opts.fail_on else None
        if failed_on and code == 0:
            code = 7
        iv = self.intervals
        return {
            "type": "summary",
            "outcome": outcome,
            "exitCode": code,
            "events": self.events,
            "bytes": self.total_bytes,
            "maxEventBytes": self.max_bytes,
            "duration": round(now - self.t0, 6),
            "firstEvent": round(self.first_event, 6) if self.first_event is not None else None,
            "gaps": {"p50": iv.quantile(50), "p99": iv.quantile(99), "max": iv.max},
            "heartbeats": self.heartbeats,
            "rtt": {"p50": self.rtts.quantile(50), "max": self.rtts.max} if self.rtts.count else None,
            "stalls": self.stalls,
            "oversize": self.oversize,
            "cuts": self.cuts,
            "reconnects": self.reconnects,
            "missed": self.missed,
            "violations": violations,
            "finalState": self.lifecycle.state,
            "taskId": self.lifecycle.task_id,
            "failedOn": failed_on,
            "stallTimeout": self.opts.stall_limit(),
        }


def _missed_after_resync(tail: Tail, snapshot: StreamEvent) -> list[str]:
    """What a resubscribe's first Task snapshot says was lost during the outage."""
    missed = []
    before = tail.lifecycle.state
    if snapshot.state and before and snapshot.state != before:
        missed.append(f"state {before} → {snapshot.state} happened during the outage")
    for art in snapshot.payload.get("artifacts") or []:
        if not isinstance(art, dict):
            continue
        aid = str(art.get("artifactId", ""))
        parts = len(art.get("parts") or art.get("content") or [])
        seen = tail.lifecycle.artifacts.get(aid, {}).get("chunks", 0)
        if parts > seen:
            missed.append(f"artifact {aid!r}: {parts - seen} chunk(s) arrived during the outage")
    return missed


async def _consume(
    tail: Tail, client: A2AClient, operation: str, params: dict[str, Any], resync: bool
) -> str:
    """Read one stream into ``tail``. Returns ``settled`` or ``closed``; raises ``StreamCut`` /
    ``TimeoutError_`` on a cut and ``A2AError`` for an error answer before any event."""
    from a2actl.transport.a2a import Heartbeat

    first = True
    async for item in client.stream(operation, params, heartbeats=True):
        if type(item) is Heartbeat:
            tail.heartbeat("ws-pong" if item.rtt is not None else "sse-comment", item.text, item.rtt)
            continue
        if not hasattr(item, "event"):
            err = item.error
            raise err.to_exception(item.method)
        if first and resync and item.event.kind == "task":
            missed = _missed_after_resync(tail, item.event)
            tail.reconnected(operation, missed)
        tail.event(item.event, item.size, resync=first and resync, truncated=item.truncated)
        first = False
        if (
            tail.lifecycle.ended
            and tail.lifecycle.settled
            or (item.event.kind == "message" and tail.lifecycle.task_id is None)
        ):
            return "settled"
    return "settled" if tail.lifecycle.settled else "closed"


async def tail_a2a(
    client: A2AClient, operation: str, params: dict[str, Any], opts: TailOptions, emit: Emit
) -> dict[str, Any]:
    """Tail ``operation`` (``SendStreamingMessage`` or ``SubscribeToTask``) with reconnects; returns
    the summary record (also emitted). Raises ``A2AError`` when the first call is refused."""
    tail = Tail(opts, emit, client.family)

    async def run() -> str:
        op, prm, resync, attempt = operation, params, False, 0
        while True:
            try:
                result = await _consume(tail, client, op, prm, resync)
                if result == "settled":
                    return "completed"
                reason, ending = (
                    "the server closed the stream before a terminal state",
                    "closed-without-terminal",
                )
            except (StreamCut, TimeoutError_) as exc:
                reason, ending = exc.message, "cut"
            except HTTPStatusError as exc:
                # A server error instead of the stream (a2a-sdk's 0.3 compat answers 500 for a
                # terminal task behind a buffering proxy): GetTask says whether the task ended.
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
                # Some servers refuse a terminal task by opening the stream and dropping it (a2a-sdk
                # 0.3's HTTP+JSON binding raises inside its SSE generator): the same question as a
                # refusal, answered the same way (GetTask; "already ended" when it is terminal).
                await _explain_refused_subscribe(client, prm.get("id"), A2AError(reason))
            task_id = tail.lifecycle.task_id
            attempt += 1
            tail.cut(reason, attempt)
            if task_id is None or attempt > opts.reconnect_attempts:
                return ending
            await asyncio.sleep(opts.delay(attempt))
            op, prm, resync = "SubscribeToTask", {"id": task_id}, True

    return await tail.finish(run())


async def _task_snapshot(client: A2AClient, task_id: Any) -> StreamEvent | None:
    """The task as GetTask answers it now, classified like a stream's first Task event; ``None`` when
    GetTask fails or answers no task."""
    out = await client.call("GetTask", {"id": task_id})
    if out.error is not None or not isinstance(out.result, dict):
        return None
    from a2actl.protocol.events import classify_event

    task = out.result.get("task", out.result)
    return classify_event({"task": task} if "kind" not in task else task)


async def _explain_refused_subscribe(client: A2AClient, task_id: Any, exc: A2AError) -> None:
    """A refused SubscribeToTask is usually a task that already ended (a2a-sdk answers a terminal task
    with -32004 UnsupportedOperation, shared doc §6.1). Ask GetTask; when the task is terminal,
    raise an ``A2AError`` that says so (same code) instead of the agent's generic one. Returns quietly
    otherwise (the caller re-raises the original)."""
    try:
        snap = await _task_snapshot(client, task_id)
    except A2ACtlError:
        return
    if snap is not None and snap.state and state_kind(snap.state) is StateKind.TERMINAL:
        raise A2AError(
            f"task {task_id} already ended ({snap.state}): there is no stream to follow",
            hint="'a2actl task get TARGET TASK_ID' shows its final state and artifacts",
            a2a_code=exc.a2a_code,
        ) from exc


async def _settle_via_get_task(tail: Tail, client: A2AClient, exc: A2AError) -> str:
    snap = await _task_snapshot(client, tail.lifecycle.task_id)
    if snap is None:
        tail.reconnected(
            "GetTask", [f"resubscribe refused ({exc.message}) and GetTask failed: the task's end is unknown"]
        )
        return "cut"
    missed = _missed_after_resync(tail, snap)
    missed.append(f"terminal state {snap.state} seen only via GetTask: the stream's last events were lost")
    tail.reconnected("GetTask", missed)
    tail.lifecycle.observe(snap, resync=True)
    return "completed" if tail.lifecycle.settled else "cut"
