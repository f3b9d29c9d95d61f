"""``stream tail`` views: every record kind as one line and the summary table, rendered whole at 100
columns without colour from records a real ``Tail`` emits on a fake clock; and the records-then-summary
output of ``stream tail`` (``Output.records``) in each format."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from a2actl.protocol.events import StreamEvent
from a2actl.render import stream as render_stream
from a2actl.render.output import Output, View
from a2actl.stream.tail import Tail, TailOptions
from tests.unit.render import rendering
from tests.unit.render.rendering import lines

WALL = "2026-01-02T03:04:05.678Z"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def status(state: str) -> StreamEvent:
    return StreamEvent("status-update", state, "t-1", False, {})


def run_tail() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A tail with one of each record: events (one oversize, one breaking the lifecycle), a pong, a
    silence over --heartbeat, a cut and a reconnect that missed chunks."""
    clock, records = Clock(), list[dict[str, Any]]()
    tail = Tail(
        TailOptions(heartbeat=1.0, max_event_bytes=1024), records.append, clock=clock, wall_clock=lambda: WALL
    )
    clock.now = 0.012
    tail.event(StreamEvent("task", "submitted", "t-1", False, {}), 460)
    clock.now = 0.5
    tail.heartbeat("ws-pong", rtt=0.0021)
    clock.now = 2.0
    tail.event(status("working"), 2048)
    tail.event(status("submitted"), 300)
    clock.now = 2.5
    tail.cut("the stream was cut: connection reset", 1)
    clock.now = 2.75
    tail.reconnected("SubscribeToTask", ["artifact 'a': 2 chunk(s) arrived during the outage"])
    tail.event(StreamEvent("task", "completed", "t-1", False, {}), 512, resync=True)
    records.append(
        {
            "type": "stall",
            "wall": WALL,
            "t": 9.0,
            "silentFor": 1.5,
            "expected": 1.0,
            "stallTimeout": 3.0,
            "state": "working",
        }
    )
    clock.now = 3.0
    return records, tail.summary("completed").to_json()


def clean_summary(**opts: Any) -> dict[str, Any]:
    clock = Clock()
    tail = Tail(TailOptions(**opts), lambda _r: None, clock=clock, wall_clock=lambda: WALL)
    for state in ("working", "failed"):
        clock.now += 0.25
        tail.event(status(state), 100)
    return tail.summary("completed").to_json()


def stalled_summary() -> dict[str, Any]:
    clock = Clock()
    tail = Tail(TailOptions(heartbeat=1.0), lambda _r: None, clock=clock, wall_clock=lambda: WALL)
    tail.event(status("working"), 100)
    clock.now = 3.0
    return tail.summary("stalled").to_json()


@pytest.fixture(autouse=True)
def _width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")


def render(view: View, doc: dict[str, Any]) -> str:
    return rendering.render(view, doc)[0]


RECORDS_OUT = """\
03:04:05.678    +12.0ms  task            submitted           460 B
03:04:05.678   +488.0ms  heartbeat (ws-pong) rtt 2.1ms
03:04:05.678  silence of 1.50s, over --heartbeat 1.00s
03:04:05.678     +1.50s  status-update   working           2.0 KiB  OVER --max-event-bytes
03:04:05.678       +0µs  status-update   submitted           300 B  ! illegal-transition: working → submitted goes back
03:04:05.678  CUT (attempt 1): the stream was cut: connection reset
03:04:05.678  reconnected via SubscribeToTask after 250.0ms; missed: artifact 'a': 2 chunk(s) arrived during the outage
03:04:05.678   +750.0ms  task            completed           512 B
03:04:05.678  STALL: silent for 1.50s (--heartbeat 1.00s; giving up at 3.00s)
"""

SUMMARY_OUT = """\
Summary

  outcome                     stream completed; task completed (exit 6)
  final state                 completed
  status message              -
  events                      4 (3.2 KiB, largest 2.0 KiB)
  duration                    3.00s
  first event                 12.0ms
  gaps                        p50 489.8ms, p99 1.50s, max 1.50s
  heartbeats                  1 (rtt p50 2.1ms)
  silences over --heartbeat   1.50s
  oversized events            1
  cuts / reconnects           1 / 1
  missed                      artifact 'a': 2 chunk(s) arrived during the outage
  violations                  illegal-transition: working → submitted goes back

"""

