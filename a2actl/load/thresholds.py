"""Pass/fail criteria for a load run, in the style of k6's thresholds (``--threshold 'p99<1s'``).

Grammar: ``[METRIC.]STAT OP VALUE`` or ``RATE OP VALUE``.

* timing metrics (``a2actl.load.metrics.METRICS`` plus ``phase.<name>``): ``latency`` (the default
  when only a STAT is given: ``p99<1s``), ``ttfe``, ``ttfa``, ``terminal``, ``gap``, ``lag``;
  STAT is ``p50``/``p90``/``p95``/``p99``/``p99.9`` (or k6's ``p(99)``), ``min``, ``max``,
  ``mean``/``avg``, ``med``; VALUE is a duration (``300ms``, ``1.5s``; a bare number means
  milliseconds, as in k6), its unit in lower case (``us``/``µs``, ``ms``, ``s``, ``m``, ``h``):
  ``1S`` is a usage error naming the units, as Go's and k6's durations refuse it.
* rates: ``errors`` (requests that did not end ``ok``, task failures included) and ``failed`` (tasks
  that ended failed/rejected/canceled), each over the requests answered (cancelled and dropped ones
  are no answers), and ``dropped`` (arrivals the ``--max-in-flight`` cap dropped) over the requests
  scheduled (``report.rates_of``), VALUE a percentage (``1%``) or a fraction (``0.01``); ``rps``
  (answered requests per second achieved), VALUE a number.
* OP: ``<``, ``<=``, ``>``, ``>=``.

A threshold over a metric with no data fails ("no samples"): a criterion that cannot be checked is
not passed. A timing metric the run cannot record at all (a typo such as ``phase.tcp_conect``,
``ttfe`` on ``-s send``, ``lag`` in the closed model) is a usage error before the run
(``check_metrics``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from a2actl.core.errors import UsageError
from a2actl.core.units import parse_duration

_RATES = ("errors", "failed", "dropped", "rps")
_STATS = {
    "min": "min",
    "max": "max",
    "mean": "mean",
    "avg": "mean",
    "med": "p50",
    "p50": "p50",
    "p90": "p90",
    "p95": "p95",
    "p99": "p99",
    "p99.9": "p99.9",
}
#: The timing metrics only the ``stream`` scenario records.
STREAM_TIMINGS = ("ttfe", "ttfa", "terminal", "gap")
_TIMINGS = ("latency", *STREAM_TIMINGS, "lag")
_OPS = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}
_METRIC_STAT = re.compile(r"^(?:(.+?)\.)?(p\d+(?:\.\d+)?|min|max|mean|avg|med)$")
#: A bare number (milliseconds, as in k6): ``50``, ``1.5``, ``.5``.
_BARE = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_SYNTAX = re.compile(r"^\s*([A-Za-z][\w.()]*?)\s*(<=|>=|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Threshold:
    """One criterion: ``metric`` (a timing metric or a rate name), ``stat`` (for timings; ``None``
    for rates), ``op`` and ``limit`` (seconds for timings, a fraction for rates, req/s for
    ``rps``); ``text`` as the operator wrote it."""

    text: str
    metric: str
    stat: str | None
    op: str
    limit: float

    def holds(self, actual: float) -> bool:
        """Whether ``actual`` (same unit as ``limit``) meets the criterion."""
        return bool(_OPS[self.op](float(actual), self.limit))


def parse_threshold(text: str) -> Threshold:
    """Parse one ``--threshold`` value. Raises ``UsageError`` (exit 2) naming the text and what is
    wrong with it."""
    m = _SYNTAX.match(text)
    if not m:
        raise UsageError(
            f"--threshold {text!r}: expected [METRIC.]STAT OP VALUE, e.g. 'p99<1s', 'ttfe.p95<300ms', "
            "'errors<1%'"
        )
    name, op, value = m.group(1).lower(), m.group(2), m.group(3)
    name = re.sub(r"p\((\d+(?:\.\d+)?)\)", r"p\1", name)  # k6's p(99)
    if name in _RATES:
        return Threshold(text, name, None, op, _rate_value(text, name, value))
    split = _METRIC_STAT.match(name)
    if split is None:
        raise UsageError(
            f"--threshold {text!r}: {name!r} names no statistic; use [METRIC.]STAT with STAT one of "
            f"{', '.join(_STATS)} (or a rate: {', '.join(_RATES)})"
        )
    metric, stat = split.group(1) or "latency", split.group(2)
    if stat not in _STATS:
        raise UsageError(
            f"--threshold {text!r}: unknown statistic {stat!r}; use one of {', '.join(_STATS)} "
            f"(or a rate: {', '.join(_RATES)})"
        )
    if metric not in _TIMINGS and not metric.startswith("phase."):
        raise UsageError(
            f"--threshold {text!r}: unknown metric {metric!r}; use {', '.join(_TIMINGS)} or phase.NAME"
        )
    try:
        limit = float(value) / 1000.0 if _BARE.fullmatch(value) else parse_duration(value)
    except ValueError as exc:
        raise UsageError(
            f"--threshold {text!r}: {value!r} is not a duration: a number and one of the units "
            f"{_UNITS} (lower case), or a bare number of milliseconds",
            hint=_unit_hint(text, value),
        ) from exc
    if not math.isfinite(limit):  # 400 nines: a limit nothing is below
        raise UsageError(f"--threshold {text!r}: {value[:40]!r} is too large")
    return Threshold(text, metric, _STATS[stat], op, limit)


#: The duration units a timing threshold takes (``core.units.parse_duration``'s, case-sensitive as
#: Go's and k6's durations are: ``M`` would read as mega, ``m`` is minutes).
_UNITS = "us (or µs), ms, s, m (minutes), h"


def _unit_hint(text: str, value: str) -> str | None:
    """A hint for a duration refused for its unit's case (``1S``, ``300MS``): the threshold with the
    unit in lower case, when that reads; ``None`` otherwise. Units are not folded silently: ``1M``
    is not ``1m`` (minutes) to an operator who meant mega or milli."""
    lower = value.lower()
    if lower == value or value.endswith("M"):  # 1M: minutes (m)? milli? mega? not guessed
        return None
    try:
        parse_duration(lower)
    except ValueError:
        return None
    return f"units are lower case: {text.replace(value, lower)!r}"


def _rate_value(text: str, name: str, value: str) -> float:
    """The limit of a rate threshold: req/s for ``rps``, else a fraction from ``1%`` or ``0.01``.
    Raises ``UsageError`` (exit 2) for anything that is not a finite number, a negative one, or a
    fraction above 1 (100 %)."""
    what = (
        "number of requests per second (40, 40/s)" if name == "rps" else "percentage (1%) or fraction (0.01)"
    )
    percent = name != "rps" and value.endswith("%")
    raw = value.removesuffix("/s") if name == "rps" else value.removesuffix("%")
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise UsageError(f"--threshold {text!r}: {value!r} is not a {what}")
    if number < 0:
        raise UsageError(f"--threshold {text!r}: {value!r} is negative; a rate is not negative")
    if name == "rps":
        return number
    if percent:
        if number > 100:
            raise UsageError(f"--threshold {text!r}: a percentage is at most 100%")
        return number / 100.0
    if number > 1:
        raise UsageError(f"--threshold {text!r}: a fraction is at most 1; write percentages with %")
    return number


def threshold_key(t: Threshold) -> tuple[str, str | None, str, float]:
    """What makes two thresholds the same criterion however written (``p99<0.7s``, ``p99<700ms``):
    metric, statistic, operator and the limit to 12 significant digits (``700ms`` reads as
    0.7000000000000001 s)."""
    return (t.metric, t.stat, t.op, float(f"{t.limit:.12g}"))


def parse_thresholds(texts: list[str] | None) -> tuple[Threshold, ...]:
    """Parse every ``--threshold``, once each: a repeated one (``threshold_key``) is judged and
    listed once, as ``load report`` lists a merge's. Raises ``UsageError`` (exit 2) at the first bad
    one."""
    out: dict[tuple[str, str | None, str, float], Threshold] = {}
    for text in texts or ():
        t = parse_threshold(text)
        out.setdefault(threshold_key(t), t)
    return tuple(out.values())


def check_metrics(thresholds: tuple[Threshold, ...], known: tuple[str, ...], where: str) -> None:
    """Raise ``UsageError`` (exit 2) for the first threshold on a timing metric that is not in
    ``known`` (the metrics ``where``, e.g. ``-s send``, can record: a typo such as
    ``phase.tcp_conect``, or ``ttfe`` on a scenario without streams), naming its text and the
    valid names, before any load is sent: it could only ever fail with "no samples"."""
    for t in thresholds:
        if t.stat is None or t.metric in known:
            continue
        hint = None
        if t.metric == "lag":
            hint = "lag (schedule lag) is the open model's: use --rate instead of -c"
        elif t.metric in STREAM_TIMINGS:
            hint = "ttfe, ttfa, terminal and gap are the stream scenario's: use -s stream"
        elif not any(name.startswith("phase.") for name in known):
            hint = "phase.NAME metrics are the handshake scenario's: use -s handshake"
        raise UsageError(
            f"--threshold {t.text!r}: {where} records no metric {t.metric!r}; use one of "
            f"{', '.join(known)} (or a rate: {', '.join(_RATES)})",
            hint=hint,
        )


#: The ``handshake`` phases timed on a gRPC interface only (``--binding GRPC``).
GRPC_PHASES = ("phase.grpc_dns", "phase.grpc_ready")


def check_binding(thresholds: tuple[Threshold, ...], bindings: set[str] | None, where: str) -> None:
    """Raise ``UsageError`` (exit 2) for the first threshold on a gRPC phase (``GRPC_PHASES``) when
    the run's binding is known and is not gRPC: ``bindings`` the protocol bindings of the run (or
    of the merged runs; ``None`` when not known before the run, ``--binding auto``), ``where`` how
    the message names them (``--binding JSONRPC``). Such a threshold could only fail with "no
    samples" (exit 7) after the whole load was sent."""
    if bindings is None or "GRPC" in bindings:
        return
    for t in thresholds:
        if t.stat is not None and t.metric in GRPC_PHASES:
            raise UsageError(
                f"--threshold {t.text!r}: {t.metric} is timed on a gRPC interface only, and {where}",
                hint="run with --binding GRPC (pip install 'a2actl[grpc]'), or time phase.rpc",
            )


