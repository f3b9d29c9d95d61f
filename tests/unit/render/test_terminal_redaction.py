"""Secrets masked before rich lays the text out (``terminal._Console``, ``mask_text``, ``safe``): a
table cell that cuts or wraps a secret, or ``safe`` cutting a long value, must not print a piece of it."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.style import Style
from rich.table import Table
from rich.text import Span, Text

from a2actl.core.redact import Redactor
from a2actl.render.output import Output
from a2actl.render.terminal import mask_text, safe

SECRET = "s3cr3t-VALUE-0123456789"


def test_mask_text_keeps_the_styles_around_the_masks() -> None:
    text = Text("id " + SECRET + " ok " + SECRET, style="dim", justify="right", overflow="fold", end="")
    text.stylize("bold", 0, 2)  # before: kept
    text.stylize("red", 3, 10)  # the start of the first secret: its mask
    text.stylize("blue", 8, 30)  # from inside the first secret to the second: its mask and " ok "
    text.stylize("green", 27, 29)  # ' ok ' between them: moved
    masked = mask_text(text, Redactor([SECRET]).needles())
    assert masked.plain == "id *** ok ***"
    assert masked.spans == [
        Span(0, 2, "bold"),
        Span(3, 6, "red"),
        Span(3, 10, "blue"),
        Span(7, 9, "green"),
    ]
    assert (masked.style, masked.justify, masked.overflow, masked.end) == ("dim", "right", "fold", "")


def test_mask_text_returns_a_text_without_secrets_as_it_is() -> None:
    text = Text("nothing to hide")
    assert mask_text(text, Redactor([SECRET]).needles()) is text


_pieces = st.lists(st.sampled_from(["a", "b", " ", "…", "SEC", "SECRET", "SECRETS", "CRET-2"]), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_pieces, st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=6))
def test_mask_text_masks_as_the_redactor_does(pieces: list[str], spans: list[tuple[int, int]]) -> None:
    """The same text as ``Redactor`` on the plain string (longer secrets first), and every span kept
    inside it and not empty."""
    redactor = Redactor(["SECRET", "SECRETS", "CRET-2"])
    text = Text("".join(pieces))
    for start, end in spans:
        text.stylize(Style(bold=True), start, end)
    masked = mask_text(text, redactor.needles())
    assert masked.plain == redactor(text.plain)
    assert all(0 <= s.start < s.end <= len(masked.plain) for s in masked.spans)


def _table(cell: str, columns: int, secrets: list[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    t = Table(title=f"from {cell}")
    t.add_column("what", overflow="fold")
    t.add_column("detail")
    t.add_row(Text(f"url http://u:{cell}@host/x"), f"echoed {cell} back")
    Output("table", stdout=out, stderr=io.StringIO(), secrets=secrets).out.print(t)
    return out.getvalue()


@pytest.mark.parametrize("columns", [30, 40, 60, 200])
def test_a_table_is_laid_out_as_if_it_held_the_masks(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    """Cells, column widths and wrapping as for the text with ``***``: no piece of the secret, and no
    column kept wide for a secret it no longer shows."""
    shown = _table(SECRET, columns, [SECRET], monkeypatch)
    assert shown == _table("***", columns, [], monkeypatch)
    assert not any(SECRET[i : i + 5] in shown for i in range(len(SECRET) - 4))


def test_safe_masks_the_secrets_of_a_value_it_cuts() -> None:
    """A value cut at ``limit`` inside a secret printed its start before the '…'."""
    Output("table", stdout=io.StringIO(), stderr=io.StringIO(), secrets=[SECRET])
    value = "x" * 490 + SECRET + " end"
    assert safe(value) == "x" * 490 + "*** end"  # masked: short enough not to be cut
    assert safe(value, 495) == "x" * 490 + "*** e…"
    Output("table", stdout=io.StringIO(), stderr=io.StringIO(), secrets=[SECRET], redact=False)
    assert safe(value) == value[:500] + "…"  # --show-secrets
