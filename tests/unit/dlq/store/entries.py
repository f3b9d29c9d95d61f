"""Entries for the store tests: valid ones (``new_entry``) with stable ids."""

from __future__ import annotations

from typing import Any

from a2actl.dlq.store.entry import new_entry


def entry(i: int, error_class: str = "transient") -> dict[str, Any]:
    """A valid entry ``e{i}`` whose message id is ``m{i}``."""
    return new_entry(
        "SendMessage",
        {"message": {"messageId": f"m{i}", "role": "ROLE_USER", "parts": [{"text": f"hello {i}"}]}},
        {"url": "http://127.0.0.1:9/a2a", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
        error={"code": -32603, "message": "down", "class": error_class},
        attempts=1,
        source="unit",
        entry_id=f"e{i}",
    )
