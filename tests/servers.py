"""Loopback servers for the tests: any ASGI app under uvicorn on 127.0.0.1:0, and a fault server of
our own for bad behaviour (HTTP errors, non-JSON and oversized cards, JSON-RPC errors, hangs)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from a2actl.sandbox.server import base_url_of, bind_socket


class LoopbackServer:
    """Serve ``app_factory(base_url)`` on 127.0.0.1 in a background thread (optionally over TLS)."""

    def __init__(self, app_factory: Any, certfile: str | None = None, keyfile: str | None = None) -> None:
        self.sock = bind_socket("127.0.0.1", 0)
        scheme = "https" if certfile else "http"
        self.url = base_url_of(self.sock, "127.0.0.1").replace("http://", f"{scheme}://")
        config = uvicorn.Config(app_factory(self.url), log_level="error", access_log=False, lifespan="off",
                                ssl_certfile=certfile, ssl_keyfile=keyfile, timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])),
                                       daemon=True)

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()


def v1_card(base: str, rpc_path: str) -> dict[str, Any]:
    return {
        "name": "fault agent", "description": "misbehaves on purpose", "version": "1",
        "supportedInterfaces": [{"url": base + rpc_path, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
        "capabilities": {"streaming": False}, "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"], "skills": [{"id": "x", "name": "x", "description": "x", "tags": []}],
    }


BIG_CARD_BYTES = 50 * 1024 * 1024


def fault_app(base: str) -> Starlette:
    """Routes (each ``/<fault>/agent-card.json`` is a card URL TARGET):

    * ``/http500/…`` 500; ``/http401/…`` 401 with a Bearer challenge; ``/nonjson/…`` an HTML page
    * ``/big/…`` a 50 MB body with no Content-Length (must be cut off, exit 6)
    * ``/rpcerror/…`` a valid 1.0 card whose JSON-RPC endpoint answers -32603
    * ``/badenvelope/…`` a card whose JSON-RPC endpoint answers a non-2.0 envelope
    * ``/hang/…`` answers after 5 s
    * ``/markup/…`` a card whose name carries rich markup and a terminal escape
    """

    async def http500(_: Request) -> Response:
        return PlainTextResponse("boom", status_code=500)

    async def http401(_: Request) -> Response:
        return JSONResponse({"error": "no"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    async def nonjson(_: Request) -> Response:
        return Response("<html><body>Welcome to nginx!</body></html>", media_type="text/html")

    async def big(_: Request) -> Response:
        chunk = b"x" * (1024 * 1024)

        async def gen() -> Any:
            yield b'{"name": "'
            for _ in range(BIG_CARD_BYTES // len(chunk)):
                yield chunk
            yield b'"}'
        return StreamingResponse(gen(), media_type="application/json")

    async def rpcerror_card(_: Request) -> Response:
        return JSONResponse(v1_card(base, "/rpcerror/jsonrpc"))

    async def rpcerror(request: Request) -> Response:
        body = json.loads(await request.body())
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"),
                             "error": {"code": -32603, "message": "database is on fire"}})

    async def badenv_card(_: Request) -> Response:
        return JSONResponse(v1_card(base, "/badenvelope/jsonrpc"))

    async def badenv(_: Request) -> Response:
        return JSONResponse({"jsonrpc": "1.0", "result": {}, "id": 1})

    async def hang(_: Request) -> Response:
        await asyncio.sleep(5)
        return JSONResponse(v1_card(base, "/x"))

    async def markup(_: Request) -> Response:
        card = v1_card(base, "/x")
        card["name"] = "[bold red]pwned[/bold red]\x1b[2J"
        return JSONResponse(card)

    return Starlette(routes=[
        Route("/http500/agent-card.json", http500), Route("/http401/agent-card.json", http401),
        Route("/nonjson/agent-card.json", nonjson), Route("/big/agent-card.json", big),
        Route("/rpcerror/agent-card.json", rpcerror_card), Route("/rpcerror/jsonrpc", rpcerror, methods=["POST"]),
        Route("/badenvelope/agent-card.json", badenv_card),
        Route("/badenvelope/jsonrpc", badenv, methods=["POST"]),
        Route("/hang/agent-card.json", hang), Route("/markup/agent-card.json", markup),
    ])
