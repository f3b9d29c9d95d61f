"""The sandbox's queue-backed worker path (the DLQ story, ``docs/dlq.md``).

``POST /a2a/queue`` takes ``{"message": {...}}`` (A2A 1.0 ``SendMessageRequest``) and answers
``202 {"queued": <messageId>}``. A background worker processes it through the agent, retrying
``attempts`` times with backoff; when ``fault`` is set (``transient``: the agent's dependency is down;
``permanent``: the payload is rejected) every attempt fails and the message is dead-lettered into the
sandbox's DLQ (file, Redis or RabbitMQ) as a replayable entry aimed at the sandbox's own JSON-RPC
interface.

With a RabbitMQ DLQ (``--dlq amqp://…?queue=NAME``) the dead letter goes through the broker's own
dead-lettering, the way a RabbitMQ consumer fails a message: the entry is published to the work queue
``NAME.work`` (declared with the default exchange as its dead-letter exchange and ``NAME`` as the
routing key), and the sandbox's consumer of that queue (``start``, on the server's loop) tries it once
more and rejects it without requeue when it fails, so RabbitMQ moves it into ``NAME`` with ``x-death``.
A message republished to the work queue (``dlq replay --to-broker``) is taken by the same consumer:
processed and acknowledged by a sandbox without ``--worker-fault``, rejected again by a broken one.

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
    """Raise an ``A2ACtlError`` (usage: a bad or unwritable file/URL; unreachable: Redis or
    RabbitMQ is down; auth: RabbitMQ refused the credentials) unless the sandbox can dead-letter into
    ``url`` (for RabbitMQ: declares the DLQ and its work queue)."""
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
        self._consumer: Any = None  # the work-queue channel of a RabbitMQ DLQ (``start``)

    async def start(self) -> None:
        """On the server's loop before it serves: with a RabbitMQ DLQ, declare its topology and
        consume the work queue (``AmqpBackend.consume_work``); nothing for file and Redis DLQs."""
        consume = getattr(self.dlq, "consume_work", None)
        if consume is None:
            return
        await self.dlq.declare_topology()
        self._consumer = await consume(self._from_work_queue)

    async def stop(self) -> None:
        """Stop consuming and close the DLQ's connections (unacknowledged messages are requeued)."""
        if self._consumer is not None:
            try:
                await self._consumer.close()
            except Exception:  # noqa: BLE001 - closing anyway
                log.debug("closing the work-queue channel failed", exc_info=True)
            self._consumer = None
        close = getattr(self.dlq, "close", None)
        if close is not None:
            await close()

    async def _from_work_queue(self, entry: dict[str, Any]) -> bool:
        """One message of the RabbitMQ work queue: ``True`` (acknowledge) when the agent processed
        its request, ``False`` (reject: RabbitMQ dead-letters it) under ``--worker-fault``."""
        if self.fault is not None:
            return False
        params = (entry.get("request") or {}).get("params")
        if not isinstance(params, dict):
            return False
        await self._handle(params)
        return True

    async def _handle(self, body: dict[str, Any]) -> None:
        from a2a.server.context import ServerCallContext
        from a2a.types import a2a_pb2 as pb
        from google.protobuf.json_format import ParseDict

        await self.handler.on_message_send(
            ParseDict(body, pb.SendMessageRequest(), ignore_unknown_fields=True),
            ServerCallContext(state={"headers": {"x-a2a-peer": "sandbox-worker"}}),
        )
        self.processed += 1

    async def _process(self, body: dict[str, Any]) -> None:
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
                await self._handle(body)
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
