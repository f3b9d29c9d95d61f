"""One agent's sessions, through the debug API (``docs/debug-endpoints.md``) or, where a deployment
has none, derived from standard A2A.

Sources:

* ``debug``: ``GET {origin}{prefix}`` answers (default prefix ``/debug/a2a``). a2actl first probes it
  *without* credentials: a deployment that answers is flagged loudly (anyone could kill sessions).
* ``a2a-listtasks`` (fallback, A2A 1.0): ``ListTasks`` grouped by ``contextId``; ``createdAt`` /
  ``lastActivityAt`` are the earliest / latest status timestamps of the context's tasks, and kill is
  ``CancelTask`` on each non-terminal task. A 0.3 endpoint without debug endpoints cannot list
  sessions (0.3 has no ListTasks), and a2actl says so.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from a2actl.core.errors import (
    A2ACtlError,
    AuthError,
    HTTPStatusError,
    NotCanceled,
    ProtocolViolation,
    UsageError,
)
from a2actl.protocol.events import result_state
from a2actl.protocol.paging import CursorTrail
from a2actl.protocol.versions import Family, StateKind, rest_path, state_kind
from a2actl.sessions.rules import Filters, Session, derive_sessions, killed_nothing

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.transport.a2a import A2AClient
    from a2actl.transport.http import HttpTransport
    from a2actl.transport.timing import HttpResult

    #: Builds the HTTP transport of a ``Sessions`` (a seam: tests inject ``httpx.MockTransport``).
    OpenTransport = Callable[[Settings, EventSink | None], HttpTransport]

#: A list of sessions (an alias: inside ``Sessions`` the name ``list`` is the method).
SessionDocs = list[Session]

DEFAULT_PREFIX = "/debug/a2a"
#: ``TaskNotCancelableError``: what an agent answers CancelTask for a terminal task (spec v1.0 §5.4).
_NOT_CANCELABLE = -32002
OPEN_API_WARNING = (
    "the debug API at {url} answered WITHOUT credentials: anyone who can reach it can list "
    "and kill sessions; protect it with a bearer token (docs/debug-endpoints.md)"
)


def _is_discovery(body: bytes) -> bool:
    """Whether ``body`` can be the debug contract's discovery document (docs/debug-endpoints.md,
    ``GET /debug/a2a``): a JSON object (``contractVersion`` is not required of it)."""
    import json

    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return isinstance(doc, dict)


def _origin(target: str) -> str:
    """``scheme://host:port`` of TARGET; ``UsageError`` (exit 2) for a card file or bad URL."""
    from a2actl.agent.target import parse_target

    t = parse_target(target)
    if not t.is_remote:
        raise UsageError("sessions need a live agent URL, not a card file")
    p = urlsplit(t.value)
    return urlunsplit((p.scheme, p.netloc, "", "", ""))


#: The fields of the contract's documents a2actl cannot do without (the contract requires more).
_READ_FIELDS = {"SessionPage": ("sessions",), "Session": ("id", "state", "ageSeconds", "idleSeconds")}


@functools.cache
def _contract_components() -> dict[str, Any]:
    """The shipped debug API contract's ``components`` (``debug-api.openapi.json``), lenient where
    a2actl can be: a page needs only ``sessions`` and a session only the fields the commands read
    (``id``, ``state``, ``ageSeconds``, ``idleSeconds``); every field present must have the
    contract's type."""
    from a2actl.schemas import load_named

    components: dict[str, Any] = load_named("debug-api.openapi.json")["components"]
    for name, required in _READ_FIELDS.items():
        components["schemas"][name]["required"] = list(required)
    return components


