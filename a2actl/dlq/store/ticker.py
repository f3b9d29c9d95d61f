"""Background loops that stop reliably: the replay lease renewer and the consumer group's idle-time
refresher run on a timer and must end when their owner closes.

A cancel alone is not enough: redis-py sends each command under ``asyncio.wait_for``, and on Python
3.11 ``wait_for`` drops a cancel that lands just as the write completes, so a loop stopped only by
``cancel()`` could run on and its owner's ``await`` never return. These loops wait on an
``asyncio.Event`` as well, and the owner sets it before cancelling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


async def ticks(stop: asyncio.Event, interval: float) -> AsyncIterator[None]:
    """Yield every ``interval`` seconds until ``stop`` is set (checked before each yield, so a tick
    never starts after the owner asked to stop)."""
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set():
            return
        yield


async def stop_task(task: asyncio.Task[None] | None, stop: asyncio.Event) -> None:
    """Stop a loop driven by ``ticks(stop, …)``: set ``stop``, cancel ``task`` and wait for it."""
    if task is None:
        return
    stop.set()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
