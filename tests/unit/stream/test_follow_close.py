"""``stream/follow.tail_a2a``: a stream that reached its task's end is reported as it ended, whatever
closing the channel's stream then costs. A WebSocket peer that never answers the close frame holds
``WebSocketClient.stream``'s ``ws.close()`` for up to its close_timeout; awaiting that inside the
tail turned a completed tail into ``max-time`` (exit 5) or ``stalled`` (exit 7)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from a2actl.protocol.events import classify_event
from a2actl.protocol.versions import Family
from a2actl.stream.follow import tail_a2a
from a2actl.stream.tail import TailOptions
from a2actl.transport.channel import TimedEvent

EVENTS = [
    {"task": {"id": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_SUBMITTED"}}},
    {"statusUpdate": {"taskId": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_WORKING"}}},
    {"statusUpdate": {"taskId": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_COMPLETED"}}},
]


class SlowToClose:
    """A channel without ``stream_batches`` (the one-item-list fallback, as gRPC and WebSocket
    clients are) whose stream, once closed, waits ``close_wait`` seconds (an unanswered close
    handshake). Only ``stream`` is used by the tail."""

    family = Family.V1_0
    binding = "urn:a2actl:websocket:1"
    url = "ws://127.0.0.1:9/a2a/ws"

    def __init__(self, close_wait: float) -> None:
        self.close_wait = close_wait

    async def call(self, operation: str, params: dict[str, Any]) -> Any:
        raise AssertionError("no unary call is expected")

    async def stream(
        self, operation: str, params: dict[str, Any], *, heartbeats: bool = False
    ) -> AsyncIterator[TimedEvent]:
        try:
            for k, doc in enumerate(EVENTS):  # each its own read (its own ``at``)
                yield TimedEvent(float(k), 10, classify_event(doc), False)
            await asyncio.sleep(3600)  # the peer says nothing more
        finally:
            await asyncio.sleep(self.close_wait)


@pytest.mark.parametrize(
    "opts",
    [TailOptions(max_time=0.3), TailOptions(heartbeat=5.0, stall_timeout=0.3)],
    ids=["max-time", "stall-timeout"],
)
def test_a_completed_stream_is_completed_however_long_its_close_takes(opts: TailOptions) -> None:
    channel = SlowToClose(close_wait=1.0)  # longer than --max-time / --stall-timeout
    records: list[dict[str, Any]] = []

    async def run() -> dict[str, Any]:
        summary = await tail_a2a(channel, "SendStreamingMessage", {"message": {}}, opts, records.append)
        return summary.to_json()

    doc = asyncio.run(run())
    assert (doc["outcome"], doc["exitCode"], doc["finalState"]) == ("completed", 0, "completed")
    assert [r["state"] for r in records if r["type"] == "event"] == ["submitted", "working", "completed"]
