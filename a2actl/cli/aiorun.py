"""Run a command's coroutine with Python 3.11's Ctrl-C rule on every supported Python (3.10+).

On 3.11+, ``asyncio.run`` (``asyncio.Runner``) turns the first Ctrl-C into a cancellation of the
main task, so a command's ``finally`` and ``except CancelledError`` blocks run inside the loop and
may still return a result: ``load run`` its report marked ``interrupted``, ``dlq replay`` its commit
of what the agent acknowledged, ``smoke run`` its JUnit file. A second Ctrl-C is a
``KeyboardInterrupt`` at once.

On 3.10, ``asyncio.run`` has no such handler: the ``KeyboardInterrupt`` is raised wherever the loop
happens to be (usually in its ``select``), ``asyncio.run`` then cancels every task at once and
re-raises, so the result the main task returns is lost (``load run`` ended with no report, exit 130).
``run`` here gives 3.10 the 3.11 behaviour: the same SIGINT handler as ``asyncio.Runner._on_sigint``
(CPython Lib/asyncio/runners.py, 3.11), the same loop shutdown. SIGTERM reaches it as a SIGINT
(``a2actl.__main__._term_as_interrupt``).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on a new event loop and return its result, as ``asyncio.run``.
    The first Ctrl-C cancels the main task (its result is returned if it takes the cancellation
    back; if it ends cancelled, ``KeyboardInterrupt`` is raised); a second raises
    ``KeyboardInterrupt`` at once. Raises what ``coro`` raises."""
    if sys.version_info >= (3, 11):
        return asyncio.run(coro)
    return _run_310(coro)


def _run_310(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.Runner.run`` of Python 3.11, for 3.10 (no ``Task.uncancel`` there: a main task that
    ends cancelled after a Ctrl-C is a ``KeyboardInterrupt``). Plain asyncio: it runs, and is tested
    (tests/unit/cli/test_aiorun.py), on 3.11 too."""
    loop = asyncio.new_event_loop()
    interrupts = 0
    task: asyncio.Task[T] | None = None

    def on_sigint(_signum: int, _frame: object) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1 and task is not None and not task.done():
            task.cancel()
            loop.call_soon_threadsafe(lambda: None)  # wake a loop blocked in select()
            return
        raise KeyboardInterrupt()

    handler_set = False
    try:
        asyncio.set_event_loop(loop)
        task = loop.create_task(coro)
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            try:
                signal.signal(signal.SIGINT, on_sigint)
                handler_set = True
            except ValueError:
                pass
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            if interrupts > 0:
                raise KeyboardInterrupt() from None
            raise
    finally:
        if handler_set and signal.getsignal(signal.SIGINT) is on_sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks still pending on ``loop`` and wait for them (``asyncio.runners``'s own step
    at shutdown); an error one of them raised goes to the loop's exception handler."""
    pending = asyncio.all_tasks(loop)
    if not pending:
        return
    for t in pending:
        t.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    for t in pending:
        if t.cancelled():
            continue
        if t.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during asyncio.run() shutdown",
                    "exception": t.exception(),
                    "task": t,
                }
            )
