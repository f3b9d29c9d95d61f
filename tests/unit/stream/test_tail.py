"""The ``stream tail`` state machine (``a2actl.stream.tail``) fed with synthetic events on a fake
clock: gaps, heartbeats, oversize, lifecycle violations, unfinished ends, ``--fail-on``, the exit
code table, the summary document, and the stall watchdog / ``--max-time`` on the real clock."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from a2actl.core.exit_codes import ExitCode
from a2actl.protocol.events import StreamEvent
from a2actl.protocol.versions import Family
from a2actl.stream.summary import TailSummary, tail_exit
from a2actl.stream.tail import Tail, TailOptions, wall

WALL = "2026-01-02T03:04:05.678Z"


class Clock:
    """A settable monotonic clock (seconds)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(
    opts: TailOptions | None = None, family: Family = Family.V1_0
) -> tuple[Tail, Clock, list[dict[str, Any]]]:
    clock, records = Clock(), list[dict[str, Any]]()
    tail = Tail(opts or TailOptions(), records.append, family, clock=clock, wall_clock=lambda: WALL)
    return tail, clock, records


def status(state: str, task: str = "t1") -> StreamEvent:
    return StreamEvent("status-update", state, task, False, {})


def task(state: str, task_id: str = "t1", artifacts: list[dict[str, Any]] | None = None) -> StreamEvent:
    return StreamEvent("task", state, task_id, False, {"artifacts": artifacts or []})


def test_event_records_time_delta_and_size() -> None:
    tail, clock, records = make()
    clock.now += 0.25
    tail.event(task("submitted"), 120)
    clock.now += 0.5
    tail.event(status("working"), 80)
    assert records == [
        {
            "type": "event",
            "wall": WALL,
            "t": 0.25,
            "delta": 0.25,
            "kind": "task",
            "state": "submitted",
            "taskId": "t1",
            "bytes": 120,
            "oversize": False,
            "violations": [],
        },
        {
            "type": "event",
            "wall": WALL,
            "t": 0.75,
            "delta": 0.5,
            "kind": "status-update",
            "state": "working",
            "taskId": "t1",
            "bytes": 80,
            "oversize": False,
            "violations": [],
        },
    ]
    assert (tail.events, tail.total_bytes, tail.max_bytes, tail.first_event) == (2, 200, 120, 0.25)


def test_completed_stream_is_exit_0_with_the_documented_summary() -> None:
    tail, clock, records = make()
    for state in ("submitted", "working", "completed"):
        clock.now += 0.1
        tail.event(status(state), 10)
    clock.now += 0.05
    s = tail.summary("completed")
    assert s.exit is ExitCode.OK
    doc = s.to_json()
    assert list(doc) == [
        "type",
        "outcome",
        "exitCode",
        "events",
        "bytes",
        "maxEventBytes",
        "duration",
        "firstEvent",
        "gaps",
        "heartbeats",
        "rtt",
        "stalls",
        "oversize",
        "cuts",
        "reconnects",
        "missed",
        "violations",
        "finalState",
        "statusMessage",
        "reason",
        "taskId",
        "failedOn",
        "stallTimeout",
    ]
    assert doc["type"] == "summary" and doc["exitCode"] == 0 and type(doc["exitCode"]) is int
    assert doc["events"] == 3 and doc["bytes"] == 30 and doc["duration"] == pytest.approx(0.35)
    assert doc["finalState"] == "completed" and doc["taskId"] == "t1" and doc["violations"] == []
    assert doc["statusMessage"] is None  # the completed status said nothing
    assert doc["gaps"]["max"] == pytest.approx(0.1) and doc["rtt"] is None
    assert records[-1]["type"] == "event"  # the summary is returned, not emitted


