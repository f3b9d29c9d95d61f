"""Reading an AgentCard of any version into one normalised view (``parse_card`` → ``CardView``).

Sources (spec v0.3.0 §5.5 ``AgentCard``; v1.0 ``specification/a2a.proto`` ``AgentCard``,
``AgentInterface``): v0.2.x/v0.3.0 cards carry ``url`` + ``preferredTransport`` (default ``JSONRPC``)
+ ``additionalInterfaces[{url, transport}]`` + top-level ``protocolVersion``; v1.0 cards carry
``supportedInterfaces[{url, protocolBinding, protocolVersion, tenant}]`` (first = preferred, spec v1.0
§5.8). Hybrid cards (both SDKs with 0.3 compat on) carry both sets. The upgrade rules follow a2a-sdk's
``a2a/client/card_resolver.py`` (``security`` → ``securityRequirements``, scheme ``type`` → wrapper key,
``supportsAuthenticatedExtendedCard`` → ``capabilities.extendedAgentCard``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from a2actl.protocol.versions import (
    Family,
    family_of,
    normalise_binding,
)

_V1_SCHEME_KEYS = {
    "apiKeySecurityScheme": "apiKey",
    "httpAuthSecurityScheme": "http",
    "oauth2SecurityScheme": "oauth2",
    "openIdConnectSecurityScheme": "openIdConnect",
    "mtlsSecurityScheme": "mutualTLS",
}


@dataclass(frozen=True)
class Interface:
    """One callable endpoint declared by a card.

    ``protocol_binding`` is the binding's canonical name (``normalise_binding``: ``jsonrpc`` →
    ``JSONRPC``); ``declared_binding`` the string the card spells it with, unchanged (``None`` when the
    card gives none and the default applies, or gives a non-string); ``protocol_version`` is the string
    the card declares (may be ``None`` on old cards); ``family`` its wire family; ``source`` which card
    field declared it.
    """

    url: str
    protocol_binding: str
    protocol_version: str | None
    family: Family | None
    source: str
    tenant: str | None = None
    declared_binding: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The interface as JSON (camelCase keys; ``family`` as its version string)."""
        return {
            "url": self.url,
            "protocolBinding": self.protocol_binding,
            "protocolVersion": self.protocol_version,
            "family": self.family.value if self.family else None,
            "tenant": self.tenant,
            "source": self.source,
        }


@dataclass(frozen=True)
class Skill:
    """One ``skills[]`` entry of a card, normalised (missing strings are ``""``, lists ``[]``)."""

    id: str
    name: str
    description: str
    tags: list[str]
    examples: list[str]
    input_modes: list[str]
    output_modes: list[str]


