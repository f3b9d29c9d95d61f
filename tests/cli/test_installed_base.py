"""Issue #12 regressions that the a2a-sdk 1.3 sandbox and our own servers can show: exit status and
summary agree (item 4), blocking sends on every family (item 1), hints that do not suggest what was
given (item 8), interfaces named for what they are (item 8), a timed-out blocking send names its
task (item 8), cards under a path prefix (item 10). The rows that need a 0.3-only or JS agent are in
tests/interop/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from a2actl.server.sandbox.app import build_app
from a2actl.server.sandbox.options import SandboxOptions
from tests.servers import LoopbackServer

PREFIX = "/agents/42"


def test_stream_summary_carries_the_exit_code_and_the_state(cli: Any, sandbox: Any) -> None:
    r = cli("send", sandbox.url, "/fail", "--stream", "--fail-on", "failed", "-o", "jsonl")
    assert r.exit_code == 7
    summary = next(x for x in r.jsonl if x["type"] == "summary")
    assert (summary["exitCode"], summary["finalState"], summary["failedOn"]) == (7, "failed", "failed")
    result = r.jsonl[-1]
    assert (result["type"], result["exitCode"], result["state"], result["failedOn"]) == (
        "result",
        7,
        "failed",
        "failed",
    )
    tail = cli("stream", "tail", sandbox.url, "--send", "/fail", "--fail-on", "failed", "-o", "json")
    assert tail.exit_code == 7 and tail.json["exitCode"] == 7 and tail.json["finalState"] == "failed"
    plain = cli("stream", "tail", sandbox.url, "--send", "/fail", "-o", "json")
    assert plain.exit_code == 0 and plain.json["exitCode"] == 0 and plain.json["failedOn"] is None
    table = cli("stream", "tail", sandbox.url, "--send", "/fail", "--fail-on", "failed")
    assert table.exit_code == 7
    outcome = next(line for line in table.stdout.splitlines() if line.strip().startswith("outcome"))
    assert "task failed" in outcome and "exit 7" in outcome


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--a2a-version", "0.3"], {"blocking": True}),
        (["--a2a-version", "0.3", "--binding", "HTTP+JSON"], {"blocking": True}),
        (["--a2a-version", "1.0"], None),
    ],
)
def test_blocking_send_says_so_on_every_family(
    cli: Any, sandbox: Any, args: list[str], expected: Any
) -> None:
    dry = cli("send", sandbox.url, "hi", "--dry-run", "-o", "json", *args).json
    params = dry["body"] if "HTTP+JSON" in args else dry["body"]["params"]
    assert params.get("configuration") == expected
    r = cli("send", sandbox.url, "/fail", "--fail-on", "failed", "-o", "json", *args)
    assert r.exit_code == 7 and r.json["state"] == "failed" and r.json["exitCode"] == 7


def test_a_refused_03_call_does_not_suggest_03(cli: Any, sandbox_v1: Any) -> None:
    r = cli("task", "get", sandbox_v1.url, "nope", "--a2a-version", "0.3", "-o", "json")
    assert r.exit_code != 0
    err = r.json["error"]
    assert "--a2a-version 1.0" in err["hint"] and "try --a2a-version 0.3" not in err["hint"]


def test_task_list_forced_03_on_a_10_agent_says_drop_the_flag(cli: Any, sandbox: Any) -> None:
    r = cli("task", "list", sandbox.url, "--a2a-version", "0.3", "-o", "json")
    assert r.exit_code == 2
    assert "drop --a2a-version 0.3" in r.json["error"]["hint"]
    s = cli("sessions", "list", sandbox.url, "--a2a-version", "0.3", "-o", "json")
    # the default sandbox mounts the debug API, so sessions work without ListTasks
    assert s.exit_code == 0


def test_sessions_forced_03_without_debug_api_says_drop_the_flag(cli: Any, sandbox_plain: Any) -> None:
    r = cli("sessions", "list", sandbox_plain.url, "--a2a-version", "0.3", "-o", "json")
    assert r.exit_code == 2
    assert "drop --a2a-version 0.3" in r.json["error"]["hint"]


def test_websocket_interface_is_named_websocket(cli: Any, sandbox: Any) -> None:
    dry = cli("send", sandbox.url, "hi", "--dry-run", "-o", "json").json
    reason = dry["negotiation"]["reason"]
    assert "1 WebSocket interface skipped" in reason and "gRPC" not in reason


def test_timed_out_blocking_send_names_its_task(cli: Any, sandbox: Any) -> None:
    r = cli("send", sandbox.url, "/slow 3", "--timeout", "1s", "-o", "json")
    assert r.exit_code == 5
    details = r.json["error"]["details"]
    assert details["taskId"] and details["state"] in ("submitted", "working")
    got = cli("task", "get", sandbox.url, details["taskId"], "-o", "json")
    assert got.exit_code == 0 and got.json["task"]["id"] == details["taskId"]


def test_timed_out_03_send_names_its_message(cli: Any, sandbox: Any) -> None:
    r = cli(
        "send",
        sandbox.url,
        "/slow 3",
        "--timeout",
        "1s",
        "--a2a-version",
        "0.3",
        "--message-id",
        "mid-timeout-03",
        "-o",
        "json",
    )
    assert r.exit_code == 5
    assert r.json["error"]["details"] == {"messageId": "mid-timeout-03"}


def _prefixed(root_card: bool) -> Any:
    def factory(url: str) -> Starlette:
        routes = [Mount(PREFIX, app=build_app(SandboxOptions(stream_interval=0.01), url + PREFIX))]
        if root_card:  # only a card at the host root (pointing at the prefixed agent)
            routes = [Mount("/", app=build_app(SandboxOptions(stream_interval=0.01), url))]
        return Starlette(routes=routes)

    return factory


@pytest.fixture(scope="module")
def prefixed() -> Iterator[str]:
    with LoopbackServer(_prefixed(root_card=False)) as srv:
        yield srv.url


@pytest.fixture(scope="module")
def root_only() -> Iterator[str]:
    with LoopbackServer(_prefixed(root_card=True)) as srv:
        yield srv.url


def test_card_under_a_path_prefix(cli: Any, prefixed: str) -> None:
    r = cli("card", "get", prefixed + PREFIX, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["source"] == prefixed + PREFIX + "/.well-known/agent-card.json"
    assert f"card found under the path prefix {PREFIX}" in r.json["notes"]
    sent = cli("send", prefixed + PREFIX, "hi", "-o", "json")
    assert sent.exit_code == 0 and sent.json["state"] == "completed"


def test_card_at_the_root_when_the_prefix_has_none(cli: Any, root_only: str) -> None:
    r = cli("card", "get", root_only + PREFIX, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["source"] == root_only + "/.well-known/agent-card.json"
    assert f"no card under the path prefix {PREFIX}; the host root answered" in r.json["notes"]


# -- issue #13 items 9 and 10: answers that are not what they claim ---------------------------------


def test_a_gateway_json_error_is_an_http_error(cli: Any, fault: str) -> None:
    for args in (
        ["send", fault + "/gateway502/agent-card.json", "hi"],
        ["task", "get", fault + "/gateway502/agent-card.json", "t1"],
    ):
        r = cli(*args, "-o", "json")
        assert r.exit_code == 1, r.stdout
        err = r.json["error"]
        assert err["code"] == "http_status" and err["details"]["httpStatus"] == 502
        assert "upstream timed out" in err["message"] and "a2aCode" not in err


@pytest.mark.parametrize("mode", ["resultlist", "garbagetask"])
def test_a_result_that_is_not_the_methods_shape_is_a_violation(cli: Any, fault: str, mode: str) -> None:
    for args in (
        ["send", fault + f"/{mode}/agent-card.json", "hi"],
        ["task", "get", fault + f"/{mode}/agent-card.json", "t1"],
    ):
        r = cli(*args, "-o", "json")
        assert r.exit_code == 6, r.stdout
        assert r.json["error"]["code"] == "protocol"


@pytest.mark.parametrize("mode", ["garbagetask", "failedtask"])
def test_a_task_answered_to_list_tasks_is_a_violation_not_an_empty_list(
    cli: Any, fault: str, mode: str
) -> None:
    """An agent (or a proxy) answering ListTasks with a Task (``{"task": …}``, ``{"id", "status"}``):
    `task list` read it as a page without tasks, exit 0 ``"tasks": []``. ProtoJSON leaves an empty
    ``tasks`` out, so a result without one is still an empty page, unless it has members no
    ListTasksResponse has: exit 6 naming them."""
    r = cli("task", "list", fault + f"/{mode}/agent-card.json", "-o", "json")
    assert r.exit_code == 6, r.stdout
    error = r.json["error"]
    assert error["code"] == "protocol" and "is not a ListTasksResponse" in error["message"], error


def test_a_list_tasks_page_without_tasks_is_an_empty_page() -> None:
    from a2actl.protocol.events import result_shape_error

    for empty in ({}, {"nextPageToken": ""}, {"tasks": [], "totalSize": 0, "pageSize": 50}):
        assert result_shape_error("ListTasks", empty) is None
    assert "(id, status)" in (result_shape_error("ListTasks", {"id": "t", "status": {}}) or "")


# -- issue #13 item 7: agent-supplied escape sequences never reach the terminal ---------------------

UNSAFE = ("\x1b", "\x07", "\x9b", "\u202e")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["card", "get", "{fault}/escapes/agent-card.json"], 0),
        (["send", "{fault}/escapes/agent-card.json", "hi", "--dry-run"], 0),
        # fails (no interface fits the escaped protocolVersion: usage, 2): the error line names the URL
        (["send", "{fault}/escapes/agent-card.json", "hi"], 2),
        (["caps", "validate", "{fault}/escapes/agent-card.json"], 6),  # the card violates the schema
        # the version line (U+009B); the card's interface URL holds ESC: no request can go to it, a
        # protocol violation (6) as caps validate says, not the usage error (2) that blamed the caller
        (["handshake", "probe", "{fault}/escapes/agent-card.json"], 6),
    ],
)
def test_table_mode_neutralises_control_and_bidi_characters(
    cli: Any, fault: str, args: list[str], code: int
) -> None:
    r = cli(*[a.format(fault=fault) for a in args])
    assert r.exit_code == code, (r.stdout, r.stderr)
    for ch in UNSAFE:
        assert ch not in r.stdout and ch not in r.stderr, (ch, args)
    if args[0] not in ("caps", "handshake"):  # these do not echo the URL's path
        assert "\\x1b" in r.stdout + r.stderr  # shown escaped, not dropped


# -- issue #13: CI logs are not terminals --------------------------------------------------------------

LONG_PREFIX = "/tenants/acme-corporation-production-eu-west-1/agents/order-fulfilment-agent-v2"


@pytest.fixture(scope="module")
def long_prefixed() -> Iterator[str]:
    def factory(url: str) -> Starlette:
        return Starlette(routes=[Mount(LONG_PREFIX, app=build_app(SandboxOptions(), url + LONG_PREFIX))])

    with LoopbackServer(factory) as srv:
        yield srv.url


def test_tables_are_not_cut_at_80_columns_when_not_a_terminal(
    cli: Any, long_prefixed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    long_base = long_prefixed + LONG_PREFIX
    r = cli("card", "get", long_base)
    assert r.exit_code == 0
    url = long_base + "/a2a/jsonrpc"
    assert any(url in line for line in r.stdout.splitlines()), r.stdout


def test_a_top_level_typo_suggests_the_command(cli: Any) -> None:
    r = cli("handshak", "probe", "http://x")
    assert r.exit_code == 2 and "Did you mean 'handshake'?" in r.stderr


def test_probe_exit_6_for_no_such_route(cli: Any, fault: str) -> None:
    """Issue #12 item 2: a card whose HTTP+JSON URL does not exist probed healthy (a 404 read as
    TaskNotFound) and made send say "no task with that id"."""
    r = cli("handshake", "probe", f"{fault}/norest/agent-card.json", "--binding", "HTTP+JSON", "-o", "json")
    assert r.exit_code == 6, r.stdout
    sample = r.json["samples"][0]
    assert sample["errorClass"] == "protocol" and sample["error"]["code"] == "no_such_route"
    sent = cli("send", f"{fault}/norest/agent-card.json", "hi", "-o", "json")
    assert sent.exit_code == 6 and sent.json["error"]["code"] == "no_such_route"
    assert "/norest/rest/message:send" in sent.json["error"]["details"]["url"]


# -- issue #13 items 1 and 8: bounded time, redirects ------------------------------------------------


def test_a_redirect_is_reported_not_read(cli: Any, fault: str) -> None:
    r = cli("card", "get", f"{fault}/redirect/agent-card.json", "-o", "json")
    assert r.exit_code == 1
    err = r.json["error"]
    assert err["details"]["httpStatus"] == 302 and err["details"]["location"] == "/rpcerror/agent-card.json"
    assert "redirected to /rpcerror/agent-card.json" in err["message"] and "-L" in err["hint"]
    sent = cli("send", f"{fault}/redirect/agent-card.json", "hi", "-o", "json")
    assert sent.exit_code == 1 and sent.json["error"]["details"]["httpStatus"] == 302
    followed = cli("-L", "card", "get", f"{fault}/redirect/agent-card.json", "-o", "json")
    assert followed.exit_code == 0 and followed.json["card"]["supportedInterfaces"][0]["url"].endswith(
        "/rpcerror/jsonrpc"
    )


def test_a_dribbling_server_ends_at_max_time(cli: Any, fault: str) -> None:
    import time

    t0 = time.monotonic()
    r = cli(
        "card",
        "get",
        f"{fault}/dribble/agent-card.json",
        "--timeout",
        "1s",
        "--max-time",
        "1.5s",
        "-o",
        "json",
    )
    assert r.exit_code == 5 and "--max-time 1.5s" in r.json["error"]["message"]
    assert time.monotonic() - t0 < 10


def test_every_command_has_a_default_deadline(cli: Any, fault: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from a2actl.cli import context
    from a2actl.cli.app import LAZY_COMMANDS, app

    monkeypatch.setitem(context.DEFAULT_MAX_TIME, "card get", 1.5)
    r = cli("card", "get", f"{fault}/dribble/agent-card.json", "--timeout", "1s", "-o", "json")
    assert r.exit_code == 5 and "the default for 'card get'" in r.json["error"]["message"]
    # every command of the tree is in the table (sandbox serve and demo run until stopped)
    import typer.main

    group = typer.main.get_command(app)
    missing = []
    for name in LAZY_COMMANDS:
        cmd = group.get_command(None, name)  # type: ignore[arg-type]
        subs = cmd.commands if hasattr(cmd, "commands") else {"": cmd}
        for sub in subs:
            path = f"{name} {sub}".strip()
            if name in ("sandbox", "demo"):
                continue
            if path not in context.DEFAULT_MAX_TIME:
                missing.append(path)
    assert missing == []


# -- issue #13 item 4: nesting ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["card", "get", "{fault}/deep100k/agent-card.json"],
        ["card", "get", "{fault}/deep900/agent-card.json"],
        ["-vv", "card", "get", "{fault}/deep900/agent-card.json"],
        ["caps", "validate", "{fault}/deep900/agent-card.json"],
        ["send", "{fault}/deeprpc/agent-card.json", "hi"],
        ["-vv", "send", "{fault}/deeprpc/agent-card.json", "hi"],
    ],
)
def test_json_nested_too_deep_is_a_violation(cli: Any, fault: str, args: list[str]) -> None:
    r = cli(*[a.format(fault=fault) for a in args], "-o", "json")
    assert r.exit_code == 6, (r.stdout[-300:], r.stderr[-300:])
    assert "nested too deep" in r.json["error"]["message"] and "Traceback" not in r.stderr
