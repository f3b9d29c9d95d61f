"""RabbitMQ DLQ benchmark: `a2actl dlq replay --max-in-flight 64` from a RabbitMQ dead-letter queue
into the fast loopback sink, next to the same replay from a file (the baseline, same entries, same
sink, interleaved round by round in one run), and a2actl's peak RSS while listing a large queue
(`dlq list -o jsonl`: must stay flat, the messages are held by the broker, not the client).

    python bench/dlq_amqp.py [REPLAY_N] [LIST_N] [--rounds R] [--broker-port PORT]

Without ``--broker-port`` it starts its own rabbitmq-server (Debian package) on free loopback ports
in a temp dir (~10 s) and stops it at the end. The queue is filled by publishing a2actl entries
straight into it (no x-death: the read path is the same). Replay's rate is its own summary's
(replayed / duration: journal, fsyncs and acks included).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dlq_replay import entries, fill_file, peak_rss, replay_rate  # noqa: E402
from loopback import free_port, wait_port  # noqa: E402

HERE = os.path.abspath(__file__)


def start_broker(d: str) -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
    exe = "/usr/lib/rabbitmq/bin/rabbitmq-server"
    if not os.path.exists(exe):
        exe = shutil.which("rabbitmq-server") or ""
    if not exe:
        raise SystemExit("rabbitmq-server is not installed (apt-get install -y rabbitmq-server)")
    port = free_port()
    with open(os.path.join(d, "rabbitmq.conf"), "w") as f:
        f.write(f"listeners.tcp.default = 127.0.0.1:{port}\nloopback_users = none\n")
    with open(os.path.join(d, "enabled_plugins"), "w") as f:
        f.write("[].\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": d,
        "RABBITMQ_NODENAME": f"bench{uuid.uuid4().hex[:6]}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(free_port()),
        "ERL_EPMD_PORT": str(free_port()),
        "RABBITMQ_MNESIA_BASE": os.path.join(d, "mnesia"),
        "RABBITMQ_LOG_BASE": os.path.join(d, "log"),
        "RABBITMQ_CONFIG_FILE": os.path.join(d, "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(d, "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(d, "enabled_plugins"),
        "RABBITMQ_CONF_ENV_FILE": os.path.join(d, "rabbitmq-env.conf"),
    }
    proc = subprocess.Popen(
        [exe], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    wait_port(port, timeout=60)
    return proc, port, env


def stop_broker(proc: subprocess.Popen[bytes], env: dict[str, str]) -> None:
    """The node's process group, then its epmd (which daemonizes out of the group)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    subprocess.run(
        [shutil.which("epmd") or "/usr/bin/epmd", "-port", env["ERL_EPMD_PORT"], "-kill"],
        env=env,
        capture_output=True,
        check=False,
    )


async def _fill(port: int, queue: str, n: int, target: str) -> None:
    import aio_pika

    conn = await aio_pika.connect(f"amqp://guest:guest@127.0.0.1:{port}/")
    async with conn:
        ch = await conn.channel(publisher_confirms=False)
        await ch.declare_queue(queue, durable=True)
        for e in entries(n, target):
            await ch.default_exchange.publish(
                aio_pika.Message(json.dumps(e, separators=(",", ":")).encode(), message_id=e["id"]),
                routing_key=queue,
            )
        deadline = time.monotonic() + 60
        while True:
            q = await ch.declare_queue(queue, passive=True)
            if q.declaration_result.message_count >= n or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.1)


def main() -> None:
    argv = sys.argv[1:]
    rounds, broker_port = 3, None
    if "--rounds" in argv:
        i = argv.index("--rounds")
        rounds = int(argv[i + 1])
        del argv[i : i + 2]
    if "--broker-port" in argv:
        i = argv.index("--broker-port")
        broker_port = int(argv[i + 1])
        del argv[i : i + 2]
    n = int(argv[0]) if argv else 5000
    n_list = int(argv[1]) if len(argv) > 1 else 100_000
    py = sys.executable
    d = tempfile.mkdtemp(prefix="a2actl-bench-amqp-")
    broker = None
    broker_env: dict[str, str] = {}
    if broker_port is None:
        broker, broker_port, broker_env = start_broker(d)
    os.environ["A2ACTL_AMQP_PASSWORD"] = "guest"
    os.environ["XDG_STATE_HOME"] = d
    port = free_port()
    sink_proc = subprocess.Popen(
        [py, os.path.join(os.path.dirname(HERE), "dlq_replay.py"), "--sink", str(port)]
    )
    try:
        wait_port(port)
        target = f"http://127.0.0.1:{port}/rpc"
        print(f"replay {n:,} entries, 64 in flight, {rounds} rounds (msgs/s, replay summary's rate)")
        file_rates, amqp_rates = [], []
        for r in range(rounds):
            path = os.path.join(d, f"dlq-{r}.jsonl")
            fill_file(path, n, target)
            rate, acked, cpu = replay_rate(f"file://{path}", os.path.join(d, f"jf-{r}"))
            assert acked == n, acked
            file_rates.append(rate)
            queue = f"bench-{r}-{uuid.uuid4().hex[:6]}"
            asyncio.run(_fill(broker_port, queue, n, target))
            src = f"amqp://guest@127.0.0.1:{broker_port}/%2F?queue={queue}"
            rate2, acked2, cpu2 = replay_rate(src, os.path.join(d, f"ja-{r}"))
            assert acked2 == n, acked2
            amqp_rates.append(rate2)
            print(
                f"  round {r + 1}: file {rate:8.0f}/s (cpu {cpu / n * 1e3:.2f} ms/msg)   "
                f"rabbitmq {rate2:8.0f}/s (cpu {cpu2 / n * 1e3:.2f} ms/msg)   ratio {rate2 / rate:.2f}x"
            )
        fm, am = statistics.median(file_rates), statistics.median(amqp_rates)
        print(f"median: file {fm:.0f}/s, rabbitmq {am:.0f}/s, rabbitmq/file {am / fm:.2f}x")
        queue = f"bench-list-{uuid.uuid4().hex[:6]}"
        t0 = time.perf_counter()
        asyncio.run(_fill(broker_port, queue, n_list, target))
        print(f"filled {n_list:,} messages in {time.perf_counter() - t0:.1f}s")
        src = f"amqp://guest@127.0.0.1:{broker_port}/%2F?queue={queue}"
        secs, peak, samples = peak_rss([py, "-m", "a2actl", "dlq", "list", src, "-o", "jsonl"])
        q = len(samples) // 4 or 1
        print(
            f"dlq list -o jsonl, {n_list:,} messages: {secs:.1f}s ({n_list / secs:,.0f} msgs/s), peak RSS "
            f"{peak:.0f} MiB; RSS over the run (quartile means): "
            + ", ".join(f"{statistics.mean(samples[i : i + q]):.0f}" for i in range(0, len(samples), q))
        )
        secs, peak, _ = peak_rss([py, "-m", "a2actl", "dlq", "stats", src, "-o", "json"])
        print(f"dlq stats, {n_list:,} messages: {secs:.1f}s, peak RSS {peak:.0f} MiB")
    finally:
        sink_proc.terminate()
        sink_proc.wait()
        if broker is not None:
            stop_broker(broker, broker_env)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
