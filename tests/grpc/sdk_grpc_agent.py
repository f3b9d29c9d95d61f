"""A PLAIN a2a-sdk 1.3 gRPC agent for interop tests: nothing of a2actl's sandbox, only the SDK's own
pieces (``DefaultRequestHandler``, ``InMemoryTaskStore``, ``GrpcHandler``, ``create_agent_card_routes``,
``create_jsonrpc_routes``) the way the SDK's samples assemble them, with a minimal echo executor.

One event loop in a background thread serves both: the card (and JSON-RPC when asked) over HTTP with
uvicorn, the ``lf.a2a.v1.A2AService`` over a ``grpc.aio`` server, on 127.0.0.1 port 0 each.

Behaviour (``EchoAgentExecutor``): a message becomes a task that goes ``working`` then ``completed``
with one artifact ``echo: <text>``; ``/msg TEXT`` answers with a bare Message ``echo: TEXT``.

Run it by hand: ``python -m tests.grpc.sdk_grpc_agent [--jsonrpc] [--tls]`` prints the card URL and
the gRPC target, Ctrl-C stops it.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import uvicorn
from a2a.helpers.proto_helpers import get_message_text, new_task_from_user_message, new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.request_handlers.grpc_handler import GrpcHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import a2a_pb2 as pb
from a2a.types import a2a_pb2_grpc
from starlette.applications import Starlette

from a2actl.server.sandbox.server import base_url_of, bind_socket

JSONRPC_PATH = "/a2a/jsonrpc"


class EchoAgentExecutor(AgentExecutor):
    """Echo: a task ``working`` → ``completed`` with an artifact ``echo: TEXT``; ``/msg TEXT`` → a Message."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = context.message
        text = get_message_text(message) if message is not None else ""
        if text.startswith("/msg"):
            await event_queue.enqueue_event(
                new_text_message(f"echo: {text[4:].strip()}", context_id=context.context_id)
            )
            return
        task = context.current_task
        if task is None:
            assert message is not None
            task = new_task_from_user_message(message)
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        await updater.start_work()
        await updater.add_artifact([pb.Part(text=f"echo: {text}")], name="echo", last_chunk=True)
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task
        if task is not None:
            await TaskUpdater(event_queue, task.id, task.context_id).cancel()


class SdkGrpcAgent:
    """The agent in a background thread. Attributes once started: ``url`` (HTTP base, the card at
    ``url + "/.well-known/agent-card.json"``), ``card_url``, ``grpc_url`` (``127.0.0.1:PORT``, as
    the card declares it), ``jsonrpc_url`` (or ``None``), ``ca_path`` (the CA of the gRPC TLS
    certificate with ``tls=True``, else ``None``).

    ``jsonrpc=False``: the card declares only GRPC; ``True``: GRPC first, then JSONRPC (a card whose
    preferred binding is gRPC). ``tls=True``: the gRPC port speaks TLS (a trustme certificate for
    127.0.0.1/localhost); the card stays on plain HTTP."""

    def __init__(self, jsonrpc: bool = False, tls: bool = False) -> None:
        self.jsonrpc = jsonrpc
        self.tls = tls
        self.sock = bind_socket("127.0.0.1", 0)
        self.url = base_url_of(self.sock, "127.0.0.1")
        self.card_url = self.url + "/.well-known/agent-card.json"
        self.jsonrpc_url = self.url + JSONRPC_PATH if jsonrpc else None
        self.grpc_url = ""
        self.ca_path: str | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="a2actl-sdk-grpc-")
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.server: uvicorn.Server | None = None
        self.grpc_server: Any = None
        self.thread = threading.Thread(target=self._run, name="sdk-grpc-agent", daemon=True)

    def card(self, grpc_url: str) -> pb.AgentCard:
        """The 1.0 card: GRPC (then JSONRPC when asked)."""
        interfaces = [pb.AgentInterface(url=grpc_url, protocol_binding="GRPC", protocol_version="1.0")]
        if self.jsonrpc_url:
            interfaces.append(
                pb.AgentInterface(url=self.jsonrpc_url, protocol_binding="JSONRPC", protocol_version="1.0")
            )
        return pb.AgentCard(
            name="plain a2a-sdk gRPC agent",
            description="a2a-sdk 1.3 GrpcHandler with an echo executor (tests/grpc/sdk_grpc_agent.py)",
            supported_interfaces=interfaces,
            version="1.0.0",
            capabilities=pb.AgentCapabilities(streaming=True),
            default_input_modes=["text/plain"],
            default_output_modes=["text/plain"],
            skills=[pb.AgentSkill(id="echo", name="Echo", description="Echoes text.", tags=["echo"])],
        )

    def _credentials(self) -> Any:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ca_path = Path(self._tmp.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        self.ca_path = str(ca_path)
        key = cert.private_key_pem.bytes()
        chain = b"".join(blob.bytes() for blob in cert.cert_chain_pems)
        return grpc.ssl_server_credentials([(key, chain)])

    async def _main(self) -> None:
        self.grpc_server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        if self.tls:
            port = self.grpc_server.add_secure_port("127.0.0.1:0", self._credentials())
        else:
            port = self.grpc_server.add_insecure_port("127.0.0.1:0")
        self.grpc_url = f"127.0.0.1:{port}"
        card = self.card(self.grpc_url)
        handler = DefaultRequestHandler(
            agent_executor=EchoAgentExecutor(), task_store=InMemoryTaskStore(), agent_card=card
        )
        a2a_pb2_grpc.add_A2AServiceServicer_to_server(GrpcHandler(handler), self.grpc_server)
        await self.grpc_server.start()
        routes: list[Any] = list(create_agent_card_routes(card))
        if self.jsonrpc_url:
            routes += create_jsonrpc_routes(handler, rpc_url=JSONRPC_PATH)
        config = uvicorn.Config(
            Starlette(routes=routes),
            log_level="error",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            await self.grpc_server.stop(0.5)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start()
            self._error = exc

    def start(self, timeout: float = 10.0) -> SdkGrpcAgent:
        """Start both servers; ``RuntimeError`` if they do not listen within ``timeout`` seconds."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while self.server is None or not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the plain a2a-sdk gRPC agent did not start: {self._error!r}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop both servers, wait for the thread (5 s at most), remove the temp dir."""
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()
        self._tmp.cleanup()

    def __enter__(self) -> SdkGrpcAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    import sys

    agent = SdkGrpcAgent(jsonrpc="--jsonrpc" in sys.argv, tls="--tls" in sys.argv).start()
    print(agent.card_url, agent.grpc_url, agent.ca_path or "")
    try:
        agent.thread.join()
    except KeyboardInterrupt:
        agent.stop()
