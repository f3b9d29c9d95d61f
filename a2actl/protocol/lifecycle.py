"""Inline lifecycle audit of a task's stream events (pure; no I/O).

Rules (spec v1.0 §3.1.2 stream patterns, §4.1.3 TaskState, §4.2.2 TaskArtifactUpdateEvent; v0.3
§7.2 ``final``):

* ``illegal-transition``: a state that goes back (``working`` → ``submitted``), or any state change
  after a terminal state (completed, failed, canceled, rejected are final).
* ``event-after-end``: an event after the stream should have ended: after ``final: true`` (0.3) or
  after a terminal / interrupted state (1.0 closes the stream there).
* ``final-not-terminal`` (0.3): ``final: true`` on a state that is neither terminal nor interrupted.
* ``append-after-last-chunk``: an artifact chunk for an ``artifactId`` whose ``lastChunk`` was seen.
* ``append-to-unknown-artifact``: ``append: true`` for an artifact never seen: an earlier chunk is
  missing (an artifact chunk gap).
* ``other-task``: an event for another ``taskId`` than the stream's task.
* ``missing-terminal``: the stream closed without a terminal or interrupted state (``finish``).
* ``wire-version`` (1.0): an event in 0.3's shape (a ``kind`` member, spec v0.3 §7.2) in a 1.0 stream,
  where events are ``StreamResponse`` objects named by their oneof member and ``kind`` is gone (v1.0
  ``StreamResponse``, ProtoJSON; 1.0's changelog: "kind removed"): the agent speaks 0.3 on a stream negotiated as 1.0, which a 1.0 client cannot
  read. Flagged once per stream (``wire_shape``; off for push deliveries, audited as 1.0 whatever
  their version).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2actl.protocol.events import EventFields
from a2actl.protocol.versions import TASK_STATES, Family, StateKind, state_kind

_SETTLED = (StateKind.TERMINAL, StateKind.INTERRUPTED)
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
#: Canonical state name → whether it is terminal / settled (terminal or interrupted): the per-event
#: lookups (``versions.TASK_STATES``); other spellings ask ``state_kind``.
_TERMINAL = {name: kind is StateKind.TERMINAL for name, (_, _, kind) in TASK_STATES.items()}
#: Canonical state name → whether a task in it is settled (terminal or interrupted); the per-event
#: lookup ``stream tail``'s fast path shares (other spellings: ``state_kind``).
SETTLES: dict[str, bool] = {name: kind in _SETTLED for name, (_, _, kind) in TASK_STATES.items()}
_V1 = Family.V1_0


@dataclass
class Violation:
    """One broken rule: ``rule`` (ids above) and a one-line ``message``."""

    rule: str
    message: str

    def to_json(self) -> dict[str, str]:
        """The violation as a JSON record (``docs/output-formats.md``)."""
        return {"rule": self.rule, "message": self.message}


@dataclass
class Lifecycle:
    """The audited state of one task stream. Feed events with ``observe``; call ``finish`` at the end."""

    family: Family
    task_id: str | None = None
    state: str | None = None
    ended: bool = False
    artifacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    #: The ``status`` object (as received) of the last event that carried a known ``state``: its
    #: ``message`` is the agent's word on that state (a failure's reason).
    status: Any = None
    #: The last ``Task`` observed (a stream's Task event, a resubscribe's or GetTask's snapshot),
    #: as received: its ``history`` and ``artifacts`` (``stream.follow._with_reason``).
    task: Any = None
    #: Audit the events' wire shape against ``family`` (the ``wire-version`` rule).
    wire_shape: bool = True

    @property
    def terminal(self) -> bool:
        """Whether the task has reached a terminal state (completed, failed, canceled, rejected)."""
        state = self.state
        if state is None:
            return False
        known = _TERMINAL.get(state)
        return known if known is not None else state_kind(state) is StateKind.TERMINAL

    @property
    def settled(self) -> bool:
        """Terminal or interrupted: a stream may end here."""
        state = self.state
        if state is None:
            return False
        known = SETTLES.get(state)
        return known if known is not None else state_kind(state) in _SETTLED

    def ends_without_final(self, kind: str) -> bool:
        """Whether the event just observed (of ``kind``) ends an A2A 0.3 (or 0.2) stream that has no
        ``final: true``: a status update that left the task terminal or interrupted, after which
        nothing can follow (@a2a-js/sdk's 0.3 compatibility sends ``auth-required`` so and keeps
        the stream open). Call after ``observe``. ``False`` in 1.0, whose own rule (the stream
        closes at such a state, spec v1.0 §3.1.2) already set ``ended``, and once the stream ended."""
        return self.family is not _V1 and kind == "status-update" and not self.ended and self.settled

    def _flag(self, rule: str, message: str) -> Violation:
        v = Violation(rule, message)
        self.violations.append(v)
        return v

    def observe(self, ev: EventFields, *, resync: bool = False) -> list[Violation]:
        """Audit one event; returns the violations it caused. ``resync`` marks the first event after a
        resubscribe (a Task snapshot): it may jump forward, and its artifacts reset chunk tracking.
        ``ev``: a ``StreamEvent`` or the plain tuple of its fields (``EventFields``).

        The per-event path of ``stream tail``: the event's fields are read once and a state's kind is
        one lookup in a table of the canonical names (any other spelling asks ``state_kind``)."""
        kind, state, task_id, final, payload = ev
        found: list[Violation] = []
        if self.wire_shape and self.family is _V1 and kind != "unknown" and "kind" in payload:
            self.wire_shape = False  # once per stream
            found.append(
                self._flag(
                    "wire-version",
                    f"a 0.3-shaped event (kind: {payload['kind']}) in an A2A 1.0 stream; 1.0 events "
                    "have no kind and are named by their StreamResponse member (task, message, "
                    "statusUpdate, artifactUpdate)",
                )
            )
        if kind == "message" and self.task_id is None:
            self.ended = True
            return found
        if self.ended and not resync:
            found.append(
                self._flag(
                    "event-after-end",
                    f"{kind} event after the stream should have ended (state {self.state})",
                )
            )
        if task_id:
            own = self.task_id
            if own is None:
                self.task_id = task_id
            elif task_id != own:
                found.append(
                    self._flag("other-task", f"{kind} event for task {task_id}, the stream is for {own}")
                )
                return found
        if state is not None and state in _RANK:
            before = self.state
            if before is not None and before != state:
                if self.terminal:
                    found.append(
                        self._flag("illegal-transition", f"{before} → {state}: a terminal state is final")
                    )
                elif _RANK[state] < _RANK[before]:
                    found.append(self._flag("illegal-transition", f"{before} → {state} goes back"))
            self.state = state
            self.status = payload.get("status")
        if kind == "artifact-update":
            self._artifact_chunk(payload, resync, found)
        elif kind == "task":
            self.task = payload
            if resync:
                for art in payload.get("artifacts") or []:
                    if isinstance(art, dict):
                        self.artifacts.setdefault(
                            str(art.get("artifactId", "")), {"chunks": 1, "last": False}
                        )
        if self.family is not _V1:
            if payload.get("final") is True and kind != "message":
                if state is None or state_kind(state) not in _SETTLED:
                    found.append(self._flag("final-not-terminal", f"final: true on state {state}"))
                self.ended = True
            elif final:
                self.ended = True
        elif final:
            self.ended = True
        elif kind != "task" and (now := self.state) is not None:
            # 1.0 closes the stream at a terminal or interrupted state (§3.1.2): the settled property
            # inlined (a canonical name is one lookup; another spelling asks state_kind)
            settles = SETTLES.get(now)
            if settles if settles is not None else state_kind(now) in _SETTLED:
                self.ended = True
        return found

    def _artifact_chunk(self, payload: dict[str, Any], resync: bool, found: list[Violation]) -> None:
        """An artifact-update: chunk bookkeeping per ``artifactId``, violations appended to ``found``."""
        art_val = payload.get("artifact")
        art: dict[str, Any] = art_val if isinstance(art_val, dict) else {}
        aid = str(art.get("artifactId", ""))
        append = bool(payload.get("append"))
        last = bool(payload.get("lastChunk"))
        seen = self.artifacts.get(aid)
        if seen is not None and seen["last"] and not resync:
            found.append(
                self._flag("append-after-last-chunk", f"artifact {aid!r} got a chunk after lastChunk")
            )
        if append and seen is None:
            found.append(
                self._flag(
                    "append-to-unknown-artifact",
                    f"artifact {aid!r}: append to an artifact never seen; an earlier chunk is missing",
                )
            )
        entry = self.artifacts.setdefault(aid, {"chunks": 0, "last": False})
        entry["chunks"] += 1
        entry["last"] = entry["last"] or last

    def finish(self) -> list[Violation]:
        """Call when the stream closed normally; flags a missing terminal/interrupted state."""
        if self.ended or self.settled:
            return []
        return [
            self._flag(
                "missing-terminal",
                f"the stream closed in state {self.state or 'none'} without a terminal or interrupted state",
            )
        ]
