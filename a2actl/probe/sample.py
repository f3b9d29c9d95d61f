"""One timed handshake of ``handshake probe``: card fetch, parse, negotiation, the optional session
handshake, the first RPC and the optional real send, each phase timed (seconds) into a ``Sample``.

Phase meanings are in ``a2actl.probe.handshake``; the first RPC is GetTask (``tasks/get`` in 0.3)
on a random id, whose TaskNotFoundError (-32001, spec v1.0 §3.1.2 errors) proves routing, version
and auth without side effects.
"""

from __future__ import annotations

import contextlib
import time
import uuid
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from a2actl.agent.discovery import CardFetch, decode_card
from a2actl.core.errors import A2ACtlError, CheckFailed, HTTPStatusError, ProtocolViolation
from a2actl.core.redact import redact_json, register_url
from a2actl.probe.report import (
    CLASS_EXIT,
    CardBytes,
    Negotiated,
    ProbeOptions,
    Sample,
    SendOutcome,
    SessionOutcome,
)
from a2actl.protocol.events import classify_event, status_text, text_message_params
from a2actl.protocol.lifecycle import Lifecycle
from a2actl.protocol.negotiation import NegotiationFailed, select_interface
from a2actl.protocol.versions import BINDING_GRPC, FAILED_STATES, StateKind, state_kind

if TYPE_CHECKING:
    from a2actl.agent.connect import AgentClient
    from a2actl.core.config import Settings
    from a2actl.protocol.negotiation import Selection
    from a2actl.transport.grpc import GrpcClient
    from a2actl.transport.http import HttpTransport

#: What ``handshake probe --binding GRPC`` cannot time apart through grpcio (``sample.rpc["grpc"]``).
GRPC_NOT_MEASURED = (
    "TCP connect, TLS handshake and the HTTP/2 SETTINGS exchange are one phase (grpc_ready): "
    "grpcio connects inside the channel and exposes only its state changes; the first RPC's "
    "request write and server time are one phase (rpc), its response headers (initial metadata) "
    "are timed apart only when the answer has them before its message (rpc.headersSeconds)"
)


def client_traceparent(client: object) -> str | None:
    """The ``traceparent`` a ``GrpcClient``'s last call carried (``None`` for other clients)."""
    value = getattr(client, "last_traceparent", None)
    return value if isinstance(value, str) else None


#: ``--reuse``: the gRPC client (one channel) each shared transport's samples use, closed by
#: ``close_reused_grpc`` when the probe ends.
_REUSED: weakref.WeakKeyDictionary[Any, GrpcClient] = weakref.WeakKeyDictionary()


async def close_reused_grpc(transport: object) -> None:
    """Close the gRPC channel ``--reuse`` samples shared on ``transport`` (none: nothing to do)."""
    client = _REUSED.pop(transport, None)
    if client is not None:
        await client.aclose()


