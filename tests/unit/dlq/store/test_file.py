"""The file store (a tombstone log): append, list, read, remove, update; torn and garbage lines are
skipped and counted, never block the rest; removal is idempotent."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from a2actl.core.errors import UsageError
from a2actl.dlq.store.entry import LONE_SURROGATE, TOO_DEEP, InvalidEntries
from a2actl.dlq.store.file import FileBackend, file_path
from tests.dlq_helpers import removal_counts
from tests.unit.dlq.store.entries import entry


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _all(it: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e async for e in it]


def _filled(tmp_path: Path, n: int) -> FileBackend:
    store = FileBackend(tmp_path / "dlq.jsonl")
    for i in range(n):
        assert run(store.append(entry(i))) == f"e{i}"
    return store


def test_append_then_list_in_order(tmp_path: Path) -> None:
    store = _filled(tmp_path, 3)
    got = run(_all(store.iter_entries()))
    assert [e["id"] for e in got] == ["e0", "e1", "e2"]
    assert got[1] == entry(1) | {"enqueuedAt": got[1]["enqueuedAt"]}
    assert run(_all(store.iter_replay())) == got


def test_each_append_is_one_line(tmp_path: Path) -> None:
    _filled(tmp_path, 2)
    lines = (tmp_path / "dlq.jsonl").read_bytes().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["e0", "e1"]


def test_get_and_missing_id(tmp_path: Path) -> None:
    store = _filled(tmp_path, 2)
    got = run(store.get("e1"))
    assert got is not None and got["request"]["params"]["message"]["messageId"] == "m1"
    assert run(store.get("nope")) is None


def test_remove_is_idempotent_and_writes_one_tombstone(tmp_path: Path) -> None:
    store = _filled(tmp_path, 3)
    assert run(store.remove("e1")) is True
    assert run(store.remove("e1")) is False
    assert run(store.remove("never")) is False
    assert [e["id"] for e in run(_all(store.iter_entries()))] == ["e0", "e2"]
    assert removal_counts(store) == {"e1": 1}
    # a fresh reader (another process) folds the same log
    assert [e["id"] for e in run(_all(FileBackend(store.path).iter_entries()))] == ["e0", "e2"]


def test_remove_many_counts_only_fresh_ids(tmp_path: Path) -> None:
    store = _filled(tmp_path, 4)
    assert run(store.remove_many(["e0", "e2"])) == 2
    assert run(store.remove_many(["e0", "e3"])) == 1
    assert run(store.remove_many([])) == 0
    assert [e["id"] for e in run(_all(store.iter_entries()))] == ["e1"]
    assert removal_counts(store) == {"e0": 1, "e2": 1, "e3": 1}


def test_update_is_folded_into_the_entry(tmp_path: Path) -> None:
    store = _filled(tmp_path, 1)
    err = {"code": 503, "message": "again", "class": "transient"}
    run(store.update("e0", 4, err))
    (got,) = run(_all(store.iter_entries()))
    assert (got["attempts"], got["lastError"]) == (4, err)


def test_malformed_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    store = _filled(tmp_path, 1)
    with open(store.path, "ab") as f:
        f.write(b"not json at all\n")
        f.write(b"\n")  # blank lines are not records
        f.write(json.dumps({"id": "bad", "request": {}}).encode() + b"\n")  # schema-invalid
        f.write(b"\xff\xfe\n")  # not UTF-8
    run(store.append(entry(1)))
    f2 = open(store.path, "ab")  # a torn last line (a crash mid-write)
    f2.write(b'{"id": "e9", "requ')
    f2.close()
    invalid = InvalidEntries()
    got = run(_all(store.iter_entries(invalid)))
    assert [e["id"] for e in got] == ["e0", "e1"]
    assert invalid.count == 4
    assert [(b.ref, b.where) for b in invalid.first] == [
        ("line:2", "line 2"),
        ("bad", "line 4"),
        ("line:5", "line 5"),
        ("line:7", "line 7"),
    ]
    assert invalid.first[0].error == "not JSON (a torn or garbage line)"
    assert invalid.first[2].error == "not UTF-8 text"
    warning = invalid.warning()
    assert warning is not None and warning.startswith("skipped 4 invalid entries")


def test_append_after_a_torn_line_starts_a_new_line(tmp_path: Path) -> None:
    store = _filled(tmp_path, 1)
    with open(store.path, "ab") as f:
        f.write(b'{"id": "torn"')
    run(store.append(entry(1)))
    assert [e["id"] for e in run(_all(store.iter_entries()))] == ["e0", "e1"]


def test_an_invalid_line_can_be_purged_by_its_line_ref(tmp_path: Path) -> None:
    store = _filled(tmp_path, 1)
    with open(store.path, "ab") as f:
        f.write(b"garbage\n")
    assert run(store.get("line:2")) is None  # not a record (the debug API's GET answers 404)
    # dlq show shows it as the text it is, with list's reason
    assert run(store.lookup("line:2")) == (
        {"id": "line:2", "line": "garbage"},
        "not JSON (a torn or garbage line)",
    )
    assert run(store.remove("line:2")) is True
    invalid = InvalidEntries()
    run(_all(store.iter_entries(invalid)))
    assert invalid.count == 0


def test_a_duplicate_id_is_invalid_and_its_own_line(tmp_path: Path) -> None:
    """A tombstone names an id: with two lines of one id, removing the first removed the second too
    (a replay that acknowledged one lost the other). The later line is invalid, ref ``line:N``, while
    the first is still there; once the first is removed it is an entry of its own (``line:N``)."""
    store = _filled(tmp_path, 2)
    run(store.append(entry(0) | {"source": "the second e0"}))
    invalid = InvalidEntries()
    assert [e["id"] for e in run(_all(store.iter_entries(invalid)))] == ["e0", "e1"]
    assert [(b.ref, b.where, b.error) for b in invalid.first] == [
        ("line:3", "line 3", "duplicate id 'e0': an earlier line has it (purge this one as line:3)")
    ]
    assert run(store.remove_many(["e0"])) == 1
    invalid = InvalidEntries()
    got = run(_all(store.iter_entries(invalid)))
    assert [(e["id"], e.get("entryId"), e["source"]) for e in got] == [
        ("e1", None, "unit"),
        ("line:3", "e0", "the second e0"),
    ]
    assert invalid.count == 0
    assert run(store.remove_many(["e0"])) == 0  # a second removal of e0 does not touch line 3
    assert run(store.get("line:3"))["source"] == "the second e0"
    assert run(store.remove("line:3")) is True
    invalid = InvalidEntries()
    assert [e["id"] for e in run(_all(store.iter_entries(invalid)))] == ["e1"] and invalid.count == 0


def test_an_id_reused_after_its_tombstone_is_a_live_entry(tmp_path: Path) -> None:
    """A producer that reuses an id (its message id) after the first entry was replayed and
    tombstoned: the new line was "duplicate id" (invalid), never replayed, though it was the only
    line of that id left. It is listed and removed as ``line:N`` (``entryId`` the id as stored), its
    updates are folded in, and removing it leaves every other line alone."""
    store = _filled(tmp_path, 2)
    assert run(store.remove("e0")) is True
    run(store.append(entry(0) | {"source": "e0 again"}))  # line 4
    invalid = InvalidEntries()
    got = run(_all(store.iter_entries(invalid)))
    assert invalid.count == 0
    assert [(e["id"], e.get("entryId"), e["source"]) for e in got] == [
        ("e1", None, "unit"),
        ("line:4", "e0", "e0 again"),
    ]
    assert run(store.remove("e0")) is False  # e0 itself is gone: the tombstone is not written twice
    run(store.update("line:4", 5, {"code": 1, "message": "still down", "class": "transient"}))
    assert run(store.lookup("line:4")) == (
        got[1] | {"attempts": 5, "lastError": {"code": 1, "message": "still down", "class": "transient"}},
        None,
    )
    run(store.append(entry(0) | {"source": "e0 a third time"}))  # line 6: line 4 still queued
    invalid = InvalidEntries()
    assert [e["id"] for e in run(_all(store.iter_entries(invalid)))] == ["e1", "line:4"]
    assert [b.ref for b in invalid.first] == ["line:6"]
    assert run(store.remove_many(["line:4"])) == 1
    invalid = InvalidEntries()
    got = run(_all(store.iter_entries(invalid)))
    assert [(e["id"], e["source"]) for e in got] == [("e1", "unit"), ("line:6", "e0 a third time")]
    assert invalid.count == 0


def test_missing_file_reads_empty_with_a_warning(tmp_path: Path) -> None:
    store = FileBackend(tmp_path / "none.jsonl")
    why = run(store.missing())
    assert why is not None and "does not exist" in why
    assert run(_all(store.iter_entries())) == []


def test_missing_directory_and_directory_path_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        run(FileBackend(tmp_path / "nodir" / "dlq.jsonl").missing())
    with pytest.raises(UsageError, match="is a directory"):
        run(FileBackend(tmp_path).missing())
    with pytest.raises(UsageError, match="cannot dead-letter"):
        FileBackend(tmp_path / "nodir" / "dlq.jsonl").check_writable()
    FileBackend(tmp_path / "ok.jsonl").check_writable()
    assert (tmp_path / "ok.jsonl").exists()


def test_replay_lock_and_journal_key(tmp_path: Path) -> None:
    store = FileBackend(tmp_path / "dlq.jsonl")
    assert store.journal_key == f"file://{tmp_path}/dlq.jsonl"
    assert store.replay_lock("SRC").path == tmp_path / "dlq.jsonl.replay-lock"


@pytest.mark.parametrize(
    ("src", "want"),
    [
        ("file:///abs/dlq.jsonl", "/abs/dlq.jsonl"),
        ("file://localhost/abs/dlq.jsonl", "/abs/dlq.jsonl"),
        ("file:/abs/d%20q.jsonl", "/abs/d q.jsonl"),
        ("/abs/dlq.jsonl", "/abs/dlq.jsonl"),
    ],
)
def test_file_path_forms(src: str, want: str) -> None:
    assert file_path(src) == Path(want)


def test_relative_file_urls_are_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for src in ("file://dlq.jsonl", "file:dlq.jsonl", "file://./dlq.jsonl", "dlq.jsonl"):
        assert file_path(src) == tmp_path / "dlq.jsonl", src


@pytest.mark.parametrize("src", ["file:", "file://", "file:a%00b"])
def test_a_file_url_without_a_path_is_a_usage_error(src: str) -> None:
    with pytest.raises(UsageError, match="names no file"):
        file_path(src)


def test_an_id_that_is_not_utf8_is_simply_not_there(tmp_path: Path) -> None:
    """An id with a surrogate (a ``--ids`` argument that was not UTF-8 on the command line, which
    Python reads with surrogateescape) names no entry: ``remove`` answers ``False`` instead of
    raising UnicodeEncodeError from the id's digest."""
    store = _filled(tmp_path, 2)
    assert run(store.remove("\udcff")) is False
    assert run(store.get("\udcff")) is None


