"""``telemetry.tree``: results as span trees (layout, ids from traceparents, caps, errors)."""

from __future__ import annotations

from typing import Any

from a2actl.core.errors import UnreachableError
from a2actl.load.metrics import Recorder, RequestRecord
from a2actl.load.report import LoadReport, ModelSpec
from a2actl.probe.report import Sample
from a2actl.telemetry.tree import (
    MAX_AGENTS,
    MAX_SAMPLES,
    command_tree,
    fleet_children,
    load_children,
    probe_children,
    sample_span,
)

T0 = 1_700_000_000_000_000_000
TP = "00-0af7651916cd43dd8448eb211c80319c-{}-01"


def _sample(index: int = 0, ok: bool = True, **phases: float) -> Sample:
    s = Sample(index, ok=ok, started_ns=T0)
    s.phases = dict(phases) or {
        "dns": 0.001,
        "connect": 0.002,
        "tls": 0.0,
        "ttfb": 0.010,
        "transfer": 0.001,
        "parse": 0.0005,
        "negotiate": 0.0001,
        "rpc": 0.020,
    }
    s.traceparents = {"card": TP.format("a" * 16), "rpc": TP.format("b" * 16)}
    s.rpc = {"method": "GetTask", "httpStatus": 200}
    return s


def test_phases_are_laid_end_to_end_from_the_sample_start() -> None:
    span = sample_span(_sample())
    assert [c.name for c in span.children] == ["card", "parse", "negotiate", "rpc"]
    card = span.children[0]
    assert [c.name for c in card.children] == ["dns", "connect", "tls", "ttfb", "transfer"]
    cursor = T0
    for leaf in [*card.children, *span.children[1:]]:
        assert leaf.start_ns == cursor
        cursor = leaf.end_ns
    assert (card.start_ns, card.end_ns) == (T0, T0 + 14_000_000)
    assert span.end_ns == cursor == T0 + 34_600_000
    assert (card.span_id, card.kind) == ("a" * 16, "client")
    rpc = span.children[-1]
    assert (rpc.span_id, rpc.kind, rpc.attributes["rpc.method"]) == ("b" * 16, "client", "GetTask")
    assert span.children[1].span_id is None and span.error is None


def test_a_failed_sample_marks_itself_and_the_phase_that_broke() -> None:
    s = _sample(ok=False, dns=0.001, connect=0.002, tls=0.0, ttfb=0.01, transfer=0.0, parse=0.001)
    s.failed_phase = "negotiate"
    s.error = {"message": "negotiation failed: no 1.0 interface"}
    s.error_class = "error"
    span = sample_span(s)
    assert span.error == "negotiation failed: no 1.0 interface"
    assert span.attributes["error.type"] == "error"
    broken = span.children[-1]
    assert (broken.name, broken.error, broken.start_ns, broken.end_ns) == (
        "negotiate",
        span.error,
        span.end_ns,
        span.end_ns,
    )
    s.failed_phase = "ttfb"
    span = sample_span(s)
    assert [c.name for c in span.walk() if c.error] == ["sample", "ttfb"]


def test_probe_draws_the_first_samples_then_failures_and_no_warmups() -> None:
    class Report:
        samples = [_sample(-1)] + [_sample(i, ok=i % 50 != 7) for i in range(3 * MAX_SAMPLES)]

    spans = probe_children(Report())  # type: ignore[arg-type]
    indexes = [s.attributes["a2actl.sample.index"] for s in spans]
    assert indexes[:MAX_SAMPLES] == list(range(MAX_SAMPLES))
    assert indexes[MAX_SAMPLES:] == [i for i in range(MAX_SAMPLES, 3 * MAX_SAMPLES) if i % 50 == 7]


def _load_report(ramp: float | None, elapsed: float, window: float, failures: int = 0) -> LoadReport:
    rec = Recorder()
    for i in range(10):
        rec.add(RequestRecord(i, 0.0, latency=0.01 * (i + 1), status="ok" if i >= failures else "error"))
    model = ModelSpec("open", duration=1.0, rate=10.0, ramp=ramp)
    return LoadReport.build(
        target="http://a",
        scenario="send",
        model=model,
        negotiated=None,
        recorder=rec,
        started_at=T0 / 1e9,
        elapsed=elapsed,
        thresholds=(),
        window=window,
    )


