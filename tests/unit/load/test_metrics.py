"""Per-request records and the ``Recorder`` (a2actl.load.metrics): counting by status, the
hand-rolled one-pass ``stats`` against hdrhistogram's own getters on several distributions, the
terminal histogram's buckets, the encoded form, and exact merging (a split of N records merged
equals one recorder over the N)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable

import pytest
from hdrh.histogram import HdrHistogram

from a2actl.load.metrics import (
    _HIGHEST_US,
    METRICS,
    PERCENTILES,
    STATUSES,
    Recorder,
    RequestRecord,
    _record_us,
    merge_recorders,
    new_histogram,
)


def _counts(hist: HdrHistogram) -> list[int]:
    return list(hist.counts[: hist.counts_len])


# --- RequestRecord -------------------------------------------------------------------------------


def test_record_json_rounds_to_microseconds_and_summarises_gaps() -> None:
    rec = RequestRecord(
        7,
        1.23456789,
        lag=0.0001234,
        latency=0.5,
        status="task-failed",
        code="failed",
        message="boom",
        state="failed",
        ttfe=0.1000004,
        ttfa=0.2,
        terminal=0.45,
        events=3,
        bytes=900,
        gaps=[0.1, 0.35, 0.05],
        phases={"connect": 0.0012345678},
    )
    assert rec.to_json() == {
        "seq": 7,
        "scheduled": 1.234568,
        "lag": 0.000123,
        "latency": 0.5,
        "status": "task-failed",
        "code": "failed",
        "state": "failed",
        "ttfe": 0.1,
        "ttfa": 0.2,
        "terminal": 0.45,
        "events": 3,
        "bytes": 900,
        "gapMax": 0.35,
        "phases": {"connect": 0.001235},
        "message": "boom",
    }
    bare = RequestRecord(0, 0.0).to_json()
    assert bare["status"] == "ok"
    assert [k for k, v in bare.items() if v is None] == [
        "lag",
        "latency",
        "code",
        "state",
        "ttfe",
        "ttfa",
        "terminal",
        "gapMax",
        "phases",
        "message",
    ]
    json.dumps(bare)  # plain JSON types only


# --- Recorder.add --------------------------------------------------------------------------------


def test_add_counts_each_status() -> None:
    r = Recorder()
    r.add(RequestRecord(0, 0.0, lag=0.001, latency=0.010, state="completed", events=2, bytes=100))
    r.add(
        RequestRecord(1, 0.1, lag=0.002, latency=0.020, status="task-failed", code="failed", state="failed")
    )
    r.add(
        RequestRecord(
            2, 0.2, latency=0.030, status="a2a-error", code="TaskNotFoundError -32001", message="first"
        )
    )
    r.add(
        RequestRecord(
            3, 0.3, latency=0.040, status="a2a-error", code="TaskNotFoundError -32001", message="second"
        )
    )
    r.add(RequestRecord(4, 0.4, latency=0.050, status="http-error", code="503"))
    r.add(RequestRecord(5, 0.5, latency=5.0, status="transport-error", code="timeout", message="slow"))
    r.add(RequestRecord(6, 0.6, latency=0.060, status="transport-error"))  # no code: "?"
    # a dropped arrival is counted and nothing else, whatever it carries
    r.add(RequestRecord(7, 0.7, lag=9.0, latency=9.0, status="dropped", code="x", state="working", events=5))
    assert dict(r.statuses) == {
        "ok": 1,
        "task-failed": 1,
        "a2a-error": 2,
        "http-error": 1,
        "transport-error": 2,
        "dropped": 1,
    }
    assert set(r.statuses) <= set(STATUSES)
    assert dict(r.errors) == {
        ("task-failed", "failed"): 1,
        ("a2a-error", "TaskNotFoundError -32001"): 2,
        ("http-error", "503"): 1,
        ("transport-error", "timeout"): 1,
        ("transport-error", "?"): 1,
    }
    assert r.examples == {
        ("a2a-error", "TaskNotFoundError -32001"): "first",  # the first example is kept
        ("transport-error", "timeout"): "slow",
    }
    assert dict(r.states) == {"completed": 1, "failed": 1}
    assert (r.total, r.answered, r.failures) == (8, 7, 6)
    assert (r.events, r.bytes) == (2, 100)
    assert r.histograms["latency"].get_total_count() == 7
    assert r.histograms["lag"].get_total_count() == 2  # the closed model has no lag
    assert r.names() == ["latency", "lag"]
    assert r.counts_json() == {
        "statuses": {
            "ok": 1,
            "task-failed": 1,
            "a2a-error": 2,
            "http-error": 1,
            "transport-error": 2,
            "dropped": 1,
        },
        "errors": [
            {"status": "a2a-error", "code": "TaskNotFoundError -32001", "count": 2, "example": "first"},
            {"status": "http-error", "code": "503", "count": 1, "example": None},
            {"status": "task-failed", "code": "failed", "count": 1, "example": None},
            {"status": "transport-error", "code": "?", "count": 1, "example": None},
            {"status": "transport-error", "code": "timeout", "count": 1, "example": "slow"},
        ],
        "states": {"completed": 1, "failed": 1},
        "events": 2,
        "bytes": 100,
    }


def test_add_stream_and_handshake_timings() -> None:
    r = Recorder()
    r.add(
        RequestRecord(
            0, 0.0, latency=0.5, ttfe=0.1, ttfa=0.2, terminal=0.4, gaps=[0.1, 0.2], events=3, bytes=10
        )
    )
    r.add(RequestRecord(1, 0.1, latency=0.3, phases={"ttfb": 0.01, "connect": 0.002}))
    assert r.names() == ["latency", "ttfe", "ttfa", "terminal", "gap", "phase.connect", "phase.ttfb"]
    assert {n: r.histograms[n].get_total_count() for n in r.names()} == {
        "latency": 2,
        "ttfe": 1,
        "ttfa": 1,
        "terminal": 1,
        "gap": 2,
        "phase.connect": 1,
        "phase.ttfb": 1,
    }
    assert set(METRICS) <= set(r.histograms)  # every run has the standard ones, empty or not
    assert r.stats("lag") is None and r.stats("phase.nope") is None
    assert r.percentile("lag", 99.0) is None and r.percentile("nope", 50.0) is None
    ttfb = r.percentile("phase.ttfb", 99.0)
    assert ttfb is not None and ttfb == pytest.approx(0.01, rel=1e-3)


def test_recorded_values_are_microseconds_within_the_precision() -> None:
    """3 significant digits: every figure is within 0.1 % of what was recorded; under 0.5 µs counts
    as 0 (a phase that did not happen: dns on an IP), over 1 h as 1 h."""
    r = Recorder()
    for seconds in (0.0, 4e-7, 6e-7, 0.0123456, 7200.0):
        r.add(RequestRecord(0, 0.0, latency=seconds))
    stats = r.stats("latency")
    assert stats is not None
    assert stats["min"] == 0.0
    assert stats["p50"] == 1e-6  # 0, 0, 1 µs, …
    assert stats["max"] == pytest.approx(3600.0, rel=1e-3)
    assert r.stats("latency") == stats  # stats do not change the histogram
    one = Recorder()
    one.add(RequestRecord(0, 0.0, latency=0.0123456))
    s = one.stats("latency")
    assert s is not None
    for key in ("min", "mean", "p50", "p99.9", "max"):
        assert s[key] == pytest.approx(0.0123456, rel=1e-3)
    assert s["stddev"] == 0.0 and s["count"] == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recording_equals_hdrhistograms_record_value(seed: int) -> None:
    """Recorder's own bucket arithmetic (``_record_us``) leaves exactly the histogram hdrhistogram's
    ``record_value`` leaves: counts, total, min, max and the encoding, over every bucket boundary."""
    rnd = random.Random(seed)
    edges = [0, 1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 4097, _HIGHEST_US - 1, _HIGHEST_US]
    values = edges + [2**k + d for k in range(11, 32) for d in (-1, 0, 1)]
    values += [min(_HIGHEST_US, int(rnd.lognormvariate(8, 3))) for _ in range(20_000)]
    rnd.shuffle(values)
    theirs, ours = new_histogram(), new_histogram()
    for v in values:
        theirs.record_value(v)
        _record_us(ours, v)
    assert _counts(ours) == _counts(theirs)
    assert (ours.total_count, ours.min_value, ours.max_value) == (
        theirs.total_count,
        theirs.min_value,
        theirs.max_value,
    )
    assert ours.encode() == theirs.encode()


# --- stats() against hdrhistogram's getters ------------------------------------------------------

Draw = Callable[[random.Random], float]

DISTRIBUTIONS: dict[str, tuple[int, Draw]] = {
    "single value": (1, lambda rnd: 0.0421),
    "one value many times": (500, lambda rnd: 0.25),
    "uniform ms": (3000, lambda rnd: rnd.uniform(0.001, 0.050)),
    "exponential": (3000, lambda rnd: rnd.expovariate(1 / 0.02)),
    "lognormal tail": (3000, lambda rnd: rnd.lognormvariate(math.log(0.05), 1.5)),
    "bimodal with stalls": (2000, lambda rnd: rnd.choice((rnd.gauss(0.005, 0.001), rnd.uniform(1.0, 2.0)))),
    "µs to minutes": (3000, lambda rnd: 10 ** rnd.uniform(-6, math.log10(600))),
    "few": (3, lambda rnd: rnd.uniform(0.0, 10.0)),
}


def _recorder(values: list[float]) -> Recorder:
    r = Recorder()
    for i, v in enumerate(values):
        r.add(RequestRecord(i, 0.0, latency=v))
    return r


def _values(name: str, seed: int = 15) -> list[float]:
    n, draw = DISTRIBUTIONS[name]
    rnd = random.Random(seed)
    return [max(0.0, draw(rnd)) for _ in range(n)]


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_stats_equal_hdrhistogram_getters(name: str) -> None:
    values = _values(name)
    r = _recorder(values)
    hist = r.histograms["latency"]
    stats = r.stats("latency")
    assert stats is not None
    assert list(stats) == ["count", "min", "mean", "stddev", "p50", "p90", "p95", "p99", "p99.9", "max"]
    assert stats["count"] == len(values) == hist.get_total_count()
    assert stats["min"] == hist.get_min_value() / 1e6
    assert stats["max"] == hist.get_max_value() / 1e6
    assert stats["mean"] == hist.get_mean_value() / 1e6
    assert stats["stddev"] == hist.get_stddev() / 1e6
    for label, pct in PERCENTILES:
        assert stats[label] == hist.get_value_at_percentile(pct) / 1e6, label
    # and the figures are those of the data, within the 3 significant digits (1 µs resolution)
    ordered = sorted(values)
    assert stats["min"] == pytest.approx(max(ordered[0], 1e-6), rel=1e-3, abs=1e-6)
    assert stats["max"] == pytest.approx(ordered[-1], rel=1e-3, abs=1e-6)
    assert stats["mean"] == pytest.approx(sum(ordered) / len(ordered), rel=1e-3, abs=1e-6)
    assert stats["min"] <= stats["p50"] <= stats["p90"] <= stats["p95"] <= stats["p99"]
    assert stats["p99"] <= stats["p99.9"] <= stats["max"]


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_percentile_equals_hdrhistogram(name: str) -> None:
    r = _recorder(_values(name))
    hist = r.histograms["latency"]
    for pct in (0.0, 0.1, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0):
        assert r.percentile("latency", pct) == hist.get_value_at_percentile(pct) / 1e6


# --- buckets() -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", [n for n in DISTRIBUTIONS if n not in ("single value", "one value many times")]
)
@pytest.mark.parametrize("count", [1, 5, 12])
def test_buckets_cover_every_value_with_rising_edges(name: str, count: int) -> None:
    values = _values(name)
    r = _recorder(values)
    buckets = r.buckets("latency", count)
    assert len(buckets) == count
    assert sum(b["count"] for b in buckets) == len(values)
    edges = [b["le"] for b in buckets]
    assert all(a < b for a, b in zip(edges, edges[1:], strict=False))
    stats = r.stats("latency")
    assert stats is not None
    assert edges[0] > stats["min"] or count == 1
    assert edges[-1] == stats["max"]
    # each value lands in the first bucket whose edge is at or above it
    hist = r.histograms["latency"]
    expected = [0] * count
    for v in values:
        us = hist.get_lowest_equivalent_value(min(3_600_000_000, max(1, int(v * 1e6 + 0.5))))
        expected[next((i for i, e in enumerate(edges) if us / 1e6 <= e), count - 1)] += 1
    assert [b["count"] for b in buckets] == expected


def test_buckets_of_one_value_and_of_nothing() -> None:
    r = _recorder(_values("one value many times"))
    assert r.buckets("latency") == [{"le": r.histograms["latency"].get_max_value() / 1e6, "count": 500}]
    assert Recorder().buckets("latency") == []
    assert Recorder().buckets("phase.nope") == []


# --- encoding and merging ------------------------------------------------------------------------


def _records(n: int, seed: int = 7) -> list[RequestRecord]:
    """``n`` varied records: every status, streams, phases, lag."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        status = rnd.choices(STATUSES, weights=(80, 5, 4, 4, 4, 3))[0]
        latency = rnd.lognormvariate(-3, 1)
        rec = RequestRecord(i, i / 100.0, lag=rnd.uniform(0, 0.01), latency=latency)
        rec.status = status
        if status == "task-failed":
            rec.code = rec.state = rnd.choice(("failed", "rejected", "canceled"))
        elif status == "a2a-error":
            rec.code, rec.message = "TaskNotFoundError -32001", f"no task {i}"
        elif status == "http-error":
            rec.code = rnd.choice(("503", "500"))
        elif status == "transport-error":
            rec.code, rec.message = rnd.choice(("timeout", "unreachable")), f"err {i}"
        else:
            rec.state = "completed"
        if i % 3 == 0:
            rec.ttfe = latency / 4
            rec.ttfa = latency / 2
            rec.terminal = latency * 0.9
            rec.gaps = [rnd.uniform(0, 0.01) for _ in range(rnd.randint(0, 4))]
            rec.events, rec.bytes = len(rec.gaps) + 1, rnd.randint(100, 5000)
        if i % 5 == 0:
            rec.phases = {"connect": rnd.uniform(0.0001, 0.002), "ttfb": rnd.uniform(0.001, 0.05)}
        out.append(rec)
    return out