async def grpc_first_rpc(
    transport: HttpTransport, selection: Selection, settings: Settings, sample: Sample, reuse: bool = False
) -> GrpcClient | None:
    """The gRPC part of a sample (``--binding GRPC``): ``grpc_dns`` (the interface host resolved
    here, as the HTTP transport does; the channel then connects to that address), ``grpc_ready``
    (channel created → READY: TCP, TLS and the HTTP/2 settings exchange together), ``rpc`` (GetTask
    on a random id; NOT_FOUND with reason TASK_NOT_FOUND is healthy). Fills ``sample.phases`` and
    ``sample.rpc``; returns the client (the caller closes it: ``aclose``), or ``None`` with
    ``reuse`` (``--reuse``: one channel for every sample on ``transport``, already connected after
    the first, so ``grpc_dns`` is 0 and ``grpc_ready`` the wait for a READY channel; the caller
    gets it from ``reused_grpc`` and ``close_reused_grpc`` closes it). Raises the
    ``A2ACtlError`` of the failing phase (``UnreachableError`` 3 for DNS or a failed connect,
    ``TimeoutError_`` 5, the A2A error of any other answer)."""
    import asyncio
    import ipaddress
    import socket

    from a2actl.transport.failures import dns_failed
    from a2actl.transport.grpc import GrpcClient, parse_endpoint

    endpoint = parse_endpoint(selection.interface.url, settings)
    reused = _REUSED.get(transport) if reuse else None
    if reused is not None:
        sample.phases["grpc_dns"] = 0.0
        sample.failed_phase = "grpc_ready"
        t = time.perf_counter()
        await reused.wait_ready()
        sample.phases["grpc_ready"] = time.perf_counter() - t
        await _grpc_rpc(reused, endpoint, reused.address or endpoint.host, selection, sample)
        return None
    sample.failed_phase = "grpc_dns"
    t = time.perf_counter()
    try:
        ipaddress.ip_address(endpoint.host)
        address = endpoint.host
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                endpoint.host, endpoint.port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise dns_failed(endpoint.host, exc.strerror or exc) from exc
        address = str(infos[0][4][0])
    sample.phases["grpc_dns"] = time.perf_counter() - t
    raced = _REUSED.get(transport) if reuse else None  # another sample of -c N made it meanwhile
    client = raced or GrpcClient(transport, selection, address=address)
    if reuse:
        _REUSED[transport] = client
    sample.failed_phase = "grpc_ready"
    t = time.perf_counter()
    await client.wait_ready()
    ready = time.perf_counter() - t
    task_id = f"a2actl-probe-{uuid.uuid4()}"
    if not client.ready:  # the channel failed to connect: the RPC says why (UNAVAILABLE, exit 3)
        await client.call("GetTask", {"id": task_id})
    sample.phases["grpc_ready"] = ready
    await _grpc_rpc(client, endpoint, address, selection, sample)
    return None if reuse else client


def reused_grpc(transport: object) -> GrpcClient | None:
    """The ``--reuse`` gRPC client of ``transport`` (``None`` before the first sample)."""
    return _REUSED.get(transport)


async def _grpc_rpc(
    client: GrpcClient, endpoint: Any, address: str, selection: Selection, sample: Sample
) -> None:
    """The ``rpc`` phase over gRPC (``grpc_first_rpc``)."""
    sample.failed_phase = "rpc"
    task_id = f"a2actl-probe-{uuid.uuid4()}"
    t = time.perf_counter()
    out = await client.call("GetTask", {"id": task_id})
    wall = time.perf_counter() - t
    if client.last_traceparent:
        sample.traceparents["rpc"] = client.last_traceparent
    sample.phases["rpc"] = out.seconds or wall
    sample.rpc = out.to_json()
    sample.rpc["wallSeconds"] = wall
    sample.rpc["headersSeconds"] = out.headers_seconds
    sample.rpc["grpc"] = {
        "target": endpoint.target,
        "address": address,
        "tls": endpoint.tls,
        "notMeasured": GRPC_NOT_MEASURED,
    }
    if out.error is not None and out.error.code != -32001:
        raise out.error.to_exception(f"{out.method} on {selection.interface.url} failed")


def grpc_choice(settings: Settings) -> dict[str, Any]:
    """``select_interface``'s gRPC arguments for the probe: a GRPC interface is probed only when asked
    (``--binding GRPC``) and the extra is installed; without the extra it is skipped with the install
    hint (``a2actl.agent.connect``). Under ``--binding auto`` the probe keeps its HTTP choice (the
    exporter and fleet read a gRPC-only card as a negotiation failure, as before #18)."""
    from a2actl.agent.connect import grpc_available
    from a2actl.protocol.negotiation import GRPC_EXTRA_HINT

    extra = grpc_available()
    asked = settings.binding.strip().upper() == "GRPC"
    return {
        "grpc": extra and asked,
        "grpc_hint": GRPC_EXTRA_HINT if not extra else None if asked else "use --binding GRPC",
    }


