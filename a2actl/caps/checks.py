"""``caps validate``'s operational checks: what a schema cannot say about a card, each with a stable
``check`` id (the list and severities: ``docs/caps.md``, ``caps validate``).

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
* ``duplicate-key`` (``duplicate_key_findings``, from the card's bytes): a member name repeated in
  one object. An error when the values differ: JSON readers disagree on what the card says (Python,
  Go and JavaScript keep the last value, others the first, strict ones refuse the card), as a wrong
  interface URL sends calls to the wrong place. A warning when every value is the same (RFC 8259 §4:
  names SHOULD be unique; every reader agrees).
* ``not-json`` (``not_json_findings``, from the card's bytes and decoded value): what Python's reader
  takes but RFC 8259 does not: ``NaN``, ``Infinity`` (and a number too large for a double, which
  Python reads as infinity), and a card encoded in UTF-16 or UTF-32 instead of UTF-8 (§8.1). An
  error: strict readers (JavaScript's ``JSON.parse`` and ``fetch().json()``, Go) refuse the whole
  card, so clients of those SDKs cannot read it.
* ``binding-spelling``, ``no-standard-interface``, ``version-shape``, ``undeclared-security-scheme``,
  ``security-scheme-shape``, ``duplicate-skill-id`` (``usability_findings``): cards that pass the
  schemas although clients cannot use them (a binding name in another case, only custom bindings, a
  0.x card declaring 1.0, a requirement naming no declared scheme, a 1.0 scheme without its wrapper,
  two skills with one id); severities in ``docs/caps.md``.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any
from urllib.parse import urlsplit

from a2actl.caps.findings import ERROR, WARNING, Finding, spec_section
from a2actl.protocol.card import CardView
from a2actl.protocol.versions import BINDING_HTTP_JSON, BINDING_JSONRPC, family_of


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


def _version_spelling(version: str, pointer: str, section: str, strict: bool) -> list[Finding]:
    """``protocol-version`` for a ``version`` that ``family_of`` reads but that is not written as the
    spec writes a version (``is_version_spelling``: ``Major.Minor[.Patch]``, ASCII digits):
    ``v1.0``, ``" 1.0"``, ``1``, ``1.0.0.0``. a2a-sdk (Python) reads such a string as a version
    (PEP 440); @a2a-js/sdk parses ``v1.0`` as no version and picks interfaces by ``=== "1.0"``. A
    warning, an error with ``strict``; ``[]`` for a version in the spec's form."""
    from a2actl.protocol.versions import is_version_spelling

    if is_version_spelling(version):
        return []
    fam = family_of(version)
    return [
        Finding(
            "check",
            ERROR if strict else WARNING,
            pointer,
            f"protocolVersion {version!r} is not written as a version (Major.Minor, e.g. "
            f'"{fam.value if fam else "1.0"}"): a2actl and a2a-sdk (Python) read it as '
            f"{fam.value if fam else '?'}, clients that parse or compare it strictly (@a2a-js/sdk) do not",
            section,
            check="protocol-version",
        )
    ]


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
        else:
            out += _version_spelling(top, "/protocolVersion", spec_section("/protocolVersion", "0.3"), strict)
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
        else:
            out += _version_spelling(pv, ptr, sec_v1, strict)

    # invalid-url for an empty url: parse_card leaves such an interface out of view.interfaces (it
    # cannot be called), and the schemas only ask for a string, so without this a card whose every
    # interface has "url": "" passed as valid
    for ptr in _empty_url_pointers(raw):
        out.append(
            Finding(
                "check",
                ERROR,
                ptr,
                "interface url is empty: no client can call this interface",
                sec_v1 if ptr.startswith("/supportedInterfaces/") else spec_section(ptr, "0.3"),
                check="invalid-url",
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
                "docs/caps.md (hybrid-card)",
                check="hybrid-card",
            )
        )
    return out


