"""``handshake probe``'s and ``demo``'s table views, rendered whole at 100 columns without colour from
hand-built ``-o json`` documents: the one-sample waterfall, the percentile table and histogram,
failures, the version diagnosis and budget verdicts."""

from __future__ import annotations

from typing import Any

import pytest

from a2actl.render import probe as render_probe
from tests.unit.render.rendering import lines, render

PHASES_ONE = {
    "dns": 0.0,
    "connect": 0.0005,
    "tls": 0.0,
    "ttfb": 0.004,
    "transfer": 0.0005,
    "parse": 0.001,
    "negotiate": 0.0001,
    "session": 0.002,
    "rpc": 0.012,
}
CURL = {
    "time_namelookup": 0.0,
    "time_connect": 0.0005,
    "time_appconnect": 0.0,
    "time_pretransfer": 0.0005,
    "time_starttransfer": 0.0045,
    "time_total": 0.005,
    "newConnection": True,
    "remoteIp": "127.0.0.1",
}
NEGOTIATION = {
    "url": "http://127.0.0.1:9/a2a/jsonrpc",
    "protocolBinding": "JSONRPC",
    "protocolVersion": "1.0",
    "declaredVersion": "1.0",
    "tenant": None,
    "reason": "interface #1 of the card: the first 1.0 interface",
    "forced": False,
}
RPC_OK = {
    "method": "GetTask",
    "error": {"code": -32001, "name": "TaskNotFoundError"},
    "healthy": True,
    "meaning": "TaskNotFound for a random id: routing, version and auth work",
}


def stats(**p99: float) -> dict[str, Any]:
    return {
        name: {"count": 3, "min": v / 2, "p50": v / 1.5, "p90": v / 1.1, "p99": v, "max": v, "mean": v / 1.5}
        for name, v in p99.items()
    }


ONE: dict[str, Any] = {
    "traceId": "0af7651916cd43dd8448eb211c80319c",
    "cardUrl": "http://127.0.0.1:9/.well-known/agent-card.json",
    "discovery": {"notes": ["card found at the legacy path"]},
    "card": {"shape": "hybrid", "declaredVersions": ["1.0", "0.3"]},
    "negotiation": NEGOTIATION,
    "versionCheck": None,
    "options": {"samples": 1, "concurrency": 1, "warmup": 0, "reuse": False, "send": True},
    "samples": [
        {
            "index": 0,
            "ok": True,
            "phases": PHASES_ONE,
            "curl": CURL,
            "failedPhase": None,
            "error": None,
            "rpc": RPC_OK,
            "send": {
                "method": "SendStreamingMessage",
                "streaming": True,
                "events": 5,
                "finalState": "completed",
                "statusMessage": None,
            },
            "session": {"url": "http://127.0.0.1:9/a2a/handshake", "status": 200, "tokenIssued": True},
        }
    ],
    "histogram": [],
    "failures": {},
    "budget": {"limits": [{"metric": "total", "limit": 5.0}], "violations": [], "ok": True},
}

FAILED = {
    "index": 2,
    "ok": False,
    "phases": {"ttfb": 0.003},
    "curl": {},
    "failedPhase": "rpc",
    "error": {"message": "GetTask failed: -32009 VersionNotSupportedError", "hint": "try --a2a-version 0.3"},
    "rpc": None,
}
MANY: dict[str, Any] = {
    **ONE,
    "discovery": {"notes": []},
    "versionCheck": {
        "sent": "1.0",
        "retriedAs": "0.3",
        "retryOk": True,
        "conclusion": "it answers 0.3 but not 1.0",
    },
    "options": {"samples": 3, "concurrency": 2, "warmup": 0, "reuse": True, "send": False},
    "samples": [
        {**ONE["samples"][0], "index": 0, "send": None, "session": None},
        {**ONE["samples"][0], "index": 1, "send": None, "session": None},
        FAILED,
    ],
    "stats": {**stats(ttfb=0.004, rpc=0.012, total=0.02), "session": {"count": 0}},
    "histogram": [
        {"from": 0.01, "to": 0.015, "count": 1},
        {"from": 0.015, "to": 0.02, "count": 0},
        {"from": 0.02, "to": 0.025, "count": 2},
    ],
    "failures": {"a2a_error": 1},
    "budget": {
        "limits": [{"metric": "rpc", "limit": 0.01}],
        "violations": [
            {"message": "first RPC p99 12.0ms is over the 10.0ms budget; first RPC used 12.0ms of it"}
        ],
        "ok": False,
    },
}


ONE_TABLE = """\
card        http://127.0.0.1:9/.well-known/agent-card.json  (hybrid card; declares 1.0, 0.3)
negotiated  JSONRPC 1.0 at http://127.0.0.1:9/a2a/jsonrpc
            interface #1 of the card: the first 1.0 interface
phase                 time
─────────────────────────────────────────────────────────────────────
DNS lookup             0µs
TCP connect          500µs   █
TLS handshake          0µs
card TTFB            4.0ms   ████████
card transfer        500µs           █
card parse           1.0ms            ██
negotiation          100µs              █
session handshake    2.0ms               ████
first RPC           12.0ms                   ████████████████████████
total               20.1ms
curl-style  time_namelookup=0.000000  time_connect=0.000500  time_appconnect=0.000000  time_starttransfer=0.004500  time_total=0.005000
first RPC   GetTask → -32001 TaskNotFoundError: TaskNotFound for a random id: routing, version and auth work
send        SendStreamingMessage: 5 event(s), final state completed
session     http://127.0.0.1:9/a2a/handshake: HTTP 200, token issued: yes (not shown)
budget      ok (total≤5.00s, on p99)
trace id    0af7651916cd43dd8448eb211c80319c
"""

