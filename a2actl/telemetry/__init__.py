"""``--otlp``: a command's result as OpenTelemetry spans (docs/tracing.md).

``a2actl.telemetry.tree`` turns a result into a plain ``a2actl.core.spans.Span`` tree (no
OpenTelemetry import); ``a2actl.telemetry.otel`` turns the tree into SDK spans and exports them over
OTLP/HTTP. Only the command body of a command run with ``--otlp`` imports either.
"""