@pytest.mark.parametrize(
    "status_obj",
    [
        {
            "state": "failed",
            "message": {"parts": [{"text": "quota"}, {"data": {"code": 429}}]},
        },  # 1.0, 0.3 RPC
        {"state": "failed", "update": {"content": [{"text": "quota"}, {"data": {"data": {"code": 429}}}]}},
    ],
    ids=["message-parts", "v03-proto-update-content"],
)
def test_the_summary_carries_the_final_status_message(status_obj: dict[str, Any]) -> None:
    """The reason is the message of the status that settled the task (text and data parts, as
    ``send`` shows them), not the message of an earlier state."""
    tail, clock, _ = make()
    working = {"state": "working", "message": {"parts": [{"text": "on it"}]}}
    tail.event(StreamEvent("status-update", "working", "t1", False, {"status": working}), 10)
    # an unsettled end says none: the repeats of a state are not audited one by one (fast path)
    assert tail.summary("cut").status_message is None
    tail.event(StreamEvent("status-update", "failed", "t1", False, {"status": status_obj}), 10)
    s = tail.summary("completed")
    assert (s.final_state, s.status_message) == ("failed", 'quota\n{"code": 429}')
    assert s.to_json()["statusMessage"] == 'quota\n{"code": 429}'


@pytest.mark.parametrize("state", ["input-required", "auth-required", "failed", "completed"])
@pytest.mark.parametrize("final", [True, False])
def test_a_settled_status_update_ends_a_03_stream_with_or_without_final(state: str, final: bool) -> None:
    """0.3 ends a stream on ``final: true``; @a2a-js/sdk's 0.3 compatibility sends auth-required
    without it and keeps the stream open, so the tail waited for a close that never came (--max-time,
    exit 5) where ``handshake probe --send`` read the same stream as ended. A status update in a
    terminal or interrupted state ends it in 0.3 as in 1.0; a non-settled one does not."""
    tail, _, _ = make(family=Family.V0_3)
    items = [(float(i), 10, ev, False) for i, ev in enumerate([task("submitted"), status("working")])]
    assert tail.take(items) == (2, False)
    payload = {"kind": "status-update", "final": final, "status": {"state": state}}
    ev = StreamEvent("status-update", state, "t1", final, payload)
    assert tail.take([(9.0, 10, ev, False)]) == (1, True)
    s = tail.summary("completed")
    assert (s.exit, s.final_state, s.violations) == (ExitCode.OK, state, [])


def test_a_silence_over_heartbeat_is_a_gap_and_exit_7() -> None:
    tail, clock, records = make(TailOptions(heartbeat=1.0))
    clock.now += 0.5
    tail.event(status("working"), 10)
    clock.now += 1.5
    tail.heartbeat("sse-comment", ": ping")
    assert records[1] == {"type": "gap", "wall": WALL, "t": 2.0, "seconds": 1.5, "expected": 1.0}
    assert records[2]["type"] == "heartbeat" and records[2]["source"] == "sse-comment"
    assert records[2]["delta"] == 1.5 and records[2]["rtt"] is None
    clock.now += 0.2
    tail.event(status("completed"), 10)
    s = tail.summary("completed")
    assert s.exit is ExitCode.CHECK_FAILED and s.stalls == [records[1]] and s.heartbeats == 1


def test_a_silence_still_going_at_an_unfinished_end_is_reported() -> None:
    tail, clock, records = make(TailOptions(heartbeat=1.0))
    tail.event(status("working"), 10)
    clock.now += 3.0
    s = tail.summary("max-time")
    assert records[-1]["type"] == "gap" and records[-1]["seconds"] == 3.0
    assert s.exit is ExitCode.TIMEOUT
    assert [v["rule"] for v in s.violations] == ["missing-terminal"]


def test_websocket_pongs_give_rtt_percentiles() -> None:
    tail, clock, records = make()
    tail.heartbeat("ws-pong", rtt=0.002)
    tail.heartbeat("ws-pong", rtt=0.004)
    assert records[0]["rtt"] == 0.002 and records[0]["text"] == ""
    s = tail.summary("completed")
    assert s.rtt is not None and s.rtt["max"] == 0.004 and s.heartbeats == 2


