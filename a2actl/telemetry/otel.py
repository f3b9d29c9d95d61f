"""A span tree (``a2actl.core.spans.Span``) as OpenTelemetry SDK spans, exported over OTLP/HTTP.

The only module of a2actl that imports OpenTelemetry (the optional extra ``a2actl[otel]``:
``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http``), and only inside functions, so
importing this module costs nothing.

Every span of the tree keeps its times (``start_time``/``end_time``, nanoseconds since the epoch) and
lands in the trace whose id a2actl already sent in every request's ``traceparent``
(``Settings.trace_id``, W3C Trace Context §3.2.2.3); a span with a ``span_id`` gets exactly that id,
so an agent's server span, parented on the ``traceparent`` it received, nests under it. Ids come
from an ``IdGenerator`` handed to the ``TracerProvider``: the SDK's own way to choose ids.

The spans are collected in memory and exported in one request at the end of the command, bounded by
a short timeout (``DEFAULT_TIMEOUT``, or ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` /
``OTEL_EXPORTER_OTLP_TIMEOUT`` when set); a failed export is returned as text for a one-line warning,
never raised. The exporter itself honours the standard variables (OpenTelemetry SDK environment
variable specification): ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` when no endpoint is given,
``…_HEADERS``, ``…_CERTIFICATE``, ``…_COMPRESSION``; ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` name the resource (``service.name`` defaults to ``a2actl``);
``OTEL_TRACES_SAMPLER`` and the span limits apply; ``OTEL_SDK_DISABLED=true`` exports nothing.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from a2actl.core.spans import AttrValue, Span

if TYPE_CHECKING:
    import requests
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

#: Seconds an export may take (all retries included) unless the OTEL_* timeout variables say otherwise.
DEFAULT_TIMEOUT = 2.0
#: The modules ``--otlp`` needs; ``ImportError`` from ``require`` names the extra.
REQUIRED = ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http.trace_exporter")
TIMEOUT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")


def require() -> None:
    """Import the OpenTelemetry SDK and the OTLP/HTTP exporter; ``ImportError`` when the
    ``a2actl[otel]`` extra is not installed (the CLI maps it to exit 2 with the install hint)."""
    import importlib

    for name in REQUIRED:
        importlib.import_module(name)


def _clean(attrs: dict[str, AttrValue], redact: Callable[[str], str]) -> dict[str, AttrValue]:
    return {k: (redact(v) if isinstance(v, str) else v) for k, v in attrs.items()}


@contextmanager
def _captured_sdk_logs() -> Iterator[list[str]]:
    """Silence the SDK's loggers (they would print tracebacks and retries on stderr) and collect their
    messages, so a failed export becomes one warning line."""
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                messages.append(record.getMessage())
            except Exception:  # noqa: BLE001 - a bad log record must not break the export
                messages.append(record.msg if isinstance(record.msg, str) else "export failed")

    log = logging.getLogger("opentelemetry")
    handler = _Collect(logging.WARNING)
    saved = (log.propagate, log.level)
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.WARNING)
    try:
        yield messages
    finally:
        log.removeHandler(handler)
        log.propagate, _ = saved
        log.setLevel(saved[1])


def sdk_spans(root: Span, trace_id: str, redact: Callable[[str], str] = str) -> list[ReadableSpan]:
    """The tree as finished SDK spans (parents before their children's end, in the tree's order of
    starts), all in trace ``trace_id`` (32 hex digits). ``redact`` is applied to every string attribute
    and status description. Honours ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, the sampler
    and span-limit variables; an empty list when ``OTEL_SDK_DISABLED`` is true or the sampler drops
    the trace. Raises ``ImportError`` without the ``a2actl[otel]`` extra."""
    from opentelemetry import trace as api
    from opentelemetry.context import Context
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.id_generator import IdGenerator
    from opentelemetry.trace import SpanKind, Status, StatusCode

    from a2actl import __version__

    class _Ids(IdGenerator):
        """The run's trace id; the span id asked for next (a request's ``traceparent``), else random."""

        def __init__(self) -> None:
            self.trace = int(trace_id, 16)
            self.next: int | None = None
            self.used: set[int] = set()

        def generate_trace_id(self) -> int:
            return self.trace

        def generate_span_id(self) -> int:
            sid, self.next = self.next, None
            while sid is None or sid == 0 or sid in self.used:
                sid = secrets.randbits(64)
            self.used.add(sid)
            return sid

    resource = Resource.create({"service.version": __version__})
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": "a2actl"}))
    ids = _Ids()
    provider = TracerProvider(resource=resource, id_generator=ids, shutdown_on_exit=False)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("a2actl", __version__)
    kinds = {"client": SpanKind.CLIENT, "internal": SpanKind.INTERNAL}

    def emit(span: Span, parent: Context) -> None:
        ids.next = int(span.span_id, 16) if span.span_id else None
        s = tracer.start_span(
            span.name,
            context=parent,
            kind=kinds.get(span.kind, SpanKind.INTERNAL),
            attributes=_clean(span.attributes, redact),
            start_time=span.start_ns,
        )
        ids.next = None
        for ev in span.events:
            s.add_event(ev.name, _clean(ev.attributes, redact), timestamp=ev.time_ns)
        if span.error:
            s.set_status(Status(StatusCode.ERROR, redact(span.error)))
        inner = api.set_span_in_context(s, Context())
        for child in span.children:
            emit(child, inner)
        s.end(end_time=max(span.end_ns, span.start_ns))

    emit(root, Context())
    provider.shutdown()
    return list(memory.get_finished_spans())


def resolve_timeout() -> float | None:
    """``None`` when ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` or ``OTEL_EXPORTER_OTLP_TIMEOUT`` is set
    (the exporter reads it), else ``DEFAULT_TIMEOUT`` seconds."""
    return None if any(os.environ.get(v) for v in TIMEOUT_VARS) else DEFAULT_TIMEOUT


CERTIFICATE_VARS = ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE")


def _session() -> requests.Session | None:
    """A requests session for the OTLP exporter when a collector CA is set
    (``OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE``), else ``None`` (the exporter's own). requests
    replaces a session's CA file with ``$REQUESTS_CA_BUNDLE`` / ``$CURL_CA_BUNDLE`` when those are set
    (as on many Debian and corporate hosts), which silently dropped the collector's CA; this session
    keeps the CA file the exporter gives it, and the proxy variables still apply."""
    if not any(os.environ.get(v) for v in CERTIFICATE_VARS):
        return None
    import requests

    class _KeepsItsCA(requests.Session):
        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            merged: dict[str, Any] = super().merge_environment_settings(*args, **kwargs)
            if isinstance(self.verify, str):
                merged["verify"] = self.verify
            return merged

    return _KeepsItsCA()


def export_tree(
    root: Span,
    trace_id: str,
    endpoint: str | None,
    *,
    redact: Callable[[str], str] = str,
    exporter: SpanExporter | None = None,
) -> tuple[int, str | None]:
    """Export the tree in one OTLP/HTTP request to ``endpoint`` (the full URL of the traces endpoint,
    e.g. ``http://127.0.0.1:4318/v1/traces``; ``None``: the ``OTEL_EXPORTER_OTLP_*`` variables), or
    through ``exporter`` when given (tests: the SDK's ``InMemorySpanExporter``).

    Returns ``(spans exported, problem)``: ``problem`` is ``None`` on success, else one line saying why
    the export failed (HTTP status, refused, timeout), secrets masked by ``redact``. Never raises for
    a collector that is down, slow or refusing; ``ImportError`` without the extra."""
    spans = sdk_spans(root, trace_id, redact)
    if not spans:
        return 0, None
    from opentelemetry.sdk.trace.export import SpanExportResult

    with _captured_sdk_logs() as messages:
        try:
            if exporter is None:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                exporter = OTLPSpanExporter(endpoint=endpoint, timeout=resolve_timeout(), session=_session())
            result = exporter.export(spans)
            exporter.shutdown()
        except Exception as exc:  # noqa: BLE001 - a broken collector or setting must not fail the command
            return 0, redact(" ".join(f"{type(exc).__name__}: {exc}".split())[:300])
    if result is SpanExportResult.SUCCESS:
        return len(spans), None
    return 0, redact(failure_reason(messages))


def failure_reason(messages: list[str]) -> str:
    """One short line from the exporter's log messages: ``connection refused``, ``HTTP 400 …``, a TLS
    failure (checked before the timeout: the SDK's last line says "timeout, max retries" for any
    failure), ``no answer within the timeout``, else its first message (whitespace folded, at most 200 characters)."""
    import re

    text = " ".join(messages)
    code = re.search(r"\bcode: (\d{3})(?:, reason: ([^,.]*))?", text)
    if code:
        return f"HTTP {code[1]} {code[2] or ''}".strip()
    if "Connection refused" in text or "ConnectionRefused" in text:
        return "connection refused"
    tls = re.search(r"certificate verify failed: ([^'(]*)", text)
    if tls:
        return (
            f"TLS: certificate verify failed: {tls[1].strip()} "
            "(OTEL_EXPORTER_OTLP_CERTIFICATE names the collector's CA)"
        )
    if "SSLError" in text:
        return "TLS handshake with the collector failed"
    if "Name or service not known" in text or "NameResolutionError" in text or "getaddrinfo" in text:
        return "the collector's host name does not resolve"
    if "timed out" in text.lower() or "timeout" in text.lower():
        return "no answer within the timeout"
    first = messages[0] if messages else "the collector did not accept the spans"
    return " ".join(first.split())[:200]


__all__ = ["DEFAULT_TIMEOUT", "export_tree", "require", "resolve_timeout", "sdk_spans"]
