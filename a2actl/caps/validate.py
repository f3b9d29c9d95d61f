"""``caps validate``: every schema violation of an AgentCard plus operational checks.

Schemas: the shipped JSON Schemas (``a2actl.schemas``) for v0.3 and v1.0, validated with
``jsonschema`` (Draft 2020-12), all errors collected (``iter_errors``), not only the first.
Version choice (shared doc §3, §14.3): a 1.0 card is checked against 1.0, a 0.2/0.3 card against
0.3, a hybrid card against both (the open 1.0 schema accepts its v0.3 fields); ``strict`` closes the
1.0 schema (``additionalProperties: false``) and reports the hybrid shape itself.

Operational checks (beyond what a schema can say), each with a stable ``check`` id:

* ``protocol-version``: missing or unparseable ``protocolVersion`` (0.x top level, required since
  v0.2.5; 1.0 per interface, spec v1.0 §4.4.6).
* ``non-routable-url``: an interface URL on ``0.0.0.0``/``[::]`` (nobody can call it), or on
  loopback while the card was served from a non-loopback host.
* ``invalid-url``: an interface URL that is not an absolute http(s) URL (JSON-RPC, HTTP+JSON).
* ``origin-mismatch``: an interface on another origin than the card (a warning; an error with
  ``strict``): legitimate behind API gateways, and a classic cause of calls going to the wrong place.
* ``plaintext-with-security``: ``http://`` interfaces on a card that declares security schemes
  (credentials in clear text; a warning on loopback).
* ``hybrid-card`` (``strict`` only): the card carries both 0.x and 1.0 field sets.
* ``capability-contradicted`` (``--live``): see ``a2actl.caps.live``.

Severity: ``error`` findings fail the command (schema → exit 6, checks → exit 7); ``warning``
findings are shown and never fail.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from a2actl.core.exit_codes import ExitCode
from a2actl.core.pointer import to_pointer
from a2actl.protocol.card import CardView, parse_card
from a2actl.protocol.versions import BINDING_HTTP_JSON, BINDING_JSONRPC, family_of

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

ERROR = "error"
WARNING = "warning"

# Spec sections per card area: (v1.0 section, v0.3 section). v1.0: a2a-protocol.org/v1.0.0/specification
# §4.4 "Agent Discovery Objects" and §4.5 "Security Objects"; v0.3: a2a-protocol.org/v0.3.0/specification §5.5.
_SECTIONS: dict[str, tuple[str, str]] = {
    "": ("v1.0 §4.4.1 AgentCard", "v0.3 §5.5 AgentCard"),
    "provider": ("v1.0 §4.4.2 AgentProvider", "v0.3 §5.5.1 AgentProvider"),
    "capabilities": ("v1.0 §4.4.3 AgentCapabilities", "v0.3 §5.5.2 AgentCapabilities"),
    "capabilities/extensions": ("v1.0 §4.4.4 AgentExtension", "v0.3 §5.5.2.1 AgentExtension"),
    "skills": ("v1.0 §4.4.5 AgentSkill", "v0.3 §5.5.4 AgentSkill"),
    "supportedInterfaces": ("v1.0 §4.4.6 AgentInterface", "v1.0 §4.4.6 AgentInterface"),
    "additionalInterfaces": ("v0.3 §5.5.5 AgentInterface", "v0.3 §5.5.5 AgentInterface"),
    "url": ("v0.3 §5.6 transport declaration", "v0.3 §5.6 transport declaration"),
    "preferredTransport": ("v0.3 §5.6 transport declaration", "v0.3 §5.6 transport declaration"),
    "protocolVersion": (
        "v0.3 §5.5 AgentCard (required since v0.2.5)",
        "v0.3 §5.5 AgentCard (required since v0.2.5)",
    ),
    "signatures": ("v1.0 §4.4.7 AgentCardSignature", "v0.3 §5.5.6 AgentCardSignature"),
    "securitySchemes": ("v1.0 §4.5.1 SecurityScheme", "v0.3 §5.5.3 SecurityScheme"),
    "securityRequirements": ("v1.0 §4.5 Security Objects", "v1.0 §4.5 Security Objects"),
    "security": ("v0.3 §5.5 AgentCard.security", "v0.3 §5.5 AgentCard.security"),
}


def spec_section(pointer: str, version: str) -> str:
    """The spec section that defines the card area ``pointer`` points into (``/skills/0/id`` →
    ``v1.0 §4.4.5 AgentSkill``)."""
    parts = [p for p in pointer.split("/") if p]
    keys = []
    if parts:
        keys.append(parts[0])
        if len(parts) >= 2 and parts[0] == "capabilities" and parts[1] == "extensions":
            keys.insert(0, "capabilities/extensions")
    keys.append("")
    for key in keys:
        if key in _SECTIONS:
            v1, v03 = _SECTIONS[key]
            return v1 if version == "1.0" else v03
    return _SECTIONS[""][0 if version == "1.0" else 1]


@dataclass(frozen=True)
class Finding:
    """One problem. ``kind`` is ``schema`` or ``check``; ``pointer`` an RFC 6901 JSON pointer into the
    card; ``section`` the spec section; ``schema`` the wire version whose schema was violated;
    ``check`` the operational check id."""

    kind: str
    severity: str
    pointer: str
    message: str
    section: str
    schema: str | None = None
    check: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "pointer": self.pointer,
            "message": self.message,
            "section": self.section,
            "schema": self.schema,
            "check": self.check,
        }


@dataclass
class ValidationReport:
    """The result of ``validate_card``. ``schemas`` lists the wire versions checked."""

    shape: str
    schemas: list[str]
    strict: bool
    findings: list[Finding] = field(default_factory=list)

    @property
    def schema_errors(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "schema" and f.severity == ERROR]

    @property
    def check_errors(self) -> list[Finding]:
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
        return {
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
            "findings": [f.to_json() for f in self.findings],
        }


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
        out.append(
            Finding(
                "schema", ERROR, pointer, _schema_message(err), spec_section(pointer, version), schema=version
            )
        )
    return out


# ---------------------------------------------------------------------------------------------------
# Operational checks
# ---------------------------------------------------------------------------------------------------


def _host_class(host: str | None) -> str:
    """``unspecified`` (0.0.0.0, ::), ``loopback``, ``private``, ``public`` or ``name``."""
    if not host:
        return "name"
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return "loopback"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "name"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    return "private" if ip.is_private else "public"


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port


def operational_findings(
    raw: dict[str, Any], view: CardView, card_url: str | None, *, strict: bool = False
) -> list[Finding]:
    """The operational checks listed in the module docstring. ``card_url`` is where the card was
    fetched from (``None`` for a file: origin checks are then skipped and loopback URLs only warned
    about). Never raises."""
    out: list[Finding] = []
    sec_v1 = "v1.0 §4.4.6 AgentInterface"

    # protocol-version
    if view.shape in ("0.2", "0.3", "hybrid"):
        top = raw.get("protocolVersion")
        if top is None:
            out.append(
                Finding(
                    "check",
                    ERROR,
                    "/protocolVersion",
                    "protocolVersion is missing (required since v0.2.5); clients must guess the version",
                    spec_section("/protocolVersion", "0.3"),
                    check="protocol-version",
                )
            )
        elif not isinstance(top, str) or family_of(top) is None:
            out.append(
                Finding(
                    "check",
                    ERROR,
                    "/protocolVersion",
                    f"protocolVersion {top!r} is not a known A2A version (0.2.x, 0.3.x, 1.x)",
                    spec_section("/protocolVersion", "0.3"),
                    check="protocol-version",
                )
            )
    for idx, iface in enumerate(
        raw.get("supportedInterfaces") or [] if isinstance(raw.get("supportedInterfaces"), list) else []
    ):
        if not isinstance(iface, dict):
            continue
        pv = iface.get("protocolVersion")
        ptr = f"/supportedInterfaces/{idx}/protocolVersion"
        if pv is None or pv == "":
            out.append(
                Finding(
                    "check",
                    ERROR,
                    ptr,
                    "protocolVersion is missing on this interface",
                    sec_v1,
                    check="protocol-version",
                )
            )
        elif not isinstance(pv, str) or family_of(pv) is None:
            out.append(
                Finding(
                    "check",
                    ERROR,
                    ptr,
                    f'protocolVersion {pv!r} is not a known A2A version (use Major.Minor, e.g. "1.0")',
                    sec_v1,
                    check="protocol-version",
                )
            )

    card_origin = _origin(card_url) if card_url else None
    card_host_class = _host_class(card_origin[1]) if card_origin else None
    has_security = bool(view.security_schemes) or bool(view.security_requirements)
    for iface in view.interfaces:
        ptr = _interface_pointer(iface.source)
        if iface.protocol_binding not in (BINDING_JSONRPC, BINDING_HTTP_JSON):
            continue  # gRPC urls are host:port; custom bindings have their own rules
        origin = _origin(iface.url)
        if origin is None or origin[0] not in ("http", "https"):
            out.append(
                Finding(
                    "check",
                    ERROR,
                    ptr,
                    f"interface url {iface.url!r} is not an absolute http(s) URL",
                    sec_v1,
                    check="invalid-url",
                )
            )
            continue
        host_class = _host_class(origin[1])
        if host_class == "unspecified":
            out.append(
                Finding(
                    "check",
                    ERROR,
                    ptr,
                    f"interface url {iface.url} uses the unspecified address "
                    f"{origin[1]}: a bind address, not one a client can call; advertise the public "
                    "host name",
                    sec_v1,
                    check="non-routable-url",
                )
            )
        elif host_class == "loopback" and card_host_class not in (None, "loopback"):
            out.append(
                Finding(
                    "check",
                    ERROR,
                    ptr,
                    f"interface url {iface.url} is loopback, but the card was "
                    f"served by {card_origin[1] if card_origin else '?'}: remote clients will call "
                    "themselves",
                    sec_v1,
                    check="non-routable-url",
                )
            )
        elif host_class == "loopback" and card_origin is None:
            out.append(
                Finding(
                    "check",
                    WARNING,
                    ptr,
                    f"interface url {iface.url} is loopback: only callable from the agent's own machine",
                    sec_v1,
                    check="non-routable-url",
                )
            )
        if card_origin is not None and origin != card_origin:
            out.append(
                Finding(
                    "check",
                    ERROR if strict else WARNING,
                    ptr,
                    f"interface origin {origin[0]}://{origin[1]}:{origin[2]} differs from the card's "
                    f"{card_origin[0]}://{card_origin[1]}:{card_origin[2]}",
                    sec_v1,
                    check="origin-mismatch",
                )
            )
        if has_security and origin[0] == "http":
            local = host_class == "loopback"
            out.append(
                Finding(
                    "check",
                    WARNING if local else ERROR,
                    ptr,
                    f"interface url {iface.url} is plain http while the card declares security "
                    "schemes: credentials would cross the network in clear text",
                    sec_v1,
                    check="plaintext-with-security",
                )
            )
    if strict and view.shape == "hybrid":
        out.append(
            Finding(
                "check",
                ERROR,
                "",
                "hybrid card: both 0.x fields (url, protocolVersion, ...) and "
                "1.0 supportedInterfaces; accepted by default, rejected with --strict",
                "shared doc §3 (hybrid cards)",
                check="hybrid-card",
            )
        )
    return out


def _interface_pointer(source: str) -> str:
    """``supportedInterfaces[1]`` → ``/supportedInterfaces/1/url``; ``url`` → ``/url``."""
    if "[" in source:
        name, idx = source.rstrip("]").split("[", 1)
        return f"/{name}/{idx}/url"
    return "/" + source


def choose_schemas(shape: str, version: str) -> list[str]:
    """Wire versions whose schemas a card of ``shape`` is checked against (see module docstring)."""
    if version in ("0.3", "1.0"):
        return [version]
    return {"1.0": ["1.0"], "0.3": ["0.3"], "0.2": ["0.3"], "hybrid": ["1.0", "0.3"]}.get(shape, ["1.0"])


def validate_card(
    raw: Any, card_url: str | None = None, *, version: str = "auto", strict: bool = False
) -> ValidationReport:
    """Validate a decoded card: schema findings for each chosen wire version, then the operational
    checks. ``version`` is ``auto``, ``0.3`` or ``1.0``; ``card_url`` where the card was served
    (``None`` for files). Never raises for any JSON value (a non-object is one schema finding)."""
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
    return report
