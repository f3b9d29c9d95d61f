"""``telemetry.otel``: a span tree through the real SDK into its ``InMemorySpanExporter``."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from a2actl.core.redact import Redactor
from a2actl.core.spans import Span, SpanEvent
from a2actl.telemetry.otel import export_tree, failure_reason, sdk_spans

TRACE = "0af7651916cd43dd8448eb211c80319c"
T0 = 1_700_000_000_000_000_000


def _tree() -> Span:
    rpc = Span(
        "POST /rpc",
        T0 + 2_000,
        T0 + 9_000,
        {"http.request.method": "POST", "url.full": "http://a/rpc?x=s3cr3t-value"},
        span_id="b7ad6b7169203331",
        kind="client",
        error="HTTP 503 s3cr3t-value",
        events=[SpanEvent("event", T0 + 5_000, {"state": "working", "bytes": 12})],
    )
    card = Span(
        "card",
        T0 + 1_000,
        T0 + 2_000,
        {"a2actl.card.bytes": 10},
        children=[Span("dns", T0 + 1_000, T0 + 1_000)],
    )
    return Span("a2actl send", T0, T0 + 10_000, {"a2actl.command": "send"}, children=[card, rpc])


def _by_name(spans: Sequence[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {s.name: s for s in spans}


def test_the_tree_becomes_sdk_spans_in_the_given_trace_with_exact_times() -> None:
    memory = InMemorySpanExporter()
    sent, problem = export_tree(_tree(), TRACE, None, exporter=memory, redact=Redactor(["s3cr3t-value"]))
    spans = memory.get_finished_spans()
    assert (sent, problem) == (4, None) and len(spans) == 4
    by = _by_name(spans)
    assert {format(s.context.trace_id, "032x") for s in spans} == {TRACE}
    root = by["a2actl send"]
    assert root.parent is None
    assert by["card"].parent.span_id == root.context.span_id  # type: ignore[union-attr]
    assert by["dns"].parent.span_id == by["card"].context.span_id  # type: ignore[union-attr]
    rpc = by["POST /rpc"]
    assert format(rpc.context.span_id, "016x") == "b7ad6b7169203331"  # the traceparent's span id
    assert rpc.parent.span_id == root.context.span_id  # type: ignore[union-attr]
    assert (rpc.start_time, rpc.end_time) == (T0 + 2_000, T0 + 9_000)
    assert (root.start_time, root.end_time) == (T0, T0 + 10_000)
    assert rpc.kind is SpanKind.CLIENT and root.kind is SpanKind.INTERNAL
    assert rpc.status.status_code is StatusCode.ERROR and rpc.status.description == "HTTP 503 ***"
    assert dict(rpc.attributes or {})["url.full"] == "http://a/rpc?x=***"
    assert [(e.name, e.timestamp, dict(e.attributes or {})) for e in rpc.events] == [
        ("event", T0 + 5_000, {"state": "working", "bytes": 12})
    ]
    assert dict(by["card"].attributes or {}) == {"a2actl.card.bytes": 10}
    assert root.resource.attributes["service.name"] == "a2actl"


def test_service_name_and_resource_attributes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "ci-probes")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
    (span,) = sdk_spans(Span("x", T0, T0 + 1), TRACE)
    assert span.resource.attributes["service.name"] == "ci-probes"
    assert span.resource.attributes["deployment.environment"] == "staging"


def test_a_repeated_span_id_gets_a_fresh_one() -> None:
    a = Span("a", T0, T0 + 1, span_id="1111111111111111")
    b = Span("b", T0, T0 + 1, span_id="1111111111111111")
    spans = sdk_spans(Span("root", T0, T0 + 2, children=[a, b]), TRACE)
    ids = [s.context.span_id for s in spans]
    assert len(set(ids)) == 3 and int("1111111111111111", 16) in ids


def test_sdk_disabled_exports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    memory = InMemorySpanExporter()
    assert export_tree(_tree(), TRACE, None, exporter=memory) == (0, None)
    assert memory.get_finished_spans() == ()


class Failing(SpanExporter):
    def __init__(self, how: str) -> None:
        self.how = how

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.how == "raise":
            raise RuntimeError("collector exploded with token s3cr3t-value")
        import logging

        logging.getLogger("opentelemetry.exporter.test").error(
            "Failed to export spans batch code: 401, reason: Unauthorized"
        )
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def test_a_failed_export_is_a_reason_not_an_exception(capsys: pytest.CaptureFixture[str]) -> None:
    assert export_tree(_tree(), TRACE, None, exporter=Failing("fail")) == (0, "HTTP 401 Unauthorized")
    sent, problem = export_tree(
        _tree(), TRACE, None, exporter=Failing("raise"), redact=Redactor(["s3cr3t-value"])
    )
    assert sent == 0 and problem == "RuntimeError: collector exploded with token ***"
    assert capsys.readouterr().err == ""  # the SDK's own log lines are kept off stderr


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        (["Failed to export spans batch code: 404, reason: Not Found"], "HTTP 404 Not Found"),
        (
            ["Transient error ... [Errno 111] Connection refused ... retrying", "Failed ... timeout"],
            "connection refused",
        ),
        (["Transient error Read timed out. (read timeout=2.0)"], "no answer within the timeout"),
        (["NameResolutionError: Failed to resolve 'nope'"], "the collector's host name does not resolve"),
        (
            [  # what the SDK logs for an https collector with a self-signed certificate
                "Transient error HTTPSConnectionPool(host='127.0.0.1', port=4318): Max retries exceeded "
                "with url: /v1/traces (Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
                "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate "
                "(_ssl.c:1006)'))) encountered while exporting spans batch,",
                "Failed to export spans batch due to timeout, max retries or shutdown.",
            ],
            "TLS: certificate verify failed: self-signed certificate "
            "(OTEL_EXPORTER_OTLP_CERTIFICATE names the collector's CA)",
        ),
        (["something  odd\nhappened"], "something odd happened"),
        ([], "the collector did not accept the spans"),
    ],
)
def test_failure_reason(messages: list[str], reason: str) -> None:
    assert failure_reason(messages) == reason


@pytest.mark.parametrize("var", ["OTEL_EXPORTER_OTLP_CERTIFICATE", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"])
def test_the_collector_ca_wins_over_requests_ca_bundle(
    tls_server: tuple[str, str], monkeypatch: pytest.MonkeyPatch, var: str
) -> None:
    """requests lets $REQUESTS_CA_BUNDLE (set system-wide on many hosts) replace a session's own CA
    file, so the collector's CA variable was silently ignored and the export failed TLS."""
    import certifi

    url, ca = tls_server  # an HTTPS server with its own CA; /v1/traces there is not a collector
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv(var, ca)
    sent, problem = export_tree(_tree(), TRACE, url + "/v1/traces")
    assert sent == 0 and problem is not None
    assert problem.startswith("HTTP 4"), problem  # TLS passed: the server's own answer
