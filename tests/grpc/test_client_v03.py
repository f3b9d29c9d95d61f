"""A2A 0.3 over gRPC (#18: "both 1.0 and, where the SDK serves it, 0.3 gRPC"): ``--binding GRPC
--a2a-version 0.3`` speaks ``a2a.v1.A2AService`` (a2a-sdk's ``CompatGrpcHandler`` in the sandbox) with
the 0.3 JSON-RPC shapes in and out."""

from __future__ import annotations

import json
import shlex

from tests.grpc.views import task_views

V03 = ("--binding", "GRPC", "--a2a-version", "0.3")
SERVICE = "/a2a.v1.A2AService/"


def test_send_over_03_grpc_answers_the_03_task_shape(cli, sandbox_grpc):
    r = cli("send", sandbox_grpc.url, "hi", *V03, "-o", "json")
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["method"] == SERVICE + "SendMessage"
    assert doc["state"] == "completed"
    raw = doc["raw"]
    assert (raw["kind"], raw["status"]["state"]) == ("task", "completed")
    assert doc["result"]["artifacts"][0]["text"] == "echo: hi"


def test_the_same_task_over_03_grpc_and_03_jsonrpc(cli, sandbox_grpc):
    task_id = cli("send", sandbox_grpc.url, "hi", *V03, "-o", "json").json["taskId"]
    views = task_views(cli, sandbox_grpc.url, task_id, ("GRPC", "JSONRPC"), "0.3")
    assert views["GRPC"]["method"] == SERVICE + "GetTask"
    assert views["JSONRPC"]["method"] == "tasks/get"
    g, j = views["GRPC"]["raw"], views["JSONRPC"]["raw"]
    assert (
        (g["id"], g["kind"], g["status"]["state"])
        == (j["id"], j["kind"], j["status"]["state"])
        == (
            task_id,
            "task",
            "completed",
        )
    )
    assert views["GRPC"]["task"] == views["JSONRPC"]["task"]


def test_not_found_over_03_grpc(cli, sandbox_grpc):
    """a2a-sdk's 0.3 service sends no ErrorInfo, only "TaskNotFoundError: Task not found": the name
    gives the code, and the message is not repeated."""
    r = cli("task", "get", sandbox_grpc.url, "nope", *V03, "-o", "json")
    assert r.exit_code == 1
    err = r.json["error"]
    assert (err["a2aCode"], err["details"]["grpcStatus"]) == (-32001, "NOT_FOUND")
    assert err["message"] == f"{SERVICE}GetTask: -32001 TaskNotFoundError: Task not found (gRPC NOT_FOUND)"


def test_cancel_and_subscribe_over_03_grpc(cli, sandbox_grpc_fresh):
    url = sandbox_grpc_fresh.url
    started = cli("send", url, "/slow 3", *V03, "--no-wait", "-o", "json")
    assert started.exit_code == 0, started.stderr
    task_id = started.json["taskId"]
    canceled = cli("task", "cancel", url, task_id, *V03, "-o", "json")
    assert canceled.exit_code == 0, canceled.stderr
    assert canceled.json["method"] == SERVICE + "CancelTask"
    assert canceled.json["raw"]["status"]["state"] == "canceled"
    ended = cli("stream", "tail", url, "--task", task_id, *V03, "-o", "json")
    assert ended.exit_code == 1
    assert "already ended (canceled)" in ended.json["error"]["message"]


def test_stream_tail_over_03_grpc(cli, sandbox_grpc):
    r = cli("stream", "tail", sandbox_grpc.url, "--send", "hi", *V03, "-o", "jsonl")
    assert r.exit_code == 0, r.stderr
    summary = r.jsonl[-1]
    assert (summary["outcome"], summary["finalState"], summary["violations"]) == (
        "completed",
        "completed",
        [],
    )


def test_list_tasks_does_not_exist_in_03(cli, sandbox_grpc):
    r = cli("task", "list", sandbox_grpc.url, *V03, "-o", "json")
    assert r.exit_code == 2
    assert "ListTasks does not exist in A2A 0.3" in r.json["error"]["message"]


def test_dry_run_over_03_grpc_shows_the_03_proto_message(cli, sandbox_grpc):
    r = cli("send", sandbox_grpc.url, "hi", *V03, "--dry-run", "--message-id", "m-1", "-o", "json")
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["headers"]["a2a-version"] == "0.3"
    assert doc["body"]["message"] == {"messageId": "m-1", "role": "ROLE_USER", "content": [{"text": "hi"}]}
    argv = shlex.split(doc["grpcurl"])
    assert argv[-1] == "a2a.v1.A2AService/SendMessage"
    assert json.loads(argv[argv.index("-d") + 1]) == doc["body"]


def test_probe_over_03_grpc(cli, sandbox_grpc):
    r = cli("handshake", "probe", sandbox_grpc.url, *V03, "-o", "json")
    assert r.exit_code == 0, r.stderr
    [s] = r.json["samples"]
    assert s["negotiated"]["protocolVersion"] == "0.3"
    assert s["rpc"]["method"] == SERVICE + "GetTask" and s["rpc"]["healthy"] is True
