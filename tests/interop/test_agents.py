"""The interop agents work as specified: plain httpx (no a2actl), parsed JSON only.

Wire facts observed on 127.0.0.1 (a2a-sdk 0.3.26 with fastapi 0.165 / starlette 1.10 / sse-starlette 3.7;
@a2a-js/sdk 1.3.0 with express 5.3.0; ids shortened to ``<id>``). Each is asserted below unless marked
"not asserted".

a2a-sdk 0.3.26, HTTP+JSON (``A2ARESTFastAPIApplication``, base ``/a2a/rest``; never reads ``A2A-Version``):

* ``POST /v1/message:send`` without ``configuration.blocking`` (no ``configuration``, or ``{}``) is
  NON-blocking: ``200 application/json`` ``{"task":{"id":…,"status":{"state":"TASK_STATE_SUBMITTED"},"history":[…]}}``;
  the task completes in the background (``GET /v1/tasks/{id}`` later says ``TASK_STATE_COMPLETED``). The proto
  ``SendMessageConfiguration.blocking`` defaults to false and the SDK passes it through. With
  ``"configuration":{"blocking":true}`` the answer is the finished task. (JSON-RPC ``message/send``
  without ``configuration`` blocks: there the SDK only goes non-blocking on an explicit ``blocking: false``.)
* TaskNotFound (``GET /v1/tasks/nope``, ``POST /v1/tasks/nope:cancel``): ``404``, ``content-type: application/json``,
  body ``{"message":"Task not found"}``.
  A route that does not exist (``GET /nope``, ``GET /a2a/rest/v1/nope``): ``404``, ``application/json``,
  body ``{"detail":"Not Found"}`` (FastAPI). Tell them apart by the key: ``message`` vs ``detail``.
* Cancel of a finished task, ``POST /v1/tasks/{id}:cancel``: ``409``, ``application/json``,
  ``{"message":"Task cannot be canceled - current state: TaskState.completed"}``
  (JSON-RPC ``tasks/cancel``: HTTP 200, ``{"error":{"code":-32002,"message":"Task cannot be canceled - current state: TaskState.completed"},"id":…,"jsonrpc":"2.0"}``).
* Subscribe to a finished task, ``GET /v1/tasks/{id}:subscribe``: ``200``, ``content-type: text/event-stream; charset=utf-8``,
  then the connection is dropped with no event and no terminating chunk (httpx: ``RemoteProtocolError: peer
  closed connection without sending complete message body (incomplete chunked read)``; curl exit 18). The
  SDK raises InvalidParams "Task <id> is in terminal state: completed" inside the SSE generator, after the
  headers went out; an unknown id does exactly the same (TaskNotFound raised there too).
  ``POST /v1/tasks/{id}:subscribe``: ``405``, ``allow: GET``, ``application/json`` ``{"detail":"Method Not Allowed"}``.
  (JSON-RPC ``tasks/resubscribe`` of a finished task: ``200 text/event-stream``, one frame
  ``data: {"error":{"code":-32602,"message":"Task <id> is in terminal state: completed"},"id":…,"jsonrpc":"2.0"}``, then close.)
* Other: states ``TASK_STATE_*`` with ``TASK_STATE_CANCELLED``; message parts are ``content`` (artifact
  parts stay ``parts``); a Message answer is ``{"message":{…}}``; SSE ``data:`` is pretty-printed proto
  JSON over several ``data:`` lines per event, the last status update carries ``"final": true``.
* JSON-RPC: TaskNotFound ``{"error":{"code":-32001,"message":"Task not found"},"id":…,"jsonrpc":"2.0"}``
  (no ``data``); a 1.0 method name (``SendMessage``) is ``-32601 "Method not found"``. The card is also
  served at the deprecated ``/.well-known/agent.json`` (200).

@a2a-js/sdk 1.3.0, A2A 1.0 (``agent_js``; the same on ``agent_js_compat`` with ``A2A-Version: 1.0``):

* TaskNotFound, ``GET /a2a/rest/tasks/nope``: ``404``, ``application/a2a+json; charset=utf-8``,
  ``{"error":{"code":404,"status":"NOT_FOUND","message":"Task not found: nope","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"TASK_NOT_FOUND","domain":"a2a-protocol.org"}]}}``.
  A route that does not exist: ``404``, ``text/html; charset=utf-8``, express's page
  ``<!DOCTYPE html>…<pre>Cannot GET /a2a/rest/nope</pre>…``.
* Cancel of a finished task, ``POST /a2a/rest/tasks/{id}:cancel``: ``400``, ``application/a2a+json``,
  ``{"error":{"code":400,"status":"FAILED_PRECONDITION","message":"Task not cancelable: <id>","details":[{…"reason":"TASK_NOT_CANCELABLE"…}]}}``.
* Subscribe to a finished task, ``GET`` and ``POST /a2a/rest/tasks/{id}:subscribe`` alike: ``400``,
  ``application/a2a+json``, ``{"error":{"code":400,"status":"FAILED_PRECONDITION","message":"Task <id> is in a terminal state (3) and cannot be subscribed to.","details":[{…"reason":"UNSUPPORTED_OPERATION"…}]}}``
  (JSON-RPC ``SubscribeToTask``: a plain ``200 application/json`` error, not SSE, ``-32004`` same message, ``data`` ErrorInfo).
* JSON-RPC TaskNotFound: ``{"jsonrpc":"2.0","id":…,"error":{"code":-32001,"message":"Task not found: nope","data":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"TASK_NOT_FOUND","domain":"a2a-protocol.org"}]}}``.
* REST send blocks unless ``configuration.returnImmediately`` (``blocking`` is not a 1.0 field; ignored). REST
  needs ``Content-Type: application/json`` or ``application/a2a+json`` (else 400 ``CONTENT_TYPE_NOT_SUPPORTED``);
  answers are ``application/a2a+json``.
* Without compat there are no 0.3 REST routes, yet ``POST /a2a/rest/v1/message:send`` matches the 1.0 tenant
  route ``/{tenant}/message:send``: with ``A2A-Version: 1.0`` it is ``200``, a send for tenant ``v1`` whose 0.3
  ``content`` parts were dropped (the task completes with an empty user message); header-less it is the 400 below.
* Without compat, a header-less request is 0.3 and refused: JSON-RPC (``SendMessage`` and ``message/send``)
  ``-32009 "The requested A2A protocol version '0.3' is not supported. Supported versions: 1.0"``, REST
  ``400 FAILED_PRECONDITION`` reason ``VERSION_NOT_SUPPORTED``. The card is the same 1.0 card with or without
  the header (no ``Vary``).

@a2a-js/sdk 1.3.0 with ``legacyCompat`` (``agent_js_compat``), 0.3 side (no ``A2A-Version`` header):

* The card must also list 0.3 ``supportedInterfaces`` entries (not asserted: with only 1.0 ones the header-less card is
  ``400 {"code":-32009,"message":"AgentCard must have at least one interface with a protocol version in [0.3, 1.0)."}``).
  Header-less card: 0.3 fields (``protocolVersion: "0.3"``, ``url``, ``preferredTransport``,
  ``additionalInterfaces``) plus ``supportedInterfaces``; ``Vary: A2A-Version``.
* ``POST /a2a/rest/v1/message:send`` answers ``201 Created`` (``application/json``). It blocks when the body has
  no ``configuration`` at all or ``"blocking": true``; a ``configuration`` without ``blocking`` (``{}``,
  ``{"historyLength":5}``) is NON-blocking (``TASK_STATE_SUBMITTED``), like a2a-sdk 0.3.
* TaskNotFound, ``GET /a2a/rest/v1/tasks/nope``: ``404``, ``application/json; charset=utf-8``,
  ``{"code":-32001,"message":"Task not found: nope"}`` (with ``A2A-Version: 1.0`` the same path gives the 1.0
  ``google.rpc.Status`` body). Unknown route: express's ``404 text/html`` ``Cannot GET /a2a/rest/v1/nope``.
* Cancel of a finished task, ``POST /a2a/rest/v1/tasks/{id}:cancel``: ``400``, ``application/json``,
  ``{"code":-32002,"message":"Task not cancelable: <id>"}``.
* Subscribe to a finished task, ``GET`` and ``POST /a2a/rest/v1/tasks/{id}:subscribe``: ``400``, ``application/json``,
  ``{"code":-32004,"message":"Task <id> is in a terminal state (3) and cannot be subscribed to."}``; unknown id
  ``404 {"code":-32001,"message":"Task not found: nope"}``.
* JSON-RPC 0.3: TaskNotFound ``{"jsonrpc":"2.0","id":…,"error":{"code":-32001,"message":"Task not found: nope"}}``;
  ``tasks/resubscribe`` of a finished task: ``200 text/event-stream``, one frame ``event: error`` +
  ``data: {"jsonrpc":"2.0","id":…,"error":{"code":-32004,"message":"Task <id> is in a terminal state (3) and cannot be subscribed to."}}``;
  a header-less ``SendMessage`` is ``-32601 "Method not found: SendMessage"``; a 0.3 method with
  ``A2A-Version: 1.0`` is ``-32601 "Invalid method."``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.interop.conftest import InteropAgent

V1 = {"A2A-Version": "1.0"}
#: One client for the module (creating one per request costs an SSL context each); no keep-alive, so a
#: connection an agent dropped or timed out is never reused.
http = httpx.Client(timeout=30, limits=httpx.Limits(max_keepalive_connections=0))
TERMINAL_03 = {"completed", "failed", "canceled", "rejected"}


def _id() -> str:
    return uuid.uuid4().hex


def rpc(
    agent: InteropAgent, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    rid = _id()
    r = http.post(
        agent.jsonrpc_url,
        json={"jsonrpc": "2.0", "id": rid, "method": method, "params": params},
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["jsonrpc"] == "2.0" and doc["id"] == rid
    return doc


def msg03(text: str) -> dict[str, Any]:
    """A 0.3 JSON-RPC message."""
    return {"kind": "message", "messageId": _id(), "role": "user", "parts": [{"kind": "text", "text": text}]}


def msg03_rest(text: str) -> dict[str, Any]:
    """A 0.3 HTTP+JSON (proto JSON) message: parts are ``content``."""
    return {"messageId": _id(), "role": "ROLE_USER", "content": [{"text": text}]}


def msg10(text: str) -> dict[str, Any]:
    return {"messageId": _id(), "role": "ROLE_USER", "parts": [{"text": text}]}


def sse(r: httpx.Response) -> list[tuple[str, Any]]:
    """(event name, parsed data) for every SSE event in a fully read response."""
    events, name, data = [], "message", []
    for line in r.text.replace("\r\n", "\n").split("\n"):
        if line == "":
            if data:
                events.append((name, json.loads("\n".join(data))))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "data":
                data.append(value)
            elif key == "event":
                name = value
    return events


def json_body(r: httpx.Response, status: int, content_type: str) -> Any:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].split(";")[0].strip() == content_type, r.headers["content-type"]
    return r.json()


def texts(parts: list[dict[str, Any]]) -> list[str]:
    return [p["text"] for p in parts]


# ---------------------------------------------------------------------------------------------------
# a2a-sdk 0.3.26
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["agent_sdk03", "agent_sdk03_rest"])
def test_sdk03_card(which: str, request: pytest.FixtureRequest) -> None:
    agent: InteropAgent = request.getfixturevalue(which)
    assert agent.sdk == "a2a-sdk 0.3.26" and agent.versions == ("0.3",)
    card = json_body(http.get(agent.card_url), 200, "application/json")
    assert card["protocolVersion"] == "0.3.0"
    assert "supportedInterfaces" not in card
    assert card["capabilities"]["streaming"] is True
    assert card["preferredTransport"] == agent.preferred
    assert card["url"] == (agent.jsonrpc_url if agent.preferred == "JSONRPC" else agent.rest_url)
    assert {(i["transport"], i["url"]) for i in card["additionalInterfaces"]} == {
        ("JSONRPC", agent.jsonrpc_url),
        ("HTTP+JSON", agent.rest_url),
    }
    # a2a-sdk 0.3 still serves the pre-0.3 path too
    assert json_body(http.get(f"{agent.url}/.well-known/agent.json"), 200, "application/json") == card


def test_sdk03_jsonrpc(agent_sdk03: InteropAgent) -> None:
    agent = agent_sdk03
    agent.clear_requests()
    task = rpc(agent, "message/send", {"message": msg03("hello")})["result"]
    assert task["kind"] == "task" and task["status"]["state"] == "completed"
    assert [texts(a["parts"]) for a in task["artifacts"]] == [["echo: ", "hello"]]
    assert task["artifacts"][0]["artifactId"] == "echo-artifact"
    for text, state in [
        ("/fail", "failed"),
        ("/input", "input-required"),
        ("/auth", "auth-required"),
        ("/reject", "rejected"),
        ("/cancel", "canceled"),
    ]:
        assert rpc(agent, "message/send", {"message": msg03(text)})["result"]["status"]["state"] == state, (
            text
        )
    answer = rpc(agent, "message/send", {"message": msg03("/msg hi there")})["result"]
    assert answer["kind"] == "message" and answer["role"] == "agent"
    assert texts(answer["parts"]) == ["echo: hi there"]
    got = rpc(agent, "tasks/get", {"id": task["id"]})["result"]
    assert got["id"] == task["id"] and got["status"]["state"] == "completed"
    assert rpc(agent, "tasks/get", {"id": "nope"})["error"] == {"code": -32001, "message": "Task not found"}
    assert rpc(agent, "tasks/cancel", {"id": task["id"]})["error"] == {
        "code": -32002,
        "message": "Task cannot be canceled - current state: TaskState.completed",
    }
    assert rpc(agent, "SendMessage", {"message": msg10("hi")})["error"] == {
        "code": -32601,
        "message": "Method not found",
    }
    log = agent.requests()
    assert [e["rpc_method"] for e in log] == ["message/send"] * 7 + ["tasks/get"] * 2 + [
        "tasks/cancel",
        "SendMessage",
    ]
    assert all(
        e["method"] == "POST"
        and e["path"] == "/a2a/jsonrpc"
        and e["a2a_version"] is None
        and e["status"] == 200
        for e in log
    )


def test_sdk03_jsonrpc_stream_and_resubscribe(agent_sdk03: InteropAgent) -> None:
    r = http.post(
        agent_sdk03.jsonrpc_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "message/stream", "params": {"message": msg03("hi")}},
        timeout=30,
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    results = [data["result"] for _, data in sse(r)]
    assert [e["kind"] for e in results] == [
        "task",
        "status-update",
        "artifact-update",
        "artifact-update",
        "status-update",
    ]
    assert results[-1]["status"]["state"] == "completed" and results[-1]["final"] is True
    tid = results[0]["id"]
    r = http.post(
        agent_sdk03.jsonrpc_url,
        json={"jsonrpc": "2.0", "id": 2, "method": "tasks/resubscribe", "params": {"id": tid}},
        timeout=30,
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert sse(r) == [
        (
            "message",
            {
                "error": {"code": -32602, "message": f"Task {tid} is in terminal state: completed"},
                "id": 2,
                "jsonrpc": "2.0",
            },
        )
    ]


def rest03_send(
    agent: InteropAgent, text: str, configuration: dict[str, Any] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"message": msg03_rest(text)}
    if configuration is not None:
        body["configuration"] = configuration
    return http.post(f"{agent.rest_url}/v1/message:send", json=body, timeout=30)


def test_sdk03_rest_blocking(agent_sdk03_rest: InteropAgent) -> None:
    agent = agent_sdk03_rest
    agent.clear_requests()
    task = json_body(rest03_send(agent, "hello", {"blocking": True}), 200, "application/json")["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert [texts(a["parts"]) for a in task["artifacts"]] == [["echo: ", "hello"]]
    assert texts(task["history"][0]["content"]) == ["hello"]
    for text, state in [
        ("/fail", "TASK_STATE_FAILED"),
        ("/input", "TASK_STATE_INPUT_REQUIRED"),
        ("/auth", "TASK_STATE_AUTH_REQUIRED"),
        ("/reject", "TASK_STATE_REJECTED"),
        ("/cancel", "TASK_STATE_CANCELLED"),
    ]:
        answer = json_body(rest03_send(agent, text, {"blocking": True}), 200, "application/json")
        assert answer["task"]["status"]["state"] == state, text
    answer = json_body(rest03_send(agent, "/msg hi there", {"blocking": True}), 200, "application/json")
    assert list(answer) == ["message"] and answer["message"]["role"] == "ROLE_AGENT"
    assert texts(answer["message"]["content"]) == ["echo: hi there"]
    got = json_body(http.get(f"{agent.rest_url}/v1/tasks/{task['id']}"), 200, "application/json")
    assert got["id"] == task["id"] and got["status"]["state"] == "TASK_STATE_COMPLETED"
    log = agent.requests()
    assert [(e["method"], e["path"], e["rpc_method"], e["status"]) for e in log] == (
        [("POST", "/a2a/rest/v1/message:send", None, 200)] * 7
        + [("GET", f"/a2a/rest/v1/tasks/{task['id']}", None, 200)]
    )


@pytest.mark.parametrize("configuration", [None, {}], ids=["no-configuration", "empty-configuration"])
def test_sdk03_rest_send_without_blocking_is_non_blocking(
    agent_sdk03: InteropAgent, configuration: dict[str, Any] | None
) -> None:
    """The 0.3 REST app's documented trap: no ``configuration.blocking`` means non-blocking."""
    agent = agent_sdk03
    task = json_body(rest03_send(agent, "hello", configuration), 200, "application/json")["task"]
    assert task["status"]["state"] in ("TASK_STATE_SUBMITTED", "TASK_STATE_WORKING")  # observed: SUBMITTED
    assert "artifacts" not in task
    deadline = time.monotonic() + 10
    while True:
        got = json_body(http.get(f"{agent.rest_url}/v1/tasks/{task['id']}"), 200, "application/json")
        if got["status"]["state"] == "TASK_STATE_COMPLETED":
            break
        assert time.monotonic() < deadline, got
        time.sleep(0.05)
    assert [texts(a["parts"]) for a in got["artifacts"]] == [["echo: ", "hello"]]


