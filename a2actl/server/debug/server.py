"""The debug API for a2a-sdk apps: session tracking and the ``/debug/a2a`` router.

Mounting it on an existing a2a-sdk Starlette app takes a few lines::

    from a2actl.server.debug import SessionRegistry, TrackingRequestHandler, debug_routes

    registry = SessionRegistry(max_age=300)                       # seconds
    handler = TrackingRequestHandler(registry, agent_executor=MyExecutor(),
                                     task_store=InMemoryTaskStore(), agent_card=card)
    routes = [*create_jsonrpc_routes(handler, rpc_url="/a2a"),
              *debug_routes(registry, handler, token=os.environ["A2A_DEBUG_TOKEN"])]
    app = Starlette(routes=routes)

(FastAPI: ``app.router.routes.extend(debug_routes(...))``.) The contract is ``docs/debug-endpoints.md``
and the OpenAPI 3.1 document ``a2actl/schemas/debug-api.openapi.json``. Needs ``a2a-sdk[http-server]``.
"""

from __future__ import annotations

import base64
import math
import secrets
import time
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any

from a2a.server.context import ServerCallContext
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.types import a2a_pb2 as pb
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from a2actl.protocol.versions import canonical_state
from a2actl.server.debug.registry import TERMINAL_STATES, KillResult, SessionRegistry

if TYPE_CHECKING:
    from a2actl.dlq.store.base import Backend

CONTRACT_VERSION = "1"
SESSION_HEADER = "a2a-session"
PEER_HEADER = "x-a2a-peer"


def _state_name(state: int) -> str:
    return canonical_state(pb.TaskState.Name(state))


def _who(context: ServerCallContext) -> tuple[str | None, str | None]:
    """``(session id, peer)`` from the request headers the a2a-sdk context carries."""
    headers = context.state.get("headers") or {}
    user = context.user.user_name if context.user.is_authenticated else None
    peer = user or headers.get(PEER_HEADER) or headers.get("user-agent")
    return headers.get(SESSION_HEADER), peer


