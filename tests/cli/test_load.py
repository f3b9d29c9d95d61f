"""``a2actl load run`` / ``load report`` end to end: the real CLI against the sandbox (a2a-sdk), a
fast agent with an injectable stall (tests/load_agent.py) and the fault server; exit codes and
parsed JSON."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from a2actl.load.metrics import Recorder, RequestRecord
from a2actl.server.sandbox.options import SandboxOptions, ServiceTime
from a2actl.server.sandbox.server import RunningSandbox
from tests.fifo import a2actl_run as _a2actl
from tests.load_agent import LoadAgent, start_load_agent
from tests.procs import finish


@pytest.fixture
def fast_agent() -> Iterator[tuple[str, LoadAgent]]:
    srv, agent = start_load_agent()
    with srv:
        yield srv.url, agent


def _json(cli: Any, *args: str, code: int = 0, options: tuple[str, ...] = ()) -> dict[str, Any]:
    r = cli("-o", "json", *options, "load", "run", *args)
    assert r.exit_code == code, (r.exit_code, r.stderr, r.stdout[:2000])
    doc: dict[str, Any] = r.json
    return doc


def test_closed_model_sends_the_asked_requests(cli: Any, sandbox: Any) -> None:
    doc = _json(cli, sandbox.url, "-c", "4", "-n", "40")
    assert doc["kind"] == "a2actl.load.report"
    assert doc["model"] == {"kind": "closed", "concurrency": 4, "requests": 40, "duration": None}
    assert doc["requests"] == {
        "scheduled": 40,
        "sent": 40,
        "ok": 40,
        "failures": 0,
        "dropped": 0,
        "cancelled": 0,
    }
    assert doc["states"] == {"completed": 40}
    assert doc["metrics"]["latency"]["count"] == 40
    assert "lag" not in doc["metrics"]  # the closed model has no schedule
    assert doc["negotiated"]["protocolVersion"] == "1.0"
    assert doc["exitCode"] == 0
    assert any("closed model" in n for n in doc["notes"])


def test_open_model_holds_the_asked_rate(cli: Any, fast_agent: tuple[str, LoadAgent]) -> None:
    url, agent = fast_agent
    doc = _json(cli, url, "--rate", "100/s", "--duration", "2s")
    assert doc["model"]["kind"] == "open"
    # arrivals at n/100 s for n/100 < 2 s: exactly 200
    assert doc["requests"]["scheduled"] == 200
    assert doc["requests"]["ok"] == 200
    assert doc["throughput"]["asked"] == 100
    assert 85 <= doc["throughput"]["achieved"] <= 105
    assert doc["metrics"]["lag"]["p50"] < 0.02
    assert agent.requests == 200  # nothing sent twice, nothing left out


def test_a_short_run_reports_the_asked_sending_rate(cli: Any, fast_agent: tuple[str, LoadAgent]) -> None:
    """3 requests at 20/s start at 0, 50 and 100 ms: two intervals in 0.1 s, 20 req/s. The report
    said 30 (3 requests over the 0.1 s between the first and the last: n/(n-1) times --rate)."""
    url, _ = fast_agent
    doc = _json(cli, url, "--rate", "20/s", "-n", "3")
    assert doc["requests"]["sent"] == 3 and doc["throughput"]["asked"] == 20
    assert 18 <= doc["throughput"]["sent"] <= 22, doc["throughput"]
    assert doc["throughput"]["sent"] == pytest.approx(2 / doc["sendingWindow"], abs=0.01)


def test_the_closed_models_sending_rate_counts_its_workers_first_requests(cli: Any, sandbox: Any) -> None:
    """4 workers start together, then each sends when its answer comes (the sandbox takes ~100 ms):
    12 requests in 3 waves are 8 intervals over the 2 waves' time, the rate the answers come at.
    The report said 12 over that time: 1.5 times it."""
    doc = _json(cli, sandbox.url, "-c", "4", "-n", "12")
    thr = doc["throughput"]
    assert thr["sent"] == pytest.approx(8 / doc["sendingWindow"], abs=0.01)
    assert thr["sent"] == pytest.approx(thr["achieved"], rel=0.2), thr


def test_a_stall_shows_in_the_open_models_p99_and_lag_not_in_the_closed_models(
    cli: Any, fast_agent: tuple[str, LoadAgent]
) -> None:
    url, agent = fast_agent
    agent.stall(after=0.5, seconds=1.0)
    open_doc = _json(cli, url, "--rate", "50", "--duration", "3s", "--max-in-flight", "10")
    lat, lag = open_doc["metrics"]["latency"], open_doc["metrics"]["lag"]
    # everything that arrived during the stall waited for its end: counted from the intended time
    assert lat["p99"] >= 0.8, lat
    assert lat["p90"] >= 0.3, lat  # ~50 of 150 arrivals fell in or queued behind the stall
    assert lag["p99"] >= 0.4, lag  # the cap (10) filled: later arrivals started late
    assert any("schedule lag" in n for n in open_doc["notes"])

    agent.stall(after=0.5, seconds=1.0)
    closed = _json(cli, url, "-c", "2", "--duration", "3s")
    clat = closed["metrics"]["latency"]
    assert clat["max"] >= 0.8, clat  # the stall happened ...
    assert clat["p99"] < 0.3, clat  # ... but two slow requests among hundreds hide it
    assert closed["requests"]["sent"] > 200
    assert any("coordinated omission" in n for n in closed["notes"])


def test_thresholds_pass_and_fail_with_exit_0_and_7(cli: Any, fast_agent: tuple[str, LoadAgent]) -> None:
    url, _ = fast_agent
    ok = _json(cli, url, "-n", "20", "--threshold", "p99<10s", "--threshold", "errors<1%")
    assert [t["ok"] for t in ok["thresholds"]] == [True, True]
    bad = _json(cli, url, "-n", "20", "--threshold", "p99<1us", "--threshold", "errors<1%", code=7)
    assert [(t["threshold"], t["ok"]) for t in bad["thresholds"]] == [("p99<1us", False), ("errors<1%", True)]
    assert bad["thresholds"][0]["actual"] > 0
    assert bad["exitCode"] == 7


@pytest.mark.parametrize(
    "how",
    [
        ("-s", "send"),
        ("-s", "stream"),
        ("-s", "send", "--a2a-version", "0.3", "--binding", "HTTP+JSON"),
        ("-s", "stream", "--a2a-version", "0.3", "--binding", "HTTP+JSON"),
    ],
    ids=["send", "stream", "send-0.3-rest", "stream-0.3-rest"],
)
def test_a_failed_task_is_counted_as_such(cli: Any, sandbox: Any, how: tuple[str, ...]) -> None:
    """A failed task is a failure, with the agent's status message as the error table's example,
    as 'send' shows it; the example was empty, so the table said 'failed' and never why."""
    doc = _json(
        cli,
        sandbox.url,
        *how,
        "-n",
        "6",
        "-c",
        "2",
        "--text",
        "/fail now",
        "--threshold",
        "errors<1%",
        code=7,
    )
    assert doc["requests"]["ok"] == 0
    assert doc["statuses"] == {"task-failed": 6}
    assert doc["states"] == {"failed": 6}
    assert doc["errors"] == [
        {"status": "task-failed", "code": "failed", "count": 6, "example": "failed on request (/fail)"}
    ]
    assert doc["thresholds"][0]["actual"] == 1.0


def test_stream_metrics_are_ordered(cli: Any, sandbox: Any) -> None:
    r = cli("-o", "jsonl", "load", "run", sandbox.url, "-s", "stream", "-n", "8", "-c", "2")
    assert r.exit_code == 0, r.stderr
    lines = r.jsonl
    records, summary = lines[:-1], lines[-1]
    assert [x["type"] for x in records] == ["request"] * 8 and summary["type"] == "summary"
    for rec in records:
        assert rec["status"] == "ok" and rec["state"] == "completed"
        assert rec["events"] >= 3 and rec["bytes"] > 0
        assert 0 < rec["ttfe"] <= rec["ttfa"] <= rec["terminal"] <= rec["latency"]
    m = summary["metrics"]
    assert m["ttfe"]["count"] == m["ttfa"]["count"] == m["terminal"]["count"] == 8
    assert m["gap"]["count"] == sum(x["events"] - 1 for x in records)
    assert summary["events"] == sum(x["events"] for x in records)


def test_get_and_card_and_handshake_scenarios(cli: Any, sandbox: Any) -> None:
    get = _json(cli, sandbox.url, "-s", "get", "-n", "5")
    assert get["requests"]["ok"] == 5 and get["states"] == {"completed": 5}
    card = _json(cli, sandbox.url, "-s", "card", "-n", "5")
    assert card["requests"]["ok"] == 5 and card["bytes"] > 0
    hs = _json(cli, sandbox.url, "-s", "handshake", "-n", "3")
    assert hs["requests"]["ok"] == 3
    assert {"phase.connect", "phase.ttfb", "phase.rpc"} <= set(hs["metrics"])
    assert all(v["count"] == 3 for k, v in hs["metrics"].items() if k.startswith("phase."))


def test_a_get_answered_about_another_task_is_a_protocol_error(cli: Any, fault: str) -> None:
    """``-s get`` on an agent whose GetTask answers another task (``task get`` exits 6 on it): each
    request is a ``protocol`` error and the other task's state is not counted as this one's. They
    were counted ok, with the other task's state (``completed``) under ``states``, while the task
    the run created was still working."""
    doc = _json(
        cli, f"{fault}/elsepoll/agent-card.json", "-s", "get", "-n", "3", "--threshold", "errors<1%", code=7
    )
    assert doc["requests"]["ok"] == 0 and doc["requests"]["failures"] == 3
    assert doc["errors"] == [
        {
            "status": "transport-error",
            "code": "protocol",
            "count": 3,
            "example": "GetTask for task 't' answered task 'someone-else'",
        }
    ]
    assert doc["states"] == {}


def test_errors_are_classified(cli: Any, fault: str, fast_agent: tuple[str, LoadAgent]) -> None:
    rpc = _json(cli, f"{fault}/rpcerror/agent-card.json", "-n", "3")
    assert rpc["errors"][0]["status"] == "a2a-error"
    assert rpc["errors"][0]["code"] == "InternalError -32603" and rpc["errors"][0]["count"] == 3
    # the handshake scenario's first RPC names the error as the other scenarios do (it read
    # 'a2a_error -32603': a2actl's error class, not the A2A error's name)
    hs = _json(cli, f"{fault}/rpcerror/agent-card.json", "-s", "handshake", "-n", "2")
    assert [(e["status"], e["code"], e["count"]) for e in hs["errors"]] == [
        ("a2a-error", "InternalError -32603", 2)
    ]
    # a 200 that is no JSON-RPC 2.0 envelope is a protocol error in every scenario (the handshake
    # scenario read it as 'http-error 200' once dlq replay's need for the status leaked into
    # details.httpStatus; review of e84fced)
    for scenario in ("send", "handshake"):
        bad = _json(cli, f"{fault}/badenvelope/agent-card.json", "-s", scenario, "-n", "2")
        assert [(e["status"], e["code"], e["count"]) for e in bad["errors"]] == [
            ("transport-error", "protocol", 2)
        ], scenario
    gw = _json(cli, f"{fault}/gateway502/agent-card.json", "-n", "2")
    assert gw["errors"] == [
        {"status": "http-error", "code": "502", "count": 2, "example": gw["errors"][0]["example"]}
    ]
    url, agent = fast_agent
    agent.stall(after=0.0, seconds=2.0)
    slow = _json(cli, url, "-n", "2", "-c", "2", options=("--timeout", "0.3s"))
    assert slow["errors"][0]["status"] == "transport-error" and slow["errors"][0]["code"] == "timeout"


@pytest.mark.parametrize(
    ("mode", "args", "example"),
    [
        ("regress", (), "illegal-transition: working → submitted goes back"),
        ("othertask", (), "other-task: "),
        ("afterlast", (), "append-after-last-chunk: "),
        ("big", ("--max-event-bytes", "1MiB"), "oversize event: "),
        ("hugeline", (), "oversize event: "),  # 20 MiB: over the default bound (16 MiB)
        ("v03shape", (), "wire-version: a 0.3-shaped event (kind: task) in an A2A 1.0 stream"),
    ],
)
def test_a_stream_that_stream_tail_flags_is_a_protocol_error_not_ok(
    cli: Any, streams: str, mode: str, args: tuple[str, ...], example: str
) -> None:
    """A lifecycle violation (stream tail: exit 6) or an oversize event (exit 7) made the request
    ok: counted as a protocol error, in the error table and the errors rate."""
    doc = _json(
        cli,
        f"{streams}/{mode}/agent-card.json",
        *("-s", "stream", "-n", "2", "-c", "1", "--threshold", "errors<1%", *args),
        code=7,
    )
    assert doc["statuses"] == {"transport-error": 2}
    assert doc["requests"]["ok"] == 0 and doc["requests"]["failures"] == 2
    [err] = doc["errors"]
    assert (err["status"], err["code"], err["count"]) == ("transport-error", "protocol", 2)
    assert err["example"].startswith(example), err
    assert [(t["threshold"], t["actual"], t["ok"]) for t in doc["thresholds"]] == [("errors<1%", 1.0, False)]
    assert doc["exitCode"] == 7


def test_a_clean_stream_stays_ok_under_an_event_bound(cli: Any, streams: str) -> None:
    doc = _json(
        cli,
        f"{streams}/lf/agent-card.json",
        "-s",
        "stream",
        "-n",
        "2",
        "-c",
        "1",
        "--max-event-bytes",
        "1KiB",
    )
    assert doc["statuses"] == {"ok": 2} and doc["states"] == {"completed": 2} and doc["errors"] == []


@pytest.mark.parametrize(
    ("args", "metric", "valid"),
    [
        (("-s", "handshake", "--threshold", "phase.tcp_conect.p99<1s"), "phase.tcp_conect", "phase.connect"),
        (("--threshold", "ttfe.p95<300ms"), "ttfe", "latency"),
        (("-s", "card", "--rate", "5", "--threshold", "phase.ttfb.p99<50"), "phase.ttfb", "lag"),
        (("-c", "2", "--threshold", "lag.p99<5ms"), "lag", "latency"),
        (("-s", "stream", "--threshold", "phase.rpc.p99<1s"), "phase.rpc", "ttfe"),
    ],
)
def test_a_threshold_on_a_metric_the_run_never_records_is_exit_2_before_the_run(
    cli: Any, fast_agent: tuple[str, LoadAgent], args: tuple[str, ...], metric: str, valid: str
) -> None:
    """It ran the whole load, then failed with 'no samples' (exit 7)."""
    url, agent = fast_agent
    r = cli("-o", "json", "load", "run", url, "-n", "5", *args)
    assert r.exit_code == 2, (r.exit_code, r.stderr)
    message = r.json["error"]["message"]
    assert f"no metric {metric!r}" in message and valid in message, message
    assert agent.requests == 0  # nothing was sent


def test_a_real_metric_without_samples_still_fails_the_run(cli: Any, streams: str) -> None:
    # the noterminal streams never reach a terminal state: terminal is a stream metric with no data
    doc = _json(
        cli,
        f"{streams}/noterminal/agent-card.json",
        *("-s", "stream", "-n", "2", "--threshold", "terminal.p99<1s"),
        code=7,
    )
    assert [(t["metric"], t["actual"], t["ok"]) for t in doc["thresholds"]] == [("terminal", None, False)]


def _run_json(cli: Any, *args: str) -> dict[str, Any]:
    r = cli("-o", "json", *args)
    assert r.exit_code == 0, r.stderr
    doc: dict[str, Any] = r.json
    return doc


def test_load_report_merges_runs_exactly(cli: Any, fast_agent: tuple[str, LoadAgent], tmp_path: Path) -> None:
    url, _ = fast_agent
    union = Recorder()
    for name, n in (("a", "30"), ("b", "45")):
        r = cli(
            "-o", "jsonl", "load", "run", url, "-n", n, "-c", "3", "--out", str(tmp_path / f"{name}.json")
        )
        assert r.exit_code == 0, r.stderr
        for rec in r.jsonl[:-1]:
            union.add(
                RequestRecord(rec["seq"], rec["scheduled"], latency=rec["latency"], status=rec["status"])
            )
    merged = _run_json(cli, "load", "report", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert merged["runs"] == 2 and merged["requests"]["sent"] == 75
    # the merged histogram is the sum of the two, bucket for bucket
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    ha = HdrHistogram.decode(a["histograms"]["latency"].encode())
    hb = HdrHistogram.decode(b["histograms"]["latency"].encode())
    hm = HdrHistogram.decode(merged["histograms"]["latency"].encode())
    assert list(hm.counts) == [x + y for x, y in zip(ha.counts, hb.counts, strict=True)]
    # and equals one recorder over the union of the per-request records
    assert merged["metrics"]["latency"]["count"] == 75
    for key in ("p50", "p90", "p99", "max"):
        assert merged["metrics"]["latency"][key] == union.stats("latency")[key]  # type: ignore[index]


def test_load_report_judges_thresholds_on_the_merged_data(
    cli: Any, fast_agent: tuple[str, LoadAgent], tmp_path: Path
) -> None:
    url, _ = fast_agent
    for name in ("a", "b"):
        r = cli("load", "run", url, "-n", "10", "--out", str(tmp_path / f"{name}.json"))
        assert r.exit_code == 0, r.stderr
    files = [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    r = cli("-o", "json", "load", "report", *files, "--threshold", "p99<1us")
    assert r.exit_code == 7 and r.json["thresholds"][0]["ok"] is False
    assert cli("load", "report", *files, "--threshold", "p99<10s").exit_code == 0
    # a metric the runs' scenario (send) never records: exit 2 naming it, not 7 "no samples"
    r = cli("-o", "json", "load", "report", *files, "--threshold", "ttfe.p99<1s")
    assert r.exit_code == 2, (r.exit_code, r.stdout[:300])
    assert "-s send in the closed model records no metric 'ttfe'" in r.json["error"]["message"]
    # lag over runs that were all closed (-c): exit 2 as 'load run -c' is; it was 7 "no samples"
    r = cli("-o", "json", "load", "report", *files, "--threshold", "lag.p99<5ms")
    assert r.exit_code == 2, (r.exit_code, r.stdout[:300])
    assert "-s send in the closed model records no metric 'lag'" in r.json["error"]["message"]
    opened = tmp_path / "o.json"
    assert cli("load", "run", url, "--rate", "20", "-n", "4", "--out", str(opened)).exit_code == 0
    r = cli("-o", "json", "load", "report", *files, str(opened), "--threshold", "lag.p99<10s")
    assert r.exit_code == 0 and r.json["thresholds"][0]["ok"] is True, r.stdout[:300]


def test_load_report_of_jsonl_output_says_where_the_report_is(
    cli: Any, fast_agent: tuple[str, LoadAgent], tmp_path: Path
) -> None:
    """'load run -o jsonl > run.jsonl; load report run.jsonl' is exit 2 'not JSON: Extra data', and
    now says why: the last line is the report, which merges."""
    url, _ = fast_agent
    r = cli("-o", "jsonl", "load", "run", url, "-n", "3")
    assert r.exit_code == 0, r.stderr
    lines = tmp_path / "run.jsonl"
    lines.write_text(r.stdout, encoding="utf-8")
    bad = cli("-o", "json", "load", "report", str(lines))
    assert bad.exit_code == 2
    assert "not JSON: Extra data" in bad.json["error"]["message"]
    assert "its last line is the report" in bad.json["error"]["hint"]
    last = tmp_path / "run.json"
    last.write_text(r.stdout.splitlines()[-1], encoding="utf-8")
    assert _run_json(cli, "load", "report", str(last))["requests"]["sent"] == 3


def test_load_report_refuses_a_report_without_its_counters(
    cli: Any, fast_agent: tuple[str, LoadAgent], tmp_path: Path
) -> None:
    """A report whose statuses or histograms were cut (or edited) out merged as a run of nothing."""
    url, _ = fast_agent
    r = cli("load", "run", url, "-n", "10", "--out", str(tmp_path / "a.json"))
    assert r.exit_code == 0, r.stderr
    for key in ("statuses", "histograms"):
        doc = json.loads((tmp_path / "a.json").read_text())
        del doc[key], doc["runId"], doc["runIds"]  # not the same run as a.json (refused as such)
        (tmp_path / "b.json").write_text(json.dumps(doc))
        r = cli("-o", "json", "load", "report", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
        assert r.exit_code == 2, r.stdout
        assert r.json["error"]["message"].startswith(f"{tmp_path / 'b.json'}: {key} is missing")


def test_abort_on_fail_stops_early(cli: Any, fast_agent: tuple[str, LoadAgent]) -> None:
    url, _ = fast_agent
    doc = _json(
        cli, url, "--rate", "20", "--duration", "20s", "--threshold", "p99<1us", "--abort-on-fail", code=7
    )
    assert doc["aborted"] and "p99<1us" in doc["aborted"]
    assert doc["elapsed"] < 5 and doc["requests"]["scheduled"] < 100


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--rate", "fast"), "--rate 'fast'"),
        (("--rate", "-5"), "--rate '-5'"),
        (("--threshold", "p99<<1s"), "--threshold 'p99<<1s'"),
        (("--threshold", "p42<1s"), "unknown statistic 'p42'"),
        (("--scenario", "bogus"), "--scenario 'bogus'"),
        (("--rate", "10", "-c", "2"), "-c is the closed model"),
        (("--ramp", "5s"), "--ramp needs --rate"),
        (("--duration", "soon"), "--duration"),
        (("--messages", "/nonexistent.jsonl"), "--messages /nonexistent.jsonl"),
        (("--loop", "trio"), "--loop 'trio'"),
        (("--rate", "1e9", "-d", "1s"), "would schedule 1,000,000,000 arrivals"),
        (("--rate", "1e308", "-d", "1s"), "would schedule 1e+308 arrivals (at most"),  # not 309 digits
        (("--out", "/nonexistent-dir/r.json"), "--out /nonexistent-dir/r.json: cannot write"),
        (("--max-event-bytes", "1MiB"), "--max-event-bytes bounds stream events"),
        (("-s", "stream", "--max-event-bytes", "0"), "--max-event-bytes '0'"),
        (("-s", "stream", "--max-event-bytes", "lots"), "--max-event-bytes 'lots': not a size"),
        # it did nothing, silently (h6)
        (("--abort-on-fail",), "--abort-on-fail stops the run when a --threshold fails, and none is given"),
    ],
)
def test_bad_input_is_exit_2_naming_it(
    cli: Any, refused_url: str, args: tuple[str, ...], needle: str
) -> None:
    r = cli("load", "run", refused_url, *args)
    assert r.exit_code == 2, (r.exit_code, r.stderr)
    assert needle in r.stderr
    assert "Traceback" not in r.stderr


def test_a_default_duration_over_max_time_is_named_as_the_default(cli: Any, refused_url: str) -> None:
    """``--max-time 5 load run URL --rate 10``: the open model's default --duration (10 s) is not
    shorter than --max-time, exit 2 naming that default. It said "--duration None"."""
    r = cli("-o", "json", "--max-time", "5", "load", "run", refused_url, "--rate", "10")
    assert r.exit_code == 2, r.stderr
    assert r.json["error"]["message"] == (
        "the open model's default --duration 10s is not shorter than --max-time 5s"
    )
    given = cli("-o", "json", "--max-time", "5", "load", "run", refused_url, "-d", "5s")
    assert given.exit_code == 2, given.stderr
    assert given.json["error"]["message"] == "--duration 5s is not shorter than --max-time 5s"


def test_https_on_an_http_port_says_what_card_get_says(cli: Any, sandbox: Any) -> None:
    """``load run https://…`` at a plain-HTTP port: exit 3 with the same message as the httpx
    commands (``card get``). aiohttp's text put "Cannot connect to host H:P ssl:<ssl.SSLContext
    object at 0x7f…>" before the SSL error: an object's repr, different on every run."""
    url = sandbox.url.replace("http://", "https://", 1)
    run = cli("-o", "json", "load", "run", url, "-n", "1")
    card = cli("-o", "json", "card", "get", url)
    assert run.exit_code == card.exit_code == 3, (run.stderr, card.stderr)
    assert run.json["error"]["message"] == card.json["error"]["message"]
    assert run.json["error"]["message"].startswith(
        f"TLS handshake with {url}/.well-known/agent-card.json failed: "
    )


