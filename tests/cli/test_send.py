"""``a2actl send`` and ``a2actl task`` against the a2a-sdk sandbox, on every family and binding."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.procs import a2actl_stdin_closed

FAMILIES = [
    [],
    ["--a2a-version", "0.3"],
    ["--binding", "HTTP+JSON"],
    ["--a2a-version", "0.3", "--binding", "HTTP+JSON"],
]


@pytest.mark.parametrize("args", FAMILIES)
def test_send_text_everywhere(cli: Any, sandbox: Any, args: list[str]) -> None:
    r = cli("send", sandbox.url, "hello", "-o", "json", *args)
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["state"] == "completed"
    assert doc["result"]["artifacts"][0]["text"] == "echo: hello"
    assert doc["messageId"] and doc["taskId"] == doc["result"]["id"]


@pytest.mark.parametrize(
    "command, state",
    [
        ("/fail", "failed"),
        ("/reject", "rejected"),
        ("/cancel", "canceled"),
        ("/input", "input-required"),
        ("/auth", "auth-required"),
    ],
)
def test_fail_on_each_end_state(cli: Any, sandbox: Any, command: str, state: str) -> None:
    plain = cli("send", sandbox.url, command, "-o", "json")
    assert plain.exit_code == 0 and plain.json["state"] == state  # a failed task is still exit 0 by default
    r = cli(
        "send",
        sandbox.url,
        command,
        "--fail-on",
        "failed,rejected,canceled,input-required,auth-required",
        "-o",
        "json",
    )
    assert r.exit_code == 7 and r.json["failedOn"] == state
    other = [s for s in ("failed", "rejected", "canceled") if s != state][0]
    assert cli("send", sandbox.url, command, "--fail-on", other).exit_code == 0


def test_fail_on_with_stream(cli: Any, sandbox: Any) -> None:
    r = cli("send", sandbox.url, "/fail", "--stream", "--fail-on", "failed", "-o", "jsonl")
    assert r.exit_code == 7
    assert r.jsonl[-1]["type"] == "result" and r.jsonl[-1]["state"] == "failed"
    assert any(x.get("type") == "event" for x in r.jsonl)


def test_send_data_and_file_parts(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    data = tmp_path / "q.json"
    data.write_text('{"q": 1}')
    r = cli(
        "send",
        sandbox.url,
        "hi",
        "--data",
        f"@{data}",
        "--data",
        '{"inline": true}',
        "--file",
        str(data),
        "--dry-run",
        "-o",
        "json",
    )
    assert r.exit_code == 0
    parts = r.json["body"]["params"]["message"]["parts"]
    assert (
        parts[0] == {"text": "hi"}
        and parts[1] == {"data": {"q": 1}}
        and parts[2] == {"data": {"inline": True}}
    )
    assert parts[3]["filename"] == "q.json" and parts[3]["mediaType"] == "application/json"
    assert base64.b64decode(parts[3]["raw"]) == b'{"q": 1}'
    sent = cli("send", sandbox.url, "hi", "--data", f"@{data}", "--file", str(data), "-o", "json")
    assert sent.exit_code == 0 and sent.json["state"] == "completed"


def test_send_reads_stdin(cli: Any, sandbox: Any) -> None:
    from typer.testing import CliRunner

    from a2actl.cli.app import app

    r = CliRunner().invoke(app, ["send", sandbox.url, "-", "-o", "json"], input="from stdin")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["result"]["artifacts"][0]["text"] == "echo: from stdin"


@pytest.mark.parametrize(
    "args, key, value",
    [
        ([], "returnImmediately", True),
        (["--a2a-version", "0.3"], "blocking", False),
    ],
)
def test_no_wait_per_family(cli: Any, sandbox: Any, args: list[str], key: str, value: bool) -> None:
    dry = cli("send", sandbox.url, "hi", "--no-wait", "--dry-run", "-o", "json", *args).json
    assert dry["body"]["params"]["configuration"] == {key: value}
    r = cli("send", sandbox.url, "/slow 0.3", "--no-wait", "-o", "json", *args)
    assert r.exit_code == 0 and r.json["state"] in ("submitted", "working")


def test_dry_run_curl_never_prints_the_token(cli: Any, sandbox: Any) -> None:
    secret = "tok-" + "x" * 20
    r = cli("send", sandbox.url, "hi", "--dry-run", env={"A2ACTL_TOKEN": secret})
    assert r.exit_code == 0
    assert secret not in r.stdout + r.stderr
    assert "$A2ACTL_TOKEN" in r.stdout and "curl" in r.stdout


def test_context_and_task_follow_up(cli: Any, sandbox: Any) -> None:
    first = cli("send", sandbox.url, "/input", "-o", "json").json
    assert first["state"] == "input-required"
    ctx = first["result"]["contextId"]
    r = cli("send", sandbox.url, "more", "--task-id", first["taskId"], "--context-id", ctx, "-o", "json")
    assert r.exit_code == 0 and r.json["taskId"] == first["taskId"] and r.json["state"] == "completed"


@pytest.mark.parametrize("args", [[], ["--a2a-version", "0.3"], ["--binding", "HTTP+JSON"]])
def test_task_get_and_cancel(cli: Any, sandbox: Any, args: list[str]) -> None:
    running = cli("send", sandbox.url, "/slow 2", "--no-wait", "-o", "json").json
    got = cli("task", "get", sandbox.url, running["taskId"], "-o", "json", *args)
    assert got.exit_code == 0 and got.json["task"]["id"] == running["taskId"]
    cancel = cli("task", "cancel", sandbox.url, running["taskId"], "-o", "json", *args)
    assert cancel.exit_code == 0 and cancel.json["task"]["state"] == "canceled"
    again = cli("task", "cancel", sandbox.url, running["taskId"], "-o", "json", *args)
    assert again.exit_code == 1 and again.json["error"]["a2aCode"] == -32002


def test_task_get_unknown_is_task_not_found(cli: Any, sandbox: Any) -> None:
    r = cli("task", "get", sandbox.url, "nope", "-o", "json")
    assert r.exit_code == 1 and r.json["error"]["a2aCode"] == -32001


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_a_version_header_of_the_users_reaches_the_agent(cli: Any, sandbox: Any, binding: str) -> None:
    """``-H 'A2A-Version: 0.3'`` on the 1.0 interface: the agent (a2a-sdk) sees 0.3 and refuses the
    1.0 call with -32009, so an operator can test the agent's version check; it used to be replaced
    by 1.0 silently (and the call succeeded)."""
    r = cli("send", sandbox.url, "hi", "-o", "json", "--binding", binding, "-H", "A2A-Version: 0.3")
    assert r.exit_code == 1, r.stderr
    assert r.json["error"]["a2aCode"] == -32009
    r = cli("send", sandbox.url, "hi", "-o", "json", "--binding", binding, "-H", "a2a-version: 1.0")
    assert r.exit_code == 0 and r.json["state"] == "completed"


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_task_list_filters(cli: Any, sandbox: Any, binding: str) -> None:
    ctx = cli("send", sandbox.url, "first", "-o", "json").json["result"]["contextId"]
    cli("send", sandbox.url, "second", "--context-id", ctx)
    r = cli(
        "task",
        "list",
        sandbox.url,
        "--context-id",
        ctx,
        "--state",
        "completed",
        "--binding",
        binding,
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.stderr
    assert len(r.json["tasks"]) == 2 and {t["contextId"] for t in r.json["tasks"]} == {ctx}
    page = cli("task", "list", sandbox.url, "--context-id", ctx, "--page-size", "1", "-o", "json").json
    assert len(page["tasks"]) == 1 and page["nextPageToken"]


def test_task_list_on_03_explains(cli: Any, sandbox_v03: Any) -> None:
    r = cli("task", "list", sandbox_v03.url, "-o", "json")
    assert r.exit_code == 2 and "ListTasks does not exist in A2A 0.3" in r.json["error"]["message"]


@pytest.mark.parametrize(
    "args", [["--fail-on", "exploded"], ["--data", "{not json"], ["--file", "/no/such/file"], []]
)
def test_send_usage_errors(cli: Any, sandbox: Any, args: list[str]) -> None:
    text = [] if not args else ["hi"]
    r = cli("send", sandbox.url, *text, *args)
    assert r.exit_code == 2 and "Traceback" not in r.stderr


def test_empty_task_id_is_usage_error(cli, sandbox):
    for args in (
        ["task", "get", sandbox.url, " "],
        ["task", "subscribe", sandbox.url, ""],
        ["stream", "tail", sandbox.url, "--task", ""],
    ):
        r = cli(*args, "-o", "json")
        assert r.exit_code == 2 and r.json["error"]["code"] == "usage", args


@pytest.mark.parametrize("version", ["1.0", "0.3"])
@pytest.mark.parametrize("suffix", ["#x", "?historyLength=1"])
def test_http_json_task_id_is_one_path_segment(cli: Any, sandbox: Any, version: str, suffix: str) -> None:
    """A TASK_ID holding '#' or '?' names no other task over HTTP+JSON: 'ID#x' was read as task ID
    (the fragment dropped), 'ID?historyLength=1' as task ID with a query."""
    args = ["--binding", "HTTP+JSON", "--a2a-version", version]
    task_id = cli("send", sandbox.url, "hi", "-o", "json", *args).json["taskId"]
    for command in ("get", "cancel"):
        r = cli("task", command, sandbox.url, task_id + suffix, "-o", "json", *args)
        assert r.exit_code == 1, r.stdout
        assert r.json["error"]["a2aCode"] == -32001
    assert cli("task", "get", sandbox.url, task_id, "-o", "json", *args).json["task"]["id"] == task_id


def test_http_json_task_id_never_climbs_to_another_route(cli: Any, sandbox: Any) -> None:
    """'../card' was GET /v1/tasks/../card = /v1/card, the 0.3 extended card route."""
    args = ["--binding", "HTTP+JSON", "--a2a-version", "0.3"]
    r = cli("task", "get", sandbox.url, "../card", "-o", "json", *args)
    assert r.exit_code in (1, 6), r.stdout
    assert r.json["error"].get("a2aCode") != -32004, r.json


@pytest.mark.parametrize("mode", ["boolcode", "nocode"])
def test_a2a_error_without_an_integer_code(cli: Any, fault: str, mode: str) -> None:
    """A JSON-RPC error whose code is JSON ``true`` or missing: the agent's error (exit 1), with no
    ``a2aCode`` (it was ``true``: Python's bool is an int) and no code printed as ``True``/``None``."""
    r = cli("send", f"{fault}/{mode}/agent-card.json", "hi", "-o", "json")
    assert r.exit_code == 1, r.stdout
    err = r.json["error"]
    assert err["code"] == "a2a_error" and "a2aCode" not in err
    assert err["message"] == "SendMessage: UnknownError (no integer code): m"
    probe = cli("handshake", "probe", f"{fault}/{mode}/agent-card.json", "-o", "json")
    assert probe.exit_code == 1
    assert probe.json["samples"][0]["rpc"]["error"]["code"] is None


def test_dry_run_curl_carries_the_tls_options(cli: Any, tls_server: Any, sandbox: Any) -> None:
    """``send --dry-run`` against https: the curl command has ``--cacert``/``-k`` as given (the
    grpcurl one had them; the curl one failed certificate verification when run)."""
    import shlex

    url, ca = tls_server
    r = cli("--cacert", ca, "send", url, "hi", "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.stderr
    argv = shlex.split(r.json["curl"])
    assert argv[argv.index("--cacert") + 1] == ca and "-k" not in argv
    assert argv[-1].startswith(url)
    r = cli("-k", "send", url, "hi", "--dry-run", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert "-k" in shlex.split(r.json["curl"])
    plain = shlex.split(cli("-k", "send", sandbox.url, "hi", "--dry-run", "-o", "json").json["curl"])
    assert "-k" not in plain and "--cacert" not in plain  # http: no TLS options


@pytest.mark.parametrize("args", [["send", "{card}", "hi"], ["task", "get", "{card}", "t1"]])
def test_a_json_rpc_errors_data_is_in_the_error_object(cli: Any, fault: str, args: list[str]) -> None:
    """The ``data`` of a JSON-RPC error (what the agent says was wrong) was dropped: ``-o json``
    had only the code and message. It is ``details.data``, credential-like keys masked."""
    card = f"{fault}/errdata/agent-card.json"
    r = cli(*[a.format(card=card) for a in args], "-o", "json")
    assert r.exit_code == 1, r.stdout
    err = r.json["error"]
    assert err["a2aCode"] == -32602
    assert err["details"] == {
        "reason": "INVALID_PARAMS",
        "data": {"field": "message.parts[0]", "expected": "text", "accessToken": "***"},
    }
    assert "at-0123456" not in r.stdout + r.stderr


@pytest.mark.parametrize("command", ["get", "cancel"])
def test_task_answered_about_another_task_is_a_violation(cli: Any, fault: str, command: str) -> None:
    """GetTask / CancelTask of t1 answered with task someone-else (completed / canceled): that says
    nothing about t1 (it was exit 0, showing someone-else's state as the answer)."""
    r = cli("task", command, f"{fault}/elsetask/agent-card.json", "t1", "-o", "json")
    assert r.exit_code == 6, r.stdout
    err = r.json["error"]
    assert err["code"] == "protocol"
    assert err["details"] == {"taskId": "t1", "answeredTaskId": "someone-else"}


@pytest.mark.parametrize("state", ["working", "completed"])
def test_task_cancel_answered_with_a_task_not_canceled_is_exit_1(cli: Any, fault: str, state: str) -> None:
    """CancelTask of t1 answered with task t1 still working / already completed (no -32002): the
    task was not canceled, yet it was exit 0 showing the task, which a script read as canceled."""
    r = cli("task", "cancel", f"{fault}/cancel{state}/agent-card.json", "t1", "-o", "json")
    assert r.exit_code == 1, r.stdout
    err = r.json["error"]
    assert err["code"] == "not_canceled" and err["exitCode"] == 1
    assert err["details"]["taskId"] == "t1" and err["details"]["state"] == state
    assert err["details"]["task"]["id"] == "t1" and err["details"]["task"]["state"] == state
    table = cli("task", "cancel", f"{fault}/cancel{state}/agent-card.json", "t1")
    assert table.exit_code == 1
    assert f"in state {state}, not canceled" in table.stderr and "Traceback" not in table.stderr


def test_send_polled_with_get_task_of_another_task_is_a_violation(cli: Any, fault: str) -> None:
    """A blocking send answered 'working' (task t), followed with GetTask, which answers task
    someone-else, completed: it was exit 0 with taskId someone-else, state completed."""
    r = cli("send", f"{fault}/elsepoll/agent-card.json", "hi", "-o", "json")
    assert r.exit_code == 6, r.stdout
    assert r.json["error"]["details"] == {"taskId": "t", "answeredTaskId": "someone-else"}


def test_max_time_during_the_polling_of_a_task_names_it(cli: Any, fault: str) -> None:
    """A blocking send answered 'working' by an agent that does not block (task t), followed with
    GetTask past --max-time (under --timeout): exit 5 naming the task and its last state. It was
    'gave up after --max-time 2s' alone: the task the send created was lost to the operator."""
    url = f"{fault}/workingtask/agent-card.json"
    r = cli("--max-time", "2s", "send", url, "hi", "-o", "json")
    assert r.exit_code == 5, r.stdout
    err = r.json["error"]
    assert err["code"] == "timeout" and err["details"] == {"taskId": "t", "state": "working"}
    assert err["message"].startswith("task t is still 'working' after ")
    assert err["message"].endswith("(--max-time 2s)") and "raise --max-time" in err["hint"]
    # --timeout the nearer bound: the polling stops there, as before
    r = cli("--max-time", "20s", "--timeout", "1s", "send", url, "hi", "-o", "json")
    assert r.exit_code == 5 and r.json["error"]["message"].endswith("(--timeout 1s)"), r.stdout


def test_task_list_page_that_names_itself_as_the_next_is_a_violation(cli: Any, fault: str) -> None:
    """``--page-token p2`` answered with ``nextPageToken: p2``: a script following the pages went
    round forever on exit 0; now exit 6 naming it. The first page (no token) is as the agent says."""
    url = f"{fault}/looppage/agent-card.json"
    first = cli("task", "list", url, "-o", "json")
    assert first.exit_code == 0 and first.json["nextPageToken"] == "p2"
    r = cli("task", "list", url, "--page-token", "p2", "-o", "json")
    assert r.exit_code == 6, r.stdout
    err = r.json["error"]
    assert err["code"] == "protocol" and "nextPageToken 'p2' was already followed" in err["message"]


@pytest.mark.parametrize("args", [("--data", "@FIFO"), ("--file", "FIFO")], ids=["data", "file"])
def test_max_time_bounds_a_part_that_never_arrives(
    sandbox: Any, tmp_path: Path, args: tuple[str, str]
) -> None:
    """send --data @FIFO / --file FIFO (or <(cmd)) nobody writes: --max-time ends the wait, exit 5
    with its one-line error. The read blocked the command for ever, past --max-time."""
    import os
    import subprocess
    import sys
    import time

    fifo = tmp_path / "part.fifo"
    os.mkfifo(fifo)
    argv = [a.replace("FIFO", str(fifo)) for a in args]
    t0 = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "a2actl", "--max-time", "1.5s", "-o", "json", "send", sandbox.url, *argv],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 5, (r.stdout[-500:], r.stderr[-500:])
    assert json.loads(r.stdout)["error"]["message"].startswith("gave up after --max-time 1.5s")
    assert time.monotonic() - t0 < 10


def _send_with_a_late_part(tmp_path: Path, output: str, url: str, text: str, *extra: str) -> Any:
    """``a2actl --max-time 2.5 -o OUTPUT send URL TEXT --data @FIFO EXTRA…`` with the FIFO's writer
    delivering ``{"q": 1}`` at 1.5 s (``tests.fifo.run_a2actl``'s result)."""
    import os

    from tests.fifo import run_a2actl

    fifo = tmp_path / "part.fifo"
    os.mkfifo(fifo)
    return run_a2actl(
        "--max-time",
        "2.5",
        "-o",
        output,
        "send",
        url,
        text,
        "--data",
        f"@{fifo}",
        *extra,
        feed=(str(fifo), b'{"q": 1}'),
        feed_after=1.5,
    )


def test_a_part_read_late_leaves_the_send_only_the_rest_of_max_time(
    sandbox_rpc_delay: Any, tmp_path: Path
) -> None:
    """`send --data @FIFO` whose writer delivers at 1.5 s, to an agent that answers in 2 s, under
    `--max-time 2.5`: the read and the send each had a whole --max-time, so the send answered at
    3.5 s with exit 0. The send gets what the read left (1 s): exit 5."""
    ran = _send_with_a_late_part(tmp_path, "json", sandbox_rpc_delay.url, "hi")
    assert ran.code == 5, (ran.out[-500:], ran.err[-500:])
    assert json.loads(ran.out)["error"]["message"].startswith("gave up after --max-time 2.5s")


def test_a_part_read_late_leaves_the_stream_only_the_rest_of_max_time(sandbox: Any, tmp_path: Path) -> None:
    """`send --stream` with a part read at 1.5 s under `--max-time 2.5`: the stream had a whole
    2.5 s of its own. It ends as max-time (exit 5) with what the read left, about 1 s."""
    ran = _send_with_a_late_part(tmp_path, "jsonl", sandbox.url, "/slow 5", "--stream")
    assert ran.code == 5, (ran.out[-500:], ran.err[-500:])
    lines = [json.loads(line) for line in ran.out.splitlines()]
    summary = next(line for line in lines if line["type"] == "summary")
    assert summary["outcome"] == "max-time" and summary["exitCode"] == 5
    assert summary["duration"] < 1.8, summary["duration"]  # was the whole 2.5 s
    assert lines[-1]["type"] == "result" and lines[-1]["outcome"] == "max-time"


def test_send_stdin_closed_is_a_usage_error(sandbox: Any) -> None:
    """`a2actl send URL - <&-`: Python's sys.stdin is None; reading it was exit 1 "unexpected
    AttributeError". Exit 2, saying stdin is closed."""
    r = a2actl_stdin_closed("-o", "json", "send", sandbox.url, "-")
    assert r.returncode == 2, (r.stdout, r.stderr)
    error = json.loads(r.stdout)["error"]
    assert error["code"] == "usage" and "standard input, which is closed" in error["message"]


@pytest.mark.parametrize("more", [[], ["--data", '{"q": 1}']], ids=["alone", "with-data"])
def test_send_empty_stdin_is_a_usage_error_and_sends_nothing(sandbox: Any, more: list[str]) -> None:
    """`a2actl send URL - </dev/null` (or a command before the pipe that printed nothing) sent a
    message with an empty text part: the sandbox answered -32603 "Message.text cannot be empty",
    exit 1, and an agent that accepts it runs a task on nothing. Exit 2 before anything is sent."""
    import os

    import httpx

    from tests.fifo import run_a2actl

    for how in ("devnull", "pipe"):
        mid = f"empty-stdin-{os.getpid()}-{how}-{len(more)}"
        args = ("-o", "json", "send", sandbox.url, "-", *more, "--message-id", mid)
        if how == "devnull":
            ran = run_a2actl(*args)  # stdin is /dev/null
        else:
            read_end, write_end = os.pipe()
            os.close(write_end)  # `true | a2actl send URL -`
            try:
                ran = run_a2actl(*args, stdin=read_end)
            finally:
                os.close(read_end)
        assert ran.code == 2, (how, ran.out[-500:], ran.err[-500:])
        error = json.loads(ran.out)["error"]
        assert error["code"] == "usage"
        assert error["message"] == "stdin was empty: TEXT '-' has nothing to send"
        assert mid not in httpx.get(sandbox.url + "/debug/a2a/received").json()["messages"]


def test_send_stdin_that_is_only_a_newline_is_sent(sandbox: Any) -> None:
    """Only zero bytes are refused: `echo | a2actl send URL -` sends its newline as the text."""
    from typer.testing import CliRunner

    from a2actl.cli.app import app

    r = CliRunner().invoke(app, ["-o", "json", "send", sandbox.url, "-"], input=b"\n", catch_exceptions=False)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert json.loads(r.stdout)["result"]["artifacts"][0]["text"] == "echo: \n"


def test_send_stdin_that_is_not_utf8_is_a_usage_error(sandbox: Any) -> None:
    """`printf 'caf\\xe9' | a2actl send URL -` under a UTF-8 locale (Python's stdin decoder is then
    strict, as CliRunner's): exit 1 "unexpected UnicodeDecodeError". The bytes are decoded by
    a2actl: exit 2 naming the byte. UTF-8 text still goes as it is."""
    from typer.testing import CliRunner

    from a2actl.cli.app import app

    runner = CliRunner()
    r = runner.invoke(app, ["-o", "json", "send", sandbox.url, "-"], input=b"caf\xe9", catch_exceptions=False)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert json.loads(r.stdout)["error"]["message"].startswith("stdin is not valid UTF-8 (byte 3)")
    text = "caf\u00e9 \u2713"
    ok = runner.invoke(
        app, ["-o", "json", "send", sandbox.url, "-"], input=text.encode(), catch_exceptions=False
    )
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout)["result"]["artifacts"][0]["text"] == f"echo: {text}"


def test_max_time_bounds_a_stdin_that_never_ends(sandbox: Any) -> None:
    """send URL - with a stdin pipe whose writer never writes nor closes (`sleep 100 | a2actl send
    URL -`): the read ignored --max-time. Now exit 5 with its one-line error."""

    from tests.fifo import run_a2actl_stdin_silent

    ran = run_a2actl_stdin_silent("--max-time", "1.5s", "-o", "json", "send", sandbox.url, "-")
    assert ran.code == 5, (ran.out[-500:], ran.err[-500:])
    assert json.loads(ran.out)["error"]["message"].startswith("gave up after --max-time 1.5s")
    assert ran.elapsed < 10, ran.elapsed
    assert "Fatal Python error" not in ran.err  # the reading thread is left behind at exit


@pytest.mark.parametrize(
    ("args", "label"),
    [
        (["--file", "/dev/zero"], "--file /dev/zero"),
        (["--data", "@/dev/zero"], "--data @/dev/zero"),
        (["-"], "TEXT '-' (stdin)"),
    ],
    ids=["file", "data", "stdin"],
)
def test_an_input_without_end_is_refused_at_64_mib(sandbox: Any, args: list[str], label: str) -> None:
    """``send --file /dev/zero`` (or ``--data @<(yes)``, ``yes | send URL -``) read the whole input
    into memory: ~1 GB after 3 s, until the machine ran out (here: 1 GiB of address space, exit 1
    "unexpected MemoryError"). At most 64 MiB + 1 byte is read, then exit 2 naming the option and
    the limit; nothing is sent."""
    import os

    from tests.procs import a2actl_in_memory

    mid = f"endless-{os.getpid()}-{args[0]}"
    with open("/dev/zero", "rb") as zeros:
        r = a2actl_in_memory(
            "-o", "json", "send", sandbox.url, *args, "--message-id", mid, stdin=zeros.fileno()
        )
    assert r.returncode == 2, r.stderr[-500:]
    assert json.loads(r.stdout)["error"]["message"] == f"{label}: over the 64 MiB limit (67,108,864 bytes)"
    import httpx

    assert mid not in httpx.get(sandbox.url + "/debug/a2a/received").json()["messages"]
