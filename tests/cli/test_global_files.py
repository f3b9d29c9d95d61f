"""The global ``--token-file``, ``--cacert``, ``--cert``/``--key`` naming a FIFO (``<(vault read …)``,
a named pipe): read once, under the command's deadline, in a subprocess (a FIFO nobody writes must
hang the child, never the test process)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TOKEN
from tests.fifo import run_a2actl


@pytest.mark.parametrize(
    "options",
    [("--token-file", "FIFO"), ("--cacert", "FIFO"), ("--cert", "FIFO", "--key", "FIFO2")],
    ids=["token-file", "cacert", "cert-key"],
)
def test_max_time_bounds_a_global_file_that_never_arrives(
    sandbox: Any, tmp_path: Path, options: tuple[str, ...]
) -> None:
    """Read before the command ran, these blocked in open() before any --max-time (only Ctrl-C
    ended them). Now --max-time counts the wait: exit 5, naming the option."""
    fifos = {name: tmp_path / f"{name}.fifo" for name in ("FIFO", "FIFO2")}
    for f in fifos.values():
        os.mkfifo(f)
    argv = [str(fifos[a]) if a in fifos else a for a in options]
    ran = run_a2actl("--max-time", "1.5s", "-o", "json", *argv, "card", "get", sandbox.url)
    assert ran.code == 5, (ran.out[-500:], ran.err[-500:])
    message = json.loads(ran.out)["error"]["message"]
    assert message.startswith("gave up after --max-time 1.5s") and options[0] in message
    assert ran.elapsed < 10, ran.elapsed


def test_the_default_deadline_bounds_it_too(sandbox: Any, tmp_path: Path) -> None:
    """Without --max-time, the command's own default (docs/exit-codes.md) counts the wait: one
    SIGTERM ends it meanwhile (exit 130)."""
    fifo = tmp_path / "token.fifo"
    os.mkfifo(fifo)
    ran = run_a2actl("--token-file", str(fifo), "card", "get", sandbox.url, term_after=1.5, timeout=8)
    assert ran.code == 130, (ran.code, ran.err[-500:])


def test_a_token_from_a_fifo_is_sent(sandbox_auth: Any, tmp_path: Path) -> None:
    """--token-file <(vault read …): the token arrives, is sent, and is never printed."""
    fifo = tmp_path / "token.fifo"
    os.mkfifo(fifo)
    ran = run_a2actl(
        "-o", "json", "-vv", "--token-file", str(fifo), "send", sandbox_auth.url, "hi",
        feed=(str(fifo), f"Bearer {TOKEN}\n".encode()),
    )  # fmt: skip
    assert ran.code == 0, ran.err[-800:]
    assert TOKEN not in ran.out and TOKEN not in ran.err
    assert json.loads(ran.out)["result"]["state"] == "completed"


def test_a_cacert_from_a_fifo_verifies_the_agent(tls_server: tuple[str, str], tmp_path: Path) -> None:
    """--cacert <(cat ca.pem): read once (ssl could not read the FIFO again for the https pool)."""
    url, ca_path = tls_server
    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    ran = run_a2actl(
        "-o", "json", "--cacert", str(fifo), "send", url, "hi", feed=(str(fifo), Path(ca_path).read_bytes())
    )  # fmt: skip
    assert ran.code == 0, ran.err[-800:]


def test_a_fifo_that_is_not_a_token_is_a_usage_error(sandbox: Any, tmp_path: Path) -> None:
    """An empty FIFO (the writer closed at once) is the same usage error as an empty file."""
    fifo = tmp_path / "token.fifo"
    os.mkfifo(fifo)
    ran = run_a2actl(
        "-o", "json", "--token-file", str(fifo), "card", "get", sandbox.url, feed=(str(fifo), b"")
    )
    assert ran.code == 2, ran.err[-500:]
    assert json.loads(ran.out)["error"]["message"] == f"--token-file {fifo} is empty"


def test_the_wait_for_a_global_file_counts_against_max_time(tmp_path: Path) -> None:
    """A --token-file FIFO that delivers after 2 s of --max-time 3s leaves the command 1 s: an agent
    that takes 2 s is then a timeout (exit 5) at about 3 s. The command got a whole new --max-time
    after the read: it succeeded at about 4 s."""
    from a2actl.server.sandbox.options import SandboxOptions, ServiceTime
    from a2actl.server.sandbox.server import RunningSandbox

    sb = RunningSandbox(SandboxOptions(service_time=ServiceTime.parse("2s"))).start()
    try:
        fifo = tmp_path / "token.fifo"
        os.mkfifo(fifo)
        ran = run_a2actl(
            "--max-time", "3s", "-o", "json", "--token-file", str(fifo), "send", sb.url, "hi",
            feed=(str(fifo), b"some-token-value\n"), feed_after=2.0,
        )  # fmt: skip
    finally:
        sb.stop()
    assert ran.code == 5, (ran.code, ran.out[-500:], ran.err[-500:])
    assert json.loads(ran.out)["error"]["message"].startswith("gave up after --max-time 3s")
    assert ran.elapsed < 3.9, ran.elapsed


def test_one_fifo_named_by_cert_and_key_is_read_once(tmp_path: Path) -> None:
    """--cert P --key P, one PEM holding both, from a FIFO: it was opened by two readers at once, so
    one of them could get the bytes and the other an empty file. Read once, both get the PEM: the
    certificate loads (the TLS agent is not needed: 'send --dry-run' builds the client)."""
    import trustme

    client = trustme.CA().issue_cert("client.example")
    both = client.private_key_and_cert_chain_pem.bytes()
    fifo = tmp_path / "both.fifo"
    os.mkfifo(fifo)
    ran = run_a2actl(
        "--max-time", "5s", "--cert", str(fifo), "--key", str(fifo), "card", "get", "https://127.0.0.1:9/",
        feed=(str(fifo), both),
    )  # fmt: skip
    assert "cannot" not in ran.err and "PEM" not in ran.err, ran.err[-800:]
    assert ran.code == 3, (ran.code, ran.err[-800:])  # loaded, then the connection is refused
