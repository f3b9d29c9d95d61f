"""``cli.context.Invocation.run``: the event loop every command's core coroutine runs on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

import pytest

from a2actl.cli.context import Invocation
from a2actl.core.config import Settings


def test_streams_left_open_close_at_the_end_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """A stream an error answer ended is left open (``stream tail --task`` of a task that ended, on
    a2a-sdk 0.3: an error frame); ``asyncio.run``'s ``shutdown_asyncgens`` then closes every open
    async generator at once, the inner one of ``transport.channel.stream_batches`` too while the
    outer one's ``finally`` is closing it: "aclose(): asynchronous generator is already running"
    came out as a traceback after the command's own one-line error. The other order is
    ``close_inner``'s (tests/unit/transport/test_stream_batches.py). 30 pairs: the order of
    ``shutdown_asyncgens`` is a set's, each pair hit it about half the time."""
    from a2actl.transport.channel import close_inner

    async def inner() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            await asyncio.sleep(0.01)  # closing takes a while (a response, a WebSocket close)

    async def outer(gen: AsyncGenerator[int, None]) -> AsyncGenerator[int, None]:
        try:
            async for x in gen:
                yield x
        finally:
            await close_inner(gen)

    kept: list[AsyncGenerator[int, None]] = []  # open until the loop's end, as an error's frames keep them

    async def main() -> None:
        for _ in range(30):
            out = outer(inner())
            assert await out.__anext__() == 1
            kept.append(out)

    caplog.set_level(logging.ERROR, logger="asyncio")
    Invocation(Settings()).run(main(), bounded=False)
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_each_run_gets_only_what_the_runs_before_it_left_of_max_time() -> None:
    """``Invocation.run`` called twice (``sessions kill``: the plan, then the kills; ``send``: a part
    read off the loop, then the send) gave each call a whole --max-time. The time each run takes is
    ``spent``; the next gets the rest (``budget``), and a run past it is exit 5 naming --max-time.
    Time between runs (a confirmation prompt) is not counted."""
    import time

    from a2actl.core.errors import TimeoutError_

    run = Invocation(Settings(max_time=1.0), command="sessions kill")
    assert run.budget() == 1.0
    run.run(asyncio.sleep(0.4))
    first = run.spent
    assert 0.4 <= first < 0.8 and run.budget() == pytest.approx(1.0 - first)
    time.sleep(0.3)  # outside run: not counted
    assert run.spent == first
    with pytest.raises(TimeoutError_, match=r"^gave up after --max-time 1s$"):
        run.run(asyncio.sleep(0.9))  # more than what is left: cut at the deadline
    assert 0.95 <= run.spent < 1.4 and run.budget() == 0.0
    without = Invocation(Settings(), command="")  # no deadline at all: no budget
    assert without.budget() is None
    assert without.run(asyncio.sleep(0, result=7)) == 7
