"""``a2actl.transport.a2a.A2AClient`` over ``httpx.MockTransport``: what each binding and family sends,
how JSON-RPC and HTTP+JSON error answers decode, the result-shape checks, and SSE streams."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from a2actl.core.config import Settings
from a2actl.core.errors import HTTPStatusError, NoSuchRoute, ProtocolViolation
from a2actl.protocol.card import Interface
from a2actl.protocol.events import result_shape_error
from a2actl.protocol.negotiation import Selection
from a2actl.protocol.versions import BINDING_HTTP_JSON, BINDING_JSONRPC, Family
from a2actl.transport.a2a import A2AClient, RpcOutcome, _check_shape, new_id
from a2actl.transport.channel import Heartbeat, TimedEvent
from a2actl.transport.http import HttpTransport

BASE = "http://127.0.0.1:9/a2a"
TASK_V1 = {"id": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_COMPLETED"}}
TASK_V03 = {"kind": "task", "id": "t1", "contextId": "c1", "status": {"state": "completed"}}

Handler = Callable[[httpx.Request], httpx.Response]


def selection(
    binding: str = BINDING_JSONRPC,
    family: Family = Family.V1_0,
    tenant: str | None = None,
    forced: bool = False,
    url: str = BASE,
) -> Selection:
    iface = Interface(url, binding, family.value, family, "test", tenant)
    return Selection(iface, family, "test", forced)


def call(
    handler: Handler,
    operation: str,
    params: dict[str, Any],
    sel: Selection | None = None,
    settings: Settings | None = None,
) -> RpcOutcome:
    async def go() -> RpcOutcome:
        async with HttpTransport(settings or Settings(), http_transport=httpx.MockTransport(handler)) as tr:
            return await A2AClient(tr, sel or selection()).call(operation, params)

    return asyncio.run(go())


def rpc_answer(request: httpx.Request, **member: Any) -> httpx.Response:
    """A JSON-RPC response echoing the request's id, with ``result=`` or ``error=``."""
    rid = json.loads(request.content)["id"]
    return httpx.Response(200, json={"jsonrpc": "2.0", "id": rid, **member})


# -- JSON-RPC -----------------------------------------------------------------------------------------


def test_jsonrpc_1_0_sends_pascal_case_the_version_header_and_the_tenant() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return rpc_answer(request, result={"task": TASK_V1})

    out = call(handler, "GetTask", {"id": "t1"}, selection(tenant="acme"))
    body = json.loads(sent[0].content)
    assert (sent[0].method, str(sent[0].url)) == ("POST", BASE)
    assert sent[0].headers["a2a-version"] == "1.0"
    assert (body["jsonrpc"], body["method"], body["params"]) == (
        "2.0",
        "GetTask",
        {"id": "t1", "tenant": "acme"},
    )
    assert out.ok and out.result == {"task": TASK_V1} and out.method == "GetTask"
    assert out.to_json() == {
        "operation": "GetTask",
        "method": "GetTask",
        "httpStatus": 200,
        "ok": True,
        "error": None,
    }


