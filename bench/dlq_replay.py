"""DLQ benchmark: `a2actl dlq replay --max-in-flight 64` throughput into a fast loopback sink (file and
Redis sources), and a2actl's peak RSS while listing 1M entries from a file and from Redis, and
while replaying a large file.

Targets (issue #6): >= 5k msgs/s; <= 150 MB RSS, flat.

    python bench/dlq_replay.py [REPLAY_N] [LIST_N]

The sink (its own process, uvicorn) answers every JSON-RPC SendMessage at once with a completed Task.
Redis runs as its own redis-server on a free port. Every a2actl run is a separate process.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.abspath(__file__)


def sink(port: int) -> None:
    import uvicorn

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        rid = json.loads(body).get("id")
        out = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": rid,
                "result": {
                    "task": {"id": "t", "contextId": "c", "status": {"state": "TASK_STATE_COMPLETED"}}
                },
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(out)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": out})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False, lifespan="off")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def entries(n: int, target: str):  # type: ignore[no-untyped-def]
    from a2actl.dlq.store.entry import new_entry

    t = {"url": target, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
    for i in range(n):
        yield new_entry(
            "SendMessage",
            {"message": {"messageId": f"m-{i}", "role": "ROLE_USER", "parts": [{"text": f"order {i}"}]}},
            t,
            error={"code": -32603, "message": "db down", "class": "transient"},
            attempts=3,
            entry_id=f"e-{i}",
        )


def fill_file(path: str, n: int, target: str) -> None:
    with open(path, "w") as f:
        for e in entries(n, target):
            f.write(json.dumps(e, separators=(",", ":")) + "\n")


def fill_redis(url: str, stream: str, n: int, target: str) -> None:
    import redis

    r = redis.from_url(url)
    r.delete(stream, stream + ":meta")
    pipe = r.pipeline(transaction=False)
    for i, e in enumerate(entries(n, target)):
        pipe.xadd(
            stream, {"entry": json.dumps({k: v for k, v in e.items() if k != "id"}, separators=(",", ":"))}
        )
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def peak_rss(cmd: list[str]) -> tuple[float, float, list[float]]:
    """(seconds, peak RSS MiB, RSS samples MiB) of a command, sampling /proc every 0.2 s."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples: list[float] = []
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        samples.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
        time.sleep(0.2)
    if proc.returncode not in (0,):
        raise SystemExit(f"{cmd[:6]} exited {proc.returncode}: {proc.stderr.read().decode()[-400:]}")  # type: ignore[union-attr]
    return time.perf_counter() - t0, max(samples or [0]), samples


def _rpc(i: int) -> dict:  # type: ignore[type-arg]
    return {"jsonrpc": "2.0", "id": i, "method": "SendMessage", "params": {}}


async def _rate(one, n: int, conc: int) -> float:  # type: ignore[no-untyped-def]
    """Requests per second of ``n`` calls of ``await one(i)``, at most ``conc`` at once."""
    sem = asyncio.Semaphore(conc)

    async def bounded(i: int) -> None:
        async with sem:
            await one(i)

    t = time.perf_counter()
    await asyncio.gather(*[bounded(i) for i in range(n)])
    return n / (time.perf_counter() - t)


def bare_httpx(url: str, n: int, conc: int, transport=None) -> float:  # type: ignore[no-untyped-def]
    """The same POSTs from a bare httpx.AsyncClient loop (the ceiling for any httpx-based replayer);
    ``transport`` replaces httpx's own (the httpx-aiohttp reference)."""
    import httpx

    async def run() -> float:
        limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
        async with httpx.AsyncClient(limits=limits, transport=transport) as c:

            async def one(i: int) -> None:
                (await c.post(url, json=_rpc(i))).json()

            return await _rate(one, n, conc)

    return asyncio.run(run())


def bare_httpcore(url: str, n: int, conc: int) -> float:
    """The same POSTs straight through httpcore's pool (httpx's own transport, without httpx's client
    layer): the ceiling of the chosen stack."""
    import httpcore

    async def run() -> float:
        async with httpcore.AsyncConnectionPool(max_connections=conc) as pool:

            async def one(i: int) -> None:
                body = json.dumps(_rpc(i)).encode()
                r = await pool.request(
                    "POST",
                    url,
                    content=body,
                    headers=[
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                )
                json.loads(r.content)

            return await _rate(one, n, conc)

    return asyncio.run(run())


def bare_aiohttp(url: str, n: int, conc: int) -> float | None:
    """Reference only (aiohttp is not one of a2actl's dependencies): the same POSTs from aiohttp, to
    show what another HTTP client reaches on this machine. ``None`` when aiohttp is not installed."""
    try:
        import aiohttp
    except ImportError:
        return None

    async def run() -> float:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as session:

            async def one(i: int) -> None:
                async with session.post(url, json=_rpc(i)) as r:
                    await r.json()

            return await _rate(one, n, conc)

    return asyncio.run(run())


def bare_httpx_aiohttp(url: str, n: int, conc: int) -> float | None:
    """Reference only: the httpx client on the ``httpx-aiohttp`` transport (neither is a dependency),
    to show how much of httpx's cost is its client layer. ``None`` when not installed."""
    try:
        import aiohttp
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        return None
    return bare_httpx(
        url,
        n,
        conc,
        AiohttpTransport(client=lambda: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc))),
    )


