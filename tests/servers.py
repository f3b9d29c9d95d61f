"""Loopback servers for the tests: any ASGI app under uvicorn on 127.0.0.1:0, and a fault server of
our own for bad behaviour (HTTP errors, non-JSON and oversized cards, JSON-RPC errors, hangs)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from a2actl.server.sandbox.server import base_url_of, bind_socket


class LoopbackServer:
    """Serve ``app_factory(base_url)`` on 127.0.0.1 in a background thread (optionally over TLS)."""

    def __init__(self, app_factory: Any, certfile: str | None = None, keyfile: str | None = None) -> None:
        self.sock = bind_socket("127.0.0.1", 0)
        scheme = "https" if certfile else "http"
        self.url = base_url_of(self.sock, "127.0.0.1").replace("http://", f"{scheme}://")
        config = uvicorn.Config(
            app_factory(self.url),
            log_level="error",
            access_log=False,
            lifespan="off",
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()


def v1_card(base: str, rpc_path: str) -> dict[str, Any]:
    return {
        "name": "fault agent",
        "description": "misbehaves on purpose",
        "version": "1",
        "supportedInterfaces": [
            {"url": base + rpc_path, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
        ],
        "capabilities": {"streaming": False},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "x", "name": "x", "description": "x", "tags": []}],
    }


BIG_CARD_BYTES = 50 * 1024 * 1024
#: Requests the fault server's ``/hang/`` route has received (tests wait on it instead of sleeping).
HANG_HITS = [0]
#: What the fault server's ``/seen/`` routes received: ``(Host header, path, sorted names of the
#: credential headers present)`` per request; names only, so a test can assert without the values.
SEEN_CREDENTIALS: list[tuple[str, str, list[str]]] = []
_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-auth-token", "x-custom-secret", "cookie")
#: The userinfo password and ``token`` query value in the interface URL of the fault server's
#: ``/credsiface/`` card, and of ``/credsiface2/`` (the same interface after a credential rotation).
IFACE_CREDENTIALS = {
    "credsiface": ("pwQ7x2K9m4Zc", "tkR8y3L0n5Wd"),
    "credsiface2": ("pwS9z4M1p6Xe", "tkT0w5N2q7Yf"),
}


def iface_url(base: str, password: str = "***", token: str = "***") -> str:
    """The interface URL the fault server's ``/credsiface/`` cards name, with ``password`` and
    ``token`` (default: masked, as a2actl prints it)."""
    return base.replace("http://", f"http://agent:{password}@") + f"/credsiface/jsonrpc?token={token}"


def secret_fragments(*secrets: str) -> list[str]:
    """Every 5-character piece of each secret: none may appear in an output, so a secret split by a
    table's line wrap (redaction matches whole values) still counts as printed."""
    return sorted({s[i : i + 5] for s in secrets for i in range(len(s) - 4)})


