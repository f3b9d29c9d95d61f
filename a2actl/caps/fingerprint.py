"""``caps fingerprint``: what an endpoint actually speaks, set against what its card claims.

Only side-effect-free calls are made (GetTask / ``tasks/get`` on a random task id, card GETs).
For each distinct (url, binding) of the card's JSON-RPC and HTTP+JSON interfaces:

* **1.0**: ``GetTask`` (JSON-RPC) or ``GET {url}/tasks/{id}`` (HTTP+JSON) with ``A2A-Version: 1.0``
  (spec v1.0 §3.2.6, §9, §11).
* **0.3**: ``tasks/get`` or ``GET {url}/v1/tasks/{id}`` without the header (a missing header means
  0.3, spec v1.0 §3.2.6).
* A version "answers" when the call returns a Task (a success whose body is no Task is an
  ``error``) or ``TaskNotFoundError`` (-32001, HTTP 404
  with reason ``TASK_NOT_FOUND``): the method exists and the version is accepted. ``-32009``,
  ``-32601``, HTTP 400 ``VERSION_NOT_SUPPORTED`` or a bare 404 mean it is not spoken.
* **A2A-Version honoured**: where 1.0 answers, ``GetTask`` is repeated with ``A2A-Version: 99.0``
  (must be rejected, -32009) and without the header (must not be read as 1.0).
* **Card variants**: the card URL is fetched with no header, ``A2A-Version: 0.3`` and ``1.0``; a
  server that serves different cards (the JS SDK does) should send ``Vary: A2A-Version``.
* **Bindings agree**: JSON-RPC, HTTP+JSON and gRPC of the same agent should speak the same versions
  (spec v1.0 §5.1 functional equivalence).
* **gRPC** (each distinct ``GRPC`` interface URL, with the ``grpc`` extra; spec v1.0 §10): the same
  probes over the channel: 1.0 = ``lf.a2a.v1.A2AService/GetTask`` with metadata ``a2a-version: 1.0``,
  0.3 = ``a2a.v1.A2AService/GetTask`` (``name: tasks/{id}``) without ``a2a-version``; NOT_FOUND with
  ``ErrorInfo`` reason ``TASK_NOT_FOUND`` answers (the interface is healthy), UNIMPLEMENTED rejects
  (the service is not there). Where 1.0 answers, ``a2a-version: 99.0`` and no ``a2a-version`` show
  which version metadata it honours (a2a-sdk 1.3's ``GrpcHandler`` reads none). Server reflection
  (``grpc.reflection.v1``, then ``v1alpha``): whether it is on, and the services it lists. Without
  the extra, a gRPC interface is not probed and a note says ``pip install 'a2actl[grpc]'`` (never an
  error of the agent).

Each mismatch has a plain-language ``message``, a ``suggestion`` (usually a flag) and a severity;
``error`` mismatches (the card claims a version the endpoint rejects) make the command exit 7.

The probes themselves are in ``a2actl.caps.endpoints``; this module sets them against the card.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from a2actl.caps.endpoints import (
    FAMILIES,
    EndpointPrint,
    Probe,
    bindings_agree,
    card_variants,
    endpoints_of,
    probe_endpoint,
)
from a2actl.core.exit_codes import ExitCode
from a2actl.protocol.versions import BINDING_GRPC, Family

if TYPE_CHECKING:
    from a2actl.agent.discovery import CardFetch
    from a2actl.transport.grpc import GrpcClient
    from a2actl.transport.grpc_probe import RawAnswer
    from a2actl.transport.http import HttpTransport

__all__ = ["Fingerprint", "GrpcEndpointPrint", "Mismatch", "explain", "fingerprint"]

GRPC_INSTALL = "pip install 'a2actl[grpc]'"


@dataclass
class GrpcEndpointPrint(EndpointPrint):
    """What one ``GRPC`` interface URL answers (``EndpointPrint`` with ``binding="GRPC"``), plus
    ``reflection`` (``a2actl.transport.grpc_probe.Reflection.to_json()``: ``enabled``, ``service``,
    ``services``, ``status``) and ``skipped`` (why it was not probed: the extra is missing, or the URL
    cannot be used; ``None`` when probed)."""

    reflection: dict[str, Any] | None = None
    skipped: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``EndpointPrint.to_json()`` plus ``reflection`` and ``skipped``."""
        out = super().to_json()
        out["reflection"] = self.reflection
        out["skipped"] = self.skipped
        return out


