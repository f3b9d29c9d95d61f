"""The dead-letter entry format (``docs/dlq.md``, JSON Schema ``a2actl/schemas/dlq-entry.schema.json``).

An entry is one A2A request that could not be delivered::

    {"id": "dlq-…", "request": {"method": "SendMessage", "params": {"message": {"messageId": …}}},
     "target": {"url": "…", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
     "enqueuedAt": "2026-11-22T04:30:01.695Z", "attempts": 3,
     "lastError": {"code": -32603, "message": "…", "class": "transient"},
     "traceId": "…", "source": "orders"}

``request.params.message.messageId`` is the idempotency key: a replay sends it unchanged so an
idempotent agent dedupes (at-least-once delivery).
"""

from __future__ import annotations

import functools
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from a2actl.core.units import format_timestamp
from a2actl.protocol.jsondoc import holds_lone_surrogate

TRANSIENT, PERMANENT = "transient", "permanent"

#: One dead-letter entry as stored (the JSON object above).
Entry = dict[str, Any]


def now_iso() -> str:
    """The current time as an RFC 3339 UTC timestamp with milliseconds (``2026-11-22T04:30:01.695Z``)."""
    return format_timestamp(time.time())


def new_entry(
    method: str,
    params: dict[str, Any],
    target: dict[str, Any],
    *,
    error: dict[str, Any] | None = None,
    attempts: int = 0,
    source: str | None = None,
    trace_id: str | None = None,
    entry_id: str | None = None,
) -> dict[str, Any]:
    """A new entry (``error``: ``{"code", "message", "class"}``)."""
    return {
        "id": entry_id or "dlq-" + secrets.token_hex(8),
        "request": {"method": method, "params": params},
        "target": target,
        "enqueuedAt": now_iso(),
        "attempts": attempts,
        "lastError": error,
        "traceId": trace_id,
        "source": source,
    }


def register_target_secrets(entry: Any) -> None:
    """Register the secrets of ``entry``'s ``target.url`` (its userinfo, credential-like query
    values: ``core.redact.register_url``) so that no output prints them: ``dlq list``/``show``/
    ``stats`` and a replay's errors printed ``http://user:password@host`` as stored, where every
    other command masks a URL's password. Cheap for a URL without ``@`` or ``?``."""
    target = entry.get("target") if isinstance(entry, dict) else None
    # a target that is a bare string (invalid: the schema wants an object) is still printed in the
    # invalid entry's error, so its secrets are registered too
    url = target.get("url") if isinstance(target, dict) else target
    if isinstance(url, str) and ("@" in url or "?" in url):
        from a2actl.core.redact import register_url

        register_url(url)


def message_id(entry: dict[str, Any]) -> str | None:
    """The idempotency key: ``request.params.message.messageId``."""
    params = (entry.get("request") or {}).get("params") or {}
    msg = params.get("message") if isinstance(params, dict) else None
    mid = msg.get("messageId") if isinstance(msg, dict) else None
    return mid if isinstance(mid, str) else None


# -- reading: every entry is checked against the shipped schema, and a bad one never blocks the rest --

#: Why a record holding a lone surrogate is not an entry (``jsondoc.LoneSurrogate``): Python's reader
#: takes ``"\\ud800"``, but such a string cannot be written as UTF-8, so the entry could be neither
#: printed (``-o json``) nor delivered.
LONE_SURROGATE = "not valid Unicode text: a lone surrogate escape (\\ud800-\\udfff) in a string"

#: Why a record nested too deep for Python's JSON reader (about 1,000 levels) is not an entry: it is
#: JSON, not a torn or garbage line.
TOO_DEEP = "JSON nested too deep to read (about 1,000 levels or more)"

_SURROGATES = re.compile("[\ud800-\udfff]")


def valid_text(value: Any) -> Any:
    """``value`` (decoded JSON: dicts, lists, scalars) with every surrogate code point in its strings
    and keys replaced by U+FFFD; ``value`` itself when it has none (the usual case: no copy).

    What a store writes from an agent's text goes through this (``lastError``: an error message the
    stdlib read from ``"\\ud800"``, or built from bytes that were not UTF-8), so a store never
    writes a record it would refuse to read back (``LONE_SURROGATE``), and ``-o json`` can print
    it. Iterative: any depth."""
    if not holds_lone_surrogate(value):
        return value
    root = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        parent, k = stack.pop()
        v = parent[k]
        if isinstance(v, str):
            parent[k] = _SURROGATES.sub("\ufffd", v)
        elif isinstance(v, dict):
            new = {
                (_SURROGATES.sub("\ufffd", key) if isinstance(key, str) else key): x for key, x in v.items()
            }
            parent[k] = new
            stack.extend((new, key) for key in new)
        elif isinstance(v, list):
            parent[k] = copy = list(v)
            stack.extend((copy, i) for i in range(len(copy)))
    return root[0]


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    from a2actl.schemas import load_named

    return Draft202012Validator(load_named("dlq-entry.schema.json"))


