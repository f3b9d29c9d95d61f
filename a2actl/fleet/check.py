"""One agent of a fleet probe: card, schema validation, negotiation, first RPC and the optional send,
each failure mapped to one cause (``a2actl.fleet.result.CAUSES``). Issue #16, docs/fleet.md.

What ``check_agent`` does, in funnel order (``a2actl.fleet.result.STAGES``):

1. ``reachable``/``card``: GET the card on the discovery paths (``a2actl.agent.discovery.card_urls``:
   ``/.well-known/agent-card.json`` then the legacy ``/.well-known/agent.json``, under the URL's path
   first, then at the host root; a 404 moves on to the next path). Any HTTP answer makes the agent
   ``reachable``; a 2xx body that decodes to a JSON object (``discovery.decode_card``) and, with the
   ``validate`` check, is valid against the shipped schema of its declared version (the same choice as
   ``caps validate``: ``caps.validate.choose_schemas``) passes ``card``. Only the schema is judged here,
   not ``caps validate``'s operational checks (a loopback or cross-origin interface URL is the fleet's
   business; a URL nobody can call fails at the RPC anyway).
2. ``negotiated``: ``protocol.negotiation.select_interface`` with ``--a2a-version``/``--binding``; with
   ``auto``, interfaces whose ``protocolVersion`` a2actl does not know (``"2.0"``) are not candidates,
   and a card left with none (or with no JSON-RPC/HTTP+JSON interface) is ``version-mismatch``.
3. ``rpc``: ``GetTask`` on a random id, as ``handshake probe`` (``a2actl.probe.sample``): TaskNotFound
   (-32001; over HTTP+JSON a 404 with the TaskNotFound body) means routing, version and auth work.
   VersionNotSupported (-32009), or MethodNotFound on a 1.0 method name, is ``version-mismatch``
   (``DecodedError.version_mismatch``); an auth reason is ``auth``; any other A2A error ``rpc-error``.
4. ``send`` (``send`` check): a blocking ``SendMessage`` with ``FleetOptions.send_text``; an A2A error
   or a task that ends ``failed``/``rejected``/``canceled`` is ``send-failed`` (the load ``send``
   scenario's rule; a Message or any other state passes).

Transport failures map by class (``a2actl.transport.failures`` builds them): DNS → ``dns``, refused or
a connection lost before the answer → ``refused``, TLS → ``tls``, connect/read timeout or a request
longer than ``--timeout`` → ``timeout``, HTTP 401/403 → ``auth``, other 4xx → ``http-4xx``, 5xx →
``http-5xx``, malformed HTTP, bodies or envelopes → ``protocol``. Retries (``--retries``): a request
that failed with a transient cause (refused, timeout, lost, 5xx) is sent again after 0.1, 0.2, 0.4 …
seconds (at most 2 s); a ``SendMessage`` only after a refused connect (it never reached the agent: a
timed-out send may have been delivered). ``AgentResult.attempts`` is 1 + the retries used.

Budget: an agent's ``budget`` (or ``FleetOptions.budget``) bounds all its requests, retries and
pauses; when it runs out the agent is ``over-budget`` at the stage it was in. Timing: ``phases`` holds
seconds for ``card`` (every card request, retries and discovery 404s included, plus decoding),
``validate``, ``rpc``, ``send`` and ``connect`` (the setup of new connections, coarse: see
``a2actl.transport.connmarks``); ``total`` is the agent's wall time.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import sys
import time
import uuid
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from a2actl.agent.discovery import card_urls, decode_card
from a2actl.agent.target import parse_target
from a2actl.core.errors import (
    A2ACtlError,
    A2AError,
    AuthError,
    BodyTooLarge,
    HTTPStatusError,
    NoSuchRoute,
    ProtocolViolation,
    TimeoutError_,
    UnreachableError,
)
from a2actl.core.redact import register_url
from a2actl.fleet.result import CROSS_HOST_NOTE, AgentResult, FleetOptions
from a2actl.protocol.events import result_state, text_message_params
from a2actl.protocol.negotiation import NegotiationFailed, Selection, known_versions, select_interface
from a2actl.transport.connmarks import CONNECT_PHASES

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.fleet.inventory import AgentSpec
    from a2actl.protocol.card import CardView
    from a2actl.transport.base import Transport
    from a2actl.transport.timing import HttpResult

#: Task states that fail the send check (canonical names; the load ``send`` scenario's rule).
FAILED_STATES = frozenset({"failed", "rejected", "canceled"})
#: Longest ``detail`` kept (characters).
MAX_DETAIL = 240
#: The first pause between retries (seconds), doubled each time, at most ``MAX_BACKOFF``.
FIRST_BACKOFF = 0.1
MAX_BACKOFF = 2.0

_STATUS = re.compile(r"answered HTTP (\d{3})")


# ------------------------------------------------------------------------------------------ validation
#: Keywords whose value maps names to subschemas (the names are not keywords).
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas", "$defs"})
_LOCAL_REF = "#/$defs/"


def inline_refs(schema: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of ``schema`` without ``$defs``: every ``{"$ref": "#/$defs/NAME"}`` replaced by the
    definition itself (``{"allOf": [definition], ...}`` when the reference has sibling keywords, which
    Draft 2020-12 applies together with it). The same instances validate; jsonschema no longer
    resolves a reference per object per card (``referencing``), about 30 % of a 1.0 card's
    validation time. ``None`` when that cannot be done faithfully: a definition that refers to itself
    (directly or not), or a reference that is not a local ``#/$defs/NAME``. The shipped AgentCard
    schemas have neither (``tests/unit/fleet/test_check.py`` holds the result to the original on
    valid and broken cards)."""
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return None

    class _Unsafe(Exception):
        pass

    def walk(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(x, stack) for x in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref":
                continue
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {name: walk(sub, stack) for name, sub in value.items()}
            else:
                out[key] = walk(value, stack)
        ref = node.get("$ref")
        if ref is None:
            return out
        if not isinstance(ref, str) or not ref.startswith(_LOCAL_REF):
            raise _Unsafe
        name = ref[len(_LOCAL_REF) :]
        if name in stack or name not in defs:
            raise _Unsafe
        target = walk(defs[name], (*stack, name))
        return {"allOf": [target], **out} if out else target

    try:
        flat = walk({k: v for k, v in schema.items() if k != "$defs"}, ())
    except (_Unsafe, RecursionError):
        return None
    return flat if isinstance(flat, dict) else None


@cache
def compiled_validator(version: str) -> Validator:
    """The Draft 2020-12 validator of the shipped AgentCard schema for wire version ``"0.3"`` or
    ``"1.0"`` (its references inlined, ``inline_refs``, when that is faithful), compiled once per
    process: building one costs more than validating a card."""
    from jsonschema import Draft202012Validator

    from a2actl.schemas import load_schema

    schema = load_schema(version)
    return Draft202012Validator(inline_refs(schema) or schema)


def first_schema_error(raw: Any, shape: str) -> str | None:
    """``"<pointer>: <message>"`` of the first schema violation (document order, as ``caps validate``
    lists them) of the decoded card ``raw`` whose ``CardView.shape`` is ``shape``, or ``None`` when it
    is valid against every schema its shape is checked against (``caps.validate.choose_schemas``)."""
    from a2actl.caps.validate import choose_schemas, schema_findings

    for version in choose_schemas(shape, "auto"):
        if compiled_validator(version).is_valid(raw):
            continue
        findings = schema_findings(raw, version)  # the invalid card's slow path: messages as caps validate
        if findings:
            first = findings[0]
            return f"{first.pointer or '/'}: {first.message} (A2A {version} schema)"
    return None


# ------------------------------------------------------------------------------------------ causes
def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(out) < 8:
        out.append(cause)
        os_error = getattr(cause, "os_error", None)
        if isinstance(os_error, BaseException):
            out.append(os_error)
        cause = cause.__cause__ or cause.__context__
    return out


def _unreachable_cause(err: UnreachableError) -> str:
    """``dns``, ``tls`` or ``refused`` (refused, reset or lost) for an ``UnreachableError``: from the
    exception that caused it (the HTTP client's, kept as ``__cause__``), else from the message the
    shared builders in ``a2actl.transport.failures`` write."""
    for exc in _chain(err):
        if isinstance(exc, socket.gaierror):
            return "dns"
        if isinstance(exc, ssl.SSLError) or hasattr(exc, "certificate_error"):
            return "tls"
    text = err.message
    if text.startswith("DNS lookup for"):
        return "dns"
    if text.startswith("TLS handshake with"):
        return "tls"
    return "refused"


def http_status_of(err: A2ACtlError) -> int | None:
    """The HTTP status behind ``err``: ``details["httpStatus"]``, else an ``answered HTTP NNN`` in
    its message (``AuthError`` says it there)."""
    status = err.details.get("httpStatus")
    if isinstance(status, int):
        return status
    found = _STATUS.search(err.message)
    return int(found.group(1)) if found else None


def cause_of(err: A2ACtlError) -> str:
    """The fleet cause (``CAUSES``) of an error raised while checking an agent."""
    if isinstance(err, TimeoutError_):
        return "timeout"
    if isinstance(err, UnreachableError):
        return _unreachable_cause(err)
    if isinstance(err, AuthError):
        return "auth"
    if isinstance(err, NoSuchRoute):
        return "http-4xx"
    if isinstance(err, HTTPStatusError):
        status = http_status_of(err)
        if status is not None and 500 <= status < 600:
            return "http-5xx"
        if status is not None and 400 <= status < 500:
            return "http-4xx"
        return "protocol"  # an unfollowed redirect (3xx): not the card, not an error class of its own
    if isinstance(err, A2AError):
        return "rpc-error"
    return "protocol"


def one_line(text: str) -> str:
    """``text`` on one line, at most ``MAX_DETAIL`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_DETAIL else flat[: MAX_DETAIL - 1] + "…"


def _transient(err: A2ACtlError, connect_only: bool) -> bool:
    """Whether a retry may help: refused (and, unless ``connect_only``, a timeout or a lost
    connection). DNS and TLS failures are not retried."""
    if isinstance(err, UnreachableError):
        cause = _unreachable_cause(err)
        if cause != "refused":
            return False
        return not connect_only or " refused" in err.message
    return isinstance(err, TimeoutError_) and not connect_only


# ------------------------------------------------------------------------------------------ transport
class AgentTransport:
    """The shared transport as one agent sees it (the ``Transport`` protocol): the agent's headers
    (global ``FleetOptions.headers`` under the agent's own, the bearer token of its ``tokenEnv`` or the
    global token) on every request, each request bounded by ``timeout`` seconds (``TimeoutError_``,
    exit 5, past it), transient failures retried (see the module docstring), the count in
    ``attempts``. ``connect_only`` (set for the send) retries only refused connects; ``closing`` asks
    the agent to close the connection after the answer (``Connection: close``) when no later agent of
    the run shares its origin, so a fleet of distinct hosts does not keep one idle socket per agent."""

    def __init__(
        self,
        base: Transport,
        headers: Mapping[str, str],
        *,
        timeout: float,
        retries: int,
    ) -> None:
        self.base = base
        self.settings = base.settings
        self.sink: EventSink = base.sink
        self.headers = dict(headers)
        self.timeout = timeout
        self.retries = max(0, retries)
        self.retried = 0
        self.connect_only = False
        self.closing = False

    async def _once(
        self,
        method: str,
        url: str,
        json_body: Any,
        content: bytes | None,
        headers: dict[str, str],
        max_bytes: int | None,
    ) -> HttpResult:
        call = self.base.request(
            method, url, json_body=json_body, content=content, headers=headers, max_bytes=max_bytes
        )
        try:
            if sys.version_info >= (3, 11):
                async with asyncio.timeout(self.timeout):
                    return await call
            return await asyncio.wait_for(call, self.timeout)
        except asyncio.TimeoutError:
            raise TimeoutError_(
                f"no complete answer from {url} within {self.timeout:g}s (--timeout)",
                hint="the agent is slower than --timeout; raise it or look at the agent",
            ) from None

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> HttpResult:
        """``Transport.request`` with the agent's headers, the per-request timeout and retries: a
        5xx answer or a transient error is tried again up to ``retries`` times in all (the last
        answer is returned, the last error raised)."""
        hdrs = dict(self.headers)
        if headers:
            hdrs.update({k.lower(): v for k, v in headers.items()})
        if self.closing:
            hdrs["connection"] = "close"
        while True:
            try:
                res = await self._once(method, url, json_body, content, hdrs, max_bytes)
            except A2ACtlError as err:
                if self.retried < self.retries and _transient(err, self.connect_only):
                    await self._pause()
                    continue
                raise
            if res.status >= 500 and not self.connect_only and self.retried < self.retries:
                await self._pause()
                continue
            return res

    async def _pause(self) -> None:
        await asyncio.sleep(min(MAX_BACKOFF, FIRST_BACKOFF * 2**self.retried))
        self.retried += 1

    async def open_stream(
        self, method: str, url: str, *, json_body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[Any, Any]:
        """``Transport.open_stream`` with the agent's headers (no retries: the fleet checks are unary)."""
        hdrs = {**self.headers, **{k.lower(): v for k, v in (headers or {}).items()}}
        return await self.base.open_stream(method, url, json_body=json_body, headers=hdrs)

    async def read_rest(self, response: Any, url: str, max_bytes: int | None = None) -> bytes:
        """``Transport.read_rest``, unchanged."""
        return await self.base.read_rest(response, url, max_bytes)

    def redact_body(self, body: bytes) -> bytes:
        """``Transport.redact_body``, unchanged."""
        return self.base.redact_body(body)


def agent_headers(spec: AgentSpec, options: FleetOptions) -> dict[str, str]:
    """The headers every request to ``spec`` carries (names lowercased): ``options.headers``, then the
    global token as ``Authorization: Bearer``, then the agent's own headers, then the token of its
    ``tokenEnv``: each later one wins."""
    out = {k.lower(): v for k, v in options.headers}
    if options.token:
        out["authorization"] = f"Bearer {options.token}"
    out.update({k.lower(): v for k, v in spec.headers.items()})
    token = spec.token()
    if token:
        out["authorization"] = f"Bearer {token}"
    return out


# ------------------------------------------------------------------------------------------ the check
class _Failed(Exception):
    """A check failed with ``cause``/``detail`` (internal: becomes the result's fields)."""

    def __init__(
        self, cause: str, detail: str, *, http_status: int | None = None, error_code: int | None = None
    ) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail
        self.http_status = http_status
        self.error_code = error_code


def declared_versions(view: CardView) -> tuple[str, ...]:
    """The A2A versions ``view`` declares, in card order without repeats: the wire family (``"1.0"``,
    ``"0.3"``, ``"0.2"``) of each interface whose version a2actl knows, the declared string otherwise
    (``"2.0"``)."""
    out: list[str] = []
    for iface in view.interfaces:
        name = iface.family.value if iface.family is not None else (iface.protocol_version or "?")
        if name not in out:
            out.append(name)
    return tuple(out)


def cross_host_note(card_url: str, interface_url: str) -> str | None:
    """The per-agent note when the negotiated interface URL's host differs from the host that served
    the card (``CROSS_HOST_NOTE`` + both hosts), else ``None``. Hosts are compared by name,
    lower-cased (ports and schemes are not: another port of the same host is the same machine); an
    unparseable URL is left to the RPC. Not refused: a card may rightly point at a gateway, but a
    catalog from an untrusted registry can steer a sweep's requests at other hosts this way."""
    try:
        card_host = (urlsplit(card_url).hostname or "").rstrip(".")
        iface_host = (urlsplit(interface_url).hostname or "").rstrip(".")
    except ValueError:
        return None
    if not card_host or not iface_host or card_host == iface_host:
        return None
    return f"{CROSS_HOST_NOTE}{iface_host} differs from the card's host {card_host}"


def negotiate(view: CardView, version: str, binding: str) -> Selection:
    """``select_interface`` for a fleet row. With ``version`` ``auto``, only interfaces of a version
    a2actl knows are candidates. Raises ``_Failed("version-mismatch")`` when nothing fits."""
    try:
        candidates = known_versions(view) if version == "auto" else view
        return select_interface(candidates, version, binding)
    except NegotiationFailed as exc:
        raise _Failed("version-mismatch", one_line(str(exc))) from exc


async def _fetch_card(tr: AgentTransport, spec: AgentSpec, result: AgentResult) -> tuple[Any, CardView, str]:
    """GET the card on the discovery paths; ``reachable`` on the first HTTP answer. Returns the
    decoded card, its view and the URL that served it; raises ``_Failed`` or the transport error."""
    target = parse_target(spec.url)
    urls = card_urls(target)
    max_bytes = tr.settings.max_card_bytes
    res = None
    for idx, url in enumerate(urls):
        try:
            res = await tr.request("GET", url, headers={"accept": "application/json"}, max_bytes=max_bytes)
        except (AuthError, HTTPStatusError):  # a 401/403 or an unfollowed 3xx: an answer all the same
            result.passed = ("listed", "reachable")
            raise
        except BodyTooLarge as exc:  # a card over the limit came with an HTTP answer (its status)
            if exc.status is not None:
                result.passed = ("listed", "reachable")
            # a card a2actl will not read whole is no usable card: invalid-card, as the exporter and
            # its handshake probe say (protocol is for a malformed answer after the card)
            raise _Failed("invalid-card", one_line(exc.message)) from exc
        if result.passed == ("listed",):
            result.passed = ("listed", "reachable")
        if res.status == 404 and idx + 1 < len(urls):
            continue
        break
    assert res is not None  # card_urls never returns an empty list
    if res.status >= 400:
        tried = f" (tried {len(urls)} paths)" if res.status == 404 and len(urls) > 1 else ""
        raise _Failed(
            "http-5xx" if res.status >= 500 else "http-4xx",
            f"card: HTTP {res.status} {res.reason}".rstrip() + tried,
            http_status=res.status,
        )
    if res.status >= 300:
        raise _Failed(
            "protocol", f"card: HTTP {res.status} redirect (pass -L to follow)", http_status=res.status
        )
    try:
        raw, view = decode_card(res.body, res.url)
    except ProtocolViolation as exc:
        ctype = res.headers.get("content-type", "no content type")
        what = "a JSON object" if "not an object" in exc.message or "is a JSON" in exc.message else "JSON"
        raise _Failed("invalid-card", f"the card is not {what} ({ctype})") from exc
    return raw, view, res.url


async def _stages(
    spec: AgentSpec,
    options: FleetOptions,
    tr: AgentTransport,
    result: AgentResult,
    keep_alive: bool,
    phases: dict[str, float],
) -> None:
    checks = options.checks
    wants_rpc = bool(checks & {"rpc", "send"})
    tr.closing = not keep_alive and not wants_rpc
    t0 = time.perf_counter()
    try:
        raw, view, card_url = await _fetch_card(tr, spec, result)
    finally:
        phases["card"] = time.perf_counter() - t0
    result.declared_versions = declared_versions(view)
    if "validate" in checks:
        t0 = time.perf_counter()
        problem = first_schema_error(raw, view.shape)
        phases["validate"] = time.perf_counter() - t0
        if problem is not None:
            raise _Failed("invalid-card", problem)
    result.passed += ("card",)
    if not wants_rpc:
        return
    selection = negotiate(view, options.a2a_version, options.binding)
    # the card's userinfo or credential query values in the interface URL are secrets: masked in the
    # record's interfaceUrl, the errors naming that URL and -v (as agent.connect does for the others)
    register_url(selection.interface.url)
    result.version = selection.family.value
    result.binding = selection.interface.protocol_binding
    result.interface_url = selection.interface.url
    elsewhere = cross_host_note(card_url, selection.interface.url)
    if elsewhere:
        result.notes += (elsewhere,)
    result.passed += ("negotiated",)

    from a2actl.transport.a2a import A2AClient

    client = A2AClient(tr, selection)
    send = "send" in checks
    tr.closing = not keep_alive and not send
    t0 = time.perf_counter()
    try:
        out = await client.call("GetTask", {"id": f"a2actl-fleet-{uuid.uuid4()}"})
    finally:
        phases["rpc"] = time.perf_counter() - t0
    err = out.error
    if err is not None and err.code != -32001:
        if err.version_mismatch:
            raise _Failed(
                "version-mismatch", one_line(f"{out.method}: {err.code} {err.name}"), error_code=err.code
            )
        cause = "auth" if err.reason in ("UNAUTHENTICATED", "PERMISSION_DENIED") else "rpc-error"
        text = f"{err.code} {err.name}" + (f": {err.message}" if err.message else "")
        raise _Failed(cause, one_line(text), error_code=err.code, http_status=out.http.status)
    result.passed += ("rpc",)
    if not send:
        return
    tr.closing = not keep_alive
    tr.connect_only = True
    params = text_message_params(
        options.send_text, client.family, client.binding, tenant=selection.interface.tenant
    )
    t0 = time.perf_counter()
    try:
        try:
            sent = await client.call("SendMessage", params)
        except A2AError as exc:
            raise _Failed("send-failed", one_line(exc.message), error_code=exc.a2a_code) from exc
    finally:
        phases["send"] = time.perf_counter() - t0
    if sent.error is not None:
        e = sent.error
        text = f"{e.code} {e.name}" + (f": {e.message}" if e.message else "")
        raise _Failed("send-failed", one_line(text), error_code=e.code)
    _kind, _task_id, state = result_state(sent.result)
    if state in FAILED_STATES:
        raise _Failed("send-failed", f"SendMessage: the task ended {state}")
    result.passed += ("send",)


async def check_agent(
    spec: AgentSpec,
    options: FleetOptions,
    transport: Transport,
    *,
    settings: Settings | None = None,
    keep_alive: bool = True,
) -> AgentResult:
    """Check one agent (see the module docstring) over ``transport`` (the run's shared
    ``FastTransport``; any ``Transport`` works, e.g. ``HttpTransport`` in tests) and return its
    ``AgentResult``. ``settings`` is accepted for symmetry with the other domains (the transport
    already carries them). ``keep_alive=False``: ask the agent to close the connection after its last
    request (``run_fleet`` does for the last agent of each origin).

    Never raises for anything the agent does: every failure is a cause (an unexpected exception, a
    bug, is ``protocol`` with its class name in ``detail``). Only cancellation propagates."""
    del settings
    result = AgentResult(spec=spec)
    phases: dict[str, float] = {}  # filled as the checks go (connect: by the transport), kept compact
    budget = spec.budget if spec.budget is not None else options.budget
    tr = AgentTransport(
        transport, agent_headers(spec, options), timeout=options.timeout, retries=options.retries
    )
    marks = CONNECT_PHASES.set(phases)
    started = time.perf_counter()
    try:
        if budget is None:
            await _stages(spec, options, tr, result, keep_alive, phases)
        elif sys.version_info >= (3, 11):
            async with asyncio.timeout(budget):
                await _stages(spec, options, tr, result, keep_alive, phases)
        else:
            await asyncio.wait_for(_stages(spec, options, tr, result, keep_alive, phases), budget)
        result.ok = True
    except _Failed as f:
        result.cause, result.detail = f.cause, f.detail
        result.http_status, result.error_code = f.http_status, f.error_code
    except asyncio.TimeoutError:
        result.cause = "over-budget"
        result.detail = f"over the {budget:g}s budget" + _during(result, options)
    except A2ACtlError as err:
        result.cause = cause_of(err)
        result.detail = one_line(err.message)
        result.http_status = http_status_of(err)
        result.error_code = err.a2a_code
    except Exception as exc:  # noqa: BLE001 - an unmapped failure is recorded, never lost
        result.cause = "protocol"
        result.detail = one_line(f"unexpected {type(exc).__name__}: {exc}")
    finally:
        CONNECT_PHASES.reset(marks)
        result.total = time.perf_counter() - started
        result.attempts = 1 + tr.retried
        result.phases = phases
        result.compact()
    return result


def _during(result: AgentResult, options: FleetOptions) -> str:
    """`` (during <stage>)``: the stage the agent was working on when its budget ran out."""
    stages = options.stages
    idx = len(result.passed)
    return f" (during {stages[idx]})" if idx < len(stages) else ""


__all__ = [
    "FAILED_STATES",
    "AgentTransport",
    "agent_headers",
    "cause_of",
    "check_agent",
    "cross_host_note",
    "compiled_validator",
    "declared_versions",
    "first_schema_error",
    "http_status_of",
    "negotiate",
]
