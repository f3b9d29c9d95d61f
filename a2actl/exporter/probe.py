"""One exporter probe: the handshake probe of ``a2actl handshake probe`` (one sample, a new
connection, the httpx-trace clock: ``a2actl.probe.handshake.run_probe``) under a module's settings
and a deadline, turned into a ``ProbeResult`` that never raises for an agent's fault.

A failure has a ``cause`` (one word, the names ``fleet probe`` uses) and an ``error_code`` (what the
``error_code`` label of ``a2a_errors_total`` and ``probe_failure_info`` says):

================  ===========================================================  ===================
cause             when                                                          error_code
================  ===========================================================  ===================
dns               the host name did not resolve                                ``dns``
refused           nothing listens on the port                                  ``refused``
tls               the TLS handshake failed                                     ``tls``
unreachable       the connection was lost or could not be made otherwise      ``unreachable``
timeout           a connect/read timeout, or the module's deadline passed      ``timeout``
                  (``failed_phase``: where it was caught, ``phases``: those done)
auth              HTTP 401/403, or an A2A auth error                           ``http_401`` …
http-4xx/-5xx     any other HTTP error status                                  ``http_503`` …
invalid-card      the card is not JSON, not a card, or over 10 MiB (card       ``protocol``
                  phases)
version-mismatch  no interface to negotiate (none of a version a2actl knows,    ``negotiation`` or the
                  as fleet probe), or the first RPC answered                   A2A code (``-32009``)
                  VersionNotSupported (-32009) / the other version works
rpc-error         the first RPC answered an A2A error other than TaskNotFound  the A2A code (``-32601``;
                                                                               ``a2a_error`` without an
                                                                               integer code)
send-failed       the send check failed, or its task ended failed/rejected/    the A2A code, or
                  canceled                                                     ``task_failed`` …
not-allowed       the card names its interface on a host outside the allow_targets  ``not_allowed``
                  of a module that sends credentials (nothing is sent there)
protocol          a protocol violation after the card (malformed JSON-RPC …,   ``protocol``, ``no_such_route``, ``stream_cut``,
                  an interface URL that cannot be requested: relative, not     ``http_302`` …
                  http(s)), no HTTP answer to the card request, a redirect
                  a2actl does not follow (without ``-L``: its status), or under
                  ``-L`` a redirect loop (the last status) or one to a URL it
                  cannot follow (``protocol``)
over-budget       every check passed but a module budget was exceeded         ``over_budget``
error             anything else                                                the error's code
================  ===========================================================  ===================

The error's message (for ``/probe?debug=true``) is masked with the process' known secrets and those
the probe met (its target's, the card's interface URL's, a redirect's), which are not kept past the
probe; labels never carry messages, URLs or header values.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from a2actl.core.config import Settings, new_trace_id
from a2actl.core.errors import A2ACtlError, UsageError
from a2actl.core.phases import PHASES

if TYPE_CHECKING:
    from a2actl.exporter.config import Module
    from a2actl.probe.budget import Budget

#: The phases whose sum is the handshake (``a2a_handshake_duration_seconds``): the card request,
#: its parse, the negotiation and the first RPC. ``session`` (never run here), ``first_event`` and
#: ``terminal`` (the send check: ``a2a_task_duration_seconds``) are not part of it.
HANDSHAKE_PHASES: tuple[str, ...] = ("dns", "connect", "tls", "ttfb", "transfer", "parse", "negotiate", "rpc")
SEND_PHASES: tuple[str, ...] = ("first_event", "terminal")
_BAD_FINAL_STATES = ("failed", "rejected", "canceled")
_HTTP_STATUS = re.compile(r"answered HTTP (\d{3})\b")


@dataclass
class ProbeResult:
    """What one probe found. ``duration``: wall seconds of the whole probe (``probe_duration_seconds``);
    ``phases``: the sample's phase durations (seconds, ``a2actl.core.phases.PHASES`` names);
    ``handshake``: the handshake phases summed when the first RPC answered healthy (else ``None``);
    ``task``: ``first_event`` + ``terminal`` when the send check reached a terminal state (else
    ``None``); ``version``/``binding``: negotiated (``None`` when negotiation did not happen);
    ``declared_versions``: the versions the card declares; ``cause``/``error_code``/``failed_phase``:
    why it failed (``None`` on success; see the module docstring); ``message``: the error's one
    line, secrets masked."""

    success: bool
    duration: float
    phases: dict[str, float] = field(default_factory=dict)
    handshake: float | None = None
    task: float | None = None
    version: str | None = None
    binding: str | None = None
    declared_versions: tuple[str, ...] = ()
    card_shape: str | None = None
    cause: str | None = None
    error_code: str | None = None
    failed_phase: str | None = None
    message: str | None = None
    final_state: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``/probe?debug=true`` document (seconds; no secrets)."""
        return {
            "success": self.success,
            "duration": self.duration,
            "phases": {p: self.phases[p] for p in PHASES if p in self.phases},
            "handshake": self.handshake,
            "task": self.task,
            "version": self.version,
            "binding": self.binding,
            "declaredVersions": list(self.declared_versions),
            "cardShape": self.card_shape,
            "cause": self.cause,
            "errorCode": self.error_code,
            "failedPhase": self.failed_phase,
            "message": self.message,
            "finalState": self.final_state,
        }


