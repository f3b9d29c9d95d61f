"""Expectation files for ``caps diff --expect FILE``.

A file is recognised by its content (``docs/caps.md``):

* a **snapshot** (``"a2actlSnapshot": 1``, what ``caps snapshot`` writes): diffed field by field;
* a **JSON Schema** (has ``$schema``): the target's *snapshot* must validate against it, so one
  schema works for 0.3 and 1.0 cards alike; every violation is a breaking change at its pointer;
* a **requirements document** (``"a2actlRequirements": 1``): what the target must at least offer;
  every unmet requirement is a breaking change;
* an **agent card** of any version: snapshotted, then diffed like a snapshot.

Requirements document (every key optional; unknown keys are a usage error)::

    {"a2actlRequirements": 1,
     "skills": ["summarize"],                      # skill ids that must exist
     "capabilities": {"streaming": true},          # exact values
     "protocolVersion": ">=1.0",                   # some interface speaks a matching version
     "bindings": ["JSONRPC"],                      # each must be declared
     "interfaces": [{"binding": "JSONRPC", "protocolVersion": ">=1.0"}],   # one interface with both
     "defaultInputModes": ["text/plain"], "defaultOutputModes": ["text/plain"],
     "extensions": ["https://example.com/ext/v1"], # each must be declared
     "maxRequiredExtensions": 0,                   # at most this many required extensions
     "security": "none" | "any"}                   # none: no auth required; any: auth required
"""

from __future__ import annotations

import re
from typing import Any

from a2actl.caps.diff import BREAKING, Change, diff_snapshots
from a2actl.caps.snapshot import (
    check_document_version,
    check_snapshot_shape,
    check_snapshot_version,
    is_snapshot,
    snapshot,
)
from a2actl.core.errors import UsageError
from a2actl.core.pointer import pointer_token

REQUIREMENTS_KEY = "a2actlRequirements"
REQUIREMENTS_VERSION = 1
_REQ_KEYS = {
    REQUIREMENTS_KEY,
    "skills",
    "capabilities",
    "protocolVersion",
    "bindings",
    "interfaces",
    "defaultInputModes",
    "defaultOutputModes",
    "extensions",
    "maxRequiredExtensions",
    "security",
    "description",
    "$comment",
}
_VERSION_SPEC = re.compile(r"^\s*(>=|<=|==|>|<|=)?\s*(\d+)\.(\d+)(?:\.\d+)?\s*$")


def looks_like_card(doc: Any) -> bool:
    """Whether ``doc`` has an agent card's shape, of any version: an object with ``name`` and
    ``supportedInterfaces`` (1.0), ``url`` (0.x) or ``skills``."""
    return (
        isinstance(doc, dict)
        and "name" in doc
        and any(k in doc for k in ("supportedInterfaces", "url", "skills"))
    )


def kind_of(doc: Any, source: str = "the expectation") -> str:
    """``snapshot``, ``jsonSchema``, ``requirements`` or ``card``. Raises ``UsageError`` (exit 2) for
    anything else, and for a snapshot or requirements document of a version this a2actl does not
    read."""
    check_snapshot_version(doc, source)
    check_document_version(doc, REQUIREMENTS_KEY, REQUIREMENTS_VERSION, "requirements document", source)
    if is_snapshot(doc):
        check_snapshot_shape(doc, source)
        return "snapshot"
    if isinstance(doc, dict) and REQUIREMENTS_KEY in doc:
        return "requirements"
    if isinstance(doc, dict) and "$schema" in doc:
        return "jsonSchema"
    if looks_like_card(doc):
        return "card"
    raise UsageError(
        "the expectation is neither a snapshot, a JSON Schema ($schema), a requirements document "
        f"({REQUIREMENTS_KEY}) nor an agent card",
        hint="write one with 'a2actl caps snapshot TARGET > expected.json'; formats: docs/caps.md",
    )