def test_sdk03_rest_errors(agent_sdk03: InteropAgent) -> None:
    agent = agent_sdk03
    assert json_body(http.get(f"{agent.rest_url}/v1/tasks/nope"), 404, "application/json") == {
        "message": "Task not found"
    }
    assert json_body(http.post(f"{agent.rest_url}/v1/tasks/nope:cancel"), 404, "application/json") == {
        "message": "Task not found"
    }
    for path in ("/nope", "/a2a/rest/v1/nope", "/a2a/rest/tasks/nope"):  # the last: a 1.0 path on a 0.3 agent
        assert json_body(http.get(f"{agent.url}{path}"), 404, "application/json") == {
            "detail": "Not Found"
        }, path
    task = json_body(rest03_send(agent, "hello", {"blocking": True}), 200, "application/json")["task"]
    assert json_body(
        http.post(f"{agent.rest_url}/v1/tasks/{task['id']}:cancel"), 409, "application/json"
    ) == {"message": "Task cannot be canceled - current state: TaskState.completed"}


@pytest.mark.parametrize("task_id", ["finished", "nope"])
def test_sdk03_rest_subscribe_to_finished_task(agent_sdk03: InteropAgent, task_id: str) -> None:
    agent = agent_sdk03
    if task_id == "finished":
        task_id = json_body(rest03_send(agent, "hello", {"blocking": True}), 200, "application/json")["task"][
            "id"
        ]
    url = f"{agent.rest_url}/v1/tasks/{task_id}:subscribe"
    with http.stream("GET", url, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            r.read()
    r = http.post(url, timeout=10)
    assert json_body(r, 405, "application/json") == {"detail": "Method Not Allowed"}
    assert r.headers["allow"] == "GET"


def test_sdk03_rest_stream(agent_sdk03: InteropAgent) -> None:
    r = http.post(f"{agent_sdk03.rest_url}/v1/message:stream", json={"message": msg03_rest("hi")}, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert "\ndata:   " in r.text  # pretty-printed proto JSON, several data: lines per event
    events = [data for _, data in sse(r)]
    assert [next(iter(e)) for e in events] == [
        "task",
        "statusUpdate",
        "artifactUpdate",
        "artifactUpdate",
        "statusUpdate",
    ]
    assert events[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"
    assert events[-1]["statusUpdate"]["final"] is True


# ---------------------------------------------------------------------------------------------------
# @a2a-js/sdk 1.3.0
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["agent_js", "agent_js_compat"])
def test_js_v1_card(which: str, request: pytest.FixtureRequest) -> None:
    agent: InteropAgent = request.getfixturevalue(which)
    assert agent.sdk == "@a2a-js/sdk 1.3.0"
    r = http.get(agent.card_url, headers=V1)
    card = json_body(r, 200, "application/json")
    assert "protocolVersion" not in card and "url" not in card
    declared = {(i["protocolBinding"], i["protocolVersion"], i["url"]) for i in card["supportedInterfaces"]}
    expected = {("JSONRPC", "1.0", agent.jsonrpc_url), ("HTTP+JSON", "1.0", agent.rest_url)}
    if "0.3" in agent.versions:
        expected |= {("JSONRPC", "0.3", agent.jsonrpc_url), ("HTTP+JSON", "0.3", agent.rest_url)}
        assert r.headers["vary"] == "A2A-Version"
    else:
        assert "vary" not in r.headers
        assert json_body(http.get(agent.card_url), 200, "application/json") == card  # same without the header
    assert declared == expected
    assert card["capabilities"]["streaming"] is True


@pytest.mark.parametrize("which", ["agent_js", "agent_js_compat"])
def test_js_v1_jsonrpc(which: str, request: pytest.FixtureRequest) -> None:
    agent: InteropAgent = request.getfixturevalue(which)
    agent.clear_requests()
    task = rpc(agent, "SendMessage", {"message": msg10("hello")}, V1)["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert [texts(a["parts"]) for a in task["artifacts"]] == [["echo: ", "hello"]]
    for text, state in [
        ("/fail", "TASK_STATE_FAILED"),
        ("/input", "TASK_STATE_INPUT_REQUIRED"),
        ("/auth", "TASK_STATE_AUTH_REQUIRED"),
        ("/reject", "TASK_STATE_REJECTED"),
        ("/cancel", "TASK_STATE_CANCELED"),
    ]:
        assert (
            rpc(agent, "SendMessage", {"message": msg10(text)}, V1)["result"]["task"]["status"]["state"]
            == state
        )
    answer = rpc(agent, "SendMessage", {"message": msg10("/msg hi there")}, V1)["result"]
    assert list(answer) == ["message"] and answer["message"]["role"] == "ROLE_AGENT"
    assert texts(answer["message"]["parts"]) == ["echo: hi there"]
    got = rpc(agent, "GetTask", {"id": task["id"]}, V1)["result"]
    assert got["id"] == task["id"] and got["status"]["state"] == "TASK_STATE_COMPLETED"
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "domain": "a2a-protocol.org"}
    assert rpc(agent, "GetTask", {"id": "nope"}, V1)["error"] == {
        "code": -32001,
        "message": "Task not found: nope",
        "data": [{**info, "reason": "TASK_NOT_FOUND"}],
    }
    assert rpc(agent, "CancelTask", {"id": task["id"]}, V1)["error"] == {
        "code": -32002,
        "message": f"Task not cancelable: {task['id']}",
        "data": [{**info, "reason": "TASK_NOT_CANCELABLE"}],
    }
    # SubscribeToTask of a finished task: a plain JSON error, not an SSE stream
    r = http.post(
        agent.jsonrpc_url,
        headers=V1,
        json={"jsonrpc": "2.0", "id": 9, "method": "SubscribeToTask", "params": {"id": task["id"]}},
    )
    assert json_body(r, 200, "application/json")["error"] == {
        "code": -32004,
        "message": f"Task {task['id']} is in a terminal state (3) and cannot be subscribed to.",
        "data": [{**info, "reason": "UNSUPPORTED_OPERATION"}],
    }
    log = agent.requests()
    assert [e["rpc_method"] for e in log] == (
        ["SendMessage"] * 7 + ["GetTask"] * 2 + ["CancelTask", "SubscribeToTask"]
    )
    assert all(e["path"] == "/a2a/jsonrpc" and e["a2a_version"] == "1.0" and e["status"] == 200 for e in log)


def test_js_v1_stream(agent_js: InteropAgent) -> None:
    r = http.post(
        agent_js.jsonrpc_url,
        headers=V1,
        timeout=30,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "SendStreamingMessage",
            "params": {"message": msg10("hi")},
        },
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    results = [data["result"] for _, data in sse(r)]
    assert [next(iter(e)) for e in results] == [
        "task",
        "statusUpdate",
        "artifactUpdate",
        "artifactUpdate",
        "statusUpdate",
    ]
    assert results[-1]["statusUpdate"]["status"]["state"] == "TASK_STATE_COMPLETED"


@pytest.mark.parametrize("which", ["agent_js", "agent_js_compat"])
def test_js_v1_rest(which: str, request: pytest.FixtureRequest) -> None:
    agent: InteropAgent = request.getfixturevalue(which)
    a2a_json = "application/a2a+json"

    def send(text: str, **configuration: Any) -> httpx.Response:
        body: dict[str, Any] = {"message": msg10(text)}
        if configuration:
            body["configuration"] = configuration
        return http.post(f"{agent.rest_url}/message:send", json=body, headers=V1, timeout=30)

    task = json_body(send("hello"), 200, a2a_json)["task"]  # 1.0 default: wait for the end
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert [texts(a["parts"]) for a in task["artifacts"]] == [["echo: ", "hello"]]
    assert (
        json_body(send("hello", blocking=True), 200, a2a_json)["task"]["status"]["state"]
        == "TASK_STATE_COMPLETED"
    )
    early = json_body(send("/slow 0.2", returnImmediately=True), 200, a2a_json)["task"]
    assert early["status"]["state"] == "TASK_STATE_SUBMITTED"
    assert json_body(send("/fail"), 200, a2a_json)["task"]["status"]["state"] == "TASK_STATE_FAILED"
    assert json_body(send("/input"), 200, a2a_json)["task"]["status"]["state"] == "TASK_STATE_INPUT_REQUIRED"
    assert texts(json_body(send("/msg yo"), 200, a2a_json)["message"]["parts"]) == ["echo: yo"]

    def status(code: int, status: str, message: str, reason: str) -> dict[str, Any]:
        return {
            "error": {
                "code": code,
                "status": status,
                "message": message,
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": reason,
                        "domain": "a2a-protocol.org",
                    }
                ],
            }
        }

    assert json_body(http.get(f"{agent.rest_url}/tasks/nope", headers=V1), 404, a2a_json) == status(
        404, "NOT_FOUND", "Task not found: nope", "TASK_NOT_FOUND"
    )
    r = http.get(f"{agent.rest_url}/nope", headers=V1)
    assert r.status_code == 404 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<pre>Cannot GET /a2a/rest/nope</pre>" in r.text
    assert json_body(
        http.post(f"{agent.rest_url}/tasks/{task['id']}:cancel", headers=V1), 400, a2a_json
    ) == status(400, "FAILED_PRECONDITION", f"Task not cancelable: {task['id']}", "TASK_NOT_CANCELABLE")
    for method in ("GET", "POST"):
        r = http.request(method, f"{agent.rest_url}/tasks/{task['id']}:subscribe", headers=V1)
        assert json_body(r, 400, a2a_json) == status(
            400,
            "FAILED_PRECONDITION",
            f"Task {task['id']} is in a terminal state (3) and cannot be subscribed to.",
            "UNSUPPORTED_OPERATION",
        ), method
    r = http.post(
        f"{agent.rest_url}/message:send",
        content=json.dumps({"message": msg10("x")}),
        headers={**V1, "Content-Type": "text/plain"},
    )
    assert json_body(r, 400, a2a_json)["error"]["details"][0]["reason"] == "CONTENT_TYPE_NOT_SUPPORTED"