def probe_settings(
    base: Settings,
    module: Module,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    token: str | None = None,
) -> Settings:
    """The settings of one probe: ``base`` (the command's TLS options and timeouts, without its
    credentials) with the module's headers, token, version and binding, then an inventory agent's own
    ``headers`` and ``token`` on top; connect and read timeouts at most ``timeout`` seconds; a new
    trace id per probe. Header names compare case-insensitively (an agent's ``x-api-key`` replaces
    the module's ``X-Api-Key``; both went out)."""
    own = dict(headers or {})
    taken = {k.lower() for k in own}
    merged = {k: v for k, v in module.headers if k.lower() not in taken}
    merged.update(own)
    return replace(
        base,
        headers=tuple(merged.items()),
        token=token or module.token,
        a2a_version=module.a2a_version,
        binding=module.binding,
        connect_timeout=min(base.connect_timeout, timeout),
        read_timeout=min(base.read_timeout, timeout),
        trace_id=new_trace_id(),
    )


def normalise_target(text: str) -> str:
    """A ``/probe`` target as a URL: a bare ``host:port`` gets ``http://`` (as blackbox_exporter and
    curl do) without ever being looked up as a local file. Raises ``UsageError`` for an empty target,
    another scheme, a malformed URL, a control character, or a host no request can reach
    (``agent.target.host_problem``: ``a..b``, a 64-character label)."""
    from urllib.parse import urlsplit

    from a2actl.agent.target import parse_target
    from a2actl.core.hostnames import host_problem

    t = text.strip()
    if not t:
        raise UsageError("target is empty")
    if not t.isprintable():
        raise UsageError(f"target {text!r} has a control character in it")
    if "://" not in t:
        t = "http://" + t
    if not t.lower().startswith(("http://", "https://")):
        raise UsageError(f"target {text!r}: use an http:// or https:// URL")
    target = parse_target(t)
    if not target.is_remote:  # pragma: no cover - parse_target only reads files for non-URLs
        raise UsageError(f"target {text!r} is not a URL")
    problem = host_problem(urlsplit(target.value).hostname or "")
    if problem:
        raise UsageError(f"target {text!r}: {problem}")
    return target.value


async def probe_target(
    url: str,
    module: Module,
    base: Settings,
    *,
    timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    token: str | None = None,
    budgets: Sequence[Budget] | None = None,
) -> ProbeResult:
    """Probe ``url`` (an http(s) URL: base or card URL) with ``module``: one handshake on a new
    connection, then the send check when the module has it, all within ``timeout`` seconds (default
    the module's). ``headers``/``token``: an inventory agent's own; ``budgets`` replace the module's.

    The secrets the probe meets (``url``'s own, the card's interface URL, a redirect's ``Location``
    under ``-L``) are registered in a ``core.redact.secret_scope`` of this probe: masked in the
    result's ``message``, never added to the process registry, which would grow with each target
    a long-running exporter is sent.

    Never raises for the agent's faults (they become ``cause``/``error_code``); cancellation
    propagates."""
    from a2actl.core.redact import register_url, secret_scope

    with secret_scope():
        register_url(url)
        result = await _probe(url, module, base, timeout, headers, token, budgets)
        if result.message:
            result.message = _masked(result.message)
        return result