def _same(a: Recorder, b: Recorder) -> None:
    assert a.names() == b.names()
    for name in a.names():
        ha, hb = a.histograms[name], b.histograms[name]
        assert _counts(ha) == _counts(hb), name
        assert ha.get_total_count() == hb.get_total_count(), name
        assert a.stats(name) == b.stats(name), name
        assert a.buckets(name) == b.buckets(name), name
    assert a.counts_json() == b.counts_json()
    assert (a.total, a.answered, a.failures) == (b.total, b.answered, b.failures)


def test_encoded_round_trip() -> None:
    r = Recorder()
    for rec in _records(400):
        r.add(rec)
    enc = r.encoded()
    assert sorted(enc) == sorted(r.names())  # empty histograms are left out
    assert all(isinstance(v, str) and v.isascii() for v in enc.values())
    for name, text in enc.items():
        assert _counts(HdrHistogram.decode(text.encode("ascii"))) == _counts(r.histograms[name])
    back = Recorder()
    back.merge_json(json.loads(json.dumps(r.counts_json())), json.loads(json.dumps(enc)))
    _same(back, r)
    assert Recorder().encoded() == {}


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_merging_a_split_equals_one_recorder(parts: int) -> None:
    records = _records(700, seed=parts)
    whole = Recorder()
    for rec in records:
        whole.add(rec)
    rnd = random.Random(parts)
    cuts = sorted(rnd.sample(range(1, len(records)), parts - 1))
    shares = []
    for lo, hi in zip([0, *cuts], [*cuts, len(records)], strict=True):
        share = Recorder()
        for rec in records[lo:hi]:
            share.add(rec)
        shares.append(share)
    merged = merge_recorders(shares)
    _same(merged, whole)
    # and through JSON, as `load report` reads the documents: decoded histograms add up exactly
    again = Recorder()
    for share in shares:
        again.merge_json(json.loads(json.dumps(share.counts_json())), json.loads(json.dumps(share.encoded())))
    _same(again, whole)
    for name, text in whole.encoded().items():
        assert _counts(HdrHistogram.decode(text.encode("ascii"))) == _counts(again.histograms[name])