@dataclass
class Mismatch:
    """A difference between the card and the endpoint, with a suggested flag or fix."""

    severity: str  # error | warning | info
    message: str
    suggestion: str
    url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"severity", "message", "suggestion", "url"}``."""
        return {
            "severity": self.severity,
            "message": self.message,
            "suggestion": self.suggestion,
            "url": self.url,
        }


@dataclass
class Fingerprint:
    """The whole report. ``verdict`` is ``1.0-only``, ``0.3-only``, ``0.3-compat`` (both) or ``none``."""

    source: str
    shape: str
    endpoints: list[EndpointPrint]
    card_variants: dict[str, Any] | None
    mismatches: list[Mismatch]
    #: The URL that served the card when ``-L`` followed redirects from ``source`` to another.
    final_url: str | None = None

    @property
    def speaks(self) -> list[str]:
        """The families any endpoint answered, newest first."""
        return [f for f in FAMILIES if any(f in e.speaks for e in self.endpoints)]

    @property
    def verdict(self) -> str:
        """``1.0-only``, ``0.3-only``, ``0.3-compat`` (both answer) or ``none``."""
        s = set(self.speaks)
        return {
            frozenset({"1.0"}): "1.0-only",
            frozenset({"0.3"}): "0.3-only",
            frozenset({"1.0", "0.3"}): "0.3-compat",
        }.get(frozenset(s), "none")

    @property
    def exit(self) -> ExitCode:
        """7 (``CHECK_FAILED``) when the card claims something the endpoint rejects (an ``error``
        mismatch); when no probe of any endpoint got an answer either way (neither answers nor
        rejects: every one unreachable, refused, timed out, or answered garbage), the first
        failure's exit code (``Probe.exit_code``: 3, 4, 5, 6 or 1), as ``handshake probe`` exits
        on the same agent: nothing was checked, so "speaks nothing" is no finding. Else 0."""
        if any(m.severity == "error" for m in self.mismatches):
            return ExitCode.CHECK_FAILED
        probes = [p for e in self.endpoints for p in e.probes.values()]
        if probes and all(p.verdict == "error" for p in probes):
            return ExitCode(probes[0].exit_code)
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"source", "finalUrl", "shape", "verdict", "speaks", "declared", "endpoints",
        "cardVariants", "bindingsAgree", "mismatches"}`` (``caps fingerprint`` adds ``notes``)."""
        return {
            "source": self.source,
            "finalUrl": self.final_url,
            "shape": self.shape,
            "verdict": self.verdict,
            "speaks": self.speaks,
            "declared": sorted({f for e in self.endpoints for f in e.declared}, reverse=True),
            "endpoints": [e.to_json() for e in self.endpoints],
            "cardVariants": self.card_variants,
            "bindingsAgree": bindings_agree(self.endpoints),
            "mismatches": [m.to_json() for m in self.mismatches],
        }