def duplicate_key_findings(body: bytes | str) -> list[Finding]:
    """The ``duplicate-key`` findings of a card as served (``body``: its bytes or text), one per
    repeated member with its JSON pointer, in document order (module docstring). ``[]`` when
    ``body`` is not JSON. Never raises."""
    from a2actl.protocol.jsondoc import duplicate_members

    out = []
    for d in duplicate_members(body):
        if d.same:
            severity, effect = WARNING, "with the same value each time"
        else:
            severity, effect = (
                ERROR,
                "with different values: JSON readers disagree on it (a2actl, Python, Go and "
                "JavaScript keep the last, others the first, strict ones refuse the card)",
            )
        out.append(
            Finding(
                "check",
                severity,
                d.pointer,
                f"member {d.name!r} appears {d.count} times in one object, {effect}",
                spec_section(d.pointer, "1.0") + "; RFC 8259 §4 (names SHOULD be unique)",
                check="duplicate-key",
            )
        )
    return out


def not_json_findings(raw: Any, body: bytes | str | None) -> list[Finding]:
    """The ``not-json`` findings (module docstring): one at ``""`` when ``body`` (the card's bytes)
    is not UTF-8, then one per number in ``raw`` that is not finite, at its JSON pointer, in document
    order. ``body`` ``None`` or a ``str``: no encoding finding. Never raises."""
    from a2actl.core.pointer import to_pointer

    out: list[Finding] = []
    rfc = "RFC 8259"
    if isinstance(body, bytes):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            out.append(
                Finding(
                    "check",
                    ERROR,
                    "",
                    "the card is not UTF-8 (UTF-16 or UTF-32, which Python's reader detects): JSON "
                    "between systems MUST be UTF-8, and readers that take UTF-8 only (JavaScript's "
                    "fetch().json(), Go) cannot read the card",
                    f"{rfc} §8.1",
                    check="not-json",
                )
            )
    stack: list[tuple[Any, tuple[Any, ...]]] = [(raw, ())]
    found: list[tuple[Any, ...]] = []
    while stack:
        node, path = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            found.append(path)
        elif isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((v, (*path, i)) for i, v in reversed(list(enumerate(node))))
    for path in found:
        pointer = to_pointer(list(path))
        out.append(
            Finding(
                "check",
                ERROR,
                pointer,
                "a number that is not finite: NaN or Infinity (not JSON: JavaScript's JSON.parse "
                "and Go refuse the whole card) or one too large for a double, e.g. 1e999 (Go "
                "refuses the card)",
                f"{spec_section(pointer, '1.0')}; {rfc} §6",
                check="not-json",
            )
        )
    return out


def _empty_url_pointers(raw: dict[str, Any]) -> list[str]:
    """The JSON pointers of the interface ``url`` members that are the empty string, any binding:
    ``/supportedInterfaces/N/url`` (1.0), ``/url`` and ``/additionalInterfaces/N/url`` (0.x; only
    when the card has the 0.x fields, as ``parse_card`` reads them). A missing or non-string url is
    the schemas' to report."""
    out: list[str] = []
    for name in ("supportedInterfaces", "additionalInterfaces"):
        entries = raw.get(name)
        if name == "additionalInterfaces" and not _has_v0_fields(raw):
            continue
        for idx, iface in enumerate(entries if isinstance(entries, list) else []):
            if isinstance(iface, dict) and iface.get("url") == "":
                out.append(f"/{name}/{idx}/url")
    if raw.get("url") == "":
        out.insert(0, "/url")
    return out


def _has_v0_fields(raw: dict[str, Any]) -> bool:
    """The card carries 0.x interface fields (``parse_card``'s test)."""
    return "url" in raw or "protocolVersion" in raw or "preferredTransport" in raw


def _interface_pointer(source: str) -> str:
    """``supportedInterfaces[1]`` → ``/supportedInterfaces/1/url``; ``url`` → ``/url``."""
    if "[" in source:
        name, idx = source.rstrip("]").split("[", 1)
        return f"/{name}/{idx}/url"
    return "/" + source


# -- whether clients can use the card (usability_findings) -----------------------------------------

_SEC_INTERFACE = "v1.0 §4.4.6 AgentInterface"
_SEC_TRANSPORT = "v0.3 §5.6 transport declaration"


