"""``A2AClient.stream_batches`` (a list per network read) against ``A2AClient.stream`` (item by item)
over ``httpx.MockTransport``, and ``transport.channel.stream_batches`` over a client without batches
(one item a list, the inner stream closed when the consumer stops)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from a2actl.core.config import Settings
from a2actl.core.errors import ProtocolViolation
from a2actl.core.sink import NullSink
from a2actl.protocol.card import Interface
from a2actl.protocol.events import StreamEvent
from a2actl.protocol.negotiation import Selection
from a2actl.protocol.versions import BINDING_JSONRPC, Family
from a2actl.transport import channel
from a2actl.transport.a2a import A2AClient, RpcOutcome
from a2actl.transport.channel import Heartbeat, StreamItem, TimedEvent
from a2actl.transport.http import HttpTransport

BASE = "http://127.0.0.1:9/a2a"
Item = TimedEvent | RpcOutcome | Heartbeat
#: builds the SSE body's network reads (chunks) from the request's JSON-RPC id
Body = Callable[[str], list[str]]


def selection() -> Selection:
    iface = Interface(BASE, BINDING_JSONRPC, Family.V1_0.value, Family.V1_0, "test", None)
    return Selection(iface, Family.V1_0, "test", False)


def frame(rid: str, state: str, task_id: str = "t1") -> str:
    update = {"taskId": task_id, "contextId": "c1", "status": {"state": state}}
    return "data: " + json.dumps({"jsonrpc": "2.0", "id": rid, "result": {"statusUpdate": update}}) + "\n\n"


def handler_for(body: Body) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        rid = json.loads(request.content)["id"]

        async def content() -> AsyncIterator[bytes]:
            for chunk in body(rid):
                yield chunk.encode()

        return httpx.Response(200, content=content(), headers={"Content-Type": "text/event-stream"})

    return handler


def _collect(body: Body, heartbeats: bool, batches: bool) -> tuple[list[Any], BaseException | None]:
    """What ``stream_batches()`` (``batches``) or ``stream()`` yields, and what it raised (``None``:
    it ended)."""

    async def go() -> tuple[list[Any], BaseException | None]:
        got: list[Any] = []
        async with HttpTransport(Settings(), http_transport=httpx.MockTransport(handler_for(body))) as tr:
            client = A2AClient(tr, selection())
            source = client.stream_batches if batches else client.stream
            try:
                async for x in source("SendStreamingMessage", {"message": {}}, heartbeats=heartbeats):
                    got.append(x)
            except Exception as exc:
                return got, exc
        return got, None

    return asyncio.run(go())


def run_stream(body: Body, heartbeats: bool = True) -> tuple[list[Item], BaseException | None]:
    """``stream()``'s items, and what it raised (``None``: it ended)."""
    return _collect(body, heartbeats, batches=False)


def run_batches(body: Body, heartbeats: bool = True) -> tuple[list[list[Item]], BaseException | None]:
    """``stream_batches()``'s lists, and what it raised (``None``: it ended)."""
    return _collect(body, heartbeats, batches=True)


def view(item: Item) -> tuple[Any, ...]:
    """An item without its arrival time (two runs read at different times); a batch's event (an
    ``EventTuple``, a plain tuple) as the ``TimedEvent`` ``stream()`` makes of it."""
    if type(item) is tuple:
        item = TimedEvent(*item)
    if isinstance(item, TimedEvent):
        return ("event", item.size, item.event, item.truncated)
    if isinstance(item, Heartbeat):
        return ("heartbeat", item.text, item.rtt)
    assert item.error is not None
    return ("outcome", item.operation, item.method, item.result, item.error.code, item.error.message)


