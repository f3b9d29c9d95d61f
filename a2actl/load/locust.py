"""The Locust plugin: ``A2AUser``, an A2A client for Locust's users (``pip install 'a2actl[locust]'``).

``locust -f locustfile.py`` with a ``class Agent(A2AUser)`` load-tests an A2A agent with Locust's own
engine: its web UI, ``--headless`` runs, CSV stats and ``--master``/``--worker`` distribution across
machines. Each user fetches the agent card once (``on_start``), negotiates the interface the way
``a2actl``'s own client does (``a2actl.protocol.negotiation.select_interface``: ``a2a_version``,
``binding``) and then runs A2A operations on it:

==========================  =======================================================================
``a2a_send()``              ``SendMessage`` / ``message/send``, blocking, a fresh ``messageId``
``a2a_stream()``            ``SendStreamingMessage`` / ``message/stream``, read to the end of the stream
``a2a_handshake()``         a new connection: card fetch, parse, negotiation and a first RPC (``GetTask``
                            on a random id; ``TaskNotFoundError`` is the healthy answer, as in
                            ``a2actl handshake probe``)
==========================  =======================================================================

A subclass that declares no ``@task`` runs ``a2a_send``; one that declares tasks runs those only.

What Locust's stats show (request type, name):

* ``A2A``, ``SendMessage (JSONRPC 1.0)`` (the operation, then the negotiated binding and version): one
  entry per call, latency from sending the request to the answer's last byte (a stream: to its end),
  ``response_length`` the body's bytes. A failure is named by what went wrong: the A2A error
  (``TaskNotFoundError -32001``), ``task failed`` / ``task rejected`` / ``task canceled`` (a task
  that ended so is not a success, as in ``a2actl load run``), ``HTTP 503``, the transport error's class
  (``ConnectionRefusedError``; ``stream cut: HTTPParseError`` when a stream's connection ends
  mid-body), ``stream closed before a terminal or interrupted state`` or ``protocol violation: …``
  (for a stream also a lifecycle rule ``stream tail`` flags, ``protocol violation: illegal-transition``,
  as ``load run -s stream`` counts it).
* ``A2A-TTFE``, ``SendStreamingMessage (JSONRPC 1.0)``: time to first event of each stream that had
  one (``response_length``: the bytes read up to it).
* ``A2A``, ``handshake (JSONRPC 1.0)``: the handshake task, card to first RPC answer.
* ``A2A``, ``agent card``: each user's card fetch and negotiation in ``on_start``.

HTTP: Locust's ``FastHttpUser`` (geventhttpclient), chosen over ``HttpUser`` (requests) for its CPU
per request (measured: docs/load.md). Requests go through the user's geventhttpclient pool directly
(``self.client.client.clientpool``), so ``FastHttpUser``'s settings (timeouts, ``insecure``,
``ssl_context_factory``, proxy, ``client_pool``, ``default_headers``) apply, and events are fired
with A2A names rather than HTTP verbs. SSE is decoded by ``a2actl.transport.sse_sync`` (httpx-sse's
decoders); each body line is handed on as soon as it arrives, so time to first event is not held
back by buffering (``\\n`` line ends; a stream that ends its lines with a bare ``\\r`` is decoded
when its body ends).

Operator settings are class attributes of the subclass: ``a2a_version`` (``auto``, ``0.3``, ``1.0``),
``binding`` (``auto``, ``JSONRPC``, ``HTTP+JSON``), ``text`` (the message text; override
``message_text()`` to vary it), ``token_env`` (the NAME of an environment variable holding a bearer
token, never the token), ``headers`` (extra request headers). A configuration that cannot work (no
interface fits, the token variable is unset, a bad host) is a failed ``agent card`` entry named
``configuration: …``, logged as one line per class, and stops the user; an agent that cannot be
reached is a failure, and the user tries the card again on its next task.

Only ``locust`` imports this module (import-linter forbids it elsewhere): importing gevent patches the
standard library of the process that does it.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any, ClassVar

import orjson
from geventhttpclient.client import HTTPClient, HTTPClientPool
from geventhttpclient.response import HTTPSocketPoolResponse
from geventhttpclient.url import URL
from locust.contrib.fasthttp import FastHttpSession, FastHttpUser  # noqa: TID253
from locust.exception import StopTest, StopUser  # noqa: TID253

from a2actl import __version__
from a2actl.agent.discovery import card_urls, decode_card
from a2actl.agent.target import parse_target
from a2actl.core.errors import A2ACtlError
from a2actl.core.redact import header_secrets, mask_urls, preview, redact_text, url_secrets
from a2actl.load.metrics import FAILED_STATES  # failed, rejected, canceled: as 'a2actl load run'
from a2actl.protocol.events import classify_event, result_shape_error, result_state, text_message_params
from a2actl.protocol.jsondoc import dumps_body
from a2actl.protocol.jsonrpc import (
    DecodedError,
    EnvelopeError,
    build_request,
    decode_jsonrpc_error,
    decode_rest_error,
    split_response,
)
from a2actl.protocol.lifecycle import Lifecycle
from a2actl.protocol.negotiation import NegotiationFailed, Selection, select_interface
from a2actl.protocol.versions import (
    BINDING_HTTP_JSON,
    VERSION_HEADER,
    WIRE_VERSIONS,
    Family,
    StateKind,
    WireVersion,
    join_url,
    rest_path,
    state_kind,
)
from a2actl.transport.sse_sync import iter_sse_events

log = logging.getLogger(__name__)

#: Request types in Locust's stats.
REQUEST_TYPE = "A2A"
TTFE_REQUEST_TYPE = "A2A-TTFE"
#: The failure of a stream that closed before a terminal or interrupted state.
STREAM_CUT = "stream closed before a terminal or interrupted state"
_SETTLED = (StateKind.TERMINAL, StateKind.INTERRUPTED)
#: Largest card read (bytes), as ``Settings.max_card_bytes``.
MAX_CARD_BYTES = 1 << 20
#: Network errors of geventhttpclient (socket errors and timeouts are ``OSError``s, its parse errors
#: ``HTTPException``s): a failure named by the class, not a traceback.
_NETWORK_ERRORS = (OSError, HTTPException)


class A2AFailure(Exception):
    """A request Locust counts as failed. Its text is the row name in Locust's failure table
    (``repr`` is the text too: Locust groups and prints failures by ``repr``, also across workers),
    so it stays low in cardinality: an error name and code, a state, an HTTP status or a class."""

    def __repr__(self) -> str:
        return str(self)


class _ConfigError(Exception):
    """A setting that cannot work for this user: logged once per class and reason; the user stops."""


def _a2a_failure(decoded: DecodedError) -> A2AFailure:
    """``TaskNotFoundError -32001``: the decoded error's name and code (the name alone without one)."""
    return A2AFailure(f"{decoded.name} {decoded.code}" if decoded.code is not None else decoded.name)