@dataclass(frozen=True)
class CardView:
    """The normalised view of an AgentCard of any version. ``shape`` is one of ``1.0``, ``0.3``,
    ``0.2``, ``hybrid`` (1.0 and 0.x fields together) or ``unknown``. ``warnings`` are one-line notes
    about what could not be read; the raw card is kept by the caller alongside this view."""

    name: str | None
    description: str | None
    version: str | None
    provider: dict[str, Any] | None
    shape: str
    interfaces: list[Interface]
    capabilities: dict[str, Any]
    skills: list[Skill]
    default_input_modes: list[str]
    default_output_modes: list[str]
    security_schemes: dict[str, dict[str, Any]]
    security_requirements: list[dict[str, list[str]]]
    extensions: list[dict[str, Any]]
    documentation_url: str | None = None
    icon_url: str | None = None
    signed: bool = False
    warnings: list[str] = field(default_factory=list)

    def declared_families(self) -> list[str]:
        """Wire families the card declares, newest first (``["1.0", "0.3"]``)."""
        fams = {i.family for i in self.interfaces if i.family}
        return [f.value for f in (Family.V1_0, Family.V0_3, Family.V0_2) if f in fams]

    def to_json(self) -> dict[str, Any]:
        """The normalised card as the ``normalized`` member of ``card get -o json`` (``docs/output-formats.md``)."""
        return {
            "name": self.name,
            "description": self.description,
            "version": self.version,
            "provider": self.provider,
            "shape": self.shape,
            "declaredVersions": self.declared_families(),
            "interfaces": [i.to_json() for i in self.interfaces],
            "capabilities": self.capabilities,
            "skills": [
                {
                    "id": s.id,
                    "name": s.name,
                    "description": s.description,
                    "tags": s.tags,
                    "examples": s.examples,
                    "inputModes": s.input_modes,
                    "outputModes": s.output_modes,
                }
                for s in self.skills
            ],
            "defaultInputModes": self.default_input_modes,
            "defaultOutputModes": self.default_output_modes,
            "securitySchemes": self.security_schemes,
            "securityRequirements": self.security_requirements,
            "extensions": self.extensions,
            "documentationUrl": self.documentation_url,
            "iconUrl": self.icon_url,
            "signed": self.signed,
            "warnings": self.warnings,
        }


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _str_list(v: Any) -> list[str]:
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def _scheme_v1_to_flat(name: str, raw: Any, warnings: list[str]) -> dict[str, Any]:
    """Flatten a 1.0 wrapper (``{"httpAuthSecurityScheme": {...}}``) or a 0.x OpenAPI-style scheme
    (``{"type": "http", ...}``) into ``{"type": ..., **fields}``."""
    if not isinstance(raw, dict):
        warnings.append(f"securitySchemes.{name} is not an object")
        return {"type": "unknown"}
    if "type" in raw:  # 0.x OpenAPI style
        flat = dict(raw)
        if "in" in flat:
            flat["location"] = flat.pop("in")
        return flat
    for key, typ in _V1_SCHEME_KEYS.items():
        if key in raw and isinstance(raw[key], dict):
            return {"type": typ, **raw[key]}
    warnings.append(f"securitySchemes.{name} has no known scheme type")
    return {"type": "unknown"}


def _requirements(raw_card: dict[str, Any]) -> list[dict[str, list[str]]]:
    """``securityRequirements`` (1.0: ``[{"schemes": {"x": {"list": [...]}}}]``) or ``security``
    (0.x: ``[{"x": [...]}]``) as a list of ``{scheme: [scopes]}``."""
    out: list[dict[str, list[str]]] = []
    v1 = raw_card.get("securityRequirements")
    if isinstance(v1, list):
        for req in v1:
            if isinstance(req, dict) and isinstance(req.get("schemes"), dict):
                out.append(
                    {
                        k: _str_list(v.get("list") if isinstance(v, dict) else v)
                        for k, v in req["schemes"].items()
                    }
                )
        if out:
            return out
    v0 = raw_card.get("security")
    if isinstance(v0, list):
        for req in v0:
            if isinstance(req, dict):
                out.append({k: _str_list(v) for k, v in req.items()})
    return out


