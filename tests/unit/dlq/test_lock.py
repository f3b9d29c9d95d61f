"""The background tasks of a Redis replay (the lease renewer, the group's idle-time refresher) end when
the replay closes them, even when their cancellation is absorbed inside a Redis call.

The hang they caused (``dlq replay`` of a consumer group, intermittently under load): on Python 3.11
redis-py writes every command under ``asyncio.wait_for(..., socket_timeout)``, and 3.11's
``wait_for`` returns the write's result instead of raising when the cancellation lands after the
write finished but before the waiting task resumed. ``close()``/``release()`` cancelled the task
once and awaited it; the task, never told, slept and looped on, and the await never returned.

The real-Redis tests force that interleaving (the cancel is issued as soon as the command has been
started on a pooled connection, so its first suspension is the write); the others stand in a client
that swallows every cancellation, so they do not depend on the Python version.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from a2actl.core.errors import TimeoutError_
from a2actl.dlq.store.lock import FileLock, RedisLease, SourceLocked, probe_lock_file
from a2actl.dlq.store.redis import RedisBackend


async def _ends(task: asyncio.Task[Any], stopper: asyncio.Task[Any], timeout: float = 3.0) -> bool:
    """Whether ``stopper`` (a ``close()``/``release()``) returns within ``timeout``; if not, cancels
    ``task`` until it ends so the test fails instead of hanging."""
    done, _ = await asyncio.wait({stopper}, timeout=timeout)
    if done:
        stopper.result()
        return True
    for _ in range(200):  # the cancellation was absorbed: repeat it until one lands outside Redis
        task.cancel()
        await asyncio.sleep(0.01)
        if stopper.done():
            break
    return False


def _on_start(obj: Any, name: str, started: asyncio.Event) -> None:
    """Sets ``started`` when ``obj.name(...)`` is called (the command is then on its way)."""
    real = getattr(obj, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started.set()
        return real(*args, **kwargs)

    setattr(obj, name, wrapper)


def test_backend_close_when_the_cancel_lands_on_a_redis_write(redis_url: str) -> None:
    async def run() -> bool:
        b = RedisBackend(f"{redis_url}?stream=hb-{uuid.uuid4().hex[:6]}&group=g&consumer=c")
        try:
            await b.client.ping()  # a pooled connection: the refresh's first suspension is its write
            b.claim_after = 0.15  # the refresher runs every 50 ms
            b.held.add("1-0")
            started = asyncio.Event()
            _on_start(b.client, "eval", started)  # the refresh: a script (XPENDING, XCLAIM)
            b._heartbeat = asyncio.create_task(b._keep_held())
            await started.wait()
            heartbeat = b._heartbeat
            return await _ends(heartbeat, asyncio.create_task(b.close()))
        finally:
            await b.client.aclose()

    for _ in range(5):
        assert asyncio.run(run()), "close() did not return: the refresher outlived its cancellation"


def test_lease_release_when_the_cancel_lands_on_a_redis_write(redis_url: str) -> None:
    import redis.asyncio as redis

    async def run() -> bool:
        client = redis.from_url(redis_url, decode_responses=True)
        try:
            lease = RedisLease(
                client, f"lease-{uuid.uuid4().hex[:6]}", "test", ttl=0.15
            )  # renewed every 50 ms
            await lease.acquire(wait=False)
            started = asyncio.Event()
            _on_start(lease.lock, "reacquire", started)
            await started.wait()
            assert lease.renewer is not None
            renewer = lease.renewer
            return await _ends(renewer, asyncio.create_task(lease.release()))
        finally:
            await client.aclose()

    for _ in range(5):
        assert asyncio.run(run()), "release() did not return: the renewer outlived its cancellation"


class _SwallowingLock:
    """A redis-py ``Lock`` whose renewal absorbs a cancellation (as redis-py's write may)."""

    def __init__(self) -> None:
        self.calls = 0

    async def reacquire(self) -> bool:
        self.calls += 1
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass  # swallowed
        return True

    async def release(self) -> None:
        return None


def test_lease_release_ends_the_renewer_even_if_a_call_swallows_the_cancel() -> None:
    async def run() -> bool:
        lease = RedisLease(None, "k:replay-lock", "test", ttl=0.15)
        fake = _SwallowingLock()
        lease.lock = fake
        lease.renewer = asyncio.create_task(lease._renew())
        while fake.calls == 0:
            await asyncio.sleep(0.005)
        return await _ends(lease.renewer, asyncio.create_task(lease.release()))

    assert asyncio.run(run()), "release() did not return: the renewer outlived its cancellation"


def test_a_lease_on_a_redis_that_does_not_answer_is_a_timeout() -> None:
    """Taking the lease from a Redis that accepts the connection and never answers: ``TimeoutError_``
    (exit 5), not ``ProtocolViolation`` (exit 6, 'cannot take the replay lease: Timeout reading')."""

    async def go(port: int) -> None:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.3)
        try:
            with pytest.raises(TimeoutError_, match="did not answer in time"):
                await RedisLease(client, "k:replay-lock", "redis://x").acquire(wait=False)
        finally:
            await client.aclose()

    with contextlib.closing(socket.socket()) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete; nothing is ever read or answered
        asyncio.run(go(silent.getsockname()[1]))


def test_a_removed_lock_file_is_never_held_by_two(tmp_path: Path) -> None:
    """A lock file its holder removes as it releases it (the per-inode locks): a second replay
    waiting on it (``--wait-lock``) then holds a ``flock`` on a file no path names, and a third
    created a new file at the path and ran beside it. A taker that finds the path gone, or naming
    another file, once it holds the ``flock`` starts over on the file at the path: the third is
    refused."""

    async def run() -> None:
        path = tmp_path / "file-1-2.lock"
        first = FileLock(path, "src", remove=True)
        await first.acquire(wait=False)
        second = FileLock(path, "src", remove=True)
        waiting = asyncio.create_task(second.acquire(wait=True))
        await asyncio.sleep(0.05)  # it opened the file and polls its flock
        assert not waiting.done()
        await first.release()
        await asyncio.wait_for(waiting, 5)
        assert second.fd is not None and os.fstat(second.fd).st_ino == path.stat().st_ino
        third = FileLock(path, "src", remove=True)
        with pytest.raises(SourceLocked):
            await third.acquire(wait=False)
        await second.release()
        assert not path.exists()
        await third.acquire(wait=False)  # free again, at a new file
        await third.release()
        assert not path.exists()

    asyncio.run(run())


def test_the_probe_of_a_lock_file_leaves_none_it_created(tmp_path: Path) -> None:
    """``probe_lock_file`` (can a replay take the per-inode lock at all) created the file and left
    it: a replay refused by the lock beside the DLQ file left one more lock file behind. It removes
    what it created and leaves a file that exists (another replay's)."""
    path = tmp_path / "file-1-3.lock"
    probe_lock_file(path)
    assert not path.exists()
    path.write_text("{}")
    probe_lock_file(path)
    assert path.read_text() == "{}"
    (tmp_path / "ro").mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anywhere
        with pytest.raises(PermissionError):
            probe_lock_file(tmp_path / "ro" / "x.lock")
