"""TLS for ``--cacert``, ``--cert``/``--key`` (mTLS) and ``--insecure`` in the HTTP transports.

The context itself is ``a2actl.core.tlsfiles.build_ssl_context`` (one per process and option set,
shared with ``amqps://``), built on the first ``https://`` request (``LazyTLSTransport``): loading
the CA store costs ~50 ms of CPU, which plain-HTTP runs never need.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from a2actl.core.tlsfiles import build_ssl_context, tls_context


class LazyTLSTransport(httpx.AsyncBaseTransport):
    """The ``https://`` pool of a client, created on its first request: a plain-HTTP run never builds
    a TLS context, and a TLS one builds it once per process (``tls_context``)."""

    def __init__(self, factory: Callable[[], httpx.AsyncBaseTransport]) -> None:
        self._factory = factory
        self._inner: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Build the pool on the first request, then send ``request`` through it."""
        if self._inner is None:
            self._inner = self._factory()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the pool if one was built."""
        if self._inner is not None:
            await self._inner.aclose()


__all__ = ["LazyTLSTransport", "build_ssl_context", "tls_context"]