@pytest.mark.parametrize("family", [Family.V1_0, Family.V0_3])
@pytest.mark.parametrize("name", ["A2A-Version", "a2a-version"])
def test_a_version_header_of_the_users_is_sent_as_given_once(family: Family, name: str) -> None:
    """``-H 'A2A-Version: 0.3'`` on a 1.0 interface reaches the agent as 0.3 (it replaced the user's
    value with 1.0, while gRPC already sent the user's); the method names still follow the family."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return rpc_answer(request, result={"task": TASK_V1} if family is Family.V1_0 else TASK_V03)

    call(handler, "GetTask", {"id": "t1"}, selection(family=family), Settings(headers=((name, "0.3"),)))
    assert sent[0].headers.get_list("a2a-version") == ["0.3"]
    assert json.loads(sent[0].content)["method"] == ("GetTask" if family is Family.V1_0 else "tasks/get")


@pytest.mark.parametrize("family", [Family.V0_3, Family.V0_2])
def test_jsonrpc_0_x_sends_slash_names_no_version_header_and_no_tenant(family: Family) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return rpc_answer(request, result=TASK_V03)

    out = call(handler, "GetTask", {"id": "t1"}, selection(family=family, tenant="acme"))
    body = json.loads(sent[0].content)
    assert "a2a-version" not in sent[0].headers
    assert (body["method"], body["params"]) == ("tasks/get", {"id": "t1"})
    assert out.ok and out.method == "tasks/get"


def test_a_jsonrpc_error_is_returned_decoded_not_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return rpc_answer(request, error={"code": -32001, "message": "Task not found", "data": None})

    out = call(handler, "GetTask", {"id": "nope"}, selection(family=Family.V0_3))
    assert not out.ok and out.result is None and out.error is not None
    assert (out.error.code, out.error.name, out.error.message) == (
        -32001,
        "TaskNotFoundError",
        "Task not found",
    )
    assert out.to_json()["error"]["code"] == -32001


def test_method_not_found_on_a_1_0_method_is_a_version_mismatch() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return rpc_answer(request, error={"code": -32601, "message": "Method not found"})

    out = call(handler, "GetTask", {"id": "t1"})
    assert out.error is not None and out.error.version_mismatch


def test_an_answer_with_another_id_is_a_protocol_violation() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": "someone-else", "result": {"task": TASK_V1}})

    with pytest.raises(ProtocolViolation) as info:
        call(handler, "GetTask", {"id": "t1"})
    assert info.value.message.startswith(f"{BASE}: ") and int(info.value.exit_code) == 6


@pytest.mark.parametrize(
    ("result", "why"),
    [
        ({"message": {"messageId": "m1"}}, "is not a Task"),
        ({"foo": 1}, "is a Task without an id"),
        ({"task": {"contextId": "c", "status": {"state": "TASK_STATE_WORKING"}}}, "is a Task without an id"),
        ({"task": {"id": "t1", "status": {}}}, "is a Task without a known status.state"),
    ],
)
def test_a_success_that_is_not_the_operations_shape_is_a_protocol_violation(
    result: dict[str, Any], why: str
) -> None:
    with pytest.raises(ProtocolViolation) as info:
        call(lambda r: rpc_answer(r, result=result), "GetTask", {"id": "t1"})
    assert f"{BASE}: the GetTask result {why}: " in info.value.message


def test_a_list_tasks_answer_must_carry_a_tasks_list() -> None:
    with pytest.raises(ProtocolViolation, match="is not a ListTasksResponse"):
        call(lambda r: rpc_answer(r, result={"tasks": "none"}), "ListTasks", {})
    assert call(lambda r: rpc_answer(r, result={"tasks": []}), "ListTasks", {}).ok


def test_a_gateway_page_on_jsonrpc_is_an_http_status_error() -> None:
    with pytest.raises(HTTPStatusError) as info:
        call(lambda _: httpx.Response(502, text="<html>Bad Gateway</html>"), "GetTask", {"id": "t1"})
    assert info.value.message == f"{BASE} answered HTTP 502 Bad Gateway: '<html>Bad Gateway</html>'"
    assert info.value.details == {"httpStatus": 502} and int(info.value.exit_code) == 1
    assert "a 5xx from a gateway" in (info.value.hint or "")


def test_a_framework_json_error_on_jsonrpc_names_its_message() -> None:
    with pytest.raises(HTTPStatusError) as info:
        call(lambda _: httpx.Response(400, json={"error": {"message": "bad input"}}), "GetTask", {"id": "t1"})
    assert info.value.message == f"{BASE} answered HTTP 400 Bad Request: 'bad input'"
    assert info.value.hint == "is this URL the agent's A2A endpoint?"


def test_a_non_json_200_on_jsonrpc_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation, match="with a body that is not JSON"):
        call(lambda _: httpx.Response(200, text="hello"), "GetTask", {"id": "t1"})


def test_a_200_whose_json_is_not_utf8_says_so() -> None:
    """JSON with a Latin-1 byte (``café`` written as ISO-8859-1): exit 6 as before, but the message
    names the byte and its offset instead of calling the body "not JSON"."""

    def handler(request: httpx.Request) -> httpx.Response:
        rid = json.loads(request.content)["id"]
        body = b'{"jsonrpc":"2.0","id":"%s","result":{"text":"caf\xe9"}}' % rid.encode()
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    with pytest.raises(ProtocolViolation) as info:
        call(handler, "GetTask", {"id": "t1"})
    message = info.value.message
    assert (
        "with a body that is not UTF-8 text (content-type application/json): byte 0xe9 at offset" in message
    )
    assert "not JSON" not in message and "(line 1, byte " in message


def test_a_body_echoing_the_token_never_shows_its_start() -> None:
    """An agent that echoes the caller's token: a body that is not UTF-8, or not JSON, is named
    without its bytes around the bad byte, and its preview is never cut inside the token (its start
    is no secret any mask matches, so it was printed: ``token=tok-SECRET-``)."""
    token = "tok-SECRET-0123456789abcdef"

    def latin1(request: httpx.Request) -> httpx.Response:
        rid = json.loads(request.content)["id"]
        body = b'{"jsonrpc":"2.0","id":"%s","result":{"t":"%s caf\xe9"}}' % (rid.encode(), token.encode())
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    def page(request: httpx.Request) -> httpx.Response:
        text = "<html><body>" + "x" * 54 + f" token={token} was refused</body></html>"
        return httpx.Response(200, text=text, headers={"content-type": "text/html"})

    for handler in (latin1, page):
        with pytest.raises(ProtocolViolation) as info:
            call(handler, "GetTask", {"id": "t1"})
        assert "tok-" not in info.value.message, info.value.message


# -- HTTP+JSON ----------------------------------------------------------------------------------------


def test_http_json_1_0_builds_the_route_with_the_tenant_prefix() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=TASK_V1)

    out = call(handler, "GetTask", {"id": "t1"}, selection(BINDING_HTTP_JSON, tenant="acme", url=BASE + "/"))
    assert (sent[0].method, str(sent[0].url)) == ("GET", BASE + "/acme/tasks/t1")
    assert sent[0].content == b"" and sent[0].headers["a2a-version"] == "1.0"
    assert out.ok and out.method == "GET /acme/tasks/{id}"


def test_http_json_get_parameters_go_to_the_query_lists_comma_joined() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"tasks": []})

    call(handler, "ListTasks", {"pageSize": 5, "status": ["a", "b"]}, selection(BINDING_HTTP_JSON))
    assert sent[0].url.path == "/a2a/tasks"
    assert dict(sent[0].url.params) == {"pageSize": "5", "status": "a,b"}


def test_http_json_0_3_posts_the_body_under_v1() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=TASK_V03)

    out = call(
        handler, "CancelTask", {"id": "t1", "metadata": {"k": 1}}, selection(BINDING_HTTP_JSON, Family.V0_3)
    )
    assert (sent[0].method, str(sent[0].url)) == ("POST", BASE + "/v1/tasks/t1:cancel")
    assert json.loads(sent[0].content) == {"metadata": {"k": 1}}
    assert out.method == "POST /v1/tasks/{id}:cancel"


def test_http_json_google_rpc_status_decodes_by_reason() -> None:
    body = {
        "error": {
            "code": 404,
            "status": "NOT_FOUND",
            "message": "Task not found",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "TASK_NOT_FOUND"}],
        }
    }
    out = call(
        lambda _: httpx.Response(404, json=body), "GetTask", {"id": "t1"}, selection(BINDING_HTTP_JSON)
    )
    assert out.error is not None and (out.error.code, out.error.reason) == (-32001, "TASK_NOT_FOUND")
    assert out.http.status == 404 and out.method == "GET /tasks/{id}"


def test_http_json_0_3_message_only_error_decodes() -> None:
    out = call(
        lambda _: httpx.Response(404, json={"message": "Task not found"}),
        "GetTask",
        {"id": "t1"},
        selection(BINDING_HTTP_JSON, Family.V0_3),
    )
    assert out.error is not None and out.error.code == -32001


def test_a_framework_404_on_http_json_is_no_such_route() -> None:
    with pytest.raises(NoSuchRoute) as info:
        call(
            lambda _: httpx.Response(404, json={"detail": "Not Found"}),
            "GetTask",
            {"id": "t1"},
            selection(BINDING_HTTP_JSON),
        )
    err = info.value
    assert int(err.exit_code) == 6
    assert (
        err.message
        == f'{BASE}/tasks/t1 answered HTTP 404 Not Found \'{{"detail":"Not Found"}}\': no such route for GET /tasks/{{id}}'
    )
    assert err.details == {"httpStatus": 404, "url": f"{BASE}/tasks/t1"}
    assert "the interface URL or the A2A version is wrong" in (err.hint or "")


def test_no_such_route_on_a_forced_version_says_it_was_forced() -> None:
    with pytest.raises(NoSuchRoute) as info:
        call(
            lambda _: httpx.Response(405), "GetTask", {"id": "t1"}, selection(BINDING_HTTP_JSON, forced=True)
        )
    assert "A2A 1.0 was forced (--a2a-version)" in (info.value.hint or "")


def test_a_non_a2a_500_on_http_json_is_an_http_status_error() -> None:
    with pytest.raises(HTTPStatusError) as info:
        call(
            lambda _: httpx.Response(500, text="oops"), "GetTask", {"id": "t1"}, selection(BINDING_HTTP_JSON)
        )
    assert info.value.message == f"{BASE}/tasks/t1 answered HTTP 500 Internal Server Error: 'oops'"


def test_http_json_success_shape_is_checked_too() -> None:
    with pytest.raises(ProtocolViolation, match="the GET /tasks/{id} result is not a Task"):
        call(
            lambda _: httpx.Response(200, json=[1, 2]), "GetTask", {"id": "t1"}, selection(BINDING_HTTP_JSON)
        )


# -- streams ------------------------------------------------------------------------------------------


def sse(*chunks: str, status: int = 200) -> httpx.Response:
    async def body() -> AsyncIterator[bytes]:
        for c in chunks:
            yield c.encode()

    return httpx.Response(status, content=body(), headers={"Content-Type": "text/event-stream"})


def stream(
    handler: Handler,
    sel: Selection | None = None,
    heartbeats: bool = False,
    operation: str = "SendStreamingMessage",
) -> list[TimedEvent | RpcOutcome | Heartbeat]:
    async def go() -> list[TimedEvent | RpcOutcome | Heartbeat]:
        async with HttpTransport(Settings(), http_transport=httpx.MockTransport(handler)) as tr:
            client = A2AClient(tr, sel or selection())
            return [item async for item in client.stream(operation, {"message": {}}, heartbeats=heartbeats)]

    return asyncio.run(go())


def test_a_jsonrpc_stream_yields_timed_events_and_heartbeats_when_asked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        rid = json.loads(request.content)["id"]
        assert request.headers["accept"] == "text/event-stream"
        frame = json.dumps({"jsonrpc": "2.0", "id": rid, "result": {"task": TASK_V1}})
        return sse(": ping\n\n", f"data: {frame}\n\n")

    items = stream(handler, heartbeats=True)
    assert [type(i) for i in items] == [Heartbeat, TimedEvent]
    hb, ev = items
    assert isinstance(hb, Heartbeat) and hb.text == "ping" and hb.rtt is None
    assert isinstance(ev, TimedEvent) and ev.event.kind == "task" and ev.size > 0 and not ev.truncated
    assert [type(i) for i in stream(handler)] == [TimedEvent]


def test_an_sse_error_frame_ends_the_stream_as_an_outcome() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        rid = json.loads(request.content)["id"]
        frame = json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": -32004, "message": "nope"}})
        return sse(f"data: {frame}\n\n", 'data: {"never": "read"}\n\n')

    items = stream(handler, selection(family=Family.V0_3), operation="SubscribeToTask")
    assert len(items) == 1 and isinstance(items[0], RpcOutcome)
    assert items[0].error is not None and items[0].error.code == -32004
    assert items[0].method == "tasks/resubscribe"


def test_a_json_error_answer_to_a_streaming_call_is_an_outcome() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return rpc_answer(request, error={"code": -32001, "message": "Task not found"})

    items = stream(handler, operation="SubscribeToTask")
    assert len(items) == 1 and isinstance(items[0], RpcOutcome)
    assert items[0].error is not None and items[0].error.code == -32001


def test_a_plain_json_result_to_a_streaming_call_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation, match="with a plain JSON result, not SSE"):
        stream(lambda r: rpc_answer(r, result={"task": TASK_V1}))


def test_non_json_sse_data_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation, match="SSE data from .* is not JSON: 'hello'"):
        stream(lambda _: sse("data: hello\n\n"))


def test_non_json_sse_data_is_never_cut_inside_an_echoed_token() -> None:
    """SSE data that is not JSON is quoted up to 80 characters: cut inside a token the agent echoed,
    the start of the token was printed (no mask matches a part of a secret)."""
    data = "x" * 60 + " Bearer tok-SECRET-0123456789abcdef rejected"
    with pytest.raises(ProtocolViolation) as info:
        stream(lambda _: sse(f"data: {data}\n\n"))
    assert "tok-" not in info.value.message and "Bearer" in info.value.message


def test_an_http_json_stream_yields_bare_events() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return sse(f"data: {json.dumps({'task': TASK_V1})}\n\n")

    items = stream(handler, selection(BINDING_HTTP_JSON))
    assert str(sent[0].url) == BASE + "/message:stream" and sent[0].method == "POST"
    assert len(items) == 1 and isinstance(items[0], TimedEvent) and items[0].event.kind == "task"


# -- the per-event decode (orjson, with the stdlib for what orjson refuses) ---------------------------


def _frames(*results: str) -> Handler:
    """A JSON-RPC stream of ``data:`` fields given as raw JSON text for ``result`` (``{rid}`` is the
    request's id)."""

    def handler(request: httpx.Request) -> httpx.Response:
        rid = json.loads(request.content)["id"]
        return sse(*(f'data: {{"jsonrpc":"2.0","id":"{rid}","result":{r}}}\n\n' for r in results))

    return handler


def test_json_only_pythons_reader_takes_still_decodes() -> None:
    """orjson refuses a lone surrogate escape, NaN and Infinity; a2actl read them before orjson (with
    the stdlib) and still does: each is an event, not a protocol violation."""
    items = stream(
        _frames(
            '{"task":{"id":"t\\ud800","contextId":"c","status":{"state":"TASK_STATE_WORKING"}}}',
            '{"statusUpdate":{"taskId":"t\\ud800","status":{"state":"TASK_STATE_WORKING"},"metadata":{"x":NaN}}}',
            '{"statusUpdate":{"taskId":"t\\ud800","status":{"state":"TASK_STATE_COMPLETED"},"m":[Infinity]}}',
        )
    )
    assert [(i.event.kind, i.event.state, i.event.task_id) for i in items if isinstance(i, TimedEvent)] == [
        ("task", "working", "t\ud800"),
        ("status-update", "working", "t\ud800"),
        ("status-update", "completed", "t\ud800"),
    ]


@pytest.mark.parametrize("depth", [101, 1000, 1024, 1025, 5000])
def test_a_data_field_nested_too_deep_is_a_protocol_violation(depth: int) -> None:
    """Over MAX_NESTING (100) levels: 'nested too deep' (exit 6), below orjson's own limit of 1024,
    at it, past it (orjson refuses, the stdlib's recursion limit is hit) and far past it."""
    deep = '{"task":{"id":"t","status":{"state":"TASK_STATE_WORKING"},"m":' + "[" * depth + "]" * depth + "}}"
    with pytest.raises(ProtocolViolation, match="nested too deep") as err:
        stream(_frames(deep))
    assert err.value.exit_code == 6


def test_a_data_field_at_the_nesting_bound_decodes() -> None:
    ok = '{"task":{"id":"t","status":{"state":"TASK_STATE_WORKING"},"m":' + "[" * 97 + "]" * 97 + "}}"
    items = stream(_frames(ok))  # 100 levels: result, task, m and 97 lists
    assert len(items) == 1 and isinstance(items[0], TimedEvent) and items[0].event.kind == "task"


@pytest.mark.parametrize("data", ["hello", '{"a": 1', "[1, 2,]", "\ufeff{}"])
def test_data_no_json_reader_takes_is_a_protocol_violation(data: str) -> None:
    with pytest.raises(ProtocolViolation, match="SSE data from .* is not JSON") as err:
        stream(lambda _: sse(f"data: {data}\n\n"))
    assert err.value.exit_code == 6


def test_an_error_frame_keeps_integers_past_64_bits_exact() -> None:
    """orjson reads an integer past 64 bits as a float; the error frame (it ends the stream, so this
    costs nothing per event) is decoded again by the stdlib, so its details keep the exact value."""
    big = 2**70 + 1

    def handler(request: httpx.Request) -> httpx.Response:
        rid = json.loads(request.content)["id"]
        frame = f'{{"jsonrpc":"2.0","id":"{rid}","error":{{"code":-32004,"message":"nope","data":{{"n":{big}}}}}}}'
        return sse(f"data: {frame}\n\n")

    items = stream(handler, selection(family=Family.V0_3), operation="SubscribeToTask")
    assert len(items) == 1 and isinstance(items[0], RpcOutcome) and items[0].error is not None
    assert items[0].error.details == [{"n": big}] and type(items[0].error.details[0]["n"]) is int


def test_an_answer_with_another_id_in_a_stream_is_a_protocol_violation() -> None:
    """The per-event fast check takes only a result echoing the request's id; anything else goes
    through split_response, which refuses it."""

    def handler(request: httpx.Request) -> httpx.Response:
        return sse('data: {"jsonrpc":"2.0","id":"someone-else","result":{"task":{"id":"t"}}}\n\n')

    with pytest.raises(ProtocolViolation, match="does not match request id"):
        stream(handler)


def test_events_of_one_read_and_across_reads_are_all_yielded_in_order() -> None:
    """A read holding many events (the fast path), an event split across reads, CRLF endings."""

    def handler(request: httpx.Request) -> httpx.Response:
        rid = json.loads(request.content)["id"]
        frames = "".join(
            f'data: {{"jsonrpc":"2.0","id":"{rid}","result":{{"statusUpdate":{{"taskId":"t{i}",'
            f'"status":{{"state":"TASK_STATE_WORKING"}}}}}}}}\r\n\r\n'
            for i in range(50)
        )
        return sse(frames[:1000], frames[1000:1001], frames[1001:])

    items = stream(handler)
    assert [i.event.task_id for i in items if isinstance(i, TimedEvent)] == [f"t{i}" for i in range(50)]


# -- fresh ids and the shape check's fast path --------------------------------------------------------


def test_new_id_gives_fresh_version_4_uuids_as_uuid4_writes_them() -> None:
    ids = [new_id() for _ in range(3 * 256 + 7)]  # across several refills
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_hand_out_its_parents_ids() -> None:
    new_id()  # the pool now holds ids the child would inherit
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert uuid.UUID(child).version == 4
    assert child != new_id()


_field = st.one_of(
    st.none(), st.integers(), st.text(max_size=3), st.sampled_from(["t1", "", "task", "message"])
)
_state = st.one_of(
    st.none(), st.integers(), st.sampled_from(["TASK_STATE_COMPLETED", "working", "bogus", "", "failed"])
)
_status = st.one_of(_field, st.fixed_dictionaries({}, optional={"state": _state}))
_body = st.fixed_dictionaries(
    {}, optional={"id": _field, "kind": _field, "status": _status, "messageId": _field}
)
_result = st.one_of(
    _field,
    st.fixed_dictionaries(
        {},
        optional={
            "task": st.one_of(_field, _body),
            "message": st.one_of(_field, _body),
            "msg": st.one_of(_field, _body),
            "kind": _field,
            "id": _field,
            "status": _status,
            "messageId": _field,
        },
    ),
)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(["SendMessage", "GetTask", "CancelTask", "ListTasks"]), _result)
@example("GetTask", {"task": {"id": "t1", "status": {"state": "bogus"}}})
@example("SendMessage", {"id": "t1", "status": {"state": "working"}})
@example("SendMessage", {"id": "t1", "status": {}})
@example("GetTask", {"id": "t1"})
@example("SendMessage", {"kind": "message", "messageId": "m1"})
@example("GetTask", {"task": 5, "id": "t1", "status": {"state": "working"}})
@example("CancelTask", {"kind": "task", "id": "", "status": {"state": "canceled"}})
def test_the_shape_check_accepts_exactly_what_result_shape_error_accepts(operation: str, result: Any) -> None:
    why = result_shape_error(operation, result)
    if why is None:
        _check_shape(operation, operation, result, BASE)
    else:
        with pytest.raises(ProtocolViolation, match=re.escape(f"the {operation} result {why}")):
            _check_shape(operation, operation, result, BASE)


