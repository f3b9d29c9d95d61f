"""The sandbox's WebSocket channel (``/a2a/ws``): a custom binding, since A2A defines none.

Contract (``docs/websocket.md``), declared on the card as ``protocolBinding`` ``urn:a2actl:websocket:1``:

* The client's first text frame is a JSON-RPC 2.0 request for ``SendStreamingMessage``,
  ``SubscribeToTask`` or ``GetTask`` with A2A 1.0 params.
* The server answers with text frames, each one A2A 1.0 ``StreamResponse`` (ProtoJSON, as the
  HTTP+JSON binding's SSE frames); ``GetTask`` answers one ``{"task": ...}`` frame.
* An error is one frame ``{"error": {"code": <A2A/JSON-RPC code>, "message": ...}}``, then close 1008.
* The server closes with 1000 after the terminal (or interrupted) state; ping frames come at the
  sandbox's ``ws_ping_interval``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

WS_PATH = "/a2a/ws"
WS_BINDING = "urn:a2actl:websocket:1"


def ws_endpoint(handler: Any, stall: float = 0.0, stall_after: int = 1) -> Any:
    """The Starlette WebSocket endpoint serving ``handler`` (a2a-sdk ``DefaultRequestHandler``).

    ``stall`` (seconds) pauses the event frames after ``stall_after`` of them, as ``--stall`` does
    on SSE; the server's ping frames (uvicorn's, every ``ws_ping_interval``) go on, as they would
    from a stuck agent behind a live connection."""
    from a2a.server.context import ServerCallContext
    from a2a.types import a2a_pb2 as pb
    from a2a.utils.proto_utils import to_stream_response
    from google.protobuf.json_format import MessageToDict, ParseDict, ParseError

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            request = json.loads(await websocket.receive_text())
            method = request.get("method")
            params = request.get("params") or {}
            ctx = ServerCallContext()
            if method == "SendStreamingMessage":
                events = handler.on_message_send_stream(
                    ParseDict(params, pb.SendMessageRequest(), ignore_unknown_fields=True), ctx
                )
            elif method == "SubscribeToTask":
                events = handler.on_subscribe_to_task(ParseDict(params, pb.SubscribeToTaskRequest()), ctx)
            elif method == "GetTask":
                task = await handler.on_get_task(ParseDict(params, pb.GetTaskRequest()), ctx)
                await websocket.send_text(json.dumps({"task": MessageToDict(task)}))
                await websocket.close(1000)
                return
            else:
                await _error(websocket, -32601, f"Method not found: {method}")
                return
            sent = 0
            async for event in events:
                if stall and sent == stall_after:
                    await asyncio.sleep(stall)
                await websocket.send_text(json.dumps(MessageToDict(to_stream_response(event))))
                sent += 1
            await websocket.close(1000)
        except WebSocketDisconnect:
            return
        except (ValueError, ParseError) as exc:
            await _error(websocket, -32602, f"invalid request: {exc}")
        except Exception as exc:  # noqa: BLE001 - the SDK's A2A errors map to their JSON-RPC codes
            await _error(websocket, _jsonrpc_code(exc), str(exc) or type(exc).__name__)

    return endpoint


def _jsonrpc_code(exc: Exception) -> int:
    """The JSON-RPC code of an a2a-sdk error, as its JSON-RPC binding answers it (``TaskNotFoundError``
    -32001, ``UnsupportedOperationError`` -32004 for a task that ended, …); -32603 for anything else.
    a2a-sdk 1.x errors carry no ``code`` attribute: the SDK's ``JSON_RPC_ERROR_CODE_MAP`` has them."""
    from a2a.utils.errors import JSON_RPC_ERROR_CODE_MAP

    for cls in type(exc).__mro__:
        code = JSON_RPC_ERROR_CODE_MAP.get(cls)
        if code is not None:
            return code
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else -32603


async def _error(websocket: WebSocket, code: int, message: str) -> None:
    try:
        await websocket.send_text(json.dumps({"error": {"code": code, "message": message}}))
        await websocket.close(1008)
    except (WebSocketDisconnect, RuntimeError):
        pass
