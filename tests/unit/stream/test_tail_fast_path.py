"""``Tail.event``'s fast path: it skips ``Lifecycle.observe``'s call for its no-op case (another
status update of the stream's task in the same known, unsettled state; not final, not a resync, the
stream not ended). Whatever the events, the records and the lifecycle must be what a fresh
``Lifecycle`` fed the same events through ``observe`` gives."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from a2actl.protocol.events import StreamEvent, classify_event
from a2actl.protocol.lifecycle import Lifecycle
from a2actl.protocol.versions import TASK_STATES, Family
from a2actl.stream.tail import Tail, TailOptions

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


def make_tail(family: Family) -> tuple[Tail, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    tail = Tail(TailOptions(), records.append, family, clock=Clock(), wall_clock=lambda: WALL)
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
