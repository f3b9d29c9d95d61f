"""One replay per source at a time (``docs/dlq.md``, "Concurrent replays").

* a file source: ``flock`` on ``PATH.replay-lock`` beside the file, held for the whole run (the kernel
  drops it when the process dies, so a killed replay never leaves a stale lock), and one on a lock
  file in ``$XDG_STATE_HOME/a2actl/locks`` named by the file's device and inode, which every name of
  the file (a hard link) shares (``Locks``), removed by its holder as it releases it (``FileLock``
  with ``remove``: a taker checks that the path still names the file it locked);
* a Redis stream: a lease key ``KEY:replay-lock`` (redis-py's ``Lock``: ``SET NX PX`` with a random
  token, renewed every ``ttl / 3`` seconds; a killed replay's lease expires after ``ttl``). With a
  consumer group (``?group=``) replayers run in parallel and the lease is per consumer name instead;
* an HTTP source: ``flock`` on a lock file in ``$XDG_STATE_HOME/a2actl/locks`` (this machine only:
  the debug API has no lease).

A second replay is refused with ``SourceLocked`` (exit 1) naming the holder, unless it waits
(``--wait-lock``, bounded by ``--max-time``). A Redis lease that could not be renewed (Redis gone, or
the lease expired and another replay took it) stops the run with ``LeaseLost`` (exit 1) before the
next delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    ProtocolViolation,
    TimeoutError_,
    UnreachableError,
    UsageError,
)
from a2actl.dlq.store.ticker import stop_task, ticks

#: Receives "waiting for the lock held by …" notices.
Notice = Callable[[str], None]

POLL = 0.1


class SourceLocked(A2ACtlError):
    """Another replay holds the source (exit 1)."""

    code = "locked"


class LeaseLost(A2ACtlError):
    """The Redis lease could not be renewed: stop before delivering more (exit 1)."""

    code = "lease_lost"


def holder_info(src: str) -> dict[str, Any]:
    """What a lock records about its holder: ``{"pid", "host", "since" (epoch seconds), "source"}``."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": round(time.time(), 3), "source": src}


def describe(info: Any) -> str:
    """``pid N on HOST, for Ss`` from ``holder_info`` (``another process`` when unreadable)."""
    if not isinstance(info, dict):
        return "another process"
    since = info.get("since")
    age = f", for {time.time() - since:.0f}s" if isinstance(since, (int, float)) else ""
    return f"pid {info.get('pid')} on {info.get('host')}{age}"