def test_an_update_holding_a_lone_surrogate_is_written_as_text(tmp_path: Path) -> None:
    """``lastError`` is an agent's text: a lone surrogate in it was written as the ``\\ud800`` escape
    and the ``$update`` line read back as an invalid entry (``line:N``), its attempts lost."""
    store = _filled(tmp_path, 1)
    run(store.update("e0", 4, {"code": 1, "message": "db \ud800 down", "class": "transient"}))
    invalid = InvalidEntries()
    (got,) = run(_all(FileBackend(store.path).iter_entries(invalid)))
    assert invalid.count == 0
    assert (got["attempts"], got["lastError"]["message"]) == (4, "db \ufffd down")
    run(store.append(entry(1) | {"lastError": {"code": 1, "message": "\udcff", "class": "permanent"}}))
    assert [e["lastError"]["message"] for e in run(_all(store.iter_entries(invalid)))] == [
        "db \ufffd down",
        "\ufffd",
    ]
    assert invalid.count == 0


def test_the_stores_own_lines_with_a_lone_surrogate_are_never_invalid_entries(tmp_path: Path) -> None:
    """An ``$update`` line an older a2actl wrote with the escape is folded (U+FFFD), a ``$tombstone``
    line applied: neither is an invalid entry. An entry line with one still is."""
    store = _filled(tmp_path, 3)
    with open(store.path, "ab") as f:
        f.write(
            b'{"$update":"e0","attempts":9,"lastError":{"code":1,"message":"x\\ud800","class":"transient"}}\n'
        )
        f.write(b'{"$tombstone":"e1","at":1,"note":"\\udc00"}\n')
        f.write(b'{"id":"e7","source":"\\ud800"}\n')
    invalid = InvalidEntries()
    got = run(_all(FileBackend(store.path).iter_entries(invalid)))
    assert [(e["id"], e["attempts"], e["lastError"]["message"]) for e in got] == [
        ("e0", 9, "x\ufffd"),
        ("e2", 1, "down"),
    ]
    assert [(b.ref, b.error) for b in invalid.first] == [("line:6", LONE_SURROGATE)]


