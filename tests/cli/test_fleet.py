"""``a2actl fleet probe`` / ``fleet report`` end to end: the real CLI against the fleet fixture server
(tests/fleet_server.py: many agents in one loopback process, healthy and broken, plus dead ports) and
the real sandbox agent. Funnel counts and causes are asserted exactly against what each agent kind
must produce (``fleet_server.EXPECTED``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from junitparser import Failure, JUnitXml
from typer.testing import CliRunner

from a2actl.cli.app import app
from a2actl.server.sandbox.server import RunningSandbox
from tests.conftest import TOKEN
from tests.fifo import a2actl_run as _a2actl
from tests.fleet_server import FleetServer, Planned, expected_causes, expected_funnel, plan, write_inventory
from tests.procs import finish

#: One of each way to fail, several healthy kinds, a transient (flaky) kind.
MIX: dict[str, int] = {
    "healthy": 4,
    "rest": 2,
    "healthy03": 2,
    "hybrid": 2,
    "flaky": 2,
    "invalid": 2,
    "notjson": 1,
    "nocard": 1,
    "error500": 1,
    "rpcerror": 1,
    "rpc401": 1,
    "badversion": 1,
    "grpconly": 1,
    "slow": 1,
    "refused": 2,
    "dns": 1,
}
#: Per request: the 'slow' kind (3 s) must time out; everything else answers in milliseconds.
TIMEOUT = ("--timeout", "1s")


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetServer]:
    with FleetServer(slow=3.0) as server:
        yield server


@pytest.fixture(scope="module")
def mixed(fleet: FleetServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Planned]]:
    # by path only: an inventory cannot carry a Host header (the HTTP client owns it: exit 2); the
    # Host-routed agents are checked in tests/unit/fleet, whose AgentSpecs are built directly
    agents = plan(fleet.url, MIX)
    path = tmp_path_factory.mktemp("fleet") / "fleet.json"
    write_inventory(path, agents)
    return path, agents


def funnel_of(doc: dict[str, Any]) -> dict[str, int]:
    return {row["stage"]: row["count"] for row in doc["funnel"]}


def causes_of(doc: dict[str, Any]) -> dict[str, int]:
    return {row["cause"]: row["count"] for row in doc["causes"]}


@pytest.fixture(scope="module")
def unsharded(mixed: tuple[Path, list[Planned]]) -> dict[str, Any]:
    """One -o json run over the whole mixed inventory (shared by the tests that compare with it)."""
    r = CliRunner().invoke(app, ["fleet", "probe", str(mixed[0]), *TIMEOUT, "-o", "json"])
    assert r.exit_code == 7, r.stdout + r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def test_mixed_fleet_funnel_and_causes_exactly(
    unsharded: dict[str, Any], mixed: tuple[Path, list[Planned]]
) -> None:
    agents = mixed[1]
    doc = unsharded
    assert doc["exitCode"] == 7
    assert funnel_of(doc) == expected_funnel(agents)
    assert causes_of(doc) == expected_causes(agents)
    assert doc["totals"]["agents"] == len(agents)
    ok = sum(1 for a in agents if expected_causes([a]) == {})
    assert doc["totals"]["ok"] == ok and doc["totals"]["failed"] == len(agents) - ok
    # per-agent records in inventory order, each with the cause its kind must produce
    assert [a["name"] for a in doc["agents"]] == [a.name for a in agents]
    for record, planned in zip(doc["agents"], agents, strict=True):
        assert record["labels"] == {"kind": planned.kind}
        want = expected_causes([planned])
        assert (record["cause"] is None) == (not want)
        if want:
            assert record["cause"] == next(iter(want))
    invalid = next(c for c in doc["causes"] if c["cause"] == "invalid-card")
    assert any(e["detail"] and "/name" in e["detail"] for e in invalid["examples"])  # the first schema error
    flaky = [a for a in doc["agents"] if a["labels"]["kind"] == "flaky"]
    assert all(a["ok"] and a["attempts"] == 2 for a in flaky)  # 503 once, retried
    dist = doc["distribution"]
    assert dist["legacyOnly"] == MIX["healthy03"]
    assert len(doc["slowest"]) == 10
    assert doc["slowest"][0]["name"] == "slow-0"


def test_table_output_and_exit_7(mixed: tuple[Path, list[Planned]], cli: Any) -> None:
    r = cli("fleet", "probe", str(mixed[0]), *TIMEOUT, "--no-progress")
    assert r.exit_code == 7
    lines = [line.strip() for line in r.stdout.splitlines()]
    assert "funnel" in lines and "failures by cause" in lines and "slowest" in lines
    assert lines[-1].startswith(
        f"{sum(1 for a in mixed[1] if not expected_causes([a]))} of {len(mixed[1])} agents ok"
    )
    assert "Traceback" not in r.stdout + r.stderr


def test_jsonl_one_record_per_agent_then_summary(mixed: tuple[Path, list[Planned]], cli: Any) -> None:
    r = cli("fleet", "probe", str(mixed[0]), *TIMEOUT, "-o", "jsonl")
    assert r.exit_code == 7
    records = r.jsonl
    assert [x["type"] for x in records] == ["agent"] * len(mixed[1]) + ["summary"]
    assert sorted(x["name"] for x in records[:-1]) == sorted(a.name for a in mixed[1])
    assert funnel_of(records[-1]) == expected_funnel(mixed[1]) and "agents" not in records[-1]


def test_shards_partition_and_merge_equals_unsharded(
    mixed: tuple[Path, list[Planned]], unsharded: dict[str, Any], cli: Any, tmp_path: Path
) -> None:
    names: list[list[str]] = []
    files = []
    for i in (1, 2, 3):
        out = tmp_path / f"shard{i}.json"
        r = cli(
            "fleet", "probe", str(mixed[0]), *TIMEOUT, "--shard", f"{i}/3", "--out", str(out), "-o", "json"
        )
        assert r.exit_code in (0, 7)
        assert json.loads(out.read_text()) == r.json
        names.append([a["name"] for a in r.json["agents"]])
        files.append(str(out))
    flat = [n for part in names for n in part]
    assert sorted(flat) == sorted(a.name for a in mixed[1])  # union = all
    assert len(flat) == len(set(flat))  # intersection = none
    assert all(names)
    merged = cli("fleet", "report", *files, "-o", "json")
    assert merged.exit_code == 7
    doc = merged.json
    for key in ("funnel", "causes", "distribution", "stages", "exitCode"):
        if key == "causes":  # examples are the first agents in file order: compare counts and codes
            assert [(c["cause"], c["count"], c["codes"]) for c in doc[key]] == [
                (c["cause"], c["count"], c["codes"]) for c in unsharded[key]
            ]
        else:
            assert doc[key] == unsharded[key], key
    assert doc["totals"]["agents"] == unsharded["totals"]["agents"]
    assert doc["shards"] == ["1/3", "2/3", "3/3"]
    # the same shard twice, or a shard and the unsharded run: exit 2, naming the files
    again = cli("fleet", "report", files[0], files[1], files[0])
    assert again.exit_code == 2 and "already in" in again.stderr
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps(unsharded))
    overlap = cli("fleet", "report", str(whole), files[1], "-o", "json")
    assert overlap.exit_code == 2
    assert overlap.json["error"]["code"] == "usage" and "overlap" in overlap.json["error"]["message"]


def test_junit_one_testcase_per_agent(mixed: tuple[Path, list[Planned]], cli: Any, tmp_path: Path) -> None:
    junit = tmp_path / "fleet.xml"
    r = cli("fleet", "probe", str(mixed[0]), *TIMEOUT, "--junit", str(junit), "-o", "json")
    assert r.exit_code == 7 and r.json["junit"] == str(junit)
    xml = JUnitXml.fromfile(str(junit))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == len(mixed[1])
    failed = {case.name: case.result[0] for case in cases if case.result}
    want = {a.name: next(iter(expected_causes([a]))) for a in mixed[1] if expected_causes([a])}
    assert {n: f.type for n, f in failed.items()} == want
    assert all(isinstance(f, Failure) for f in failed.values())
    hosts = {a.name: urlsplit(a.url).netloc for a in mixed[1]}  # no group/team/env label: host[:port]
    assert {case.name: case.classname for case in cases} == hosts


def test_fail_under(mixed: tuple[Path, list[Planned]], cli: Any) -> None:
    agents = mixed[1]
    ok_pct = 100.0 * sum(1 for a in agents if not expected_causes([a])) / len(agents)
    assert cli("fleet", "probe", str(mixed[0]), *TIMEOUT, "--fail-under", "0").exit_code == 0
    below = cli("fleet", "probe", str(mixed[0]), *TIMEOUT, "--fail-under", f"{ok_pct - 1:.1f}%", "-o", "json")
    assert below.exit_code == 0 and below.json["failUnder"] == pytest.approx(ok_pct - 1, abs=0.05)
    above = cli("fleet", "probe", str(mixed[0]), *TIMEOUT, "--fail-under", f"{ok_pct + 1:.1f}%", "-o", "json")
    assert above.exit_code == 7 and above.json["exitCode"] == 7


@pytest.fixture
def fresh_fleet() -> Iterator[FleetServer]:
    """A fleet server of its own: the test's agent ids start with no history (hits, flaky 503s)."""
    with FleetServer() as server:
        yield server


