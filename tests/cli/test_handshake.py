"""``a2actl handshake probe`` against real a2a-sdk agents: negotiation, phases, budgets, failures."""

from __future__ import annotations

from typing import Any

import pytest

PHASES_BASE = {"dns", "connect", "tls", "ttfb", "transfer", "parse", "negotiate", "rpc"}


def test_probe_v1_only_agent_negotiates_1_0(cli, sandbox_v1):
    r = cli("handshake", "probe", sandbox_v1.url, "-o", "json")
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["card"]["shape"] == "1.0"
    assert doc["card"]["declaredVersions"] == ["1.0"]
    assert doc["negotiation"]["protocolVersion"] == "1.0"
    assert doc["negotiation"]["protocolBinding"] == "JSONRPC"
    s = doc["samples"][0]
    assert s["ok"] is True
    assert PHASES_BASE <= set(s["phases"])
    assert all(isinstance(v, float) and v >= 0 for v in s["phases"].values())
    assert s["rpc"]["method"] == "GetTask"
    assert s["rpc"]["error"]["code"] == -32001 and s["rpc"]["healthy"] is True
    assert set(s["curl"]) >= {
        "time_namelookup",
        "time_connect",
        "time_appconnect",
        "time_starttransfer",
        "time_total",
    }
    assert s["curl"]["time_connect"] <= s["curl"]["time_starttransfer"] <= s["curl"]["time_total"]
    assert len(doc["traceId"]) == 32


def test_probe_v03_compat_agent_negotiates_0_3(cli, sandbox_v03):
    doc = cli("handshake", "probe", sandbox_v03.url, "-o", "json").json
    assert doc["exitCode"] == 0
    assert doc["card"]["declaredVersions"] == ["0.3"]
    assert doc["negotiation"]["protocolVersion"] == "0.3"
    assert doc["samples"][0]["rpc"]["method"] == "tasks/get"
    assert doc["samples"][0]["rpc"]["error"]["code"] == -32001


def test_probe_hybrid_agent_prefers_1_0_and_honours_a2a_version(cli, sandbox):
    doc = cli("handshake", "probe", sandbox.url, "-o", "json").json
    assert doc["card"]["shape"] == "hybrid"
    assert doc["negotiation"]["protocolVersion"] == "1.0"
    doc03 = cli("handshake", "probe", sandbox.url, "--a2a-version", "0.3", "-o", "json").json
    assert doc03["negotiation"]["protocolVersion"] == "0.3"
    assert doc03["samples"][0]["ok"] is True
    assert doc03["samples"][0]["rpc"]["method"] == "tasks/get"


@pytest.mark.parametrize(
    ("version", "method"), [("1.0", "POST /message:stream"), ("0.3", "POST /v1/message:stream")]
)
def test_probe_http_json_binding_with_streaming_send(cli, sandbox, version, method):
    doc = cli(
        "handshake",
        "probe",
        sandbox.url,
        "--binding",
        "HTTP+JSON",
        "--a2a-version",
        version,
        "--send",
        "hello",
        "-o",
        "json",
    ).json
    s = doc["samples"][0]
    assert s["ok"] is True, s["error"]
    assert doc["negotiation"]["protocolBinding"] == "HTTP+JSON"
    assert s["send"] == {
        "method": method,
        "streaming": True,
        "events": 5,
        "finalState": "completed",
        "statusMessage": None,
    }
    assert s["phases"]["first_event"] > 0 and s["phases"]["terminal"] > 0


def test_probe_legacy_agent_json_card(cli, sandbox_legacy):
    doc = cli("handshake", "probe", sandbox_legacy.url, "-o", "json").json
    assert doc["exitCode"] == 0
    assert doc["cardUrl"].endswith("/.well-known/agent.json")
    assert doc["card"]["shape"] == "0.2"
    assert any("legacy path" in n for n in doc["discovery"]["notes"])
    assert doc["samples"][0]["rpc"]["method"] == "tasks/get"


