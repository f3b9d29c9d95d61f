"""a2actl.fleet.report and result: funnel, causes, slowest, distribution, exit rule, JSON round trip,
merges of shards, JUnit XML."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from junitparser import Failure, JUnitXml

from a2actl.core.errors import UsageError
from a2actl.fleet.inventory import AgentSpec, select_shard
from a2actl.fleet.report import FleetReport, declared_label, merge_reports, parse_percent
from a2actl.fleet.result import STAGES, AgentResult, parse_checks, progress_of, stages_for

FULL = ("listed", "reachable", "card", "negotiated", "rpc")


def ok(url: str, total: float = 0.01, versions: tuple[str, ...] = ("1.0",), **labels: str) -> AgentResult:
    return AgentResult(
        spec=AgentSpec(url=url, labels=labels),
        passed=FULL,
        ok=True,
        declared_versions=versions,
        version=versions[-1],
        binding="JSONRPC",
        phases={"connect": total / 4, "card": total / 4, "rpc": total / 2},
        total=total,
    )


def bad(url: str, passed: tuple[str, ...], cause: str, detail: str | None = None, **kw: Any) -> AgentResult:
    return AgentResult(spec=AgentSpec(url=url), passed=passed, ok=False, cause=cause, detail=detail, **kw)


def fleet() -> list[AgentResult]:
    return [
        ok("http://h1", 0.02),
        ok("http://h2", 0.5, versions=("0.3.0",)),
        ok("http://h3", 0.03, versions=("0.3.0", "1.0")),
        bad("http://dead:1", ("listed",), "refused", "connection refused", total=0.001),
        bad("http://dead:2", ("listed",), "refused", "connection refused", total=0.001),
        bad(
            "http://inv1",
            ("listed", "reachable"),
            "invalid-card",
            "/name: 'name' is a required property",
            declared_versions=("1.0",),
            total=0.01,
        ),
        bad(
            "http://rpc",
            ("listed", "reachable", "card", "negotiated"),
            "rpc-error",
            "-32601 Method not found",
            error_code=-32601,
            declared_versions=("1.0",),
            version="1.0",
            binding="JSONRPC",
            total=2.0,
        ),
        bad("http://5xx", ("listed",), "http-5xx", "HTTP 503", http_status=503, total=0.004),
    ]


def report(results: list[AgentResult] | None = None, **kw: Any) -> FleetReport:
    return FleetReport(
        results=results if results is not None else fleet(),
        stages=stages_for({"card", "validate", "rpc"}),
        source="agents.txt",
        started_at=1_700_000_000.0,
        elapsed=2.0,
        **kw,
    )


def test_funnel_counts_and_percent() -> None:
    funnel = report().funnel()
    assert [(f["stage"], f["count"]) for f in funnel] == [
        ("listed", 8),
        ("reachable", 5),
        ("card", 4),
        ("negotiated", 4),
        ("rpc", 3),
    ]
    assert funnel[1]["percent"] == 62.5 and funnel[4]["label"] == "first RPC answers"


def test_funnel_only_counts_the_requested_stages() -> None:
    assert stages_for({"card"}) == ("listed", "reachable", "card")
    assert stages_for(parse_checks("send")) == STAGES
    assert parse_checks("rpc") == {"rpc", "card"}
    with pytest.raises(UsageError):
        parse_checks("card,bogus")


def test_causes_grouped_with_counts_codes_and_examples() -> None:
    causes = {c["cause"]: c for c in report().causes()}
    assert list(causes)[0] == "refused"  # most frequent first
    assert causes["refused"]["count"] == 2 and causes["refused"]["stage"] == "reachable"
    assert causes["invalid-card"]["examples"][0]["detail"] == "/name: 'name' is a required property"
    assert causes["invalid-card"]["stage"] == "card"
    assert causes["rpc-error"]["codes"] == {"-32601": 1} and causes["rpc-error"]["stage"] == "rpc"
    assert causes["http-5xx"]["codes"] == {"HTTP 503": 1}
    assert sum(c["count"] for c in causes.values()) == 5


def test_slowest_top_ten_by_total() -> None:
    results = [ok(f"http://a{i}", total=i / 100) for i in range(25)]
    random.Random(4).shuffle(results)
    slow = report(results).slowest()
    assert [s["url"] for s in slow] == [f"http://a{i}" for i in range(24, 14, -1)]


def test_distribution_declared_negotiated_and_legacy_only() -> None:
    dist = report().distribution()
    assert dist["declared"] == {"1.0": 3, "0.3": 1, "0.3+1.0": 1}
    assert dist["legacyOnly"] == 1
    assert dist["negotiated"] == {"1.0 JSONRPC": 3, "0.3.0 JSONRPC": 1}
    assert declared_label(()) == "none declared"


def test_exit_rule_and_fail_under() -> None:
    assert int(report().exit) == 7
    assert int(report([ok("http://a")]).exit) == 0
    assert int(report(fail_under=0.0).exit) == 0
    assert int(report(fail_under=parse_percent("37.5%")).exit) == 0  # 3/8 ok = 37.5 %
    assert int(report(fail_under=parse_percent("38")).exit) == 7
    assert int(report(timed_out=True, fail_under=0.0).exit) == 5  # --max-time ended it: incomplete
    assert int(report(interrupted=True, timed_out=True, fail_under=0.0).exit) == 130  # Ctrl-C
    for text in ("-1", "101%", "lots", "nan"):
        with pytest.raises(UsageError):
            parse_percent(text)


def test_totals_and_rate() -> None:
    doc = report().to_json()
    assert doc["totals"] == {
        "agents": 8,
        "ok": 3,
        "failed": 5,
        "okPercent": 37.5,
        "duplicates": 0,
        "unchecked": 0,
        "agentsPerSecond": 4.0,
    }
    assert doc["exitCode"] == 7 and len(doc["agents"]) == 8


def test_json_round_trip() -> None:
    original = report(shard=(2, 3), fail_under=0.9)
    doc = json.loads(json.dumps(original.to_json()))
    back = FleetReport.from_json(doc, "r.json")
    assert back.to_json() == original.to_json()


def test_an_interrupted_report_reads_back_and_merges_as_interrupted() -> None:
    stopped = report(shard=(1, 2), interrupted=True, unchecked=4)
    doc = json.loads(json.dumps(stopped.to_json()))
    assert doc["interrupted"] is True and doc["exitCode"] == 130
    back = FleetReport.from_json(doc, "s1.json")
    assert back.interrupted and back.unchecked == 4
    older = json.loads(json.dumps(report([ok("http://other")], shard=(2, 2)).to_json()))
    del older["interrupted"]  # a report written before the key existed reads as not interrupted
    rest = FleetReport.from_json(older, "s2.json")
    assert not rest.interrupted
    merged = merge_reports([("s1.json", back), ("s2.json", rest)])
    assert merged.interrupted and merged.unchecked == 4 and int(merged.exit) == 130
    doc["interrupted"] = "yes"
    with pytest.raises(UsageError, match="'interrupted' is not true or false"):
        FleetReport.from_json(doc, "s1.json")


@pytest.mark.parametrize(
    ("mutate", "expect"),
    [
        (lambda d: d.update(kind="a2actl.load.report"), "not an 'a2actl fleet probe -o json' report"),
        (lambda d: d.pop("agents"), "'agents'"),
        (lambda d: d["agents"][2].update(total=-1), "agents[2]: 'total' is negative"),
        (lambda d: d["agents"][2].update(cause="gremlins", ok=False), "agents[2]: unknown cause"),
        (lambda d: d["agents"][0].update(passed=["rpc", "listed"]), "agents[0]: 'passed'"),
        (lambda d: d["agents"][0].update(ok="yes"), "agents[0]: 'ok' has the wrong type"),
        (lambda d: d["agents"][0].update(passed=["listed", "send"]), "not one of this report's stages"),
        (lambda d: d.update(stages=["rpc", "listed"]), "'stages'"),
        (lambda d: d.update(shard="3/2"), "'shard'"),
        (lambda d: d.update(startedAt="yesterday"), "startedAt"),
        # a failure turned into a success by hand: ok without passing every stage
        (lambda d: d["agents"][3].update(ok=True, cause=None), "agents[3]: an ok record must pass every"),
        (lambda d: d["agents"][3].update(cause=None), "agents[3]: a failed record has no cause"),
        # records cut off (a truncated copy, an edit): the totals no longer match
        (lambda d: d["agents"].pop(), "'totals.agents' is 8 but the report holds 7"),
        # the table reads the options back: they were passed through ('unexpected TypeError', exit 1)
        (lambda d: d.update(options="fast"), "'options' is not an object"),
        (lambda d: d.update(options={"checks": 5}), "'options.checks' is not a list of check names"),
        (
            lambda d: d.update(options={"checks": ["card"], "budget": "2s"}),
            "'options.budget' is not a number of seconds",
        ),
    ],
)
def test_hand_edited_reports_are_refused(mutate: Any, expect: str) -> None:
    doc = json.loads(json.dumps(report().to_json()))
    mutate(doc)
    with pytest.raises(UsageError) as err:
        FleetReport.from_json(doc, "edited.json")
    assert err.value.message.startswith("edited.json") and expect in err.value.message


def _shard_reports(results: list[AgentResult], count: int) -> list[tuple[str, FleetReport]]:
    out = []
    for i in range(1, count + 1):
        mine = {a.url for a in select_shard([r.spec for r in results], i, count)}
        part = [r for r in results if r.spec.url in mine]
        rep = report(part, shard=(i, count))
        rep.started_at += i  # shards start a little apart
        doc = json.loads(json.dumps(rep.to_json()))
        out.append((f"shard{i}.json", FleetReport.from_json(doc, f"shard{i}.json")))
    return out


def test_merge_of_shards_counts_as_the_unsharded_run() -> None:
    results = fleet() + [ok(f"http://x{i}", total=i / 1000) for i in range(40)]
    whole = report(results).to_json()
    merged = merge_reports(_shard_reports(results, 3)).to_json()
    for key in ("funnel", "causes", "distribution", "exitCode", "stages"):
        assert merged[key] == whole[key], key
    assert merged["totals"]["agents"] == whole["totals"]["agents"]
    assert sorted(merged["slowest"], key=lambda s: s["url"]) == sorted(
        whole["slowest"], key=lambda s: s["url"]
    )
    assert merged["shards"] == ["1/3", "2/3", "3/3"]
    assert merged["elapsed"] == pytest.approx(2.0 + 2)  # earliest start to latest end


def test_merge_refuses_the_same_shard_twice_and_overlaps() -> None:
    parts = _shard_reports(fleet(), 2)
    with pytest.raises(UsageError, match="shard 1/2 of agents.txt is already in shard1.json"):
        merge_reports([parts[0], ("again.json", parts[0][1])])
    one = report([ok("http://a")])
    two = report([ok("http://A:80/")])
    with pytest.raises(UsageError, match="agent http://A:80/ is also in a.json"):
        merge_reports([("a.json", one), ("b.json", two)])
    other_checks = FleetReport(results=[ok("http://z")], stages=stages_for({"card"}))
    with pytest.raises(UsageError, match="different checks"):
        merge_reports([("a.json", one), ("c.json", other_checks)])
    with pytest.raises(UsageError):
        merge_reports([])


def test_merge_of_a_merge_still_refuses_a_repeated_shard() -> None:
    parts = _shard_reports(fleet(), 3)
    first_two = merge_reports(parts[:2])
    again = FleetReport.from_json(json.loads(json.dumps(first_two.to_json())), "m.json")
    assert merge_reports([("m.json", again), parts[2]]).total == len(fleet())
    with pytest.raises(UsageError, match="already in"):
        merge_reports([("m.json", again), parts[1]])


def test_junit_one_testcase_per_agent(tmp_path: Any) -> None:
    results = fleet()
    results[0] = ok("http://h1", team="search")
    path = tmp_path / "fleet.xml"
    path.write_text(report(results).junit_xml())
    xml = JUnitXml.fromfile(str(path))
    cases = [c for suite in xml for c in suite]
    assert len(cases) == 8
    by_name = {c.name: c for c in cases}
    assert by_name["http://h1"].classname == "search"
    assert by_name["http://dead:1"].classname == "dead:1"
    failed = {c.name: c.result[0] for c in cases if c.result}
    assert set(failed) == {"http://dead:1", "http://dead:2", "http://inv1", "http://rpc", "http://5xx"}
    assert all(isinstance(f, Failure) for f in failed.values())
    assert failed["http://inv1"].type == "invalid-card"
    assert failed["http://inv1"].message == "invalid-card: /name: 'name' is a required property"
    assert by_name["http://rpc"].time == pytest.approx(2.0)


def test_agent_result_json_round_trip_and_failed_stage() -> None:
    r = bad(
        "http://x", ("listed", "reachable"), "invalid-card", "/x: bad", declared_versions=("1.0",), attempts=2
    )
    back = AgentResult.from_json(json.loads(json.dumps(r.to_json())))
    assert back.to_json() == r.to_json()
    assert r.failed_stage == "card" and ok("http://y").failed_stage is None
    with pytest.raises(UsageError, match="an ok record carries a cause"):
        AgentResult.from_json({**ok("http://y").to_json(), "cause": "dns"}, "r")


def test_progress_of() -> None:
    p = progress_of(fleet(), total=10, elapsed=1.5)
    assert (p.done, p.total, p.failures) == (8, 10, 5)
    assert p.stages["listed"] == 8 and p.stages["rpc"] == 3 and p.stages["send"] == 0


def test_merge_refuses_different_shard_counts_and_notes_missing_shards() -> None:
    results = fleet() + [ok(f"http://x{i}") for i in range(20)]
    thirds, halves = _shard_reports(results, 3), _shard_reports(results, 2)
    with pytest.raises(
        UsageError, match=r"^shard2.json: shard 2/2 of agents.txt, but shard1.json is shard 1/3"
    ):
        merge_reports([thirds[0], halves[1]])
    partial = merge_reports(thirds[:2])  # the job of shard 3/3 never uploaded its report
    assert partial.total < len(results)
    assert "agents.txt: shard(s) 3/3 missing: their agents are not in this report" in partial.notes
    # merged again with the missing shard: the earlier note does not survive
    again = FleetReport.from_json(json.loads(json.dumps(partial.to_json())), "m.json")
    whole = merge_reports([("m.json", again), thirds[2]])
    assert whole.total == len(results) and not any("missing" in n for n in whole.notes)
    assert not any("missing" in n for n in merge_reports(thirds[:1]).notes)  # one file: shown as is


@pytest.mark.parametrize("after", [None, {"junit": "fleet.xml"}, {"junit": 'dir/ä "x".xml'}])
@pytest.mark.parametrize("size", [0, 1, 2, 450])
def test_json_chunks_are_the_bytes_of_the_whole_document(size: int, after: dict[str, Any] | None) -> None:
    """-o json / --out are written record by record: the text must be exactly what one json.dumps of
    the whole document gave (what a2actl wrote before), whatever the records hold."""
    base = fleet()
    results = [base[i % len(base)] for i in range(size)]
    for i, r in enumerate(results):  # distinct agents, some with text JSON escapes or non-ASCII
        results[i] = AgentResult.from_json(
            {**r.to_json(), "url": f"http://h{i}", "name": f'agent {i} "ü\\n\t€"', "labels": {"k": "ä"}},
            "r",
        )
    rep = report(results, notes=["a note: ü"])
    whole = {**rep.to_json(), **(after or {})}
    text = "".join(rep.json_chunks(None, after))
    assert text == json.dumps(whole, indent=2, ensure_ascii=False)
    assert json.loads(text) == whole
    if size > 200:  # a large report comes in several pieces, not one string
        assert len(list(rep.json_chunks())) > 3


def test_agent_results_share_repeated_values_and_keep_phases_in_order() -> None:
    a = AgentResult.from_json(ok("http://a").to_json(), "r")
    b = AgentResult.from_json(ok("http://b").to_json(), "r")
    assert a.passed is b.passed and a.declared_versions is b.declared_versions and a.binding is b.binding
    assert not hasattr(a, "__dict__")  # slots: no per-agent attribute dict
    r = AgentResult(spec=AgentSpec(url="http://c"), phases={"rpc": 0.3, "connect": 0.1})
    assert list(r.phases.items()) == [("connect", 0.1), ("rpc", 0.3)]  # PHASES order
    odd = AgentResult(spec=AgentSpec(url="http://d"), phases={"card": 0.2, "tls": 0.1})
    assert odd.phases == {"card": 0.2, "tls": 0.1}  # a phase this version does not know is kept
    assert AgentSpec(url="http://e").labels is AgentSpec(url="http://f").labels  # one shared empty map


def test_a_cause_at_several_stages_shows_an_example_of_each() -> None:
    """The first failing agent in inventory order is a malformed card (fails at 'card'); two later
    ones answer malformed RPCs (fail at 'rpc'): the row's stage is 'rpc' and its first example must
    be one of those, not the card; the card's agent gets its own byStage entry and example."""
    negotiated = ("listed", "reachable", "card", "negotiated")
    results = [
        bad("http://bomb", ("listed", "reachable"), "protocol", "card: body over 512 KiB (gzip)"),
        ok("http://fine"),
        bad("http://rpc1", negotiated, "protocol", "GetTask: not JSON", http_status=200),
        bad("http://rpc2", negotiated, "protocol", "GetTask: wrong envelope", http_status=200),
        bad("http://rpc3", negotiated, "protocol", "GetTask: not JSON", http_status=502),
    ]
    (row,) = report(results).causes()
    assert row["cause"] == "protocol" and row["count"] == 4 and row["stage"] == "rpc"
    assert [(e["url"], e["stage"]) for e in row["examples"]] == [
        ("http://rpc1", "rpc"),
        ("http://bomb", "card"),
        ("http://rpc2", "rpc"),
    ]
    assert row["byStage"] == [
        {"stage": "rpc", "count": 3, "codes": {"HTTP 200": 2, "HTTP 502": 1}},
        {"stage": "card", "count": 1, "codes": {}},
    ]
    assert row["codes"] == {"HTTP 200": 2, "HTTP 502": 1}  # the row's own keys are unchanged


