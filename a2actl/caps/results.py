"""What the ``caps`` jobs return: one typed result per command, each with ``.exit`` (an
``ExitCode``) and ``.to_json()`` (the ``-o json`` document of ``docs/output-formats.md``).
Exit codes: ``docs/exit-codes.md``; the expectation kinds and change classes: ``docs/caps.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2actl.caps.diff import Change, counts, failed
from a2actl.caps.fingerprint import Fingerprint
from a2actl.caps.signature import INVALID, MALFORMED, UNKNOWN_KEY, VALID, SignatureCheck
from a2actl.caps.validate import ValidationReport
from a2actl.core.exit_codes import ExitCode


@dataclass(frozen=True)
class Source:
    """Where one side of a caps command came from: ``source`` (URL or path; for a URL the one asked
    for), ``kind`` (``url``, ``file``, ``snapshot``, or for a ``--expect`` file the expectation kind:
    ``snapshot``, ``jsonSchema``, ``requirements``, ``card``), the discovery ``notes``, and
    ``final_url``: the URL that served the card when ``-L`` followed redirects to another (its
    credentials masked), else ``None``."""

    source: str
    kind: str
    notes: list[str] = field(default_factory=list)
    final_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"source", "finalUrl", "kind", "notes"}``."""
        return {"source": self.source, "finalUrl": self.final_url, "kind": self.kind, "notes": self.notes}


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
        """``{"source", "finalUrl", "kind", "notes", "live", "shape", "schemas", "strict", "valid",
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


@dataclass(frozen=True)
class SignatureReport:
    """The signatures of one card, each checked (``a2actl.caps.jobs.check_signatures``): ``checks``
    in card order; ``canonical`` the signed bytes (the RFC 8785 form of the card, spec v1.0 §8.4.1)
    and ``sha256`` their hex digest (``None`` for an unsigned card); ``uncovered`` the JSON pointers of
    the card's fields the signature does not cover (v0.3 compatibility and unknown fields)."""

    source: Source
    checks: list[SignatureCheck]
    canonical: bytes | None
    sha256: str | None
    uncovered: list[str]

    @property
    def state(self) -> str:
        """``absent`` (unsigned), ``valid`` (all valid), ``invalid`` (one invalid or malformed) or
        ``unverified-no-key`` (no key for one, none invalid): the state ``caps validate`` reports."""
        statuses = {c.status for c in self.checks}
        if not statuses:
            return "absent"
        if statuses & {INVALID, MALFORMED}:
            return "invalid"
        return "unverified-no-key" if UNKNOWN_KEY in statuses else "valid"

    def counts(self) -> dict[str, int]:
        """Signatures per status: ``{"valid", "invalid", "unknownKey", "malformed"}``."""
        return {
            "valid": sum(c.status == VALID for c in self.checks),
            "invalid": sum(c.status == INVALID for c in self.checks),
            "unknownKey": sum(c.status == UNKNOWN_KEY for c in self.checks),
            "malformed": sum(c.status == MALFORMED for c in self.checks),
        }

    def to_json(self, *, with_canonical: bool = False) -> dict[str, Any]:
        """``{"state", "sha256", "counts", "uncovered", "signatures": [...]}`` (each signature as
        ``SignatureCheck.to_json`` plus its ``sha256``), and ``canonical`` (the signed JSON text) when
        ``with_canonical``."""
        doc: dict[str, Any] = {
            "state": self.state,
            "sha256": self.sha256,
            "counts": self.counts(),
            "uncovered": self.uncovered,
            "signatures": [{**c.to_json(), "sha256": self.sha256} for c in self.checks],
        }
        if with_canonical:
            doc["canonical"] = self.canonical.decode("utf-8") if self.canonical is not None else None
        return doc


@dataclass(frozen=True)
class VerifyResult:
    """``caps verify``: the signature report, whether ``--require-signature`` was given, and whether
    ``-vv`` asked for the canonical JSON."""

    report: SignatureReport
    require_signature: bool
    show_canonical: bool = False

    @property
    def exit(self) -> ExitCode:
        """6 (``PROTOCOL``) when a signature is not a JWS; else 7 (``CHECK_FAILED``) when one is
        invalid or has no known key, or with ``--require-signature`` when there is none; else 0."""
        counts = self.report.counts()
        if counts["malformed"]:
            return ExitCode.PROTOCOL
        if counts["invalid"] or counts["unknownKey"]:
            return ExitCode.CHECK_FAILED
        if self.require_signature and not self.report.checks:
            return ExitCode.CHECK_FAILED
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"source", "finalUrl", "kind", "notes", "requireSignature", "verified", "state", "sha256", "counts",
        "uncovered", "signatures"[, "canonical"]}``; ``verified`` is true when the exit is 0."""
        return {
            **self.report.source.to_json(),
            "requireSignature": self.require_signature,
            "verified": self.exit == ExitCode.OK,
            **self.report.to_json(with_canonical=self.show_canonical),
        }


@dataclass(frozen=True)
class SignResult:
    """``caps sign``: the signed ``card``, where it was written (``out``, ``None``: stdout), the public
    JWK Set file (``jwks_out``), the new signature's ``kid``/``alg``, the ``sha256`` of the signed
    canonical bytes, the number of signatures now on the card and the ``uncovered`` pointers."""

    source: Source
    card: dict[str, Any]
    out: str | None
    jwks_out: str | None
    kid: str
    alg: str
    sha256: str
    signatures: int
    uncovered: list[str]

    @property
    def exit(self) -> ExitCode:
        """Always 0 (``OK``): failures raise before a result exists."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """Without ``--out``: the signed card itself. With it: ``{"source", "finalUrl", "kind", "notes", "out",
        "jwksOut", "kid", "alg", "sha256", "signatures", "uncovered"}``."""
        if self.out is None:
            return self.card
        return {
            **self.source.to_json(),
            "out": self.out,
            "jwksOut": self.jwks_out,
            "kid": self.kid,
            "alg": self.alg,
            "sha256": self.sha256,
            "signatures": self.signatures,
            "uncovered": self.uncovered,
        }