def test_probe_many_samples_percentiles_and_jsonl(cli, sandbox):
    r = cli("handshake", "probe", sandbox.url, "-n", "6", "-c", "3", "--warmup", "1", "-o", "jsonl")
    assert r.exit_code == 0
    lines = r.jsonl
    assert [x["type"] for x in lines] == ["sample"] * 6 + ["summary"]
    summary = lines[-1]
    st = summary["stats"]["total"]
    assert st["count"] == 6
    assert st["min"] <= st["p50"] <= st["p90"] <= st["p99"] <= st["max"]
    assert sum(b["count"] for b in summary["histogram"]) == 6


def test_probe_reuse_skips_connect_after_first(cli, sandbox):
    doc = cli("handshake", "probe", sandbox.url, "-n", "3", "--reuse", "-o", "json").json
    assert [s["curl"]["newConnection"] for s in doc["samples"]] == [False, False, False]
    fresh = cli("handshake", "probe", sandbox.url, "-n", "2", "-o", "json").json
    assert [s["curl"]["newConnection"] for s in fresh["samples"]] == [True, True]


def test_budget_exceeded_exits_7_and_names_the_phase(cli, sandbox_slow):
    r = cli("handshake", "probe", sandbox_slow.url, "-n", "2", "--budget", "200ms", "-o", "json")
    assert r.exit_code == 7
    v = r.json["budget"]["violations"]
    assert len(v) == 1 and v[0]["metric"] == "total" and v[0]["culprit"] == "ttfb"
    assert v[0]["p99"] > 0.3
    ok = cli("handshake", "probe", sandbox_slow.url, "--budget", "rpc=2s", "-o", "json")
    assert ok.exit_code == 0 and ok.json["budget"]["ok"] is True


def test_budget_per_phase_table_output(cli, sandbox_slow):
    r = cli("handshake", "probe", sandbox_slow.url, "--budget", "ttfb=100ms")
    assert r.exit_code == 7
    assert "budget      FAIL card TTFB p99" in r.stdout


def test_version_header_dropped_is_explained(cli, sandbox_strip):
    r = cli("handshake", "probe", sandbox_strip.url, "-o", "json")
    assert r.exit_code == 1
    doc = r.json
    err = doc["samples"][0]["error"]
    assert err["a2aCode"] == -32009
    assert "A2A-Version" in err["hint"] and "--a2a-version 0.3" in err["hint"]
    assert doc["versionCheck"]["retriedAs"] == "0.3" and doc["versionCheck"]["retryOk"] is True
    assert cli("handshake", "probe", sandbox_strip.url, "--a2a-version", "0.3", "-o", "json").exit_code == 0


def test_session_handshake_token_never_printed(cli, sandbox):
    r = cli("handshake", "probe", sandbox.url, "--handshake-path", "/a2a/handshake", "-vv", "-o", "json")
    assert r.exit_code == 0
    s = r.json["samples"][0]
    assert s["session"]["tokenIssued"] is True
    assert s["session"]["response"]["sessionToken"] == "***"
    assert "phases" in s and s["phases"]["session"] > 0
    # -vv prints response bodies: the token must be masked there too
    assert '"sessionToken": "***"' in r.stderr or '"sessionToken":"***"' in r.stderr


def test_auth_401_exits_4_and_token_from_env_works_redacted(cli, sandbox_auth):
    from tests.conftest import TOKEN

    r = cli("handshake", "probe", sandbox_auth.url, "-o", "json")
    assert r.exit_code == 4
    assert r.json["failures"] == {"auth": 1}
    ok = cli("handshake", "probe", sandbox_auth.url, "-vv", "-o", "json", env={"A2ACTL_TOKEN": TOKEN})
    assert ok.exit_code == 0, ok.stderr
    assert TOKEN not in ok.stdout and TOKEN not in ok.stderr
    assert "authorization: Bearer ***" in ok.stderr.lower().replace("bearer", "Bearer")


def test_token_env_and_file_options(cli, sandbox_auth, tmp_path, monkeypatch):
    from tests.conftest import TOKEN

    monkeypatch.setenv("MY_AGENT_TOKEN", TOKEN)
    assert cli("handshake", "probe", sandbox_auth.url, "--token-env", "MY_AGENT_TOKEN").exit_code == 0
    f = tmp_path / "tok"
    f.write_text(TOKEN + "\n")
    assert cli("handshake", "probe", sandbox_auth.url, "--token-file", str(f)).exit_code == 0
    r = cli("handshake", "probe", sandbox_auth.url, "--token-env", "NOT_SET_ANYWHERE")
    assert r.exit_code == 2


