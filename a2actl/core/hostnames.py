"""Whether a host name can be requested at all (standard library only): the check TARGET, inventory
URLs, the exporter's ``/probe`` targets and the redirects followed under ``-L`` share."""

from __future__ import annotations

import ipaddress
import re

#: A host name's characters (IDN letters allowed; ``_`` is common in internal names).
_HOST_CHARS = re.compile(r"^[\w.-]+$")


def host_problem(host: str) -> str | None:
    """Why ``host`` (``urlsplit(...).hostname``) cannot be requested, or ``None``: an IPv6 literal
    that does not parse, a character no host name has (a control character, ``<``), an empty or
    over-long label (``a..b``, ``.x``, 64 characters: no IDNA encoding, no DNS query), an ``xn--``
    label that is not valid Punycode (``xn--zz``: the HTTP client cannot decode it), a numeric host
    that is not a dotted IPv4 address (``http://42``: the HTTP client refuses it)."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return f"{host!r} is not an IPv6 address"
        return None
    if not _HOST_CHARS.match(host) or ".." in host:
        return f"the host {host!r} has characters a host name cannot have"
    try:
        host.encode("idna")
    except UnicodeError:
        return f"the host {host!r} has an empty label or one over 63 characters"
    for label in host.lower().split("."):
        if label.startswith("xn--"):
            try:  # an A-label that is not Punycode: httpx's idna.decode raised IDNAError (exit 1, a 500)
                label.encode("ascii").decode("idna")
            except UnicodeError:
                return f"the host {host!r} has a label that is not valid Punycode ({label!r})"
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"the host {host!r} is neither a name nor a dotted IPv4 address"
    return None


__all__ = ["host_problem"]
