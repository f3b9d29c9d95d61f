"""The load models of a2actl.load.run with a fake scenario (no network): the closed model's request
count and concurrency, the open model's schedule, the ``--max-in-flight`` cap with its backlog and
drops, and ``--abort-on-fail``. About 4 s of wall time in all (two tests wait on 1-1.5 s requests)."""

from __future__ import annotations

import asyncio
import gc
import random
import re
import time
from types import SimpleNamespace
from typing import Any

import pytest

from a2actl.agent.target import Target
from a2actl.core.config import Settings
from a2actl.load import run as run_module
from a2actl.load.metrics import Recorder, RequestRecord
from a2actl.load.report import LoadReport, ModelSpec, Progress
from a2actl.load.run import LoadOptions, LoadRun, _State
from a2actl.load.scenarios import Messages
from a2actl.load.thresholds import parse_thresholds
from a2actl.protocol.events import PartSpec

NEGOTIATED = {"protocolBinding": "JSONRPC", "protocolVersion": "1.0"}


class Agent:
    """A fake scenario: each request takes ``service`` seconds (a callable of the seq), and the
    agent notes when each started and how many were in flight at most."""

    def __init__(self, service: Any = 0.0, status: str = "ok") -> None:
        self.service = service if callable(service) else (lambda seq: service)
        self.status = status
        self.in_flight = 0
        self.peak = 0
        self.starts: dict[int, float] = {}

    async def __call__(self, rec: RequestRecord, base: float) -> None:
        self.starts[rec.seq] = time.perf_counter()
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.service(rec.seq))
        finally:
            self.in_flight -= 1
        rec.latency = time.perf_counter() - base
        if self.status != "ok":
            rec.status, rec.code = self.status, "503"


def _run(model: ModelSpec, **opts: Any) -> LoadRun:
    options = LoadOptions(
        target=Target("base_url", "http://127.0.0.1:9"),
        scenario="send",
        model=model,
        messages=Messages([[PartSpec("text", text="hi")]]),
        **opts,
    )
    return LoadRun(options, Settings())


def _drive(model: ModelSpec, agent: Agent, **opts: Any) -> tuple[_State, list[RequestRecord]]:
    """Run the model's loop alone (``_open``/``_closed``) over ``agent``; the records in the order
    they finished."""
    run = _run(model, **opts)
    done: list[RequestRecord] = []

    async def go() -> _State:
        state = _State(Recorder(), time.perf_counter())

        def finished(rec: RequestRecord) -> None:
            state.recorder.add(rec)
            done.append(rec)

        loop = run._open if model.kind == "open" else run._closed
        await loop(agent, state, finished)
        return state

    return asyncio.run(go()), done


# --- closed --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("workers", "requests"), [(1, 7), (4, 50), (8, 3)])
def test_closed_sends_exactly_n_with_c_workers(workers: int, requests: int) -> None:
    rnd = random.Random(workers)
    delays = [rnd.uniform(0, 0.004) for _ in range(requests)]
    agent = Agent(lambda seq: delays[seq])
    state, done = _drive(ModelSpec("closed", concurrency=workers, requests=requests), agent)
    assert sorted(r.seq for r in done) == list(range(requests))
    assert state.sent == requests and state.in_flight == 0
    assert agent.peak == min(workers, requests)  # c at most, and c reached
    assert state.recorder.statuses["ok"] == requests
    assert all(r.lag is None for r in done)  # no schedule in the closed model
    assert all(r.latency is not None and r.latency >= delays[r.seq] for r in done)
    assert [r.scheduled for r in sorted(done, key=lambda r: r.seq)] == sorted(r.scheduled for r in done)


def test_closed_duration_ends_the_run() -> None:
    agent = Agent(0.01)
    state, done = _drive(ModelSpec("closed", concurrency=3, duration=0.15), agent)
    assert len(done) == state.sent > 3
    assert all(r.scheduled < 0.15 for r in done)  # nothing starts after the deadline
    assert agent.peak == 3


# --- open ----------------------------------------------------------------------------------------