class FileLock:
    """An exclusive ``flock`` on ``path`` (created if missing), with the holder written into it.

    ``remove``: the holder unlinks the file as it releases the lock (the per-inode locks in the
    state directory, one per DLQ file ever replayed, piled up otherwise). It unlinks while it still
    holds the ``flock``, and a taker checks, once it holds the ``flock``, that ``path`` still names
    the file it locked; if not (it waited on a file its holder removed), it starts over on the file
    now at ``path``. So no two processes ever hold "the" lock through two files."""

    def __init__(self, path: Path, src: str, *, remove: bool = False) -> None:
        self.path = path
        self.src = src
        self.remove = remove
        self.fd: int | None = None

    def _holder(self) -> str:
        try:
            return describe(json.loads(self.path.read_text(encoding="utf-8") or "null"))
        except (OSError, ValueError):
            return "another process"

    def _try(self) -> bool:
        assert self.fd is not None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _current(self) -> bool:
        """Whether ``path`` still names the file ``fd`` locked (its holder may have removed it)."""
        assert self.fd is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(self.fd)
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)

    async def acquire(self, wait: bool, notice: Notice | None = None) -> None:
        """Take the ``flock`` and record the holder; with ``wait`` poll every ``POLL`` seconds. Raises
        ``SourceLocked`` (exit 1) when held and not ``wait``, ``UsageError`` (exit 2) when the lock file
        cannot be created."""
        noticed = False
        while True:
            try:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise UsageError(
                    f"cannot create the replay lock {self.path}: {exc.strerror or exc}",
                    hint="the directory of SRC must be writable",
                ) from exc
            try:
                if not self._try():
                    holder = self._holder()
                    if not wait:
                        raise SourceLocked(
                            f"another replay of {self.src} is running ({holder}; lock {self.path})",
                            hint="wait for it, or add --wait-lock to start when it ends",
                        )
                    if notice is not None and not noticed:
                        notice(f"waiting for the replay of {self.src} held by {holder} (lock {self.path})")
                        noticed = True
                    while not self._try():
                        await asyncio.sleep(POLL)
                if not self._current():  # its holder removed it as it released it: take the new one
                    os.close(self.fd)
                    self.fd = None
                    continue
                os.ftruncate(self.fd, 0)
                os.pwrite(self.fd, json.dumps(holder_info(self.src)).encode(), 0)
                return
            except BaseException:
                if self.fd is not None:
                    os.close(self.fd)
                    self.fd = None
                raise

    def check(self) -> None:
        """A ``flock`` cannot be lost while the process lives."""

    async def release(self) -> None:
        """Clear the holder and close the file (which drops the ``flock``); with ``remove``, unlink
        it first, while the ``flock`` is still held (a taker waiting on it then finds ``path`` gone
        or naming another file, and starts over: ``acquire``); idempotent."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            if self.remove:
                with contextlib.suppress(OSError):
                    if self._current():
                        os.unlink(self.path)
            os.close(self.fd)  # releases the flock
            self.fd = None


class RedisLease:
    """A lease key through redis-py's ``Lock``, renewed in the background while held."""

    def __init__(self, client: Any, name: str, src: str, ttl: float = 15.0) -> None:
        self.client = client
        self.name = name
        self.src = src
        self.ttl = ttl
        self.lock: Any = None
        self.renewer: asyncio.Task[None] | None = None
        self.lost: str | None = None
        #: Set by ``release``: the renewer ends on it even when its cancellation is absorbed inside a
        #: Redis call (on Python 3.11 redis-py's send under ``asyncio.wait_for`` drops a cancel that
        #: lands as the write completes; the renewer then looped on and ``release`` never returned).
        self._stop = asyncio.Event()

    async def _holder(self) -> str:
        try:
            raw = await self.client.get(self.name)
            ttl = await self.client.pttl(self.name)
        except Exception:  # noqa: BLE001 - only for the message
            return "another process"
        info: Any = None
        with contextlib.suppress(TypeError, ValueError):
            info = json.loads(raw)
        expires = f"; the lease expires in {ttl / 1000:.1f}s if it is not renewed" if ttl and ttl > 0 else ""
        return describe(info) + expires

    async def acquire(self, wait: bool, notice: Notice | None = None) -> None:
        """Take the lease (``SET NX PX``, ``ttl`` seconds) and start renewing it every ``ttl / 3`` s.
        Raises ``SourceLocked`` (exit 1) when held and not ``wait``, ``UnreachableError`` (exit 3),
        ``AuthError`` (exit 4) when Redis refuses the credentials or the lease's commands,
        ``TimeoutError_`` (exit 5) when Redis does not answer, ``ProtocolViolation`` (exit 6) for a
        Redis error."""
        import redis.exceptions as rexc

        self.lock = self.client.lock(self.name, timeout=self.ttl, sleep=POLL, thread_local=False)
        token = json.dumps(holder_info(self.src))
        try:
            got = await self.lock.acquire(blocking=False, token=token)
            if not got:
                holder = await self._holder()
                if not wait:
                    raise SourceLocked(
                        f"another replay of {self.src} is running ({holder}; lease key {self.name})",
                        hint="wait for it, or add --wait-lock to start when it ends",
                    )
                if notice is not None:
                    notice(f"waiting for the replay of {self.src} held by {holder} (lease key {self.name})")
                while not await self.lock.acquire(blocking=False, token=token):
                    await asyncio.sleep(POLL)
        except rexc.AuthenticationError as exc:
            raise AuthError(f"Redis for {self.src} refused the credentials: {exc}") from exc
        except rexc.ConnectionError as exc:
            raise UnreachableError(f"cannot reach Redis for {self.src}: {exc}") from exc
        except rexc.TimeoutError as exc:
            raise TimeoutError_(f"Redis for {self.src} did not answer in time: {exc}") from exc
        except rexc.NoPermissionError as exc:
            raise AuthError(
                f"Redis for {self.src} refused the replay lease {self.name} to this user: {exc}"
            ) from exc
        except rexc.RedisError as exc:
            raise ProtocolViolation(
                f"Redis {self.src}: cannot take the replay lease {self.name}: {exc}"
            ) from exc
        self.renewer = asyncio.create_task(self._renew())

    async def _renew(self) -> None:
        async for _ in ticks(self._stop, self.ttl / 3):
            try:
                await self.lock.reacquire()
            except Exception as exc:  # noqa: BLE001 - LockNotOwnedError, ConnectionError, ...: all mean stop
                self.lost = f"{type(exc).__name__}: {exc}"
                return

    def check(self) -> None:
        """Raise ``LeaseLost`` (exit 1) when a renewal failed: stop before the next delivery."""
        if self.lost is not None:
            raise LeaseLost(
                f"lost the replay lease {self.name} on {self.src} ({self.lost}); stopped before "
                "delivering more",
                hint="rerun: acknowledged entries are journalled, nothing is lost",
            )

    async def release(self) -> None:
        """Stop the renewer and release the lease unless it was lost (then it is not ours)."""
        await stop_task(self.renewer, self._stop)
        self.renewer = None
        if self.lock is not None and self.lost is None:
            with contextlib.suppress(Exception):  # expired or gone: nothing to release
                await self.lock.release()
        self.lock = None


