"""Parsing and formatting of durations (seconds as floats)."""

from __future__ import annotations

import math
import re

_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|µs|ms|s|m|h)?\s*$")


def parse_duration(text: str) -> float:
    """``"5s"``, ``"250ms"``, ``"1.5"`` (seconds), ``"2m"`` → seconds, finite. Raises ``ValueError``,
    also for a number too large for a float (400 nines): infinity, which the timeouts it sets could
    not convert (``fleet probe --timeout 99…9``: every agent failed 'unexpected OverflowError')."""
    m = _RE.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (examples: 5s, 250ms, 1.5, 2m)")
    seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if math.isinf(seconds):
        raise ValueError(f"not a duration: {text[:40]!r}… is too large")
    return seconds


def format_seconds(seconds: float | None, extra: int = 0) -> str:
    """Human form: ``812µs``, ``41.2ms``, ``2.40s``; ``-`` for ``None``. The unit is chosen after
    rounding: 999.7 µs is ``1.0ms`` and 999.97 ms ``1.00s`` (they were ``1000µs`` and
    ``1000.0ms``); ``nan``/``inf``/``-inf`` as such (``round`` raises on them). ``extra``: that
    many more decimal digits in the same unit (histogram labels that must differ)."""
    if seconds is None:
        return "-"
    if not math.isfinite(seconds):
        return str(seconds)
    if round(seconds * 1e6) < 1000:
        return f"{seconds * 1e6:.{extra}f}µs"
    if round(seconds * 1e3, 1) < 1000:
        return f"{seconds * 1e3:.{1 + extra}f}ms"
    return f"{seconds:.{2 + extra}f}s"


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """``"4MiB"``, ``"512KiB"``, ``"1MB"``, ``"1000"`` → bytes (IEC units are powers of 1024, SI of
    1000). Raises ``ValueError``."""
    m = _SIZE_RE.match(text)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (examples: 4MiB, 512KiB, 1MB, 1000)")
    return int(float(m.group(1)) * _SIZE_UNITS[unit])


def format_bytes(n: int | None) -> str:
    """Human form: ``512 B``, ``4.0 KiB``, ``5.00 MiB``; ``-`` for ``None``."""
    if n is None:
        return "-"
    if n < 1024:
        return f"{n} B"
    if n < 1024**2:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024**2:.2f} MiB"


def format_timestamp(ts: float) -> str:
    """Epoch seconds → ISO 8601 UTC with milliseconds and ``Z`` (``2026-11-22T04:30:01.695Z``)."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: object) -> float | None:
    """ISO 8601 (``Z`` or an offset) → epoch seconds; ``None`` when it is not one."""
    from datetime import datetime

    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
