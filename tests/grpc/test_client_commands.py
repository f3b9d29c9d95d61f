"""The CLI over the gRPC binding (#18, client side): send, task get|list|cancel, stream tail (send and
subscribe), send --dry-run's grpcurl line, against the sandbox's real gRPC interface and a plain a2a-sdk
gRPC agent on loopback. Exit codes and parsed JSON, as the HTTP tests assert them."""

from __future__ import annotations

import shlex

import pytest

from tests.conftest import TOKEN
from tests.grpc.views import task_views

GRPC = ("--binding", "GRPC")
SERVICE = "/lf.a2a.v1.A2AService/"


def _send(cli, url: str, text: str = "hi", *extra: str):
    return cli("send", url, text, *GRPC, "-o", "json", *extra)


def test_send_over_grpc_completes_and_names_the_rpc(cli, sandbox_grpc):
    r = _send(cli, sandbox_grpc.url)
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["method"] == SERVICE + "SendMessage"
    assert doc["state"] == "completed"
    assert doc["result"]["artifacts"][0]["text"] == "echo: hi"
    assert doc["raw"]["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


def test_same_task_over_every_binding(cli, sandbox_grpc):
    """Binding equivalence (the conformance kit's idea): a task sent over gRPC reads the same over
    JSON-RPC, HTTP+JSON and gRPC (one task store behind the three)."""
    sent = _send(cli, sandbox_grpc.url)
    assert sent.exit_code == 0, sent.stderr
    task_id = sent.json["taskId"]
    views = task_views(cli, sandbox_grpc.url, task_id, ("JSONRPC", "HTTP+JSON", "GRPC"), "1.0")
    assert views["GRPC"]["method"] == SERVICE + "GetTask"
    raws = {b: v["raw"] for b, v in views.items()}
    assert raws["GRPC"]["id"] == task_id
    assert raws["GRPC"] == raws["JSONRPC"] == raws["HTTP+JSON"]


def test_task_list_and_cancel_over_grpc(cli, sandbox_grpc_fresh):
    url = sandbox_grpc_fresh.url
    running = cli("send", url, "/slow 5", *GRPC, "--no-wait", "-o", "json")
    assert running.exit_code == 0, running.stderr
    task_id = running.json["taskId"]
    listed = cli("task", "list", url, *GRPC, "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    assert listed.json["method"] == SERVICE + "ListTasks"
    assert task_id in [t["id"] for t in listed.json["tasks"]]
    canceled = cli("task", "cancel", url, task_id, *GRPC, "-o", "json")
    assert canceled.exit_code == 0, canceled.stderr
    assert canceled.json["method"] == SERVICE + "CancelTask"
    assert canceled.json["raw"]["status"]["state"] == "TASK_STATE_CANCELED"


def test_task_not_found_is_the_jsonrpc_error_with_the_grpc_status(cli, sandbox_grpc):
    r = cli("task", "get", sandbox_grpc.url, "no-such-task", *GRPC, "-o", "json")
    assert r.exit_code == 1
    err = r.json["error"]
    assert err["a2aCode"] == -32001
    assert {k: err["details"][k] for k in ("reason", "grpcStatus")} == {
        "reason": "TASK_NOT_FOUND",
        "grpcStatus": "NOT_FOUND",
    }
    assert [d.get("reason") for d in err["details"]["data"]] == ["TASK_NOT_FOUND"]  # the status details
    assert "TaskNotFoundError" in err["message"]


def test_cancel_of_a_completed_task_is_not_cancelable(cli, sandbox_grpc):
    task_id = _send(cli, sandbox_grpc.url).json["taskId"]
    r = cli("task", "cancel", sandbox_grpc.url, task_id, *GRPC, "-o", "json")
    assert r.exit_code == 1
    err = r.json["error"]
    assert (err["a2aCode"], err["details"]["grpcStatus"]) == (-32002, "FAILED_PRECONDITION")


def test_invalid_params_over_grpc(cli, sandbox_grpc):
    r = cli("task", "list", sandbox_grpc.url, *GRPC, "--page-size", "500", "-o", "json")
    assert r.exit_code == 1
    err = r.json["error"]
    assert (err["a2aCode"], err["details"]["reason"], err["details"]["grpcStatus"]) == (
        -32602,
        "INVALID_PARAMS",
        "INVALID_ARGUMENT",
    )


def test_subscribe_to_an_ended_task_is_unsupported(cli, sandbox_grpc):
    """SubscribeToTask on a terminal task: UNSUPPORTED_OPERATION (-32004, FAILED_PRECONDITION), which
    stream tail explains with GetTask (over gRPC too)."""
    task_id = _send(cli, sandbox_grpc.url).json["taskId"]
    r = cli("stream", "tail", sandbox_grpc.url, "--task", task_id, *GRPC, "-o", "json")
    assert r.exit_code == 1
    err = r.json["error"]
    assert err["a2aCode"] == -32004
    assert "already ended (completed)" in err["message"]


def test_unauthenticated_is_exit_4_and_the_token_goes_as_metadata(cli, sandbox_grpc_auth):
    denied = _send(cli, sandbox_grpc_auth.url)
    assert denied.exit_code == 4
    assert denied.json["error"]["details"]["grpcStatus"] == "UNAUTHENTICATED"
    ok = cli("send", sandbox_grpc_auth.url, "hi", *GRPC, "-o", "json", env={"A2ACTL_TOKEN": TOKEN})
    assert ok.exit_code == 0, ok.stderr
    assert ok.json["state"] == "completed"
    assert TOKEN not in ok.stdout + ok.stderr


def test_deadline_exceeded_is_exit_5_naming_the_task(cli, sandbox_grpc):
    """--timeout is the RPC deadline: a blocking send slower than it is DEADLINE_EXCEEDED (exit 5), and
    ListTasks (over gRPC) finds the task the message started."""
    r = cli("send", sandbox_grpc.url, "/slow 3", *GRPC, "--timeout", "0.5", "-o", "json")
    assert r.exit_code == 5
    err = r.json["error"]
    assert err["code"] == "timeout"
    assert "DEADLINE_EXCEEDED" in err["message"]
    assert "no answer within 0.5s" in err["message"]  # our deadline, not the agent's own
    assert err["details"].get("taskId"), err


def test_unavailable_is_exit_3(cli, sandbox_grpc_down):
    r = _send(cli, sandbox_grpc_down.url)
    assert r.exit_code == 3
    assert r.json["error"]["details"]["grpcStatus"] == "UNAVAILABLE"


def test_nothing_listening_on_the_grpc_port_is_exit_3(cli, tmp_path):
    import json
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    card = tmp_path / "card.json"
    card.write_text(
        json.dumps(
            {
                "name": "gone",
                "description": "d",
                "version": "1",
                "supportedInterfaces": [
                    {"url": f"127.0.0.1:{port}", "protocolBinding": "GRPC", "protocolVersion": "1.0"}
                ],
                "capabilities": {},
                "defaultInputModes": ["text/plain"],
                "defaultOutputModes": ["text/plain"],
                "skills": [],
            }
        )
    )
    r = cli("send", str(card), "hi", *GRPC, "--connect-timeout", "3", "-o", "json")
    assert r.exit_code == 3, r.stdout + r.stderr
    assert r.json["error"]["code"] == "unreachable"


def test_stream_tail_send_over_grpc(cli, sandbox_grpc):
    r = cli("stream", "tail", sandbox_grpc.url, "--send", "hi", *GRPC, "-o", "jsonl")
    assert r.exit_code == 0, r.stderr
    records = r.jsonl
    events = [x for x in records if x["type"] == "event"]
    summary = records[-1]
    assert summary["type"] == "summary"
    assert (summary["outcome"], summary["finalState"], summary["events"]) == (
        "completed",
        "completed",
        len(events),
    )
    assert events[0]["kind"] == "task" and events[-1]["state"] == "completed"
    assert all(e["bytes"] > 0 for e in events)


def test_stream_cut_by_the_server_is_a_cut_and_resubscribed(cli, sandbox_grpc_streams):
    """The server ends SendStreamingMessage with UNAVAILABLE after 3 events: a cut, then
    SubscribeToTask over gRPC follows the task to its end (as after an SSE cut)."""
    r = cli("stream", "tail", sandbox_grpc_streams.url, "--send", "/stream 60 100", *GRPC, "-o", "jsonl")
    records = r.jsonl
    summary = records[-1]
    kinds = [x["type"] for x in records]
    assert "cut" in kinds and "reconnect" in kinds
    assert kinds.index("cut") < kinds.index("reconnect")
    cut = next(x for x in records if x["type"] == "cut")
    assert "UNAVAILABLE" in cut["reason"] and "after 3 event(s)" in cut["reason"]
    reconnect = next(x for x in records if x["type"] == "reconnect")
    assert reconnect["via"] == "SubscribeToTask"
    assert summary["outcome"] == "recovered" and summary["finalState"] == "completed"
    assert r.exit_code == (7 if summary["missed"] else 0)  # missed events are exit 7, as over SSE


def test_send_stream_over_grpc(cli, sandbox_grpc):
    r = cli("send", sandbox_grpc.url, "hi", "--stream", *GRPC, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["method"] == SERVICE + "SendStreamingMessage"
    assert r.json["state"] == "completed"


def test_dry_run_prints_grpcurl_with_secrets_masked(cli, sandbox_grpc):
    r = cli(
        "send",
        sandbox_grpc.url,
        "hi",
        *GRPC,
        "--dry-run",
        "-H",
        "X-Api-Key: k3y-value-123",
        "-H",
        "A2A-Extensions: urn:x",
        "-o",
        "json",
        env={"A2ACTL_TOKEN": TOKEN},
    )
    assert r.exit_code == 0, r.stderr
    doc = r.json
    assert doc["method"] == SERVICE + "SendMessage"
    assert doc["url"] == sandbox_grpc.grpc_url
    assert doc["headers"]["a2a-version"] == "1.0"
    assert doc["headers"]["a2a-extensions"] == "urn:x"
    assert doc["headers"]["authorization"] == "Bearer $A2ACTL_TOKEN"
    assert doc["headers"]["x-api-key"].startswith("$A2ACTL_HEADER_")
    argv = shlex.split(doc["grpcurl"], posix=True)
    assert argv[0] == "grpcurl" and "-plaintext" in argv
    assert argv[-2:] == [sandbox_grpc.grpc_url, "lf.a2a.v1.A2AService/SendMessage"]
    import json

    assert json.loads(argv[argv.index("-d") + 1]) == doc["body"]
    assert TOKEN not in r.stdout and "k3y-value-123" not in r.stdout
    shown = cli(
        "send",
        sandbox_grpc.url,
        "hi",
        *GRPC,
        "--dry-run",
        "--show-secrets",
        "-o",
        "json",
        env={"A2ACTL_TOKEN": TOKEN},
    )
    assert shown.json["headers"]["authorization"] == f"Bearer {TOKEN}"


def test_plain_sdk_agent_grpc_only_card_auto_selects_grpc(cli, sdk_grpc_agent):
    r = cli("send", sdk_grpc_agent.url, "hi", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["method"] == SERVICE + "SendMessage"
    assert r.json["state"] == "completed"
    tail = cli("stream", "tail", sdk_grpc_agent.url, "--send", "hi", "-o", "jsonl")
    assert tail.exit_code == 0, tail.stderr
    assert tail.jsonl[-1]["finalState"] == "completed"


def test_plain_sdk_agent_over_tls_with_cacert(cli, sdk_grpc_agent_tls):
    r = cli("send", sdk_grpc_agent_tls.url, "hi", *GRPC, "--cacert", sdk_grpc_agent_tls.ca_path, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["state"] == "completed"


def test_plain_sdk_agent_over_tls_without_cacert_is_unreachable(cli, sdk_grpc_agent_tls):
    """A bare host:port is plaintext unless TLS options are given (docs/grpc.md): plaintext to a TLS
    port fails as UNAVAILABLE (exit 3), never as an agent error."""
    r = cli("send", sdk_grpc_agent_tls.url, "hi", *GRPC, "--connect-timeout", "3", "-o", "json")
    assert r.exit_code == 3, r.stdout


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_other_bindings_unchanged_on_a_card_with_grpc(cli, sandbox_grpc, binding):
    r = cli("task", "get", sandbox_grpc.url, "no-such-task", "--binding", binding, "-o", "json")
    assert r.exit_code == 1
    assert r.json["error"]["a2aCode"] == -32001
    assert "grpcStatus" not in r.json["error"]["details"]


def test_auto_keeps_jsonrpc_on_the_sandbox(cli, sandbox_grpc):
    r = cli("send", sandbox_grpc.url, "hi", "-o", "json")
    assert r.exit_code == 0
    assert r.json["method"] == "SendMessage"


def test_subscribe_to_a_running_task_over_grpc(cli, sandbox_grpc):
    started = cli("send", sandbox_grpc.url, "/slow 1", *GRPC, "--no-wait", "-o", "json")
    assert started.exit_code == 0, started.stderr
    r = cli("stream", "tail", sandbox_grpc.url, "--task", started.json["taskId"], *GRPC, "-o", "jsonl")
    assert r.exit_code == 0, r.stderr
    records = r.jsonl
    assert records[0]["type"] == "event" and records[0]["kind"] == "task"
    assert (records[-1]["outcome"], records[-1]["finalState"]) == ("completed", "completed")


def test_auto_follows_the_card_order_on_a_grpc_first_card(cli, sdk_grpc_agent_jsonrpc):
    """A card that lists GRPC first: --binding auto takes it (card order among the bindings a2actl
    speaks); --binding JSONRPC still picks JSON-RPC."""
    auto = cli("send", sdk_grpc_agent_jsonrpc.url, "hi", "-o", "json")
    assert auto.exit_code == 0, auto.stderr
    assert auto.json["method"] == SERVICE + "SendMessage"
    jsonrpc = cli("send", sdk_grpc_agent_jsonrpc.url, "hi", "--binding", "JSONRPC", "-o", "json")
    assert jsonrpc.exit_code == 0, jsonrpc.stderr
    assert jsonrpc.json["method"] == "SendMessage"


def test_grpc_takes_no_proxy_from_the_environment(cli, sandbox_grpc, monkeypatch):
    """grpcio took ``grpc_proxy``/``https_proxy``/``http_proxy`` by default: the card came direct (httpx
    and aiohttp use no proxy variables) and the RPC went through the proxy (a CONNECT to the gRPC
    port). No a2actl connection uses a proxy from the environment now."""
    from tests.servers import RecordingProxy

    with RecordingProxy() as proxy:
        for var in ("grpc_proxy", "https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY"):
            monkeypatch.setenv(var, proxy.url)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_grpc_proxy", raising=False)
        r = _send(cli, sandbox_grpc.url)
    assert r.exit_code == 0, r.stderr
    assert r.json["method"] == SERVICE + "SendMessage"
    assert proxy.seen == []