def test_open_arrivals_follow_the_schedule() -> None:
    model = ModelSpec("open", rate=400.0, requests=40, max_in_flight=100)
    agent = Agent(0.001)
    state, done = _drive(model, agent)
    assert sorted(r.seq for r in done) == list(range(40))
    for rec in done:
        assert rec.scheduled == model.arrival(rec.seq) == rec.seq / 400.0
        started = agent.starts[rec.seq] - state.started
        assert started >= rec.scheduled - 0.001  # never sent early (woken up to 0.8 ms early)
        assert rec.lag is not None and rec.lag >= 0
        assert rec.latency is not None and rec.latency >= rec.lag
    assert state.recorder.statuses == {"ok": 40}
    assert state.in_flight == 0


def test_open_ramp_schedule() -> None:
    model = ModelSpec("open", rate=1000.0, ramp=0.1, duration=0.15, max_in_flight=100)
    state, done = _drive(model, Agent(0.0))
    assert len(done) == 100  # 50 in the ramp, then 50 at 1000/s
    assert {r.seq: r.scheduled for r in done} == {n: model.arrival(n) for n in range(100)}


def test_max_in_flight_cap_backlog_then_drops() -> None:
    """Requests of 1 s at 100/s for 0.3 s under a cap of 5: 5 start, 5 wait in the backlog, the 20
    others are dropped on arrival; when the schedule ends (0.3 s) the 5 still waiting are dropped
    too, not sent after the end of --duration."""
    agent = Agent(1.0)
    model = ModelSpec("open", rate=100.0, duration=0.3, max_in_flight=5)
    state, done = _drive(model, agent)
    assert len(done) == 30 and state.in_flight == 0
    assert agent.peak == 5
    assert dict(state.recorder.statuses) == {"ok": 5, "dropped": 25}
    by_seq = {r.seq: r for r in done}
    assert {s for s, r in by_seq.items() if r.status == "dropped"} == set(range(5, 30))
    assert [r.status for r in done[:25]] == ["dropped"] * 25  # dropped before any request ended
    for seq in range(5):  # started on time
        lag = by_seq[seq].lag
        assert lag is not None and lag < 0.5
    assert all(r.lag is None and r.latency is None for r in done if r.status == "dropped")
    assert state.recorder.histograms["latency"].get_total_count() == 5


def test_the_backlog_starts_late_and_counts_its_wait() -> None:
    """Requests of 0.2 s at 100/s for 0.5 s under a cap of 5: arrivals 5-9 wait in the backlog and
    start when the first requests end; their lag (~0.15 s) is in their latency."""
    agent = Agent(0.2)
    model = ModelSpec("open", rate=100.0, duration=0.5, max_in_flight=5)
    state, done = _drive(model, agent)
    assert len(done) == 50 and state.in_flight == 0 and agent.peak == 5
    by_seq = {r.seq: r for r in done}
    for seq in range(5, 10):
        rec = by_seq[seq]
        assert rec.status == "ok"
        assert rec.lag is not None and rec.lag > 0.1
        assert rec.latency is not None and rec.latency >= rec.lag + 0.2
    assert state.recorder.statuses["ok"] + state.recorder.statuses["dropped"] == 50


# --- the whole run, abort on fail ----------------------------------------------------------------


def test_abort_on_fail_stops_early_and_drops_the_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    """``dropped<=0`` fails as soon as the cap drops one arrival; checked from the first second,
    the run stops there (not after its 10 s), waits for the 3 in flight, drops the backlog."""
    agent = Agent(1.5)

    async def prepare(self: LoadRun, transport: Any) -> Any:
        return SimpleNamespace(client=SimpleNamespace(selection=SimpleNamespace(to_json=lambda: NEGOTIATED)))

    monkeypatch.setattr(LoadRun, "_prepare", prepare)
    monkeypatch.setattr(run_module, "build", lambda name, ctx: agent)
    model = ModelSpec("open", rate=50.0, duration=10.0, max_in_flight=3)
    run = _run(
        model,
        thresholds=parse_thresholds(["dropped<=0", "p99<10s"]),
        abort_on_fail=True,
        progress_every=0.1,
    )
    records: list[RequestRecord] = []
    progress: list[Progress] = []
    report = asyncio.run(run.run(records.append, progress.append))
    assert isinstance(report, LoadReport)
    assert report.elapsed < 3.0  # not the 10 s asked
    assert report.aborted is not None
    assert report.aborted.startswith("threshold failed after 1.")
    assert report.aborted.endswith("s: dropped<=0")  # only the failed one, p99 had no samples yet
    assert int(report.exit) == 7
    statuses = report.recorder.statuses
    assert statuses["ok"] == 3 and statuses["dropped"] == len(records) - 3
    assert agent.peak == 3 and len(agent.starts) == 3  # the backlog never started
    assert 50 <= len(records) < 250  # from 1 s of arrivals at 50/s, far from the 500 of 10 s
    doc = report.to_json()
    assert doc["negotiated"] == NEGOTIATED and doc["model"] == model.to_json()
    assert doc["aborted"] == report.aborted and doc["exitCode"] == 7
    assert progress and all(p.in_flight <= 3 for p in progress)
    assert [p.elapsed for p in progress] == sorted(p.elapsed for p in progress)
    assert progress[-1].dropped > 0


