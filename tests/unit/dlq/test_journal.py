"""``a2actl.dlq.journal.Journal``: the lines it writes are the JSON documents of docs/dlq.md, byte for
byte what ``json.dumps`` gives, and a reopened journal reads them back."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from a2actl.core.errors import UsageError
from a2actl.dlq.journal import Journal


def test_lines_are_json_dumps_of_id_event_at_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.jsonl"
    ids = ["e-1", 'quote"and\\slash', "é-unicode", "\ud800-lone", "line\nbreak"]
    journal = Journal(path)
    journal.write(ids, "delivered", sync=False)
    journal.write(ids[:2], "removed", sync=True)
    journal.write([], "removed", sync=True)  # nothing: no line
    journal.close()
    start, *lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = json.loads(start)["at"]
    assert start == json.dumps({"event": "start", "pid": os.getpid(), "at": at}) + "\n"
    assert len(lines) == len(ids) + 2
    for line, (i, event) in zip(
        lines, [(i, "delivered") for i in ids] + [(i, "removed") for i in ids[:2]], strict=True
    ):
        at = json.loads(line)["at"]
        assert isinstance(at, float)
        assert line == json.dumps({"id": i, "event": event, "at": at}) + "\n"
    again = Journal(path)
    try:
        assert list(again.pending) == ids[2:] and again.done == 2
    finally:
        again.close()


def test_a_line_that_is_not_utf8_is_skipped_as_a_torn_one(tmp_path: Path) -> None:
    """It ended the replay with exit 1, unexpected UnicodeDecodeError, before anything was done."""
    path = tmp_path / "journal.jsonl"
    Journal(path).write(["a", "b"], "delivered", sync=True)
    with open(path, "ab") as f:
        f.write(b"\xff\xfe junk\n")
    again = Journal(path)
    again.write(["a"], "removed", sync=True)
    again.close()
    assert list(Journal(path).pending) == ["b"]


def test_a_parent_that_is_a_file_is_named(tmp_path: Path) -> None:
    """``--journal FILE/j``: the reason was ``mkdir``'s "File exists", naming nothing."""
    (tmp_path / "f").write_text("")
    with pytest.raises(UsageError) as refused:
        Journal(tmp_path / "f" / "sub" / "j")
    assert str(refused.value) == (
        f"cannot use {tmp_path / 'f' / 'sub' / 'j'} as the replay journal: {tmp_path / 'f'} is not a directory"
    )


@pytest.mark.parametrize("kind", ["directory", "device", "no permission"])
def test_a_path_that_cannot_be_a_journal_is_a_usage_error(tmp_path: Path, kind: str) -> None:
    """It was exit 1, unexpected IsADirectoryError / PermissionError (a FIFO: tests/cli/test_dlq_hostile.py)."""
    path = {"directory": tmp_path, "device": Path("/dev/null"), "no permission": tmp_path / "ro" / "j"}[kind]
    if kind == "no permission":
        if os.geteuid() == 0:
            path = Path("/proc/1/nonexistent/j")  # root may write anywhere else
        else:
            (tmp_path / "ro").mkdir(mode=0o500)
    with pytest.raises(UsageError, match="cannot use .* as the replay journal"):
        Journal(path)


def test_a_torn_last_line_does_not_swallow_the_next_runs_first_line(tmp_path: Path) -> None:
    """A run stopped inside a journal write (a kill -9 between the pages of a batch's write, a full
    disk) leaves a torn last line. The next run appended its first line to it, and that record was
    lost with the torn one: a ``delivered`` id not resumed (delivered again), a ``removed`` one
    removed again. The torn line is terminated first, as the file store does with its own."""
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps({"id": "a", "event": "delivered", "at": 1.0}) + '\n{"id": "b", "ev')
    first = Journal(path)
    assert list(first.pending) == ["a"]
    first.write(["c"], "delivered", sync=True)
    first.write(["a"], "removed", sync=True)
    first.close()
    again = Journal(path)
    try:
        assert (list(again.pending), again.done) == (["c"], 1)
    finally:
        again.close()


def test_a_resume_takes_only_what_a_run_on_the_same_source_delivered(tmp_path: Path) -> None:
    """Pending ids carry the source identity of the run that delivered them (its start line's
    ``source``): ``resumable`` splits them into what this run may remove and what it must not (the
    file was rotated or replaced since); ``stale`` lines take the latter out of ``pending``. A
    journal written before identities (no ``source``) resumes as before."""
    path = tmp_path / "j.jsonl"
    lines = [
        {"id": "old-format", "event": "delivered", "at": 1.0},
        {"event": "start", "pid": 1, "at": 2.0, "source": "1:100"},
        {"id": "a", "event": "delivered", "at": 3.0},
        {"event": "start", "pid": 2, "at": 4.0, "source": "1:200"},
        {"id": "b", "event": "delivered", "at": 5.0},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    j = Journal(path, "1:200")
    assert j.resumable() == (["old-format", "b"], ["a"])
    j.write(["a"], "stale", sync=True)
    j.close()
    assert Journal(path, "1:200").resumable() == (["old-format", "b"], [])
    assert Journal(path).resumable() == (["old-format", "b"], [])  # identity unknown: all of them
    start = json.loads(path.read_text().splitlines()[-1])
    assert start["event"] == "start" and "source" not in start and "id" not in start


class _Marks:
    """A source whose ``mark`` is ``now`` and which ``continues`` the marks in ``same``."""

    def __init__(self) -> None:
        self.now: dict[str, Any] | None = {"source": "1:100", "size": 10, "tail": "aa"}
        self.same: list[dict[str, Any]] = []
        self.asked = 0

    def mark(self) -> dict[str, Any] | None:
        return self.now

    def continues(self, mark: dict[str, Any]) -> bool:
        self.asked += 1
        return mark in self.same


def test_each_delivered_batch_is_marked_and_a_resume_asks_the_source(tmp_path: Path) -> None:
    """With a source that marks (a file), each batch of ``delivered`` lines follows a ``mark`` line
    (where the file stood) and ``resumable`` asks the source whether it still continues that mark,
    once per mark: a file truncated and refilled under the same ``DEV:INO`` does not. A batch
    journalled while the file could not be read is marked without a source: never resumed."""
    path = tmp_path / "j.jsonl"
    marks = _Marks()
    j = Journal(path, "1:100", marks=marks)
    j.write(["a", "b"], "delivered", sync=False)
    marks.now = {"source": "1:100", "size": 20, "tail": "bb"}
    j.write(["c"], "delivered", sync=False)
    j.write(["c"], "removed", sync=True)  # no mark for other events
    marks.now = None
    j.write(["d"], "delivered", sync=True)
    j.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [x.get("event") for x in lines] == ["start", "mark", "delivered", "delivered"] + [
        "mark",
        "delivered",
        "removed",
        "mark",
        "delivered",
    ]
    assert lines[1] == {"event": "mark", "source": "1:100", "size": 10, "tail": "aa"}
    assert lines[7] == {"event": "mark", "source": None}
    marks.same = [{"source": "1:100", "size": 10, "tail": "aa"}]
    again = Journal(path, "1:100", marks=marks)
    try:
        assert again.resumable() == (["a", "b"], ["d"])
        assert marks.asked == 2
        marks.same = []
        assert again.resumable() == ([], ["a", "b", "d"])
    finally:
        again.close()
