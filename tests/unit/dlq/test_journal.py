"""``a2actl.dlq.journal.Journal``: the lines it writes are the JSON documents of docs/dlq.md, byte for
byte what ``json.dumps`` gives, and a reopened journal reads them back."""

from __future__ import annotations

import json
from pathlib import Path

from a2actl.dlq.journal import Journal


def test_lines_are_json_dumps_of_id_event_at_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "j" / "journal.jsonl"
    ids = ["e-1", 'quote"and\\slash', "é-unicode", "\ud800-lone", "line\nbreak"]
    journal = Journal(path)
    journal.write(ids, "delivered", sync=False)
    journal.write(ids[:2], "removed", sync=True)
    journal.write([], "removed", sync=True)  # nothing: no line
    journal.close()
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
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
