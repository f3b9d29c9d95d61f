"""Choosing a store from SRC: ``open_backend`` (the CLI: file, Redis, HTTP) and ``open_producer``
(the server side: file or Redis only, the HTTP DLQ is read/replay only)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from a2actl.core.errors import UsageError
from a2actl.dlq.store.backends import open_backend
from a2actl.dlq.store.file import FileBackend
from a2actl.dlq.store.http import HttpBackend
from a2actl.dlq.store.local import open_producer
from a2actl.dlq.store.redis import RedisBackend


def test_open_backend_by_scheme(tmp_path: Path) -> None:
    f = open_backend(f"file://{tmp_path}/d.jsonl")
    assert isinstance(f, FileBackend) and f.path == tmp_path / "d.jsonl"
    assert isinstance(open_backend(str(tmp_path / "d.jsonl")), FileBackend)
    for src in ("redis://127.0.0.1:1/0?stream=s", "rediss://h:1/0?stream=s", "unix:///tmp/r.sock?stream=s"):
        r = open_backend(src)
        assert isinstance(r, RedisBackend) and r.stream == "s"
        asyncio.run(r.close())
    h = open_backend("http://127.0.0.1:9/debug/a2a/dlq/")
    assert isinstance(h, HttpBackend) and h.url == "http://127.0.0.1:9/debug/a2a/dlq"
    asyncio.run(h.close())


def test_unknown_scheme_names_the_forms() -> None:
    for opener in (open_backend, open_producer):
        with pytest.raises(UsageError, match="unknown DLQ source 'ftp://x'") as info:
            opener("ftp://x")
        assert info.value.hint == (
            "file://PATH.jsonl, redis://HOST:PORT/DB?stream=KEY, amqp://USER@HOST:5672/VHOST?queue=NAME, "
            "sqs://REGION/QUEUE_NAME or http(s)://AGENT/debug/a2a/dlq"
        )


def test_producers_write_to_files_and_redis_only(tmp_path: Path) -> None:
    assert isinstance(open_producer(f"file://{tmp_path}/d.jsonl"), FileBackend)
    r = open_producer("redis://127.0.0.1:1/0?stream=s")
    assert isinstance(r, RedisBackend)
    asyncio.run(r.close())
    with pytest.raises(UsageError, match="the HTTP DLQ is read/replay only"):
        open_producer("https://agent/debug/a2a/dlq")
