"""``ServiceTime``: the ``--service-time DIST`` grammar and its samples (seconds, never negative)."""

from __future__ import annotations

import random
import statistics

import pytest

from a2actl.server.sandbox.options import ServiceTime


@pytest.mark.parametrize(
    ("text", "kind", "a", "b"),
    [
        ("50ms", "const", 0.05, 0.0),
        ("1.5", "const", 1.5, 0.0),
        ("exp:50ms", "exp", 0.05, 0.0),
        ("uniform:10ms-90ms", "uniform", 0.01, 0.09),
        ("uniform:1s-1s", "uniform", 1.0, 1.0),
        ("normal:50ms,10ms", "normal", 0.05, 0.01),
    ],
)
def test_parse(text: str, kind: str, a: float, b: float) -> None:
    dist = ServiceTime.parse(text)
    assert (dist.kind, dist.text) == (kind, text)
    assert dist.a == pytest.approx(a) and dist.b == pytest.approx(b)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "fast",
        "exp:",
        "exp:-5ms",
        "gamma:50ms",
        "uniform:90ms-10ms",
        "uniform:10ms",
        "normal:50ms",
        "50 parsecs",
    ],
)
def test_parse_rejects_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError) as info:
        ServiceTime.parse(text)
    assert repr(text) in str(info.value)
    assert "exp:50ms" in str(info.value)  # the examples


def test_constant_is_constant() -> None:
    rng = random.Random(1)
    assert {ServiceTime.parse("50ms").sample(rng) for _ in range(10)} == {0.05}


def test_exponential_mean_and_spread() -> None:
    rng = random.Random(7)
    samples = [ServiceTime.parse("exp:50ms").sample(rng) for _ in range(4000)]
    assert statistics.fmean(samples) == pytest.approx(0.05, rel=0.1)
    assert min(samples) >= 0 and max(samples) > 0.15  # a tail, unlike a constant
    assert ServiceTime.parse("exp:0").sample(rng) == 0.0


def test_uniform_stays_in_range() -> None:
    rng = random.Random(7)
    samples = [ServiceTime.parse("uniform:10ms-90ms").sample(rng) for _ in range(2000)]
    assert 0.01 <= min(samples) < 0.02 and 0.08 < max(samples) <= 0.09
    assert statistics.fmean(samples) == pytest.approx(0.05, rel=0.1)


def test_normal_is_clamped_at_zero() -> None:
    rng = random.Random(7)
    samples = [ServiceTime.parse("normal:10ms,20ms").sample(rng) for _ in range(2000)]
    assert min(samples) == 0.0  # about 30 % fall below 0 and are clamped
    assert 0.3 < sum(s == 0.0 for s in samples) / len(samples) < 0.4


def test_mean() -> None:
    assert ServiceTime.parse("uniform:10ms-90ms").mean == pytest.approx(0.05)
    assert ServiceTime.parse("normal:50ms,10ms").mean == pytest.approx(0.05)
