"""``caps snapshot``: a normalised, sorted, stable capability document for any card version.

The same agent gives the same snapshot whether its card is 0.2, 0.3, 1.0 or hybrid, so a snapshot
committed today still diffs cleanly after a migration. The shape (``a2actlSnapshot: 1``) is
documented in ``docs/caps.md``; keyed maps replace card lists so diffs get stable JSON-pointer paths:

* ``interfaces``: ``{"JSONRPC@1.0": {"url", "tenant", "preferred", "bindingSpelling"}}`` keyed by
  canonical binding and wire family (``preferred`` marks the card's first interface, spec v1.0
  §4.4.1 ``supportedInterfaces``; ``bindingSpelling`` is the binding name exactly as the card wrote
  it, ``jsonrpc`` for a ``JSONRPC@…`` key, or the canonical name when the card gives none: binding
  names are case-sensitive, v1.0 §4.4.6. Snapshots written before it lack it; ``caps diff`` then
  does not compare it).
* ``skills``: ``{id: {...}}`` (of two skills with one id the first; the id is then listed in
  ``duplicateSkillIds``, a member present only then); ``extensions``: ``{uri: {...}}``;
  ``securitySchemes``: ``{name: {...}}``.
* Every list is a set, sorted: modes, tags, examples, protocol versions, bindings, and the security
  requirements (each ``{scheme: [scopes]}``, an OR of ANDs as in spec v1.0 §4.5).

Left out as volatile: the agent's ``version`` string (changes every deploy), the ``signatures``
themselves (they change on every signing; only their key ids are kept, as ``signatureKids``, and
only on a signed card, so older snapshots and unsigned cards compare as before), the exact ``protocolVersion`` spelling (``1.0`` vs ``1.0.0``: only the family
counts) and the card's shape (hybrid vs pure depends on the request for some SDKs).
"""

from __future__ import annotations

import json
from typing import Any

from a2actl.protocol.card import CardView, parse_card

SNAPSHOT_KEY = "a2actlSnapshot"
SNAPSHOT_VERSION = 1


def _set(values: Any) -> list[Any]:
    """A list of JSON values as a sorted, de-duplicated list (sorted by canonical JSON text)."""
    if not isinstance(values, list):
        return []
    seen: dict[str, Any] = {}
    for v in values:
        seen.setdefault(json.dumps(v, sort_keys=True, ensure_ascii=False), v)
    return [seen[k] for k in sorted(seen)]


def _requirements(reqs: list[dict[str, list[str]]]) -> list[dict[str, list[str]]]:
    return _set([{k: sorted(set(v)) for k, v in sorted(r.items())} for r in reqs])


def _skill_requirements(raw_skill: Any) -> list[dict[str, list[str]]]:
    """Per-skill ``securityRequirements`` (1.0) or ``security`` (0.3) as ``[{scheme: [scopes]}]``."""
    if not isinstance(raw_skill, dict):
        return []
    out: list[dict[str, list[str]]] = []
    v1 = raw_skill.get("securityRequirements")
    if isinstance(v1, list):
        for req in v1:
            if isinstance(req, dict) and isinstance(req.get("schemes"), dict):
                out.append(
                    {
                        str(k): [
                            s
                            for s in (v.get("list") if isinstance(v, dict) else v) or []
                            if isinstance(s, str)
                        ]
                        if isinstance(v, (dict, list))
                        else []
                        for k, v in req["schemes"].items()
                    }
                )
    v0 = raw_skill.get("security")
    if not out and isinstance(v0, list):
        for req in v0:
            if isinstance(req, dict):
                out.append(
                    {
                        str(k): [s for s in v if isinstance(s, str)] if isinstance(v, list) else []
                        for k, v in req.items()
                    }
                )
    return _requirements(out)