@pytest.mark.parametrize(
    "line",
    [
        b'{"id":"e9","source":"\\ud800"}',  # orjson refuses it: the stdlib's reading is checked
        b'{"id":"e9","source":"\\ud800","n":12345678901234567890}',  # 19+ digits: the stdlib alone
        b'{"id":"e9","source":"\\udc00","n":NaN}',  # NaN: orjson refuses, the stdlib reads
        b'{"id":"e9","\\ud800":1}',  # in a key
    ],
)
def test_a_line_with_a_lone_surrogate_is_invalid_on_either_decoder(tmp_path: Path, line: bytes) -> None:
    store = _filled(tmp_path, 1)
    with open(store.path, "ab") as f:
        f.write(line + b"\n")
    invalid = InvalidEntries()
    assert [e["id"] for e in run(_all(store.iter_entries(invalid)))] == ["e0"]
    assert [(b.ref, b.error) for b in invalid.first] == [("line:2", LONE_SURROGATE)]


def test_a_surrogate_pair_escape_is_its_character(tmp_path: Path) -> None:
    store = _filled(tmp_path, 0)
    line = FileBackend.line(entry(0)).replace(b'"source":"unit"', b'"source":"\\ud83d\\ude00 \\u00e9"')
    store.path.write_bytes(
        line + line.replace(b'"e0"', b'"e1"').replace(b'"source":"', b'"n":12345678901234567890,"source":"')
    )
    invalid = InvalidEntries()
    assert [e["source"] for e in run(_all(store.iter_entries(invalid)))] == ["\U0001f600 \u00e9"] * 2
    assert invalid.count == 0


