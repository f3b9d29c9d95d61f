"""TLS contexts for ``--cacert``, ``--cert``/``--key`` (mTLS) and ``--insecure``.

One ``ssl.SSLContext`` per process and option set, built on the first ``https://`` request:
loading the CA store costs ~50 ms of CPU, which a probe would otherwise pay on every sample and
plain-HTTP runs never need. A file replaced on disk (new mtime or size) is loaded again.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Callable
from typing import Any

import httpx

from a2actl.core.config import Settings
from a2actl.core.errors import UsageError


def build_ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context for ``--cacert``, ``--cert``/``--key`` and ``--insecure``, built once per process
    and option set (see ``tls_context``). Costs ~50 ms of CPU the first time (the CA store).

    Raises ``UsageError`` when a certificate or key file cannot be loaded.
    """
    return tls_context(settings.cacert, settings.cert, settings.key, settings.insecure, settings.tls_data)


def _stamp(path: str | None) -> tuple[int, int] | None:
    """(mtime_ns, size) of a TLS file, so a file replaced in a long-lived process is loaded again."""
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size) if st else None


def tls_context(
    cacert: str | None,
    cert: str | None,
    key: str | None,
    insecure: bool,
    data: tuple[tuple[str, bytes], ...] = (),
) -> ssl.SSLContext:
    """The shared ``ssl.SSLContext`` for one TLS option set (paths of the CA bundle, client certificate
    and key; ``insecure``: no verification; ``data``: ``(path, content)`` of those read ahead, a FIFO
    or ``<(cmd)``: ``Settings.tls_data``). Every client of the process with the same options gets
    the same context, as httpx shares one per client: building it loads the CA store (~50 ms of CPU).

    Raises ``UsageError`` when a certificate or key file cannot be loaded.
    """
    ahead = {p for p, _ in data}  # read once: their stamps (a FIFO's mtime) say nothing
    stamps = tuple(None if p in ahead else _stamp(p) for p in (cacert, cert, key))
    return _tls_context(cacert, cert, key, insecure, stamps, data)


@functools.lru_cache(maxsize=8)
def _tls_context(
    cacert: str | None,
    cert: str | None,
    key: str | None,
    insecure: bool,
    _stamps: tuple[Any, ...],
    data: tuple[tuple[str, bytes], ...],
) -> ssl.SSLContext:
    from a2actl.core.tlsfiles import client_context

    try:
        ctx = client_context(cacert, cert, key, dict(data))
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise UsageError(
            f"cannot load TLS files: {exc}", hint="check --cacert/--cert/--key paths and formats"
        ) from exc
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


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
