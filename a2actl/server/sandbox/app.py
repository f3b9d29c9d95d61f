"""Build the sandbox ASGI app: card, JSON-RPC and HTTP+JSON bindings (a2a-sdk), SSE streaming, an
explicit session handshake endpoint, and fault knobs as an ASGI middleware.

Routes (``{base}`` = ``http://host:port``):

* ``GET  /.well-known/agent-card.json`` (or ``/.well-known/agent.json`` with ``card_style="0.2"``)
* ``POST /a2a/jsonrpc``: JSON-RPC, 1.0 methods (+ 0.3 ``message/send``-style with compat)
* ``/a2a/rest/...``: HTTP+JSON (+ ``/a2a/rest/v1/...`` for 0.3 with compat)
* ``POST /a2a/handshake``: an explicit session handshake (``docs/debug-endpoints.md``, "What a session
  is"): capabilities in, capabilities and a session token out (the token is random per call and never
  logged)

Push notifications (``docs/push.md``): a2a-sdk's ``BasePushNotificationSender`` over an
``InMemoryPushNotificationConfigStore``; the card says ``pushNotifications: true`` (unless
``--claim-capability pushNotifications`` asks for an agent that only claims them). It POSTs each event
as a 1.0 ``StreamResponse`` (whatever version the config was set with) with ``X-A2A-Notification-Token``
and ``Authorization: <scheme> <credentials>`` when set; at most once per event, no retries. No URL
screening: the sandbox is a QA agent and pushes to loopback receivers, which the spec says a real agent
SHOULD refuse (A2A v1.0 §13.2).

``--claim-capability streaming`` likewise: the served card claims streaming, the handler's honest card
says false, so a2a-sdk refuses the streaming methods (-32004) on every binding.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import secrets
from typing import Any

from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes, create_rest_routes
from a2a.server.tasks import InMemoryTaskStore
from a2a.types import a2a_pb2 as pb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from a2actl import __version__
from a2actl.server.sandbox.agent import EchoExecutor
from a2actl.server.sandbox.options import (
    HANDSHAKE_PATH,
    JSONRPC_PATH,
    QUEUE_PATH,
    REST_PATH,
    RPC_PREFIX,
    WILDCARD_HOSTS,
    SandboxOptions,
    block_loop,
)
from a2actl.server.sandbox.ws import WS_BINDING, WS_PATH, ws_endpoint


def build_card(opts: SandboxOptions, base_url: str, grpc_url: str | None = None) -> pb.AgentCard:
    """The sandbox's AgentCard (1.0 proto); interfaces per ``opts.versions``, JSON-RPC first, the
    gRPC ones (``grpc_url``: ``host:port``, when the gRPC side is on) last."""
    interfaces = []
    for version in opts.versions:
        interfaces.append(
            pb.AgentInterface(
                url=base_url + JSONRPC_PATH, protocol_binding="JSONRPC", protocol_version=version
            )
        )
        interfaces.append(
            pb.AgentInterface(
                url=base_url + REST_PATH, protocol_binding="HTTP+JSON", protocol_version=version
            )
        )
    ws_base = base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    if "1.0" in opts.versions:  # the WebSocket channel speaks 1.0 shapes only
        interfaces.append(
            pb.AgentInterface(url=ws_base + WS_PATH, protocol_binding=WS_BINDING, protocol_version="1.0")
        )
    if grpc_url is not None:  # last: clients that auto-select keep JSON-RPC
        for version in opts.versions:
            interfaces.append(
                pb.AgentInterface(url=grpc_url, protocol_binding="GRPC", protocol_version=version)
            )
    card = pb.AgentCard(
        name=opts.name,
        description="Reference A2A agent embedded in a2actl: echoes text, streams status and artifact events.",
        supported_interfaces=interfaces,
        provider=pb.AgentProvider(organization="a2actl", url="https://example.invalid/a2actl"),
        version=__version__,
        capabilities=pb.AgentCapabilities(streaming=_streams(opts), push_notifications=_pushes(opts)),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[
            pb.AgentSkill(
                id="echo",
                name="Echo",
                description="Echoes text back as a streamed two-chunk artifact. "
                "'/fail', '/input', '/msg TEXT' and '/slow N' change the outcome.",
                tags=["test", "echo"],
                examples=["hello", "/slow 2", "/fail"],
            )
        ],
    )
    if opts.require_token:
        card.security_schemes["bearer"].http_auth_security_scheme.scheme = "Bearer"
        req = card.security_requirements.add()
        req.schemes["bearer"].SetInParent()
    return card


def legacy_card_json(opts: SandboxOptions, base_url: str) -> dict[str, Any]:
    """A 0.2.5-style card (``url`` + ``protocolVersion``, no ``supportedInterfaces``)."""
    return {
        "name": opts.name,
        "description": "Reference A2A agent embedded in a2actl (legacy 0.2-style card).",
        "url": base_url + JSONRPC_PATH,
        "version": __version__,
        "protocolVersion": "0.2.5",
        "capabilities": {
            "streaming": _streams(opts),
            "pushNotifications": _pushes(opts),
            "stateTransitionHistory": False,
        },
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "echo", "name": "Echo", "description": "Echoes text back.", "tags": ["test"]}],
    }


class SandboxDrop(Exception):
    """Raised inside the app to cut a stream abruptly (``drop_after``); filtered from uvicorn's log."""


