"""Rendering a view whole, for the view tests: table mode, a fixed width, NO_COLOR."""

from __future__ import annotations

import io
from typing import Any

import pytest

from a2actl.render.output import Output, View


def render(
    view: View, doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch | None = None, columns: int = 100
) -> tuple[str, str]:
    """stdout and stderr of ``view(out, doc)`` in table mode. With ``monkeypatch``, ``columns`` wide and
    NO_COLOR (else the test's own environment decides)."""
    if monkeypatch is not None:
        monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setenv("NO_COLOR", "1")
    stdout, stderr = io.StringIO(), io.StringIO()
    view(Output("table", stdout=stdout, stderr=stderr), doc)
    return stdout.getvalue(), stderr.getvalue()


def lines(text: str) -> str:
    """The rendered text with each line's trailing spaces dropped (rich pads table rows)."""
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def stdout_trimmed(
    view: View, doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch, columns: int = 80
) -> str:
    """The whole stdout of ``view(out, doc)``, ``columns`` wide, NO_COLOR, with trailing spaces trimmed
    from each line."""
    out, _ = render(view, doc, monkeypatch, columns)
    return "\n".join(line.rstrip() for line in out.split("\n"))
