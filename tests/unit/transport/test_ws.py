"""``a2actl.transport.ws.WebSocketClient`` against real loopback WebSocket servers: a frame over the
client's frame bound (``max_frame_bytes``, lowered here through ``Settings.max_body_bytes`` so the
test sends 2 MiB, not 128), an agent's own close 1009, a close before the request, and frames
RFC 6455 forbids (a raw server)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from a2actl.core.config import Settings
from a2actl.core.errors import ProtocolViolation
from a2actl.core.exit_codes import ExitCode
from a2actl.stream.tail import TailOptions
from a2actl.stream.websocket import tail_websocket
from a2actl.transport.ws import WebSocketClient

#: 1 MiB frame bound (twice 256 KiB, at least --max-event-bytes and 1 MiB)
SMALL = Settings(max_body_bytes=256 << 10, max_event_bytes=512 << 10)


def _task(state: str) -> str:
    return json.dumps({"task": {"id": "t1", "contextId": "c1", "status": {"state": state}}})


#: what GetTask answers
END = ["TASK_STATE_COMPLETED"]


async def _agent(ws: ServerConnection) -> None:
    """SendStreamingMessage: the task, then a 2 MiB frame (its end, as a rule), then the close;
    GetTask: the task in state ``END[0]``. Path ``/1009``: the task, then the agent's own close 1009."""
    request = json.loads(await ws.recv())
    if ws.request is not None and ws.request.path == "/deep150":
        await ws.send(_task("TASK_STATE_WORKING"))
        await ws.send("[" * 150 + "]" * 150)  # orjson reads it: the nesting bound must catch it
        await ws.close(1000)
        return
    if ws.request is not None and ws.request.path == "/1009":
        await ws.send(_task("TASK_STATE_WORKING"))
        await ws.close(1009, "too big for the agent")
        return
    if request["method"] == "GetTask":
        await ws.send(_task(END[0]))
    else:
        await ws.send(_task("TASK_STATE_SUBMITTED"))
        await ws.send(json.dumps({"statusUpdate": {"taskId": "t1", "text": "x" * (2 << 20)}}))
    await ws.close(1000)


