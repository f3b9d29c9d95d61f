"""``--otlp ENDPOINT``: the option and the per-command helper that exports a command's spans.

A command adds two lines (docs/tracing.md)::

    def probe(ctx, ..., otlp: OtlpOpt = None):
        ...
        trace = traced(ctx, otlp)                  # checks --otlp (exit 2) before any request
        report = trace.run(run_probe(...))         # was run.run(...); trace.sink / trace.records
                                                   # where the command's requests should be spans,
                                                   # trace.keep(report) when the result is built later

Without ``--otlp`` (and ``A2ACTL_OTLP``) ``traced`` returns a pass-through and nothing of
OpenTelemetry is imported. With it, the result (or the error) of ``trace.run`` is turned into a span
tree (``a2actl.telemetry.tree``) and exported (``a2actl.telemetry.otel``) when the command's context
closes, after its output: a collector that is down costs at most the export timeout and a one-line
warning, never the exit code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from a2actl.cli.context import Invocation, invocation

if TYPE_CHECKING:
    from a2actl.core.sink import EventSink
    from a2actl.core.spans import RequestSpans

T = TypeVar("T")

#: ``--otlp``'s environment variable (precedence: the flag, then this variable).
ENV_OTLP = "A2ACTL_OTLP"
#: The ``--otlp`` value that takes the endpoint from ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
#: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (resolved by the OpenTelemetry exporter).
FROM_ENV = "env"
ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
INSTALL_HINT = "pip install 'a2actl[otel]'"

#: ``--otlp ENDPOINT`` of ``handshake probe``, ``send``, ``stream tail``, ``load run`` and ``fleet probe``.
OtlpOpt = Annotated[
    str | None,
    typer.Option(
        "--otlp",
        metavar="ENDPOINT",
        envvar=ENV_OTLP,
        help="Export this command's OpenTelemetry spans over OTLP/HTTP to ENDPOINT "
        "(http://collector:4318, or 'env' for $OTEL_EXPORTER_OTLP_ENDPOINT), in the trace of the "
        "traceparent a2actl sends. Needs a2actl[otel]; see docs/tracing.md.",
    ),
]


def otlp_endpoint(value: str) -> str | None:
    """The traces URL for ``--otlp value``: ``/v1/traces`` added to a URL without a path (OTLP/HTTP's
    default signal path, OTLP specification "OTLP/HTTP Request"), any other path kept as given;
    ``None`` for ``env`` (the exporter reads ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``).

    Raises ``UsageError`` (exit 2): not an ``http(s)://`` URL, or ``env`` with neither variable set.
    The URL's userinfo and credential query values are registered as secrets (never printed)."""
    import os
    from urllib.parse import urlsplit, urlunsplit

    from a2actl.core.errors import UsageError
    from a2actl.core.redact import register_url

    text = value.strip()
    if text == FROM_ENV:
        if not any(os.environ.get(v) for v in ENDPOINT_VARS):
            raise UsageError(
                f"--otlp {FROM_ENV}: neither {' nor '.join(ENDPOINT_VARS)} is set",
                hint="set OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318, or pass --otlp URL",
            )
        return None
    register_url(text)
    try:
        parts = urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        ok = False
    if not ok:
        raise UsageError(
            f"--otlp: {value!r} is not an http:// or https:// URL",
            hint="an OTLP/HTTP collector, e.g. --otlp http://127.0.0.1:4318 (gRPC's port 4317 is not supported)",
        )
    if parts.path in ("", "/"):
        parts = parts._replace(path="/v1/traces")
    return urlunsplit(parts)


