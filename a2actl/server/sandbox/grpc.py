"""The sandbox's gRPC interface: a2a-sdk's ``GrpcHandler`` (A2A 1.0, service ``lf.a2a.v1.A2AService``)
and, when the sandbox speaks 0.3, ``CompatGrpcHandler`` (service ``a2a.v1.A2AService``) on one
``grpc.aio`` server of their own port, over the SAME request handler (agent executor and task store)
as the HTTP app, with gRPC server reflection and the fault knobs as a server interceptor.

Only the sandbox imports this module, and only when gRPC is on; grpc itself is imported inside the
functions (``grpcio`` is the optional ``grpc`` extra: ``pip install 'a2actl[grpc]'``).

The card declares the interface as ``host:port`` (A2A spec §4.4.6 / the proto's comment on
``AgentInterface.url`` for gRPC; a2a-sdk's client opens ``grpc.aio.insecure_channel(url)``), after the
HTTP ones so that auto-selection keeps JSON-RPC.

Fault knobs (``SandboxOptions``) over gRPC, applied per RPC by ``fault_interceptor``:

* ``require_token``: metadata ``authorization: Bearer <token>`` or ``UNAUTHENTICATED``
* ``handshake_delay`` / ``blocking_handshake``: before the FIRST RPC of each connection (the gRPC
  counterpart of the card fetch an HTTP client starts with); the HTTP/2 connection itself is not delayed
* ``rpc_delay``: before every RPC; ``fail_rate``: ``UNAVAILABLE`` "injected failure (--fail-rate)"
* ``service_time`` and ``max_concurrency``: as for HTTP (a FIFO slot held until the RPC or stream ends)
* ``stall`` after ``stall_after`` events of a server stream; ``drop_after``: a ``SendStreamingMessage``
  stream (not ``SubscribeToTask``) ends with ``UNAVAILABLE`` "stream cut after N events (--drop-after)"
  after N events (what a client sees when the server goes away mid-stream)
* not applicable: ``strip_version_header`` (a2a-sdk's gRPC handler does not read ``a2a-version``),
  ``sse_heartbeat``, ``ws_ping_interval``, the card knobs (no card over gRPC)
* the reflection service is left alone (no knob applies to it, not even the token): it is not A2A,
  and ``caps fingerprint`` reads it
"""

from __future__ import annotations

import asyncio
import errno
import random
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from a2actl.server.sandbox.options import SandboxOptions, block_loop

#: Full names of the services the sandbox's gRPC server registers (reflection lists them too).
SERVICE_V1 = "lf.a2a.v1.A2AService"
SERVICE_V03 = "a2a.v1.A2AService"
REFLECTION_SERVICE = "grpc.reflection.v1alpha.ServerReflection"
#: RPCs whose stream ``drop_after`` cuts (send streams; resubscribes are not cut, as over HTTP).
_SEND_STREAMS = ("/lf.a2a.v1.A2AService/SendStreamingMessage", "/a2a.v1.A2AService/SendStreamingMessage")
STREAM_CUT_MESSAGE = "stream cut after {n} events (--drop-after)"
FAIL_MESSAGE = "injected failure (--fail-rate)"


def grpc_importable() -> bool:
    """Whether grpcio, grpcio-reflection and a2a-sdk's gRPC stubs import (the ``grpc`` extra)."""
    try:
        import grpc  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
        import grpc_reflection  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
        from a2a.server.request_handlers import grpc_handler  # noqa: F401
    except ImportError:
        return False
    return True


def grpc_target(host: str, port: int) -> str:
    """The card's gRPC URL for a listener: ``host:port`` (an IPv6 host in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}"


def reserve_port(host: str, port: int) -> int:
    """Check that ``host:port`` can be bound (``port=0``: pick a free one) and return the port.

    grpc binds its own socket later, inside the sandbox's event loop (its server belongs to that
    loop), while the card, built before, must already name the port; between the two a free port picked
    here could in theory be taken by another process (then the sandbox fails to start, it never
    shares a port: ``grpc.so_reuseport`` is off). Raises ``OSError`` (the CLI: exit 2)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as sock:
        sock.bind((host, port))
        bound: int = sock.getsockname()[1]
    return bound


