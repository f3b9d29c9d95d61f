"""The exporter's Prometheus metrics (prometheus-client): what ``/probe`` answers for one probe, the
exporter's own metrics and the inventory's histograms behind ``/metrics``. Names follow the
Prometheus naming rules (base units: seconds; ``_total`` only on counters; ``_info`` gauges of value 1
carry text as labels); every metric is documented in docs/monitoring.md.

``/probe`` (a fresh ``CollectorRegistry`` per request, as blackbox_exporter builds one per probe):

* ``probe_success`` (0/1), ``probe_duration_seconds`` (the whole probe, wall clock);
* ``a2a_probe_phase_seconds{phase}``: each phase the probe timed (``a2actl.core.phases.PHASES``);
* ``a2a_probe_handshake_duration_seconds`` / ``a2a_probe_task_duration_seconds``: the handshake sum
  and the send check (what the inventory's histograms observe);
* ``a2a_probe_info{version,binding,declared_versions,card_shape} 1`` once negotiated;
* ``probe_failure_info{cause,error_code,phase} 1`` when the probe failed. Not ``a2a_errors_total``:
  a counter in a registry rebuilt per scrape would restart at 0 or 1 on every scrape, which
  ``rate()`` reads as a reset each time; ``_total`` is reserved for counters.

``/metrics``: process and Python collectors, ``a2actl_exporter_*`` (probes served, failures by
cause, rejected requests, probes in flight and waiting, inventory rounds) and, with an inventory, ``a2a_handshake_duration_seconds``,
``a2a_task_duration_seconds`` (histograms), ``a2a_errors_total{error_code}`` (counter), ``a2a_agent_up``
and ``a2a_agent_info`` per agent, labelled ``agent``, ``url`` and the inventory's labels.

Only the exporter command imports this module (it imports prometheus-client at module level).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import (  # noqa: TID253 - only `a2actl exporter`'s body imports this module
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.core import (  # noqa: TID253
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder  # noqa: TID253
from prometheus_client.registry import Collector  # noqa: TID253

from a2actl.core.errors import UsageError
from a2actl.core.phases import PHASES

if TYPE_CHECKING:
    from a2actl.exporter.probe import ProbeResult

#: ``a2a_handshake_duration_seconds`` buckets (seconds): fine below 100 ms for loopback and LAN
#: agents, 1 s itself (the seed's alert threshold) and a tail to 10 s (the default module timeout).
HANDSHAKE_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0,
)  # fmt: skip
#: ``a2a_task_duration_seconds`` buckets (seconds): a task of a real agent may take a minute.
TASK_BUCKETS: tuple[float, ...] = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Distinct ``error_code`` values of ``a2a_errors_total`` per inventory agent; its failures with
#: any further code are counted under ``error_code="other"``. An A2A code is whatever integer the
#: agent answers: one that answers a new one each time added a series per probe, for good (one per
#: ``--interval``: 2,880 a day at 30 s). 32 holds every code a2actl names (``refused``, ``timeout``,
#: ``http_503`` …) that one agent plausibly cycles through, and that agent's own codes.
MAX_ERROR_CODES = 32
#: Label names of the inventory metrics that an inventory's own labels may not take.
RESERVED_LABELS = frozenset(
    {"agent", "url", "error_code", "le", "version", "binding", "declared_versions", "quantile"}
)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def safe_url(url: str) -> str:
    """``url`` for a label: userinfo dropped, then every secret the process knows masked (credential
    query values are registered by ``a2actl.core.redact.register_url`` first)."""
    from a2actl.core.redact import Redactor, register_url

    register_url(url)
    try:
        p = urlsplit(url)
        netloc = p.netloc.rpartition("@")[2]
        url = urlunsplit((p.scheme, netloc, p.path, p.query, p.fragment))
    except ValueError:
        pass
    return Redactor()(url)


def encode(registry: Collector, accept: str | None) -> tuple[bytes, str]:
    """``registry`` in the exposition format the ``Accept`` header asks for (OpenMetrics when
    Prometheus offers it, else the text format): ``(body, content_type)``."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