def test_unreachable_agent_is_exit_3_before_the_run(cli: Any, refused_url: str) -> None:
    r = cli("-o", "json", "load", "run", refused_url, "-n", "5")
    assert r.exit_code == 3
    assert r.json["error"]["code"] == "unreachable"


def test_a_run_that_never_started_leaves_no_empty_out_file(
    cli: Any, refused_url: str, tmp_path: Path
) -> None:
    """--out is created before the run to check it can be written; a run that ended before writing
    it (agent unreachable, --duration not under --max-time) left an empty file that a later
    'load report runs/*.json' refused as not JSON. A file that was there stays."""
    out = tmp_path / "run.json"
    r = cli("-o", "json", "load", "run", refused_url, "-n", "5", "--out", str(out))
    assert r.exit_code == 3 and not out.exists()
    r = cli("--max-time", "2s", "load", "run", refused_url, "--rate", "5", "-d", "10s", "--out", str(out))
    assert r.exit_code == 2 and not out.exists()
    out.write_text("kept")
    assert cli("load", "run", refused_url, "-n", "5", "--out", str(out)).exit_code == 3
    assert out.read_text() == "kept"


@pytest.mark.parametrize(
    ("extra", "line", "message"),
    [
        (("--text", "hi"), '"a"', "--messages gives the messages: --text would be ignored"),
        (("--data", "{}"), '"a"', "--messages gives the messages: --data would be ignored"),
        ((), '{"text": "a", "data": {"k": 1}}', ':1: {"text": …} and {"data": …} are two parts'),
    ],
    ids=["text", "data", "text-and-data-in-a-line"],
)
def test_messages_input_that_would_be_dropped_is_refused(
    cli: Any,
    fast_agent: tuple[str, LoadAgent],
    tmp_path: Path,
    extra: tuple[str, ...],
    line: str,
    message: str,
) -> None:
    """--messages with --text or --data, or a line with both "text" and "data": one of them was
    dropped without a word (the run sent the file's messages, or the line's text alone). Exit 2
    before anything is sent."""
    url, agent = fast_agent
    f = tmp_path / "m.jsonl"
    f.write_text(line + "\n", encoding="utf-8")
    r = cli("-o", "json", "load", "run", url, "-n", "2", "--messages", str(f), *extra)
    assert r.exit_code == 2, r.stdout[:500]
    assert message in r.json["error"]["message"]
    assert agent.requests == 0


