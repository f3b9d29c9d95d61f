"""Cursor paging of the debug API (``docs/debug-endpoints.md``: ``GET /sessions``, ``GET /dlq``):
a page's ``nextCursor`` names the next page, and none ends the read; A2A 1.0 ``ListTasks`` pages
the same way with ``nextPageToken``."""

from __future__ import annotations

from typing import Any

from a2actl.core.errors import ProtocolViolation


class CursorTrail:
    """The ``nextCursor`` values one paged read has followed, so that pages leading back to one of
    them (a broken server) end the read with exit 6 instead of going round until ``--max-time``.
    ``where`` names the paged URL in the error."""

    def __init__(
        self,
        where: str,
        field: str = "nextCursor",
        hint: str = "the debug API's paging is broken (docs/debug-endpoints.md)",
    ) -> None:
        self.where = where
        self.field = field
        self.hint = hint
        self.followed: set[str] = set()

    def next(self, page: dict[str, Any]) -> Any:
        """The ``field`` (``nextCursor``; ``nextPageToken`` for A2A ``ListTasks``) of ``page`` to
        follow (``None`` or empty: the last page). Raises ``ProtocolViolation`` (exit 6) when it is
        one this read already followed: the pages loop."""
        cursor = page.get(self.field)
        if not cursor:
            return None
        key = str(cursor)
        if key in self.followed:
            raise ProtocolViolation(
                f"{self.where}: {self.field} {key[:80]!r} was already followed: the pages loop",
                hint=self.hint,
            )
        self.followed.add(key)
        return cursor