class TrackingRequestHandler(DefaultRequestHandler):
    """``DefaultRequestHandler`` that records every message and task event in a ``SessionRegistry``.

    With ``dedupe=True`` it is also an *idempotent* agent: a ``SendMessage`` whose ``messageId`` was
    already processed returns the task it produced instead of running again (what at-least-once
    redelivery needs, ``docs/dlq.md``, "Replay semantics"). ``received`` counts deliveries per messageId (``GET /received``).
    """

    def __init__(self, registry: SessionRegistry, *args: Any, dedupe: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.registry = registry
        self.dedupe = dedupe
        self.received: dict[str, dict[str, Any]] = {}

    def _receipt(self, params: pb.SendMessageRequest) -> dict[str, Any] | None:
        mid = params.message.message_id
        if not mid:
            return None
        rec = self.received.get(mid)
        if rec is None:
            rec = self.received[mid] = {
                "deliveries": 0,
                "firstAt": time.time(),
                "taskId": None,
                "processed": 0,
            }
        rec["deliveries"] += 1
        return rec

    def _record(self, event: Any, context: ServerCallContext, message: bool, size: int = 0) -> None:
        """Account one answer (a result or a stream event) to its session. Sizes are protobuf-encoded
        payload bytes (``ByteSize()``): the request's in, the answer's out."""
        sid, peer = _who(context)
        out = event.ByteSize() if hasattr(event, "ByteSize") else 0
        if isinstance(event, pb.Task):
            self.registry.touch(
                session_id=sid,
                context_id=event.context_id,
                task_id=event.id,
                state=_state_name(event.status.state),
                peer=peer,
                size=size,
                message=message,
                size_out=out,
            )
        elif isinstance(event, (pb.TaskStatusUpdateEvent, pb.TaskArtifactUpdateEvent)):
            state = _state_name(event.status.state) if isinstance(event, pb.TaskStatusUpdateEvent) else None
            self.registry.touch(
                session_id=sid,
                context_id=event.context_id,
                task_id=event.task_id,
                state=state,
                peer=peer,
                size=size,
                message=message,
                size_out=out,
            )
        elif isinstance(event, pb.Message):
            self.registry.touch(
                session_id=sid,
                context_id=event.context_id or None,
                task_id=None,
                state=None,
                peer=peer,
                size=size,
                message=message,
                size_out=out,
            )

    async def on_message_send(self, params: pb.SendMessageRequest, context: ServerCallContext) -> Any:
        """``SendMessage``: with ``dedupe``, a ``messageId`` already processed returns its task
        without running again; every answer is recorded in the registry."""
        rec = self._receipt(params)
        if self.dedupe and rec is not None and rec["taskId"] is not None:
            task = await self.task_store.get(rec["taskId"], context)
            if task is not None:
                return task  # already processed: acknowledge again, do not run again
        result = await super().on_message_send(params, context)
        if rec is not None:
            rec["processed"] += 1
            if isinstance(result, pb.Task):
                rec["taskId"] = result.id
        self._record(result, context, message=True, size=params.ByteSize())
        return result

    async def on_message_send_stream(
        self, params: pb.SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Any, None]:
        """``SendStreamingMessage``: the SDK's events, each recorded in the registry (the request's
        size counted once, with the first event)."""
        first = True
        async for event in super().on_message_send_stream(params, context):
            self._record(event, context, message=first, size=params.ByteSize() if first else 0)
            first = False
            yield event

    # -- upkeep -----------------------------------------------------------------------------------
    async def refresh(self) -> None:
        """Refresh task states from the task store, apply the registry's rules, and cancel the
        running tasks of sessions closed for ``max-age``."""
        ctx = ServerCallContext()
        for s in self.registry.sessions.values():
            if s.closed_at is not None:
                continue
            for tid in s.running_tasks():
                task = await self.task_store.get(tid, ctx)
                if task is not None:
                    # A VersionedTaskStore returns a StoredTask (no .status): not supported here yet.
                    s.task_states[tid] = _state_name(task.status.state)  # type: ignore[union-attr]
        for s in self.registry.sweep():
            await self._cancel(s.running_tasks())

    async def _cancel(self, task_ids: list[str]) -> tuple[list[str], list[str]]:
        canceled, ended = [], []
        for tid in task_ids:
            try:
                await self.on_cancel_task(pb.CancelTaskRequest(id=tid), ServerCallContext())
                canceled.append(tid)
            except Exception:  # noqa: BLE001 - TaskNotCancelable / TaskNotFound: it had already ended
                ended.append(tid)
        return canceled, ended

    async def kill(self, session_id: str) -> KillResult:
        """Cancel the session's running tasks and revoke its token. Idempotent."""
        await self.refresh()
        s = self.registry.sessions.get(session_id)
        if s is None:
            return KillResult(session_id, found=False)
        result = KillResult(session_id, found=True, already_closed=s.closed_at is not None)
        result.already_terminal_tasks = [t for t, st in s.task_states.items() if st in TERMINAL_STATES]
        result.canceled_tasks, ended = await self._cancel(s.running_tasks())
        result.already_terminal_tasks += ended
        for tid in result.canceled_tasks:
            s.task_states[tid] = "canceled"
        result.token_revoked = s.token is not None and not s.token.revoked
        self.registry.close(s, "killed")
        return result


# ---------------------------------------------------------------------------------------------------
# The router
# ---------------------------------------------------------------------------------------------------


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _seconds(query: Any, name: str) -> float | None:
    """The query parameter ``name`` in seconds, ``None`` when absent. Raises ``ValueError`` for one
    that is not a finite number >= 0 (the OpenAPI document's ``minimum: 0``): ``olderThan=-1`` or
    ``nan`` matched no session, ``inf`` none either, all with a 200."""
    if name not in query:
        return None
    try:
        value = float(query[name])
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, not {query[name]!r}")
    return value


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    if not raw.startswith("o:"):
        raise ValueError("bad cursor")
    return int(raw[2:])


def debug_routes(
    registry: SessionRegistry,
    handler: TrackingRequestHandler,
    *,
    prefix: str = "/debug/a2a",
    token: str | None = None,
    dlq: Backend | None = None,
) -> list[Route]:
    """The debug API routes under ``prefix``. With ``token``, every call needs
    ``Authorization: Bearer <token>`` (401 otherwise); without, the API is open and a2actl warns.
    ``dlq`` (an ``a2actl.dlq.store.base.Backend``: file or Redis) adds ``/dlq`` and ``/dlq/{id}``."""
    prefix = "/" + prefix.strip("/")

    def authorized(request: Request) -> JSONResponse | None:
        if token is None:
            return None
        given = request.headers.get("authorization", "")
        if secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return None
        return _error(
            401,
            "unauthenticated",
            "the debug API needs a bearer token",
            {"WWW-Authenticate": 'Bearer realm="a2a-debug"'},
        )

    async def discovery(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        return JSONResponse(
            {
                "contractVersion": CONTRACT_VERSION,
                "features": ["sessions", "received"] + (["dlq"] if dlq is not None else []),
                "authRequired": token is not None,
                "maxSessionAge": registry.max_age,
                "sessionsUrl": prefix + "/sessions",
            }
        )

    async def list_sessions(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        q = request.query_params
        try:
            older = _seconds(q, "olderThan")
            idle = _seconds(q, "idleFor")
            size = int(q.get("pageSize", "50"))
            if size < 1 or size > 500:
                raise ValueError("pageSize must be 1..500")
            offset = _decode_cursor(q["cursor"]) if "cursor" in q else 0
            if offset < 0:
                raise ValueError("bad cursor")
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, "invalid_argument", f"bad query parameter: {exc}")
        state = q.get("state")
        if state is not None and state not in ("active", "idle", "closed"):
            return _error(400, "invalid_argument", "state must be active, idle or closed")
        await handler.refresh()
        found = registry.query(older_than=older, idle_for=idle, state=state, peer=q.get("peer"))
        page = found[offset : offset + size]
        now = registry.clock()
        nxt = _encode_cursor(offset + size) if offset + size < len(found) else None
        return JSONResponse(
            {"sessions": [s.to_json(now) for s in page], "nextCursor": nxt, "total": len(found)}
        )

    async def get_session(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        await handler.refresh()
        s = registry.sessions.get(request.path_params["id"])
        if s is None:
            return _error(404, "not_found", f"no session {request.path_params['id']!r}")
        return JSONResponse(s.to_json(registry.clock()))

    async def kill_session(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        result = await handler.kill(request.path_params["id"])
        if not result.found:
            return _error(404, "not_found", f"no session {request.path_params['id']!r}")
        return JSONResponse(result.to_json())

    async def received(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        return JSONResponse(
            {
                "messages": {
                    k: {"deliveries": v["deliveries"], "processed": v["processed"], "firstAt": v["firstAt"]}
                    for k, v in handler.received.items()
                }
            }
        )

    routes = [Route(prefix + "/received", received, methods=["GET"])]
    if dlq is not None:
        routes += _dlq_routes(dlq, prefix, authorized)
    return routes + [
        Route(prefix, discovery, methods=["GET"]),
        Route(prefix + "/sessions", list_sessions, methods=["GET"]),
        Route(prefix + "/sessions/{id}", get_session, methods=["GET"]),
        Route(prefix + "/sessions/{id}", kill_session, methods=["DELETE"]),
    ]


def _dlq_routes(
    dlq: Backend, prefix: str, authorized: Callable[[Request], JSONResponse | None]
) -> list[Route]:
    """``GET /dlq`` (cursor pages), ``GET|PATCH|DELETE /dlq/{id}`` over a DLQ backend."""
    import json

    async def page(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        q = request.query_params
        try:
            size = int(q.get("pageSize", "100"))
            offset = _decode_cursor(q["cursor"]) if "cursor" in q else 0
            if not 1 <= size <= 1000:
                raise ValueError("pageSize must be 1..1000")
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, "invalid_argument", f"bad query parameter: {exc}")
        out, i = [], 0
        async for e in dlq.iter_entries():
            if i >= offset + size + 1:
                break
            if i >= offset:
                out.append(e)
            i += 1
        more = len(out) > size
        return JSONResponse(
            {"entries": out[:size], "nextCursor": _encode_cursor(offset + size) if more else None}
        )

    async def one(request: Request) -> JSONResponse:
        if (denied := authorized(request)) is not None:
            return denied
        eid = request.path_params["id"]
        if request.method == "DELETE":
            return JSONResponse({"id": eid, "removed": await dlq.remove(eid)})
        entry = await dlq.get(eid)
        if entry is None:
            return _error(404, "not_found", f"no dead letter {eid!r}")
        if request.method == "PATCH":
            try:
                body = json.loads(await request.body())
                await dlq.update(eid, int(body["attempts"]), body.get("lastError"))
            except (ValueError, KeyError, TypeError) as exc:
                return _error(400, "invalid_argument", f"body must be {{attempts, lastError}}: {exc}")
            entry = await dlq.get(eid)
        return JSONResponse(entry)

    return [
        Route(prefix + "/dlq", page, methods=["GET"]),
        # {id:path}: an id holding "/" arrives as %2F, which the server decodes before routing
        Route(prefix + "/dlq/{id:path}", one, methods=["GET", "PATCH", "DELETE"]),
    ]
