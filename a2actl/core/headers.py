"""What a request header and a bearer token must be before any transport sends them: one rule for
the command line (``-H``, ``--token-file``, ``--token-env``, ``A2ACTL_TOKEN``) and for files that
carry headers and token variables (``fleet probe`` / ``exporter --inventory`` inventories, the
exporter's ``--config`` modules).

* A header name is an RFC 9110 token (§5.1, §5.6.2) and not one the HTTP client owns
  (``CLIENT_OWNED``: message framing, the target, connection-specific fields).
* A header value, and a token, is printable ASCII (tabs allowed in a header value): httpx, aiohttp
  and gRPC metadata refuse line breaks and control characters, and would each send non-ASCII their
  own way.
* A token given with its scheme (``Bearer eyJ…``) has the word dropped: a2actl adds
  ``Authorization: Bearer`` itself.

No message here ever holds a value: header values and tokens are secrets. Pure functions; the
callers name where the header or token came from.
"""

from __future__ import annotations

from a2actl.core.errors import UsageError

#: An HTTP field name's characters (RFC 9110 §5.1: a token, §5.6.2).
FIELD_NAME_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

#: Headers the HTTP client owns (lower case): message framing and the target (RFC 9112 §6, RFC 9110
#: §7.2) and the connection-specific fields HTTP/2 and gRPC forbid (RFC 9110 §7.6.1, RFC 9113
#: §8.2.2). Given by the user they contradict the client's own (h11: "Too little data for declared
#: Content-Length") or frame the request twice (a smuggling risk behind a proxy).
CLIENT_OWNED = frozenset(
    ("content-length", "transfer-encoding", "host", "connection", "keep-alive", "proxy-connection")
    + ("upgrade", "te", "trailer")
)


def is_field_name(name: str) -> bool:
    """Whether ``name`` is a non-empty RFC 9110 field name (token characters only)."""
    return bool(name) and set(name) <= FIELD_NAME_CHARS


def sendable(value: str) -> bool:
    """A header value every transport sends the same way: printable ASCII (tabs allowed)."""
    return value.isascii() and not any(c < " " and c != "\t" or c == "\x7f" for c in value)


def header_problem(name: str, value: str) -> tuple[str, str] | None:
    """Why the header ``name: value`` cannot be sent as given, as ``(problem, hint)`` (neither holds
    the value), or ``None`` when it can. The problem reads after the header's name: ``"X-Key: " +
    problem``. Checks, in order: the name is a field name (``is_field_name``), not one the client
    owns (``CLIENT_OWNED``), and the value is ``sendable``."""
    if not is_field_name(name):
        return "is not a header name (RFC 9110 token characters only)", "use 'Name: value'"
    if name.lower() in CLIENT_OWNED:
        return (
            f"a2actl's HTTP client sets {name} itself (framing and connection headers cannot be given)",
            "put the host in the URL (with its IP in /etc/hosts to reach one server)"
            if name.lower() == "host"
            else "drop this header",
        )
    if not sendable(value):
        return (
            "the value must be printable ASCII (no line breaks, control or non-ASCII characters)",
            "percent-encode or base64 the value, as the receiving service expects",
        )
    return None


def bare_token(token: str) -> tuple[str, bool]:
    """``(token without one leading Bearer scheme word (any case), whether it had one)``. a2actl
    sends ``Authorization: Bearer <token>`` itself, so a value copied with its scheme (``Bearer
    eyJ…``) would go out as ``Bearer Bearer eyJ…`` and be refused. A bearer token cannot hold a space
    (RFC 6750 §2.1 b64token), so the word is never part of one."""
    scheme, rest = token[:6], token[6:]
    if scheme.lower() != "bearer" or rest[:1] not in (" ", "\t") or not rest.strip():
        return token, False
    return rest.strip(), True


def checked_token(token: str, source: str) -> tuple[str, str | None]:
    """``(the token to send, a note or None)``: ``token`` (from ``source``, e.g. ``--token-env
    NAME``) without a leading ``Bearer`` word (``bare_token``; the note, naming ``source`` and never
    the value, says it was dropped). Raises ``UsageError`` (exit 2) naming ``source``, never the
    value, when the token cannot go in an ``Authorization`` header (a line break inside, a control or
    non-ASCII character)."""
    token, had_scheme = bare_token(token)
    if not sendable(token):
        raise UsageError(
            f"{source}: the token must be printable ASCII on one line (no line breaks, control or "
            "non-ASCII characters)",
            hint="the token goes in 'Authorization: Bearer <token>' as it is",
        )
    note = (
        f"{source} starts with 'Bearer '; sending the token after it (a2actl adds the Bearer scheme itself)"
        if had_scheme
        else None
    )
    return token, note


__all__ = ["CLIENT_OWNED", "bare_token", "checked_token", "header_problem", "is_field_name", "sendable"]
