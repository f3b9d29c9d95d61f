"""Signed Agent Cards (A2A spec v1.0 §8.4): the canonical form, JWS signatures, keys. No I/O beyond
reading the key files it is given, no printing; ``caps verify``/``caps sign`` and ``caps validate``
build on it (``a2actl.caps.jobs``), fetching any JWKS URL through the transport layer.

**What is signed** (spec v1.0 §8.4.1-§8.4.3): the JWS payload is the RFC 8785 (JCS) canonical form of
the card with ``signatures`` excluded and default values removed, carried detached: a card's
``signatures`` entries hold ``protected`` and ``signature`` only (§4.4.7 ``AgentCardSignature``).

"Default values removed" is done exactly as a2a-sdk 1.3 does it (``a2a.utils.signing``:
``_canonicalize_agent_card`` after ``a2a.client.card_resolver.parse_agent_card``), because that is
what its signer produces and its verifier checks (``v1_form``):

1. The card is read as a 1.0 ``AgentCard``: the v0.3 compatibility fields that a2a-sdk's compat mode
   adds (``url``, ``preferredTransport``, ``protocolVersion``, ``additionalInterfaces``, ``security``,
   ``skills[].security``, ``supportsAuthenticatedExtendedCard``, a security scheme's ``type``/``in``
   and flat fields) are mapped to their 1.0 fields when the 1.0 field is missing and dropped
   otherwise; any other field the 1.0 proto does not define is dropped (``ParseDict`` with
   ``ignore_unknown_fields``). One deliberate difference: a security scheme that carries both a 1.0
   wrapper (``httpAuthSecurityScheme``…) and the v0.3 ``type`` keeps its 1.0 wrapper. a2a-sdk
   re-wraps the v0.3 fields there, which loses 1.0-only fields (``pkceRequired``, ``deviceCode``)
   and makes its own verifier reject hybrid cards its own signer signed.
2. Proto3 defaults are dropped as ``MessageToDict`` drops them: empty strings, ``false`` and empty
   lists of fields without explicit presence; ``optional`` fields (``capabilities.streaming``,
   ``pushNotifications``, ``extendedAgentCard``, ``documentationUrl``, ``iconUrl``) stay when set,
   even to ``false``. Numbers in ``params`` (a ``google.protobuf.Struct``) are doubles.
3. ``signatures`` is removed, then every empty string, empty list, empty object and ``null`` is
   removed recursively (a2a-sdk's ``_clean_empty``). So a security requirement with no scopes
   (``{"schemes": {"bearer": {"list": []}}}``) is not covered by the signature; nor is a REQUIRED
   field left empty (the spec's own example in §8.4.1 keeps ``"description": ""``; a2a-sdk drops it).
   Map entries and list entries removed that way are listed as uncovered (``v1_form``): their keys
   carry meaning (the scheme a requirement names, an OAuth scope), unlike a default value.
4. RFC 8785 via ``rfc8785``; the bytes are the UTF-8 of that text.

JWS (RFC 7515) with ``joserfc``; asymmetric algorithms only (``ALGORITHMS``): ``none`` and the HMAC
algorithms are refused (a card signature is checked with a public key).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from a2actl.core.errors import ProtocolViolation, UsageError
from a2actl.core.pointer import pointer_token

__all__ = [
    "ALGORITHMS",
    "INVALID",
    "MALFORMED",
    "MISMATCH",
    "UNKNOWN_KEY",
    "V03_ONLY_NOTE",
    "VALID",
    "CanonicalizationError",
    "MAX_JWKS_KEYS",
    "MAX_SIGNATURES",
    "RSA_MIN_BITS",
    "KeyRef",
    "KeyRing",
    "ParsedSignature",
    "SignatureCheck",
    "canonical",
    "check_signature",
    "default_alg",
    "jku_decision",
    "load_pem_key",
    "parse_jwks",
    "parse_signatures",
    "sign_card",
    "signature_kids",
    "unsigned_endpoints",
    "v1_form",
]

#: Algorithms accepted for card signatures (RFC 7518 §3.1, RFC 8037): asymmetric only.
ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)

#: ``check_signature``'s reason for a signature that does not verify over the canonical bytes.
MISMATCH = "the signature does not match the card"
#: Added to ``MISMATCH`` for a card with no ``supportedInterfaces`` (a 0.3 card): a 0.3-era signer
#: signed its 0.3 form, a2a-sdk 1.x (and a2actl) verify the 1.0 form it maps to (docs/caps.md).
V03_ONLY_NOTE = (
    "(a 0.3 card is verified in its 1.0 form, as a2a-sdk 1.x does; a signature a 0.3-era tool made "
    "over the 0.3 form does not match it)"
)

VALID = "valid"
INVALID = "invalid"
UNKNOWN_KEY = "unknown-key"
MALFORMED = "malformed"

# ---------------------------------------------------------------------------------------------------
# The 1.0 AgentCard message tree (lf.a2a.v1, a2a.proto as shipped by a2a-sdk 1.3; pinned against the
# installed descriptors by tests/unit/caps/test_signature.py). Field kinds: "str"/"bool" (implicit
# presence: default dropped), "str?"/"bool?" (explicit presence, proto3 ``optional``), "[str]",
# "Msg" (a message: present when given), "[Msg]", "{Msg}" (map string → message), "{str}" (map
# string → string), "struct" (google.protobuf.Struct).
_TREE: dict[str, dict[str, str]] = {
    "AgentCard": {
        "name": "str",
        "description": "str",
        "supportedInterfaces": "[AgentInterface]",
        "provider": "AgentProvider",
        "version": "str",
        "documentationUrl": "str?",
        "capabilities": "AgentCapabilities",
        "securitySchemes": "{SecurityScheme}",
        "securityRequirements": "[SecurityRequirement]",
        "defaultInputModes": "[str]",
        "defaultOutputModes": "[str]",
        "skills": "[AgentSkill]",
        "signatures": "[AgentCardSignature]",
        "iconUrl": "str?",
    },
    "AgentInterface": {"url": "str", "protocolBinding": "str", "tenant": "str", "protocolVersion": "str"},
    "AgentProvider": {"url": "str", "organization": "str"},
    "AgentCapabilities": {
        "streaming": "bool?",
        "pushNotifications": "bool?",
        "extensions": "[AgentExtension]",
        "extendedAgentCard": "bool?",
    },
    "AgentExtension": {"uri": "str", "description": "str", "required": "bool", "params": "struct"},
    "SecurityScheme": {
        "apiKeySecurityScheme": "APIKeySecurityScheme",
        "httpAuthSecurityScheme": "HTTPAuthSecurityScheme",
        "oauth2SecurityScheme": "OAuth2SecurityScheme",
        "openIdConnectSecurityScheme": "OpenIdConnectSecurityScheme",
        "mtlsSecurityScheme": "MutualTlsSecurityScheme",
    },
    "APIKeySecurityScheme": {"description": "str", "location": "str", "name": "str"},
    "HTTPAuthSecurityScheme": {"description": "str", "scheme": "str", "bearerFormat": "str"},
    "OAuth2SecurityScheme": {"description": "str", "flows": "OAuthFlows", "oauth2MetadataUrl": "str"},
    "OAuthFlows": {
        "authorizationCode": "AuthorizationCodeOAuthFlow",
        "clientCredentials": "ClientCredentialsOAuthFlow",
        "implicit": "ImplicitOAuthFlow",
        "password": "PasswordOAuthFlow",
        "deviceCode": "DeviceCodeOAuthFlow",
    },
    "AuthorizationCodeOAuthFlow": {
        "authorizationUrl": "str",
        "tokenUrl": "str",
        "refreshUrl": "str",
        "scopes": "{str}",
        "pkceRequired": "bool",
    },
    "ClientCredentialsOAuthFlow": {"tokenUrl": "str", "refreshUrl": "str", "scopes": "{str}"},
    "ImplicitOAuthFlow": {"authorizationUrl": "str", "refreshUrl": "str", "scopes": "{str}"},
    "PasswordOAuthFlow": {"tokenUrl": "str", "refreshUrl": "str", "scopes": "{str}"},
    "DeviceCodeOAuthFlow": {
        "deviceAuthorizationUrl": "str",
        "tokenUrl": "str",
        "refreshUrl": "str",
        "scopes": "{str}",
    },
    "OpenIdConnectSecurityScheme": {"description": "str", "openIdConnectUrl": "str"},
    "MutualTlsSecurityScheme": {"description": "str"},
    "SecurityRequirement": {"schemes": "{StringList}"},
    "StringList": {"list": "[str]"},
    "AgentSkill": {
        "id": "str",
        "name": "str",
        "description": "str",
        "tags": "[str]",
        "examples": "[str]",
        "inputModes": "[str]",
        "outputModes": "[str]",
        "securityRequirements": "[SecurityRequirement]",
    },
    "AgentCardSignature": {"protected": "str", "signature": "str", "header": "struct"},
}
#: Messages whose fields form one proto ``oneof`` (at most one may be set).
_ONEOF = frozenset({"SecurityScheme", "OAuthFlows"})

#: a2a-sdk's v0.3 security scheme ``type`` → the 1.0 wrapper field (``parse_agent_card``).
_SCHEME_WRAPPERS = {
    "apiKey": "apiKeySecurityScheme",
    "http": "httpAuthSecurityScheme",
    "oauth2": "oauth2SecurityScheme",
    "openIdConnect": "openIdConnectSecurityScheme",
    "mutualTLS": "mtlsSecurityScheme",
}


def _snake(name: str) -> str:
    """The proto field name of a JSON name (``protocolBinding`` → ``protocol_binding``); ParseDict
    accepts both spellings."""
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


class CanonicalizationError(ProtocolViolation):
    """The card has no 1.0 canonical form (a field of the wrong type, two members of a oneof, a
    number or string JCS cannot encode): exit 6. a2a-sdk's verifier fails the same cards (its
    ``parse_agent_card`` raises ``ParseError``)."""

    code = "canonicalization"


def _apply_compat(card: dict[str, Any], dropped: list[str]) -> None:
    """a2a-sdk's ``parse_agent_card`` v0.3 → 1.0 mapping, in place. ``dropped`` collects the pointers
    of the v0.3 fields removed without being mapped (a mapped field is covered through its 1.0
    field). Raises ``CanonicalizationError`` where a2a-sdk raises, naming the member whose shape the
    mapping cannot read (``_compat_shape_problem``), not Python's words for it."""
    problem = _compat_shape_problem(card)
    if problem is not None:
        raise CanonicalizationError(f"invalid agent card structure: {problem}")
    try:
        if "supportsAuthenticatedExtendedCard" in card:
            mapped = False
            if card.pop("supportsAuthenticatedExtendedCard"):
                caps = card.setdefault("capabilities", {})
                if "extendedAgentCard" not in caps:
                    caps["extendedAgentCard"] = mapped = True
            if not mapped:
                dropped.append("/supportsAuthenticatedExtendedCard")
        legacy_fields = [
            k for k in ("url", "preferredTransport", "protocolVersion", "additionalInterfaces") if k in card
        ]
        if "supportedInterfaces" in card or not card.get("url"):
            dropped.extend("/" + k for k in legacy_fields)
        main_url = card.pop("url", None)
        transport = card.pop("preferredTransport", "JSONRPC")
        version = card.pop("protocolVersion", "0.3.0")
        additional = card.pop("additionalInterfaces", None) or []
        if "supportedInterfaces" not in card and main_url:
            card["supportedInterfaces"] = [
                {"url": main_url, "protocolBinding": transport, "protocolVersion": version},
                *(
                    {"url": i.get("url"), "protocolBinding": i.get("transport"), "protocolVersion": version}
                    for i in additional
                ),
            ]

        def legacy_security(reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{"schemes": {name: {"list": scopes} for name, scopes in r.items()}} for r in reqs]

        if "security" in card and ("securityRequirements" in card or card["security"] is None):
            dropped.append("/security")
        legacy = card.pop("security", None)
        if "securityRequirements" not in card and legacy is not None:
            card["securityRequirements"] = legacy_security(legacy)
        for idx, skill in enumerate(card.get("skills", [])):
            if "security" in skill and ("securityRequirements" in skill or skill["security"] is None):
                dropped.append(f"/skills/{idx}/security")
            legacy = skill.pop("security", None)
            if "securityRequirements" not in skill and legacy is not None:
                skill["securityRequirements"] = legacy_security(legacy)
        schemes = card.get("securitySchemes", {})
        for name, scheme in schemes.items() if schemes else ():
            kind = scheme.get("type")
            if kind not in _SCHEME_WRAPPERS:
                scheme.pop("type", None)
                continue
            wrapper = _SCHEME_WRAPPERS[kind]
            here = f"/securitySchemes/{pointer_token(name)}"
            if any(k in _TREE["SecurityScheme"] for k in scheme):
                # A hybrid entry: keep the 1.0 wrapper; the v0.3 fields beside it are not signed.
                dropped.extend(
                    f"{here}/{pointer_token(k)}" for k in scheme if k not in _TREE["SecurityScheme"]
                )
                for k in [k for k in scheme if k not in _TREE["SecurityScheme"]]:
                    del scheme[k]
                continue
            scheme.pop("type")  # a v0.3-only scheme: mapped to its 1.0 wrapper, so covered
            if kind == "apiKey" and "in" in scheme:
                scheme["location"] = scheme.pop("in")
            inner = dict(scheme)
            scheme.clear()
            scheme[wrapper] = inner
    except (TypeError, AttributeError) as exc:
        raise CanonicalizationError(f"invalid agent card structure: {exc}") from exc


