"""The probe's result types: sample metrics, per-phase statistics, failure classes and the exit
code they give, the version-check conclusion, and the JSON key order of the documents."""

from __future__ import annotations

import pytest

from a2actl.agent.target import Target
from a2actl.core.exit_codes import ExitCode
from a2actl.probe.budget import Budget, BudgetVerdict, BudgetViolation
from a2actl.probe.handshake import needs_version_check
from a2actl.probe.report import (
    CardBytes,
    Negotiated,
    ProbeOptions,
    ProbeReport,
    Sample,
    SendOutcome,
    SessionOutcome,
    VersionCheck,
    failure_counts,
    phase_stats,
)
from a2actl.protocol.card import Interface
from a2actl.protocol.negotiation import Selection
from a2actl.protocol.versions import Family


def failed(index: int, klass: str, phase: str = "rpc", **error: object) -> Sample:
    return Sample(index, ok=False, error_class=klass, failed_phase=phase, error={"code": klass, **error})


def report(samples: list[Sample], **kw: object) -> ProbeReport:
    iface = Interface("http://127.0.0.1:9/a2a", "JSONRPC", "1.0", Family.V1_0, "supportedInterfaces[0]", None)
    opts = ProbeOptions(Target("base_url", "http://127.0.0.1:9"), samples=len(samples))
    return ProbeReport(
        trace_id="t" * 32,
        target="http://127.0.0.1:9",
        card_url="http://127.0.0.1:9/.well-known/agent-card.json",
        discovery_notes=[],
        card_shape="1.0",
        declared_versions=["1.0"],
        selection=Selection(iface, Family.V1_0, "the only interface"),
        samples=samples,
        warmup=0,
        options=opts,
        **kw,  # type: ignore[arg-type]  # the optional fields, by keyword
    )


def test_sample_metrics() -> None:
    s = Sample(0, ok=True, phases={"connect": 0.25, "ttfb": 0.5, "rpc": 1.0})
    s.curl = {"time_total": 0.75, "remoteIp": "127.0.0.1", "newConnection": True}
    assert s.total == 1.75
    assert s.metric("total") == 1.75
    assert s.metric("card") == 0.75  # dns, tls, transfer missing: 0
    assert s.metric("time_total") == 0.75
    assert s.metric("time_connect") is None
    assert s.metric("rpc") == 1.0
    assert s.metric("session") is None


def test_sample_json_has_the_documented_keys_in_order() -> None:
    s = Sample(
        3,
        ok=True,
        phases={"rpc": 0.5},
        card_bytes=CardBytes(100, 250, "gzip"),
        send=SendOutcome("SendStreamingMessage", True, 5, "completed"),
        session=SessionOutcome("http://h/hs", 200, True, {"sessionToken": "***"}),
        negotiated=Negotiated("http://h/a2a", "JSONRPC", "1.0"),
    )
    doc = s.to_json()
    assert list(doc) == [
        "index", "ok", "total", "phases", "curl", "cardBytes", "failedPhase", "error", "errorClass",
        "rpc", "send", "session", "negotiated",
    ]  # fmt: skip
    assert doc["cardBytes"] == {"wire": 100, "decoded": 250, "contentEncoding": "gzip"}
    assert doc["send"] == {
        "method": "SendStreamingMessage",
        "streaming": True,
        "events": 5,
        "finalState": "completed",
        "statusMessage": None,
    }
    assert doc["session"] == {
        "url": "http://h/hs",
        "status": 200,
        "tokenIssued": True,
        "response": {"sessionToken": "***"},
    }
    assert doc["negotiated"] == {
        "url": "http://h/a2a",
        "protocolBinding": "JSONRPC",
        "protocolVersion": "1.0",
    }
    assert Sample(0).to_json()["cardBytes"] is None