class _ProbeCollector(Collector):
    """The families of one ``ProbeResult`` (``/probe``)."""

    def __init__(self, result: ProbeResult) -> None:
        self.result = result

    def collect(self) -> Iterator[Metric]:
        r = self.result
        yield GaugeMetricFamily(
            "probe_success", "Whether the A2A probe succeeded (1) or not (0).", value=1 if r.success else 0
        )
        yield GaugeMetricFamily(
            "probe_duration_seconds", "How long the whole probe took, in seconds.", value=r.duration
        )
        phases = GaugeMetricFamily(
            "a2a_probe_phase_seconds",
            "Duration of each handshake phase the probe timed, in seconds (dns, connect, tls, ttfb, "
            "transfer, parse, negotiate, rpc; first_event, terminal with the send check).",
            labels=["phase"],
        )
        for p in PHASES:
            if p in r.phases:
                phases.add_metric([p], r.phases[p])
        yield phases
        if r.handshake is not None:
            yield GaugeMetricFamily(
                "a2a_probe_handshake_duration_seconds",
                "The handshake (card, parse, negotiation, first RPC) in seconds.",
                value=r.handshake,
            )
        if r.task is not None:
            yield GaugeMetricFamily(
                "a2a_probe_task_duration_seconds",
                "The send check: SendMessage to the task's terminal state, in seconds.",
                value=r.task,
            )
        if r.version is not None:
            yield InfoMetricFamily(
                "a2a_probe",
                "What the agent's card declares and what the probe negotiated.",
                value={
                    "version": r.version,
                    "binding": r.binding or "",
                    "declared_versions": ",".join(r.declared_versions),
                    "card_shape": r.card_shape or "",
                },
            )
        if not r.success:
            yield InfoMetricFamily(
                "probe_failure",
                "Why the probe failed: cause, error code and the phase it broke in.",
                value={
                    "cause": r.cause or "error",
                    "error_code": r.error_code or "error",
                    "phase": r.failed_phase or "",
                },
            )


def probe_registry(result: ProbeResult) -> CollectorRegistry:
    """A fresh registry holding one probe's metrics (the body of a ``/probe`` answer)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProbeCollector(result))
    return registry


class ExporterMetrics:
    """The exporter's own registry (``/metrics``): process and Python collectors, build info, probes
    served by module and result, failures by module and cause, rejected ``/probe`` requests by
    reason, and the inventory loop's rounds. ``inventory`` holds the agents' metrics once
    ``add_inventory`` was called."""

    def __init__(self, version: str) -> None:
        from prometheus_client import (  # noqa: TID253
            GCCollector,
            PlatformCollector,
            ProcessCollector,
            disable_created_metrics,
        )

        # no `_created` series next to every counter and histogram series: Prometheus does not use
        # them from the text format, and per agent they would add one more series each
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        build = Gauge(
            "a2actl_exporter_build_info",
            "The a2actl version serving these metrics.",
            ["version"],
            registry=self.registry,
        )
        build.labels(version).set(1)
        self.probes = Counter(
            "a2actl_exporter_probes",
            "Probes answered on /probe, by module and result (success or failure).",
            ["module", "result"],
            registry=self.registry,
        )
        self.failures = Counter(
            "a2actl_exporter_probe_failures",
            "Failed /probe probes by module and cause (dns, refused, timeout, http-5xx, ...).",
            ["module", "cause"],
            registry=self.registry,
        )
        self.rejected = Counter(
            "a2actl_exporter_requests_rejected",
            "/probe requests answered without probing, by reason: 4xx for missing_target, "
            "bad_target, repeated_parameter, unknown_module, target_not_allowed; 503 for busy (no free --max-concurrent "
            "slot within the probe's deadline).",
            ["reason"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "a2actl_exporter_probes_in_flight",
            "/probe probes running now (at most a2actl_exporter_probes_max_concurrent).",
            registry=self.registry,
        )
        self.waiting = Gauge(
            "a2actl_exporter_probes_waiting",
            "/probe requests waiting for a free slot (--max-concurrent) now.",
            registry=self.registry,
        )
        self.max_concurrent = Gauge(
            "a2actl_exporter_probes_max_concurrent",
            "--max-concurrent: /probe probes that may run at once.",
            registry=self.registry,
        )
        self.inventory: InventoryMetrics | None = None

    def probed(self, module: str, result: ProbeResult) -> None:
        """Count one ``/probe`` probe."""
        self.probes.labels(module, "success" if result.success else "failure").inc()
        if not result.success:
            self.failures.labels(module, result.cause or "error").inc()

    def add_inventory(
        self, agents: Sequence[tuple[str, str, Mapping[str, str]]], *, sends: bool
    ) -> InventoryMetrics:
        """Register the inventory's metrics for ``agents`` (``(name, url, labels)`` each);
        ``sends``: whether the module runs the send check (``a2a_task_duration_seconds``)."""
        self.inventory = InventoryMetrics(self.registry, agents, sends=sends)
        return self.inventory


def label_names(agents: Sequence[tuple[str, str, Mapping[str, str]]]) -> list[str]:
    """The union of the inventory's label names, sorted. Raises ``UsageError`` (exit 2) naming the
    agent for a name Prometheus refuses (``[a-zA-Z_][a-zA-Z0-9_]*``, not ``__…``) or one the
    exporter's metrics use (``RESERVED_LABELS``)."""
    names: set[str] = set()
    for name, _, labels in agents:
        for key in labels:
            if not _LABEL_NAME.match(key) or key.startswith("__"):
                raise UsageError(
                    f"inventory agent {name!r}: label {key!r} is not a Prometheus label name",
                    hint="label names are [a-zA-Z_][a-zA-Z0-9_]* and do not start with __",
                )
            if key in RESERVED_LABELS:
                raise UsageError(
                    f"inventory agent {name!r}: label {key!r} is one the exporter sets itself",
                    hint=f"rename it; reserved: {', '.join(sorted(RESERVED_LABELS))}",
                )
            names.add(key)
    return sorted(names)