class Locks:
    """Several replay locks held as one: taken in order (all, or none when one is refused or the
    wait is cancelled), checked together, released in reverse order."""

    def __init__(self, *locks: FileLock) -> None:
        self.locks = locks

    async def acquire(self, wait: bool, notice: Notice | None = None) -> None:
        """Take every lock in order (``FileLock.acquire``); on any failure release those taken and
        raise it (``SourceLocked``, exit 1; ``UsageError``, exit 2)."""
        taken: list[FileLock] = []
        try:
            for lock in self.locks:
                await lock.acquire(wait, notice)
                taken.append(lock)
        except BaseException:
            for lock in reversed(taken):
                await lock.release()
            raise

    def check(self) -> None:
        """``check`` of each lock."""
        for lock in self.locks:
            lock.check()

    async def release(self) -> None:
        """Release every lock, the last taken first; idempotent."""
        for lock in reversed(self.locks):
            await lock.release()


def probe_lock_file(path: Path) -> None:
    """Raise ``OSError`` unless a lock file can be opened at ``path`` (created when missing). One
    that this call created is removed again (under its ``flock``, so that a ``FileLock`` that
    opened it meanwhile starts over: ``FileLock`` with ``remove``); one that exists is left."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        try:
            os.close(os.open(path, os.O_RDWR))
        except FileNotFoundError:
            pass  # removed by its holder meanwhile: it could be created a moment ago
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        st, mine = os.stat(path), os.fstat(fd)
        if (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
            os.unlink(path)
    except OSError:
        pass  # taken already (BlockingIOError), or gone: its holder removes it
    finally:
        os.close(fd)


def inode_lock_path(dev: int, ino: int) -> Path:
    """``$XDG_STATE_HOME/a2actl/locks/file-<dev>-<ino>.lock``: the lock every name of one file shares
    (a hard link has a path of its own, and so its own lock beside it). Raises ``UsageError`` (exit 2)
    when the directory cannot be created."""
    return _in_state_dir(f"file-{dev}-{ino}.lock")


def state_lock_path(src: str) -> Path:
    """``$XDG_STATE_HOME/a2actl/locks/<sha256(src)[:16]>.lock`` (for sources without a place of their own)."""
    import hashlib

    return _in_state_dir(hashlib.sha256(src.encode()).hexdigest()[:16] + ".lock")


def _in_state_dir(name: str) -> Path:
    """``$XDG_STATE_HOME/a2actl/locks/NAME`` (``~/.local/state`` by default), the directory created.
    Raises ``UsageError`` (exit 2) when it cannot be."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    path = base / "a2actl" / "locks" / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create {path.parent} for the replay lock: {exc.strerror or exc}",
            hint="set XDG_STATE_HOME to a writable directory",
        ) from exc
    return path
