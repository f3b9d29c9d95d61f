"""The replay journal (``docs/dlq.md``, "Replay semantics"): JSONL of ``{"id", "event", "at"}`` with
``event`` ``delivered`` (the agent acknowledged it), ``removed`` (gone from the source) or ``stale``
(delivered by a run on another source identity: not removed, see ``Journal.resumable``); ``at`` in
epoch seconds. An id ``delivered`` but not ``removed`` when a replay starts is removed without being
delivered again. Each run first appends ``{"event": "start", "pid", "at", "source"}`` (no ``id``; ``source`` the
source's identity when it has one: a file's ``DEV:INO``), which proves the journal can be written
before anything is replayed and tells later runs which source the ids after it were delivered
from. A file source also gets ``{"event": "mark", "source", "size", "tail"}`` (no ``id``) before each
batch of ``delivered`` lines: where the file stood then (``FileBackend.mark``), so that a file
truncated in place and refilled (the same ``DEV:INO``) is told from the one those ids came from."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from a2actl.core.errors import UsageError


def default_journal(src: str) -> Path:
    """``$XDG_STATE_HOME/a2actl/journals/<sha256(SRC)[:16]>.jsonl`` (``~/.local/state`` by default)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "a2actl" / "journals" / (hashlib.sha256(src.encode()).hexdigest()[:16] + ".jsonl")


class Marks(Protocol):
    """Where a source stands, for the journal (``FileBackend``: ``mark``, ``continues``)."""

    def mark(self) -> dict[str, Any] | None:
        """``{"source", …}`` of the source now (JSON); ``None`` when it cannot be said."""
        ...

    def continues(self, mark: dict[str, Any]) -> bool:
        """Whether the source now is the one ``mark`` (or a start line's ``{"source"}``) saw, grown
        only by appends."""
        ...


def _kind(mode: int) -> str:
    """What a file of ``mode`` is, in words (``a FIFO``, ``a character device``, …)."""
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _regular(path: Path, mode: int) -> None:
    """Raise ``UsageError`` (exit 2) unless ``mode`` is a regular file's."""
    if not stat.S_ISREG(mode):
        raise UsageError(
            f"cannot use {path} as the replay journal: it is {_kind(mode)}", hint="give --journal PATH"
        )


