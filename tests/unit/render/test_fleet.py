"""The ``fleet probe`` / ``fleet report`` table view (a2actl.render.fleet) and the live progress line."""

from __future__ import annotations

import io
from typing import Any

import pytest

from a2actl.fleet.inventory import AgentSpec
from a2actl.fleet.report import FleetReport
from a2actl.fleet.result import AgentResult, FleetProgress, stages_for
from a2actl.render import fleet as view
from a2actl.render.output import Output
from tests.unit.render.rendering import stdout_trimmed

FULL = ("listed", "reachable", "card", "negotiated", "rpc")


def _doc() -> dict[str, Any]:
    results = [
        AgentResult(
            spec=AgentSpec(url=f"http://h{i}.example", name=f"healthy-{i}"),
            passed=FULL,
            ok=True,
            declared_versions=("1.0",) if i else ("0.3.0",),
            version="1.0" if i else "0.3",
            binding="JSONRPC",
            phases={"connect": 0.001, "card": 0.002, "rpc": 0.003 * (i + 1)},
            total=0.006 + 0.003 * i,
        )
        for i in range(3)
    ]
    results += [
        AgentResult(
            spec=AgentSpec(url="http://dead.example:1"), cause="refused", detail="connection refused"
        ),
        AgentResult(
            spec=AgentSpec(url="http://bad.example", name="bad\x1b[31mcard"),
            passed=("listed", "reachable"),
            cause="invalid-card",
            detail="/name: 5 is not of type 'string'",
            declared_versions=("1.0",),
            total=0.004,
        ),
    ]
    report = FleetReport(
        results=results,
        stages=stages_for({"card", "validate", "rpc"}),
        source="agents.txt",
        options={"concurrency": 50, "checks": ["card", "validate", "rpc"], "budget": 5.0},
        started_at=1_800_000_000.0,
        elapsed=0.5,
        duplicates=2,
    )
    return report.to_json()


def test_report_view_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    text = stdout_trimmed(view.report, _doc(), monkeypatch, columns=110)
    assert text == (
        "fleet       agents.txt\n"
        "            5 agents in 500.0ms, 10.0 agents/s; 2 duplicate URLs dropped; checks card,validate,rpc, -c 50, budget 5.00s\n"
        "funnel\n"
        "\n"
        " stage                agents       %\n"
        " ────────────────────────────────────────────────────────────────────\n"
        " listed                    5   100.0   ██████████████████████████████\n"
        " reachable                 4    80.0   ████████████████████████\n"
        " card valid                3    60.0   ██████████████████\n"
        " version negotiated        3    60.0   ██████████████████\n"
        " first RPC answers         3    60.0   ██████████████████\n"
        "\n"
        "failures by cause\n"
        "\n"
        " cause          agents   failed at    codes   example\n"
        " ──────────────────────────────────────────────────────────────────────────────────────────────\n"
        " invalid-card        1   card valid           bad\\x1b[31mcard: /name: 5 is not of type 'string'\n"
        " refused             1   reachable            http://dead.example:1: connection refused\n"
        "\n"
        "slowest\n"
        "\n"
        " agent                    total   phases                                 result\n"
        " ────────────────────────────────────────────────────────────────────────────────────\n"
        " healthy-2               12.0ms   connect 1.0ms  card 2.0ms  rpc 9.0ms   ok\n"
        " healthy-1                9.0ms   connect 1.0ms  card 2.0ms  rpc 6.0ms   ok\n"
        " healthy-0                6.0ms   connect 1.0ms  card 2.0ms  rpc 3.0ms   ok\n"
        " bad\\x1b[31mcard          4.0ms                                          invalid-card\n"
        " http://dead.example:1      0µs                                          refused\n"
        "\n"
        "declared    1.0 3, 0.3 1   (1 still 0.x-only)\n"
        "negotiated  1.0 JSONRPC 2, 0.3 JSONRPC 1\n"
        "3 of 5 agents ok (60%)\n"
    )


def test_merged_report_head_and_fail_under(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = {**_doc(), "sources": ["a.json", "b.json"], "shard": None, "failUnder": 50.0, "exitCode": 0}
    text = stdout_trimmed(view.report, doc, monkeypatch, columns=110)
    assert text.startswith("fleet       merged 2 reports: a.json, b.json\n")
    assert text.rstrip().endswith("3 of 5 agents ok (60%); --fail-under 50%")


def test_one_agent_is_singular(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _doc()
    one = FleetReport.from_json({**doc, "agents": doc["agents"][:1], "totals": {"agents": 1}}, "one.json")
    text = stdout_trimmed(view.report, one.to_json(), monkeypatch, columns=110)
    assert "\n            1 agent in " in text
    assert text.rstrip().endswith("1 of 1 agent ok (100%)")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    snapshot = FleetProgress(
        done=50,
        total=200,
        stages={"listed": 50, "reachable": 40, "card": 30, "negotiated": 30, "rpc": 25},
        failures=25,
        elapsed=2.0,
    )
    err = _Tty()
    line = view.ProgressLine(Output("table", stdout=io.StringIO(), stderr=err), stages_for({"rpc"}))
    line.update(snapshot)
    line.close()
    assert err.getvalue() == (
        "\r\x1b[2K[#####...............] 50/200  reach 40 > card 30 > neg 30 > rpc 25  failed 25  25/s  2.00s"
        "\r\x1b[2K"
    )
    quiet = io.StringIO()
    line = view.ProgressLine(Output("table", stdout=io.StringIO(), stderr=quiet), stages_for({"rpc"}))
    line.update(snapshot)
    line.close()
    assert quiet.getvalue() == ""


def test_causes_one_line_per_stage_with_an_example_of_that_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    negotiated = ("listed", "reachable", "card", "negotiated")
    results = [
        AgentResult(
            spec=AgentSpec(url="http://bomb"),
            passed=("listed", "reachable"),
            cause="protocol",
            detail="card: body over the limit",
        ),
        AgentResult(
            spec=AgentSpec(url="http://r1"), passed=negotiated, cause="protocol", detail="rpc: not JSON"
        ),
        AgentResult(
            spec=AgentSpec(url="http://r2"), passed=negotiated, cause="protocol", detail="rpc: not JSON"
        ),
    ]
    doc = FleetReport(results=results, stages=stages_for({"card", "validate", "rpc"})).to_json()
    text = stdout_trimmed(view.causes, doc, monkeypatch, columns=110)
    lines = [line.split() for line in text.splitlines() if line.strip().startswith("protocol")]
    assert lines == [
        ["protocol", "2", "first", "RPC", "answers", "http://r1:", "rpc:", "not", "JSON"],
        ["protocol", "1", "card", "valid", "http://bomb:", "card:", "body", "over", "the", "limit"],
    ]
    del doc["causes"][0]["byStage"]  # a report of an older a2actl: one line, its first example
    old = stdout_trimmed(view.causes, doc, monkeypatch, columns=110)
    assert [line.split()[:2] for line in old.splitlines() if line.strip().startswith("protocol")] == [
        ["protocol", "3"]
    ]