def usability_findings(
    raw: dict[str, Any], view: CardView, *, strict: bool = False, schemas: tuple[str, ...] | list[str] = ()
) -> list[Finding]:
    """The checks for cards that pass the schemas although clients cannot use them, in this order:
    ``binding-spelling``, ``no-standard-interface``, ``version-shape``, ``undeclared-security-scheme``,
    ``security-scheme-shape``, ``duplicate-skill-id`` (``docs/caps.md``). ``schemas`` are the wire
    versions ``raw`` was checked against (``version-shape`` is not reported when the 1.0 schema ran: it
    already names the missing ``supportedInterfaces``). One pass over the interfaces, security members
    and skills each: cheap enough for fleet jobs over many cards. Never raises."""
    out = binding_spelling_findings(raw, strict=strict)
    out += _no_standard_interface(raw, view)
    if "1.0" not in schemas:
        out += _version_shape(raw, view)
    out += [
        Finding(
            "check",
            ERROR,
            ptr,
            f"security requirement names scheme {name!r}, which securitySchemes does not declare"
            f"{_declared(raw)}: clients cannot know how to authenticate",
            _requirement_section(ptr),
            check="undeclared-security-scheme",
        )
        for ptr, name in undeclared_scheme_refs(raw)
    ]
    out += _security_scheme_shape(raw, view, strict=strict)
    out += _duplicate_skill_ids(raw)
    return out