def test_the_batches_concatenated_are_the_stream_item_by_item() -> None:
    def body(rid: str) -> list[str]:
        return [
            ": ping\n\n" + frame(rid, "TASK_STATE_SUBMITTED") + frame(rid, "TASK_STATE_WORKING"),
            frame(rid, "TASK_STATE_WORKING")[:20],  # an event split over two reads
            frame(rid, "TASK_STATE_WORKING")[20:] + ": keep-alive\n\n",
            frame(rid, "TASK_STATE_WORKING") + frame(rid, "TASK_STATE_COMPLETED"),
        ]

    items, raised = run_stream(body)
    batches, braised = run_batches(body)
    assert raised is None and braised is None
    assert all(type(b) is list and b for b in batches)  # lists, never empty
    assert [view(i) for b in batches for i in b] == [view(i) for i in items]
    # the batches' events are plain tuples (EventTuple), stream()'s are TimedEvent
    assert [type(i) for b in batches for i in b] == [Heartbeat, tuple, tuple, tuple, Heartbeat, tuple, tuple]
    assert [type(i) for i in items] == [
        Heartbeat,
        TimedEvent,
        TimedEvent,
        TimedEvent,
        Heartbeat,
        TimedEvent,
        TimedEvent,
    ]
    assert [i.event.state for i in items if isinstance(i, TimedEvent)] == [
        "submitted",
        "working",
        "working",
        "working",
        "completed",
    ]
    assert len(batches) < len(items)  # several items came in one list (one per network read)
    assert [len(b) for b in batches] == [3, 2, 2]  # the split event's first read completes nothing


def test_a_long_read_is_handed_on_in_slices_that_share_its_time() -> None:
    """A read of more than ``BATCH_EVENTS`` events comes as lists of at most that many, in order,
    every item of the read with the read's one ``at`` (``Tail.take`` knows them as one read by it);
    the next read's items have another ``at``."""
    from a2actl.transport.a2a import BATCH_EVENTS

    many = 2 * BATCH_EVENTS + 5

    def body(rid: str) -> list[str]:
        return [
            frame(rid, "TASK_STATE_SUBMITTED") + frame(rid, "TASK_STATE_WORKING") * many,
            frame(rid, "TASK_STATE_COMPLETED"),
        ]

    items, raised = run_stream(body)
    batches, braised = run_batches(body)
    assert raised is None and braised is None
    assert [view(i) for b in batches for i in b] == [view(i) for i in items]
    assert [len(b) for b in batches] == [BATCH_EVENTS, BATCH_EVENTS, 6, 1]
    first_read = [i[0] for b in batches[:3] for i in b]  # EventTuple: (at, size, event, truncated)
    assert len(set(first_read)) == 1 and batches[3][0][0] > first_read[0]


def test_without_heartbeats_the_comments_are_left_out_of_both() -> None:
    def body(rid: str) -> list[str]:
        return [
            ": ping\n\n",
            frame(rid, "TASK_STATE_WORKING") + ": ping\n\n",
            frame(rid, "TASK_STATE_COMPLETED"),
        ]

    items, _ = run_stream(body, heartbeats=False)
    batches, _ = run_batches(body, heartbeats=False)
    assert all(b for b in batches)  # the comment-only read gives no (empty) list
    assert [view(i) for b in batches for i in b] == [view(i) for i in items]
    assert [type(i) for i in items] == [TimedEvent, TimedEvent]


def test_data_that_is_not_json_comes_after_the_events_before_it() -> None:
    def body(rid: str) -> list[str]:  # the bad event in the same read as the two good ones
        return [frame(rid, "TASK_STATE_SUBMITTED") + frame(rid, "TASK_STATE_WORKING") + "data: hello\n\n"]

    items, raised = run_stream(body)
    assert isinstance(raised, ProtocolViolation) and "is not JSON" in str(raised)
    assert [i.event.state for i in items if isinstance(i, TimedEvent)] == ["submitted", "working"]
    assert len(items) == 2

    batches, braised = run_batches(body)
    assert isinstance(braised, ProtocolViolation) and "is not JSON" in str(braised)
    assert [[view(i) for i in b] for b in batches] == [[view(i) for i in items]]


def test_an_error_frame_after_two_events_ends_the_stream_as_its_last_item() -> None:
    def body(rid: str) -> list[str]:
        error = {"jsonrpc": "2.0", "id": rid, "error": {"code": -32001, "message": "Task not found"}}
        return [
            frame(rid, "TASK_STATE_SUBMITTED") + frame(rid, "TASK_STATE_WORKING"),
            f"data: {json.dumps(error)}\n\n" + frame(rid, "TASK_STATE_COMPLETED"),  # never read
            frame(rid, "TASK_STATE_COMPLETED"),
        ]

    items, raised = run_stream(body)
    assert raised is None
    assert [type(i) for i in items] == [TimedEvent, TimedEvent, RpcOutcome]
    last = items[-1]
    assert isinstance(last, RpcOutcome) and last.error is not None and last.error.code == -32001
    assert last.result is None

    batches, braised = run_batches(body)
    assert braised is None
    flat = [i for b in batches for i in b]
    assert [view(i) for i in flat] == [view(i) for i in items]
    assert isinstance(batches[-1][-1], RpcOutcome)