def test_load_is_one_span_with_summary_attributes_and_its_phases() -> None:
    (run,) = load_children(_load_report(ramp=0.2, elapsed=1.5, window=1.0), 0.2)
    assert run.name == "load"
    assert run.attributes["a2actl.load.requests.sent"] == 10
    assert run.attributes["a2actl.load.requests.ok"] == 10
    assert run.attributes["a2actl.load.rate.sent"] == 9.0  # 9 intervals between 10 starts in the 1 s window
    assert run.attributes["a2actl.load.rate.achieved"] == 6.667  # answered over 1.5 s, drain included
    assert run.attributes["a2actl.load.rate.ok"] == 6.667
    assert run.attributes["a2actl.load.latency.max_s"] >= 0.1  # type: ignore[operator]
    assert [(c.name, c.start_ns - run.start_ns, c.end_ns - run.start_ns) for c in run.children] == [
        ("ramp", 0, 200_000_000),
        ("steady", 200_000_000, 1_000_000_000),
        ("drain", 1_000_000_000, 1_500_000_000),
    ]
    assert run.error is None


def test_load_without_ramp_or_drain() -> None:
    (run,) = load_children(_load_report(ramp=None, elapsed=1.0, window=1.0), None)
    assert [c.name for c in run.children] == ["steady"]


class Agent:
    def __init__(self, i: int) -> None:
        self.ok = i % 3 != 0
        self.doc: dict[str, Any] = {
            "url": f"http://a{i}",
            "ok": self.ok,
            "passed": ["listed", "reachable"] if not self.ok else ["listed", "reachable", "card", "rpc"],
            "cause": None if self.ok else "refused",
            "detail": None if self.ok else "connection refused",
            "phases": {"connect": 0.1, "card": 0.2} if self.ok else {"connect": 0.1},
            "total": 0.5,
        }

    def to_json(self) -> dict[str, Any]:
        return self.doc


def test_fleet_draws_failed_agents_first_and_caps() -> None:
    class Report:
        results = [Agent(i) for i in range(MAX_AGENTS + 50)]
        started_at = T0 / 1e9
        source = "agents.txt"
        shard = (1, 2)

    Report.results[3].started_ns = T0 + 7  # type: ignore[attr-defined]
    Report.results[3].traceparent = TP.format("c" * 16)  # type: ignore[attr-defined]
    spans = fleet_children(Report(), 0)
    assert len(spans) == MAX_AGENTS
    failed = [s for s in spans if s.error]
    assert spans[: len(failed)] == failed and len(failed) == (MAX_AGENTS + 50 + 2) // 3
    third = next(s for s in spans if s.attributes["a2a.target"] == "http://a3")
    assert (third.span_id, third.error, third.attributes["error.type"]) == (
        "c" * 16,
        "connection refused",
        "refused",
    )
    assert third.attributes["a2actl.agent.reached"] == "reachable"
    assert (third.start_ns, third.end_ns) == (T0 + 7, T0 + 7 + 500_000_000)
    first_ok = spans[len(failed)]
    assert [(c.name, c.start_ns - T0, c.end_ns - T0) for c in first_ok.children] == [
        ("connect", 0, 100_000_000),
        ("card", 100_000_000, 300_000_000),
    ]
    root = command_tree("fleet probe", T0, T0 + 1, result=Report())
    assert root.attributes["a2actl.fleet.agents"] == MAX_AGENTS + 50
    assert root.attributes["a2actl.fleet.shard"] == "1/2" and len(root.children) == MAX_AGENTS


def test_command_tree_errors_and_exit_codes() -> None:
    root = command_tree("send", T0, T0 + 10, error=UnreachableError("connection refused"))
    assert (root.name, root.error) == ("a2actl send", "connection refused")
    assert root.attributes == {"a2actl.command": "send", "error.type": "unreachable", "a2actl.exit_code": 3}
    interrupted = command_tree("stream tail", T0, T0 + 10, error=KeyboardInterrupt())
    assert (interrupted.error, interrupted.attributes["a2actl.exit_code"]) == ("interrupted", 130)

    class Checked:
        exit = 7

        def to_json(self) -> dict[str, Any]:
            return {"method": "SendMessage", "state": "failed", "taskId": "t1", "result": {"x": 1}}

    checked = command_tree("send", T0, T0 + 10, result=Checked())
    assert checked.error == "exit 7"
    assert checked.attributes["a2a.task.state"] == "failed" and "result" not in str(checked.attributes)
    assert command_tree("card get", T0, T0 + 10).children == []


def test_command_tree_stretches_the_root_over_its_children() -> None:
    s = _sample()
    s.started_ns = T0 - 5_000

    class Report:
        samples = [s]

    root = command_tree("fleet probe", T0, T0 + 1, requests=probe_children(Report()))  # type: ignore[arg-type]
    assert root.start_ns == T0 - 5_000 and root.end_ns == s.started_ns + 34_600_000