def _bindings_declared(raw: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(pointer, value)`` of every binding name the card declares: ``supportedInterfaces[].protocolBinding``
    (1.0), and on a card with 0.x fields ``preferredTransport`` and ``additionalInterfaces[].transport``."""
    out: list[tuple[str, Any]] = []
    v1 = raw.get("supportedInterfaces")
    for idx, iface in enumerate(v1 if isinstance(v1, list) else []):
        if isinstance(iface, dict) and "protocolBinding" in iface:
            out.append((f"/supportedInterfaces/{idx}/protocolBinding", iface["protocolBinding"]))
    if _has_v0_fields(raw):
        if "preferredTransport" in raw:
            out.append(("/preferredTransport", raw["preferredTransport"]))
        extra = raw.get("additionalInterfaces")
        for idx, iface in enumerate(extra if isinstance(extra, list) else []):
            if isinstance(iface, dict) and "transport" in iface:
                out.append((f"/additionalInterfaces/{idx}/transport", iface["transport"]))
    return out


def binding_spelling_findings(raw: dict[str, Any], *, strict: bool = False) -> list[Finding]:
    """``binding-spelling``: a binding name that a2actl reads as a standard binding but that is not
    the spec's spelling (``jsonrpc``, ``http+json``, ``grpc``, ``JSON-RPC``, ``REST``). The names are
    case-sensitive (spec v1.0 §4.4.6 ``protocolBinding``: ``JSONRPC``, ``GRPC``, ``HTTP+JSON``; v0.3
    §5.6 the same for ``transport``): clients that compare them exactly (a2a-sdk's ``ClientFactory``:
    "no compatible transports found") find no interface of that binding. A warning, an error with
    ``strict``. Never raises."""
    from a2actl.protocol.versions import STANDARD_BINDINGS, normalise_binding

    out: list[Finding] = []
    for ptr, value in _bindings_declared(raw):
        if not isinstance(value, str) or not value.strip():
            continue
        std = normalise_binding(value)
        if std not in STANDARD_BINDINGS or value == std:
            continue
        out.append(
            Finding(
                "check",
                ERROR if strict else WARNING,
                ptr,
                f"binding {value!r} is not the spec's name {std!r}: binding names are case-sensitive, so "
                f"clients that match them exactly (a2a-sdk: 'no compatible transports found') find no "
                f"{std} interface here; a2actl reads it as {std} (handshake probe and the other commands "
                "call it as one)",
                _SEC_INTERFACE if ptr.startswith("/supportedInterfaces/") else _SEC_TRANSPORT,
                check="binding-spelling",
            )
        )
    return out


def _no_standard_interface(raw: dict[str, Any], view: CardView) -> list[Finding]:
    """``no-standard-interface``: the card has interfaces with a url, but none of a binding a2actl
    knows (JSONRPC, HTTP+JSON, GRPC, or a spelling it reads as one): only custom bindings (spec v1.0
    §4.4.6: a URI). A warning: clients of the custom binding may call it, no standard client can. An
    empty ``supportedInterfaces`` is the 1.0 schema's ``minItems`` violation (exit 6), not this."""
    from a2actl.protocol.versions import STANDARD_BINDINGS

    if not view.interfaces or any(i.protocol_binding in STANDARD_BINDINGS for i in view.interfaces):
        return []
    customs = sorted({i.protocol_binding for i in view.interfaces})
    v1 = raw.get("supportedInterfaces")
    ptr = "/supportedInterfaces" if isinstance(v1, list) and v1 else "/preferredTransport"
    return [
        Finding(
            "check",
            WARNING,
            ptr,
            "no interface of a standard binding (JSONRPC, HTTP+JSON, GRPC): only "
            f"{', '.join(repr(c) for c in customs[:5])}{' …' if len(customs) > 5 else ''}; clients that "
            "speak only the standard bindings, a2actl included, cannot call the agent",
            _SEC_INTERFACE if ptr == "/supportedInterfaces" else _SEC_TRANSPORT,
            check="no-standard-interface",
        )
    ]


def _version_shape(raw: dict[str, Any], view: CardView) -> list[Finding]:
    """``version-shape``: a 0.x-shaped card (``url``/``preferredTransport``, no ``supportedInterfaces``)
    declaring a 1.x ``protocolVersion``. It is neither: a 1.0 card declares its interfaces in
    ``supportedInterfaces`` (spec v1.0 §4.4.1, REQUIRED), each with its version (§4.4.6); 0.x cards
    carry 0.x versions. Only the 0.3 schema is chosen for the shape, and it passes. An error."""
    from a2actl.protocol.versions import Family

    if view.shape not in ("0.2", "0.3"):
        return []
    top = raw.get("protocolVersion")
    if not isinstance(top, str) or family_of(top) is not Family.V1_0:
        return []
    return [
        Finding(
            "check",
            ERROR,
            "/protocolVersion",
            f"protocolVersion {top!r} on a 0.x-shaped card (url/preferredTransport, no "
            "supportedInterfaces): 1.0 cards declare supportedInterfaces, so 1.0 clients find no "
            "interface (a2a-sdk maps url to one), and 0.3 clients are told a version they do not "
            "speak; a2actl calls url as a 1.0 interface. Declare supportedInterfaces, or a 0.x "
            "protocolVersion",
            "v1.0 §4.4.1 AgentCard (supportedInterfaces REQUIRED), §4.4.6 AgentInterface",
            check="version-shape",
        )
    ]


def _requirement_section(pointer: str) -> str:
    """The spec section of a security requirement entry at ``pointer`` (``/securityRequirements/…``,
    ``/security/…``, ``/skills/N/…``)."""
    rule = "v1.0 §4.5 Security Objects (a requirement names a securitySchemes entry)"
    if pointer.startswith("/securityRequirements/"):
        return rule
    return f"{spec_section(pointer, '1.0' if 'securityRequirements' in pointer else '0.3')}; {rule}"


def _declared(raw: dict[str, Any]) -> str:
    """`` (declared: a, b)`` or `` (the card declares no scheme)``, for a message."""
    schemes = raw.get("securitySchemes")
    names = sorted(str(k) for k in schemes) if isinstance(schemes, dict) else []
    if not names:
        return " (the card declares no scheme)"
    shown = ", ".join(repr(n) for n in names[:5]) + (" …" if len(names) > 5 else "")
    return f" (declared: {shown})"


def undeclared_scheme_refs(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """``(pointer, scheme name)`` of every security requirement entry naming a scheme that
    ``securitySchemes`` does not declare, in document order: ``securityRequirements[i].schemes`` (1.0,
    ``/securityRequirements/0/schemes/NAME``), ``security[i]`` (0.x, ``/security/0/NAME``), and the same
    members of each skill (``/skills/2/securityRequirements/0/schemes/NAME``). Requirements of the wrong
    shape are the schemas' to report. Never raises."""
    from a2actl.core.pointer import pointer_token

    schemes = raw.get("securitySchemes")
    declared = set(schemes) if isinstance(schemes, dict) else set()
    out: list[tuple[str, str]] = []

    def scan(holder: Any, base: str) -> None:
        if not isinstance(holder, dict):
            return
        v1 = holder.get("securityRequirements")
        for idx, req in enumerate(v1 if isinstance(v1, list) else []):
            names = req.get("schemes") if isinstance(req, dict) else None
            for name in names if isinstance(names, dict) else {}:
                if name not in declared:
                    out.append((f"{base}/securityRequirements/{idx}/schemes/{pointer_token(name)}", name))
        v0 = holder.get("security")
        for idx, req in enumerate(v0 if isinstance(v0, list) else []):
            for name in req if isinstance(req, dict) else {}:
                if name not in declared:
                    out.append((f"{base}/security/{idx}/{pointer_token(name)}", name))

    scan(raw, "")
    skills = raw.get("skills")
    for idx, skill in enumerate(skills if isinstance(skills, list) else []):
        scan(skill, f"/skills/{idx}")
    return out


def _security_scheme_shape(raw: dict[str, Any], view: CardView, *, strict: bool) -> list[Finding]:
    """``security-scheme-shape``, on 1.0 and hybrid cards: a ``securitySchemes`` entry with none of the
    1.0 wrappers (``httpAuthSecurityScheme``, ``apiKeySecurityScheme``, …; spec v1.0 §4.5.1, a oneof).
    The open 1.0 schema accepts such an object (every member optional). With v0.3's ``type`` (e.g.
    ``{"type": "http", "scheme": "bearer"}``): a warning (an error with ``strict``): a2a-sdk converts it,
    readers of the 1.0 form find no scheme type. With neither: an error, no client can tell how to
    authenticate."""
    from a2actl.core.pointer import pointer_token
    from a2actl.protocol.card import _V1_SCHEME_KEYS

    schemes = raw.get("securitySchemes")
    if view.shape not in ("1.0", "hybrid") or not isinstance(schemes, dict):
        return []
    out: list[Finding] = []
    section = "v1.0 §4.5.1 SecurityScheme"
    for name, scheme in schemes.items():
        if not isinstance(scheme, dict) or any(k in scheme for k in _V1_SCHEME_KEYS):
            continue
        ptr = f"/securitySchemes/{pointer_token(str(name))}"
        v03_type = scheme.get("type")
        if isinstance(v03_type, str) and v03_type:
            wrapper = next((k for k, t in _V1_SCHEME_KEYS.items() if t == v03_type), None)
            fix = f'wrap it: {{"{wrapper}": {{...}}}}' if wrapper else "wrap it in its 1.0 member"
            out.append(
                Finding(
                    "check",
                    ERROR if strict else WARNING,
                    ptr,
                    f"security scheme {name!r} has v0.3's shape (type {v03_type!r}) and no 1.0 wrapper: "
                    f"readers of the 1.0 form find no scheme type (a2a-sdk converts it); {fix}",
                    section,
                    check="security-scheme-shape",
                )
            )
        else:
            out.append(
                Finding(
                    "check",
                    ERROR,
                    ptr,
                    f"security scheme {name!r} declares no scheme type (none of "
                    f"{', '.join(_V1_SCHEME_KEYS)}): clients cannot know how to authenticate",
                    section,
                    check="security-scheme-shape",
                )
            )
    return out


def _duplicate_skill_ids(raw: dict[str, Any]) -> list[Finding]:
    """``duplicate-skill-id``: a skill whose ``id`` an earlier skill has, at ``/skills/N/id`` of each
    later one. Clients key skills by id (spec v1.0 §4.4.5: "a unique identifier for the agent's
    skill"), so they see one of
    them; ``caps snapshot`` keeps the first (and lists the id in ``duplicateSkillIds``). An error."""
    skills = raw.get("skills")
    first: dict[str, int] = {}
    out: list[Finding] = []
    for idx, skill in enumerate(skills if isinstance(skills, list) else []):
        sid = skill.get("id") if isinstance(skill, dict) else None
        if not isinstance(sid, str):
            continue
        if sid not in first:
            first[sid] = idx
            continue
        ptr = f"/skills/{idx}/id"
        out.append(
            Finding(
                "check",
                ERROR,
                ptr,
                f"skill id {sid!r} is also the id of /skills/{first[sid]}: clients key skills by id and "
                "see only one of them; caps snapshot and caps diff compare the first only",
                spec_section(ptr, "1.0") + ' (id: "a unique identifier for the agent\'s skill")',
                check="duplicate-skill-id",
            )
        )
    return out
