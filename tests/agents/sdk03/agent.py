"""An a2a-sdk 0.3.x echo agent for a2actl's interop tests (runs in its own venv; never imports a2actl).

One ASGI app on one port (the app that ``A2ARESTFastAPIApplication.build()`` returns, so unknown routes
get FastAPI's ``{"detail":"Not Found"}``):

* ``/.well-known/agent-card.json`` (and the SDK's deprecated ``/.well-known/agent.json``): a genuine
  0.3 card (``protocolVersion: "0.3.0"``, ``url``, ``preferredTransport``, ``additionalInterfaces``);
* JSON-RPC (``A2AStarletteApplication``) at ``POST /a2a/jsonrpc``;
* HTTP+JSON (``A2ARESTFastAPIApplication``) under ``/a2a/rest``: ``/a2a/rest/v1/message:send`` …;
* ``GET /debug/requests``: what the agent received, oldest first (``DELETE`` clears it).

The SDK's own classes do all the protocol work (``DefaultRequestHandler``, ``InMemoryTaskStore``);
behaviour is the sandbox's (a2actl/sandbox/agent.py) table: plain text → completed with a two-chunk echo
artifact; ``/fail`` failed; ``/input`` input-required; ``/auth`` auth-required; ``/reject`` rejected;
``/cancel`` canceled; ``/msg TEXT`` a bare Message; ``/slow N`` N seconds between steps;
``/stream N BYTES`` N artifact chunks.

Usage: ``python agent.py --port 0 [--host 127.0.0.1] [--preferred JSONRPC|HTTP+JSON] [--interval S]``;
the first stdout line is the base URL, printed once the server is listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from typing import Any

import uvicorn
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.apps import A2ARESTFastAPIApplication, A2AStarletteApplication
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    Part,
    TextPart,
)
from a2a.utils import get_message_text, new_agent_text_message, new_task
from starlette.requests import Request
from starlette.responses import JSONResponse

SDK = "a2a-sdk 0.3.26"
JSONRPC_PATH = "/a2a/jsonrpc"
REST_PREFIX = "/a2a/rest"

# Message commands that end the task in a given state: prefix -> (TaskUpdater method, status text).
_ENDINGS = {
    "/fail": ("failed", "failed on request (/fail)"),
    "/input": ("requires_input", "more input, please"),
    "/auth": ("requires_auth", "sign in first"),
    "/reject": ("reject", "rejected on request (/reject)"),
    "/cancel": ("cancel", "canceled on request (/cancel)"),
}


def _text(text: str) -> Part:
    return Part(root=TextPart(text=text))


class EchoExecutor(AgentExecutor):
    """Echoes the user's text back as a two-chunk artifact, streaming every step."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.canceled: set[str] = set()

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = context.message
        text = get_message_text(message) if message is not None else ""
        if text.startswith("/msg"):
            await event_queue.enqueue_event(
                new_agent_text_message(f"echo: {text[4:].strip()}", context_id=context.context_id)
            )
            return
        task = context.current_task
        if task is None:
            task = new_task(message)
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        interval = self.interval
        if text.startswith("/slow"):
            try:
                interval = float(text.split()[1])
            except (IndexError, ValueError):
                interval = 1.0
        try:
            await updater.start_work(updater.new_agent_message([_text("working on it")]))
            if await self._pause(task.id, interval):
                return
            for prefix, (ending, note) in _ENDINGS.items():
                if text.startswith(prefix):
                    kwargs: dict[str, Any] = {"final": True} if ending.startswith("requires_") else {}
                    await getattr(updater, ending)(updater.new_agent_message([_text(note)]), **kwargs)
                    return
            if text.startswith("/stream"):
                count, size = _stream_args(text)
                for i in range(count):
                    await updater.add_artifact(
                        [_text(_filler(i, size))],
                        artifact_id="stream-artifact",
                        name="stream",
                        append=i > 0,
                        last_chunk=i == count - 1,
                    )
                    if await self._pause(task.id, interval):
                        return
                await updater.complete()
                return
            await updater.add_artifact([_text("echo: ")], artifact_id="echo-artifact", name="echo")
            if await self._pause(task.id, interval):
                return
            await updater.add_artifact(
                [_text(text)], artifact_id="echo-artifact", name="echo", append=True, last_chunk=True
            )
            await updater.complete()
        finally:
            self.canceled.discard(task.id)

    async def _pause(self, task_id: str, seconds: float) -> bool:
        """Sleep; True when the task was canceled meanwhile (the executor then stops publishing)."""
        await asyncio.sleep(seconds)
        return task_id in self.canceled

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task
        if task is not None:
            self.canceled.add(task.id)
            await TaskUpdater(event_queue, task.id, task.context_id).cancel()


