"""Command results as plain span trees (``a2actl.core.spans.Span``), for ``--otlp``.

``command_tree`` builds the root span of one command (``a2actl <command>``, from the command's start
to its end) with the children its result explains (docs/tracing.md lists them):

* ``handshake probe``: a ``sample`` span per timed sample (the first ``MAX_SAMPLES``, then failed ones
  up to ``MAX_SAMPLES`` more), each with its phases (``card`` with ``dns`` … ``transfer``, ``parse``,
  ``negotiate``, ``session``, ``rpc``, ``send`` with ``first_event`` and ``terminal``). A sample
  keeps durations, not start times, so the phases are laid end to end from the sample's start:
  durations are exact, a2actl's own work between phases (microseconds) is not drawn.
* ``send`` and ``stream tail``: a client span per HTTP request (``RequestSpans``), a stream's events
  as span events on its request (the first ``MAX_EVENTS``).
* ``load run``: one ``load`` span with the run's summary as attributes and a span per phase of the
  run (``ramp``, ``steady``, ``drain``); never a span per request.
* ``fleet probe``: an ``agent`` span per agent with its phases, the first ``MAX_AGENTS`` (failed
  agents first).

Times are nanoseconds since the Unix epoch. Nothing here imports OpenTelemetry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import A2ACtlError
from a2actl.core.phases import CARD_PHASES
from a2actl.core.spans import AttrValue, Span, seconds_ns, span_id_of

if TYPE_CHECKING:
    from a2actl.load.report import LoadReport
    from a2actl.probe.report import ProbeReport, Sample

#: ``handshake probe``: timed samples drawn as spans (then failed samples up to as many again).
MAX_SAMPLES = 100
#: ``stream tail`` / ``send --stream``: stream events drawn as span events (the SDK's default limit).
MAX_EVENTS = 128
#: ``fleet probe``: agents drawn as spans (failed agents first, then in inventory order).
MAX_AGENTS = 1000

#: Fields of a stream record kept as span event attributes: no message text, no artifact content.
EVENT_FIELDS = (
    "kind",
    "state",
    "taskId",
    "bytes",
    "t",
    "delta",
    "reason",
    "attempt",
    "via",
    "source",
    "outcome",
)


def scalar_attrs(doc: dict[str, Any], names: dict[str, str]) -> dict[str, AttrValue]:
    """``{attribute: doc[key]}`` for each ``key → attribute`` of ``names`` whose value is a string,
    number or boolean (``None``, lists and objects are left out)."""
    out: dict[str, AttrValue] = {}
    for key, attr in names.items():
        v = doc.get(key)
        if isinstance(v, (str, bool, int, float)):
            out[attr] = v
    return out


def event_attrs(record: dict[str, Any]) -> dict[str, AttrValue]:
    """The span event attributes of a stream record (``EVENT_FIELDS`` that are scalars)."""
    return scalar_attrs(record, {k: k for k in EVENT_FIELDS})


def _phase(name: str, cursor: int, seconds: float, **attrs: AttrValue) -> Span:
    return Span(name, cursor, cursor + seconds_ns(seconds), dict(attrs))


def sample_span(sample: Sample) -> Span:
    """One ``handshake probe`` sample: a ``sample`` span and its phase spans, laid end to end from
    ``sample.started_ns``; the requests' spans carry the ids of the ``traceparent`` they sent. A
    failed sample has an error status on itself and on the phase that broke."""
    cursor = sample.started_ns
    root = Span(
        "sample", cursor, cursor, {"a2actl.sample.index": sample.index, "a2actl.sample.ok": sample.ok}
    )
    ph = sample.phases
    tps = sample.traceparents

    def group(name: str, names: Sequence[str], tp_key: str) -> None:
        nonlocal cursor
        present = [n for n in names if n in ph]
        if not present:
            return
        span = Span(name, cursor, cursor, span_id=span_id_of(tps.get(tp_key)), kind="client")
        for n in present:
            child = _phase(n, cursor, ph[n])
            span.children.append(child)
            cursor = child.end_ns
        span.end_ns = cursor
        root.children.append(span)

    group("card", CARD_PHASES, "card")
    if sample.card_bytes is not None and root.children:
        root.children[-1].attributes["a2actl.card.bytes"] = sample.card_bytes.decoded
    for n in ("parse", "negotiate"):
        if n in ph:
            span = _phase(n, cursor, ph[n])
            root.children.append(span)
            cursor = span.end_ns
    for n in ("session", "rpc"):
        if n in ph:
            span = _phase(n, cursor, ph[n])
            span.kind = "client"
            span.span_id = span_id_of(tps.get(n))
            root.children.append(span)
            cursor = span.end_ns
    if sample.rpc is not None and root.children and root.children[-1].name == "rpc":
        root.children[-1].attributes.update(
            scalar_attrs(sample.rpc, {"method": "rpc.method", "httpStatus": "http.response.status_code"})
        )
    group("send", ("first_event", "terminal"), "send")
    root.end_ns = cursor
    if not sample.ok:
        message = str((sample.error or {}).get("message") or "failed")
        root.error = message
        if sample.error_class:
            root.attributes["error.type"] = sample.error_class
        failed = sample.failed_phase
        spans = {s.name: s for s in root.walk()}
        if failed in spans:
            spans[failed].error = message
        elif failed:
            span = Span(failed, cursor, cursor, error=message)
            key = {"first_event": "send", "terminal": "send"}.get(failed, failed)
            if key in tps:  # the request that failed: the span id the agent received
                span.span_id, span.kind = span_id_of(tps[key]), "client"
            root.children.append(span)
    return root


def probe_children(report: ProbeReport) -> list[Span]:
    """The ``sample`` spans of a probe: the first ``MAX_SAMPLES`` timed samples, then the failed
    ones among the rest, up to ``MAX_SAMPLES`` more (warmups are not drawn)."""
    timed = [s for s in report.samples if s.index >= 0]
    chosen = timed[:MAX_SAMPLES] + [s for s in timed[MAX_SAMPLES:] if not s.ok][:MAX_SAMPLES]
    return [sample_span(s) for s in chosen]


def probe_attrs(report: ProbeReport) -> dict[str, AttrValue]:
    """Root attributes of ``handshake probe``: target, card URL, negotiated version and binding,
    sample counts and the p99 of the total (seconds)."""
    attrs: dict[str, AttrValue] = {
        "a2a.target": report.target,
        "a2a.card.url": report.card_url,
        "a2a.protocol.version": report.selection.family.value,
        "a2a.protocol.binding": report.selection.interface.protocol_binding,
        "a2actl.samples": sum(1 for s in report.samples if s.index >= 0),
        "a2actl.samples.ok": sum(1 for s in report.samples if s.index >= 0 and s.ok),
    }
    p99 = report.total_p99
    if p99 is not None:
        attrs["a2actl.total.p99_s"] = p99
    return attrs


def load_children(report: LoadReport, ramp: float | None) -> list[Span]:
    """``load run``: one ``load`` span (``started_at`` → + ``elapsed``) with the summary as attributes
    and its phases: ``ramp`` (the first ``ramp`` seconds), ``steady`` (to the end of the sending
    window) and ``drain`` (waiting for the answers still in flight)."""
    start = round(report.started_at * 1e9)
    end = start + seconds_ns(report.elapsed)
    rec = report.recorder
    attrs: dict[str, AttrValue] = {
        "a2actl.load.scenario": report.scenario,
        "a2actl.load.model": str(report.model.get("kind")),
        "a2actl.load.requests.scheduled": rec.total,
        "a2actl.load.requests.sent": report.sent,
        "a2actl.load.requests.ok": rec.statuses["ok"],
        "a2actl.load.requests.failed": rec.failures,
        "a2actl.load.requests.dropped": rec.statuses["dropped"],
    }
    if report.asked_rate is not None:
        attrs["a2actl.load.rate.asked"] = report.asked_rate
    for (
        key,
        value,
    ) in report.rates().items():  # sent: intervals over the sending window; achieved: to the last answer
        if value is not None:
            attrs[f"a2actl.load.rate.{key}"] = value
    stats = rec.stats("latency")
    if stats:
        for key in ("p50", "p90", "p99", "max"):
            if isinstance(stats.get(key), (int, float)):
                attrs[f"a2actl.load.latency.{key}_s"] = stats[key]
    if report.aborted:
        attrs["a2actl.load.aborted"] = report.aborted
    run = Span("load", start, end, attrs)
    window_end = start + seconds_ns(report.sending)
    cursor = start
    if ramp and ramp > 0:
        ramp_end = min(window_end, start + seconds_ns(ramp))
        run.children.append(Span("ramp", cursor, ramp_end))
        cursor = ramp_end
    run.children.append(Span("steady", cursor, window_end))
    if end > window_end:
        run.children.append(Span("drain", window_end, end))
    if report.exit != 0:
        run.error = report.aborted or f"exit {int(report.exit)}"
    return [run]


def fleet_children(report: Any, start_ns: int) -> list[Span]:
    """``fleet probe``: an ``agent`` span per ``report.results`` entry (``AgentResult``), at most
    ``MAX_AGENTS``, failed agents first (then inventory order), with its phases (``connect``, ``card``,
    ``validate``, ``rpc``, ``send``) laid end to end and the outcome as attributes.

    An agent span starts at the result's ``started_ns`` (nanoseconds since the epoch) and carries the
    span id of its ``traceparent`` when the result records them; a result without them starts at the
    run's start (``report.started_at``, Unix seconds; else ``start_ns``), so only durations are exact."""
    results = [r for r in getattr(report, "results", None) or [] if hasattr(r, "to_json")]
    results.sort(key=lambda r: bool(getattr(r, "ok", False)))  # stable: failed first, inventory order kept
    run_start = getattr(report, "started_at", 0.0)
    fallback = round(run_start * 1e9) if isinstance(run_start, (int, float)) and run_start > 0 else start_ns
    out = []
    for r in results[:MAX_AGENTS]:
        doc = r.to_json()
        started = getattr(r, "started_ns", None)
        cursor = started if isinstance(started, int) and started > 0 else fallback
        attrs = scalar_attrs(
            doc,
            {
                "url": "a2a.target",
                "name": "a2actl.agent.name",
                "ok": "a2actl.agent.ok",
                "cause": "error.type",
                "version": "a2a.protocol.version",
                "binding": "a2a.protocol.binding",
                "errorCode": "rpc.jsonrpc.error_code",
                "httpStatus": "http.response.status_code",
                "attempts": "a2actl.agent.attempts",
            },
        )
        passed = doc.get("passed") or []
        if passed:
            attrs["a2actl.agent.reached"] = str(passed[-1])
        tp = getattr(r, "traceparent", None)
        span = Span("agent", cursor, cursor, attrs, span_id=span_id_of(tp if isinstance(tp, str) else None))
        phases = doc.get("phases") or {}
        for name, secs in phases.items():
            if isinstance(secs, (int, float)):
                child = _phase(str(name), cursor, float(secs))
                span.children.append(child)
                cursor = child.end_ns
        total = doc.get("total")
        span.end_ns = max(
            cursor, span.start_ns + (seconds_ns(total) if isinstance(total, (int, float)) else 0)
        )
        if doc.get("ok") is False:
            span.error = str(doc.get("detail") or doc.get("cause") or "failed")
        out.append(span)
    return out


