"""What the benchmarks share: free loopback ports and the raw-ASGI A2A sink they measure against.

The sink (uvicorn, its own process: ``python bench/X.py --serve PORT`` calls ``sink``) answers a
GET with a 1.0 agent card whose JSON-RPC interface is ``/rpc``, and every POST at once with a
completed Task for the request's JSON-RPC id, so the client, not the agent, sets the pace.

It needs uvicorn's httptools parser (``pip install -e '.[bench]'``) and refuses to start on h11.
On h11 the sink, not the client, was the bottleneck: pinned to its own CPU of the 2-core VM it
answered about 10k req/s, and hey, wrk, the bare aiohttp loop and a2actl all stopped there (session
16: 9,888 / 9,890 / 9,930 / 9,500 req/s). On httptools hey gets 47k and wrk 44k req/s from it, so a
client's figure is the client's (session 17).
"""

from __future__ import annotations

import socket
import time
from typing import Any


def sink(port: int) -> None:
    """Serve the sink on 127.0.0.1:``port`` until killed."""
    import orjson
    import uvicorn

    try:
        import httptools  # noqa: F401 - uvicorn's fast HTTP/1.1 parser
    except ImportError:
        raise SystemExit(
            "bench sink: httptools is not installed (pip install -e '.[bench]'); on h11 the sink, "
            "not the client, would be the bottleneck"
        ) from None

    card = orjson.dumps(
        {
            "name": "sink",
            "description": "answers at once",
            "version": "1",
            "supportedInterfaces": [
                {
                    "url": f"http://127.0.0.1:{port}/rpc",
                    "protocolBinding": "JSONRPC",
                    "protocolVersion": "1.0",
                }
            ],
            "capabilities": {},
            "defaultInputModes": ["text/plain"],
            "defaultOutputModes": ["text/plain"],
            "skills": [],
        }
    )
    task = {"task": {"id": "t", "contextId": "c", "status": {"state": "TASK_STATE_COMPLETED"}}}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        if scope["method"] == "GET":
            out = card
        else:
            rid = orjson.loads(body).get("id") if body else None
            out = orjson.dumps({"jsonrpc": "2.0", "id": rid, "result": task})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(out)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": out})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
        lifespan="off",
        http="httptools",
    )


def free_port() -> int:
    """A loopback port nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    """Wait (10 s at most) until 127.0.0.1:``port`` accepts connections; exit the bench otherwise."""
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")