_explained: set[str] = set()
_config_logged: set[tuple[str, str]] = set()
#: The secret values this process's users send (``token_env``'s token, ``Authorization`` and other
#: sensitive ``headers``, the host URL's userinfo and credential query values), masked in what the
#: plugin logs or names a failure with, as a2actl masks them in its own output.
_secrets: set[str] = set()


def _register(values: list[str]) -> None:
    """Add secret values to those ``_masked`` hides (the few a user's settings carry)."""
    _secrets.update(v for v in values if v)


def _masked(text: str) -> str:
    """``text`` with the secrets of every URL in it masked (userinfo, ``token=`` …:
    ``core.redact.mask_urls``) and each registered secret value replaced by ``***``: an agent's
    body or an error message may echo a token, and a card's URL or the host may carry one."""
    return redact_text(mask_urls(text), sorted(_secrets, key=len, reverse=True))


def _explain_once(failure: A2AFailure, detail: str) -> A2AFailure:
    """Log ``detail`` (which may hold ids and URLs; secrets masked) the first time this process sees
    ``failure``."""
    key = str(failure)
    if key not in _explained:
        _explained.add(key)
        log.warning("a2actl A2AUser: %s: %s", key, _masked(detail))
    return failure


@dataclass(frozen=True)
class Endpoint:
    """The negotiated interface, ready for requests: ``selection`` (``protocol.negotiation``), its
    ``wire`` (method names, REST paths), ``label`` for stats names (``JSONRPC 1.0``), ``url`` (the
    interface URL, without a trailing ``/`` for HTTP+JSON as ``A2AClient`` does) and the headers of
    unary and streaming calls (``A2A-Version`` for 1.0, spec v1.0 §3.2.6; ``Accept``)."""

    selection: Selection
    wire: WireVersion
    label: str
    url: str
    unary_headers: dict[str, str]
    stream_headers: dict[str, str]

    @property
    def family(self) -> Family:
        """The wire family spoken (``0.2`` cards are spoken with 0.3's names, as ``A2AClient`` does)."""
        return self.selection.family

    @property
    def rest(self) -> bool:
        """True on an HTTP+JSON interface."""
        return self.selection.interface.protocol_binding == BINDING_HTTP_JSON

    @property
    def tenant(self) -> str | None:
        """The interface's tenant, sent in 1.0 only (params for JSON-RPC, a path prefix for HTTP+JSON)."""
        tenant = self.selection.interface.tenant
        return tenant if tenant and self.family is Family.V1_0 else None