def fleet_attrs(report: Any) -> dict[str, AttrValue]:
    """Root attributes of ``fleet probe``: agents checked and ok, the inventory and the shard."""
    results = getattr(report, "results", None) or []
    attrs: dict[str, AttrValue] = {
        "a2actl.fleet.agents": len(results),
        "a2actl.fleet.ok": sum(1 for r in results if getattr(r, "ok", False)),
    }
    source = getattr(report, "source", None)
    if isinstance(source, str) and source:
        attrs["a2actl.fleet.inventory"] = source
    shard = getattr(report, "shard", None)
    if isinstance(shard, tuple) and len(shard) == 2:
        attrs["a2actl.fleet.shard"] = f"{shard[0]}/{shard[1]}"
    return attrs


#: ``send`` / ``send --stream`` / ``stream tail`` result documents → root attributes.
SEND_ATTRS = {
    "method": "a2a.method",
    "messageId": "a2a.message.id",
    "taskId": "a2a.task.id",
    "state": "a2a.task.state",
    "streaming": "a2actl.streaming",
    "events": "a2actl.stream.events",
    "outcome": "a2actl.stream.outcome",
    "dryRun": "a2actl.dry_run",
}
TAIL_ATTRS = {
    "outcome": "a2actl.stream.outcome",
    "events": "a2actl.stream.events",
    "bytes": "a2actl.stream.bytes",
    "duration": "a2actl.stream.duration_s",
    "firstEvent": "a2actl.stream.first_event_s",
    "heartbeats": "a2actl.stream.heartbeats",
    "finalState": "a2a.task.state",
    "taskId": "a2a.task.id",
}


