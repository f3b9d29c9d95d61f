"""Binding equivalence (the conformance kit's ``transport-equivalence`` idea; spec v1.0 §5.1 functional
equivalence): the sandbox's JSON-RPC, HTTP+JSON and gRPC interfaces are three doors to one agent and one
task store, so the same request gives the same answer whichever door it used.

Through the real CLI (``send``, ``task get``, ``task list`` with ``--binding``):

* every task outcome (completed, failed, input-required, canceled, rejected), sent through each
  binding, reads back identically (the ``raw`` 1.0 Task) through all three, with and without
  ``--history``;
* a task that continues over another binding (input-required → answered over a second binding);
* ``ListTasks`` pages identically, and a page token from one binding continues on another;
* an unknown task is the same A2A error (name, code, exit code) on the three, gRPC adding its status;
* 0.3: the sandbox's 0.3 gRPC service (``a2a.v1.A2AService``, raw stub: a2actl speaks 1.0 over gRPC)
  and 0.3 JSON-RPC / HTTP+JSON describe the same task.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import pytest
from a2a.compat.v0_3 import a2a_v0_3_pb2 as pb03
from a2a.compat.v0_3 import a2a_v0_3_pb2_grpc as pb03_grpc

from a2actl.server.sandbox.server import RunningSandbox

BINDINGS = ("JSONRPC", "HTTP+JSON", "GRPC")
#: message text → the state the sandbox's echo executor ends the task in
OUTCOMES = {
    "hello": "completed",
    "/fail": "failed",
    "/input": "input-required",
    "/cancel": "canceled",
    "/reject": "rejected",
}


def _ok(r: Any) -> Any:
    assert r.exit_code == 0, r.stderr
    return r.json


def _send(cli: Any, url: str, text: str, binding: str, *extra: str) -> dict[str, Any]:
    doc: dict[str, Any] = _ok(cli("send", url, text, "--binding", binding, "-o", "json", *extra))
    return doc


def _get(cli: Any, url: str, task_id: str, binding: str, *extra: str) -> dict[str, Any]:
    doc: dict[str, Any] = _ok(
        cli("task", "get", url, task_id, "--binding", binding, "--a2a-version", "1.0", "-o", "json", *extra)
    )
    return doc


@pytest.mark.parametrize("entry", BINDINGS)
@pytest.mark.parametrize("text", list(OUTCOMES))
def test_every_outcome_reads_the_same_through_every_binding(
    cli: Any, sandbox_grpc: RunningSandbox, entry: str, text: str
) -> None:
    sent = _send(cli, sandbox_grpc.url, text, entry)
    assert sent["state"] == OUTCOMES[text]
    task_id = sent["taskId"]
    for extra in ((), ("--history", "1")):
        views = {b: _get(cli, sandbox_grpc.url, task_id, b, *extra) for b in BINDINGS}
        raws = {b: v["raw"] for b, v in views.items()}
        assert raws["JSONRPC"]["id"] == task_id
        assert raws["JSONRPC"] == raws["HTTP+JSON"] == raws["GRPC"], extra
        tasks = [v["task"] for v in views.values()]
        assert tasks[0] == tasks[1] == tasks[2]  # the summary a2actl prints, too
        assert tasks[0]["state"] == OUTCOMES[text]
    # the answer to the send itself is the task as stored
    assert sent["raw"]["task"]["status"]["state"] == raws["GRPC"]["status"]["state"]


@pytest.mark.parametrize(("first", "second"), [("GRPC", "JSONRPC"), ("HTTP+JSON", "GRPC")])
def test_a_task_continues_over_another_binding(
    cli: Any, sandbox_grpc: RunningSandbox, first: str, second: str
) -> None:
    started = _send(cli, sandbox_grpc.url, "/input", first)
    assert started["state"] == "input-required"
    ids = ("--task-id", started["taskId"], "--context-id", started["raw"]["task"]["contextId"])
    answered = _send(cli, sandbox_grpc.url, "here you are", second, *ids)
    assert (answered["taskId"], answered["state"]) == (started["taskId"], "completed")
    raws = [_get(cli, sandbox_grpc.url, started["taskId"], b)["raw"] for b in BINDINGS]
    assert raws[0] == raws[1] == raws[2]
    assert [m["parts"][0]["text"] for m in raws[0]["history"] if m["role"] == "ROLE_USER"] == [
        "/input",
        "here you are",
    ]


def _page(cli: Any, url: str, binding: str, context: str, token: str | None = None) -> dict[str, Any]:
    args = ["task", "list", url, "--binding", binding, "--context-id", context, "--page-size", "2"]
    doc: dict[str, Any] = _ok(cli(*args, *(["--page-token", token] if token else []), "-o", "json"))
    return doc


def test_list_tasks_pages_the_same_and_tokens_cross_bindings(
    cli: Any, sandbox_grpc_fresh: RunningSandbox
) -> None:
    url = sandbox_grpc_fresh.url
    context = "equivalence-" + uuid.uuid4().hex[:8]
    sent = [
        _send(cli, url, text, b, "--context-id", context)
        for b, text in zip(BINDINGS, ("a", "/fail", "c"), strict=True)
    ]
    firsts = {b: _page(cli, url, b, context) for b in BINDINGS}
    strip = [{k: v for k, v in d.items() if k not in ("method", "traceId")} for d in firsts.values()]
    assert strip[0] == strip[1] == strip[2]
    assert strip[0]["totalSize"] == 3 and len(strip[0]["tasks"]) == 2
    token = strip[0]["nextPageToken"]
    assert token
    # the page token of one binding continues the listing on the others
    rests = [_page(cli, url, b, context, token) for b in BINDINGS]
    assert (
        [t["id"] for t in rests[0]["tasks"]]
        == [t["id"] for t in rests[1]["tasks"]]
        == [t["id"] for t in rests[2]["tasks"]]
    )
    listed = [t["id"] for t in strip[0]["tasks"]] + [t["id"] for t in rests[0]["tasks"]]
    assert sorted(listed) == sorted(s["taskId"] for s in sent)


def test_an_unknown_task_is_the_same_error_on_every_binding(cli: Any, sandbox_grpc: RunningSandbox) -> None:
    errors = {}
    for b in BINDINGS:
        r = cli("task", "get", sandbox_grpc.url, "no-such-task", "--binding", b, "-o", "json")
        assert r.exit_code == 1, (b, r.stderr)
        errors[b] = r.json["error"]
    keep = [
        (e["code"], e["a2aCode"], e["exitCode"], e["hint"], e["details"]["reason"]) for e in errors.values()
    ]
    assert (
        keep[0]
        == keep[1]
        == keep[2]
        == (
            "a2a_error",
            -32001,
            1,
            "no task with that id (expired, another tenant, or never created)",
            "TASK_NOT_FOUND",
        )
    )
    assert errors["GRPC"]["details"]["grpcStatus"] == "NOT_FOUND"
    assert "grpcStatus" not in errors["JSONRPC"]["details"]


def _v03_grpc_task(target: str, task_id: str) -> pb03.Task:
    async def go() -> pb03.Task:
        async with grpc.aio.insecure_channel(target) as channel:
            task: pb03.Task = await pb03_grpc.A2AServiceStub(channel).GetTask(
                pb03.GetTaskRequest(name=f"tasks/{task_id}")
            )
            return task

    return asyncio.run(go())


def test_the_0_3_grpc_service_and_0_3_http_bindings_describe_the_same_task(
    cli: Any, sandbox_grpc: RunningSandbox
) -> None:
    task_id = _send(cli, sandbox_grpc.url, "old clients", "JSONRPC")["taskId"]
    over_grpc = _v03_grpc_task(str(sandbox_grpc.grpc_url), task_id)
    # 0.3 JSON-RPC names states in lowercase; 0.3 HTTP+JSON is the 0.3 proto's JSON, like 0.3 gRPC
    state = pb03.TaskState.Name(over_grpc.status.state)
    assert state == "TASK_STATE_COMPLETED"
    for b, expected in (("JSONRPC", "completed"), ("HTTP+JSON", state)):
        r = cli(
            "task", "get", sandbox_grpc.url, task_id, "--binding", b, "--a2a-version", "0.3", "-o", "json"
        )
        raw = _ok(r)["raw"]
        assert (raw["id"], raw["contextId"], raw["status"]["state"]) == (
            over_grpc.id,
            over_grpc.context_id,
            expected,
        )
        texts = ["".join(p["text"] for p in a["parts"]) for a in raw["artifacts"]]
        assert (
            texts == ["".join(p.text for p in a.parts) for a in over_grpc.artifacts] == ["echo: old clients"]
        )