def snapshot_view(view: CardView, raw: dict[str, Any]) -> dict[str, Any]:
    """The snapshot document of a parsed card (``raw`` is needed for per-skill security). Skills are
    keyed by id: of several skills with one id (a card error, ``caps validate``'s
    ``duplicate-skill-id``) the first is kept and the id is listed in ``duplicateSkillIds`` (sorted;
    the member is absent when every id is unique, so older snapshots compare as before)."""
    interfaces: dict[str, Any] = {}
    for pos, iface in enumerate(view.interfaces):
        fam = iface.family.value if iface.family else "unknown"
        key = f"{iface.protocol_binding}@{fam}"
        if key in interfaces:
            continue  # the same binding+family twice: the first (preferred) one counts
        interfaces[key] = {
            "url": iface.url,
            "tenant": iface.tenant,
            "preferred": pos == 0,
            # the name as the card spells it: clients match binding names exactly (a2a-sdk), so
            # "jsonrpc" is no JSONRPC interface to them, while the key holds the canonical name
            "bindingSpelling": iface.declared_binding
            if iface.declared_binding is not None
            else iface.protocol_binding,
        }
    raw_skills: dict[str, Any] = {}
    if isinstance(raw.get("skills"), list):
        for idx, s in enumerate(raw["skills"]):
            sid = s.get("id") if isinstance(s, dict) else None
            raw_skills.setdefault(sid if isinstance(sid, str) else f"#{idx}", s)
    skills: dict[str, Any] = {}
    duplicates: set[str] = set()
    for s in view.skills:
        if s.id in skills:
            duplicates.add(s.id)  # clients see one skill per id; the first is kept, the id is listed
            continue
        skills[s.id] = {
            "name": s.name,
            "description": s.description,
            "tags": _set(s.tags),
            "examples": _set(s.examples),
            # Effective modes: a skill without its own modes inherits the card defaults (spec v1.0 §4.4.5).
            "inputModes": _set(s.input_modes or view.default_input_modes),
            "outputModes": _set(s.output_modes or view.default_output_modes),
            "securityRequirements": _skill_requirements(raw_skills.get(s.id)),
        }
    extensions: dict[str, Any] = {}
    for ext in view.extensions:
        uri = ext.get("uri")
        if isinstance(uri, str) and uri not in extensions:
            extensions[uri] = {
                "required": bool(ext.get("required", False)),
                "description": ext.get("description") if isinstance(ext.get("description"), str) else None,
                "params": ext.get("params") if isinstance(ext.get("params"), dict) else None,
            }
    caps = {
        k: bool(view.capabilities.get(k, False))
        for k in ("streaming", "pushNotifications", "extendedAgentCard")
    }
    provider = None
    if view.provider:
        provider = {k: v for k, v in sorted(view.provider.items()) if isinstance(v, str)}
    doc: dict[str, Any] = {
        SNAPSHOT_KEY: SNAPSHOT_VERSION,
        "name": view.name,
        "description": view.description,
        "provider": provider,
        "documentationUrl": view.documentation_url,
        "iconUrl": view.icon_url,
        # split at the last "@": a binding is a name or URI and may hold one (the family never does)
        "protocolVersions": sorted({k.rsplit("@", 1)[1] for k in interfaces}),
        "bindings": sorted({k.rsplit("@", 1)[0] for k in interfaces}),
        "interfaces": dict(sorted(interfaces.items())),
        "capabilities": caps,
        "extensions": dict(sorted(extensions.items())),
        "defaultInputModes": _set(view.default_input_modes),
        "defaultOutputModes": _set(view.default_output_modes),
        "skills": dict(sorted(skills.items())),
        "securitySchemes": {k: dict(sorted(v.items())) for k, v in sorted(view.security_schemes.items())},
        "securityRequirements": _requirements(view.security_requirements),
    }
    if duplicates:
        doc["duplicateSkillIds"] = sorted(duplicates)
    return doc


def snapshot(raw: Any) -> dict[str, Any]:
    """The snapshot of a decoded card of any version. Never raises: a non-object gives an empty
    snapshot (every field empty/None), so ``diff`` still has something to compare. A signed card
    (spec v1.0 §8.4) adds ``signatureKids``: the sorted key ids of its well-formed signatures."""
    from a2actl.caps.signature import signature_kids

    if not isinstance(raw, dict):
        raw = {}
    snap = snapshot_view(parse_card(raw), raw)
    kids = signature_kids(raw)
    if kids:
        snap["signatureKids"] = kids
    return snap