def _int(v: Any) -> bool:  # JSON Schema's "integer": no booleans, integral floats included
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


def _str_or_none(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _conforms(e: Any) -> bool:
    """A fast mirror of ``dlq-entry.schema.json`` (jsonschema costs ~230 µs an entry; this ~2 µs).
    ``tests/test_dlq_reader.py`` checks with hypothesis that it agrees with the schema both ways; any
    entry it rejects is checked by jsonschema, which names the error."""
    if not isinstance(e, dict):
        return False
    eid, req, tgt, err = e.get("id"), e.get("request"), e.get("target"), e.get("lastError", ())
    if not (
        isinstance(eid, str)
        and eid
        and isinstance(req, dict)
        and isinstance(tgt, dict)
        and isinstance(e.get("enqueuedAt"), str)
        and "attempts" in e
        and _int(e["attempts"])
        and e["attempts"] >= 0
        and _str_or_none(e.get("traceId"))
        and _str_or_none(e.get("source"))
    ):
        return False
    if not (isinstance(req.get("method"), str) and isinstance(req.get("params"), dict)):
        return False
    if not (
        isinstance(tgt.get("url"), str)
        and isinstance(tgt.get("protocolBinding", ""), str)
        and isinstance(tgt.get("protocolVersion", ""), str)
        and _str_or_none(tgt.get("tenant"))
    ):
        return False
    if err is None:
        return True
    if not isinstance(err, dict):
        return False  # missing (the default ``()``) or not an object
    code = err.get("code")
    return (
        isinstance(err.get("message"), str)
        and err.get("class") in (TRANSIENT, PERMANENT)
        and (code is None or isinstance(code, str) or _int(code))
    )


def check(entry: Any) -> str | None:
    """``None`` when ``entry`` matches the shipped schema, else its most relevant violation as
    ``pointer: message`` (at most 200 characters; the secrets of a URL the message quotes masked,
    ``http://user:***@host``)."""
    if _conforms(entry):
        return None
    from jsonschema.exceptions import best_match

    from a2actl.core.pointer import to_pointer
    from a2actl.core.redact import mask_urls

    err = best_match(_validator().iter_errors(entry))
    if err is None:  # the mirror is stricter than the schema somewhere: trust the schema
        return None
    # the message quotes the value (a lastError that is a string naming a URL with its password):
    # masked before it is cut, which could cut inside a URL where no mask finds the password's end
    message = mask_urls(err.message)
    message = message if len(message) <= 200 else message[:197] + "..."
    return f"{to_pointer(err.absolute_path) or '/'}: {message}"


@dataclass(frozen=True)
class Invalid:
    """A stored record that is not a valid entry. ``ref`` is what ``dlq purge --ids`` takes (the id, a
    Redis stream id, or ``line:N`` for a file line without one); ``where`` says where it is."""

    ref: str | None
    where: str
    error: str

    def to_json(self) -> dict[str, Any]:
        """``{"ref", "where", "error"}``."""
        return {"ref": self.ref, "where": self.where, "error": self.error}


#: Receives the invalid records a reader skips.
OnInvalid = Callable[[Invalid], None]


@dataclass
class InvalidEntries:
    """Collects skipped records: a count and the first ``keep`` of them (memory stays flat)."""

    keep: int = 20
    count: int = 0
    first: list[Invalid] = field(default_factory=list)

    def __call__(self, bad: Invalid) -> None:
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append(bad)

    def to_json(self) -> dict[str, Any]:
        """``{"count", "first": [Invalid…]}`` (the documents' ``invalid``)."""
        return {"count": self.count, "first": [b.to_json() for b in self.first]}

    def warning(self) -> str | None:
        """One line for stderr, or ``None`` when nothing was skipped."""
        if not self.count:
            return None
        b = self.first[0]
        return (
            f"skipped {self.count} invalid entr{'y' if self.count == 1 else 'ies'} (not replayable until fixed or "
            f"purged; -o json lists them); first: {b.where}: {b.error}"
        )
