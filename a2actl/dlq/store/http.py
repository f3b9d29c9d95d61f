"""The debug API's DLQ as a store: ``http(s)://AGENT/debug/a2a/dlq`` (``docs/debug-endpoints.md``):
``GET /dlq?pageSize=N&cursor=C`` pages (``{"entries": [...], "nextCursor": ...}``), ``GET``, ``PATCH``
and ``DELETE /dlq/{id}``. Read and replay only: producers enqueue on the agent's side.

Client side only: it goes through a2actl's ``HttpTransport``, which the server side (``a2actl.server``)
never imports.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from a2actl.core.errors import HTTPStatusError, ProtocolViolation, UsageError
from a2actl.dlq.store.entry import LONE_SURROGATE, Entry, Invalid, OnInvalid, check, valid_text
from a2actl.dlq.store.local import HTTP_READ_ONLY
from a2actl.protocol.jsondoc import holds_lone_surrogate, may_hold_surrogate
from a2actl.protocol.paging import CursorTrail
from a2actl.protocol.versions import join_url, rest_path

#: The longest URL the HTTP client sends (httpx's ``MAX_URL_LENGTH``): an entry whose
#: ``/dlq/{id}`` is longer cannot be removed (nor updated, nor shown) from here.
MAX_URL_CHARS = 65536

if TYPE_CHECKING:
    from a2actl.dlq.store.lock import FileLock
    from a2actl.transport.http import HttpTransport
    from a2actl.transport.timing import HttpResult


class HttpBackend:
    """The debug API's DLQ (``GET /dlq``, ``GET|PATCH|DELETE /dlq/{id}``) through a2actl's transport;
    satisfies ``Backend``. Errors of the transport propagate (``UnreachableError`` exit 3,
    ``TimeoutError_`` exit 5, ``AuthError`` exit 4, ``ProtocolViolation`` exit 6)."""

    kind = "http"

    def __init__(self, url: str, transport: HttpTransport) -> None:
        """``url``: the DLQ endpoint (a trailing ``/`` is dropped); ``transport``: owned from now on
        (``close`` closes it)."""
        self.url = url.rstrip("/")
        self.transport = transport
        #: ``DELETE``s this store has sent (``iter_replay`` reads the pages again after removals).
        self.deletes_sent = 0
        #: Pages the last complete read took (``_read``).
        self.last_read_pages = 0
        self._deleting: set[int] = set()  # the in-flight DELETEs, by number (1 = the first sent)
        self._deleted: asyncio.Future[None] | None = None  # resolved when a DELETE ends

    async def missing(self) -> str | None:
        """Always ``None``: the debug API answers for its own queue (an unknown path is a 404)."""
        return None

    def check_writable(self) -> None:
        """Always raises ``UsageError`` (exit 2): the HTTP DLQ is read/replay only."""
        raise UsageError(HTTP_READ_ONLY)

    def replay_lock(self, src: str) -> FileLock:
        """A lock file in the state directory: one replay at a time from this machine."""
        from a2actl.dlq.store.lock import FileLock, state_lock_path

        return FileLock(state_lock_path(self.url), src)

    @property
    def journal_key(self) -> str:
        """The endpoint URL."""
        return self.url

    async def close(self) -> None:
        """Close the transport's connection pool."""
        await self.transport.client.aclose()

    def _check(self, res: HttpResult) -> Any:
        """The answer's JSON (``{}`` for an empty body); ``None`` for a 404; ``HTTPStatusError``
        (exit 1) for any other status >= 400."""
        if res.status == 404:
            return None
        if res.status >= 400:
            raise HTTPStatusError(
                f"{res.url} answered HTTP {res.status} {res.reason}", details={"httpStatus": res.status}
            )
        return res.json() if res.body else {}

    def _one(self, entry_id: str) -> str:
        """``/dlq/{id}`` with the id as one percent-encoded path segment (``rest_path``): an id
        ``.`` or ``..`` named the page (``GET /dlq``) or the debug API's root, read as the entry.
        Raises ``UsageError`` (exit 2) when it is over ``MAX_URL_CHARS`` (``_unaddressable``)."""
        url = self._url_of(entry_id)
        if len(url) > MAX_URL_CHARS:
            raise UsageError(f"entry {entry_id[:40]!r}…: {self._unaddressable(url)}")
        return url

    def _url_of(self, entry_id: str) -> str:
        return join_url(self.url, rest_path("/{id}", entry_id))  # before a query the URL has

    @staticmethod
    def _unaddressable(url: str) -> str:
        """Why an id whose ``/dlq/{id}`` is ``url`` (over ``MAX_URL_CHARS``) is not replayable."""
        return (
            f"its id makes the URL naming it {len(url):,} characters long, over the {MAX_URL_CHARS:,} "
            "the HTTP client sends: it could be delivered and never removed"
        )

    async def append(self, entry: Entry) -> str:
        """Always raises ``UsageError`` (exit 2): producers enqueue on the agent's side."""
        raise UsageError("the HTTP DLQ is read/replay only; producers enqueue on the agent's side")

    async def iter_entries(
        self, on_invalid: OnInvalid | None = None, page: int = 500
    ) -> AsyncIterator[Entry]:
        """Every valid entry, following ``nextCursor`` (``page`` entries a request); invalid ones go
        to ``on_invalid`` (``where``: ``entry N``, counted from 1 over all pages). An entry the pages
        list twice is taken once. Raises ``HTTPStatusError`` (exit 1) for a 404 (no DLQ at that URL:
        it was exit 6 "did not answer a DLQ page"), ``ProtocolViolation`` (exit 6) when an answer is not a DLQ
        page, or the pages loop: a ``nextCursor`` already followed, or a page of nothing but entries
        this read already had (a server that loops would be read, and replayed, until ``--max-time``)."""
        async for e in self._read(on_invalid, page, set(), set()):
            yield e

    async def _read(
        self, on_invalid: OnInvalid | None, page: int, taken: set[int], reported: set[Any]
    ) -> AsyncIterator[Entry]:
        """One read of every page (``iter_entries``), skipping the entries whose id's ``hash`` is in
        ``taken`` (and adding those it yields) and the invalid records already in ``reported``."""
        cursor, n, pages = None, 0, 0
        sep = "&" if "?" in self.url else "?"  # a URL with a query of its own (a gateway's key)
        trail = CursorTrail(self.url)
        this_read: set[Any] = set()  # what this read met: ids' hashes, invalid records' keys
        while True:
            q = {"pageSize": page, **({"cursor": cursor} if cursor else {})}
            res = await self.transport.request(
                "GET", f"{self.url}{sep}{urlencode(q)}", headers={"Accept": "application/json"}
            )
            pages += 1
            if res.status == 404:  # no DLQ there: a wrong URL, or an agent without the debug API
                raise HTTPStatusError(
                    f"{res.url} answered HTTP 404 {res.reason}: no debug API DLQ there",
                    details={"httpStatus": 404},
                    hint="check SRC: http(s)://AGENT/debug/a2a/dlq of an agent that serves the debug API",
                )
            doc = self._check(res)
            if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
                raise ProtocolViolation(f"{self.url} did not answer a DLQ page")
            suspect = may_hold_surrogate(res.body)  # once a page: the walk only when it may matter
            new_here = not doc["entries"]
            for e in doc["entries"]:
                n += 1
                why = LONE_SURROGATE if suspect and holds_lone_surrogate(e) else check(e)
                if why is None and len(e["id"]) * 12 + len(self.url) + 16 > MAX_URL_CHARS:
                    url = self._url_of(e["id"])  # percent-encoded: up to 12 characters a character
                    if len(url) > MAX_URL_CHARS:
                        why = self._unaddressable(url)
                if why is None:
                    k = hash(e["id"])
                    new_here = new_here or k not in this_read
                    this_read.add(k)
                    if k not in taken:
                        taken.add(k)
                        yield e
                    continue
                eid = e.get("id") if isinstance(e, dict) else None
                ref = eid if isinstance(eid, str) and eid else None
                key = (ref, why) if ref is not None else (None, why, repr(e))
                new_here = new_here or key not in this_read
                this_read.add(key)
                if key not in reported:
                    reported.add(key)
                    if on_invalid is not None:
                        on_invalid(Invalid(ref, f"entry {n}", why))
            cursor = trail.next(doc)
            if not cursor:
                self.last_read_pages = pages
                return
            if not new_here:
                raise ProtocolViolation(
                    f"{self.url}: a page of only entries this read already had, and another nextCursor: "
                    "the pages loop",
                    hint="the debug API's paging is broken (docs/debug-endpoints.md)",
                )

    async def iter_replay(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[Entry]:
        """What a replay takes: every entry, each once. A replay removes what the agent acknowledged
        while it reads; a server whose cursor is an offset (a2actl's own debug API) then skips as
        many entries on later pages (one read left ~40% of 1,200 entries in the queue, with exit 0).
        So the pages are read again from the start, skipping what was taken, while the last read
        may have missed some: it took more than one page, and this store sent a ``DELETE`` during
        it, found anything new or not (the acks of entries taken earlier land while a read finds
        nothing new, and moved an entry past its cursor: it was left in the queue, with exit 0). A
        read of one page, or one no ``DELETE`` overlapped, saw every entry there was.

        Before a read, the ``DELETE``s already sent are waited for (each is counted against one
        read only), so every read after the first needs a ``DELETE`` sent during the read before
        it, and a replay sends one per entry it acknowledged (each entry is taken once): a replay
        taking N entries reads the pages at most N + 1 times. Removals by another consumer are not
        counted: they cannot keep it reading (nor can a read see them: an entry they move past the
        cursor is left for the next run)."""
        taken: set[int] = set()
        reported: set[Any] = set()
        while True:
            sent = self.deletes_sent
            await self._deletes_over(sent)  # none of these can be applied between this read's pages
            async for e in self._read(on_invalid, 500, taken, reported):
                yield e
            if self.last_read_pages < 2 or self.deletes_sent == sent:
                return

    async def _deletes_over(self, upto: int) -> None:
        """Wait until each of the first ``upto`` ``DELETE``s this store sent has ended (answered or
        failed)."""
        while any(n <= upto for n in self._deleting):
            if self._deleted is None:
                self._deleted = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._deleted)

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        """``GET /dlq/{id}``: the record, valid or not; ``None`` on 404. The answer is passed on as
        the agent sent it (an entry object per docs/debug-endpoints.md; ``dlq show`` checks it)."""
        return cast(
            "dict[str, Any] | None", self._check(await self.transport.request("GET", self._one(entry_id)))
        )

    async def remove(self, entry_id: str) -> bool:
        """``DELETE /dlq/{id}``: whether the agent says it removed a live entry (``{"removed": true}``)."""
        self.deletes_sent += 1
        number = self.deletes_sent
        self._deleting.add(number)
        try:
            doc = self._check(await self.transport.request("DELETE", self._one(entry_id)))
        finally:
            self._deleting.discard(number)
            ended, self._deleted = self._deleted, None
            if ended is not None and not ended.done():
                ended.set_result(None)
        return bool(isinstance(doc, dict) and doc.get("removed"))

    async def remove_many(self, entry_ids: list[str]) -> int:
        """One ``DELETE`` per id, in order (the API has no batch); returns how many were removed."""
        removed = 0
        for eid in entry_ids:
            removed += await self.remove(eid)
        return removed

    async def update(self, entry_id: str, attempts: int, last_error: dict[str, Any] | None) -> None:
        """``PATCH /dlq/{id}`` with ``{"attempts", "lastError"}`` (lone surrogates in ``last_error``,
        an agent's text, as U+FFFD: ``valid_text``)."""
        body = {"attempts": attempts, "lastError": valid_text(last_error)}
        self._check(await self.transport.request("PATCH", self._one(entry_id), json_body=body))
