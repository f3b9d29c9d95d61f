"""What a load run measures: one ``RequestRecord`` per request and the ``Recorder`` that folds them
into HDR histograms (``hdrhistogram``, the Python port of Gil Tene's HdrHistogram) and counters.

Histograms record microseconds (integers, 0 to 1 h, 3 significant digits: a value is reported
within 0.1 % of what was recorded); every figure in reports is in **seconds**. Histograms encode to
HdrHistogram's compressed base64 form (``V2`` encoding), so reports from several runs merge exactly
(``Recorder.merge``): counts add, percentiles are those of the union.

Metric names (``METRICS``): ``latency`` (every answered request: from its *intended* send time in the
open model, from its actual start in the closed one), ``lag`` (schedule lag: actual start minus
intended start), ``ttfe`` (time to first event), ``ttfa`` (time to first artifact event),
``terminal`` (time to a terminal or interrupted task state), ``gap`` (every gap between two events of
one stream); the handshake scenario adds ``phase.<name>`` for each ``handshake probe`` phase.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from a2actl.core.phases import PHASES
from a2actl.protocol.versions import FAILED_STATES  # re-exported: the states of ``task-failed``

#: The histograms every run has (``phase.*`` are added by the handshake scenario).
METRICS = ("latency", "lag", "ttfe", "ttfa", "terminal", "gap")
#: Percentiles reported for every metric, in order: name → percentile.
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p99.9", 99.9))
_LOWEST_US, _HIGHEST_US, _DIGITS = 1, 3_600_000_000, 3
#: The most bytes one encoded histogram may inflate to when a report is merged. Ours inflate to at
#: most ~0.2 MB (23,552 counters of at most 9 bytes; runs of empty buckets take one), a finer one
#: (4 significant digits) to ~3.4 MB; hdrhistogram inflates the whole payload at once, so a small
#: report could hold a "zip bomb" of gigabytes.
_MAX_INFLATED = 8 * 1024 * 1024
_PHASE_ORDER = {f"phase.{name}": i for i, name in enumerate(PHASES)}

#: ``RequestRecord.status`` values. ``task-failed``: the agent answered, and the task ended
#: ``failed``, ``rejected`` or ``canceled`` (not a transport error, not a success either).
STATUSES = ("ok", "task-failed", "a2a-error", "http-error", "transport-error", "dropped")


def new_histogram() -> HdrHistogram:
    """An empty histogram of microseconds, 1 µs to 1 h, 3 significant digits."""
    return HdrHistogram(_LOWEST_US, _HIGHEST_US, _DIGITS)


def _filled(hist: HdrHistogram) -> list[tuple[int, int]]:
    """``(index, count)`` of the histogram's non-empty buckets, in value order."""
    return [(i, c) for i, c in enumerate(hist.counts[: hist.counts_len]) if c]


def _us(seconds: float) -> int:
    return min(_HIGHEST_US, max(0, int(seconds * 1_000_000 + 0.5)))  # 0 is its own bucket


def _index(hist: HdrHistogram, value: int) -> int:
    """The index of ``value``'s bucket in ``hist.counts``: hdrhistogram's ``_counts_index_for``
    (bucket = the power of two above the value, then the sub-bucket), from the histogram's own
    parameters."""
    unit: int = hist.unit_magnitude
    half_mag: int = hist.sub_bucket_half_count_magnitude
    half: int = hist.sub_bucket_half_count
    mask: int = hist.sub_bucket_mask
    bucket = (value | mask).bit_length() - unit - half_mag - 1
    return ((bucket + 1) << half_mag) + (value >> (bucket + unit)) - half


def _record_us(hist: HdrHistogram, value: int) -> None:
    """``hist.record_value(value)`` for a value the histogram holds (0 to its highest trackable
    value, as ``_us`` gives): the same bucket (hdrhistogram's own index arithmetic, from the
    histogram's own parameters), count, total, min and max, without the six Python calls per value
    hdrhistogram makes (~4 us; two values per request in the open model). Tested against
    ``record_value`` (tests/unit/load/test_metrics.py)."""
    hist.counts[_index(hist, value)] += 1
    hist.total_count += 1
    if value < hist.min_value:
        hist.min_value = value
    if value > hist.max_value:
        hist.max_value = value


