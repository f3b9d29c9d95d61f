"""``--budget`` parsing and the budget verdict over hand-built samples (p99 with linear
interpolation, the culprit phase, the message)."""

from __future__ import annotations

import pytest

from a2actl.probe.budget import Budget, BudgetVerdict, BudgetViolation, check_budgets, parse_budgets
from a2actl.probe.report import Sample, phase_stats


def sample(index: int, ok: bool = True, **phases: float) -> Sample:
    return Sample(index, ok=ok, phases=dict(phases))


def test_parse_budgets_reads_total_and_per_phase_items() -> None:
    assert parse_budgets(["5s", "ttfb=300ms, rpc=1s", ",", "time_total=2s"]) == [
        Budget("total", 5.0),
        Budget("ttfb", 0.3),
        Budget("rpc", 1.0),
        Budget("time_total", 2.0),
    ]


def test_parse_budgets_names_an_unknown_phase_and_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown budget phase 'foo'; use one of: card, connect, dns"):
        parse_budgets(["foo=1s"])


def test_parse_budgets_rejects_a_bad_duration() -> None:
    with pytest.raises(ValueError):
        parse_budgets(["rpc=fast"])


def test_budget_within_the_limit_is_not_violated() -> None:
    samples = [sample(i, ttfb=0.1, rpc=0.2) for i in range(3)]
    assert check_budgets([Budget("total", 0.35)], samples, phase_stats(samples)) == []


def test_total_over_budget_names_the_phase_with_the_largest_p99() -> None:
    samples = [sample(0, ttfb=0.01, rpc=0.1), sample(1, ttfb=0.02, rpc=0.3)]
    stats = phase_stats(samples)
    [v] = check_budgets([Budget("total", 0.2)], samples, stats)
    # totals 0.11 and 0.32: p99 = 0.11 + 0.99 * 0.21 (linear interpolation)
    assert v.p99 == pytest.approx(0.11 + 0.99 * 0.21)
    assert (v.metric, v.limit, v.culprit) == ("total", 0.2, "rpc")
    assert v.culprit_p99 == pytest.approx(0.1 + 0.99 * 0.2)
    assert v.message == "total p99 317.9ms is over the 200.0ms budget; first RPC used 298.0ms of it"


def test_card_budget_looks_for_the_culprit_among_the_card_phases_only() -> None:
    samples = [sample(0, dns=0.0, connect=0.05, ttfb=0.2, transfer=0.01, rpc=5.0)]
    [v] = check_budgets([Budget("card", 0.1)], samples, phase_stats(samples))
    assert v.culprit == "ttfb" and v.p99 == pytest.approx(0.26)
    assert v.message.startswith("card total p99 260.0ms is over the 100.0ms budget; card TTFB used")


def test_single_phase_budget_is_its_own_culprit() -> None:
    samples = [sample(0, ttfb=0.5, rpc=0.9)]
    [v] = check_budgets([Budget("ttfb", 0.1)], samples, phase_stats(samples))
    assert (v.culprit, v.culprit_p99) == ("ttfb", 0.5)


def test_curl_metric_reads_the_cumulative_timing_and_skips_samples_without_it() -> None:
    a = sample(0, ttfb=0.3)
    a.curl = {"time_total": 0.4}
    b = sample(1, ttfb=0.1)
    b.curl = {"time_total": "n/a"}  # not a number: not measured
    [v] = check_budgets([Budget("time_total", 0.2)], [a, b], phase_stats([a, b]))
    assert v.p99 == 0.4 and v.culprit == "ttfb"
    assert v.message.startswith("time_total p99 400.0ms is over")


def test_only_successful_samples_count_and_none_means_no_verdict() -> None:
    failed = sample(0, ok=False, rpc=9.0)
    assert check_budgets([Budget("total", 0.1)], [], phase_stats([failed])) == []
    ok = sample(1, rpc=0.05)
    assert check_budgets([Budget("total", 0.1)], [ok], phase_stats([failed, ok])) == []


def test_a_phase_no_sample_timed_fails_its_budget_saying_so() -> None:
    """``--budget first_event=…`` without ``--send`` (or ``session`` without a handshake path)
    can never be checked: it is a violation with no p99, not a silent pass."""
    samples = [sample(0, rpc=1.0), sample(1, rpc=1.0)]
    [v] = check_budgets([Budget("session", 0.001)], samples, phase_stats(samples))
    assert (v.metric, v.p99, v.limit, v.culprit_p99) == ("session", None, 0.001, None)
    assert (
        "not measured in any of the 2 successful samples (it is measured with --handshake-path)" in v.message
    )
    assert v.to_json()["p99"] is None
    [w] = check_budgets([Budget("first_event", 1.0)], samples, phase_stats(samples))
    assert "with --send" in w.message


def test_verdict_json_keeps_the_limits_and_the_violations_in_order() -> None:
    v = BudgetViolation("rpc", 2.0, 1.0, "rpc", 2.0, "m")
    verdict = BudgetVerdict((Budget("total", 5.0), Budget("rpc", 1.0)), [v])
    assert verdict.ok is False
    assert verdict.to_json() == {
        "limits": [{"metric": "total", "limit": 5.0}, {"metric": "rpc", "limit": 1.0}],
        "violations": [
            {"metric": "rpc", "p99": 2.0, "limit": 1.0, "culprit": "rpc", "culpritP99": 2.0, "message": "m"}
        ],
        "ok": False,
    }
    assert list(verdict.to_json()["violations"][0]) == [
        "metric",
        "p99",
        "limit",
        "culprit",
        "culpritP99",
        "message",
    ]
    assert BudgetVerdict().to_json() == {"limits": [], "violations": [], "ok": True}
