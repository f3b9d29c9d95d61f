"""Stream benchmark: events per second that `a2actl stream tail -o jsonl` writes, against a bare
httpx-sse loop (iterate + json.loads) reading the same stream from the same server in the same run;
and a2actl's RSS sampled over a 1M-event stream (memory must stay flat).

Targets (issue #4): >= 50k events/s and >= 0.8x the bare loop; flat memory.

    python bench/stream_throughput.py [EVENTS_FOR_RATE] [EVENTS_FOR_RSS]

The server (a separate process, uvicorn) sends one A2A 1.0 JSON-RPC SSE stream per request: a Task,
N status updates (working), then completed, written in batches so that it is not the bottleneck.
Every client is a separate process as well.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.abspath(__file__)


# ------------------------------------------------------------------------------------------ server
def serve(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    base = f"http://127.0.0.1:{port}"

    async def card(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "name": "bench",
                "description": "stream bench",
                "version": "1",
                "supportedInterfaces": [
                    {"url": base + "/rpc", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
                ],
                "capabilities": {"streaming": True},
                "defaultInputModes": ["text/plain"],
                "defaultOutputModes": ["text/plain"],
                "skills": [{"id": "s", "name": "s", "description": "s", "tags": ["t"]}],
            }
        )

    async def rpc(request: Request) -> StreamingResponse:
        body = json.loads(await request.body())
        rid = body["id"]
        n = int(request.query_params.get("n") or body.get("params", {}).get("metadata", {}).get("n", 1000))
        n = int(os.environ.get("BENCH_EVENTS", n))

        def frame(result: dict) -> bytes:
            return (
                b"data: "
                + json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}, separators=(",", ":")).encode()
                + b"\r\n\r\n"
            )

        status = frame(
            {
                "statusUpdate": {
                    "taskId": "t1",
                    "contextId": "c1",
                    "status": {"state": "TASK_STATE_WORKING", "timestamp": "2026-11-22T00:00:00.000Z"},
                }
            }
        )

        async def gen():  # type: ignore[no-untyped-def]
            yield frame(
                {"task": {"id": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_SUBMITTED"}}}
            )
            batch = 500
            for i in range(0, n, batch):
                yield status * min(batch, n - i)
            yield frame(
                {
                    "statusUpdate": {
                        "taskId": "t1",
                        "contextId": "c1",
                        "status": {"state": "TASK_STATE_COMPLETED"},
                    }
                }
            )

        return StreamingResponse(gen(), media_type="text/event-stream")

    app = Starlette(
        routes=[Route("/.well-known/agent-card.json", card), Route("/rpc", rpc, methods=["POST"])]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


# ------------------------------------------------------------------------------------------ baseline
def baseline(url: str, write_jsonl: bool = False) -> None:
    """The bare loop: httpx-sse over httpx, json.loads per event, nothing else (``write_jsonl``: also
    json.dumps one small record per event to stdout and flush, the least a JSONL tail must do)."""
    import httpx
    from httpx_sse import connect_sse

    count = 0
    req = {
        "jsonrpc": "2.0",
        "id": "1",
        "method": "SendStreamingMessage",
        "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x"}]}},
    }
    with (
        httpx.Client(timeout=60) as client,
        connect_sse(client, "POST", url + "/rpc", json=req, headers={"A2A-Version": "1.0"}) as es,
    ):
        out = sys.stdout
        encode = json.JSONEncoder(separators=(",", ":")).encode  # built once: the fastest stdlib JSONL
        for sse in es.iter_sse():
            obj = json.loads(sse.data)
            count += 1
            if write_jsonl:
                out.write(encode({"n": count, "bytes": len(sse.data), "keys": list(obj)}) + "\n")
                out.flush()
    print(count)


# ------------------------------------------------------------------------------------------ driver
def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def timed(cmd: list[str], env: dict[str, str], sample_rss: bool = False) -> tuple[float, list[int]]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    samples: list[int] = []
    while proc.poll() is None:
        if sample_rss:
            r = rss_kib(proc.pid)
            if r:
                samples.append(r)
        time.sleep(0.25 if sample_rss else 0.01)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr.read().decode()[-500:]}")
    return elapsed, samples


def main() -> None:
    n_rate = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    n_rss = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", os.path.join(os.path.dirname(HERE), "..", "a2actl")],
        check=False,
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, BENCH_EVENTS=str(n_rate))
    server = subprocess.Popen([sys.executable, HERE, "--serve", str(port)], env=env)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        tail_cmd = [sys.executable, "-m", "a2actl", "stream", "tail", url, "--send", "x", "-o", "jsonl"]
        runs: dict[str, list[float]] = {"baseline": [], "baseline+jsonl": [], "a2actl": []}
        for _ in range(3):
            runs["baseline"].append(timed([sys.executable, HERE, "--baseline", url], env)[0])
            runs["baseline+jsonl"].append(timed([sys.executable, HERE, "--baseline-jsonl", url], env)[0])
            runs["a2actl"].append(timed(tail_cmd, env)[0])
        events = n_rate + 2
        best = {k: min(v) for k, v in runs.items()}
        rate = {k: events / v for k, v in best.items()}
        print(f"events per run: {events:,} (best of 3, wall time incl. process start)")
        print(f"bare httpx-sse loop : {best['baseline']:.2f} s  {rate['baseline']:>10,.0f} events/s")
        print(
            f"bare loop + JSONL   : {best['baseline+jsonl']:.2f} s  {rate['baseline+jsonl']:>10,.0f} events/s"
            "  (one small record per event, flushed)"
        )
        print(
            f"a2actl stream tail  : {best['a2actl']:.2f} s  {rate['a2actl']:>10,.0f} events/s  (JSONL to /dev/null)"
        )
        print(
            f"ratio a2actl / bare : {rate['a2actl'] / rate['baseline']:.2f}x   (target >= 0.8x, >= 50k events/s)"
        )
        print(f"ratio a2actl / bare+JSONL: {rate['a2actl'] / rate['baseline+jsonl']:.2f}x")
        print(
            f"ratio bare+JSONL / bare: {rate['baseline+jsonl'] / rate['baseline']:.2f}x   (the ceiling for any "
            "tail that writes one JSONL record per event, before any audit)"
        )
    finally:
        server.terminate()
        server.wait()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, BENCH_EVENTS=str(n_rss))
    server = subprocess.Popen([sys.executable, HERE, "--serve", str(port)], env=env)
    try:
        time.sleep(1.0)
        tail_cmd = [sys.executable, "-m", "a2actl", "stream", "tail", url, "--send", "x", "-o", "jsonl"]
        elapsed, samples = timed(tail_cmd, env, sample_rss=True)
        if len(samples) >= 4:
            q = len(samples) // 4
            print(
                f"RSS over {n_rss + 2:,} events ({elapsed:.1f} s): at 25% {samples[q] / 1024:.1f} MiB, "
                f"50% {samples[2 * q] / 1024:.1f} MiB, 75% {samples[3 * q] / 1024:.1f} MiB, "
                f"end {samples[-1] / 1024:.1f} MiB, max {max(samples) / 1024:.1f} MiB"
            )
            print(
                f"growth from 25% to end: {(samples[-1] - samples[q]) / 1024:+.1f} MiB (flat = within a few MiB)"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "--baseline":
        baseline(sys.argv[2])
    elif len(sys.argv) > 2 and sys.argv[1] == "--baseline-jsonl":
        baseline(sys.argv[2], write_jsonl=True)
    else:
        main()