def _validator(schema: dict[str, Any]) -> Any:
    """A JSON Schema validator of ``schema``, a part of the contract (its ``$ref`` resolved in it)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator({**schema, "components": _contract_components()})


@functools.cache
def _contract_validator(schema_name: str) -> Any:
    """A JSON Schema validator of one component of the contract (``_contract_components``:
    ``SessionPage``, ``Session``, ``KillResult``)."""
    return _validator({"$ref": f"#/components/schemas/{schema_name}"})


@functools.cache
def _compiled(schema_name: str) -> Callable[[Any], Any]:
    """``fastjsonschema``'s compiled validator of one component of the contract (``SessionPage``,
    ``Session``, ``KillResult``): a few µs a session where ``jsonschema`` takes about 250 µs (a
    200,000-session page: 53 s). It raises ``JsonSchemaValueException`` at the first failure. The
    contract uses only keywords whose meaning draft-07 (fastjsonschema's) and 2020-12 share
    (``type``, ``required``, ``properties``, ``items``, ``enum``, ``minimum``, ``oneOf``, ``$ref``);
    formats are not asserted and defaults never written into the document, as with ``jsonschema``."""
    import fastjsonschema

    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": _contract_components()}
    check: Callable[[Any], Any] = fastjsonschema.compile(schema, use_default=False, use_formats=False)
    return check


def _instance_at(doc: Any, path: list[str]) -> tuple[Any, list[str | int]] | None:
    """The part of ``doc`` at ``fastjsonschema``'s ``path`` (keys, list indexes written as digits,
    without its leading ``data``) and that path with the indexes as ``int``; ``None`` when the path
    does not lead anywhere in ``doc``."""
    node: Any = doc
    where: list[str | int] = []
    for step in path:
        if isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
            where.append(int(step))
        elif isinstance(node, dict) and step in node:
            node = node[step]
            where.append(step)
        else:
            return None
    return node, where


def _contract_errors(doc: Any, schema_name: str) -> list[Any]:
    """``jsonschema``'s errors of ``doc`` against the contract's ``schema_name``, those of its first
    failing part only (an empty list when it conforms), with paths from ``doc``'s root.
    ``fastjsonschema`` (``_compiled``) decides and finds that part, and ``jsonschema`` says what is
    wrong there, so the messages are ``jsonschema``'s. Where the part cannot be found, or
    ``jsonschema`` sees nothing wrong there, ``jsonschema`` checks the whole document."""
    from fastjsonschema import JsonSchemaValueException

    try:
        _compiled(schema_name)(doc)
    except JsonSchemaValueException as exc:
        found = _instance_at(doc, list(exc.path[1:]))
        if found is not None and isinstance(exc.definition, dict):
            part, where = found
            errors = list(_validator(exc.definition).iter_errors(part))
            for e in errors:
                e.path.extendleft(reversed(where))
            if errors:
                return errors
        return list(_contract_validator(schema_name).iter_errors(doc))
    return []


def check_contract(doc: Any, schema_name: str, url: str) -> None:
    """Raise ``ProtocolViolation`` (exit 6) naming the first field of ``doc`` (the debug API's answer
    from ``url``) that breaks the contract's ``schema_name``: the documents are read as they come
    (leaks, filters, the table), so a missing ``ageSeconds`` or a task that is a string must be the
    server's protocol violation, not an unexpected KeyError."""
    errors = sorted(_contract_errors(doc, schema_name), key=lambda e: list(map(str, e.path)))
    if not errors:
        where = _non_finite(doc)
        if where is not None:  # NaN, Infinity, 1e999: a "number" to JSON Schema, no age to any reader
            raise ProtocolViolation(
                f"{url} did not answer a {schema_name} of the debug API contract: {where}: "
                "not a finite number (NaN, Infinity or over a double's range)",
                hint="see docs/debug-endpoints.md and a2actl/schemas/debug-api.openapi.json",
            )
        return
    first = errors[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.path)
    message = " ".join(first.message.split())
    if len(message) > 160:
        message = message[:157] + "..."
    raise ProtocolViolation(
        f"{url} did not answer a {schema_name} of the debug API contract: "
        f"{(where.lstrip('.') or 'the document')}: {message}",
        hint="see docs/debug-endpoints.md and a2actl/schemas/debug-api.openapi.json",
    )