class SampleWatch:
    """The sample a probe is timing right now, for a caller whose deadline may cancel the probe
    (``a2actl.exporter.probe``): ``sample`` is the last ``Sample`` that ``one_sample`` started in
    the watching context (``None`` before the first: the probe was still in discovery, the card
    phase). Its ``phases`` hold the phases completed so far and ``failed_phase`` the one it is in."""

    def __init__(self) -> None:
        self.sample: Sample | None = None


_WATCH: ContextVar[SampleWatch | None] = ContextVar("a2actl_sample_watch", default=None)


@contextlib.contextmanager
def watch_samples() -> Iterator[SampleWatch]:
    """Within the block, every ``one_sample`` started from this context (also in the tasks it
    creates, which copy the context) records its ``Sample`` in the yielded ``SampleWatch`` as it
    begins, so that a caller that cancels the probe still knows where it was."""
    watch = SampleWatch()
    token = _WATCH.set(watch)
    try:
        yield watch
    finally:
        _WATCH.reset(token)


#: The sample whose request is being sent in this task (``one_sample`` sets it for its duration).
_CURRENT: ContextVar[Sample | None] = ContextVar("a2actl_current_sample", default=None)
#: ``Sample.traceparents`` key of a request sent while the sample is in a phase.
_TRACEPARENT_KEY = {
    "card": "card",
    "session": "session",
    "rpc": "rpc",
    "first_event": "send",
    "terminal": "send",
}


async def _note_traceparent(request: Any) -> None:
    """HTTP client request hook (called as each request leaves, redirects included): record the
    request's ``traceparent`` in the current sample under its phase, first one kept. So a request
    that then fails or times out (or is cancelled by a deadline) still has the span id the agent saw,
    and its span nests the agent's server span (W3C Trace Context ``traceparent`` parent-id)."""
    sample = _CURRENT.get()
    key = _TRACEPARENT_KEY.get(sample.failed_phase or "") if sample is not None else None
    if sample is not None and key is not None:
        traceparent = request.headers.get("traceparent")
        if traceparent:
            sample.traceparents.setdefault(key, traceparent)


def _hook_traceparents(transport: HttpTransport) -> None:
    """Install ``_note_traceparent`` on ``transport``'s HTTP client once (a shared transport under
    ``--reuse`` serves several samples: the context variable tells them apart)."""
    hooks = getattr(getattr(transport, "client", None), "event_hooks", None)
    if isinstance(hooks, dict):
        request_hooks = hooks.setdefault("request", [])
        if _note_traceparent not in request_hooks:
            request_hooks.append(_note_traceparent)


def error_class(err: A2ACtlError) -> str:
    """The failure class of a sample: the error's own code when it is a class, else the class of its
    exit code (``no_such_route`` and ``stream_cut`` are protocol violations: exit 6)."""
    if err.code in CLASS_EXIT:
        return err.code
    by_exit = {code: name for name, code in CLASS_EXIT.items() if name != "error"}
    return by_exit.get(err.exit_code, "error")


def session_url(card_url: str, path: str) -> str:
    """The ``--handshake-path`` URL: ``path`` (a leading ``/`` added) on the card URL's origin."""
    p = urlsplit(card_url)
    return urlunsplit((p.scheme, p.netloc, path if path.startswith("/") else "/" + path, "", ""))


