"""Network-side timestamps for plain-HTTP connections: when things happened on the wire, not when the
coroutine that waited for them got the CPU back.

Under ``handshake probe -c N`` several samples share one event loop; httpx costs ~5 ms of CPU per
sample, so a sample whose SYN-ACK or first response byte has arrived waits for the others' CPU before
its ``trace`` callback runs. Marks taken there charge that wait to the network. This module gives the
``http://`` pool its own httpcore network backend (``TimedBackend``, public httpcore API) whose
streams record, per request/response exchange on the connection:

* ``connect_started`` (``perf_counter``) just before the ``connect()`` system call, and
  ``connected_at``: the kernel's handshake round trip (``TCP_INFO`` ``tcpi_rtt``, the SYN → SYN-ACK
  sample right after the handshake) added to it, or the instant the connection was seen up when the
  kernel has no sample (a retransmitted SYN) — whichever is earlier;
* ``tx``: the first ``send()`` system call of a request (taken in the same synchronous step as the
  call: the stream never yields before writing what it can);
* ``rx_first`` / ``rx_last``: the kernel receive timestamps (``SO_TIMESTAMPNS``, taken when the segment
  reached the socket) of the first and latest response bytes read.

Kernel timestamps are ``CLOCK_REALTIME``; they are moved to the ``perf_counter`` clock with an offset
sampled next to each read. Where the platform has no ``SO_TIMESTAMPNS``/``TCP_INFO`` (not Linux),
the instant the bytes were read is used, which is what the ``trace`` marks measure.

``https://`` keeps httpx's own (anyio) backend: TLS over this stream would need a memory-BIO TLS layer.
"""

from __future__ import annotations

import asyncio
import errno
import os
import platform
import select
import socket
import struct
import sys
import time
from typing import Any

import httpcore
import httpx

#: SO_TIMESTAMPNS (== SCM_TIMESTAMPNS) on Linux's generic socket ABI (x86, arm, riscv, ...); Python's
#: socket module does not name it. Other ABIs (sparc, parisc, alpha, mips) use other numbers: off.
_SO_TIMESTAMPNS = (
    35
    if sys.platform.startswith("linux")
    and not any(a in platform.machine().lower() for a in ("sparc", "parisc", "alpha", "mips"))
    else None
)
_TCP_INFO = getattr(socket, "TCP_INFO", None) if sys.platform.startswith("linux") else None
_TCPI_ESTABLISHED = 1
_TIMESPEC = struct.Struct("@qq")
_ANC_SIZE = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0


