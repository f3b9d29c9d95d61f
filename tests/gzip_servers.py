"""Loopback servers that compress: the sandbox behind starlette's ``GZipMiddleware`` (every answer,
SSE included), and a decompression-bomb agent. Serve them with ``tests.servers.LoopbackServer``."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from a2actl.server.sandbox.app import build_app
from a2actl.server.sandbox.options import SandboxOptions
from tests.servers import v1_card


def gzip_sandbox_app(base: str) -> Any:
    """The sandbox agent with every answer gzip-compressed: cards, JSON-RPC and REST answers, and SSE
    streams (``exclude_content_types=()``: starlette skips ``text/event-stream`` by default; each
    streamed chunk is sync-flushed, so events still arrive one by one)."""
    return GZipMiddleware(
        build_app(SandboxOptions(stream_interval=0.01), base), minimum_size=1, exclude_content_types=()
    )


#: What a bomb inflates to if read to the end (bytes): far past every a2actl limit.
BOMB_BYTES = 1024 * 1024 * 1024
_SEGMENT = 1024 * 1024  # zeros per compressed segment (~1 KiB on the wire)


def _gzip_bomb(total: int = BOMB_BYTES) -> Iterator[bytes]:
    """One gzip member of ``total`` zero bytes, compressed lazily, segment by segment (a client that
    stops reading costs the server only what it read). ~1 KiB on the wire per MiB decoded."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(_SEGMENT)
    for _ in range(total // _SEGMENT):
        yield comp.compress(zeros) + comp.flush(zlib.Z_SYNC_FLUSH)
    yield comp.flush()


class _Bomb:
    """An ASGI endpoint answering a gzip bomb, which stops as soon as the client hangs up (a
    ``StreamingResponse`` would compress the whole GiB for nobody, holding the test process's GIL)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-encoding", b"gzip")],
                }
            )
            for chunk in _gzip_bomb():
                if gone.is_set():
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await asyncio.sleep(0)  # let the watcher see a disconnect
            await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()


def bomb_app(base: str) -> Starlette:
    """Routes (each ``/<case>/agent-card.json`` is a card URL TARGET):

    * ``/bomb/…`` the card is a gzip bomb (1 GiB of zeros in ~1 MiB)
    * ``/rpcbomb/…`` a valid gzip-compressed 1.0 card whose JSON-RPC endpoint answers a gzip bomb
    * ``/double/…`` a card gzip-compressed twice (``Content-Encoding: gzip, gzip``)
    * ``/brotli/…`` a card labelled ``Content-Encoding: br``, which a2actl never asks for
    """

    def gzip_json(obj: Any, layers: int = 1) -> Response:
        body = json.dumps(obj).encode()
        for _ in range(layers):
            comp = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            body = comp.compress(body) + comp.flush()
        return Response(
            body, media_type="application/json", headers={"Content-Encoding": ", ".join(["gzip"] * layers)}
        )

    async def rpcbomb_card(_: Request) -> Response:
        return gzip_json(v1_card(base, "/rpcbomb/jsonrpc"))

    async def double(_: Request) -> Response:
        return gzip_json(v1_card(base, "/x"), layers=2)

    async def brotli(_: Request) -> Response:
        return JSONResponse(v1_card(base, "/x"), headers={"Content-Encoding": "br"})

    return Starlette(
        routes=[
            Route("/bomb/agent-card.json", _Bomb()),
            Route("/rpcbomb/agent-card.json", rpcbomb_card),
            Route("/rpcbomb/jsonrpc", _Bomb(), methods=["POST"]),
            Route("/double/agent-card.json", double),
            Route("/brotli/agent-card.json", brotli),
        ]
    )
