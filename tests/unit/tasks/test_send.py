"""``a2actl.tasks``: reading what to send (parts, ``--fail-on``), the ``--dry-run`` request and curl
line, the polling decision and GetTask polling over ``httpx.MockTransport``, and the typed results'
documents and exit codes."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from a2actl.core.config import Settings
from a2actl.core.errors import A2AError, TimeoutError_, UsageError
from a2actl.core.exit_codes import ExitCode
from a2actl.protocol.card import Interface
from a2actl.protocol.negotiation import Selection
from a2actl.protocol.versions import BINDING_HTTP_JSON, BINDING_JSONRPC, Family
from a2actl.tasks.jobs import needs_poll, poll_until_settled
from a2actl.tasks.request import (
    FAIL_STATES,
    build_parts,
    curl_command,
    dry_run,
    parse_fail_on,
    secret_placeholder,
)
from a2actl.tasks.results import SendDryRun, SentMessage, StreamedSend, TaskListResult, TaskResult
from a2actl.transport.a2a import A2AClient
from a2actl.transport.http import HttpTransport

BASE = "http://127.0.0.1:9/a2a"
Handler = Callable[[httpx.Request], httpx.Response]


def client_on(
    transport: HttpTransport, binding: str = BINDING_JSONRPC, family: Family = Family.V1_0
) -> A2AClient:
    iface = Interface(BASE, binding, family.value, family, "test")
    return A2AClient(transport, Selection(iface, family, "the only interface"))


# -- what to send -------------------------------------------------------------------------------------


def test_fail_on_accepts_comma_lists_and_aliases() -> None:
    assert parse_fail_on(["failed,rejected", " canceled "]) == {"failed", "rejected", "canceled"}
    assert parse_fail_on(["TASK_STATE_INPUT_REQUIRED", "cancelled"]) == {"input-required", "canceled"}
    assert parse_fail_on([]) == set()
    with pytest.raises(UsageError, match="--fail-on 'completed': use " + ", ".join(FAIL_STATES)):
        parse_fail_on(["failed,completed"])


def test_parts_in_order_from_text_stdin_data_and_files(tmp_path: Path) -> None:
    (tmp_path / "q.json").write_text('{"q": 1}', encoding="utf-8")
    (tmp_path / "r.pdf").write_bytes(b"%PDF")
    parts = build_parts(
        "-", [f"@{tmp_path / 'q.json'}", "[1, 2]"], [str(tmp_path / "r.pdf")], io.StringIO("from stdin")
    )
    assert [(p.kind, p.text, p.data) for p in parts[:3]] == [
        ("text", "from stdin", None),
        ("data", None, {"q": 1}),
        ("data", None, [1, 2]),
    ]
    assert (parts[3].kind, parts[3].raw, parts[3].media_type, parts[3].filename) == (
        "file",
        b"%PDF",
        "application/pdf",
        "r.pdf",
    )


def test_parts_errors_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nothing to send"):
        build_parts(None, [], [])
    with pytest.raises(UsageError, match="is not JSON"):
        build_parts(None, ["{nope"], [])
    with pytest.raises(UsageError, match="cannot read"):
        build_parts(None, [f"@{tmp_path / 'missing.json'}"], [])
    with pytest.raises(UsageError, match="nested too deeply"):  # was an unexpected RecursionError
        build_parts(None, ["[" * 100_000 + "]" * 100_000], [])
    with pytest.raises(UsageError, match="--file .*cannot read"):
        build_parts(None, [], [str(tmp_path / "missing.bin")])


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("Authorization", "Bearer abc", "Bearer $A2ACTL_TOKEN"),
        ("Authorization", "Basic dXNlcg==", "Basic $A2ACTL_HEADER_AUTHORIZATION"),
        ("X-Api-Key", "k-123", "$A2ACTL_HEADER_X_API_KEY"),
        ("x-token", "Token abc", "Token $A2ACTL_HEADER_X_TOKEN"),
    ],
)
def test_secret_placeholders(name: str, value: str, shown: str) -> None:
    assert secret_placeholder(name, value) == shown


def test_curl_quotes_placeholders_for_the_shell_and_streams_with_n() -> None:
    cmd = curl_command(
        "POST",
        BASE,
        {"Accept": "text/event-stream", "Authorization": "Bearer $A2ACTL_TOKEN", "X-Note": "it's"},
        {"a": "b"},
    )
    assert cmd == (
        "curl -sS -N -X POST -H 'Accept: text/event-stream' -H \"Authorization: Bearer $A2ACTL_TOKEN\" "
        "-H 'X-Note: it'\"'\"'s' -H 'Content-Type: application/json' --data '{\"a\": \"b\"}' "
        "http://127.0.0.1:9/a2a"
    )
    assert (
        curl_command("GET", BASE + "/tasks/t1", {}, None) == "curl -sS -X GET http://127.0.0.1:9/a2a/tasks/t1"
    )


def dry(settings: Settings, binding: str, operation: str = "SendMessage", show: bool = False) -> SendDryRun:
    async def go() -> SendDryRun:
        async with HttpTransport(
            settings, http_transport=httpx.MockTransport(lambda r: httpx.Response(500))
        ) as tr:
            return dry_run(
                client_on(tr, binding), operation, {"message": {"messageId": "m1"}}, settings, show
            )

    return asyncio.run(go())


def test_dry_run_jsonrpc_hides_secrets_unless_asked() -> None:
    settings = Settings(token="s3cret", headers=(("X-Api-Key", "k-123"), ("X-Trace", "on")))
    result = dry(settings, BINDING_JSONRPC, "SendStreamingMessage")
    doc = result.to_json()
    assert list(doc) == ["dryRun", "method", "url", "headers", "body", "curl", "secretsShown", "negotiation"]
    assert doc["method"] == "SendStreamingMessage" and doc["url"] == BASE and result.exit is ExitCode.OK
    assert doc["headers"] == {
        "A2A-Version": "1.0",
        "Accept": "text/event-stream",
        "X-Api-Key": "$A2ACTL_HEADER_X_API_KEY",
        "X-Trace": "on",
        "Authorization": "Bearer $A2ACTL_TOKEN",
    }
    assert doc["body"] == {
        "jsonrpc": "2.0",
        "id": "a2actl-dry-run",
        "method": "SendStreamingMessage",
        "params": {"message": {"messageId": "m1"}},
    }
    assert "s3cret" not in json.dumps(doc) and "k-123" not in json.dumps(doc) and doc["secretsShown"] is False
    shown = dry(settings, BINDING_JSONRPC, show=True).to_json()
    assert shown["headers"]["Authorization"] == "Bearer s3cret" and shown["headers"]["X-Api-Key"] == "k-123"


def test_dry_run_http_json_uses_the_binding_route() -> None:
    doc = dry(Settings(), BINDING_HTTP_JSON).to_json()
    assert doc["method"] == "POST /message:send" and doc["url"] == BASE + "/message:send"
    assert doc["body"] == {"message": {"messageId": "m1"}}


# -- polling ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "no_wait", "poll"),
    [
        ({"kind": "task", "id": "t1", "state": "working"}, False, True),
        ({"kind": "task", "id": "t1", "state": "submitted"}, False, True),
        ({"kind": "task", "id": "t1", "state": "working"}, True, False),
        ({"kind": "task", "id": "t1", "state": "completed"}, False, False),
        ({"kind": "task", "id": "t1", "state": "input-required"}, False, False),
        ({"kind": "task", "id": None, "state": "working"}, False, False),
        ({"kind": "message", "id": "m1", "state": None}, False, False),
    ],
)
def test_needs_poll(view: dict[str, Any], no_wait: bool, poll: bool) -> None:
    assert needs_poll(view, no_wait) is poll


def poll(states: list[str], limit: float) -> tuple[tuple[dict[str, Any], Any, dict[str, Any]], list[float]]:
    """Poll a task that answers ``states`` in turn, on a fake clock that the fake sleep advances."""
    answers = iter(states)
    now = [0.0]
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["method"] == "GetTask" and body["params"] == {"id": "t1"}
        task = {"id": "t1", "contextId": "c1", "status": {"state": next(answers)}}
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": task})

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    async def go() -> tuple[dict[str, Any], Any, dict[str, Any]]:
        async with HttpTransport(Settings(), http_transport=httpx.MockTransport(handler)) as tr:
            view = {"kind": "task", "id": "t1", "state": "submitted"}
            return await poll_until_settled(client_on(tr), view, limit, sleep=sleep, clock=lambda: now[0])

    return asyncio.run(go()), slept


def test_polling_doubles_the_delay_until_the_task_settles() -> None:
    (view, raw, polled), slept = poll(["TASK_STATE_WORKING"] * 4 + ["TASK_STATE_COMPLETED"], limit=30)
    assert slept == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert view["state"] == "completed" and raw["status"]["state"] == "TASK_STATE_COMPLETED"
    assert polled["polls"] == 5 and polled["firstState"] == "submitted" and polled["seconds"] == 2.5
    assert polled["reason"].startswith("the agent answered 'submitted' to a blocking send")


def test_polling_gives_up_before_passing_the_limit() -> None:
    with pytest.raises(TimeoutError_) as caught:
        poll(["TASK_STATE_WORKING"] * 10, limit=0.5)
    assert (
        caught.value.message
        == "task t1 is still 'working' after 2 GetTask poll(s) over 0.3s (--timeout 0.5s)"
    )
    assert caught.value.details == {"taskId": "t1", "state": "working"}
    assert caught.value.hint == "a2actl task get TARGET t1 shows it later; raise --timeout to wait longer"


def test_a_get_task_error_while_polling_is_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        rid = json.loads(request.content)["id"]
        return httpx.Response(
            200, json={"jsonrpc": "2.0", "id": rid, "error": {"code": -32001, "message": "gone"}}
        )

    async def go() -> None:
        async with HttpTransport(Settings(), http_transport=httpx.MockTransport(handler)) as tr:
            await poll_until_settled(
                client_on(tr),
                {"kind": "task", "id": "t1", "state": "working"},
                5,
                sleep=lambda s: asyncio.sleep(0),
            )

    with pytest.raises(A2AError):
        asyncio.run(go())


# -- results ------------------------------------------------------------------------------------------


def sent(failed_on: str | None, polled: dict[str, Any] | None = None) -> SentMessage:
    return SentMessage(
        method="SendMessage",
        message_id="m1",
        result={"kind": "task", "id": "t1", "state": "failed"},
        task_id="t1",
        state="failed",
        raw={"task": {}},
        trace_id="abc",
        polled=polled,
        failed_on=failed_on,
        exit=ExitCode.CHECK_FAILED if failed_on else ExitCode.OK,
    )


def test_sent_message_document_order_and_exit() -> None:
    assert list(sent(None).to_json()) == [
        "method",
        "streaming",
        "messageId",
        "result",
        "taskId",
        "state",
        "raw",
        "traceId",
        "exitCode",
    ]
    doc = sent("failed", {"polls": 1}).to_json()
    assert list(doc)[-3:] == ["polled", "failedOn", "exitCode"]
    assert doc["exitCode"] == 7 and type(doc["exitCode"]) is int and doc["streaming"] is False


def test_streamed_send_document() -> None:
    s = StreamedSend(
        "SendStreamingMessage",
        "m1",
        "t1",
        "failed",
        3,
        "completed",
        ExitCode.CHECK_FAILED,
        "abc",
        "failed",
        status_message="quota exceeded",
        reason={"text": "quota exceeded", "from": "status"},
    )
    assert s.to_json() == {
        "method": "SendStreamingMessage",
        "streaming": True,
        "messageId": "m1",
        "taskId": "t1",
        "state": "failed",
        "statusMessage": "quota exceeded",
        "reason": {"text": "quota exceeded", "from": "status"},
        "events": 3,
        "outcome": "completed",
        "exitCode": 7,
        "traceId": "abc",
        "failedOn": "failed",
    }
    quiet = StreamedSend(
        "SendStreamingMessage", "m1", "t1", "completed", 3, "completed", ExitCode.OK, "abc", None
    )
    assert "failedOn" not in quiet.to_json() and quiet.exit is ExitCode.OK


def test_task_results() -> None:
    t = TaskResult("GetTask", {"id": "t1"}, {"id": "t1"}, "abc")
    assert t.to_json() == {"method": "GetTask", "task": {"id": "t1"}, "raw": {"id": "t1"}, "traceId": "abc"}
    page = TaskListResult("ListTasks", [], None, 0, "abc")
    assert list(page.to_json()) == ["method", "tasks", "nextPageToken", "totalSize", "traceId"]
    assert t.exit is ExitCode.OK and page.exit is ExitCode.OK
