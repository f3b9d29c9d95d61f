"""An interface URL with a query string (``http://h/a2a/rest?key=v``, e.g. a gateway's API key or a
signed URL): the HTTP+JSON method path goes into the URL's path, before its query. It was appended
after the query (``/a2a/rest?key=v/tasks/t1``): the agent saw path ``/a2a/rest`` and answered 404,
and ``caps fingerprint`` reported that the endpoint does not speak 1.0."""

from __future__ import annotations

from typing import Any

from tests.servers import LoopbackServer

TASK = {"id": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_COMPLETED"}}


def _rest_agent(seen: list[tuple[str, str]]) -> LoopbackServer:
    """A 1.0 HTTP+JSON agent whose card names ``{base}/rest?gw=k1`` and which answers GetTask on
    ``/rest/tasks/{id}`` only when that query came along; every request's path and query is kept."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def factory(base: str) -> Any:
        async def card(request: Request) -> JSONResponse:
            return JSONResponse(
                {
                    "name": "gateway agent",
                    "description": "behind a gateway that wants its key in the query",
                    "version": "1",
                    "supportedInterfaces": [
                        {
                            "url": f"{base}/rest?gw=k1",
                            "protocolBinding": "HTTP+JSON",
                            "protocolVersion": "1.0",
                        }
                    ],
                    "capabilities": {},
                    "defaultInputModes": ["text/plain"],
                    "defaultOutputModes": ["text/plain"],
                    "skills": [],
                }
            )

        async def anything(request: Request) -> JSONResponse:
            seen.append((request.url.path, request.url.query))
            tid = request.path_params.get("tid")
            if request.query_params.get("gw") != "k1" or tid is None:
                return JSONResponse({"detail": "Not Found"}, 404)  # no such route: no A2A server wrote it
            if (
                tid != "t1"
            ):  # 1.0 HTTP+JSON: TaskNotFoundError is a 404 google.rpc.Status with an ErrorInfo reason
                error = {
                    "code": 404,
                    "status": "NOT_FOUND",
                    "message": f"task {tid} not found",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "TASK_NOT_FOUND",
                            "domain": "a2a-protocol.org",
                        }
                    ],
                }
                return JSONResponse({"error": error}, 404)
            return JSONResponse(TASK)

        return Starlette(
            routes=[
                Route("/.well-known/agent-card.json", card),
                Route("/rest/tasks/{tid}", anything),
                Route("/{rest:path}", anything, methods=["GET", "POST"]),
            ]
        )

    return LoopbackServer(factory)


def test_task_get_puts_the_method_path_before_the_interfaces_query(cli: Any) -> None:
    seen: list[tuple[str, str]] = []
    with _rest_agent(seen) as agent:
        r = cli("-o", "json", "task", "get", agent.url, "t1", "--history", "3")
    assert r.exit_code == 0, r.stdout + r.stderr
    assert r.json["task"]["state"] == "completed", r.json
    assert seen == [("/rest/tasks/t1", "gw=k1&historyLength=3")]


def test_fingerprint_finds_1_0_on_an_interface_with_a_query(cli: Any) -> None:
    seen: list[tuple[str, str]] = []
    with _rest_agent(seen) as agent:
        r = cli("-o", "json", "caps", "fingerprint", agent.url)
    assert r.exit_code == 0, r.stdout + r.stderr
    [ep] = r.json["endpoints"]
    assert ep["speaks"] == ["1.0"], ep
    assert ep["probes"]["1.0"]["verdict"] == "answers", ep
    assert all(q == "gw=k1" for _, q in seen) and {p.rsplit("/", 1)[0] for p, _ in seen} == {
        "/rest/tasks",
        "/rest/v1/tasks",
    }, seen
