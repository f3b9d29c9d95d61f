"""Stream benchmark: events per second that `a2actl stream tail -o jsonl` writes, next to a bare
httpx-sse loop that decodes each event and writes the same JSONL record with the same JSON library
(orjson), in interleaved rounds against one cheap server; and a2actl's RSS over a long stream.

Targets (issue #15): a2actl >= 0.8x the bare loop + JSONL (the ratio is a2actl's own per-event cost)
and >= 100k events/s absolute; RSS flat over a long stream.

    python bench/stream_throughput.py [EVENTS_PER_RUN] [ROUNDS] [EVENTS_FOR_RSS]

Defaults: 300,000 events per run, 5 rounds, 1,000,000 events for the RSS run (0 skips it).
Ports: BENCH_PORT (default 19200), the next one for the RSS run, the two after for instructions.

* The server is a raw asyncio HTTP/1.1 server in its own process (no framework): it answers the
  agent card, then streams one A2A 1.0 JSON-RPC SSE answer per POST (a Task, N status updates,
  completed) from a pre-rendered ~64 KiB chunk written again and again (chunked encoding). Its
  ceiling is measured in every round by curl reading the same stream to /dev/null ("server").
* Every client runs in its own process with stdout on /dev/null (as the issue measured), timed from
  inside after its imports: a2actl through its real CLI entry point (``a2actl.cli.app.main`` with
  ``stream tail URL --send x -o jsonl``: typer, the card fetch, negotiation, the tail, the writes to
  fd 1), the loops from before they make their client. Each first runs once over a two-event stream
  (message text ``0``) and subtracts that run's time and CPU (the fixed cost of one stream: a2actl's
  ~50-80 ms of typer building the command, the card fetch and the connection; the loop's client and
  POST), and a2actl runs the command once more before that, untimed (the modules it imports as it
  runs, ~0.3 s). So the rate is the per-event cost, not start-up and imports (a2actl's ~0.8 s, the
  loops' ~0.3 s); the "wall" column has the whole process. In process, not a subprocess of
  ``python -m a2actl``, only so the import time can be left out.
* Before the rounds, one run of each writes to a file, and the bench checks both wrote the same
  records (one line per event, the same keys in the same order).
* Each client also reports its CPU time (``time.process_time``) per event: on a machine shared with
  other work the wall rate moves with the load, the CPU cost less so.
* ``BENCH_INSTRUCTIONS=1`` (valgrind installed) adds CPU instructions per event of both clients
  (callgrind; start-up cancelled out): a deterministic ratio, whatever else the machine runs.
* ``BENCH_A2ACTL_SRC=DIR`` runs the ``a2actl`` package in DIR (an older checkout: a "before").
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import BinaryIO

from loopback import wait_port

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(HERE))

#: The canonical spelling a2actl writes for the wire states the server sends.
STATES = {
    "TASK_STATE_SUBMITTED": "submitted",
    "TASK_STATE_WORKING": "working",
    "TASK_STATE_COMPLETED": "completed",
}
KINDS = {
    "task": "task",
    "statusUpdate": "status-update",
    "artifactUpdate": "artifact-update",
    "message": "message",
}


# ------------------------------------------------------------------------------------------ server
def serve(port: int) -> None:
    """A raw asyncio HTTP/1.1 server: the card on GET, one pre-rendered SSE stream per POST /rpc
    (``BENCH_EVENTS`` status updates between a Task and the completed update; ``?n=`` overrides)."""
    import asyncio

    base = f"http://127.0.0.1:{port}"
    card = json.dumps(
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
    ).encode()
    default_n = int(os.environ.get("BENCH_EVENTS", "1000"))

    def frame(rid: object, result: dict) -> bytes:
        doc = {"jsonrpc": "2.0", "id": rid, "result": result}
        return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\r\n\r\n"

    def chunk(data: bytes) -> bytes:
        return b"%x\r\n" % len(data) + data + b"\r\n"

    async def stream(writer: asyncio.StreamWriter, rid: object, n: int) -> None:
        status = frame(
            rid,
            {
                "statusUpdate": {
                    "taskId": "t1",
                    "contextId": "c1",
                    "status": {"state": "TASK_STATE_WORKING", "timestamp": "2026-11-22T00:00:00.000Z"},
                }
            },
        )
        per = max(1, 65536 // len(status))
        full = chunk(status * per)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-store\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        writer.write(
            chunk(
                frame(
                    rid,
                    {"task": {"id": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_SUBMITTED"}}},
                )
            )
        )
        left = n
        while left >= per:
            writer.write(full)
            left -= per
            await writer.drain()
        if left:
            writer.write(chunk(status * left))
        done = {
            "statusUpdate": {"taskId": "t1", "contextId": "c1", "status": {"state": "TASK_STATE_COMPLETED"}}
        }
        writer.write(chunk(frame(rid, done)) + b"0\r\n\r\n")
        await writer.drain()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, target, _ = head[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)
                }
                size = int(headers.get("content-length") or 0)
                body = await reader.readexactly(size) if size else b""
                path, _, query = target.partition("?")
                if method == "GET" and path == "/.well-known/agent-card.json":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                        % len(card)
                        + card
                    )
                    await writer.drain()
                elif method == "POST" and path == "/rpc":
                    req = json.loads(body) if body else {}
                    rid = req.get("id")
                    try:  # a message text that is a number asks for that many status updates
                        n = int(req["params"]["message"]["parts"][0]["text"])
                    except (KeyError, IndexError, TypeError, ValueError):
                        n = int(query[2:]) if query.startswith("n=") else default_n
                    await stream(writer, rid, n)
                else:
                    writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ------------------------------------------------------------------------------------------ the bare loop
REQUEST = {
    "jsonrpc": "2.0",
    "id": "1",
    "method": "SendStreamingMessage",
    "params": {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "x"}]}},
}


def bare(url: str, write_jsonl: bool, flush: bool = True) -> None:
    """The bare loop: httpx-sse over httpx (sync), orjson.loads per event; with ``write_jsonl`` also
    the record a2actl writes for the event (same keys, canonical kind and state, the wall time
    formatted once per millisecond from a per-second prefix and the times rounded to the microsecond
    as ``round(x * 1e6) / 1e6``, as a2actl does: ``round(x, 6)`` cost the loop ~3k instructions an
    event that a2actl does not spend), orjson-encoded, one line, flushed per record as a2actl's
    JSONL was until it wrote once per network read (``flush=False``: no flush, the records leave in
    the output buffer's 8 KiB writes: the loop's fewest system calls, the strictest baseline).
    Prints ``{"events", "seconds", "cpu"}`` on stderr: the stream's figures (from before
    the client is made to the end) less those of a two-event stream run first (``fixed``: the
    connection and the POST), as ``a2actl_runner`` does."""
    from datetime import datetime, timezone

    import httpx
    import orjson
    from httpx_sse import connect_sse

    dumps, loads, nl = orjson.dumps, orjson.loads, orjson.OPT_APPEND_NEWLINE
    clock, time_ns = time.perf_counter, time.time_ns

    def run(text: str, out: BinaryIO) -> tuple[int, float, float]:
        request = {
            **REQUEST,
            "params": {"message": {**REQUEST["params"]["message"], "parts": [{"text": text}]}},
        }  # type: ignore[index]
        wall_ms, wall_s, wall_text, prefix = -1, -1, "", ""
        count = 0
        t0, c0 = clock(), time.process_time()
        with httpx.Client(timeout=60) as client:
            last = t0
            with connect_sse(
                client, "POST", url + "/rpc", json=request, headers={"A2A-Version": "1.0"}
            ) as es:
                for sse in es.iter_sse():
                    obj = loads(sse.data)
                    count += 1
                    if not write_jsonl:
                        continue
                    result = obj["result"]
                    key = next(iter(result))
                    body = result[key]
                    status = body.get("status")
                    now = clock()
                    ms = time_ns() // 1_000_000
                    if ms != wall_ms:  # formatted per millisecond from a per-second prefix, as a2actl does
                        sec = ms // 1000
                        if sec != wall_s:
                            wall_s = sec
                            prefix = datetime.fromtimestamp(sec, timezone.utc).isoformat(timespec="seconds")[
                                :19
                            ]
                        wall_ms = ms
                        wall_text = f"{prefix}.{ms % 1000:03d}Z"
                    data = sse.data
                    rec = {
                        "type": "event",
                        "wall": wall_text,
                        "t": round((now - t0) * 1e6) / 1e6,  # to the microsecond, as a2actl rounds
                        "delta": round((now - last) * 1e6) / 1e6,
                        "kind": KINDS.get(key, key),
                        "state": STATES.get(status["state"]) if status else None,
                        "taskId": body.get("taskId") or body.get("id"),
                        "bytes": len(data) if data.isascii() else len(data.encode()),
                        "oversize": False,
                        "violations": [],
                    }
                    last = now
                    out.write(dumps(rec, option=nl))
                    if flush:
                        out.flush()
        return count, clock() - t0, time.process_time() - c0

    with open(os.devnull, "wb") as devnull:
        _, fixed, fixed_cpu = run("0", devnull)
    count, seconds, cpu = run("x", sys.stdout.buffer)
    sys.stderr.write(
        json.dumps({"events": count, "seconds": seconds - fixed, "cpu": cpu - fixed_cpu, "fixed": fixed})
        + "\n"
    )


def a2actl_runner(url: str) -> None:
    """``a2actl stream tail URL --send x -o jsonl`` through the CLI's entry point, timed after the
    imports a command does and a first run over a two-event stream (the warm-up: typer's lazy imports
    and the command's own, ~0.3 s, ran inside the timed run before, ~10% of a 200k-event run), less
    the time and CPU of the same command over two events (``fixed``, ~50-80 ms: typer building the
    command, the card fetch, the connection), so the rate is per event, not start-up. Prints ``{"seconds", "cpu",
    "exit"}`` on stderr. ``BENCH_A2ACTL_SRC``: the directory holding the ``a2actl`` package to run
    (default: the installed one)."""
    if os.environ.get("BENCH_A2ACTL_SRC"):  # another checkout's a2actl (a "before" figure)
        sys.path.insert(0, os.environ["BENCH_A2ACTL_SRC"])
    import a2actl.cli.app as app
    import a2actl.render.stream  # noqa: F401 - imported by the command's body: not part of the rate
    import a2actl.stream.jobs  # noqa: F401
    import a2actl.transport.a2a  # noqa: F401
    import a2actl.transport.http  # noqa: F401

    # A first run over a two-event stream (text "0": no status updates), its output dropped: the
    # modules the command imports as it runs (typer's parameter machinery, the card, negotiation
    # and transport code) and the first card fetch, ~0.3 s that are no per-event cost.
    stdout = sys.stdout
    with open(os.devnull, "w") as devnull:
        sys.stdout = devnull
        sys.argv = ["a2actl", "stream", "tail", url, "--send", "0", "-o", "jsonl"]
        try:
            app.main()
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise SystemExit(f"a2actl's warm-up run exited {exc.code}") from None
        finally:
            sys.stdout = stdout

    def run(text: str) -> tuple[object, float, float]:
        sys.argv = ["a2actl", "stream", "tail", url, "--send", text, "-o", "jsonl"]
        t0, c0 = time.perf_counter(), time.process_time()
        code: object = 0
        try:
            app.main()
        except SystemExit as exc:
            code = exc.code
        return code, time.perf_counter() - t0, time.process_time() - c0

    with open(os.devnull, "w") as devnull:  # the fixed cost: the same command over two events
        sys.stdout = devnull
        try:
            _, fixed, fixed_cpu = run("0")
        finally:
            sys.stdout = stdout
    code, seconds, cpu = run("x")
    sys.stderr.write(
        json.dumps({"seconds": seconds - fixed, "cpu": cpu - fixed_cpu, "fixed": fixed, "exit": code}) + "\n"
    )


# ------------------------------------------------------------------------------------------ driver
def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run(cmd: list[str], stdout: str, sample_rss: bool = False) -> tuple[float, str, list[int]]:
    """Run ``cmd`` with stdout to the file ``stdout``; returns (wall seconds, stderr, RSS samples)."""
    t0 = time.perf_counter()
    with open(stdout, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
        samples: list[int] = []
        if sample_rss:
            while proc.poll() is None:
                r = rss_kib(proc.pid)
                if r:
                    samples.append(r)
                time.sleep(0.25)
        _, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} failed ({proc.returncode}): {err.decode()[-800:]}")
    return wall, err.decode(), samples


def last_line(path: str) -> dict:
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - 65536))
        return json.loads(f.read().splitlines()[-1])


def first_event_keys(path: str) -> list[str]:
    with open(path, "rb") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("type") == "event":
                return list(rec)
    return []


def count_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def curl_rate(url: str, n: int) -> float:
    """The server's ceiling: events/s curl reads the same stream at (to /dev/null)."""
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{time_total}",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "--data",
            json.dumps(REQUEST),
            f"{url}/rpc?n={n}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return (n + 2) / float(out.stdout)


def instructions_per_event(cmd: list[str], small_url: str, big_url: str, events: int) -> float:
    """CPU instructions per event of a client (valgrind's callgrind, user space only, so not the
    write system calls): the difference between a run over ``big_url`` and one over ``small_url``,
    whose streams differ by ``events`` events, so start-up and imports cancel out. Deterministic: the
    figure to compare on a machine whose CPU time moves with other people's load."""

    def count(url: str) -> int:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd, url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
        )
        return int(out.stderr.split("Collected : ")[1].split()[0])

    return (count(big_url) - count(small_url)) / events


