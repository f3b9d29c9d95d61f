"""The ``load run`` / ``load report`` table view (a2actl.render.load), whole, at 100 columns
without colour, and the live progress line (drawn only on a terminal)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from a2actl.load.report import Progress
from a2actl.render import load as view
from a2actl.render.output import Output
from tests.unit.render.rendering import stdout_trimmed


def _stats(count: int, *values: float) -> dict[str, Any]:
    p50, p90, p95, p99, p999, top = values
    return {
        "count": count,
        "min": p50 / 2,
        "mean": p50,
        "stddev": p50 / 10,
        "p50": p50,
        "p90": p90,
        "p95": p95,
        "p99": p99,
        "p99.9": p999,
        "max": top,
    }


DOC: dict[str, Any] = {
    "kind": "a2actl.load.report",
    "target": "http://127.0.0.1:9999",
    "scenario": "stream",
    "model": {
        "kind": "open",
        "rate": 50.0,
        "ramp": 2.0,
        "maxInFlight": 20,
        "requests": None,
        "duration": 10.0,
    },
    "negotiated": {"protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
    "runs": 1,
    "sources": None,
    "startedAt": "2027-01-15T08:00:00.000+00:00",
    "elapsed": 10.02,
    "sendingWindow": 9.98,
    "answerWindow": 10.02,
    "timeout": 30.0,
    "requests": {"scheduled": 500, "sent": 450, "ok": 430, "failures": 20, "dropped": 50, "cancelled": 0},
    "statuses": {"ok": 430, "task-failed": 5, "http-error": 15, "dropped": 50},
    "throughput": {"asked": 50.0, "sent": 45.09, "achieved": 44.91, "ok": 42.914},
    "metrics": {
        "latency": _stats(450, 0.0123, 0.0456, 0.0789, 1.234, 2.5, 2.61),
        "lag": _stats(450, 0.0001, 0.0002, 0.0004, 0.0512, 0.9, 1.0),
        "ttfe": _stats(435, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007),
        "gap": _stats(900, 0.001, 0.0015, 0.002, 0.01, 0.02, 0.03),
        "phase.ttfb": _stats(3, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01),
    },
    "errors": [
        {"status": "http-error", "code": "503", "count": 15, "example": "Service \x1b[31mUnavailable"},
        {"status": "task-failed", "code": "failed", "count": 5, "example": None},
    ],
    "states": {"completed": 430, "failed": 5},
    "events": 1800,
    "bytes": 512000,
    "latencyBuckets": [{"le": 0.01, "count": 100}, {"le": 0.1, "count": 330}, {"le": 2.61, "count": 20}],
    "thresholds": [
        {
            "threshold": "p99<1s",
            "metric": "latency",
            "stat": "p99",
            "op": "<",
            "limit": 1.0,
            "actual": 1.234,
            "ok": False,
        },
        {
            "threshold": "ttfe.p95<300ms",
            "metric": "ttfe",
            "stat": "p95",
            "op": "<",
            "limit": 0.3,
            "actual": 0.004,
            "ok": True,
        },
        {
            "threshold": "errors<5%",
            "metric": "errors",
            "stat": None,
            "op": "<",
            "limit": 0.05,
            "actual": 0.0444,
            "ok": True,
        },
        {
            "threshold": "rps>=50",
            "metric": "rps",
            "stat": None,
            "op": ">=",
            "limit": 50.0,
            "actual": 44.91,
            "ok": False,
        },
        {
            "threshold": "ttfa.p99<1s",
            "metric": "ttfa",
            "stat": "p99",
            "op": "<",
            "limit": 1.0,
            "actual": None,
            "ok": False,
        },
    ],
    "aborted": "threshold failed after 1.5s: p99<1s",
    "notes": [
        "50 arrivals were dropped: --max-in-flight was full and so was its backlog",
        "schedule lag p99 51.2 ms: requests started late",
    ],
    "exitCode": 7,
    "histograms": {},
}

EXPECTED = """\
load        stream on http://127.0.0.1:9999  (JSONRPC 1.0)
            open model: 50 req/s, ramp 2.00s, max in flight 20, 10.00s