def test_merge_adds_counters_and_keeps_the_first_example() -> None:
    a, b = Recorder(), Recorder()
    a.add(
        RequestRecord(
            0, 0.0, latency=0.1, status="a2a-error", code="E 1", message="from a", events=2, bytes=10
        )
    )
    b.add(
        RequestRecord(
            0, 0.0, latency=0.2, status="a2a-error", code="E 1", message="from b", events=3, bytes=5
        )
    )
    b.add(RequestRecord(1, 0.0, latency=0.2, state="completed", phases={"tls": 0.01}))
    b.add(RequestRecord(2, 0.0, status="dropped"))
    m = merge_recorders([a, b])
    assert dict(m.statuses) == {"a2a-error": 2, "ok": 1, "dropped": 1}
    assert dict(m.errors) == {("a2a-error", "E 1"): 2}
    assert m.examples == {("a2a-error", "E 1"): "from a"}
    assert dict(m.states) == {"completed": 1}
    assert (m.events, m.bytes) == (5, 15)
    assert m.names() == ["latency", "phase.tls"]
    assert merge_recorders([]).total == 0


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "garbage",
        "!!!!",
        "HISTFAAAAB",
        "é",
        "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4",  # base64, no HDR cookie
    ],
)
def test_a_histogram_that_does_not_decode_is_a_value_error(garbage: str) -> None:
    r = Recorder()
    with pytest.raises(ValueError, match="'latency'"):
        r.merge_json({}, {"latency": garbage})