async def run_send(client: AgentClient, view_streaming: bool, text: str, sample: Sample) -> None:
    """``--send``: a real SendMessage of ``text``; fills the ``first_event`` and ``terminal`` phases
    and ``sample.send``. Streams (SendStreamingMessage) when the card declares ``streaming``.

    Raises the A2A error of the answer as an ``A2ACtlError``, ``ProtocolViolation`` (exit 6) when
    a stream closes before a terminal or interrupted state (spec v1.0 §3.1.2 stream patterns;
    v0.3 §7.2 ``final``) or breaks the lifecycle rules ``stream tail`` audits
    (``protocol.lifecycle``: an event of another task, ``final: true`` on a state that does not
    end the task, a state going back), and ``CheckFailed`` (exit 7, class ``check_failed``) when the task ended
    ``failed``, ``rejected`` or ``canceled`` (``sample.send`` and the phases are set first): the
    agent answered, but did not do what it was sent, and a probe must not call that healthy.
    ``terminal`` is not measured (left out) when a blocking SendMessage answers a task still
    ``submitted`` or ``working`` (an agent that does not block): the task's end was never seen. ``client`` is an ``A2AClient`` or a ``GrpcClient`` (first message of
    ``SendStreamingMessage`` / the unary answer, the same phases).
    """
    from a2actl.transport.a2a import RpcOutcome
    from a2actl.transport.channel import Heartbeat, TimedEvent

    params = text_message_params(
        text, client.family, client.binding, tenant=client.selection.interface.tenant
    )
    t0 = time.perf_counter()
    if view_streaming:
        events = 0
        final = False
        last_at = t0
        # the lifecycle audit of `stream tail` (protocol/lifecycle.py): an event of another task,
        # `final: true` on a state that does not end the task, a state going back... is no end
        lc = Lifecycle(client.family)
        sample.failed_phase = "first_event"
        async for item in client.stream("SendStreamingMessage", params):
            if isinstance(item, Heartbeat):
                continue  # only yielded with heartbeats=True
            if not isinstance(item, TimedEvent):
                if item.error is not None:
                    raise item.error.to_exception(f"{item.method} failed")
                continue
            events += 1
            last_at = time.perf_counter()
            if events == 1:
                sample.phases["first_event"] = last_at - t0
                sample.failed_phase = "terminal"
            ev = item.event
            broken = lc.observe(ev)
            if broken:
                raise ProtocolViolation(
                    f"the stream broke the task lifecycle at event {events}: {broken[0].rule}: "
                    f"{broken[0].message}",
                    hint="'a2actl stream tail TARGET --send TEXT' shows every event and what it broke",
                )
            # The end by the family's rule (0.3 `final` on a terminal or interrupted state, 1.0 such
            # a state, a bare Message without a task); also a 0.3 server that reaches a terminal
            # state without `final`, and a Task event in a terminal state (the task is over, as
            # `stream tail` reads it, though the server may keep the stream open).
            if (
                (lc.ended and lc.task_id is None)
                or (ev.kind != "task" and lc.settled)
                or (ev.kind == "task" and lc.terminal)
            ):
                final = True
                sample.phases["terminal"] = time.perf_counter() - t0 - sample.phases["first_event"]
                break
        if not final and lc.settled:
            # The stream closed after a Task already in a terminal or interrupted state (an agent
            # that rejects or fails at once sends that one Task): it ended, as `stream tail` reads it.
            final = True
            sample.phases["terminal"] = last_at - t0 - sample.phases["first_event"]
        if not final:
            raise ProtocolViolation(
                f"the stream closed after {events} event(s) without a terminal state (last state: "
                f"{lc.state or 'none'})",
                hint="a dropped stream is not a finished task; check the agent and proxies",
            )
        sample.send = SendOutcome(
            client.method_name("SendStreamingMessage"), True, events, lc.state, status_text(lc.status)
        )
    else:
        sample.failed_phase = "first_event"
        out = await client.call("SendMessage", params)
        elapsed = time.perf_counter() - t0
        traceparent = out.http.traceparent if isinstance(out, RpcOutcome) else client_traceparent(client)
        if traceparent:
            sample.traceparents["send"] = traceparent
        if out.error:
            raise out.error.to_exception(f"{out.method} failed")
        ev = classify_event(out.result)
        sample.phases["first_event"] = elapsed
        sample.failed_phase = "terminal"
        if ev.state is None or state_kind(ev.state) in (StateKind.TERMINAL, StateKind.INTERRUPTED):
            sample.phases["terminal"] = 0.0  # the answer is the end (a Message, or the task's end)
        sample.send = SendOutcome(out.method, False, 1, ev.state, status_text(ev.payload.get("status")))
    state = sample.send.final_state
    if state in FAILED_STATES:
        reason = sample.send.status_message
        said = f" (the agent said: {reason[:300]}{'…' if len(reason) > 300 else ''})" if reason else ""
        raise CheckFailed(
            f"the --send task ended {state}{said}: the agent answered but did not do what it was sent",
            hint="'a2actl send URL TEXT' shows the task's status message and artifacts",
        )


