"""``open_backend``: the store for a ``dlq`` command's SRC (``docs/dlq.md``): ``file:PATH`` or a plain
path (``a2actl.dlq.store.file``), ``redis://…?stream=KEY[&group=…]`` (``a2actl.dlq.store.redis``) or
``http(s)://AGENT/debug/a2a/dlq`` (``a2actl.dlq.store.http``), a RabbitMQ dead-letter queue
``amqp(s)://USER@HOST/VHOST?queue=NAME`` (``a2actl.dlq.store.amqp``) or Amazon SQS ``sqs://REGION/NAME`` or
the queue URL (``a2actl.dlq.store.sqs``). All satisfy
``a2actl.dlq.store.base.Backend``.

The server side must not import this module (it reaches the HTTP transport); it uses
``a2actl.dlq.store.local.open_producer``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from a2actl.dlq.store.amqp import AmqpBackend
from a2actl.dlq.store.base import Backend
from a2actl.dlq.store.file import FileBackend, file_path
from a2actl.dlq.store.http import HttpBackend
from a2actl.dlq.store.local import (
    is_amqp_source,
    is_file_source,
    is_http_source,
    is_redis_source,
    unknown_source,
)
from a2actl.dlq.store.redis import RedisBackend
from a2actl.dlq.store.sqs import SqsBackend, is_sqs_source

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink

__all__ = ["open_backend"]


def open_backend(
    src: str,
    settings: Settings | None = None,
    sink: EventSink | None = None,
    *,
    endpoint_url: str | None = None,
) -> Backend:
    """The store for SRC; ``settings`` and ``sink`` serve the HTTP store's transport (default
    settings when ``None``); ``endpoint_url`` the SQS endpoint (``--endpoint-url``; a usage error for
    other sources). Raises ``UsageError`` (exit 2) for an unknown scheme, a file URL without a path, a
    Redis URL without ``stream=``, an AMQP URL without ``queue=`` or with a password in it, or a bad
    SQS source."""
    if is_sqs_source(src):  # before http(s): an SQS queue URL is https://sqs.REGION.amazonaws.com/…
        return SqsBackend(src, endpoint_url)
    if endpoint_url is not None:
        from a2actl.core.errors import UsageError

        raise UsageError("--endpoint-url applies to SQS sources (sqs://REGION/NAME) only")
    if is_file_source(src):
        return FileBackend(file_path(src))
    if is_redis_source(src):
        return RedisBackend(src)
    if is_amqp_source(src):
        return AmqpBackend(src, settings)
    if is_http_source(src):
        from a2actl.core.config import Settings as _Settings
        from a2actl.transport.http import HttpTransport

        return HttpBackend(src, HttpTransport(settings or _Settings(), sink))
    raise unknown_source(src)
