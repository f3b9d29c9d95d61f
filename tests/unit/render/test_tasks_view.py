"""``send`` and ``task get|cancel|list`` table views, rendered whole at 100 columns without colour, from
documents the typed results build (``a2actl.tasks.results``)."""

from __future__ import annotations

from typing import Any

import pytest

from a2actl.core.exit_codes import ExitCode
from a2actl.render import tasks as render_tasks
from a2actl.tasks.results import SendDryRun, SentMessage, StreamedSend, TaskListResult, TaskResult
from tests.unit.render.rendering import lines, render

TASK: dict[str, Any] = {
    "kind": "task",
    "id": "t-1",
    "contextId": "c-1",
    "state": "completed",
    "statusMessage": "all done",
    "artifacts": [
        {"artifactId": "a1", "name": "report", "text": "the answer is 42"},
        {"artifactId": "a2", "name": None, "text": "second"},
    ],
}


def sent(view: dict[str, Any], polled: dict[str, Any] | None = None) -> dict[str, Any]:
    return SentMessage(
        "SendMessage", "m-1", view, view.get("id"), view.get("state"), {}, "trace", polled, None, ExitCode.OK
    ).to_json()


def test_send_shows_the_task_with_status_and_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = render(render_tasks.send_result, sent(TASK), monkeypatch)
    assert out == (
        "task t-1  completed  context c-1\n"
        "status: all done\n"
        "artifact report: the answer is 42\n"
        "artifact a2: second\n"
    )
    assert err == ""


def test_a_polled_send_says_so_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    polled = {
        "reason": "the agent answered 'working' to a blocking send",
        "polls": 3,
        "seconds": 0.7,
        "firstState": "working",
    }
    out, err = render(
        render_tasks.send_result, sent({**TASK, "artifacts": [], "statusMessage": None}, polled), monkeypatch
    )
    assert out == "task t-1  completed  context c-1\n"
    assert err == "note: the agent answered 'working' to a blocking send (3 GetTask poll(s), 700.0ms)\n"


def test_a_message_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = render(
        render_tasks.send_result, sent({"kind": "message", "id": "m-9", "text": "hello\x1b[31m"}), monkeypatch
    )
    assert out == "message m-9 (no task)\nhello\\x1b[31m\n"


def test_a_streamed_send_shows_the_final_state(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = StreamedSend(
        "SendStreamingMessage", "m-1", "t-1", None, 0, "cut", ExitCode.PROTOCOL, "trace", None
    ).to_json()
    out, _ = render(render_tasks.send_result, doc, monkeypatch)
    assert out == "task t-1: -\n"
    failed = StreamedSend(
        "SendStreamingMessage",
        "m-1",
        "t-1",
        "failed",
        3,
        "completed",
        ExitCode.OK,
        "trace",
        None,
        "no\x1b[2J",
    ).to_json()
    assert (
        render(render_tasks.send_result, failed, monkeypatch)[0] == "task t-1: failed\nstatus: no\\x1b[2J\n"
    )


@pytest.mark.parametrize(
    ("events", "outcome", "line"),
    [(1, "completed", "answered with a message (no task)"), (0, "max-time", "no task seen")],
)
def test_a_streamed_send_without_a_task_says_so(
    monkeypatch: pytest.MonkeyPatch, events: int, outcome: str, line: str
) -> None:
    """A bare Message answer to ``send --stream`` printed ``task : -`` (an empty task id)."""
    doc = StreamedSend(
        "SendStreamingMessage", "m-1", None, None, events, outcome, ExitCode.OK, "trace", None
    ).to_json()
    assert render(render_tasks.send_result, doc, monkeypatch)[0] == line + "\n"


def test_a_dry_run_shows_the_request_and_curl(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = SendDryRun(
        "SendMessage",
        "http://127.0.0.1:9/a2a",
        {"A2A-Version": "1.0", "Authorization": "Bearer $A2ACTL_TOKEN"},
        {"jsonrpc": "2.0", "id": "a2actl-dry-run", "method": "SendMessage", "params": {}},
        "curl -sS -X POST http://127.0.0.1:9/a2a",
        False,
        {},
    ).to_json()
    out, _ = render(render_tasks.send_result, doc, monkeypatch)
    assert out == (
        "SendMessage  http://127.0.0.1:9/a2a\n"
        "A2A-Version: 1.0\n"
        "Authorization: Bearer $A2ACTL_TOKEN\n"
        "{\n"
        '  "jsonrpc": "2.0",\n'
        '  "id": "a2actl-dry-run",\n'
        '  "method": "SendMessage",\n'
        '  "params": {}\n'
        "}\n"
        "\n"
        "curl -sS -X POST http://127.0.0.1:9/a2a\n"
    )


def test_task_get(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = TaskResult("GetTask", {**TASK, "state": "failed", "artifacts": []}, {}, "trace").to_json()
    out, _ = render(render_tasks.task, doc, monkeypatch)
    assert out == "task t-1  failed  context c-1\nstatus: all done\n"


LIST_TABLE = """\

  id    state            contextId   artifacts
 ──────────────────────────────────────────────
  t-1   completed        c-1         2
  t-2   input-required   c-1         0
  t-3   -                c-2         0

3 task(s) (total 7); next page: --page-token next-1
"""


def test_task_list(monkeypatch: pytest.MonkeyPatch) -> None:
    tasks: list[dict[str, Any]] = [
        TASK,
        {"kind": "task", "id": "t-2", "contextId": "c-1", "state": "input-required", "artifacts": []},
        {"kind": "task", "id": "t-3", "contextId": "c-2", "state": None},
    ]
    doc = TaskListResult("ListTasks", tasks, "next-1", 7, "trace").to_json()
    out, _ = render(render_tasks.task_list, doc, monkeypatch)
    assert lines(out) == LIST_TABLE.replace(
        "2 of 3 shown", "3 task(s) (total 7); next page: --page-token next-1"
    )
    last, _ = render(
        render_tasks.task_list, TaskListResult("ListTasks", [], None, None, "t").to_json(), monkeypatch
    )
    assert lines(last).endswith("0 task(s) (total None)\n")