async def _session(transport: HttpTransport, card_url: str, path: str, family: str, sample: Sample) -> None:
    """``--handshake-path``: POST the client's versions and capabilities; fills ``session``.
    Raises ``HTTPStatusError`` (exit 1) for an HTTP error status."""
    sample.failed_phase = "session"
    url = session_url(card_url, path)
    t = time.perf_counter()
    hs = await transport.request(
        "POST",
        url,
        json_body={
            "client": "a2actl",
            "protocolVersions": [family],
            "capabilities": {"streaming": True, "pushNotifications": False},
        },
    )
    sample.phases["session"] = time.perf_counter() - t
    sample.traceparents["session"] = hs.traceparent
    if hs.status >= 400:
        raise HTTPStatusError(
            f"session handshake {url} answered HTTP {hs.status} {hs.reason}",
            details={"httpStatus": hs.status},
        )
    body = hs.json()
    got_token = isinstance(body, dict) and any(
        isinstance(k, str) and "token" in k.lower() and body[k] for k in body
    )
    sample.session = SessionOutcome(url, hs.status, got_token, redact_json(body))


class InterfaceNotAllowed(A2ACtlError):
    """The negotiated interface's URL fails ``ProbeOptions.interface_allowed`` (the exporter: a host
    outside the ``allow_targets`` of a module that sends credentials; a card may name any host as
    its interface, so the card's host being allowed does not make the interface's so). No request
    goes to the interface. Exit 1; ``code`` ``not_allowed``."""

    code = "not_allowed"