def test_an_id_of_the_form_of_a_line_ref_is_invalid_and_its_own_line(tmp_path: Path) -> None:
    """``purge --ids line:2`` of an invalid line 2 wrote the tombstone ``line:2``, which removed a
    valid, never delivered entry whose id was ``line:2`` too (and its own removal, line 2). Such an
    entry is invalid now, with its own line as ref; the tombstone removes line 2 only."""
    store = _filled(tmp_path, 1)
    with open(store.path, "ab") as f:
        f.write(b"garbage\n")
    run(store.append(entry(1) | {"id": "line:2"}))
    invalid = InvalidEntries()
    assert [e["id"] for e in run(_all(store.iter_entries(invalid)))] == ["e0"]
    assert [(b.ref, b.where) for b in invalid.first] == [("line:2", "line 2"), ("line:3", "line 3")]
    assert "has the form of a line ref" in invalid.first[1].error
    assert run(store.remove("line:2")) is True
    assert run(store.get("line:3"))["id"] == "line:2"  # still there for the operator
    invalid = InvalidEntries()
    run(_all(store.iter_entries(invalid)))
    assert [b.ref for b in invalid.first] == ["line:3"]


def test_a_symlink_to_the_file_shares_its_replay_lock(tmp_path: Path) -> None:
    """A replay through a symlink took a lock of its own (``alias.jsonl.replay-lock``) and ran beside
    one through the file's name: every entry delivered twice."""
    from a2actl.dlq.store.lock import SourceLocked

    store = _filled(tmp_path, 1)
    (tmp_path / "alias.jsonl").symlink_to(store.path)
    (tmp_path / "dir").symlink_to(tmp_path)
    first = store.replay_lock("dlq.jsonl")

    async def go() -> None:
        await first.acquire(False)
        try:
            for other in (tmp_path / "alias.jsonl", tmp_path / "dir" / "dlq.jsonl"):
                with pytest.raises(SourceLocked):
                    await FileBackend(other).replay_lock(str(other)).acquire(False)
        finally:
            await first.release()

    run(go())


