"""One way to call an agent, whatever carries the calls: the ``Channel`` protocol and the items a
channel's stream yields.

Three clients satisfy ``Channel``: ``a2actl.transport.a2a.A2AClient`` (the JSON-RPC and HTTP+JSON
bindings of A2A, spec v1.0 §9 and §11; v0.3.0 §7 and §3.2.3), ``a2actl.transport.grpc.GrpcClient`` (the
gRPC binding, spec v1.0 §10; the ``grpc`` extra, ``docs/grpc.md``) and
``a2actl.transport.ws.WebSocketClient`` (a2actl's custom binding ``urn:a2actl:websocket:1``,
``docs/websocket.md``). Domain code that only
sends operations and reads events (``stream tail``, resubscribe, ``GetTask``) types its client as
``Channel`` and works over either; code that needs HTTP details (``RpcOutcome.http``, the wire table
of the family) keeps ``A2AClient``, which ``a2actl.agent.connect.connect`` returns.

Operation names are the A2A 1.0 (gRPC, PascalCase) names for every family: ``SendMessage``,
``SendStreamingMessage``, ``GetTask``, ``ListTasks``, ``CancelTask``, ``SubscribeToTask`` (spec v1.0
§3.1, the JSON-RPC table of ``a2actl.protocol.versions``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, final

from a2actl.protocol.events import EventFields, StreamEvent
from a2actl.protocol.jsonrpc import DecodedError
from a2actl.protocol.versions import Family


@final  # lets a ``type(item) is Heartbeat`` test narrow a stream item on both branches
@dataclass(frozen=True)
class Heartbeat:
    """An SSE comment line (``: ping``) or a WebSocket pong seen at ``at`` seconds since the request
    started; ``rtt`` is the ping round trip in seconds where measurable (WebSocket), else ``None``."""

    at: float
    text: str
    rtt: float | None = None


@final
class TimedEvent(NamedTuple):
    """A stream event with its arrival time (seconds since the request started) and size in bytes.
    ``truncated``: the event was over the buffering bound (``Settings.max_event_bytes``) and was not
    read; ``event`` is then of kind ``oversize``. (A NamedTuple: one is built per event.)"""

    at: float
    size: int
    event: StreamEvent
    truncated: bool = False


#: What a stream event over the buffering bound is classified as (its data was not kept).
OVERSIZE_EVENT = StreamEvent("oversize", None, None, False, {})

#: A ``TimedEvent``'s fields as a plain tuple, ``(at, size, event, truncated)``, its ``event`` the
#: plain tuple of a ``StreamEvent``'s fields (``protocol.events.EventFields``; a ``StreamEvent`` is
#: one too): how the batch path (``stream_batches``, ``A2AClient.stream_batches``) hands on each
#: event, told from the other items by ``type(item) is tuple``. Building a ``NamedTuple`` goes
#: through ``tuple.__new__`` for a subclass (~150 ns: a copy of the fields and a GC-tracked object),
#: a plain tuple is one ``BUILD_TUPLE`` (~25 ns): the two cost ~3.5k of ``stream tail``'s ~54k CPU
#: instructions an event (``bench/stream_throughput.py``). The item APIs (``Channel.stream``) still
#: yield ``TimedEvent``; ``as_timed_event`` turns one into the other.
EventTuple = tuple[float, int, EventFields, bool]


def as_timed_event(item: EventTuple) -> TimedEvent:
    """The ``TimedEvent`` (with a ``StreamEvent``) of a batch path's ``EventTuple``."""
    at, size, ev, truncated = item
    return TimedEvent(at, size, ev if type(ev) is StreamEvent else StreamEvent(*ev), truncated)


class Outcome(Protocol):
    """The answer to one operation on a channel: ``result`` (the decoded JSON result) when ``error``
    is ``None``, else the decoded A2A error. ``method`` is what was sent (the JSON-RPC method, or
    ``VERB /path`` on HTTP+JSON). ``RpcOutcome`` (HTTP) and ``WsOutcome`` (WebSocket) satisfy it."""

    @property
    def operation(self) -> str:
        """The A2A 1.0 operation name (``GetTask``, …)."""
        ...

    @property
    def method(self) -> str:
        """The method or route that was sent for ``operation``."""
        ...

    @property
    def result(self) -> Any:  # a JSON value whose shape depends on the operation
        """The decoded JSON result (``None`` on error)."""
        ...

    @property
    def error(self) -> DecodedError | None:
        """The decoded A2A error, or ``None`` on success."""
        ...