def test_the_progress_rate_counts_answers_not_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent that answers nothing in the first second (requests of 1.2 s) under a cap of 2 at
    100/s: the arrivals are dropped, and the progress line's req/s (answers in the last second)
    stays 0 until the first answers come. Drops counted as answers showed ~100 req/s."""
    agent = Agent(1.2)

    async def prepare(self: LoadRun, transport: Any) -> Any:
        return SimpleNamespace(client=SimpleNamespace(selection=SimpleNamespace(to_json=lambda: NEGOTIATED)))

    monkeypatch.setattr(LoadRun, "_prepare", prepare)
    monkeypatch.setattr(run_module, "build", lambda name, ctx: agent)
    run = _run(ModelSpec("open", rate=100.0, duration=1.0, max_in_flight=2), progress_every=0.1)
    progress: list[Progress] = []
    report = asyncio.run(run.run(None, progress.append))
    assert report.recorder.statuses["dropped"] > 50
    before = [p for p in progress if p.answered == 0]
    assert len(before) >= 5 and before[-1].dropped > 50
    assert all(p.rate == 0 for p in before)


@pytest.mark.parametrize("kind", ["open", "closed"])
def test_an_interrupt_stops_sending_gives_the_requests_in_flight_a_grace_and_returns_the_report(
    monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Ctrl-C / SIGTERM (the run's task cancelled, as ``asyncio.run`` does): nothing new is sent, the
    requests in flight that end within ``INTERRUPT_GRACE`` are answers, the others are cancelled and
    counted as such (not as errors), and the report comes back ``interrupted`` (exit 130) instead of
    the cancellation."""
    monkeypatch.setattr(run_module, "INTERRUPT_GRACE", 0.4)
    agent = Agent(lambda seq: 0.2 if seq % 2 == 0 else 5.0)  # half end within the grace, half never

    async def prepare(self: LoadRun, transport: Any) -> Any:
        return SimpleNamespace(client=SimpleNamespace(selection=SimpleNamespace(to_json=lambda: NEGOTIATED)))

    monkeypatch.setattr(LoadRun, "_prepare", prepare)
    monkeypatch.setattr(run_module, "build", lambda name, ctx: agent)
    model = (
        ModelSpec("open", rate=20.0, duration=30.0)
        if kind == "open"
        else ModelSpec("closed", concurrency=4, duration=30.0)
    )

    async def go() -> tuple[LoadReport, float]:
        task = asyncio.ensure_future(_run(model).run())
        while len(agent.starts) < 4:  # under way (the first run of a process imports aiohttp)
            await asyncio.sleep(0.01)
        started = len(agent.starts)
        task.cancel()
        t0 = time.perf_counter()
        report = await task  # returned, not cancelled
        assert len(agent.starts) == started  # nothing sent after the interrupt
        return report, time.perf_counter() - t0

    report, stopping = asyncio.run(go())
    assert 0.3 <= stopping < 2.0  # the grace, then the cancel: not the 5 s requests
    doc = report.to_json()
    assert report.interrupted and report.exit == 130 and doc["interrupted"] is True
    assert doc["aborted"].startswith("interrupted (Ctrl-C or SIGTERM)")
    # when the interrupt came, not when the grace ended (it said the run's elapsed time)
    came = float(re.match(r"interrupted \(Ctrl-C or SIGTERM\) after ([\d.]+)s", doc["aborted"])[1])
    assert came < report.elapsed - 0.3, (came, report.elapsed)
    req = doc["requests"]
    assert req["sent"] == len(agent.starts) and req["failures"] == 0 and doc["errors"] == []
    assert req["cancelled"] == sum(1 for seq in agent.starts if seq % 2 == 1) >= 1
    assert req["ok"] == req["sent"] - req["cancelled"]
    assert agent.in_flight == 0  # every cancelled request ended


