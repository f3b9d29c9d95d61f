"""The load report (a2actl.load.report): the load models' arrival schedules, the rates thresholds
read, the ``-o json`` document and its exit code, the notes, and merging reports exactly."""

from __future__ import annotations

import json
import math
import random
import uuid
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from a2actl.core.exit_codes import ExitCode
from a2actl.load.metrics import Recorder, RequestRecord
from a2actl.load.report import REPORT_KIND, LoadReport, ModelSpec, merge_reports, rates_of
from a2actl.load.thresholds import parse_thresholds

NEGOTIATED = {"protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
STARTED = 1_800_000_000.0


# --- ModelSpec -----------------------------------------------------------------------------------


def _arrivals(model: ModelSpec, limit: int = 100_000) -> list[float]:
    out: list[float] = []
    for n in range(limit):
        at = model.arrival(n)
        if at is None:
            return out
        out.append(at)
    raise AssertionError("the schedule does not end")


def test_constant_rate_arrivals() -> None:
    model = ModelSpec("open", rate=40.0, duration=2.0)
    times = _arrivals(model)
    assert len(times) == 80  # 40/s for 2 s: arrival 80 would be at 2.0, the end
    assert times == pytest.approx([n / 40.0 for n in range(80)], abs=1e-12)
    assert model.arrival(80) is None
    by_count = ModelSpec("open", rate=40.0, requests=7)
    assert _arrivals(by_count) == pytest.approx([n / 40.0 for n in range(7)], abs=1e-12)
    both = ModelSpec("open", rate=10.0, requests=5, duration=100.0)  # whichever ends first
    assert len(_arrivals(both)) == 5
    both = ModelSpec("open", rate=10.0, requests=500, duration=1.0)
    assert len(_arrivals(both)) == 10


def test_ramp_arrivals() -> None:
    """A linear ramp 0 → 100/s over 10 s: arrivals by time t are R t² / 2T during the ramp (500 at
    its end), then R per second."""
    rate, ramp = 100.0, 10.0
    model = ModelSpec("open", rate=rate, ramp=ramp, duration=15.0)
    times = _arrivals(model)
    assert times[0] == 0.0
    assert all(a < b for a, b in zip(times, times[1:], strict=False))  # strictly rising
    for t in [x / 4 for x in range(0, 61)]:  # every 0.25 s over 15 s
        arrived = sum(1 for at in times if at <= t)
        expected = rate * t * t / (2 * ramp) if t <= ramp else rate * ramp / 2 + rate * (t - ramp)
        assert abs(arrived - expected) <= 1, (t, arrived, expected)
    assert sum(1 for at in times if at < ramp) == 500
    assert len(times) == 500 + 500  # then 5 s at 100/s
    after = [b - a for a, b in zip(times[500:], times[501:], strict=False)]
    assert after == pytest.approx([0.01] * len(after))
    ten = _arrivals(ModelSpec("open", rate=rate, ramp=ramp, duration=10.0))
    assert abs(len(ten) - 500) <= 1
    # the gaps shrink during the ramp: the rate rises
    gaps = [b - a for a, b in zip(times[:500], times[1:501], strict=False)]
    assert all(a >= b for a, b in zip(gaps, gaps[1:], strict=False))


def test_asked_rate_and_json() -> None:
    closed = ModelSpec("closed", concurrency=8, requests=100)
    assert closed.asked_rate() is None
    assert closed.to_json() == {"kind": "closed", "concurrency": 8, "requests": 100, "duration": None}
    opened = ModelSpec("open", rate=25.0, ramp=2.0, max_in_flight=50, duration=3.0)
    assert opened.asked_rate() == 25.0
    assert opened.to_json() == {
        "kind": "open",
        "rate": 25.0,
        "ramp": 2.0,
        "maxInFlight": 50,
        "requests": None,
        "duration": 3.0,
    }


# --- rates_of ------------------------------------------------------------------------------------


def _rec(statuses: dict[str, int], latency: float = 0.01) -> Recorder:
    r = Recorder()
    seq = 0
    for status, n in statuses.items():
        for _ in range(n):
            code = {"task-failed": "failed", "http-error": "503"}.get(status)
            r.add(RequestRecord(seq, 0.0, latency=latency, status=status, code=code))
            seq += 1
    return r


def test_rates_of() -> None:
    r = _rec({"ok": 6, "task-failed": 2, "http-error": 2, "dropped": 10})
    assert rates_of(r, 5.0) == {"errors": 0.4, "failed": 0.2, "dropped": 0.5, "rps": 2.0}
    assert rates_of(r, 0.0)["rps"] is None
    assert rates_of(Recorder(), 1.0) == {"errors": None, "failed": None, "dropped": None, "rps": None}
    only_dropped = rates_of(_rec({"dropped": 3}), 1.0)
    assert only_dropped == {"errors": None, "failed": None, "dropped": 1.0, "rps": None}


# --- LoadReport ----------------------------------------------------------------------------------


def _report(
    recorder: Recorder,
    model: ModelSpec,
    thresholds: tuple[str, ...] = (),
    elapsed: float = 2.0,
    aborted: str | None = None,
    scenario: str = "send",
) -> LoadReport:
    return LoadReport.build(
        target="http://127.0.0.1:9",
        scenario=scenario,
        model=model,
        negotiated=NEGOTIATED,
        recorder=recorder,
        started_at=STARTED,
        elapsed=elapsed,
        thresholds=parse_thresholds(list(thresholds)),
        aborted=aborted,
        timeout=30.0,
    )


CLOSED = ModelSpec("closed", concurrency=4, requests=10)
OPEN = ModelSpec("open", rate=5.0, duration=2.0, max_in_flight=10)

KEYS = [
    "kind",
    "target",
    "scenario",
    "model",
    "negotiated",
    "runs",
    "sources",
    "runId",
    "runIds",
    "startedAt",
    "elapsed",
    "sendingWindow",
    "answerWindow",
    "timeout",
    "client",
    "requests",
    "statuses",
    "throughput",
    "metrics",
    "errors",
    "states",
    "events",
    "bytes",
    "latencyBuckets",
    "thresholds",
    "aborted",
    "interrupted",
    "notes",
    "exitCode",
    "histograms",
]


def test_to_json() -> None:
    rec = _rec({"ok": 8, "http-error": 1, "dropped": 1}, latency=0.02)
    doc = _report(rec, OPEN, ("p99<1s", "errors<20%")).to_json()
    assert list(doc) == KEYS
    assert json.loads(json.dumps(doc)) == doc  # plain JSON
    assert doc["kind"] == REPORT_KIND
    assert doc["model"] == OPEN.to_json()
    assert (doc["runs"], doc["sources"]) == (1, None)
    assert doc["startedAt"] == "2027-01-15T08:00:00.000+00:00"
    assert (doc["elapsed"], doc["timeout"], doc["client"]) == (2.0, 30.0, None)
    assert doc["requests"] == {
        "scheduled": 10,
        "sent": 9,
        "ok": 8,
        "failures": 1,
        "dropped": 1,
        "cancelled": 0,
    }
    assert doc["statuses"] == {"ok": 8, "http-error": 1, "dropped": 1}
    # sent: the 8 intervals between the 9 starts over the sending window (none given: elapsed, 2 s)
    assert doc["throughput"] == {"asked": 5.0, "sent": 4.0, "achieved": 4.5, "ok": 4.0}
    assert (doc["sendingWindow"], doc["answerWindow"]) == (2.0, 2.0)  # none given: elapsed
    assert doc["runIds"] == [doc["runId"]] and str(uuid.UUID(doc["runId"], version=4)) == doc["runId"]
    assert doc["interrupted"] is False
    assert list(doc["metrics"]) == ["latency"]
    assert doc["metrics"]["latency"]["count"] == 9
    assert doc["metrics"]["latency"]["p99"] == pytest.approx(0.02, rel=1e-3)
    assert doc["errors"] == [{"status": "http-error", "code": "503", "count": 1, "example": None}]
    assert sum(b["count"] for b in doc["latencyBuckets"]) == 9
    assert [(t["threshold"], t["ok"]) for t in doc["thresholds"]] == [("p99<1s", True), ("errors<20%", True)]
    assert doc["exitCode"] == 0 and doc["aborted"] is None
    assert list(doc["histograms"]) == ["latency"]
    assert HdrHistogram.decode(doc["histograms"]["latency"].encode()).get_total_count() == 9
    closed = _report(rec, CLOSED, elapsed=0.0).to_json()
    assert closed["throughput"] == {"asked": None, "sent": None, "achieved": None, "ok": None}
    assert _report(rec, OPEN).to_json()["runId"] != doc["runId"]  # a new id per run


def test_sending_rate_and_throughput_have_their_own_windows() -> None:
    """The sending rate is requests sent over the sending window; the throughput (every answer, and
    ok ones) is over the answer window, from the start to the last answer (vegeta's rate and
    throughput): 40 requests sent in 1 s, answered over 4 s, is 40/s sent, 10/s achieved. The rps
    threshold reads the throughput."""
    rec = _rec({"ok": 30, "http-error": 10})
    # the 40th arrival at 40/s starts at 39/40 s: the sending window
    report = LoadReport.build(
        target="http://127.0.0.1:9",
        scenario="send",
        model=ModelSpec("open", rate=40.0, duration=1.0),
        negotiated=NEGOTIATED,
        recorder=rec,
        started_at=STARTED,
        elapsed=4.2,
        window=0.975,
        answer_window=4.0,
        thresholds=parse_thresholds(["rps>=20"]),
    )
    doc = report.to_json()
    assert (doc["sendingWindow"], doc["answerWindow"], doc["elapsed"]) == (0.975, 4.0, 4.2)
    assert doc["throughput"] == {"asked": 40.0, "sent": 40.0, "achieved": 10.0, "ok": 7.5}
    assert doc["thresholds"][0]["actual"] == 10.0 and report.exit == ExitCode.CHECK_FAILED
    assert doc["notes"][0] == (
        "the agent did not keep up: requests were sent at 40.0 req/s but answered at 10.0 req/s; "
        "the last answer came 3.0s after the last request was sent"
    )
    # requests cut in flight (--max-time, Ctrl-C) are sent, but neither answers nor errors
    cut = LoadReport.build(
        target="t",
        scenario="send",
        model=CLOSED,
        negotiated=None,
        recorder=_rec({"ok": 4}),
        started_at=STARTED,
        elapsed=2.0,
        window=1.0,
        cancelled=2,
        interrupted=True,
        thresholds=parse_thresholds(["errors<1%"]),
    ).to_json()
    assert cut["requests"] == {
        "scheduled": 6,
        "sent": 6,
        "ok": 4,
        "failures": 0,
        "dropped": 0,
        "cancelled": 2,
    }
    # 4 workers started together: 2 intervals after them in the 1 s window
    assert cut["throughput"] == {"asked": None, "sent": 2.0, "achieved": 2.0, "ok": 2.0}
    assert cut["thresholds"][0]["ok"] is True and cut["interrupted"] is True and cut["exitCode"] == 130


def _sending(model: ModelSpec, sent: int, window: float) -> float | None:
    rate: float | None = _report_with_window(model, sent, window).to_json()["throughput"]["sent"]
    return rate


def test_the_sending_rate_counts_intervals_not_requests() -> None:
    """n requests started one after the other span n - 1 intervals: the sending rate of an open run
    that kept its schedule is --rate, however short the run. It read n/(n-1) times --rate (--rate 10
    -n 2: 20 req/s; -n 5: 12.5). The closed model's workers start together: c sequences, n - c
    intervals."""
    assert _sending(ModelSpec("open", rate=10.0, requests=2), 2, 0.1) == 10.0
    assert _sending(ModelSpec("open", rate=10.0, requests=5), 5, 0.4) == 10.0
    assert _sending(ModelSpec("open", rate=10.0, duration=1.0), 10, 0.9) == 10.0
    assert _sending(ModelSpec("open", rate=10.0, requests=1), 1, 0.0) is None  # no interval
    # 4 workers, 100 ms per request, 12 requests: starts at 0, 0.1 and 0.2 s; 40 req/s
    assert _sending(ModelSpec("closed", concurrency=4, requests=12), 12, 0.2) == 40.0
    assert _sending(ModelSpec("closed", concurrency=4, requests=3), 3, 0.001) is None  # all at once
    # two open runs side by side, 11 requests each over 1 s: 20 intervals, 20 req/s together
    runs = [
        ("a", _doc(_report_with_window(ModelSpec("open", rate=10.0, requests=11), 11, 1.0))),
        ("b", _doc(_report_with_window(ModelSpec("open", rate=10.0, requests=11), 11, 1.0))),
    ]
    merged = merge_reports(runs)
    assert merged.to_json()["throughput"]["sent"] == 20.0
    closed = ("c", _doc(_report_with_window(ModelSpec("closed", concurrency=4, requests=12), 12, 0.2)))
    assert merge_reports([closed]).to_json()["throughput"]["sent"] == 40.0
    # a merged report merges again with the streams of its runs: 3 runs, 33 requests, 30 intervals
    third = _doc(_report_with_window(ModelSpec("open", rate=10.0, requests=11), 11, 1.0))
    again = merge_reports([("ab", json.loads(json.dumps(merged.to_json()))), ("d", third)])
    assert again.to_json()["throughput"]["sent"] == 30.0


def _report_with_window(model: ModelSpec, sent: int, window: float) -> LoadReport:
    return LoadReport.build(
        target="t",
        scenario="send",
        model=model,
        negotiated=None,
        recorder=_rec({"ok": sent}),
        started_at=STARTED,
        elapsed=window + 0.5,
        window=window,
        thresholds=(),
    )


def test_exit_codes() -> None:
    rec = _rec({"ok": 9, "http-error": 1}, latency=0.2)
    passing = _report(rec, CLOSED, ("p99<1s", "errors<=10%"))
    assert passing.exit == ExitCode.OK and passing.to_json()["exitCode"] == 0
    failing = _report(rec, CLOSED, ("p99<1s", "p99<100ms"))
    assert failing.exit == ExitCode.CHECK_FAILED
    assert int(failing.exit) == 7
    assert [t.ok for t in failing.thresholds] == [True, False]
    assert failing.to_json()["exitCode"] == 7
    no_samples = _report(rec, CLOSED, ("ttfe.p99<1s",))
    assert no_samples.exit == 7 and no_samples.thresholds[0].actual is None
    aborted = _report(rec, CLOSED, ("p99<1s",), aborted="threshold failed after 1.0s: p99<1s")
    assert aborted.exit == 7
    assert aborted.to_json()["aborted"] == "threshold failed after 1.0s: p99<1s"
    assert _report(rec, CLOSED).exit == ExitCode.OK  # no thresholds: nothing to fail
    # judge() replaces the results
    failing.judge(parse_thresholds(["p99<10s"]))
    assert int(failing.exit) == 0 and len(failing.thresholds) == 1


def test_notes_per_model() -> None:
    fast = _rec({"ok": 5})
    closed = _report(fast, CLOSED).notes()
    assert len(closed) == 1 and closed[0].startswith("closed model:") and "coordinated omission" in closed[0]
    assert _report(fast, OPEN).notes() == []  # no lag recorded, nothing dropped

    late = Recorder()
    for i in range(100):
        late.add(RequestRecord(i, i / 5, lag=0.0001 if i < 90 else 0.250, latency=0.3))
    late.add(RequestRecord(100, 20.0, status="dropped"))
    late.add(RequestRecord(101, 20.2, status="dropped"))
    notes = _report(late, OPEN).notes()
    assert len(notes) == 2
    assert notes[0].startswith("2 arrivals were dropped: --max-in-flight was full")
    assert notes[1].startswith("schedule lag p99 250.") and "intended time" in notes[1]

    punctual = Recorder()
    for i in range(100):
        punctual.add(RequestRecord(i, i / 5, lag=0.004, latency=0.3))
    assert _report(punctual, OPEN).notes() == []  # lag p99 under 5 ms: not worth a note
    assert _report(late, OPEN).to_json()["notes"] == notes


# --- merge_reports -------------------------------------------------------------------------------


def _records(n: int, seed: int) -> list[RequestRecord]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        latency = rnd.lognormvariate(-4, 1)
        rec = RequestRecord(i, i / 50, lag=rnd.uniform(0, 0.003), latency=latency)
        roll = rnd.random()
        if roll < 0.05:
            rec.status, rec.code, rec.message = "transport-error", "timeout", "no answer"
        elif roll < 0.1:
            rec.status, rec.code, rec.state = "task-failed", "failed", "failed"
        elif roll < 0.12:
            rec.status = "dropped"
        else:
            rec.state = "completed"
            rec.ttfe, rec.gaps, rec.events, rec.bytes = latency / 3, [latency / 3], 2, 300
        out.append(rec)
    return out


def _recorder(records: list[RequestRecord]) -> Recorder:
    r = Recorder()
    for rec in records:
        r.add(rec)
    return r


def _doc(report: LoadReport) -> dict[str, Any]:
    """The document as ``load report`` reads it back from a file."""
    doc: dict[str, Any] = json.loads(json.dumps(report.to_json()))
    return doc


def test_merging_two_runs_equals_one_run_over_the_union() -> None:
    records = _records(900, seed=1)
    a = _report(
        _recorder(records[:400]), ModelSpec("open", rate=50.0, duration=8.0), ("p99<1s",), elapsed=8.0
    )
    b = _report(
        _recorder(records[400:]), ModelSpec("open", rate=50.0, duration=10.0), ("p99<1s",), elapsed=10.02
    )
    b.started_at = STARTED + 0.5
    whole = _report(
        _recorder(records), ModelSpec("open", rate=100.0, duration=10.0), ("p99<1s",), elapsed=10.02
    )

    merged = merge_reports([("a.json", _doc(a)), ("b.json", _doc(b))])
    got, want = merged.to_json(), whole.to_json()
    for key in ("requests", "statuses", "metrics", "errors", "states", "events", "bytes", "latencyBuckets"):
        assert got[key] == want[key], key
    assert got["histograms"].keys() == want["histograms"].keys()
    for name, text in want["histograms"].items():
        mine = HdrHistogram.decode(got["histograms"][name].encode())
        theirs = HdrHistogram.decode(text.encode())
        assert list(mine.counts[: mine.counts_len]) == list(theirs.counts[: theirs.counts_len]), name
    # asked 50 + 50, elapsed the longest run's; the sending rate counts two first requests (one per
    # run) where the one run over the union counts one: n - 2 intervals, not n - 1, over the window
    assert {**got["throughput"], "sent": None} == {**want["throughput"], "sent": None}
    n = got["requests"]["sent"]
    assert (got["throughput"]["sent"], want["throughput"]["sent"]) == (
        round((n - 2) / 10.02, 3),
        round((n - 1) / 10.02, 3),
    )
    assert got["throughput"]["asked"] == 100.0
    assert got["elapsed"] == 10.02
    assert got["startedAt"] == want["startedAt"]  # the earliest start
    assert got["runs"] == 2 and got["sources"] == ["a.json", "b.json"]
    assert got["model"] == {"kind": "merged", "models": [a.model, b.model]}
    assert got["kind"] == REPORT_KIND and got["scenario"] == "send"
    assert got["negotiated"] == NEGOTIATED
    assert got["thresholds"] == want["thresholds"]
    assert got["runIds"] == [a.run_id, b.run_id] and got["runId"] is None
    # a merged report merges again, and counts runs; not with a run it holds (counted twice)
    c = _report(_recorder(records[400:]), ModelSpec("open", rate=50.0, duration=10.0), elapsed=10.0)
    again = merge_reports([("ab.json", json.loads(json.dumps(got))), ("c.json", _doc(c))])
    assert again.runs == 3 and again.to_json()["runIds"] == [a.run_id, b.run_id, c.run_id]
    assert again.recorder.total == len(records) + 500
    with pytest.raises(ValueError, match=rf"^b\.json and ab\.json both hold run {b.run_id}: "):
        merge_reports([("ab.json", json.loads(json.dumps(got))), ("b.json", _doc(b))])


def test_merged_thresholds_are_the_union_by_text_or_extra_judged_on_the_merged_data() -> None:
    # each run answers 100 requests in 10 s: 10/s each, 20/s together
    a = _report(_rec({"ok": 100}), CLOSED, ("rps>=15", "p99<1s"), elapsed=10.0)
    b = _report(_rec({"ok": 90, "http-error": 10}), CLOSED, ("p99<1s", "errors<=5%"), elapsed=10.0)
    assert a.exit == 7 and b.exit == 7  # rps 10 < 15; errors 10 % > 5 %
    merged = merge_reports([("a", _doc(a)), ("b", _doc(b))])
    assert [(t.threshold.text, t.actual, t.ok) for t in merged.thresholds] == [
        ("rps>=15", 20.0, True),
        ("p99<1s", pytest.approx(0.01, rel=1e-3), True),
        ("errors<=5%", 0.05, True),
    ]
    assert merged.exit == ExitCode.OK
    extra = merge_reports([("a", _doc(a)), ("b", _doc(b))], parse_thresholds(["rps>=25", "errors<1%"]))
    assert [(t.threshold.text, t.ok) for t in extra.thresholds] == [("rps>=25", False), ("errors<1%", False)]
    assert extra.exit == 7
    none = merge_reports([("a", _doc(_report(_rec({"ok": 1}), CLOSED)))])
    assert none.thresholds == [] and none.exit == 0


def test_one_report_merges_to_itself() -> None:
    run = _report(_recorder(_records(300, seed=4)), OPEN, ("p99<1s",))
    doc = _doc(run)
    again = merge_reports([("run.json", doc)]).to_json()
    for key in ("requests", "statuses", "throughput", "metrics", "errors", "latencyBuckets", "histograms"):
        assert again[key] == doc[key], key
    assert again["thresholds"] == doc["thresholds"]


def test_a_run_max_time_ended_is_exit_5_in_a_merge_too() -> None:
    """'load report' of a run --max-time ended (exit 5) said 7, as for a threshold abort; shown
    again or merged with others it is 5, as the run was (docs/exit-codes.md)."""
    stopped = LoadReport.build(
        target="http://127.0.0.1:9",
        scenario="send",
        model=CLOSED,
        negotiated=NEGOTIATED,
        recorder=_rec({"ok": 5}),
        started_at=STARTED,
        elapsed=2.0,
        thresholds=(),
        aborted="stopped at --max-time 2s; requests in flight were cancelled and are not counted",
        timed_out=True,
    )
    assert stopped.exit == ExitCode.TIMEOUT
    alone = merge_reports([("t.json", _doc(stopped))])
    assert alone.exit == ExitCode.TIMEOUT and alone.to_json()["exitCode"] == 5
    other = _report(_rec({"ok": 5}), CLOSED)
    both = merge_reports([("t.json", _doc(stopped)), ("o.json", _doc(other))])
    assert both.exit == ExitCode.TIMEOUT
    assert both.to_json()["aborted"].startswith("t.json: stopped at --max-time 2s")
    assert merge_reports([("o.json", _doc(other))]).exit == ExitCode.OK


def test_a_run_its_records_stopped_is_no_failed_check_alone_or_merged() -> None:
    """A run stopped because its ``-o jsonl`` records could not be written (``unrecorded``) is
    judged by its thresholds: exit 0 here, in its report and in a merge, while an ``--abort-on-fail``
    run's abort stays exit 7 in a merge with it. It was 7, a failed check that no check made."""
    stopped = LoadReport.build(
        target="http://127.0.0.1:9",
        scenario="send",
        model=CLOSED,
        negotiated=NEGOTIATED,
        recorder=_rec({"ok": 5}),
        started_at=STARTED,
        elapsed=2.0,
        thresholds=parse_thresholds(["errors<1%"]),
        aborted="stopped: a request's record could not be written",
        unrecorded=True,
    )
    assert stopped.exit == ExitCode.OK and stopped.to_json()["exitCode"] == 0
    alone = merge_reports([("s.json", _doc(stopped))])
    assert alone.exit == ExitCode.OK and alone.to_json()["aborted"].startswith("s.json: stopped")
    # the file --out wrote when standard output was full: exitCode 2, the process's
    assert merge_reports([("s.json", {**_doc(stopped), "exitCode": 2})]).exit == ExitCode.OK
    failing = _report(
        _rec({"ok": 5}), CLOSED, ("errors<1%",), aborted="threshold failed after 1.0s: errors<1%"
    )
    assert failing.exit == ExitCode.CHECK_FAILED
    both = merge_reports([("s.json", _doc(stopped)), ("f.json", _doc(failing))])
    assert both.exit == ExitCode.CHECK_FAILED  # the threshold abort, though errors<1% holds merged
    assert [t.ok for t in both.thresholds] == [True]


def _good() -> dict[str, Any]:
    return _doc(_report(_recorder(_records(50, seed=2)), OPEN, ("p99<1s",)))


def _with(**changes: Any) -> dict[str, Any]:
    doc = _good()
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({"kind": None}, "not an 'a2actl load run -o json' report"),
        ({}, "not an 'a2actl load run -o json' report"),
        (["not", "an", "object"], "not an 'a2actl load run -o json' report"),
        ("text", "not an 'a2actl load run -o json' report"),
        ({"kind": "a2actl.probe.report"}, "not an 'a2actl load run -o json' report"),
        ("histogram", "histogram 'latency' does not decode"),
        ("not-a-string histogram", "histogram 'latency' does not decode"),
        ("histograms list", "histograms"),
        ("statuses list", "statuses"),
        ("errors without count", "count"),
        ("bad count", "counters"),
        ("elapsed text", "elapsed"),
        ("throughput text", "throughput"),
        ("asked text", "asked"),
        ("bad threshold", "p99<<1s"),
        ("threshold not an object", "thresholds"),
        # a report without its counters or histograms merged as if it had sent nothing (exit 0)
        ("no statuses", "statuses is missing"),
        ("null statuses", "statuses is missing"),
        ("no histograms", "histograms is missing"),
        ("null histograms", "histograms is missing"),
    ],
)
def test_bad_documents_are_value_errors_naming_the_source(doc: Any, says: str) -> None:
    if doc == {"kind": None}:
        doc = _with(kind=None)
    elif doc == {}:
        doc = {k: v for k, v in _good().items() if k != "kind"}
    elif doc == "histogram":
        good = _good()
        doc = _with(
            histograms={**good["histograms"], "latency": good["histograms"]["latency"][:-8] + "AAAAAAAA"}
        )
    elif doc == "not-a-string histogram":
        doc = _with(histograms={"latency": 12})
    elif doc == "histograms list":
        doc = _with(histograms=["latency"])
    elif doc == "statuses list":
        doc = _with(statuses=["ok"])
    elif doc == "errors without count":
        doc = _with(errors=[{"status": "http-error", "code": "503"}])
    elif doc == "bad count":
        doc = _with(statuses={"ok": "many"})
    elif doc == "elapsed text":
        doc = _with(elapsed="long")
    elif doc == "throughput text":
        doc = _with(throughput="fast")
    elif doc == "asked text":
        doc = _with(throughput={"asked": "lots"})
    elif doc == "bad threshold":
        doc = _with(thresholds=[{"threshold": "p99<<1s"}])
    elif doc == "threshold not an object":
        doc = _with(thresholds=["p99<1s"])
    elif doc in ("no statuses", "no histograms"):
        doc = {k: v for k, v in _good().items() if k != doc.split()[1]}
    elif doc in ("null statuses", "null histograms"):
        doc = _with(**{doc.split()[1]: None})
    with pytest.raises(ValueError) as info:
        merge_reports([("good.json", _good()), ("runs/bad.json", doc)])
    message = str(info.value)
    assert message.startswith("runs/bad.json: "), message
    assert says in message