def test_oversize_events_are_flagged_and_exit_7() -> None:
    tail, clock, records = make(TailOptions(max_event_bytes=100))
    tail.event(status("working"), 100)
    tail.event(status("working"), 101)
    tail.event(StreamEvent("oversize", None, None, False, {}), 50, truncated=True)
    assert [r["oversize"] for r in records] == [False, True, True]
    tail.event(status("completed"), 10)
    s = tail.summary("completed")
    assert [o["bytes"] for o in s.oversize] == [101, 50] and s.oversize[0]["limit"] == 100
    assert s.exit is ExitCode.CHECK_FAILED and s.max_event_bytes == 101


def test_a_lifecycle_violation_is_recorded_inline_and_exit_6() -> None:
    tail, clock, records = make()
    tail.event(status("working"), 10)
    tail.event(status("submitted"), 10)
    assert records[1]["violations"] == [
        {"rule": "illegal-transition", "message": "working → submitted goes back"}
    ]
    tail.event(status("completed"), 10)
    s = tail.summary("completed")
    assert s.exit is ExitCode.PROTOCOL and s.violations[0]["rule"] == "illegal-transition"


@pytest.mark.parametrize("outcome", ["cut", "closed-without-terminal"])
def test_an_unrecovered_end_without_terminal_state_is_exit_6(outcome: str) -> None:
    tail, clock, records = make()
    tail.event(status("working"), 10)
    s = tail.summary(outcome)
    assert s.exit is ExitCode.PROTOCOL and s.outcome == outcome
    assert s.violations == [
        {"rule": "missing-terminal", "message": "no terminal state seen (last state working)"}
    ]


def test_cut_and_reconnect_records_the_outage_and_what_was_missed() -> None:
    tail, clock, records = make()
    tail.event(status("working"), 10)
    clock.now += 1.0
    tail.cut("connection reset", 1)
    clock.now += 0.25
    tail.reconnected("SubscribeToTask", ["artifact 'a': 2 chunk(s) arrived during the outage"])
    assert records[1] == {
        "type": "cut",
        "wall": WALL,
        "t": 1.0,
        "reason": "connection reset",
        "attempt": 1,
        "state": "working",
    }
    assert records[2] == {
        "type": "reconnect",
        "wall": WALL,
        "t": 1.25,
        "outage": 0.25,
        "via": "SubscribeToTask",
        "missed": ["artifact 'a': 2 chunk(s) arrived during the outage"],
    }
    tail.event(task("completed"), 10, resync=True)
    s = tail.summary("completed")
    assert s.exit is ExitCode.CHECK_FAILED and len(s.cuts) == 1 and len(s.reconnects) == 1


def test_fail_on_turns_a_clean_end_into_exit_7() -> None:
    tail, clock, records = make(TailOptions(fail_on=frozenset({"failed"})))
    tail.event(status("working"), 10)
    tail.event(status("failed"), 10)
    s = tail.summary("completed")
    assert s.exit is ExitCode.CHECK_FAILED and s.failed_on == "failed" and s.to_json()["failedOn"] == "failed"
    other, _, _ = make(TailOptions(fail_on=frozenset({"rejected"})))
    other.event(status("failed"), 10)
    assert other.summary("completed").exit is ExitCode.OK


@pytest.mark.parametrize(
    ("outcome", "audit", "violations", "bounds", "failed_on", "code"),
    [
        ("completed", False, False, False, None, ExitCode.OK),
        ("recovered", False, False, False, None, ExitCode.OK),
        ("max-time", True, True, True, "failed", ExitCode.TIMEOUT),
        ("stalled", False, False, False, None, ExitCode.CHECK_FAILED),
        ("stalled", True, True, False, None, ExitCode.PROTOCOL),
        ("cut", False, True, True, None, ExitCode.PROTOCOL),
        ("closed-without-terminal", False, False, False, None, ExitCode.PROTOCOL),
        ("completed", True, True, True, None, ExitCode.PROTOCOL),
        ("completed", False, False, True, None, ExitCode.CHECK_FAILED),
        ("completed", False, False, False, "canceled", ExitCode.CHECK_FAILED),
        ("completed", False, True, False, "canceled", ExitCode.PROTOCOL),
    ],
)
def test_exit_code_table(
    outcome: str, audit: bool, violations: bool, bounds: bool, failed_on: str | None, code: ExitCode
) -> None:
    got = tail_exit(
        outcome, audit_failed=audit, violations=violations, bounds_exceeded=bounds, failed_on=failed_on
    )
    assert got is code


