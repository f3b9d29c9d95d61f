"""What ``handshake probe`` returns: the options, one ``Sample`` per timed handshake, the optional
version diagnosis, the budget verdict, and the ``ProbeReport`` that holds them all.

The ``-o json`` document (``ProbeReport.to_json``) is documented in ``docs/output-formats.md``
(``handshake probe``); all times are seconds, sizes bytes. Exit codes: ``docs/exit-codes.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from a2actl.core.exit_codes import ExitCode
from a2actl.core.phases import CARD_PHASES, CURL_NAMES, PHASES
from a2actl.core.stats import histogram, summarize
from a2actl.probe.budget import Budget, BudgetVerdict

if TYPE_CHECKING:
    from a2actl.agent.target import Target
    from a2actl.protocol.negotiation import Selection
#: Failure classes, the more severe first (ties of ``ProbeReport.exit``). ``usage``: a sample that
#: could not be made as asked (a header gRPC metadata cannot carry, a gRPC URL a2actl refuses).
FAILURE_ORDER = (
    "usage",
    "unreachable",
    "auth",
    "timeout",
    "protocol",
    "a2a_error",
    "http_status",
    "error",
    "check_failed",
)

#: The exit code of each failure class (``docs/exit-codes.md``).
CLASS_EXIT: dict[str, ExitCode] = {
    "unreachable": ExitCode.UNREACHABLE,
    "auth": ExitCode.AUTH,
    "timeout": ExitCode.TIMEOUT,
    "protocol": ExitCode.PROTOCOL,
    "a2a_error": ExitCode.ERROR,
    "http_status": ExitCode.ERROR,
    "error": ExitCode.ERROR,
    "usage": ExitCode.USAGE,
    "check_failed": ExitCode.CHECK_FAILED,  # a --send task that ended failed/rejected/canceled
}


@dataclass(frozen=True)
class ProbeOptions:
    """What to probe and how. ``samples`` are counted after ``warmup`` (untimed); ``concurrency``
    samples run at once; ``reuse``: one connection pool for all samples (warm path) instead of a new
    connection per sample; ``send_text``: also time a real SendMessage; ``handshake_path``: also
    time a session handshake POST to this path; ``card_path`` replaces the discovery paths.
    ``interface_allowed``: a check of the negotiated interface's URL before any request goes to it
    (the exporter's ``allow_targets`` for a module that sends credentials); ``None`` allows any.
    ``known_versions_only``: under ``--a2a-version auto``, an interface whose ``protocolVersion``
    a2actl does not know is no candidate, and a card with no other fails negotiation (the exporter,
    as ``fleet probe``); otherwise such an interface is spoken as 0.3."""

    target: Target
    card_path: str | None = None
    samples: int = 1
    concurrency: int = 1
    warmup: int = 0
    reuse: bool = False
    send_text: str | None = None
    handshake_path: str | None = None
    budgets: tuple[Budget, ...] = ()
    interface_allowed: Callable[[str], bool] | None = None
    known_versions_only: bool = False


@dataclass(frozen=True)
class CardBytes:
    """The card response's size in bytes: ``wire`` as received (``None`` when not measured),
    ``decoded`` after the content coding ``content_encoding`` (``None``: identity)."""

    wire: int | None
    decoded: int
    content_encoding: str | None

    def to_json(self) -> dict[str, Any]:
        """``{"wire", "decoded", "contentEncoding"}``."""
        return {"wire": self.wire, "decoded": self.decoded, "contentEncoding": self.content_encoding}


@dataclass(frozen=True)
class Negotiated:
    """The interface a sample negotiated from the card (``a2actl.protocol.negotiation.select_interface``)."""

    url: str
    protocol_binding: str
    protocol_version: str

    def to_json(self) -> dict[str, Any]:
        """``{"url", "protocolBinding", "protocolVersion"}``."""
        return {
            "url": self.url,
            "protocolBinding": self.protocol_binding,
            "protocolVersion": self.protocol_version,
        }


@dataclass(frozen=True)
class SessionOutcome:
    """``--handshake-path``: the session handshake POST. ``response`` is the answer body with
    secrets redacted (``a2actl.core.redact.redact_json``); ``token_issued`` whether it held a
    non-empty member whose name contains ``token``."""

    url: str
    status: int
    token_issued: bool
    response: Any

    def to_json(self) -> dict[str, Any]:
        """``{"url", "status", "tokenIssued", "response"}``."""
        return {
            "url": self.url,
            "status": self.status,
            "tokenIssued": self.token_issued,
            "response": self.response,
        }


@dataclass(frozen=True)
class SendOutcome:
    """``--send``: the real SendMessage. ``method`` as sent on the wire, ``streaming`` whether the
    streaming variant was used, ``events`` how many arrived, ``final_state`` the last task state,
    ``status_message`` the text of the status message that came with it (the agent's reason for a
    failed task; ``None`` when it had none, or the answer was a Message)."""

    method: str
    streaming: bool
    events: int
    final_state: str | None
    status_message: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"method", "streaming", "events", "finalState", "statusMessage"}``."""
        return {
            "method": self.method,
            "streaming": self.streaming,
            "events": self.events,
            "finalState": self.final_state,
            "statusMessage": self.status_message,
        }


@dataclass
class Sample:
    """One timed handshake (``index`` < 0 for warmups). ``phases`` are durations in seconds, in the
    order they ran; ``curl`` the card request's cumulative timings (seconds, curl's names, plus
    ``newConnection`` and ``remoteIp``). On failure ``error`` is the inner dict of the ``{"error":
    ...}`` object, ``error_class`` one of ``FAILURE_ORDER`` and ``failed_phase`` where it broke.
    ``rpc`` is the first RPC's outcome (``RpcOutcome.to_json`` plus ``wallSeconds``, ``healthy`` and
    ``meaning``)."""

    index: int
    ok: bool = False
    phases: dict[str, float] = field(default_factory=dict)
    curl: dict[str, Any] = field(default_factory=dict)
    card_bytes: CardBytes | None = None
    error: dict[str, Any] | None = None
    error_class: str | None = None
    failed_phase: str | None = None
    rpc: dict[str, Any] | None = None
    send: SendOutcome | None = None
    session: SessionOutcome | None = None
    negotiated: Negotiated | None = None
    #: For ``--otlp`` spans (``a2actl.telemetry.tree``), not in ``to_json``: when the sample started
    #: (nanoseconds since the Unix epoch) and the ``traceparent`` each of its requests carried, by
    #: phase (``card``, ``session``, ``rpc``, ``send``; a streamed ``--send`` is not recorded).
    started_ns: int = 0
    traceparents: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """The sum of the phases (seconds)."""
        return sum(self.phases.values())

    def metric(self, name: str) -> float | None:
        """The value of metric ``name`` (seconds): ``total``, ``card`` (the card phases summed,
        missing ones as 0), a curl name (``None`` when not measured) or a phase (``None`` when it
        did not run)."""
        if name == "total":
            return self.total
        if name == "card":
            return sum(self.phases.get(p, 0.0) for p in CARD_PHASES)
        if name in CURL_NAMES:
            v = self.curl.get(name)
            return float(v) if isinstance(v, (int, float)) else None
        return self.phases.get(name)

    def to_json(self) -> dict[str, Any]:
        """One entry of the document's ``samples`` (and, with ``-o jsonl``, one ``sample`` record)."""
        return {
            "index": self.index,
            "ok": self.ok,
            "total": self.total,
            "phases": self.phases,
            "curl": self.curl,
            "cardBytes": self.card_bytes.to_json() if self.card_bytes is not None else None,
            "failedPhase": self.failed_phase,
            "error": self.error,
            "errorClass": self.error_class,
            "rpc": self.rpc,
            "send": self.send.to_json() if self.send is not None else None,
            "session": self.session.to_json() if self.session is not None else None,
            "negotiated": self.negotiated.to_json() if self.negotiated is not None else None,
        }


@dataclass(frozen=True)
class VersionCheck:
    """After a version mismatch on the first RPC, the same GetTask retried once in the other wire
    family on the same URL: ``sent`` the family negotiated, ``retried_as`` the other. Either the
    retry raised (``retry_error``, ``retry_ok`` false) or it got an answer (``conclusion`` says what
    the endpoint speaks)."""

    sent: str
    retried_as: str
    retry_ok: bool
    retry_error: str | None = None
    conclusion: str | None = None

    @classmethod
    def answered(cls, url: str, sent: str, retried_as: str, works: bool) -> VersionCheck:
        """The retry got an answer; ``works`` when it was a result or TaskNotFound (-32001)."""
        return cls(
            sent,
            retried_as,
            works,
            conclusion=(
                f"{url} answers {retried_as} but not {sent}"
                if works
                else f"{url} answers neither version cleanly"
            ),
        )

    @classmethod
    def failed(cls, sent: str, retried_as: str, message: str) -> VersionCheck:
        """The retry itself failed (transport, protocol or auth error ``message``)."""
        return cls(sent, retried_as, False, retry_error=message)

    def to_json(self) -> dict[str, Any]:
        """``{"sent", "retriedAs", "retryOk", "retryError"}`` or ``{..., "conclusion"}``."""
        out: dict[str, Any] = {"sent": self.sent, "retriedAs": self.retried_as, "retryOk": self.retry_ok}
        if self.retry_error is not None:
            out["retryError"] = self.retry_error
        else:
            out["conclusion"] = self.conclusion
        return out


def phases_present(samples: Sequence[Sample]) -> list[str]:
    """The phases any sample (successful or not) timed, in ``PHASES`` order."""
    seen = {p for s in samples for p in s.phases}
    return [p for p in PHASES if p in seen]


def phase_stats(samples: Sequence[Sample]) -> dict[str, dict[str, Any]]:
    """Per phase present in any sample, then ``card`` and ``total``: ``summarize`` (count, min,
    p50, p90, p99, max, mean; seconds) over the successful samples."""
    ok = [s for s in samples if s.ok]
    out = {p: summarize([s.phases[p] for s in ok if p in s.phases]) for p in phases_present(samples)}
    out["card"] = summarize([s.metric("card") or 0.0 for s in ok])
    out["total"] = summarize([s.total for s in ok])
    return out


def failure_counts(samples: Sequence[Sample]) -> dict[str, int]:
    """Failed samples per failure class, in ``FAILURE_ORDER`` (classes with none left out)."""
    counts = Counter(s.error_class for s in samples if not s.ok and s.error_class)
    return {k: counts.get(k, 0) for k in FAILURE_ORDER if counts.get(k)}


@dataclass
class ProbeReport:
    """The result of a probe (a ``JobResult``): where the card was, what was negotiated, the timed
    samples, and the verdicts. ``exit`` is what the CLI exits with."""

    trace_id: str
    target: str
    card_url: str
    discovery_notes: list[str]
    card_shape: str
    declared_versions: list[str]
    selection: Selection
    samples: list[Sample]
    warmup: int
    options: ProbeOptions
    version_check: VersionCheck | None = None
    budget: BudgetVerdict = field(default_factory=BudgetVerdict)

    @property
    def ok_samples(self) -> list[Sample]:
        """The samples that completed every phase."""
        return [s for s in self.samples if s.ok]

    def failures(self) -> dict[str, int]:
        """Failed samples per failure class (``failure_counts``)."""
        return failure_counts(self.samples)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per phase (and ``card``, ``total``): count/min/p50/p90/p99/max/mean (seconds) over the
        successful samples (``phase_stats``)."""
        return phase_stats(self.samples)

    @property
    def total_p99(self) -> float | None:
        """The p99 of the total handshake time (seconds); ``None`` when no sample succeeded."""
        p99: float | None = self.stats()["total"]["p99"]
        return p99

    @property
    def exit(self) -> ExitCode:
        """The exit code of the most frequent failure class (ties: the more severe one, in
        ``FAILURE_ORDER``); else 7 (``CHECK_FAILED``) when a budget is violated; else 0."""
        fails = self.failures()
        if fails:
            dominant = max(fails, key=lambda k: (fails[k], -FAILURE_ORDER.index(k)))
            return CLASS_EXIT.get(dominant, ExitCode.ERROR)
        if self.budget.violations:
            return ExitCode.CHECK_FAILED
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """The ``-o json`` document of ``handshake probe`` (``docs/output-formats.md``)."""
        return {
            "traceId": self.trace_id,
            "target": self.target,
            "cardUrl": self.card_url,
            "discovery": {"notes": self.discovery_notes},
            "card": {"shape": self.card_shape, "declaredVersions": self.declared_versions},
            "negotiation": self.selection.to_json(),
            "versionCheck": self.version_check.to_json() if self.version_check is not None else None,
            "options": {
                "samples": self.options.samples,
                "concurrency": self.options.concurrency,
                "warmup": self.warmup,
                "reuse": self.options.reuse,
                "send": self.options.send_text is not None,
                "handshakePath": self.options.handshake_path,
            },
            "units": "seconds",
            "samples": [s.to_json() for s in self.samples],
            "stats": self.stats(),
            "histogram": histogram([s.total for s in self.ok_samples]),
            "failures": self.failures(),
            "budget": self.budget.to_json(),
            "exitCode": int(self.exit),
        }