def _json_type(value: Any) -> str:
    """The JSON type of a decoded value, with its article (``a string``, ``null``)."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list"}
    return names.get(type(value), "an object")


def _objects_problem(value: Any, where: str) -> str | None:
    """Why ``value`` at pointer ``where`` is not a list of objects, else ``None``. An empty object or
    string passes, as it does the mapping (it iterates over nothing)."""
    if isinstance(value, (dict, str)) and not value:
        return None
    if not isinstance(value, list):
        return f"{where} is {_json_type(value)}, not a list of objects"
    for idx, entry in enumerate(value):
        if not isinstance(entry, dict):
            return f"{where}/{idx} is {_json_type(entry)}, not an object"
    return None


def _compat_shape_problem(card: dict[str, Any]) -> str | None:
    """The first member ``_apply_compat`` reads whose JSON type it cannot map (``/skills/0 is a
    string, not an object``), else ``None``. Only what the mapping reads is checked, where it reads
    it (a v0.3 ``additionalInterfaces`` only when there is no ``supportedInterfaces``, as a2a-sdk);
    every other member is left to the 1.0 proto parse, whose messages name the member already."""
    if card.get("supportsAuthenticatedExtendedCard") and not isinstance(card.get("capabilities", {}), dict):
        return f"/capabilities is {_json_type(card['capabilities'])}, not an object"
    if "supportedInterfaces" not in card and card.get("url") and card.get("additionalInterfaces"):
        problem = _objects_problem(card["additionalInterfaces"], "/additionalInterfaces")
        if problem:
            return problem
    if "securityRequirements" not in card and card.get("security") is not None:
        problem = _objects_problem(card["security"], "/security")
        if problem:
            return problem
    if "skills" in card:
        problem = _objects_problem(card["skills"], "/skills")
        if problem:
            return problem
        for idx, skill in enumerate(card["skills"]):
            if "securityRequirements" not in skill and skill.get("security") is not None:
                problem = _objects_problem(skill["security"], f"/skills/{idx}/security")
                if problem:
                    return problem
    schemes = card.get("securitySchemes")
    if schemes:
        if not isinstance(schemes, dict):
            return f"/securitySchemes is {_json_type(schemes)}, not an object"
        for name, scheme in schemes.items():
            if not isinstance(scheme, dict):
                return f"/securitySchemes/{pointer_token(str(name))} is {_json_type(scheme)}, not an object"
    return None


def _struct(value: Any, where: str, depth: int) -> Any:
    """A ``google.protobuf.Struct``/``Value`` as ``MessageToDict`` gives it back: numbers as floats."""
    if depth > 100:
        raise CanonicalizationError(f"{where or '/'} nests deeper than 100 levels")
    if isinstance(value, dict):
        return {str(k): _struct(v, f"{where}/{pointer_token(k)}", depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_struct(v, f"{where}/{i}", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    raise CanonicalizationError(f"{where}: {type(value).__name__} is not a JSON value")


def _message(msg: str, value: Any, where: str, dropped: list[str]) -> dict[str, Any]:
    """One proto message, read as ``ParseDict(ignore_unknown_fields=True)`` reads it and written back
    as ``MessageToDict`` writes it (unknown fields dropped and listed in ``dropped``)."""
    if not isinstance(value, dict):
        raise CanonicalizationError(
            f"{where or '/'}: expected an object for {msg}, got {type(value).__name__}"
        )
    fields = _TREE[msg]
    by_name = {**{_snake(k): k for k in fields}, **{k: k for k in fields}}
    out: dict[str, Any] = {}
    oneof_set: str | None = None
    for key, item in value.items():
        name = by_name.get(key)
        here = f"{where}/{pointer_token(key)}"
        if name is None:
            dropped.append(here)
            continue
        if item is None:
            out.pop(name, None)  # JSON null clears a field (ParseDict)
            continue
        if msg in _ONEOF:
            if oneof_set is not None and oneof_set != name:
                raise CanonicalizationError(f"{where or '/'}: both {oneof_set} and {name} set (one of)")
            oneof_set = name
        kind = fields[name]
        out[name] = _field(kind, item, here, dropped)
        if out[name] is _OMIT:
            del out[name]
    return out


_OMIT = object()


def _field(kind: str, item: Any, here: str, dropped: list[str]) -> Any:
    """One field's value in ``MessageToDict`` form, or ``_OMIT`` for a proto3 default."""
    if kind in ("str", "str?"):
        if not isinstance(item, str):
            raise CanonicalizationError(f"{here}: expected a string, got {type(item).__name__}")
        return item if item or kind == "str?" else _OMIT
    if kind in ("bool", "bool?"):
        if not isinstance(item, bool):
            raise CanonicalizationError(f"{here}: expected true or false, got {type(item).__name__}")
        return item if item or kind == "bool?" else _OMIT
    if kind == "struct":
        if not isinstance(item, dict):
            raise CanonicalizationError(f"{here}: expected an object, got {type(item).__name__}")
        return _struct(item, here, 1)
    if kind.startswith("["):
        if not isinstance(item, list):
            raise CanonicalizationError(f"{here}: expected a list, got {type(item).__name__}")
        inner = kind[1:-1]
        vals = [_field(inner, v, f"{here}/{i}", dropped) for i, v in enumerate(item)]
        if inner == "str":
            vals = [v if v is not _OMIT else "" for v in vals]  # a list keeps its empty strings
        elif inner in _TREE:
            for i, (raw_item, val) in enumerate(zip(item, vals, strict=True)):
                # a non-empty entry that _clean_empty removes whole (e.g. a security requirement with
                # no scopes): it vanishes from the signed form, so adding or removing it is unseen
                if (
                    raw_item
                    and _clean_empty(val) is None
                    and not any(p.startswith(f"{here}/{i}/") for p in dropped)
                ):
                    dropped.append(f"{here}/{i}")
        return vals or _OMIT
    if kind.startswith("{"):
        if not isinstance(item, dict):
            raise CanonicalizationError(f"{here}: expected an object, got {type(item).__name__}")
        inner = kind[1:-1]
        out: dict[str, Any] = {}
        for k, v in item.items():
            entry = f"{here}/{pointer_token(k)}"
            if inner == "str":
                if not isinstance(v, str):
                    raise CanonicalizationError(f"{entry}: expected a string")
                out[str(k)] = v
            else:
                out[str(k)] = {} if v is None else _message(inner, v, entry, dropped)
            if _clean_empty(out[str(k)]) is None and not any(p.startswith(entry + "/") for p in dropped):
                # a map entry whose value is empty (a scheme with no scopes, a scope with no
                # description) is removed by _clean_empty: its key is not signed either
                dropped.append(entry)
        return out or _OMIT
    return _message(kind, item, here, dropped)


