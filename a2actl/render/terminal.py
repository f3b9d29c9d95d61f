"""Terminal safety and small text helpers shared by every view: ``safe()`` for untrusted strings,
the render hook that escapes control and bidi characters, the consoles, the redacting stream, and
``count``/``age`` formatting. Agent-supplied strings are untrusted: consoles are created with
``markup=False, highlight=False, emoji=False``."""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from rich.console import Console, RenderHook
from rich.protocol import rich_cast
from rich.text import Span, Text

if TYPE_CHECKING:
    from rich.console import ConsoleOptions, RenderableType
    from rich.segment import Segment
    from rich.table import Table

    from a2actl.core.redact import Redactor

#: ``[the Redactor of the newest Output]`` (``None`` before one, and with ``--show-secrets``), set by
#: ``Output``: ``safe`` masks with it a value it cuts at ``limit``, so the cut never falls inside a
#: secret. Process-wide, not a context variable: an ``Output`` first made inside an asyncio task is
#: used by views drawn outside it.
_CUT_REDACTOR: list[Redactor | None] = [None]


def safe(value: Any, limit: int = 500) -> str:
    """Text for display: control and format characters and lone surrogates escaped (``\\x1b`` →
    ``\\x1b`` literally, ``\\ud800`` → ``\\ud800``: no UTF-8 stream can write a lone surrogate), truncated
    to ``limit`` characters and ``…``. A value longer than ``limit`` has the known secrets masked
    before it is cut (the run's ``Redactor``): cut inside a secret, its start no longer matched any
    secret and reached the output."""
    s = "" if value is None else str(value)
    if len(s) > limit:
        redactor = _CUT_REDACTOR[0]
        if redactor is not None and redactor.needles():
            s = redactor(s)
    out = []
    for ch in s[:limit]:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs") and ch not in ("\n", "\t"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out) + ("…" if len(s) > limit else "")


#: ``cell``'s escapes beyond ``safe``'s: the line breaks and the tab it keeps.
_LINE_BREAKS = str.maketrans({"\n": "\\n", "\t": "\\t"})


def cell(value: Any, limit: int = 500) -> str:
    """``safe(value, limit)`` for a one-line place (a table cell, a field of a record line): a line
    feed or tab is escaped as well (``\\n``, ``\\t`` literally), so a URL, a file name, an id or an
    agent's field that holds one shows it and keeps the table's rows whole (in a cell a line feed
    starts a line that reads as another row). ``limit`` counts the characters before the escapes.
    Text meant to span lines (messages, hints, an agent's status message) takes ``safe``."""
    return safe(value, limit).translate(_LINE_BREAKS)


def count(value: Any) -> str:
    """A count for display: thousands separated, ``?`` when unknown (``None``)."""
    return f"{value:,}" if isinstance(value, int) else "?"


def bar(count: int, top: int, width: int) -> str:
    """A histogram bar: ``count`` out of ``top`` as up to ``width`` block characters, at least one
    for a non-zero count."""
    return "█" * max(1 if count else 0, round(count / (top or 1) * width))


def _unsafe_chars() -> dict[int, str]:
    """Every C0/C1 control (but newline and tab), every format character (bidi overrides such as
    U+202E, zero-width joiners) and every lone surrogate (U+D800-U+DFFF: a JSON ``\\ud800`` escape
    decodes to one, and writing it to a UTF-8 stream raises), mapped to its escaped spelling
    (``\\x1b``, ``\\u202e``, ``\\ud800``)."""
    table: dict[int, str] = {cp: f"\\u{cp:04x}" for cp in range(0xD800, 0xE000)}
    for cp in list(range(0x00, 0x20)) + [0x7F] + list(range(0x80, 0xA0)):
        if chr(cp) not in "\n\t":
            table[cp] = chr(cp).encode("unicode_escape").decode("ascii")
    for cp in (  # every format character (Cf) of Unicode 15, plus U+180E (Cf before Unicode 6.3)
        0x00AD,
        *range(0x0600, 0x0606),
        0x061C,
        0x06DD,
        0x070F,
        0x0890,
        0x0891,
        0x08E2,
        0x180E,
        *range(0x200B, 0x2010),
        *range(0x202A, 0x202F),
        *range(0x2060, 0x2070),
        0xFEFF,
        *range(0xFFF9, 0xFFFC),
        0x110BD,
        0x110CD,
        *range(0x13430, 0x13440),
        *range(0x1BCA0, 0x1BCA4),
        *range(0x1D173, 0x1D17B),
        0xE0001,
        *range(0xE0020, 0xE0080),
    ):
        table[cp] = chr(cp).encode("unicode_escape").decode("ascii")
    return table