def fault_app(base: str) -> Starlette:
    """Routes (each ``/<fault>/agent-card.json`` is a card URL TARGET):

    * ``/http500/…`` 500; ``/http401/…`` 401 with a Bearer challenge; ``/nonjson/…`` an HTML page
      (``/nonjson/jsonrpc``: to a POST too, with 200)
    * ``/big/…`` a 50 MB body with no Content-Length (must be cut off, exit 6)
    * ``/rpcerror/…`` a valid 1.0 card whose JSON-RPC endpoint answers -32603
    * ``/badenvelope/…`` a card whose JSON-RPC endpoint answers a non-2.0 envelope
    * ``/hang/…`` answers after 5 s
    * ``/redirectto/agent-card.json?to=URL[&status=307]`` redirects (GET or POST) to ``URL``
      (``self``: itself)
    * ``/nan/…`` a card whose metadata holds ``NaN`` and infinities (not JSON, but Python reads them)
    * ``/markup/…`` a card whose name carries rich markup and a terminal escape
    * ``/gateway502/…`` a card whose JSON-RPC endpoint answers 502 with a gateway's JSON (not JSON-RPC)
    * ``/echo401card/agent-card.json`` 401 to every request, echoing its ``Authorization`` header
      in the body and ``WWW-Authenticate``
    * ``/errdata/…`` a JSON-RPC error -32602 whose ``data`` names the bad field (and holds an
      ``accessToken``)
    * ``/boolcode/…``, ``/nocode/…`` JSON-RPC errors whose ``code`` is ``true`` / missing
    * ``/resultlist/…``, ``/garbagetask/…`` success envelopes whose result is ``[1,2,3]`` / a Task
      without id or status
    * ``/failedtask/…``, ``/workingtask/…`` a non-streaming agent that answers every RPC with one
      task, ``failed`` / ``working``
    * ``/elsetask/…`` GetTask / CancelTask of any id answer task ``someone-else`` (completed /
      canceled); ``/elsepoll/…`` SendMessage answers task ``t`` working, GetTask ``someone-else``
      completed
    * ``/cancelworking/…``, ``/cancelcompleted/…`` CancelTask of any id answers task ``t1`` still
      ``working`` / already ``completed`` (not canceled, and no TaskNotCancelable)
    * ``/looppage/…`` ListTasks answers every page with ``nextPageToken`` ``p2``
    * ``/seen/agent-card.json`` a card (``/seen/jsonrpc`` any JSON-RPC call: -32603) that records the
      credential header names it received in ``SEEN_CREDENTIALS``
    * ``/credsiface/…``, ``/credsiface2/…`` a card whose JSON-RPC interface URL carries a password and a
      ``token`` query value (``iface_url``, ``IFACE_CREDENTIALS``): the same endpoint,
      ``/credsiface/jsonrpc``, which answers every method with TaskNotFound
    """

    async def http500(_: Request) -> Response:
        return PlainTextResponse("boom", status_code=500)

    async def http401(_: Request) -> Response:
        return JSONResponse({"error": "no"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    async def nonjson(_: Request) -> Response:
        return Response("<html><body>Welcome to nginx!</body></html>", media_type="text/html")

    async def big(_: Request) -> Response:
        chunk = b"x" * (1024 * 1024)

        async def gen() -> Any:
            yield b'{"name": "'
            for _ in range(BIG_CARD_BYTES // len(chunk)):
                yield chunk
            yield b'"}'

        return StreamingResponse(gen(), media_type="application/json")

    async def rpcerror_card(_: Request) -> Response:
        return JSONResponse(v1_card(base, "/rpcerror/jsonrpc"))

    async def rpcerror(request: Request) -> Response:
        body = json.loads(await request.body())
        return JSONResponse(
            {
                "jsonrpc": "2.0",
                "id": body.get("id"),
                "error": {"code": -32603, "message": "database is on fire"},
            }
        )

    async def badenv_card(_: Request) -> Response:
        return JSONResponse(v1_card(base, "/badenvelope/jsonrpc"))

    async def badenv(_: Request) -> Response:
        return JSONResponse({"jsonrpc": "1.0", "result": {}, "id": 1})

    async def hang(_: Request) -> Response:
        HANG_HITS[0] += 1
        await asyncio.sleep(5)
        return JSONResponse(v1_card(base, "/x"))

    async def nan_card(_: Request) -> Response:
        """Numbers JSON has no spelling for (Python's reader takes them): NaN, Infinity."""
        card = json.dumps(v1_card(base, "/x"))
        return Response(
            card[:-1] + ', "metadata": {"score": NaN, "limits": [Infinity, -Infinity, 1.5]}}',
            media_type="application/json",
        )

    async def markup(_: Request) -> Response:
        card = v1_card(base, "/x")
        card["name"] = "[bold red]pwned[/bold red]\x1b[2J"
        return JSONResponse(card)

    def answering(name: str, status: int, body: Any) -> list[Route]:
        """``/<name>/agent-card.json`` whose JSON-RPC endpoint answers ``body`` (``"ECHO_ID"`` in a
        result envelope is replaced by the request's id) with HTTP ``status``."""

        async def card(_: Request) -> Response:
            return JSONResponse(v1_card(base, f"/{name}/jsonrpc"))

        async def rpc(request: Request) -> Response:
            rid = json.loads(await request.body()).get("id")
            out = {**body, "id": rid} if isinstance(body, dict) and body.get("id") == "ECHO_ID" else body
            return JSONResponse(out, status_code=status)

        return [Route(f"/{name}/agent-card.json", card), Route(f"/{name}/jsonrpc", rpc, methods=["POST"])]

    def per_method(name: str, results: dict[str, Any]) -> list[Route]:
        """``/<name>/agent-card.json`` whose JSON-RPC endpoint answers each method with its result
        in ``results`` (any other method: TaskNotFound)."""

        async def card(_: Request) -> Response:
            return JSONResponse(v1_card(base, f"/{name}/jsonrpc"))

        async def rpc(request: Request) -> Response:
            body = json.loads(await request.body())
            rid, method = body.get("id"), body.get("method")
            if method in results:
                return JSONResponse({"jsonrpc": "2.0", "id": rid, "result": results[method]})
            err = {"code": -32001, "message": "Task not found"}
            return JSONResponse({"jsonrpc": "2.0", "id": rid, "error": err})

        return [Route(f"/{name}/agent-card.json", card), Route(f"/{name}/jsonrpc", rpc, methods=["POST"])]

    def credentialed(name: str) -> Route:
        password, token = IFACE_CREDENTIALS[name]

        async def card(_: Request) -> Response:
            doc = v1_card(base, "/credsiface/jsonrpc")
            doc["supportedInterfaces"][0]["url"] = iface_url(base, password, token)
            return JSONResponse(doc)

        return Route(f"/{name}/agent-card.json", card)

    def task_of(task_id: str, state: str) -> dict[str, Any]:
        return {"id": task_id, "contextId": "c", "status": {"state": f"TASK_STATE_{state}"}}

    async def escapes(_: Request) -> Response:
        card = v1_card(base, "/x/\x1b]0;pwned\x07\x1b[2J\u009b31m\u202etxt.exe")
        card["description"] = "desc \x1b[31mred\x1b[0m \u202eevil"
        card["supportedInterfaces"][0]["protocolVersion"] = "1.0\u009b2J"
        return JSONResponse(card)

    def seen(request: Request) -> None:
        names = sorted(k for k in request.headers if k in _CREDENTIAL_HEADERS)
        SEEN_CREDENTIALS.append((request.headers.get("host", ""), request.url.path, names))

    async def seen_card(request: Request) -> Response:
        seen(request)
        return JSONResponse(v1_card(base, "/seen/jsonrpc"))

    async def seen_rpc(request: Request) -> Response:
        seen(request)
        rid = json.loads(await request.body() or b"{}").get("id")
        return JSONResponse({"jsonrpc": "2.0", "id": rid, "error": {"code": -32603, "message": "seen"}})

    async def echo_card(_: Request) -> Response:
        return JSONResponse(v1_card(base, "/echoauth/jsonrpc"))

    async def echo_rpc(request: Request) -> Response:
        """Echoes every credential it was given: in the error text, a header and the body's data."""
        creds = " ".join(v for k, v in request.headers.items() if k in ("authorization", "x-api-key"))
        rid = json.loads(await request.body()).get("id")
        return JSONResponse(
            {
                "jsonrpc": "2.0",
                "id": rid,
                "error": {"code": -32603, "message": f"bad credentials: {creds}", "data": {"seen": creds}},
            },
            headers={"X-Seen-Credentials": creds, "WWW-Authenticate": f'Bearer error="{creds}"'},
        )

    async def echo401_card(_: Request) -> Response:
        return JSONResponse(v1_card(base, "/echo401/jsonrpc"))

    async def echo401(request: Request) -> Response:
        creds = request.headers.get("authorization", "")
        return JSONResponse(
            {"error": f"refused {creds}"},
            status_code=401,
            headers={"WWW-Authenticate": f'Bearer realm="{creds}"'},
        )

    async def echo401_card_get(request: Request) -> Response:
        """A card URL that refuses every request, echoing the Authorization header it was sent."""
        creds = request.headers.get("authorization", "")
        return JSONResponse(
            {"error": f"refused {creds}"},
            status_code=401,
            headers={"WWW-Authenticate": f'Basic realm="{creds}"'},
        )

    async def norest_card(_: Request) -> Response:
        card = v1_card(base, "/norest/rest")
        card["supportedInterfaces"][0]["protocolBinding"] = "HTTP+JSON"
        return JSONResponse(card)

    async def redirect(_: Request) -> Response:
        """A 302 whose body is a valid card: it must never be read as the answer."""
        return JSONResponse(
            v1_card(base, "/x"), status_code=302, headers={"Location": "/rpcerror/agent-card.json"}
        )

    async def redirect_to(request: Request) -> Response:
        """A redirect (``status``, default 302) to the ``to`` query parameter (another origin, a
        closed port, a ``file:`` URL; ``self``: itself)."""
        to = request.query_params["to"]
        status = int(request.query_params.get("status", "302"))
        return Response(status_code=status, headers={"Location": str(request.url) if to == "self" else to})

    async def dribble(_: Request) -> Response:
        """Slowloris: a card promised in 10,000 bytes, sent one byte every 0.2 s (each read is quick)."""

        async def gen() -> Any:
            yield b"{"
            while True:
                await asyncio.sleep(0.2)
                yield b" "

        return StreamingResponse(gen(), media_type="application/json", headers={"Content-Length": "10000"})

    def deep_card(levels: int) -> Any:
        async def handler(_: Request) -> Response:
            card = json.dumps(v1_card(base, "/deeprpc/jsonrpc"))
            nested = "[" * levels + "]" * levels
            return Response(card[:-1] + ', "metadata": ' + nested + "}", media_type="application/json")

        return handler

    async def deep_rpc_card(_: Request) -> Response:
        return JSONResponse(v1_card(base, "/deeprpc/jsonrpc"))

    async def deep_rpc(request: Request) -> Response:
        rid = json.loads(await request.body()).get("id")
        nested = "[" * 5000 + "]" * 5000
        return Response(
            f'{{"jsonrpc": "2.0", "id": {json.dumps(rid)}, "result": {{"task": {{"id": "t", '
            f'"status": {{"state": "TASK_STATE_COMPLETED"}}, "metadata": {{"x": {nested}}}}}}}}}',
            media_type="application/json",
        )

    extra = [
        Route("/deep100k/agent-card.json", deep_card(100_000)),
        Route("/deep900/agent-card.json", deep_card(900)),
        Route("/deeprpc/agent-card.json", deep_rpc_card),
        Route("/deeprpc/jsonrpc", deep_rpc, methods=["POST"]),
        Route("/redirect/agent-card.json", redirect),
        Route("/nan/agent-card.json", nan_card),
        Route("/dribble/agent-card.json", dribble),
        # A card whose HTTP+JSON URL has no routes at all (FastAPI-style 404 {"detail": "Not Found"}).
        Route("/norest/agent-card.json", norest_card),
        Route(
            "/norest/rest/{path:path}",
            lambda _: JSONResponse({"detail": "Not Found"}, status_code=404),
            methods=["GET", "POST"],
        ),
        Route("/redirectto/agent-card.json", redirect_to, methods=["GET", "POST"]),
        Route("/seen/agent-card.json", seen_card),
        Route("/seen/jsonrpc", seen_rpc, methods=["POST"]),
        Route("/echoauth/agent-card.json", echo_card),
        Route("/echoauth/jsonrpc", echo_rpc, methods=["POST"]),
        Route("/echo401/agent-card.json", echo401_card),
        Route("/echo401/jsonrpc", echo401, methods=["POST"]),
        Route("/echo401card/agent-card.json", echo401_card_get),
        Route("/escapes/agent-card.json", escapes),
        credentialed("credsiface"),
        credentialed("credsiface2"),
        *per_method("credsiface", {})[1:],  # /credsiface/jsonrpc: TaskNotFound for every method
        # A gateway's JSON error, not JSON-RPC: the agent's HTTP error (exit 1), not a violation (6).
        *answering("gateway502", 502, {"message": "upstream timed out", "requestId": "r-1"}),
        # Success envelopes whose result is not the method's response shape (exit 6).
        *answering("resultlist", 200, {"jsonrpc": "2.0", "id": "ECHO_ID", "result": [1, 2, 3]}),
        *answering("garbagetask", 200, {"jsonrpc": "2.0", "id": "ECHO_ID", "result": {"task": {"foo": 1}}}),
        # A JSON-RPC error whose data says what was wrong (with a credential-like key)
        *answering(
            "errdata",
            200,
            {
                "jsonrpc": "2.0",
                "id": "ECHO_ID",
                "error": {
                    "code": -32602,
                    "message": "bad params",
                    "data": {"field": "message.parts[0]", "expected": "text", "accessToken": "at-0123456"},
                },
            },
        ),
        # JSON-RPC errors whose code is not an integer (JSON true; none at all)
        *answering(
            "boolcode", 200, {"jsonrpc": "2.0", "id": "ECHO_ID", "error": {"code": True, "message": "m"}}
        ),
        *answering("nocode", 200, {"jsonrpc": "2.0", "id": "ECHO_ID", "error": {"message": "m"}}),
        # an error message with characters XML 1.0 cannot hold (a JUnit file must still parse)
        *answering(
            "ctlerror",
            200,
            {"jsonrpc": "2.0", "id": "ECHO_ID", "error": {"code": -32603, "message": "on\x00fire\x1b[2J"}},
        ),
        # Answers about another task than the one asked for (a cache or proxy mixing them up):
        # GetTask / CancelTask of any id answer task "someone-else"; a SendMessage answered
        # "working" (task "t") whose GetTask then answers "someone-else", completed.
        *per_method(
            "elsetask",
            {
                "GetTask": task_of("someone-else", "COMPLETED"),
                "CancelTask": task_of("someone-else", "CANCELED"),
            },
        ),
        *per_method(
            "elsepoll",
            {
                "SendMessage": {"task": task_of("t", "WORKING")},
                "GetTask": task_of("someone-else", "COMPLETED"),
            },
        ),
        # CancelTask answered with the task, but not canceled: still working / already completed
        *per_method("cancelworking", {"CancelTask": task_of("t1", "WORKING")}),
        *per_method("cancelcompleted", {"CancelTask": task_of("t1", "COMPLETED")}),
        # ListTasks whose every page names itself as the next one (a pager would go round forever)
        *per_method(
            "looppage",
            {"ListTasks": {"tasks": [task_of("t", "COMPLETED")], "nextPageToken": "p2", "pageSize": 1}},
        ),
        # A non-streaming agent whose every answer is one task: failed / still working (one that
        # does not block on SendMessage)
        *(
            answering(
                f"{state.lower()}task",
                200,
                {
                    "jsonrpc": "2.0",
                    "id": "ECHO_ID",
                    "result": {
                        "task": {"id": "t", "contextId": "c", "status": {"state": f"TASK_STATE_{state}"}}
                    },
                },
            )[i]
            for state in ("FAILED", "WORKING")
            for i in (0, 1)
        ),
    ]

    return Starlette(
        routes=[
            *extra,
            Route("/http500/agent-card.json", http500),
            Route("/http401/agent-card.json", http401),
            Route("/nonjson/agent-card.json", nonjson),
            Route("/nonjson/jsonrpc", nonjson, methods=["POST"]),
            Route("/big/agent-card.json", big),
            Route("/rpcerror/agent-card.json", rpcerror_card),
            Route("/rpcerror/jsonrpc", rpcerror, methods=["POST"]),
            Route("/badenvelope/agent-card.json", badenv_card),
            Route("/badenvelope/jsonrpc", badenv, methods=["POST"]),
            Route("/hang/agent-card.json", hang),
            Route("/markup/agent-card.json", markup),
        ]
    )


# ---------------------------------------------------------------------------------------------------
# Streams that misbehave (SSE over JSON-RPC 1.0) and WebSockets that do
# ---------------------------------------------------------------------------------------------------

TASK_ID = "t-fault-1"


def _status(state: str, task_id: str = TASK_ID) -> dict[str, Any]:
    return {"statusUpdate": {"taskId": task_id, "contextId": "c1", "status": {"state": state}}}


def _artifact(text: str, append: bool = False, last: bool = False, aid: str = "a1") -> dict[str, Any]:
    return {
        "artifactUpdate": {
            "taskId": TASK_ID,
            "contextId": "c1",
            "append": append,
            "lastChunk": last,
            "artifact": {"artifactId": aid, "parts": [{"text": text}]},
        }
    }


def _task(state: str = "TASK_STATE_SUBMITTED", task_id: str = TASK_ID) -> dict[str, Any]:
    return {"task": {"id": task_id, "contextId": "c1", "status": {"state": state}}}


STREAMS: dict[str, list[dict[str, Any]]] = {
    "lf": [
        _task(),
        _status("TASK_STATE_WORKING"),
        _artifact("hello", last=True),
        _status("TASK_STATE_COMPLETED"),
    ],
    "multiline": [_task(), _status("TASK_STATE_WORKING"), _status("TASK_STATE_COMPLETED")],
    "othertask": [
        _task(),
        _status("TASK_STATE_WORKING", task_id="someone-else"),
        _status("TASK_STATE_COMPLETED"),
    ],
    "regress": [
        _task(),
        _status("TASK_STATE_WORKING"),
        _status("TASK_STATE_SUBMITTED"),
        _status("TASK_STATE_COMPLETED"),
    ],
    "afterlast": [
        _task(),
        _artifact("a", last=True),
        _artifact("b", append=True),
        _status("TASK_STATE_COMPLETED"),
    ],
    "big": [_task(), _artifact("x" * (5 * 1024 * 1024), last=True), _status("TASK_STATE_COMPLETED")],
    "noterminal": [_task(), _status("TASK_STATE_WORKING")],
    # the terminal event is ~2 KB (a long status message), the others ~200 B
    "bigend": [
        _task(),
        _status("TASK_STATE_WORKING"),
        {
            "statusUpdate": {
                "taskId": TASK_ID,
                "contextId": "c1",
                "status": {
                    "state": "TASK_STATE_COMPLETED",
                    "message": {"messageId": "m1", "role": "ROLE_AGENT", "parts": [{"text": "y" * 2000}]},
                },
            }
        },
    ],
    # every call answered with the stream of another task, which completes (SubscribeToTask of
    # TASK_ID answered for someone else)
    "anothertask": [
        _task("TASK_STATE_WORKING", task_id="someone-else"),
        _status("TASK_STATE_COMPLETED", task_id="someone-else"),
    ],
    # an agent that rejects at once: its stream is one Task already rejected, then the end
    "rejectedtask": [_task("TASK_STATE_REJECTED")],
    "bom": [_task(), _status("TASK_STATE_WORKING"), _status("TASK_STATE_COMPLETED")],
    "ids": [
        _task(),
        _status("TASK_STATE_WORKING"),
        _artifact("hi", last=True),
        _status("TASK_STATE_COMPLETED"),
    ],
    # a 1.0 stream whose repeated status update comes in 0.3's shape (stream tail's fast path for
    # a repeat of the state it is in skipped the audit: exit 0)
    "v03late": [
        _task(),
        _status("TASK_STATE_WORKING"),
        {"kind": "status-update", "taskId": TASK_ID, "contextId": "c1", "status": {"state": "working"}},
        _status("TASK_STATE_COMPLETED"),
    ],
    # 0.3's shapes (`kind`, `final`) on the 1.0 stream the card and the call negotiated
    "v03shape": [
        {"kind": "task", "id": TASK_ID, "contextId": "c1", "status": {"state": "submitted"}},
        {"kind": "status-update", "taskId": TASK_ID, "contextId": "c1", "status": {"state": "working"}},
        {
            "kind": "status-update",
            "taskId": TASK_ID,
            "contextId": "c1",
            "status": {"state": "completed"},
            "final": True,
        },
    ],
    # failed without a status message: the reason is only in the task's history (GetTask), or
    # only in an artifact (GetTask; the stream had it too), or nowhere GetTask shows (it fails)
    "failedhistory": [_task(), _status("TASK_STATE_WORKING"), _status("TASK_STATE_FAILED")],
    "failedartifact": [
        _task(),
        _status("TASK_STATE_WORKING"),
        _artifact("error: disk full", last=True),
        _status("TASK_STATE_REJECTED"),
    ],
    "failednoget": [_task(), _status("TASK_STATE_WORKING"), _status("TASK_STATE_FAILED")],
}

#: Stream modes whose GetTask answers this task (1.0 ``Task``); ``None``: an A2A error.
GET_TASK: dict[str, dict[str, Any] | None] = {
    "failedhistory": {
        "id": TASK_ID,
        "contextId": "c1",
        "status": {"state": "TASK_STATE_FAILED"},
        "history": [
            {"messageId": "u1", "role": "ROLE_USER", "parts": [{"text": "hi"}]},
            {"messageId": "a1", "role": "ROLE_AGENT", "parts": [{"text": "quota exceeded for tenant 7"}]},
            {"messageId": "u2", "role": "ROLE_USER", "parts": [{"text": "retry"}]},
        ],
        "artifacts": [{"artifactId": "a1", "parts": [{"text": "partial"}]}],
    },
    "failedartifact": {
        "id": TASK_ID,
        "contextId": "c1",
        "status": {"state": "TASK_STATE_REJECTED"},
        "history": [{"messageId": "u1", "role": "ROLE_USER", "parts": [{"text": "hi"}]}],
        "artifacts": [{"artifactId": "a1", "name": "errors", "parts": [{"text": "error: disk full"}]}],
    },
    "failednoget": None,
}


#: Stream modes whose GetTask answers TaskNotFound (``handshake probe --send``'s first RPC is healthy).
PROBED_STREAMS = ("rejectedtask", "othertask", "regress")


def stream_app(base: str) -> Starlette:
    """JSON-RPC 1.0 agents whose SSE misbehaves; ``/<mode>/agent-card.json`` is the card URL TARGET.

        Modes: ``lf`` (LF line endings, compact JSON), ``multiline`` (each event's JSON over several
        ``data:`` lines, CRLF), ``badjson`` (a frame that is not JSON), ``othertask``, ``anothertask``
        (every event, from the first, for a task ``someone-else``: ``SubscribeToTask`` of ``TASK_ID``
        answered with another task's stream), ``regress``
        (working → submitted), ``afterlast`` (a chunk after lastChunk), ``big`` (a 5 MiB event),
        ``noterminal`` (closes while working), ``uncanceled`` (``endless``, but GetTask answers the task
    ``canceled``, with a status message: a2a-sdk 0.3 when another client cancels the task),
        ``cancelclose`` (a subscribe answered as a2a-sdk 0.3 does for a running task another client
        then cancels: no snapshot, pings for 0.3 s, a clean close; GetTask answers the task working
        until then, canceled after), ``endedclose`` (a subscribe closed at once without an event,
        GetTask answers canceled: a task that had already ended), ``v03shape`` (0.3's event shapes, ``kind`` and
        ``final``, on the 1.0 stream), ``bigend`` (a ~2 KB terminal event, the others small),
        ``rejectedtask`` (one Task already rejected, then the end), ``bom`` (a UTF-8 byte order mark
        before the first event), ``endless`` (pings forever while working), ``silent`` (pings forever,
        never an event), ``ids`` (an
        ``id:`` on every event and a ``: ping`` after each), ``hugeline`` / ``hugedata`` (a 20 MiB event
        as one line / as 1 KiB data lines, then the end), ``errframe`` (two events, then a JSON-RPC error
        frame), ``endlessline`` / ``endlessdata`` (one data line
        that never ends / data lines that never make an event). ``GET /raw``
        is a plain SSE source (not A2A); ``GET /raw-bigend`` the ``bigend`` events as plain SSE;
        ``GET /raw-bom`` a BOM and two events under ``charset=iso-8859-1``.
        GetTask of the ``PROBED_STREAMS`` modes answers TaskNotFound (for ``handshake probe``).
    """

    def card(mode: str) -> Any:
        async def handler(_: Request) -> Response:
            c = v1_card(base, f"/{mode}/jsonrpc")
            c["capabilities"]["streaming"] = True
            return JSONResponse(c)

        return handler

    def rpc(mode: str) -> Any:
        async def handler(request: Request) -> Response:
            body = json.loads(await request.body())
            rid = body.get("id")
            if mode in GET_TASK and body.get("method") == "GetTask":
                answer = GET_TASK[mode]
                if answer is None:
                    err = {"code": -32603, "message": "task store unavailable"}
                    return JSONResponse({"jsonrpc": "2.0", "id": rid, "error": err})
                return JSONResponse({"jsonrpc": "2.0", "id": rid, "result": answer})
            if mode == "uncanceled" and body.get("method") == "GetTask":  # canceled by another client
                task = _task("TASK_STATE_CANCELED")["task"]
                task["status"]["message"] = {
                    "messageId": "m1",
                    "role": "ROLE_AGENT",
                    "parts": [{"text": "canceled by another client"}],
                }
                return JSONResponse({"jsonrpc": "2.0", "id": rid, "result": task})
            if mode in ("cancelclose", "endedclose"):  # a 0.3-like subscribe: no snapshot
                task_id = (body.get("params") or {}).get("id")
                closed = request.app.state.canceled
                if body.get("method") == "GetTask":
                    ended = mode == "endedclose" or task_id in closed
                    state = "TASK_STATE_CANCELED" if ended else "TASK_STATE_WORKING"
                    return JSONResponse(
                        {"jsonrpc": "2.0", "id": rid, "result": _task(state, task_id)["task"]}
                    )

                async def subscribed() -> Any:
                    if mode == "cancelclose":  # open, pings only, until "another client" cancels
                        for _ in range(6):
                            yield ": ping\n\n"
                            await asyncio.sleep(0.05)
                        closed.add(task_id)
                    else:
                        yield ""

                return StreamingResponse(subscribed(), media_type="text/event-stream")
            if mode in PROBED_STREAMS and body.get("method") == "GetTask":  # handshake probe's first RPC
                err = {"code": -32001, "message": "Task not found"}
                return JSONResponse({"jsonrpc": "2.0", "id": rid, "error": err})
            if mode == "jsonreset":  # a JSON (not SSE) answer to the streaming call, reset mid-body

                async def cut() -> Any:
                    yield (
                        b'{"jsonrpc": "2.0", "id": '
                        + json.dumps(rid).encode()
                        + b', "error": {"code": -32603, '
                    )
                    await asyncio.sleep(0.02)
                    raise ConnectionResetError("deliberate reset")

                return StreamingResponse(cut(), media_type="application/json", status_code=500)

            def frame(result: Any) -> str:
                body = {"jsonrpc": "2.0", "id": rid, "result": result}
                if mode == "multiline":
                    return (
                        "".join(f"data: {line}\r\n" for line in json.dumps(body, indent=1).splitlines())
                        + "\r\n"
                    )
                return "data: " + json.dumps(body, separators=(",", ":")) + "\n\n"

            async def gen() -> Any:
                if mode == "errframe":  # two events, then a JSON-RPC error frame instead of the rest
                    yield frame(_task())
                    yield frame(_status("TASK_STATE_WORKING"))
                    err = {
                        "jsonrpc": "2.0",
                        "id": rid,
                        "error": {"code": -32603, "message": "worker crashed"},
                    }
                    yield "data: " + json.dumps(err) + "\n\n"
                    return
                if mode == "badjson":
                    yield frame(_task())
                    yield "data: {this is not json\n\n"
                    return
                if mode == "noterminal-hang":  # two events, then silence with the connection open
                    yield frame(_task())
                    yield frame(_status("TASK_STATE_WORKING"))
                    await asyncio.sleep(3600)
                    return
                if mode == "silent":  # pings forever, never an event
                    while True:
                        yield ": ping\n\n"
                        await asyncio.sleep(0.05)
                if mode in ("endless", "uncanceled"):
                    yield frame(_task())
                    yield frame(_status("TASK_STATE_WORKING"))
                    while True:
                        await asyncio.sleep(0.05)
                        yield ": ping\n\n"
                if mode in ("hugeline", "hugedata"):  # a 20 MiB event (one line / 20,480 lines), then the end
                    yield frame(_task())
                    body = json.dumps(
                        {"jsonrpc": "2.0", "id": rid, "result": _artifact("x" * (20 << 20), last=True)}
                    )
                    if mode == "hugeline":
                        yield "data: " + body + "\n\n"
                    else:
                        for i in range(0, len(body), 1024):
                            yield "data: " + body[i : i + 1024] + "\n"
                        yield "\n"
                    yield frame(_status("TASK_STATE_COMPLETED"))
                    return
                if mode in (
                    "endlessline",
                    "endlessdata",
                ):  # never ends an event (bounded by the test's --max-time)
                    yield frame(_task())
                    chunk = "x" * 65536 if mode == "endlessline" else "data: " + "x" * 65530 + "\n"
                    if mode == "endlessline":
                        yield "data: "
                    while True:
                        yield chunk
                        await asyncio.sleep(0)
                if mode == "bom":  # a UTF-8 byte order mark before the first event
                    yield "\ufeff"
                for i, event in enumerate(STREAMS[mode]):
                    if mode == "ids":  # ids and pings between events (httpx-sse#35 made empty events)
                        yield f"id: {i}\n" + frame(event) + ": ping\n\n"
                    else:
                        yield frame(event)
                    await asyncio.sleep(0.005)

            return StreamingResponse(gen(), media_type="text/event-stream")

        return handler

    async def raw_bom(_: Request) -> Response:
        """A UTF-8 BOM, then two events, the first non-ASCII, under a ``charset`` that is not UTF-8
        (an event stream is UTF-8 whatever it says: WHATWG HTML §9.2.5)."""

        async def gen() -> Any:
            yield "\ufeffdata: h\u00e9llo\n\n"
            yield "data: plain\n\n"

        return StreamingResponse(gen(), media_type="text/event-stream; charset=iso-8859-1")

    async def raw(_: Request) -> Response:
        async def gen() -> Any:
            yield ": hello\n\n"
            for i in range(3):
                yield f"data: plain event {i}\n\n"
                await asyncio.sleep(0.01)

        return StreamingResponse(gen(), media_type="text/event-stream")

    async def raw_drop(request: Request) -> Response:
        """Two events, then an abrupt cut; a reconnect carrying ``Last-Event-ID: 2`` gets events 3
        and 4 and a clean end (anything else gets the first two again). ``?ids=0``: no ``id:``
        fields; the next GET with the same ``key`` gets one more event and a clean end. ``?ids=é``:
        non-ASCII ids (``é1``, ``é2``), and the next GET with the same ``key`` and no Last-Event-ID
        gets one more event and a clean end."""
        with_ids = request.query_params.get("ids") != "0"
        prefix = "\u00e9" if request.query_params.get("ids") == "\u00e9" else ""
        key = request.query_params.get("key", "")
        resume = request.headers.get("last-event-id")

        async def gen() -> Any:
            if with_ids and resume == "2":
                yield "id: 3\ndata: resumed\n\nid: 4\ndata: last\n\n"
                return
            if (not with_ids or prefix) and resume is None and key in request.app.state.dropped:
                yield "data: after the outage\n\n"
                return
            yield "retry: 20\n\n" + (f"id: {prefix}1\n" if with_ids else "") + "data: first\n\n"
            yield (f"id: {prefix}2\n" if with_ids else "") + "data: second\n\n"
            await asyncio.sleep(0.02)
            request.app.state.dropped.add(key)
            raise ConnectionAbortedError("deliberate cut")  # uvicorn drops the connection mid-body

        return StreamingResponse(gen(), media_type="text/event-stream")

    modes = [
        *STREAMS,
        "badjson",
        "errframe",
        "endless",
        "uncanceled",
        "cancelclose",
        "endedclose",
        "silent",
        "noterminal-hang",
        "jsonreset",
        "hugeline",
        "hugedata",
        "endlessline",
        "endlessdata",
    ]

    async def raw_bigend(_: Request) -> Response:
        """The ``bigend`` stream's events as a plain SSE GET (``stream tail --sse``), then the end."""

        async def gen() -> Any:
            for event in STREAMS["bigend"]:
                yield "data: " + json.dumps({"jsonrpc": "2.0", "id": 1, "result": event}) + "\n\n"

        return StreamingResponse(gen(), media_type="text/event-stream")

    routes = [
        Route("/raw", raw),
        Route("/raw-bom", raw_bom),
        Route("/raw-drop", raw_drop),
        Route("/raw-bigend", raw_bigend),
    ]
    for mode in modes:
        routes += [
            Route(f"/{mode}/agent-card.json", card(mode)),
            Route(f"/{mode}/jsonrpc", rpc(mode), methods=["POST"]),
        ]
    app = Starlette(routes=routes)
    app.state.dropped = set()
    app.state.canceled = set()
    return app


def ws_fault_app(_: str) -> Starlette:
    """``/abnormal``: one event, then close 1011 (server error) — the client must report a cut.
    ``/deep``: one event, then a frame nested 100,000 levels deep (``[[[…]]]``)."""
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    async def abnormal(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        await ws.send_text(json.dumps(_task()))
        await ws.close(1011, "agent crashed")

    async def deep(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()
        await ws.send_text(json.dumps(_task()))
        await ws.send_text("[" * 100_000 + "]" * 100_000)
        await ws.close(1000)

    return Starlette(routes=[WebSocketRoute("/abnormal", abnormal), WebSocketRoute("/deep", deep)])


class SilentWebSocketServer:
    """A WebSocket server that completes the handshake, sends one event and then never answers
    pings (a half-dead peer: the case client pings exist for). Raw RFC 6455 on purpose."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"ws://127.0.0.1:{self.sock.getsockname()[1]}/silent"
        self.conns: list[Any] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        import base64
        import hashlib

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in data.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key")
            )
            accept = base64.b64encode(hashlib.sha1(key + self.GUID.encode()).digest())
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            payload = json.dumps(_task()).encode()
            conn.sendall(bytes([0x81, len(payload)]) + payload)  # one unmasked text frame (< 126 bytes)

    def __enter__(self) -> SilentWebSocketServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


class PageServer:
    """An HTTP server that answers every GET, a WebSocket upgrade included, with a 200 text/html
    page (an HTTP endpoint that ignores ``Upgrade``). ``url`` is its ``ws://`` URL."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Page(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # websockets reads HTTP/1.1 answers only

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = b"<html><body>sign in</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        self.url = f"ws://127.0.0.1:{self.server.server_address[1]}/a2a/ws"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1:0 (CONNECT tunnels and absolute-form requests) in a thread; the
    first line of every request it gets is in ``seen``."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from urllib.parse import urlsplit

        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        line, rest = head.split(b"\r\n", 1)
        self.seen.append(line.decode())
        method, target, _ = line.decode().split(" ")
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up_r, up_w = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            u = urlsplit(target)
            up_r, up_w = await asyncio.open_connection(u.hostname, u.port or 80)
            path = (u.path or "/") + (f"?{u.query}" if u.query else "")
            up_w.write(f"{method} {path} HTTP/1.1\r\n".encode() + rest)
        await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


def terminal_task_then_open(state: str) -> LoopbackServer:
    """A 1.0 agent whose SendStreamingMessage answers one Task event in ``state`` and then keeps the
    stream open with a comment a second (for up to a minute); any other method is answered with
    TaskNotFoundError (-32001)."""
    import asyncio

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    def factory(base: str) -> Any:
        async def card(request: Any) -> JSONResponse:
            iface = {"url": f"{base}/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
            return JSONResponse(
                {
                    "name": "keeps streams open",
                    "description": "d",
                    "version": "1",
                    "supportedInterfaces": [iface],
                    "capabilities": {"streaming": True},
                    "defaultInputModes": ["text/plain"],
                    "defaultOutputModes": ["text/plain"],
                    "skills": [],
                }
            )

        async def rpc(request: Any) -> Any:
            body = await request.json()
            rid = body["id"]
            if body.get("method") not in ("SendStreamingMessage", "message/stream"):
                error = {"code": -32001, "message": "Task not found"}
                return JSONResponse({"jsonrpc": "2.0", "id": rid, "error": error})
            task = {"id": "t1", "contextId": "c1", "status": {"state": state}}

            async def events() -> Any:
                yield f"data: {json.dumps({'jsonrpc': '2.0', 'id': rid, 'result': {'task': task}})}\n\n"
                for _ in range(60):
                    await asyncio.sleep(1)
                    yield ": still here\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")

        return Starlette(
            routes=[Route("/.well-known/agent-card.json", card), Route("/rpc", rpc, methods=["POST"])]
        )

    return LoopbackServer(factory)
