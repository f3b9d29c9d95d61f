"""``caps validate``: every schema violation of an AgentCard plus operational checks.

Schemas: the shipped JSON Schemas (``a2actl.schemas``) for v0.3 and v1.0, validated with
``jsonschema`` (Draft 2020-12), all errors collected (``iter_errors``), not only the first.
Version choice (``docs/caps.md``, "Which schema"): a 1.0 card is checked against 1.0, a 0.2/0.3 card against
0.3, a hybrid card against both (the open 1.0 schema accepts its v0.3 fields); ``strict`` closes the
1.0 schema (``additionalProperties: false``) and reports the hybrid shape itself.

Operational checks (beyond what a schema can say, in ``a2actl.caps.checks``), each with a stable
``check`` id:

* ``protocol-version``: missing or unparseable ``protocolVersion`` (0.x top level, required since
  v0.2.5; 1.0 per interface, spec v1.0 §4.4.6).
* ``non-routable-url``: an interface URL on ``0.0.0.0``/``[::]`` (nobody can call it), or on
  loopback while the card was served from a non-loopback host.
* ``invalid-url``: an interface URL that is not an absolute http(s) URL (JSON-RPC, HTTP+JSON), or
  an empty one (any binding).
* ``origin-mismatch``: an interface on another origin than the card (a warning; an error with
  ``strict``): legitimate behind API gateways, and a classic cause of calls going to the wrong place.
* ``plaintext-with-security``: ``http://`` interfaces on a card that declares security schemes
  (credentials in clear text; a warning on loopback).
* ``hybrid-card`` (``strict`` only): the card carries both 0.x and 1.0 field sets.
* ``duplicate-key`` (with the card's bytes, ``body``): a member name repeated in one object; an
  error when the values differ (readers disagree on the card), a warning when they are the same.
* ``not-json`` (the card as decoded, and its bytes): ``NaN``/``Infinity`` or a non-UTF-8 encoding,
  which Python's reader takes and strict readers refuse.
* ``binding-spelling``, ``no-standard-interface``, ``version-shape``, ``undeclared-security-scheme``,
  ``security-scheme-shape``, ``duplicate-skill-id`` (``usability_findings``): cards that pass the
  schemas although clients cannot use them (a binding name in another case, only custom bindings, a
  0.x card declaring 1.0, a requirement naming no declared scheme, a 1.0 scheme without its wrapper,
  two skills with one id); severities in ``docs/caps.md``.
* ``capability-contradicted`` (``--live``): see ``a2actl.caps.live``.
* ``signature`` (added by ``caps validate``, ``signature_findings``): the card's signatures (spec v1.0
  §8.4) checked with ``--jwks`` or a same-host https ``jku``: an invalid or malformed one is an error,
  one with no key a warning; an unsigned card is no finding (its state, ``absent``, is reported).

Severity: ``error`` findings fail the command (schema → exit 6, checks → exit 7); ``warning``
findings are shown and never fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from a2actl.caps.checks import (
    duplicate_key_findings,
    not_json_findings,
    operational_findings,
    usability_findings,
)
from a2actl.caps.findings import ERROR, WARNING, Finding, spec_section
from a2actl.caps.signature import SignatureCheck
from a2actl.core.exit_codes import ExitCode
from a2actl.core.pointer import to_pointer
from a2actl.protocol.card import parse_card

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = [
    "MAX_FINDINGS_PER_CHECK",
    "ValidationReport",
    "choose_schemas",
    "schema_findings",
    "signature_findings",
    "validate_card",
]


#: Findings reported per schema version and per check (``caps validate``'s table and ``-o json``):
#: a card with 100,000 bad skills gives 100,000 findings of one kind, which no one reads and which
#: made a document of hundreds of megabytes. The rest are counted (``truncated``), never dropped from
#: ``counts`` or the exit code.
MAX_FINDINGS_PER_CHECK = 100


def _capped(findings: list[Finding], cap: int) -> tuple[list[Finding], list[dict[str, Any]]]:
    """The findings to report (at most ``cap`` per schema version / check id, the first ones, in
    their order) and, for each group that had more, ``{"kind", "schema", "check", "shown",
    "omitted"}`` in order of first appearance."""
    seen: dict[tuple[str, str | None, str | None], int] = {}
    shown: list[Finding] = []
    for f in findings:
        key = (f.kind, f.schema if f.kind == "schema" else None, f.check)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= cap:
            shown.append(f)
    truncated = [
        {"kind": kind, "schema": schema, "check": check, "shown": cap, "omitted": n - cap}
        for (kind, schema, check), n in seen.items()
        if n > cap
    ]
    return shown, truncated


@dataclass
class ValidationReport:
    """The result of ``validate_card``. ``schemas`` lists the wire versions checked."""

    shape: str
    schemas: list[str]
    strict: bool
    findings: list[Finding] = field(default_factory=list)
    #: The signature check (``SignatureReport.to_json``), when the caller ran it (``caps validate``).
    signature: dict[str, Any] | None = None

    @property
    def schema_errors(self) -> list[Finding]:
        """Schema findings of severity ``error`` (they make the command exit 6)."""
        return [f for f in self.findings if f.kind == "schema" and f.severity == ERROR]

    @property
    def check_errors(self) -> list[Finding]:
        """Operational-check findings of severity ``error`` (exit 7 when there is no schema error)."""
        return [f for f in self.findings if f.kind == "check" and f.severity == ERROR]

    @property
    def exit(self) -> ExitCode:
        """6 (``PROTOCOL``) when the card violates a schema, else 7 (``CHECK_FAILED``) when an
        operational check failed, else 0."""
        if self.schema_errors:
            return ExitCode.PROTOCOL
        return ExitCode.CHECK_FAILED if self.check_errors else ExitCode.OK

    def exit_code(self) -> ExitCode:
        """The same as ``exit`` (kept for callers of the function form)."""
        return self.exit

    def to_json(self) -> dict[str, Any]:
        """``{"shape", "schemas", "strict", "valid", "checksPassed", "counts", "findings",
        "truncated"}``, and ``signature`` when the signature check ran. ``findings`` holds at most
        ``MAX_FINDINGS_PER_CHECK`` findings of each schema (``kind`` ``schema``, per ``schema``
        version) and of each check (per ``check`` id), the first ones in order; ``truncated`` lists
        each one that had more, ``{"kind", "schema", "check", "shown", "omitted"}`` (``[]`` when
        none). ``counts``, ``valid`` and ``checksPassed`` count every finding."""
        shown, truncated = _capped(self.findings, MAX_FINDINGS_PER_CHECK)
        doc = {
            "shape": self.shape,
            "schemas": self.schemas,
            "strict": self.strict,
            "valid": not self.schema_errors,
            "checksPassed": not self.check_errors,
            "counts": {
                "schemaErrors": len(self.schema_errors),
                "checkErrors": len(self.check_errors),
                "warnings": sum(1 for f in self.findings if f.severity == WARNING),
            },
            "findings": [f.to_json() for f in shown],
            "truncated": truncated,
        }
        if self.signature is not None:
            doc["signature"] = self.signature
        return doc


def _schema_message(err: ValidationError) -> str:
    """A short message for a ``jsonschema.ValidationError`` (no multi-kilobyte instance reprs)."""
    schema = err.schema if isinstance(err.schema, dict) else {}
    if err.validator == "not" and "oneof" in str(schema.get("$comment", "")):
        return str(schema["$comment"]).replace("oneof", "more than one member of oneof", 1)
    if err.validator in ("anyOf", "oneOf") and err.context:
        from jsonschema.exceptions import best_match

        inner = best_match(err.context)
        return f"matches none of the allowed shapes; closest: {_schema_message(inner)}"
    if err.validator == "additionalProperties":
        return err.message
    msg = err.message
    if len(msg) > 200:
        msg = msg[:197] + "..."
    return msg


#: The message of the 1.0 schema's ``minItems`` on an empty ``supportedInterfaces`` (jsonschema's is
#: "[] should be non-empty"), by whether the card also has the 0.x ``url``.
_EMPTY_INTERFACES = {
    False: "supportedInterfaces is empty: no client can call the agent (a 1.0 card declares at least one "
    "interface)",
    True: "supportedInterfaces is empty: 1.0 clients find no interface to call (only 0.x clients read "
    "url); a 1.0 card declares at least one interface",
}


def schema_findings(card: Any, version: str, *, closed: bool = False) -> list[Finding]:
    """Every violation of the shipped ``version`` schema (``"0.3"`` or ``"1.0"``) by ``card``, in
    document order. Never raises for any JSON value."""
    from jsonschema import Draft202012Validator

    from a2actl.schemas import load_schema

    validator = Draft202012Validator(load_schema(version, closed=closed))
    out = []
    for err in sorted(validator.iter_errors(card), key=lambda e: [str(p) for p in e.absolute_path]):
        path = list(err.absolute_path)
        if err.validator == "required" and isinstance(err.message, str) and err.message.startswith("'"):
            path.append(err.message[1:].split("'", 1)[0])  # point at the missing member itself
        pointer = to_pointer(path)
        message = _schema_message(err)
        if err.validator == "minItems" and path == ["supportedInterfaces"] and err.instance == []:
            message = _EMPTY_INTERFACES[isinstance(card, dict) and "url" in card]
        out.append(Finding("schema", ERROR, pointer, message, spec_section(pointer, version), schema=version))
    return out


def signature_findings(state: str, checks: list[SignatureCheck], problem: str | None = None) -> list[Finding]:
    """The ``signature`` check's findings (spec v1.0 §8.4): an ``error`` per invalid or malformed
    signature (and for ``problem``, a card with no canonical form), a ``warning`` per signature with no
    known key; none for an unsigned card or all-valid signatures. ``state`` is
    ``SignatureReport.state``."""
    section = "v1.0 §8.4 Agent Card Signing"
    if problem is not None:
        return [Finding("check", ERROR, "/signatures", problem, section, check="signature")]
    out = []
    for c in checks:
        if c.status == "valid":
            continue
        severity = WARNING if c.status == "unknown-key" else ERROR
        what = {"unknown-key": "unverified", "malformed": "not a JWS", "invalid": "invalid"}.get(
            c.status, c.status
        )
        kid = f" (kid {c.kid})" if c.kid is not None else ""
        out.append(
            Finding(
                "check",
                severity,
                f"/signatures/{c.index}",
                f"signature {what}{kid}: {c.reason}",
                section,
                check="signature",
            )
        )
    return out


def choose_schemas(shape: str, version: str) -> list[str]:
    """Wire versions whose schemas a card of ``shape`` is checked against (see module docstring)."""
    if version in ("0.3", "1.0"):
        return [version]
    return {"1.0": ["1.0"], "0.3": ["0.3"], "0.2": ["0.3"], "hybrid": ["1.0", "0.3"]}.get(shape, ["1.0"])


def validate_card(
    raw: Any,
    card_url: str | None = None,
    *,
    version: str = "auto",
    strict: bool = False,
    body: bytes | str | None = None,
) -> ValidationReport:
    """Validate a decoded card: schema findings for each chosen wire version, then the operational
    checks. ``version`` is ``auto``, ``0.3`` or ``1.0``; ``card_url`` where the card was served
    (``None`` for files); ``body`` the bytes ``raw`` was decoded from, for the ``duplicate-key``
    check (``None``: not run; ``raw`` itself cannot tell, its reader kept one value). Never raises
    for any JSON value (a non-object is one schema finding)."""
    if not isinstance(raw, dict):
        return ValidationReport(
            "unknown",
            [],
            strict,
            [
                Finding(
                    "schema",
                    ERROR,
                    "",
                    f"an agent card must be a JSON object, not {type(raw).__name__}",
                    spec_section("", "1.0"),
                    schema=version if version != "auto" else "1.0",
                )
            ],
        )
    view = parse_card(raw)
    schemas = choose_schemas(view.shape, version)
    report = ValidationReport(view.shape, schemas, strict)
    for v in schemas:
        report.findings += schema_findings(raw, v, closed=strict and v == "1.0")
    report.findings += operational_findings(raw, view, card_url, strict=strict)
    report.findings += usability_findings(raw, view, strict=strict, schemas=schemas)
    report.findings += not_json_findings(raw, body)
    if body is not None:
        report.findings += duplicate_key_findings(body)
    return report
