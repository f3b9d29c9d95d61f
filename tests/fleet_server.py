"""A fleet of A2A agents in one loopback server, for ``fleet probe`` tests and ``bench/fleet_probe.py``.

One raw asyncio HTTP/1.1 server (keep-alive, Content-Length bodies, no framework: at 10,000 agents the
server must not be what is measured; uvloop when installed) serves any number of distinct agents:

* by path prefix: agent ``<id>`` lives under ``/a/<id>``: its card at
  ``/a/<id>/.well-known/agent-card.json``, its JSON-RPC endpoint at ``/a/<id>/rpc`` (1.0 and 0.3 method
  names, each kind answering the family its card declares) and its HTTP+JSON endpoint under
  ``/a/<id>/rest`` (1.0 paths: ``GET …/tasks/{id}``, ``POST …/message:send``);
* by ``Host`` header: under ``/h/<label>`` the agent is chosen by ``Host: <id>.fleet.test`` alone (the
  label only keeps the inventory URLs distinct); without such a Host header those paths answer 404, so
  an agent listed without its ``Host`` header fails as ``http-4xx``.

An agent id is ``<kind>-<n>``; the kind (``KINDS``) decides its behaviour, so the server has no plan to
be told about and a subprocess serves the same fleet as an in-process server. Cards are rendered once
per id and cached. ``GET /_stats`` answers ``{"requests", "inflight", "maxInflight", "hits": {id: n}}``
and ``POST /_reset`` clears them (tests assert the concurrency bound and retries with them).

Use it in-process (``FleetServer``, a thread with its own loop) or in its own process
(``FleetProcess``, or ``python tests/fleet_server.py --port P``); build inventories with ``plan`` and
``write_inventory``; ``EXPECTED`` says what ``fleet probe`` must report for each kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

HOST_SUFFIX = ".fleet.test"

#: kind → what it does. Healthy kinds serve schema-valid cards (``a2actl caps validate`` passes).
KINDS: dict[str, str] = {
    "healthy": "1.0 card, JSON-RPC; GetTask answers TaskNotFound, SendMessage a completed task",
    "rest": "1.0 card, HTTP+JSON only; GetTask 404 TaskNotFound (google.rpc.Status), send completes",
    "healthy03": "0.3-only card (url, protocolVersion 0.3.0, preferredTransport JSONRPC), 0.3 methods",
    "hybrid": "1.0 supportedInterfaces and 0.3 fields in one card (as the SDKs serve with 0.3 compat)",
    "invalid": "a 1.0 card whose name is a number (schema error at /name); its RPC works",
    "notjson": "the card URL answers an HTML page with 200",
    "nocard": "404 on every card path",
    "error500": "500 on the card",
    "cardauth": "401 with a Bearer challenge on the card",
    "flaky": "503 on the first card request of each id, healthy afterwards",
    "slow": "the card answers after the server's --slow seconds (beyond any test timeout)",
    "lag": "healthy, the card answers after the server's --lag seconds",
    "rpcerror": "healthy card; every RPC answers JSON-RPC -32603 InternalError",
    "rpc401": "healthy card; every RPC answers HTTP 401 with a Bearer challenge",
    "badversion": "a 1.0 card whose only interface declares protocolVersion 2.0",
    "grpconly": "a 1.0 card whose only interface is GRPC",
    "sendfail": "healthy, but SendMessage answers a task in state failed",
    "elsewhere": "healthy, but the card's interface URL names host localhost, not 127.0.0.1 (same server)",
}
#: Kinds the client side adds: a port nothing listens on, a name that does not resolve (RFC 2606).
CLIENT_KINDS = ("refused", "dns")

FUNNEL = ("listed", "reachable", "card", "negotiated", "rpc", "send")


@dataclass(frozen=True)
class Expect:
    """What ``fleet probe`` (checks card,validate,rpc[,send], retries >= 1) must report for a kind:
    ``cause`` (``None``: ok) and the last funnel stage passed, without and with the send check."""

    cause: str | None
    reached: str
    send_cause: str | None = None
    send_reached: str | None = None

    def passed(self, send: bool = False) -> tuple[str, ...]:
        """The stages passed, in funnel order."""
        last = (self.send_reached or self.reached) if send else self.reached
        return FUNNEL[: FUNNEL.index(last) + 1]

    def outcome(self, send: bool = False) -> str | None:
        """The cause (``None``: ok)."""
        return self.send_cause if send and self.send_reached else self.cause


def _healthy() -> Expect:
    return Expect(None, "rpc", None, "send")


EXPECTED: dict[str, Expect] = {
    "healthy": _healthy(),
    "rest": _healthy(),
    "healthy03": _healthy(),
    "hybrid": _healthy(),
    "lag": _healthy(),
    "flaky": _healthy(),
    "elsewhere": _healthy(),
    "sendfail": Expect(None, "rpc", "send-failed", "rpc"),
    "invalid": Expect("invalid-card", "reachable"),
    "notjson": Expect("invalid-card", "reachable"),
    "nocard": Expect("http-4xx", "reachable"),
    "error500": Expect("http-5xx", "reachable"),
    "cardauth": Expect("auth", "reachable"),
    "slow": Expect("timeout", "listed"),
    "rpcerror": Expect("rpc-error", "negotiated"),
    "rpc401": Expect("auth", "negotiated"),
    "badversion": Expect("version-mismatch", "card"),
    "grpconly": Expect("version-mismatch", "card"),
    "refused": Expect("refused", "listed"),
    "dns": Expect("dns", "listed"),
}


# ------------------------------------------------------------------------------------------ cards
def _skills() -> list[dict[str, Any]]:
    return [{"id": "echo", "name": "echo", "description": "echoes the message", "tags": ["test"]}]


def card_for(agent_id: str, base: str) -> dict[str, Any]:
    """The card agent ``agent_id`` serves, its endpoints under ``base`` (``http://127.0.0.1:P/a/<id>``)."""
    kind = agent_id.rsplit("-", 1)[0]
    v1: dict[str, Any] = {
        "name": f"fleet agent {agent_id}",
        "description": KINDS.get(kind, "unknown kind"),
        "version": "1.0.0",
        "supportedInterfaces": [
            {"url": base + "/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
        ],
        "capabilities": {"streaming": False},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": _skills(),
    }
    if kind == "rest":
        v1["supportedInterfaces"] = [
            {"url": base + "/rest", "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0"}
        ]
    elif kind == "healthy03":
        return {
            "name": f"fleet agent {agent_id}",
            "description": KINDS[kind],
            "version": "1.0.0",
            "url": base + "/rpc",
            "protocolVersion": "0.3.0",
            "preferredTransport": "JSONRPC",
            "capabilities": {"streaming": False},
            "defaultInputModes": ["text/plain"],
            "defaultOutputModes": ["text/plain"],
            "skills": _skills(),
        }
    elif kind == "hybrid":
        v1 |= {"url": base + "/rpc", "protocolVersion": "0.3.0", "preferredTransport": "JSONRPC"}
    elif kind == "invalid":
        v1["name"] = 42
    elif kind == "elsewhere":
        v1["supportedInterfaces"][0]["url"] = base.replace("//127.0.0.1:", "//localhost:", 1) + "/rpc"
    elif kind == "badversion":
        v1["supportedInterfaces"][0]["protocolVersion"] = "2.0"
    elif kind == "grpconly":
        v1["supportedInterfaces"] = [
            {"url": base.split("://", 1)[1] + "/grpc", "protocolBinding": "GRPC", "protocolVersion": "1.0"}
        ]
    return v1


# ------------------------------------------------------------------------------------------ answers
_TASK_NOT_FOUND_INFO = {
    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
    "reason": "TASK_NOT_FOUND",
    "domain": "a2a-protocol.org",
}
_V1_METHODS = {"GetTask", "SendMessage"}
_CHALLENGE = ((b"www-authenticate", b'Bearer realm="fleet"'),)
_V03_METHODS = {"tasks/get", "message/send"}


def _rpc_answer(kind: str, body: bytes) -> tuple[int, bytes, tuple[tuple[bytes, bytes], ...]]:
    """(status, body, extra headers) of a JSON-RPC POST to an agent of ``kind``."""
    try:
        req = orjson.loads(body)
        rid, method = req.get("id"), req.get("method")
    except (orjson.JSONDecodeError, AttributeError):
        return (
            200,
            orjson.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}),
            (),
        )
    if kind == "rpc401":
        return 401, b'{"error":"unauthenticated"}', _CHALLENGE

    def answer(doc: dict[str, Any]) -> tuple[int, bytes, tuple[tuple[bytes, bytes], ...]]:
        return 200, orjson.dumps({"jsonrpc": "2.0", "id": rid, **doc}), ()

    if kind == "rpcerror":
        return answer({"error": {"code": -32603, "message": "internal error: database is on fire"}})
    v03 = kind == "healthy03"
    if method not in (_V03_METHODS if v03 else _V1_METHODS | (_V03_METHODS if kind == "hybrid" else set())):
        return answer({"error": {"code": -32601, "message": f"method not found: {method}"}})
    if method in ("GetTask", "tasks/get"):
        data: Any = [_TASK_NOT_FOUND_INFO] if method == "GetTask" else None
        return answer({"error": {"code": -32001, "message": "Task not found", "data": data}})
    failed = kind == "sendfail"
    if method == "SendMessage":
        state = "TASK_STATE_FAILED" if failed else "TASK_STATE_COMPLETED"
        return answer({"result": {"task": {"id": "t-1", "contextId": "c-1", "status": {"state": state}}}})
    state = "failed" if failed else "completed"
    return answer({"result": {"kind": "task", "id": "t-1", "contextId": "c-1", "status": {"state": state}}})


