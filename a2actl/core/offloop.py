"""Reading a local file without blocking the event loop when the file may never end.

A FIFO or ``<(cmd)`` blocks in ``open`` until a writer comes, and in ``read`` until it writes or
closes; on the event loop that read ignored ``--max-time`` and Ctrl-C/SIGTERM (the loop cannot run
the deadline or the signal's cancellation while it is blocked), so the process outlived both.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def read_path(path: str, read: Callable[[], T], name: str = "a2actl-file") -> T:
    """``read()``, which reads the local file ``path``: at once when ``path`` is a regular file (or
    cannot be looked at: ``read`` then says why), else ``off_the_loop``. Returns what ``read``
    returns; raises what it raises (any ``Exception``)."""
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        regular = True
    if regular:
        return read()
    return await off_the_loop(read, name)


async def write_path(
    path: str, write: Callable[[], object], seconds: float | None, name: str = "a2actl-out"
) -> None:
    """``write()``, which opens the local file ``path`` and writes it: at once when ``path`` is a
    regular file or does not exist (it is created), else (a FIFO, ``>(cmd)``, a device) in a daemon
    thread (``off_the_loop``) for at most ``seconds`` (``None``: no bound). Opening a FIFO blocks
    until a reader comes, and a write blocks while the reader does not read; on the loop that
    ignored the deadline and Ctrl-C/SIGTERM. Raises ``asyncio.TimeoutError`` when ``write`` has not
    returned in ``seconds`` (the thread is left behind, blocked), and what ``write`` raises."""
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        regular = True
    if regular:
        write()
        return
    if seconds is None:
        await off_the_loop(write, name)
        return
    from a2actl.core.deadline import within

    await within(off_the_loop(write, name), seconds)


async def off_the_loop(read: Callable[[], T], name: str = "a2actl-file") -> T:
    """``read()`` in a daemon thread (named ``name``) while the loop waits, so a deadline or a
    cancellation (Ctrl-C, SIGTERM) ends the wait; the thread is left behind when the caller gives up.
    A daemon thread, not the loop's executor: ``asyncio.run`` would wait for a blocked executor
    thread at exit. Returns what ``read`` returns; raises what it raises (any ``Exception``)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(outcome: tuple[bool, object]) -> None:
        if done.done():  # the caller gave up (deadline, Ctrl-C)
            return
        ok, value = outcome
        if ok:
            done.set_result(value)  # type: ignore[arg-type]
        else:
            assert isinstance(value, BaseException)
            done.set_exception(value)

    def work() -> None:
        outcome: tuple[bool, object]
        try:
            outcome = (True, read())
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting task
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop closed: the command already ended
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await done


__all__ = ["off_the_loop", "read_path", "write_path"]