def test_out_that_names_an_input_is_refused(
    cli: Any, fast_agent: tuple[str, LoadAgent], tmp_path: Path
) -> None:
    """--out naming the --messages file, a --data @FILE or a report to merge: the report was written
    over it (the messages lost; a merged report over one of its runs). Exit 2 before anything is
    sent or written, the input kept, as 'fleet probe'/'fleet report' refuse it."""
    url, agent = fast_agent
    messages, data = tmp_path / "m.jsonl", tmp_path / "d.json"
    messages.write_text('"hello"\n', encoding="utf-8")
    data.write_text('{"k": 1}', encoding="utf-8")
    for args, given in (
        (("--messages", str(messages), "--out", str(messages)), messages),
        (("--data", f"@{data}", "--out", str(tmp_path / "." / "d.json")), data),
    ):
        r = cli("-o", "json", "load", "run", url, "-n", "2", *args)
        assert r.exit_code == 2, r.stdout[:500]
        assert f"is an input of this command ({given})" in r.json["error"]["message"]
    assert messages.read_text() == '"hello"\n' and data.read_text() == '{"k": 1}'
    assert agent.requests == 0
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for f in (a, b):
        assert cli("load", "run", url, "-n", "3", "--out", str(f)).exit_code == 0
    kept = b.read_text()
    r = cli("-o", "json", "load", "report", str(a), str(b), "--out", str(b))
    assert r.exit_code == 2 and "is an input of this command" in r.json["error"]["message"]
    assert b.read_text() == kept


