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
from typing import IO, Any, TypeVar

from a2actl.core.config import MAX_INPUT_BYTES, MAX_REPORT_BYTES

T = TypeVar("T")

#: Seconds a non-regular output file (a FIFO ``--out``/``--junit``) gets at least to take a report
#: when the deadline has run out (a run it stopped still hands a waiting reader its report).
WRITE_GRACE = 2.0


def over_limit(label: str, limit: int) -> str:
    """The one-line reason an input of ``label`` (``"--file PATH"``) was refused for holding more than
    ``limit`` bytes: ``"--file PATH: over the 64 MiB limit (67,108,864 bytes)"`` (a limit that is
    no whole number of MiB: ``"… over the 1,000-byte limit"``)."""
    mib, rest = divmod(limit, 1024 * 1024)
    if mib and not rest:
        return f"{label}: over the {mib} MiB limit ({limit:,} bytes)"
    return f"{label}: over the {limit:,}-byte limit"


def read_upto(stream: IO[bytes], most: int) -> bytes:
    """At most ``most`` bytes of ``stream`` (a binary file object just opened, or
    ``sys.stdin.buffer``), up to its end; the caller decides what more than it wants means (read
    ``limit + 1`` to tell). From the stream's file descriptor when it has one, by ``os.read`` in
    chunks of at most 1 MiB: a daemon thread blocked there (a FIFO, a pipe nobody writes, read off
    the loop) holds no buffer lock, which would stop the interpreter's exit. Else (``io.BytesIO``, a
    test's stand-in for stdin) ``stream.read`` in a loop, as a raw stream may return less than
    asked before its end. Raises ``OSError``/``ValueError`` from the read."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        fd = None
    chunks: list[bytes] = []
    size = 0
    while size < most:
        want = most - size
        chunk = stream.read(want) if fd is None else os.read(fd, min(1 << 20, want))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def stdin_bytes(what: str, hint: str) -> IO[bytes]:
    """Standard input as the bytes stream a ``-`` argument reads (``sys.stdin.buffer``); ``what``
    names the argument in the errors (``"suite '-'"``). Raises ``UsageError`` (exit 2, with
    ``hint``) when it is closed (``<&-``), a terminal (nobody piped anything in: the command would
    wait for typing) or has no bytes stream."""
    import sys

    from a2actl.core.errors import UsageError

    stream = sys.stdin
    if stream is None:  # `<&-`: Python's sys.stdin is None
        raise UsageError(f"{what} reads standard input, which is closed", hint=hint)
    try:
        tty = stream.isatty()
    except (OSError, ValueError):
        tty = False
    if tty:
        raise UsageError(f"{what} reads standard input, which is a terminal", hint=hint)
    buffer: IO[bytes] | None = getattr(stream, "buffer", None)
    if buffer is None:
        raise UsageError(f"{what} reads standard input, which cannot be read as bytes", hint=hint)
    return buffer


def read_capped(stream: IO[bytes], label: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """All bytes of ``stream`` (a binary file object, such as ``sys.stdin.buffer``), reading at most
    ``limit`` + 1 of them (``read_upto``): ``/dev/zero`` or ``<(yes)`` never end, and a whole read
    held ~1 GB after 3 s until the machine ran out of memory. Raises ``UsageError`` (exit 2) naming
    ``label`` and the limit (``over_limit``) when there are more than ``limit``;
    ``OSError``/``ValueError`` from the read itself."""
    from a2actl.core.errors import UsageError

    data = read_upto(stream, limit + 1)
    if len(data) > limit:
        raise UsageError(over_limit(label, limit))
    return data


def read_file_capped(path: str, label: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """All bytes of the local file ``path`` (``read_capped``: at most ``limit`` + 1 are read).
    Raises ``UsageError`` (exit 2): ``"LABEL: cannot read: REASON"`` when it cannot be opened or
    read, ``over_limit`` when it holds more than ``limit`` bytes."""
    from a2actl.core.errors import UsageError

    try:
        with open(path, "rb") as fh:
            return read_capped(fh, label, limit)
    except OSError as exc:
        raise UsageError(f"{label}: cannot read: {exc.strerror or exc}") from exc


def is_regular(path: str) -> bool:
    """Whether ``path`` is a regular file, or cannot be looked at (the caller's open then says why)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return True


def stdin_is_regular() -> bool:
    """Whether standard input (file descriptor 0) is a regular file (``< file``), or cannot be
    looked at (closed: its read says so at once). A pipe, a terminal or ``/dev/null`` is not: a
    pipe or terminal may never end, so such a stdin is read off the loop (``off_the_loop``)."""
    try:
        return stat.S_ISREG(os.fstat(0).st_mode)
    except (OSError, ValueError):
        return True


async def read_path(path: str, read: Callable[[], T], name: str = "a2actl-file") -> T:
    """``read()``, which reads the local file ``path``: at once when ``path`` is a regular file (or
    cannot be looked at: ``read`` then says why), else ``off_the_loop``. Returns what ``read``
    returns; raises what it raises (any ``Exception``)."""
    if is_regular(path):
        return read()
    return await off_the_loop(read, name)


async def read_json_files(
    paths: list[str], name: str, too_deep: str | None = None, limit: int = MAX_REPORT_BYTES
) -> list[tuple[str, Any]]:
    """``(path, parsed JSON)`` of each file, in order, each read by ``read_path`` (a FIFO or
    ``<(cmd)`` in a thread, so a deadline or Ctrl-C/SIGTERM ends a wait for a writer that never
    comes), at most ``limit`` bytes of each (``read_file_capped``). Raises ``UsageError`` (exit 2):
    ``"PATH: cannot read: …"``, ``"PATH: over the 256 MiB limit (…)"``, ``"PATH: not JSON: …"``, or
    ``"PATH: {too_deep}"`` for JSON nested past the recursion limit (``None``: as not JSON)."""
    from a2actl.core.errors import UsageError

    def reader(path: str) -> Callable[[], Any]:
        def read() -> Any:
            import json

            data = read_file_capped(path, path, limit)
            try:
                return json.loads(data.decode("utf-8"))
            except ValueError as exc:  # UnicodeDecodeError too: as json.load on a text file
                raise UsageError(f"{path}: not JSON: {exc}") from exc
            except RecursionError as exc:
                raise UsageError(f"{path}: {too_deep}" if too_deep else f"{path}: not JSON: {exc}") from exc

        return read

    return [(path, await read_path(path, reader(path), name)) for path in paths]


async def write_path(
    path: str, write: Callable[[], object], seconds: float | None, name: str = "a2actl-out"
) -> None:
    """``write()``, which opens the local file ``path`` and writes it: at once when ``path`` is a
    regular file or does not exist (it is created), else (a FIFO, ``>(cmd)``, a device) in a daemon
    thread (``off_the_loop``) for at most ``seconds`` (``None``: no bound). Opening a FIFO blocks
    until a reader comes, and a write blocks while the reader does not read; on the loop that
    ignored the deadline and Ctrl-C/SIGTERM. Raises ``asyncio.TimeoutError`` when ``write`` has not
    returned in ``seconds`` (the thread is left behind, blocked), and what ``write`` raises."""
    if is_regular(path):
        write()
        return
    if seconds is None:
        await off_the_loop(write, name)
        return
    from a2actl.core.deadline import within

    await within(off_the_loop(write, name), seconds)


async def write_report(
    path: str, option: str, write: Callable[[], object], left: float | None, name: str = "a2actl-out"
) -> str | None:
    """``write_path`` for ``option``'s report file, given ``left`` seconds of the deadline (``None``:
    no deadline; a FIFO gets at least ``WRITE_GRACE``). Returns ``None``, or the one-line reason it
    was not written (``"--out PATH: cannot write: …"``, ``"… nothing read it within 2s …"``) for the
    caller to show beside the report: a write failing only at the end must not lose it."""
    seconds = None if left is None else max(WRITE_GRACE, left)
    try:
        await write_path(path, write, seconds, name)
    except asyncio.TimeoutError:  # before OSError: on 3.11+ it is the builtin TimeoutError, an OSError
        return f"{option} {path}: not written: nothing read it within {seconds:g}s (a FIFO with no reader?)"
    except OSError as exc:
        return f"{option} {path}: cannot write: {exc.strerror or exc}"
    return None


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


__all__ = [
    "WRITE_GRACE",
    "is_regular",
    "off_the_loop",
    "over_limit",
    "read_capped",
    "read_file_capped",
    "read_json_files",
    "read_path",
    "read_upto",
    "stdin_is_regular",
    "write_path",
    "write_report",
]