def test_js_v1_only_refuses_headerless(agent_js: InteropAgent) -> None:
    message = "The requested A2A protocol version '0.3' is not supported. Supported versions: 1.0"
    for method, params in [
        ("SendMessage", {"message": msg10("hi")}),
        ("message/send", {"message": msg03("hi")}),
    ]:
        error = rpc(agent_js, method, params)["error"]
        assert error["code"] == -32009 and error["message"] == message
        assert error["data"][0]["reason"] == "VERSION_NOT_SUPPORTED"
    r = http.post(f"{agent_js.rest_url}/message:send", json={"message": msg10("hi")})
    error = json_body(r, 400, "application/a2a+json")["error"]
    assert (error["status"], error["message"], error["details"][0]["reason"]) == (
        "FAILED_PRECONDITION",
        message,
        "VERSION_NOT_SUPPORTED",
    )
    # No 0.3 routes without compat, but /v1/message:send matches the 1.0 tenant route /{tenant}/message:send:
    # header-less it is refused as 0.3; with A2A-Version: 1.0 it is a send for tenant "v1", and the 0.3
    # body's parts (``content``) are silently dropped.
    r = http.post(f"{agent_js.rest_url}/v1/message:send", json={"message": msg03_rest("hi")})
    assert (
        json_body(r, 400, "application/a2a+json")["error"]["details"][0]["reason"] == "VERSION_NOT_SUPPORTED"
    )
    r = http.post(f"{agent_js.rest_url}/v1/message:send", json={"message": msg03_rest("hi")}, headers=V1)
    task = json_body(r, 200, "application/a2a+json")["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    assert "parts" not in task["history"][0] and "content" not in task["history"][0]


def test_js_compat_v03_card(agent_js_compat: InteropAgent) -> None:
    agent = agent_js_compat
    r = http.get(agent.card_url)
    card = json_body(r, 200, "application/json")
    assert r.headers["vary"] == "A2A-Version"
    assert card["protocolVersion"] == "0.3"
    assert (card["url"], card["preferredTransport"]) == (agent.jsonrpc_url, "JSONRPC")
    assert card["additionalInterfaces"] == [{"url": agent.rest_url, "transport": "HTTP+JSON"}]
    assert {(i["protocolBinding"], i["protocolVersion"]) for i in card["supportedInterfaces"]} == {
        ("JSONRPC", "1.0"),
        ("HTTP+JSON", "1.0"),
        ("JSONRPC", "0.3"),
        ("HTTP+JSON", "0.3"),
    }


def test_js_compat_v03_jsonrpc(agent_js_compat: InteropAgent) -> None:
    agent = agent_js_compat
    agent.clear_requests()
    task = rpc(agent, "message/send", {"message": msg03("hello")})["result"]
    assert task["kind"] == "task" and task["status"]["state"] == "completed"
    assert [texts(a["parts"]) for a in task["artifacts"]] == [["echo: ", "hello"]]
    assert rpc(agent, "message/send", {"message": msg03("/fail")})["result"]["status"]["state"] == "failed"
    assert (
        rpc(agent, "message/send", {"message": msg03("/input")})["result"]["status"]["state"]
        == "input-required"
    )
    answer = rpc(agent, "message/send", {"message": msg03("/msg hi")})["result"]
    assert answer["kind"] == "message" and texts(answer["parts"]) == ["echo: hi"]
    assert rpc(agent, "tasks/get", {"id": "nope"})["error"] == {
        "code": -32001,
        "message": "Task not found: nope",
    }
    assert rpc(agent, "tasks/cancel", {"id": task["id"]})["error"] == {
        "code": -32002,
        "message": f"Task not cancelable: {task['id']}",
    }
    assert rpc(agent, "SendMessage", {"message": msg10("hi")})["error"] == {
        "code": -32601,
        "message": "Method not found: SendMessage",
    }
    assert rpc(agent, "tasks/get", {"id": "nope"}, V1)["error"] == {
        "code": -32601,
        "message": "Invalid method.",
    }
    r = http.post(
        agent.jsonrpc_url,
        json={"jsonrpc": "2.0", "id": 7, "method": "tasks/resubscribe", "params": {"id": task["id"]}},
        timeout=30,
    )
    assert r.status_code == 200 and r.headers["content-type"] == "text/event-stream"
    assert sse(r) == [
        (
            "error",
            {
                "jsonrpc": "2.0",
                "id": 7,
                "error": {
                    "code": -32004,
                    "message": f"Task {task['id']} is in a terminal state (3) and cannot be subscribed to.",
                },
            },
        )
    ]
    assert agent.rpc_methods() == ["message/send"] * 4 + [
        "tasks/get",
        "tasks/cancel",
        "SendMessage",
        "tasks/get",
        "tasks/resubscribe",
    ]
    assert [e["a2a_version"] for e in agent.requests()] == [None] * 7 + ["1.0", None]


def test_js_compat_v03_rest(agent_js_compat: InteropAgent) -> None:
    agent = agent_js_compat
    for configuration in (None, {"blocking": True}):  # no configuration at all: blocking
        task = json_body(rest03_send(agent, "hello", configuration), 201, "application/json")["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED", configuration
        assert [texts(a["parts"]) for a in task["artifacts"]] == [["echo: ", "hello"]]
    for configuration in (
        {},
        {"historyLength": 5},
        {"blocking": False},
    ):  # a configuration without blocking: not
        early = json_body(rest03_send(agent, "hello", configuration), 201, "application/json")["task"]
        assert early["status"]["state"] == "TASK_STATE_SUBMITTED", configuration
    assert (
        json_body(rest03_send(agent, "/fail"), 201, "application/json")["task"]["status"]["state"]
        == "TASK_STATE_FAILED"
    )
    assert json_body(rest03_send(agent, "/input"), 201, "application/json")["task"]["status"]["state"] == (
        "TASK_STATE_INPUT_REQUIRED"
    )
    assert texts(json_body(rest03_send(agent, "/msg yo"), 201, "application/json")["message"]["content"]) == [
        "echo: yo"
    ]
    assert json_body(http.get(f"{agent.rest_url}/v1/tasks/nope"), 404, "application/json") == {
        "code": -32001,
        "message": "Task not found: nope",
    }
    assert (
        json_body(http.get(f"{agent.rest_url}/v1/tasks/nope", headers=V1), 404, "application/a2a+json")[
            "error"
        ]["status"]
        == "NOT_FOUND"
    )
    r = http.get(f"{agent.rest_url}/v1/nope")
    assert r.status_code == 404 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert "<pre>Cannot GET /a2a/rest/v1/nope</pre>" in r.text
    assert json_body(
        http.post(f"{agent.rest_url}/v1/tasks/{task['id']}:cancel"), 400, "application/json"
    ) == {"code": -32002, "message": f"Task not cancelable: {task['id']}"}
    for method in ("GET", "POST"):
        r = http.request(method, f"{agent.rest_url}/v1/tasks/{task['id']}:subscribe")
        assert json_body(r, 400, "application/json") == {
            "code": -32004,
            "message": f"Task {task['id']} is in a terminal state (3) and cannot be subscribed to.",
        }
    assert json_body(http.get(f"{agent.rest_url}/v1/tasks/nope:subscribe"), 404, "application/json") == {
        "code": -32001,
        "message": "Task not found: nope",
    }