def _clean_empty(value: Any) -> Any:
    """a2a-sdk's ``_clean_empty``: drop empty strings, lists and objects and ``null``, recursively
    (``None`` for a value that is itself empty)."""
    if isinstance(value, dict):
        cleaned = {k: c for k, v in value.items() if (c := _clean_empty(v)) is not None}
        return cleaned or None
    if isinstance(value, list):
        items = [c for v in value if (c := _clean_empty(v)) is not None]
        return items or None
    if value == "" and isinstance(value, str):
        return None
    return value


def v1_form(raw: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """The card as signed: its 1.0 form with defaults and ``signatures`` removed (module docstring),
    and the RFC 6901 pointers of the fields present in ``raw`` that the signature does not cover
    (v0.3 compatibility fields, fields the 1.0 proto does not define, map and list entries that
    step 3 removes whole, such as a security requirement without scopes), in document order (an
    entry after its members). The pointers of v0.3 fields mapped to 1.0 (``security``) name the
    1.0 field they were mapped to (``/securityRequirements/0/schemes/bearer``). The form
    is ``None`` for a card with nothing left (a2a-sdk then signs ``null``).

    ``raw`` is not modified. Raises ``CanonicalizationError`` (exit 6) for a card with no 1.0 form."""
    if not isinstance(raw, dict):
        raise CanonicalizationError(f"an agent card is a JSON object, not {type(raw).__name__}")
    card = copy.deepcopy(raw)
    card.pop("signatures", None)  # excluded before reading: a malformed entry is reported on its own
    dropped: list[str] = []
    _apply_compat(card, dropped)
    form = _message("AgentCard", card, "", dropped)
    cleaned: dict[str, Any] | None = _clean_empty(form)
    return cleaned, dropped


def canonical(raw: Any) -> tuple[bytes, list[str]]:
    """``(canonical bytes, uncovered pointers)``: the RFC 8785 UTF-8 bytes of ``v1_form(raw)``, the
    exact JWS payload of every signature on the card. Raises ``CanonicalizationError`` (exit 6)."""
    import rfc8785

    form, dropped = v1_form(raw)
    try:
        return rfc8785.dumps(form), dropped
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, ValueError) as exc:
        raise CanonicalizationError(f"the card has no RFC 8785 canonical form: {exc}") from exc