def test_healthy_only_exits_0(fresh_fleet: FleetServer, cli: Any, tmp_path: Path) -> None:
    agents = plan(fresh_fleet.url, {"healthy": 3, "healthy03": 1, "rest": 1})
    path = write_inventory(tmp_path / "ok.txt", agents, fmt="text")
    r = cli("fleet", "probe", str(path), "-o", "json", "--send", "hello fleet")
    assert r.exit_code == 0, r.stdout
    assert funnel_of(r.json) == dict.fromkeys(("listed", "reachable", "card", "negotiated", "rpc", "send"), 5)
    assert r.json["options"]["checks"] == ["card", "validate", "rpc", "send"]


def test_checks_select_the_funnel_stages(mixed: tuple[Path, list[Planned]], cli: Any) -> None:
    r = cli("fleet", "probe", str(mixed[0]), *TIMEOUT, "--checks", "card", "-o", "json")
    assert [row["stage"] for row in r.json["funnel"]] == ["listed", "reachable", "card"]
    # without validation the schema-invalid cards pass the card stage (they parse)
    assert funnel_of(r.json)["card"] == expected_funnel(mixed[1])["card"] + MIX["invalid"]


def test_stdin_inventory(fresh_fleet: FleetServer) -> None:
    agents = plan(fresh_fleet.url, {"healthy": 2, "refused": 1})
    text = "# from a pipe\n" + "".join(a.url + "\n" for a in agents) + agents[0].url + "\n"
    r = CliRunner().invoke(app, ["fleet", "probe", "-", "-o", "json"], input=text)
    assert r.exit_code == 7, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["source"] == "<stdin>" and doc["totals"]["agents"] == 3 and doc["totals"]["duplicates"] == 1
    assert funnel_of(doc)["rpc"] == 2


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        ("http://ok.example\nftp://nope\n", "line 2"),
        ('{"agents": [{"url": "http://a"}, {"name": "no url"}]}', "agents[1]"),
        ("agents:\n  - url: http://a\n    budget: never\n", "agents[0] (line 2)"),
        # two 'agents:' lists (pasted together): the first one's agents went unprobed, exit 0
        ("agents:\n  - http://a\nagents:\n  - http://b\n", "line 3: 'agents' appears twice"),
        # the same in JSON, and a second 'url' (probed another agent than the first one named)
        (
            '{"agents": ["http://a"],\n "agents": ["http://b"]}',
            "'agents' appears twice in one object (/agents)",
        ),
        ('[{"url": "http://a", "url": "http://b"}]', "'url' appears twice in one object (/0/url)"),
        ("# nothing\n", "lists no agents"),
        # values a parser builds with int()/date() that raise ValueError: exit 1 'unexpected ValueError'
        ('{"agents": [{"url": "http://a", "budget": ' + "9" * 5000 + "}]}", "not JSON: Exceeds the limit"),
        ("agents:\n  - url: http://a\n    budget: " + "9" * 5000 + "\n", "not YAML: Exceeds the limit"),
        ("agents:\n  - url: http://a\n    labels: {since: 2001-13-01}\n", "not YAML: month must be in 1..12"),
        # an integer budget too large for a float: exit 1 'unexpected OverflowError'
        ('{"agents": [{"url": "http://a", "budget": ' + "9" * 400 + "}]}", "is not a duration"),
    ],
)
def test_bad_inventory_is_exit_2(tmp_path: Path, cli: Any, content: str, expect: str) -> None:
    path = tmp_path / ("inv.yaml" if content.startswith("agents:") else "inv.txt")
    path.write_text(content)
    r = cli("fleet", "probe", str(path), "-o", "json")
    assert r.exit_code == 2
    err = r.json["error"]
    assert err["code"] == "usage" and str(path) in err["message"] and expect in err["message"]


@pytest.mark.parametrize(
    "args",
    [
        ("--shard", "4/3"),
        # over int()'s 4,300 digits: exit 1 'unexpected ValueError'
        ("--shard", "1/" + "9" * 5000),
        ("--checks", "card,ping"),
        ("--fail-under", "120%"),
        ("--budget", "soon"),
        ("-c", "0"),
    ],
)
def test_bad_options_are_exit_2(mixed: tuple[Path, list[Planned]], cli: Any, args: tuple[str, ...]) -> None:
    assert cli("fleet", "probe", str(mixed[0]), *args).exit_code == 2


@pytest.mark.parametrize("option", ["--timeout", "--max-time"])
def test_a_duration_too_large_for_a_float_is_exit_2(
    mixed: tuple[Path, list[Planned]], cli: Any, option: str
) -> None:
    """``--timeout 99…9`` (400 digits) parsed to infinity: every agent failed 'unexpected
    OverflowError: cannot convert float infinity to integer' and ``-o json`` wrote ``Infinity``, which
    is not JSON. A duration too large for a float is exit 2 before anything is probed."""
    r = cli(option, "9" * 400, "fleet", "probe", str(mixed[0]), "-o", "json")
    assert r.exit_code == 2, r.stdout
    assert r.json["error"]["code"] == "usage" and f"{option}: not a duration" in r.json["error"]["message"]


def test_missing_inventory_and_foreign_report(cli: Any, tmp_path: Path) -> None:
    assert cli("fleet", "probe", str(tmp_path / "nope.txt")).exit_code == 2
    foreign = tmp_path / "load.json"
    foreign.write_text(json.dumps({"kind": "a2actl.load.report"}))
    r = cli("fleet", "report", str(foreign), "-o", "json")
    assert r.exit_code == 2 and "not an 'a2actl fleet probe -o json' report" in r.json["error"]["message"]