class GrpcSide:
    """The sandbox's gRPC server on ``host:port`` (``port`` already reserved, see ``reserve_port``).

    ``start(handler)`` must run inside the event loop that serves the HTTP app (grpc.aio servers
    belong to one loop, and the request handler's queues and locks too); ``stop()`` in the same loop.
    """

    def __init__(self, opts: SandboxOptions, host: str, port: int, advertised: str | None = None) -> None:
        self.opts = opts
        self.host = host
        self.port = port
        #: where grpc listens (``host:port``)
        self.bind_target = grpc_target(host, port)
        #: what the card declares: ``advertised`` (a host name, default ``host``) and the port
        self.url = grpc_target(advertised or host, port)
        self.server: Any = None
        #: whether the sandbox is stopping (``server._serve_all`` sets it: the HTTP server should
        #: exit); a ``--blocking-handshake`` sleep ends then
        self.stopping: Callable[[], bool] = lambda: False

    def services(self) -> list[str]:
        """The A2A services served: ``lf.a2a.v1.A2AService``, plus ``a2a.v1.A2AService`` with 0.3."""
        return [SERVICE_V1, *([SERVICE_V03] if "0.3" in self.opts.versions else [])]

    async def start(self, handler: Any) -> None:
        """Create, bind and start the server in the running loop, serving ``handler`` (an a2a-sdk
        ``RequestHandler``). Raises ``OSError`` (EADDRINUSE) when grpc cannot bind the port (the CLI:
        exit 2), e.g. when another process took it after ``reserve_port``."""
        import grpc  # type: ignore[import-untyped,unused-ignore]
        from a2a.server.request_handlers.grpc_handler import GrpcHandler
        from a2a.types import a2a_pb2_grpc
        from grpc_reflection.v1alpha import reflection  # type: ignore[import-untyped,unused-ignore]

        server = grpc.aio.server(
            interceptors=[fault_interceptor(self.opts, lambda: self.stopping())],
            options=[("grpc.so_reuseport", 0)],
        )
        add_v1: Any = a2a_pb2_grpc.add_A2AServiceServicer_to_server  # generated code, untyped
        add_v1(GrpcHandler(handler), server)
        if "0.3" in self.opts.versions:
            from a2a.compat.v0_3 import a2a_v0_3_pb2_grpc
            from a2a.compat.v0_3.grpc_handler import CompatGrpcHandler

            add_v03: Any = a2a_v0_3_pb2_grpc.add_A2AServiceServicer_to_server
            add_v03(CompatGrpcHandler(handler), server)
        reflection.enable_server_reflection([*self.services(), reflection.SERVICE_NAME], server)
        try:
            bound = server.add_insecure_port(self.bind_target)
        except RuntimeError:  # grpcio's "Failed to bind to address"
            bound = 0
        if bound != self.port:
            raise OSError(errno.EADDRINUSE, f"gRPC could not listen on {self.bind_target}")
        await server.start()
        self.server = server

    async def stop(self, grace: float = 1.0) -> None:
        """Stop serving; RPCs still running get ``grace`` seconds, then are cancelled."""
        if self.server is not None:
            await self.server.stop(grace)
            self.server = None


def fault_interceptor(opts: SandboxOptions, stopping: Callable[[], bool] = lambda: False) -> Any:
    """A ``grpc.aio.ServerInterceptor`` with the fault knobs of ``opts`` (``FaultKnobs``; ``stopping``
    ends a ``blocking_handshake`` sleep early); the class is made here so that grpc is imported only
    when a gRPC server is built."""
    import grpc  # type: ignore[import-untyped,unused-ignore]

    cls = type("FaultInterceptor", (FaultKnobs, grpc.aio.ServerInterceptor), {})
    return cls(opts, stopping)