def series_labels(
    agents: Sequence[tuple[str, str, Mapping[str, str]]], source: str | None = None
) -> tuple[list[str], list[tuple[str, ...]]]:
    """The inventory metrics' label names (``agent``, ``url``, then ``label_names``) and each agent's
    values: ``agent`` its name (the URL's ``safe_url`` when the name is the URL, else the name with
    secrets masked), ``url`` its ``safe_url``, then its labels (empty when it has none of that name).
    Raises ``UsageError`` (exit 2) as ``label_names`` does, and naming both agents when two get the
    same values: URLs that differ only in their userinfo or a masked secret
    (``http://u:p@h`` and ``http://h``), whose series would merge (histograms) or repeat (Prometheus
    keeps one sample of a repeated series). ``source`` (the inventory's file) starts that message."""
    extra = label_names(agents)
    values: list[tuple[str, ...]] = []
    seen: dict[tuple[str, ...], int] = {}
    for i, (name, url, labels) in enumerate(agents):
        row = (
            safe_url(name) if name == url else _masked(name),
            safe_url(url),
            *(labels.get(k, "") for k in extra),
        )
        first = seen.setdefault(row, i)
        if first != i:
            raise UsageError(
                f"inventory {source + ': ' if source else ''}agents #{first + 1} and #{i + 1} get the same series labels "
                f"(agent={row[0]!r}, url={row[1]!r}) once userinfo and secrets are masked: their "
                "metrics would merge",
                hint="give them distinct names or labels (a YAML/JSON inventory's 'name' or 'labels')",
            )
        values.append(row)
    return ["agent", "url", *extra], values