class Traced:
    """The pass-through of a command run without ``--otlp``: ``run``, ``sink`` and ``records`` are the
    invocation's own."""

    def __init__(self, run: Invocation) -> None:
        self.inv = run

    @property
    def sink(self) -> EventSink:
        """The event sink to hand the command's job."""
        return self.inv.sink

    def records(self, emit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        """The record callback to hand a streaming job."""
        return emit

    def keep(self, result: Any) -> None:
        """The result the spans describe, when the command builds it after ``run`` (``fleet probe``
        assembles its report from ``run``'s list of agent results). Ignored without ``--otlp``."""

    def run(self, coro: Coroutine[Any, Any, T], *, bounded: bool = True) -> T:
        """``Invocation.run``."""
        result: T = self.inv.run(coro, bounded=bounded)
        return result


class Exporting(Traced):
    """``--otlp``: records the command's result or error (and, through ``sink``, its requests), and
    exports the spans when ``export`` is called (the command context's close)."""

    def __init__(self, run: Invocation, endpoint: str | None, shown: str) -> None:
        super().__init__(run)
        self.endpoint = endpoint
        self.shown = shown
        self.start_ns = time.time_ns()
        self.ended_ns: int | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.recorder: RequestSpans | None = None
        self.options: dict[str, Any] = {}

    @property
    def sink(self) -> EventSink:
        """The invocation's sink, recording a client span per request (``RequestSpans``)."""
        if self.recorder is None:
            from a2actl.core.spans import RequestSpans

            self.recorder = RequestSpans(self.inv.sink)
        return self.recorder

    def records(self, emit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
        """``emit``, also adding each stream record (the first ``MAX_EVENTS``) as a span event on the
        request that is streaming; no message text or artifact content goes into the event."""
        from a2actl.telemetry.tree import MAX_EVENTS, event_attrs

        self.sink  # noqa: B018 - creates the recorder
        rec = self.recorder
        assert rec is not None
        left = [MAX_EVENTS]

        def record(item: dict[str, Any]) -> None:
            emit(item)
            if left[0] > 0 and isinstance(item, dict) and item.get("type") != "summary":
                if rec.add_event(str(item.get("type") or "record"), event_attrs(item), MAX_EVENTS):
                    left[0] -= 1

        return record

    def keep(self, result: Any) -> None:
        """Describe ``result`` instead of what ``run`` returned."""
        self.result = result

    def run(self, coro: Coroutine[Any, Any, T], *, bounded: bool = True) -> T:
        """``Invocation.run``, keeping the result or the exception (re-raised) for the spans."""
        try:
            result: T = self.inv.run(coro, bounded=bounded)
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.ended_ns = time.time_ns()
        self.result = result
        return result

    def export(self) -> None:
        """Build the tree and export it; a failure is a one-line warning on stderr, never an error.
        With ``-v``, a note says how many spans went where, in which trace."""
        try:
            from a2actl.core.redact import Redactor
            from a2actl.telemetry.otel import export_tree
            from a2actl.telemetry.tree import command_tree

            end = time.time_ns()
            settings = self.inv.settings
            requests = []
            if self.recorder is not None:
                failed = getattr(self.error, "message", None) if self.error is not None else None
                requests = self.recorder.close(self.ended_ns or end, failed)
            root = command_tree(
                self.inv.command,
                self.start_ns,
                end,
                self.result,
                self.error,
                requests,
                self.options,
            )
            sent, problem = export_tree(
                root, settings.trace_id, self.endpoint, redact=Redactor(settings.secrets())
            )
        except Exception as exc:  # noqa: BLE001 - tracing must never change the command's outcome
            sent, problem = 0, f"{type(exc).__name__}: {exc}"
        if problem:
            self.inv.out.warn(f"--otlp: spans not exported to {self.shown}: {problem}")
        elif self.inv.verbose and sent == 0:
            self.inv.out.note(
                "--otlp: nothing exported (OTEL_SDK_DISABLED, or the sampler dropped the trace)"
            )
        elif self.inv.verbose:
            self.inv.out.note(
                f"--otlp: {sent} spans of trace {self.inv.settings.trace_id} sent to {self.shown}"
            )


def traced(ctx: typer.Context, otlp: str | None, **options: Any) -> Traced:
    """The helper of a command with ``OtlpOpt``: a pass-through without ``--otlp``; with it, checks the
    endpoint and that the ``a2actl[otel]`` extra is installed (else ``UsageError``, exit 2, with the
    install hint) before the command sends anything, and exports the spans when ``ctx`` closes.
    ``options``: extras for the tree (``ramp`` seconds for ``load run``)."""
    run = invocation(ctx)
    if otlp is None or not otlp.strip():
        return Traced(run)
    endpoint = otlp_endpoint(otlp)
    from a2actl.core.errors import UsageError

    try:
        from a2actl.telemetry.otel import require

        require()
    except ImportError as exc:
        raise UsageError(
            f"--otlp needs the OpenTelemetry SDK and OTLP exporter, which are not installed ({exc.name or exc})",
            hint=INSTALL_HINT,
        ) from exc
    import os

    shown = endpoint or "$" + next(v for v in ENDPOINT_VARS if os.environ.get(v))
    exporting = Exporting(run, endpoint, shown)
    exporting.options = options
    ctx.call_on_close(exporting.export)
    return exporting


__all__ = ["ENV_OTLP", "Exporting", "OtlpOpt", "Traced", "otlp_endpoint", "traced"]