@pytest.mark.parametrize(("field", "value"), [("checks", 5), ("budget", "2s")])
def test_a_report_with_edited_options_is_exit_2(
    fresh_fleet: FleetServer, cli: Any, tmp_path: Path, field: str, value: Any
) -> None:
    inv = tmp_path / "one.txt"
    inv.write_text(f"{fresh_fleet.url}/a/healthy-0\n")
    out = tmp_path / "run.json"
    assert cli("fleet", "probe", str(inv), "--checks", "card", "--out", str(out), "-o", "json").exit_code == 0
    doc = json.loads(out.read_text())
    doc["options"][field] = value
    out.write_text(json.dumps(doc))
    for fmt in ("table", "json"):
        r = cli("fleet", "report", str(out), "-o", fmt)
        assert r.exit_code == 2 and f"'options.{field}'" in r.stderr, r.stdout + r.stderr
        assert "unexpected" not in r.stderr


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("startedAt", "0001-01-01T00:00:00+14:00", "'startedAt' is not an ISO 8601 time"),
        ("startedAt", "9999-12-31T23:59:59-14:00", "'startedAt' is not an ISO 8601 time"),
        ("shard", "1/\u00b2", "'shard' '1/\u00b2' is not I/N"),
        ("shards", ["\u00b2/3"], "'shard' '\u00b2/3' is not I/N"),
        ("shard", "1/" + "9" * 5000, "'shard' '1/999"),
    ],
)
def test_a_report_edited_past_its_checks_is_exit_2(
    fresh_fleet: FleetServer, cli: Any, tmp_path: Path, field: str, value: Any, message: str
) -> None:
    """Fields that pass a first look but broke the report later, exit 1 'unexpected ValueError': a
    ``startedAt`` that parses but has no UTC form (its year would be 0 or 10000; the report shows its
    start in UTC), a shard whose digits are not ASCII (``str.isdigit('²')``, which ``int`` refuses) or
    over ``int``'s 4,300.
    They are a hand-edited report: exit 2 naming the file and the field."""
    inv = tmp_path / "one.txt"
    inv.write_text(f"{fresh_fleet.url}/a/healthy-0\n")
    out = tmp_path / "run.json"
    assert cli("fleet", "probe", str(inv), "--checks", "card", "--out", str(out), "-o", "json").exit_code == 0
    doc = json.loads(out.read_text())
    doc[field] = value
    out.write_text(json.dumps(doc))
    for fmt in ("table", "json"):
        r = cli("fleet", "report", str(out), "-o", fmt)
        assert r.exit_code == 2, r.stdout + r.stderr
        assert f"{out}: {message}" in r.stderr
    r = cli("fleet", "report", str(out), "-o", "json")
    assert r.json["error"]["exitCode"] == 2