def unsigned_endpoints(raw: Any) -> list[str]:
    """Warnings for a hybrid card whose unsigned v0.3 endpoint fields (``url``,
    ``additionalInterfaces[].url``: a 0.3 client connects there) name a URL that none of the signed
    ``supportedInterfaces`` has: a valid signature says nothing about where a 0.3 client goes, and a
    changed ``url`` does not break it (spec v1.0 §8.4.1 signs the 1.0 form only, a2a-sdk's compat
    mode serves both). ``[]`` for a card that is not hybrid. Never raises."""
    if not isinstance(raw, dict) or not isinstance(raw.get("supportedInterfaces"), list):
        return []
    signed = {i.get("url") for i in raw["supportedInterfaces"] if isinstance(i, dict)}
    legacy: list[tuple[str, Any]] = [("/url", raw.get("url"))]
    extra = raw.get("additionalInterfaces")
    if isinstance(extra, list):
        legacy += [
            (f"/additionalInterfaces/{i}/url", e.get("url"))
            for i, e in enumerate(extra)
            if isinstance(e, dict)
        ]
    return [
        f"{where} {url} is not a signed supportedInterfaces URL: a 0.3 client connects there, unverified"
        for where, url in legacy
        if isinstance(url, str) and url and url not in signed
    ]


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data`` (what was signed, in reports)."""
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------------
# Signatures on a card


def _b64url_json(segment: str) -> Any:
    """Decode a base64url (no padding, RFC 7515 §2) JSON segment. Raises ``ValueError``."""
    if not isinstance(segment, str) or not segment or any(c in segment for c in "=+/ \n"):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return json.loads(data.decode("utf-8"))


@dataclass(frozen=True)
class ParsedSignature:
    """One ``signatures[index]`` entry (spec v1.0 §4.4.7): the base64url ``protected`` and
    ``signature`` segments, the decoded protected ``header`` (``{}`` when it could not be decoded) and
    ``problem``: why the entry is not a JWS (then it is ``MALFORMED``, exit 6), else ``None``."""

    index: int
    protected: str
    signature: str
    header: dict[str, Any]
    problem: str | None = None

    @property
    def kid(self) -> str | None:
        """The protected header's ``kid`` (a string), else ``None``."""
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None

    @property
    def alg(self) -> str | None:
        """The protected header's ``alg`` (a string), else ``None``."""
        alg = self.header.get("alg")
        return alg if isinstance(alg, str) else None

    @property
    def jku(self) -> str | None:
        """The protected header's ``jku`` (a JWK Set URL, RFC 7515 §4.1.2), else ``None``."""
        jku = self.header.get("jku")
        return jku if isinstance(jku, str) and jku else None


