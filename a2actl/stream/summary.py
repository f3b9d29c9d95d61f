"""The result of a ``stream tail``: ``TailSummary`` (the ``summary`` record, docs/output-formats.md)
and ``tail_exit``, the exit-code rule of docs/exit-codes.md (``stream tail``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from a2actl.core.exit_codes import ExitCode


def tail_exit(
    outcome: str,
    *,
    audit_failed: bool,
    violations: bool,
    bounds_exceeded: bool,
    failed_on: str | None,
) -> ExitCode:
    """The exit code of a tail (docs/exit-codes.md, ``stream tail``).

    ``audit_failed``: the lifecycle audit flagged an event; ``violations``: the summary lists any
    violation (the audit's, or ``missing-terminal`` for a stream that ended unsettled);
    ``bounds_exceeded``: a silence over ``--heartbeat``, an event over ``--max-event-bytes`` or events
    missed across a reconnect; ``failed_on``: the final state when ``--fail-on`` names it.

    ``max-time`` is 5; ``stalled`` is 7 unless the audit failed (then 6); an unrecovered cut, a close
    without a terminal state or any violation is 6; an exceeded bound or a ``--fail-on`` state is 7."""
    if outcome == "max-time":
        code = ExitCode.TIMEOUT
    elif outcome == "stalled" and not audit_failed:
        code = ExitCode.CHECK_FAILED
    elif outcome in ("cut", "closed-without-terminal") or violations:
        code = ExitCode.PROTOCOL
    elif bounds_exceeded:
        code = ExitCode.CHECK_FAILED
    else:
        code = ExitCode.OK
    if failed_on and code is ExitCode.OK:
        code = ExitCode.CHECK_FAILED
    return code


@dataclass(frozen=True)
class TailSummary:
    """The result of one tail (the ``summary`` record). Seconds and bytes; ``exit`` is the process's
    exit code (``tail_exit``), written as ``exitCode`` in the JSON document."""

    outcome: str
    exit: ExitCode
    events: int
    total_bytes: int
    max_event_bytes: int
    duration: float
    #: Seconds from the start to the first event (``None``: no event).
    first_event: float | None
    #: Silences between received items: ``{"p50", "p99", "max"}`` seconds (``None`` when fewer than two).
    gaps: dict[str, float | None]
    heartbeats: int
    #: WebSocket ping round trips ``{"p50", "max"}`` seconds; ``None`` without pongs.
    rtt: dict[str, float | None] | None
    #: ``gap`` records: silences over ``--heartbeat``.
    stalls: list[dict[str, Any]]
    #: ``{"t", "bytes", "limit"}`` per event over ``--max-event-bytes``.
    oversize: list[dict[str, Any]]
    cuts: list[dict[str, Any]]
    reconnects: list[dict[str, Any]]
    missed: list[str]
    #: ``{"rule", "message"}`` per lifecycle violation (``protocol/lifecycle.py``).
    violations: list[dict[str, str]]
    final_state: str | None
    task_id: str | None
    failed_on: str | None
    stall_timeout: float | None
    #: The text of the status message that came with ``final_state`` when it is terminal or
    #: interrupted (the agent's reason for a ``failed`` or ``rejected`` task, its question for
    #: ``input-required``); ``None``: it had none, or the stream ended before such a state.
    status_message: str | None = None
    #: The agent's reason for a ``failed`` or ``rejected`` end: ``{"text", "from": "status"}`` (the
    #: status message), else from the task's history or an artifact as GetTask answers it
    #: (``protocol.events.reason_outside_status``); ``None`` for another end, or none found.
    reason: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``summary`` record (docs/output-formats.md); with ``-o json`` the records go under
        ``records``."""
        return {
            "type": "summary",
            "outcome": self.outcome,
            "exitCode": int(self.exit),
            "events": self.events,
            "bytes": self.total_bytes,
            "maxEventBytes": self.max_event_bytes,
            "duration": self.duration,
            "firstEvent": self.first_event,
            "gaps": self.gaps,
            "heartbeats": self.heartbeats,
            "rtt": self.rtt,
            "stalls": self.stalls,
            "oversize": self.oversize,
            "cuts": self.cuts,
            "reconnects": self.reconnects,
            "missed": self.missed,
            "violations": self.violations,
            "finalState": self.final_state,
            "statusMessage": self.status_message,
            "reason": self.reason,
            "taskId": self.task_id,
            "failedOn": self.failed_on,
            "stallTimeout": self.stall_timeout,
        }