@pytest.mark.parametrize(
    ("status", "value", "expected"),
    [
        (429, "7", 7.0),
        (503, " 0 ", 0.0),
        (429, "99999999999999999999", 1e9),  # bounded, not an overflow
        (429, "soon", None),
        (503, "²", None),  # a digit to str.isdigit(), not to int(): it raised ValueError (review r1)
        (503, "١٢", None),  # Arabic-Indic digits: int() reads them, HTTP does not
        (429, "-5", None),
        (429, "", None),
        (500, "7", None),  # only 429 and 503 say when to come back
        (429, "Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # an HTTP-date in the past: now
        (429, "Wed, 21 Oct 2015 07:28:00", None),  # no zone: not an HTTP-date
    ],
)
def test_retry_after_reads_delay_seconds_and_http_dates(
    status: int, value: str, expected: float | None
) -> None:
    import httpx

    from a2actl.transport.a2a import retry_after

    # as the server sent it: bytes (UTF-8 for the odd digits), decoded by the client
    headers = httpx.Headers([(b"retry-after", value.encode("utf-8"))] if value else [])
    res = SimpleNamespace(status=status, headers=headers)
    assert retry_after(res) == expected  # type: ignore[arg-type]


def test_retry_after_of_a_future_http_date_is_the_seconds_until_it() -> None:
    import email.utils
    import time

    import httpx

    from a2actl.transport.a2a import retry_after

    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    res = SimpleNamespace(status=503, headers=httpx.Headers({"Retry-After": when}))
    wait = retry_after(res)  # type: ignore[arg-type]
    assert wait is not None and 28 <= wait <= 31