@pytest.mark.parametrize(
    ("where", "content", "named"),
    [
        ("file", b"tok-part-one\ntok-part-two\n", "--token-file"),  # two lines: a paste gone wrong
        ("file", b"\xff\xfetok-utf16\n", "--token-file"),  # not UTF-8
        ("env", "tök-secret-value", "A2ACTL_TOKEN"),  # non-ASCII
        ("token-env", "tok-secret\tvalue\x01", "--token-env MY_AGENT_TOKEN"),  # a control character
    ],
)
def test_a_token_that_cannot_be_sent_is_a_usage_error(cli, sandbox, tmp_path, where, content, named):
    """A token no header can carry is bad local input (exit 2 naming where it came from, never its
    value); it was exit 1 with 'unexpected UnicodeEncodeError' or httpx's 'Illegal header value'."""
    if where == "file":
        f = tmp_path / "tok"
        f.write_bytes(content)
        r = cli("handshake", "probe", sandbox.url, "--token-file", str(f), "-o", "json")
    elif where == "env":
        r = cli("handshake", "probe", sandbox.url, "-o", "json", env={"A2ACTL_TOKEN": content})
    else:
        r = cli(
            "handshake",
            "probe",
            sandbox.url,
            "--token-env",
            "MY_AGENT_TOKEN",
            "-o",
            "json",
            env={"MY_AGENT_TOKEN": content},
        )
    assert r.exit_code == 2, r.stdout
    err = r.json["error"]
    assert err["code"] == "usage" and err["message"].startswith(named)
    assert "tok-" not in r.stdout + r.stderr and "secret" not in r.stdout + r.stderr


def test_single_run_waterfall_table(cli, sandbox):
    r = cli("handshake", "probe", sandbox.url, "--send", "hi")
    assert r.exit_code == 0
    for label in (
        "DNS lookup",
        "TCP connect",
        "TLS handshake",
        "card TTFB",
        "first RPC",
        "send: terminal state",
    ):
        assert label in r.stdout
    assert "negotiated  JSONRPC 1.0" in r.stdout


@pytest.mark.parametrize("columns", ["40", "50", "80"])
def test_waterfall_keeps_every_phase_and_time_on_a_narrow_terminal(cli, sandbox, columns):
    """The waterfall's 40 columns of bars took a 40-column terminal whole: the phase and time
    columns were squeezed to nothing, so no figure was shown. Every phase keeps its label and time
    (the bars get what is left, or none); with several samples no figure is cut to "1.…"."""
    import re

    r = cli("handshake", "probe", sandbox.url, "--send", "hi", env={"COLUMNS": columns})
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    for label in ("DNS lookup", "card TTFB", "first RPC", "send: terminal state", "total"):
        row = next((line for line in lines if line.startswith(label)), None)
        assert row is not None, (label, r.stdout)
        assert re.match(rf"{re.escape(label)}\s+[0-9.]+(µs|ms|s)\b", row), row
    many = cli("handshake", "probe", sandbox.url, "-n", "3", env={"COLUMNS": columns})
    assert many.exit_code == 0 and "…" not in many.stdout, many.stdout


def test_send_answered_with_a_message_says_so(cli, sandbox):
    """`--send` answered with a bare Message (no task) printed "final state None"."""
    r = cli("handshake", "probe", sandbox.url, "--send", "/msg hi")
    assert r.exit_code == 0, r.stderr
    line = next(line for line in r.stdout.splitlines() if line.startswith("send "))
    assert line.endswith("1 event(s), answered with a message (no task)"), line


def test_demo_runs_probe_of_sandbox(cli):
    r = cli("demo", "-o", "json")
    assert r.exit_code == 0
    s = r.json["samples"][0]
    assert s["ok"] and {"session", "rpc", "first_event", "terminal"} <= set(s["phases"])


