"""``core.deadline.within``: the deadline wins even when the work absorbs its cancellation."""

from __future__ import annotations

import asyncio
import time

import pytest

from a2actl.core.deadline import within


async def _stubborn(log: list[str]) -> str:
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        log.append("absorbed")
    await asyncio.sleep(10)  # would run on; the second cancel stops it
    return "done"


def test_the_deadline_raises_timeout_even_when_the_first_cancel_is_absorbed() -> None:
    log: list[str] = []

    async def go() -> None:
        await within(_stubborn(log), 0.02)

    t0 = time.perf_counter()
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(go())
    assert log == ["absorbed"] and time.perf_counter() - t0 < 1.0


def test_work_that_ends_in_time_gives_its_result_or_its_error() -> None:
    async def ok() -> int:
        await asyncio.sleep(0)
        return 42

    async def boom() -> int:
        raise ValueError("no")

    assert asyncio.run(within(ok(), 1.0)) == 42
    with pytest.raises(ValueError, match="no"):
        asyncio.run(within(boom(), 1.0))


def test_cancelling_the_caller_cancels_the_work() -> None:
    state: list[str] = []

    async def work() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            state.append("cancelled")
            raise

    async def go() -> None:
        outer = asyncio.ensure_future(within(work(), 5.0))
        await asyncio.sleep(0.01)
        outer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer
        await asyncio.sleep(0)

    asyncio.run(go())
    assert state == ["cancelled"]


def test_a_cancelled_caller_waits_for_the_work_to_stop() -> None:
    """Ctrl-C or SIGTERM cancel ``asyncio.run``'s main task, the caller of ``within``: the work's own
    stop (an ``await`` in its handler: ``dlq replay`` committing its acknowledged batch) ends before
    the cancellation propagates. It was cut: ``asyncio.run`` cancelled the work again mid-stop."""
    state: list[str] = []

    async def work() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.2)  # the graceful stop
            state.append("stopped")
            raise

    async def go() -> None:
        await within(work(), 5.0)

    async def main() -> None:
        outer = asyncio.ensure_future(go())
        await asyncio.sleep(0.05)
        outer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer
        state.append("caller saw the cancel")

    asyncio.run(main())
    assert state == ["stopped", "caller saw the cancel"]