def test_phase_stats_cover_phases_of_failed_samples_with_a_zero_count() -> None:
    ok = [
        Sample(i, ok=True, phases={"ttfb": v, "rpc": 2 * v}) for i, v in enumerate([0.1, 0.2, 0.3, 0.4, 0.5])
    ]
    broken = Sample(9, ok=False, phases={"ttfb": 9.0, "session": 1.0})
    stats = phase_stats([*ok, broken])
    assert list(stats) == ["ttfb", "session", "rpc", "card", "total"]
    assert stats["session"]["count"] == 0 and stats["session"]["p99"] is None
    assert stats["ttfb"]["count"] == 5 and stats["ttfb"]["max"] == 0.5  # the failed 9.0 is left out
    assert stats["ttfb"]["p50"] == 0.3
    assert stats["ttfb"]["p90"] == pytest.approx(0.46)
    assert stats["total"]["p99"] == pytest.approx(1.2 + 0.96 * 0.3)  # totals 0.3 … 1.5: rank 3.96
    assert stats["card"]["mean"] == pytest.approx(0.3)


def test_failures_are_counted_in_severity_order() -> None:
    samples = [failed(0, "error"), failed(1, "timeout"), failed(2, "unreachable"), failed(3, "timeout")]
    assert list(failure_counts(samples).items()) == [("unreachable", 1), ("timeout", 2), ("error", 1)]


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        ([], ExitCode.OK),
        (["timeout", "timeout", "unreachable"], ExitCode.TIMEOUT),  # the most frequent class wins
        (["protocol", "auth"], ExitCode.AUTH),  # a tie: the more severe class
        (["a2a_error"], ExitCode.ERROR),
        (["http_status", "protocol", "http_status"], ExitCode.ERROR),
    ],
)
def test_exit_is_the_dominant_failure_class(classes: list[str], expected: ExitCode) -> None:
    samples = [failed(i, c) for i, c in enumerate(classes)] + [Sample(99, ok=True, phases={"rpc": 0.1})]
    assert report(samples).exit is expected


def test_budget_violation_exits_7_unless_a_sample_failed() -> None:
    v = BudgetViolation("total", 2.0, 1.0, "rpc", 2.0, "over")
    ok = Sample(0, ok=True, phases={"rpc": 2.0})
    assert report([ok], budget=BudgetVerdict((Budget("total", 1.0),), [v])).exit is ExitCode.CHECK_FAILED
    assert report([ok, failed(1, "auth")], budget=BudgetVerdict((), [v])).exit is ExitCode.AUTH


def test_report_json_has_the_documented_keys_in_order() -> None:
    doc = report(
        [Sample(0, ok=True, phases={"rpc": 0.1})],
        version_check=VersionCheck.failed("1.0", "0.3", "refused"),
    ).to_json()
    assert list(doc) == [
        "traceId", "target", "cardUrl", "discovery", "card", "negotiation", "versionCheck", "options",
        "units", "samples", "stats", "histogram", "failures", "budget", "exitCode",
    ]  # fmt: skip
    assert doc["options"] == {
        "samples": 1,
        "concurrency": 1,
        "warmup": 0,
        "reuse": False,
        "send": False,
        "handshakePath": None,
    }
    assert doc["versionCheck"] == {
        "sent": "1.0",
        "retriedAs": "0.3",
        "retryOk": False,
        "retryError": "refused",
    }
    assert doc["exitCode"] == 0 and type(doc["exitCode"]) is int
    assert doc["budget"] == {"limits": [], "violations": [], "ok": True}


@pytest.mark.parametrize(
    ("works", "conclusion"),
    [
        (True, "http://h/a2a answers 0.3 but not 1.0"),
        (False, "http://h/a2a answers neither version cleanly"),
    ],
)
def test_version_check_conclusion(works: bool, conclusion: str) -> None:
    check = VersionCheck.answered("http://h/a2a", "1.0", "0.3", works)
    assert check.to_json() == {"sent": "1.0", "retriedAs": "0.3", "retryOk": works, "conclusion": conclusion}


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (failed(0, "a2a_error", a2aCode=-32009), True),  # VersionNotSupportedError
        (failed(0, "a2a_error", a2aCode=-32601), True),  # MethodNotFound
        (failed(0, "protocol"), False),
        (Sample(0, ok=False, failed_phase="rpc", error={"code": "no_such_route"}), True),  # HTTP+JSON path
        (failed(0, "a2a_error", phase="session", a2aCode=-32009), False),  # not the first RPC
        (failed(0, "a2a_error", a2aCode=-32001), False),
    ],
)
def test_which_failures_call_for_a_version_check(sample: Sample, expected: bool) -> None:
    assert needs_version_check([sample]) is expected