def _result_exit(result: Any) -> int | None:
    code = getattr(result, "exit", None)
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None


def command_tree(
    command: str,
    start_ns: int,
    end_ns: int,
    result: Any = None,
    error: BaseException | None = None,
    requests: Sequence[Span] = (),
    options: dict[str, Any] | None = None,
) -> Span:
    """The root span ``a2actl <command>`` (``start_ns`` → ``end_ns``) with the children ``result``
    explains (see the module docstring) after the request spans ``requests``.

    ``error``: what the command raised instead of returning (an ``A2ACtlError`` gives the status
    description, ``error.type`` and ``a2actl.exit_code``). ``options``: per-command extras (``ramp``:
    the ``load run`` ramp in seconds). Never raises for an unknown command: the root alone."""
    root = Span(f"a2actl {command}", start_ns, end_ns, {"a2actl.command": command})
    root.children.extend(requests)
    builders: dict[str, Callable[[], None]] = {}

    def probe() -> None:
        root.attributes.update(probe_attrs(result))
        root.children.extend(probe_children(result))

    def send() -> None:
        root.attributes.update(scalar_attrs(result.to_json(), SEND_ATTRS))

    def tail() -> None:
        doc = result.to_json()
        root.attributes.update(scalar_attrs(doc, TAIL_ATTRS))
        root.attributes["a2actl.stream.reconnects"] = len(doc.get("reconnects") or [])
        root.attributes["a2actl.stream.cuts"] = len(doc.get("cuts") or [])

    def load() -> None:
        root.attributes["a2a.target"] = result.target
        root.children.extend(load_children(result, (options or {}).get("ramp")))

    def fleet() -> None:
        root.attributes.update(fleet_attrs(result))
        root.children.extend(fleet_children(result, start_ns))

    builders.update({"handshake probe": probe, "send": send, "stream tail": tail, "load run": load})
    builders["fleet probe"] = fleet
    if result is not None and command in builders:
        builders[command]()
    code = _result_exit(result)
    if isinstance(error, A2ACtlError):
        root.error = error.message
        root.attributes["error.type"] = error.code
        code = int(error.exit_code)
    elif isinstance(error, KeyboardInterrupt):
        root.error = "interrupted"
        code = 130
    elif error is not None:
        root.error = type(error).__name__
        root.attributes["error.type"] = type(error).__name__
    if code is not None:
        root.attributes["a2actl.exit_code"] = code
        if code != 0 and root.error is None:
            root.error = f"exit {code}"
    for span in root.walk():  # children never outlast the root (a clock step, an open stream)
        span.end_ns = max(span.end_ns, span.start_ns)
        root.end_ns = max(root.end_ns, span.end_ns)
        root.start_ns = min(root.start_ns, span.start_ns)
    return root


__all__ = [
    "MAX_AGENTS",
    "MAX_EVENTS",
    "MAX_SAMPLES",
    "command_tree",
    "event_attrs",
    "fleet_attrs",
    "fleet_children",
    "load_children",
    "probe_children",
    "sample_span",
    "scalar_attrs",
]