def test_damaged_histograms_are_value_errors_or_decode() -> None:
    """Every damage to a valid encoding (truncation, flipped characters) either decodes to some
    histogram or raises ``ValueError``: hdrhistogram itself raises its own exceptions, ``IndexError``,
    ``OverflowError`` and ``zlib.error``, which ``merge_json`` must turn into ``ValueError``."""
    src = _recorder(_values("µs to minutes"))
    text = src.encoded()["latency"]
    rnd = random.Random(3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    damaged = [text[:n] for n in range(0, len(text), max(1, len(text) // 40))]
    for _ in range(400):
        chars = list(text)
        for _ in range(rnd.randint(1, 3)):
            chars[rnd.randrange(len(chars))] = rnd.choice(alphabet)
        damaged.append("".join(chars))
    raised = 0
    for bad in damaged:
        try:
            Recorder().merge_json({}, {"latency": bad})
        except ValueError as exc:
            assert "'latency'" in str(exc)
            raised += 1
    assert raised > len(damaged) // 2  # most damage is detected


def test_histograms_of_other_shapes_are_value_errors() -> None:
    too_wide = HdrHistogram(1, 10**12, 3)
    too_wide.record_value(10**11)  # > 1 h in µs: does not fit ours
    for bad in (too_wide.encode().decode("ascii"), 42, None, ["x"]):
        with pytest.raises(ValueError, match="'latency'"):
            Recorder().merge_json({}, {"latency": bad})  # type: ignore[dict-item]
    # a finer histogram of values that fit adds (by value)
    fine = HdrHistogram(1, 3_600_000_000, 4)
    fine.record_value(1234)
    r = Recorder()
    r.merge_json({}, {"latency": fine.encode().decode("ascii")})
    assert r.histograms["latency"].get_total_count() == 1


def test_a_histogram_that_inflates_to_gigabytes_is_refused_before_it_is_inflated() -> None:
    """A report's histogram is a zlib payload: 64 MiB of zeros behind a valid header compress to
    ~64 KB (a 1 MB report held gigabytes). hdrhistogram inflated it whole before its own checks
    (a 400 KB report took 660 MB of memory); it is refused after ``_MAX_INFLATED`` bytes."""
    import base64
    import struct
    import tracemalloc
    import zlib

    text = _recorder(_values("µs to minutes")).encoded()["latency"]
    raw = base64.b64decode(text)
    cookie, length = struct.unpack(">ii", raw[:8])
    inner = zlib.decompress(raw[8 : 8 + length])
    zeros = 64 * 1024 * 1024
    header = inner[:4] + struct.pack(">i", zeros) + inner[8:40]  # payload_len: the zeros
    payload = zlib.compress(header + bytes(zeros), 9)
    bomb = base64.b64encode(struct.pack(">ii", cookie, len(payload)) + payload).decode("ascii")
    assert len(bomb) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="'latency' does not decode .*inflates to more than"):
            Recorder().merge_json({}, {"latency": bomb})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024, peak


def test_new_histogram_range() -> None:
    h = new_histogram()
    assert (h.lowest_trackable_value, h.highest_trackable_value, h.significant_figures) == (
        1,
        3_600_000_000,
        3,
    )