async def _probe(
    url: str,
    module: Module,
    base: Settings,
    timeout: float | None,
    headers: Mapping[str, str] | None,
    token: str | None,
    budgets: Sequence[Budget] | None,
) -> ProbeResult:
    """``probe_target``'s work, inside its secret scope; ``message`` not masked yet."""
    from a2actl.agent.target import parse_target
    from a2actl.core.deadline import within
    from a2actl.probe.handshake import run_probe
    from a2actl.probe.report import ProbeOptions
    from a2actl.probe.sample import watch_samples

    limit = module.timeout if timeout is None else timeout
    settings = probe_settings(base, module, timeout=limit, headers=headers, token=token)
    opts = ProbeOptions(
        target=parse_target(url),
        card_path=module.card_path,
        samples=1,
        concurrency=1,
        send_text=module.send_text if module.sends else None,
        budgets=tuple(module.budgets if budgets is None else budgets),
        # a card may name any host as its interface: the module's credentials go only to hosts
        # its allow_targets list, as the /probe target itself (docs/monitoring.md)
        interface_allowed=module.allows_interface
        if module.has_credentials and module.allow_targets
        else None,
        # a card of versions a2actl does not know is version-mismatch before anything is sent, as
        # fleet probe says (docs/monitoring.md); it was spoken as 0.3, as handshake probe does
        known_versions_only=True,
    )
    t0 = time.perf_counter()
    try:
        with watch_samples() as watch:
            report = await within(run_probe(opts, settings), limit)
    except asyncio.TimeoutError:
        # where the deadline caught it: the sample's phase and those completed before it; no
        # sample yet means discovery, the card request
        sample = watch.sample
        phase = (sample.failed_phase if sample is not None else None) or "card"
        result = ProbeResult(
            False,
            time.perf_counter() - t0,
            phases=dict(sample.phases) if sample is not None else {},
            cause="timeout",
            error_code="timeout",
            failed_phase=phase,
            message=f"no result within the probe's {limit:g}s deadline (in the {phase} phase)",
        )
        if sample is not None and sample.negotiated is not None:
            result.version = sample.negotiated.protocol_version
            result.binding = sample.negotiated.protocol_binding
        return result
    except A2ACtlError as err:  # discovery or negotiation: no sample ran
        cause, code = classify(err.to_json()["error"], "card")
        phase = "card"
        if err.message.startswith("negotiation failed"):
            cause, code, phase = "version-mismatch", "negotiation", "negotiate"
        return ProbeResult(
            False,
            time.perf_counter() - t0,
            cause=cause,
            error_code=code,
            failed_phase=phase,
            message=err.message,
        )
    duration = time.perf_counter() - t0
    sample = report.samples[0]
    result = ProbeResult(
        sample.ok,
        duration,
        phases=dict(sample.phases),
        version=report.selection.family.value,
        binding=report.selection.interface.protocol_binding,
        declared_versions=tuple(report.declared_versions),
        card_shape=report.card_shape,
    )
    if sample.negotiated is not None:
        result.version = sample.negotiated.protocol_version
        result.binding = sample.negotiated.protocol_binding
    if "rpc" in sample.phases and sample.failed_phase != "rpc":
        result.handshake = sum(sample.phases.get(p, 0.0) for p in HANDSHAKE_PHASES)
    # a --send task that ended failed/rejected/canceled fails the sample (check_failed): the
    # send-failed cause below, with the task's state as its code
    task_refused = sample.error_class == "check_failed" and sample.send is not None
    if not sample.ok and not task_refused:
        error = sample.error or {}
        result.failed_phase = sample.failed_phase
        result.cause, result.error_code = classify(error, sample.failed_phase)
        check = report.version_check
        if check is not None and check.retry_ok:
            result.cause = "version-mismatch"
        result.message = str(error.get("message", ""))
        return result
    if sample.send is not None:
        state = _canonical(sample.send.final_state)
        result.final_state = state
        if state in _BAD_FINAL_STATES:
            result.success = False
            result.cause, result.error_code = "send-failed", f"task_{state}"
            result.failed_phase = "terminal"
            result.message = f"the send check's task ended {state}"
        else:
            result.task = sum(sample.phases.get(p, 0.0) for p in SEND_PHASES)
    if result.success and report.budget.violations:
        result.success = False
        result.cause, result.error_code = "over-budget", "over_budget"
        result.message = "; ".join(v.message for v in report.budget.violations)
    return result


