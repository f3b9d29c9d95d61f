"""``handshake probe --budget``: latency bounds on a metric's p99, and the verdict over the samples.

A budget bounds the p99 (``a2actl.core.stats.percentile``, linear interpolation) of one metric over
the successful samples, in seconds. A metric is a phase (``a2actl.core.phases.PHASES``), ``card``
(the card request's phases summed), ``total`` (every phase summed) or a curl name (the card
request's cumulative timing). A violated budget makes the probe exit 7 (``docs/exit-codes.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from a2actl.core.phases import CARD_PHASES, CURL_NAMES, PHASES, phase_label
from a2actl.core.stats import summarize
from a2actl.core.units import format_seconds

if TYPE_CHECKING:
    from a2actl.probe.report import Sample

#: Every metric a budget may bound.
METRICS: frozenset[str] = frozenset(PHASES) | {"card", "total"} | frozenset(CURL_NAMES)


@dataclass(frozen=True)
class Budget:
    """A latency bound on a metric's p99: ``limit`` in seconds. ``metric`` is a phase, ``card``
    (the whole card fetch), ``total`` or a curl name (cumulative, card request)."""

    metric: str
    limit: float

    def to_json(self) -> dict[str, Any]:
        """``{"metric", "limit"}`` (seconds)."""
        return {"metric": self.metric, "limit": self.limit}


def parse_budgets(specs: Sequence[str]) -> list[Budget]:
    """Parse ``--budget`` values: ``5s`` (total), ``rpc=2s``, ``ttfb=300ms,rpc=1s`` (durations as
    ``a2actl.core.units.parse_duration`` reads them). Empty items are skipped.

    Raises ``ValueError`` naming the bad item (the CLI turns it into a usage error, exit 2).
    """
    from a2actl.core.units import parse_duration

    out: list[Budget] = []
    for spec in specs:
        for item in (s.strip() for s in spec.split(",")):
            if not item:
                continue
            name, sep, value = item.partition("=")
            metric, raw = (name.strip(), value) if sep else ("total", item)
            if metric not in METRICS:
                raise ValueError(f"unknown budget phase {metric!r}; use one of: {', '.join(sorted(METRICS))}")
            out.append(Budget(metric, parse_duration(raw)))
    return out


@dataclass(frozen=True)
class BudgetViolation:
    """A budget whose metric's p99 (seconds) is over its ``limit``, or (``p99`` ``None``) whose
    metric no successful sample measured, so the budget could not be checked. ``culprit`` is the
    phase with the largest p99 among the metric's parts (the metric itself for a single phase, or
    when no part was measured) and ``culprit_p99`` its p99 (``None`` when it has no statistics,
    e.g. a curl name); ``message`` says both in words."""

    metric: str
    p99: float | None
    limit: float
    culprit: str
    culprit_p99: float | None
    message: str

    def to_json(self) -> dict[str, Any]:
        """``{"metric", "p99", "limit", "culprit", "culpritP99", "message"}`` (seconds)."""
        return {
            "metric": self.metric,
            "p99": self.p99,
            "limit": self.limit,
            "culprit": self.culprit,
            "culpritP99": self.culprit_p99,
            "message": self.message,
        }


@dataclass(frozen=True)
class BudgetVerdict:
    """The budgets of a probe (``limits``, as given) and those its samples violated; ``checked``
    is false when there were limits but no successful sample to check them on."""

    limits: tuple[Budget, ...] = ()
    violations: list[BudgetViolation] = field(default_factory=list)
    checked: bool = True

    @property
    def ok(self) -> bool:
        """True when no budget is violated (also when there are no budgets, or none was checked:
        the exit code then comes from the failed samples)."""
        return not self.violations

    def to_json(self) -> dict[str, Any]:
        """``{"limits": [...], "violations": [...], "ok"}``: the probe document's ``budget``;
        ``ok`` is ``null`` when the limits were not checked (no sample succeeded): ``true`` there
        read as a budget met by a script that looks at it alone."""
        return {
            "limits": [b.to_json() for b in self.limits],
            "violations": [v.to_json() for v in self.violations],
            "ok": self.ok if self.checked else None,
        }


#: Why a metric may go unmeasured in every sample: the option that measures it.
_UNMEASURED_WHY = {
    "first_event": " (it is measured with --send)",
    "terminal": " (it is measured with --send)",
    "session": " (it is measured with --handshake-path)",
    "grpc_dns": " (it is measured over gRPC: --binding GRPC)",
    "grpc_ready": " (it is measured over gRPC: --binding GRPC)",
}


def _parts(metric: str, stats: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The phases whose sum (or, for a curl name, whose overlap) makes ``metric``."""
    if metric == "card":
        return CARD_PHASES
    if metric == "total" or metric in CURL_NAMES:
        return tuple(p for p in PHASES if p in stats)
    return (metric,)


def check_budgets(
    budgets: Sequence[Budget],
    ok_samples: Sequence[Sample],
    stats: Mapping[str, Mapping[str, Any]],
) -> list[BudgetViolation]:
    """The budgets whose metric's p99 over ``ok_samples`` is over the limit, in ``budgets`` order.

    ``stats`` is the probe's per-phase summary (``a2actl.probe.report.phase_stats``), used to name
    the culprit. No successful sample: nothing is violated (the failures decide the exit). A
    metric that no successful sample measured (``first_event`` without ``--send``, ``session``
    without a handshake path, a gRPC phase over HTTP) is a violation with ``p99`` ``None``: a budget
    that cannot be checked must not pass a CI gate in silence.
    """
    if not ok_samples:
        return []
    out: list[BudgetViolation] = []
    for b in budgets:
        vals = sorted(v for v in (s.metric(b.metric) for s in ok_samples) if v is not None)
        if not vals:
            out.append(
                BudgetViolation(
                    metric=b.metric,
                    p99=None,
                    limit=b.limit,
                    culprit=b.metric,
                    culprit_p99=None,
                    message=f"{phase_label(b.metric)} was not measured in any of the {len(ok_samples)} "
                    f"successful samples{_UNMEASURED_WHY.get(b.metric, '')}: the "
                    f"{format_seconds(b.limit)} budget cannot be checked",
                )
            )
            continue
        p99 = summarize(vals)["p99"]
        if p99 <= b.limit:
            continue
        culprit = max(
            (p for p in _parts(b.metric, stats) if p in stats and stats[p]["p99"] is not None),
            key=lambda p: stats[p]["p99"],
            default=b.metric,
        )
        culprit_p99 = stats.get(culprit, {}).get("p99")
        out.append(
            BudgetViolation(
                metric=b.metric,
                p99=p99,
                limit=b.limit,
                culprit=culprit,
                culprit_p99=culprit_p99,
                message=f"{phase_label(b.metric)} p99 {format_seconds(p99)} is over the "
                f"{format_seconds(b.limit)} budget; {phase_label(culprit)} used "
                f"{format_seconds(culprit_p99)} of it",
            )
        )
    return out