# -- transport.channel.stream_batches ------------------------------------------------------------------


class OneByOne:
    """A channel without ``stream_batches`` (gRPC, WebSocket): ``stream`` is an async generator."""

    def __init__(self, items: list[StreamItem]) -> None:
        self.items = items
        self.calls: list[tuple[str, dict[str, Any], bool]] = []
        self.yielded = 0
        self.closed = False

    async def stream(
        self, operation: str, params: dict[str, Any], *, heartbeats: bool = False
    ) -> AsyncIterator[StreamItem]:
        self.calls.append((operation, params, heartbeats))
        try:
            for item in self.items:
                self.yielded += 1
                yield item
                await asyncio.sleep(0)
        finally:
            self.closed = True


def items_of(n: int) -> list[StreamItem]:
    ev = StreamEvent("status-update", "working", "t1", False, {})
    return [Heartbeat(0.5, "ping"), *(TimedEvent(float(i), 10 + i, ev, False) for i in range(n))]


def test_a_client_without_batches_gets_one_item_a_list() -> None:
    client = OneByOne(items_of(3))

    async def go() -> list[list[StreamItem]]:
        gen = channel.stream_batches(client, "SubscribeToTask", {"id": "t1"}, heartbeats=True)  # type: ignore[arg-type]
        return [batch async for batch in gen]

    batches = asyncio.run(go())
    assert batches == [[item] for item in client.items]
    assert client.calls == [("SubscribeToTask", {"id": "t1"}, True)]
    assert client.closed


def test_stopping_early_closes_the_inner_stream() -> None:
    client = OneByOne(items_of(5))

    async def go() -> list[list[StreamItem]]:
        got: list[list[StreamItem]] = []
        gen = channel.stream_batches(client, "SubscribeToTask", {"id": "t1"})  # type: ignore[arg-type]
        async for batch in gen:
            got.append(batch)
            if len(got) == 2:
                break
        assert not client.closed  # suspended in its yield until the consumer closes the batches
        await gen.aclose()
        assert client.closed  # closed by the helper there and then, not later by the loop's hooks
        return got

    got = asyncio.run(go())
    assert got == [[client.items[0]], [client.items[1]]]
    assert client.closed and client.yielded == 2


def test_stopping_early_closes_a_clients_own_batches() -> None:
    """A client with ``stream_batches`` (``A2AClient``): its lists as they are, its generator closed
    when the consumer closes the helper's."""

    class Batched(OneByOne):
        async def stream_batches(
            self, operation: str, params: dict[str, Any], *, heartbeats: bool = False
        ) -> AsyncIterator[list[StreamItem]]:
            self.calls.append((operation, params, heartbeats))
            try:
                for i in range(0, len(self.items), 2):
                    self.yielded += 1
                    yield self.items[i : i + 2]
            finally:
                self.closed = True

    client = Batched(items_of(5))

    async def go() -> list[list[StreamItem]]:
        gen = channel.stream_batches(client, "SendStreamingMessage", {}, heartbeats=True)  # type: ignore[arg-type]
        first = await gen.__anext__()
        assert not client.closed
        await gen.aclose()
        return [first]

    assert asyncio.run(go()) == [client.items[:2]]
    assert client.closed and client.yielded == 1


def test_the_helper_over_an_a2a_client_gives_its_batches() -> None:
    def body(rid: str) -> list[str]:
        return [
            frame(rid, "TASK_STATE_SUBMITTED") + frame(rid, "TASK_STATE_WORKING"),
            frame(rid, "TASK_STATE_COMPLETED"),
        ]

    async def go() -> list[list[StreamItem]]:
        async with HttpTransport(Settings(), http_transport=httpx.MockTransport(handler_for(body))) as tr:
            client = A2AClient(tr, selection())
            return [b async for b in channel.stream_batches(client, "SendStreamingMessage", {"message": {}})]

    batches = asyncio.run(go())
    items, _ = run_stream(body)
    assert [view(i) for b in batches for i in b] == [view(i) for i in items]  # type: ignore[arg-type]
    assert len(items) == 3