class _DropFilter:
    """A logging filter that hides the deliberate ``SandboxDrop`` tracebacks."""

    def filter(self, record: Any) -> bool:
        """Drop the log record of a deliberate stream cut (``SandboxDrop``); keep the rest."""
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, SandboxDrop)


def install_drop_filter() -> None:
    """Silence uvicorn's traceback for the streams ``--drop-after`` cuts on purpose (once per process)."""
    import logging

    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())


async def _is_send_stream(scope: dict[str, Any], receive: Any) -> tuple[bool, Any]:
    """Whether the request opens a *send* stream (SendStreamingMessage / message/stream / REST
    ``message:stream``); returns a ``receive`` that replays the body it had to read."""
    if scope.get("path", "").endswith("message:stream"):
        return True, receive
    if scope.get("method") != "POST":
        return False, receive
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    replayed = False

    async def replay() -> dict[str, Any]:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        later: dict[str, Any] = await receive()
        return later

    return (b'"SendStreamingMessage"' in body or b'"message/stream"' in body), replay


class _StreamKnobs:
    """Wraps ``send`` for one SSE response: extra ``: ping`` comments, a stall, an abrupt drop."""

    def __init__(self, send: Any, opts: SandboxOptions, may_drop: bool) -> None:
        self._send = send
        self.opts = opts
        self.may_drop = may_drop
        self.lock = asyncio.Lock()
        self.sse = False
        self.frames = 0
        self.paused = False
        self.done = False
        self.pinger: asyncio.Task[None] | None = None

    async def _ping(self, interval: float) -> None:
        while not self.done:
            await asyncio.sleep(interval)
            if self.paused or self.done:
                continue
            async with self.lock:
                if not self.done:
                    await self._send(
                        {"type": "http.response.body", "body": b": ping - sandbox\r\n\r\n", "more_body": True}
                    )

    async def send(self, message: dict[str, Any]) -> None:
        """The ASGI ``send`` with the knobs: SSE heartbeats (``sse_heartbeat`` seconds), a stall of
        ``stall`` seconds after ``stall_after`` events, a cut after ``drop_after`` events (raises
        ``SandboxDrop``)."""
        if message["type"] == "http.response.start":
            ctype = dict(message.get("headers", [])).get(b"content-type", b"")
            self.sse = b"text/event-stream" in ctype
            await self._send(message)
            if self.sse and self.opts.sse_heartbeat:
                self.pinger = asyncio.create_task(self._ping(self.opts.sse_heartbeat))
            return
        if self.sse and message["type"] == "http.response.body" and b"data:" in message.get("body", b""):
            self.frames += 1
            if self.opts.stall and self.frames == self.opts.stall_after + 1:
                self.paused = True
                await asyncio.sleep(self.opts.stall)
                self.paused = False
            if self.may_drop and self.opts.drop_after is not None and self.frames > self.opts.drop_after:
                self.close()
                raise SandboxDrop(f"stream cut after {self.opts.drop_after} events (--drop-after)")
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.close()
        async with self.lock:
            await self._send(message)

    def close(self) -> None:
        """The response ended: stop the heartbeat."""
        self.done = True
        if self.pinger is not None:
            self.pinger.cancel()


