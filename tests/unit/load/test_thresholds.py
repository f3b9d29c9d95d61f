"""``--threshold`` parsing (every grammar form, every operator, every kind of bad input) and
``evaluate`` against statistics and rates (a2actl.load.thresholds)."""

from __future__ import annotations

from typing import Any

import pytest

from a2actl.core.errors import UsageError
from a2actl.core.exit_codes import ExitCode
from a2actl.load.scenarios import SCENARIOS, timing_metrics
from a2actl.load.thresholds import (
    Threshold,
    check_metrics,
    evaluate,
    parse_threshold,
    parse_thresholds,
)


@pytest.mark.parametrize(
    ("text", "metric", "stat", "op", "limit"),
    [
        ("p99<1s", "latency", "p99", "<", 1.0),
        ("p50<=250ms", "latency", "p50", "<=", 0.25),
        ("p90>1ms", "latency", "p90", ">", 0.001),
        ("p95>=2m", "latency", "p95", ">=", 120.0),
        ("p99.9<3s", "latency", "p99.9", "<", 3.0),
        ("ttfe.p95<300ms", "ttfe", "p95", "<", 0.3),
        ("ttfa.p99<1.5s", "ttfa", "p99", "<", 1.5),
        ("terminal.p50<2s", "terminal", "p50", "<", 2.0),
        ("gap.max<100ms", "gap", "max", "<", 0.1),
        ("lag.p99<5ms", "lag", "p99", "<", 0.005),
        ("latency.p99.9<2s", "latency", "p99.9", "<", 2.0),
        # k6's p(N) spelling
        ("p(99)<1s", "latency", "p99", "<", 1.0),
        ("p(99.9)<=2s", "latency", "p99.9", "<=", 2.0),
        ("ttfe.p(95)<300ms", "ttfe", "p95", "<", 0.3),
        # handshake phases; a bare number is milliseconds, as in k6
        ("phase.ttfb.p99<50", "phase.ttfb", "p99", "<", 0.05),
        ("phase.connect.max<=1.5", "phase.connect", "max", "<=", 0.0015),
        ("p99<.5", "latency", "p99", "<", 0.0005),
        ("p99<250us", "latency", "p99", "<", 0.00025),
        # min/max/mean/avg/med
        ("latency.max<1s", "latency", "max", "<", 1.0),
        ("latency.min>1ms", "latency", "min", ">", 0.001),
        ("latency.mean<100ms", "latency", "mean", "<", 0.1),
        ("latency.avg<100ms", "latency", "mean", "<", 0.1),
        ("latency.med<100ms", "latency", "p50", "<", 0.1),
        ("max<1s", "latency", "max", "<", 1.0),
        ("avg<=10", "latency", "mean", "<=", 0.01),
        # rates
        ("errors<1%", "errors", None, "<", 0.01),
        ("errors<=0.5%", "errors", None, "<=", 0.005),
        ("failed<0.5", "failed", None, "<", 0.5),
        ("dropped<=0", "dropped", None, "<=", 0.0),
        ("dropped<100%", "dropped", None, "<", 1.0),
        ("rps>=10", "rps", None, ">=", 10.0),
        ("rps>99.5/s", "rps", None, ">", 99.5),
        # spaces and case
        ("  p99 < 1s  ", "latency", "p99", "<", 1.0),
        ("TTFE.P95 >= 300ms", "ttfe", "p95", ">=", 0.3),
        ("Errors < 1%", "errors", None, "<", 0.01),
    ],
)
def test_grammar(text: str, metric: str, stat: str | None, op: str, limit: float) -> None:
    t = parse_threshold(text)
    assert (t.metric, t.stat, t.op) == (metric, stat, op)
    assert t.limit == pytest.approx(limit, rel=1e-12, abs=0.0)
    assert t.text == text