def _stream_args(text: str) -> tuple[int, int]:
    parts = text.split()
    try:
        count = int(parts[1]) if len(parts) > 1 else 10
        size = int(parts[2]) if len(parts) > 2 else 64
    except ValueError:
        count, size = 10, 64
    return max(1, min(count, 100_000)), max(1, min(size, 64 * 1024 * 1024))


def _filler(index: int, size: int) -> str:
    return (f"chunk {index}:" + "x" * size)[:size]


def build_card(base: str, preferred: str) -> AgentCard:
    jsonrpc = AgentInterface(transport="JSONRPC", url=base + JSONRPC_PATH)
    rest = AgentInterface(transport="HTTP+JSON", url=base + REST_PREFIX)
    main = rest if preferred == "HTTP+JSON" else jsonrpc
    return AgentCard(
        name="a2actl interop echo agent (a2a-sdk 0.3)",
        description="Echo agent on a2a-sdk 0.3.26, for a2actl's interop tests.",
        url=main.url,
        preferred_transport=main.transport,
        additional_interfaces=[jsonrpc, rest],
        protocol_version="0.3.0",
        version="0.0.1",
        provider=AgentProvider(organization="a2actl", url="https://example.invalid"),
        capabilities=AgentCapabilities(streaming=True, push_notifications=False),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[
            AgentSkill(
                id="echo",
                name="Echo",
                description="Echoes text back.",
                tags=["test"],
                examples=["hello", "/fail", "/input", "/msg hi", "/slow 2"],
            )
        ],
    )


class RequestLog:
    """Pure ASGI middleware: records every HTTP request except ``/debug/…`` (method, path, query,
    JSON-RPC method, A2A-Version header, content type, response status)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.entries: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/debug/"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        entry: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "rpc_method": None,
            "a2a_version": headers.get("a2a-version"),
            "content_type": headers.get("content-type"),
            "status": None,
        }
        self.entries.append(entry)
        if scope["method"] == "POST" and scope["path"] == JSONRPC_PATH:
            body = bytearray()
            messages = []
            while True:
                msg = await receive()
                messages.append(msg)
                if msg["type"] != "http.request":
                    break
                body += msg.get("body", b"")
                if not msg.get("more_body"):
                    break
            try:
                doc = json.loads(bytes(body))
                if isinstance(doc, dict) and isinstance(doc.get("method"), str):
                    entry["rpc_method"] = doc["method"]
            except ValueError:
                pass
            original = receive

            async def replay() -> dict[str, Any]:
                return messages.pop(0) if messages else await original()

            receive = replay

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        await self.app(scope, receive, send_wrapper)


def build_app(base: str, preferred: str, interval: float) -> RequestLog:
    card = build_card(base, preferred)
    handler = DefaultRequestHandler(agent_executor=EchoExecutor(interval), task_store=InMemoryTaskStore())
    app = A2ARESTFastAPIApplication(agent_card=card, http_handler=handler).build(rpc_url=REST_PREFIX)
    A2AStarletteApplication(agent_card=card, http_handler=handler).add_routes_to_app(
        app, rpc_url=JSONRPC_PATH
    )
    log = RequestLog(app)

    async def get_requests(_: Request) -> JSONResponse:
        return JSONResponse(log.entries)

    async def clear_requests(_: Request) -> JSONResponse:
        n = len(log.entries)
        log.entries.clear()
        return JSONResponse({"cleared": n})

    app.add_route("/debug/requests", get_requests, methods=["GET"])
    app.add_route("/debug/requests", clear_requests, methods=["DELETE"])
    return log


async def serve(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)
    host, port = sock.getsockname()[:2]
    base = f"http://{host}:{port}"
    config = uvicorn.Config(
        build_app(base, args.preferred, args.interval),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            sys.exit("server did not start")
        await asyncio.sleep(0.01)
    print(base, flush=True)
    await task


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--preferred", choices=["JSONRPC", "HTTP+JSON"], default="JSONRPC")
    p.add_argument("--interval", type=float, default=0.01, help="seconds between steps (default 0.01)")
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
