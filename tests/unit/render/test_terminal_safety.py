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