async def one_sample(
    index: int,
    transport: HttpTransport,
    card_url: str,
    opts: ProbeOptions,
    settings: Settings,
    fetched: CardFetch | None = None,
) -> Sample:
    """Time one handshake on ``transport``. ``fetched``: discovery's fetch of the card on this
    transport, used as this sample's card and parse phases instead of fetching the card again.

    Never raises an ``A2ACtlError``: a failure is recorded in the sample (``error``,
    ``error_class``, ``failed_phase``) and the sample is returned with ``ok`` false.
    """
    from a2actl.transport.a2a import A2AClient

    sample = Sample(index, started_ns=time.time_ns())
    grpc_client: GrpcClient | None = None
    watch = _WATCH.get()
    if watch is not None:
        watch.sample = sample
    current = _CURRENT.set(sample)
    _hook_traceparents(transport)
    try:
        sample.failed_phase = "card"
        if fetched is not None and fetched.http is not None:
            res = fetched.http
            # discovery fetched and parsed this card before the sample began: start where it did
            sample.started_ns -= round((res.timing.time_total + fetched.parse_seconds) * 1e9)
        else:
            res = await transport.request(
                "GET", card_url, headers={"Accept": "application/json"}, max_bytes=settings.max_card_bytes
            )
        sample.phases.update(res.timing.phases())
        sample.traceparents["card"] = res.traceparent
        sample.curl = res.timing.to_json()
        sample.card_bytes = CardBytes(res.wire_bytes, len(res.body), res.content_encoding)
        if res.status >= 400:
            raise HTTPStatusError(
                f"{card_url} answered HTTP {res.status} {res.reason}", details={"httpStatus": res.status}
            )
        sample.failed_phase = "parse"
        if fetched is not None:
            view = fetched.view
            sample.phases["parse"] = fetched.parse_seconds
        else:
            t = time.perf_counter()
            _, view = decode_card(res.body, card_url)
            sample.phases["parse"] = time.perf_counter() - t
        sample.failed_phase = "negotiate"
        t = time.perf_counter()
        try:
            selection = select_interface(
                view, settings.a2a_version, settings.binding, **grpc_choice(settings)
            )
        except NegotiationFailed as exc:
            raise A2ACtlError(
                f"negotiation failed: {exc}", hint="see `a2actl card get` for what the card declares"
            ) from exc
        sample.phases["negotiate"] = time.perf_counter() - t
        sample.negotiated = Negotiated(
            selection.interface.url, selection.interface.protocol_binding, selection.family.value
        )
        # the card's userinfo or credential query values in the interface URL are secrets: masked in
        # the errors naming that URL and in the report (as agent.connect does for the other commands)
        register_url(selection.interface.url)
        control = next(
            (i for i, c in enumerate(selection.interface.url) if c < " " or "\x7f" <= c < "\xa0"), None
        )
        if control is not None:
            # RFC 3986 §2 has no control characters: the card broke its contract (caps validate: 6);
            # the request failed as a 'usage' error (exit 2), which blamed the command line
            raise ProtocolViolation(
                f"the card's interface URL has a control character "
                f"(U+{ord(selection.interface.url[control]):04X} at position {control}): no request can go to it",
                hint="fix the url of the card's interface (supportedInterfaces / url)",
            )
        if opts.interface_allowed is not None and not opts.interface_allowed(selection.interface.url):
            raise InterfaceNotAllowed(
                f"the card names its interface at {selection.interface.url}, which this probe may not "
                "send its credentials to; nothing was sent there",
                hint="list that host in the module's allow_targets if it is the agent's own gateway",
            )
        if opts.handshake_path:
            await _session(transport, card_url, opts.handshake_path, selection.family.value, sample)
        if selection.interface.protocol_binding == BINDING_GRPC:
            grpc_client = await grpc_first_rpc(transport, selection, settings, sample, reuse=opts.reuse)
            sender = grpc_client or reused_grpc(transport)
            sample.rpc = sample.rpc or {}
            sample.rpc["healthy"] = True
            sample.rpc["meaning"] = (
                "TASK_NOT_FOUND (gRPC NOT_FOUND) for a random id: routing, version and auth work"
                if sample.rpc.get("error")
                else "the agent returned a task for a random id"
            )
            if opts.send_text is not None and sender is not None:
                await run_send(sender, bool(view.capabilities.get("streaming")), opts.send_text, sample)
            sample.ok = True
            sample.failed_phase = None
            return sample
        client = A2AClient(transport, selection)
        sample.failed_phase = "rpc"
        task_id = f"a2actl-probe-{uuid.uuid4()}"
        t = time.perf_counter()
        out = await client.call("GetTask", {"id": task_id})
        wall = time.perf_counter() - t
        sample.traceparents["rpc"] = out.http.traceparent
        # The exchange on the wire (request sent → answer's last byte, as curl's time_total on a
        # reused connection); the wall time also holds the client's encoding, decoding and, under
        # -c N, the wait for the other samples' CPU.
        sample.phases["rpc"] = out.http.timing.time_total if out.http.timing.time_total > 0 else wall
        sample.rpc = out.to_json()
        sample.rpc["wallSeconds"] = wall
        if out.error is not None and out.error.code != -32001:
            raise out.error.to_exception(f"{out.method} on {selection.interface.url} failed")
        sample.rpc["healthy"] = True
        sample.rpc["meaning"] = (
            "TaskNotFound for a random id: routing, version and auth work"
            if out.error is not None
            else "the agent returned a task for a random id"
        )
        if opts.send_text is not None:
            await run_send(client, bool(view.capabilities.get("streaming")), opts.send_text, sample)
        sample.ok = True
        sample.failed_phase = None
    except A2ACtlError as err:
        sample.error = err.to_json()["error"]
        sample.error_class = error_class(err)
    finally:
        _CURRENT.reset(current)
        if grpc_client is not None:
            await grpc_client.aclose()
    return sample
