"""The one output object of a run: ``Output`` writes results as a table (through a view function of
one of the per-domain modules ``render/<domain>.py``), JSON or JSONL, and narration to stderr. Chosen
once per run (``table | json | jsonl``); every byte goes through a redacting stream, and in table mode
through the terminal-safety render hook (``render/terminal.py``).

Data goes to stdout; narration, warnings and ``-v`` output to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import IO, Any, cast

from rich.text import Text

from a2actl.render.terminal import _console, _RedactingStream, safe

#: One compact encoder for every JSONL record: ``json.dumps`` with options builds a new encoder per
#: call, which was a fifth of the per-event cost of ``stream tail -o jsonl``.
_JSONL = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":")).encode

#: A table view: renders one JSON document (the ``-o json`` shape) on ``Output.out``.
View = Callable[["Output", dict[str, Any]], None]


class Output:
    """Writes results in the chosen format (``table``, ``json``, ``jsonl``). Every byte goes through
    a ``_RedactingStream`` (known secrets masked) and, in table mode, through the terminal-safety
    render hook (control and bidi characters escaped)."""

    def __init__(
        self,
        output: str,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        secrets: Iterable[str] = (),
        redact: bool = True,
    ) -> None:
        from a2actl.core.redact import Redactor

        self.output = output
        self.redact = Redactor(secrets)
        # _RedactingStream delegates every other attribute of IO[str] to the stream it wraps
        self.stdout: IO[str] = (
            cast("IO[str]", _RedactingStream(stdout or sys.stdout, self.redact))
            if redact
            else (stdout or sys.stdout)
        )
        self.stderr: IO[str] = cast("IO[str]", _RedactingStream(stderr or sys.stderr, self.redact))
        self.out = _console(self.stdout)
        self.err = _console(self.stderr)

    # -- machine output ------------------------------------------------------------------------
    def json(self, obj: Any) -> None:
        """One JSON document on stdout."""
        self.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
        self.stdout.flush()

    def jsonl(self, obj: Any) -> None:
        """One compact JSON object on its own line, flushed at once."""
        self.stdout.write(_JSONL(obj) + "\n")
        self.stdout.flush()

    def data(self, obj: Any) -> None:
        """``json`` or ``jsonl`` according to the output format."""
        (self.jsonl if self.output == "jsonl" else self.json)(obj)

    # -- narration -----------------------------------------------------------------------------
    def warn(self, text: str) -> None:
        """A warning on stderr (``warning: …``, yellow in a terminal)."""
        self.err.print(Text("warning: " + safe(text), style="yellow"))

    def note(self, text: str) -> None:
        """A note on stderr (dim in a terminal): narration that is not data."""
        self.err.print(Text(safe(text), style="dim"))

    def error(self, err_json: dict[str, Any]) -> None:
        """An error: one line on stderr (message and hint); with json/jsonl also the object on stdout."""
        e = err_json["error"]
        line = Text("a2actl: ", style="bold red")
        line.append(safe(e["message"], 2000))
        if e.get("hint"):
            line.append(" (hint: " + safe(e["hint"]) + ")", style="yellow")
        self.err.print(line)
        if self.output in ("json", "jsonl"):
            self.data(err_json)

    # -- results ------------------------------------------------------------------------------------
    def result(self, doc: Any, view: View) -> None:
        """Render one result document: with ``table`` through ``view``, else as JSON / JSONL. ``doc`` is
        the ``-o json`` shape (a dict) or an object with ``to_json()`` returning it."""
        if hasattr(doc, "to_json"):
            doc = doc.to_json()
        if self.output == "table":
            view(self, doc)
        else:
            self.data(doc)

    def records(
        self,
        *,
        key: str,
        summary_view: View,
        record_view: View | None = None,
        record_type: str | None = None,
        summary_type: str | None = None,
    ) -> RecordWriter:
        """A writer for commands that produce records as they go and one summary at the end
        (``stream tail``, ``send --stream``, ``handshake probe``, ``smoke run``, ``dlq replay``)."""
        return RecordWriter(self, key, summary_view, record_view, record_type, summary_type)


class RecordWriter:
    """Records as they come, then one summary, in the run's format:

    * ``jsonl``: each record on its own line as it comes (``{"type": record_type, **record}`` when
      ``record_type`` is set), then the summary without ``key`` (tagged ``summary_type`` when set);
    * ``json``: nothing until the end, then one document: the summary with the records under ``key``
      (unless the summary already carries ``key``);
    * ``table``: ``record_view`` per record (when given), then ``summary_view`` on the summary.
    """

    def __init__(
        self,
        out: Output,
        key: str,
        summary_view: View,
        record_view: View | None,
        record_type: str | None,
        summary_type: str | None,
    ) -> None:
        self.out = out
        self.key = key
        self.summary_view = summary_view
        self.record_view = record_view
        self.record_type = record_type
        self.summary_type = summary_type
        #: The records kept for ``-o json``.
        self.kept: list[dict[str, Any]] = []

    def record(self, rec: dict[str, Any]) -> None:
        """One record (a JSON-ready dict), written at once in ``jsonl`` and ``table``."""
        fmt = self.out.output
        if fmt == "jsonl":
            self.out.jsonl({"type": self.record_type, **rec} if self.record_type else rec)
        elif fmt == "json":
            self.kept.append(rec)
        elif self.record_view is not None:
            self.record_view(self.out, rec)

    def finish(self, summary: dict[str, Any]) -> None:
        """The summary document (a JSON-ready dict), written last."""
        fmt = self.out.output
        if fmt == "jsonl":
            rest = {k: v for k, v in summary.items() if k != self.key}
            self.out.jsonl({"type": self.summary_type, **rest} if self.summary_type else rest)
        elif fmt == "json":
            self.out.json(summary if self.key in summary else {**summary, self.key: self.kept})
        else:
            self.summary_view(self.out, summary)