ONE_STDERR = """\
card found at the legacy path
"""

MANY_TABLE = """\
card        http://127.0.0.1:9/.well-known/agent-card.json  (hybrid card; declares 1.0, 0.3)
negotiated  JSONRPC 1.0 at http://127.0.0.1:9/a2a/jsonrpc
            interface #1 of the card: the first 1.0 interface
2 of 3 samples ok (concurrency 2, reused connections)

  phase          min      p50      p90      p99      max
 ────────────────────────────────────────────────────────
  card TTFB    2.0ms    2.7ms    3.6ms    4.0ms    4.0ms
  first RPC    6.0ms    8.0ms   10.9ms   12.0ms   12.0ms
  total       10.0ms   13.3ms   18.2ms   20.0ms   20.0ms

total latency histogram
    10.0ms – 15.0ms   ███████████████ 1
    15.0ms – 20.0ms    0
    20.0ms – 25.0ms   ██████████████████████████████ 2
first RPC   GetTask → -32001 TaskNotFoundError: TaskNotFound for a random id: routing, version and auth work
failures    1 of 3: a2a_error 1
            in rpc: GetTask failed: -32009 VersionNotSupportedError
            hint: try --a2a-version 0.3
version     it answers 0.3 but not 1.0
budget      FAIL first RPC p99 12.0ms is over the 10.0ms budget; first RPC used 12.0ms of it
trace id    0af7651916cd43dd8448eb211c80319c
"""


def test_one_sample_is_a_waterfall(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = render(render_probe.report, ONE, monkeypatch)
    assert lines(out) == ONE_TABLE
    assert err == ONE_STDERR


def test_many_samples_are_percentiles_a_histogram_failures_and_verdicts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, err = render(render_probe.report, MANY, monkeypatch)
    assert lines(out) == MANY_TABLE
    assert err == ""


def test_demo_is_the_report_then_where_to_go_next(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = render(render_probe.demo, ONE, monkeypatch)
    assert lines(out) == ONE_TABLE
    assert err == ONE_STDERR + (
        "next: a2actl sandbox serve --port 9999, then a2actl caps validate http://127.0.0.1:9999 "
        "or a2actl stream tail http://127.0.0.1:9999 --send hi\n"  # soft wrap: never cut
    )


def test_a_failed_single_sample_says_where_it_broke(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {**ONE, "samples": [FAILED], "failures": {"a2a_error": 1}, "discovery": {"notes": []}}
    doc["budget"] = {"limits": [{"metric": "total", "limit": 5.0}], "violations": [], "ok": True}
    out, _ = render(render_probe.report, doc, monkeypatch)
    assert lines(out).splitlines()[3:] == [
        "phase        time",
        "─" * 60,
        "card TTFB   3.0ms   ████████████████████████████████████████",
        "total       3.0ms",
        "FAILED in rpc",
        "failures    1 of 1: a2a_error 1",
        "            in rpc: GetTask failed: -32009 VersionNotSupportedError",
        "            hint: try --a2a-version 0.3",
        "trace id    0af7651916cd43dd8448eb211c80319c",
    ]  # no "budget ok" line: no sample succeeded


def _histogram_lines(buckets: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    doc = {**MANY, "histogram": buckets}
    out, _ = render(render_probe.report, doc, monkeypatch)
    rows = lines(out).splitlines()
    start = rows.index("total latency histogram") + 1
    return [r for r in rows[start:] if " – " in r]


def test_histogram_labels_of_samples_under_10ms_apart_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Samples 8.250 s to 8.258 s: eight buckets 1 ms wide were all labelled "8.25s – 8.25s" (or
    8.26s): no way to read which bucket is which. The labels get the digits that tell them apart."""
    lo, width = 8.25, 0.001
    buckets = [{"from": lo + i * width, "to": lo + (i + 1) * width, "count": i % 3} for i in range(8)]
    rows = _histogram_lines(buckets, monkeypatch)
    labels = [tuple(r.split()[:3:2]) for r in rows]
    assert labels[0] == ("8.250s", "8.251s") and labels[-1] == ("8.257s", "8.258s"), rows
    assert all(a != b for a, b in labels), rows
    assert len({a for a, _ in labels}) == 8, rows


def test_histogram_labels_of_sub_microsecond_buckets_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    lo, width = 0.0125, 2e-7
    buckets = [{"from": lo + i * width, "to": lo + (i + 1) * width, "count": 1} for i in range(8)]
    rows = _histogram_lines(buckets, monkeypatch)
    starts = [r.split()[0] for r in rows]
    assert len(set(starts)) == 8, rows
    assert starts[0] == "12.5000ms" and starts[1] == "12.5002ms", rows


def test_one_histogram_bucket_keeps_the_usual_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every sample alike (one bucket, from = to): nothing to tell apart, no digits added."""
    rows = _histogram_lines([{"from": 8.25, "to": 8.25, "count": 3}], monkeypatch)
    assert [r.split()[:3] for r in rows] == [["8.25s", "–", "8.25s"]], rows