@pytest.mark.parametrize(
    "model",
    [ModelSpec("closed", concurrency=4, duration=5.0), ModelSpec("open", rate=200.0, duration=5.0)],
    ids=["closed", "open"],
)
def test_an_error_of_the_generator_itself_ends_the_run_at_once(
    model: ModelSpec, caplog: pytest.LogCaptureFixture
) -> None:
    """``finished`` raising (``-o jsonl`` into a closed stdout: BrokenPipeError) ends the run at once
    with that error, and every request's or worker's error is retrieved. The open model went on to
    the end of --duration, each request leaving "Task exception was never retrieved" and a
    traceback on stderr; the closed model left one for every worker that failed with the first."""
    agent = Agent(0.05)  # requests that end together: several fail at once

    async def go() -> float:
        state = _State(Recorder(), time.perf_counter())

        def finished(rec: RequestRecord) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        loop = _run(model)._open if model.kind == "open" else _run(model)._closed
        t0 = time.perf_counter()
        with pytest.raises(BrokenPipeError):
            await loop(agent, state, finished)
        return time.perf_counter() - t0

    took = asyncio.run(go())
    gc.collect()  # a task whose error nobody retrieved says so when it is collected
    assert took < 1.0  # not the 5 s of --duration
    assert agent.in_flight == 0
    assert [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()] == []


def test_abort_on_fail_does_not_wait_for_the_next_arrival(monkeypatch: pytest.MonkeyPatch) -> None:
    """At a low rate (one arrival every 5 s), a threshold that fails after the first second stops
    the run then, not at the next arrival: the run lasted until the schedule's next tick (60 s at
    --rate 1/m) with 'threshold failed after 1.0s' in its report."""
    agent = Agent(0.0, status="http-error")

    async def prepare(self: LoadRun, transport: Any) -> Any:
        return SimpleNamespace(client=SimpleNamespace(selection=SimpleNamespace(to_json=lambda: NEGOTIATED)))

    monkeypatch.setattr(LoadRun, "_prepare", prepare)
    monkeypatch.setattr(run_module, "build", lambda name, ctx: agent)
    run = _run(
        ModelSpec("open", rate=0.2, duration=30.0),
        thresholds=parse_thresholds(["errors<1%"]),
        abort_on_fail=True,
        progress_every=0.1,
    )
    t0 = time.perf_counter()
    report = asyncio.run(run.run())
    took = time.perf_counter() - t0
    assert report.aborted is not None and report.aborted.startswith("threshold failed after 1.")
    assert int(report.exit) == 7
    assert len(agent.starts) == 1  # the arrival at 0 s; the one at 5 s never came
    assert took < 2.5 and report.elapsed < 2.0


def test_an_error_of_the_generator_during_the_interrupt_grace_is_retrieved(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Ctrl-C in the closed model with ``-o jsonl`` into a closed stdout: the workers whose requests
    end in the grace fail to write their record; the run still ends as interrupted, and their errors
    are retrieved. Each left "Task exception was never retrieved" and a traceback on stderr."""
    monkeypatch.setattr(run_module, "INTERRUPT_GRACE", 1.0)
    model = ModelSpec("closed", concurrency=3, duration=30.0)
    agent = Agent(0.3)

    async def go() -> None:
        state = _State(Recorder(), time.perf_counter())

        def finished(rec: RequestRecord) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        task = asyncio.ensure_future(_run(model)._closed(agent, state, finished))
        await asyncio.sleep(0.1)
        state.interrupted = True  # as LoadRun._interrupt marks it
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    gc.collect()
    assert len(agent.starts) == 3 and agent.in_flight == 0
    assert [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()] == []