def _tail(opts: TailOptions, path: str = "/") -> tuple[Any, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []

    async def go() -> Any:
        async with serve(_agent, "127.0.0.1", 0, max_size=None, ping_interval=None) as server:
            port = server.sockets[0].getsockname()[1]
            url = f"ws://127.0.0.1:{port}{path}"
            return await tail_websocket(url, SMALL, opts, records.append, "hi", None)

    return asyncio.run(go()), records


def test_the_frame_bound_is_twice_the_body_bound_and_never_under_max_event_bytes() -> None:
    assert WebSocketClient("ws://h/", Settings()).max_frame_bytes() == 128 << 20
    assert WebSocketClient("ws://h/", SMALL).max_frame_bytes() == 1 << 20
    big = Settings(max_event_bytes=200 << 20)
    assert WebSocketClient("ws://h/", big).max_frame_bytes() == 200 << 20


def test_a_frame_over_the_frame_bound_is_an_oversize_event_not_an_abnormal_close() -> None:
    """websockets refuses the frame and closes the connection itself (1009): that was a cut 'closed
    abnormally: code 1006' (exit 6, the agent blamed). Now the frame is an oversize event, counted
    not read, and the stream ends as after an SSE event over --max-event-bytes: GetTask says the
    task completed, outcome oversize, exit 7."""
    summary, records = _tail(TailOptions(reconnect_attempts=0, max_event_bytes=512 << 10))
    assert summary.outcome == "oversize" and summary.exit == ExitCode.CHECK_FAILED
    assert [(r["kind"], r["oversize"]) for r in records if r["type"] == "event"] == [
        ("task", False),
        ("oversize", True),
    ]
    assert summary.oversize[0]["bytes"] > 1 << 20 and summary.final_state == "completed"
    assert summary.cuts == []


def test_a_frame_over_the_bound_of_a_task_still_running_is_a_cut_that_says_so() -> None:
    """GetTask shows the task working: the stream did close early (a cut, resubscribed), and the cut
    says it closed right after the unread event, not that the server closed it."""
    END[0] = "TASK_STATE_WORKING"
    try:
        summary, _ = _tail(TailOptions(reconnect_attempts=0, max_event_bytes=512 << 10))
    finally:
        END[0] = "TASK_STATE_COMPLETED"
    assert summary.outcome == "closed-without-terminal" and summary.exit == ExitCode.PROTOCOL
    assert len(summary.oversize) == 1
    assert [c["reason"] for c in summary.cuts] == [
        "the stream closed right after an event over the bound (not read), before a terminal state"
    ]


def test_the_agents_own_close_1009_is_a_cut_not_an_oversize_event() -> None:
    """1009 sent by the agent (it found a message too big) is its abnormal close, as before: only
    a 1009 a2actl's library sent first is a frame it refused."""
    summary, records = _tail(TailOptions(reconnect_attempts=0), path="/1009")
    assert summary.outcome == "cut" and summary.oversize == []
    assert [r["kind"] for r in records if r["type"] == "event"] == ["task"]
    assert "code 1009 (too big for the agent)" in summary.cuts[0]["reason"]


async def _raw_agent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A raw RFC 6455 server: the handshake, then what its path names: ``/bye`` a close 1000 with
    the handshake's answer, before the request can be sent; ``/utf8`` the task, then a text frame
    that is not UTF-8; ``/masked`` the task, then a masked frame (only clients mask). The
    connection is closed 0.2 s later."""
    head = await reader.readuntil(b"\r\n\r\n")
    path = head.split(b" ")[1]
    key = next(
        line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    if path == b"/bye":
        writer.write(bytes([0x88, 2]) + (1000).to_bytes(2, "big"))
    else:
        task = _task("TASK_STATE_WORKING").encode()
        writer.write(bytes([0x81, len(task)]) + task)
        if path == b"/utf8":
            writer.write(bytes([0x81, 3]) + b"\xff\xfe\xfd")
        else:
            writer.write(bytes([0x81, 0x82]) + b"abcd" + b"xx")
    await writer.drain()
    await asyncio.sleep(0.2)  # not at once: the frames are read first
    writer.close()


def _raw_tail(path: str) -> Any:
    async def go() -> Any:
        server = await asyncio.start_server(_raw_agent, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            url = f"ws://127.0.0.1:{port}{path}"
            opts = TailOptions(reconnect_attempts=0)
            return await tail_websocket(url, SMALL, opts, lambda _: None, "hi", None)

    return asyncio.run(go())


def test_an_agent_that_closes_before_the_request_is_a_stream_closed_without_terminal() -> None:
    """The close came before a2actl sent its request: ws.send raised ConnectionClosedOK, which ended
    the tail as 'unexpected ConnectionClosedOK' (exit 1). The close is reported as any other."""
    summary = _raw_tail("/bye")
    assert summary.outcome == "closed-without-terminal" and summary.exit == ExitCode.PROTOCOL
    assert summary.events == 0


@pytest.mark.parametrize(
    ("path", "why"),
    [("/utf8", "code 1007 (invalid start byte"), ("/masked", "code 1002 (incorrect masking)")],
)
def test_a_frame_rfc_6455_forbids_is_a_cut_that_names_it(path: str, why: str) -> None:
    """websockets fails the connection itself (it sends the close): that was reported as the agent's
    'closed abnormally: code 1006'. Now the cut says a2actl closed it, with the code and why."""
    summary = _raw_tail(path)
    assert summary.outcome == "cut" and summary.exit == ExitCode.PROTOCOL
    reason = summary.cuts[0]["reason"]
    assert "the agent sent a frame RFC 6455 forbids, and a2actl closed the connection" in reason
    assert why in reason


def test_a_frame_nested_past_the_bound_but_within_orjsons_is_nested_too_deep() -> None:
    """150 levels: orjson (1024 levels) and the stdlib read it; the bound every agent JSON has
    (100) refuses it, exit 6 (the 100,000-level case: tests/cli/test_stream.py)."""
    with pytest.raises(ProtocolViolation, match="nested too deep"):
        _tail(TailOptions(reconnect_attempts=0), path="/deep150")
