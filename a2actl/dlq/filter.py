"""Which dead letters a ``dlq list`` or ``dlq replay`` takes: ``EntryFilter`` and ``select`` (with
``IdLookup``: which ``--ids`` name no entry)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from a2actl.core.units import parse_timestamp as parse_iso
from a2actl.dlq.store.base import Backend
from a2actl.dlq.store.entry import Entry, Invalid, OnInvalid


@dataclass
class EntryFilter:
    """Which entries: explicit ``ids``, or filters (``since``: epoch seconds, compared with the
    entry's ``enqueuedAt``; ``error_class``: ``transient`` | ``permanent``; ``method``: the stored A2A
    method name), at most ``limit``."""

    ids: set[str] | None = None
    since: float | None = None
    error_class: str | None = None
    method: str | None = None
    limit: int | None = None

    def matches(self, e: dict[str, Any]) -> bool:
        """Whether ``e`` passes every filter (``limit`` aside). An entry without a parseable
        ``enqueuedAt`` counts as enqueued at epoch 0."""
        if self.ids is not None and e.get("id") not in self.ids:
            return False
        if self.since is not None and (parse_iso(e.get("enqueuedAt")) or 0) < self.since:
            return False
        if self.error_class is not None and ((e.get("lastError") or {}).get("class") != self.error_class):
            return False
        return self.method is None or (e.get("request") or {}).get("method") == self.method

    @property
    def filtered(self) -> bool:
        """Whether anything narrows the selection (a consumer-group replay refuses filters)."""
        return (
            self.ids is not None
            or self.since is not None
            or self.error_class is not None
            or self.method is not None
            or self.limit is not None
        )


@dataclass
class IdLookup:
    """Which of a selection's explicit ``ids`` the source holds, as ``select`` met them: ``seen``
    (valid entries and invalid records by ref, whatever the other filters said) and ``complete``
    (the source was read to its end, so an id not seen names no entry)."""

    seen: set[str] = field(default_factory=set)
    complete: bool = False

    def not_found(self, sel: EntryFilter) -> list[str]:
        """The ids of ``sel.ids`` the source does not hold, sorted; ``[]`` without ``ids`` or when
        ``--limit`` ended the read before the end (the rest were not looked for)."""
        if sel.ids is None or not self.complete:
            return []
        return sorted(sel.ids - self.seen)


async def select(
    backend: Backend,
    sel: EntryFilter,
    on_invalid: OnInvalid | None = None,
    replay: bool = False,
    lookup: IdLookup | None = None,
) -> AsyncIterator[Entry]:
    """Stream the matching entries, at most ``sel.limit``. Invalid records go to ``on_invalid`` (with
    ``sel.ids``, only those whose ref is among them). ``replay``: what a replay takes (a Redis
    consumer group hands out this replayer's share). ``lookup``: told which of ``sel.ids`` were met,
    and whether the source was read to its end."""
    n = 0
    ids = sel.ids
    seen = lookup.seen if lookup is not None and ids is not None else None

    def invalid(bad: Invalid) -> None:
        if ids is not None:
            if bad.ref not in ids:
                return
            if seen is not None:
                seen.add(bad.ref)
        if on_invalid is not None:
            on_invalid(bad)

    source = backend.iter_replay(invalid) if replay else backend.iter_entries(invalid)
    async for e in source:
        if seen is not None and ids is not None and e.get("id") in ids:
            seen.add(e["id"])
        if sel.matches(e):
            yield e
            n += 1
            if sel.limit is not None and n >= sel.limit:
                return
    if lookup is not None:
        lookup.complete = True
