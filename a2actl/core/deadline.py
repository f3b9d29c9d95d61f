"""A deadline that holds even when the work under it absorbs its cancellation.

``asyncio.wait_for`` cancels the task at the deadline and then returns the task's *result* if the
task finishes anyway: a cancellation absorbed somewhere below (a library that catches
``CancelledError`` around a read, or a cancel landing as a nested timeout fires) turns a timeout
into a normal completion. ``stream tail --max-time 0.2`` then ran the whole stream and exited 0
instead of 5 in about a third of runs. ``within`` decides at the deadline: the work is cancelled
until it stops, its outcome is dropped, and the caller gets ``asyncio.TimeoutError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

#: How long to wait for the cancelled work to stop before cancelling it again (seconds).
_RECANCEL_EVERY = 0.05
#: How long a cancelled caller (Ctrl-C, SIGTERM) waits for the work's own graceful stop (seconds).
_STOP_GRACE = 5.0


async def within(work: Awaitable[T], seconds: float) -> T:
    """Await ``work`` for at most ``seconds`` (wall time). Returns its result, or raises what it
    raises, when it ends in time; at the deadline it is cancelled (again every 50 ms until it
    stops) and ``asyncio.TimeoutError`` is raised, whatever the work did with the cancellation.
    If the caller is cancelled meanwhile (Ctrl-C or SIGTERM cancel ``asyncio.run``'s main task), the
    work is cancelled too and given up to ``_STOP_GRACE`` seconds to run its own stop (``dlq
    replay`` commits what the agent acknowledged) before the cancellation propagates: without the
    wait, ``asyncio.run`` cancelled the work again in the middle of that stop."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):  # cancelled again while waiting: stop waiting
            await asyncio.wait({task}, timeout=_STOP_GRACE)
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: an error raised while stopping is not the outcome
        raise
    except BaseException:  # a KeyboardInterrupt raised here (a second Ctrl-C): at once
        task.cancel()
        raise
    if task in done:
        return task.result()
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=_RECANCEL_EVERY)
    if not task.cancelled():
        task.exception()  # retrieved: an error raised while stopping is not the outcome
    raise asyncio.TimeoutError