FAIL_ON_OUT = """\
Summary

  outcome                     stream completed; task failed (--fail-on) (exit 7)
  final state                 failed
  status message              -
  events                      2 (200 B, largest 100 B)
  duration                    500.0ms
  first event                 250.0ms
  gaps                        p50 250.0ms, p99 250.0ms, max 250.0ms
  heartbeats                  0
  silences over --heartbeat   none
  oversized events            0
  cuts / reconnects           0 / 0
  missed                      nothing
  violations                  none

"""

CLEAN_OUT = """\
Summary

  outcome                     stream completed; task failed (exit 0)
  final state                 failed
  status message              -
  events                      2 (200 B, largest 100 B)
  duration                    500.0ms
  first event                 250.0ms
  gaps                        p50 250.0ms, p99 250.0ms, max 250.0ms
  heartbeats                  0
  silences over --heartbeat   none
  oversized events            0
  cuts / reconnects           0 / 0
  missed                      nothing
  violations                  none

"""

STALLED_OUT = """\
Summary

  outcome                     stalled: silent past --stall-timeout 3.00s (exit 7)
  final state                 working
  status message              -
  events                      1 (100 B, largest 100 B)
  duration                    3.00s
  first event                 0µs
  gaps                        p50 -, p99 -, max -
  heartbeats                  0
  silences over --heartbeat   3.00s
  oversized events            0
  cuts / reconnects           0 / 0
  missed                      nothing
  violations                  none

"""


def test_every_record_kind_is_one_line() -> None:
    records, _ = run_tail()
    assert lines("".join(render(render_stream.record, r) for r in records)) == RECORDS_OUT


def test_the_summary_record_is_the_summary_table() -> None:
    _, summary = run_tail()
    assert lines(render(render_stream.record, summary)) == SUMMARY_OUT
    assert render(render_stream.record, summary) == render(render_stream.summary, summary)


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (lambda: clean_summary(fail_on=frozenset({"failed"})), FAIL_ON_OUT),
        (clean_summary, CLEAN_OUT),
        (stalled_summary, STALLED_OUT),
    ],
)
def test_summary_outcomes(summary: Any, expected: str) -> None:
    assert lines(render(render_stream.summary, summary())) == expected


def tail_output(fmt: str) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """What ``stream tail -o FMT`` writes: every record as it comes, then the summary."""
    records, summary = run_tail()
    stdout = io.StringIO()
    writer = Output(fmt, stdout=stdout, stderr=io.StringIO()).records(
        key="records", record_view=render_stream.record, summary_view=render_stream.summary
    )
    for r in records:
        writer.record(r)
    writer.finish(summary)
    return stdout.getvalue(), records, summary


def test_jsonl_is_each_record_then_the_summary_compact() -> None:
    out, records, summary = tail_output("jsonl")
    expected = [json.dumps(x, ensure_ascii=False, separators=(",", ":")) for x in [*records, summary]]
    assert out.splitlines() == expected


def test_json_is_one_document_the_summary_with_the_records() -> None:
    out, records, summary = tail_output("json")
    assert out == json.dumps({**summary, "records": records}, indent=2, ensure_ascii=False) + "\n"
    assert list(json.loads(out))[:3] == ["type", "outcome", "exitCode"]


def test_table_is_the_lines_then_the_summary() -> None:
    out, _, _ = tail_output("table")
    assert lines(out) == RECORDS_OUT + SUMMARY_OUT


def test_a_line_break_in_a_field_keeps_the_record_on_one_line() -> None:
    """An agent's state or a cut reason holding a line feed split the record's line (the rest read as
    a line of its own); the summary's ``status message`` keeps the agent's lines."""
    event = {
        "type": "event",
        "wall": "2026-01-01T03:04:05.678Z",
        "delta": 0.012,
        "kind": "status-update",
        "state": "working\n03:04:06.000  FAKE",
        "bytes": 10,
        "oversize": False,
        "violations": [],
    }
    cut = {"type": "cut", "wall": "2026-01-01T03:04:05.678Z", "attempt": 1, "reason": "reset\nby peer"}
    out = render(render_stream.record, event) + render(render_stream.record, cut)
    assert out.count("\n") == 2 and "working\\n03:04:06.000  FAKE" in out and "reset\\nby peer" in out
    _, summary = run_tail()
    shown = render(render_stream.summary, {**summary, "statusMessage": "line one\nline two"})
    assert "  status message              line one\n                              line two\n" in lines(shown)