def test_cross_host_interfaces_are_counted_and_survive_a_merge() -> None:
    note = "interface host 10.0.0.5 differs from the card's host agents.example.com"
    a = ok("http://agents.example.com/a")
    a.notes, a.interface_url = (note,), "http://10.0.0.5/rpc"
    b = bad("http://agents.example.com/b", FULL[:4], "rpc-error", "-32603", error_code=-32603)
    b.notes = (note,)
    one = report([a, ok("http://c")], shard=(1, 2))
    two = report([b], shard=(2, 2))
    assert (
        one.cross_host()["agents"] == 1 and one.cross_host()["examples"][0]["interfaceUrl"] == a.interface_url
    )
    docs = [json.loads(json.dumps(r.to_json())) for r in (one, two)]
    assert docs[0]["agents"][0]["notes"] == [note] and docs[0]["crossHost"]["agents"] == 1
    merged = merge_reports(
        [(f"s{i}.json", FleetReport.from_json(d, f"s{i}.json")) for i, d in enumerate(docs)]
    )
    assert merged.cross_host()["agents"] == 2  # recomputed from the records


def test_missing_shards_of_a_huge_shard_count_are_named_without_walking_them() -> None:
    # `--shard 1/999999999999`: the merge listed every missing shard index (range(1, N + 1)) and never
    # finished; one file did it too, before deciding not to show the note
    n = 10**12
    one = report([ok("http://a")], shard=(1, n))
    two = report([ok("http://b")], shard=(3, n))
    merged = merge_reports([("s1.json", one), ("s3.json", two)])
    (note,) = [x for x in merged.notes if x.endswith("missing: their agents are not in this report")]
    shown = [f"{i}/{n}" for i in (2, *range(4, 13))]
    assert note == f"agents.txt: shard(s) {', '.join(shown)} … missing: their agents are not in this report"
    assert merge_reports([("s1.json", one)]).total == 1