def _check_answered_id(doc: dict[str, Any], session_id: str, url: str, schema_name: str) -> None:
    """Raise ``ProtocolViolation`` (exit 6) when the debug API's ``Session`` or ``KillResult`` from
    ``url`` is about another session than ``session_id`` (a cache or proxy mixing them up): ``kill
    ctx-a`` reported "killed" with exit 0 for the other session, ``ctx-a`` still open; as ``task
    get`` answered about another task (docs/exit-codes.md)."""
    answered = doc.get("id")
    if answered != session_id:
        raise ProtocolViolation(
            f"{url} answered a {schema_name} of session {answered!r}, not {session_id!r}",
            hint="its state says nothing about this session: check the debug API (or a cache before it)",
            details={"answeredSessionId": answered},
        )


def _has_non_finite(doc: Any) -> bool:
    """Whether ``doc`` holds a non-finite float anywhere (``_non_finite`` says where)."""
    import math

    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, float) and not math.isfinite(node):
            return True
    return False


def _non_finite(doc: Any) -> str | None:
    """The path (``sessions[0].ageSeconds``) of the first non-finite float in ``doc`` (``NaN``,
    ``Infinity``, a number past a double's range such as ``1e999``: the JSON reader takes them),
    or ``None``. Iterative: ``doc`` may be as deep as ``jsondoc.MAX_NESTING``."""
    import math

    if not _has_non_finite(doc):  # the usual case, without a path for every node
        return None
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return where.lstrip(".") or "the document"
        if isinstance(node, dict):
            stack.extend((v, f"{where}.{k}") for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(node))))
    return None


def check_listed_task(task: Any, where: str) -> None:
    """Raise ``ProtocolViolation`` (exit 6) naming the field when a ListTasks task is outside the A2A
    ``Task`` shape the fallback reads (spec v1.0 Task: ``id`` and ``contextId`` strings, ``status`` a
    TaskStatus object): a task that is not an object was dropped, one without a string ``id`` was
    cancelled as ``id: null``, a string ``status`` was an unexpected AttributeError. ProtoJSON omits
    empty fields, so a missing ``contextId`` or ``status`` (or ``status.state``) is allowed."""
    why = None
    if not isinstance(task, dict):
        why = f" is not a Task object: {str(task)[:60]!r}"
    elif not isinstance(task.get("id"), str) or not task["id"]:
        why = f".id is not a task id (a non-empty string): {task.get('id')!r}"
    elif not isinstance(task.get("contextId", ""), str):
        why = f".contextId is not a string: {str(task['contextId'])[:60]!r}"
    elif not isinstance(task.get("status", {}), dict):
        why = f".status is not a TaskStatus object: {str(task['status'])[:60]!r}"
    if why is not None:
        raise ProtocolViolation(
            f"{where}{why}",
            hint="the agent's ListTasks answer breaks the A2A Task shape; check the agent",
        )


def _checked_prefix(prefix: str) -> str:
    """``prefix`` (``--debug-prefix``, a suite's ``debugPrefix``) when it is a URL path; else
    ``UsageError`` (exit 2). A ``#`` or ``?`` in it moved ``/sessions/{id}`` into the fragment or
    the query: ``sessions kill --debug-prefix '/debug/a2a#'`` sent ``DELETE /debug/a2a``, the API's
    root, and ``list`` read the discovery document (a 401 there: "the token was refused")."""
    bad = next((ch for ch in prefix if ch in "?#" or not ch.isprintable()), None)
    if bad is not None:
        raise UsageError(
            f"--debug-prefix {prefix!r}: not a URL path (it holds {bad!r})",
            hint="the path the debug API is mounted at, e.g. /debug/a2a",
        )
    return prefix


def _http_transport(settings: Settings, sink: EventSink | None) -> HttpTransport:
    from a2actl.transport.http import HttpTransport

    return HttpTransport(settings, sink)