def test_a_line_nested_too_deep_is_said_to_be_so(tmp_path: Path) -> None:
    """It is JSON, not "a torn or garbage line" (what it was reported as)."""
    store = _filled(tmp_path, 1)
    with open(store.path, "ab") as f:
        f.write(b'{"id": "deep", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}\n")
    invalid = InvalidEntries()
    assert [e["id"] for e in run(_all(store.iter_entries(invalid)))] == ["e0"]
    assert [(b.ref, b.error) for b in invalid.first] == [("line:2", TOO_DEEP)]


@pytest.mark.parametrize(
    "line",
    [
        '{"$tombstone": "e1", "at": 1.5}',  # as a2actl wrote it before orjson (spaces)
        '{"\\u0024tombstone":"e1"}',  # the key escaped: no '"$tombstone"' in the bytes
        '{"at":1,"$tomb\\u0073tone":"e1"}',
    ],
)
def test_a_tombstone_however_written_removes_its_entry(tmp_path: Path, line: str) -> None:
    """``_scan`` parses only the lines that may be the store's own: one holding ``"$tombstone"`` or
    ``"$update"``, or an escape (a key may be written with one). A tombstone written by hand, or by
    another writer, with its key escaped still removes its entry, for a reader of the file and for
    one that removes more (``remove_many`` reads the tombstones first)."""
    store = _filled(tmp_path, 3)
    with open(store.path, "a") as f:
        f.write(line + "\n")
    fresh = FileBackend(store.path)
    assert [e["id"] for e in run(_all(fresh.iter_entries()))] == ["e0", "e2"]
    assert run(FileBackend(store.path).remove_many(["e1", "e2"])) == 1  # e1 was removed already


def test_tombstone_lines_are_the_json_of_line(tmp_path: Path) -> None:
    """``tombstone_line`` (orjson) writes the record ``line`` (the stdlib) writes, and an id orjson
    refuses (a lone surrogate) as ``line`` does: read back as the same id."""
    for eid in ["e1", "ünï-cødé", 'q"uote\\', "\ud800x"]:
        got = FileBackend.tombstone_line(eid, 1764220000.25)
        assert got.endswith(b"\n") and got.count(b"\n") == 1
        assert json.loads(got) == json.loads(FileBackend.line({"$tombstone": eid, "at": 1764220000.25}))
        assert json.loads(got)["$tombstone"] == eid
    store = _filled(tmp_path, 2)
    with open(store.path, "a") as f:
        f.write('{"id":"\\ud800x","request":{"method":"SendMessage","params":{}}}\n')
    assert run(store.remove_many(["e0", "\ud800x"])) == 2
    assert [e["id"] for e in run(_all(FileBackend(store.path).iter_entries()))] == ["e1"]


def test_every_name_of_the_file_shares_a_replay_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hard link is another path with another ``PATH.replay-lock`` beside it; the lock of the
    file's device and inode is the same for both. A replay refused by it lets go of the lock beside
    its own name (so a replay through that name is not held off by one that is not running)."""
    from a2actl.dlq.store.lock import SourceLocked

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    store = _filled(tmp_path, 1)
    other = tmp_path / "sub" / "other.jsonl"
    other.parent.mkdir()
    os.link(store.path, other)

    async def go() -> None:
        first = store.replay_lock("a")
        await first.acquire(wait=False)
        second = FileBackend(other).replay_lock("b")
        with pytest.raises(SourceLocked) as refused:
            await second.acquire(wait=False)
        assert "another replay of b is running" in str(refused.value)
        third = FileBackend(other).replay_lock("b")
        await first.release()
        await third.acquire(wait=False)  # the refused one let go of other.jsonl.replay-lock
        await third.release()

    run(go())


def test_an_unusable_state_directory_refuses_only_a_file_with_other_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock of the inode lives in ``$XDG_STATE_HOME/a2actl/locks``. A file with one name does
    not need it (its lock beside it covers every spelling): the replay goes on without it. A file
    with more than one name cannot be locked without it: exit 2, naming the directory."""
    (tmp_path / "state").write_text("a file, not a directory")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    store = _filled(tmp_path, 1)

    async def one_name() -> None:
        lock = store.replay_lock("a")
        await lock.acquire(wait=False)
        await lock.release()

    run(one_name())
    os.link(store.path, tmp_path / "other.jsonl")
    with pytest.raises(UsageError) as refused:
        store.replay_lock("a")
    assert "for the replay lock" in str(refused.value) and str(tmp_path / "state") in str(refused.value)
    # the directory is there, the lock file cannot be made in it (a directory of that name here)
    (tmp_path / "state").unlink()
    st = store.path.stat()
    (tmp_path / "state" / "a2actl" / "locks" / f"file-{st.st_dev}-{st.st_ino}.lock").mkdir(parents=True)
    with pytest.raises(UsageError) as refused:
        store.replay_lock("a")
    assert str(refused.value).startswith(f"cannot create the replay lock {tmp_path / 'state'}")
    os.unlink(tmp_path / "other.jsonl")
    run(one_name())


def test_a_mark_holds_across_appends_not_a_truncate_and_refill(tmp_path: Path) -> None:
    """``mark`` is where the file stands (``DEV:INO``, size, the digest of its last bytes); the same
    file grown by appends ``continues`` it. A file truncated in place and refilled (copytruncate:
    the same inode), even to a greater size, does not; nor a file replaced at the path, or gone."""
    b = _filled(tmp_path, 3)
    mark = b.mark()
    assert mark is not None and mark["size"] == b.path.stat().st_size
    run(b.append(entry("late")))
    run(b.remove("e0"))
    assert b.continues(mark)
    assert b.continues({"source": mark["source"]})  # a start line's DEV:INO alone
    refill = b.path.read_bytes()
    with b.path.open("r+b") as f:
        f.truncate(0)
    assert not b.continues(mark)  # shorter than the mark
    b.path.write_bytes(refill.replace(b'"e1"', b'"e9"'))  # same inode, same size, other bytes
    assert b.path.stat().st_size >= mark["size"] and not b.continues(mark)
    assert not b.continues({**mark, "size": "12"})  # a mangled mark proves nothing
    b.path.rename(tmp_path / "old")
    assert not b.continues(mark) and b.mark() is None


def test_a_pinned_file_is_read_and_written_after_it_was_rotated(tmp_path: Path) -> None:
    """``pin`` (a replay) holds the file: rotated at its path (renamed, a new file made there), the
    run still reads it, removes from and updates it, and marks it in the journal; the new file is
    untouched, and one warning says so."""
    path = tmp_path / "dlq.jsonl"
    store = _filled(tmp_path, 2)
    warnings: list[str] = []
    store.warn = warnings.append

    async def go() -> None:
        store.pin()
        os.rename(path, tmp_path / "dlq.jsonl.1")
        await FileBackend(path).append(entry(0))  # a new dead letter reusing the id e0
        assert [e["id"] for e in await _all(store.iter_entries())] == ["e0", "e1"]  # the rotated file
        assert await store.remove_many(["e0"]) == 1
        await store.update("e1", 9, None)
        assert (store.mark() or {})["source"] == FileBackend(tmp_path / "dlq.jsonl.1").identity
        await store.close()

    asyncio.run(go())
    rotated = asyncio.run(_all(FileBackend(tmp_path / "dlq.jsonl.1").iter_entries()))
    assert [(e["id"], e["attempts"]) for e in rotated] == [("e1", 9)]
    assert [e["id"] for e in asyncio.run(_all(FileBackend(path).iter_entries()))] == ["e0"]
    assert len(warnings) == 1 and "was rotated or replaced during the replay" in warnings[0], warnings


def test_removing_one_id_at_a_time_reads_the_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``remove`` (the debug API's ``DELETE /dlq/{id}``, once per id of a purge or a replay over
    HTTP) read the whole file for each id: O(n²). Its index is kept while only its own tombstones
    and updates were appended, and read again after any other change: a new entry, or a tombstone
    another process wrote (the cached tombstones missed it, and a second removal said removed)."""
    store = _filled(tmp_path, 40)
    reads: list[int] = []
    opened = FileBackend._open_for_reading

    def counted(self: FileBackend) -> Any:
        reads.append(1)
        return opened(self)

    monkeypatch.setattr(FileBackend, "_open_for_reading", counted)
    for i in range(40):
        assert run(store.remove(f"e{i}")) is True
        if i % 10 == 0:
            run(store.update(f"e{i + 1}", 7, None))
    assert run(store.remove("e0")) is False and run(store.remove("nope")) is False
    assert len(reads) == 2, len(reads)  # one index: the tombstones, then the refs
    other = FileBackend(tmp_path / "dlq.jsonl")
    run(other.append(entry(40)))
    run(other.append(entry(41)))
    run(other.remove("e41"))
    assert run(store.remove("e40")) is True and run(store.remove("e41")) is False
    assert asyncio.run(_all(FileBackend(tmp_path / "dlq.jsonl").iter_entries())) == []


def test_a_removal_waiting_for_the_lock_is_not_made_twice(tmp_path: Path) -> None:
    """``remove`` waits for the file's lock without blocking (another process appends); another
    call meanwhile reads the index again (the file changed). Once the first removal is written, a
    second ``remove`` of that id is ``False``: the index read meanwhile did not have its tombstone,
    and a second tombstone was written with ``True``."""
    import fcntl

    path = tmp_path / "dlq.jsonl"
    store = _filled(tmp_path, 2)

    async def go() -> tuple[bool, bool, bool]:
        holder = os.open(path, os.O_RDWR | os.O_APPEND)
        fcntl.flock(holder, fcntl.LOCK_EX)  # another process, appending
        first = asyncio.ensure_future(store.remove("e0"))
        await asyncio.sleep(0.05)  # waiting for the lock
        os.write(holder, FileBackend.line(entry(2)))  # what it appends
        nope = await store.remove("nope")  # reads the changed file again
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
        return await first, nope, await store.remove("e0")

    assert asyncio.run(go()) == (True, False, False)
    assert path.read_bytes().count(b"$tombstone") == 1


def test_a_removal_of_an_id_already_waiting_for_the_lock_is_false(tmp_path: Path) -> None:
    """A second ``remove`` of an id (a retried ``DELETE /dlq/{id}``) while the first waits for the
    file's lock and the file changed meanwhile (another process appended: the second reads the file
    again, without the first's tombstone, not yet written) is ``False``: both said removed, and two
    tombstones were written."""
    import fcntl

    path = tmp_path / "dlq.jsonl"
    store = _filled(tmp_path, 2)

    async def go() -> tuple[bool, bool]:
        holder = os.open(path, os.O_RDWR | os.O_APPEND)
        fcntl.flock(holder, fcntl.LOCK_EX)  # another process, appending
        first = asyncio.ensure_future(store.remove("e0"))
        await asyncio.sleep(0.05)  # waiting for the lock
        os.write(holder, FileBackend.line(entry(2)))  # what it appends
        second = asyncio.ensure_future(store.remove("e0"))  # reads the changed file again
        await asyncio.sleep(0.05)
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
        return await first, await second

    assert asyncio.run(go()) == (True, False)
    assert path.read_bytes().count(b"$tombstone") == 1
    assert [e["id"] for e in run(_all(store.iter_entries()))] == ["e1", "e2"]