#: A Host header that can name the card's interfaces (RFC 3986 host and port; nothing that could
#: break out of a JSON string or a URL's authority).
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+)(:[0-9]{1,5})?")


class HostNamedCard:
    """ASGI middleware for a sandbox on a wildcard address (``--host 0.0.0.0``/``::``) without
    ``--public-url``: each card answer (``/.well-known/…``) names the host the client asked for (its
    ``Host`` header) in place of ``authority`` (``host:port`` of ``card_base_url``), so the interfaces
    are reachable the way the card was (``localhost:9999`` through a container's port mapping, a
    service name on a container network, an IP from elsewhere). A missing or malformed ``Host``
    leaves the card as built. Buffers only card answers (a few KB)."""

    def __init__(self, app: Any, authority: str) -> None:
        self.app = app
        self.authority = authority
        self.needle = b"://" + authority.encode("ascii", "replace")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith("/.well-known/"):
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
        if host is None or host == self.authority or not _HOST.fullmatch(host):
            await self.app(scope, receive, send)
            return
        named = b"://" + host.encode("ascii")
        start: dict[str, Any] | None = None
        chunks: list[bytes] = []

        async def rewrite(message: dict[str, Any]) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks).replace(self.needle, named)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)


class FaultMiddleware:
    """ASGI middleware for the fault knobs: card delay, RPC delay, random 503s, bearer check and
    stripping ``A2A-Version``; and the load knobs: a blocking card handler, a per-request service time
    and a concurrency limit that queues. Streaming-safe (pure ASGI, never buffers the response).

    Order for a request under ``/a2a``: bearer check, ``rpc_delay``, ``fail_rate`` (a 503 is answered
    before the queue), then a slot of ``max_concurrency`` (FIFO wait), the service time, the agent; the
    slot is held until the response (a whole stream) ends."""

    request_handler: Any = None  # set by build_app: the a2a-sdk handler (shared with the gRPC side)
    queue_worker: Any = None  # set by build_app with --dlq: the QueueWorker (server.py starts/stops it)
    server: Any = None  # set by server.py: the uvicorn.Server (a blocking sleep ends when it should exit)

    def __init__(self, app: Any, opts: SandboxOptions) -> None:
        self.app = app
        self.opts = opts
        self.random = random.Random(opts.seed)
        # Its own generator, so a seeded --fail-rate draws the same sequence with or without --service-time.
        self.service_random = random.Random(opts.seed)
        # asyncio.Semaphore wakes its waiters in FIFO order; it binds to the loop on first use.
        self.slots = asyncio.Semaphore(opts.max_concurrency) if opts.max_concurrency > 0 else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._http(scope, receive, tracked)
        except asyncio.CancelledError:
            # uvicorn cancels the requests still running 1 s (timeout_graceful_shutdown) after
            # Ctrl-C/SIGTERM: one waiting out a delay, a service time or a slot. It printed
            # "Exception in ASGI application" with a traceback and answered 500; now a 503 that says
            # so (a response already begun, a stream, is left to end: uvicorn closes it).
            if not started:
                await _plain(send, 503, b"the sandbox is shutting down\n", [], ctype=b"text/plain")

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """One HTTP request through the knobs (class docstring)."""
        path: str = scope.get("path", "")
        opts = self.opts
        if path.startswith("/.well-known/"):
            if opts.handshake_delay > 0:
                await asyncio.sleep(opts.handshake_delay)
            if opts.blocking_handshake > 0:
                # On purpose: a blocking call in the handshake handler stalls the whole event loop.
                block_loop(opts.blocking_handshake, lambda: bool(getattr(self.server, "should_exit", False)))
        if path.startswith(RPC_PREFIX):
            if opts.require_token:
                auth = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1")
                if not secrets.compare_digest(auth, f"Bearer {opts.require_token}"):
                    await _plain(
                        send,
                        401,
                        b'{"error": "unauthorized"}',
                        [(b"www-authenticate", b'Bearer realm="a2actl-sandbox"')],
                    )
                    return
            if opts.rpc_delay > 0:
                await asyncio.sleep(opts.rpc_delay)
            if opts.fail_rate > 0 and self.random.random() < opts.fail_rate:
                await _plain(send, 503, b"injected failure (--fail-rate)", [], ctype=b"text/plain")
                return
            if opts.strip_version_header:
                scope = dict(scope)
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != b"a2a-version"]
            if self.slots is not None:
                async with self.slots:
                    await self._serve_rpc(scope, receive, send)
            else:
                await self._serve_rpc(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _serve_rpc(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """One request under ``/a2a`` after the fault checks: the service time, then the agent (with
        the stream knobs when any is set)."""
        opts = self.opts
        if opts.service_time is not None:
            await asyncio.sleep(opts.service_time.sample(self.service_random))
        if opts.sse_heartbeat or opts.drop_after is not None or opts.stall:
            may_drop = False
            if opts.drop_after is not None:
                may_drop, receive = await _is_send_stream(scope, receive)
            knobs = _StreamKnobs(send, opts, may_drop)
            try:
                await self.app(scope, receive, knobs.send)
            finally:
                knobs.close()
            return
        await self.app(scope, receive, send)


async def _plain(
    send: Any,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    ctype: bytes = b"application/json",
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _served_card(opts: SandboxOptions, card: pb.AgentCard) -> pb.AgentCard:
    """The card as served: ``opts.claim_capabilities`` switched on (the handler keeps the honest one)."""
    served = pb.AgentCard()
    served.CopyFrom(card)
    fields = {
        "streaming": "streaming",
        "pushNotifications": "push_notifications",
        "extendedAgentCard": "extended_agent_card",
    }
    for name in opts.claim_capabilities:
        setattr(served.capabilities, fields[name], True)
    return served


def _varying_card_route(card: pb.AgentCard) -> Route:
    """The card endpoint as the JS SDK serves it (``docs/interop.md``): pure 1.0 for ``A2A-Version: 1.0``,
    hybrid (1.0 and 0.3 fields) otherwise, ``Vary: A2A-Version``."""
    from a2a.server.request_handlers.response_helpers import agent_card_to_dict
    from google.protobuf.json_format import MessageToDict

    async def serve_card(request: Request) -> JSONResponse:
        if request.headers.get("a2a-version", "").startswith("1."):
            body = MessageToDict(card)
        else:
            body = agent_card_to_dict(card)
        return JSONResponse(body, headers={"Vary": "A2A-Version"})

    return Route("/.well-known/agent-card.json", serve_card, methods=["GET"])


def _streams(opts: SandboxOptions) -> bool:
    """Whether the agent streams: yes, unless ``--claim-capability streaming`` asks for a card that
    claims it although the agent does not (then the honest card says false and a2a-sdk's handler
    refuses ``SendStreamingMessage`` and ``SubscribeToTask`` with UnsupportedOperationError -32004)."""
    return "streaming" not in opts.claim_capabilities


def _pushes(opts: SandboxOptions) -> bool:
    """Whether the agent implements push notifications: yes, unless ``--claim-capability
    pushNotifications`` asks for a card that claims them although the agent does not (then the
    honest card says false and the handler refuses the push methods with -32003)."""
    return "pushNotifications" not in opts.claim_capabilities


def _push_kwargs(opts: SandboxOptions) -> dict[str, Any]:
    """The request handler's push arguments (none when ``_pushes`` is false): an in-memory config
    store and a2a-sdk's sender on an ``httpx.AsyncClient`` (10 s timeout per delivery; the spec
    recommends 10-30 s, A2A v1.0 §13.2)."""
    if not _pushes(opts):
        return {}
    import httpx
    from a2a.server.tasks import BasePushNotificationSender, InMemoryPushNotificationConfigStore

    store = InMemoryPushNotificationConfigStore()
    sender = BasePushNotificationSender(httpx.AsyncClient(timeout=10.0), store)
    return {"push_config_store": store, "push_sender": sender}


def build_app(opts: SandboxOptions, base_url: str, grpc_url: str | None = None) -> Any:
    """The sandbox ASGI app for an agent reachable at ``base_url`` (``http://host:port``); its
    ``request_handler`` attribute is the a2a-sdk request handler (the gRPC side serves the same one),
    ``grpc_url`` the card's gRPC interface (``host:port``) or ``None``."""
    card = build_card(opts, base_url, grpc_url)
    push = _push_kwargs(opts)
    registry = None
    if opts.debug:
        from a2actl.server.debug.registry import SessionRegistry
        from a2actl.server.debug.server import TrackingRequestHandler

        registry = SessionRegistry(max_age=opts.max_session_age, close_on_task_end=not opts.leak_sessions)
        handler: Any = TrackingRequestHandler(
            registry,
            agent_executor=EchoExecutor(opts.stream_interval),
            task_store=InMemoryTaskStore(),
            agent_card=card,
            **push,
        )
    else:
        handler = DefaultRequestHandler(
            agent_executor=EchoExecutor(opts.stream_interval),
            task_store=InMemoryTaskStore(),
            agent_card=card,
            **push,
        )
    served = _served_card(opts, card)
    compat = "0.3" in opts.versions or opts.card_style == "0.2"
    routes: list[Any] = []
    if opts.card_style == "0.2":
        legacy = legacy_card_json(opts, base_url)

        async def legacy_card(_: Request) -> JSONResponse:
            return JSONResponse(legacy)

        routes.append(Route("/.well-known/agent.json", legacy_card, methods=["GET"]))
    elif opts.vary_card:
        routes.append(_varying_card_route(served))
    else:
        routes += create_agent_card_routes(served)

    async def handshake(request: Request) -> JSONResponse:
        try:
            offered = json.loads(await request.body() or b"{}")
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, status_code=400)
        session = (
            registry.open_session(request.headers.get("x-a2a-peer") or request.headers.get("user-agent"))
            if registry is not None
            else None
        )
        return JSONResponse(
            {
                "sessionId": session.id if session else None,
                "sessionToken": secrets.token_urlsafe(24),
                "expiresIn": 300,
                "protocolVersions": list(opts.versions),
                "capabilities": {"streaming": _streams(opts), "pushNotifications": _pushes(opts)},
                "accepted": sorted(offered.get("capabilities", {})) if isinstance(offered, dict) else [],
            }
        )

    # Before the REST routes: their `/{tenant}` mount would swallow this path.
    routes.append(Route(HANDSHAKE_PATH, handshake, methods=["POST"]))
    routes.append(WebSocketRoute(WS_PATH, ws_endpoint(handler, opts.stall, opts.stall_after)))
    dlq = worker = None
    if opts.dlq:
        from a2actl.dlq.store.local import open_producer
        from a2actl.server.sandbox.worker import QueueWorker

        dlq = open_producer(opts.dlq)
        worker = QueueWorker(handler, dlq, base_url + JSONRPC_PATH, opts.worker_fault, opts.worker_attempts)
        routes.append(Route(QUEUE_PATH, worker.route(), methods=["POST"]))
    if registry is not None:
        from a2actl.server.debug.server import debug_routes

        routes += debug_routes(registry, handler, token=opts.debug_token, dlq=dlq)
    routes += create_jsonrpc_routes(handler, rpc_url=JSONRPC_PATH, enable_v0_3_compat=compat)
    routes += create_rest_routes(handler, path_prefix=REST_PATH, enable_v0_3_compat=compat)
    if opts.drop_after is not None:
        install_drop_filter()
    inner: Any = Starlette(routes=routes)
    if opts.host in WILDCARD_HOSTS and not opts.public_url:
        from urllib.parse import urlsplit

        inner = HostNamedCard(inner, urlsplit(base_url).netloc)
    app = FaultMiddleware(inner, opts)
    app.request_handler = handler
    app.queue_worker = worker
    return app