def test_demo_jsonl_writes_sample_records_then_a_summary(cli):
    # demo -o jsonl used to print the whole document on one line, unlike handshake probe -o jsonl
    r = cli("demo", "-n", "2", "-o", "jsonl")
    assert r.exit_code == 0, r.stderr
    lines = r.jsonl
    assert [x["type"] for x in lines] == ["sample", "sample", "summary"]
    assert "samples" not in lines[-1] and lines[-1]["exitCode"] == 0
    assert all(x["ok"] for x in lines[:2])


def test_demo_over_grpc_serves_a_grpc_interface(cli):
    # --binding GRPC demo used to exit 1: the demo sandbox declared no gRPC interface
    pytest.importorskip("grpc")
    r = cli("--binding", "GRPC", "demo", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["negotiation"]["protocolBinding"] == "GRPC"
    assert r.json["samples"][0]["ok"]


def test_demo_over_grpc_without_the_extra_is_usage(cli, monkeypatch):
    import a2actl.server.sandbox.grpc as sandbox_grpc

    monkeypatch.setattr(sandbox_grpc, "grpc_importable", lambda: False)
    r = cli("--binding", "GRPC", "demo", "-o", "json")
    assert r.exit_code == 2
    assert r.json["error"]["code"] == "usage" and "a2actl[grpc]" in r.json["error"]["hint"]


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer  ", "BEARER\t"])
def test_token_with_a_bearer_prefix_is_sent_once(cli, sandbox_auth, tmp_path, prefix):
    # a token file holding "Bearer <token>" (as copied from a curl command) used to be sent as
    # "Authorization: Bearer Bearer <token>" and refused (exit 4) with no hint
    from tests.conftest import TOKEN

    f = tmp_path / "tok"
    f.write_text(prefix + TOKEN + "\n")
    r = cli("handshake", "probe", sandbox_auth.url, "--token-file", str(f), "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert "Bearer" in r.stderr and "--token-file" in r.stderr
    assert TOKEN not in r.stdout + r.stderr
    env = cli("handshake", "probe", sandbox_auth.url, "-o", "json", env={"A2ACTL_TOKEN": prefix + TOKEN})
    assert env.exit_code == 0, env.stderr
    assert "A2ACTL_TOKEN" in env.stderr and TOKEN not in env.stdout + env.stderr


def test_wire_clock_leaves_out_client_bookkeeping_before_connect():
    """Timings count from the name lookup to the network's marks, like curl's: the gap between the
    lookup and the client's first network action is bookkeeping, not connect time."""
    from a2actl.transport.timing import Clock

    c = Clock()
    c.timing.time_namelookup = 0.002
    base = c.t0 + 1.0  # 1 s of library time before the first network action
    c.marks = {
        "connection.connect_tcp.started": base,
        "connection.connect_tcp.complete": base + 0.003,
        "http11.send_request_headers.started": base + 0.004,
        "http11.receive_response_headers.complete": base + 0.010,
    }
    c.headers_received()
    t = c.timing
    assert t.new_connection
    assert (t.time_connect, t.time_pretransfer, t.time_starttransfer) == pytest.approx((0.005, 0.006, 0.012))

    reused = Clock()  # a pooled connection: the clock starts at the request write
    reused.marks = {
        "http11.send_request_headers.started": reused.t0 + 0.5,
        "http11.receive_response_headers.complete": reused.t0 + 0.501,
    }
    reused.headers_received()
    assert not reused.timing.new_connection
    assert reused.timing.time_pretransfer == pytest.approx(0.0)
    assert reused.timing.time_starttransfer == pytest.approx(0.001)


def test_redirect_is_named_not_reported_as_bad_json(cli, sandbox):
    """Starlette redirects /nope to /nope/: the failure names the redirect and its target (an HTTP
    status, exit 1; -L follows it, issue #13)."""
    r = cli("handshake", "probe", sandbox.url, "--handshake-path", "/nope", "-o", "json")
    assert r.exit_code == 1
    err = r.json["samples"][0]["error"]
    assert err["code"] == "http_status" and f"redirected to {sandbox.url}/nope/" in err["message"]


def card_gets(stderr: str) -> int:
    """Card requests in the -v wire log."""
    return sum(1 for line in stderr.splitlines() if line.startswith("> GET ") and "/.well-known/" in line)


@pytest.mark.parametrize(
    ("args", "fetches"),
    [
        ([], 1),
        (["-n", "3"], 3),
        (["--warmup", "1"], 2),
        (["-n", "3", "-c", "3", "--warmup", "1"], 4),
        (["-n", "3", "-c", "3"], 4),
    ],
)
def test_probe_fetches_the_card_once_per_sample(cli, sandbox_slow, args, fetches):
    """Discovery's fetch is the first sample's (or warmup's) card phase (issue #12 item 8): against a
    card that takes 0.3 s, a one-sample probe waits 0.3 s, not 0.6 s, and still times a new
    connection. With -c N and no warmup discovery is apart: no timed sample may run uncontended."""
    r = cli("handshake", "probe", sandbox_slow.url, *args, "-v", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert card_gets(r.stderr) == fetches
    samples = r.json["samples"]
    assert all(s["curl"]["newConnection"] and s["phases"]["ttfb"] >= 0.3 for s in samples)
    assert all(s["cardBytes"]["decoded"] > 0 and s["phases"]["parse"] > 0 for s in samples)


def test_probe_after_a_discovery_fallback_fetches_a_fresh_card(cli, sandbox_legacy):
    """After a 404 on the first discovery path the card came over a reused connection, which is not a
    cold sample: the sample fetches the card itself on a new one."""
    r = cli("handshake", "probe", sandbox_legacy.url, "-v", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert card_gets(r.stderr) == 3  # agent-card.json (404), agent.json (discovery), agent.json (sample)
    assert r.json["samples"][0]["curl"]["newConnection"] is True


@pytest.mark.parametrize("value", ["", " ", ",", " , "])
def test_a_budget_with_no_budget_in_it_is_a_usage_error(cli: Any, sandbox: Any, value: str) -> None:
    """``--budget "$P99"`` with ``P99`` unset: the probe ran without a budget and exited 0, the CI gate
    silently off (``load run --threshold ''`` and ``smoke run --junit ''`` are exit 2)."""
    r = cli("handshake", "probe", sandbox.url, "--budget", "5s", "--budget", value, "-o", "json")
    assert r.exit_code == 2
    err = r.json["error"]
    assert err["message"] == f"--budget {value!r}: no budget in it (a ${{VARIABLE}} set but empty?)"
    assert err["hint"] == "--budget 5s (total p99) or --budget rpc=2s"


def test_a_budget_on_a_phase_never_measured_fails_saying_why(cli, sandbox) -> None:
    """``--budget first_event=…`` without ``--send``: no sample measures it, so the budget cannot
    hold a CI gate; exit 7 with a violation that has no p99 and names the option (it passed)."""
    r = cli("handshake", "probe", sandbox.url, "-n", "2", "--budget", "first_event=10s", "-o", "json")
    assert r.exit_code == 7, r.stdout[-500:]
    [v] = r.json["budget"]["violations"]
    assert v["metric"] == "first_event" and v["p99"] is None and "--send" in v["message"]
    r = cli(
        "handshake",
        "probe",
        sandbox.url,
        "-n",
        "2",
        "--send",
        "hi",
        "--budget",
        "first_event=10s",
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.stdout[-500:]
    assert r.json["budget"]["ok"] is True


def test_send_stream_of_one_task_already_rejected_is_an_ended_stream(cli, streams) -> None:
    """An agent that rejects at once streams one Task already ``rejected`` and closes: the stream
    ended (as ``send --stream`` reads it), not a stream that "closed without a terminal state (last
    state: rejected)" (it was exit 6). A rejected task fails the sample (check_failed, exit 7), with
    the final state in the sample for the operator to read."""
    url = f"{streams}/rejectedtask/agent-card.json"
    r = cli("handshake", "probe", url, "--send", "hi", "-o", "json")
    assert r.exit_code == 7, r.stdout[-800:]
    [sample] = r.json["samples"]
    assert sample["ok"] is False and sample["errorClass"] == "check_failed"
    assert sample["failedPhase"] == "terminal" and "ended rejected" in sample["error"]["message"]
    assert sample["send"] == {
        "method": "SendStreamingMessage",
        "streaming": True,
        "events": 1,
        "finalState": "rejected",
        "statusMessage": None,
    }
    assert sample["phases"]["first_event"] > 0 and sample["phases"]["terminal"] >= 0
    assert cli("send", url, "hi", "--stream", "-o", "json").json["state"] == "rejected"


@pytest.mark.parametrize(("mode", "rule"), [("othertask", "other-task"), ("regress", "illegal-transition")])
def test_send_stream_that_breaks_the_lifecycle_fails_the_sample(cli, streams, mode, rule) -> None:
    """A streamed ``--send`` whose events break the task lifecycle (a status update of another task
    mid-stream; working → submitted), then complete: the sample failed as a protocol violation (exit
    6), as ``stream tail`` and ``load run`` read the same stream; it was an ok sample, exit 0, with
    ``finalState`` ``completed``."""
    r = cli("handshake", "probe", f"{streams}/{mode}/agent-card.json", "--send", "hi", "-o", "json")
    assert r.exit_code == 6, r.stdout[-800:]
    [sample] = r.json["samples"]
    assert sample["ok"] is False and sample["errorClass"] == "protocol"
    assert sample["failedPhase"] == "terminal" and f": {rule}: " in sample["error"]["message"]
    assert sample["send"] is None and "terminal" not in sample["phases"]


@pytest.mark.parametrize(
    ("text", "state"), [("/fail", "failed"), ("/reject", "rejected"), ("/cancel", "canceled")]
)
def test_send_of_a_task_that_ends_failed_fails_the_probe(cli, sandbox, text, state) -> None:
    """``--send`` whose task ends failed/rejected/canceled: the agent answered but did not do what
    it was sent, so the sample fails (class ``check_failed``, phase ``terminal``, exit 7) with the
    state in ``send.finalState``; it was an ok sample, exit 0 (a health check that called a failing
    agent healthy). Streaming, on the sandbox. The agent's reason (the final status's message) is in
    ``send.statusMessage`` and the error's message: it said only 'ended failed'."""
    reason = f"{state} on request ({text})"
    r = cli("handshake", "probe", sandbox.url, "--send", text, "-o", "json")
    assert r.exit_code == 7, r.stdout[-800:]
    [sample] = r.json["samples"]
    assert sample["ok"] is False and sample["errorClass"] == "check_failed"
    assert sample["failedPhase"] == "terminal" and sample["send"]["finalState"] == state
    assert sample["send"]["statusMessage"] == reason
    assert f"ended {state} (the agent said: {reason})" in sample["error"]["message"]
    assert r.json["failures"] == {"check_failed": 1}
    table = cli("handshake", "probe", sandbox.url, "--send", text)
    assert table.exit_code == 7 and reason in table.stdout, table.stdout[-800:]
    waits = cli("handshake", "probe", sandbox.url, "--send", "/input", "-o", "json")
    assert waits.exit_code == 0 and waits.json["samples"][0]["send"]["statusMessage"] == "more input, please"
    ok = cli("handshake", "probe", sandbox.url, "--send", "hi", "-o", "json")
    assert ok.exit_code == 0 and ok.json["samples"][0]["send"]["finalState"] == "completed"


def test_blocking_send_of_a_failed_task_fails_and_a_working_answer_measures_no_terminal(cli, fault) -> None:
    """A non-streaming agent (SendMessage, blocking): a ``failed`` answer fails the sample (exit
    7); a ``working`` answer (an agent that does not block) is ok but its ``terminal`` phase is not
    measured (it read 0.0: a task end never seen), so a budget on it is a violation (exit 7)."""
    r = cli("handshake", "probe", f"{fault}/failedtask/agent-card.json", "--send", "hi", "-o", "json")
    assert r.exit_code == 7, r.stdout[-800:]
    [sample] = r.json["samples"]
    assert sample["errorClass"] == "check_failed" and sample["send"]["finalState"] == "failed"
    assert sample["send"]["streaming"] is False

    url = f"{fault}/workingtask/agent-card.json"
    r = cli("handshake", "probe", url, "--send", "hi", "-o", "json")
    assert r.exit_code == 0, r.stdout[-800:]
    [sample] = r.json["samples"]
    assert sample["ok"] is True and sample["send"]["finalState"] == "working"
    assert "first_event" in sample["phases"] and "terminal" not in sample["phases"]
    r = cli("handshake", "probe", url, "--send", "hi", "--budget", "terminal=1s", "-o", "json")
    assert r.exit_code == 7, r.stdout[-800:]
    [v] = r.json["budget"]["violations"]
    assert v["metric"] == "terminal" and v["p99"] is None


def test_the_card_interfaces_userinfo_and_token_are_never_printed(cli, refused_url):
    """A card may name its interface with credentials in the URL (``http://user:pw@host/rpc?token=``);
    the probe printed them in its 'negotiated ... at' line, the report's url and the error naming that
    URL, where ``send`` and the other commands mask them (``agent.connect``)."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.servers import LoopbackServer, v1_card

    iface = refused_url.replace("http://", "http://agent:card-iface-pw@") + "/rpc?token=card-iface-token"

    def app(base):
        async def card(request):
            doc = v1_card(base, "/rpc")
            doc["supportedInterfaces"][0]["url"] = iface
            return JSONResponse(doc)

        return Starlette(routes=[Route("/.well-known/agent-card.json", card)])

    with LoopbackServer(app) as agent:
        r = cli("handshake", "probe", agent.url, "-o", "json")
        table = cli("handshake", "probe", agent.url)
    assert r.exit_code == 3 and table.exit_code == 3  # the interface's port refuses: unreachable
    masked = refused_url.replace("http://", "http://agent:***@") + "/rpc?token=***"
    assert r.json["negotiation"]["url"] == masked, r.json
    assert r.json["samples"][0]["error"]["message"] == f"connection to {masked} refused"
    for out in (r.stdout + r.stderr, table.stdout + table.stderr):
        assert "card-iface-pw" not in out and "card-iface-token" not in out


def test_send_sample_ends_at_a_terminal_task_event_though_the_stream_stays_open(cli):
    """``--send`` over a stream: a Task event in a terminal state ends the sample, as ``stream tail``
    reads it; the probe waited for the server to close the stream and gave up at --max-time."""
    import time

    from tests.servers import terminal_task_then_open

    with terminal_task_then_open("TASK_STATE_COMPLETED") as agent:
        t0 = time.monotonic()
        r = cli("--max-time", "8s", "-o", "json", "handshake", "probe", agent.url, "--send", "hi", "-n", "1")
        took = time.monotonic() - t0
    assert r.exit_code == 0, r.stdout
    assert took < 5, took


def test_a_budget_no_sample_could_check_is_not_ok(cli: Any, fault: str) -> None:
    """Every sample failed (the first RPC answered 502 by a gateway): the budget was checked on
    nothing, yet ``-o json`` said ``budget.ok: true``, a pass to a script that reads it alone. It is
    ``null``; the exit code is the failures' (1)."""
    url = f"{fault}/gateway502/agent-card.json"
    r = cli("handshake", "probe", url, "-n", "2", "--budget", "total=5s", "-o", "json")
    assert r.exit_code == 1, r.stdout[-400:]
    assert [s["ok"] for s in r.json["samples"]] == [False, False]
    assert r.json["budget"]["ok"] is None and r.json["budget"]["violations"] == []


def test_count_is_no_option_and_help_shows_samples_with_n(cli: Any) -> None:
    """An operator may try ``--count`` for ``-n/--samples``: no alias (docs promise none), but the
    error is Click's usage error, exit 2, its ``Error:`` line one line naming the option, no
    traceback, nothing on stdout; and ``--help`` shows ``-n`` in an example."""
    r = cli("handshake", "probe", "http://127.0.0.1:9", "--count", "5")
    assert r.exit_code == 2
    assert r.stdout == ""
    errors = [line for line in r.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith("Error: No such option: --count"), r.stderr
    assert "Traceback" not in r.stderr
    help_ = cli("handshake", "probe", "--help")
    assert help_.exit_code == 0
    assert "-n, --samples" in help_.stdout
    assert any(
        line.strip().startswith("a2actl handshake probe ") and " -n " in line
        for line in help_.stdout.splitlines()
    )
