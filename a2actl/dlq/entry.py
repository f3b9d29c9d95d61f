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

import secrets
import time
from typing import Any

from a2actl.durations import format_timestamp

TRANSIENT, PERMANENT = "transient", "permanent"


def now_iso() -> str:
    return format_timestamp(time.time())


def new_entry(method: str, params: dict[str, Any], target: dict[str, Any], *, error: dict[str, Any] | None = None,
              attempts: int = 0, source: str | None = None, trace_id: str | None = None,
              entry_id: str | None = None) -> dict[str, Any]:
    """A new entry (``error``: ``{"code", "message", "class"}``)."""
    return {"id": entry_id or "dlq-" + secrets.token_hex(8), "request": {"method": method, "params": params},
            "target": target, "enqueuedAt": now_iso(), "attempts": attempts, "lastError": error,
            "traceId": trace_id, "source": source}


def message_id(entry: dict[str, Any]) -> str | None:
    """The idempotency key: ``request.params.message.messageId``."""
    params = (entry.get("request") or {}).get("params") or {}
    msg = params.get("message") if isinstance(params, dict) else None
    mid = msg.get("messageId") if isinstance(msg, dict) else None
    return mid if isinstance(mid, str) else None


def validation_errors(entry: Any) -> list[str]:
    """Violations of the shipped entry schema, ``pointer: message`` each (empty when valid)."""
    from jsonschema import Draft202012Validator

    from a2actl.caps.validate import to_pointer
    from a2actl.schemas import load_named

    validator = Draft202012Validator(load_named("dlq-entry.schema.json"))
    return [f"{to_pointer(e.absolute_path) or '/'}: {e.message}" for e in validator.iter_errors(entry)]
