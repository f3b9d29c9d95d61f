"""A2A calls over the chosen interface: JSON-RPC and HTTP+JSON, blocking and SSE streaming.

Per family (``a2actl.protocol.versions``): 1.0 sends ``A2A-Version: 1.0`` and PascalCase methods;
0.x omits the header (servers read a missing header as 0.3, spec v1.0 §3.2.6) and uses
``message/send``-style names. Streaming answers are SSE parsed by httpx-sse; a JSON (non-SSE) answer
to a streaming call is decoded as a JSON-RPC/REST error, since SDKs answer some streaming errors that
way (a2a-sdk answers ``SubscribeToTask`` on a terminal task with a plain JSON-RPC error).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import orjson

from a2actl.core.errors import HTTPStatusError, NoSuchRoute, ProtocolViolation
from a2actl.core.redact import preview
from a2actl.protocol.events import classify_fields, result_shape_error, result_state
from a2actl.protocol.jsondoc import MAX_NESTING, nesting
from a2actl.protocol.jsondoc import parse as parse_json
from a2actl.protocol.jsonrpc import (
    DecodedError,
    EnvelopeError,
    build_request,
    decode_jsonrpc_error,
    decode_rest_error,
    split_response,
)
from a2actl.protocol.negotiation import Selection
from a2actl.protocol.versions import (
    BINDING_HTTP_JSON,
    VERSION_HEADER,
    WIRE_VERSIONS,
    Family,
    join_url,
    rest_path,
)
from a2actl.transport.base import Transport
from a2actl.transport.channel import (
    OVERSIZE_EVENT,
    EventTuple,
    Heartbeat,
    TimedEvent,
    as_timed_event,
    close_inner,
)
from a2actl.transport.timing import HttpResult

#: Fresh ids made per refill (``new_id``): one ``os.urandom`` call for this many.
_ID_BATCH = 256
#: At most this many items of one network read are decoded before they are handed on
#: (``A2AClient.stream_batches``).
BATCH_EVENTS = 64
#: hex digit of a UUID's variant nibble → the same nibble with the RFC 4122 variant bits (10xx).
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}
_ids: list[str] = []
# A forked child must not hand out its parent's unused ids.
os.register_at_fork(after_in_child=_ids.clear)


def _refill() -> None:
    raw = os.urandom(16 * _ID_BATCH).hex()
    variant = _VARIANT
    _ids.extend(
        f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant[h[16]]}{h[17:20]}-{h[20:]}"
        for h in (raw[i : i + 32] for i in range(0, 32 * _ID_BATCH, 32))
    )


def new_id() -> str:
    """A fresh random UUID (version 4, RFC 4122 §4.4: 122 random bits from ``os.urandom``) as its
    36-character string, as ``str(uuid.uuid4())`` gives: for JSON-RPC request ids and ``messageId``s.

    The random bytes are read 256 ids at a time (``str(uuid.uuid4())`` cost ~7 µs per id on the
    throughput paths, one ``urandom`` system call each; this ~1 µs). Safe from several threads (a
    list's ``pop`` is atomic) and across ``fork`` (a child drops the ids it inherited)."""
    try:
        return _ids.pop()
    except IndexError:
        _refill()
        return _ids.pop()


def rest_error(
    res: HttpResult,
    operation: str,
    method: str,
    family: Family,
    selection: Selection | None = None,
    task_id: Any = None,
) -> RpcOutcome:
    """The outcome of a non-2xx HTTP+JSON answer: the decoded A2A error, or (a body no A2A server
    wrote) ``NoSuchRoute`` for 404/405 and ``HTTPStatusError`` otherwise, raised. When ``selection``
    was forced to a version the card does not declare for this interface, the hint says so; when
    ``task_id`` (the id in the path) holds a ``/``, the hint names it instead of the interface URL."""
    try:
        parsed = parse_json(res.body, res.url) if res.body.strip() else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    decoded = decode_rest_error(res.status, parsed, operation=operation, family=family)
    if decoded is not None:
        return RpcOutcome(operation, method, None, decoded, res)
    if res.status in (404, 405):
        snippet = preview(res.body, 80)
        hint = (
            f"the interface URL or the A2A version is wrong: A2A {family.value} HTTP+JSON expects this "
            "path under the card's interface URL; 'a2actl caps fingerprint TARGET' shows what the endpoint "
            "speaks"
        )
        declared = selection.interface.protocol_version if selection is not None else None
        if selection is not None and selection.forced:
            hint = (
                f"A2A {family.value} was forced (--a2a-version) and the card declares "
                f"{declared or 'another version'} for this interface; its {family.value} routes do not "
                f"exist: drop --a2a-version {family.value}, or see 'a2actl caps fingerprint TARGET'"
            )
        elif isinstance(task_id, str) and "/" in task_id:
            hint = slash_id_hint(task_id)
        raise NoSuchRoute(
            f"{res.url} answered HTTP {res.status} {res.reason}"
            + (f" {snippet!r}" if snippet else "")
            + f": no such route for {method}",
            hint=hint,
            details={"httpStatus": res.status, "url": res.url},
        )
    raise _http_error(res, parsed)


def slash_id_hint(task_id: str) -> str:
    """The hint of a 404 for a path holding ``task_id``, an id with a ``/``: a2actl sent it as one
    segment (``%2F``, ``rest_path``), and a server that decodes it before routing finds no route."""
    return (
        f"the id {task_id!r} holds '/', sent as %2F in one path segment; this server (or a proxy) "
        "decodes it before routing, so no HTTP+JSON route matches: use the JSON-RPC interface "
        "(--binding JSONRPC)"
    )


def _check_shape(operation: str, method: str, result: Any, url: str) -> None:
    """Raise ``ProtocolViolation`` when a successful answer is not ``operation``'s response shape."""
    if operation in _TASK_ANSWERS:
        # The common answer, a Task with an id and a known state, read as ``result_shape_error``
        # reads it (``result_state`` is ``task_view``'s kind, id and state) without building the
        # whole view (artifacts' texts included) per request; anything else takes the full check.
        # (Where the two differ, a bare object without ``status``, ``result_state`` has no state.)
        kind, task_id, state = result_state(result)
        if kind == "task" and task_id and isinstance(task_id, str) and state and state != "unknown":
            return
    why = result_shape_error(operation, result)
    if why is not None:
        snippet = preview(json.dumps(result, ensure_ascii=False), 80)
        raise ProtocolViolation(
            f"{url}: the {method} result {why}: {snippet}",
            hint="the agent answered success with a body that is not this method's "
            "response; check the agent (or a proxy rewriting bodies)",
        )


def _json_error_text(body: Any) -> str | None:
    """The human message in a non-A2A JSON error body (``message``, ``error``, ``detail``, ``title``)."""
    if isinstance(body, dict):
        for key in ("message", "error", "detail", "title", "error_description"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
            nested = value.get("message") if isinstance(value, dict) else None
            if isinstance(nested, str):
                return nested.strip()
    return None


def retry_after(res: HttpResult) -> float | None:
    """Seconds a 429 or 503 answer asks the client to wait (``Retry-After``, RFC 9110 §10.2.3:
    delay-seconds or an HTTP-date, read against this machine's clock; never negative), or ``None``:
    another status, no header, or one that does not parse."""
    if res.status not in (429, 503):
        return None
    value = res.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() is also true for '²' and other digits
        return float(min(int(value[:12]), 10**9))
    import email.utils
    import time

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _http_error(res: HttpResult, body: Any = None) -> HTTPStatusError:
    """``HTTPStatusError`` for a non-A2A error answer: ``details`` ``{"httpStatus"}``, plus
    ``"retryAfter"`` (seconds, ``retry_after``) when a 429 or 503 carries ``Retry-After``."""
    text = _json_error_text(body)
    snippet = text if text is not None else preview(res.body, 60)
    details: dict[str, Any] = {"httpStatus": res.status}
    wait = retry_after(res)
    if wait is not None:
        details["retryAfter"] = wait
    return HTTPStatusError(
        f"{res.url} answered HTTP {res.status} {res.reason}" + (f": {snippet!r}" if snippet else ""),
        hint="a 5xx from a gateway or an overloaded agent; retry or check the agent"
        if res.status >= 500
        else "is this URL the agent's A2A endpoint?",
        details=details,
    )


#: Operations whose answer is (or may be) a Task: ``_check_shape``'s fast path.
_TASK_ANSWERS = frozenset(("SendMessage", "GetTask", "CancelTask"))


@dataclass
class RpcOutcome:
    """The answer to one A2A operation: ``result`` on success, else ``error`` (decoded). ``method`` is
    the JSON-RPC method or ``VERB path`` that was sent; ``http`` the raw exchange."""

    operation: str
    method: str
    result: Any
    error: DecodedError | None
    http: HttpResult

    @property
    def ok(self) -> bool:
        """True when the agent answered without an A2A error."""
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """A summary for JSON documents: operation, method, HTTP status, ``ok``, the decoded error."""
        return {
            "operation": self.operation,
            "method": self.method,
            "httpStatus": self.http.status,
            "ok": self.ok,
            "error": self.error.to_json() if self.error else None,
        }


def _with_status(exc: ProtocolViolation, res: HttpResult) -> ProtocolViolation:
    """``exc``, raised while reading the answer ``res`` (not JSON, not UTF-8, not a JSON-RPC
    envelope, not the operation's shape, not SSE), with ``answer_status`` = ``res.status``: with a
    2xx the agent took the request and its answer cannot be read, which ``dlq replay`` must not
    deliver again (``dlq.replay.classify_exception``: permanent). A ``try`` in the caller, not a
    context manager: free when nothing is raised, on ``load run``'s per-request path."""
    if exc.answer_status is None:
        exc.answer_status = res.status
    return exc


class A2AClient:
    """Calls operations on ``selection.interface`` speaking ``selection.family``, over any
    ``Transport`` (httpx's ``HttpTransport`` or aiohttp's ``FastTransport``)."""

    def __init__(self, transport: Transport, selection: Selection) -> None:
        self.transport = transport
        self.selection = selection
        self.family = selection.family
        self.wire = WIRE_VERSIONS[Family.V0_3 if selection.family is Family.V0_2 else selection.family]
        self.binding = selection.interface.protocol_binding
        self.url = (
            selection.interface.url.rstrip("/")
            if self.binding == BINDING_HTTP_JSON
            else selection.interface.url
        )
        # a ``-H 'A2A-Version: V'`` of the user's is sent as given, as the gRPC transport sends an
        # ``-H a2a-version`` as its metadata: the method names and bodies still follow ``family``
        user_version = any(k.lower() == "a2a-version" for k, _ in transport.settings.headers)
        self._version_header = None if user_version else self.wire.version_header

    def headers(self, streaming: bool = False) -> dict[str, str]:
        """Per-call headers of this family: ``A2A-Version`` (1.0; not when the invocation's ``-H``
        headers name it: theirs is sent as given), ``Accept`` for SSE."""
        h: dict[str, str] = {}
        if self._version_header:
            h[VERSION_HEADER] = self._version_header
        if streaming:
            h["Accept"] = "text/event-stream"
        return h

    def method_name(self, operation: str) -> str:
        """JSON-RPC method (or ``VERB /path``) for ``operation`` in this family; ``KeyError`` if absent."""
        if self.binding == BINDING_HTTP_JSON:
            verb, path = self.wire.rest[operation]
            return f"{verb} {path}"
        return self.wire.methods[operation]

    def _with_tenant(self, params: dict[str, Any]) -> dict[str, Any]:
        tenant = self.selection.interface.tenant
        if tenant and self.family is Family.V1_0:
            return {**params, "tenant": tenant}
        return params

    async def call(self, operation: str, params: dict[str, Any]) -> RpcOutcome:
        """Run a unary operation (``GetTask``, ``SendMessage``, …) and decode the answer.

        Raises ``ProtocolViolation`` for a non-JSON body or a malformed JSON-RPC envelope, plus the
        transport errors of ``HttpTransport.request``. A2A errors are returned in ``RpcOutcome.error``.
        """
        if self.binding == BINDING_HTTP_JSON:
            return await self._rest_call(operation, params)
        method = self.wire.methods[operation]
        rid = new_id()
        res = await self.transport.request(
            "POST",
            self.url,
            json_body=build_request(method, self._with_tenant(params), rid),
            headers=self.headers(),
        )
        if res.status >= 400 and not res.body.strip().startswith(b"{"):
            raise _http_error(res)
        try:
            try:
                obj = parse_json(res.body, res.url)  # what res.json() returns, without its import per call
            except (ValueError, UnicodeDecodeError):
                obj = res.json()  # raises the ProtocolViolation that says what the body was
            if res.status >= 400 and not (isinstance(obj, dict) and "jsonrpc" in obj):
                # A gateway's or framework's JSON error, not a JSON-RPC answer: the HTTP error it is.
                raise _http_error(res, obj)
            try:
                result, error = split_response(obj, rid)
            except EnvelopeError as exc:
                raise ProtocolViolation(f"{self.url}: {exc}") from exc
            decoded = (
                decode_jsonrpc_error(error, method=method, family=self.family) if error is not None else None
            )
            if decoded is None:
                _check_shape(operation, method, result, res.url)
        except ProtocolViolation as exc:
            _with_status(exc, res)
            raise
        return RpcOutcome(operation, method, result, decoded, res)

    async def _rest_call(self, operation: str, params: dict[str, Any]) -> RpcOutcome:
        verb, path = self.wire.rest[operation]
        task_id = params.get("id", "")
        tenant = self.selection.interface.tenant
        prefix = f"/{tenant}" if tenant and self.family is Family.V1_0 else ""
        url = join_url(self.url, prefix + rest_path(path, task_id))
        rest = {k: v for k, v in params.items() if k not in ("id", "tenant")}
        body = None
        if verb == "GET":
            if rest:  # query parameters are camelCase, repeated ones comma-joined (spec v1.0 §11)
                from urllib.parse import urlencode

                url += ("&" if "?" in url else "?") + urlencode(
                    {k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in rest.items()}
                )
        else:
            body = rest
        res = await self.transport.request(verb, url, json_body=body, headers=self.headers())
        method = f"{verb} {prefix}{path}"
        if res.status >= 400:
            return rest_error(res, operation, method, self.family, self.selection, task_id)
        try:
            try:
                result = parse_json(res.body, res.url)  # as in call()
            except (ValueError, UnicodeDecodeError):
                result = res.json()
            _check_shape(operation, method, result, res.url)
        except ProtocolViolation as exc:
            _with_status(exc, res)
            raise
        return RpcOutcome(operation, method, result, None, res)

    async def stream(
        self, operation: str, params: dict[str, Any], *, heartbeats: bool = False
    ) -> AsyncGenerator[TimedEvent | RpcOutcome | Heartbeat, None]:
        """Run a streaming operation (``SendStreamingMessage``, ``SubscribeToTask``) and yield each event
        as a ``TimedEvent``; an error answer (JSON body or an SSE error frame) is yielded as an
        ``RpcOutcome`` and ends the iteration. With ``heartbeats``, SSE comment lines are yielded as
        ``Heartbeat`` too. ``stream_batches`` item by item.

        Raises ``ProtocolViolation`` for a non-JSON ``data:`` field or a wrong envelope; a connection
        cut mid-stream raises the transport's error (``UnreachableError``/``ProtocolViolation``).
        """
        batches = self.stream_batches(operation, params, heartbeats=heartbeats)
        try:
            async for batch in batches:
                for item in batch:
                    if isinstance(item, (RpcOutcome, Heartbeat)):
                        yield item
                    else:
                        yield as_timed_event(item)
        finally:
            await close_inner(batches)

    async def stream_batches(
        self, operation: str, params: dict[str, Any], *, heartbeats: bool = False
    ) -> AsyncGenerator[list[EventTuple | RpcOutcome | Heartbeat], None]:
        """``stream``'s items as one list per network read (never empty; a read of more than
        ``BATCH_EVENTS`` items as several lists, all its items sharing the read's ``at``), in stream
        order: the events (each an ``EventTuple``, the plain tuple of a ``TimedEvent``'s fields;
        ``transport.channel``) and, with ``heartbeats``, comments that read completed; an error answer
        is the last item of the last list. For readers of tens of thousands of events a second
        (``stream tail``): one generator step per read instead of one per event. When the sink logs bodies (``-vv``), one
        item a list, so each body is logged just before its item is handed on. Raises as ``stream``
        does."""
        from a2actl.transport.sse import SSETuple, iter_sse_batches

        rid = new_id()
        if self.binding == BINDING_HTTP_JSON:
            verb, path = self.wire.rest[operation]
            tenant = self.selection.interface.tenant
            prefix = f"/{tenant}" if tenant and self.family is Family.V1_0 else ""
            url = join_url(self.url, prefix + rest_path(path, params.get("id", "")))
            rest_params = {k: v for k, v in params.items() if k not in ("id", "tenant")}
            # A GET carries no body (0.3's subscribe is GET …:subscribe; a body on it is not HTTP's).
            body: Any = None if verb == "GET" else rest_params
            method = f"{verb} {prefix}{path}"
        else:
            verb, url, method = "POST", self.url, self.wire.methods[operation]
            body = build_request(method, self._with_tenant(params), rid)
        response, clock = await self.transport.open_stream(
            verb, url, json_body=body, headers=self.headers(streaming=True)
        )
        try:
            ctype = response.headers.get("content-type", "")
            if "text/event-stream" not in ctype:
                raw = await self.transport.read_rest(response, url)
                clock.finish()
                res = HttpResult(
                    response.status_code,
                    response.reason_phrase,
                    response.headers,
                    raw,
                    url,
                    clock.timing,
                    clock.traceparent,
                )
                yield [self._decode_unary_error(operation, method, res, rid, params.get("id"))]
                return
            origin = clock.origin()
            sink = self.transport.sink
            bodies = sink.wants_bodies  # -vv: each data field to the sink (fixed for the run)
            rest = self.binding == BINDING_HTTP_JSON
            loads = orjson.loads  # the per-event decode: ~5x the stdlib's speed on event-sized objects
            deep_limit = MAX_NESTING

            def stdlib(data: str) -> Any:
                """A ``data`` field orjson refused, read by the stdlib as before orjson, so JSON that
                only Python's reader takes (lone surrogates, ``NaN``, integers past 64 bits, read
                exactly) still passes. Raises ``ProtocolViolation`` (6): not JSON, or too deep."""
                try:
                    return json.loads(data)
                except RecursionError:
                    return parse_json(data, url)  # raises "nested too deep"
                except ValueError as exc:
                    raise ProtocolViolation(
                        f"SSE data from {url} is not JSON: {preview(data, 80)!r}"
                    ) from exc

            def decode(batch: list[SSETuple], out: list[EventTuple | RpcOutcome | Heartbeat]) -> bool:
                """Append the items of one read's SSE ``batch`` to ``out``; True when an error answer
                (the last item) ended the stream. One call per read: the loop is the per-event path."""
                add = out.append
                for kind, data, size, at, _, _, truncated in batch:  # unpacked once, not read five times
                    at -= origin
                    if kind == "comment":
                        if heartbeats:
                            add(Heartbeat(at, data))
                        continue
                    if truncated:
                        add((at, size, OVERSIZE_EVENT, True))
                        continue
                    if bodies:
                        sink.on_body("<", self.transport.redact_body(data.encode()))
                    try:
                        obj = loads(data)
                    except ValueError:  # orjson's JSONDecodeError, or its 1024-level depth limit
                        obj = stdlib(data)
                    if (  # cheap necessary conditions first: depth d takes d brackets and d closers
                        len(data) > 2 * deep_limit
                        and data.count("{") + data.count("[") > deep_limit
                        and nesting(obj) > deep_limit
                    ):
                        parse_json(data, url)  # raises "nested too deep"
                    if rest:
                        result = obj
                    elif (  # the common case, exactly split_response's success: a result echoing our id
                        type(obj) is dict
                        and obj.get("id") == rid
                        and obj.get("jsonrpc") == "2.0"
                        and "result" in obj
                        and "error" not in obj
                    ):
                        result = obj["result"]
                    else:
                        try:
                            result, error = split_response(obj, rid)
                        except EnvelopeError as exc:
                            raise ProtocolViolation(f"SSE event from {url}: {exc}") from exc
                        if error is not None:
                            # decoded again by the stdlib: orjson reads integers past 64 bits as floats
                            error = split_response(stdlib(data), rid)[1] or error
                            res = HttpResult(
                                response.status_code,
                                response.reason_phrase,
                                response.headers,
                                data.encode(),
                                url,
                                clock.timing,
                                clock.traceparent,
                            )
                            add(
                                RpcOutcome(
                                    operation,
                                    method,
                                    None,
                                    decode_jsonrpc_error(error, method=method, family=self.family),
                                    res,
                                )
                            )
                            return True
                    add((at, size, classify_fields(result), False))
                return False

            async for read in iter_sse_batches(response, url, self.transport.settings):
                # -vv logs each body as it is decoded: item by item then, so each body's log line
                # comes just before what the reader makes of it, and nothing past the end is logged.
                # Else a read at most BATCH_EVENTS items at a time: a 64 KiB read holds ~500 small
                # events, and decoding them all before the first is handed on keeps them all alive
                # (measured: 0.6k CPU instructions an event more for the whole tail, 2.6k in the
                # client layer alone, mostly the allocator's, than slices).
                if bodies:
                    slices: Any = ([item] for item in read)
                elif len(read) <= BATCH_EVENTS:
                    slices = (read,)
                else:
                    slices = (read[i : i + BATCH_EVENTS] for i in range(0, len(read), BATCH_EVENTS))
                for batch in slices:
                    out: list[EventTuple | RpcOutcome | Heartbeat] = []
                    try:
                        ended = decode(batch, out)
                    except Exception:
                        if out:  # the events before the bad one go first, as they would one by one
                            yield out
                        raise
                    if out:
                        yield out
                    if ended:
                        return
        finally:
            await response.aclose()

    def _decode_unary_error(
        self, operation: str, method: str, res: HttpResult, rid: str, task_id: Any = None
    ) -> RpcOutcome:
        try:
            return self._unary_error_of(operation, method, res, rid, task_id)
        except ProtocolViolation as exc:
            _with_status(exc, res)
            raise

    def _unary_error_of(
        self, operation: str, method: str, res: HttpResult, rid: str, task_id: Any
    ) -> RpcOutcome:
        if self.binding == BINDING_HTTP_JSON and res.status >= 400:
            return rest_error(res, operation, method, self.family, self.selection, task_id)
        if res.status >= 400 and not res.body.strip().startswith(b"{"):
            # a gateway's 5xx page or plain-text error, as ``call`` reads it: the HTTP error it is
            raise _http_error(res)
        try:
            obj = parse_json(res.body, res.url) if res.body else None
        except ValueError as exc:
            raise ProtocolViolation(
                f"{res.url} answered a streaming call with HTTP {res.status} "
                f"{res.headers.get('content-type', '?')}, neither SSE nor JSON"
            ) from exc
        if self.binding == BINDING_HTTP_JSON:
            raise ProtocolViolation(
                f"{res.url} answered a streaming call with a plain JSON body (HTTP {res.status}), not SSE"
            )
        if res.status >= 400 and not (isinstance(obj, dict) and "jsonrpc" in obj):
            raise _http_error(res, obj)  # a framework's JSON error, not a JSON-RPC answer
        try:
            result, error = split_response(obj, rid)
        except EnvelopeError as exc:
            raise ProtocolViolation(f"{res.url}: {exc}") from exc
        if error is None:
            raise ProtocolViolation(f"{res.url} answered a streaming call with a plain JSON result, not SSE")
        return RpcOutcome(
            operation, method, None, decode_jsonrpc_error(error, method=method, family=self.family), res
        )


__all__ = ["A2AClient", "RpcOutcome", "new_id"]