def _parsed_junit(whole: FleetReport, tmp_path: Any) -> Any:
    import xml.etree.ElementTree as ET

    path = tmp_path / "fleet.xml"
    path.write_bytes(whole.junit_xml().encode("utf-8"))  # strict: a surrogate left would raise here
    return ET.parse(path).getroot()


def test_junit_escapes_what_xml_cannot_hold(tmp_path: Any) -> None:
    """An agent's error text and its name holding a control character, a lone surrogate or U+FFFE:
    each is written as its escape, so the file is UTF-8 XML that parses."""
    results = [
        bad("http://x", ("listed", "reachable"), "rpc-error", "bad \ud800 \x1b[2J \x00 \ufffe answer"),
        AgentResult(spec=AgentSpec(url="http://y", name="y\x07"), passed=FULL, ok=True, total=0.01),
    ]
    root = _parsed_junit(report(results), tmp_path)
    by_name = {c.attrib["name"]: c for c in root.iter("testcase")}
    assert set(by_name) == {"http://x", "y\\x07"}
    failure = by_name["http://x"].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "rpc-error: bad \\ud800 \\x1b[2J \\x00 \\ufffe answer"


def test_junit_escapes_the_inventory_name(tmp_path: Any) -> None:
    """The suite's name carries the inventory's name (``fleet report``: the ``source`` of a report
    file, any JSON string): one holding ESC made the whole JUnit file not XML."""
    whole = report([ok("http://y")])
    whole.source = "agents\x1b.txt"
    root = _parsed_junit(whole, tmp_path)
    assert root.attrib["name"] == "a2actl fleet probe agents\\x1b.txt"
    assert [s.attrib["name"] for s in root.iter("testsuite")] == ["a2actl fleet probe agents\\x1b.txt"]
