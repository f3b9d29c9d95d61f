"""``a2actl.core.units``: durations (seconds) and sizes (bytes) parsed and formatted."""

from __future__ import annotations

import pytest

from a2actl.core.units import (
    format_bytes,
    format_seconds,
    format_timestamp,
    parse_duration,
    parse_size,
    parse_timestamp,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5s", 5.0),
        ("250ms", 0.25),
        ("1.5", 1.5),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("500us", 5e-4),
        (" .5 s ", 0.5),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "-1s", "s", "1 2", "9" * 400, "9" * 400 + "h"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1000", 1000),
        ("4MiB", 4 * 1024**2),
        ("512KiB", 512 * 1024),
        ("1MB", 10**6),
        ("1.5k", 1500),
        ("2 GiB", 2 * 1024**3),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "4XB", "-1", "MiB"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0.000812, "812µs"),
        (0.0412, "41.2ms"),
        (2.4, "2.40s"),
        (0.0, "0µs"),
        (0.0009994, "999µs"),
        (0.0009996, "1.0ms"),  # it was "1000µs": the unit chosen before rounding
        (0.99994, "999.9ms"),
        (0.99996, "1.00s"),  # it was "1000.0ms"
        (float("nan"), "nan"),  # round() raises on these: a traceback in a table
        (float("inf"), "inf"),
    ],
)
def test_format_seconds(seconds: float | None, text: str) -> None:
    assert format_seconds(seconds) == text


@pytest.mark.parametrize(
    ("n", "text"), [(None, "-"), (512, "512 B"), (4096, "4.0 KiB"), (5 * 1024**2, "5.00 MiB")]
)
def test_format_bytes(n: int | None, text: str) -> None:
    assert format_bytes(n) == text


def test_timestamps_round_trip_in_utc_with_milliseconds() -> None:
    assert format_timestamp(1_795_000_000.5) == "2026-11-18T11:06:40.500Z"
    assert parse_timestamp("2026-11-18T11:06:40.500Z") == 1_795_000_000.5
    assert parse_timestamp("2026-11-18T12:06:40.500+01:00") == 1_795_000_000.5
    assert parse_timestamp("yesterday") is None and parse_timestamp(5) is None