#: The longest ``protected`` segment read (base64url characters): joserfc's header limit
#: (``_registry``); a card header holds alg, typ, kid and jku.
MAX_HEADER_CHARS = 16384

#: The most signatures checked on one card: each costs a public-key operation (and maybe a jku fetch),
#: in a loop ``--max-time`` cannot interrupt; a 10 MB card carried 61,000 Ed25519 signatures that took
#: 76 s to check. Key rotation (spec v1.0 §8.4.3) needs a few.
MAX_SIGNATURES = 100


def parse_signatures(raw: Any) -> list[ParsedSignature]:
    """The card's ``signatures``, each parsed (a malformed entry carries its ``problem``; a
    ``signatures`` that is not a list, or holds more than ``MAX_SIGNATURES`` entries, is one malformed
    entry; so is a ``protected`` over ``MAX_HEADER_CHARS`` or nested too deep to decode). ``[]`` when the card is unsigned. Never raises."""
    if not isinstance(raw, dict) or raw.get("signatures") in (None, []):
        return []
    sigs = raw["signatures"]
    if not isinstance(sigs, list):
        return [ParsedSignature(0, "", "", {}, f"signatures is a {type(sigs).__name__}, not a list")]
    if len(sigs) > MAX_SIGNATURES:
        return [
            ParsedSignature(
                0, "", "", {}, f"the card has {len(sigs):,} signatures, over the limit of {MAX_SIGNATURES}"
            )
        ]
    out = []
    for i, entry in enumerate(sigs):
        if not isinstance(entry, dict):
            out.append(ParsedSignature(i, "", "", {}, f"signatures[{i}] is not an object"))
            continue
        protected, signature = entry.get("protected"), entry.get("signature")
        if not isinstance(protected, str) or not isinstance(signature, str):
            out.append(
                ParsedSignature(i, "", "", {}, "protected and signature must be strings (JWS, RFC 7515)")
            )
            continue
        if len(protected) > MAX_HEADER_CHARS:
            out.append(
                ParsedSignature(
                    i, protected, signature, {}, f"protected is over {MAX_HEADER_CHARS:,} characters"
                )
            )
            continue
        try:
            header = _b64url_json(protected)
        except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
            # RecursionError: JSON nested thousands deep (json.loads recurses per level)
            out.append(
                ParsedSignature(i, protected, signature, {}, "protected is not a base64url JSON header")
            )
            continue
        if not isinstance(header, dict):
            out.append(
                ParsedSignature(i, protected, signature, {}, "the protected header is not a JSON object")
            )
            continue
        problem = None
        if not isinstance(header.get("alg"), str):
            problem = "the protected header has no alg"
        elif (not signature and header["alg"] in ALGORITHMS) or any(c in signature for c in "=+/ .\n"):
            # an empty signature under alg none (RFC 7518 §3.6) or HMAC is left to check_signature:
            # invalid for its alg, as documented, not malformed
            problem = "signature is not base64url"
        out.append(ParsedSignature(i, protected, signature, header, problem))
    return out


def signature_kids(raw: Any) -> list[str]:
    """Sorted, distinct ``kid`` values of the card's well-formed signatures (``""`` for one without
    a kid): what ``caps snapshot`` keeps so ``caps diff`` sees a signature vanish or change keys."""
    return sorted({s.kid or "" for s in parse_signatures(raw) if s.problem is None})


# ---------------------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class KeyRef:
    """A verification key (a joserfc key object) and where it came from, for reports: ``--key
    FILE``, ``--jwks FILE|URL`` or ``jku URL``. ``kid`` is the JWK's ``kid`` (``None`` for a PEM).
    ``problem`` says why a JWK of the set cannot be used (``key`` is then ``None``): kept so that a
    signature naming its kid says why it has no key."""

    key: Any
    source: str
    kid: str | None = None
    problem: str | None = None