def _rest_answer(kind: str, method: str, rest: str) -> tuple[int, bytes]:
    """(status, body) of an HTTP+JSON request to an agent of ``kind`` (1.0 paths, spec v1.0 §11)."""
    if method == "GET" and rest.startswith("/tasks/"):
        return 404, orjson.dumps(
            {
                "error": {
                    "code": 404,
                    "status": "NOT_FOUND",
                    "message": "Task not found",
                    "details": [_TASK_NOT_FOUND_INFO],
                }
            }
        )
    if method == "POST" and rest == "/message:send":
        state = "TASK_STATE_FAILED" if kind == "sendfail" else "TASK_STATE_COMPLETED"
        return 200, orjson.dumps({"task": {"id": "t-1", "contextId": "c-1", "status": {"state": state}}})
    return 404, b'{"detail":"Not Found"}'


_REASONS = {200: b"OK", 401: b"Unauthorized", 404: b"Not Found", 500: b"Internal Server Error"}
_REASONS |= {503: b"Service Unavailable"}


def _response(
    status: int, body: bytes, ctype: bytes = b"application/json", extra: Iterable[tuple[bytes, bytes]] = ()
) -> bytes:
    head = b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n" % (
        status,
        _REASONS.get(status, b"Status"),
        ctype,
        len(body),
    )
    for k, v in extra:
        head += k + b": " + v + b"\r\n"
    return head + b"\r\n" + body