def test_sandbox_one_healthy_agent(sandbox: RunningSandbox, cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "one.txt"
    path.write_text(sandbox.url + "\n")
    r = cli("fleet", "probe", str(path), "-o", "json", "--send", "hi")
    assert r.exit_code == 0, r.stdout
    (agent,) = r.json["agents"]
    assert agent["ok"] and agent["passed"] == ["listed", "reachable", "card", "negotiated", "rpc", "send"]
    assert agent["version"] == "1.0" and agent["binding"] == "JSONRPC"
    assert set(agent["declaredVersions"]) >= {"1.0"}
    assert set(agent["phases"]) >= {"card", "validate", "rpc", "send"}


def test_per_agent_token_and_headers_are_never_printed(
    sandbox_auth: RunningSandbox, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_AGENT_TOKEN", TOKEN)
    monkeypatch.setenv("FLEET_API_KEY", "api-key-value-never-shown")
    inv = tmp_path / "auth.yaml"
    inv.write_text(
        "agents:\n"
        f"  - url: {sandbox_auth.url}\n"
        "    name: with-token\n"
        "    tokenEnv: FLEET_AGENT_TOKEN\n"
        "    headers: {X-Api-Key: '${FLEET_API_KEY}'}\n"
        f"  - url: {sandbox_auth.url}/.well-known/agent-card.json\n"
        "    name: without-token\n"
    )
    out, junit = tmp_path / "out.json", tmp_path / "j.xml"
    r = cli("fleet", "probe", str(inv), "-o", "json", "--out", str(out), "--junit", str(junit))
    assert r.exit_code == 7
    by_name = {a["name"]: a for a in r.json["agents"]}
    assert by_name["with-token"]["ok"] and by_name["without-token"]["cause"] == "auth"
    table = cli("fleet", "probe", str(inv), "--no-progress", "-vv")
    for text in (r.stdout, r.stderr, out.read_text(), junit.read_text(), table.stdout, table.stderr):
        assert TOKEN not in text and "api-key-value-never-shown" not in text


@pytest.fixture
def catalog_server(fresh_fleet: FleetServer) -> Iterator[tuple[str, list[Planned]]]:
    """A loopback HTTP server answering /.well-known/ai-catalog.json with an AI Catalog of three fleet
    agents and one MCP server entry, and 404 elsewhere."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    agents = plan(fresh_fleet.url, {"healthy": 2, "invalid": 1})
    catalog = {
        "specVersion": "1.0",
        "host": {"displayName": "test registry"},
        "entries": [
            {
                "identifier": f"urn:air:test:a2a:{a.name}",
                "type": "application/a2a-agent-card+json",
                "url": a.url,
            }
            for a in agents
        ]
        + [
            {
                "identifier": "urn:air:test:mcp:x",
                "type": "application/mcp-server-card+json",
                "url": "http://x",
            }
        ],
    }
    body = json.dumps(catalog).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            found = self.path == "/.well-known/ai-catalog.json"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/ai-catalog+json")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", agents
    finally:
        server.shutdown()
        server.server_close()


def test_ai_catalog_by_url(catalog_server: tuple[str, list[Planned]], cli: Any) -> None:
    base, agents = catalog_server
    r = cli("fleet", "probe", f"{base}/.well-known/ai-catalog.json", "-o", "json")
    assert r.exit_code == 7, r.stdout + r.stderr
    assert [a["name"] for a in r.json["agents"]] == [f"urn:air:test:a2a:{a.name}" for a in agents]
    assert funnel_of(r.json) == expected_funnel(agents)
    assert any("not A2A agents" in n for n in r.json["notes"])
    missing = cli("fleet", "probe", f"{base}/nothing.json", "-o", "json")
    assert missing.exit_code == 2 and "HTTP 404" in missing.json["error"]["message"]


def test_max_time_keeps_the_report_of_what_was_checked(fleet: FleetServer, cli: Any, tmp_path: Path) -> None:
    agents = plan(fleet.url, {"healthy": 3, "slow": 1, "refused": 1})
    path = write_inventory(tmp_path / "inv.json", agents)
    out = tmp_path / "partial.json"
    r = cli("fleet", "probe", str(path), "--max-time", "1.5s", "--out", str(out), "-o", "json")
    assert r.exit_code == 5, r.stdout + r.stderr
    doc = r.json
    assert doc["timedOut"] and doc["exitCode"] == 5
    assert doc["totals"]["agents"] == 4 and doc["totals"]["unchecked"] == 1
    assert "slow-0" not in {a["name"] for a in doc["agents"]}
    assert any("--max-time" in n and "1 of 5 agents not checked" in n for n in doc["notes"])
    assert json.loads(out.read_text())["timedOut"] is True
    merged = cli("fleet", "report", str(out), "-o", "json")  # a merge keeps the verdict
    assert merged.exit_code == 5 and merged.json["totals"]["unchecked"] == 1


@pytest.fixture
def echo_agent() -> Iterator[str]:
    """A loopback agent with a valid 1.0 card whose JSON-RPC endpoint answers every call with an
    InternalError that echoes the request's headers (as some error pages do), and
    ``/html-catalog.json`` (an HTML login page), ``/moved.json`` (302) and ``/drip.json`` (a body sent
    a byte every 0.3 s) for the inventory-URL checks."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, ctype: str = "application/json", **extra: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path == "/.well-known/agent-card.json":
                card = {
                    "name": "echo",
                    "description": "echoes headers in errors",
                    "version": "1.0.0",
                    "supportedInterfaces": [
                        {"url": base + "/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
                    ],
                    "capabilities": {},
                    "defaultInputModes": ["text/plain"],
                    "defaultOutputModes": ["text/plain"],
                    "skills": [{"id": "e", "name": "e", "description": "e", "tags": ["t"]}],
                }
                self._send(200, json.dumps(card).encode())
            elif self.path == "/html-catalog.json":
                self._send(200, b"<html><body>Sign in</body></html>", "text/html; charset=utf-8")
            elif self.path == "/moved.json":
                self._send(302, b"", Location="/elsewhere.json")
            elif self.path == "/drip.json":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100")
                self.end_headers()
                try:
                    for _ in range(100):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.3)
                except OSError:  # the client gave up: what the test wants
                    return
            else:
                self._send(404, b"{}")

        def do_POST(self) -> None:  # noqa: N802
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            echoed = "; ".join(f"{k}={v}" for k, v in self.headers.items())
            body = {"jsonrpc": "2.0", "id": req["id"], "error": {"code": -32603, "message": echoed}}
            self._send(200, json.dumps(body).encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_header_values_an_agent_echoes_are_never_printed(
    echo_agent: str, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # header names redact.py does not know: the inventory's ${VAR} values and credential-like names
    monkeypatch.setenv("R1_FLEET_TENANT", "tenant-value-from-env-4711")
    inv = tmp_path / "echo.yaml"
    inv.write_text(
        "defaults:\n"
        "  headers: {X-Tenant-Key: '${R1_FLEET_TENANT}'}\n"
        "agents:\n"
        f"  - url: {echo_agent}\n"
        "    headers: {X-Custom-Auth: custom-auth-literal-4712, X-Trace-Tag: trace-literal-4713}\n"
    )
    out, junit = tmp_path / "out.json", tmp_path / "j.xml"
    outputs = []
    for fmt in ("json", "jsonl", "table"):
        r = cli("-v", "fleet", "probe", str(inv), "-o", fmt, "--out", str(out), "--junit", str(junit))
        assert r.exit_code == 7, r.stdout + r.stderr
        outputs += [r.stdout, r.stderr, out.read_text(), junit.read_text()]
    (agent,) = json.loads(outputs[0])["agents"]
    # the agent did echo the headers: the plain one shows, so the test would see a leak
    assert agent["cause"] == "rpc-error" and "trace-literal-4713" in agent["detail"]
    for text in outputs:
        assert "tenant-value-from-env-4711" not in text and "custom-auth-literal-4712" not in text


def test_an_unset_token_env_is_exit_2(fresh_fleet: FleetServer, cli: Any, tmp_path: Path) -> None:
    inv = tmp_path / "t.yaml"
    inv.write_text(f"agents:\n  - url: {fresh_fleet.url}/a/healthy-0\n    tokenEnv: R1_NEVER_SET_TOKEN_42\n")
    r = cli("fleet", "probe", str(inv), "-o", "json")
    assert r.exit_code == 2, r.stdout
    assert (
        "tokenEnv R1_NEVER_SET_TOKEN_42: that environment variable is not set" in r.json["error"]["message"]
    )


def test_an_empty_shard_is_a_clean_empty_report(fresh_fleet: FleetServer, tmp_path: Path) -> None:
    import subprocess
    import sys

    inv = tmp_path / "one.txt"
    inv.write_text(f"{fresh_fleet.url}/a/healthy-0\n")
    empty = next(f"{i}/2" for i in (1, 2) if cli_shard_count(inv, i) == 0)
    # its own process: a coroutine created and never awaited warns on stderr at exit
    r = subprocess.run(
        [sys.executable, "-m", "a2actl", "fleet", "probe", str(inv), "--shard", empty, "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and json.loads(r.stdout)["totals"]["agents"] == 0
    assert r.stderr == ""


def cli_shard_count(inv: Path, index: int) -> int:
    from a2actl.fleet.inventory import load_inventory

    return len(load_inventory(str(inv)).shard(index, 2).agents)


def test_out_and_junit_are_not_left_empty_when_the_run_fails(cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("ftp://nope\n")
    out, junit = tmp_path / "s1.json", tmp_path / "j.xml"
    assert cli("fleet", "probe", str(bad), "--out", str(out), "--junit", str(junit)).exit_code == 2
    assert not out.exists() and not junit.exists()  # else 'fleet report s*.json' trips on it later
    out.write_text("earlier content\n")  # a file that was there stays as it was
    assert cli("fleet", "probe", str(bad), "--out", str(out)).exit_code == 2
    assert out.read_text() == "earlier content\n"


def test_inventory_url_answering_html_a_redirect_or_a_dripping_body(echo_agent: str, cli: Any) -> None:
    html = cli("fleet", "probe", f"{echo_agent}/html-catalog.json", "-o", "json")
    assert (
        html.exit_code == 2 and "an HTML page (text/html), not an inventory" in html.json["error"]["message"]
    )
    moved = cli("fleet", "probe", f"{echo_agent}/moved.json", "-o", "json")
    assert moved.exit_code == 2 and "HTTP 302" in moved.json["error"]["message"]
    drip = cli("--timeout", "1s", "fleet", "probe", f"{echo_agent}/drip.json", "-o", "json")
    assert drip.exit_code == 5 and "within 1s (--timeout)" in drip.json["error"]["message"]


def test_ctrl_c_keeps_the_report_of_what_was_checked(tmp_path: Path) -> None:
    """A real SIGINT to a real ``python -m a2actl fleet probe`` while two agents hang: the report of
    the three checked (``-o jsonl`` summary, ``--out`` and ``--junit``), the rest counted
    ``unchecked``, exit 130."""
    import signal
    import subprocess
    import sys
    import threading

    with FleetServer(slow=120.0) as server:
        agents = plan(server.url, {"healthy": 3, "slow": 2})
        inv = write_inventory(tmp_path / "inv.json", agents)
        out, junit = tmp_path / "partial.json", tmp_path / "partial.xml"
        args = [sys.executable, "-m", "a2actl", "--timeout", "100s", "fleet", "probe", str(inv)]
        args += ["-o", "jsonl", "--out", str(out), "--junit", str(junit), "--no-progress"]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watchdog = threading.Timer(90, proc.kill)  # a hung run fails the test instead of blocking it
        watchdog.start()
        try:
            assert proc.stdout is not None and proc.stderr is not None
            lines = [proc.stdout.readline() for _ in range(3)]  # the healthy agents, as they finish
            assert all(json.loads(x)["type"] == "agent" for x in lines), lines
            proc.send_signal(signal.SIGINT)
            rest, err = finish(proc, 90)  # not communicate(): it loses what readline() buffered
        finally:
            watchdog.cancel()
    assert proc.returncode == 130, err
    records = [json.loads(x) for x in lines + rest.splitlines()]
    assert [r["type"] for r in records] == ["agent"] * 3 + ["summary"]
    summary = records[-1]
    assert summary["interrupted"] is True and summary["exitCode"] == 130 and not summary["timedOut"]
    assert summary["totals"]["agents"] == 3 and summary["totals"]["unchecked"] == 2
    assert any(n == "interrupted (Ctrl-C): 2 of 5 agents not checked" for n in summary["notes"])
    assert "a2actl: interrupted: 2 of 5 agents not checked" in err and "Traceback" not in err
    doc = json.loads(out.read_text())  # the --out report is whole and merges
    assert doc["interrupted"] is True and doc["totals"]["unchecked"] == 2
    assert sorted(a["name"] for a in doc["agents"]) == ["healthy-0", "healthy-1", "healthy-2"]
    assert all(a["ok"] for a in doc["agents"])
    suites = JUnitXml.fromfile(str(junit))
    assert sum(1 for suite in suites for _case in suite) == 3
    merged = CliRunner().invoke(app, ["fleet", "report", str(out), "-o", "json"])
    assert merged.exit_code == 130 and json.loads(merged.stdout)["totals"]["unchecked"] == 2


def test_an_interface_on_another_host_is_probed_noted_and_counted(
    fresh_fleet: FleetServer, cli: Any, tmp_path: Path
) -> None:
    """A card whose interface URL names another host than the card's (here localhost for a card
    served by 127.0.0.1) is checked as usual (not refused) and noted: per agent, counted in the
    report, on the table."""
    agents = plan(fresh_fleet.url, {"healthy": 2, "elsewhere": 2})
    path = write_inventory(tmp_path / "cross.json", agents)
    r = cli("fleet", "probe", str(path), "-o", "json")
    table = cli("fleet", "probe", str(path), "--no-progress")
    assert r.exit_code == 0 and table.exit_code == 0, r.stdout
    notes = {a["name"]: a["notes"] for a in r.json["agents"]}
    want = ["interface host localhost differs from the card's host 127.0.0.1"]
    assert notes == {"healthy-0": [], "healthy-1": [], "elsewhere-0": want, "elsewhere-1": want}
    cross = r.json["crossHost"]
    assert cross["agents"] == 2 and [e["name"] for e in cross["examples"]] == ["elsewhere-0", "elsewhere-1"]
    assert all(urlsplit(e["interfaceUrl"]).hostname == "localhost" for e in cross["examples"])
    line = next(x for x in table.stdout.splitlines() if x.startswith("cross-host"))
    assert "2 agents with an interface URL on another host than the card" in line


def test_a_merge_of_shards_counts_each_duplicate_once(
    fresh_fleet: FleetServer, cli: Any, tmp_path: Path
) -> None:
    """Every shard reported every duplicate of the whole inventory, so a merge of N shards said N
    times as many duplicates as the unsharded run."""
    agents = plan(fresh_fleet.url, {"healthy": 6})
    urls = [a.url for a in agents]
    inv = tmp_path / "agents.txt"
    inv.write_text("".join(u + "\n" for u in [*urls, urls[0], urls[1] + "/", urls[1], urls[4]]))
    whole = cli("fleet", "probe", str(inv), "--checks", "card", "-o", "json")
    assert whole.exit_code == 0 and whole.json["totals"]["duplicates"] == 4
    files, per_shard = [], []
    for i in (1, 2, 3):
        out = tmp_path / f"s{i}.json"
        r = cli(
            "fleet",
            "probe",
            str(inv),
            "--checks",
            "card",
            "--shard",
            f"{i}/3",
            "--out",
            str(out),
            "-o",
            "json",
        )
        assert r.exit_code == 0
        mine = {a["url"] for a in r.json["agents"]}
        want = sum(1 for u in (urls[0], urls[1], urls[1], urls[4]) if u in mine)
        per_shard.append((r.json["totals"]["duplicates"], want))
        files.append(str(out))
    assert [got for got, _ in per_shard] == [want for _, want in per_shard]
    merged = cli("fleet", "report", *files, "-o", "json")
    assert merged.exit_code == 0 and merged.json["totals"]["duplicates"] == 4


def test_a_token_env_holding_its_bearer_word_is_sent_once(
    sandbox_auth: RunningSandbox, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as --token-env: the word is dropped with a note, not sent as 'Bearer Bearer …' (an auth failure)
    monkeypatch.setenv("FLEET_SCHEMED_TOKEN", f"Bearer {TOKEN}")
    inv = tmp_path / "auth.yaml"
    inv.write_text(f"agents:\n  - url: {sandbox_auth.url}\n    tokenEnv: FLEET_SCHEMED_TOKEN\n")
    r = cli("fleet", "probe", str(inv), "-o", "json")
    assert r.exit_code == 0, r.stdout
    (agent,) = r.json["agents"]
    assert agent["ok"] and agent["cause"] is None
    assert any("tokenEnv FLEET_SCHEMED_TOKEN starts with 'Bearer '" in n for n in r.json["notes"])
    assert TOKEN not in r.stdout + r.stderr


@pytest.mark.parametrize(
    ("entry", "names"),
    [
        ({"headers": {"Content-Length": "5"}}, "headers.Content-Length"),
        ({"headers": {"Host": "other.example"}}, "headers.Host"),
        ({"headers": {"X-Api-Key": "${FLEET_KEY_WITH_A_BREAK}"}}, "headers.X-Api-Key"),
        ({"tokenEnv": "FLEET_TOKEN_WITH_A_BREAK"}, "tokenEnv FLEET_TOKEN_WITH_A_BREAK"),
        ({"tokenEnv": "FLEET_TOKEN_NOT_ASCII"}, "tokenEnv FLEET_TOKEN_NOT_ASCII"),
    ],
)
def test_inventory_headers_and_tokens_follow_the_command_line_rules(
    fresh_fleet: FleetServer,
    cli: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    entry: dict[str, Any],
    names: str,
) -> None:
    # exit 2 before any request, naming the file, the entry and the header or variable, never a value
    # (it was a probe that failed as http-4xx or protocol, or a token sent as it was)
    monkeypatch.setenv("FLEET_KEY_WITH_A_BREAK", "s3cret-key\r\nX-Injected: yes")
    monkeypatch.setenv("FLEET_TOKEN_WITH_A_BREAK", "s3cret-token\nmore")
    monkeypatch.setenv("FLEET_TOKEN_NOT_ASCII", "s3cr\u00e9t-token")
    inv = tmp_path / "fleet.json"
    inv.write_text(
        json.dumps({"agents": [f"{fresh_fleet.url}/a/healthy-0", {"url": fresh_fleet.url, **entry}]})
    )
    r = cli("fleet", "probe", str(inv), "-o", "json")
    assert r.exit_code == 2, r.stdout
    message = r.json["error"]["message"]
    assert message.startswith(f"inventory {inv}: agents[1]") and names in message
    assert "s3cr" not in r.stdout + r.stderr
    assert fresh_fleet.stats()["requests"] == 0  # refused before any request


@pytest.fixture
def hop_agent() -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    """A card at ``http://127.0.0.1:P`` that redirects (302) to the same server as
    ``http://localhost:P`` (another origin); every request's Host and headers are recorded."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            host = self.headers.get("Host", "")
            seen.append((host, {k.lower(): v for k, v in self.headers.items()}))
            port = self.server.server_address[1]
            if host.startswith("127.0.0.1"):
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{port}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b'{"name": "hop"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_to_another_origin_drops_the_inventory_secret_headers(
    hop_agent: tuple[str, list[tuple[str, dict[str, str]]]],
    cli: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # -L: the headers the inventory treats as secrets (a ${VAR} value, a credential-like name the
    # redactor does not know) go only to the origin they were given for, as -H X-API-Key does; they
    # reached the other origin
    url, seen = hop_agent
    monkeypatch.setenv("FLEET_HOP_TENANT", "tenant-from-env-5150")
    inv = tmp_path / "hop.yaml"
    inv.write_text(
        "agents:\n"
        f"  - url: {url}\n"
        "    headers: {X-Tenant-Key: '${FLEET_HOP_TENANT}', X-Signature: sig-literal-5151, X-Plain: p}\n"
    )
    r = cli("-L", "fleet", "probe", str(inv), "--checks", "card", "-o", "json")
    assert r.exit_code == 0, r.stdout + r.stderr
    first, *hops = seen
    assert first[0].startswith("127.0.0.1") and hops and all(h.startswith("localhost") for h, _ in hops)
    assert (
        first[1]["x-tenant-key"] == "tenant-from-env-5150" and first[1]["x-signature"] == "sig-literal-5151"
    )
    for _, headers in hops:
        assert "x-tenant-key" not in headers and "x-signature" not in headers
        assert headers["x-plain"] == "p"  # not a secret: it follows


@pytest.fixture
def garbling_agent() -> Iterator[str]:
    """A 1.0 agent whose card declares a version holding a lone surrogate (the JSON escape
    ``\\ud800``: text with no UTF-8 form) and whose every RPC answers an error whose message holds
    one, a terminal escape and a NUL."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def _send(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            card = {
                "name": "garbling",
                "description": "answers errors no encoder can write",
                "version": "1.0.0",
                "supportedInterfaces": [
                    {"url": base + "/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
                    {"url": base + "/rpc2", "protocolBinding": "JSONRPC", "protocolVersion": "SURROGATE"},
                ],
                "capabilities": {},
                "defaultInputModes": ["text/plain"],
                "defaultOutputModes": ["text/plain"],
                "skills": [{"id": "g", "name": "g", "description": "g", "tags": ["t"]}],
            }
            self._send(json.dumps(card).replace("SURROGATE", "1.\\ud800").encode())

        def do_POST(self) -> None:  # noqa: N802
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            message = '"bad \\ud800 \\u001b[2J \\u0000 answer"'
            self._send(
                f'{{"jsonrpc": "2.0", "id": {json.dumps(req["id"])}, '
                f'"error": {{"code": -32603, "message": {message}}}}}'.encode()
            )

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_an_agent_text_with_no_utf8_form_does_not_lose_the_report(
    garbling_agent: str, sandbox: RunningSandbox, cli: Any, tmp_path: Path
) -> None:
    # one such agent made every output fail with UnicodeEncodeError (exit 1): the sweep's report,
    # --out and --junit were lost; and a control character made the JUnit file not XML
    import xml.etree.ElementTree as ET

    inv = tmp_path / "agents.txt"
    inv.write_text(f"{sandbox.url}\n{garbling_agent}\n")
    out, junit = tmp_path / "out.json", tmp_path / "fleet.xml"
    for fmt in ("json", "jsonl", "table"):
        r = cli("fleet", "probe", str(inv), "-o", fmt, "--out", str(out), "--junit", str(junit))
        assert r.exit_code == 7, r.stdout + r.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    by_url = {a["url"]: a for a in doc["agents"]}
    assert by_url[sandbox.url]["ok"]
    bad = by_url[garbling_agent]
    assert bad["cause"] == "rpc-error" and "bad \\ud800" in bad["detail"]
    assert "1.\\ud800" in bad["declaredVersions"]
    cases = ET.parse(junit).getroot().iter("testcase")  # XML a CI system reads
    (failure,) = [c.find("failure") for c in cases if c.find("failure") is not None]
    assert "\\x1b[2J" in failure.get("message", "") and "\\x00" in failure.get("message", "")


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE is Unix")
def test_concurrency_fits_the_open_file_limit(tmp_path: Path) -> None:
    # -c past `ulimit -n`: every connect over the limit failed with EMFILE and the agent was called
    # "refused" (a healthy fleet half refused). The soft limit is raised as far as the hard one lets
    # it, and -c lowered to what fits, with a note
    import resource
    import socket
    import subprocess
    import threading

    listener = socket.create_server(("127.0.0.1", 0), backlog=512)
    held: list[socket.socket] = []

    def accept() -> None:  # answers nothing: every agent holds its connection until --timeout
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    port = listener.getsockname()[1]
    inv = tmp_path / "agents.txt"
    inv.write_text("".join(f"http://127.0.0.1:{port}/agent/{i}\n" for i in range(250)))

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    try:
        proc = subprocess.run(
            [sys.executable, "-m", "a2actl", "fleet", "probe", str(inv), "-c", "250", "--timeout", "0.5s"]
            + ["--retries", "0", "--no-progress", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=low_limit,  # noqa: PLW1509 - sets a limit only, in the child
        )
    finally:
        listener.close()
        for s in held:
            s.close()
    assert proc.returncode == 7, proc.stderr
    doc = json.loads(proc.stdout)
    assert {a["cause"] for a in doc["agents"]} == {"timeout"}  # none "refused": Too many open files
    lowered = doc["options"]["concurrency"]
    assert 1 <= lowered < 250
    assert f"-c 250 lowered to {lowered}: the open-file limit (ulimit -n) is 128" in doc["notes"]


def test_out_and_junit_never_overwrite_an_input(fresh_fleet: FleetServer, cli: Any, tmp_path: Path) -> None:
    # the report was written over the inventory, or a merged report over one of its shards
    inv = write_inventory(tmp_path / "agents.txt", plan(fresh_fleet.url, {"healthy": 2}), fmt="text")
    before = inv.read_text()
    r = cli("fleet", "probe", str(inv), "--out", str(inv), "-o", "json")
    assert r.exit_code == 2 and r.json["error"]["message"].startswith(f"--out {inv} is an input")
    r = cli("fleet", "probe", str(inv), "--junit", str(tmp_path / "." / "agents.txt"), "-o", "json")
    assert r.exit_code == 2 and "is an input" in r.json["error"]["message"]
    assert inv.read_text() == before
    same = tmp_path / "both.json"
    r = cli("fleet", "probe", str(inv), "--out", str(same), "--junit", str(same), "-o", "json")
    assert r.exit_code == 2 and "name the same file" in r.json["error"]["message"]
    shard = tmp_path / "s1.json"
    assert cli("fleet", "probe", str(inv), "--out", str(shard), "-o", "json").exit_code == 0
    shard_text = shard.read_text()
    r = cli("fleet", "report", str(shard), "--out", str(shard), "-o", "json")
    assert r.exit_code == 2 and "is an input" in r.json["error"]["message"]
    assert shard.read_text() == shard_text


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("source", ["fifo", "stdin"])
def test_an_inventory_that_never_ends_is_bounded_by_max_time_and_sigterm(tmp_path: Path, source: str) -> None:
    # a named pipe nobody writes, or standard input that stays open (`tail -f … | a2actl fleet probe -`):
    # the read blocked the event loop, so neither --max-time nor SIGTERM ended the command
    import signal
    import subprocess

    fifo = tmp_path / "agents.fifo"
    os.mkfifo(fifo)
    target = str(fifo) if source == "fifo" else "-"
    for stop in ("max-time", "sigterm"):
        extra = ["--max-time", "1s"] if stop == "max-time" else []
        read_end, write_end = os.pipe()  # the write end stays open: standard input never ends
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "a2actl", *extra, "fleet", "probe", target, "-o", "json"],
                stdin=read_end,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                if stop == "sigterm":
                    time.sleep(1.5)
                    proc.send_signal(signal.SIGTERM)
                out, err = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise AssertionError(f"{source}: not ended by {stop}") from None
        finally:
            os.close(read_end)
            os.close(write_end)
        expected = 5 if stop == "max-time" else 130
        assert proc.returncode == expected, (stop, err)
        if stop == "max-time":
            assert json.loads(out)["error"]["code"] == "timeout"


def _credential_card_agents(base_live: str, base_dead: str, pw: str, token: str) -> Any:
    """An app serving two cards whose interface URL carries userinfo and a ``token`` query value:
    ``/live`` names the sandbox's JSON-RPC interface, ``/dead`` a port nothing listens on."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.servers import v1_card

    def card_of(base: str) -> Any:
        async def card(request: Any) -> JSONResponse:
            doc = v1_card(base, "/a2a/jsonrpc")
            doc["skills"][0]["tags"] = ["echo"]  # valid against the 1.0 schema
            url = doc["supportedInterfaces"][0]["url"]
            doc["supportedInterfaces"][0]["url"] = (
                url.replace("http://", f"http://agent:{pw}@") + f"?token={token}"
            )
            return JSONResponse(doc)

        return card

    def app(_: str) -> Starlette:
        return Starlette(
            routes=[
                Route("/live/.well-known/agent-card.json", card_of(base_live)),
                Route("/dead/.well-known/agent-card.json", card_of(base_dead)),
            ]
        )

    return app


def test_the_card_interfaces_userinfo_and_token_are_never_printed(
    sandbox: RunningSandbox, refused_url: str, cli: Any, tmp_path: Path
) -> None:
    """A card may name its interface with credentials in the URL (``http://user:pw@host/rpc?token=``);
    fleet probe printed them in each record's ``interfaceUrl``, in the error naming that URL (table,
    ``-o json``, ``--out``, ``--junit``) and in the ``-v`` request lines."""
    from tests.servers import LoopbackServer

    pw, token = "fleet-iface-pw", "fleet-iface-token"
    with LoopbackServer(_credential_card_agents(sandbox.url, refused_url, pw, token)) as cards:
        inv = tmp_path / "inv.txt"
        inv.write_text(f"{cards.url}/live\n{cards.url}/dead\n")
        out, junit = tmp_path / "out.json", tmp_path / "j.xml"
        r = cli("fleet", "probe", str(inv), "-o", "json", "--out", str(out), "--junit", str(junit))
        table = cli("fleet", "probe", str(inv), "--no-progress", "-v")
    assert r.exit_code == 7 and table.exit_code == 7, r.stdout
    live, dead = r.json["agents"]
    assert live["ok"], live["detail"]
    assert (
        live["interfaceUrl"] == f"{sandbox.url.replace('http://', 'http://agent:***@')}/a2a/jsonrpc?token=***"
    )
    masked = f"{refused_url.replace('http://', 'http://agent:***@')}/a2a/jsonrpc?token=***"
    assert dead["cause"] == "refused" and dead["interfaceUrl"] == masked
    assert dead["detail"] == f"connection to {masked} refused"
    assert f"> POST {masked}" in table.stderr  # -v names the interface, masked
    for text in (r.stdout, r.stderr, out.read_text(), junit.read_text(), table.stdout, table.stderr):
        assert pw not in text and token not in text


def test_a_report_with_credentials_in_its_urls_is_shown_masked(
    sandbox: RunningSandbox, refused_url: str, cli: Any, tmp_path: Path
) -> None:
    """``fleet report`` of a report that carries an interface URL's credentials in clear (written by an
    a2actl that did not mask them, or by hand): they were printed again (table, ``-o json``,
    ``--out``, ``--junit``); they are masked as when probing."""
    from tests.servers import LoopbackServer

    with LoopbackServer(
        _credential_card_agents(sandbox.url, refused_url, "fleet-pw-0", "fleet-tk-0")
    ) as cards:
        inv = tmp_path / "inv.txt"
        inv.write_text(f"{cards.url}/live\n{cards.url}/dead\n")
        probe = cli("fleet", "probe", str(inv), "-o", "json")
    assert probe.exit_code == 7
    pw, token = "report-iface-pw", "report-iface-token"
    old = tmp_path / "old.json"
    old.write_text(probe.stdout.replace("agent:***@", f"agent:{pw}@").replace("token=***", f"token={token}"))
    assert pw in old.read_text() and token in old.read_text()
    out, junit = tmp_path / "merged.json", tmp_path / "j.xml"
    r = cli("fleet", "report", str(old), "-o", "json", "--out", str(out), "--junit", str(junit))
    table = cli("fleet", "report", str(old))
    assert r.exit_code == 7 and table.exit_code == 7, r.stdout
    masked = f"{refused_url.replace('http://', 'http://agent:***@')}/a2a/jsonrpc?token=***"
    dead = r.json["agents"][1]
    assert dead["interfaceUrl"] == masked and dead["detail"] == f"connection to {masked} refused"
    for text in (r.stdout, r.stderr, out.read_text(), junit.read_text(), table.stdout, table.stderr):
        assert pw not in text and token not in text


@pytest.fixture
def shard(sandbox: RunningSandbox, cli: Any, tmp_path: Path) -> Path:
    """A 'fleet probe --out' report of one healthy agent."""
    inv, saved = tmp_path / "one.txt", tmp_path / "shard.json"
    inv.write_text(sandbox.url + "\n")
    assert cli("fleet", "probe", str(inv), "--out", str(saved), "--no-progress").exit_code == 0
    return saved


def test_report_max_time_bounds_a_report_that_never_arrives(tmp_path: Path) -> None:
    """fleet report FIFO (or <(cmd)) nobody writes: --max-time ends the wait, exit 5 with its
    one-line error. The blocking read held the command past --max-time."""
    fifo = tmp_path / "shard.fifo"
    os.mkfifo(fifo)
    r, elapsed = _a2actl("--max-time", "1.5s", "-o", "json", "fleet", "report", str(fifo))
    assert r.returncode == 5, (r.stdout[-500:], r.stderr[-500:])
    assert json.loads(r.stdout)["error"]["message"].startswith("gave up after --max-time 1.5s")
    assert elapsed < 10, elapsed


def test_an_out_file_that_fails_only_at_the_end_keeps_the_report(
    sandbox: RunningSandbox, shard: Path, cli: Any, tmp_path: Path
) -> None:
    """--out/--junit on a disk that filled (/dev/full: the pre-check passes, the write fails): the
    report is still shown, with outError/junitError and exitCode 2, one line on stderr each, exit 2,
    as load run. It was exit 2 with the error alone: the report of the whole run was lost."""
    inv = tmp_path / "one.txt"
    inv.write_text(sandbox.url + "\n")
    r = cli("-o", "json", "fleet", "probe", str(inv), "--out", "/dev/full", "--no-progress")
    assert r.exit_code == 2, r.stderr
    assert r.json["totals"]["ok"] == 1 and len(r.json["agents"]) == 1
    assert r.json["exitCode"] == 2 and r.json["outError"].startswith("--out /dev/full: cannot write")
    assert "--out /dev/full: cannot write" in r.stderr
    merged = cli("-o", "jsonl", "fleet", "report", str(shard), "--junit", "/dev/full")
    assert merged.exit_code == 2, merged.stderr
    summary = [json.loads(line) for line in merged.stdout.splitlines()][-1]
    assert summary["type"] == "summary" and summary["totals"]["ok"] == 1 and summary["exitCode"] == 2
    assert summary["junitError"].startswith("--junit /dev/full: cannot write") and "junit" not in summary
    table = cli("fleet", "report", str(shard), "--out", "/dev/full")
    assert table.exit_code == 2 and "1 of 1 agent ok" in table.stdout


@pytest.mark.parametrize("option", ["--out", "--junit"])
def test_an_out_fifo_nobody_reads_is_bounded_and_keeps_the_report(
    shard: Path, tmp_path: Path, option: str
) -> None:
    """--out/--junit naming a FIFO with no reader: the pre-check's open blocked for ever, before
    any deadline; now the report waits for a reader for what is left of --max-time (at least 2 s),
    then is shown with outError/junitError, exit 2."""
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    r, elapsed = _a2actl("--max-time", "1s", "-o", "json", "fleet", "report", str(shard), option, str(fifo))
    assert r.returncode == 2, (r.stdout[-500:], r.stderr[-500:])
    doc = json.loads(r.stdout)
    key = "outError" if option == "--out" else "junitError"
    assert doc["totals"]["ok"] == 1 and doc["exitCode"] == 2
    assert doc[key] == f"{option} {fifo}: not written: nothing read it within 2s (a FIFO with no reader?)"
    assert elapsed < 10, elapsed


def test_an_out_fifo_read_by_another_process_gets_the_report(shard: Path, tmp_path: Path) -> None:
    """--out FIFO that a reader (cat) already waits on: it gets the whole report. The pre-check
    opened and closed the FIFO, which handed the reader its end of file; the report then found no
    reader and the command hung."""
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    try:
        r, _ = _a2actl("--max-time", "5s", "fleet", "report", str(shard), "--out", str(fifo), timeout=20)
        got, _ = reader.communicate(timeout=10)
    finally:
        reader.kill()
        reader.wait()
    assert r.returncode == 0, r.stderr
    doc = json.loads(got)
    assert doc["kind"] == "a2actl.fleet.report" and doc["totals"]["ok"] == 1 and len(doc["agents"]) == 1


def test_sigterm_while_an_out_fifo_waits_for_a_reader_is_exit_130_with_the_report(
    shard: Path, tmp_path: Path
) -> None:
    """One SIGTERM (a CI job's timeout) while --out waits for a FIFO's reader: the report is still
    shown, marked with outError, and the exit is 130 as for any interrupt (it was 2, a usage error)."""
    from tests.fifo import run_a2actl

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    ran = run_a2actl(
        "--max-time", "30s", "-o", "json", "fleet", "report", str(shard), "--out", str(fifo), term_after=1.5
    )
    assert ran.code == 130, (ran.code, ran.out[-500:], ran.err[-500:])
    doc = json.loads(ran.out)
    assert doc["totals"]["ok"] == 1 and doc["exitCode"] == 130
    assert doc["outError"] == f"--out {fifo}: not written: interrupted while waiting for a reader"


def test_a_report_without_end_is_refused_at_256_mib() -> None:
    """``fleet report <(yes)`` (or ``/dev/zero``) was read whole into memory until the machine ran
    out (here: 1 GiB of address space, exit 1 "unexpected MemoryError"). At most 256 MiB + 1 byte is
    read, then exit 2 naming the file and the limit."""
    from tests.procs import a2actl_in_memory

    r = a2actl_in_memory("-o", "json", "fleet", "report", "/dev/zero")
    assert r.returncode == 2, r.stderr[-500:]
    assert json.loads(r.stdout)["error"]["message"] == "/dev/zero: over the 256 MiB limit (268,435,456 bytes)"


def test_an_inventory_on_a_closed_stdin_is_a_usage_error() -> None:
    """`a2actl fleet probe - <&-`: Python's sys.stdin is None; reading it was exit 1 "unexpected
    AttributeError: 'NoneType' object has no attribute 'buffer'". Exit 2, saying stdin is closed."""
    from tests.procs import a2actl_stdin_closed

    r = a2actl_stdin_closed("-o", "json", "fleet", "probe", "-")
    assert r.returncode == 2, (r.stdout, r.stderr)
    error = json.loads(r.stdout)["error"]
    assert error["code"] == "usage"
    assert error["message"] == "cannot read inventory <stdin>: standard input is closed"


def test_a_card_over_the_limit_is_reachable_then_invalid_card(cli: Any, fault: str, tmp_path: Path) -> None:
    """docs/fleet.md: reachable is a connection and an HTTP answer, any status. A card answered 200
    with a body over 10 MiB (read no further) was counted unreachable: the funnel lost an agent that
    answered, and the cause pointed at the network. It is reachable, and fails at card valid with
    invalid-card, the class the exporter (tests/unit/exporter/test_probe.py) gives the same card; it
    was protocol here."""
    inv = tmp_path / "agents.txt"
    inv.write_text(f"{fault}/big/agent-card.json\n")
    r = cli("fleet", "probe", str(inv), "-o", "json", "--no-progress", "--retries", "0")
    assert r.exit_code == 7, r.stdout + r.stderr
    doc = r.json
    (agent,) = doc["agents"]
    assert agent["passed"] == ["listed", "reachable"]
    assert agent["cause"] == "invalid-card" and "stopped reading" in agent["detail"]
    assert funnel_of(doc)["reachable"] == 1 and funnel_of(doc)["card"] == 0
    assert [(c["cause"], c["stage"]) for c in doc["causes"]] == [("invalid-card", "card")]


def test_a_redirect_to_a_host_that_cannot_exist_is_reachable_then_protocol(
    fault: str, cli: Any, tmp_path: Path
) -> None:
    # -L and a Location whose host no request can reach (a..b): aiohttp met it building the next
    # hop as a bare UnicodeError, read as "invalid URL '<the inventory's URL>'": only 'listed'
    from urllib.parse import quote

    url = f"{fault}/redirectto/agent-card.json?to={quote('http://a..b/agent-card.json', safe='')}"
    inv = tmp_path / "inv.txt"
    inv.write_text(url + "\n")
    r = cli("-L", "fleet", "probe", str(inv), "-o", "json")
    assert r.exit_code == 7, r.stdout + r.stderr
    (agent,) = r.json["agents"]
    assert agent["passed"] == ["listed", "reachable"] and agent["cause"] == "protocol"
    assert agent["detail"] == (
        f"{url} redirected to http://a..b/agent-card.json, which a2actl cannot follow: "
        "the host 'a..b' has characters a host name cannot have"
    )
