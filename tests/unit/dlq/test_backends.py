"""RedisBackend's idle-time refresher ends when the backend closes, even when a Redis call absorbs
the cancellation (a hang of ``dlq replay`` with a consumer group under load: the refresher's task
stayed "cancelling" and looped on, so ``close()`` never returned)."""

from __future__ import annotations

import asyncio
from typing import Any

from a2actl.dlq.backends import RedisBackend


class _SwallowingClient:
    """A Redis client whose XCLAIM absorbs a cancellation, as a connection layer may."""

    def __init__(self) -> None:
        self.calls = 0

    async def xclaim(self, *args: Any, **kwargs: Any) -> list[str]:
        self.calls += 1
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass  # swallowed
        return []

    async def aclose(self) -> None:
        return None


def test_close_ends_the_refresher_even_if_a_call_swallows_the_cancel() -> None:
    async def run() -> int:
        backend = RedisBackend("redis://127.0.0.1:9/0?stream=s&group=g&consumer=c")
        backend.client = _SwallowingClient()  # type: ignore[assignment]
        backend.claim_after = 0.15
        backend.held.update({"1-0", "2-0"})
        backend._heartbeat = asyncio.create_task(backend._keep_held())
        while backend.client.calls == 0:  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
        await asyncio.wait_for(backend.close(), 2.0)  # hung forever before
        return backend.client.calls  # type: ignore[attr-defined]

    assert asyncio.run(run()) >= 1
