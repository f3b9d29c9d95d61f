"""The file store: an append-only **tombstone log** of JSON lines (``docs/dlq.md``).

A source is ``file:PATH`` in the forms users write (``file://dlq.jsonl``, ``file:dlq.jsonl``,
``file://./dlq.jsonl``, ``file:///abs/dlq.jsonl``, ``file://localhost/abs/dlq.jsonl``) or a plain path.
Entries, updates (``{"$update": id, "attempts", "lastError"}``) and removals (``{"$tombstone": id}``)
are appended as whole lines with one ``write`` under ``flock``, then ``fsync``; readers fold the log. A
crash can leave at most one torn last line: it is reported as invalid when reading and terminated
before the next append. Nothing is rewritten in place, so no crash can lose or duplicate an entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote

import orjson

from a2actl.core.errors import UsageError
from a2actl.dlq.store.entry import (
    LONE_SURROGATE,
    TOO_DEEP,
    Entry,
    Invalid,
    OnInvalid,
    check,
    valid_text,
)
from a2actl.protocol.jsondoc import LoneSurrogate, loads_utf8

if TYPE_CHECKING:
    from a2actl.dlq.store.lock import FileLock, Locks


#: The ref of a file line without a usable id (``line:7``): no entry's id may have this form.
_LINE_REF = re.compile(r"line:[0-9]+")

#: The UTF-8 byte order mark some editors write at the start of a file.
_BOM = b"\xef\xbb\xbf"

#: The longest line read (bytes, its line end included): a longer one is an invalid entry, skipped
#: without being held in memory (a 1 GiB line cost ~3 GiB to list). As ``send --file``'s input limit.
MAX_LINE_BYTES = 64 * 1024 * 1024

#: Why such a line is invalid.
TOO_LONG = "longer than 64 MiB: not read (no dead letter is that long)"


def _lines(f: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)`` for every line of ``f`` (its line end kept), ``(line number, None)``
    for one longer than ``MAX_LINE_BYTES``, which is skipped a MiB at a time, never held whole."""
    limit = MAX_LINE_BYTES
    readline = f.readline
    n = 0
    while True:
        raw = readline(limit)
        if not raw:
            return
        n += 1
        if len(raw) == limit and not raw.endswith(b"\n"):
            while True:  # the rest of the line, dropped
                rest = readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield n, None
        else:
            yield n, raw


#: How many bytes before a journal mark's offset its ``tail`` digest covers (``FileBackend.mark``).
TAIL_BYTES = 4096


def _key(entry_id: str) -> int:
    """A 64-bit digest of an id: a tombstone set of 1M ids stays ~60 MB instead of ~150."""
    # surrogatepass: any str has a digest (an --ids argument that was not UTF-8 on the command line)
    return int.from_bytes(
        hashlib.blake2b(entry_id.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big"
    )


async def _flock(fd: int) -> None:
    """``flock(fd, LOCK_EX)`` without blocking the event loop: tried without waiting, then again
    every millisecond or so, up to 50 ms apart, until it is free. A blocking ``flock`` held the loop
    for as long as another process held the lock (a stopped producer, a hung network file system):
    ``dlq purge --max-time 2`` and SIGTERM waited for it, and so did every delivery of a replay.
    Raises ``OSError`` for anything but a lock held elsewhere; cancellable while it waits."""
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)