class FaultKnobs:
    """The interceptor's behaviour (module docstring), per RPC: it wraps the method handler so the
    checks run with the ``ServicerContext`` (its peer tells a new connection apart, ``abort`` answers
    a status). Mixed with ``grpc.aio.ServerInterceptor`` by ``fault_interceptor``."""

    def __init__(self, opts: SandboxOptions, stopping: Callable[[], bool] = lambda: False) -> None:
        self.opts = opts
        self.stopping = stopping
        self.random = random.Random(opts.seed)
        self.service_random = random.Random(opts.seed)
        # asyncio.Semaphore binds to the loop on first use (the sandbox's loop).
        self.slots = asyncio.Semaphore(opts.max_concurrency) if opts.max_concurrency > 0 else None
        self.peers_seen: set[str] = set()

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]], details: Any) -> Any:
        """Wrap the A2A methods (not reflection) with the knobs."""
        import grpc  # type: ignore[import-untyped,unused-ignore]

        handler = await continuation(details)
        method: str = details.method
        if handler is None or method.startswith("/grpc."):
            return handler
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: Any) -> Any:
                await self._before(context)
                if self.slots is None:
                    await self._service_time()
                    return await inner(request, context)
                async with self.slots:
                    await self._service_time()
                    return await inner(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            stream_inner = handler.unary_stream
            may_drop = method in _SEND_STREAMS

            async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
                await self._before(context)
                if self.slots is None:
                    await self._service_time()
                    async for item in self._knobs(stream_inner(request, context), context, may_drop):
                        yield item
                    return
                async with self.slots:
                    await self._service_time()
                    async for item in self._knobs(stream_inner(request, context), context, may_drop):
                        yield item

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    async def _before(self, context: Any) -> None:
        """Bearer check, handshake delay (first RPC of a connection), RPC delay, injected failure."""
        import grpc  # type: ignore[import-untyped,unused-ignore]

        opts = self.opts
        if opts.require_token:
            auth = ""
            for key, value in context.invocation_metadata() or ():
                if key.lower() == "authorization":
                    auth = value if isinstance(value, str) else value.decode("latin-1")
            if not secrets.compare_digest(auth, f"Bearer {opts.require_token}"):
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unauthorized")
        if opts.handshake_delay > 0 or opts.blocking_handshake > 0:
            peer = context.peer() or ""  # "ipv4:127.0.0.1:PORT": one per connection
            if peer not in self.peers_seen:
                self.peers_seen.add(peer)
                await asyncio.sleep(opts.handshake_delay)
                if opts.blocking_handshake > 0:
                    # on purpose: blocks the loop, as over HTTP (until the sandbox stops)
                    block_loop(opts.blocking_handshake, self.stopping)
        if opts.rpc_delay > 0:
            await asyncio.sleep(opts.rpc_delay)
        if opts.fail_rate > 0 and self.random.random() < opts.fail_rate:
            await context.abort(grpc.StatusCode.UNAVAILABLE, FAIL_MESSAGE)

    async def _service_time(self) -> None:
        if self.opts.service_time is not None:
            await asyncio.sleep(self.opts.service_time.sample(self.service_random))

    async def _knobs(self, items: Any, context: Any, may_drop: bool) -> AsyncIterator[Any]:
        """Stream knobs: a ``stall`` after ``stall_after`` events, a cut after ``drop_after``."""
        import grpc  # type: ignore[import-untyped,unused-ignore]

        opts = self.opts
        count = 0
        async for item in items:
            count += 1
            if opts.stall and count == opts.stall_after + 1:
                await asyncio.sleep(opts.stall)
            if may_drop and opts.drop_after is not None and count > opts.drop_after:
                await context.abort(grpc.StatusCode.UNAVAILABLE, STREAM_CUT_MESSAGE.format(n=opts.drop_after))
            yield item
