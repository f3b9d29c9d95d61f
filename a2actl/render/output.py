"""The one output object of a run: ``Output`` writes results as a table (through a view function of
one of the per-domain modules ``render/<domain>.py``), JSON or JSONL, and narration to stderr. Chosen
once per run (``table | json | jsonl``); every byte is redacted (known secrets masked: a redacting
stream, and for JSONL records the JSONL writer's own check, ``_jsonl_writer``), and in table mode
goes through the terminal-safety render hook (``render/terminal.py``).

Data goes to stdout; narration, warnings and ``-v`` output to stderr.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import IO, TYPE_CHECKING, Any, Protocol, cast

import orjson
from rich.text import Text

from a2actl.render.terminal import _CUT_REDACTOR, _console, _RedactingStream, _StdoutStream, safe

if TYPE_CHECKING:
    from a2actl.core.redact import Redactor

#: The stdlib encoder for the records orjson refuses (integers past 64 bits, keys that are not
#: strings, lone surrogates): the same bytes a2actl wrote before orjson.
_JSONL_STDLIB = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":")).encode
#: orjson writes compact UTF-8 JSON (non-ASCII as is, as ``ensure_ascii=False`` did); dataclasses and
#: datetimes go to ``default=str`` as they did with the stdlib encoder.
_JSONL_OPTIONS = (
    orjson.OPT_APPEND_NEWLINE | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)


#: The ``-o json`` document's options: ``json.dumps(indent=2)``'s layout.
_DOCUMENT_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def jsonl_line(obj: Any) -> bytes:
    """One JSONL line (``docs/output-formats.md``): ``obj`` as compact JSON, UTF-8, ending in one
    ``\\n``. orjson encodes it (numbers may be spelt differently from Python's ``json``: ``1e-6``
    for ``1e-06``; ``NaN`` and infinities become ``null``, valid JSON); what orjson refuses is
    encoded by the stdlib, a lone surrogate as its ``\\udXXX`` JSON escape. Objects JSON does not
    know are written as ``str(obj)``. Raises ``ValueError`` for a circular structure."""
    try:
        return orjson.dumps(obj, default=str, option=_JSONL_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError
        return (_JSONL_STDLIB(obj) + "\n").encode("utf-8", "backslashreplace")


def _finite(obj: Any) -> Any:
    """``obj`` with every ``NaN`` and infinity (floats) replaced by ``None``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def json_document(obj: Any) -> str:
    """The ``-o json`` document: ``obj`` indented, UTF-8 text as it is; ``NaN`` and infinities (an
    agent's card or answer may carry them: Python's reader takes them) become ``null`` as in
    ``jsonl_line``, since ``NaN`` is not JSON (RFC 8259 §6) and strict readers refuse the whole
    document. Objects JSON does not know are written as ``str(obj)``; a lone surrogate (from a
    ``\\ud800`` escape an agent sent) as its ``\\udXXX`` JSON escape, as in ``jsonl_line``: a UTF-8
    stream cannot write it. orjson encodes it (``jsonl_line``'s rules: ``1e-6`` for ``1e-06``;
    about 10x faster than the stdlib's indenting encoder, which took 14 s of a 200,000-session
    ``sessions list -o json``); what orjson refuses (integers past 64 bits, keys that are not
    strings, lone surrogates) is encoded by the stdlib as before."""
    try:
        return orjson.dumps(obj, default=str, option=_DOCUMENT_OPTIONS).decode("utf-8")
    except TypeError:  # orjson.JSONEncodeError
        pass
    try:
        text = json.dumps(obj, indent=2, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        text = json.dumps(_finite(obj), indent=2, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, only ever inside JSON strings: escape them
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


#: A table view: renders one JSON document (the ``-o json`` shape) on ``Output.out``.
View = Callable[["Output", dict[str, Any]], None]


def _jsonl_writer(
    stream: IO[str], redactor: Redactor | None
) -> tuple[Callable[[Any], None], Callable[[], AbstractContextManager[None]]]:
    """The JSONL writer of an ``Output``: ``obj`` → ``jsonl_line(obj)`` → every known secret masked
    (``redactor``; ``None`` with ``--show-secrets``) → ``stream``, flushed at once. One frame per
    record: this is the per-event path of ``stream tail -o jsonl``.

    Redaction: with no secrets known (the registry can grow during a run, so this is asked per
    record) the line is written as orjson encoded it; with secrets it is searched for their UTF-8
    spellings and, on a hit, masked by ``redactor`` (orjson escapes a string as the stdlib's
    ``ensure_ascii=False`` does, a spelling ``Redactor`` masks).

    Writing: to the binary file under a UTF-8 text ``stream`` (``sys.stdout``), after flushing the
    text written before so the order holds; on a plain file descriptor in one ``write`` (what a flush
    would do, without the copy into the buffer; a short write, after a signal or on a non-blocking
    pipe, is finished by ``_write_rest``). A stream without a binary buffer (``io.StringIO``) or not
    UTF-8 gets the line as text. A write-through text layer over the file itself (``python -u``)
    holds no text, so nothing is flushed first there.

    Returns ``(write, together)``: ``together()`` is a context manager inside which the records
    written are held and go out in one write when it exits (also on an error: nothing is lost), so a
    stream read in batches (``stream tail``: the events one network read completed) costs one system
    call per read, not per event; the records stay in order and are out before the next read.
    A write that fails for any reason but a reader gone away (``BrokenPipeError``, raised as it is)
    raises ``StdoutUnwritable`` (exit 2): ``stream`` is standard output."""
    import codecs
    import io

    dumps, options = orjson.dumps, _JSONL_OPTIONS
    flush_text = stream.flush
    buffer = getattr(stream, "buffer", None)
    encoding = getattr(stream, "encoding", None)
    try:
        utf8 = isinstance(encoding, str) and codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        utf8 = False
    if buffer is None or not utf8:
        buffer = None
    # the file descriptor: under the buffer, or the buffer itself (PYTHONUNBUFFERED=1, python -u)
    raw = buffer if isinstance(buffer, io.FileIO) else getattr(buffer, "raw", None)
    raw_write = raw.write if isinstance(raw, io.FileIO) else None
    # Text written through at once to the file itself (``python -u``, ``PYTHONUNBUFFERED=1``: a
    # write-through text layer over the unbuffered file) never waits in a buffer, so there is
    # nothing to flush before a record (the flush call is ~1.2k CPU instructions a record).
    flush_first = not (raw is buffer and getattr(stream, "write_through", False) is True)
    seen: list[str] = []
    byte_needles: list[bytes] = []

    held: list[bytes] | None = None  # lines written inside ``together``

    def write(obj: Any) -> None:
        try:
            line = dumps(obj, default=str, option=options)
        except TypeError:  # orjson.JSONEncodeError: jsonl_line's stdlib path
            line = jsonl_line(obj)
        if held is not None:
            held.append(line)
        else:
            put(line)

    def put(data: bytes) -> None:
        """``data`` (whole lines) masked and written. Raises ``StdoutUnwritable`` (exit 2) when the
        write fails for any reason but a reader gone away (``BrokenPipeError``: raised as it is)."""
        nonlocal seen, byte_needles
        if redactor is not None:
            needles = redactor.needles()
            if needles:
                if needles is not seen:  # the registry grew: encode the spellings again
                    seen, byte_needles = needles, [n.encode() for n in needles]
                for needle in byte_needles:
                    if needle in data:  # a spelling holds no newline: never across two lines
                        data = redactor(data.decode()).encode()
                        break
        try:
            if raw_write is not None:
                if flush_first:
                    flush_text()  # text written before goes first (this also empties the buffer)
                done = raw_write(data)
                if done is None or done < len(data):
                    _write_rest(raw, memoryview(data)[done or 0 :])
            elif buffer is not None:
                flush_text()
                buffer.write(data)
                buffer.flush()
            else:
                stream.write(data.decode())
                stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:  # a full disk (ENOSPC), an I/O error
            from a2actl.core.errors import StdoutUnwritable

            raise StdoutUnwritable.of(exc) from exc

    @contextmanager
    def together() -> Iterator[None]:
        nonlocal held
        if held is not None:  # inside another: that one writes
            yield
            return
        held = []
        try:
            yield
        finally:
            lines, held = held, None
            if lines:
                put(b"".join(lines))

    return write, together


def _write_rest(raw: Any, data: memoryview) -> None:
    """Write all of ``data`` to the file ``raw`` after a short write: again until it is taken,
    waiting until the file is writable when it is non-blocking and full."""
    import select

    while data:
        done = raw.write(data)
        if done is None:
            select.select([], [raw], [])
            continue
        data = data[done:]


class Output:
    """Writes results in the chosen format (``table``, ``json``, ``jsonl``). Every byte has the known
    secrets masked (text through a ``_RedactingStream``, JSONL records by ``_jsonl_writer``) and, in
    table mode, goes through the terminal-safety render hook (control and bidi characters escaped).
    What the consoles lay out has them masked before the layout as well (``terminal._Console``), so
    a table cell cut or wrapped inside a secret prints no piece of it, and so has a value ``safe``
    cuts at its limit."""

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
        raw_out = stdout or sys.stdout
        # a write to standard output that fails (a full disk) is StdoutUnwritable, exit 2
        base = cast("IO[str]", _StdoutStream(raw_out))
        # _RedactingStream delegates every other attribute of IO[str] to the stream it wraps
        self.stdout: IO[str] = cast("IO[str]", _RedactingStream(base, self.redact)) if redact else base
        #: ``jsonl``'s writer (``RecordWriter`` calls it directly, one call per record), and
        #: ``together``: ``with out.together():`` the JSONL records written inside go out in one
        #: write when it exits (``_jsonl_writer``); other output is not held.
        self._jsonl: Callable[[Any], None]
        self.together: Callable[[], AbstractContextManager[None]]
        self._jsonl, self.together = _jsonl_writer(raw_out, self.redact if redact else None)
        self.stderr: IO[str] = cast("IO[str]", _RedactingStream(stderr or sys.stderr, self.redact))
        # the secrets masked in the text before rich lays it out too (a cut or wrapped one no longer
        # matches in the finished text), and before ``safe`` cuts a long value
        self.out = _console(self.stdout, self.redact if redact else None)
        self.err = _console(self.stderr, self.redact)
        _CUT_REDACTOR[0] = self.redact if redact else None
        #: The command's ``RecordWriter`` (``records``), if it made one: ``error`` shows its records.
        self.writer: RecordWriter | None = None

    # -- machine output ------------------------------------------------------------------------
    def json(self, obj: Any) -> None:
        """One JSON document on stdout."""
        self.stdout.write(json_document(obj) + "\n")
        self.stdout.flush()

    def jsonl(self, obj: Any) -> None:
        """One compact JSON object on its own line (``jsonl_line``), flushed at once, with every known
        secret masked (the redaction choke point, as for any other output; ``_jsonl_writer``)."""
        self._jsonl(obj)

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
        """An error: one line on stderr (message and hint); with json/jsonl also the object on stdout.
        With ``json``, an error that ends a command writing records (``records``: ``stream tail``,
        ``send --stream``, ``smoke run``, …) keeps the records so far in the error document, under
        the command's key (``jsonl`` wrote them as they came)."""
        writer = self.writer
        if self.output == "json" and writer is not None and writer.kept and writer.key not in err_json:
            err_json = {**err_json, writer.key: list(writer.kept)}
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
        kept: KeptRecords | None = None,
    ) -> RecordWriter:
        """A writer for commands that produce records as they go and one summary at the end
        (``stream tail``, ``send --stream``, ``handshake probe``, ``smoke run``, ``dlq replay``).
        ``kept``: where ``json`` keeps the records until the end (default: a list, every record);
        a command whose records may be unbounded gives a bounded container (``push listen``)."""
        return RecordWriter(self, key, summary_view, record_view, record_type, summary_type, kept)


class KeptRecords(Protocol):
    """What ``RecordWriter`` keeps the ``json`` records in: ``append`` one, ``len``, and iteration
    over those kept, in order (a ``list``, or a bounded container that counts the others)."""

    def append(self, rec: dict[str, Any], /) -> None: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[dict[str, Any]]: ...


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
        kept: KeptRecords | None = None,
    ) -> None:
        self.out = out
        self.key = key
        self.summary_view = summary_view
        self.record_view = record_view
        self.record_type = record_type
        self.summary_type = summary_type
        #: The records kept for ``-o json`` (every one, unless the command bounds them).
        self.kept: KeptRecords = [] if kept is None else kept
        out.writer = self  # an error that ends the command still shows these (``Output.error``)
        #: One record (a JSON-ready dict), written at once in ``jsonl`` and ``table``: in ``jsonl``
        #: without ``record_type``, the output's JSONL writer itself (one call per record).
        self.record: Callable[[dict[str, Any]], None] = (
            out._jsonl if out.output == "jsonl" and record_type is None else self._record
        )

    def _record(self, rec: dict[str, Any]) -> None:
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
            self.out.json(summary if self.key in summary else {**summary, self.key: list(self.kept)})
        else:
            self.summary_view(self.out, summary)
