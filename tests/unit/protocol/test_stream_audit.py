"""``classify_event`` and ``Lifecycle.observe`` (the per-event path of ``stream tail``) agree with
their plain reference readings below (the rules as first written, before the per-event path was made
cheap) on any JSON a stream may carry and any sequence of events: same classification, same
violations (rule and message), same audited state after every event. Plus the rules one by one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from a2actl.protocol.events import StreamEvent, classify_event
from a2actl.protocol.lifecycle import Lifecycle
from a2actl.protocol.versions import TASK_STATES, Family, StateKind, canonical_state, state_kind

_SETTLED = (StateKind.TERMINAL, StateKind.INTERRUPTED)
_V1_KEYS = {
    "task": "task",
    "message": "message",
    "msg": "message",
    "statusUpdate": "status-update",
    "artifactUpdate": "artifact-update",
}
_RANK = {
    "submitted": 0,
    "working": 1,
    "input-required": 1,
    "auth-required": 1,
    "completed": 2,
    "failed": 2,
    "canceled": 2,
    "rejected": 2,
}


def reference_classify(result: Any) -> StreamEvent:
    """The classification rules read plainly (A2A 1.0 §11.7; 0.3 ``final``)."""
    if not isinstance(result, dict):
        return StreamEvent("unknown", None, None, False, {})
    v0 = "kind" in result
    if v0:
        kind = str(result["kind"])
        body = result
        final = bool(result.get("final")) or kind == "message"
    else:
        for key in result:
            if key in _V1_KEYS:
                break
        else:
            return StreamEvent("unknown", None, None, False, result)
        kind = _V1_KEYS[key]
        body = result[key] if isinstance(result[key], dict) else {}
        final = kind == "message"
    status = body.get("status")
    state = canonical_state(status.get("state")) if isinstance(status, dict) and status else None
    task_id = body.get("taskId") or (body.get("id") if kind == "task" else None)
    if state is not None and not v0 and kind != "task":
        final = final or state_kind(state) in _SETTLED
    return StreamEvent(kind, state, task_id if isinstance(task_id, str) else None, final, body)


@dataclass
class ReferenceLifecycle:
    """The lifecycle audit read plainly (spec v1.0 §3.1.2, §4.1.3, §4.2.2; v0.3 §7.2)."""

    family: Family
    task_id: str | None = None
    state: str | None = None
    ended: bool = False
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    violations: list[tuple[str, str]] = field(default_factory=list)
    shape_flagged: bool = False

    def _settled(self) -> bool:
        return self.state is not None and state_kind(self.state) in _SETTLED

    def _flag(self, found: list[tuple[str, str]], rule: str, message: str) -> None:
        found.append((rule, message))
        self.violations.append((rule, message))

    def observe(self, ev: StreamEvent, resync: bool = False) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        # 1.0 has no `kind`: a 0.3-shaped event in a 1.0 stream, once per stream
        if self.family is Family.V1_0 and ev.kind != "unknown" and "kind" in ev.payload:
            if not self.shape_flagged:
                self.shape_flagged = True
                self._flag(
                    found,
                    "wire-version",
                    f"a 0.3-shaped event (kind: {ev.payload['kind']}) in an A2A 1.0 stream; 1.0 events "
                    "have no kind and are named by their StreamResponse member (task, message, "
                    "statusUpdate, artifactUpdate)",
                )
        if ev.kind == "message" and self.task_id is None:
            self.ended = True
            return found
        if self.ended and not resync:
            self._flag(
                found,
                "event-after-end",
                f"{ev.kind} event after the stream should have ended (state {self.state})",
            )
        if ev.task_id:
            if self.task_id is None:
                self.task_id = ev.task_id
            elif ev.task_id != self.task_id:
                self._flag(
                    found,
                    "other-task",
                    f"{ev.kind} event for task {ev.task_id}, the stream is for {self.task_id}",
                )
                return found
        if ev.state is not None and ev.state in _RANK:
            if self.state is not None and self.state != ev.state:
                if state_kind(self.state) is StateKind.TERMINAL:
                    self._flag(
                        found, "illegal-transition", f"{self.state} → {ev.state}: a terminal state is final"
                    )
                elif _RANK[ev.state] < _RANK[self.state]:
                    self._flag(found, "illegal-transition", f"{self.state} → {ev.state} goes back")
            self.state = ev.state
        if ev.kind == "artifact-update":
            art = ev.payload.get("artifact")
            art = art if isinstance(art, dict) else {}
            aid = str(art.get("artifactId", ""))
            seen = self.artifacts.get(aid)
            if seen is not None and seen["last"] and not resync:
                self._flag(found, "append-after-last-chunk", f"artifact {aid!r} got a chunk after lastChunk")
            if bool(ev.payload.get("append")) and seen is None:
                self._flag(
                    found,
                    "append-to-unknown-artifact",
                    f"artifact {aid!r}: append to an artifact never seen; an earlier chunk is missing",
                )
            entry = self.artifacts.setdefault(aid, {"chunks": 0, "last": False})
            entry["chunks"] += 1
            entry["last"] = entry["last"] or bool(ev.payload.get("lastChunk"))
        if ev.kind == "task" and resync:
            for a in ev.payload.get("artifacts") or []:
                if isinstance(a, dict):
                    self.artifacts.setdefault(str(a.get("artifactId", "")), {"chunks": 1, "last": False})
        if self.family is not Family.V1_0 and ev.payload.get("final") is True and ev.kind != "message":
            if ev.state is None or state_kind(ev.state) not in _SETTLED:
                self._flag(found, "final-not-terminal", f"final: true on state {ev.state}")
            self.ended = True
        elif self.family is Family.V1_0 and self._settled() and ev.kind != "task":
            self.ended = True
        elif ev.final:
            self.ended = True
        return found


# Every wire spelling of every state, odd ones too (case, the British spelling, blanks, unknown, not a string).
_SPELLINGS = [s for v0, v1, _ in TASK_STATES.values() for s in (v0, v1)] + [
    "TASK_STATE_CANCELLED",
    "cancelled",
    "Working",
    " completed ",
    "task_state_failed",
    "bogus",
    "",
    None,
    3,
    ["working"],
]
_states = st.sampled_from(_SPELLINGS)
_ids = st.sampled_from(["t1", "t2", "", None, 7])
_status = st.one_of(
    st.fixed_dictionaries({"state": _states}),
    st.fixed_dictionaries({"state": _states, "timestamp": st.just("2026-01-01T00:00:00Z")}),
    st.fixed_dictionaries({"state": _states}),
    st.just({}),
    st.just("working"),
    st.none(),
)
_body = st.fixed_dictionaries(
    {"status": _status},
    optional={
        "taskId": _ids,
        "id": _ids,
        "final": st.sampled_from([True, False, 1, None]),
        "append": st.booleans(),
        "lastChunk": st.booleans(),
        "artifact": st.one_of(
            st.fixed_dictionaries({"artifactId": st.sampled_from(["a", "b"])}), st.just("x")
        ),
        "artifacts": st.lists(st.fixed_dictionaries({"artifactId": st.sampled_from(["a", "b"])}), max_size=2),
    },
) | st.fixed_dictionaries({}, optional={"taskId": _ids, "id": _ids, "final": st.just(True)})
_v1 = st.builds(
    lambda key, body, extra: {**extra, key: body},
    st.sampled_from([*_V1_KEYS, "other"]),
    st.one_of(_body, st.just("not an object"), st.none()),
    st.dictionaries(st.sampled_from(["other", "status"]), st.integers(), max_size=1),
)
_v0 = st.builds(
    lambda kind, body: {"kind": kind, **body},
    st.sampled_from(["task", "message", "status-update", "artifact-update", "other", 5]),
    _body,
)
_results = st.one_of(
    _v1, _v0, st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2)
)


@given(_results)
@settings(max_examples=300)
def test_classify_event_agrees_with_the_reference(result: Any) -> None:
    assert classify_event(result) == reference_classify(result)
    assert type(classify_event(result)) is StreamEvent


def test_classify_event_agrees_on_every_kind_and_state_spelling() -> None:
    # exhaustive on what decides kind, state and final: every wrapper key / 0.x kind x every spelling
    for spelling in _SPELLINGS:
        for final in (None, True):
            body: dict[str, Any] = {"taskId": "t1", "id": "t1", "status": {"state": spelling}}
            shapes: list[Any] = [{key: body} for key in [*_V1_KEYS, "other"]]
            shapes += [
                {"kind": kind, **body, "final": final} for kind in ("task", "message", "status-update", "x")
            ]
            for result in shapes:
                assert classify_event(result) == reference_classify(result), result


@given(
    st.sampled_from(list(Family)),
    st.lists(st.tuples(_results, st.booleans()), max_size=12),
)
@settings(max_examples=300)
def test_lifecycle_agrees_with_the_reference(family: Family, stream: list[tuple[Any, bool]]) -> None:
    audit, ref = Lifecycle(family), ReferenceLifecycle(family)
    for result, resync in stream:
        ev = classify_event(result)
        got = audit.observe(ev, resync=resync)
        assert [(v.rule, v.message) for v in got] == ref.observe(ev, resync=resync)
        assert (audit.task_id, audit.state, audit.ended, audit.artifacts) == (
            ref.task_id,
            ref.state,
            ref.ended,
            ref.artifacts,
        )
        assert audit.settled == ref._settled()
    assert [(v.rule, v.message) for v in audit.violations] == ref.violations


@pytest.mark.parametrize(
    "spelling", ["completed", "TASK_STATE_COMPLETED", "input-required", "TASK_STATE_CANCELLED"]
)
def test_a_state_set_in_any_spelling_is_read_by_its_kind(spelling: str) -> None:
    # the per-event tables know canonical names; a state set from outside in a wire spelling is still
    # read by state_kind (settled, terminal, and the 1.0 end of stream)
    audit = Lifecycle(Family.V1_0, task_id="t1", state=spelling)
    kind = state_kind(spelling)
    assert audit.settled == (kind in _SETTLED)
    assert audit.terminal == (kind is StateKind.TERMINAL)
    audit.observe(StreamEvent("artifact-update", None, "t1", False, {"artifact": {"artifactId": "a"}}))
    assert audit.ended == (kind in _SETTLED)


def test_v1_stream_ends_at_a_settled_state_and_flags_what_follows() -> None:
    audit = Lifecycle(Family.V1_0)
    assert (
        audit.observe(classify_event({"task": {"id": "t1", "status": {"state": "TASK_STATE_SUBMITTED"}}}))
        == []
    )
    assert not audit.ended
    audit.observe(
        classify_event({"statusUpdate": {"taskId": "t1", "status": {"state": "TASK_STATE_INPUT_REQUIRED"}}})
    )
    assert audit.ended and audit.settled and not audit.terminal
    found = audit.observe(
        classify_event({"statusUpdate": {"taskId": "t1", "status": {"state": "TASK_STATE_WORKING"}}})
    )
    assert [v.rule for v in found] == ["event-after-end"]


def test_terminal_is_final_and_states_do_not_go_back() -> None:
    audit = Lifecycle(Family.V0_3)
    audit.observe(classify_event({"kind": "status-update", "taskId": "t1", "status": {"state": "working"}}))
    back = audit.observe(
        classify_event({"kind": "status-update", "taskId": "t1", "status": {"state": "submitted"}})
    )
    assert [(v.rule, v.message) for v in back] == [("illegal-transition", "working → submitted goes back")]
    audit.observe(
        classify_event(
            {"kind": "status-update", "taskId": "t1", "status": {"state": "failed"}, "final": True}
        )
    )
    assert audit.ended and audit.terminal
    after = audit.observe(
        classify_event({"kind": "status-update", "taskId": "t1", "status": {"state": "working"}})
    )
    assert [v.rule for v in after] == ["event-after-end", "illegal-transition"]


def test_final_on_an_active_state_is_flagged_in_0_3() -> None:
    audit = Lifecycle(Family.V0_3)
    found = audit.observe(
        classify_event(
            {"kind": "status-update", "taskId": "t1", "status": {"state": "working"}, "final": True}
        )
    )
    assert [(v.rule, v.message) for v in found] == [("final-not-terminal", "final: true on state working")]
    assert audit.ended


@pytest.mark.parametrize("family", list(Family))
def test_a_terminal_task_then_a_final_update_is_no_violation(family: Family) -> None:
    """A Task event in a terminal state, then the terminal status update with ``final: true`` (how a
    0.3 agent ends its stream): no violation. The readers stop at the Task (``stream tail``, the
    probe's send); the audit does not end the stream there."""
    audit = Lifecycle(family)
    found = audit.observe(StreamEvent("task", "completed", "t1", False, {"id": "t1"}))
    found += audit.observe(
        StreamEvent("status-update", "completed", "t1", True, {"taskId": "t1", "final": True})
    )
    assert found == [] and audit.ended
