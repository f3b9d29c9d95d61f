"""Test-only views of a DLQ: tombstones per id in a file store (the crash tests: every id removed
exactly once) and the shipped entry schema's violations of an entry; and a file DLQ filled with
dead SendMessage entries, as a producer writes them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from a2actl.core.pointer import to_pointer
from a2actl.dlq.store.entry import _validator, new_entry
from a2actl.dlq.store.file import FileBackend


def dead_send(url: str, message_id: str, *parts: dict[str, Any]) -> dict[str, Any]:
    """A dead SendMessage (JSON-RPC, 1.0) to the interface ``url``: a text part "hi" and ``parts``;
    one attempt so far, its last error a transient -32603."""
    return new_entry(
        "SendMessage",
        {"message": {"messageId": message_id, "role": "ROLE_USER", "parts": [{"text": "hi"}, *parts]}},
        {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
        attempts=1,
        error={"code": -32603, "message": "down", "class": "transient"},
    )


def fill_file_dlq(path: str | Path, entries: Iterable[dict[str, Any]]) -> None:
    """Append ``entries`` to the file DLQ at ``path`` (``FileBackend.append``)."""

    async def fill() -> None:
        backend = FileBackend(str(path))
        for e in entries:
            await backend.append(e)
        await backend.close()

    asyncio.run(fill())


def removal_counts(store: FileBackend) -> dict[str, int]:
    """Tombstones per id in ``store``'s log."""
    counts: dict[str, int] = {}
    for _, rec, _why in store._records():
        if isinstance(rec, dict) and "$tombstone" in rec:
            counts[str(rec["$tombstone"])] = counts.get(str(rec["$tombstone"]), 0) + 1
    return counts


def validation_errors(entry: Any) -> list[str]:
    """Violations of the shipped entry schema, ``pointer: message`` each (empty when valid)."""
    return [f"{to_pointer(e.absolute_path) or '/'}: {e.message}" for e in _validator().iter_errors(entry)]
