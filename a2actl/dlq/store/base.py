"""The one ``Backend`` protocol every dead-letter store satisfies (file, Redis Streams, the debug API's
HTTP DLQ), and the ``ReplayLock`` protocol of the lock a replay holds on its source.

Semantics common to every store (``docs/dlq.md``): entries are streamed (memory stays flat over
millions); each stored record is checked against the shipped schema
(``a2actl/schemas/dlq-entry.schema.json``) and an invalid one goes to ``on_invalid`` and never blocks
the rest; removal is idempotent (``remove`` returns whether it removed a live entry), so a replay that
crashed between the agent's ack and the removal can remove again without harm.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from a2actl.dlq.store.entry import Entry, OnInvalid
from a2actl.dlq.store.lock import Notice


class ReplayLock(Protocol):
    """One replay per source at a time (``a2actl.dlq.store.lock``: ``FileLock``, ``RedisLease``)."""

    async def acquire(self, wait: bool, notice: Notice | None = None) -> None:
        """Take the lock; with ``wait`` poll until it is free (``notice`` is told who holds it).
        Raises ``SourceLocked`` (exit 1) when it is held and ``wait`` is false."""
        ...

    def check(self) -> None:
        """Raise ``LeaseLost`` (exit 1) when the lock was lost since ``acquire``."""
        ...

    async def release(self) -> None:
        """Give the lock back (idempotent)."""
        ...


class Backend(Protocol):
    """A dead-letter store. ``kind`` is ``"file"``, ``"redis"``, ``"http"``, ``"amqp"`` or ``"sqs"``;
    ``url`` the normalised source URL. Broker stores may add ``broker_depth()`` (the broker's own
    counts: ``dlq stats``, ``smoke``'s ``dlq-depth``) and a way back into the broker for
    ``dlq replay --to-broker`` (``to_broker`` on SQS, ``republish`` on RabbitMQ). The file and Redis
    stores add ``lookup(id)`` → ``(record, why)``: ``get`` with the reason ``list`` gives for an
    invalid record (``dlq show``)."""

    kind: str
    url: str

    async def close(self) -> None:
        """Release connections (the store object is not used afterwards)."""
        ...

    async def missing(self) -> str | None:
        """A warning when the source does not exist yet (it then reads as empty), else ``None``."""
        ...

    def check_writable(self) -> None:
        """For producers at start: raise ``UsageError`` (exit 2) or ``UnreachableError`` (exit 3)
        unless entries can be appended."""
        ...

    def replay_lock(self, src: str) -> ReplayLock:
        """The lock a replay of this source holds for its whole run (``src`` names it in messages)."""
        ...

    @property
    def journal_key(self) -> str:
        """What names the source's default replay journal (``a2actl.dlq.replay.default_journal``)."""
        ...

    async def append(self, entry: Entry) -> str:
        """Store a new entry; returns its id in this store."""
        ...

    def iter_entries(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[Entry]:
        """Every live, valid entry, oldest first as stored; invalid records go to ``on_invalid``."""
        ...

    def iter_replay(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[Entry]:
        """What a replay takes: ``iter_entries``, except in a Redis consumer group (this consumer's
        share of the stream)."""
        ...

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        """The record with this id, valid or not (``dlq show`` says which); ``None`` when absent."""
        ...

    async def remove(self, entry_id: str) -> bool:
        """Remove one entry; ``True`` when a live entry was removed (idempotent)."""
        ...

    async def remove_many(self, entry_ids: list[str]) -> int:
        """Remove several (one write or round trip where the store allows); returns how many were live."""
        ...

    async def update(self, entry_id: str, attempts: int, last_error: dict[str, Any] | None) -> None:
        """Record a failed replay: the entry's new ``attempts`` and ``lastError``."""
        ...