def explain(endpoints: list[EndpointPrint], variants: dict[str, Any] | None) -> list[Mismatch]:
    """Plain-language mismatches between the card and the probes."""
    out: list[Mismatch] = []
    for ep in endpoints:
        name = f"{ep.binding} {ep.url}"
        speaks = ep.speaks
        grpc = ep.binding == BINDING_GRPC
        if isinstance(ep, GrpcEndpointPrint) and ep.skipped:
            out.append(Mismatch("info", f"{name}: not probed: {ep.skipped}", _skip_hint(ep.skipped), ep.url))
            continue
        for fam in ep.declared:
            probe = ep.probes.get(fam)
            if probe is None or probe.verdict == "answers":
                continue
            if probe.verdict == "error":
                out.append(
                    Mismatch(
                        "warning",
                        f"{name}: could not check the declared {fam}: {probe.detail}",
                        "check connectivity and credentials (A2ACTL_TOKEN), then rerun",
                        ep.url,
                    )
                )
                continue
            other = [f for f in speaks if f != fam]
            if fam == "1.0" and "0.3" in speaks:
                msg = (
                    f"{name}: the card declares 1.0 but 1.0 calls are rejected ({probe.detail}) while 0.3 "
                    "calls answer: the server is 0.3-only, or a proxy strips the A2A-Version header"
                )
                sug = "--a2a-version 0.3 (and fix the card, or let A2A-Version through the proxy)"
            elif other:
                msg = f"{name}: the card declares {fam} but the endpoint rejects it ({probe.detail}); it speaks {', '.join(other)}"
                sug = f"--a2a-version {other[0]} (and fix the card's protocolVersion)"
            else:
                msg = f"{name}: the card declares {fam} but the endpoint rejects it ({probe.detail})"
                sug = "check the interface url and binding in the card"
            out.append(Mismatch("error", msg, sug, ep.url))
        for fam in speaks:
            if fam not in ep.declared:
                out.append(
                    Mismatch(
                        "info",
                        f"{name}: also answers {fam}, which the card does not declare here",
                        f"--a2a-version {fam} works on this url; declare it in supportedInterfaces "
                        "if clients should use it",
                        ep.url,
                    )
                )
        if ep.header_honoured() is False:
            out.append(
                Mismatch(
                    "warning",
                    f"{name}: the a2a-version metadata is ignored (GetTask with 'a2a-version: 99.0' "
                    "answered instead of VERSION_NOT_SUPPORTED)"
                    if grpc
                    else f"{name}: A2A-Version is ignored (GetTask with 'A2A-Version: 99.0' "
                    "answered instead of VersionNotSupportedError -32009)",
                    "do not rely on version negotiation here; pin --a2a-version",
                    ep.url,
                )
            )
        if ep.missing_header_as() == "1.0":
            out.append(
                Mismatch(
                    "info",
                    f"{name}: 1.0 calls without {'a2a-version metadata' if grpc else 'A2A-Version'} "
                    "are accepted (the spec reads a missing version as 0.3)",
                    "clients that omit the header work here but will fail on spec-strict servers",
                    ep.url,
                )
            )
    agree = bindings_agree(endpoints)
    if agree is False:
        by: dict[str, set[str]] = {}
        for e in endpoints:
            by.setdefault(e.binding, set()).update(e.speaks)
        desc = "; ".join(
            f"{b} speaks {', '.join(sorted(v, reverse=True)) or 'nothing'}" for b, v in sorted(by.items())
        )
        best = max(by, key=lambda b: len(by[b]))
        out.append(
            Mismatch(
                "warning",
                f"the bindings disagree: {desc} (spec v1.0 §5.1 wants them equivalent)",
                f"--binding {best}",
                None,
            )
        )
    if variants and variants.get("varies"):
        if variants.get("varyNamesVersion"):
            out.append(
                Mismatch(
                    "info",
                    "the served card changes with A2A-Version (Vary: A2A-Version is set)",
                    "compare them with 'a2actl card get URL -H \"A2A-Version: 1.0\"' and without",
                    None,
                )
            )
        else:
            out.append(
                Mismatch(
                    "warning",
                    "the served card changes with A2A-Version but the response has no "
                    "'Vary: A2A-Version': caches and CDNs may hand clients the wrong card",
                    "add Vary: A2A-Version on the card endpoint",
                    None,
                )
            )
    return out


def _skip_hint(skipped: str) -> str:
    return GRPC_INSTALL if "a2actl[grpc]" in skipped else "check the interface url in the card (host:port)"


def grpc_endpoints_of(fetched: CardFetch) -> list[GrpcEndpointPrint]:
    """The distinct ``GRPC`` interface URLs of the card, with the families declared for each."""
    eps: dict[str, GrpcEndpointPrint] = {}
    for iface in fetched.view.interfaces:
        if iface.protocol_binding != BINDING_GRPC:
            continue
        ep = eps.setdefault(iface.url.strip(), GrpcEndpointPrint(iface.url, BINDING_GRPC, iface.tenant, []))
        fam = iface.family
        label = "1.0" if fam is Family.V1_0 else "0.3" if fam in (Family.V0_3, Family.V0_2) else None
        if label and label not in ep.declared:
            ep.declared.append(label)
    return list(eps.values())


