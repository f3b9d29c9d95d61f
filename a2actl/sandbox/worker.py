"""The sandbox's queue-backed worker path (the DLQ story, ``docs/dlq.md``).

``POST /a2a/queue`` takes ``{"message": {...}}`` (A2A 1.0 ``SendMessageRequest``) and answers
``202 {"queued": <messageId>}``. A background worker processes it through the agent, retrying
``attempts`` times with backoff; when ``fault`` is set (``transient``: the agent's dependency is down;
``permanent``: the payload is rejected) every attempt fails and the message is dead-lettered into the
sandbox's DLQ (file or Redis) as a replayable entry aimed at the sandbox's own JSON-RPC interface.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from a2actl.dlq.entry import new_entry


class QueueWorker:
    """Processes queued messages; dead-letters the ones it cannot process."""

    def __init__(self, handler: Any, dlq: Any, target_url: str, fault: str | None, attempts: int = 3,
                 backoff: float = 0.01) -> None:
        self.handler = handler
        self.dlq = dlq
        self.target = {"url": target_url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
        self.fault = fault
        self.attempts = attempts
        self.backoff = backoff
        self.tasks: set[asyncio.Task[None]] = set()
        self.dead = 0
        self.processed = 0

    async def _process(self, body: dict[str, Any]) -> None:
        from a2a.server.context import ServerCallContext
        from a2a.types import a2a_pb2 as pb
        from google.protobuf.json_format import ParseDict

        last = {"code": -32603, "message": "", "class": "transient"}
        for attempt in range(1, self.attempts + 1):
            if self.fault == "transient":
                last = {"code": -32603, "message": "worker dependency unavailable (--worker-fault transient)",
                        "class": "transient"}
            elif self.fault == "permanent":
                last = {"code": -32602, "message": "payload rejected (--worker-fault permanent)", "class": "permanent"}
                break
            else:
                await self.handler.on_message_send(ParseDict(body, pb.SendMessageRequest(), ignore_unknown_fields=True),
                                                   ServerCallContext(state={"headers": {"x-a2a-peer": "sandbox-worker"}}))
                self.processed += 1
                return
            await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        await self.dlq.append(new_entry("SendMessage", body, self.target, error=last, attempts=attempt,
                                        source="sandbox-worker"))
        self.dead += 1

    def route(self) -> Any:
        async def enqueue(request: Request) -> JSONResponse:
            try:
                body = json.loads(await request.body())
                mid = body["message"]["messageId"]
            except (ValueError, KeyError, TypeError):
                return JSONResponse({"error": {"code": "invalid_argument",
                                               "message": "body must be {\"message\": {\"messageId\": ...}}"}},
                                    status_code=400)
            task = asyncio.create_task(self._process(body))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return JSONResponse({"queued": mid}, status_code=202)
        return enqueue

    async def drain(self) -> None:
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