def _state(st: os.stat_result) -> tuple[int, int, int, int]:
    """A file's device, inode, size and modification time (ns): another value, another content."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _same_file(a: int, b: int) -> bool:
    """Whether the open files ``a`` and ``b`` are one file (device and inode)."""
    sa, sb = os.fstat(a), os.fstat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def file_path(src: str) -> Path:
    """The absolute path of a file source. ``file://X`` with a relative X (``file://dlq.jsonl``,
    ``file://./dlq.jsonl``, ``file://sub/dlq.jsonl``) is relative to the working directory, as users
    mean it; ``file:///abs`` and ``file://localhost/abs`` are absolute (RFC 8089); ``file:X`` and a
    plain path as written. ``file:`` forms are percent-decoded; ``~`` is expanded. Raises
    ``UsageError`` (exit 2) when ``src`` names no file."""
    rest = src
    if src.startswith("file:"):
        rest = src[len("file:") :]
        if rest.startswith("//"):
            rest = rest[2:]
            if rest.startswith("localhost/"):
                rest = rest[len("localhost") :]
        rest = unquote(rest)
    if not rest or "\0" in rest:
        raise UsageError(
            f"DLQ source {src!r} names no file", hint="file://dlq.jsonl, file:///var/lib/dlq.jsonl or a path"
        )
    return _expanded(Path(rest))


def _expanded(path: Path) -> Path:
    """``path`` absolute, ``~`` and ``~USER`` expanded. Raises ``UsageError`` (exit 2) when the home
    directory cannot be found (``~nosuchuser/dlq.jsonl``, or ``~`` without ``$HOME`` and a password
    entry): it was exit 1 "unexpected RuntimeError"."""
    try:
        return path.expanduser().absolute()
    except RuntimeError as exc:
        raise UsageError(
            f"DLQ file {path}: {exc}", hint="give the path without ~, or with a user that exists"
        ) from exc


class FileBackend:
    """The tombstone-log file store (see the module docstring); satisfies ``Backend``."""

    kind = "file"

    def __init__(self, path: str | Path) -> None:
        """``path``: the log file (need not exist yet); made absolute, ``~`` expanded. Raises
        ``UsageError`` (exit 2) when a ``~USER`` in it names no user."""
        self.path = _expanded(Path(path))
        self.url = f"file://{self.path}"
        self._tombstones: set[int] | None = None
        #: The file a replay read, held open (``pin``): its removals and updates go there.
        self._pinned: int | None = None
        #: Whether the warning that the path names another file now was given (``_moved``).
        self._moved_said = False
        #: Receives one-line warnings (``open_source`` sets it: the CLI prints them on stderr).
        self.warn: Callable[[str], None] | None = None
        #: ``remove``'s index: the keys of every line's ref, and the file's ``_state`` it was read
        #: at (with ``_tombstones``); kept across calls while only this store's tombstones and
        #: updates were appended (``_append_lines``), read again after any other change.
        self._refs: set[int] | None = None
        self._indexed: tuple[int, int, int, int] | None = None
        #: ``remove``'s keys whose tombstone is waiting for the file's lock: a read of the file
        #: meanwhile (``_index`` after a producer's append) does not have them yet.
        self._removing: set[int] = set()

    async def close(self) -> None:
        """Close the file ``pin`` holds open; every other operation opens and closes the file."""
        if self._pinned is not None:
            os.close(self._pinned)
            self._pinned = None

    def pin(self) -> None:
        """For a replay, before it reads: hold the file open from now on, so that the run's removals
        and updates (``remove``, ``remove_each``, ``remove_many``, ``update``) and the journal's
        marks (``mark``) are of this file, even if it is rotated or replaced at its path meanwhile
        (renamed, a new file made in its place): they went to the new file, whose dead letters the
        run never read (a tombstone there removed a new entry reusing an id, never delivered), and
        the rotated file kept every entry the run had acknowledged. A file that does not exist is
        not held (the path is used, as before). Appends of entries (producers) always go to the
        path. Raises ``UsageError`` (exit 2) when the file cannot be opened for writing: the run
        could not remove what the agent acknowledged."""
        if self._pinned is not None:
            return
        try:
            self._pinned = os.open(self.path, os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise UsageError(
                f"cannot write DLQ file {self.path}: {exc.strerror or exc}",
                hint="a replay removes what the agent acknowledged: fix the file's permissions",
            ) from exc

    def _moved(self, fd: int) -> None:
        """Warn once (``warn``) when the path no longer names the file ``fd`` holds (``pin``)."""
        if self._moved_said or self.warn is None:
            return
        st = os.fstat(fd)
        try:
            now = os.stat(self.path)
            same = (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)
        except OSError:
            same = False
        if same:
            return
        self._moved_said = True
        gone = " (deleted since)" if st.st_nlink == 0 else ""
        self.warn(
            f"DLQ file {self.path} was rotated or replaced during the replay: its removals and updates "
            f"go on to the file its entries were read from{gone}, not to the new file at that path"
        )

    async def missing(self) -> str | None:
        """Why the source reads as empty because it does not exist (a warning), else ``None``.
        Raises ``UsageError`` (exit 2) when the directory does not exist either (a typo, not an empty
        queue), the path is a directory or another file that is not a regular one, or a symlink loop."""
        if self.path.is_dir():
            raise UsageError(f"DLQ file {self.path} is a directory", hint="SRC names a .jsonl file")
        self._real()  # a symlink loop: not "does not exist"
        if self.path.exists():
            self._regular(f"DLQ file {self.path}")
            return None
        if not self.path.parent.is_dir():
            raise UsageError(
                f"DLQ file {self.path}: the directory {self.path.parent} does not exist", hint="check SRC"
            )
        return f"DLQ file {self.path} does not exist: nothing dead-lettered there yet (or a wrong path)"

    def check_writable(self) -> None:
        """For producers (the sandbox worker) at start: raise ``UsageError`` (exit 2) unless entries
        can be appended (the directory exists, the path is not a directory, the file opens for
        appending)."""
        if not self.path.parent.is_dir():
            raise UsageError(
                f"cannot dead-letter into {self.path}: the directory {self.path.parent} does not exist"
            )
        if self.path.exists():
            self._regular(f"cannot dead-letter into {self.path}")
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
        except OSError as exc:
            raise UsageError(f"cannot dead-letter into {self.path}: {exc.strerror or exc}") from exc

    def _regular(self, what: str) -> None:
        """Raise ``UsageError`` (exit 2, ``what`` starting its message) unless the existing path is
        a regular file: a FIFO blocked the open until a writer came, a device (``/dev/zero``) was
        read without end, both ignoring ``--max-time`` and Ctrl-C (the read is synchronous). A file
        of ``/proc``, ``/sys`` or another kernel interface (``a2actl.core.kernelfs``) looks regular
        and is refused too: ``purge`` and ``replay`` append tombstones, writing a kernel setting."""
        import stat

        from a2actl.core.kernelfs import kernel_fs

        try:
            mode = os.stat(self.path).st_mode
        except OSError:
            return  # gone meanwhile, or unreadable: the read says so
        if stat.S_ISREG(mode):
            fs = kernel_fs(self.path)
            if fs is not None:  # /proc/sys/kernel/hostname: purge and replay append to it
                raise UsageError(
                    f"{what}: the path is on {fs}, a kernel interface, not a file",
                    hint="SRC names a .jsonl file",
                )
            return
        kind = (
            "a directory"
            if stat.S_ISDIR(mode)
            else "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "a device"
        )
        raise UsageError(f"{what}: the path is {kind}, not a regular file", hint="SRC names a .jsonl file")

    def replay_lock(self, src: str) -> FileLock | Locks:
        """``flock`` on ``PATH.replay-lock`` beside the file (``a2actl.dlq.store.lock.FileLock``), PATH
        with its symlinks resolved: a replay through a symlink to the file took a lock of its own
        and ran beside one through the file's own name, each delivering every entry. When the file
        exists, also ``flock`` on the lock of its device and inode in ``$XDG_STATE_HOME/a2actl/locks``
        (``inode_lock_path``; ``Locks`` holds both): a hard link is another path to the same file,
        with a lock of its own beside it, so two replays through two names both ran. Raises
        ``UsageError`` (exit 2) when that lock cannot be created (its directory, or the file in it)
        and the file has more than one name; with one name the lock beside it covers every spelling,
        and the replay goes on without it."""
        from a2actl.dlq.store.lock import FileLock, Locks, inode_lock_path, probe_lock_file

        real = self._real()
        beside = FileLock(real.with_name(real.name + ".replay-lock"), src)
        try:
            st = os.stat(real)
        except OSError:
            return beside  # not there (yet): no other name of it either
        try:
            by_inode = inode_lock_path(st.st_dev, st.st_ino)
            probe_lock_file(by_inode)  # can it be taken at all
        except UsageError:
            if st.st_nlink > 1:
                raise
            return beside
        except OSError as exc:
            if st.st_nlink > 1:
                raise UsageError(
                    f"cannot create the replay lock {by_inode}: {exc.strerror or exc}",
                    hint="set XDG_STATE_HOME to a writable directory",
                ) from exc
            return beside
        return Locks(beside, FileLock(by_inode, src, remove=True))  # not one left per file replayed

    def _real(self) -> Path:
        """The path with its symlinks resolved (a missing file need not exist). Raises
        ``UsageError`` (exit 2) for a symlink loop: it was exit 1 "unexpected RuntimeError"."""
        try:
            return self.path.resolve()
        except (RuntimeError, OSError) as exc:  # RuntimeError: a loop, before Python 3.13
            raise UsageError(f"cannot read DLQ file {self.path}: a symlink loop", hint="check SRC") from exc

    @property
    def identity(self) -> str | None:
        """``DEV:INO`` of the file now (``None`` when it cannot be stat'ed): a file rotated or
        replaced under the same path is another source, whose lines a journal of the old one must
        not remove (``Journal.resumable``)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return f"{st.st_dev}:{st.st_ino}"

    def mark(self) -> dict[str, Any] | None:
        """Where the file stands now, for the replay journal (``Journal``, before each batch it
        journals ``delivered``): ``{"source": DEV:INO, "size": bytes, "tail": hex}``, ``tail`` the
        BLAKE2b digest of its last ``TAIL_BYTES`` bytes (all of them when shorter); ``None`` when it
        cannot be read. The log only grows, so the same file later is at least ``size`` bytes long
        with those bytes at that offset (``continues``); a file truncated in place and refilled
        (logrotate's ``copytruncate``: the same device and inode) is not. Of the file ``pin`` holds,
        when it holds one (the ids journalled after the mark were read from it)."""
        pinned = self._pinned
        try:
            fd = os.open(self.path, os.O_RDONLY) if pinned is None else pinned
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            return {
                "source": f"{st.st_dev}:{st.st_ino}",
                "size": st.st_size,
                "tail": self._tail(fd, st.st_size),
            }
        except OSError:
            return None
        finally:
            if pinned is None:
                os.close(fd)

    def continues(self, mark: dict[str, Any]) -> bool:
        """Whether the file at this path now is the one ``mark`` (``mark()``) saw, grown only by
        appends: the same ``DEV:INO``, at least ``size`` bytes, the same ``tail`` before that offset.
        A mark without ``size`` (a journal's start line) compares ``DEV:INO`` alone. ``False`` when
        the file cannot be read (gone)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            if f"{st.st_dev}:{st.st_ino}" != mark.get("source"):
                return False
            size, tail = mark.get("size"), mark.get("tail")
            if not isinstance(size, int) or isinstance(size, bool) or not isinstance(tail, str):
                return "size" not in mark  # a start line's DEV:INO; a mangled mark is no proof
            return st.st_size >= size and self._tail(fd, size) == tail
        except OSError:
            return False
        finally:
            os.close(fd)

    @staticmethod
    def _tail(fd: int, size: int) -> str:
        """The hex BLAKE2b digest (16 bytes) of the ``TAIL_BYTES`` bytes of ``fd`` before offset
        ``size`` (fewer at the start of the file). Raises ``OSError``."""
        start = max(0, size - TAIL_BYTES)
        data = os.pread(fd, size - start, start)
        return hashlib.blake2b(data, digest_size=16).hexdigest()

    @property
    def journal_key(self) -> str:
        """The ``file://`` URL of the absolute path with its symlinks resolved, as for the replay lock
        (``replay_lock``): the same file however SRC was written. Keyed by the path as written, a
        rerun through a symlink to the file (or to its directory) read a journal of its own and
        delivered again what a stopped run through the file's name had delivered."""
        return f"file://{self._real()}"

    @staticmethod
    def line(record: dict[str, Any]) -> bytes:
        """One log line: UTF-8 JSON, or ASCII-escaped when the record holds text UTF-8 cannot encode
        (a lone surrogate from a ``\\ud800`` escape), so every record can be written and read back."""
        try:
            return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        except UnicodeEncodeError:
            return (json.dumps(record, separators=(",", ":")) + "\n").encode()

    @classmethod
    def tombstone_line(cls, entry_id: str, at: float) -> bytes:
        """The line of a tombstone: ``line({"$tombstone": entry_id, "at": at})`` (the same JSON),
        written by orjson: the stdlib's ``json.dumps`` with its own separators builds a whole encoder
        per call, ~4% of a replayed message's CPU (one tombstone each). An id orjson refuses (a lone
        surrogate) goes through ``line``."""
        try:
            return orjson.dumps({"$tombstone": entry_id, "at": at}, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # orjson.JSONEncodeError
            return cls.line({"$tombstone": entry_id, "at": at})

    async def _append(self, records: list[dict[str, Any]], own: bool = False) -> None:
        await self._append_lines(b"".join(self.line(r) for r in records), own)

    async def _append_lines(self, data: bytes, own: bool = False) -> None:
        """Append ``data`` (whole lines) under ``flock``, after a newline if the file ends in a line a
        crash tore, then ``fsync``. ``own``: the store's own lines (tombstones, updates), which go
        to the file ``pin`` holds when it holds one. Raises ``UsageError`` (exit 2) naming the file
        when it cannot be written (a full disk, a file size limit, no permission): a replay stopped
        there with exit 1 "unexpected OSError"; what its journal says was delivered is removed by
        the next run. A write cut short is undone (the file truncated back, under the ``flock``),
        not left torn. The ``flock`` is waited for without blocking the event loop (``_flock``)."""
        pinned = self._pinned if own else None
        try:
            if pinned is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            else:
                fd = pinned
                self._moved(fd)
            try:
                await _flock(fd)
                # from here to the unlock nothing is awaited: one append at a time in this process too
                before = _state(os.fstat(fd))
                size = before[2]
                if size and os.pread(fd, 1, size - 1) != b"\n":  # terminate a line torn by an earlier crash
                    data = b"\n" + data
                view = memoryview(data)
                try:
                    while view:  # a write cut short (a size limit, a full disk) says why on the next
                        view = view[os.write(fd, view) :]
                except OSError:
                    with contextlib.suppress(OSError):  # no torn line left: every writer holds the flock
                        os.ftruncate(fd, size)
                    raise
                os.fsync(fd)
                if own and self._indexed == before:  # a tombstone or an update: no ref changes
                    self._indexed = _state(os.fstat(fd))
            finally:
                if pinned is None:
                    os.close(fd)
                else:  # held open: the lock is not released by a close
                    with contextlib.suppress(OSError):
                        fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            raise UsageError(
                f"cannot write DLQ file {self.path}: {exc.strerror or exc}",
                hint="free space there or fix its permissions; a replay's journal keeps what the agent "
                "acknowledged, and the next replay removes it without delivering it again",
            ) from exc

    def _records(self, meta_only: bool = False) -> Iterator[tuple[int, Any, str | None]]:
        """``(line number, record, None)`` for every JSON line, ``(line number, None, why)`` for a line
        that is not (torn by a crash, or garbage). Blank lines are skipped. ``meta_only``: only the
        lines that may be the store's own (a tombstone or an update: ``_scan``), the others left
        unparsed (a replay's first pass read every entry twice; a parse is ~2% of a replayed
        message's CPU). Such a line names its key as written (``"$tombstone"``, ``"$update"``) or
        with an escape, so a line with neither and no backslash is none. A UTF-8 byte order mark
        at the start of the file (an editor's) is skipped (RFC 8259 §8.1 lets a reader ignore it): the
        first entry was "not JSON" and never replayed."""
        f = self._open_for_reading()
        if f is None:
            return
        with f:
            for n, raw in _lines(f):
                if raw is None:
                    yield n, None, TOO_LONG
                    continue
                if n == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM) :]  # an editor's byte order mark: not part of the first entry
                if meta_only and b'"$tombstone"' not in raw and b'"$update"' not in raw and b"\\" not in raw:
                    continue
                if not raw.strip():
                    continue
                try:
                    # json.loads(raw.decode()), orjson where it can; a lone surrogate is LoneSurrogate
                    rec = loads_utf8(raw, lone_surrogates=False)
                except LoneSurrogate as exc:
                    if self._meta(exc.value):
                        # the store's own line, never an entry: an update an older a2actl wrote with
                        # an agent's text as it came is folded with U+FFFD (its attempts kept)
                        yield n, valid_text(exc.value), None
                    else:
                        yield n, None, LONE_SURROGATE
                except UnicodeDecodeError:
                    yield n, None, "not UTF-8 text"
                except RecursionError:
                    yield n, None, TOO_DEEP
                except ValueError:
                    yield n, None, "not JSON (a torn or garbage line)"
                else:
                    yield n, rec, None

    def _open_for_reading(self) -> BinaryIO | None:
        """The file open for reading (``None``: it does not exist). Under ``pin``, the file held
        open, even when the path names another one now (rotated just before this read: through
        ``/proc/self/fd``, a new offset of the same file). Raises ``UsageError`` (exit 2) when it
        cannot be read."""
        try:
            try:
                f: BinaryIO | None = open(self.path, "rb")  # noqa: SIM115 - the caller closes it
            except FileNotFoundError:
                f = None
            pinned = self._pinned
            if pinned is not None and (f is None or not _same_file(f.fileno(), pinned)):
                if f is not None:
                    f.close()
                f = open(f"/proc/self/fd/{pinned}", "rb")  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise UsageError(f"cannot read DLQ file {self.path}: {exc.strerror or exc}") from exc
        return f

    @staticmethod
    def _meta(rec: Any) -> bool:
        return isinstance(rec, dict) and ("$tombstone" in rec or "$update" in rec)

    @staticmethod
    def _ref(n: int, rec: Any) -> str:
        """What ``purge --ids`` takes: the entry's id, or ``line:N`` for a line without a usable one."""
        eid = rec.get("id") if isinstance(rec, dict) else None
        return eid if isinstance(eid, str) and eid else f"line:{n}"

    def _scan(self) -> tuple[set[int], dict[str, dict[str, Any]]]:
        tombstones: set[int] = set()
        updates: dict[str, dict[str, Any]] = {}
        for _, rec, _why in self._records(meta_only=True):
            if isinstance(rec, dict):
                if "$tombstone" in rec:
                    tombstones.add(_key(str(rec["$tombstone"])))
                elif "$update" in rec:
                    updates[str(rec["$update"])] = rec
        self._tombstones = tombstones
        return tombstones, updates

    def _entry_lines(self, tombstones: set[int]) -> Iterator[tuple[int, str, Any, str | None]]:
        """``(line, ref, record, why)`` for every line that is not an update or a tombstone;
        ``tombstones``: the keys (``_key``) of every tombstoned ref (``_scan``).

        An id holding a NUL byte, which no command line can carry (``purge --ids``, ``show``), is
        replaced by the line's ref ``line:N`` (``entryId`` the id as stored), valid or not: an invalid
        one could not be purged. A line tombstoned by that id itself is left out.

        An entry whose id has the form ``line:N`` is invalid, with its own line as ref: a tombstone
        ``line:N`` (``purge --ids line:N`` of an invalid line N) removed it too, and its own removal
        removed line N.

        The first line with an id owns it: its ref is the id. A later line with the same id has the
        ref ``line:N`` (a tombstone names an id, so the id would remove both: a replay that
        acknowledged one removed the other, still dead or never delivered). It is:

        * a **duplicate** (invalid, ``why`` says so) while an earlier line with the id is still in
          the queue (not tombstoned): two dead letters under one id are a producer's mistake;
        * a **reused id**, valid, when every earlier line with the id was removed (a producer that
          reuses its ids, say a message id that died again after its replay): yielded with ``id``
          set to its ref ``line:N`` and ``entryId`` to the id as stored, so that it is listed,
          replayed, updated and removed by its line. It was reported as a duplicate and never
          replayed: its own line was the only one left."""
        seen: set[int] = set()
        #: keys of ids used by more than one line -> whether a later line with it is still queued
        later: dict[int, bool] = {}
        for n, rec, why in self._records():
            if self._meta(rec):
                continue
            eid = rec.get("id") if isinstance(rec, dict) else None
            if isinstance(eid, str) and "\0" in eid:
                # no command line can carry a NUL byte: the line is named by its ref, as a reused id
                # is (a line tombstoned by the id itself, as an older a2actl or the debug API wrote
                # it, stays removed)
                if _key(eid) in tombstones:
                    continue
                rec["entryId"], rec["id"] = eid, f"line:{n}"
                yield n, f"line:{n}", rec, why
                continue
            ref = self._ref(n, rec)
            if why is None and isinstance(rec, dict) and rec.get("id") == ref:
                k = _key(ref)
                if _LINE_REF.fullmatch(ref):
                    why = (
                        f"id {ref!r} has the form of a line ref, which names line {ref[5:]} of the file "
                        f"(purge this one as line:{n})"
                    )
                    ref = f"line:{n}"
                elif k in seen:
                    queued = k not in tombstones or later.get(k, False)  # an earlier line is still there
                    ref = f"line:{n}"
                    if queued:
                        why = (
                            f"duplicate id {rec['id']!r}: an earlier line has it (purge this one as line:{n})"
                        )
                    else:
                        rec["entryId"] = rec["id"]
                        rec["id"] = ref
                    if _key(ref) not in tombstones:
                        later[k] = True
                else:
                    seen.add(k)
            yield n, ref, rec, why

    def _live(self) -> Iterator[tuple[int, str, Any, str | None]]:
        """``(line, ref, record, why)`` for every record not tombstoned, updates folded in."""
        tombstones, updates = self._scan()
        for n, ref, rec, why in self._entry_lines(tombstones):
            if _key(ref) in tombstones:
                continue
            if why is None and isinstance(rec, dict):
                upd = updates.get(ref)
                if upd is not None:
                    rec["attempts"] = upd.get("attempts", rec.get("attempts"))
                    rec["lastError"] = upd.get("lastError", rec.get("lastError"))
            yield n, ref, rec, why

    async def append(self, entry: Entry) -> str:
        """Append ``entry`` as one line (``flock`` + ``fsync``); returns its ``id``. Its ``lastError``
        (an agent's text) is written with U+FFFD for any lone surrogate (``valid_text``)."""
        if "lastError" in entry:
            entry = {**entry, "lastError": valid_text(entry["lastError"])}
        await self._append([entry])
        return str(entry["id"])

    async def iter_entries(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[Entry]:
        """Every live, valid entry in file order, updates folded in; a torn, garbage or
        schema-invalid line goes to ``on_invalid`` (``where``: ``line N``)."""
        for n, ref, rec, why in self._live():
            why = why or check(rec)
            if why is None:
                yield rec
            elif on_invalid is not None:
                on_invalid(Invalid(ref, f"line {n}", why))

    def iter_replay(self, on_invalid: OnInvalid | None = None) -> AsyncIterator[Entry]:
        """What a replay takes: every entry (``iter_entries``)."""
        return self.iter_entries(on_invalid)

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        """The record with this id (or ``line:N``) when it is a JSON object, valid or not (``dlq show``
        uses ``lookup``, which says why and shows the other lines too)."""
        found = self._find(entry_id)
        return found[1] if found is not None and isinstance(found[1], dict) else None

    async def lookup(self, entry_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """``(record, why)`` for the live line with this id or ``line:N`` (``dlq show``): ``why`` is
        what ``list`` reports for it (not JSON, a duplicate id, a schema violation), ``None`` for a
        valid entry. A line that is not a JSON object (torn, garbage, not UTF-8) is
        ``{"id": "line:N", "line": TEXT}``, its bytes that are not UTF-8 as U+FFFD: ``show`` said
        "no dead letter" for the ref ``list`` and ``purge`` name it by. ``(None, None)`` when absent."""
        found = self._find(entry_id)
        if found is None:
            return None, None
        n, rec, why = found
        if isinstance(rec, dict):
            return rec, why or check(rec)
        return {"id": entry_id, "line": self._line_text(n)}, why or check(rec)

    def _find(self, entry_id: str) -> tuple[int, Any, str | None] | None:
        """``(line, record, why)`` of the live line whose ref is ``entry_id`` (``_live``), else ``None``."""
        for n, ref, rec, why in self._live():
            if ref == entry_id:
                return n, rec, why
        return None

    def _line_text(self, n: int) -> str:
        """Line ``n`` (1-based) as text, without its line end; of a line over ``MAX_LINE_BYTES``,
        its first 1,024 bytes and ``…``."""
        with open(self.path, "rb") as f:
            start = 0  # where line i starts (the generator reads nothing past the line it yields)
            for i, raw in _lines(f):
                if i == n:
                    if raw is None:
                        f.seek(start)
                        return f.read(1024).decode("utf-8", "replace") + "…"
                    if n == 1 and raw.startswith(_BOM):
                        raw = raw[len(_BOM) :]
                    return raw.rstrip(b"\r\n").decode("utf-8", "replace")
                start = f.tell()
        return ""

    async def remove(self, entry_id: str) -> bool:
        """Tombstone one live entry (``id`` or ``line:N``); ``False`` when already removed or never
        there (nothing is written then). The file is read only when it changed otherwise than by
        this store's tombstones and updates (``_index``): the debug API's ``DELETE /dlq/{id}`` (one
        per id of a purge or a replay over HTTP) read the whole file for each id, O(n²) for n ids."""
        refs = self._index()
        tombstones = self._tombstones
        assert tombstones is not None
        k = _key(entry_id)
        if k in tombstones or k in self._removing or k not in refs:
            return False  # already removed (or being removed), or never there
        # before the wait for the lock: a second DELETE of it meanwhile is False, also when it reads
        # the file again (a producer appended while this one waited: its tombstones lack this one)
        tombstones.add(k)
        self._removing.add(k)
        try:
            await self._append_lines(self.tombstone_line(entry_id, time.time()), own=True)
        except BaseException:
            tombstones.discard(k)
            raise
        finally:
            self._removing.discard(k)
        if self._tombstones is not None:  # read again by another call while this one waited
            self._tombstones.add(k)
        return True

    def _index(self) -> set[int]:
        """The keys (``_key``) of every line's ref, with ``_tombstones`` read at the same time: as
        last read while the file is as this store left it (the same ``_state``), else read again
        (a producer's append, another process's tombstone, a rotation)."""
        try:
            state: tuple[int, int, int, int] | None = _state(os.stat(self.path))
        except OSError:
            state = None
        if self._refs is None or self._tombstones is None or state is None or state != self._indexed:
            tombstones, _ = self._scan()
            self._refs = {_key(ref) for _, ref, _, _ in self._entry_lines(tombstones)}
            self._indexed = state
        return self._refs

    async def remove_each(self, entry_ids: list[str]) -> list[bool]:
        """``remove`` of each id in order (``dlq purge``), with one read of the file and one append:
        ``remove`` reads the whole file for each id, so purging the last 200 ids of a 20,000-line
        file took 15 s (and a thousand of a million lines, hours, past ``--max-time``). Each result
        is whether a live entry was removed (an id given twice: the second is ``False``)."""
        if self._tombstones is None:
            self._scan()
        assert self._tombstones is not None
        refs = {_key(ref) for _, ref, _, _ in self._entry_lines(self._tombstones)}
        out: list[bool] = []
        fresh: list[bytes] = []
        at = time.time()
        for eid in entry_ids:
            k = _key(eid)
            if k in self._tombstones or k not in refs:
                out.append(False)  # already removed, or never there
                continue
            self._tombstones.add(k)
            fresh.append(self.tombstone_line(eid, at))
            out.append(True)
        if fresh:
            await self._append_lines(b"".join(fresh), own=True)
        return out

    async def remove_many(self, entry_ids: list[str]) -> int:
        """Tombstone ``entry_ids`` not yet tombstoned, in one append and one fsync; returns how many.
        The ids must come from this queue (replay passes ids it read or journalled)."""
        if self._tombstones is None:
            self._scan()
        assert self._tombstones is not None
        fresh: list[bytes] = []
        at = time.time()
        for eid in entry_ids:
            k = _key(eid)
            if k not in self._tombstones:
                self._tombstones.add(k)
                fresh.append(self.tombstone_line(eid, at))
        if fresh:
            await self._append_lines(b"".join(fresh), own=True)
        return len(fresh)

    async def update(self, entry_id: str, attempts: int, last_error: dict[str, Any] | None) -> None:
        """Append an ``$update`` line; readers fold it into the entry. ``last_error`` (an agent's
        text) is written with U+FFFD for any lone surrogate (``valid_text``): written as an escape,
        the line was read back as an invalid entry and its attempts were lost."""
        await self._append(
            [{"$update": entry_id, "attempts": attempts, "lastError": valid_text(last_error)}], own=True
        )