_NOT_FOUND = _response(404, b'{"detail":"Not Found"}')
_HTML = _response(200, b"<html><body><h1>Welcome to nginx!</h1></body></html>", b"text/html")


class FleetApp:
    """The request handler (no I/O): ``answer`` returns the response bytes and a delay in seconds."""

    def __init__(self, port: int, slow: float = 5.0, lag: float = 0.2) -> None:
        self.origin = f"http://127.0.0.1:{port}"
        self.slow = slow
        self.lag = lag
        self.cards: dict[str, bytes] = {}  # "<id> <base>" → the rendered response
        self.hits: Counter[str] = Counter()
        self.requests = 0
        self.inflight = 0
        self.max_inflight = 0

    def stats(self) -> dict[str, Any]:
        """``{"requests", "inflight", "maxInflight", "hits"}`` (``hits``: requests per agent id)."""
        return {
            "requests": self.requests,
            "inflight": self.inflight,
            "maxInflight": self.max_inflight,
            "hits": dict(self.hits),
        }

    def reset(self) -> None:
        """Forget the counters (not the card cache)."""
        self.hits.clear()
        self.requests = self.max_inflight = 0

    def _card(self, agent_id: str, base: str) -> bytes:
        key = f"{agent_id} {base}"  # one id may be served by path and by Host (different URLs inside)
        out = self.cards.get(key)
        if out is None:
            out = _response(200, orjson.dumps(card_for(agent_id, base)))
            self.cards[key] = out
        return out

    def answer(self, method: str, path: str, host: str, body: bytes) -> tuple[bytes, float]:
        """The response to one request and how long to wait before sending it (seconds)."""
        if path.startswith("/a/"):
            agent_id, _, rest = path[3:].partition("/")
            base = f"{self.origin}/a/{agent_id}"
        elif path.startswith("/h/"):
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
            if not name.endswith(HOST_SUFFIX):
                return _NOT_FOUND, 0.0
            agent_id = name[: -len(HOST_SUFFIX)]
            label, _, rest = path[3:].partition("/")
            base = f"{self.origin}/h/{label}"
        elif path == "/_stats":
            return _response(200, orjson.dumps(self.stats())), 0.0
        elif path == "/_reset" and method == "POST":
            self.reset()
            return _response(200, b"{}"), 0.0
        else:
            return _NOT_FOUND, 0.0
        rest = "/" + rest
        kind = agent_id.rsplit("-", 1)[0]
        if kind not in KINDS:
            return _NOT_FOUND, 0.0
        self.hits[agent_id] += 1
        if rest == "/.well-known/agent-card.json" and method == "GET":
            if kind == "nocard":
                return _NOT_FOUND, 0.0
            if kind == "notjson":
                return _HTML, 0.0
            if kind == "error500":
                return _response(500, b"upstream exploded", b"text/plain"), 0.0
            if kind == "cardauth":
                return _response(401, b'{"error":"unauthenticated"}', extra=_CHALLENGE), 0.0
            if kind == "flaky" and self.hits[agent_id] == 1:
                return _response(503, b"warming up", b"text/plain"), 0.0
            delay = self.slow if kind == "slow" else self.lag if kind == "lag" else 0.0
            return self._card(agent_id, base), delay
        if rest == "/rpc" and method == "POST":
            status, out, extra = _rpc_answer(kind, body)
            return _response(status, out, extra=extra), 0.0
        if rest.startswith("/rest/") and kind == "rest":
            status, out = _rest_answer(kind, method, rest[5:])
            return _response(status, out), 0.0
        return _NOT_FOUND, 0.0