def test_options_delay_and_stall_limit() -> None:
    opts = TailOptions(backoff=0.25, max_backoff=1.0)
    assert [opts.delay(n) for n in (1, 2, 3, 4)] == [0.25, 0.5, 1.0, 1.0]
    assert opts.delay(1, retry_ms=300) == 0.3 and opts.delay(1, retry_ms=9000) == 1.0
    # retry: -5 is no reconnection time (WHATWG: digits only): the backoff, not a reconnect at once
    assert opts.delay(2, retry_ms=-5) == 0.5 and opts.delay(1, retry_ms=0) == 0.0
    assert opts.stall_limit() is None
    assert TailOptions(heartbeat=2.0).stall_limit() == 6.0
    assert TailOptions(heartbeat=2.0, stall_timeout=1.0).stall_limit() == 1.0


def test_wall_is_iso_utc_with_milliseconds() -> None:
    text = wall()
    assert len(text) == 24 and text.endswith("Z") and text[10] == "T" and text[19] == "."


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=4_102_444_800 * 10**9), min_size=1, max_size=6))
@example([1_764_130_020_999_999_999, 1_764_130_021_000_000_000, 1_764_130_021_000_999_999, 0])
def test_wall_is_the_milliseconds_of_the_clock_however_it_moves(times_ns: list[int]) -> None:
    """Formatted once per millisecond from a prefix formatted once per second: the same text as
    formatting the whole time each call, across millisecond and second boundaries, in any order."""
    for ns in times_ns:
        ms = ns // 1_000_000
        expected = datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds")
        assert wall(itertools.repeat(ns).__next__) == expected.replace("+00:00", "Z")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=4_102_444_800 * 10**9), min_size=1, max_size=8))
@example([1_764_130_020_999_999_999, 1_764_130_020_999_000_001, 1_764_130_021_000_000_000, 0, 0])
def test_event_wall_is_walls_text_for_the_wall_clock_of_each_event(times_ns: list[int]) -> None:
    """``Tail.event`` inlines ``wall``'s once-a-millisecond check (the default wall clock): each event
    record's ``wall`` is that millisecond's text, whatever the order, repeats and boundaries."""
    import a2actl.stream.tail as tail_module

    clock = Clock()
    tail = Tail(TailOptions(), (records := list[dict[str, Any]]()).append, clock=clock)
    with pytest.MonkeyPatch.context() as patch:
        for ns in times_ns:
            patch.setattr(tail_module, "_wall_ns", itertools.repeat(ns).__next__)
            clock.now += 0.001
            tail.event(status("working"), 10)
            ms = ns // 1_000_000
            expected = datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds")
            assert records[-1]["wall"] == expected.replace("+00:00", "Z")


@pytest.mark.parametrize(
    "times",
    [
        [100.000001, 100.000011, 100.000026],  # microsecond steps (a busy stream)
        [100.1234564, 100.9999996, 101.5000004],  # around the microsecond rounding
        [100.000015, 100.0000154, 1e6 + 0.000123],
    ],
)
def test_event_times_are_to_the_microsecond(times: list[float]) -> None:
    """``t`` and ``delta`` are seconds to 6 decimals (``round(x * 1e6) / 1e6`` on the per-event path,
    ``round(x, 6)`` elsewhere: the same values but on an exact tie)."""
    tail, clock, records = make()
    start, last = clock.now, clock.now
    for now in times:
        clock.now = now
        tail.event(status("working"), 10)
        rec = records[-1]
        assert rec["t"] == round(now - start, 6) and rec["delta"] == round(now - last, 6)
        last = now