def replay_rate(src: str, journal: str, in_flight: int = 64) -> tuple[float, float]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "a2actl",
            "dlq",
            "replay",
            src,
            "--yes",
            "--max-in-flight",
            str(in_flight),
            "--journal",
            journal,
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    doc = json.loads(out.stdout)
    return doc["rate"], doc["acknowledged"]


def main() -> None:
    n_replay = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    n_list = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    py = sys.executable
    subprocess.run(
        [py, "-m", "compileall", "-q", os.path.join(os.path.dirname(HERE), "..", "a2actl")], check=False
    )
    tmp = tempfile.mkdtemp(prefix="a2actl-bench-")
    port = free_port()
    server = subprocess.Popen([py, HERE, "--sink", str(port)])
    rport = free_port()
    redis_exe = shutil.which("redis-server")
    rproc = (
        subprocess.Popen(
            [redis_exe, "--port", str(rport), "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        if redis_exe
        else None
    )
    try:
        wait_port(port)
        target = f"http://127.0.0.1:{port}/rpc"
        print(f"replay into a fast loopback sink, --max-in-flight 64, {n_replay:,} entries")
        path = os.path.join(tmp, "dlq.jsonl")
        fill_file(path, n_replay, target)
        rate, acked = replay_rate(f"file://{path}", os.path.join(tmp, "j1"))
        print(f"  file  : {rate:>8,.0f} msgs/s ({acked:,} acknowledged)   target >= 5,000")
        for conc in (1, 8, 64):
            print(
                f"  bare httpx.AsyncClient, {conc:>2} in flight: {bare_httpx(target, 3000, conc):>7,.0f} req/s (same sink)"
            )
        for conc in (1, 8, 64):
            print(
                f"  bare httpcore pool,     {conc:>2} in flight: {bare_httpcore(target, 3000, conc):>7,.0f} req/s"
            )
        for conc in (1, 8, 64):
            ref = bare_httpx_aiohttp(target, 3000, conc)
            print(
                f"  reference httpx+aiohttp,{conc:>2} in flight: "
                + (
                    f"{ref:>7,.0f} req/s (not a dependency)"
                    if ref is not None
                    else "not installed (pip install httpx-aiohttp to compare)"
                )
            )
        for conc in (1, 8, 64):
            ref = bare_aiohttp(target, 3000, conc)
            print(
                f"  reference aiohttp,      {conc:>2} in flight: "
                + (
                    f"{ref:>7,.0f} req/s (not a dependency)"
                    if ref is not None
                    else "not installed (pip install aiohttp to compare)"
                )
            )
        fill_file(path, n_replay, target)
        rate8, _ = replay_rate(f"file://{path}", os.path.join(tmp, "j1b"), 8)
        print(f"  file, --max-in-flight 8: {rate8:>7,.0f} msgs/s")
        if rproc:
            wait_port(rport)
            rurl = f"redis://127.0.0.1:{rport}/0"
            fill_redis(rurl, "bench", n_replay, target)
            rate, acked = replay_rate(f"{rurl}?stream=bench", os.path.join(tmp, "j2"))
            print(f"  redis : {rate:>8,.0f} msgs/s ({acked:,} acknowledged)")
        print(f"peak RSS, {n_list:,} entries (target <= 150 MB, flat)")
        big = os.path.join(tmp, "big.jsonl")
        fill_file(big, n_list, target)
        secs, peak, samples = peak_rss([py, "-m", "a2actl", "dlq", "list", f"file://{big}", "-o", "jsonl"])
        print(
            f"  list file  : {peak:6.1f} MiB peak in {secs:.1f} s (samples: first {samples[0] if samples else 0:.0f}, "
            f"mid {samples[len(samples) // 2] if samples else 0:.0f}, last {samples[-1] if samples else 0:.0f} MiB)"
        )
        secs, peak, _ = peak_rss([py, "-m", "a2actl", "dlq", "stats", f"file://{big}", "-o", "json"])
        print(f"  stats file : {peak:6.1f} MiB peak in {secs:.1f} s")
        if rproc:
            fill_redis(rurl, "big", n_list, target)
            secs, peak, samples = peak_rss(
                [py, "-m", "a2actl", "dlq", "list", f"{rurl}?stream=big", "-o", "jsonl"]
            )
            print(f"  list redis : {peak:6.1f} MiB peak in {secs:.1f} s")
        n_rep = min(n_list, 50_000)
        rep = os.path.join(tmp, "rep.jsonl")
        fill_file(rep, n_rep, target)
        secs, peak, samples = peak_rss(
            [
                py,
                "-m",
                "a2actl",
                "dlq",
                "replay",
                f"file://{rep}",
                "--yes",
                "--max-in-flight",
                "64",
                "--journal",
                os.path.join(tmp, "j3"),
                "-o",
                "jsonl",
            ]
        )
        q = len(samples) // 4 or 1
        print(
            f"  replay file, {n_rep:,} entries: {peak:6.1f} MiB peak in {secs:.1f} s "
            f"(25%: {samples[q] if samples else 0:.0f}, 75%: {samples[3 * q] if len(samples) > 3 * q else 0:.0f} MiB)"
        )
    finally:
        server.terminate()
        if rproc:
            rproc.terminate()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--sink":
        sink(int(sys.argv[2]))
    else:
        asyncio.set_event_loop_policy(None)
        main()