def refuse_unfit(path: Path) -> None:
    """Raise ``UsageError`` (exit 2) when ``path`` is no place for a journal, before anything opens
    it: an existing path that is not a regular file (a directory, FIFO, socket, character or block
    device: opening some has effects of its own, a tape rewinds, a watchdog arms), or a path on a
    kernel interface (``/proc``, ``/sys``, debugfs, …: ``a2actl.core.kernelfs``), whose files look
    regular and whose writes change the machine (``/proc/sys/kernel/hostname``, as root). A path
    that cannot be looked at is left to the open, which says why."""
    from a2actl.core.kernelfs import kernel_fs

    try:
        mode: int | None = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is not None:
        _regular(path, mode)
    fs = kernel_fs(path)
    if fs is not None:
        raise UsageError(
            f"cannot use {path} as the replay journal: it is on {fs}, a kernel interface, not a file",
            hint="give --journal PATH",
        )


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written: a write cut short (a file size limit, a disk
    that filled up) returns a count, and the error comes with the next write. Raises ``OSError``."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _why(exc: OSError, path: Path) -> str:
    """The reason ``exc`` gives for ``path``; when a parent of it is a file, that parent is named
    (``mkdir``'s "File exists" named no culprit)."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    return f"{parent} is not a directory"
                break
    return exc.strerror or str(exc)


class Journal:
    """An open journal. ``pending``: ids delivered and not yet removed, in order, each with where
    the source stood when it was delivered (the last ``mark`` line before it, else ``{"source"}`` of
    the last start line; ``None``: not known, as in journals written before identities);
    ``done``: ids removed by earlier runs. Torn or foreign lines are skipped when reading."""

    def __init__(self, path: Path, identity: str | None = None, marks: Marks | None = None) -> None:
        """Read ``path`` (created with its directory when missing), open it for appending and append
        this run's ``start`` line with an ``fsync``. Raises ``UsageError`` (exit 2) when it cannot be:
        a directory, a FIFO, a socket or a device (a FIFO's open blocked until a writer came, past
        ``--max-time`` and SIGTERM; ``/dev/zero`` was read without end), a file of ``/proc``, ``/sys``
        or another kernel interface (``refuse_unfit``, before any open), no permission, or a write
        refused (a full disk, a file size limit): that was found at the first acknowledged batch,
        after deliveries, as exit 1 "unexpected OSError". A line that is not UTF-8 JSON is skipped,
        as a torn one is; a torn last line is terminated before this run appends.

        ``identity``: the source's identity now (``FileBackend.identity``, a file's ``DEV:INO``),
        written in the start line; ``resumable`` leaves out what a run on another identity
        delivered. ``marks``: the source (a ``FileBackend``), whose ``mark`` is written before each
        batch of ``delivered`` lines and whose ``continues`` ``resumable`` asks instead of comparing
        identities."""
        self.path = path
        self.identity = identity
        self.marks = marks
        # delivered, not yet removed (ordered): id → where the source stood (a mark, or {"source"})
        self.pending: dict[str, dict[str, Any] | None] = {}
        self.done = 0
        refuse_unfit(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                # O_NONBLOCK: a FIFO opens at once (and is refused below) instead of waiting for a writer
                rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            except FileNotFoundError:
                rfd = None
            torn = False
            if rfd is not None:
                with open(rfd, "rb") as f:
                    _regular(path, os.fstat(f.fileno()).st_mode)
                    torn = self._read(f)
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o600)
        except OSError as exc:
            raise UsageError(
                f"cannot use {path} as the replay journal: {_why(exc, path)}", hint="give --journal PATH"
            ) from exc
        head: dict[str, object] = {"event": "start", "pid": os.getpid(), "at": time.time()}
        if identity is not None:
            head["source"] = identity
        start = json.dumps(head) + "\n"
        try:
            # a torn last line is terminated: this run's first line was appended to it, and lost with it
            _write_all(self.fd, (b"\n" if torn else b"") + start.encode())
            os.fsync(self.fd)
        except OSError as exc:
            os.close(self.fd)
            raise UsageError(
                f"cannot use {path} as the replay journal: cannot write it: {_why(exc, path)}",
                hint="free space there, or give --journal PATH",
            ) from exc

    def _read(self, f: BinaryIO) -> bool:
        """Fold the journal's lines into ``pending`` and ``done``; returns whether the last line is
        torn (no line end: a run stopped inside a write)."""
        line = b"\n"
        source: dict[str, Any] | None = None  # the last mark, or the identity the last start line named
        for line in f:
            try:
                rec = json.loads(line.decode("utf-8"))
            except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                continue  # a torn last line
            if not isinstance(rec, dict):
                continue
            if rec.get("event") in ("start", "mark") and "id" not in rec:
                named = rec.get("source")
                if rec["event"] == "mark":  # a mark without a source (the file was gone): no proof
                    named = named if isinstance(named, str) else None
                    source = {"source": named, "size": rec.get("size"), "tail": rec.get("tail")}
                else:
                    source = {"source": named} if isinstance(named, str) else None
                continue
            if not isinstance(rec.get("id"), str):
                continue  # not a journal line
            if rec.get("event") == "delivered":
                self.pending[rec["id"]] = source
            elif rec.get("event") == "removed":
                self.pending.pop(rec["id"], None)
                self.done += 1
            elif rec.get("event") == "stale":  # not removed: delivered by a run on another source
                self.pending.pop(rec["id"], None)
        return not line.endswith(b"\n")

    def resumable(self) -> tuple[list[str], list[str]]:
        """``(resume, stale)``: the pending ids a resume removes (delivered from the source as it is
        now, grown only by appends: ``marks.continues``; without ``marks``, by a run on this
        journal's ``identity``, or where either identity is unknown) and those it must not (the file
        was rotated, replaced, or truncated and refilled since, and an entry with that id now is
        another one, never delivered; it is delivered as any live entry, and the journal marks the
        old ids ``stale``). Ids journalled without any source (older journals) are resumed."""
        mine: list[str] = []
        other: list[str] = []
        verdicts: dict[int, bool] = {}  # one check per mark, not per id
        for eid, source in self.pending.items():
            if source is None:
                same = True
            elif self.marks is not None:
                if id(source) not in verdicts:
                    verdicts[id(source)] = self.marks.continues(source)
                same = verdicts[id(source)]
            else:
                same = self.identity is None or source["source"] == self.identity
            (mine if same else other).append(eid)
        return mine, other

    def write(self, ids: list[str], event: str, sync: bool) -> None:
        """Append one line per id in one ``write``; ``sync``: ``fsync`` after it. Raises
        ``UsageError`` (exit 2) naming the journal when the write or the ``fsync`` fails (a disk
        that filled up during the run): the replay stops; ids whose ``delivered`` line failed are not
        removed from the source, and the next run delivers them again (at least once)."""
        if not ids:
            return
        # the bytes json.dumps({"id": i, "event": event, "at": at}) gives, built from its own string
        # encoder once per id instead of the whole encoder per line
        tail = f', "event": {encode_basestring_ascii(event)}, "at": {json.dumps(time.time())}}}\n'
        data = "".join(['{"id": ' + encode_basestring_ascii(i) + tail for i in ids]).encode()
        if event == "delivered" and self.marks is not None:
            # where the source stands: these ids were read from it, so it holds them below this mark
            mark = self.marks.mark() or {"source": None}  # gone or unreadable: a resume delivers again
            data = (json.dumps({"event": "mark", **mark}) + "\n").encode() + data
        try:
            _write_all(self.fd, data)
            if sync:
                os.fsync(self.fd)
        except OSError as exc:
            raise UsageError(
                f"cannot write the replay journal {self.path}: {_why(exc, self.path)}; the replay stopped",
                hint="entries acknowledged but not journalled stay in the DLQ and are delivered again "
                "by the next run; free space there, or give --journal PATH",
            ) from exc

    def close(self) -> None:
        """Close the file."""
        os.close(self.fd)
