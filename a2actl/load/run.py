"""Run a load test: the closed and open load models over one scenario (``a2actl load run``).

Load models, named as the field names them:

* **closed** (``-c N``): N workers, each sending its next request when its last one finished, until
  ``-n`` requests were sent or ``--duration`` passed. Latency counts from each request's actual
  start, so a stalled agent slows the *arrivals* instead of showing in the latencies (coordinated
  omission): a 1 s stall costs each worker one slow request, whatever the rate would have been.
* **open** (``--rate R``): arrivals on a fixed schedule, ``R`` per second (after an optional linear
  ``--ramp`` from 0 over T seconds), whatever the agent does. Latency counts from each request's
  *intended* send time, so time spent waiting behind a stall is counted (the rule wrk2 and vegeta
  follow). ``--max-in-flight`` is the safety cap: an arrival that finds the cap full waits in a
  backlog of the same size (its wait shows as schedule lag and in its latency); an arrival that
  finds the backlog full too is dropped and counted (``dropped``), as are arrivals still waiting
  when the run ends.

Schedule lag (``lag``) is how late each request actually started: the generator's own delay (a busy
client) plus any wait for the cap. ``--abort-on-fail`` stops the run as soon as a threshold fails
(checked twice a second after the first second), like k6's ``abortOnFail``.

A run is cut two ways: ``--max-time`` cancels the requests in flight at once; Ctrl-C or SIGTERM
(``asyncio.run`` cancels the main task) stops sending, gives the requests in flight up to
``INTERRUPT_GRACE`` seconds to be answered, then cancels the rest. Either way the report of what was
measured is returned (``timed_out``, ``interrupted``), the cancelled requests counted as
``cancelled``: sent, but neither answers nor errors of the agent.

The client is ``FastTransport`` (aiohttp, ``a2actl.transport.fast``) with at most
``--max-in-flight`` (open) or ``-c`` (closed) connections; ``handshake`` opens an httpx connection
per request, as ``handshake probe`` does.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from a2actl.core.errors import A2ACtlError, TimeoutError_, UsageError
from a2actl.core.gcpause import quiet_gc
from a2actl.load.metrics import Recorder, RequestRecord
from a2actl.load.report import LoadReport, ModelSpec, Progress, rates_of
from a2actl.load.scenarios import Deadlines, Messages, Scenario, ScenarioContext, build, run_one
from a2actl.load.thresholds import Threshold, check_binding, evaluate

if TYPE_CHECKING:
    from collections.abc import Collection

    from a2actl.agent.connect import AgentClient
    from a2actl.agent.target import Target
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.transport.base import Transport
    from a2actl.transport.fast import FastTransport


#: Seconds the requests in flight get to be answered after Ctrl-C or SIGTERM, before they are
#: cancelled (short: a CI runner that sent SIGTERM kills the job a few seconds later; within the
#: ``core.deadline`` stop grace, so ``--max-time``'s wrapper waits for it).
INTERRUPT_GRACE = 2.0


@dataclass
class LoadOptions:
    """What to run. ``model`` says closed (``concurrency``) or open (``rate`` per second, ``ramp``
    seconds, ``max_in_flight``); ``requests`` and/or ``duration`` (seconds) end the run;
    ``timeout`` bounds each request (seconds, total)."""

    target: Target
    scenario: str
    model: ModelSpec
    messages: Messages
    timeout: float = 30.0
    thresholds: tuple[Threshold, ...] = ()
    abort_on_fail: bool = False
    card_path: str | None = None
    progress_every: float = 0.5
    #: ``--max-time`` (seconds): at this point of the run nothing new starts, requests in flight
    #: are cancelled, and the report is written as it stands (exit 5).
    max_time: float | None = None
    #: ``time.perf_counter()`` from which ``max_time`` counts (the command's start, so reading
    #: ``--messages``/``--data @FILE`` is inside it); ``None``: the run's own start.
    clock_start: float | None = None


@dataclass
class _State:
    """Live counters the models and the progress reporter share."""

    recorder: Recorder
    started: float
    in_flight: int = 0
    sent: int = 0
    stop: bool = False
    aborted: str | None = None
    #: perf_counter when the last request was started (the end of the sending window)
    sending_ended: float | None = None
    #: perf_counter of the last answer (the end of the answer window, when nothing was cut)
    last_answer: float | None = None
    timed_out: bool = False
    #: Ctrl-C or SIGTERM: sending stopped, the requests in flight get ``INTERRUPT_GRACE``
    interrupted: bool = False
    #: perf_counter when Ctrl-C or SIGTERM came (the report says when, not when the grace ended)
    interrupted_at: float | None = None
    recent: deque[float] = field(default_factory=deque)
    #: ``on_record`` raised (its output failed): no more records, the run stopped
    unrecorded: bool = False
    #: the open model's wait for its next arrival, woken early by ``wake`` (``--abort-on-fail``)
    nap: asyncio.Future[None] | None = None
    #: ``(perf_counter, sent)`` at the progress ticks of the last second (the live sending rate)
    sends: deque[tuple[float, int]] = field(default_factory=deque)


class LoadRun:
    """One load run: ``await LoadRun(opts, settings).run(on_record, on_progress)`` → ``LoadReport``."""

    def __init__(self, opts: LoadOptions, settings: Settings, sink: EventSink | None = None) -> None:
        self.opts = opts
        self.settings = settings
        self.sink = sink

    async def _prepare(self, transport: Transport) -> ScenarioContext:
        """Connect (card, negotiation) and, for ``get``, create the task. Raises the connection's
        error (``UnreachableError`` 3 …) before any load is sent."""
        from a2actl.agent.connect import channel_for, check_grpc_extra, close_client
        from a2actl.agent.discovery import fetch_card

        opts = self.opts
        if not opts.target.is_remote:
            raise UsageError("load run needs a URL, not a card file")
        check_grpc_extra(self.settings)
        fetched = await fetch_card(transport, opts.target, opts.card_path)
        client = channel_for(fetched, self.settings, transport)
        try:
            # --binding auto: the interface is known now, before any load is sent; a threshold on
            # a gRPC phase of a run on another binding could only fail "no samples" (exit 7) at the end
            binding = client.selection.interface.protocol_binding
            check_binding(opts.thresholds, {binding}, f"the card's interface chosen is {binding}")
            return await self._context(client, fetched.source)
        except BaseException:
            await close_client(client)
            raise

    async def _prepare_within(self, transport: Transport, begun: float) -> ScenarioContext:
        """``_prepare`` under ``--max-time`` (``opts.max_time`` seconds counted from ``begun``, a
        ``perf_counter``): a card that never ends (an agent that sends a byte per read, each within
        ``--timeout``) held the run past it. Raises ``TimeoutError_`` (5) at the deadline, before
        any load was sent, and what ``_prepare`` raises."""
        limit = self.opts.max_time
        if limit is None:
            return await self._prepare(transport)
        from a2actl.core.deadline import within

        try:
            left = limit - (time.perf_counter() - begun)
            if left <= 0:  # reading the messages took it all
                raise asyncio.TimeoutError
            return await within(self._prepare(transport), left)
        except asyncio.TimeoutError as exc:
            raise TimeoutError_(
                f"gave up after --max-time {limit:g}s while connecting (card, negotiation): no load was sent",
                hint="raise --max-time, or look for the slow phase with -vv",
            ) from exc

    async def _context(self, client: AgentClient, card_url: str) -> ScenarioContext:
        """The scenarios' context on ``client``; for ``get``, the task they read."""
        from a2actl.probe.report import ProbeOptions

        opts = self.opts
        open_channel = getattr(client, "open_channel", None)
        if open_channel is not None and opts.scenario != "card":
            # a gRPC channel's options (--insecure, --cert/--key files) are checked now: a usage
            # error (exit 2) before the run, not one counted for every request of it
            open_channel()
        ctx = ScenarioContext(client, card_url, self.settings, opts.messages)
        if opts.scenario == "handshake":
            ctx.probe_options = ProbeOptions(target=opts.target, card_path=opts.card_path)
        if opts.scenario == "get":
            from a2actl.protocol.events import task_view

            out = await client.call("SendMessage", ctx.params(0))
            if out.error is not None:
                raise out.error.to_exception("creating the task for --scenario get")
            view = task_view(out.result)
            if view.get("kind") != "task" or not view.get("id"):
                raise A2ACtlError(
                    "the agent answered the set-up message with a Message, not a Task: "
                    "--scenario get has no task to read",
                    hint="send a message that starts a task (--text), or use --scenario send",
                )
            ctx.task_id = str(view["id"])
        return ctx

    async def run(
        self,
        on_record: Callable[[RequestRecord], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> LoadReport:
        """Connect, run the model until its end (or an abort), wait for requests in flight, and
        return the report. ``on_record`` gets every request as it finishes (``-o jsonl``); when it
        raises (its output failed: a full disk, a closed pipe), it gets no more, and the run stops as
        ``--abort-on-fail`` stops it (``aborted`` says so): the caller, which knows what failed, has
        the report of what was measured. ``on_progress`` gets a snapshot every ``progress_every``
        seconds (the stderr line); ``None``: no snapshot is made.

        Raises what connecting raises (2 usage, 3 unreachable, 4 auth, 5 timeout, 6 protocol);
        request failures during the run are counted, never raised. Cancelled once the load has
        started (Ctrl-C, SIGTERM), it returns the report of what was measured, ``interrupted``
        (exit 130), instead of the cancellation."""
        from a2actl.transport.fast import FastTransport

        model = self.opts.model
        connections = model.max_in_flight if model.kind == "open" else model.concurrency
        wall_start = time.time()
        begun = self.opts.clock_start if self.opts.clock_start is not None else time.perf_counter()
        async with FastTransport(self.settings, self.sink, max_connections=max(1, connections)) as transport:
            ctx = await self._prepare_within(transport, begun)
            try:
                return await self._run(ctx, transport, wall_start, on_record, on_progress, begun)
            finally:
                close = getattr(ctx.client, "aclose", None)  # a GrpcClient's channel
                if close is not None:
                    await close()

    async def _run(
        self,
        ctx: ScenarioContext,
        transport: FastTransport,
        wall_start: float,
        on_record: Callable[[RequestRecord], None] | None,
        on_progress: Callable[[Progress], None] | None,
        begun: float,
    ) -> LoadReport:
        """The run proper, on a prepared context (``run`` connects and closes); ``--max-time`` counts
        from ``begun`` (``opts.clock_start``, else ``perf_counter`` before connecting), so
        connecting is inside it."""
        opts, model = self.opts, self.opts.model
        scenario = build(opts.scenario, ctx)
        # From here every request's whole time is bounded by --timeout (run_one), which is the
        # read timeout: no per-read timer on top.
        transport.read_timeouts = opts.timeout > self.settings.read_timeout
        state = _State(Recorder(), time.perf_counter())

        live = on_progress is not None  # the answers of the last second: only the progress line's

        def finished(rec: RequestRecord) -> None:
            state.recorder.add(rec)
            if rec.status != "dropped":  # the progress line's rate is of answers, not of drops
                state.last_answer = time.perf_counter()
                if live:
                    state.recent.append(state.last_answer)
            if on_record is not None and not state.unrecorded:
                try:
                    on_record(rec)
                except Exception:  # noqa: BLE001 - the caller's output failed; the caller keeps what
                    # (a full disk, a closed pipe under -o jsonl): stop as --abort-on-fail does, so
                    # the report of what was measured is still returned (--out is written from it)
                    state.unrecorded = state.stop = True
                    state.aborted = state.aborted or "stopped: a request's record could not be written"
                    if state.nap is not None:
                        _wake(state.nap)  # the open model's wait for its next arrival

        async def bounded() -> None:
            work = (
                self._open(scenario, state, finished)
                if model.kind == "open"
                else self._closed(scenario, state, finished)
            )
            if opts.max_time is None:
                await work
                return
            from a2actl.core.deadline import within

            try:
                await within(work, max(0.0, opts.max_time - (time.perf_counter() - begun)))
            except asyncio.TimeoutError:
                state.timed_out = True
                state.aborted = (
                    f"stopped at --max-time {opts.max_time:g}s; requests in flight were cancelled "
                    "(counted as cancelled, not as errors)"
                )

        watcher = asyncio.ensure_future(self._watch(state, on_progress))
        try:
            with quiet_gc():
                # its own task, shielded: Ctrl-C cancels this one, and the run then stops as it
                # chooses (_interrupt) instead of having every request cancelled under it
                job = asyncio.ensure_future(bounded())
                try:
                    await asyncio.shield(job)
                except asyncio.CancelledError:
                    await self._interrupt(job, state)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        end = time.perf_counter()
        elapsed = end - state.started
        window = (state.sending_ended or end) - state.started
        cancelled = max(0, state.sent - state.recorder.answered)
        # the throughput's window: to the last answer; to the cut when requests were still waiting
        # for theirs (an agent that answered nothing more was still the bottleneck until then)
        answered_end = end if cancelled else state.last_answer
        if state.interrupted:
            came = (state.interrupted_at or end) - state.started
            state.aborted = f"interrupted (Ctrl-C or SIGTERM) after {came:.1f}s: sending stopped" + (
                f"; {cancelled} requests still in flight after {INTERRUPT_GRACE:g}s were cancelled "
                "(counted as cancelled, not as errors)"
                if cancelled
                else ""
            )
        return LoadReport.build(
            target=opts.target.value,
            scenario=opts.scenario,
            model=model,
            negotiated=ctx.client.selection.to_json(),
            recorder=state.recorder,
            started_at=wall_start,
            elapsed=elapsed,
            window=window,
            answer_window=None if answered_end is None else answered_end - state.started,
            cancelled=cancelled,
            interrupted=state.interrupted,
            thresholds=opts.thresholds,
            aborted=state.aborted,
            timed_out=state.timed_out,
            timeout=opts.timeout,
            client={"http": "httpx" if opts.scenario == "handshake" else "aiohttp", "loop": _loop_name()}
            | ({"grpc": "grpcio"} if getattr(ctx.client, "binding", None) == "GRPC" else {}),
            # the abort is the record's (its output failed), not a threshold's
            unrecorded=state.unrecorded,
        )

    @staticmethod
    async def _interrupt(job: asyncio.Future[None], state: _State) -> None:
        """Ctrl-C or SIGTERM cancelled the run: stop sending, let the model give its requests in
        flight ``INTERRUPT_GRACE`` (``_wind_down``), and take the cancellation back so the report is
        returned. A second Ctrl-C is ``asyncio.run``'s ``KeyboardInterrupt``: at once, no report."""
        state.interrupted = True
        state.interrupted_at = time.perf_counter()
        state.stop = True
        job.cancel()
        await asyncio.wait({job})
        if not job.cancelled():
            job.exception()  # retrieved: an error raised while stopping is not the outcome
        task = asyncio.current_task()
        uncancel = getattr(task, "uncancel", None)  # Python 3.11+: the cancellation is handled
        if uncancel is not None:
            uncancel()

    async def _closed(
        self, scenario: Scenario, state: _State, finished: Callable[[RequestRecord], None]
    ) -> None:
        model, timeout = self.opts.model, self.opts.timeout
        deadline = state.started + model.duration if model.duration else None
        perf = time.perf_counter
        deadlines = Deadlines(timeout)

        async def worker() -> None:
            while not state.stop:
                if model.requests is not None and state.sent >= model.requests:
                    return
                now = perf()
                if deadline is not None and now >= deadline:
                    return
                state.sending_ended = now
                seq = state.sent
                state.sent += 1
                state.in_flight += 1
                rec = RequestRecord(seq, now - state.started)
                try:
                    await run_one(scenario, rec, now, timeout, deadlines)
                finally:
                    state.in_flight -= 1
                finished(rec)

        create_task = asyncio.get_running_loop().create_task
        workers = [create_task(worker()) for _ in range(model.concurrency)]
        try:
            # not gather: cancelling it (Ctrl-C, --max-time) would cancel every request at once
            await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            failed = next((w for w in workers if not w.cancelled() and w.done() and w.exception()), None)
            if failed is not None:
                state.stop = True
                await _wind_down(workers, 0.0)
                for w in workers:  # every error retrieved: workers that failed together (a closed
                    if not w.cancelled():  # stdout) are one failure, not "never retrieved" on stderr
                        w.exception()
                failed.result()  # raised: an error of the generator itself (a closed stdout …)
        except asyncio.CancelledError:
            state.stop = True
            await _wind_down(workers, INTERRUPT_GRACE if state.interrupted else 0.0)
            for w in workers:  # a record that failed to be written in the grace (a closed stdout):
                if not w.cancelled():  # retrieved, not "never retrieved" on stderr; the run is cut
                    w.exception()
            raise
        finally:
            deadlines.close()

    async def _open(
        self, scenario: Scenario, state: _State, finished: Callable[[RequestRecord], None]
    ) -> None:
        model, timeout = self.opts.model, self.opts.timeout
        cap = model.max_in_flight
        perf = time.perf_counter
        start = state.started
        tasks: set[asyncio.Task[None]] = set()
        backlog: deque[RequestRecord] = deque()
        schedule_over = False
        deadlines = Deadlines(timeout)
        # an error of the generator itself in a request's task (-o jsonl into a closed stdout): the
        # first one ends the run, raised by this coroutine, as a worker's ends the closed model
        broken: Exception | None = None
        runner = asyncio.current_task()

        async def one(rec: RequestRecord) -> None:
            nonlocal broken
            now = perf()
            base = min(start + rec.scheduled, now)  # woken up to 0.8 ms early: count from the start
            rec.lag = now - base
            try:
                await run_one(scenario, rec, base, timeout, deadlines)
            finally:
                state.in_flight -= 1
            try:
                finished(rec)
            except Exception as exc:  # noqa: BLE001 - raised by _open, not left in this task
                if broken is None and runner is not None:
                    broken, state.stop = exc, True
                    runner.cancel()  # wakes the schedule's sleep or the wait for the requests in flight
                return
            while backlog and state.in_flight < cap and not state.stop and not schedule_over:
                launch(backlog.popleft())

        loop = asyncio.get_running_loop()
        create_task = loop.create_task  # not ensure_future's checks per arrival
        create_future, call_later = loop.create_future, loop.call_later

        def launch(rec: RequestRecord) -> None:
            state.in_flight += 1
            state.sent += 1
            state.sending_ended = perf()
            task = create_task(one(rec))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        def drop(rec: RequestRecord) -> None:
            rec.status = "dropped"
            finished(rec)

        seq = 0
        try:
            while not state.stop:
                at = model.arrival(seq)
                if at is None:
                    break
                wait = start + at - perf()
                if wait > 0.001:
                    # epoll rounds its timeout up to whole milliseconds: wake a little early instead
                    # of about 1 ms late (measured: lag p50 1.0 ms → ~0.1 ms at 40 req/s). What
                    # asyncio.sleep does, with the future kept, so that --abort-on-fail ends the wait
                    # at once (_wake) instead of after up to an interval (60 s at --rate 1/m)
                    state.nap = nap = create_future()
                    timer = call_later(wait - 0.0008, _wake, nap)
                    try:
                        await nap
                    finally:
                        timer.cancel()
                    if state.stop:
                        break
                rec = RequestRecord(seq, at)
                seq += 1
                if state.in_flight < cap:
                    launch(rec)
                elif len(backlog) < cap:
                    backlog.append(rec)
                else:
                    drop(rec)
                if wait <= 0.001 and seq % 64 == 0:
                    await asyncio.sleep(0)  # behind schedule: let the requests run between bursts
            # The schedule is over (or aborted): arrivals still waiting for the cap never started,
            # so they are dropped now, not sent after the end of --duration.
            schedule_over = True
            while backlog:
                drop(backlog.popleft())
            while tasks:
                # not gather: cancelling it (Ctrl-C, --max-time) would cancel every request at once
                done, _ = await asyncio.wait(list(tasks))
                for task in done:
                    if not task.cancelled():
                        task.exception()  # retrieved and left, as gather(return_exceptions=True) did
        except asyncio.CancelledError:
            # --max-time or Ctrl-C, during the schedule or after it: arrivals waiting for the cap
            # were never sent (dropped); what is in flight is cancelled, at once for --max-time,
            # after INTERRUPT_GRACE for Ctrl-C (left running, it would end as an error when the run
            # closes its connections), and counted as cancelled
            schedule_over = True
            if broken is not None:  # the generator failed (see one): no report to complete
                backlog.clear()
                await _wind_down(tasks, 0.0)
                raise broken from None
            while backlog:
                drop(backlog.popleft())
            await _wind_down(tasks, INTERRUPT_GRACE if state.interrupted else 0.0)
            raise
        except Exception:  # the generator itself failed (a drop into a closed stdout): no requests left
            backlog.clear()
            await _wind_down(tasks, 0.0)
            raise
        finally:
            deadlines.close()

    async def _watch(self, state: _State, on_progress: Callable[[Progress], None] | None) -> None:
        """Every ``progress_every`` seconds: a progress snapshot (only when ``on_progress`` is given:
        its p99 reads the whole histogram), and the ``--abort-on-fail`` check."""
        opts = self.opts
        state.sends.append((state.started, 0))
        while True:
            await asyncio.sleep(opts.progress_every)
            now = time.perf_counter()
            elapsed = now - state.started
            rec = state.recorder
            if on_progress is not None:
                self._progress(state, now, on_progress)
            if opts.abort_on_fail and opts.thresholds and elapsed >= 1.0 and not state.stop:
                named = {t.metric for t in opts.thresholds if t.stat is not None}
                # rps is only known at the end (the first seconds of a run, or a ramp, are below it)
                judged = tuple(t for t in opts.thresholds if t.metric != "rps")
                results = evaluate(judged, {n: rec.stats(n) for n in named}, rates_of(rec, elapsed))
                failed = [r.threshold.text for r in results if not r.ok and r.actual is not None]
                if failed:
                    state.stop = True
                    state.aborted = f"threshold failed after {elapsed:.1f}s: {', '.join(failed)}"
                    if state.nap is not None:
                        _wake(state.nap)  # the open model's wait for its next arrival

    @staticmethod
    def _progress(state: _State, now: float, on_progress: Callable[[Progress], None]) -> None:
        """One progress snapshot at ``now`` (perf_counter seconds) to ``on_progress``: answers and
        sends of the last second, in flight, p99 so far, failures, drops."""
        while state.recent and state.recent[0] < now - 1.0:
            state.recent.popleft()
        rec = state.recorder
        sends = state.sends
        sends.append((now, state.sent))
        while len(sends) > 2 and sends[1][0] <= now - 1.0:
            sends.popleft()
        first = sends[0]
        sending = (state.sent - first[1]) / (now - first[0]) if now > first[0] else 0.0
        on_progress(
            Progress(
                now - state.started,
                state.sent,
                rec.answered,
                state.in_flight,
                len(state.recent),
                rec.percentile("latency", 99.0),
                rec.failures,
                rec.statuses["dropped"],
                sending,
            )
        )


async def _wind_down(tasks: Collection[asyncio.Task[None]], grace: float) -> None:
    """The requests in flight when a run is cut: up to ``grace`` seconds to end on their own
    (each still bounded by --timeout), then cancelled, and waited for."""
    pending = [t for t in tasks if not t.done()]
    if pending and grace > 0:
        try:
            await asyncio.wait(pending, timeout=grace)
        except asyncio.CancelledError:
            pass  # cancelled again while waiting: no more grace
        pending = [t for t in pending if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending)


def _wake(nap: asyncio.Future[None]) -> None:
    """End the open model's wait for its next arrival (its timer, or ``--abort-on-fail``)."""
    if not nap.done():
        nap.set_result(None)


def _loop_name() -> str:
    """``uvloop`` or ``asyncio``: the running event loop's kind."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"


async def run_load(
    opts: LoadOptions,
    settings: Settings,
    sink: EventSink | None = None,
    on_record: Callable[[RequestRecord], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> LoadReport:
    """Run ``opts`` and return the report (see ``LoadRun.run``)."""
    return await LoadRun(opts, settings, sink).run(on_record, on_progress)


__all__ = ["LoadOptions", "LoadRun", "run_load"]