def _grpc_probe(answer: RawAnswer) -> Probe:
    """A gRPC probe's answer as a ``Probe`` (``httpStatus`` ``None``; ``code`` the A2A code). The
    failures of the call itself (no channel, UNAVAILABLE, UNAUTHENTICATED, DEADLINE_EXCEEDED without
    an A2A ErrorInfo) are ``error``; the rest is read by the one classifier
    (``a2actl.protocol.jsonrpc.verdict_of``) after ``decode_grpc_error``."""
    from a2actl.protocol.grpc_errors import TRANSPORT_STATUSES, decode_grpc_error, error_info
    from a2actl.protocol.jsonrpc import verdict_of

    service = answer.method.strip("/").split("/")[0]
    call = f"GetTask ({service})"
    headers = {k: v for k, v in answer.metadata if k == "a2a-version"}
    if answer.status == "OK":
        return Probe(call, headers, "answers", "gRPC OK", None, None)
    if answer.status == "NO_CALL":  # the channel never got ready: its error's code (5, 3, …)
        return Probe(call, headers, "error", answer.message, None, None, answer.exit_code)
    if answer.status in TRANSPORT_STATUSES and error_info(answer.details) is None:
        detail = f"gRPC {answer.status}" + (f": {answer.message[:120]}" if answer.message else "")
        if TRANSPORT_STATUSES[answer.status] == 4:
            detail += "; set A2ACTL_TOKEN"
        return Probe(call, headers, "error", detail, None, None, TRANSPORT_STATUSES[answer.status])
    dec = decode_grpc_error(answer.status, answer.message, answer.details, method="GetTask")
    verdict = verdict_of(dec)
    named = f"gRPC {answer.status} {dec.name}" + (f" {dec.code}" if dec.code is not None else "")
    if verdict == "answers":
        detail = f"{named} (expected for a random id)"
    else:
        detail = named + (f": {dec.message[:120]}" if dec.message else "")
    return Probe(call, headers, verdict, detail, None, dec.code)


async def probe_grpc_endpoint(transport: HttpTransport, ep: GrpcEndpointPrint) -> GrpcEndpointPrint:
    """Fill a gRPC endpoint's probes, header probes and reflection (module docstring) over one channel;
    without the extra, or for a URL that cannot be used, set ``ep.skipped`` instead. Never raises for
    the agent's answers."""
    from a2actl.agent.connect import grpc_available
    from a2actl.core.errors import UsageError

    if not grpc_available():
        ep.skipped = f"the gRPC extra is not installed ({GRPC_INSTALL})"
        return ep
    from a2actl.protocol.card import Interface
    from a2actl.protocol.negotiation import Selection
    from a2actl.transport.grpc import GrpcClient
    from a2actl.transport.grpc_probe import get_task, reflection

    iface = Interface(ep.url, BINDING_GRPC, "1.0", Family.V1_0, "caps fingerprint", ep.tenant)
    try:
        client: GrpcClient = GrpcClient(transport, Selection(iface, Family.V1_0, "caps fingerprint"))
    except UsageError as exc:
        ep.skipped = exc.message
        return ep
    try:
        ep.probes["1.0"] = _grpc_probe(await get_task(client, "1.0", "1.0"))
        ep.probes["0.3"] = _grpc_probe(await get_task(client, "0.3", None))
        if ep.probes["1.0"].verdict == "answers":
            ep.header_probes["unknown"] = _grpc_probe(await get_task(client, "1.0", "99.0"))
            ep.header_probes["missing"] = _grpc_probe(await get_task(client, "1.0", None))
        ep.reflection = (await reflection(client)).to_json()
    finally:
        await client.aclose()
    return ep


async def fingerprint(fetched: CardFetch, transport: HttpTransport) -> Fingerprint:
    """Probe every JSON-RPC / HTTP+JSON endpoint of a loaded card, then its gRPC interfaces (see the
    module docstring). Per-call failures are recorded in the probes, never raised."""
    endpoints: list[EndpointPrint] = list(endpoints_of(fetched))
    for ep in endpoints:
        await probe_endpoint(transport, ep)
    for gep in grpc_endpoints_of(fetched):
        endpoints.append(await probe_grpc_endpoint(transport, gep))
    variants = await card_variants(transport, fetched.source) if fetched.http is not None else None
    return Fingerprint(
        fetched.source,
        fetched.view.shape,
        endpoints,
        variants,
        explain(endpoints, variants),
        fetched.final_url,
    )