def test_messages_file_is_cycled(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    f = tmp_path / "m.jsonl"
    f.write_text('"hello"\n{"text": "/fail"}\n{"data": {"k": 1}}\n', encoding="utf-8")
    doc = _json(cli, sandbox.url, "-n", "6", "-c", "1", "--messages", str(f))
    assert doc["statuses"] == {"ok": 4, "task-failed": 2}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('"ok"\n{not json\n', encoding="utf-8")
    r = cli("load", "run", sandbox.url, "--messages", str(bad))
    assert r.exit_code == 2 and f"{bad}:2" in r.stderr


@pytest.mark.parametrize(
    ("version", "binding"), [("0.3", "JSONRPC"), ("1.0", "HTTP+JSON"), ("0.3", "HTTP+JSON")]
)
def test_every_version_and_binding(cli: Any, sandbox: Any, version: str, binding: str) -> None:
    for scenario in ("send", "stream"):
        doc = _json(
            cli,
            sandbox.url,
            "-s",
            scenario,
            "-n",
            "4",
            options=("--a2a-version", version, "--binding", binding),
        )
        assert doc["negotiated"]["protocolVersion"] == version
        assert doc["negotiated"]["protocolBinding"] == binding
        assert doc["requests"]["ok"] == 4, doc["errors"]
        assert doc["states"] == {"completed": 4}


def test_table_view_and_out_file(cli: Any, fast_agent: tuple[str, LoadAgent], tmp_path: Path) -> None:
    url, _ = fast_agent
    out = tmp_path / "run.json"
    r = cli("load", "run", url, "-n", "10", "--threshold", "p99<10s", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("load        send on ")
    assert any(line.split()[:2] == ["latency", "10"] for line in lines)
    assert any("✓ p99<10s" in line for line in lines)
    assert json.loads(out.read_text())["requests"]["sent"] == 10


def test_loop_choice_is_reported(cli: Any, fast_agent: tuple[str, LoadAgent]) -> None:
    url, _ = fast_agent
    assert _json(cli, url, "-n", "5", "--loop", "asyncio")["client"] == {"http": "aiohttp", "loop": "asyncio"}
    assert _json(cli, url, "-n", "5", "--loop", "uvloop")["client"] == {"http": "aiohttp", "loop": "uvloop"}
    assert _json(cli, url, "-n", "5", "-s", "handshake", "--loop", "asyncio")["client"]["http"] == "httpx"


def test_token_and_tls_options_apply_and_the_token_is_never_printed(
    cli: Any, sandbox_auth: Any, tls_server: Any
) -> None:
    from tests.conftest import TOKEN

    denied = _json(cli, sandbox_auth.url, "-n", "3")
    assert denied["statuses"] == {"transport-error": 3}
    assert denied["errors"][0]["code"] == "auth"
    r = cli("-o", "jsonl", "-v", "load", "run", sandbox_auth.url, "-n", "3", env={"A2ACTL_TOKEN": TOKEN})
    assert r.exit_code == 0, r.stderr
    assert r.jsonl[-1]["requests"]["ok"] == 3
    assert "authorization: bearer ***" in r.stderr.lower()  # -v shows the header ...
    assert TOKEN not in r.stderr + r.stdout  # ... masked
    url, ca = tls_server
    assert _json(cli, url, "-n", "3", options=("--cacert", ca))["requests"]["ok"] == 3
    untrusted = cli("-o", "json", "load", "run", url, "-n", "3")
    assert untrusted.exit_code == 3 and "TLS" in untrusted.json["error"]["message"]


def test_max_time_ends_the_run_with_the_report_it_has(
    cli: Any, fast_agent: tuple[str, LoadAgent], tmp_path: Path
) -> None:
    url, _ = fast_agent
    out = tmp_path / "r.json"
    r = cli(
        "-o", "json", "--max-time", "1.5s", "load", "run", url, "-c", "2", "-n", "1000000", "--out", str(out)
    )
    assert r.exit_code == 5, r.stderr
    doc = r.json
    assert doc["exitCode"] == 5 and doc["aborted"].startswith("stopped at --max-time 1.5s")
    assert 0 < doc["requests"]["ok"] < 1000000
    assert json.loads(out.read_text())["requests"] == doc["requests"]


def test_the_out_file_is_masked_like_stdout(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    url = sandbox.url.replace("http://", "http://user:pw-secret-777@") + "/?api_key=q-secret-888"
    out = tmp_path / "r.json"
    r = cli("load", "run", url, "-n", "2", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    text = out.read_text()
    assert json.loads(text)["requests"]["sent"] == 2
    for secret in ("pw-secret-777", "q-secret-888"):
        assert secret not in text and secret not in r.stdout + r.stderr


def test_files_that_are_not_utf8_are_usage_errors(cli: Any, refused_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'"caf\xe9"\n')
    r = cli("load", "run", refused_url, "--messages", str(bad))
    assert r.exit_code == 2 and "not UTF-8" in r.stderr
    r = cli("load", "run", refused_url, "--data", f"@{bad}")
    assert r.exit_code == 2 and "not UTF-8" in r.stderr


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_input_the_client_cannot_read_or_send_is_a_usage_error(
    cli: Any, refused_url: str, tmp_path: Path
) -> None:
    """Too deep to read was exit 1 (an unexpected RecursionError); NaN or Infinity, which JSON cannot
    carry (``protocol.jsondoc.dumps_body``), was sent as null by every request of the run (exit 0).
    What the encoder of every path writes (a lone surrogate from a JSON escape, as its escape; 300
    levels) is sent and judged by the agent, as ``send`` sends it."""
    unreadable = tmp_path / "deep.json"
    unreadable.write_text(_nested(100_000))
    messages = tmp_path / "m.jsonl"
    messages.write_text('"fine"\n' + _nested(100_000) + "\n")
    nan = tmp_path / "nan.jsonl"
    nan.write_text('"fine"\n{"data": {"v": NaN}}\n')
    for args, message in (
        (("--messages", str(messages)), f"--messages {messages}:2: JSON nested too deeply to read"),
        (("--data", f"@{unreadable}"), f"--data '@{unreadable}'"[:48]),
        (
            ("--messages", str(nan)),
            f"--messages {nan}:2: the message cannot be sent as JSON: NaN at /params/message/parts/0/data/v",
        ),
        (
            ("--data", "[1, Infinity]"),
            "--text/--data: the message cannot be sent as JSON: Infinity at /params/message/parts/0/data/1",
        ),
    ):
        r = cli("-o", "json", "load", "run", refused_url, *args)
        assert r.exit_code == 2, (args, r.exit_code, r.stderr)
        assert r.json["error"]["message"].startswith(message), r.json
    # what the encoder writes: sent (and judged by the agent), not refused here
    d300 = tmp_path / "d300.jsonl"
    d300.write_text('"fine"\n{"data": ' + _nested(300) + "}\n")
    surrogate = tmp_path / "surrogate.jsonl"
    surrogate.write_text('"fine"\n"\\ud800"\n')  # a JSON escape: a lone surrogate once decoded
    for args in (
        ("--messages", str(d300)),
        ("--messages", str(surrogate)),
        ("--data", _nested(300)),
        ("--data", '{"k": "\\ud800", "n": 100000000000000000000000}'),
    ):
        r = cli("load", "run", refused_url, *args)
        assert r.exit_code == 3, (args, r.stderr)  # unreachable: it got that far


def test_load_report_of_json_that_is_not_a_report_is_a_usage_error(cli: Any, tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(_nested(100_000))
    listed = tmp_path / "listed.json"
    listed.write_text(
        json.dumps({"kind": "a2actl.load.report", "scenario": ["send"], "statuses": {}, "histograms": {}})
    )
    for path, message in (
        (deep, f"{deep}: not a load report: JSON nested too deeply to read"),
        (listed, f"{listed}: not an 'a2actl load run -o json' report (scenario is not a string)"),
    ):
        r = cli("-o", "json", "load", "report", str(path))
        assert r.exit_code == 2, (r.exit_code, r.stderr)  # was 1: RecursionError, TypeError unhashable
        assert r.json["error"]["message"] == message


def test_max_time_in_the_open_model_cancels_the_requests_in_flight(
    cli: Any, fast_agent: tuple[str, LoadAgent]
) -> None:
    """--max-time during the open model's schedule: the requests in flight are cancelled and
    counted as such (not as errors), as the report says. They were left running, then counted as
    protocol errors ('the server closed the connection without an answer') when the run closed its
    own connections, with a jsonl record each."""
    url, agent = fast_agent
    agent.stall(0.0, 30.0)  # every request hangs
    r = cli("-o", "jsonl", "--max-time", "1.5s", "load", "run", url, "--rate", "4", "-n", "1000")
    assert r.exit_code == 5, r.stderr
    records = [json.loads(line) for line in r.stdout.splitlines()]
    assert [rec["type"] for rec in records] == ["summary"]
    doc = records[0]
    assert doc["aborted"].startswith("stopped at --max-time 1.5s")
    cut = doc["requests"]["cancelled"]
    assert doc["requests"] == {
        "scheduled": cut,
        "sent": cut,
        "ok": 0,
        "failures": 0,
        "dropped": 0,
        "cancelled": cut,
    }
    assert doc["errors"] == [] and doc["statuses"] == {} and doc["exitCode"] == 5
    assert cut >= 4 and agent.requests >= 4  # they were sent, and are in flight at the deadline


# --- an agent that falls behind, Ctrl-C/SIGTERM, run identity -------------------------------------


@pytest.fixture(scope="module")
def queueing_agent() -> Iterator[RunningSandbox]:
    """A real sandbox that serves one request at a time, 100 ms each: at most 10 answers a second."""
    sb = RunningSandbox(SandboxOptions(service_time=ServiceTime.parse("100ms"), max_concurrency=1)).start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture(scope="module")
def slow_agent() -> Iterator[RunningSandbox]:
    """A real sandbox that takes 3 s over every request (served side by side)."""
    sb = RunningSandbox(SandboxOptions(service_time=ServiceTime.parse("3s"))).start()
    try:
        yield sb
    finally:
        sb.stop()


def test_an_agent_that_falls_behind_shows_in_the_throughput(cli: Any, queueing_agent: RunningSandbox) -> None:
    """--rate 40/s for 1 s at an agent that answers 10 a second: its backlog drains ~3 s after the
    last request was sent. The throughput (answers over first request → last answer) says ~10/s;
    the sending rate says 40/s. 'achieved' (and the rps threshold) counted the answers over the
    sending window: ~40 req/s achieved, as if the agent had kept up."""
    doc = _json(cli, queueing_agent.url, "--rate", "40/s", "-d", "1s", "--threshold", "rps>=30", code=7)
    assert doc["requests"]["ok"] == 40
    assert doc["sendingWindow"] < 1.5 and doc["answerWindow"] >= 3.9  # 40 answers, 100 ms each, one at a time
    thr = doc["throughput"]
    assert thr["asked"] == 40 and 25 <= thr["sent"] <= 45  # the sending rate kept the schedule
    assert thr["achieved"] <= 10.5 and thr["ok"] == thr["achieved"]
    assert thr["achieved"] == pytest.approx(40 / doc["answerWindow"], rel=1e-3)
    assert [(t["threshold"], t["ok"]) for t in doc["thresholds"]] == [("rps>=30", False)]
    assert doc["thresholds"][0]["actual"] == pytest.approx(thr["achieved"], rel=1e-3)
    assert any(n.startswith("the agent did not keep up") for n in doc["notes"])


def _sigterm_run(*args: str, records: int = 1) -> tuple[int, list[dict[str, Any]], str]:
    """``a2actl -o jsonl load run ARGS`` in a subprocess, SIGTERM once ``records`` request records
    came (the load is under way): (exit status, the jsonl records, stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "-o", "jsonl", "load", "run", *args, "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal's job
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        while len(lines) < records:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            lines.append(line)
        proc.send_signal(signal.SIGTERM)
        out, err = finish(proc, 30)  # not communicate(): it loses what readline() buffered
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, [json.loads(x) for x in lines + out.splitlines() if x.strip()], err


@pytest.mark.parametrize("model", [("-c", "3", "-d", "60s"), ("--rate", "5", "-d", "60s")])
def test_sigterm_writes_the_report_marked_interrupted(
    slow_agent: RunningSandbox, tmp_path: Path, model: tuple[str, ...]
) -> None:
    """SIGTERM (a CI job's timeout or cancel) mid-run: sending stops, the requests in flight get a
    short grace then are cancelled (counted as such, not as errors), the report of what was
    measured is written (stdout and --out), marked interrupted, exit 130. It ended with one line,
    no report, and the --out file removed."""
    out = tmp_path / "run.json"
    code, records, err = _sigterm_run(slow_agent.url, *model, "--out", str(out))
    assert code == 130, err
    assert records[-1]["type"] == "summary"
    summary = {k: v for k, v in records[-1].items() if k != "type"}
    assert json.loads(out.read_text()) == summary
    assert summary["interrupted"] is True and summary["exitCode"] == 130
    assert summary["aborted"].startswith("interrupted (Ctrl-C or SIGTERM)")
    req = summary["requests"]
    answered = [r for r in records if r["type"] == "request"]
    assert req["ok"] == len(answered) >= 1 and req["failures"] == 0
    assert req["cancelled"] >= 1  # 3 s requests in flight outlive the grace
    assert req["sent"] == req["ok"] + req["failures"] + req["cancelled"]
    assert summary["errors"] == [] and set(summary["statuses"]) <= {"ok", "dropped"}
    assert summary["elapsed"] < 20  # stopped, not run to its 60 s
    assert "interrupted" in err


@pytest.mark.parametrize("model", [("-c", "8"), ("--rate", "20")])
def test_jsonl_into_a_reader_that_stops_ends_the_run_quietly(
    fast_agent: tuple[str, LoadAgent], model: tuple[str, ...]
) -> None:
    """``a2actl -o jsonl load run … | head -1``: once the reader is gone, the run stops at the next
    record and exits 0 with nothing on stderr, in both models. The open model went on sending to
    the end of --duration, and printed "Task exception was never retrieved" and a BrokenPipeError
    traceback for every request after the reader left."""
    url, _ = fast_agent
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "a2actl",
            "-o",
            "jsonl",
            "load",
            "run",
            url,
            *model,
            "-d",
            "30s",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        first = json.loads(proc.stdout.readline())
        assert first["type"] == "request"
        proc.stdout.close()  # the reader is gone (| head -1)
        _, err = proc.communicate(timeout=15)  # a run that goes on to its 30 s fails here
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert err == ""


def test_load_report_refuses_a_run_it_already_holds(
    cli: Any, fast_agent: tuple[str, LoadAgent], tmp_path: Path
) -> None:
    """Each run has an id; a merged report carries the ids of its runs, so merging it again with one
    of them is exit 2 naming both files and the run. Only equal documents were caught: the merged
    report and a.json added a.json's requests twice. Reports without ids merge as before."""
    url, _ = fast_agent
    for name in ("a", "b"):
        r = cli("load", "run", url, "-n", "10", "-c", "2", "--out", str(tmp_path / f"{name}.json"))
        assert r.exit_code == 0, r.stderr
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("a", "b"))
    assert a["runId"] != b["runId"] and a["runIds"] == [a["runId"]]
    files = [str(tmp_path / "a.json"), str(tmp_path / "b.json")]
    merged = _run_json(cli, "load", "report", *files, "--out", str(tmp_path / "m.json"))
    assert merged["runIds"] == [a["runId"], b["runId"]] and merged["requests"]["sent"] == 20
    r = cli("-o", "json", "load", "report", str(tmp_path / "m.json"), files[0])
    assert r.exit_code == 2, r.stdout
    message = r.json["error"]["message"]
    assert files[0] in message and str(tmp_path / "m.json") in message and a["runId"] in message
    again = _run_json(cli, "load", "report", str(tmp_path / "m.json"))  # one merged report shown again
    assert again["runIds"] == merged["runIds"] and again["requests"] == merged["requests"]
    for name, doc in (("old-a", a), ("old-b", b)):  # reports from before run ids
        old = {k: v for k, v in doc.items() if k not in ("runId", "runIds")}
        (tmp_path / f"{name}.json").write_text(json.dumps(old))
    old_files = [str(tmp_path / "old-a.json"), str(tmp_path / "old-b.json")]
    both = _run_json(cli, "load", "report", *old_files)
    assert both["runs"] == 2 and both["requests"]["sent"] == 20 and both["runIds"] == []
    assert cli("load", "report", old_files[0], old_files[0]).exit_code == 2  # equal documents, as before


def test_max_time_bounds_the_card_fetch_too(cli: Any, fault: str) -> None:
    """A card sent one byte every 0.2 s (each read within --timeout): --max-time ends the run while
    connecting, exit 5, as it ends ``card get``. The card fetch was outside --max-time: the run
    waited for the whole card (forever)."""
    import time

    t0 = time.monotonic()
    r = cli(
        "--timeout", "1s", "--max-time", "1.5s", "-o", "json",
        "load", "run", f"{fault}/dribble/agent-card.json", "-n", "5",
    )  # fmt: skip
    assert r.exit_code == 5, r.stdout[-500:] + r.stderr[-500:]
    assert r.json["error"]["message"].startswith("gave up after --max-time 1.5s while connecting")
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize(
    "args",
    [
        ("load", "run", "URL", "-n", "2", "--no-progress", "--messages", "FIFO"),
        ("load", "run", "URL", "-n", "2", "--no-progress", "--data", "@FIFO"),
        ("load", "report", "FIFO"),
    ],
    ids=["messages", "data", "report"],
)
def test_max_time_bounds_an_input_that_never_arrives(
    sandbox: Any, tmp_path: Path, args: tuple[str, ...]
) -> None:
    """A FIFO (or ``<(cmd)``) nobody writes, as --messages, --data @FILE or a report to merge:
    --max-time ends the wait, exit 5. The read blocked the command for ever, past --max-time."""
    import os

    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    argv = [a.replace("URL", sandbox.url).replace("FIFO", str(fifo)) for a in args]
    r, elapsed = _a2actl("--max-time", "1.5s", "-o", "json", *argv)
    assert r.returncode == 5, (r.stdout[-500:], r.stderr[-500:])
    assert json.loads(r.stdout)["error"]["message"].startswith("gave up after --max-time 1.5s")
    assert elapsed < 10, elapsed


def test_max_time_counts_reading_the_messages_and_the_run_together(
    slow_agent: RunningSandbox, tmp_path: Path
) -> None:
    """--messages from a FIFO that takes 2 s to arrive, --max-time 3 s, an agent that takes 3 s per
    request: the run ends at 3 s from the start (exit 5, the report written), not 3 s after the
    messages came (5 s)."""
    import os
    import threading
    import time

    fifo = tmp_path / "messages.fifo"
    os.mkfifo(fifo)

    def late_writer() -> None:
        time.sleep(2)
        with open(fifo, "w") as w:
            w.write('"hi"\n')

    threading.Thread(target=late_writer, daemon=True).start()
    r, elapsed = _a2actl(
        "--max-time", "3s", "-o", "json",
        "load", "run", slow_agent.url, "-c", "1", "-n", "5", "--messages", str(fifo), "--no-progress",
    )  # fmt: skip
    assert r.returncode == 5, r.stderr
    doc = json.loads(r.stdout)
    assert doc["exitCode"] == 5 and doc["requests"]["cancelled"] == 1
    assert elapsed < 4.5, elapsed  # ~3 s plus a2actl's start-up; it was 5 s and more


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_an_out_file_that_fails_only_at_the_end_keeps_the_report(
    cli: Any, fast_agent: tuple[str, LoadAgent], tmp_path: Path
) -> None:
    """--out on a disk that filled during the run (/dev/full: the pre-check's open succeeds, the
    write fails): the report is still written on stdout, with outError and exitCode 2, one line on
    stderr, exit 2. It was exit 2 with the error alone: the whole run's report was lost."""
    url, _ = fast_agent
    r = cli("-o", "json", "load", "run", url, "-n", "10", "-c", "2", "--out", "/dev/full", "--no-progress")
    assert r.exit_code == 2, r.stderr
    doc = r.json
    assert doc["kind"] == "a2actl.load.report" and doc["requests"]["ok"] == 10
    assert doc["exitCode"] == 2 and doc["outError"].startswith("--out /dev/full: cannot write")
    assert "--out /dev/full: cannot write" in r.stderr
    saved = tmp_path / "run.json"
    assert cli("load", "run", url, "-n", "4", "--out", str(saved)).exit_code == 0
    merged = cli("-o", "json", "load", "report", str(saved), "--out", "/dev/full")
    assert merged.exit_code == 2, merged.stderr
    assert merged.json["requests"]["ok"] == 4 and merged.json["outError"].startswith("--out /dev/full")
    assert "outError" not in json.loads(saved.read_text())


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_jsonl_records_that_cannot_be_written_are_no_failed_check(
    cli: Any, fast_agent: tuple[str, LoadAgent], tmp_path: Path
) -> None:
    """``-o jsonl --out run.json > /dev/full``: the records cannot be written, the run stops and the
    command exits 2; run.json says exitCode 2, as the process, and 'load report run.json' judges it
    by its thresholds (0 here). The file said 7 (a check failed) and the merge exited 7 for a run no
    check failed."""
    url, _ = fast_agent
    saved = tmp_path / "run.json"
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "a2actl", "-o", "jsonl", "load", "run", url, "--rate", "50", "-d", "20s"]
            + ["--threshold", "errors<1%", "--out", str(saved), "--no-progress"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    assert proc.returncode == 2, proc.stderr
    assert "standard output: cannot write" in proc.stderr
    doc = json.loads(saved.read_text())
    assert doc["aborted"] == "stopped: a request's record could not be written"
    assert doc["exitCode"] == 2 and doc["requests"]["sent"] < 50
    assert [t["ok"] for t in doc["thresholds"]] == [True]
    merged = cli("-o", "json", "load", "report", str(saved))
    assert merged.exit_code == 0, merged.stdout
    assert merged.json["exitCode"] == 0 and merged.json["aborted"].endswith("could not be written")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("load", "run", "URL", "-n", "1", "--no-progress", "--messages", "/dev/zero"),
            "--messages /dev/zero: over the 64 MiB limit (67,108,864 bytes)",
        ),
        (
            ("load", "run", "URL", "-n", "1", "--no-progress", "--data", "@/dev/zero"),
            "--data @/dev/zero: over the 64 MiB limit (67,108,864 bytes)",
        ),
        (("load", "report", "/dev/zero"), "/dev/zero: over the 256 MiB limit (268,435,456 bytes)"),
    ],
    ids=["messages", "data", "report"],
)
def test_an_input_without_end_is_refused_at_its_limit(
    sandbox: Any, args: tuple[str, ...], message: str
) -> None:
    """``--messages /dev/zero``, ``--data @<(yes)`` or a report ``<(yes)`` was read whole into memory
    until the machine ran out (here: 1 GiB of address space, exit 1 "unexpected MemoryError"). At
    most the limit + 1 byte is read (64 MiB for a request's input, 256 MiB for a report), then exit 2
    naming the option (or the report file) and the limit."""
    from tests.procs import a2actl_in_memory

    r = a2actl_in_memory("-o", "json", *(a.replace("URL", sandbox.url) for a in args))
    assert r.returncode == 2, r.stderr[-500:]
    assert json.loads(r.stdout)["error"]["message"] == message


def test_text_from_a_stdin_that_never_ends_is_bounded_by_max_time(fast_agent: tuple[str, LoadAgent]) -> None:
    """`sleep 100 | a2actl load run URL --text -` (`--text -` reads standard input, as send's TEXT
    '-'): the read ran on the event loop and held the command until the writer ended, past
    --max-time. Now exit 5 at --max-time, nothing sent; an empty stdin is exit 2 naming --text."""
    from tests.fifo import run_a2actl, run_a2actl_stdin_silent

    url, agent = fast_agent
    ran = run_a2actl_stdin_silent("--max-time", "1.5s", "-o", "json", "load", "run", url, "--text", "-")
    assert ran.code == 5, (ran.out[-500:], ran.err[-500:])
    assert json.loads(ran.out)["error"]["message"].startswith("gave up after --max-time 1.5s")
    assert ran.elapsed < 10, ran.elapsed
    assert agent.requests == 0
    empty = run_a2actl("-o", "json", "load", "run", url, "--text", "-", "-n", "1")  # stdin: /dev/null
    assert empty.code == 2, (empty.out[-500:], empty.err[-500:])
    assert json.loads(empty.out)["error"]["message"] == "stdin was empty: --text '-' has nothing to send"
    assert agent.requests == 0


@pytest.mark.parametrize("flags", [(), ("--no-progress",)], ids=["stderr-not-a-terminal", "no-progress"])
def test_no_progress_snapshot_is_made_without_a_progress_line(
    cli: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...]
) -> None:
    """Without a progress line (``--no-progress``, or stderr not a terminal as here) the run gets no
    ``on_progress``, so it makes no snapshot: each read the whole latency histogram for its p99,
    every 0.5 s, and every answer was kept for the last second's rate, for nothing."""
    import a2actl.load.run as run_module

    seen: list[object] = []
    real = run_module.run_load

    async def spy(
        opts: Any, settings: Any, sink: Any = None, on_record: Any = None, on_progress: Any = None
    ) -> Any:
        seen.append(on_progress)
        return await real(opts, settings, sink, on_record, on_progress)

    monkeypatch.setattr(run_module, "run_load", spy)
    r = cli("-o", "json", "load", "run", sandbox.url, "-c", "1", "-n", "2", *flags)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["requests"]["ok"] == 2
    assert seen == [None]


def test_a_threshold_given_twice_is_judged_once(cli: Any, sandbox: Any) -> None:
    """The same threshold twice (as written, or spelled another way) was listed and judged twice
    in ``load run``, once in ``load report``; once in both now."""
    doc = _json(
        cli, sandbox.url, "-n", "4", "-c", "1",
        "--threshold", "errors<1%", "--threshold", "errors<1%", "--threshold", "errors<0.01",
        "--threshold", "p99<10s", "--threshold", "p99<10000ms",
        "--threshold", "p90<0.7s", "--threshold", "p90<700ms",  # 700 ms reads 0.7000000000000001 s
    )  # fmt: skip
    assert [t["threshold"] for t in doc["thresholds"]] == ["errors<1%", "p99<10s", "p90<0.7s"]


def test_a_data_file_that_is_not_json_is_named_whole(cli: Any, refused_url: str, tmp_path: Path) -> None:
    """``--data @PATH`` of a file that is not JSON: the message cut the path at 40 characters
    (``@…/empty.jsonl`` read ``…/empty.json``); a file is named whole, inline JSON still quoted
    up to 40 characters."""
    path = tmp_path / ("d" * 30) / "not-json-at-all.jsonl"
    path.parent.mkdir()
    path.write_text("{not json")
    r = cli("-o", "json", "load", "run", refused_url, "--data", f"@{path}", "-n", "1")
    assert r.exit_code == 2
    assert r.json["error"]["message"].startswith(f"--data '@{path}' is not JSON: ")
    inline = cli("-o", "json", "load", "run", refused_url, "--data", "{" + "x" * 60, "-n", "1")
    assert inline.json["error"]["message"].startswith("--data '{" + "x" * 39 + "…' is not JSON: ")


def test_load_report_lists_a_threshold_the_runs_spelled_differently_once(
    cli: Any, sandbox: Any, tmp_path: Path
) -> None:
    """Two runs with the same criterion spelled two ways (``errors<1%``, ``errors<0.01``): the merge
    listed and judged it twice (it merged by text)."""
    for name, spelling in (("a", "errors<1%"), ("b", "errors<0.01")):
        _json(
            cli,
            sandbox.url,
            "-n",
            "3",
            "-c",
            "1",
            "--threshold",
            spelling,
            "--out",
            str(tmp_path / f"{name}.json"),
        )
    r = cli("-o", "json", "load", "report", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert r.exit_code == 0, r.stdout[-400:]
    assert [t["threshold"] for t in r.json["thresholds"]] == ["errors<1%"]


# ------------------------------------------------------------------ load report - (standard input)


def _stdin_cli(args: list[str], text: str) -> Any:
    """``a2actl ARGS`` in-process with ``text`` on standard input."""
    from typer.testing import CliRunner

    from a2actl.cli.app import app
    from tests.conftest import Result

    r = CliRunner().invoke(app, args, input=text, catch_exceptions=False)
    return Result(r.exit_code, r.stdout, r.stderr)


def test_load_report_reads_a_report_from_standard_input(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    """``cat a.json | a2actl load report - b.json`` read a file named ``-`` ("-: cannot read: No
    such file or directory", exit 2). ``-`` is standard input, named ``<stdin>``; once: given twice
    (the second read would be empty) or with nothing on it is exit 2."""
    for name in ("a", "b"):
        _json(cli, sandbox.url, "-n", "3", "-c", "1", "--out", str(tmp_path / f"{name}.json"))
    a_text = (tmp_path / "a.json").read_text()
    b = str(tmp_path / "b.json")
    r = _stdin_cli(["-o", "json", "load", "report", "-", b], a_text)
    assert r.exit_code == 0, r.stderr
    assert r.json["sources"] == ["<stdin>", b] and r.json["requests"]["sent"] == 6
    assert r.json["runIds"] == [json.loads(a_text)["runId"], json.loads(Path(b).read_text())["runId"]]
    r = _stdin_cli(["-o", "json", "load", "report", "-", str(tmp_path / "a.json")], a_text)
    assert r.exit_code == 2  # the same run twice, named by both inputs
    assert r.json["error"]["message"].startswith(f"{tmp_path / 'a.json'} and <stdin> both hold run ")
    for args, text, message in (
        (["-", b, "-"], a_text, "'-' (standard input) is given 2 times: it can be read once"),
        (["-"], "", "load report '-': standard input was empty"),
        (["-"], "{", "<stdin>: not JSON: "),
    ):
        r = _stdin_cli(["-o", "json", "load", "report", *args], text)
        assert r.exit_code == 2, (args, r.stdout)
        assert r.json["error"]["message"].startswith(message), r.json


@pytest.mark.parametrize("stdin", ["closed", "terminal"])
def test_load_report_of_no_standard_input_is_a_usage_error(stdin: str) -> None:
    """``load report -`` with standard input closed (``<&-``) or a terminal (nobody piped a report
    in: it would wait for one typed) is one line, exit 2."""
    import os
    import pty

    argv = [sys.executable, "-m", "a2actl", "load", "report", "-"]
    kw: dict[str, Any] = {"capture_output": True, "text": True, "timeout": 30}
    if stdin == "terminal":
        leader, follower = pty.openpty()
        try:
            r = subprocess.run(argv, stdin=follower, **kw)
        finally:
            os.close(leader)
            os.close(follower)
    else:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(0), **kw)  # noqa: PLW1509
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    which = {"closed": "closed", "terminal": "a terminal"}[stdin]
    assert lines[0].startswith(f"a2actl: load report '-' reads standard input, which is {which} (hint: ")


def test_load_report_of_a_standard_input_without_end_stops_at_the_limit() -> None:
    """``load report - < /dev/zero``: at most 256 MiB + 1 byte is read, as from a report file."""
    from tests.procs import a2actl_in_memory

    with open("/dev/zero", "rb") as zero:
        r = a2actl_in_memory("-o", "json", "load", "report", "-", stdin=zero.fileno())
    assert r.returncode == 2, r.stderr[-500:]
    assert json.loads(r.stdout)["error"]["message"] == "<stdin>: over the 256 MiB limit (268,435,456 bytes)"


def test_a_grpc_phase_threshold_on_a_run_that_is_not_grpc_is_exit_2(
    cli: Any, sandbox: Any, refused_url: str, tmp_path: Path
) -> None:
    """``--threshold 'phase.grpc_ready.p99<1s'`` with ``--binding JSONRPC`` ran the whole load and
    failed "no samples", exit 7: the phase is timed on a gRPC interface only. The binding is known
    before the run, so it is exit 2 then (nothing connects: the target here refuses); in ``load
    report``, when the merged runs spoke no gRPC."""
    for binding in ("JSONRPC", "HTTP+JSON"):
        r = cli(
            "-o", "json", "--binding", binding, "load", "run", refused_url, "-s", "handshake",
            "-n", "2", "--threshold", "phase.rpc.p99<1s", "--threshold", "phase.grpc_ready.p99<1s",
        )  # fmt: skip
        assert r.exit_code == 2, (r.exit_code, r.stdout[-300:])
        assert r.json["error"]["message"] == (
            "--threshold 'phase.grpc_ready.p99<1s': phase.grpc_ready is timed on a gRPC interface "
            f"only, and --binding {binding} runs on another"
        )
    ran = cli(
        "-o", "json", "load", "run", refused_url, "-s", "handshake", "--threshold", "phase.grpc_dns.p99<1s"
    )
    assert ran.exit_code == 3, ran.stdout[-300:]  # --binding auto: not known before the card
    # --binding auto: known once the card is read, before any load is sent (it ran, then exit 7)
    auto = cli(
        "-o", "json", "load", "run", sandbox.url, "-s", "handshake", "-n", "2", "-c", "1",
        "--threshold", "phase.grpc_ready.p99<1s",
    )  # fmt: skip
    assert auto.exit_code == 2, (auto.exit_code, auto.stdout[-300:])
    assert auto.json["error"]["message"] == (
        "--threshold 'phase.grpc_ready.p99<1s': phase.grpc_ready is timed on a gRPC interface only, "
        "and the card's interface chosen is JSONRPC"
    )
    doc = _json(cli, sandbox.url, "-s", "handshake", "-n", "2", "-c", "1", "--out", str(tmp_path / "a.json"))
    assert doc["negotiated"]["protocolBinding"] == "JSONRPC"
    r = cli("-o", "json", "load", "report", str(tmp_path / "a.json"), "--threshold", "phase.grpc_dns.p99<1s")
    assert r.exit_code == 2, (r.exit_code, r.stdout[-300:])
    assert r.json["error"]["message"].endswith(
        "phase.grpc_dns is timed on a gRPC interface only, and the run spoke JSONRPC"
    )
    doc["negotiated"]["protocolBinding"] = "GRPC"  # a gRPC run's report: judged (here without samples)
    (tmp_path / "g.json").write_text(json.dumps(doc))
    r = cli("-o", "json", "load", "report", str(tmp_path / "g.json"), "--threshold", "phase.grpc_dns.p99<1s")
    assert r.exit_code == 7 and r.json["thresholds"][0]["actual"] is None, r.stdout[-300:]
    # a merged report names its first run's binding only: the others may have been gRPC
    doc["negotiated"]["protocolBinding"] = "JSONRPC"
    (tmp_path / "m.json").write_text(json.dumps({**doc, "runs": 2}))
    r = cli("-o", "json", "load", "report", str(tmp_path / "m.json"), "--threshold", "phase.grpc_dns.p99<1s")
    assert r.exit_code == 7, r.stdout[-300:]


def test_a_ramp_longer_than_the_run_says_the_rate_was_never_reached(
    cli: Any, fast_agent: tuple[str, LoadAgent]
) -> None:
    """``--rate 20 --ramp 2s -d 0.5s`` ends a quarter into its ramp, at 5 req/s: the report (and the
    table's "of 20 asked") said nothing. A warning on stderr before the run, and a note."""
    url, agent = fast_agent
    r = cli("-o", "json", "load", "run", url, "--rate", "20", "--ramp", "2s", "-d", "0.5s", "--no-progress")
    assert r.exit_code == 0, r.stderr
    note = (
        "the run ends 0.50s into the 2s --ramp (--duration 0.5s): arrivals reached 5.0 req/s, never "
        "the 20 req/s --rate asks; lengthen the run or shorten --ramp"
    )
    assert r.stderr.splitlines() == [f"warning: {note}"]
    assert note in r.json["notes"] and r.json["throughput"]["asked"] == 20.0
    full = cli(
        "-o", "json", "load", "run", url, "--rate", "20", "--ramp", "0.2s", "-d", "0.5s", "--no-progress"
    )
    assert full.exit_code == 0 and full.stderr == "", full.stderr
    assert not [n for n in full.json["notes"] if "--ramp" in n]


def test_load_report_of_a_standard_input_that_never_ends_is_bounded_by_max_time() -> None:
    """``sleep 100 | a2actl load report -``: standard input is read off the event loop, so
    ``--max-time`` ends the wait (exit 5) as it does for a FIFO report file."""
    from tests.fifo import run_a2actl_stdin_silent

    ran = run_a2actl_stdin_silent("--max-time", "1.5s", "-o", "json", "load", "report", "-")
    assert ran.code == 5, (ran.out[-500:], ran.err[-500:])
    assert json.loads(ran.out)["error"]["message"].startswith("gave up after --max-time 1.5s")
    assert ran.elapsed < 10, ran.elapsed
