"""Run the sandbox with uvicorn: ``serve`` in the foreground, ``start_in_thread`` in the background.

The listening socket is bound first (port 0 picks a free port), so the card can advertise the real URL.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import replace
from typing import Any

from a2actl.server.sandbox.options import WILDCARD_HOSTS, SandboxOptions


class ListenError(OSError):
    """A port the sandbox cannot listen on. ``role`` is ``"HTTP"`` (``--port``) or ``"gRPC"``
    (``--grpc-port``), ``host`` and ``port`` what was asked (``port`` 0: a free one); ``errno`` and
    ``strerror`` are those of the failed bind (``socket.gaierror``'s for a host that does not resolve)."""

    def __init__(self, role: str, host: str, port: int, cause: OSError) -> None:
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.role = role
        self.host = host
        self.port = port


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says TCP explicitly; with proto 0 every keep-alive response stalls ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def base_url_of(sock: socket.socket, host: str) -> str:
    """``http://HOST:PORT`` of a bound socket, a URL this machine can connect to (an IPv6 host in
    brackets): a wildcard ``host`` (``0.0.0.0``, ``::``) becomes the loopback address of its family."""
    port = sock.getsockname()[1]
    if host in WILDCARD_HOSTS:
        host = "::1" if sock.family == socket.AF_INET6 else "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def advertised_host(host: str) -> str:
    """The host the card names for a listener on ``host``: ``host`` itself, or for a wildcard address
    (``0.0.0.0``, ``::``), which a client elsewhere cannot connect to, this machine's host name
    (``socket.gethostname()``; ``localhost`` when it has none)."""
    if host in WILDCARD_HOSTS:
        return socket.gethostname() or "localhost"
    return host


def card_base_url(sock: socket.socket, opts: SandboxOptions) -> str:
    """The base URL the card's interfaces start with (no trailing ``/``): ``opts.public_url`` when
    set (a sandbox behind a proxy or NAT), else ``http://HOST:PORT`` with ``advertised_host(opts.host)``
    and the bound port. On a wildcard host each card answer then names the host the client asked
    for instead (``app.HostNamedCard``); this one stays where no request says (gRPC, the queue
    worker's dead letters)."""
    if opts.public_url:
        return opts.public_url.rstrip("/")
    host = advertised_host(opts.host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{sock.getsockname()[1]}"


def _server(opts: SandboxOptions, sock: socket.socket, log_level: str, grpc_url: str | None = None) -> Any:
    import uvicorn

    from a2actl.server.sandbox.app import build_app

    app = build_app(opts, card_base_url(sock, opts), grpc_url)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        ws_ping_interval=opts.ws_ping_interval,
        ws_ping_timeout=max(20.0, (opts.ws_ping_interval or 0) * 2),
        ws_max_size=16 * 1024 * 1024,
    )
    server = uvicorn.Server(config)
    app.server = server  # FaultMiddleware: a --blocking-handshake sleep ends when the server stops
    return server


def check_startable(opts: SandboxOptions) -> None:
    """Refuse to start a sandbox whose queue worker could not dead-letter (an ``A2ACtlError``)."""
    if opts.dlq:
        from a2actl.server.sandbox.worker import check_dlq

        check_dlq(opts.dlq)


def _grpc_side(opts: SandboxOptions) -> Any:
    """The gRPC side (``a2actl.server.sandbox.grpc.GrpcSide``, its port reserved) when ``opts.grpc``,
    else ``None``. Raises ``OSError`` when ``opts.grpc_port`` cannot be bound."""
    if not opts.grpc:
        return None
    from a2actl.server.sandbox.grpc import GrpcSide, reserve_port

    if opts.public_url:
        from urllib.parse import urlsplit

        advertised = urlsplit(opts.public_url).hostname or advertised_host(opts.host)
    else:
        advertised = advertised_host(opts.host)
    return GrpcSide(opts, opts.host, reserve_port(opts.host, opts.grpc_port), advertised)


async def _serve_all(server: Any, sock: socket.socket, grpc_side: Any, on_started: Any = None) -> None:
    """Serve HTTP (uvicorn) and, when on, gRPC in the running loop; gRPC starts first and stops last.
    A RabbitMQ DLQ's work-queue consumer (``QueueWorker.start``) runs on the same loop meanwhile.
    ``on_started()`` runs once gRPC listens (the HTTP socket already does: it was bound and listening
    before), so whoever reads the URLs it announces can call both at once."""
    worker = getattr(server.config.app, "queue_worker", None)
    if worker is not None:
        await worker.start()
    try:
        if grpc_side is not None:
            grpc_side.stopping = lambda: bool(server.should_exit)
            await grpc_side.start(server.config.app.request_handler)
        if on_started is not None:
            # inside the try: one that raises (stdout a full disk: exit 2) still stops gRPC, which
            # otherwise printed "Exception ignored in Server.__del__ … Event loop is closed"
            on_started()
        await server.serve(sockets=[sock])
    finally:
        if grpc_side is not None:
            await grpc_side.stop()
        if worker is not None:
            await worker.stop()


def serve(
    opts: SandboxOptions, on_ready: Any = None, log_level: str = "warning", on_grpc: Any = None
) -> None:
    """Serve in the foreground until interrupted. ``on_ready(url)`` is called once listening (with
    gRPC on: once the gRPC server listens too); ``on_grpc(target)`` just before it with the gRPC
    interface (``host:port``) when ``opts.grpc``. Raises ``ListenError`` (an ``OSError``) naming the
    port that cannot be bound, ``OSError`` when grpc cannot bind its reserved port later."""
    check_startable(opts)
    try:
        sock = bind_socket(opts.host, opts.port)
    except OSError as exc:
        raise ListenError("HTTP", opts.host, opts.port, exc) from exc
    try:
        grpc_side = _grpc_side(opts)
    except OSError as exc:
        sock.close()
        raise ListenError("gRPC", opts.host, opts.grpc_port, exc) from exc
    server = _server(opts, sock, log_level, grpc_side.url if grpc_side else None)

    def started() -> None:
        if grpc_side is not None and on_grpc is not None:
            on_grpc(grpc_side.url)
        if on_ready is not None:
            on_ready(base_url_of(sock, opts.host))

    if grpc_side is None and getattr(server.config.app, "queue_worker", None) is None:
        started()
        server.run(sockets=[sock])
        return
    from uvicorn._compat import asyncio_run

    asyncio_run(_serve_all(server, sock, grpc_side, started), loop_factory=server.config.get_loop_factory())


class RunningSandbox:
    """A sandbox serving in a background thread. ``url`` is its base URL; ``grpc_url`` its gRPC
    interface (``host:port``, as the card declares it) or ``None``; ``stop()`` shuts it down."""

    def __init__(self, opts: SandboxOptions, log_level: str = "error") -> None:
        import logging

        # The SDK warns on every rejected version header; in the background that is noise.
        logging.getLogger("a2a").setLevel(logging.ERROR if log_level == "error" else logging.WARNING)
        check_startable(opts)
        self.sock = bind_socket(opts.host, opts.port)
        self.opts = replace(opts, port=self.sock.getsockname()[1])
        self.url = base_url_of(self.sock, opts.host)
        self.grpc = _grpc_side(opts)
        self.grpc_url: str | None = self.grpc.url if self.grpc is not None else None
        if self.grpc is not None:
            self.opts = replace(self.opts, grpc_port=self.grpc.port)
        self.server = _server(opts, self.sock, log_level, self.grpc_url)
        self.thread = threading.Thread(target=self._run, name="a2actl-sandbox", daemon=True)

    def _run(self) -> None:
        asyncio.run(_serve_all(self.server, self.sock, self.grpc))

    def start(self, timeout: float = 10.0) -> RunningSandbox:
        """Start serving and wait until it listens (``timeout`` seconds; ``RuntimeError`` if not)."""
        if self.thread.is_alive():
            return self
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit, wait for the thread (5 s at most) and close the socket."""
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()

    def __enter__(self) -> RunningSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(opts: SandboxOptions | None = None, log_level: str = "error") -> RunningSandbox:
    """Start a sandbox in a daemon thread and wait until it listens."""
    return RunningSandbox(opts or SandboxOptions(), log_level).start()