def parse_version_spec(spec: Any, where: str) -> tuple[str, tuple[int, int]]:
    """``">=1.0"`` → ``(">=", (1, 0))``. Raises ``UsageError`` for anything else."""
    m = _VERSION_SPEC.match(spec) if isinstance(spec, str) else None
    if not m:
        raise UsageError(
            f"{where}: {spec!r} is not a version requirement",
            hint='use e.g. "1.0", ">=1.0" or "<1.0" (operators >=, >, ==, <=, <)',
        )
    op = m.group(1) or "=="
    return ("==" if op == "=" else op), (int(m.group(2)), int(m.group(3)))


def _version_ok(version: str, op: str, want: tuple[int, int]) -> bool:
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        return False
    have = (major, minor)
    return {">=": have >= want, ">": have > want, "==": have == want, "<=": have <= want, "<": have < want}[
        op
    ]


def _str_list(doc: dict[str, Any], key: str) -> list[str]:
    v = doc.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise UsageError(f"requirements: {key!r} must be a list of strings")
    return v


def check_requirements(req: dict[str, Any], snap: dict[str, Any]) -> list[Change]:
    """Unmet requirements of ``req`` by snapshot ``snap``, each a breaking ``Change`` whose path
    points into the snapshot. Raises ``UsageError`` for a malformed requirements document."""
    unknown = sorted(set(req) - _REQ_KEYS)
    if unknown:
        raise UsageError(
            f"requirements: unknown key(s) {', '.join(map(repr, unknown))}",
            hint="known keys: " + ", ".join(sorted(_REQ_KEYS - {"$comment", "description"})),
        )
    out: list[Change] = []

    def miss(path: str, wanted: Any, actual: Any, reason: str) -> None:
        out.append(Change(path, "removed" if actual is None else "changed", wanted, actual, BREAKING, reason))

    for sid in _str_list(req, "skills"):
        if sid not in snap["skills"]:
            miss(f"/skills/{pointer_token(sid)}", sid, None, f"required skill {sid!r} is missing")
    caps = req.get("capabilities", {})
    if not isinstance(caps, dict):
        raise UsageError("requirements: 'capabilities' must be an object like {\"streaming\": true}")
    for name, want in caps.items():
        have = snap["capabilities"].get(name)
        if have != want:
            miss(f"/capabilities/{name}", want, have, f"capabilities.{name} must be {want!r}, is {have!r}")
    families = snap["protocolVersions"]
    if "protocolVersion" in req:
        op, want = parse_version_spec(req["protocolVersion"], "requirements: protocolVersion")
        if not any(_version_ok(f, op, want) for f in families):
            miss(
                "/protocolVersions",
                req["protocolVersion"],
                families,
                f"no interface speaks protocol version {req['protocolVersion']} (declared: {', '.join(families) or 'none'})",
            )
    for binding in _str_list(req, "bindings"):
        if binding not in snap["bindings"]:
            miss("/bindings", binding, snap["bindings"], f"binding {binding} is not declared")
    wanted_ifaces = req.get("interfaces", [])
    if not isinstance(wanted_ifaces, list):
        raise UsageError("requirements: 'interfaces' must be a list of {binding, protocolVersion}")
    for idx, wi in enumerate(wanted_ifaces):
        if not isinstance(wi, dict) or not set(wi) <= {"binding", "protocolVersion"}:
            raise UsageError(
                f"requirements: interfaces[{idx}] must be an object with binding and/or protocolVersion"
            )
        spec = (
            parse_version_spec(wi["protocolVersion"], f"requirements: interfaces[{idx}].protocolVersion")
            if "protocolVersion" in wi
            else None
        )
        found = False
        for key in snap["interfaces"]:
            binding, _, fam = key.rpartition("@")  # a binding URI may hold "@"; the family never does
            if wi.get("binding") not in (None, binding):
                continue
            if spec is not None and not _version_ok(fam, *spec):
                continue
            found = True
        if not found:
            miss(
                "/interfaces",
                wi,
                sorted(snap["interfaces"]),
                f"no interface with {' '.join(f'{k}={v}' for k, v in wi.items())}",
            )
    for key in ("defaultInputModes", "defaultOutputModes"):
        for mode in _str_list(req, key):
            if mode not in snap[key]:
                miss(f"/{key}", mode, snap[key], f"{key} lacks {mode}")
    for uri in _str_list(req, "extensions"):
        if uri not in snap["extensions"]:
            miss(f"/extensions/{pointer_token(uri)}", uri, None, f"extension {uri} is not declared")
    if "maxRequiredExtensions" in req:
        limit = req["maxRequiredExtensions"]
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise UsageError("requirements: 'maxRequiredExtensions' must be a non-negative integer")
        required = sorted(u for u, e in snap["extensions"].items() if e.get("required"))
        if len(required) > limit:
            miss(
                "/extensions",
                limit,
                required,
                f"{len(required)} required extension(s), at most {limit} allowed",
            )
    if "security" in req:
        mode = req["security"]
        if mode not in ("none", "any"):
            raise UsageError('requirements: \'security\' must be "none" or "any"')
        reqs = snap["securityRequirements"]
        if mode == "none" and reqs:
            miss(
                "/securityRequirements",
                [],
                reqs,
                "the agent requires authentication; the requirements say none",
            )
        if mode == "any" and not reqs:
            miss(
                "/securityRequirements",
                "any",
                [],
                "the agent requires no authentication; the requirements say it must",
            )
    return out


