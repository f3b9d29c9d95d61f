"""A finding of ``caps validate``: one problem at an RFC 6901 JSON pointer in the card, with its
severity and the A2A specification section that defines that part of the card.

Sections: v1.0 a2a-protocol.org/v1.0.0/specification §4.4 "Agent Discovery Objects" and §4.5
"Security Objects"; v0.3 a2a-protocol.org/v0.3.0/specification §5.5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
        """``{"kind", "severity", "pointer", "message", "section", "schema", "check"}``."""
        return {
            "kind": self.kind,
            "severity": self.severity,
            "pointer": self.pointer,
            "message": self.message,
            "section": self.section,
            "schema": self.schema,
            "check": self.check,
        }
