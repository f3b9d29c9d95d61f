"""Test-only views of a DLQ: tombstones per id in a file store (the crash tests: every id removed
exactly once) and the shipped entry schema's violations of an entry."""

from __future__ import annotations

from typing import Any

from a2actl.core.pointer import to_pointer
from a2actl.dlq.store.entry import _validator
from a2actl.dlq.store.file import FileBackend


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