def check_schema(schema: dict[str, Any], snap: dict[str, Any]) -> list[Change]:
    """Violations of a user JSON Schema by snapshot ``snap``, each a breaking ``Change``. Raises
    ``UsageError`` (exit 2) when the schema itself is invalid, and for a ``$ref`` that cannot be
    resolved within the schema, or to the published JSON Schema meta-schemas: a ``$ref`` to another
    document (a URL, a file) is never fetched. jsonschema's default registry fetches such a URL
    with ``urllib``, without a timeout, in the event loop: a URL that never answered hung the command
    past ``--max-time`` and Ctrl-C/SIGTERM, and one that answered was used unseen."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for
    from referencing import Registry
    from referencing.exceptions import Unresolvable

    from a2actl.core.pointer import to_pointer

    if not isinstance(schema.get("$schema"), str):
        raise UsageError("the expectation JSON Schema is invalid: '$schema' must be a string (a URI)")
    cls = validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise UsageError(f"the expectation JSON Schema is invalid: {exc.message}") from None
    out = []
    try:
        # a registry that retrieves nothing (jsonschema adds the bundled meta-schemas to it)
        for err in cls(schema, registry=Registry()).iter_errors(snap):
            path = to_pointer(err.absolute_path)
            actual = err.instance if not isinstance(err.instance, (dict, list)) else None
            out.append(Change(path, "changed", None, actual, BREAKING, f"schema: {err.message[:200]}"))
    except Unresolvable as exc:  # a $ref to nowhere, or to another document (never fetched)
        raise UsageError(
            f"the expectation JSON Schema has a $ref that cannot be resolved: {exc}",
            hint="a $ref to another document (a URL, a file) is never fetched: put it under $defs",
        ) from None
    except RecursionError:  # "$ref": "#", or refs that only lead to each other
        raise UsageError(
            "the expectation JSON Schema refers to itself without end (a $ref cycle that never reaches a check)"
        ) from None
    return sorted(out, key=lambda c: c.path)


def compare(
    expectation: Any, target_snapshot: dict[str, Any], source: str = "the expectation"
) -> tuple[str, list[Change]]:
    """Compare a target snapshot with an expectation document of any supported kind; returns
    ``(kind, changes)``, URL credentials masked in them (``diff_snapshots``; a requirements document
    or JSON Schema is checked against the masked snapshot). Raises ``UsageError`` for an
    unrecognised or malformed expectation."""
    from a2actl.core.redact import mask_urls_in_json

    kind = kind_of(expectation, source)
    if kind == "snapshot":
        return kind, diff_snapshots(expectation, target_snapshot)
    if kind == "card":
        return kind, diff_snapshots(snapshot(expectation), target_snapshot)
    # checked with URL credentials masked, as a diff shows them: a schema message quotes the value
    masked = mask_urls_in_json(target_snapshot)
    if kind == "requirements":
        return kind, check_requirements(expectation, masked)
    return kind, check_schema(expectation, masked)
