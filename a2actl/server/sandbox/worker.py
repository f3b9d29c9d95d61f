"""The sandbox's queue-backed worker path (the DLQ story, ``docs/dlq.md``).

``POST /a2a/queue`` takes ``{"message": {...}}`` (A2A 1.0 ``SendMessageRequest``) and answers
``202 {"queued": <messageId>}``. A background worker processes it through the agent, retrying
``attempts`` times with backoff; when ``fault`` is set (``transient``: the agent's dependency is down;
``permanent``: the payload is rejected) every attempt fails and the message is dead-lettered into the
sandbox's DLQ (file or Redis) as a replayable entry aimed at the sandbox's own JSON-RPC interface.

A worker that cannot dead-letter must not drop messages: ``check_dlq`` refuses to start the sandbox
when its DLQ cannot be written (``a2actl.server.sandbox.server`` calls it first), a failed append is retried
with backoff, and after the last try the message is logged whole (so it can be re-sent) and the queue
answers ``503`` (the producer keeps its messages) until a dead letter is written again or the sandbox
restarts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from a2actl.dlq.store.entry import new_entry

log = logging.getLogger("a2actl.server.sandbox.worker")


def check_dlq(url: str) -> None:
    """Raise an ``A2ACtlError`` (usage: a bad or unwritable file/URL; unreachable: Redis is down)
    unless the sandbox can dead-letter into ``url``."""
    from a2actl.dlq.store.local import open_producer

    open_producer(url).check_writable()


class QueueWorker:
    """Processes queued messages; dead-letters the ones it cannot process."""

    def __init__(
        self,
        handler: Any,
        dlq: Any,
        target_url: str,
        fault: str | None,
        attempts: int = 3,
        backoff: float = 0.01,
    ) -> None:
        self.handler = handler
        self.dlq = dlq
        self.target = {"url": target_url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
        self.fault = fault
        self.attempts = attempts
        self.backoff = backoff
        self.tasks: set[asyncio.Task[None]] = set()
        self.dead = 0
        self.processed = 0
        self.append_retries = 5
        self.broken: str | None = None  # why the last dead letter could not be written

    async def _process(self, body: dict[str, Any]) -> None:
        from a2a.server.context import ServerCallContext
        from a2a.types import a2a_pb2 as pb
        from google.protobuf.json_format import ParseDict

        last = {"code": -32603, "message": "", "class": "transient"}
        for attempt in range(1, self.attempts + 1):
            if self.fault == "transient":
                last = {
                    "code": -32603,
                    "message": "worker dependency unavailable (--worker-fault transient)",
                    "class": "transient",
                }
            elif self.fault == "permanent":
                last = {
                    "code": -32602,
                    "message": "payload rejected (--worker-fault permanent)",
                    "class": "permanent",
                }
                break
            else:
                await self.handler.on_message_send(
                    ParseDict(body, pb.SendMessageRequest(), ignore_unknown_fields=True),
                    ServerCallContext(state={"headers": {"x-a2a-peer": "sandbox-worker"}}),
                )
                self.processed += 1
                return
            await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        await self._dead_letter(
            new_entry("SendMessage", body, self.target, error=last, attempts=attempt, source="sandbox-worker")
        )

    async def _dead_letter(self, entry: dict[str, Any]) -> None:
        for attempt in range(self.append_retries):
            try:
                await self.dlq.append(entry)
            except Exception as exc:  # noqa: BLE001 - any failure to write: retry, then keep the message in the log
                self.broken = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(min(2.0, self.backoff * 10 * 2**attempt))
            else:
                self.broken = None
                self.dead += 1
                return
        log.error(
            "could not dead-letter message %s (%s); the entry follows, re-send it: %s",
            (entry["request"]["params"].get("message") or {}).get("messageId"),
            self.broken,
            json.dumps(entry, separators=(",", ":")),
        )

    def route(self) -> Any:
        """The ``POST /a2a/queue`` endpoint: 400 for a body without ``message.messageId``, 503 while
        dead letters cannot be written, else ``202 {"queued": messageId}`` and the message is processed
        in the background."""

        async def enqueue(request: Request) -> JSONResponse:
            try:
                body = json.loads(await request.body())
                mid = body["message"]["messageId"]
            except (ValueError, KeyError, TypeError):
                return JSONResponse(
                    {
                        "error": {
                            "code": "invalid_argument",
                            "message": 'body must be {"message": {"messageId": ...}}',
                        }
                    },
                    status_code=400,
                )
            if self.broken is not None:  # the producer keeps the message rather than we lose it
                return JSONResponse(
                    {
                        "error": {
                            "code": "unavailable",
                            "message": f"the dead-letter queue cannot be written: {self.broken}",
                        }
                    },
                    status_code=503,
                    headers={"Retry-After": "5"},
                )
            task = asyncio.create_task(self._process(body))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return JSONResponse({"queued": mid}, status_code=202)

        return enqueue