@pytest.mark.parametrize("stop_after", [1, 2])
def test_an_a2a_stream_closed_early_closes_its_response(stop_after: int) -> None:
    """The consumer stops after ``stop_after`` lists and closes the helper: the client's generator is
    closed, so the response body is closed there and then (not when the loop shuts down)."""
    reads: list[int] = []
    responses: list[httpx.Response] = []

    def handler(request: httpx.Request) -> httpx.Response:
        rid = json.loads(request.content)["id"]

        async def content() -> AsyncIterator[bytes]:
            for i in range(5):
                reads.append(i)
                yield frame(rid, "TASK_STATE_WORKING").encode()

        response = httpx.Response(200, content=content(), headers={"Content-Type": "text/event-stream"})
        responses.append(response)  # the object the client reads (MockTransport hands it over)
        return response

    async def go() -> tuple[int, bool]:
        async with HttpTransport(Settings(), http_transport=httpx.MockTransport(handler)) as tr:
            client = A2AClient(tr, selection())
            gen = channel.stream_batches(client, "SendStreamingMessage", {"message": {}})
            n = 0
            async for _ in gen:
                n += 1
                if n == stop_after:
                    break
            assert not responses[0].is_closed
            await gen.aclose()
            return n, responses[0].is_closed

    assert asyncio.run(go()) == (stop_after, True)
    assert len(reads) == stop_after  # no read past the consumer's stop


class BodyLog(NullSink):
    """A sink that logs bodies (``-vv``) into the shared ``log``, beside what the reader consumes:
    the order of the two says when each body was logged."""

    wants_bodies = True

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def on_body(self, direction: str, body: bytes) -> None:
        if direction == "<":
            self.log.append("body " + json.loads(body)["result"]["statusUpdate"]["status"]["state"])


def test_with_bodies_logged_each_body_comes_just_before_its_item_and_none_past_the_end() -> None:
    """``-vv``: a read of four events, the third terminal. Each body is logged just before its
    event is handed on (one item a list), and a reader that stops at the terminal event never has
    the fourth body logged, as item by item."""
    states = ["TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED", "TASK_STATE_WORKING"]
    log: list[str] = []

    async def go() -> None:
        def body(rid: str) -> list[str]:
            return ["".join(frame(rid, s) for s in states)]  # one network read

        mock = httpx.MockTransport(handler_for(body))
        async with HttpTransport(Settings(), sink=BodyLog(log), http_transport=mock) as tr:
            client = A2AClient(tr, selection())
            batches = client.stream_batches("SendStreamingMessage", {"message": {}})
            async for batch in batches:
                assert len(batch) == 1
                item = batch[0]
                assert type(item) is tuple  # an EventTuple: (at, size, event, truncated)
                log.append(f"item {item[2][1]}")  # EventFields: (kind, state, ...)
                if item[2][1] == "completed":
                    break
            await batches.aclose()

    asyncio.run(go())
    assert log == [
        "body TASK_STATE_SUBMITTED",
        "item submitted",
        "body TASK_STATE_WORKING",
        "item working",
        "body TASK_STATE_COMPLETED",
        "item completed",
    ]


def test_an_inner_generator_already_closing_is_not_an_error() -> None:
    """At the end of ``asyncio.run`` (``shutdown_asyncgens``) every open async generator is closed at
    once: the inner one of ``stream_batches`` may be closing already when the outer one's ``finally``
    closes it. ``aclose`` then raised "already running" and asyncio printed a traceback after the
    command's own error (``stream tail`` ended by an error frame: ~1 run in 3)."""
    from a2actl.transport.channel import close_inner

    async def inner() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            await asyncio.sleep(0.01)  # closing takes a while (a response, a WebSocket close)

    async def outer(gen: AsyncGenerator[int, None]) -> AsyncGenerator[int, None]:
        try:
            async for x in gen:
                yield x
        finally:
            await close_inner(gen)

    async def main() -> None:
        gen = inner()
        out = outer(gen)
        assert await out.__anext__() == 1
        closing = asyncio.ensure_future(gen.aclose())  # the finalizer closes the inner one first
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already running"):
            await gen.aclose()  # what the outer one's finally did before
        await out.aclose()  # now: no error
        await closing

    asyncio.run(main())