requests    450 sent in 9.98s (45.1 req/s of 50 asked), 430 ok, 20 failed, 50 dropped by --max-in-flight
throughput  44.9 req/s answered (42.9 ok) over 10.02s, from the first request to the last answer
            1800 events, 500.0 KiB received

 metric                count      p50      p90      p95      p99     p99.9      max
 ──────────────────────────────────────────────────────────────────────────────────
 latency                 450   12.3ms   45.6ms   78.9ms    1.23s     2.50s    2.61s
 schedule lag            450    100µs    200µs    400µs   51.2ms   900.0ms    1.00s
 time to first event     435    2.0ms    3.0ms    4.0ms    5.0ms     6.0ms    7.0ms
 inter-event gap         900    1.0ms    1.5ms    2.0ms   10.0ms    20.0ms   30.0ms
 phase ttfb                3   10.0ms   10.0ms   10.0ms   10.0ms    10.0ms   10.0ms

note        50 arrivals were dropped: --max-in-flight was full and so was its backlog
note        schedule lag p99 51.2 ms: requests started late
latency histogram
  ≤   10.0ms ████████████ 100
  ≤  100.0ms ████████████████████████████████████████ 330
  ≤    2.61s ██ 20
errors

 status        code     count   example
 ──────────────────────────────────────────────────────────
 http-error    503         15   Service \\x1b[31mUnavailable
 task-failed   failed       5

task states completed 430, failed 5
threshold   ✗ p99<1s  (actual 1.23s)
threshold   ✓ ttfe.p95<300ms  (actual 4.0ms)
threshold   ✓ errors<5%  (actual 4.44%)
threshold   ✗ rps>=50  (actual 44.9)
threshold   ✗ ttfa.p99<1s  (actual no samples)
aborted     threshold failed after 1.5s: p99<1s
"""


def test_report(monkeypatch: pytest.MonkeyPatch) -> None:
    assert stdout_trimmed(view.report, DOC, monkeypatch, columns=100) == EXPECTED


MERGED: dict[str, Any] = {
    **DOC,
    "scenario": "send",
    "model": {"kind": "merged", "models": [{"kind": "closed"}, {"kind": "closed"}]},
    "negotiated": None,
    "runs": 2,
    "sources": ["ci/a.json", "ci/b.json"],
    "sendingWindow": 9.5,
    "requests": {"scheduled": 200, "sent": 200, "ok": 200, "failures": 0, "dropped": 0, "cancelled": 0},
    "statuses": {"ok": 200},
    "throughput": {"asked": None, "sent": 21.053, "achieved": 19.96, "ok": 19.96},
    "metrics": {"latency": _stats(200, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06)},
    "errors": [],
    "states": {},
    "events": 0,
    "bytes": 0,
    "latencyBuckets": [],
    "thresholds": [
        {
            "threshold": "failed<=0",
            "metric": "failed",
            "stat": None,
            "op": "<=",
            "limit": 0.0,
            "actual": 0.0,
            "ok": True,
        }
    ],
    "aborted": None,
    "notes": [],
    "exitCode": 0,
}

EXPECTED_MERGED = """\
load        send on http://127.0.0.1:9999
            merged 2 runs: ci/a.json, ci/b.json
requests    200 sent in 9.50s (21.1 req/s), 200 ok, 0 failed
throughput  20.0 req/s answered (20.0 ok) over 10.02s, from the first request to the last answer

 metric    count      p50      p90      p95      p99    p99.9      max
 ─────────────────────────────────────────────────────────────────────
 latency     200   10.0ms   20.0ms   30.0ms   40.0ms   50.0ms   60.0ms

threshold   ✓ failed<=0  (actual 0.00%)
"""


def test_merged_report(monkeypatch: pytest.MonkeyPatch) -> None:
    assert stdout_trimmed(view.report, MERGED, monkeypatch, columns=100) == EXPECTED_MERGED


def test_a_cut_run_shows_its_cancelled_requests_and_the_window_to_the_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = {
        **MERGED,
        "requests": {"scheduled": 205, "sent": 205, "ok": 200, "failures": 0, "dropped": 0, "cancelled": 5},
        "answerWindow": 12.0,
    }
    lines = stdout_trimmed(view.report, doc, monkeypatch, columns=100).splitlines()
    assert lines[2:4] == [
        "requests    205 sent in 9.50s (21.1 req/s), 200 ok, 0 failed, 5 cancelled in flight",
        "throughput  20.0 req/s answered (20.0 ok) over 12.00s, from the first request to the stop "
        "(requests in flight were cancelled)",
    ]


@pytest.mark.parametrize(
    ("model", "line"),
    [
        (
            {"kind": "closed", "concurrency": 1, "requests": 100, "duration": None},
            "closed model: 1 worker, 100 requests",
        ),
        (
            {"kind": "closed", "concurrency": 8, "requests": 100, "duration": 30.0},
            "closed model: 8 workers, 100 requests or 30.00s",
        ),
        (
            {
                "kind": "open",
                "rate": 12.5,
                "ramp": None,
                "maxInFlight": 1000,
                "requests": 40,
                "duration": None,
            },
            "open model: 12.5 req/s, max in flight 1000, 40 requests",
        ),
    ],
)
def test_model_line(monkeypatch: pytest.MonkeyPatch, model: dict[str, Any], line: str) -> None:
    doc = {**MERGED, "model": model, "runs": 1, "sources": None}
    assert stdout_trimmed(view.report, doc, monkeypatch, columns=100).splitlines()[1] == " " * 12 + line


@pytest.mark.parametrize(
    ("models", "sources", "runs", "line"),
    [
        (  # `load report run.json`: one report shown again, with its own model
            [{"kind": "closed", "concurrency": 4, "requests": 10, "duration": None}],
            ["run.json"],
            1,
            "closed model: 4 workers, 10 requests (from run.json)",
        ),
        (  # a model line that lacks its fields
            [{"kind": "open"}],
            ["odd.json"],
            1,
            "merged 1 run: odd.json",
        ),
        (  # a merged report merged alone
            [{"kind": "merged", "models": [{"kind": "closed"}, {"kind": "closed"}]}],
            ["ab.json"],
            2,
            "merged 2 runs: ab.json",
        ),
        (
            [{"kind": "closed"}, {"kind": "merged", "models": []}],
            ["a.json", "bc.json"],
            3,
            "merged 3 runs: a.json, bc.json",
        ),
    ],
)
def test_merged_model_line(
    monkeypatch: pytest.MonkeyPatch, models: list[Any], sources: list[str], runs: int, line: str
) -> None:
    doc = {**MERGED, "model": {"kind": "merged", "models": models}, "sources": sources, "runs": runs}
    assert stdout_trimmed(view.report, doc, monkeypatch, columns=100).splitlines()[1] == " " * 12 + line


def test_unary_bytes_without_events(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {**MERGED, "bytes": 2048}
    assert (
        "            2.0 KiB received"
        in stdout_trimmed(view.report, doc, monkeypatch, columns=100).splitlines()
    )


def test_one_valued_histogram(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {**MERGED, "latencyBuckets": [{"le": 0.25, "count": 7}]}
    got = stdout_trimmed(view.report, doc, monkeypatch, columns=100).splitlines()
    at = got.index("latency histogram")
    assert got[at + 1] == "  ≤  250.0ms " + "█" * 40 + " 7"


# --- the progress line ---------------------------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


P = Progress(
    elapsed=2.5,
    sent=120,
    answered=118,
    in_flight=2,
    rate=49.6,
    p99=0.0421,
    failures=3,
    dropped=0,
    sending=50.0,
)


def test_progress_line_is_silent_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    stdout, stderr = io.StringIO(), io.StringIO()
    line = view.ProgressLine(Output("table", stdout=stdout, stderr=stderr))
    assert not line.enabled
    line.update(P)
    line.close()
    assert stderr.getvalue() == "" and stdout.getvalue() == ""


def test_progress_line_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    stdout, stderr = io.StringIO(), Tty()
    line = view.ProgressLine(Output("table", stdout=stdout, stderr=stderr))
    assert line.enabled
    line.update(P)
    line.update(P)  # within 0.2 s of the last: not redrawn
    line._last = 0.0
    line.update(Progress(3.0, 200, 150, 50, 20.0, None, 3, 7, 80.0))
    line.close()
    assert stderr.getvalue() == (
        "\r\x1b[2K2.50s  sent 50 req/s  answers 50 req/s  in flight 2  answered 118  p99 42.1ms  errors 3"
        "\r\x1b[2K3.00s  sent 80 req/s  answers 20 req/s  in flight 50  answered 150  p99 -  errors 3  dropped 7"
        "\r\x1b[2K"
    )
    assert stdout.getvalue() == ""
    off = Tty()
    disabled = view.ProgressLine(Output("table", stdout=io.StringIO(), stderr=off), enabled=False)
    disabled.update(P)
    disabled.close()
    assert off.getvalue() == ""
