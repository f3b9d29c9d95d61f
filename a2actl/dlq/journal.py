"""The replay journal (``docs/dlq.md``, "Replay semantics"): JSONL of ``{"id", "event", "at"}`` with
``event`` ``delivered`` (the agent acknowledged it) or ``removed`` (gone from the source); ``at`` in
epoch seconds. An id ``delivered`` but not ``removed`` when a replay starts is removed without being
delivered again."""

from __future__ import annotations

import hashlib
import json
import os
import time
from json.encoder import encode_basestring_ascii
from pathlib import Path


def default_journal(src: str) -> Path:
    """``$XDG_STATE_HOME/a2actl/journals/<sha256(SRC)[:16]>.jsonl`` (``~/.local/state`` by default)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "a2actl" / "journals" / (hashlib.sha256(src.encode()).hexdigest()[:16] + ".jsonl")


class Journal:
    """An open journal. ``pending``: ids delivered and not yet removed, in order; ``done``: ids
    removed by earlier runs. Torn or foreign lines are skipped when reading."""

    def __init__(self, path: Path) -> None:
        """Read ``path`` (created with its directory when missing) and open it for appending."""
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.pending: dict[str, None] = {}  # delivered, not yet removed (ordered)
        self.done = 0
        if path.exists():
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except (ValueError, RecursionError):
                        continue  # a torn last line
                    if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
                        continue  # not a journal line
                    if rec.get("event") == "delivered":
                        self.pending[rec["id"]] = None
                    elif rec.get("event") == "removed":
                        self.pending.pop(rec["id"], None)
                        self.done += 1
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(self, ids: list[str], event: str, sync: bool) -> None:
        """Append one line per id in one ``write``; ``sync``: ``fsync`` after it."""
        if not ids:
            return
        # the bytes json.dumps({"id": i, "event": event, "at": at}) gives, built from its own string
        # encoder once per id instead of the whole encoder per line
        tail = f', "event": {encode_basestring_ascii(event)}, "at": {json.dumps(time.time())}}}\n'
        data = "".join(['{"id": ' + encode_basestring_ascii(i) + tail for i in ids]).encode()
        os.write(self.fd, data)
        if sync:
            os.fsync(self.fd)

    def close(self) -> None:
        """Close the file."""
        os.close(self.fd)
