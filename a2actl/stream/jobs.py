"""``stream tail`` sources: a streaming send, an existing task, a raw SSE URL, a WebSocket URL."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from a2actl.agent.target import parse_target
from a2actl.core.errors import HTTPStatusError, StreamCut, UsageError
from a2actl.stream.follow import connected_within, max_time_before_stream, tail_a2a
from a2actl.stream.summary import TailSummary
from a2actl.stream.tail import Emit, Tail, TailOptions

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.transport.http import HttpTransport
    from a2actl.transport.sse import SSETuple


async def tail_job(
    target: str | None,
    settings: Settings,
    sink: EventSink | None,
    emit: Emit,
    *,
    send: str | None,
    task: str | None,
    sse: str | None,
    opts: TailOptions,
    card_path: str | None = None,
    together: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> TailSummary:
    """Run one tail: ``emit`` gets every record as it comes (the records of one network read inside
    one ``together()``: ``Output.together`` writes them in one go); returns the summary (its ``exit`` is the
    command's). Sources: ``send`` (SendStreamingMessage of that text), ``task`` (SubscribeToTask),
    ``sse`` (any SSE URL), or a ``ws://``/``wss://`` ``target`` with ``send``/``task``
    (docs/websocket.md). Raises ``UsageError`` (exit 2) unless exactly one source is given or for an
    empty task id, and what ``connect`` and ``tail_a2a`` raise (3/4/5, 6, 1 for a refused stream).
    ``opts.max_time`` bounds the card discovery too (``connected_within``): a summary with outcome
    ``max-time`` when it passes before the stream starts. ``opts.max_event_bytes`` ``None`` is
    ``settings.max_event_bytes`` (16 MiB by default): SSE counts a larger event unread, WebSocket
    reads it whole up to its frame bound (``WebSocketClient.max_frame_bytes``, 128 MiB by default;
    a larger frame is counted unread and ends the connection), gRPC reads it whole, and on every
    transport it is an oversize event (exit 7)."""
    import dataclasses

    from a2actl.transport.http import HttpTransport

    if opts.max_event_bytes is None:
        opts = dataclasses.replace(opts, max_event_bytes=settings.max_event_bytes)

    try:
        parsed = parse_target(target, websocket=True) if target else None
    except UsageError:
        parsed = None  # a bad TARGET is reported where it is used, after the source check
    ws_url = parsed.value if parsed is not None and parsed.is_websocket else None
    sources = [s for s in (send is not None, task is not None, sse is not None) if s]
    if len(sources) != 1 or (ws_url is not None and sse is not None):
        raise UsageError(
            "give exactly one source: --send TEXT, --task ID, --sse URL, or a ws:// TARGET",
            hint="a2actl stream tail http://agent --send hi | a2actl stream tail ws://agent/a2a/ws --send hi",
        )
    if task is not None and not task.strip():
        raise UsageError("the task id is empty", hint="a2actl task list TARGET shows the task ids (A2A 1.0)")
    if ws_url is not None:
        from a2actl.stream.websocket import tail_websocket

        return await tail_websocket(ws_url, settings, opts, emit, send, task)
    async with HttpTransport(settings, sink) as transport:
        if sse is not None:
            return await tail_raw_sse(transport, sse, opts, emit, together)
        if target is None:
            raise UsageError("TARGET (the agent's URL) is needed with --send and --task")
        started = time.perf_counter()
        async with connected_within(target, settings, transport, card_path, opts) as (client, left):
            if client is None:  # --max-time passed while the card was fetched: nothing streamed
                return max_time_before_stream(opts, emit, started)
            opts = left
            if send is not None:
                from a2actl.protocol.events import text_message_params

                params = text_message_params(
                    send, client.family, client.binding, tenant=client.selection.interface.tenant
                )
                return await tail_a2a(client, "SendStreamingMessage", params, opts, emit, together)
            return await tail_a2a(client, "SubscribeToTask", {"id": task}, opts, emit, together)


async def tail_raw_sse(
    transport: HttpTransport,
    url: str,
    opts: TailOptions,
    emit: Emit,
    together: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> TailSummary:
    """Tail any SSE URL (GET). Events that look like A2A (a JSON-RPC ``result`` or a StreamResponse)
    are classified and audited; others are ``kind: data``.

    A cut is followed, as a browser's EventSource would (WHATWG §9.2.4), by a new GET after the
    server's ``retry:`` (at most ``opts.max_backoff``; else the tail's backoff) carrying
    ``Last-Event-ID`` when the stream sent ids, at most ``opts.reconnect_attempts`` times. Without ids
    (or with a last id that is not printable ASCII, which a2actl sends in no header) nothing tells
    what was sent during the outage, and the ``reconnect`` record says so in ``missed`` (exit 7, as
    for any missed events). A reconnect that cannot connect is one more cut of the same outage,
    tried again after the backoff. Raises ``HTTPStatusError`` (exit 1) for an HTTP error answer
    and the transport's errors for the first connection (3/4/5)."""
    import asyncio

    from a2actl.core.errors import TimeoutError_, UnreachableError
    from a2actl.core.headers import sendable
    from a2actl.protocol.events import StreamEvent, classify_event
    from a2actl.transport.sse import SSEState, iter_sse_batches

    tail = Tail(opts, emit)
    state = SSEState()

    def one(item: SSETuple) -> None:
        kind, data, size, at, _, _, truncated = item
        if kind == "comment":
            tail.heartbeat("sse-comment", data, at=at)
            return
        if truncated:
            tail.event(StreamEvent("oversize", None, None, False, {}), size, truncated=True, at=at)
            return
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError):  # not JSON (or too deep to be A2A): plain data
            obj = None
        if isinstance(obj, dict) and "jsonrpc" in obj:
            obj = obj.get("result")
        ev = classify_event(obj)
        if ev.kind == "unknown":
            ev = StreamEvent("data", None, None, False, {})
        tail.event(ev, size, at=at)  # the events of one read share its time

    async def once(resumed: bool) -> str:
        headers = {"Accept": "text/event-stream"}
        resume = state.last_event_id
        if resume and sendable(resume):
            headers["Last-Event-ID"] = resume
        response, _clock = await transport.open_stream("GET", url, headers=headers)
        connected[0] = True  # a cut from here on starts a new outage, event or not
        try:
            if response.status_code >= 400:
                raise HTTPStatusError(
                    f"{url} answered HTTP {response.status_code} {response.reason_phrase}",
                    details={"httpStatus": response.status_code},
                )
            if resumed:
                if "Last-Event-ID" in headers:
                    tail.reconnected("Last-Event-ID", [])
                elif resume:
                    # a2actl sends printable ASCII header values only (core.headers.sendable);
                    # httpx raised UnicodeEncodeError on a non-ASCII one ('unexpected', exit 1)
                    tail.reconnected(
                        "GET",
                        [
                            "the stream's last event id is not printable ASCII (a control or non-ASCII "
                            "character), so no Last-Event-ID was sent: events sent during the outage may "
                            "be lost or repeated"
                        ],
                    )
                else:
                    tail.reconnected(
                        "GET",
                        [
                            "the stream sends no event ids (id:), so events sent during the outage may be lost or repeated"
                        ],
                    )
            async for batch in iter_sse_batches(response, url, transport.settings, state=state):
                with together():  # the records of one read are written in one go
                    for item in batch:
                        one(item)
        finally:
            await response.aclose()
        if tail.lifecycle.settled or tail.lifecycle.task_id is None:
            return "completed"
        # closed right after an event over --max-event-bytes: the end was in it, as a rule
        return "oversize" if tail.last_unread else "closed-without-terminal"

    connected = [False]  # whether this attempt's GET was answered (its reconnect record written)

    async def run() -> str:
        attempt = 0
        while True:
            before = tail.events
            connected[0] = False
            try:
                return await once(resumed=attempt > 0)
            except (StreamCut, TimeoutError_, UnreachableError) as exc:
                if isinstance(exc, (UnreachableError, TimeoutError_)) and attempt == 0:
                    # the first connection: the agent is not there (exit 3), or did not answer
                    # within --connect-timeout/--timeout (exit 5); no stream began to be cut
                    raise
                # a reconnect that cannot connect is tried again, as an EventSource does
                # (WHATWG §9.2.4: a network error reestablishes the connection); it was exit 3.
                # One that connected ended the outage (its reconnect record), events or not.
                outage_goes_on = attempt > 0 and tail.events == before and not connected[0]
                attempt += 1
                tail.cut(exc.message, attempt, outage_goes_on=outage_goes_on)
                if attempt > opts.reconnect_attempts:
                    return "cut"
            await asyncio.sleep(opts.delay(attempt, state.retry))

    return await tail.finish(run())