@dataclass
class RequestRecord:
    """One request of a load run. Times are seconds: ``scheduled`` since the run started (the
    intended send time), ``lag`` how late it actually started, the others since the request's base
    (intended time in the open model, actual start in the closed one; ``lag`` is ``None`` in the
    closed model, which has no schedule). ``status`` is one of
    ``STATUSES``; ``code`` says more: the A2A error (``"TaskNotFoundError -32001"``), the HTTP
    status (``"503"``), the transport error class (``"timeout"``, ``"unreachable"`` …) or the
    failed task's state. ``state`` is the task's last state (canonical), ``events``/``bytes`` what
    a stream delivered, ``gaps`` the gaps between its events, ``phases`` the handshake phases."""

    seq: int
    scheduled: float
    lag: float | None = None
    latency: float | None = None
    status: str = "ok"
    code: str | None = None
    message: str | None = None
    state: str | None = None
    ttfe: float | None = None
    ttfa: float | None = None
    terminal: float | None = None
    events: int = 0
    bytes: int = 0
    gaps: list[float] = field(default_factory=list)
    phases: dict[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``-o jsonl`` record (one per request; ``docs/load.md``): seconds as floats, ``null``
        where a figure does not apply; ``gapMax`` instead of every gap."""
        return {
            "seq": self.seq,
            "scheduled": round(self.scheduled, 6),
            "lag": None if self.lag is None else round(self.lag, 6),
            "latency": None if self.latency is None else round(self.latency, 6),
            "status": self.status,
            "code": self.code,
            "state": self.state,
            "ttfe": None if self.ttfe is None else round(self.ttfe, 6),
            "ttfa": None if self.ttfa is None else round(self.ttfa, 6),
            "terminal": None if self.terminal is None else round(self.terminal, 6),
            "events": self.events,
            "bytes": self.bytes,
            "gapMax": round(max(self.gaps), 6) if self.gaps else None,
            "phases": {k: round(v, 6) for k, v in self.phases.items()} if self.phases else None,
            "message": self.message,
        }


class Recorder:
    """Folds ``RequestRecord``s into histograms and counters (``add``), merges other recorders or
    reports (``merge``) and summarises (``stats``, ``to_json``). Not thread-safe; one per run."""

    def __init__(self) -> None:
        self.histograms: dict[str, HdrHistogram] = {name: new_histogram() for name in METRICS}
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[tuple[str, str]] = Counter()
        self.examples: dict[tuple[str, str], str] = {}
        self.states: Counter[str] = Counter()
        self.events = 0
        self.bytes = 0

    def _record(self, name: str, seconds: float) -> None:
        hist = self.histograms.get(name)
        if hist is None:
            hist = self.histograms[name] = new_histogram()
        value = int(seconds * 1_000_000 + 0.5)  # _us, inline: two per request
        if value < 0:
            value = 0
        elif value > _HIGHEST_US:
            value = _HIGHEST_US
        _record_us(hist, value)

    def add(self, rec: RequestRecord) -> None:
        """Count one request: its status, error class and code, task state, and every timing it has."""
        status = rec.status
        self.statuses[status] += 1
        if status == "dropped":
            return
        if status != "ok":
            key = (status, rec.code or "?")
            self.errors[key] += 1
            if rec.message and key not in self.examples:
                self.examples[key] = rec.message
        if rec.state:
            self.states[rec.state] += 1
        record = self._record
        if rec.lag is not None:
            record("lag", rec.lag)
        if rec.latency is not None:
            record("latency", rec.latency)
        if rec.ttfe is not None:
            record("ttfe", rec.ttfe)
        if rec.ttfa is not None:
            record("ttfa", rec.ttfa)
        if rec.terminal is not None:
            record("terminal", rec.terminal)
        for gap in rec.gaps:
            record("gap", gap)
        if rec.phases:
            for phase, value in rec.phases.items():
                record(f"phase.{phase}", value)
        self.events += rec.events
        self.bytes += rec.bytes

    @property
    def total(self) -> int:
        """Requests scheduled (sent or dropped)."""
        return sum(self.statuses.values())

    @property
    def answered(self) -> int:
        """Requests sent and finished (any status but ``dropped``)."""
        return self.total - self.statuses["dropped"]

    @property
    def failures(self) -> int:
        """Requests sent that did not end ``ok`` (task failures included)."""
        return self.answered - self.statuses["ok"]

    def names(self) -> list[str]:
        """Metric names with data: ``METRICS`` order, then ``phase.*`` in ``handshake probe``'s
        phase order (``a2actl.core.phases.PHASES``)."""
        have = [n for n, h in self.histograms.items() if h.get_total_count()]
        rest = sorted((n for n in have if n not in METRICS), key=lambda n: (_PHASE_ORDER.get(n, 99), n))
        return [n for n in METRICS if n in have] + rest

    def percentile(self, name: str, pct: float) -> float | None:
        """One percentile of metric ``name`` in seconds (``None`` without data), for the live
        progress line: hdrhistogram's ``get_value_at_percentile`` (the first bucket whose running
        count reaches the target; its highest equivalent value), with the running counts summed in C
        (``itertools.accumulate``) instead of a Python call per bucket: 1-5 ms → ~0.3 ms, twice a
        second on the event loop that keeps the open model's schedule."""
        hist = self.histograms.get(name)
        if hist is None or hist.get_total_count() == 0:
            return None
        target = hist.get_target_count_at_percentile(pct)
        end = min(hist.counts_len, _index(hist, hist.get_max_value()) + 1)  # nothing counted past the max
        index = bisect.bisect_left(list(itertools.accumulate(hist.counts[:end])), target)
        value = hist.get_value_from_index(min(index, end - 1))
        if pct:
            return float(hist.get_highest_equivalent_value(value)) / 1e6
        return float(hist.get_lowest_equivalent_value(value)) / 1e6

    def stats(self, name: str) -> dict[str, Any] | None:
        """``{"count", "min", "mean", "stddev", "p50" … "p99.9", "max"}`` of metric ``name`` in
        seconds, or ``None`` when nothing was recorded under it. Same values as hdrhistogram's own
        getters (percentiles: the highest value equivalent to the bucket; mean and stddev over
        bucket medians), in one pass over the non-empty buckets (its ``get_mean_value`` and
        ``get_stddev`` walk every value and took ~0.1-0.3 s each, which stalled the run)."""
        hist = self.histograms.get(name)
        if hist is None or hist.get_total_count() == 0:
            return None
        total = hist.get_total_count()
        filled = _filled(hist)
        medians = [(hist._hdr_median_equiv_value(hist.get_value_from_index(i)), c) for i, c in filled]
        mean = sum(v * c for v, c in medians) / total
        var = sum(c * (v - mean) ** 2 for v, c in medians) / total
        out: dict[str, Any] = {
            "count": total,
            "min": hist.get_min_value() / 1e6,
            "mean": mean / 1e6,
            "stddev": math.sqrt(var) / 1e6,
        }
        targets = [(label, hist.get_target_count_at_percentile(pct)) for label, pct in PERCENTILES]
        seen, t = 0, 0
        for i, c in filled:
            seen += c
            while t < len(targets) and seen >= targets[t][1]:
                out[targets[t][0]] = hist.get_highest_equivalent_value(hist.get_value_from_index(i)) / 1e6
                t += 1
        out["max"] = hist.get_max_value() / 1e6
        return {k: out[k] for k in ("count", "min", "mean", "stddev", *(p for p, _ in PERCENTILES), "max")}

    def buckets(self, name: str = "latency", count: int = 12) -> list[dict[str, Any]]:
        """Counts of metric ``name`` in ``count`` log-spaced buckets from its min to its max:
        ``[{"le": seconds, "count": n}, …]`` (the terminal histogram; empty when no data, one bucket
        when every value is the same to the histogram's precision)."""
        hist = self.histograms.get(name)
        if hist is None or hist.get_total_count() == 0:
            return []
        filled = _filled(hist)
        lo, hi = max(1, hist.get_min_value()), max(1, hist.get_max_value())
        if len(filled) == 1 or hi <= lo:  # one value (to 3 digits): one bucket, not 11 empty ones
            return [{"le": hi / 1e6, "count": hist.get_total_count()}]
        ratio = (hi / lo) ** (1 / count)
        edges = [lo * ratio ** (i + 1) for i in range(count)]
        edges[-1] = hi
        counts = [0] * count
        for i, c in filled:
            value = hist.get_value_from_index(i)
            idx = 0
            while idx < count - 1 and value > edges[idx]:
                idx += 1
            counts[idx] += c
        return [{"le": e / 1e6, "count": c} for e, c in zip(edges, counts, strict=True)]

    def encoded(self) -> dict[str, str]:
        """Every non-empty histogram in HdrHistogram's compressed base64 encoding, by metric name."""
        return {
            name: hist.encode().decode("ascii")
            for name, hist in sorted(self.histograms.items())
            if hist.get_total_count()
        }

    def counts_json(self) -> dict[str, Any]:
        """``{"statuses", "errors": [{"status", "code", "count", "example"}], "states", "events",
        "bytes"}``: the counters, errors sorted by count (largest first)."""
        return {
            "statuses": {s: self.statuses[s] for s in STATUSES if self.statuses[s]},
            "errors": [
                {"status": status, "code": code, "count": n, "example": self.examples.get((status, code))}
                for (status, code), n in sorted(self.errors.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "states": dict(sorted(self.states.items())),
            "events": self.events,
            "bytes": self.bytes,
        }

    def merge_json(self, counts: dict[str, Any], histograms: dict[str, str]) -> None:
        """Add a report's counters (``counts_json`` shape) and encoded histograms to this recorder.

        All or nothing: raises ``ValueError`` naming the histogram or counter when one does not
        decode (hdrhistogram raises its own ``HdrCookieException``/``HdrLengthException``,
        ``zlib.error``, ``IndexError``, ``OverflowError`` … on damaged input: all become
        ``ValueError``), holds values beyond 1 h, or inflates to more than ``_MAX_INFLATED`` bytes
        (a "zip bomb" in a report); the recorder is then unchanged."""
        decoded: list[tuple[str, HdrHistogram]] = []
        for name, text in _items(histograms, "histograms"):
            try:
                _check_inflated_size(text)  # before hdrhistogram inflates it all in memory
                other = HdrHistogram.decode(text.encode("ascii"))
                if other is None:
                    raise ValueError("nothing decoded")
                check = new_histogram()
                check.add(other)  # raises IndexError for values our histograms cannot hold
            except Exception as exc:  # noqa: BLE001 - hdrhistogram raises many unrelated types
                raise ValueError(f"histogram {name!r} does not decode ({type(exc).__name__}: {exc})") from exc
            decoded.append((str(name), check))
        try:
            statuses = Counter({str(k): read_count(v) for k, v in _items(counts.get("statuses"), "statuses")})
            unknown = set(statuses) - set(STATUSES)
            if unknown:
                raise ValueError(f"unknown status {sorted(unknown)[0]!r} (known: {', '.join(STATUSES)})")
            errors: Counter[tuple[str, str]] = Counter()
            examples: dict[tuple[str, str], str] = {}
            for err in counts.get("errors") or []:
                key = (str(err["status"]), str(err["code"]))
                errors[key] += read_count(err["count"])
                if err.get("example") and key not in examples:
                    examples[key] = str(err["example"])
            states = Counter({str(k): read_count(v) for k, v in _items(counts.get("states"), "states")})
            events, nbytes = read_count(counts.get("events") or 0), read_count(counts.get("bytes") or 0)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise ValueError(f"malformed counters ({type(exc).__name__}: {exc})") from exc
        self.statuses.update(statuses)
        self.errors.update(errors)
        for key, text in examples.items():
            self.examples.setdefault(key, text)
        self.states.update(states)
        self.events += events
        self.bytes += nbytes
        for name, other in decoded:
            hist = self.histograms.get(name)
            if hist is None:
                hist = self.histograms[name] = new_histogram()
            hist.add(other)


def read_count(value: Any) -> int:
    """A counter read from a report: an integer from 0 to 2**63 - 1; ``ValueError`` otherwise (a
    hand-edited report with ``-50`` or ``10**400`` must not become a table of nonsense)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ValueError(f"{repr(value)[:40]} is not a count (an integer from 0)")
    return value


def _check_inflated_size(text: str) -> None:
    """Raise ``ValueError`` when the encoded histogram ``text`` (base64 of an 8-byte header and a
    zlib payload) inflates to more than ``_MAX_INFLATED`` bytes, inflating at most that much; what
    does not decode at all is left to hdrhistogram's own checks."""
    import base64
    import binascii
    import zlib

    try:
        raw = base64.b64decode(text)
        inflater = zlib.decompressobj()
        inflater.decompress(raw[8:], _MAX_INFLATED)
    except (binascii.Error, zlib.error, ValueError, TypeError):
        return
    if inflater.unconsumed_tail:
        raise ValueError(f"its data inflates to more than {_MAX_INFLATED:,} bytes")


def _items(obj: Any, what: str) -> list[tuple[Any, Any]]:
    """The ``(key, value)`` pairs of a JSON object (``None`` is empty); ``ValueError`` otherwise."""
    if obj is None:
        return []
    if not isinstance(obj, dict):
        raise ValueError(f"{what} is not a JSON object")
    return list(obj.items())


def merge_recorders(recorders: Iterable[Recorder]) -> Recorder:
    """One recorder holding the union of ``recorders`` (exact: histogram counts add)."""
    out = Recorder()
    for rec in recorders:
        out.merge_json(rec.counts_json(), rec.encoded())
    return out


__all__ = [
    "FAILED_STATES",
    "METRICS",
    "PERCENTILES",
    "STATUSES",
    "Recorder",
    "RequestRecord",
    "merge_recorders",
    "new_histogram",
    "read_count",
]