def real_to_perf(real_ns: int) -> float:
    """A ``CLOCK_REALTIME`` instant (ns) on the ``perf_counter`` clock (seconds)."""
    p0 = time.perf_counter_ns()
    r = time.time_ns()
    p1 = time.perf_counter_ns()
    return (real_ns - r + (p0 + p1) // 2) / 1e9


def rx_timestamp(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    """The ``SCM_TIMESTAMPNS`` receive timestamp (``CLOCK_REALTIME`` ns) in ``recvmsg`` ancillary data."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            stamp: int = sec * 1_000_000_000 + nsec
            return stamp
    return None


def tcp_info(sock: socket.socket) -> tuple[int, int, int] | None:
    """``(tcpi_state, tcpi_rtt µs, tcpi_total_retrans)`` from ``TCP_INFO`` (linux/tcp.h offsets 0, 68,
    100), or ``None`` where unavailable."""
    if _TCP_INFO is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 104)
    except OSError:
        return None
    if len(raw) < 104:
        return None
    return raw[0], struct.unpack_from("@I", raw, 68)[0], struct.unpack_from("@I", raw, 100)[0]


def handshake_end(started: float, seen: float, info: tuple[int, int, int] | None) -> float:
    """When the TCP handshake completed: ``started`` (before ``connect()``) plus the kernel's SYN round
    trip, never later than ``seen`` (when this process saw it up); ``seen`` without a clean sample
    (no ``TCP_INFO``, an RTT of 0, or a retransmitted SYN, which the kernel does not sample)."""
    if info is None or info[1] <= 0 or info[2] > 0:
        return seen
    return min(seen, started + info[1] / 1e6)


class TimedStream(httpcore.AsyncNetworkStream):
    """A non-blocking TCP socket driven by the running asyncio loop, recording network times (see the
    module doc). ``exchange()`` is this request/response's ``(tx, rx_first, rx_last)``."""

    def __init__(self, sock: socket.socket, connect_started: float, connected_at: float) -> None:
        self.sock = sock
        self.connect_started = connect_started
        self.connected_at = connected_at
        self.tx: float | None = None
        self.rx_first: float | None = None
        self.rx_last: float | None = None
        self._reading = False

    def _received(self, real_ns: int | None) -> None:
        t = real_to_perf(real_ns) if real_ns is not None else time.perf_counter()
        if self.rx_first is None:
            self.rx_first = t
        self.rx_last = t
        self._reading = True

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Read up to ``max_bytes``, stamping the first and last arrival (kernel receive time). Raises
        ``httpcore.ReadTimeout`` after ``timeout`` seconds without data, ``httpcore.ReadError`` on a reset."""
        waited = False
        while True:
            try:
                if _SO_TIMESTAMPNS is not None:
                    data, anc, _, _ = self.sock.recvmsg(max_bytes, _ANC_SIZE)
                    ts = rx_timestamp(anc)
                else:  # pragma: no cover - not Linux
                    data, ts = self.sock.recv(max_bytes), None
            except (BlockingIOError, InterruptedError):
                await _wait(self.sock, False, timeout, httpcore.ReadTimeout)
                waited = True
                continue
            except OSError as exc:
                raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc
            if data:
                self._received(ts)
            if not waited:
                # A peer that always has data would never let this task yield: no cancellation,
                # no --max-time. Yield after the read: its time is the kernel's, already taken.
                await asyncio.sleep(0)
            return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send ``buffer`` whole; the first write of a request stamps ``tx``. Raises
        ``httpcore.WriteTimeout`` / ``httpcore.WriteError``."""
        if self._reading or self.tx is None:  # a new request on this connection
            self.tx, self.rx_first, self.rx_last, self._reading = time.perf_counter(), None, None, False
        view = memoryview(buffer)
        while view:
            try:
                sent = self.sock.send(view)
            except (BlockingIOError, InterruptedError):
                await _wait(self.sock, True, timeout, httpcore.WriteTimeout)
                continue
            except OSError as exc:
                raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc
            view = view[sent:]
        await asyncio.sleep(0)  # a checkpoint, as in read(); the request's time is already taken

    async def aclose(self) -> None:
        """Close the socket."""
        self.sock.close()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        """Never used: ``https://`` goes through httpx's own pool. Raises ``httpcore.ConnectError``."""
        raise httpcore.ConnectError("TimedStream carries plain HTTP only")  # the https pool is httpx's

    def get_extra_info(self, info: str) -> Any:
        """``socket``, ``client_addr``, ``server_addr`` or ``is_readable`` (httpcore's stream API); ``None``
        for anything else."""
        if info == "socket":
            return self.sock
        if info == "client_addr":
            return self.sock.getsockname()
        if info == "server_addr":
            return self.sock.getpeername()
        if info == "is_readable":
            if self.sock.fileno() < 0:
                return True
            return _readable(self.sock)
        return None


def _readable(sock: socket.socket) -> bool:
    """Whether ``sock`` has something to read (or was closed by the peer) right now: ``select.poll``,
    which takes any descriptor, where there is one. ``select.select`` (Windows) refuses descriptors
    past ``FD_SETSIZE`` (1024): with the open-file limit raised (``core.fdlimit``: ``fleet probe``,
    the exporter) every pooled connection's check raised ``ValueError`` and the request failed."""
    poll = getattr(select, "poll", None)
    if poll is None:
        return bool(select.select([sock], [], [], 0)[0])
    p = poll()
    p.register(sock, select.POLLIN)
    return bool(p.poll(0))


async def _wait(sock: socket.socket, writable: bool, timeout: float | None, exc: type[Exception]) -> None:
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    fd = sock.fileno()

    def wake() -> None:
        if not fut.done():
            fut.set_result(None)

    (loop.add_writer if writable else loop.add_reader)(fd, wake)
    try:
        await asyncio.wait_for(fut, timeout)
    except asyncio.TimeoutError:
        raise exc("timed out") from None
    finally:
        (loop.remove_writer if writable else loop.remove_reader)(fd)


class TimedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend of ``TimedStream`` connections (asyncio only)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to ``host`` (an address a2actl resolved) non-blocking and time the handshake.
        Raises ``httpcore.ConnectError`` (refused, unreachable) or ``httpcore.ConnectTimeout``."""
        try:  # a2actl connects to the address it resolved: a literal, no lookup (and no thread hop)
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise httpcore.ConnectError(str(exc)) from exc
        family, _, proto, _, addr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM, proto)
        try:
            sock.setblocking(False)
            for opt in socket_options or ():
                sock.setsockopt(*opt)
            if _SO_TIMESTAMPNS is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                except OSError:  # pragma: no cover - an ABI without it
                    pass
            if local_address:
                sock.bind((local_address, 0))
            started = time.perf_counter()
            try:
                sock.connect(addr)
            except (BlockingIOError, InterruptedError):
                info = tcp_info(sock)
                if info is None or info[0] != _TCPI_ESTABLISHED:
                    await _wait(sock, True, timeout, httpcore.ConnectTimeout)
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err)) from None
            seen = time.perf_counter()
        except OSError as exc:
            sock.close()
            exc = _specific(exc) if type(exc) is OSError else exc
            raise httpcore.ConnectError(str(exc)) from exc
        except BaseException:
            sock.close()
            raise
        return TimedStream(sock, started, handshake_end(started, seen, tcp_info(sock)))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        """Not supported (a2actl never connects to unix sockets)."""
        raise httpcore.ConnectError("unix sockets are not used by a2actl")  # pragma: no cover

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep`` (httpcore's backend API)."""
        await asyncio.sleep(seconds)


def _specific(exc: OSError) -> OSError:
    """``OSError(ECONNREFUSED, ...)`` as ``ConnectionRefusedError`` (errors are mapped on the type)."""
    kinds = {
        errno.ECONNREFUSED: ConnectionRefusedError,
        errno.ECONNRESET: ConnectionResetError,
        errno.ECONNABORTED: ConnectionAbortedError,
    }
    kind = kinds.get(exc.errno or 0)
    return kind(exc.errno, exc.strerror) if kind else exc


_EXC_MAP: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _mapped(exc: Exception) -> Exception:
    for src, dst in _EXC_MAP:  # most specific first
        if isinstance(exc, src):
            return dst(str(exc))
    return exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> Any:
        try:
            async for part in self._stream:
                yield part
        except Exception as exc:  # noqa: BLE001 - httpcore errors as httpx's, as httpx does
            mapped = _mapped(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


class TimedHTTPTransport(httpx.AsyncBaseTransport):
    """An httpx transport for ``http://`` over ``TimedBackend`` connections (public httpx and httpcore
    API only; httpx's ``AsyncHTTPTransport`` builds its pool with the default backend)."""

    def __init__(
        self, socket_options: Any = None, backend: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=backend or TimedBackend(),
            socket_options=socket_options,
            http1=True,
            http2=False,
            # httpx's defaults (httpx.Limits())
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the timed pool; httpcore errors are raised as httpx's."""
        assert isinstance(request.stream, httpx.AsyncByteStream)
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            resp = await self._pool.handle_async_request(req)
        except Exception as exc:  # noqa: BLE001 - httpcore errors as httpx's, as httpx does
            mapped = _mapped(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        return httpx.Response(
            status_code=resp.status,
            headers=resp.headers,
            stream=_Body(resp.stream),
            extensions=resp.extensions,
        )

    async def aclose(self) -> None:
        """Close the pool and its connections."""
        await self._pool.aclose()
