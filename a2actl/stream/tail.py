"""``stream tail``: the account of one stream: every event, heartbeat, silence, cut and reconnect.

``Tail`` is the state machine (no I/O of its own: the sources in ``stream/follow.py`` and
``stream/jobs.py`` feed it); ``TailSummary`` (``stream/summary.py``) is the typed result of a tail.

Records (the JSONL contract, ``docs/output-formats.md``), each a dict with ``type``:

* ``event``: ``wall`` (ISO 8601 UTC), ``t`` and ``delta`` (seconds since the start / the previous
  received item; the events of one network read share its time, ``delta`` 0 after the first),
  ``kind``, ``state``, ``taskId``, ``bytes``, ``oversize``, ``violations``.
* ``heartbeat``: an SSE comment (``: ping``) or a WebSocket pong (``rtt`` in seconds).
* ``stall``: emitted by the heartbeat timer as soon as a silence passes ``--heartbeat``
  (``silentFor``, ``expected``, ``stallTimeout``), once per silence.
* ``gap``: a silence longer than ``--heartbeat`` (``seconds``, ``expected``), emitted when it ends.
* ``cut``: the connection ended before the stream did (``reason``, ``attempt``).
* ``reconnect``: a resubscribe after a cut: ``outage`` seconds and ``missed`` (what was lost:
  a state jump, artifact chunks, or a terminal state seen only via GetTask).
* ``summary`` (last; ``TailSummary.to_json()``): counts, bytes, duration, first-event latency, gap
  percentiles (constant memory: log buckets, exact to 2.3%; ``max`` exact), heartbeats, violations,
  cuts, final state, ``outcome`` (``completed``, ``recovered`` after cuts, ``cut``,
  ``closed-without-terminal``, ``stalled`` (silent past ``--stall-timeout``), ``max-time``,
  ``oversize`` (the stream closed right after an event over ``--max-event-bytes`` that was not read:
  the end a2actl could not read, the operator's bound, not the agent's fault)) and ``exitCode``.

Exit codes (docs/exit-codes.md, ``summary.tail_exit``): 5 ``--max-time`` reached; 6 the stream ended without
a terminal (or interrupted) state and could not be recovered, or the lifecycle audit
(``protocol/lifecycle.py``, A2A spec §3.1.2 / §4.1.3) found a violation; 7 a bound was exceeded (a
silence over ``--heartbeat``, a silence past ``--stall-timeout`` (default 3 x heartbeat) that ended
the tail, an event over ``--max-event-bytes``), events were missed across a reconnect, or the task
ended in a ``--fail-on`` state (``failedOn``); else 0. ``outcome`` describes the stream
(``completed``: it reached the task's end), ``finalState`` the task. A dropped stream is never
reported as success.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from a2actl.core.deadline import within
from a2actl.core.stats import LogHistogram
from a2actl.protocol.events import EventFields, status_text
from a2actl.protocol.lifecycle import SETTLES, Lifecycle
from a2actl.protocol.versions import Family
from a2actl.stream.summary import TailSummary, tail_exit
from a2actl.transport.channel import TimedEvent

_ZERO = LogHistogram.ZERO  # the bucket of zero gaps

#: Receives every record (a JSON-ready dict with ``type``) as soon as it is known.
Emit = Callable[[dict[str, Any]], None]

#: The ``at`` of an event that belongs to no read another event belongs to (``Tail.event``).
_NEVER = float("nan")

#: Outcomes that end the tail without the task's end being seen on the stream.
UNFINISHED = ("max-time", "cut", "closed-without-terminal", "stalled")


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
        """Seconds to wait before reconnect ``attempt`` (1-based): the server's ``retry:`` (in
        milliseconds, SSE) when it sent one, else ``backoff`` doubled per attempt; never more than
        ``max_backoff``. A negative ``retry:`` (``retry: -5``, which httpx-sse reads with ``int``)
        is not a reconnection time (WHATWG: digits only, else ignored): the backoff applies, where
        it made every reconnect at once."""
        if retry_ms is not None and retry_ms >= 0:
            wanted = retry_ms / 1000
        else:
            wanted = self.backoff * 2 ** (attempt - 1)
        return min(wanted, self.max_backoff)


#: The clock of ``wall`` (nanoseconds since the epoch); a seam for tests.
_wall_ns: Callable[[], int] = time.time_ns
_wall_ms = -1
_wall_text = ""
_wall_s = -1
_wall_prefix = ""


def wall(_time_ns: Callable[[], int] | None = None) -> str:
    """UTC wall time, ISO 8601 with milliseconds and ``Z`` (``2026-11-22T04:07:00.643Z``); formatted
    once per millisecond from a prefix formatted once per second (a stream delivers many events per
    millisecond and formatting dominated the per-event cost). Takes no argument (``_time_ns``: a
    clock in nanoseconds instead of ``time.time_ns``, for tests). ``Tail.event`` inlines the
    once-a-millisecond check."""
    global _wall_ms, _wall_text, _wall_s, _wall_prefix
    ms = (_time_ns or _wall_ns)() // 1_000_000
    if ms != _wall_ms:
        sec, frac = divmod(ms, 1000)
        if sec != _wall_s:
            _wall_s = sec
            _wall_prefix = datetime.fromtimestamp(sec, timezone.utc).isoformat(timespec="seconds")[:19]
        _wall_ms = ms
        _wall_text = f"{_wall_prefix}.{frac:03d}Z"
    return _wall_text


@dataclass
class Tail:
    """The running account of one tail. Feed it with ``event``, ``heartbeat``, ``cut`` and
    ``reconnected``; ``finish`` runs the source under ``--max-time`` and the stall watchdog and returns
    the ``TailSummary``. ``emit`` receives every record (not the summary) as soon as it is known.
    ``clock`` (seconds, monotonic) and ``wall_clock`` (the ``wall`` text) are seams for tests."""

    opts: TailOptions
    emit: Emit
    family: Family = Family.V1_0
    clock: Callable[[], float] = time.perf_counter
    wall_clock: Callable[[], str] = wall
    #: ``with together():`` the records emitted inside are written together when it exits (one
    #: write per list a source hands on, a network read or a slice of one: ``Output.together``).
    together: Callable[[], AbstractContextManager[None]] = nullcontext
    t0: float = field(init=False)
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
    #: The last event was over the buffering bound and not read (``TimedEvent.truncated``): a stream
    #: that closes right after it may have ended in it (``follow.tail_a2a``: outcome ``oversize``).
    last_unread: bool = False
    lifecycle: Lifecycle = field(init=False)

    def __post_init__(self) -> None:
        self.t0 = self.clock()
        self.lifecycle = Lifecycle(self.family)
        # read per call of ``take`` / ``_read``: one attribute each, not two
        self._limit = self.opts.max_event_bytes
        self._wall_cached = self.wall_clock is wall
        # ``_zero_gaps`` counts the zero gaps inside a read in the ZERO bucket of ``intervals`` directly
        # (``_settle_gaps`` brings its count and max up to date)
        self._gaps = self.intervals.buckets
        self._gap_max = -1.0  # 0.0 once ``_zero_gaps`` counted a zero gap
        # the network read ``take`` saw last: its items' ``at``, and the ``t`` and ``wall`` it gave
        # them (NaN: equal to nothing, not even itself)
        self._read_at = _NEVER
        self._read_t = 0.0
        self._read_wall = ""

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
        """Emit (and keep) a ``gap`` record for a silence of ``seconds`` over ``--heartbeat``."""
        hb = self.opts.heartbeat
        if hb is not None and seconds > hb:
            gap = {
                "type": "gap",
                "wall": self.wall_clock(),
                "t": round(now - self.t0, 6),
                "seconds": round(seconds, 6),
                "expected": hb,
            }
            self.stalls.append(gap)
            self.emit(gap)

    def _read(self, at: float) -> tuple[float, str, float, bool]:
        """The time of the network read tagged ``at`` (``TimedEvent.at``, ``Heartbeat.at``) as
        ``(t, wall, delta, new)``: seconds since the start and the silence before the read, both to
        the microsecond, and whether the read is new. The read seen last keeps its ``t`` and
        ``wall`` (``delta`` 0.0, not new); another is one new reading of ``clock``, the silence
        before it accounted (``_arrive``), and is remembered as the last read."""
        if at == self._read_at:
            return self._read_t, self._read_wall, 0.0, False
        now = self.clock()
        delta = self._arrive(now)
        t = round((now - self.t0) * 1e6) / 1e6
        if self._wall_cached:  # wall() inlined: its text changes once a millisecond
            text = _wall_text if _wall_ns() // 1_000_000 == _wall_ms else wall()
        else:
            text = self.wall_clock()
        self._read_at, self._read_t, self._read_wall = at, t, text
        return t, text, round(delta * 1e6) / 1e6, True

    def _zero_gaps(self, count: int) -> None:
        """Count ``count`` gaps of 0 (the items of a read after its first) in the ``ZERO`` bucket of
        ``intervals`` directly (``_settle_gaps`` brings its count and max up to date)."""
        if count > 0:
            self._gaps[_ZERO] = self._gaps.get(_ZERO, 0) + count
            if self._gap_max < 0:
                self._gap_max = 0.0

    def event(
        self, ev: EventFields, size: int, resync: bool = False, truncated: bool = False, at: float = _NEVER
    ) -> None:
        """One stream event of ``size`` bytes: audited (``resync``: the first event after a
        resubscribe) and emitted as an ``event`` record. ``truncated``: it was over the buffering bound
        and not read, so it counts as oversize whatever ``--max-event-bytes`` says. ``at``: the time
        tag of the network read it came in (``SSEItem.at``): consecutive events with the same tag
        share one time, as in ``take``; by default every event is timed on its own. ``take`` of one."""
        self.take([(at, size, ev, truncated)], 0, resync)

    def take(self, items: list[Any], start: int = 0, resync: bool = False) -> tuple[int, bool]:
        """Account the events of ``items`` (one network read's list, a channel's ``stream_batches``:
        each an ``EventTuple``, or a ``TimedEvent``) from ``start`` on, each as an ``event`` record,
        until an item that is neither (a heartbeat or an error answer: the caller's) or the event that ends the
        stream. ``resync``: ``items[start]`` is the first event after a resubscribe. Returns the index
        of the next item to look at and whether the stream is over (the lifecycle ended in a settled
        state, or a bare message answered without a task).

        Time: the events of one network read arrived together, so they share one reading of
        ``clock`` (``t``, ``wall``), taken when the first of them is accounted; the first one's
        ``delta`` is the silence before the read, the others' ``0.0`` (counted as zero gaps).
        Events of one read carry the same ``TimedEvent.at``, which is how a read handed on in
        several lists (``A2AClient.stream_batches`` slices a long one) is known as one. Timing each
        event as it is processed would measure a2actl's own speed (~10 µs an event), not the stream.

        The per-event path (100k a second): one call per read, not per event; the options and
        counters in locals (written back at the end, also when ``emit`` raises); the read's time
        taken once (``_read``); ``Lifecycle.observe`` not called for its no-op case (another
        status update of the stream's task in the known, unsettled state it is in); times to the
        microsecond as round(x * 1e6) / 1e6 (round(x, 6) costs ~10x more; the two differ only on an
        exact tie, by 1 µs)."""
        i, n = start, len(items)
        if i >= n or (type(items[i]) is not tuple and type(items[i]) is not TimedEvent):
            return i, False
        emit, lc, limit = self.emit, self.lifecycle, self._limit
        observe, settles = lc.observe, SETTLES
        v1 = lc.family is Family.V1_0  # 0.3 also reads ``final`` in the payload (observe)
        events, total, biggest = self.events, self.total_bytes, self.max_bytes
        unread = self.last_unread
        # the read's time: once for all its events (only the first of a new read has a delta)
        t, text, delta, new = self._read(items[i][0])
        if self.first_event is None:
            self.first_event = t
        first = i if new else i - 1  # the gaps after the read's first item are zero gaps
        # observe's no-op case: a status update of this task in the state it is in, while that
        # state is known and unsettled and nothing ended; refreshed after every observe call
        lc_state, lc_task = lc.state, lc.task_id
        quiet = lc_state is not None and settles.get(lc_state) is False and not lc.ended and not resync
        done = False
        try:
            while i < n:
                item = items[i]
                if type(item) is not tuple and type(item) is not TimedEvent:
                    break
                _, size, ev, truncated = item
                unread = truncated
                i += 1
                events += 1
                total += size
                if size > biggest:
                    biggest = size
                kind, state, task_id, final, payload = ev
                if (
                    quiet
                    and kind == "status-update"
                    and state == lc_state
                    and task_id == lc_task
                    and not final
                    # 0.3 reads `final`; a 1.0 event in 0.3's shape (`kind`) is observe's wire-version
                    and ("kind" not in payload if v1 else payload.get("final") is not True)
                ):
                    violations: list[dict[str, str]] = []
                else:
                    found = observe(ev, resync=resync)
                    violations = [v.to_json() for v in found] if found else []
                    resync = False
                    lc_state, lc_task = lc.state, lc.task_id
                    settled = settles.get(lc_state) if lc_state is not None else False
                    quiet = settled is False and not lc.ended
                    if lc.ended and lc.settled or (kind == "message" and lc_task is None):
                        done = True
                    elif settled and kind != "task":
                        # A status update in a terminal or interrupted state ends the task's stream
                        # in 0.3 too when the server leaves out `final: true` (@a2a-js/sdk's 0.3
                        # compatibility sends auth-required so, and keeps the stream open): nothing
                        # can follow on it, and waiting for the close ran to --max-time (exit 5),
                        # where `handshake probe --send` called the same stream ended.
                        done = True
                    elif kind == "task" and lc.terminal:
                        # A Task event in a terminal state: the task is over (a terminal state is
                        # final), whether or not the server closes the stream; waiting for the
                        # close ran to --max-time (exit 5) on a completed task. Not the audit's
                        # end: a 0.3 agent may still send its `final: true` update, which is no
                        # violation (we just do not wait for it).
                        done = True
                over = truncated or (limit is not None and size > limit)
                emit(
                    {
                        "type": "event",
                        "wall": text,
                        "t": t,
                        "delta": delta,
                        "kind": kind,
                        "state": state,
                        "taskId": task_id,
                        "bytes": size,
                        "oversize": over,
                        "violations": violations,
                    }
                )
                delta = 0.0  # the rest of the read arrived with it
                if over:
                    self.oversize.append({"t": t, "bytes": size, "limit": limit})
                if done:
                    break
        finally:
            self.events, self.total_bytes, self.max_bytes = events, total, biggest
            self.last_unread = unread
            self._zero_gaps(i - first - 1)
        return i, done

    def heartbeat(self, source: str, text: str = "", rtt: float | None = None, at: float = _NEVER) -> None:
        """A heartbeat from ``source`` (``sse-comment`` with the comment's ``text``, or ``ws-pong``
        with its round trip ``rtt`` in seconds), emitted as a ``heartbeat`` record. ``at``: the time
        tag of the network read it came in, as for ``take``: a comment of a read shares its time
        with the read's events (before or after it), ``delta`` 0 unless it is the read's first item."""
        t, stamp, delta, new = self._read(at)
        if not new:
            self._zero_gaps(1)
        self.heartbeats += 1
        if rtt is not None:
            self.rtts.add(rtt)
        self.emit(
            {
                "type": "heartbeat",
                "wall": stamp,
                "t": t,
                "delta": delta,
                "source": source,
                "text": text[:80],
                "rtt": round(rtt, 6) if rtt is not None else None,
            }
        )

    def cut(self, reason: str, attempt: int, *, outage_goes_on: bool = False) -> None:
        """The connection ended before the stream did (``attempt``: the reconnect about to be tried,
        1-based): a ``cut`` record. ``outage_goes_on``: a reconnect that failed before any event (it
        could not connect, or was cut again at once): the outage began at the earlier cut, and the
        ``reconnect`` record's ``outage`` counts from there."""
        now = self.clock()
        if not (outage_goes_on and self.cut_at is not None):
            self.cut_at = now
        self._read_at = _NEVER  # the next stream's reads are new ones, whatever their ``at``
        rec = {
            "type": "cut",
            "wall": self.wall_clock(),
            "t": round(now - self.t0, 6),
            "reason": reason,
            "attempt": attempt,
            "state": self.lifecycle.state,
        }
        self.cuts.append(rec)
        self.emit(rec)

    def reconnected(self, how: str, missed: list[str]) -> None:
        """A reconnect ``how`` (``SubscribeToTask``, ``GetTask``, ``Last-Event-ID``, ``GET``) after the
        last cut, with what was ``missed`` during the outage (any: exit 7): a ``reconnect`` record."""
        now = self.clock()
        outage = now - self.cut_at if self.cut_at is not None else 0.0
        rec = {
            "type": "reconnect",
            "wall": self.wall_clock(),
            "t": round(now - self.t0, 6),
            "outage": round(outage, 6),
            "via": how,
            "missed": missed,
        }
        self.missed += missed
        self.reconnects.append(rec)
        self.emit(rec)

    # -- the end ------------------------------------------------------------------------------------
    async def _watchdog(self, main: asyncio.Future[str]) -> None:
        """The heartbeat timer: while ``main`` runs, emit a ``stall`` record as soon as the silence
        passes ``--heartbeat`` (once per silence), and cancel ``main`` when it passes the stall
        limit (``TailOptions.stall_limit``); ``finish`` then ends the tail as ``stalled``."""
        hb, limit = self.opts.heartbeat, self.opts.stall_limit()
        tick = min(x for x in (hb, limit) if x is not None) / 4
        noticed: object = object()  # the arrival whose following silence was reported
        while not main.done():
            await asyncio.sleep(tick)
            now = self.clock()
            quiet = now - (self.last if self.last is not None else self.t0)
            if hb is not None and quiet > hb and noticed is not self.last:
                noticed = self.last
                self.emit(
                    {
                        "type": "stall",
                        "wall": self.wall_clock(),
                        "t": round(now - self.t0, 6),
                        "silentFor": round(quiet, 6),
                        "expected": hb,
                        "stallTimeout": limit,
                        "state": self.lifecycle.state,
                    }
                )
            if limit is not None and quiet > limit and not main.done():
                self.stalled = True
                while not main.done():  # again until it stops: a cancel can be absorbed below
                    main.cancel()
                    await asyncio.wait({main}, timeout=0.05)
                return

    async def finish(self, run: Coroutine[Any, Any, str]) -> TailSummary:
        """Await ``run`` (the source: a coroutine returning the outcome) under ``--max-time`` and the
        heartbeat watchdog, and return the summary (not emitted: the caller writes it). ``completed``
        after cuts is ``recovered``; a silence over the stall limit ends it as ``stalled``; an
        ``asyncio.CancelledError`` from elsewhere (Ctrl-C) propagates."""
        main = asyncio.ensure_future(run)
        dog = asyncio.ensure_future(self._watchdog(main)) if self.opts.stall_limit() is not None else None
        try:
            if self.opts.max_time is not None:
                outcome = await within(main, self.opts.max_time)
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
        if self.stalled:  # the watchdog gave up, even if the source absorbed the cancel and returned
            outcome = "stalled"
        if outcome == "completed" and self.cuts:
            outcome = "recovered"
        return self.summary(outcome)

    def _settle_gaps(self) -> None:
        """Bring ``intervals``' count and max up to date with the gaps ``event`` put in its buckets
        directly (every sample is one bucket count, so the count is their sum)."""
        iv = self.intervals
        iv.count = sum(iv.buckets.values())
        if self._gap_max >= 0 and (iv.max is None or self._gap_max > iv.max):
            iv.max = self._gap_max

    def summary(self, outcome: str) -> TailSummary:
        """The summary of the tail ending now with ``outcome``. A silence still going on at an
        unfinished end is reported (a ``gap`` record); an unsettled stream that ended gets a
        ``missing-terminal`` violation."""
        now = self.clock()
        self._settle_gaps()
        if outcome in UNFINISHED:
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
        failed_on = self.lifecycle.state if self.lifecycle.state in self.opts.fail_on else None
        code = tail_exit(
            outcome,
            audit_failed=bool(self.lifecycle.violations),
            violations=bool(violations),
            bounds_exceeded=bool(self.stalls or self.oversize or self.missed),
            failed_on=failed_on,
        )
        iv = self.intervals
        return TailSummary(
            outcome=outcome,
            exit=code,
            events=self.events,
            total_bytes=self.total_bytes,
            max_event_bytes=self.max_bytes,
            duration=round(now - self.t0, 6),
            first_event=round(self.first_event, 6) if self.first_event is not None else None,
            gaps={"p50": iv.quantile(50), "p99": iv.quantile(99), "max": iv.max},
            heartbeats=self.heartbeats,
            rtt={"p50": self.rtts.quantile(50), "max": self.rtts.max} if self.rtts.count else None,
            stalls=self.stalls,
            oversize=self.oversize,
            cuts=self.cuts,
            reconnects=self.reconnects,
            missed=self.missed,
            violations=violations,
            final_state=self.lifecycle.state,
            task_id=self.lifecycle.task_id,
            failed_on=failed_on,
            stall_timeout=self.opts.stall_limit(),
            # only a settled state's: the status updates of an unsettled state that repeat it are
            # not audited one by one (``take``'s fast path), so its message may be an early one
            status_message=status_text(self.lifecycle.status) if self.lifecycle.settled else None,
        )