@pytest.mark.parametrize(
    ("op", "below", "equal", "above"),
    [
        ("<", True, False, False),
        ("<=", True, True, False),
        (">", False, False, True),
        (">=", False, True, True),
    ],
)
def test_every_operator(op: str, below: bool, equal: bool, above: bool) -> None:
    t = parse_threshold(f"p99{op}100ms")
    assert t.op == op
    assert (t.holds(0.099), t.holds(0.1), t.holds(0.101)) == (below, equal, above)
    assert t.holds(0) is below  # an int is compared as a float


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "expected [METRIC.]STAT OP VALUE"),
        ("p99", "expected [METRIC.]STAT OP VALUE"),
        ("p99<", "expected [METRIC.]STAT OP VALUE"),
        ("<1s", "expected [METRIC.]STAT OP VALUE"),
        ("p99 1s", "expected [METRIC.]STAT OP VALUE"),
        ("p99==1s", "expected [METRIC.]STAT OP VALUE"),
        ("p99=1s", "expected [METRIC.]STAT OP VALUE"),
        ("p99=<1s", "expected [METRIC.]STAT OP VALUE"),
        ("p99<1s 2s", "expected [METRIC.]STAT OP VALUE"),
        ("1p99<1s", "expected [METRIC.]STAT OP VALUE"),
        ("p99<<1s", "is not a duration"),
        ("p99<1parsec", "is not a duration"),
        ("p99<-1s", "is not a duration"),
        ("p99<1e3", "is not a duration"),
        ("p99<inf", "is not a duration"),
        ("latency<1s", "names no statistic"),
        ("ttfe<1s", "names no statistic"),
        ("p(99<1s", "names no statistic"),
        ("latency.p75<1s", "unknown statistic 'p75'"),
        ("p0<1s", "unknown statistic 'p0'"),
        ("foo.p99<1s", "unknown metric 'foo'"),
        ("latencies.p99<1s", "unknown metric 'latencies'"),
        ("errors<2", "a fraction is at most 1"),
        ("errors<x%", "is not a percentage (1%) or fraction (0.01)"),
        ("errors<1s", "is not a percentage (1%) or fraction (0.01)"),
        ("failed<150%", "at most 100%"),
        ("dropped<-1%", "not negative"),
        ("errors<-0.1", "not negative"),
        ("errors<nan", "is not a percentage (1%) or fraction (0.01)"),
        ("rps>fast", "is not a number of requests per second (40, 40/s)"),
        ("rps>-5", "not negative"),
        ("rps>inf", "is not a number"),
        ("rps>nan", "is not a number"),
    ],
)
def test_bad_input_is_a_usage_error_naming_the_text(text: str, says: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_threshold(text)
    err = info.value
    assert err.exit_code == ExitCode.USAGE
    assert f"--threshold {text!r}" in err.message
    assert says in err.message


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("p99<1S", "units are lower case: 'p99<1s'"),
        ("p99<300MS", "units are lower case: 'p99<300ms'"),
        ("ttfe.p95<300Ms", "units are lower case: 'ttfe.p95<300ms'"),
        ("P99<250US", "units are lower case: 'P99<250us'"),
        ("p99<1H", "units are lower case: 'p99<1h'"),
        ("p99<1M", None),  # minutes (m)? mega? milli? not guessed
        ("p99<1min", None),
        ("p99<1sec", None),
    ],
)
def test_a_unit_in_another_case_is_refused_naming_the_units(text: str, hint: str | None) -> None:
    """Units are case-sensitive, as k6's and Go's durations and a2actl's other DURATION options
    are (``M`` is mega, ``m`` minutes), but ``p99<1S`` only said "'1S' is not a duration
    (300ms, 1s)": the message names the units, and the hint the threshold in lower case."""
    with pytest.raises(UsageError) as info:
        parse_threshold(text)
    err = info.value
    assert err.exit_code == ExitCode.USAGE
    assert err.message.startswith(f"--threshold {text!r}: ")
    assert "us (or µs), ms, s, m (minutes), h (lower case), or a bare number of milliseconds" in err.message
    assert err.hint == hint


def test_a_limit_too_large_for_a_number_is_refused() -> None:
    """A bare number of 400 nines read as infinite milliseconds: a threshold that always passed,
    with ``"limit": null`` in the report."""
    with pytest.raises(UsageError) as info:
        parse_threshold("p99<" + "9" * 400)
    assert info.value.message.endswith("is too large")


def test_parse_thresholds_keeps_order_and_stops_at_the_first_bad_one() -> None:
    assert parse_thresholds(None) == ()
    assert parse_thresholds([]) == ()
    got = parse_thresholds(["errors<1%", "p99<1s"])
    assert [t.text for t in got] == ["errors<1%", "p99<1s"]
    with pytest.raises(UsageError) as info:
        parse_thresholds(["p99<1s", "bogus<1s", "nope"])
    assert "'bogus<1s'" in info.value.message


def _stats(**values: float) -> dict[str, Any]:
    base = {"count": 10, "min": 0.001, "mean": 0.05, "stddev": 0.01, "p50": 0.04, "p90": 0.08}
    base.update({"p95": 0.09, "p99": 0.2, "p99.9": 0.4, "max": 0.5})
    base.update(values)
    return base


def test_evaluate_timings_and_rates() -> None:
    ts = parse_thresholds(
        [
            "p99<1s",  # 0.2 < 1: ok
            "p99<100ms",  # 0.2 !< 0.1: fails
            "latency.med<=40ms",  # p50 0.04 <= 0.04: ok
            "latency.avg>60ms",  # mean 0.05: fails
            "ttfe.max<=500ms",  # ttfe max 0.3: ok
            "errors<1%",  # 0.02: fails
            "failed<=0.02",  # 0.02: ok
            "dropped<=0",  # 0: ok
            "rps>=10",  # 12.5: ok
        ]
    )
    stats: dict[str, dict[str, Any] | None] = {"latency": _stats(), "ttfe": _stats(max=0.3)}
    rates: dict[str, float | None] = {"errors": 0.02, "failed": 0.02, "dropped": 0.0, "rps": 12.5}
    results = evaluate(ts, stats, rates)
    assert [(r.threshold.text, r.actual, r.ok) for r in results] == [
        ("p99<1s", 0.2, True),
        ("p99<100ms", 0.2, False),
        ("latency.med<=40ms", 0.04, True),
        ("latency.avg>60ms", 0.05, False),
        ("ttfe.max<=500ms", 0.3, True),
        ("errors<1%", 0.02, False),
        ("failed<=0.02", 0.02, True),
        ("dropped<=0", 0.0, True),
        ("rps>=10", 12.5, True),
    ]


