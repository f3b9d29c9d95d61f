"""What a smoke run produces (docs/smoke.md, docs/output-formats.md): one ``CheckResult`` per check
and target, and the suite's ``SmokeRun`` with its exit code (docs/exit-codes.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from a2actl.core.exit_codes import ExitCode
from a2actl.smoke.suite import Suite

#: ``pass``; ``fail``: the agent answered but a bound did not hold; ``error``: the check could not run.
Status = Literal["pass", "fail", "error"]


@dataclass
class CheckResult:
    """One check against one target. ``duration`` in seconds; ``measured`` and ``bound`` are display
    strings; ``details`` machine-readable figures (seconds, bytes, counts); ``exit_class`` the exit
    code of an ``error`` of one connection class (3 unreachable, 4 auth, 5 timeout); ``exception``
    the unexpected exception an ``error`` came from (not in the JSON: ``details.exception`` has its
    type and message; the command shows its traceback with ``--debug``)."""

    name: str
    kind: str
    target: str | None
    status: Status
    duration: float
    measured: str = ""
    bound: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    exit_class: ExitCode | None = None
    exception: Exception | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """``{"name", "kind", "target", "status", "duration", "measured", "bound", "message", "details"}``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "target": self.target,
            "status": self.status,
            "duration": round(self.duration, 6),
            "measured": self.measured,
            "bound": self.bound,
            "message": self.message,
            "details": self.details,
        }


def suite_exit_code(results: list[CheckResult]) -> ExitCode:
    """0 all passed; 3/4/5 when nothing passed and every error is of that class; else 7."""
    if all(r.status == "pass" for r in results):
        return ExitCode.OK
    classes = {r.exit_class for r in results if r.status == "error"}
    only = next(iter(classes)) if len(classes) == 1 else None
    if only is not None and all(r.status == "error" for r in results):
        return only
    return ExitCode.CHECK_FAILED


@dataclass
class SmokeRun:
    """``smoke run``: every check's result in file order; ``junit`` the JUnit file written, if any;
    ``max_time_reached`` when ``--max-time`` stopped the run (the checks it cut short are errors);
    ``junit_error`` why the ``--junit`` file could not be written at the end (then ``junit`` is
    ``None``)."""

    suite: Suite
    results: list[CheckResult]
    junit: str | None = None
    max_time_reached: bool = False
    junit_error: str | None = None

    @property
    def exit(self) -> ExitCode:
        """2 when the JUnit file could not be written; else 5 when ``--max-time`` stopped the run;
        else ``suite_exit_code`` of the results."""
        if self.junit_error is not None:
            return ExitCode.USAGE
        return ExitCode.TIMEOUT if self.max_time_reached else suite_exit_code(self.results)

    def to_json(self) -> dict[str, Any]:
        """``{"suite", "path", "targets", "exitCode", "maxTimeReached", "passed", "failed", "errors",
        "results"[, "junit"][, "junitError"]}``."""
        doc: dict[str, Any] = {
            "suite": self.suite.name,
            "path": self.suite.path,
            "targets": self.suite.targets,
            "exitCode": int(self.exit),
            "maxTimeReached": self.max_time_reached,
            "passed": sum(r.status == "pass" for r in self.results),
            "failed": sum(r.status == "fail" for r in self.results),
            "errors": sum(r.status == "error" for r in self.results),
            "results": [r.to_json() for r in self.results],
        }
        if self.junit:
            doc["junit"] = self.junit
        if self.junit_error is not None:
            doc["junitError"] = self.junit_error
        return doc


@dataclass
class SuiteCheck:
    """``smoke validate``: a suite file that loaded and validated (a bad one raises, exit 2)."""

    suite: Suite

    @property
    def exit(self) -> ExitCode:
        """Always 0."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"path", "valid": true, "targets", "checks": [{"name", "kind", "line"}]}``."""
        return {
            "path": self.suite.path,
            "valid": True,
            "targets": self.suite.targets,
            "checks": [{"name": c.name, "kind": c.kind, "line": c.line} for c in self.suite.checks],
        }