class Sessions:
    """An open connection to one agent's sessions (use as an async context manager: entering it
    discovers the source). ``source`` is ``debug`` or ``a2a-listtasks``; ``warnings`` what the user
    must hear (an unprotected debug API, the fallback). ``open_transport`` builds the HTTP transport
    (default ``HttpTransport(settings, sink)``).

    Entering raises ``UsageError`` (2) when neither source is possible (no debug API and no A2A 1.0),
    ``HTTPStatusError`` (1) for an unexpected HTTP status from the debug API, plus what
    ``agent.connect.connect`` raises on the fallback."""

    def __init__(
        self,
        target: str,
        settings: Settings,
        sink: EventSink | None,
        prefix: str = DEFAULT_PREFIX,
        *,
        open_transport: OpenTransport | None = None,
    ) -> None:
        self.target = target
        self.settings = settings
        self.sink = sink
        self.base = _origin(target) + "/" + _checked_prefix(prefix).strip("/")
        self._open = open_transport or _http_transport
        self.transport = self._open(settings, sink)
        self.source = "debug"
        self.warnings: list[str] = []
        self.client: A2AClient | None = None

    async def __aenter__(self) -> Sessions:
        await self._discover()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.transport.client.aclose()

    async def _discover(self) -> None:
        """Probe the debug API without credentials (no token, no credential ``-H`` header:
        ``core.redact.is_sensitive_header``): 200 with a discovery document (a JSON object) →
        ``debug`` with a warning; 401/403 → ``debug`` (protected, as the contract asks); 404/405 →
        the ListTasks fallback. A 200 with anything else (a sign-in or catch-all page) is asked
        again with the credentials: a discovery document then → ``debug`` (protected), else the
        fallback with a warning."""
        from a2actl.core.redact import is_sensitive_header

        # without any credential header: one the -H options carry (X-Api-Key, Cookie, *-Token)
        # answered 200 and the API was flagged open (it was not: a gateway checked that header)
        anonymous = dataclasses.replace(
            self.settings,
            token=None,
            headers=tuple(h for h in self.settings.headers if not is_sensitive_header(h[0])),
        )
        async with self._open(anonymous, self.sink) as anon:
            try:
                res = await anon.request("GET", self.base, headers={"Accept": "application/json"})
            except AuthError:
                return  # present and protected: what the contract asks for
        if res.status == 200 and _is_discovery(res.body):
            self.warnings.append(OPEN_API_WARNING.format(url=self.base))
            return
        if res.status == 200 and (self.settings.token or anonymous.headers != self.settings.headers):
            # a gateway may answer an anonymous caller with its sign-in page (200 HTML) and the
            # credentialed one with the API: ask again with the credentials before falling back
            # (the fallback kills by CancelTask, not by the debug API)
            try:
                res = await self.transport.request("GET", self.base, headers={"Accept": "application/json"})
            except AuthError:
                pass  # the credentials are refused there: as no debug API (the fallback says more)
            else:
                if res.status == 200 and _is_discovery(res.body):
                    return  # present, and it did not answer without the credentials
        if res.status == 200:
            # a page that is no discovery document (a single-page app's or a portal's catch-all
            # HTML): there is no debug API here. It was flagged open (a false alarm), and its
            # /sessions then failed with exit 6 instead of the ListTasks fallback
            ctype = res.headers.get("content-type", "?").split(";")[0]
            self.warnings.append(
                f"{self.base} answered 200 with no debug API discovery document ({ctype}, not a "
                "JSON object): taken as no debug endpoints"
            )
            await self._fallback()
            return
        if res.status in (404, 405):
            await self._fallback()
            return
        raise HTTPStatusError(
            f"{self.base} answered HTTP {res.status} {res.reason}", details={"httpStatus": res.status}
        )

    async def _fallback(self) -> None:
        from a2actl.agent.connect import connect

        client = self.client = await connect(self.target, self.settings, self.transport)
        if client.family is not Family.V1_0:
            speaks_v1 = any(i.family is Family.V1_0 for i in client.selection.candidates)
            forced = self.settings.a2a_version not in ("auto", "", None)
            hint = (
                "the card declares A2A 1.0: drop --a2a-version "
                f"{self.settings.a2a_version} (ListTasks is 1.0)"
                if speaks_v1 and forced
                else "mount the a2actl debug router (docs/debug-endpoints.md), or upgrade the agent to A2A 1.0"
            )
            raise UsageError(
                f"sessions cannot be listed: {self.base} has no debug endpoints and A2A "
                f"{client.family.value} (spoken {'as asked' if forced else 'as the card declares'})"
                " has no ListTasks",
                hint=hint,
            )
        self.source = "a2a-listtasks"
        self.warnings.append(
            f"no debug endpoints at {self.base}: sessions derived from ListTasks grouped by contextId"
        )

    # -- debug API --------------------------------------------------------------------------------
    async def _get(self, url: str) -> Any:
        res = await self.transport.request("GET", url, headers={"Accept": "application/json"})
        return self._json(res)

    def _json(self, res: HttpResult) -> Any:
        """The JSON body; ``None`` for a 404; ``HTTPStatusError`` (1) for another error status,
        whatever its body (the contract's ``{"error": {"message"}}``, a proxy's HTML page, no JSON
        at all), with the contract's message when there is one; ``ProtocolViolation`` (6) for a
        success that is not JSON, or is JSON ``null``."""
        if res.status == 404:
            return None
        if res.status >= 400:
            try:
                body = res.json()
            except ProtocolViolation:  # a gateway's HTML 502/503: the HTTP error it is (exit 1), not 6
                body = None
            err = body.get("error") if isinstance(body, dict) else None
            said = err.get("message") if isinstance(err, dict) else err
            message = " ".join(said.split())[:200] if isinstance(said, str) and said.strip() else res.reason
            raise HTTPStatusError(
                f"{res.url}: HTTP {res.status}: {message}", details={"httpStatus": res.status}
            )
        body = res.json()
        if body is None:  # a JSON null read as the 404's None: 'no such session' (exit 1) for a 200
            raise ProtocolViolation(
                f"{res.url} answered HTTP {res.status} with null, no document of the debug API contract",
                hint="see docs/debug-endpoints.md and a2actl/schemas/debug-api.openapi.json",
            )
        return body

    async def list(self, filters: Filters, limit: int | None = None, page_size: int = 100) -> SessionDocs:
        """Sessions matching ``filters``, oldest first, following every page (at most ``limit``).
        Raises ``ProtocolViolation`` (6) when the debug API answers no ``SessionPage``."""
        if self.source != "debug":
            return [s for s in await self._derived() if filters.keep(s)][:limit]
        out: list[Session] = []
        cursor = None
        trail = CursorTrail(f"{self.base}/sessions")
        while True:
            q = {**filters.query(), "pageSize": page_size}
            if cursor:
                q["cursor"] = cursor
            page = await self._get(f"{self.base}/sessions?{urlencode(q)}")
            if not isinstance(page, dict) or not isinstance(page.get("sessions"), list):
                raise ProtocolViolation(f"{self.base}/sessions did not answer a SessionPage")
            check_contract(page, "SessionPage", f"{self.base}/sessions")
            out += page["sessions"]
            cursor = trail.next(page)
            if not cursor or (limit is not None and len(out) >= limit):
                return out[:limit] if limit is not None else out

    async def get(self, session_id: str) -> Session | None:
        """One session, ``None`` when unknown."""
        if self.source != "debug":
            return next((s for s in await self._derived() if s["id"] == session_id), None)
        url = self.base + rest_path("/sessions/{id}", session_id)  # one segment: '.', '..' too
        found: Session | None = await self._get(url)
        if found is not None:
            check_contract(found, "Session", url)
            _check_answered_id(found, session_id, url, "Session")
        return found

    async def kill(self, session_id: str) -> dict[str, Any]:
        """Kill one session: the contract's ``KillResult`` (``found: false`` for an unknown id)."""
        if self.source != "debug":
            return await self._kill_derived(session_id)
        url = self.base + rest_path("/sessions/{id}", session_id)  # one segment: '.', '..' too
        res = await self.transport.request("DELETE", url, headers={"Accept": "application/json"})
        body: dict[str, Any] | None = self._json(res)
        if body is None:
            return killed_nothing(session_id)
        check_contract(body, "KillResult", url)
        _check_answered_id(body, session_id, url, "KillResult")
        return body

    # -- fallback ---------------------------------------------------------------------------------
    def _a2a(self) -> A2AClient:
        if self.client is None:  # only the fallback source calls A2A, after _fallback connected
            raise UsageError(f"sessions at {self.base}: no A2A client for the ListTasks fallback")
        return self.client

    async def _derived(self) -> SessionDocs:
        """Every task (ListTasks, 100 a page) grouped into sessions (``rules.derive_sessions``).
        Raises ``ProtocolViolation`` (6) for a task outside the A2A ``Task`` shape the grouping reads
        (``check_listed_task``) and for a ``nextPageToken`` that comes back."""
        client = self._a2a()
        tasks: list[dict[str, Any]] = []
        token = None
        trail = CursorTrail(
            f"{client.url} ListTasks",
            field="nextPageToken",
            hint="the agent's ListTasks paging is broken (A2A 1.0 ListTasks)",
        )
        while True:
            params: dict[str, Any] = {"pageSize": 100}
            if token:
                params["pageToken"] = token
            out = await client.call("ListTasks", params)
            if out.error is not None:
                raise out.error.to_exception(out.method)
            result = out.result if isinstance(out.result, dict) else {}
            page = result.get("tasks") or []
            for i, t in enumerate(page):
                check_listed_task(t, f"{client.url}: the ListTasks result's tasks[{i}]")
            tasks += page
            token = trail.next(result)
            if not token:
                break
        return derive_sessions(tasks, datetime.now(timezone.utc).timestamp())

    async def _kill_derived(self, session_id: str) -> dict[str, Any]:
        """CancelTask on each non-terminal task of the derived session; nothing to revoke. A task
        counts as already ended only when the agent refused with ``-32002 TaskNotCancelable`` and
        GetTask shows it terminal (spec: a terminal task cannot be canceled, -32002), or answered
        the task in a terminal state other than canceled. Any other failure (an A2A error, -32002
        for a task still running, the task answered still active, auth, HTTP, transport) killed
        nothing: the result carries the first one under ``error`` (``rules.failed_kill``) and the
        remaining tasks are still tried."""
        s = next((x for x in await self._derived() if x["id"] == session_id), None)
        canceled: list[str] = []
        ended: list[str] = []
        result: dict[str, Any] = {
            "id": session_id,
            "found": s is not None,
            "alreadyClosed": False,
            "canceledTasks": canceled,
            "alreadyTerminalTasks": ended,
            "tokenRevoked": False,
        }
        client = self._a2a()
        failure: A2ACtlError | None = None
        for t in (s or {}).get("tasks", []):
            if state_kind(t["state"]) is StateKind.TERMINAL:
                ended.append(t["id"])
                continue
            try:
                if await self._cancel_task(client, t["id"]):
                    canceled.append(t["id"])
                else:
                    ended.append(t["id"])
            except A2ACtlError as exc:
                failure = failure or exc
        if failure is not None:
            result["error"] = failure.to_json()["error"]
        return result

    @staticmethod
    async def _cancel_task(client: A2AClient, task_id: str) -> bool:
        """CancelTask ``task_id``: ``True`` when the agent answers the task canceled, ``False`` when
        it had already ended (``-32002`` and GetTask shows a terminal state, or the answer is the
        task in another terminal state); raises the failure otherwise (``NotCanceled``, exit 1, for
        an answer whose task is still active: the agent did not cancel it)."""
        out = await client.call("CancelTask", {"id": task_id})
        if out.error is None:
            state = result_state(out.result)[2]
            if state == "canceled":
                return True
            if state is not None and state_kind(state) is StateKind.TERMINAL:
                return False
            raise NotCanceled(
                f"CancelTask {task_id}: the agent answered the task in state {state}, not canceled",
                hint="the agent did not cancel it (or not yet); an agent that cannot cancel should "
                "answer TaskNotCancelable (-32002)",
                details={"taskId": task_id, "state": state},
            )
        failure = out.error.to_exception(f"CancelTask {task_id}")
        if out.error.code != _NOT_CANCELABLE:
            raise failure
        try:
            now = await client.call("GetTask", {"id": task_id})
        except A2ACtlError:
            raise failure from None
        state = result_state(now.result)[2] if now.error is None else None
        if state is not None and state_kind(state) is StateKind.TERMINAL:
            return False
        failure.hint = (
            f"the task is still {state}: the agent refused to cancel it"
            if state
            else "GetTask could not show the task ended: it may still be running"
        )
        raise failure
