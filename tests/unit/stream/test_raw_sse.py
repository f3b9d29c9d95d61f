"""``a2actl.stream.jobs.tail_raw_sse`` (``stream tail --sse``) over a scripted transport: each
``open_stream`` plays the next script (a response's text chunks, then a cut; or an error raised
instead of connecting)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from a2actl.core.config import Settings
from a2actl.core.errors import StreamCut, UnreachableError
from a2actl.core.exit_codes import ExitCode
from a2actl.stream.jobs import tail_raw_sse
from a2actl.stream.tail import TailOptions


class _Response:
    status_code = 200
    reason_phrase = "OK"
    headers = {"content-type": "text/event-stream"}

    def __init__(self, chunks: list[Any]) -> None:
        self.chunks = chunks

    async def aiter_text(self) -> Any:
        for chunk in self.chunks:
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk

    async def aclose(self) -> None:
        pass


class _Transport:
    settings = Settings()

    def __init__(self, scripts: list[Any]) -> None:
        self.scripts = scripts
        self.headers: list[dict[str, str]] = []

    async def open_stream(self, method: str, url: str, **kw: Any) -> tuple[_Response, None]:
        self.headers.append(kw.get("headers") or {})
        script = self.scripts.pop(0)
        if isinstance(script, BaseException):
            raise script
        return _Response(script), None


def _tail(transport: _Transport, opts: TailOptions) -> tuple[Any, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    summary = asyncio.run(tail_raw_sse(transport, "http://127.0.0.1:9/events", opts, records.append))  # type: ignore[arg-type]
    return summary, records


FAST = TailOptions(backoff=0.001, max_backoff=0.001)
REFUSED = UnreachableError("connection to http://127.0.0.1:9/events refused")


def test_a_reconnect_that_cannot_connect_is_tried_again() -> None:
    """As an EventSource: a network error on a reconnect reestablishes the connection again
    (WHATWG §9.2.4). The refused connection ended the tail with exit 3."""
    transport = _Transport(
        [
            ["id: 1\ndata: first\n\n", StreamCut("reset")],
            REFUSED,
            ["id: 2\ndata: second\n\n"],
        ]
    )
    summary, records = _tail(transport, FAST)
    assert [c["attempt"] for c in summary.cuts] == [1, 2]
    assert summary.cuts[1]["reason"] == REFUSED.message
    assert summary.outcome == "recovered" and summary.exit is ExitCode.OK and summary.events == 2
    assert transport.headers[2]["Last-Event-ID"] == "1"
    reconnect = next(r for r in records if r["type"] == "reconnect")
    assert abs(reconnect["outage"] - (reconnect["t"] - summary.cuts[0]["t"])) < 1e-5


def test_the_first_connection_refused_is_exit_3_and_reconnects_are_bounded() -> None:
    with pytest.raises(UnreachableError):
        _tail(_Transport([REFUSED]), FAST)
    transport = _Transport([["data: x\n\n", StreamCut("reset")], REFUSED, REFUSED])
    summary, _ = _tail(transport, TailOptions(backoff=0.001, max_backoff=0.001, reconnect_attempts=2))
    assert summary.outcome == "cut" and summary.exit is ExitCode.PROTOCOL and len(summary.cuts) == 3


class _Sleepy(_Response):
    """A response whose script may hold a pause (a float: seconds with nothing sent)."""

    async def aiter_text(self) -> Any:
        for chunk in self.chunks:
            if isinstance(chunk, float):
                await asyncio.sleep(chunk)
                continue
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk


class _SleepyTransport(_Transport):
    async def open_stream(self, method: str, url: str, **kw: Any) -> tuple[_Response, None]:
        return _Sleepy(self.scripts.pop(0)), None


def test_a_reconnect_that_connected_ends_the_outage_even_without_an_event() -> None:
    """A reconnect that connects (its ``reconnect`` record written) and sends only comments before it
    is cut again: the next outage starts at that cut. It was counted from the first cut, so the
    second ``reconnect`` record said the outage lasted the whole time the stream was up (~0.3 s)."""
    transport = _SleepyTransport(
        [
            ["id: 1\ndata: a\n\n", StreamCut("reset")],
            [": keepalive\n\n", 0.3, StreamCut("reset")],
            ["id: 2\ndata: b\n\n"],
        ]
    )
    _, records = _tail(transport, FAST)
    outages = [r["outage"] for r in records if r["type"] == "reconnect"]
    assert len(outages) == 2
    assert outages[1] < 0.2, outages
