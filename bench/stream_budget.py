"""Where `stream tail`'s CPU instructions per event go, layer by layer, next to the bare loop's.

    python bench/stream_budget.py            (valgrind required; ~6 minutes)

Each stage runs in its own process over the same pre-built SSE body (the 1.0 JSON-RPC stream of
``bench/stream_throughput.py``: a Task, N ``working`` status updates in 64 KiB reads, ``completed``),
through ``httpx.MockTransport`` (no network), and is counted by callgrind (user space) twice, over
2,000 and 22,000 events; the difference over 20,000 is the stage's instructions per event, start-up
and imports cancelled. Each line adds one layer to the one before:

* ``sse``: a2actl's SSE reader (``transport.sse.iter_sse_batches``: httpx-sse's decoders, comments
  kept as heartbeats, the per-event memory bound);
* ``loads``: + orjson.loads of each event;
* ``client``: ``A2AClient.stream_batches`` instead (the JSON-RPC envelope check, the nesting bound,
  ``classify_fields``, the lists of ``EventTuple``);
* ``take``: + ``Tail.take`` (timing, gap histogram, heartbeat/stall/oversize checks, the lifecycle
  audit, the record dict), records dropped;
* ``write``: + the JSONL writer (orjson, redaction check, one write per read);
* ``bare-sse`` / ``bare-loads``: the bare loop's reader (httpx-sse's sync ``iter_sse``) and + orjson.

The bare loop with its JSONL records is measured whole by ``BENCH_INSTRUCTIONS=1 python
bench/stream_throughput.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator

HERE = os.path.abspath(__file__)
BASE = "http://127.0.0.1:9/a2a"
STAGES = ("sse", "loads", "client", "take", "write", "bare-sse", "bare-loads")


def body(rid: str, n: int) -> list[bytes]:
    """The SSE body's network reads: a Task, ``n`` status updates in ~64 KiB reads, completed."""

    def frame(result: dict[str, object]) -> bytes:
        doc = {"jsonrpc": "2.0", "id": rid, "result": result}
        return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\r\n\r\n"

    working = {"state": "TASK_STATE_WORKING", "timestamp": "2026-11-22T00:00:00.000Z"}
    status = frame({"statusUpdate": {"taskId": "t1", "contextId": "c1", "status": working}})
    per = max(1, 65536 // len(status))
    reads = [frame({"task": {"id": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_SUBMITTED"}}})]
    reads += [status * per] * (n // per)
    if n % per:
        reads.append(status * (n % per))
    reads.append(
        frame(
            {"statusUpdate": {"taskId": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_COMPLETED"}}}
        )
    )
    return reads


def run_stage(stage: str, n: int) -> int:
    """Run ``stage`` over ``n`` status updates; returns the items it saw."""
    import httpx
    import orjson

    if stage.startswith("bare"):
        from httpx_sse import EventSource

        reads = body("1", n)

        class Sync(httpx.SyncByteStream):
            def __iter__(self):  # type: ignore[no-untyped-def]
                yield from reads

        response = httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Sync())
        count = 0
        for sse in EventSource(response).iter_sse():
            if stage == "bare-loads":
                orjson.loads(sse.data)
            count += 1
        return count

    from a2actl.core.config import Settings
    from a2actl.protocol.card import Interface
    from a2actl.protocol.negotiation import Selection
    from a2actl.protocol.versions import BINDING_JSONRPC, Family
    from a2actl.render.output import Output
    from a2actl.stream.tail import Tail, TailOptions
    from a2actl.transport.a2a import A2AClient
    from a2actl.transport.http import HttpTransport
    from a2actl.transport.sse import iter_sse_batches

    def handler(request: httpx.Request) -> httpx.Response:
        reads = body(json.loads(request.content)["id"], n)

        async def content() -> AsyncIterator[bytes]:
            for chunk in reads:
                yield chunk

        return httpx.Response(200, content=content(), headers={"Content-Type": "text/event-stream"})

    async def main() -> int:
        iface = Interface(BASE, BINDING_JSONRPC, Family.V1_0.value, Family.V1_0, "bench", None)
        count = 0
        async with HttpTransport(Settings(), http_transport=httpx.MockTransport(handler)) as transport:
            if stage in ("sse", "loads"):
                rpc = {"jsonrpc": "2.0", "id": "1", "method": "SendStreamingMessage", "params": {}}
                response, _ = await transport.open_stream("POST", BASE, json_body=rpc, headers={})
                async for batch in iter_sse_batches(response, BASE, transport.settings):
                    if stage == "loads":
                        for item in batch:
                            orjson.loads(item[1])  # SSETuple: (kind, data, size, at, ...)
                    count += len(batch)
                return count
            client = A2AClient(transport, Selection(iface, Family.V1_0, "bench", False))
            with open(os.devnull, "w") as devnull:
                out = Output("jsonl", stdout=devnull)
                emit = out.jsonl if stage == "write" else (lambda record: None)
                tail = Tail(TailOptions(), emit, Family.V1_0, together=out.together)
                async for items in client.stream_batches(
                    "SendStreamingMessage", {"message": {}}, heartbeats=True
                ):
                    count += len(items)
                    if stage == "client":
                        continue
                    with out.together():
                        i = 0
                        while i < len(items):
                            i, _ = tail.take(items, i)
        return count

    return asyncio.run(main())


def instructions(stage: str, n: int) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, HERE, "--stage", stage, str(n)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stderr.split("Collected : ")[1].split()[0])


def main() -> None:
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    small, big = 2_000, 22_000
    before = None
    print(f"CPU instructions per event (callgrind, user space; {big:,} - {small:,} events)")
    for stage in STAGES:
        per = (instructions(stage, big) - instructions(stage, small)) / (big - small)
        added = "" if before is None or stage.startswith("bare") else f"  (+{per - before:,.0f})"
        print(f"  {stage:<11} {per:>8,.0f}{added}", flush=True)
        before = None if stage == "write" else per


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--stage":
        n = run_stage(sys.argv[2], int(sys.argv[3]))
        print(f"{sys.argv[2]}: {n} items", file=sys.stderr)
    else:
        main()