def classify(error: Mapping[str, Any], phase: str | None) -> tuple[str, str]:
    """``(cause, error_code)`` of a failure: ``error`` is the inner dict of an ``A2ACtlError``'s
    ``to_json()`` (``code``, ``message``, ``a2aCode``, ``details.httpStatus``), ``phase`` where it
    broke (``card`` … ``terminal``). See the table in the module docstring."""
    code = str(error.get("code") or "error")
    message = str(error.get("message") or "")
    a2a = error.get("a2aCode")
    details = error.get("details")
    status = details.get("httpStatus") if isinstance(details, dict) else None
    sending = phase in SEND_PHASES
    if code == "unreachable":
        if "DNS lookup" in message:
            return "dns", "dns"
        if "refused" in message:
            return "refused", "refused"
        if "TLS handshake" in message:
            return "tls", "tls"
        return "unreachable", "unreachable"
    if code == "timeout":
        return "timeout", "timeout"
    if code == "not_allowed":  # the interface is on a host the module's allow_targets do not list
        return "not-allowed", "not_allowed"
    if code == "auth":
        if not isinstance(status, int):  # check_auth says the status in its message only
            m = _HTTP_STATUS.search(message)
            status = int(m.group(1)) if m else None
        return "auth", f"http_{status}" if status is not None else "auth"
    if isinstance(a2a, int) and not isinstance(a2a, bool):
        if sending:
            return "send-failed", str(a2a)
        return ("version-mismatch" if a2a == -32009 else "rpc-error"), str(a2a)
    if isinstance(status, int) and not isinstance(status, bool):
        if sending:
            return "send-failed", f"http_{status}"
        if status < 400:  # an unfollowed redirect (without -L), or a loop (-L): not an HTTP error
            return "protocol", f"http_{status}"
        return ("http-5xx" if status >= 500 else "http-4xx"), f"http_{status}"
    if code == "a2a_error":
        # a JSON-RPC error without an integer code (true, missing): an A2A error all the same, as
        # fleet probe says (rpc-error); 'error' was no cause docs/monitoring.md lists
        return ("send-failed" if sending else "rpc-error"), "a2a_error"
    if code == "http_status":
        # no status: under -L, a redirect to a URL a2actl cannot follow (file://, gopher://), as
        # fleet probe says; 'error'/'http_status' was no cause docs/monitoring.md lists
        return ("send-failed" if sending else "protocol"), "protocol"
    if code == "usage":
        # the /probe target and the module were checked before the probe, so this is a URL the agent
        # gave that cannot be requested: a card's interface URL that is relative, not http(s), or has
        # a control character in it. fleet probe calls it protocol; 'error'/'usage' blamed the caller
        return ("send-failed" if sending else "protocol"), "protocol"
    if code in ("protocol", "no_such_route", "stream_cut"):
        if phase in ("card", "parse") and not message.startswith("malformed HTTP from "):
            return "invalid-card", code
        return ("send-failed" if sending else "protocol"), code
    return ("send-failed" if sending else "error"), code


def _canonical(state: str | None) -> str | None:
    from a2actl.protocol.versions import canonical_state

    return canonical_state(state) if state else None


def _masked(text: str) -> str:
    """``text`` with every secret the process knows masked (``a2actl.core.redact.Redactor``), and
    those of the current ``secret_scope``."""
    from a2actl.core.redact import Redactor

    return Redactor()(text)


__all__ = [
    "HANDSHAKE_PHASES",
    "SEND_PHASES",
    "ProbeResult",
    "classify",
    "normalise_target",
    "probe_settings",
    "probe_target",
]
