"""Every exit code in docs/exit-codes.md, produced by real failures on loopback servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest


def test_0_ok(cli, sandbox):
    assert cli("card", "get", sandbox.url).exit_code == 0


def test_1_jsonrpc_error(cli, fault):
    r = cli("handshake", "probe", fault + "/rpcerror/agent-card.json", "-o", "json")
    assert r.exit_code == 1
    err = r.json["samples"][0]["error"]
    assert err["a2aCode"] == -32603 and "database is on fire" in err["message"]
    assert r.json["failures"] == {"a2a_error": 1}


def test_1_http_5xx(cli, fault):
    r = cli("card", "get", fault + "/http500/agent-card.json", "-o", "json")
    assert r.exit_code == 1
    assert r.json["error"]["code"] == "http_status" and r.json["error"]["details"]["httpStatus"] == 500


def test_2_usage(cli, sandbox):
    assert cli("handshake", "probe", sandbox.url, "--budget", "fast").exit_code == 2
    assert cli("handshake", "probe", sandbox.url, "-H", "no colon").exit_code == 2
    assert cli("card", "get", "ftp://example.invalid/x").exit_code == 2
    assert cli("nosuchcommand").exit_code == 2


@pytest.mark.parametrize(
    ("output", "args", "said"),
    [
        ("json", ["card", "get", "http://127.0.0.1:9", "--bogus"], "No such option: --bogus"),
        ("json", ["card", "get"], "Missing argument"),
        ("json", ["handshake", "probe", "http://127.0.0.1:9", "-n", "0"], "-n"),
        ("json", ["card", "get", "http://127.0.0.1:9", "--binding", "FOO"], "--binding"),
        ("json", ["nosuchcommand"], "No such command"),
        ("json", ["caps", "nosuch"], "No such command"),
        ("json", ["caps"], "missing command (see 'a2actl caps -h')"),
        ("jsonl", ["send"], "Missing argument"),
        ("json", ["--bogus", "card", "get", "http://127.0.0.1:9"], "No such option: --bogus"),
    ],
)
def test_2_usage_errors_the_parser_finds_give_the_json_error_object(cli, output, args, said):
    # docs/output-formats.md: with json/jsonl a failing command also prints the error object on stdout,
    # "so | jq always gets one document"; errors found while parsing the command line (an unknown
    # option, a missing argument, a value out of range or not a choice) printed Click's usage on
    # stderr and nothing on stdout
    for where in ("first", "last"):
        argv = ["-o", output, *args] if where == "first" else [*args, "-o", output]
        r = cli(*argv)
        assert r.exit_code == 2, (argv, r.stdout, r.stderr)
        lines = r.stdout.splitlines() if output == "jsonl" else [r.stdout]
        assert len(lines) == 1, (argv, r.stdout)
        err = json.loads(lines[0])["error"]
        assert err["code"] == "usage" and err["exitCode"] == 2, (argv, err)
        assert said in err["message"], (argv, err)
        assert "Usage: a2actl" in r.stderr, r.stderr  # Click's usage text still on stderr


def test_2_usage_error_from_the_parser_leaves_stdout_empty_for_a_table(cli):
    r = cli("card", "get", "http://127.0.0.1:9", "--bogus")
    assert r.exit_code == 2 and r.stdout == "" and "No such option: --bogus" in r.stderr


@pytest.mark.parametrize(
    "header",
    [
        "X-Foo: h\u00e9llo",
        "X-Foo: a\nb",
        "X-Foo: a\x00b",
        "Authorization Bearer s3cr3t-t0ken",
        "X Y: z",
        ": v",
    ],
)
def test_2_bad_header_is_refused_before_any_request_without_echoing_the_value(cli, sandbox, header):
    # non-ASCII and line breaks used to reach httpx: exit 1 "unexpected UnicodeEncodeError" / LocalProtocolError
    r = cli("-H", header, "card", "get", sandbox.url, "-o", "json")
    assert r.exit_code == 2, r.stderr
    assert r.json["error"]["message"].startswith("bad --header")
    assert "s3cr3t" not in r.stdout + r.stderr and "llo" not in r.stdout + r.stderr


@pytest.mark.parametrize(
    "header",
    [
        "Content-Length: 5",
        "content-length: 0",
        "Transfer-Encoding: chunked",
        "Host: agent.example.com",
        "Connection: close",
        "Keep-Alive: timeout=5",
        "Proxy-Connection: keep-alive",
        "Upgrade: h2c",
        "TE: trailers",
        "Trailer: X-Foo",
    ],
)
def test_2_framing_header_is_refused_naming_it(cli, sandbox, header):
    # Content-Length used to reach h11: exit 1 "LocalProtocolError: Too little data for declared
    # Content-Length"; the others were sent beside the client's own framing (request smuggling
    # through a proxy, or refused by HTTP/2 and gRPC).
    r = cli("-H", header, "card", "get", sandbox.url, "-o", "json")
    assert r.exit_code == 2, r.stderr
    name = header.partition(":")[0]
    assert r.json["error"]["code"] == "usage"
    assert r.json["error"]["message"].startswith(f"bad --header {name}:")
    assert r.stderr.count("\n") == 1


def test_3_refused(cli, refused_url):
    r = cli("handshake", "probe", refused_url, "-o", "json")
    assert r.exit_code == 3
    assert r.json["error"]["code"] == "unreachable" and "refused" in r.json["error"]["message"]
    assert r.stderr.count("\n") == 1  # one line, no traceback


def test_3_tls_without_cacert_then_0_with_it(cli, tls_server):
    url, ca = tls_server
    r = cli("card", "get", url, "-o", "json")
    assert r.exit_code == 3
    assert "--cacert" in r.json["error"]["hint"]
    ok = cli("handshake", "probe", url, "--cacert", ca, "-o", "json")
    assert ok.exit_code == 0, ok.stderr
    s = ok.json["samples"][0]
    assert s["phases"]["tls"] > 0 and s["curl"]["time_appconnect"] >= s["curl"]["time_connect"]
    insecure = cli("card", "get", url, "--insecure")
    assert insecure.exit_code == 0 and "not verified" in insecure.stderr


def test_4_unauthorized(cli, fault):
    r = cli("card", "get", fault + "/http401/agent-card.json", "-o", "json")
    assert r.exit_code == 4
    assert "A2ACTL_TOKEN" in r.json["error"]["hint"]


def test_5_timeout(cli, fault):
    r = cli("card", "get", fault + "/hang/agent-card.json", "--timeout", "300ms", "-o", "json")
    assert r.exit_code == 5 and r.json["error"]["code"] == "timeout"
    r = cli("card", "get", fault + "/hang/agent-card.json", "--max-time", "300ms", "-o", "json")
    assert r.exit_code == 5 and "--max-time" in r.json["error"]["message"]


def test_6_non_json_card(cli, fault):
    r = cli("card", "get", fault + "/nonjson/agent-card.json", "-o", "json")
    assert r.exit_code == 6 and r.json["error"]["code"] == "protocol"


def test_6_huge_card_read_is_bounded(cli, fault):
    t0 = time.monotonic()
    r = cli("card", "get", fault + "/big/agent-card.json", "-o", "json")
    assert r.exit_code == 6
    assert "stopped reading" in r.json["error"]["message"]
    assert time.monotonic() - t0 < 20


def test_6_bad_jsonrpc_envelope(cli, fault):
    r = cli("handshake", "probe", fault + "/badenvelope/agent-card.json", "-o", "json")
    assert r.exit_code == 6
    assert r.json["failures"] == {"protocol": 1}


def test_7_budget(cli, sandbox_slow):
    assert cli("handshake", "probe", sandbox_slow.url, "--budget", "100ms").exit_code == 7


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_130_interrupted(fault, sig):
    """SIGINT (Ctrl-C) or SIGTERM (kill, a CI runner or container stopping the job) once the request
    is in flight (the fault server counts it: no fixed sleep, which made this flaky under load):
    exit 130, one line, no traceback. SIGTERM was the default action before: killed, status -15."""
    from tests.servers import HANG_HITS

    env = {**os.environ, "NO_COLOR": "1"}
    before = HANG_HITS[0]
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "card", "get", fault + "/hang/agent-card.json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + 30
    while HANG_HITS[0] == before and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert HANG_HITS[0] > before, "the request never reached the server"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err
    assert err.decode().strip() == "a2actl: interrupted"


def test_sigterm_still_stops_a_job_that_ignores_sigint(fault):
    """A job a non-interactive shell started in the background (``a2actl … &``) ignores SIGINT; SIGTERM
    must still stop it (it is not forwarded as a SIGINT the process would ignore): status -15."""
    from tests.servers import HANG_HITS

    before = HANG_HITS[0]
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "card", "get", fault + "/hang/agent-card.json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as sh does for `cmd &`
    )
    deadline = time.monotonic() + 30
    while HANG_HITS[0] == before and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert HANG_HITS[0] > before, "the request never reached the server"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGTERM


def test_130_interrupted_during_startup(monkeypatch, capsys):
    """An interrupt while the CLI is still being imported (``a2actl.__main__.main``'s window; one
    before that is CPython's own startup, which no Python code sees) exits 130 with one line. The
    interrupt is raised by the import itself, so the test does not depend on timing."""
    import builtins

    from a2actl import __main__ as entry

    real_import = builtins.__import__

    def interrupted_import(name, *args, **kwargs):
        if name == "a2actl.cli.app":
            raise KeyboardInterrupt
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", interrupted_import)
    monkeypatch.setattr(sys, "argv", ["a2actl", "card", "get", "http://127.0.0.1:9"])
    with pytest.raises(SystemExit) as exc:
        entry.main()
    assert exc.value.code == 130
    assert capsys.readouterr().err == "a2actl: interrupted\n"
