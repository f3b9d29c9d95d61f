"""The typed results of ``a2actl sessions list|show|kill|leaks`` (``core.result.JobResult``). Every
document starts with the source envelope (``source``, ``debugUrl``, ``warnings``); sessions are the
debug API's documents passed through (``docs/debug-endpoints.md``); durations in seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2actl.core.errors import A2ACtlError
from a2actl.core.exit_codes import ExitCode
from a2actl.sessions.rules import Session


@dataclass(frozen=True)
class Source:
    """Where the sessions came from: ``source`` (``debug`` or ``a2a-listtasks``), the debug API URL,
    and the warnings to print on stderr before the result (an unprotected debug API, the fallback)."""

    source: str
    debug_url: str
    warnings: list[str]

    def to_json(self) -> dict[str, Any]:
        """``{"source", "debugUrl", "warnings"}``: the head of every ``sessions`` document."""
        return {"source": self.source, "debugUrl": self.debug_url, "warnings": self.warnings}


@dataclass(frozen=True)
class SessionList:
    """``sessions list``: the matching sessions, oldest first. Exit 0."""

    origin: Source
    sessions: list[Session]

    @property
    def exit(self) -> ExitCode:
        """Always ``OK``."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"source", "debugUrl", "warnings", "sessions", "count"}``."""
        return {**self.origin.to_json(), "sessions": self.sessions, "count": len(self.sessions)}


@dataclass(frozen=True)
class SessionDetail:
    """``sessions show``: one session, ``None`` when the agent does not know ``session_id``."""

    origin: Source
    session_id: str
    session: Session | None

    @property
    def exit(self) -> ExitCode:
        """``ERROR`` (1) for an unknown session, else ``OK``."""
        return ExitCode.ERROR if self.session is None else ExitCode.OK

    def check(self) -> None:
        """Raises ``A2ACtlError`` (exit 1, docs/exit-codes.md) for an unknown session."""
        if self.session is None:
            raise A2ACtlError(
                f"no session {self.session_id!r}", hint="list them with 'a2actl sessions list TARGET'"
            )

    def to_json(self) -> dict[str, Any]:
        """``{"source", "debugUrl", "warnings", "session"}``."""
        return {**self.origin.to_json(), "session": self.session}


@dataclass(frozen=True)
class KillPlan:
    """The sessions ``sessions kill`` selected (the ids given, or those the filters matched)."""

    origin: Source
    selected: list[str]


@dataclass(frozen=True)
class KillReport:
    """``sessions kill``: the plan and one ``KillResult`` per selected session (``results`` empty on a
    dry run or when nothing was selected). A result whose kill failed carries ``error`` (the error
    object of docs/output-formats.md; ``rules.failed_kill``). Exit: the first failed kill's exit code,
    else 1 when an id was unknown (docs/exit-codes.md), else 0."""

    plan: KillPlan
    dry_run: bool
    #: The debug API's ``KillResult`` documents: ``{"id", "found", "alreadyClosed", "canceledTasks",
    #: "alreadyTerminalTasks", "tokenRevoked"}``, plus ``error`` for a kill that failed.
    results: list[dict[str, Any]]

    @property
    def missing(self) -> list[str]:
        """Ids the agent did not know."""
        return [r["id"] for r in self.results if r["found"] is False and "error" not in r]

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The results whose kill failed (each with ``error``), in the order of the ids."""
        return [r for r in self.results if "error" in r]

    @property
    def exit(self) -> ExitCode:
        """The first failed kill's exit code; else ``ERROR`` (1) when an id was unknown; else ``OK``."""
        if self.failed:
            return ExitCode(self.failed[0]["error"]["exitCode"])
        return ExitCode.ERROR if self.missing else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"source", "debugUrl", "warnings", "selected", "dryRun", "results"}``, plus ``error`` (the
        first failed kill's, which decides the exit code) when a kill failed."""
        doc = {
            **self.plan.origin.to_json(),
            "selected": self.plan.selected,
            "dryRun": self.dry_run,
            "results": self.results,
        }
        if self.failed:
            doc["error"] = self.failed[0]["error"]
        return doc


@dataclass(frozen=True)
class LeakReport:
    """``sessions leaks``: ``leaks`` (``rules.find_leaks``) among the ``checked`` open sessions, and
    the ids still ``within_grace``. ``max_age`` and ``grace`` in seconds. Exit 7 when there is a leak."""

    origin: Source
    max_age: float
    grace: float
    checked: int
    leaks: list[dict[str, Any]]
    within_grace: list[str]
    #: ``rules.clock_ahead``: seconds the agent's clock is at least ahead (sessions dated in the future)
    clock_ahead: float = 0.0
    #: ``rules.bogus_dated``: ids of sessions dated too far in the future to judge (a bogus timestamp)
    bogus_timestamps: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No leak."""
        return not self.leaks

    @property
    def exit(self) -> ExitCode:
        """``CHECK_FAILED`` (7) when a session leaked, else ``OK``."""
        return ExitCode.OK if self.ok else ExitCode.CHECK_FAILED

    def to_json(self) -> dict[str, Any]:
        """``{"source", "debugUrl", "warnings", "maxAge", "grace", "checked", "leaks", "withinGrace",
        "clockAheadSeconds", "bogusTimestamps", "ok"}``."""
        return {
            **self.origin.to_json(),
            "maxAge": self.max_age,
            "grace": self.grace,
            "checked": self.checked,
            "leaks": self.leaks,
            "withinGrace": self.within_grace,
            "clockAheadSeconds": self.clock_ahead,
            "bogusTimestamps": self.bogus_timestamps,
            "ok": self.ok,
        }
