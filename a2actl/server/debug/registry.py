"""The session registry behind the debug API (``docs/debug-endpoints.md``). Pure Python, no I/O.

The A2A specification defines no sessions. a2actl's contract (``docs/debug-endpoints.md``, "What a
session is"): a *session* is either

* a handshake session (``open_session``: a peer got a token scoped to its tasks; requests that carry
  its id in the ``A2A-Session`` header belong to it), or
* a conversation: all tasks of one ``contextId`` (id ``ctx-<contextId>``), for clients that never
  handshake.

The rules: trust delegation is scoped to a single task, so a session ends (token revoked) when all its
tasks have ended — unless ``close_on_task_end`` is off, which is exactly the leak the debug API
exists to find; and no session outlives ``max_age`` seconds (its running tasks are then cancelled
and its token revoked). Times are ``time.time()`` seconds; durations are seconds.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from a2actl.core.units import format_timestamp

ACTIVE, IDLE, CLOSED = "active", "idle", "closed"
TERMINAL_STATES = {"completed", "failed", "canceled", "rejected"}


def iso(ts: float | None) -> str | None:
    """``time.time()`` seconds → ISO 8601 UTC with milliseconds and ``Z``."""
    return None if ts is None else format_timestamp(ts)


@dataclass
class Token:
    """A session token's metadata; the secret itself is never stored here."""

    scope: str
    expires_at: float | None
    revoked: bool = False


@dataclass
class Session:
    """One session. ``task_states`` maps task id → canonical state (refreshed from the task store)."""

    id: str
    created_at: float
    last_activity_at: float
    peer: str | None = None
    context_ids: list[str] = field(default_factory=list)
    task_states: dict[str, str] = field(default_factory=dict)
    token: Token | None = None
    messages: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    closed_at: float | None = None
    close_reason: str | None = None

    def state(self) -> str:
        """``closed``, ``active`` (a task is running) or ``idle`` (open, nothing running)."""
        if self.closed_at is not None:
            return CLOSED
        if any(s not in TERMINAL_STATES for s in self.task_states.values()):
            return ACTIVE
        return IDLE

    def running_tasks(self) -> list[str]:
        """The ids of this session's tasks not in a terminal state."""
        return [t for t, s in self.task_states.items() if s not in TERMINAL_STATES]

    def to_json(self, now: float) -> dict[str, Any]:
        """The ``Session`` object of the contract (seconds for ages, ISO 8601 for instants)."""
        end = self.closed_at if self.closed_at is not None else now
        return {
            "id": self.id,
            "state": self.state(),
            "peer": self.peer,
            "contextIds": list(self.context_ids),
            "createdAt": iso(self.created_at),
            "lastActivityAt": iso(self.last_activity_at),
            "ageSeconds": round(end - self.created_at, 3),
            "idleSeconds": round(end - self.last_activity_at, 3),
            "tasks": [{"id": t, "state": s} for t, s in self.task_states.items()],
            "token": None
            if self.token is None
            else {
                "scope": self.token.scope,
                "expiresAt": iso(self.token.expires_at),
                "revoked": self.token.revoked,
            },
            "messages": self.messages,
            "bytesIn": self.bytes_in,
            "bytesOut": self.bytes_out,
            "closedAt": iso(self.closed_at),
            "closeReason": self.close_reason,
        }


@dataclass
class KillResult:
    """What ``kill`` did: tasks it asked to cancel, tasks already ended, whether a token was revoked."""

    id: str
    found: bool
    already_closed: bool = False
    canceled_tasks: list[str] = field(default_factory=list)
    already_terminal_tasks: list[str] = field(default_factory=list)
    token_revoked: bool = False

    def to_json(self) -> dict[str, Any]:
        """The ``DELETE /sessions/{id}`` answer of the contract (``docs/debug-endpoints.md``)."""
        return {
            "id": self.id,
            "found": self.found,
            "alreadyClosed": self.already_closed,
            "canceledTasks": self.canceled_tasks,
            "alreadyTerminalTasks": self.already_terminal_tasks,
            "tokenRevoked": self.token_revoked,
        }