_UNSAFE = _unsafe_chars()


class _Neutralised:
    """Renders another renderable and escapes control and bidi characters in its text segments.
    Rich's own control segments (cursor moves) and styles pass through untouched: only text that
    came from data is changed, so an agent's ``ESC]0;…BEL`` or U+202E cannot reach the terminal."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: Any) -> Any:
        from rich.segment import Segment

        for seg in console.render(self.inner, options):
            if seg.control or not seg.text:
                yield seg
            else:
                text = seg.text.translate(_UNSAFE)
                yield seg if text == seg.text else Segment(text, seg.style, seg.control)


class _NeutraliseHook(RenderHook):
    """The one choke point for terminal safety in table mode: every renderable printed on a console
    of this module passes through ``_Neutralised`` (``safe()`` at call sites stays as a first line)."""

    def process_renderables(self, renderables: list[Any]) -> list[Any]:
        return [_Neutralised(r) for r in renderables]


#: Width for output that is not a terminal (a CI log, a pipe) when ``COLUMNS`` is not set: wide
#: enough that URLs and ids are never wrapped or cut (rich's default would be 80 columns).
PIPE_WIDTH = 1000


def mask_text(text: Text, needles: Sequence[str], swaps: Mapping[str, str] | None = None) -> Text:
    """``text`` with every occurrence of each of ``needles`` (secret spellings, longest first, as
    ``Redactor.needles()`` gives them) replaced by ``***`` (or by its masked form in ``swaps``,
    ``Redactor.swaps``: a URL prefix with a short userinfo secret), as ``Redactor`` does on a string; its
    styles (spans) kept around the masks, a span over part of a secret covering its mask. ``text``
    itself when it holds none (the common case: one substring test per needle); else a new ``Text``
    with ``text``'s style, justify, overflow, no_wrap and end."""
    plain = text.plain
    for needle in needles:
        if needle in plain:
            break
    else:
        return text
    from a2actl.core.redact import MASK

    spans = text.spans
    for needle in needles:
        if needle not in plain:
            continue
        mask = swaps.get(needle, MASK) if swaps else MASK
        starts: list[int] = []  # the occurrences str.replace masks: left to right, not overlapping
        at = plain.find(needle)
        while at != -1:
            starts.append(at)
            at = plain.find(needle, at + len(needle))
        if spans:
            n, shift, m = len(needle), len(mask) - len(needle), len(mask)

            def moved(
                pos: int, end: bool, starts: list[int] = starts, n: int = n, shift: int = shift, m: int = m
            ) -> int:
                i = bisect_right(starts, pos) - 1  # the last occurrence starting at or before pos
                if i >= 0 and starts[i] < pos < starts[i] + n:  # inside it: to its mask's edge
                    return starts[i] + i * shift + (m if end else 0)
                return pos + bisect_right(starts, pos - n) * shift  # after every one ending by pos

            spans = [
                Span(start, end, s.style)
                for s in spans
                if (start := moved(s.start, False)) < (end := moved(s.end, True))
            ]
        plain = plain.replace(needle, mask)
    masked = text.blank_copy(plain)
    masked.spans = spans
    return masked


def _masked(renderable: Any, needles: Sequence[str], redactor: Redactor) -> Any:
    """``renderable`` with the secrets masked when it is a ``Text`` (``mask_text``) or a ``str``;
    any other renderable as it is."""
    if isinstance(renderable, Text):
        return mask_text(renderable, needles, redactor.swaps)
    if isinstance(renderable, str):
        return redactor(renderable)
    return renderable


def _mask_table(table: Table, needles: Sequence[str], redactor: Redactor) -> None:
    """Mask the secrets in ``table``'s cells, headers and footers in place (``_masked``), before
    rich measures them: measured with a secret that ``render`` then masks, a column kept the width
    of the secret (blank) and squeezed the others."""
    for column in table.columns:
        cells = column._cells
        for i, cell in enumerate(cells):
            cells[i] = _masked(cell, needles, redactor)
        column.header = _masked(column.header, needles, redactor)
        column.footer = _masked(column.footer, needles, redactor)


