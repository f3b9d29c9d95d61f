"""The handshake probe: card fetch, parse, negotiation, optional session handshake, first RPC and
optional real send, each timed, over N samples with concurrency C.

Phases (durations in seconds, non-overlapping, in this order; see ``PHASES``):

=============  ==============================================================================
``dns``        name resolution (curl ``time_namelookup``)
``connect``    TCP connect (curl ``time_connect - time_namelookup``)
``tls``        TLS handshake (curl ``time_appconnect - time_connect``)
``ttfb``       card request sent → first response byte (server processing)
``transfer``   card first byte → last byte
``parse``      card JSON decode and normalisation
``negotiate``  interface and version selection
``session``    ``--handshake-path`` POST round trip (an explicit session handshake, docs/debug-endpoints.md)
``grpc_dns``   ``--binding GRPC``: name resolution of the gRPC interface's host (``getaddrinfo``)
``grpc_ready`` ``--binding GRPC``: channel created → READY; TCP connect, TLS and the HTTP/2 SETTINGS
               exchange in one (grpcio does not expose them apart; ``probe.sample.GRPC_NOT_MEASURED``)
``rpc``        first RPC: GetTask / ``tasks/get`` on a random id; TaskNotFound (-32001) means healthy,
               proving routing, version and auth without side effects. Timed on the wire: request
               sent → answer's last byte (curl ``time_total`` on the reused connection); the wall
               time, with the client's own encoding and decoding, is ``rpc.wallSeconds``
               Over gRPC: GetTask's call → its status (NOT_FOUND + TASK_NOT_FOUND is healthy);
               ``rpc.headersSeconds`` the response headers (initial metadata) when they came apart
``first_event`` ``--send``: request → first event (streaming) or the answer (blocking)
``terminal``   ``--send``: request → terminal or interrupted state
=============  ==============================================================================

Each sample also keeps the card request's curl-style cumulative timings (``time_namelookup`` …
``time_total``) and its size (``cardBytes``: on the wire and decoded, with the content coding).
Timings come from ``a2actl.transport.http`` (httpx ``trace`` extension).

The card is fetched once per sample: discovery's fetch (a new connection) is the first warmup's or,
with ``-c 1``, the first sample's card phase, so an agent whose card takes 8 s is probed in 8 s, not
16. With ``-c N --warmup 0`` discovery is fetched apart, so that no timed sample ran uncontended; with
``--reuse`` it is the request that opens the shared connection, and every sample times the warm path.

Modules: ``a2actl.core.phases`` (phase names and labels), ``a2actl.probe.budget`` (``--budget``),
``a2actl.probe.report`` (the result types), ``a2actl.probe.sample`` (one timed handshake); this
module runs the samples and diagnoses a version mismatch.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from a2actl.agent.discovery import CardFetch, fetch_card
from a2actl.core.errors import A2ACtlError, UsageError
from a2actl.core.sink import EventSink, NullSink
from a2actl.probe.budget import BudgetVerdict, check_budgets
from a2actl.probe.report import ProbeOptions, ProbeReport, Sample, VersionCheck, phase_stats
from a2actl.probe.sample import grpc_choice, one_sample
from a2actl.protocol.negotiation import NegotiationFailed, Selection, known_versions, select_interface
from a2actl.protocol.versions import BINDING_GRPC, Family

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.transport.http import HttpTransport

__all__ = ["needs_version_check", "run_probe", "version_check"]


def needs_version_check(failed: Sequence[Sample]) -> bool:
    """Whether a failed first RPC looks like a version mismatch: VersionNotSupportedError (-32009) or
    MethodNotFound (-32601), or (HTTP+JSON) a path the endpoint does not route, since 0.3 and 1.0
    REST paths differ (``/v1/tasks/{id}`` vs ``/tasks/{id}``, spec v1.0 §3.2.6 A2A-Version)."""
    return any(
        s.error
        and s.failed_phase == "rpc"
        and (s.error.get("a2aCode") in (-32009, -32601) or s.error.get("code") == "no_such_route")
        for s in failed
    )


async def version_check(
    transport: HttpTransport, selection: Selection, failed: Sequence[Sample]
) -> VersionCheck | None:
    """When the first RPC hit a version mismatch (``needs_version_check``), try GetTask once in the
    other wire family on the same URL to tell the operator what the endpoint really speaks.
    ``None`` when no failure looks like a mismatch. Never raises an ``A2ACtlError``."""
    from a2actl.transport.a2a import A2AClient

    if not needs_version_check(failed) or selection.interface.protocol_binding == BINDING_GRPC:
        return None  # over gRPC a2actl speaks only 1.0: there is no other family to try
    other = Family.V0_3 if selection.family is Family.V1_0 else Family.V1_0
    alt = Selection(selection.interface, other, f"diagnostic retry in {other.value}")
    try:
        out = await A2AClient(transport, alt).call("GetTask", {"id": f"a2actl-probe-{uuid.uuid4()}"})
    except A2ACtlError as err:
        return VersionCheck.failed(selection.family.value, other.value, err.message)
    works = out.error is None or out.error.code == -32001
    return VersionCheck.answered(selection.interface.url, selection.family.value, other.value, works)


def _select(fetched: CardFetch, settings: Settings, known_only: bool = False) -> Selection:
    """Negotiate the interface of the discovered card (the secrets in its URL registered:
    ``core.redact.register_url``); ``A2ACtlError`` (exit 1) when none fits. ``known_only``: under
    ``--a2a-version auto``, interfaces of a version a2actl does not know are no candidates
    (``ProbeOptions.known_versions_only``)."""
    from a2actl.core.redact import register_url

    try:
        view = fetched.view
        if known_only and settings.a2a_version == "auto":
            view = known_versions(view)
        selection = select_interface(view, settings.a2a_version, settings.binding, **grpc_choice(settings))
    except NegotiationFailed as exc:
        raise A2ACtlError(
            f"negotiation failed: {exc}", hint="see `a2actl card get` for what the card declares"
        ) from exc
    register_url(selection.interface.url)  # its userinfo/credential query values: never printed
    return selection


async def run_probe(
    opts: ProbeOptions,
    settings: Settings,
    sink: EventSink | None = None,
    on_sample: Callable[[Sample], None] | None = None,
) -> ProbeReport:
    """Probe ``opts.target``: discover the card once, then time ``opts.warmup`` untimed and
    ``opts.samples`` timed handshakes, ``opts.concurrency`` at a time.

    ``on_sample(sample)`` is called as each timed sample completes (for JSONL streaming). Raises
    ``UsageError`` (exit 2) for a card file target or ``--binding GRPC`` without the ``grpc`` extra, ``A2ACtlError`` (1) when negotiation fails, and
    the discovery error (``UnreachableError`` 3, ``TimeoutError_`` 5, ``HTTPStatusError`` 1,
    ``ProtocolViolation`` 6, ...) when the card cannot be found at all; per-sample failures are
    counted in the report instead.
    """
    from a2actl.agent.connect import check_grpc_extra
    from a2actl.transport.http import HttpTransport

    if not opts.target.is_remote:
        raise UsageError("handshake probe needs a URL, not a card file")
    check_grpc_extra(settings)  # --binding GRPC without the extra: exit 2 with the pip hint
    sink = sink or NullSink()
    shared = HttpTransport(settings, sink) if opts.reuse else None
    first: list[tuple[HttpTransport, CardFetch]] = []
    try:
        disco_transport = shared or HttpTransport(settings, sink)
        reusable = False
        try:
            fetched = await fetch_card(disco_transport, opts.target, opts.card_path)
            selection = _select(fetched, settings, opts.known_versions_only)
            # Without --reuse, discovery's fetch is the first sample's card phase (on the same
            # transport) when it opened its own connection (not after a 404 on the first path) and
            # the sample it stands for is a warmup or runs alone: under -c N, a timed sample whose
            # card was fetched before the others started would be the one uncontended sample.
            reusable = (
                shared is None
                and fetched.http is not None
                and fetched.http.timing.new_connection
                and (opts.warmup > 0 or opts.concurrency == 1)
            )
        finally:
            if shared is None and not reusable:
                await disco_transport.client.aclose()
        if reusable:
            first.append((disco_transport, fetched))

        async def one(idx: int) -> Sample:
            if shared is not None:
                return await one_sample(idx, shared, fetched.source, opts, settings)
            if first:
                tr, prefetched = first.pop()
                async with tr:
                    return await one_sample(idx, tr, fetched.source, opts, settings, prefetched)
            async with HttpTransport(settings, sink) as tr:
                return await one_sample(idx, tr, fetched.source, opts, settings)

        for w in range(opts.warmup):
            await one(-1 - w)
        sem = asyncio.Semaphore(max(1, opts.concurrency))
        samples: list[Sample] = []

        async def guarded(idx: int) -> None:
            async with sem:
                s = await one(idx)
            samples.append(s)
            if on_sample is not None:
                on_sample(s)

        await asyncio.gather(*(guarded(i) for i in range(opts.samples)))
        samples.sort(key=lambda s: s.index)
        failed = [s for s in samples if not s.ok]
        check = None
        if failed:
            if shared is not None:
                check = await version_check(shared, selection, failed)
            else:
                async with HttpTransport(settings, sink) as tr:
                    check = await version_check(tr, selection, failed)
        ok = [s for s in samples if s.ok]
        violations = check_budgets(opts.budgets, ok, phase_stats(samples))
        return ProbeReport(
            trace_id=settings.trace_id,
            target=opts.target.value,
            card_url=fetched.source,
            discovery_notes=fetched.notes,
            card_shape=fetched.view.shape,
            declared_versions=fetched.view.declared_families(),
            selection=selection,
            samples=samples,
            warmup=opts.warmup,
            options=opts,
            version_check=check,
            budget=BudgetVerdict(opts.budgets, violations, checked=bool(ok) or not opts.budgets),
        )
    finally:
        if shared is not None:
            from a2actl.probe.sample import close_reused_grpc

            await close_reused_grpc(shared)
            await shared.client.aclose()
        for tr, _ in first:  # not consumed (cancelled before the first sample)
            await tr.client.aclose()