async def _handle(app: FleetApp, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            size = 0
            host = ""
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    size = int(value)
                elif name == "host":
                    host = value.strip().lower()
                elif name == "connection":
                    close = value.strip().lower() == "close"
            body = await reader.readexactly(size) if size else b""
            app.requests += 1
            app.inflight += 1
            app.max_inflight = max(app.max_inflight, app.inflight)
            try:
                out, delay = app.answer(method, target.partition("?")[0], host, body)
                if delay:
                    await asyncio.sleep(delay)
            finally:
                app.inflight -= 1
            writer.write(out)
            if close:
                await writer.drain()
                break
            if writer.transport.get_write_buffer_size() > 65536:
                await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    except asyncio.CancelledError:
        pass  # the server is stopping: end quietly (a cancelled handler makes asyncio log a traceback)
    finally:
        writer.close()


async def _serve(app: FleetApp, sock: socket.socket, started: threading.Event | None = None) -> None:
    server = await asyncio.start_server(lambda r, w: _handle(app, r, w), sock=sock, backlog=1024)
    if started is not None:
        started.set()
    async with server:
        await server.serve_forever()


def _listen(port: int) -> socket.socket:
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then (see bind_socket).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class FleetServer:
    """The fleet in this process, on a thread with its own event loop; ``url`` is
    ``http://127.0.0.1:PORT``. A context manager."""

    def __init__(self, slow: float = 5.0, lag: float = 0.2) -> None:
        self.sock = _listen(0)
        self.port = int(self.sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = FleetApp(self.port, slow, lag)
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        task = self._loop.create_task(_serve(self.app, self.sock, self._started))
        try:
            self._loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    def __enter__(self) -> FleetServer:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the fleet server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        def stop() -> None:
            for task in asyncio.all_tasks(self._loop):
                task.cancel()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(timeout=5)
        self.sock.close()

    def stats(self) -> dict[str, Any]:
        """The server's counters (see ``FleetApp.stats``), read from the server thread's object."""
        return self.app.stats()

    def reset(self) -> None:
        """Forget the counters (done on the server's loop; returns when done)."""

        async def reset() -> None:
            self.app.reset()

        asyncio.run_coroutine_threadsafe(reset(), self._loop).result(5)


class FleetProcess:
    """The fleet in its own process (``python tests/fleet_server.py --port P``): what the benchmark
    measures against. A context manager; ``url`` as ``FleetServer``; ``pid`` for its CPU time."""

    def __init__(self, port: int | None = None, slow: float = 5.0, lag: float = 0.2) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port)]
        self.args += ["--slow", str(slow), "--lag", str(lag)]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The server process id."""
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> FleetProcess:
        self.proc = subprocess.Popen(self.args)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("the fleet server process did not start") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stats(self) -> dict[str, Any]:
        """The server's counters over HTTP (``GET /_stats``)."""
        import urllib.request

        with urllib.request.urlopen(self.url + "/_stats", timeout=5) as r:  # noqa: S310 - loopback
            doc: dict[str, Any] = json.loads(r.read())
        return doc