def parse_card(raw: Any) -> CardView:
    """Normalise a decoded AgentCard JSON object of any version.

    Raises ``ValueError`` when ``raw`` is not a JSON object. Missing or wrongly typed fields do not
    raise: they become ``None``/empty values plus a line in ``warnings`` (schema validation is the
    job of ``caps validate``).
    """
    if not isinstance(raw, dict):
        raise ValueError(f"an agent card must be a JSON object, got {type(raw).__name__}")
    warnings: list[str] = []
    interfaces: list[Interface] = []
    seen: set[tuple[str, str, Family | None]] = set()

    def add(url: Any, binding: Any, version: Any, source: str, tenant: Any = None) -> None:
        if not isinstance(url, str) or not url:
            warnings.append(f"{source}: interface without a url")
            return
        b = normalise_binding(_str(binding))
        fam = family_of(_str(version))
        if version is not None and fam is None:
            warnings.append(f"{source}: unrecognised protocolVersion {version!r}")
        key = (url.rstrip("/"), b, fam)
        if key in seen:
            return
        seen.add(key)
        interfaces.append(
            Interface(
                url=url,
                protocol_binding=b,
                protocol_version=_str(version),
                family=fam,
                source=source,
                tenant=_str(tenant) or None,
                declared_binding=binding if isinstance(binding, str) else None,
            )
        )

    has_v1 = isinstance(raw.get("supportedInterfaces"), list)
    has_v0 = "url" in raw or "protocolVersion" in raw or "preferredTransport" in raw
    if has_v1:
        for idx, iface in enumerate(raw["supportedInterfaces"]):
            if not isinstance(iface, dict):
                warnings.append(f"supportedInterfaces[{idx}] is not an object")
                continue
            add(
                iface.get("url"),
                iface.get("protocolBinding"),
                iface.get("protocolVersion"),
                f"supportedInterfaces[{idx}]",
                iface.get("tenant"),
            )
    top_version = raw.get("protocolVersion")
    if has_v0:
        if top_version is None:
            warnings.append("protocolVersion missing (required since v0.2.5); assuming 0.3")
        version = top_version if top_version is not None else "0.3"
        add(raw.get("url"), raw.get("preferredTransport"), version, "url")
        extra = raw.get("additionalInterfaces")
        if isinstance(extra, list):
            for idx, iface in enumerate(extra):
                if isinstance(iface, dict):
                    add(iface.get("url"), iface.get("transport"), version, f"additionalInterfaces[{idx}]")

    fam_top = family_of(_str(top_version))
    if has_v1 and has_v0:
        shape = "hybrid"
    elif has_v1:
        shape = "1.0"
    elif has_v0:
        shape = "0.2" if fam_top is Family.V0_2 else "0.3"
    else:
        shape = "unknown"
        warnings.append("no interfaces: neither supportedInterfaces (1.0) nor url (0.x)")

    caps_val = raw.get("capabilities")
    caps_raw: dict[str, Any] = caps_val if isinstance(caps_val, dict) else {}
    extensions = (
        [e for e in caps_raw.get("extensions", []) if isinstance(e, dict)]
        if isinstance(caps_raw.get("extensions"), list)
        else []
    )
    capabilities: dict[str, Any] = {
        "streaming": bool(caps_raw.get("streaming", False)),
        "pushNotifications": bool(caps_raw.get("pushNotifications", False)),
        "extendedAgentCard": bool(
            caps_raw.get("extendedAgentCard", raw.get("supportsAuthenticatedExtendedCard", False))
        ),
    }
    if "stateTransitionHistory" in caps_raw:  # removed in 1.0 (a2aproject/A2A#1396), kept for display
        capabilities["stateTransitionHistory"] = bool(caps_raw["stateTransitionHistory"])

    skills: list[Skill] = []
    skills_raw = raw.get("skills")
    if skills_raw is not None and not isinstance(skills_raw, list):
        warnings.append("skills is not a list")
    for idx, s in enumerate(skills_raw if isinstance(skills_raw, list) else []):
        if not isinstance(s, dict):
            warnings.append(f"skills[{idx}] is not an object")
            continue
        skills.append(
            Skill(
                id=_str(s.get("id")) or f"#{idx}",
                name=_str(s.get("name")) or "",
                description=_str(s.get("description")) or "",
                tags=_str_list(s.get("tags")),
                examples=_str_list(s.get("examples")),
                input_modes=_str_list(s.get("inputModes")),
                output_modes=_str_list(s.get("outputModes")),
            )
        )

    schemes_val = raw.get("securitySchemes")
    schemes_raw: dict[str, Any] = schemes_val if isinstance(schemes_val, dict) else {}
    schemes = {name: _scheme_v1_to_flat(name, v, warnings) for name, v in schemes_raw.items()}
    provider = raw.get("provider") if isinstance(raw.get("provider"), dict) else None

    return CardView(
        name=_str(raw.get("name")),
        description=_str(raw.get("description")),
        version=_str(raw.get("version")),
        provider=provider,
        shape=shape,
        interfaces=interfaces,
        capabilities=capabilities,
        skills=skills,
        default_input_modes=_str_list(raw.get("defaultInputModes")),
        default_output_modes=_str_list(raw.get("defaultOutputModes")),
        security_schemes=schemes,
        security_requirements=_requirements(raw),
        extensions=extensions,
        documentation_url=_str(raw.get("documentationUrl")),
        icon_url=_str(raw.get("iconUrl")),
        signed=bool(raw.get("signatures")),
        warnings=warnings,
    )


__all__ = [
    "CardView",
    "Interface",
    "Skill",
    "parse_card",
]
