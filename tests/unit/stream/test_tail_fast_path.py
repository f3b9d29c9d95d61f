"""``Tail.event``'s fast path: it skips ``Lifecycle.observe``'s call for its no-op case (another
status update of the stream's task in the same known, unsettled state; not final, not a resync, the
stream not ended). Whatever the events, the records and the lifecycle must be what a fresh
``Lifecycle`` fed the same events through ``observe`` gives."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from a2actl.protocol.events import StreamEvent, classify_event
from a2actl.protocol.lifecycle import Lifecycle
from a2actl.protocol.versions import TASK_STATES, Family
from a2actl.stream.tail import Tail, TailOptions
from a2actl.transport.channel import TimedEvent

WALL = "2026-01-02T03:04:05.678Z"
KINDS = ["task", "status-update", "artifact-update", "message"]
#: every canonical name (active, interrupted, terminal, ``unknown``), none, and a spelling no table knows
STATES: list[str | None] = [*TASK_STATES, None, "In-Progress"]
FAMILIES = [Family.V1_0, Family.V0_3]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def make_tail(family: Family, numbered_walls: bool = False) -> tuple[Tail, list[dict[str, Any]]]:
    """A tail on a clock that moves 1 ms a reading; its ``wall`` is ``WALL``, or with
    ``numbered_walls`` ``w0``, ``w1``, … (one per reading of the wall clock)."""
    records: list[dict[str, Any]] = []
    walls = (f"w{k}" for k in itertools.count())
    wall = (lambda: next(walls)) if numbered_walls else (lambda: WALL)
    tail = Tail(TailOptions(), records.append, family, clock=Clock(), wall_clock=wall)
    return tail, records


@st.composite
def stream_events(draw: st.DrawFn, family: Family) -> StreamEvent:
    kind = draw(st.sampled_from(KINDS))
    state = draw(st.sampled_from(STATES))
    task_id = draw(st.sampled_from(["t1", "t2", None]))
    final = draw(st.booleans())
    payload: dict[str, Any] = {}
    if kind == "artifact-update":
        payload["artifact"] = {"artifactId": draw(st.sampled_from(["a", "b"]))}
        payload["append"] = draw(st.booleans())
        payload["lastChunk"] = draw(st.booleans())
    elif kind == "task":
        payload["artifacts"] = [{"artifactId": a} for a in draw(st.lists(st.sampled_from(["a", "b"])))]
    if family is not Family.V1_0 and draw(st.booleans()):
        # a 0.3 JSON-RPC result carries ``final`` itself (classify_event: final = result["final"]);
        # a 0.3 HTTP+JSON statusUpdate carries it in its body, where classify_event does not look
        # (StreamEvent.final False on an unsettled state)
        payload["final"] = True
    return StreamEvent(kind, state, task_id, final, payload)


#: near the fast path's case, drawn often: a status update of t1 (or of no task), not final
_repeat = st.builds(
    StreamEvent,
    st.just("status-update"),
    st.sampled_from(["submitted", "working", "working", "input-required", "completed"]),
    st.sampled_from(["t1", "t1", None]),
    st.just(False),
    st.just({}),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Family, list[StreamEvent], int | None]:
    """A family, its events, and which one (if any) is the first after a resubscribe: usually the
    first, sometimes a later one (the tail's lifecycle lives on across a reconnect)."""
    family = draw(st.sampled_from(FAMILIES))
    events = draw(st.lists(st.one_of(stream_events(family), _repeat), min_size=1, max_size=14))
    resync = draw(st.one_of(st.none(), st.just(0), st.integers(0, len(events) - 1)))
    return family, events, resync


def check_equivalent(family: Family, events: list[StreamEvent], resync_at: int | None) -> None:
    tail, records = make_tail(family)
    reference = Lifecycle(family)
    for i, ev in enumerate(events):
        resync = i == resync_at
        expected = [v.to_json() for v in reference.observe(ev, resync=resync)]
        before = len(records)
        tail.event(ev, 10, resync=resync)
        emitted = [r for r in records[before:] if r["type"] == "event"]
        assert len(emitted) == 1
        assert emitted[0]["violations"] == expected, (i, ev)
        assert (emitted[0]["kind"], emitted[0]["state"], emitted[0]["taskId"]) == (
            ev.kind,
            ev.state,
            ev.task_id,
        )
    lc = tail.lifecycle
    assert (lc.state, lc.task_id, lc.ended) == (reference.state, reference.task_id, reference.ended)
    assert [v.to_json() for v in lc.violations] == [v.to_json() for v in reference.violations]
    assert lc.artifacts == reference.artifacts
    assert [v.to_json() for v in lc.finish()] == [v.to_json() for v in reference.finish()]


def _s(state: str | None, task_id: str | None = "t1", final: bool = False) -> StreamEvent:
    return StreamEvent("status-update", state, task_id, final, {})


def _t(state: str | None, task_id: str | None = "t1") -> StreamEvent:
    return StreamEvent("task", state, task_id, False, {"artifacts": []})


@settings(max_examples=400, deadline=None)
@given(scenarios())
# the no-op case itself, then each condition of the fast path broken once
@example((Family.V1_0, [_s("working"), _s("working"), _s("working")], None))
@example((Family.V1_0, [_s("working"), _s("working", final=True), _s("working")], None))  # final
@example((Family.V0_3, [_s("working"), _s("working", final=True), _s("working")], None))  # final
@example((Family.V1_0, [_s("working"), _s("working")], 1))  # a resync
@example((Family.V1_0, [_s("working"), _s("working")], 0))
@example((Family.V1_0, [_s("working"), _s("working", "t2")], None))  # another task
@example((Family.V1_0, [_s("working", None), _s("working", "t1")], None))  # first id later
@example((Family.V1_0, [_s("input-required"), _s("input-required")], None))  # settled (ended)
@example((Family.V0_3, [_s("input-required"), _s("input-required")], None))  # settled, 0.3
@example((Family.V1_0, [_s("completed"), _s("completed")], None))  # terminal
# a settled state a Task snapshot brought (1.0 ends the stream only on an update's)
@example((Family.V1_0, [_t("input-required"), _s("input-required")], None))
@example((Family.V1_0, [_t("completed"), _s("completed")], None))
@example((Family.V0_3, [_t("input-required"), _s("input-required")], None))
@example((Family.V1_0, [_s(None), _s(None)], None))  # no state
@example((Family.V1_0, [_s("unknown"), _s("unknown")], None))  # unknown: no rank, never lc.state
@example((Family.V1_0, [_s("In-Progress"), _s("In-Progress")], None))  # an unknown spelling
@example(  # ended by a message event of a task-less stream, then the same state again
    (Family.V1_0, [StreamEvent("message", None, None, True, {}), _s("working"), _s("working")], False)
)
@example(  # ended by 0.3 ``final`` then the same state again: event-after-end each time
    (
        Family.V0_3,
        [_s("working"), StreamEvent("status-update", "working", "t1", True, {"final": True}), _s("working")],
        None,
    )
)
def test_tail_event_audits_as_a_fresh_lifecycle_does(
    scenario: tuple[Family, list[StreamEvent], int | None],
) -> None:
    check_equivalent(*scenario)


def test_the_no_op_case_does_not_call_observe(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is taken: a repeated unsettled status update of the stream's task never reaches
    ``Lifecycle.observe`` (the optimisation this suite checks is actually in place)."""
    calls: list[StreamEvent] = []
    real = Lifecycle.observe

    def spy(self: Lifecycle, ev: StreamEvent, *, resync: bool = False) -> list[Any]:
        calls.append(ev)
        return real(self, ev, resync=resync)

    monkeypatch.setattr(Lifecycle, "observe", spy)
    tail, records = make_tail(Family.V1_0)
    first, second, third = _s("working"), _s("working"), _s("completed")
    for ev in (first, second, second, third):
        tail.event(ev, 10)
    assert calls == [first, third]
    assert [r["violations"] for r in records] == [[], [], [], []]
    assert (tail.lifecycle.state, tail.lifecycle.ended) == ("completed", True)


def test_a_0_3_http_json_final_status_update_in_the_same_state_is_audited() -> None:
    """0.3 HTTP+JSON (v0.3 proto ``TaskStatusUpdateEvent.final``): ``final: true`` sits in the
    ``statusUpdate`` body. On a ``working`` state it is ``final-not-terminal`` and ends the stream."""
    working = classify_event({"statusUpdate": {"taskId": "t1", "status": {"state": "TASK_STATE_WORKING"}}})
    final = classify_event(
        {"statusUpdate": {"taskId": "t1", "status": {"state": "TASK_STATE_WORKING"}, "final": True}}
    )
    check_equivalent(Family.V0_3, [working, final, working], None)


@st.composite
def reads(draw: st.DrawFn) -> tuple[Family, list[StreamEvent], int | None, list[list[int]]]:
    """A scenario cut into network reads, each read handed on in one to three lists (as
    ``A2AClient.stream_batches`` slices a long one): the lists as event counts per read. A
    resubscribe's first event starts a read (a new stream)."""
    family, events, resync = draw(scenarios())
    cuts = set(draw(st.lists(st.integers(1, len(events)), max_size=len(events)))) | {len(events)}
    if resync:
        cuts.add(resync)
    layout: list[list[int]] = []
    start = 0
    for end in sorted(cuts):
        size = end - start
        inner = sorted(set(draw(st.lists(st.integers(1, size), max_size=2))) | {size})
        layout.append([b - a for a, b in zip([0, *inner], inner, strict=False)])
        start = end
    return family, events, resync, layout


@settings(max_examples=300, deadline=None)
@given(reads())
@example((Family.V1_0, [_s("working")] * 4, None, [[2, 2]]))  # one read, two lists
@example((Family.V1_0, [_s("working"), _s("completed"), _s("working")], None, [[3]]))  # ends mid-read
def test_take_over_reads_audits_as_a_fresh_lifecycle_and_times_a_read_once(
    layout_case: tuple[Family, list[StreamEvent], int | None, list[list[int]]],
) -> None:
    """``Tail.take`` fed the events a read (or a slice of one) at a time: the records and the
    lifecycle are what a fresh ``Lifecycle`` gives, whatever the cuts (the fast path's state is
    carried across a call's events and refreshed after every ``observe``); the events of one read
    share ``t`` and ``wall``, the first one's ``delta`` is the time since the previous read and the
    others' 0.0; every event after the first counts one gap (zero inside a read)."""
    family, events, resync_at, layout = layout_case
    tail, records = make_tail(family, numbered_walls=True)
    reference = Lifecycle(family)
    expected: list[list[dict[str, str]]] = []
    for k, ev in enumerate(events):
        expected.append([v.to_json() for v in reference.observe(ev, resync=k == resync_at)])
    read_of: list[int] = []
    k = 0
    for r, lists in enumerate(layout):
        for count in lists:
            # the batch path's shape: plain tuples (EventTuple) holding plain EventFields
            items: list[Any] = [(float(r), 10, tuple(ev), False) for ev in events[k : k + count]]
            i = 0
            while i < len(items):  # take stops at the end of the stream: the rest is fed again
                i, _ = tail.take(items, i, resync=k + i == resync_at)
            k += count
            read_of += [r] * count
    got = [r for r in records if r["type"] == "event"]
    assert [r["violations"] for r in got] == expected
    assert [(r["kind"], r["state"], r["taskId"]) for r in got] == [
        (e.kind, e.state, e.task_id) for e in events
    ]
    lc = tail.lifecycle
    assert (lc.state, lc.task_id, lc.ended) == (reference.state, reference.task_id, reference.ended)
    for j, rec in enumerate(got):
        same_read = j > 0 and read_of[j] == read_of[j - 1]
        if same_read:
            assert (rec["t"], rec["wall"], rec["delta"]) == (got[j - 1]["t"], got[j - 1]["wall"], 0.0)
        else:
            assert rec["delta"] > 0 and (j == 0 or rec["t"] > got[j - 1]["t"])
    assert len({r["wall"] for r in got}) == len(layout)  # one wall reading per read
    summary = tail.summary("completed").to_json()
    assert tail.intervals.count == len(events) - 1
    zero_gaps = sum(1 for j in range(1, len(events)) if read_of[j] == read_of[j - 1])
    assert (summary["gaps"]["max"] == 0.0) == (zero_gaps == len(events) - 1 and len(events) > 1)


def test_a_comment_in_a_read_shares_its_time_before_or_between_events() -> None:
    """A ``: ping`` comment is part of its network read too (``Tail.heartbeat(at=)``): the read's
    first item, event or comment, has the silence before the read as ``delta``; every other item of
    the read has ``0.0`` and the read's ``t`` and ``wall``; ``firstEvent`` is the read's time when
    the read began with a comment. Times never go backwards."""
    tail, records = make_tail(Family.V1_0, numbered_walls=True)  # +1 ms a clock reading

    def items(at: float, *events: StreamEvent) -> list[Any]:
        return [TimedEvent(at, 10, e, False) for e in events]

    # read 1: a comment first, then two events
    tail.heartbeat("sse-comment", "ping", at=1.0)
    tail.take(items(1.0, _t("submitted"), _s("working")))
    # read 2: an event, a comment, an event
    tail.take(items(2.0, _s("working")))
    tail.heartbeat("sse-comment", "ping", at=2.0)
    tail.take(items(2.0, _s("working")))
    # read 3: one event
    tail.take(items(3.0, _s("completed")))
    got = [(r["type"], r["t"], r["delta"], r["wall"]) for r in records]
    assert [g[0] for g in got] == ["heartbeat", "event", "event", "event", "heartbeat", "event", "event"]
    reads = [0, 0, 0, 1, 1, 1, 2]
    for j, (_, t, delta, wall) in enumerate(got):
        if j and reads[j] == reads[j - 1]:
            assert (t, wall, delta) == (got[j - 1][1], got[j - 1][3], 0.0)
        else:
            assert delta == pytest.approx(0.001) and (j == 0 or t > got[j - 1][1])
    assert [g[1] for g in got] == sorted(g[1] for g in got)
    summary = tail.summary("completed").to_json()
    assert summary["firstEvent"] == got[0][1]
    assert summary["heartbeats"] == 2 and tail.intervals.count == len(got) - 1
    # 4 of the 6 gaps are zero gaps: the median gap is 0 (not the histogram's 1 µs floor)
    assert summary["gaps"]["p50"] == 0.0 and summary["gaps"]["p99"] == pytest.approx(0.001, rel=0.03)