@dataclass(frozen=True)
class ThresholdResult:
    """A threshold checked against a report: ``actual`` in the threshold's unit (``None``: no
    samples), ``ok`` whether it held."""

    threshold: Threshold
    actual: float | None
    ok: bool

    def to_json(self) -> dict[str, Any]:
        """``{"threshold", "metric", "stat", "op", "limit", "actual", "ok"}`` (seconds for timings,
        fractions for rates, req/s for ``rps``)."""
        t = self.threshold
        return {
            "threshold": t.text,
            "metric": t.metric,
            "stat": t.stat,
            "op": t.op,
            "limit": t.limit,
            "actual": self.actual,
            "ok": self.ok,
        }


def evaluate(
    thresholds: tuple[Threshold, ...], stats: dict[str, dict[str, Any] | None], rates: dict[str, float | None]
) -> list[ThresholdResult]:
    """Check each threshold against ``stats`` (metric → ``Recorder.stats`` dict, seconds) and
    ``rates`` (``errors``/``failed``/``dropped`` fractions, ``rps``; ``None`` when undefined)."""
    out = []
    for t in thresholds:
        actual: float | None
        if t.stat is None:
            actual = rates.get(t.metric)
        else:
            metric_stats = stats.get(t.metric)
            actual = None if metric_stats is None else float(metric_stats[t.stat])
        out.append(ThresholdResult(t, actual, actual is not None and t.holds(actual)))
    return out


__all__ = [
    "GRPC_PHASES",
    "STREAM_TIMINGS",
    "Threshold",
    "ThresholdResult",
    "check_binding",
    "check_metrics",
    "evaluate",
    "parse_threshold",
    "parse_thresholds",
    "threshold_key",
]