def test_a_corrupt_histogram_names_source_and_histogram() -> None:
    doc = _good()
    doc["histograms"]["lag"] = "HISTFAAAAB"
    with pytest.raises(ValueError, match=r"^b\.json: histogram 'lag' does not decode"):
        merge_reports([("a.json", _good()), ("b.json", doc)])


def test_different_scenarios_do_not_merge() -> None:
    send = _doc(_report(_rec({"ok": 1}), CLOSED, scenario="send"))
    stream = _doc(_report(_rec({"ok": 1}), CLOSED, scenario="stream"))
    with pytest.raises(ValueError, match=r"different scenarios \(send, stream\)"):
        merge_reports([("a.json", send), ("b.json", stream)])
    with pytest.raises(ValueError, match="no reports"):
        merge_reports([])


def test_merged_start_ignores_an_unreadable_start() -> None:
    a, b = _good(), _good()
    a["startedAt"] = "yesterday"
    merged = merge_reports([("a", a), ("b", b)])
    assert merged.started_at == pytest.approx(STARTED)
    assert not math.isinf(merge_reports([("a", a)]).started_at)


def _other_run(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as another machine's run of the same figures (started a second later): an equal
    document is the same run given twice, which ``merge_reports`` refuses."""
    from datetime import datetime, timedelta

    later = datetime.fromisoformat(doc["startedAt"]) + timedelta(seconds=1)
    run_id = str(uuid.uuid4())
    return {**doc, "startedAt": later.isoformat(), "runId": run_id, "runIds": [run_id]}


def test_merged_notes_speak_for_the_runs_models() -> None:
    closed = _doc(_report(_rec({"ok": 3}), CLOSED))
    assert (
        merge_reports([("a", closed), ("b", _other_run(closed))]).notes()
        == _report(_rec({"ok": 3}), CLOSED).notes()
    )
    late = Recorder()
    for i in range(20):
        late.add(RequestRecord(i, i / 5, lag=0.1, latency=0.3))
    opened = _doc(_report(late, OPEN))
    notes = merge_reports([("a", opened), ("b", closed)]).notes()
    assert len(notes) == 2 and notes[0].startswith("the merged runs mix the open and the closed model")
    assert notes[1].startswith("schedule lag p99 ")
    twice = merge_reports(
        [
            ("ab", merge_reports([("a", closed), ("b", _other_run(closed))]).to_json()),
            ("c", _other_run(closed)),
        ]
    )
    assert twice.notes()[0].startswith("closed model:")


def test_a_run_given_twice_is_refused() -> None:
    """The same report twice (a glob and a name, a copied file): its requests would count twice.
    Caught by its run id; for reports from before run ids, by equal documents."""
    a = _good()
    with pytest.raises(ValueError, match=rf"^b\.json and a\.json both hold run {a['runId']}: "):
        merge_reports([("a.json", a), ("b.json", json.loads(json.dumps(a)))])
    assert merge_reports([("a.json", a), ("b.json", _other_run(a))]).recorder.answered == 100
    old = {k: v for k, v in a.items() if k not in ("runId", "runIds")}
    with pytest.raises(ValueError, match=r"^b\.json: the same run as a\.json"):
        merge_reports([("a.json", old), ("b.json", dict(old))])
    older = {k: v for k, v in _other_run(a).items() if k not in ("runId", "runIds")}
    merged = merge_reports([("a.json", old), ("b.json", older)])  # as before run ids
    assert merged.recorder.answered == 100 and merged.to_json()["runIds"] == []


@pytest.mark.parametrize(
    ("ids", "says"),
    [
        ({"runIds": "abc"}, "runIds is not a list of run ids"),
        ({"runIds": ["abc", 3]}, "runIds is not a list of run ids"),
        ({"runIds": None, "runId": ""}, "runIds is not a list of run ids"),
        ({"runIds": ["abc", "abc"]}, "run abc is listed twice in runIds"),
    ],
)
def test_bad_run_ids_are_value_errors_naming_the_source(ids: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=rf"^b\.json: {says}"):
        merge_reports([("a.json", _good()), ("b.json", _with(**ids))])


def test_a_merge_of_an_interrupted_run_is_interrupted_and_adds_the_cancelled() -> None:
    """As 'fleet report' does: a run Ctrl-C or SIGTERM stopped makes the merge 130; the requests it
    cancelled add up. A report from before 'interrupted' and 'cancelled' reads as neither."""
    cut = _good()
    cut.update(interrupted=True, exitCode=130, requests={**cut["requests"], "cancelled": 3})
    merged = merge_reports([("a.json", cut), ("b.json", _good())])
    assert merged.exit == ExitCode.INTERRUPTED and merged.to_json()["requests"]["cancelled"] == 3
    old = {k: v for k, v in _good().items() if k not in ("interrupted", "answerWindow")}
    old["requests"] = {k: v for k, v in old["requests"].items() if k != "cancelled"}
    again = merge_reports([("old.json", old)])
    assert again.exit == ExitCode.OK and again.cancelled == 0
    assert again.answering == old["elapsed"]  # the answer window of an old report: its elapsed


def test_merged_negotiated_is_the_first_runs_when_it_is_an_object() -> None:
    good, odd = _good(), _other_run(_good())
    assert merge_reports([("a", good), ("b", odd)]).negotiated == NEGOTIATED
    odd["negotiated"] = ["JSONRPC"]
    assert merge_reports([("b", odd), ("a", good)]).negotiated is None


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"statuses": {"ok": -50}}, "-50 is not a count"),
        ({"bytes": 10**400}, "is not a count"),
        ({"statuses": {"ok": 5, "bogus": 1000}}, "unknown status 'bogus'"),
        ({"states": {"completed": 1.5}}, "1.5 is not a count"),
    ],
)
def test_hand_edited_counters_are_refused(change: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says) as err:
        merge_reports([("edited.json", _with(**change))])
    assert str(err.value).startswith("edited.json: ")


def test_a_nested_or_odd_model_does_not_break_the_merge() -> None:
    odd = _with(model={"kind": "merged", "models": [{"kind": "merged", "models": 5}]})
    merged = merge_reports([("a.json", odd), ("b.json", _good())])
    assert merged.to_json()["requests"]["sent"] == 100


def test_a_merge_of_runs_that_are_not_shares_of_one_load_says_so() -> None:
    """``load report`` merges runs against different targets, versions or bindings (as asked) and
    says so in ``notes``: the figures are a sum over agents, the percentiles mix versions. Shares of
    one load (same target, same negotiation) get no such note."""
    a, b = _good(), _other_run(_good())
    assert not [n for n in merge_reports([("a", a), ("b", b)]).notes() if n.startswith("the merged runs")]
    b["target"] = "http://other.example:9999"
    b["negotiated"] = {**NEGOTIATED, "protocolVersion": "0.3", "protocolBinding": "HTTP+JSON"}
    notes = merge_reports([("a", a), ("b", b)]).to_json()["notes"]
    assert notes[0] == (
        f"the merged runs loaded 2 targets ({', '.join(sorted([a['target'], b['target']]))}): the figures "
        "are their sum, not one agent's; 'target' names the first"
    )
    spoken = sorted([f"{NEGOTIATED['protocolVersion']} {NEGOTIATED['protocolBinding']}", "0.3 HTTP+JSON"])
    assert (
        notes[1] == f"the merged runs spoke {', '.join(spoken)}: their latencies are mixed in one histogram"
    )


def _histogram(*counts: int) -> str:
    """An encoded latency histogram with ``counts[i]`` requests at ``i + 1`` ms."""
    from a2actl.load.metrics import new_histogram

    hist = new_histogram()
    for i, count in enumerate(counts):
        hist.record_value(1000 * (i + 1), count)
    text: str = hist.encode().decode("ascii")
    return text


@pytest.mark.parametrize(
    "counts",
    [(2**62, 2**62), (2**63 - 1,), (2**62,), (2**62 - 1, 2**62 - 1, 2**62 - 1)],
    ids=["two-of-2^62", "2^63-1", "2^62", "three-of-2^62-1"],
)
def test_a_histogram_counting_past_what_a_report_holds_is_refused(counts: tuple[int, ...]) -> None:
    """A hand-edited report whose latency histogram counts 2**62 or more in a bucket (hdrhistogram
    reads such a count as a run of empty buckets) merged as a run without latencies, exit 0; one of
    more than 2**63 - 1 in all failed 'does not decode (ValueError: math domain error)'. Refused,
    naming the file and the histogram."""
    doc = _good()
    doc["histograms"]["latency"] = _histogram(*counts)
    with pytest.raises(ValueError) as err:
        merge_reports([("edited.json", doc)])
    assert str(err.value).startswith(
        "edited.json: histograms.latency: counts more requests than a report can hold ("
    ), str(err.value)


def test_histograms_that_together_count_past_what_a_report_holds_are_refused() -> None:
    """Each report counts 2**62 - 1 requests in one bucket, as a report may; their sum could not be
    written back into the merged report (its encoding reads 2**62 and more wrong)."""
    a, b = _good(), _other_run(_good())
    a["histograms"]["latency"] = b["histograms"]["latency"] = _histogram(2**62 - 1)
    assert merge_reports([("a.json", a)]).recorder.stats("latency")["count"] == 2**62 - 1  # type: ignore[index]
    with pytest.raises(
        ValueError, match=r"^b\.json: histograms\.latency: counts more requests .* before it$"
    ):
        merge_reports([("a.json", a), ("b.json", b)])
    a["histograms"]["latency"] = _histogram(2**40, 3)  # large counts that fit merge exactly
    b["histograms"]["latency"] = _histogram(2**40, 0, 5)
    merged = merge_reports([("a.json", a), ("b.json", b)]).to_json()
    assert merged["metrics"]["latency"]["count"] == 2**41 + 8
    again = HdrHistogram.decode(merged["histograms"]["latency"].encode())
    assert again.get_total_count() == 2**41 + 8


@pytest.mark.parametrize(
    ("model", "cut"),
    [
        (ModelSpec("open", rate=10.0, ramp=5.0, duration=1.0), (1.0, 2.0)),
        (ModelSpec("open", rate=100.0, ramp=10.0, requests=6, duration=60.0), (1.0, 10.0)),
        (ModelSpec("open", rate=10.0, ramp=5.0, duration=5.0), None),  # reaches --rate at the end
        (ModelSpec("open", rate=10.0, ramp=1.0, duration=2.0), None),
        (ModelSpec("open", rate=100.0, ramp=10.0, requests=501), None),  # the 501st starts at 10 s
        (ModelSpec("open", rate=10.0, duration=1.0), None),
        (ModelSpec("closed", concurrency=4, requests=10), None),
    ],
)
def test_a_schedule_that_ends_within_its_ramp(model: ModelSpec, cut: tuple[float, float] | None) -> None:
    got = model.ramp_cut()
    assert got == (None if cut is None else pytest.approx(cut))


def test_a_ramp_longer_than_the_run_is_noted() -> None:
    """``--rate 10 --ramp 5s -d 1s`` never reached the asked rate (2 req/s at its end), and the
    report said nothing: ``throughput.asked`` read 10. A note says so, for each such run of a merge."""
    from a2actl.load.report import ramp_note

    short = ModelSpec("open", rate=10.0, ramp=5.0, duration=1.0)
    note = (
        "the run ends 1.00s into the 5s --ramp (--duration 1s): arrivals reached 2.0 req/s, never the "
        "10 req/s --rate asks; lengthen the run or shorten --ramp"
    )
    assert ramp_note(short.to_json()) == note
    counted = ModelSpec("open", rate=100.0, ramp=10.0, requests=6, duration=60.0)
    assert ramp_note(counted.to_json()).startswith("the run ends 1.00s into the 10s --ramp (-n 6): ")  # type: ignore[union-attr]
    doc = _doc(_report(_rec({"ok": 3}), short))
    assert doc["notes"][0] == note and doc["throughput"]["asked"] == 10.0
    assert note not in _doc(_report(_rec({"ok": 3}), ModelSpec("open", rate=10.0, duration=1.0)))["notes"]
    merged = merge_reports([("a.json", doc), ("b.json", _other_run(doc))])
    assert merged.notes().count(note) == 1
    for odd in ({"kind": "open", "rate": "10", "ramp": 5, "duration": 1}, {"kind": "open"}, [1], None):
        assert ramp_note(odd) is None