@dataclass(frozen=True)
class _Request:
    verb: str
    url: str
    body: bytes | None
    request_id: str | None  # JSON-RPC id; None on HTTP+JSON


class A2AUser(FastHttpUser):
    """A Locust user that speaks A2A to ``host`` (the agent's base URL, or a card URL).

    Class attributes to set in a locustfile's subclass: ``a2a_version`` (``"auto"``, ``"0.3"``,
    ``"1.0"``), ``binding`` (``"auto"``, ``"JSONRPC"``, ``"HTTP+JSON"``), ``text`` (the message),
    ``token_env`` (the name of an environment variable holding a bearer token), ``headers`` (extra
    headers for every request), plus ``FastHttpUser``'s (``network_timeout``, ``connection_timeout``
    in seconds, ``insecure``: ``False`` here, TLS is verified unless set). Tasks: ``a2a_send``,
    ``a2a_stream``, ``a2a_handshake`` (see the module docstring for what each reports).
    """

    abstract = True
    a2a_version: ClassVar[str] = "auto"
    binding: ClassVar[str] = "auto"
    text: ClassVar[str] = "hello"
    token_env: ClassVar[str | None] = None
    headers: ClassVar[dict[str, str]] = {}
    insecure = False

    endpoint: Endpoint | None = None
    _stop_reason: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.tasks:  # no @task declared here or in a base: the default task set is send
            cls.tasks = [_send]

    def __init__(self, environment: Any) -> None:
        """``FastHttpUser``'s, which parses ``host`` (``urlparse``) for its session. A host it
        cannot parse (``http://[::1``) raised ``ValueError`` out of Locust's spawning, a traceback
        for every user; no host at all (no ``--host``, no ``host`` attribute) raised ``StopTest``,
        a traceback and exit 0 with nothing sent. Each is a configuration error instead, as
        ``a2actl`` names a bad TARGET: reported by ``on_start`` (one line per class, a failed
        ``agent card`` entry: Locust exits 1) and the user stops. The message does not quote the
        host, which may carry credentials."""
        try:
            super().__init__(environment)
        except StopTest:
            if self.host:
                raise
            self._stop_reason = "no host: give --host URL, or a host attribute in the class"
        except ValueError as exc:
            self._stop_reason = f"host is not a valid URL: {exc}"

    # -- configuration -----------------------------------------------------------------------------

    def message_text(self) -> str:
        """The text of the next message (``text``); override to vary it per request."""
        return self.text

    def _base_headers(self) -> dict[str, str]:
        """``FastHttpUser.default_headers``, ``headers``, then ``Authorization: Bearer`` from
        ``token_env`` unless ``headers`` already carry an ``Authorization``."""
        out = {"User-Agent": f"a2actl/{__version__} (locust)"}
        out.update(self.default_headers or {})
        out.update(self.headers)
        if self.token_env:
            token = os.environ.get(self.token_env)
            if not token:
                raise _ConfigError(f"token_env names {self.token_env!r}, which is not set or empty")
            _register([token])
            if not any(k.lower() == "authorization" for k in out):
                out["Authorization"] = f"Bearer {token}"
        _register(header_secrets(out.items()))
        return out

    def _endpoint(self, selection: Selection) -> Endpoint:
        family = selection.family
        wire = WIRE_VERSIONS[Family.V0_3 if family is Family.V0_2 else family]
        binding = selection.interface.protocol_binding
        base = self._base_headers()
        if wire.version_header:
            base[VERSION_HEADER] = wire.version_header
        unary = {**base, "Content-Type": "application/json", "Accept": "application/json"}
        stream = {**base, "Content-Type": "application/json", "Accept": "text/event-stream"}
        url = selection.interface.url
        return Endpoint(
            selection,
            wire,
            f"{binding} {family.value}",
            url.rstrip("/") if binding == BINDING_HTTP_JSON else url,
            unary,
            stream,
        )

    # -- Locust hooks ------------------------------------------------------------------------------

    def on_start(self) -> None:
        """Fetch the card and negotiate on this user's connection; reported as ``agent card``. A
        user whose ``host`` did not parse (``__init__``) reports that configuration error instead,
        and stops at its first task."""
        if self._stop_reason is not None:
            self._config_failed(time.perf_counter(), time.time())
            return
        self._discover(self.client)

    def _config_failed(self, t0: float, start: float) -> None:
        """Log ``_stop_reason`` (once per class and reason, not once per user) and report it as a
        failed ``agent card`` entry named ``configuration: …``."""
        reason = self._stop_reason or ""
        said = (type(self).__name__, reason)
        if said not in _config_logged:
            _config_logged.add(said)
            log.error("a2actl A2AUser %s: %s; its users stop", *said)
        self._fire("agent card", t0, start, 0, A2AFailure(f"configuration: {reason}"))

    def _ready(self) -> Endpoint | None:
        """The negotiated endpoint, discovering again after a failed ``on_start``; raises ``StopUser``
        after a configuration error (already logged)."""
        if self._stop_reason is not None:
            raise StopUser()
        if self.endpoint is None:
            self._discover(self.client)
            if self._stop_reason is not None:
                raise StopUser()
        return self.endpoint

    def _discover(self, session: FastHttpSession) -> None:
        t0, start = time.perf_counter(), time.time()
        try:
            endpoint, size = self._fetch_endpoint(session.client.clientpool)
        except _ConfigError as exc:
            self._stop_reason = _masked(str(exc))
            self._config_failed(t0, start)
            return
        except A2AFailure as exc:
            self._fire("agent card", t0, start, 0, exc)
            return
        self.endpoint = endpoint
        self._fire("agent card", t0, start, size, None)

    def _fetch_endpoint(self, pool: HTTPClientPool) -> tuple[Endpoint, int]:
        """GET the card (``/.well-known/agent-card.json``, then ``/.well-known/agent.json`` on a 404,
        ``agent.discovery.card_urls``), decode and negotiate. Returns the endpoint and the card's
        bytes. Raises ``A2AFailure`` for the network and the agent, ``_ConfigError`` for settings."""
        _register(url_secrets(self.host or ""))
        try:
            urls = card_urls(parse_target(self.host or ""))
            headers = {**self._base_headers(), "Accept": "application/json"}
        except A2ACtlError as exc:
            raise _ConfigError(exc.message) from exc
        for i, url in enumerate(urls):
            status, body = self._exchange(pool, "GET", url, None, headers, limit=MAX_CARD_BYTES)
            if status == 404 and i + 1 < len(urls):
                continue
            if status >= 300:  # a redirect is not followed (a2actl's rule without -L)
                raise A2AFailure(f"card: HTTP {status}")
            try:
                _, view = decode_card(body, url)
            except A2ACtlError as exc:
                raise _explain_once(A2AFailure("card: not an agent card"), exc.message) from exc
            try:
                selection = select_interface(
                    view,
                    self.a2a_version,
                    self.binding,
                    grpc_hint="is not spoken by the Locust plugin: use JSONRPC or HTTP+JSON",
                )
            except NegotiationFailed as exc:
                # the settings are the class's attributes here, not the command line's options
                why = str(exc).replace("--a2a-version", "a2a_version").replace("--binding", "binding")
                raise _ConfigError(why) from exc
            return self._endpoint(selection), len(body)
        raise AssertionError("card_urls returns at least one URL")  # pragma: no cover

    # -- tasks -------------------------------------------------------------------------------------

    def a2a_send(self) -> None:
        """One blocking ``SendMessage`` with a fresh ``messageId``; reported as ``SendMessage (…)``."""
        ep = self._ready()
        if ep is None:
            return
        name = f"SendMessage ({ep.label})"
        t0, start = time.perf_counter(), time.time()
        try:
            size = self._call(self.client.client.clientpool, ep, "SendMessage", self._message_params(ep))
        except A2AFailure as exc:
            self._fire(name, t0, start, 0, exc)
            return
        self._fire(name, t0, start, size, None)

    def a2a_stream(self) -> None:
        """One ``SendStreamingMessage`` read to the end of the stream: ``A2A-TTFE`` (time to first
        event) and ``SendStreamingMessage (…)`` (the whole stream, ``response_length`` its bytes)."""
        ep = self._ready()
        if ep is None:
            return
        name = f"SendStreamingMessage ({ep.label})"
        t0, start = time.perf_counter(), time.time()
        size = 0
        try:
            size = self._stream(self.client.client.clientpool, ep, name, t0, start)
        except A2AFailure as exc:
            self._fire(name, t0, start, size, exc)
            return
        self._fire(name, t0, start, size, None)

    def a2a_handshake(self) -> None:
        """On a new connection (a new pool, closed after): the card, parse, negotiation and a first
        RPC, ``GetTask`` on a random id, whose healthy answer is ``TaskNotFoundError``. Reported as
        ``handshake (…)`` with the negotiated label (``handshake`` when it failed before the
        negotiation); any other answer is the failure. Needs no earlier card: it fetches its own."""
        if self._stop_reason is not None:
            raise StopUser()
        session = FastHttpSession(
            base_url=self.host,
            request_event=self.environment.events.request,
            user=None,
            insecure=self.insecure,
            network_timeout=self.network_timeout,
            connection_timeout=self.connection_timeout,
            concurrency=1,
            ssl_context_factory=self.ssl_context_factory,
            proxy_host=self.proxy_host,
            proxy_port=self.proxy_port,
        )
        pool = session.client.clientpool
        t0, start = time.perf_counter(), time.time()
        name = "handshake"
        try:
            ep, card_size = self._fetch_endpoint(pool)
            name = f"handshake ({ep.label})"
            try:
                self._call(pool, ep, "GetTask", {"id": f"a2actl-locust-{uuid.uuid4()}"})
            except A2AFailure as exc:
                if str(exc) != "TaskNotFoundError -32001":
                    raise
        except _ConfigError as exc:
            self._fire(name, t0, start, 0, A2AFailure(f"configuration: {_masked(str(exc))}"))
        except A2AFailure as exc:
            self._fire(name, t0, start, 0, exc)
        else:
            self._fire(name, t0, start, card_size, None)
        finally:
            pool.close()

    # -- the wire ----------------------------------------------------------------------------------

    def _fire(
        self,
        name: str,
        t0: float,
        start: float,
        size: int,
        exc: Exception | None,
        request_type: str = REQUEST_TYPE,
    ) -> None:
        """Report one entry to Locust's stats: response time in ms since ``t0`` (perf_counter s)."""
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=(time.perf_counter() - t0) * 1000.0,
            response_length=size,
            exception=exc,
            context=self.context(),
            start_time=start,
        )

    def _message_params(self, ep: Endpoint) -> dict[str, Any]:
        return text_message_params(self.message_text(), ep.family, ep.selection.interface.protocol_binding)

    def _request(self, ep: Endpoint, operation: str, params: dict[str, Any]) -> _Request:
        """The HTTP request of ``operation``, built as ``transport.a2a.A2AClient`` builds it: JSON-RPC
        posts an envelope to the interface URL (1.0: ``tenant`` in params); HTTP+JSON uses the
        family's ``(verb, path)`` (1.0: ``/{tenant}`` path prefix), the task id in the path."""
        if ep.rest:
            verb, path = ep.wire.rest[operation]
            url = join_url(
                ep.url, (f"/{ep.tenant}" if ep.tenant else "") + rest_path(path, params.get("id", ""))
            )
            rest = {k: v for k, v in params.items() if k not in ("id", "tenant")}
            body = dumps_body(rest, url) if verb != "GET" else None  # GetTask here has no query params
            return _Request(verb, url, body, None)
        rid = str(uuid.uuid4())
        if ep.tenant:
            params = {**params, "tenant": ep.tenant}
        return _Request(
            "POST", ep.url, dumps_body(build_request(ep.wire.methods[operation], params, rid), ep.url), rid
        )

    def _exchange(
        self,
        pool: HTTPClientPool,
        verb: str,
        url: str,
        body: bytes | None,
        headers: dict[str, str],
        limit: int | None = None,
    ) -> tuple[int, bytes]:
        """One request, body read whole: ``(status, body)``. Raises ``A2AFailure`` named by
        the network error's class, or ``body over N bytes`` past ``limit``."""
        response = self._open(pool, verb, url, body, headers)
        try:
            data = response.read() if limit is None else response.read(limit + 1)
        except _NETWORK_ERRORS as exc:
            raise A2AFailure(type(exc).__name__) from exc
        finally:
            response.release()
        if limit is not None and len(data) > limit:
            raise A2AFailure(f"body over {limit:,} bytes")
        _check_encoding(response)
        return response.status_code, data

    def _open(
        self, pool: HTTPClientPool, verb: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> HTTPSocketPoolResponse:
        """Send one request. A URL with userinfo (``http://user:pw@agent``: the host, or a card's
        interface URL) sends it as Basic credentials, in place of any ``Authorization`` header, as
        a2actl's own clients do; geventhttpclient sent none, so an agent behind Basic answered 401."""
        if "@" in url:
            basic = _basic_auth(url)
            if basic is not None:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
                headers["Authorization"] = basic
        parsed = URL(url)
        try:
            client: HTTPClient = pool.get_client(parsed)
            return client.request(verb, parsed.quoted_uri, body=body, headers=headers)
        except _NETWORK_ERRORS as exc:
            raise A2AFailure(type(exc).__name__) from exc

    def _call(self, pool: HTTPClientPool, ep: Endpoint, operation: str, params: dict[str, Any]) -> int:
        """A unary operation, decoded as ``A2AClient.call`` decodes it. Returns the answer's bytes;
        raises ``A2AFailure`` for an A2A error, a failed, rejected or canceled task, an HTTP error, a body that
        is not this operation's answer, or the network."""
        req = self._request(ep, operation, params)
        status, body = self._exchange(pool, req.verb, req.url, req.body, ep.unary_headers)
        obj = _loads_or_none(body)
        if ep.rest:
            if status >= 400:
                decoded = decode_rest_error(status, obj, operation=operation, family=ep.family)
                raise _a2a_failure(decoded) if decoded is not None else A2AFailure(f"HTTP {status}")
            if status >= 300:  # a redirect is not followed (a2actl's rule without -L)
                raise A2AFailure(f"HTTP {status}")
            result = obj
        else:
            if not (isinstance(obj, dict) and "jsonrpc" in obj):
                if status >= 300:  # a gateway's or framework's answer, not a JSON-RPC one
                    raise A2AFailure(f"HTTP {status}")
                raise _explain_once(
                    A2AFailure("protocol violation: not a JSON-RPC answer"), repr(preview(body, 120))
                )
            try:
                result, error = split_response(obj, req.request_id)
            except EnvelopeError as exc:
                raise _explain_once(
                    A2AFailure("protocol violation: bad JSON-RPC envelope"), str(exc)
                ) from exc
            if error is not None:
                method = ep.wire.methods[operation]
                raise _a2a_failure(decode_jsonrpc_error(error, method=method, family=ep.family))
        why = result_shape_error(operation, result)
        if why is not None:
            raise _explain_once(
                A2AFailure(f"protocol violation: the {operation} result {why}"), repr(preview(body, 120))
            )
        state = result_state(result)[2] if operation == "SendMessage" else None
        if state in FAILED_STATES:
            raise A2AFailure(f"task {state}")
        return len(body)

    def _stream(self, pool: HTTPClientPool, ep: Endpoint, name: str, t0: float, start: float) -> int:
        """Send ``SendStreamingMessage`` and read the SSE answer to its end; fire the ``A2A-TTFE``
        entry at the first event. Returns the body's bytes; raises ``A2AFailure`` as ``_call`` does,
        plus ``STREAM_CUT`` when the stream closes before its end: no event ended it (0.3 ``final:
        true``, a bare Message, 1.0 a terminal or interrupted status update, spec v1.0 §11.7) and the
        last state seen is neither terminal nor interrupted (``protocol.lifecycle``'s
        ``missing-terminal`` rule). In 0.3 a terminal or interrupted status update ends the stream
        without ``final: true`` too (as ``load run -s stream``): the rest is not read, and the
        connection is closed, not reused."""
        req = self._request(ep, "SendStreamingMessage", self._message_params(ep))
        response = self._open(pool, req.verb, req.url, req.body, ep.stream_headers)
        size = 0
        state: str | None = None
        final = False
        # stream tail's lifecycle audit, as 'load run -s stream' applies it: the first violation
        lifecycle = Lifecycle(ep.family)
        violation: tuple[str, str] | None = None
        try:
            status = response.status_code
            ctype = str(response.get("content-type") or "")
            if "text/event-stream" not in ctype:
                try:
                    body = response.read()
                except _NETWORK_ERRORS as exc:
                    raise A2AFailure(type(exc).__name__) from exc
                _check_encoding(response)
                raise self._unary_stream_error(ep, status, body, req.request_id)
            _check_encoding(response)

            def lines() -> Iterator[bytes]:
                nonlocal size
                readline: Callable[[bytes], bytes] = response.readline
                while True:
                    line = readline(b"\n")
                    if not line:  # the body ended; readline leaves a last piece without "\n" behind
                        rest = response.read()
                        size += len(rest)
                        if rest:
                            yield rest
                        return
                    size += len(line)
                    yield line

            first = True
            try:
                for event in iter_sse_events(lines()):
                    try:
                        obj = orjson.loads(event.data)
                    except orjson.JSONDecodeError as exc:
                        raise _explain_once(
                            A2AFailure("protocol violation: SSE data is not JSON"), preview(event.data, 120)
                        ) from exc
                    if ep.rest:
                        result = obj
                    else:
                        try:
                            result, error = split_response(obj, req.request_id)
                        except EnvelopeError as exc:
                            raise _explain_once(
                                A2AFailure("protocol violation: bad JSON-RPC envelope"), str(exc)
                            ) from exc
                        if error is not None:
                            method = ep.wire.methods["SendStreamingMessage"]
                            raise _a2a_failure(decode_jsonrpc_error(error, method=method, family=ep.family))
                    if first:
                        first = False
                        self._fire(name, t0, start, size, None, TTFE_REQUEST_TYPE)
                    ev = classify_event(result)
                    found = lifecycle.observe(ev)
                    if found and violation is None:
                        violation = (found[0].rule, found[0].message)
                    if ev.state is not None:
                        state = ev.state
                    final = final or ev.final
                    if lifecycle.ends_without_final(ev.kind):
                        # A2A 0.3 without `final: true`: nothing can follow, so end here as load run
                        # and stream tail do, instead of waiting for the close until
                        # network_timeout. release() closes a connection whose body was not read to
                        # its end (geventhttpclient's should_close), so the pool never reuses it.
                        final = True
                        break
            except A2ACtlError as exc:  # an event over the memory bound
                raise _explain_once(
                    A2AFailure("protocol violation: SSE event too large"), exc.message
                ) from exc
            except _NETWORK_ERRORS as exc:  # the connection ended mid-body
                raise A2AFailure(f"stream cut: {type(exc).__name__}") from exc
        finally:
            response.release()
        if violation is not None:  # as load run: a broken stream, whatever state it reached
            raise _explain_once(A2AFailure(f"protocol violation: {violation[0]}"), violation[1])
        if state in FAILED_STATES:
            raise A2AFailure(f"task {state}")
        if not final and (state is None or state_kind(state) not in _SETTLED):
            raise A2AFailure(STREAM_CUT)
        return size

    def _unary_stream_error(self, ep: Endpoint, status: int, body: bytes, rid: str | None) -> A2AFailure:
        """The failure for a streaming call answered with a plain body (SDKs answer some streaming
        errors with a JSON-RPC or HTTP+JSON error, not SSE: ``A2AClient._decode_unary_error``)."""
        obj = _loads_or_none(body)
        if ep.rest:
            decoded = decode_rest_error(status, obj, operation="SendStreamingMessage", family=ep.family)
            if decoded is not None:
                return _a2a_failure(decoded)
        elif isinstance(obj, dict) and "jsonrpc" in obj:
            try:
                _, error = split_response(obj, rid)
            except EnvelopeError:
                error = None
            if error is not None:
                method = ep.wire.methods["SendStreamingMessage"]
                return _a2a_failure(decode_jsonrpc_error(error, method=method, family=ep.family))
        return A2AFailure(f"HTTP {status}") if status >= 400 else A2AFailure("protocol violation: not SSE")


def _send(user: A2AUser) -> None:
    """The default task: ``user.a2a_send()``."""
    user.a2a_send()


_send.__name__ = "send"


def _basic_auth(url: str) -> str | None:
    """``Basic …`` of ``url``'s userinfo (percent-decoded, as httpx reads it), registered as a
    secret; ``None`` without a user or a password (``http://@host``) or for a URL that does not
    parse."""
    import base64
    from urllib.parse import unquote, urlsplit

    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return None
    if not user and not password:
        return None
    pair = f"{unquote(user or '')}:{unquote(password or '')}".encode()
    value = "Basic " + base64.b64encode(pair).decode("ascii")
    _register(header_secrets([("Authorization", value)]) + url_secrets(url))
    return value


def _loads_or_none(body: bytes) -> Any:
    """The JSON of ``body``, or ``None`` when it is empty or not JSON."""
    try:
        return orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        return None


def _check_encoding(response: Any) -> None:
    """Raise ``A2AFailure`` for a content coding this reader does not decode (no
    ``Accept-Encoding`` is sent unless ``headers`` add one)."""
    coding = str(response.get("content-encoding") or "identity").lower()
    if coding != "identity":
        raise A2AFailure(f"Content-Encoding {coding} not decoded (drop Accept-Encoding from headers)")


__all__ = [
    "REQUEST_TYPE",
    "STREAM_CUT",
    "TTFE_REQUEST_TYPE",
    "A2AFailure",
    "A2AUser",
    "Endpoint",
]
