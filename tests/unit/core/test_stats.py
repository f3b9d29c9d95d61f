"""a2actl.core.stats.LogHistogram: quantiles within one bucket, zero samples exactly zero."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from a2actl.core.stats import LogHistogram


def test_zero_samples_have_a_zero_quantile_not_the_floor() -> None:
    """A gap of 0 (``stream tail``: events of one network read) is counted as 0, not as the 1 µs
    floor; a sample in (0, floor] still reads as the floor."""
    h = LogHistogram()
    for _ in range(90):
        h.add(0.0)
    for _ in range(10):
        h.add(0.5)
    assert h.quantile(50) == 0.0
    assert h.quantile(90) == 0.0
    assert math.isclose(h.quantile(99) or 0.0, 0.5, rel_tol=0.025)
    assert h.count == 100 and h.max == 0.5
    tiny = LogHistogram()
    tiny.add(5e-7)
    assert tiny.quantile(50) == 5e-7  # the floor's bucket, capped by the exact max
    tiny.add(1e-3)
    assert tiny.quantile(50) == 1e-6


@given(st.lists(st.floats(min_value=0.0, max_value=1e4), min_size=1, max_size=200), st.floats(1, 100))
def test_a_quantile_is_within_one_bucket_of_the_exact_one(samples: list[float], q: float) -> None:
    h = LogHistogram()
    for s in samples:
        h.add(s)
    exact = sorted(samples)[max(1, math.ceil(len(samples) * q / 100.0)) - 1]
    got = h.quantile(q)
    assert got is not None
    if exact == 0.0:
        assert got == 0.0
    elif exact <= h.floor:
        assert got <= h.floor
    else:
        assert exact <= got * (1 + 1e-9) <= exact * 10 ** (1 / h.per_decade) * (1 + 1e-9)