def test_the_watchdog_reports_a_stall_once_then_ends_the_tail() -> None:
    records: list[dict[str, Any]] = []
    tail = Tail(TailOptions(heartbeat=0.02, stall_timeout=0.08), records.append)

    async def silent() -> str:
        await asyncio.sleep(10)
        return "completed"

    s = asyncio.run(tail.finish(silent()))
    assert s.outcome == "stalled" and s.exit is ExitCode.CHECK_FAILED and s.stall_timeout == 0.08
    stalls = [r for r in records if r["type"] == "stall"]
    assert len(stalls) == 1 and stalls[0]["expected"] == 0.02 and stalls[0]["stallTimeout"] == 0.08
    assert stalls[0]["silentFor"] > 0.02
    assert records[-1]["type"] == "gap"  # the silence still going on when it ended


def test_max_time_ends_the_tail_with_exit_5() -> None:
    tail = Tail(TailOptions(max_time=0.02), lambda _r: None)

    async def endless() -> str:
        await asyncio.sleep(10)
        return "completed"

    s = asyncio.run(tail.finish(endless()))
    assert s.outcome == "max-time" and s.exit is ExitCode.TIMEOUT


async def _absorbs_one_cancel() -> str:
    """A source that swallows the first cancellation (as a library can, below a read) and then
    finishes the stream normally."""
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        pass
    await asyncio.sleep(0.3)
    return "completed"


def test_max_time_holds_when_the_source_absorbs_the_cancel() -> None:
    """``asyncio.wait_for`` returned such a source's "completed" (exit 0): the deadline must win."""
    tail = Tail(TailOptions(max_time=0.02), lambda _r: None)
    s = asyncio.run(tail.finish(_absorbs_one_cancel()))
    assert s.outcome == "max-time" and s.exit is ExitCode.TIMEOUT
    assert s.duration < 0.2  # the second cancel stopped it: it did not run the whole stream


def test_a_stall_holds_when_the_source_absorbs_the_cancel() -> None:
    tail = Tail(TailOptions(heartbeat=0.02, stall_timeout=0.06), lambda _r: None)
    s = asyncio.run(tail.finish(_absorbs_one_cancel()))
    assert s.outcome == "stalled" and s.exit is ExitCode.CHECK_FAILED and s.duration < 0.25


def test_completed_after_cuts_is_recovered() -> None:
    tail, clock, records = make()

    async def source() -> str:
        tail.event(status("working"), 10)
        tail.cut("reset", 1)
        tail.reconnected("SubscribeToTask", [])
        tail.event(task("completed"), 10, resync=True)
        return "completed"

    s: TailSummary = asyncio.run(tail.finish(source()))
    assert s.outcome == "recovered" and s.exit is ExitCode.OK


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["event", "heartbeat"]),
            st.one_of(
                st.just(0.0),
                st.just(1e-6),  # the histogram's floor: bucket 0
                st.floats(min_value=0.0, max_value=2e-6),
                st.floats(min_value=0.0, max_value=1000.0),
            ),
        ),
        max_size=40,
    )
)
@example(steps=[("event", 0.5), ("event", 1e-6), ("heartbeat", 2.0), ("event", 0.0)])
def test_gap_percentiles_are_what_a_log_histogram_of_the_gaps_says(steps: list[tuple[str, float]]) -> None:
    """``Tail.event`` counts each gap (the time since the previous event or heartbeat) into the gap
    histogram without ``LogHistogram.add``: the summary's gaps (p50, p99, max) are those of a
    ``LogHistogram`` fed the same gaps, for any mix of events and heartbeats and any gap sizes."""
    from a2actl.core.stats import LogHistogram

    tail, clock, _ = make()
    expected = LogHistogram()
    tail.event(task("working"), 10)
    for what, gap in steps:
        before = clock.now
        clock.now = before + gap
        expected.add(clock.now - before)  # the gap as the tail's clock sees it (float sums)
        if what == "event":
            tail.event(status("working"), 10)
        else:
            tail.heartbeat("sse-comment", "ping")
    doc = tail.summary("completed").to_json()
    assert doc["gaps"] == {"p50": expected.quantile(50), "p99": expected.quantile(99), "max": expected.max}
    assert tail.intervals.count == expected.count == len(steps)
    assert tail.intervals.buckets == expected.buckets