def duplicate_skill_notes(doc: Any) -> list[str]:
    """A note for a diff side whose snapshot ``doc`` lists ``duplicateSkillIds`` (``[]`` otherwise):
    the skills after the first with each id are not compared."""
    ids = doc.get("duplicateSkillIds") if isinstance(doc, dict) else None
    if not isinstance(ids, list) or not ids:
        return []
    shown = ", ".join(repr(i) for i in ids[:5]) + (" …" if len(ids) > 5 else "")
    return [
        f"skill id{'s' if len(ids) > 1 else ''} {shown} name{'' if len(ids) > 1 else 's'} more than one "
        "skill: only the first skill with each id is compared (caps validate: duplicate-skill-id)"
    ]


def masked_snapshot(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of the snapshot ``doc`` for writing out (``caps snapshot``, ``smoke init``): the secrets
    of every URL in it masked (userinfo, credential-like query values: an interface's
    ``http://user:***@host/rpc?token=***``; ``core.redact.mask_urls_in_json``). A snapshot is
    committed next to code, so a card's credentials must not land in it; ``caps diff`` reads the
    masked form back (``a2actl.caps.diff``: only a credential's presence compares then)."""
    from a2actl.core.redact import mask_urls_in_json

    masked: dict[str, Any] = mask_urls_in_json(doc)
    return masked


def is_snapshot(doc: Any) -> bool:
    """True when ``doc`` is an a2actl snapshot document."""
    return isinstance(doc, dict) and _is_version(doc.get(SNAPSHOT_KEY), SNAPSHOT_VERSION)


def _is_version(value: Any, version: int) -> bool:
    """``value == version`` for a JSON integer (``true`` and ``1.0`` are not ``1``)."""
    return type(value) is int and value == version


def check_document_version(doc: Any, key: str, version: int, what: str, source: str) -> None:
    """Raise ``UsageError`` (exit 2) when ``doc`` is an object carrying ``key`` with another value
    than ``version``: a document of another a2actl (newer or older) or a corrupted one, which must
    never be read as something else (a card, whose diff would then be "everything added")."""
    from a2actl.core.errors import UsageError

    if isinstance(doc, dict) and key in doc and not _is_version(doc[key], version):
        raise UsageError(
            f"{source}: {what} version {json.dumps(doc[key], ensure_ascii=False)[:40]} is not supported ({key} {version} is)",
            hint="write it again with this a2actl, or use the a2actl that wrote it; formats: docs/caps.md",
        )


#: The type of each snapshot member a diff walks by structure (``docs/caps.md``): keyed maps whose
#: entries are objects, sets (lists), and plain objects.
_JSON_TYPES = {
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "an object",
}
_SNAPSHOT_MAPS = ("interfaces", "skills", "extensions", "securitySchemes")
_SNAPSHOT_LISTS = (
    "protocolVersions",
    "bindings",
    "defaultInputModes",
    "defaultOutputModes",
    "securityRequirements",
    "signatureKids",
    "duplicateSkillIds",
)


#: The members of a skill, an interface and an extension entry whose type a diff relies on, with
#: the types allowed (``None``: JSON null).
_ENTRY_MEMBERS: dict[str, dict[str, tuple[type | None, ...]]] = {
    "skills": {
        "name": (str, None),
        "description": (str, None),
        "tags": (list,),
        "examples": (list,),
        "inputModes": (list,),
        "outputModes": (list,),
        "securityRequirements": (list,),
    },
    "interfaces": {
        "url": (str, None),
        "tenant": (str, None),
        "preferred": (bool,),
        "bindingSpelling": (str,),
    },
    "extensions": {"required": (bool,), "description": (str, None), "params": (dict, None)},
}
_TYPE_NAMES: dict[type | None, str] = {
    str: "a string",
    list: "a list",
    bool: "a boolean",
    dict: "an object",
    None: "null",
}


def _json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _has_type(value: Any, allowed: tuple[type | None, ...]) -> bool:
    return any(value is None if t is None else type(value) is t for t in allowed)


def _requirements_problem(reqs: list[Any], pointer: str) -> str | None:
    """Where a snapshot's ``securityRequirements`` list (``[{scheme: [scopes]}]``) is not of that
    shape (``"/securityRequirements/0 is a string, not an object"``), else ``None``."""
    from a2actl.core.pointer import pointer_token

    for idx, req in enumerate(reqs):
        if not isinstance(req, dict):
            return f"{pointer}/{idx} is {_json_type(req)}, not an object"
        for scheme, scopes in req.items():
            if not isinstance(scopes, list) or not all(isinstance(x, str) for x in scopes):
                return f"{pointer}/{idx}/{pointer_token(str(scheme))} is not a list of scopes (strings)"
    return None


def check_snapshot_shape(doc: dict[str, Any], source: str) -> None:
    """Raise ``UsageError`` (exit 2) when a snapshot document's members do not have the snapshot's
    types (a hand-edited or corrupted file: ``"skills": [...]`` or ``"interfaces": null``; inside an
    entry, a skill's ``"inputModes": "image/png"``, a security requirement ``"bearer"`` instead of
    ``{"bearer": []}``, a capability ``"true"``), which a diff would report as one "changed" member
    (risky) instead of what was removed. Members may be missing (a hand-written expectation); new
    members are allowed (fields are only ever added)."""
    from a2actl.core.errors import UsageError
    from a2actl.core.pointer import pointer_token

    hint = "write it again with 'a2actl caps snapshot TARGET'; the shape is in docs/caps.md"

    def bad(member: str, want: str) -> UsageError:
        return UsageError(
            f"{source}: not an a2actl snapshot: /{member} is {_json_type(doc[member])}, not {want}", hint=hint
        )

    def bad_at(problem: str) -> UsageError:
        return UsageError(f"{source}: not an a2actl snapshot: {problem}", hint=hint)

    for member in _SNAPSHOT_MAPS:
        if member in doc:
            if not isinstance(doc[member], dict):
                raise bad(member, "an object")
            for key, entry in doc[member].items():
                at = f"/{member}/{pointer_token(str(key))}"
                if not isinstance(entry, dict):
                    raise bad_at(f"{at} is not an object")
                for field, allowed in _ENTRY_MEMBERS.get(member, {}).items():
                    if field in entry and not _has_type(entry[field], allowed):
                        want = " or ".join(_TYPE_NAMES[t] for t in allowed)
                        raise bad_at(f"{at}/{field} is {_json_type(entry[field])}, not {want}")
                reqs = entry.get("securityRequirements") if member == "skills" else None
                if isinstance(reqs, list):
                    problem = _requirements_problem(reqs, f"{at}/securityRequirements")
                    if problem:
                        raise bad_at(problem)
    for member in _SNAPSHOT_LISTS:
        if member in doc and not isinstance(doc[member], list):
            raise bad(member, "a list")
    if isinstance(doc.get("securityRequirements"), list):
        problem = _requirements_problem(doc["securityRequirements"], "/securityRequirements")
        if problem:
            raise bad_at(problem)
    if "capabilities" in doc and not isinstance(doc["capabilities"], dict):
        raise bad("capabilities", "an object")
    for name, value in (doc.get("capabilities") or {}).items():
        if not isinstance(value, bool):
            raise bad_at(f"/capabilities/{pointer_token(str(name))} is {_json_type(value)}, not a boolean")
    if doc.get("provider") is not None and not isinstance(doc["provider"], dict):
        raise bad("provider", "an object or null")


def check_snapshot_version(doc: Any, source: str) -> None:
    """``check_document_version`` for a snapshot (``a2actlSnapshot``)."""
    check_document_version(doc, SNAPSHOT_KEY, SNAPSHOT_VERSION, "snapshot", source)