class InventoryMetrics(Collector):
    """The inventory's metrics, labelled ``agent`` (the inventory name), ``url`` (userinfo dropped,
    secrets masked) and every inventory label (the union of all agents' label names; an agent
    without one has it empty, which Prometheus treats as absent): ``a2a_handshake_duration_seconds``
    and ``a2a_task_duration_seconds`` histograms, ``a2a_errors_total`` counter, and (this collector)
    ``a2a_agent_up`` / ``a2a_agent_info`` from each agent's last probe, absent before its first."""

    def __init__(
        self,
        registry: CollectorRegistry,
        agents: Sequence[tuple[str, str, Mapping[str, str]]],
        *,
        sends: bool,
    ) -> None:
        self.base, self.values = series_labels(agents)
        self.extra = self.base[2:]
        self.handshake = Histogram(
            "a2a_handshake_duration_seconds",
            "The A2A handshake of each inventory agent (card fetch on a new connection, parse, "
            "negotiation, first RPC), in seconds; successful handshakes only.",
            self.base,
            buckets=HANDSHAKE_BUCKETS,
            registry=registry,
        )
        self.task: Histogram | None = None
        if sends:
            self.task = Histogram(
                "a2a_task_duration_seconds",
                "The module's send check per inventory agent: SendMessage to the task's terminal "
                "state, in seconds.",
                self.base,
                buckets=TASK_BUCKETS,
                registry=registry,
            )
        self.errors = Counter(
            "a2a_errors",
            "Failed probes of each inventory agent by error_code (an A2A/JSON-RPC code such as "
            f"-32601, http_503, timeout, refused, dns, tls, over_budget, ...; after {MAX_ERROR_CODES} "
            "distinct codes for one agent, other).",
            [*self.base, "error_code"],
            registry=registry,
        )
        self.agents = Gauge("a2actl_exporter_inventory_agents", "Agents in the inventory.", registry=registry)
        self.agents.set(len(self.values))
        self.rounds = Counter(
            "a2actl_exporter_inventory_rounds",
            "Rounds over the whole inventory completed.",
            registry=registry,
        )
        self.overruns = Counter(
            "a2actl_exporter_inventory_round_overruns",
            "Rounds that took longer than --interval (the next one started late).",
            registry=registry,
        )
        self.round_seconds = Gauge(
            "a2actl_exporter_inventory_round_duration_seconds",
            "How long the last round over the inventory took, in seconds.",
            registry=registry,
        )
        for values in self.values:  # every agent's series exists from the start (count 0)
            self.handshake.labels(*values)
            if self.task is not None:
                self.task.labels(*values)
        self.last: list[ProbeResult | None] = [None] * len(self.values)
        self.codes: list[set[str]] = [set() for _ in self.values]  # error_code values per agent
        registry.register(self)

    def observe(self, index: int, result: ProbeResult) -> None:
        """Record agent ``index``'s probe: the handshake and task durations when they completed, one
        ``a2a_errors_total`` increment when it failed (``error_code`` ``other`` once the agent has
        ``MAX_ERROR_CODES`` others), and its state for ``a2a_agent_up``/``_info``."""
        values = self.values[index]
        if result.handshake is not None:
            self.handshake.labels(*values).observe(result.handshake)
        if self.task is not None and result.task is not None:
            self.task.labels(*values).observe(result.task)
        if not result.success:
            code, seen = result.error_code or "error", self.codes[index]
            if code not in seen:
                if len(seen) >= MAX_ERROR_CODES:
                    code = "other"
                seen.add(code)  # "other" takes the place after the last: at most MAX_ERROR_CODES + 1
            self.errors.labels(*values, code).inc()
        self.last[index] = result

    def round_done(self, seconds: float, *, overrun: bool) -> None:
        """Count a completed round that took ``seconds``; ``overrun`` when longer than the interval."""
        self.rounds.inc()
        self.round_seconds.set(seconds)
        if overrun:
            self.overruns.inc()

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "a2a_agent_up", "Whether the agent's last probe succeeded (1) or not (0).", labels=self.base
        )
        info = InfoMetricFamily(
            "a2a_agent",
            "What the agent's card declared and what its last probe negotiated.",
            labels=self.base,
        )
        for values, result in zip(self.values, self.last, strict=True):
            if result is None:
                continue
            up.add_metric(list(values), 1 if result.success else 0)
            if result.version is not None:
                info.add_metric(
                    list(values),
                    {
                        "version": result.version,
                        "binding": result.binding or "",
                        "declared_versions": ",".join(result.declared_versions),
                    },
                )
        yield up
        yield info

    def describe(self) -> Iterator[Metric]:
        """Nothing: collected on every scrape (``a2a_agent_up`` and ``a2a_agent_info``)."""
        return iter(())


def _masked(text: str) -> str:
    from a2actl.core.redact import Redactor

    return Redactor()(text)


__all__ = [
    "HANDSHAKE_BUCKETS",
    "MAX_ERROR_CODES",
    "RESERVED_LABELS",
    "TASK_BUCKETS",
    "ExporterMetrics",
    "InventoryMetrics",
    "encode",
    "label_names",
    "series_labels",
    "probe_registry",
    "safe_url",
]
