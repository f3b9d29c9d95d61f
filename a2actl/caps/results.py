"""What the ``caps`` jobs return: one typed result per command, each with ``.exit`` (an
``ExitCode``) and ``.to_json()`` (the ``-o json`` document of ``docs/output-formats.md``).
Exit codes: ``docs/exit-codes.md``; the expectation kinds and change classes: ``docs/caps.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2actl.caps.diff import Change, counts, failed
from a2actl.caps.fingerprint import Fingerprint
from a2actl.caps.validate import ValidationReport
from a2actl.core.exit_codes import ExitCode


@dataclass(frozen=True)
class Source:
    """Where one side of a caps command came from: ``source`` (URL or path), ``kind`` (``url``,
    ``file``, ``snapshot``, or for a ``--expect`` file the expectation kind: ``snapshot``,
    ``jsonSchema``, ``requirements``, ``card``) and the discovery ``notes``."""

    source: str
    kind: str
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"source", "kind", "notes"}``."""
        return {"source": self.source, "kind": self.kind, "notes": self.notes}


@dataclass(frozen=True)
class ValidateResult:
    """``caps validate``: the card's ``source``, whether ``--live`` checks ran, and the report."""

    source: Source
    live: bool
    report: ValidationReport

    @property
    def exit(self) -> ExitCode:
        """6 (``PROTOCOL``) for schema violations, else 7 (``CHECK_FAILED``) for failed operational
        checks, else 0."""
        return self.report.exit

    def to_json(self) -> dict[str, Any]:
        """``{"source", "kind", "notes", "live", "shape", "schemas", "strict", "valid",
        "checksPassed", "counts", "findings"}``."""
        return {**self.source.to_json(), "live": self.live, **self.report.to_json()}


@dataclass(frozen=True)
class SnapshotResult:
    """``caps snapshot``: the snapshot document (``a2actl.caps.snapshot``; a snapshot file passed
    through as it was read). Always exit 0."""

    snapshot: dict[str, Any]

    @property
    def exit(self) -> ExitCode:
        """Always 0 (``OK``): failures to load raise before a result exists."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """The snapshot document itself (``docs/caps.md``)."""
        return self.snapshot


@dataclass(frozen=True)
class DiffResult:
    """``caps diff``: ``mode`` is ``expect`` (TARGET against ``--expect FILE``, ``expectation`` its
    kind) or ``targets`` (A before, B after, ``expectation`` ``None``); ``changes`` are classified,
    most severe first; ``fail_on`` is the ``--fail-on`` level (``breaking``, ``risky``, ``any``,
    ``none``)."""

    mode: str
    before: Source
    after: Source
    expectation: str | None
    fail_on: str
    changes: list[Change]

    @property
    def failed(self) -> bool:
        """Whether a change reaches ``fail_on`` (``a2actl.caps.diff.failed``)."""
        return failed(self.changes, self.fail_on)

    @property
    def exit(self) -> ExitCode:
        """7 (``CHECK_FAILED``) when a change reaches ``--fail-on``, else 0."""
        return ExitCode.CHECK_FAILED if self.failed else ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"mode", "before", "after", "expectation", "failOn", "failed", "counts", "changes"}``."""
        return {
            "mode": self.mode,
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "expectation": self.expectation,
            "failOn": self.fail_on,
            "failed": self.failed,
            "counts": counts(self.changes),
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass(frozen=True)
class FingerprintResult:
    """``caps fingerprint``: the fingerprint and the card's discovery ``notes``."""

    fingerprint: Fingerprint
    notes: list[str]

    @property
    def exit(self) -> ExitCode:
        """7 (``CHECK_FAILED``) when the card declares a version an endpoint rejects, else 0."""
        return self.fingerprint.exit

    def to_json(self) -> dict[str, Any]:
        """The fingerprint document (``Fingerprint.to_json``) with ``notes`` last."""
        return {**self.fingerprint.to_json(), "notes": self.notes}