class _Console(Console):
    """rich's Console, except that:

    * the known secrets are masked in the text it lays out (``redact``: the run's ``Redactor``), before
      the layout: every ``str`` and ``Text`` it renders, top level or nested (a table's cells, titles
      and headers: rich renders each through ``render``), has them replaced by ``***`` (``mask_text``).
      Masked only in the finished text (``_RedactingStream``, still the second line), a secret that a
      table cut ('…') or wrapped over two lines no longer matched, and its start or its pieces were
      printed. A table's cells are masked before rich measures them (``_mask_table``), so a column
      is as wide as what it shows. The cost with no secret known is one version check a renderable;
    * a closed stdout (``a2actl … | head -2``) raises BrokenPipeError, which the CLI boundary
      (``cli/app.py``) ends quietly with exit 0, as for ``-o jsonl``. rich's own ``on_broken_pipe``
      raises ``SystemExit(1)``, so a table piped into ``head`` exited 1 silently."""

    def __init__(self, *args: Any, redact: Redactor | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secrets_redactor = redact

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        redactor = self.secrets_redactor
        if redactor is not None:
            needles = redactor.needles()
            if needles:
                if isinstance(renderable, (Text, str)):
                    renderable = _masked(renderable, needles, redactor)
                elif not isinstance(renderable, _Neutralised):  # rich renders its inner one next
                    from rich.table import Table  # imported once a secret is known (startup)

                    renderable = rich_cast(renderable)
                    if isinstance(renderable, Table):
                        _mask_table(renderable, needles, redactor)
                    else:
                        renderable = _masked(renderable, needles, redactor)
        return super().render(renderable, options)

    def on_broken_pipe(self) -> None:
        import errno

        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def _console(file: IO[str], redact: Redactor | None = None) -> Console:
    """A console writing to ``file``: no markup, highlighting or emoji, soft wrap, the terminal-safety
    render hook, and ``redact`` (``None``: nothing masked) applied to the text before it is laid out
    (``_Console``). Width: ``COLUMNS``, else the terminal's, else ``PIPE_WIDTH`` for a pipe."""
    import os

    width = None
    if not os.environ.get("COLUMNS"):
        try:
            if not file.isatty():
                width = PIPE_WIDTH
        except (AttributeError, ValueError):
            width = PIPE_WIDTH
    console = _Console(
        file=file, markup=False, highlight=False, emoji=False, soft_wrap=True, width=width, redact=redact
    )
    console.push_render_hook(_NeutraliseHook())
    return console


class _StdoutStream:
    """Standard output, for ``Output``: a write or flush that fails for any reason but a reader gone
    away (``BrokenPipeError``, which the CLI boundary ends quietly) raises ``StdoutUnwritable``
    (exit 2, one line naming standard output and the reason) instead of an ``OSError`` that was
    "unexpected" (exit 1), and with ``-o json`` a traceback: the boundary wrote the error object to
    the same full disk. Everything else is delegated."""

    def __init__(self, inner: IO[str]) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        try:
            return self._inner.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            from a2actl.core.errors import StdoutUnwritable

            raise StdoutUnwritable.of(exc) from exc

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._inner.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            from a2actl.core.errors import StdoutUnwritable

            raise StdoutUnwritable.of(exc) from exc

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, buffer, … for rich and JSONL
        return getattr(self._inner, name)


class _RedactingStream:
    """A text stream that masks every known secret (``a2actl.core.redact.Redactor``) in what is written
    to it: the choke point between a2actl and its stdout/stderr. Everything else is delegated."""

    def __init__(self, inner: IO[str], redact: Any) -> None:
        self._inner = inner
        self._redact = redact

    def write(self, text: str) -> int:
        if self._redact.needles():
            text = self._redact(text)
        return self._inner.write(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._inner.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, … for rich
        return getattr(self._inner, name)


def age(seconds: float | None) -> str:
    """``45s``, ``4m12s``, ``2h03m``, ``3d04h``."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


#: ``sessions.rules.MAX_CLOCK_AHEAD`` (render does not import the core): a time dated further in
#: the future is a bogus timestamp, not a clock running ahead.
BOGUS_AHEAD = 86_400.0


def since(seconds: float | None) -> str:
    """An age or idle time for a table (``age``) where the time it counts from was dated by another
    clock (an agent's ``sessions``, a DLQ producer's ``enqueuedAt``): one dated in the future (that
    clock ahead of this machine's) is ``0s (clock skew +3.2s)``: the skew shown, never a negative
    age; one dated more than ``BOGUS_AHEAD`` ahead is ``? (dated 355415d06h in the future: bogus
    timestamp)``. ``-o json`` keeps the value as the source gave it."""
    if seconds is not None and seconds < -BOGUS_AHEAD:
        return f"? (dated {age(-seconds)} in the future: bogus timestamp)"
    if seconds is not None and seconds < 0:
        return f"0s (clock skew +{age(-seconds)})"
    return age(seconds)
