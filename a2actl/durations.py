"""Parsing and formatting of durations (seconds as floats)."""

from __future__ import annotations

import re

_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|µs|ms|s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """``"5s"``, ``"250ms"``, ``"1.5"`` (seconds), ``"2m"`` → seconds. Raises ``ValueError``."""
    m = _RE.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (examples: 5s, 250ms, 1.5, 2m)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def format_seconds(seconds: float | None) -> str:
    """Human form: ``812µs``, ``41.2ms``, ``2.40s``; ``-`` for ``None``."""
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f}µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f}ms"
    return f"{seconds:.2f}s"
