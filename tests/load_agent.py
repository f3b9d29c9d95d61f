"""A fast A2A 1.0 JSON-RPC agent for load tests, with one injectable stall.

The sandbox (a2a-sdk) costs a few milliseconds of CPU per request in the test process's own
threads; this agent answers ``SendMessage`` and ``GetTask`` at once with a completed task (text
``/fail``: a failed one), so the generator, not the agent, sets the pace. ``stall(after, seconds)``
makes every request that arrives in the window ``[after, after + seconds)`` after the next
request wait until the window ends: an agent that stops answering for ``seconds``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.servers import LoopbackServer, v1_card


class LoadAgent:
    """State shared with the app: the stall window (perf_counter seconds) and request counts."""

    def __init__(self) -> None:
        self.window: tuple[float, float] | None = None
        self.pending_stall: tuple[float, float] | None = None
        self.requests = 0

    def stall(self, after: float, seconds: float) -> None:
        """Stall for ``seconds`` starting ``after`` seconds after the next request arrives."""
        self.pending_stall = (after, seconds)
        self.window = None

    async def wait_out_stall(self) -> None:
        now = time.perf_counter()
        if self.pending_stall is not None:
            after, seconds = self.pending_stall
            self.window = (now + after, now + after + seconds)
            self.pending_stall = None
        if self.window is not None and self.window[0] <= now < self.window[1]:
            await asyncio.sleep(self.window[1] - now)


def load_app(agent: LoadAgent) -> Any:
    def factory(base: str) -> Starlette:
        async def card(_: Request) -> Response:
            return JSONResponse(v1_card(base, "/jsonrpc"))

        async def rpc(request: Request) -> Response:
            agent.requests += 1
            await agent.wait_out_stall()
            body = json.loads(await request.body())
            params = body.get("params") or {}
            if body.get("method") == "SendMessage":
                parts = (params.get("message") or {}).get("parts") or [{}]
                text = parts[0].get("text", "")
                state = "TASK_STATE_FAILED" if text.startswith("/fail") else "TASK_STATE_COMPLETED"
                result: dict[str, Any] = {
                    "task": {"id": "t-1", "contextId": "c-1", "status": {"state": state}}
                }
            elif body.get("method") == "GetTask":
                result = {
                    "id": params.get("id"),
                    "contextId": "c-1",
                    "status": {"state": "TASK_STATE_COMPLETED"},
                }
            else:
                return JSONResponse(
                    {
                        "jsonrpc": "2.0",
                        "id": body.get("id"),
                        "error": {"code": -32601, "message": "no such method"},
                    }
                )
            return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": result})

        return Starlette(
            routes=[
                Route("/.well-known/agent-card.json", card),
                Route("/jsonrpc", rpc, methods=["POST"]),
            ]
        )

    return factory


def start_load_agent() -> tuple[LoopbackServer, LoadAgent]:
    """A running ``LoadAgent`` server (enter the returned ``LoopbackServer``)."""
    agent = LoadAgent()
    return LoopbackServer(load_app(agent)), agent