class SessionRegistry:
    """Tracks sessions. ``max_age`` (seconds, ``None`` = unbounded) closes older sessions;
    ``close_on_task_end=False`` keeps sessions open after their tasks end (the seed's leak, for
    demos and tests); closed sessions are kept ``retain`` seconds for inspection."""

    def __init__(
        self,
        *,
        max_age: float | None = 300.0,
        close_on_task_end: bool = True,
        retain: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_age = max_age
        self.close_on_task_end = close_on_task_end
        self.retain = retain
        self.clock = clock
        self.sessions: dict[str, Session] = {}

    # -- recording --------------------------------------------------------------------------------
    def open_session(self, peer: str | None, scope: str = "a2a:tasks", ttl: float | None = None) -> Session:
        """A handshake session with a token (``ttl`` seconds, default ``max_age``)."""
        now = self.clock()
        ttl = ttl if ttl is not None else self.max_age
        s = Session(
            id="sess-" + secrets.token_hex(8),
            created_at=now,
            last_activity_at=now,
            peer=peer,
            token=Token(scope, now + ttl if ttl else None),
        )
        self.sessions[s.id] = s
        return s

    def touch(
        self,
        *,
        session_id: str | None,
        context_id: str | None,
        task_id: str | None,
        state: str | None,
        peer: str | None,
        size: int = 0,
        message: bool = True,
        size_out: int = 0,
    ) -> Session | None:
        """Record activity: a message (``message``, ``size`` payload bytes in) or an event for ``task_id``
        in ``context_id``; ``size_out`` is the payload bytes of what the agent answered (the result or
        one stream event)."""
        now = self.clock()
        sid = session_id if session_id in self.sessions else (f"ctx-{context_id}" if context_id else None)
        if sid is None:
            return None
        s = self.sessions.get(sid)
        if s is None:
            s = self.sessions[sid] = Session(id=sid, created_at=now, last_activity_at=now, peer=peer)
        s.last_activity_at = now
        s.peer = s.peer or peer
        if context_id and context_id not in s.context_ids:
            s.context_ids.append(context_id)
        if task_id:
            s.task_states[task_id] = state or s.task_states.get(task_id, "submitted")
        if message:
            s.messages += 1
            s.bytes_in += size
        s.bytes_out += size_out
        return s

    # -- upkeep -----------------------------------------------------------------------------------
    def close(self, s: Session, reason: str) -> None:
        """Close ``s`` now (idempotent; the first ``reason`` stays) and revoke its token."""
        if s.closed_at is None:
            s.closed_at = self.clock()
            s.close_reason = reason
        if s.token is not None:
            s.token.revoked = True

    def sweep(self) -> list[Session]:
        """Apply the rules; returns sessions closed for ``max-age`` (their running tasks need cancelling)."""
        now = self.clock()
        expired = []
        for sid, s in list(self.sessions.items()):
            if s.closed_at is not None:
                if now - s.closed_at > self.retain:
                    del self.sessions[sid]
                continue
            if self.max_age is not None and now - s.created_at > self.max_age:
                self.close(s, "max-age")
                expired.append(s)
            elif self.close_on_task_end and s.task_states and not s.running_tasks():
                self.close(s, "tasks-ended")
        return expired

    # -- queries ----------------------------------------------------------------------------------
    def query(
        self,
        *,
        older_than: float | None = None,
        idle_for: float | None = None,
        state: str | None = None,
        peer: str | None = None,
    ) -> list[Session]:
        """Filtered sessions, oldest first. Without ``state``, closed sessions are left out."""
        now = self.clock()
        out = []
        for s in self.sessions.values():
            st = s.state()
            if state is None and st == CLOSED or state is not None and st != state:
                continue
            end = s.closed_at if s.closed_at is not None else now
            if older_than is not None and end - s.created_at < older_than:
                continue
            if idle_for is not None and end - s.last_activity_at < idle_for:
                continue
            if peer is not None and s.peer != peer:
                continue
            out.append(s)
        return sorted(out, key=lambda x: (x.created_at, x.id))
