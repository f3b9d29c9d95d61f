"""Cursor paging of the debug API (``docs/debug-endpoints.md``: ``GET /sessions``, ``GET /dlq``):
a page's ``nextCursor`` names the next page, and none ends the read."""

from __future__ import annotations

from typing import Any

from a2actl.core.errors import ProtocolViolation


class CursorTrail:
    """The ``nextCursor`` values one paged read has followed, so that pages leading back to one of
    them (a broken server) end the read with exit 6 instead of going round until ``--max-time``.
    ``where`` names the paged URL in the error."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.followed: set[str] = set()

    def next(self, page: dict[str, Any]) -> Any:
        """The ``nextCursor`` of ``page`` to follow (``None`` or empty: the last page). Raises
        ``ProtocolViolation`` (exit 6) when it is one this read already followed: the pages loop."""
        cursor = page.get("nextCursor")
        if not cursor:
            return None
        key = str(cursor)
        if key in self.followed:
            raise ProtocolViolation(
                f"{self.where}: nextCursor {key[:80]!r} was already followed: the pages loop",
                hint="the debug API's paging is broken (docs/debug-endpoints.md)",
            )
        self.followed.add(key)
        return cursor
