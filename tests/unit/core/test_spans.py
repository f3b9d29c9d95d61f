"""``core.spans``: traceparent span ids, and ``RequestSpans`` pairing requests with answers."""

from __future__ import annotations

from typing import Any

import pytest

from a2actl.core.sink import NullSink
from a2actl.core.spans import RequestSpans, seconds_ns, span_id_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "b7ad6b7169203331"),
        (" 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00 ", "b7ad6b7169203331"),
        ("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", None),  # invalid parent id
        ("00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01", None),  # upper case is invalid
        ("00-short-b7ad6b7169203331-01", None),
        ("", None),
        (None, None),
    ],
)
def test_span_id_of(value: str | None, expected: str | None) -> None:
    assert span_id_of(value) == expected


def test_seconds_ns() -> None:
    assert seconds_ns(1.5) == 1_500_000_000
    assert seconds_ns(1e-9) == 1
    assert seconds_ns(-2.0) == 0


class Calls(NullSink):
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def on_request(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        self.calls.append(("request", (method, url)))

    def on_response(self, status: int, reason: str, headers: list[tuple[str, str]], elapsed: float) -> None:
        self.calls.append(("response", status))

    def on_note(self, text: str) -> None:
        self.calls.append(("note", text))


class Ticks:
    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        self.now += 10
        return self.now


TP = "00-0af7651916cd43dd8448eb211c80319c-{}-01"


def test_a_request_and_its_answer_make_one_client_span() -> None:
    inner = Calls()
    rec = RequestSpans(inner, clock=Ticks())
    rec.on_request(
        "GET",
        "https://user:pw@agent.example:8443/.well-known/agent-card.json?token=abc",
        [("traceparent", TP.format("1111111111111111"))],
    )
    rec.on_response(200, "OK", [("content-type", "application/json")], 0.01)
    rec.on_note("passed on")
    (span,) = rec.close()
    assert span.name == "GET /.well-known/agent-card.json"
    assert (span.start_ns, span.end_ns) == (1_010, 1_020)
    assert span.span_id == "1111111111111111" and span.kind == "client" and span.error is None
    assert span.attributes == {
        "http.request.method": "GET",
        "url.full": "https://agent.example:8443/.well-known/agent-card.json",  # no userinfo, no query
        "server.address": "agent.example",
        "server.port": 8443,
        "http.response.status_code": 200,
    }
    assert [c[0] for c in inner.calls] == ["request", "response", "note"]


def test_a_stream_stays_open_until_the_next_request_and_carries_events() -> None:
    rec = RequestSpans(NullSink(), clock=Ticks())
    rec.on_request("POST", "http://a/rpc", [("TraceParent", TP.format("2222222222222222"))])
    rec.on_response(200, "OK", [("Content-Type", "text/event-stream; charset=utf-8")], 0.0)
    assert rec.add_event("event", {"state": "working"}, limit=2)
    assert rec.add_event("event", {"state": "completed"}, limit=2)
    assert not rec.add_event("event", {}, limit=2)
    rec.on_request("POST", "http://a/rpc", [])  # a resubscribe: the stream span ends here
    first, second = rec.spans
    assert first.attributes["a2actl.stream"] is True
    assert [e.attributes["state"] for e in first.events] == ["working", "completed"]
    assert first.end_ns == second.start_ns and first.error is None
    assert second.span_id is None  # no traceparent: a random id later


def test_an_unanswered_request_ends_with_an_error() -> None:
    rec = RequestSpans(NullSink(), clock=Ticks())
    rec.on_request("GET", "http://a/card", [])
    rec.on_request("GET", "http://a/other", [])
    rec.on_response(503, "Service Unavailable", [], 0.0)
    rec.on_request("GET", "http://a/third", [])
    spans = rec.close(now=5_000, error="connection refused")
    assert [s.error for s in spans] == ["no answer", "HTTP 503 Service Unavailable", "connection refused"]
    assert spans[-1].end_ns == 5_000
    assert not rec.add_event("late", {}, limit=5)