def free_port() -> int:
    """A loopback port nothing listens on (now): also the ``refused`` agents' port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------------ inventories
@dataclass(frozen=True)
class Planned:
    """One inventory entry: ``url``, its ``kind``, a ``name`` and the ``headers`` it needs (``Host``
    for agents routed by Host)."""

    url: str
    kind: str
    name: str
    headers: Mapping[str, str] = field(default_factory=dict)


def plan(
    base: str,
    counts: Mapping[str, int],
    *,
    by_host: int = 0,
    dead_port: int | None = None,
    interleave: bool = True,
) -> list[Planned]:
    """An inventory with ``counts[kind]`` agents of each kind (``KINDS`` or ``CLIENT_KINDS``), served by
    the fleet at ``base``. The first ``by_host`` agents of each server kind are routed by ``Host``
    (URL ``base/h/<n>`` plus a ``Host: <id>.fleet.test`` header), the rest by path (``base/a/<id>``).
    ``refused`` agents point at ``dead_port`` (default: a free port), ``dns`` ones at
    ``http://<id>.invalid``. ``interleave`` mixes the kinds round-robin (file order is then not grouped
    by kind, so an order bug shows)."""
    per_kind: list[list[Planned]] = []
    dead = dead_port or free_port()
    label = 0
    for kind, n in counts.items():
        if kind not in KINDS and kind not in CLIENT_KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        items = []
        for i in range(n):
            agent_id = f"{kind}-{i}"
            if kind == "refused":
                items.append(Planned(f"http://127.0.0.1:{dead}/a/{agent_id}", kind, agent_id))
            elif kind == "dns":
                items.append(Planned(f"http://{agent_id}.invalid/", kind, agent_id))
            elif i < by_host:
                label += 1
                items.append(
                    Planned(f"{base}/h/{label}", kind, agent_id, {"Host": f"{agent_id}{HOST_SUFFIX}"})
                )
            else:
                items.append(Planned(f"{base}/a/{agent_id}", kind, agent_id))
        per_kind.append(items)
    if not interleave:
        return [p for items in per_kind for p in items]
    out: list[Planned] = []
    for i in range(max((len(x) for x in per_kind), default=0)):
        out += [items[i] for items in per_kind if i < len(items)]
    return out


def write_inventory(path: str | os.PathLike[str], agents: Iterable[Planned], fmt: str = "json") -> Path:
    """Write ``agents`` as an inventory file ``fleet probe`` reads: ``json`` (``{"agents": [{url, name,
    labels: {kind}, headers}]}``) or ``text`` (URLs only: no Host headers, no names). ``fleet probe``
    refuses an inventory whose agents carry a ``Host`` header (exit 2): plan such files with
    ``by_host=0``."""
    p = Path(path)
    items = list(agents)
    if fmt == "text":
        p.write_text("# fleet_server inventory\n" + "".join(a.url + "\n" for a in items), encoding="utf-8")
        return p
    doc = {
        "agents": [
            {"url": a.url, "name": a.name, "labels": {"kind": a.kind}}
            | ({"headers": dict(a.headers)} if a.headers else {})
            for a in items
        ]
    }
    p.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return p


def expected_funnel(agents: Iterable[Planned], *, send: bool = False) -> dict[str, int]:
    """How many of ``agents`` reach each funnel stage (``EXPECTED``), send stage included when ``send``."""
    stages = FUNNEL if send else FUNNEL[:-1]
    counts = dict.fromkeys(stages, 0)
    for a in agents:
        for stage in EXPECTED[a.kind].passed(send):
            counts[stage] += 1
    return counts


def expected_causes(agents: Iterable[Planned], *, send: bool = False) -> dict[str, int]:
    """How many of ``agents`` fail with each cause (``EXPECTED``)."""
    out: Counter[str] = Counter()
    for a in agents:
        cause = EXPECTED[a.kind].outcome(send)
        if cause is not None:
            out[cause] += 1
    return dict(out)


def main(argv: list[str] | None = None) -> None:
    """``python tests/fleet_server.py --port P [--slow S] [--lag S]``: serve the fleet until killed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--slow", type=float, default=5.0, help="seconds the 'slow' kind waits")
    ap.add_argument("--lag", type=float, default=0.2, help="seconds the 'lag' kind waits")
    args = ap.parse_args(argv)
    app = FleetApp(args.port, args.slow, args.lag)
    try:
        import uvloop
    except ImportError:
        asyncio.run(_serve(app, _listen(args.port)))
    else:
        uvloop.run(_serve(app, _listen(args.port)))


if __name__ == "__main__":
    main()
