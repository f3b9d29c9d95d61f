"""Percentiles and histograms over samples (seconds)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (``q`` in [0, 100]) of an already sorted, non-empty sequence
    (the same definition as NumPy's default and ``statistics.quantiles(method="inclusive")``)."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """``{"count", "min", "p50", "p90", "p99", "max", "mean"}`` in seconds (``count`` 0: all ``None``)."""
    if not values:
        return {"count": 0, "min": None, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    s = sorted(values)
    return {
        "count": len(s),
        "min": s[0],
        "p50": percentile(s, 50),
        "p90": percentile(s, 90),
        "p99": percentile(s, 99),
        "max": s[-1],
        "mean": sum(s) / len(s),
    }


def histogram(values: Sequence[float], buckets: int = 8) -> list[dict[str, float | int]]:
    """Equal-width buckets between min and max: ``[{"from": s, "to": s, "count": n}, ...]``."""
    if not values:
        return []
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        return [{"from": lo, "to": hi, "count": len(values)}]
    width = (hi - lo) / buckets
    counts = [0] * buckets
    for v in values:
        counts[min(int((v - lo) / width), buckets - 1)] += 1
    return [{"from": lo + i * width, "to": lo + (i + 1) * width, "count": c} for i, c in enumerate(counts)]


class LogHistogram:
    """Constant-memory quantiles of durations (seconds): counts in log-spaced buckets,
    ``per_decade`` per factor of 10 from 1 µs, so a quantile is exact to within one bucket
    (10**(1/per_decade) - 1, 2.3% with 100); a sample of 0 (or less) is counted in its own bucket
    (``ZERO``), whose quantile is exactly 0. ``max`` and ``count`` are exact. Used where samples are
    unbounded (``stream tail`` over millions of events)."""

    #: The bucket index of samples <= 0 (``stream tail``'s zero gaps: events of one network read).
    ZERO = -1

    def __init__(self, per_decade: int = 100, floor: float = 1e-6) -> None:
        self.per_decade = per_decade
        self.floor = floor
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.max: float | None = None

    def add(self, seconds: float) -> None:
        """Count one sample (seconds)."""
        if seconds <= 0:
            idx = self.ZERO
        elif seconds <= self.floor:
            idx = 0
        else:
            idx = int(math.log10(seconds / self.floor) * self.per_decade) + 1
        self.buckets[idx] = self.buckets.get(idx, 0) + 1
        self.count += 1
        self.max = seconds if self.max is None or seconds > self.max else self.max

    def quantile(self, q: float) -> float | None:
        """The upper edge of the bucket holding the ``q``-th percentile (``None`` when empty)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(self.count * q / 100.0))
        seen = 0
        for idx in sorted(self.buckets):
            seen += self.buckets[idx]
            if seen >= rank:
                edge = 0.0 if idx == self.ZERO else self.floor * 10 ** (idx / self.per_decade)
                return min(edge, self.max) if self.max is not None else edge
        return self.max
