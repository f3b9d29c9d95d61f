"""Choosing a store from a source URL without a2actl's HTTP transport: the file, Redis and RabbitMQ
stores, the ones a producer writes to. The server side (``a2actl.server``) uses this; the CLI uses
``a2actl.dlq.store.backends.open_backend``, which adds the debug API's HTTP DLQ (``docs/dlq.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from a2actl.core.errors import UsageError
from a2actl.dlq.store.file import FileBackend, file_path
from a2actl.dlq.store.redis import RedisBackend

if TYPE_CHECKING:
    from a2actl.dlq.store.amqp import AmqpBackend

#: The message for a source of no known scheme (the same whichever factory is asked).
UNKNOWN_HINT = (
    "file://PATH.jsonl, redis://HOST:PORT/DB?stream=KEY, amqp://USER@HOST:5672/VHOST?queue=NAME, "
    "sqs://REGION/QUEUE_NAME or http(s)://AGENT/debug/a2a/dlq"
)

#: Why a producer cannot write to the debug API's DLQ.
HTTP_READ_ONLY = (
    "the HTTP DLQ is read/replay only; dead-letter into file://PATH.jsonl, redis://…?stream=KEY or "
    "amqp://…?queue=NAME"
)


def is_file_source(src: str) -> bool:
    """``file:…`` or a plain path (no ``scheme://``)."""
    return src.startswith("file:") or "://" not in src


def is_redis_source(src: str) -> bool:
    """``redis://``, ``rediss://`` (TLS) or ``unix://`` (a socket)."""
    return src.startswith(("redis://", "rediss://", "unix://"))


def is_amqp_source(src: str) -> bool:
    """``amqp://`` or ``amqps://`` (TLS): a RabbitMQ dead-letter queue."""
    return src.startswith(("amqp://", "amqps://"))


def is_http_source(src: str) -> bool:
    """``http://`` or ``https://``: the debug API's DLQ."""
    return src.startswith(("http://", "https://"))


def unknown_source(src: str) -> UsageError:
    """The ``UsageError`` (exit 2) for a source of no known scheme."""
    return UsageError(f"unknown DLQ source {src!r}", hint=UNKNOWN_HINT)


#: Why a producer (the sandbox's ``--dlq``) cannot write to an SQS queue.
SQS_NOT_A_PRODUCER = (
    "the sandbox cannot dead-letter into SQS (SQS moves dead letters itself, by the source queue's "
    "redrive policy); dead-letter into file://PATH.jsonl, redis://…?stream=KEY or amqp://…?queue=NAME"
)


def open_producer(src: str) -> FileBackend | RedisBackend | AmqpBackend:
    """The store a producer dead-letters into. Raises ``UsageError`` (exit 2) for the read-only HTTP
    DLQ, an SQS queue (``sqs://`` or its URL: SQS dead-letters by itself), an unknown scheme, a
    file URL without a path, a Redis URL without ``stream=`` or an AMQP URL without ``queue=`` (or
    with a password in it)."""
    from a2actl.dlq.store.sqs import is_sqs_source

    if is_sqs_source(src):  # it said "unknown DLQ source", with a hint naming sqs://REGION/QUEUE_NAME
        raise UsageError(SQS_NOT_A_PRODUCER)
    if is_file_source(src):
        return FileBackend(file_path(src))
    if is_redis_source(src):
        return RedisBackend(src)
    if is_amqp_source(src):
        from a2actl.dlq.store.amqp import AmqpBackend

        return AmqpBackend(src)
    if is_http_source(src):
        raise UsageError(HTTP_READ_ONLY)
    raise unknown_source(src)