def _kty_of(alg: str | None) -> str | None:
    """The JWK ``kty`` an ``alg`` needs (RFC 7518 §3.1, RFC 8037 §3.1), ``None`` when unknown."""
    if alg is None:
        return None
    if alg.startswith(("RS", "PS")):
        return "RSA"
    if alg.startswith("ES"):
        return "EC"
    return "OKP" if alg in ("EdDSA", "Ed25519") else None


#: The smallest RSA modulus accepted (RFC 7518 §3.3 and §3.5: "A key of size 2048 bits or larger MUST
#: be used"); a 512-bit key is factored in hours, so a signature by one proves nothing.
RSA_MIN_BITS = 2048


def _weak_key(key: Any) -> str | None:
    """Why ``key`` (a joserfc key) is too weak to sign or verify with, else ``None``."""
    if getattr(key, "key_type", None) == "RSA":
        bits = int(getattr(key.raw_value, "key_size", 0))
        if bits < RSA_MIN_BITS:
            return f"a {bits}-bit RSA key; RS/PS algorithms need {RSA_MIN_BITS} bits or more (RFC 7518 §3.3)"
    return None


@contextmanager
def _quiet_key_warnings() -> Iterator[None]:
    """Drop joserfc's ``SecurityWarning`` (a key size warning Python prints to stderr) while importing
    a key: a2actl refuses small keys itself (``RSA_MIN_BITS``)."""
    from joserfc.errors import SecurityWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        yield


@dataclass
class KeyRing:
    """The operator's keys: JWKS keys by ``kid`` and a ``--key`` PEM key that applies to any kid the
    JWKS does not hold."""

    jwks: list[KeyRef]
    pem: KeyRef | None = None

    def candidates(self, kid: str | None, alg: str | None = None) -> list[KeyRef]:
        """The keys to try for a signature with ``kid`` and ``alg``: the JWKS keys with that kid, usable
        keys of the type ``alg`` needs first, then other usable ones, then unusable ones (``problem``);
        else the PEM key; else ``[]``. Several keys may share a kid (RFC 7517 §4.5 allows it for keys
        of different types); every one of them is trusted, so a signature is valid when one verifies."""
        same = [r for r in self.jwks if r.kid is not None and r.kid == kid]
        if same:
            want = _kty_of(alg)

            def rank(ref: KeyRef) -> int:
                if ref.problem is not None:
                    return 2
                return 0 if want is None or getattr(ref.key, "key_type", None) == want else 1

            return sorted(same, key=rank)
        return [self.pem] if self.pem is not None else []

    def find(self, kid: str | None, alg: str | None = None) -> KeyRef | None:
        """The first of ``candidates(kid, alg)``, else ``None``."""
        found = self.candidates(kid, alg)
        return found[0] if found else None


def _import_pem(data: bytes) -> Any:
    """A joserfc key from PEM bytes (private or public; RSA, EC or OKP). Raises ``ValueError``."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
    from joserfc.jwk import ECKey, OKPKey, RSAKey

    try:
        obj: Any = load_pem_private_key(data, password=None)
    except TypeError as exc:  # encrypted without a password
        raise ValueError("is an encrypted PEM key; give an unencrypted one") from exc
    except ValueError:
        try:
            obj = load_pem_public_key(data)
        except ValueError as exc:
            raise ValueError("is not a PEM private or public key") from exc
    if isinstance(obj, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        with _quiet_key_warnings():
            return RSAKey.import_key(data)
    if isinstance(obj, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return ECKey.import_key(data)
    if isinstance(
        obj,
        (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey, ed448.Ed448PrivateKey, ed448.Ed448PublicKey),
    ):
        return OKPKey.import_key(data)
    raise ValueError(f"holds a {type(obj).__name__}; RSA, EC or Ed25519 keys only")


#: The largest PEM key file read: an RSA 16384-bit private key is about 12 KB. The read is bounded:
#: a device or FIFO (``/dev/zero``) reports size 0 and never ends.
MAX_KEY_FILE_BYTES = 1024 * 1024


def load_pem_key(path: str, option: str = "--key") -> KeyRef:
    """The key in PEM file ``path`` (private or public). Raises ``UsageError`` (exit 2) naming the file
    when it cannot be read, is over ``MAX_KEY_FILE_BYTES`` or holds no usable key; the message never
    quotes the file's content."""
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read the key file: {exc.strerror or exc}") from exc
    if len(data) > MAX_KEY_FILE_BYTES:
        raise UsageError(f"{option} {path}: over {MAX_KEY_FILE_BYTES:,} bytes: not a PEM key file")
    try:
        key = _import_pem(data)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{option} {path}: {exc}") from None
    return KeyRef(key, f"{option} {path}")


#: The most keys a JWK Set may hold: every key is imported (and an EC key's point checked), about
#: 0.4 ms each, and a ``jku`` set comes from the card's host; a 10 MB set of 65,000 EC keys took 27 s
#: of CPU that ``--max-time`` cannot interrupt. Published sets hold a few keys.
MAX_JWKS_KEYS = 1000


