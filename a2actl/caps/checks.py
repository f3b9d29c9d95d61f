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
