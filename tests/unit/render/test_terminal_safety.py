"""Terminal safety (issue #13 item 7, fuzzing): whatever text an agent supplies, no C0/C1 control
character (but newline) and no bidi/format character reaches the terminal in table mode."""

from __future__ import annotations

import io
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.table import Table
from rich.text import Text

from a2actl.render.output import Output
from a2actl.render.terminal import safe

_hostile = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs",)),
        st.sampled_from(["\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\u200b", "\r"]),
    ),
    max_size=60,
)


def _unsafe(text: str) -> list[str]:
    return [ch for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf")]


@settings(max_examples=200, deadline=None)
@given(_hostile, _hostile)
def test_nothing_unsafe_reaches_the_terminal(a: str, b: str) -> None:
    out = io.StringIO()
    r = Output("table", stdout=out, stderr=out)
    r.out.print(Text("name: " + a))
    t = Table()
    t.add_column("x")
    t.add_row(b)
    r.out.print(t)
    r.warn(a)
    r.error({"error": {"message": a, "hint": b}})
    assert _unsafe(out.getvalue()) == []


@given(_hostile)
def test_safe_escapes_everything_unsafe(text: str) -> None:
    assert _unsafe(safe(text, 10_000).replace("\t", "")) == []


def test_the_render_hook_escapes_every_control_and_format_character() -> None:
    """Found by the fuzz test above: a tag character (U+E0020, category Cf) passed the render hook,
    whose table listed only some format characters. Every Cc/Cf code point of this Python's Unicode
    database is now escaped in table mode."""
    import sys

    out = io.StringIO()
    r = Output("table", stdout=out, stderr=out)
    unsafe = "".join(chr(c) for c in range(sys.maxunicode + 1) if _unsafe(chr(c)) and chr(c) != "\t")
    r.out.print(Text(unsafe + "\U000e0020"))
    assert _unsafe(out.getvalue()) == []


def test_a_lone_surrogate_is_escaped_on_every_path_to_a_utf8_stream() -> None:
    """A JSON ``\\ud800`` escape from an agent decodes to a lone surrogate; a UTF-8 stream refuses
    to write it (exit 1 "unexpected UnicodeEncodeError", the result lost). Table text, narration,
    errors and the -o json document write its escape instead (-o jsonl already did)."""
    import json

    def strict() -> io.TextIOWrapper:
        return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)

    out, err = strict(), strict()
    r = Output("table", stdout=out, stderr=err)
    r.out.print(Text("id \ud800"))
    r.warn("w \udfff")
    r.note("n \ud800")
    r.error({"error": {"message": "m \ud800", "hint": "h \udc00"}})
    assert out.buffer.getvalue() == b"id \\ud800\n"  # type: ignore[attr-defined]
    assert err.buffer.getvalue().decode().splitlines() == [  # type: ignore[attr-defined]
        "warning: w \\udfff",
        "n \\ud800",
        "a2actl: m \\ud800 (hint: h \\udc00)",
    ]
    assert safe("\ud800") == "\\ud800"
    for fmt in ("json", "jsonl"):
        out = strict()
        Output(fmt, stdout=out, stderr=strict()).data({"id": "x\ud800é"})
        assert json.loads(out.buffer.getvalue()) == {"id": "x\ud800é"}  # type: ignore[attr-defined]


def test_cell_shows_line_breaks_and_tabs_where_safe_keeps_them() -> None:
    """``cell`` is ``safe`` for one-line places (table cells, record lines): a line feed or tab is
    escaped too, so it cannot start what reads as another row; ``safe`` keeps them (messages)."""
    from a2actl.render.terminal import cell

    assert cell("http://a/\nb\tc\x1b[2J") == "http://a/\\nb\\tc\\x1b[2J"
    assert safe("line one\nline two\tx") == "line one\nline two\tx"
    assert cell("x" * 10 + "\n", 10) == "x" * 10 + "…"
    assert cell(None) == "" and cell(-32603) == "-32603"