def client_figures(err: str) -> dict:
    """The last JSON line a client wrote on stderr (its timing)."""
    return json.loads(err.strip().splitlines()[-1])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    n_rss = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    port = int(os.environ.get("BENCH_PORT", "19200"))
    py = sys.executable
    subprocess.run([py, "-m", "compileall", "-q", os.path.join(ROOT, "a2actl")], check=False)
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([py, HERE, "--serve", str(port)], env=dict(os.environ, BENCH_EVENTS=str(n)))
    events = n + 2
    clients = {
        "bare": [py, HERE, "--bare", url],
        "bare+jsonl": [py, HERE, "--bare-jsonl", url],
        "buffered": [py, HERE, "--bare-jsonl-buffered", url],
        "a2actl": [py, HERE, "--a2actl", url],
    }
    rates: dict[str, list[float]] = {"server": [], "bare": [], "bare+jsonl": [], "buffered": [], "a2actl": []}
    cpu: dict[str, list[float]] = {"bare": [], "bare+jsonl": [], "buffered": [], "a2actl": []}
    walls: dict[str, list[float]] = {"bare+jsonl": [], "a2actl": []}
    try:
        wait_port(port)
        # apples to apples: both write one record per event, with the same keys (a2actl adds its summary)
        scratch = tempfile.mkdtemp(
            prefix="a2actl-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
        )
        bare_out, tail_out = os.path.join(scratch, "bare.jsonl"), os.path.join(scratch, "tail.jsonl")
        run(clients["bare+jsonl"], bare_out)
        run(clients["a2actl"], tail_out)
        summary = last_line(tail_out)
        lines_bare, lines_tail = count_lines(bare_out), count_lines(tail_out)
        keys_bare, keys_tail = first_event_keys(bare_out), first_event_keys(tail_out)
        size = os.path.getsize(tail_out)
        for f in (bare_out, tail_out):
            os.unlink(f)
        os.rmdir(scratch)
        if summary.get("events") != events or summary.get("exitCode") != 0:
            raise SystemExit(f"a2actl's summary is not a clean run of {events} events: {summary}")
        if lines_bare != events or lines_tail != events + 1 or keys_bare != keys_tail:
            raise SystemExit(
                f"the loop and a2actl wrote different records: {lines_bare} vs {lines_tail} lines, "
                f"keys {keys_bare} vs {keys_tail}"
            )
        print(
            f"{events:,} events per run, {rounds} interleaved rounds, JSONL to /dev/null; checked first: both "
            f"write one line per event with the same {len(keys_tail)} keys ({size / events:.0f} bytes a line)"
        )
        print("events/s = events / the client's stream time (after imports); cpu = client CPU µs per event")
        print(
            f"{'round':>5} {'server(curl)':>13} {'bare decode':>12} {'bare+JSONL':>11} {'buffered':>9} {'a2actl':>9}"
            f" {'ratio':>6}   {'cpu bare+JSONL':>14} {'cpu buffered':>12} {'cpu a2actl':>10}"
        )
        for r in range(rounds):
            rates["server"].append(curl_rate(url, n))
            order = ["bare", "bare+jsonl", "buffered", "a2actl"]
            if r % 2:
                order.reverse()
            for who in order:
                wall, err, _ = run(clients[who], os.devnull)
                got = client_figures(err)
                if who == "a2actl" and got["exit"] not in (0, None):
                    raise SystemExit(f"a2actl exited {got['exit']}: {err[-800:]}")
                rates[who].append(events / got["seconds"])
                cpu[who].append(got["cpu"] / events * 1e6)
                if who in walls:
                    walls[who].append(wall)
            print(
                f"{r + 1:>5} {rates['server'][-1]:>13,.0f} {rates['bare'][-1]:>12,.0f} {rates['bare+jsonl'][-1]:>11,.0f} "
                f"{rates['buffered'][-1]:>9,.0f} {rates['a2actl'][-1]:>9,.0f} "
                f"{rates['a2actl'][-1] / rates['bare+jsonl'][-1]:>5.2f}x"
                f"   {cpu['bare+jsonl'][-1]:>11.2f} µs {cpu['buffered'][-1]:>9.2f} µs {cpu['a2actl'][-1]:>7.2f} µs"
            )
        med = {k: statistics.median(v) for k, v in rates.items()}
        ratios = [a / b for a, b in zip(rates["a2actl"], rates["bare+jsonl"], strict=True)]
        cpu_ratios = [b / a for a, b in zip(cpu["a2actl"], cpu["bare+jsonl"], strict=True)]
        strict = [a / b for a, b in zip(rates["a2actl"], rates["buffered"], strict=True)]
        strict_cpu = [b / a for a, b in zip(cpu["a2actl"], cpu["buffered"], strict=True)]
        print(
            f"median server (curl to /dev/null)  : {med['server']:>10,.0f} events/s  (the server's ceiling)"
        )
        print(
            f"median bare httpx-sse + orjson      : {med['bare']:>10,.0f} events/s  (decode only, no output; "
            f"{statistics.median(cpu['bare']):.2f} µs CPU/event)"
        )
        print(
            f"median bare loop + JSONL (orjson)   : {med['bare+jsonl']:>10,.0f} events/s  "
            f"({statistics.median(cpu['bare+jsonl']):.2f} µs CPU/event; process wall "
            f"{statistics.median(walls['bare+jsonl']):.2f} s)"
        )
        print(
            f"median a2actl stream tail -o jsonl  : {med['a2actl']:>10,.0f} events/s  "
            f"({statistics.median(cpu['a2actl']):.2f} µs CPU/event; process wall "
            f"{statistics.median(walls['a2actl']):.2f} s, {events / statistics.median(walls['a2actl']):,.0f} "
            "events/s with start-up)"
        )
        print(
            f"ratio a2actl / bare+JSONL           : median {statistics.median(ratios):.2f}x, "
            f"range {min(ratios):.2f}-{max(ratios):.2f}x  (target >= 0.8x); by CPU per event "
            f"{statistics.median(cpu_ratios):.2f}x"
        )
        print(
            f"ratio a2actl / bare+JSONL buffered  : median {statistics.median(strict):.2f}x, "
            f"range {min(strict):.2f}-{max(strict):.2f}x  (the loop never flushing: "
            f"{med['buffered']:,.0f} events/s); by CPU per event {statistics.median(strict_cpu):.2f}x"
        )
        print(
            f"a2actl absolute                     : {med['a2actl'] / 1000:.0f}k events/s = "
            f"{med['a2actl'] / 100_000:.2f}x the 100k target  (range {min(rates['a2actl']) / 1000:.0f}k-"
            f"{max(rates['a2actl']) / 1000:.0f}k)"
        )
    finally:
        server.terminate()
        server.wait()

    if os.environ.get("BENCH_INSTRUCTIONS") and shutil.which("valgrind"):
        small, big = 5_000, 25_000
        servers = [
            subprocess.Popen([py, HERE, "--serve", str(port + k)], env=dict(os.environ, BENCH_EVENTS=str(n)))
            for k, n in ((2, small), (3, big))
        ]
        try:
            wait_port(port + 2)
            wait_port(port + 3)
            urls = (f"http://127.0.0.1:{port + 2}", f"http://127.0.0.1:{port + 3}")
            ir = {
                who: instructions_per_event([py, HERE, flag], *urls, big - small)
                for who, flag in (("bare+jsonl", "--bare-jsonl"), ("a2actl", "--a2actl"))
            }
            print(
                f"instructions per event (callgrind, user space): bare loop + JSONL {ir['bare+jsonl']:,.0f}, "
                f"a2actl {ir['a2actl']:,.0f}; ratio {ir['bare+jsonl'] / ir['a2actl']:.2f}x"
            )
        finally:
            for server in servers:
                server.terminate()
                server.wait()

    if n_rss <= 0:
        return
    port += 1
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([py, HERE, "--serve", str(port)], env=dict(os.environ, BENCH_EVENTS=str(n_rss)))
    try:
        wait_port(port)
        tail_cmd = [py, "-m", "a2actl", "stream", "tail", url, "--send", "x", "-o", "jsonl"]
        elapsed, _, samples = run(tail_cmd, os.devnull, sample_rss=True)
        if len(samples) >= 4:
            q = len(samples) // 4
            print(
                f"RSS over {n_rss + 2:,} events ({elapsed:.1f} s, python -m a2actl, JSONL to /dev/null): at 25% "
                f"{samples[q] / 1024:.1f} MiB, 50% {samples[2 * q] / 1024:.1f} MiB, 75% {samples[3 * q] / 1024:.1f} MiB, "
                f"end {samples[-1] / 1024:.1f} MiB; growth from 25% to end "
                f"{(samples[-1] - samples[q]) / 1024:+.1f} MiB (flat = within a few MiB)"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--a2actl":
        a2actl_runner(sys.argv[2])
    elif len(sys.argv) > 2 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) > 2 and sys.argv[1] == "--bare":
        bare(sys.argv[2], write_jsonl=False)
    elif len(sys.argv) > 2 and sys.argv[1] == "--bare-jsonl":
        bare(sys.argv[2], write_jsonl=True)
    elif len(sys.argv) > 2 and sys.argv[1] == "--bare-jsonl-buffered":
        bare(sys.argv[2], write_jsonl=True, flush=False)
    else:
        main()