def parse_jwks(data: bytes, source: str) -> list[KeyRef]:
    """The public keys of a JWK Set (RFC 7517 §5) document; ``source`` names it in reports and errors.
    Keys of a type or ``use`` that cannot verify a signature (``oct``, ``use: enc``) are skipped. A JWK
    that cannot be imported (a ``kty`` or curve not supported, members missing, a ``use``/``key_ops``
    that contradict each other) is ignored as RFC 7517 §5 says implementations SHOULD: it is returned
    as a ``KeyRef`` with its ``problem`` (and no key) when it has a ``kid``, so a signature naming it is
    ``unknown-key`` with that reason. Raises ``ValueError`` with a one-line reason naming nothing
    secret when ``data`` is not a JWKS, holds more than ``MAX_JWKS_KEYS`` keys, or when no JWK of a
    non-empty set is usable (the reason is the first JWK's problem)."""
    from joserfc.errors import JoseError
    from joserfc.jwk import import_key

    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise ValueError(f"{source} is not JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError(f'{source} is not a JWK Set (an object with a "keys" list)')
    if len(doc["keys"]) > MAX_JWKS_KEYS:
        raise ValueError(f"{source} holds {len(doc['keys']):,} keys, over the limit of {MAX_JWKS_KEYS:,}")
    out: list[KeyRef] = []
    problems: list[str] = []
    for i, jwk in enumerate(doc["keys"]):
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kty"), str):
            problems.append(f"{source}: keys[{i}] is not a JWK (no kty)")
            continue
        if jwk["kty"] == "oct" or jwk.get("use") == "enc":
            continue
        kid = jwk.get("kid") if isinstance(jwk.get("kid"), str) else None
        public = {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi", "oth", "k")}
        try:
            with _quiet_key_warnings():
                key = import_key(public, jwk["kty"])
        except (JoseError, ValueError, TypeError, KeyError):
            problem = f"keys[{i}] is not a valid {_label(jwk['kty'])} key"
            problems.append(f"{source}: {problem}")
            if kid is not None:
                out.append(KeyRef(None, source, kid, problem))
            continue
        out.append(KeyRef(key, source, kid))
    if problems and not any(r.problem is None for r in out):
        raise ValueError(problems[0])
    return out


def _label(value: str, limit: int = 40) -> str:
    """``value`` cut to ``limit`` characters, control characters replaced (a JWK's ``kty`` in a
    message)."""
    text = "".join(c if c.isprintable() else "?" for c in value[:limit])
    return text + ("…" if len(value) > limit else "")


def public_jwks(ref: KeyRef, kid: str) -> dict[str, Any]:
    """The public half of ``ref`` as a one-key JWK Set with ``kid`` (for ``caps sign --jwks-out``)."""
    jwk = dict(ref.key.as_dict(private=False))
    jwk.update({"kid": kid, "use": "sig"})
    return {"keys": [jwk]}


def default_alg(ref: KeyRef) -> str:
    """The JWS algorithm for a key (RFC 7518 §3.1): RSA → RS256; EC P-256/384/521 → ES256/384/512;
    Ed25519 → EdDSA. Raises ``UsageError`` (exit 2) for other curves."""
    key = ref.key
    kty = getattr(key, "key_type", "")
    if kty == "RSA":
        return "RS256"
    crv = key.as_dict(private=False).get("crv")
    if kty == "EC":
        alg = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}.get(crv)
        if alg:
            return alg
    if kty == "OKP" and crv == "Ed25519":
        return "EdDSA"
    raise UsageError(
        f"{ref.source}: no JWS algorithm for a {kty} {crv} key; use RSA, EC P-256/384/521 or Ed25519"
    )


def _registry(alg: str, payload_len: int) -> Any:
    """A joserfc JWS registry for one algorithm: lenient about ``"jku": null``/``"kid": null`` (a2a-sdk
    writes them) and sized for whole cards (joserfc's default payload limit is 128 kB)."""
    from joserfc.jws import JWSRegistry
    from joserfc.registry import HeaderParameter

    def str_or_null(value: Any) -> None:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be a str")

    reg = JWSRegistry(
        header_registry={
            "jku": HeaderParameter("JWK Set URL", str_or_null),
            "kid": HeaderParameter("Key ID", str_or_null),
        },
        algorithms=[alg],
        strict_check_header=False,
    )
    reg.max_payload_length = max(payload_len + 1, 128000)
    reg.max_header_length = MAX_HEADER_CHARS
    return reg


@dataclass(frozen=True)
class SignatureCheck:
    """The verdict on one signature: ``status`` is ``VALID``, ``INVALID``, ``UNKNOWN_KEY`` or
    ``MALFORMED``; ``key_source`` where its key came from (``None`` when no key); ``reason`` a one-line
    why for every status but ``VALID``; ``jku`` the header's JWK Set URL and ``jku_use`` what was
    done with it (``same-host``, ``allowed``, ``refused: …``, ``not needed``, ``failed: …``)."""

    index: int
    kid: str | None
    alg: str | None
    status: str
    key_source: str | None = None
    reason: str | None = None
    jku: str | None = None
    jku_use: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"index", "kid", "alg", "status", "keySource", "reason", "jku", "jkuUse"}``."""
        return {
            "index": self.index,
            "kid": self.kid,
            "alg": self.alg,
            "status": self.status,
            "keySource": self.key_source,
            "reason": self.reason,
            "jku": self.jku,
            "jkuUse": self.jku_use,
        }


def check_signature(
    sig: ParsedSignature, payload: bytes, ref: KeyRef | None, jku_use: str | None = None
) -> SignatureCheck:
    """Verify one parsed signature over ``payload`` (the canonical bytes) with ``ref``'s key
    (RFC 7515 §5.2 with a detached payload: a ``payload`` member in the entry, or anything else
    beside ``protected``/``signature``, is never read). ``INVALID`` for an ``alg`` outside
    ``ALGORITHMS`` (``none``, HMAC: RFC 8725 §3.1-3.2), a ``crit``/``b64`` header, an RSA key under
    ``RSA_MIN_BITS``, a key whose type or curve does not fit the ``alg``, or a JWK whose own ``alg``/``key_ops`` says otherwise (joserfc).
    Never raises: every failure is a status with a reason."""
    from joserfc import jws
    from joserfc.errors import BadSignatureError, JoseError

    def verdict(status: str, reason: str | None = None) -> SignatureCheck:
        source = ref.source if ref is not None and status in (VALID, INVALID) else None
        return SignatureCheck(sig.index, sig.kid, sig.alg, status, source, reason, sig.jku, jku_use)

    if sig.problem is not None:
        return verdict(MALFORMED, sig.problem)
    # what no key can make valid is invalid whatever the keys: checked before the key lookup, so an
    # alg none or HS256 signature is not "unknown-key" (a warning that never fails caps validate)
    alg = sig.alg or ""
    if alg not in ALGORITHMS:
        return verdict(INVALID, f"alg {alg!r} is not accepted for card signatures ({', '.join(ALGORITHMS)})")
    if "crit" in sig.header or "b64" in sig.header:
        # Spec v1.0 §8.4.2 defines alg, typ, kid and jku and no JWS extension; a verifier that does not
        # take an extension listed in crit MUST reject the JWS (RFC 7515 §4.1.11). joserfc would take
        # b64: false (RFC 7797), which a2a-sdk's verifier does not: refused here, not left to joserfc.
        return verdict(
            INVALID,
            "the protected header has crit or b64: card signatures use no JWS extension (RFC 7515 §4.1.11)",
        )
    if ref is None:
        return verdict(
            UNKNOWN_KEY,
            f"no key for kid {sig.kid!r}" if sig.kid is not None else "no key (the signature has no kid)",
        )
    if ref.problem is not None:
        return verdict(UNKNOWN_KEY, f"no usable key for kid {sig.kid!r}: {ref.source}: {ref.problem}")
    weak = _weak_key(ref.key)
    if weak is not None:
        return verdict(INVALID, f"{ref.source} holds {weak}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc: "EdDSA is deprecated via RFC 9864"
            jws.deserialize_compact(
                f"{sig.protected}..{sig.signature}",
                ref.key,
                algorithms=[alg],
                registry=_registry(alg, len(payload) * 2),
                payload=payload,
            )
    except BadSignatureError:
        return verdict(INVALID, MISMATCH)
    except JoseError as exc:
        return verdict(INVALID, exc.description or exc.error)
    except (ValueError, TypeError) as exc:
        return verdict(INVALID, f"the key does not fit alg {alg}: {exc}")
    return verdict(VALID)


def jku_decision(jku: str, card_url: str | None, allow_jku: bool) -> str:
    """Whether a protected header's ``jku`` may be fetched (spec v1.0 §8.4.3: keys SHOULD come over
    secure channels): ``"same-host"`` (https, same host and port as the card), ``"allowed"`` (https,
    ``--allow-jku``) or ``"refused: <why>"``. Never raises.

    Refused whatever ``allow_jku`` says: a URL that does not parse (a port out of range, an unclosed
    IPv6 literal) or holds a backslash, white space, a control or non-ASCII character (parsers
    disagree on those, RFC 3986 §2 allows none of them), one with userinfo (``https://card-host@evil/``
    names ``evil``; RFC 3986 §3.2.1), and anything but https. The fetch itself never follows a
    redirect (``a2actl.caps.jobs``): this check is on the URL that is fetched."""
    if any(c == "\\" or not "!" <= c <= "~" for c in jku):
        return "refused: jku is not a valid URL"
    try:
        parts = urlsplit(jku)
        port = parts.port
    except ValueError:
        return "refused: jku is not a valid URL"
    if parts.scheme != "https" or not parts.hostname:
        return "refused: jku is not an https URL"
    if "@" in parts.netloc:
        return "refused: jku carries userinfo (user@host)"
    if card_url is not None:
        try:
            card = urlsplit(card_url)
            same = card.scheme == "https" and (card.hostname, card.port or 443) == (
                parts.hostname,
                port or 443,
            )
        except ValueError:
            same = False
        if same:
            return "same-host"
    if allow_jku:
        return "allowed"
    where = f"the card's host {urlsplit(card_url).netloc}" if card_url else "a card file"
    return f"refused: jku host {parts.netloc} is not {where} (pass --allow-jku to fetch it)"


def sign_card(
    raw: dict[str, Any], ref: KeyRef, kid: str, alg: str | None = None, jku: str | None = None
) -> dict[str, Any]:
    """A copy of ``raw`` with one more signature (spec v1.0 §8.4.2): protected header ``{"alg", "typ":
    "JOSE", "kid"[, "jku"]}``, detached payload ``canonical(raw)``. Earlier signatures are kept (key
    rotation: several signatures, spec v1.0 §8.4.3).

    Raises ``UsageError`` (exit 2) for a public key, an RSA key under ``RSA_MIN_BITS``, an unsupported
    ``alg`` or an ``alg`` that does not fit the key; ``CanonicalizationError`` (6) for a card with no canonical form."""
    from joserfc import jws
    from joserfc.errors import JoseError

    alg = alg or default_alg(ref)
    if alg not in ALGORITHMS:
        raise UsageError(f"--alg {alg}: not one of {', '.join(ALGORITHMS)}")
    if not ref.key.is_private:
        raise UsageError(f"{ref.source} holds a public key; signing needs the private key")
    weak = _weak_key(ref.key)
    if weak is not None:
        raise UsageError(f"{ref.source} holds {weak}")
    payload, _ = canonical(raw)
    header: dict[str, Any] = {"alg": alg, "typ": "JOSE", "kid": kid}
    if jku:
        header["jku"] = jku
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # joserfc: "EdDSA is deprecated via RFC 9864"
            token = jws.serialize_compact(
                header, payload, ref.key, algorithms=[alg], registry=_registry(alg, len(payload) * 2)
            )
    except (JoseError, ValueError, TypeError) as exc:
        raise UsageError(f"{ref.source}: cannot sign with alg {alg} ({type(exc).__name__})") from None
    protected, _, signature = token.split(".")
    out = copy.deepcopy(raw)
    sigs = out.get("signatures")
    out["signatures"] = [
        *(sigs if isinstance(sigs, list) else []),
        {"protected": protected, "signature": signature},
    ]
    return out
