"""What ``A2AClient`` and card discovery need from an HTTP transport, as typing protocols.

Two transports implement them: ``a2actl.transport.http.HttpTransport`` (httpx, with curl-style
timings taken from the connection; every interactive command and ``handshake probe``) and
``a2actl.transport.fast.FastTransport`` (aiohttp and orjson, the throughput path of ``load run`` and
``dlq replay``). The domain code takes either and does not care which.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.transport.timing import Clock, HttpResult


class StreamResponse(Protocol):
    """An HTTP response whose body is not read yet (``open_stream``): status line, headers, the body as
    decoded text chunks (``aiter_text``), and ``aclose()``, which the caller must await."""

    @property
    def status_code(self) -> int: ...

    @property
    def reason_phrase(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def aiter_text(self) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...


class Transport(Protocol):
    """An HTTP transport with the invocation's settings (headers, token, TLS, timeouts, limits) and a
    sink for wire events (``-v``). ``request`` reads a whole bounded body; ``open_stream`` returns
    the response unread, for SSE. Both raise the ``a2actl.core.errors`` tree (3 unreachable,
    4 auth, 5 timeout, 6 protocol)."""

    settings: Settings
    sink: EventSink

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> HttpResult: ...

    async def open_stream(
        self, method: str, url: str, *, json_body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[Any, Clock]: ...

    async def read_rest(self, response: Any, url: str, max_bytes: int | None = None) -> bytes: ...

    def redact_body(self, body: bytes) -> bytes: ...


__all__ = ["StreamResponse", "Transport"]
