"""One request-body encoder on every path (``protocol.jsondoc.dumps_body``): the httpx path
(``HttpTransport`` over ``httpx.MockTransport``), the aiohttp path (``FastTransport`` against a raw
loopback server) and the WebSocket binding (``WebSocketClient`` against a loopback websockets server)
send the same bytes, or refuse with the same error, for the bodies Python's JSON reader gives and
JSON writers disagree on: a lone surrogate, ``NaN``, ``Infinity``, an integer past 64 bits, nesting
past orjson's 255 levels and past the interpreter's recursion limit, and an ordinary body.

Before: httpx's encoder (the stdlib's) raised ``UnicodeEncodeError`` (exit 1) on a lone surrogate and
``ValueError`` (exit 1) on NaN; aiohttp's (orjson) sent NaN and Infinity as ``null``; the WebSocket
frame was ``json.dumps``' default (``", "``, ASCII escapes, ``NaN`` written as is: not JSON); and an
ordinary float such as ``2.5e-05`` went out so on httpx and as ``0.000025`` on aiohttp."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest

from a2actl.core.config import Settings
from a2actl.core.errors import UsageError
from a2actl.protocol.jsondoc import BodyNotJSON, dumps_body
from a2actl.protocol.jsonrpc import build_request
from a2actl.transport.fast import FastTransport
from a2actl.transport.http import HttpTransport
from a2actl.transport.ws import WebSocketClient, WsOutcome
from tests.unit.transport.test_fast import answer_with, raw_server, response

METHOD = "SendMessage"
RID = "00000000-0000-4000-8000-000000000000"


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


#: ``(id, value)``: what goes under ``params.v``; the bytes each path sends must be the same.
SENT: list[tuple[str, Any, bytes]] = [
    # 2.5e-05: the stdlib writes 2.5e-05, orjson 0.000025; é: UTF-8, not an ASCII escape
    ("normal", {"text": "héllo ✓", "n": 2**40, "f": 2.5e-05, "x": None, "ok": True}, None),  # type: ignore[list-item]
    ("lone-surrogate", {"s": "a\udc80b", "é": "é"}, b'{"s":"a\\udc80b","\xc3\xa9":"\xc3\xa9"}'),
    (
        "int-past-64-bits",
        {"n": 2**70, "m": -(2**70)},
        b'{"n":1180591620717411303424,"m":-1180591620717411303424}',
    ),
    ("nested-300", _nested(300), b"[" * 300 + b"1" + b"]" * 300),
]
#: ``(id, value, the error's reason)``: refused on every path, exit 2, nothing sent.
REFUSED: list[tuple[str, Any, str]] = [
    ("nan", {"a": [1, {"b": float("nan")}]}, "NaN at /params/v/a/1/b: JSON has no NaN or Infinity"),
    ("infinity", {"a": float("inf")}, "Infinity at /params/v/a: JSON has no NaN or Infinity"),
    ("-infinity", [float("-inf")], "-Infinity at /params/v/0: JSON has no NaN or Infinity"),
    # orjson refuses the big integer; the stdlib then finds the NaN: the same error
    ("nan-beside-a-big-int", {"n": 2**70, "x": float("nan")}, "NaN at /params/v/x:"),
    ("nested-5000", _nested(5000), "levels deep, too deep to write"),
]


def _envelope(value: Any) -> dict[str, Any]:
    return build_request(METHOD, {"v": value}, RID)


async def _httpx(body: Any) -> bytes:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": RID, "result": {}})

    async with HttpTransport(Settings(), http_transport=httpx.MockTransport(handler)) as tr:
        await tr.request("POST", "http://127.0.0.1:9/rpc", json_body=body)
    assert seen[0].headers["content-type"] == "application/json"
    return seen[0].content


async def _aiohttp(body: Any) -> bytes:
    async with raw_server(answer_with(response(b"{}"))) as srv, FastTransport(Settings()) as tr:
        try:
            await tr.request("POST", srv.url + "/rpc", json_body=body)
        finally:
            sent = [s.body for s in srv.seen]
    assert len(sent) == 1
    return sent[0]


async def _websocket(value: Any) -> bytes:
    """The request frame ``WebSocketClient.stream`` sends for params ``{"v": value}``, its random id
    replaced by ``RID``; a ``UsageError`` is raised before any connection is made."""
    from websockets.asyncio.server import ServerConnection, serve

    opened: list[str] = []
    frames: list[str | bytes] = []

    def count(_: ServerConnection, request: Any) -> None:
        opened.append(request.path)  # every opening handshake

    async def handler(ws: ServerConnection) -> None:
        frames.append(await ws.recv())
        await ws.close(1000)

    async with serve(handler, "127.0.0.1", 0, process_request=count) as server:
        port = server.sockets[0].getsockname()[1]
        client = WebSocketClient(f"ws://127.0.0.1:{port}/a2a/ws", Settings())
        try:
            async for item in client.stream(METHOD, {"v": value}):
                assert isinstance(item, WsOutcome)
        except UsageError:
            assert opened == []  # refused before connecting
            raise
    assert len(frames) == 1 and isinstance(frames[0], str)  # one text frame
    return re.sub(rb'"id":"[0-9a-f-]{36}"', f'"id":"{RID}"'.encode(), frames[0].encode(), count=1)


@pytest.mark.parametrize(("value", "expected"), [(v, e) for _, v, e in SENT], ids=[i for i, _, _ in SENT])
def test_every_path_sends_the_same_bytes(value: Any, expected: bytes | None) -> None:
    envelope = _envelope(value)
    sent = {
        "httpx": asyncio.run(_httpx(envelope)),
        "aiohttp": asyncio.run(_aiohttp(envelope)),
        "websocket": asyncio.run(_websocket(value)),
    }
    want = dumps_body(envelope, "-")
    assert sent == dict.fromkeys(sent, want)
    assert json.loads(want) == envelope  # exactly the data: nothing dropped, rounded or replaced
    if expected is not None:
        assert want.endswith(b',"params":{"v":' + expected + b"}}")
    else:
        assert b'"f":0.000025' in want and "héllo ✓".encode() in want


@pytest.mark.parametrize(("value", "why"), [(v, w) for _, v, w in REFUSED], ids=[i for i, _, _ in REFUSED])
def test_every_path_refuses_what_json_cannot_carry_with_one_usage_error(value: Any, why: str) -> None:
    envelope = _envelope(value)
    errors: dict[str, UsageError] = {}
    for name, attempt in (
        ("httpx", lambda: _httpx(envelope)),
        ("aiohttp", lambda: _aiohttp(envelope)),
        ("websocket", lambda: _websocket(value)),
    ):
        with pytest.raises(UsageError) as info:
            asyncio.run(attempt())
        errors[name] = info.value
    for name, err in errors.items():
        assert isinstance(err, BodyNotJSON), name
        assert err.exit_code == 2 and "\n" not in err.message, name
        assert err.message.startswith("the request to ") and " cannot be written as JSON: " in err.message
        assert why in err.why, (name, err.why)
    assert len({e.why for e in errors.values()}) == 1  # one reason, whatever the path


def test_a_body_with_null_but_no_float_is_sent_as_is() -> None:
    """The non-finite check walks the body only when orjson wrote ``null``; a ``None`` is not one."""
    body = {"a": None, "b": [None, 1.5, "null"], "c": {"d": None}}
    assert dumps_body(body, "-") == b'{"a":null,"b":[null,1.5,"null"],"c":{"d":null}}'