class Channel(Protocol):
    """What a domain needs from a client connected to one agent interface.

    ``family`` is the A2A wire family spoken (``Family.V1_0`` over WebSocket); ``binding`` the
    protocol binding (``JSONRPC``, ``HTTP+JSON`` or ``urn:a2actl:websocket:1``); ``url`` the
    interface URL the calls go to.
    """

    @property
    def family(self) -> Family:
        """The wire family the calls are spoken in."""
        ...

    @property
    def binding(self) -> str:
        """The protocol binding of the interface."""
        ...

    @property
    def url(self) -> str:
        """The interface URL the calls go to."""
        ...

    async def call(self, operation: str, params: dict[str, Any]) -> Outcome:
        """Run a unary ``operation`` with ``params`` (the A2A request message as JSON). A2A errors are
        returned in ``Outcome.error``; transport failures raise the ``a2actl.core.errors`` tree
        (3 unreachable, 4 auth, 5 timeout, 6 protocol violation; ``docs/exit-codes.md``)."""
        ...

    def stream(
        self, operation: str, params: dict[str, Any], *, heartbeats: bool = False
    ) -> AsyncIterator[TimedEvent | Outcome | Heartbeat]:
        """Run a streaming ``operation`` and yield its events as ``TimedEvent``; an error answer is
        yielded as an ``Outcome`` and ends the stream; with ``heartbeats``, keep-alives are yielded
        as ``Heartbeat``. A cut stream raises ``StreamCut`` or the transport's error."""
        ...


StreamItem = TimedEvent | Outcome | Heartbeat  # what a channel's stream yields
BatchItem = EventTuple | Outcome | Heartbeat  # what a batch of ``stream_batches`` holds


async def close_inner(gen: AsyncGenerator[Any, None]) -> None:
    """Close ``gen``, an async generator another one iterates, from that one's ``finally``. A
    generator left open (``stream tail`` does not wait for a stream's close, and an error ends the
    loop over it) is closed by asyncio's async-generator finalizer; at the end of ``asyncio.run``
    (``shutdown_asyncgens``) every open generator is closed at once, so ``gen`` may already be
    closing: ``aclose`` then raises ``RuntimeError`` ("already running"), which asyncio printed as
    a traceback after the command's own error. It is being closed, which is all this wants."""
    try:
        await gen.aclose()
    except RuntimeError as exc:
        if "already running" not in str(exc):
            raise


def quiet_closing_asyncgens(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An event loop exception handler: drops the "already running" ``RuntimeError`` of an async
    generator being closed (``close_inner``'s case, reported by ``shutdown_asyncgens`` when it
    closes the inner generator of ``stream_batches`` after the outer one's ``finally`` began to: the
    order is a set's) and the same error of an ``aclose()`` task the finalizer hook started for a
    generator collected during the run, and hands anything else to the loop's default handler. Installed by
    ``cli.context.Invocation.run``: the generator is being closed, which is all either wants."""
    exc = context.get("exception")
    if isinstance(exc, RuntimeError) and "already running" in str(exc):
        if context.get("asyncgen") is not None:
            return
        # the same race through the finalizer hook: a generator collected during the run is closed
        # by an ``aclose()`` task of its own ("Task exception was never retrieved", no "asyncgen"
        # key), which finds it being closed by the generator that iterated it (``smoke run``:
        # a stream check that ended on an error frame, then the next check)
        task = context.get("future")
        if isinstance(task, asyncio.Task) and type(task.get_coro()).__name__ == "async_generator_athrow":
            return
    loop.default_exception_handler(context)


async def stream_batches(
    client: Channel, operation: str, params: dict[str, Any], *, heartbeats: bool = False
) -> AsyncGenerator[list[BatchItem], None]:
    """``client.stream``'s items as lists, in stream order, each event as an ``EventTuple`` (a plain
    tuple, not a ``TimedEvent``): the client's own ``stream_batches`` (a list per network read, or
    per slice of a long one: ``A2AClient`` over SSE) when it has one, else one item a list (gRPC,
    WebSocket). For readers of tens of thousands of events a second (``stream tail``); raises what
    ``client.stream`` raises. The client's stream is closed when this generator is."""
    own = getattr(client, "stream_batches", None)
    if own is not None:
        batches: AsyncGenerator[list[BatchItem], None] = own(operation, params, heartbeats=heartbeats)
        try:
            async for batch in batches:
                yield batch
        finally:
            await close_inner(batches)
        return
    items = client.stream(operation, params, heartbeats=heartbeats)
    try:
        async for item in items:
            if type(item) is TimedEvent:
                yield [(item.at, item.size, item.event, item.truncated)]
            else:
                yield [item]
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


if TYPE_CHECKING:  # mypy proves both clients satisfy the protocol
    from a2actl.transport.a2a import A2AClient
    from a2actl.transport.ws import WebSocketClient

    def _a2a_is_a_channel(client: A2AClient) -> Channel:
        return client

    def _ws_is_a_channel(client: WebSocketClient) -> Channel:
        return client

    from a2actl.transport.grpc import GrpcClient

    def _grpc_is_a_channel(client: GrpcClient) -> Channel:
        return client


__all__ = [
    "OVERSIZE_EVENT",
    "BatchItem",
    "Channel",
    "EventTuple",
    "Heartbeat",
    "Outcome",
    "StreamItem",
    "TimedEvent",
    "as_timed_event",
    "stream_batches",
]