def test_no_samples_is_not_ok() -> None:
    """A criterion that cannot be checked is not passed: a metric without data (``None`` stats, or
    absent), a rate without a denominator (``None``), a rate nobody computed."""
    ts = parse_thresholds(["ttfe.p95<300ms", "phase.ttfb.p99<50", "errors<1%", "rps>=0", "dropped<=0"])
    results = evaluate(ts, {"latency": _stats(), "ttfe": None}, {"errors": None, "rps": None})
    assert [(r.actual, r.ok) for r in results] == [(None, False)] * 5


def test_timing_metrics_of_each_scenario_and_model() -> None:
    assert timing_metrics("send", open_model=False) == ("latency",)
    assert timing_metrics("get") == ("latency", "lag")
    assert timing_metrics("stream", open_model=False) == ("latency", "ttfe", "ttfa", "terminal", "gap")
    handshake = timing_metrics("handshake", open_model=False)
    assert {"phase.dns", "phase.connect", "phase.ttfb", "phase.rpc", "phase.grpc_ready"} <= set(handshake)
    # handshake probe's --handshake-path and --send phases: the scenario never takes them
    assert not {"phase.session", "phase.first_event", "phase.terminal"} & set(handshake)
    assert all(timing_metrics(name)[:2] == ("latency", "lag") for name in SCENARIOS)


@pytest.mark.parametrize(
    ("text", "scenario", "open_model", "hint"),
    [
        ("phase.tcp_conect.p99<1s", "handshake", True, None),
        ("ttfe.p95<300ms", "send", True, "-s stream"),
        ("lag.p99<5ms", "stream", False, "--rate"),
        ("phase.ttfb.p99<50", "get", False, "-s handshake"),
    ],
)
def test_check_metrics_refuses_a_metric_the_run_never_records(
    text: str, scenario: str, open_model: bool, hint: str | None
) -> None:
    known = timing_metrics(scenario, open_model)
    with pytest.raises(UsageError) as err:
        check_metrics(parse_thresholds(["errors<1%", text]), known, f"-s {scenario}")
    assert err.value.message.startswith(f"--threshold {text!r}: -s {scenario} records no metric ")
    assert ", ".join(known) in err.value.message
    assert err.value.exit_code == ExitCode.USAGE
    assert (hint is None and err.value.hint is None) or (hint is not None and hint in str(err.value.hint))


def test_check_metrics_lets_real_metrics_and_rates_through() -> None:
    ts = parse_thresholds(["p99<1s", "ttfa.p99<1s", "gap.max<1s", "errors<1%", "rps>=1", "dropped<=0"])
    check_metrics(ts, timing_metrics("stream", open_model=True), "-s stream")
    check_metrics(parse_thresholds(["phase.tls.p99<1s"]), timing_metrics("handshake"), "-s handshake")


def test_threshold_result_json() -> None:
    (ok, bad) = evaluate(parse_thresholds(["p99<1s", "errors<1%"]), {"latency": _stats()}, {"errors": 0.5})
    assert ok.to_json() == {
        "threshold": "p99<1s",
        "metric": "latency",
        "stat": "p99",
        "op": "<",
        "limit": 1.0,
        "actual": 0.2,
        "ok": True,
    }
    assert bad.to_json() == {
        "threshold": "errors<1%",
        "metric": "errors",
        "stat": None,
        "op": "<",
        "limit": 0.01,
        "actual": 0.5,
        "ok": False,
    }


def test_threshold_is_a_value() -> None:
    assert parse_threshold("p99<1s") == Threshold("p99<1s", "latency", "p99", "<", 1.0)
    assert len({parse_threshold("p99<1s"), parse_threshold("p99<1s")}) == 1


def test_check_binding_refuses_grpc_phases_on_a_known_other_binding() -> None:
    """A ``phase.grpc_*`` threshold can be judged on a gRPC run only: on a binding known to be
    another it is a usage error, naming the threshold and where; unknown (``None``) or gRPC among
    the bindings, it is judged."""
    from a2actl.load.thresholds import check_binding

    grpc = parse_thresholds(["phase.rpc.p99<1s", "errors<1%", "phase.grpc_ready.p99<50ms"])
    with pytest.raises(UsageError) as info:
        check_binding(grpc, {"JSONRPC", "HTTP+JSON"}, "the merged runs spoke HTTP+JSON, JSONRPC")
    assert info.value.exit_code == ExitCode.USAGE
    assert info.value.message == (
        "--threshold 'phase.grpc_ready.p99<50ms': phase.grpc_ready is timed on a gRPC interface only, "
        "and the merged runs spoke HTTP+JSON, JSONRPC"
    )
    check_binding(grpc, None, "")
    check_binding(grpc, {"GRPC", "JSONRPC"}, "")
    check_binding(parse_thresholds(["phase.rpc.p99<1s"]), {"JSONRPC"}, "")
