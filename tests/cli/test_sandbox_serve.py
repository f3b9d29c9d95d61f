"""``a2actl sandbox serve`` through the real CLI: start-up failures, a port that is taken (the
message names which one, HTTP ``--port`` or ``--grpc-port``), a host that is not this machine's,
and a bad duration (the message names the flag), each failing before anything serves; and SIGTERM
with requests in flight (exit 130, no traceback)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.procs import first_document


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket listens on for the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_http_port_in_use_names_the_http_port(cli: Any, taken_port: int) -> None:
    r = cli("-o", "json", "sandbox", "serve", "--port", str(taken_port), "--no-grpc")
    assert r.exit_code == 2
    err = r.json["error"]
    assert err["message"] == f"cannot listen on 127.0.0.1:{taken_port} (HTTP, --port): Address already in use"
    assert err["hint"] == "pick other ports, or 0 for free ones (--port 0, --grpc-port 0)"


def test_grpc_port_in_use_names_the_grpc_port(cli: Any, taken_port: int) -> None:
    """It said ``cannot listen on 127.0.0.1:0 or gRPC port N``: the HTTP side was fine."""
    pytest.importorskip("grpc")
    r = cli("-o", "json", "sandbox", "serve", "--port", "0", "--grpc-port", str(taken_port))
    assert r.exit_code == 2
    assert r.json["error"]["message"] == (
        f"cannot listen on 127.0.0.1:{taken_port} (gRPC, --grpc-port): Address already in use"
    )


def test_a_host_not_of_this_machine_hints_at_host_not_ports(cli: Any) -> None:
    r = cli("-o", "json", "sandbox", "serve", "--host", "192.0.2.1", "--port", "0", "--no-grpc")
    assert r.exit_code == 2
    err = r.json["error"]
    assert err["message"].startswith("cannot listen on 192.0.2.1:0 (HTTP, --port): ")
    assert err["hint"] == "--host must be an address of this machine, e.g. 127.0.0.1, ::1 or 0.0.0.0"


@pytest.mark.parametrize(
    "flag",
    [
        "--handshake-delay",
        "--rpc-delay",
        "--stream-interval",
        "--stall",
        "--ws-ping-interval",
        "--max-session-age",
        "--blocking-handshake",
        "--sse-heartbeat",
    ],
)
def test_a_bad_duration_names_its_flag(cli: Any, flag: str) -> None:
    r = cli("-o", "json", "sandbox", "serve", "--port", "0", "--no-grpc", flag, "soon")
    assert r.exit_code == 2
    assert r.json["error"]["message"] == f"{flag}: not a duration: 'soon' (examples: 5s, 250ms, 1.5, 2m)"


def _card_urls(card: dict[str, Any]) -> list[str]:
    return [i["url"] for i in card["supportedInterfaces"]]


def test_a_wildcard_host_names_the_host_each_client_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--host 0.0.0.0`` (or ``::``) put ``http://0.0.0.0:PORT`` on the card, a URL no client
    elsewhere can call. A fixed name (this machine's host name) would break the usual container
    case (``-p 9999:9999``: the host calls ``localhost:9999``, which the container id is not), so
    each card answer names the host the client asked for (its ``Host`` header); a malformed one
    leaves the machine's host name. The URL handed back (``RunningSandbox.url``, the CLI's stdout)
    is the loopback one. Nothing listens on every interface here: ``bind_socket`` is pointed at
    loopback, the rest of the sandbox sees the wildcard host."""
    import httpx

    from a2actl.server.sandbox import server
    from a2actl.server.sandbox.options import SandboxOptions

    real_bind = server.bind_socket
    monkeypatch.setattr(server, "bind_socket", lambda host, port: real_bind("127.0.0.1", port))
    name = socket.gethostname()
    with server.RunningSandbox(SandboxOptions(host="0.0.0.0")) as sandbox:
        port = sandbox.sock.getsockname()[1]
        assert sandbox.url == f"http://127.0.0.1:{port}"
        card_url = sandbox.url + "/.well-known/agent-card.json"
        asked = httpx.get(card_url).json()
        mapped = httpx.get(card_url, headers={"Host": "agent.internal:9999"}).json()
        hostile = httpx.get(card_url, headers={"Host": 'evil"}, "x": "'}).json()
        assert server.card_base_url(sandbox.sock, SandboxOptions(host="::")) == f"http://{name}:{port}"

    def authorities(card: dict[str, Any]) -> set[str]:
        return {u.split("://", 1)[1].split("/", 1)[0] for u in _card_urls(card)}

    assert authorities(asked) == {f"127.0.0.1:{port}"}
    assert authorities(mapped) == {"agent.internal:9999"}
    assert authorities(hostile) == {f"{name}:{port}"}


def test_public_url_is_the_base_of_every_interface_on_the_card() -> None:
    """``--public-url`` (a sandbox behind a proxy or a container's port mapping): the card's
    interfaces start with it, the listening URL is still printed on stdout (``-o json``: ``url``)
    and stderr says what the card advertises. gRPC, when on, is declared on the public host."""
    import signal
    import subprocess
    import sys

    import httpx

    public = "https://agent.example:8443/base"
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "-o", "json", "sandbox", "serve", "--port", "0", "--no-grpc",
         "--public-url", public + "/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        doc = first_document(proc)
        assert doc["url"].startswith("http://127.0.0.1:")
        card = httpx.get(doc["cardUrl"]).json()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    urls = [u.replace("wss://", "https://", 1) for u in _card_urls(card)]  # the WebSocket channel
    assert urls and all(u.startswith(public + "/a2a/") for u in urls), urls
    assert "Traceback" not in err
    assert f"the card advertises {public}" in err.splitlines()


def test_grpc_is_declared_on_the_advertised_host_and_bound_on_the_listening_one() -> None:
    from a2actl.server.sandbox.grpc import GrpcSide
    from a2actl.server.sandbox.options import SandboxOptions

    side = GrpcSide(SandboxOptions(), "0.0.0.0", 50051, "agent.example")
    assert (side.bind_target, side.url) == ("0.0.0.0:50051", "agent.example:50051")
    assert GrpcSide(SandboxOptions(), "127.0.0.1", 1).url == "127.0.0.1:1"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://agent.example", "--public-url 'ftp://agent.example': use http[s]://host[:port][/path]"),
        ("agent.example:9999", "--public-url 'agent.example:9999': use http[s]://host[:port][/path]"),
        ("http://agent.example/?a=1", "--public-url 'http://agent.example/?a=1': no query or fragment (it is a base URL)"),
        ("http://agent.example:port", "--public-url 'http://agent.example:port': Port could not be cast to integer value as 'port'"),
        ("http://bob:s3cret@agent.example", "--public-url: credentials in the URL would be published on the card"),
        ("http://a b:80", "--public-url 'http://a b:80': a URL has no blanks or control characters"),
        # an empty query or fragment passed: the card advertised https://agent.example/x/?/a2a/jsonrpc
        ("https://agent.example/x/?", "--public-url 'https://agent.example/x/?': no query or fragment (it is a base URL)"),
        ("http://agent.example#", "--public-url 'http://agent.example#': no query or fragment (it is a base URL)"),
        ("http://agent.example:0", "--public-url 'http://agent.example:0': port 0 is no port a client can call"),
    ],
)  # fmt: skip
def test_a_bad_public_url_is_refused_before_anything_serves(
    cli: Any, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    def served(*_: Any, **__: Any) -> None:
        raise AssertionError(f"it served with --public-url {value!r}")  # not for ever, in the test

    monkeypatch.setattr("a2actl.server.sandbox.server.serve", served)
    r = cli("-o", "json", "sandbox", "serve", "--port", "0", "--no-grpc", "--public-url", value)
    assert r.exit_code == 2
    assert r.json["error"]["message"] == message
    assert "s3cret" not in r.stdout + r.stderr


def _serving(*args: str) -> tuple[Any, str]:
    """``a2actl -o json sandbox serve --port 0 --no-grpc ARGS`` started: ``(proc, base URL)``."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "-o", "json", "sandbox", "serve", "--port", "0", "--no-grpc", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, first_document(proc)["url"]


def _in_thread(call: Any) -> Any:
    """Run ``call()`` in a daemon thread; returns a queue that gets its result or its exception."""
    import queue
    import threading

    got: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        try:
            got.put(call())
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            got.put(exc)

    threading.Thread(target=run, daemon=True).start()
    return got


_SEND = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "SendMessage",
    "params": {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "hi"}]}},
}


def test_sigterm_with_a_request_in_its_delay_answers_503_and_exits_130() -> None:
    """uvicorn cancels the requests still running 1 s after SIGTERM: one in its ``--rpc-delay``
    printed 'Exception in ASGI application' with a CancelledError traceback, and got a 500."""
    import signal
    import time

    import httpx

    from tests.procs import finish

    proc, url = _serving("--rpc-delay", "30s")
    try:
        answer = _in_thread(
            lambda: httpx.post(url + "/a2a/jsonrpc", json=_SEND, headers={"A2A-Version": "1.0"}, timeout=20)
        )
        time.sleep(0.5)  # the request is in its delay
        proc.send_signal(signal.SIGTERM)
        _, err = finish(proc, 20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    response = answer.get(timeout=20)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Exception in ASGI application" not in err, err
    assert isinstance(response, httpx.Response), response
    assert (response.status_code, response.text) == (503, "the sandbox is shutting down\n")


def test_sigterm_during_a_blocking_handshake_stops_it() -> None:
    """``--blocking-handshake 1h`` slept an hour in one ``time.sleep``: SIGTERM (and Ctrl-C) ran
    their handler and the sleep went on, so the sandbox could only be killed."""
    import signal
    import time

    import httpx

    from tests.procs import finish

    proc, url = _serving("--blocking-handshake", "1h")
    try:
        answer = _in_thread(lambda: httpx.get(url + "/.well-known/agent-card.json", timeout=30))
        time.sleep(0.5)  # the card request blocks the loop
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = finish(proc, 20)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert took < 10, took
    assert "Traceback" not in err, err
    response = answer.get(timeout=20)
    assert isinstance(response, httpx.Response) and response.status_code == 200, response


def test_a_blocking_handshake_past_what_time_sleep_takes_still_serves_the_card() -> None:
    """``--blocking-handshake 99999999999`` (about 3,000 years, past ``time.sleep``'s 9.2e9 s):
    every card request was an OverflowError traceback and a 500. It blocks until the sandbox stops."""
    import time

    import httpx

    from a2actl.server.sandbox.options import SandboxOptions
    from a2actl.server.sandbox.server import RunningSandbox

    sandbox = RunningSandbox(SandboxOptions(blocking_handshake=99999999999.0)).start()
    try:
        answer = _in_thread(lambda: httpx.get(sandbox.url + "/.well-known/agent-card.json", timeout=20))
        time.sleep(0.5)
    finally:
        sandbox.stop()
    response = answer.get(timeout=20)
    assert isinstance(response, httpx.Response) and response.status_code == 200, response


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
def test_an_ipv6_host_in_brackets_is_the_address() -> None:
    """``--host [::1]``, the way URLs write it, was taken for a host name: "cannot listen on
    [[::1]]:9999 (HTTP, --port): Name or service not known", exit 2."""
    import signal

    import httpx

    from tests.procs import finish

    proc, url = _serving("--host", "[::1]")
    try:
        card = httpx.get(url + "/.well-known/agent-card.json", timeout=10).json()
        proc.send_signal(signal.SIGINT)
        _, err = finish(proc, 20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert url.startswith("http://[::1]:"), url
    assert proc.returncode == 130, err
    http_urls = [u for u in _card_urls(card) if u.startswith("http")]
    assert http_urls and all(u.startswith(url + "/a2a/") for u in http_urls), http_urls


def test_a_host_with_a_port_says_the_port_goes_in_port(cli: Any) -> None:
    """It said "cannot listen on [127.0.0.1:8080]:0 (HTTP, --port): Name or service not known"."""
    r = cli("-o", "json", "sandbox", "serve", "--host", "127.0.0.1:8080", "--port", "0", "--no-grpc")
    assert r.exit_code == 2
    err = r.json["error"]
    assert err["message"] == "--host '127.0.0.1:8080': not an address (an IPv6 one is ::1 or [::1])"
    assert err["hint"] == "the port goes in --port: --host 127.0.0.1 --port 8080"


def test_a_blank_host_is_refused_before_anything_listens(cli: Any, taken_port: int) -> None:
    """``--host ""`` (``--host "$HOST"``, ``HOST`` unset) listened on every interface, the open
    debug API with it, while stdout printed a loopback URL. (The port is taken on 127.0.0.1, so a
    sandbox that tried to listen on every interface fails on it instead of serving for ever.)"""
    r = cli("-o", "json", "sandbox", "serve", "--host", "", "--port", str(taken_port), "--no-grpc")
    assert r.exit_code == 2
    err = r.json["error"]
    assert (
        err["message"] == "--host '': an empty address (an unset variable?) would listen on every interface"
    )
    assert len(r.stderr.splitlines()) == 1  # the message and its hint, one line


def test_sigterm_during_a_blocking_handshake_over_grpc_stops_it() -> None:
    """The gRPC side blocks the loop on a connection's first RPC (``--blocking-handshake``) the same
    way, in one ``time.sleep`` that SIGTERM did not end."""
    pytest.importorskip("grpc")
    import signal
    import subprocess
    import sys
    import time

    import grpc
    from a2a.types import a2a_pb2, a2a_pb2_grpc

    from tests.procs import finish

    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "-o", "json", "sandbox", "serve", "--port", "0", "--blocking-handshake", "1h"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        target = first_document(proc)["grpcUrl"]

        def get_task() -> Any:
            with grpc.insecure_channel(target) as channel:
                stub = a2a_pb2_grpc.A2AServiceStub(channel)
                return stub.GetTask(a2a_pb2.GetTaskRequest(id="no-such-task"), timeout=30)

        answer = _in_thread(get_task)
        time.sleep(1.0)  # the first RPC blocks the loop
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = finish(proc, 20)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert took < 10, took
    assert "Traceback" not in err, err
    got = answer.get(timeout=30)
    assert isinstance(got, grpc.RpcError) and got.code() == grpc.StatusCode.NOT_FOUND, got


@pytest.mark.parametrize(
    "dlq", ["sqs://us-east-1/orders-dlq", "https://sqs.us-east-1.amazonaws.com/123456789012/dlq"]
)
def test_an_sqs_dlq_is_refused_saying_why(cli: Any, dlq: str) -> None:
    """It said "unknown DLQ source 'sqs://…'", its hint naming sqs://REGION/QUEUE_NAME as a source
    (the queue URL: "the HTTP DLQ is read/replay only")."""
    r = cli("-o", "json", "sandbox", "serve", "--port", "0", "--no-grpc", "--dlq", dlq)
    assert r.exit_code == 2
    assert r.json["error"]["message"] == (
        "the sandbox cannot dead-letter into SQS (SQS moves dead letters itself, by the source queue's "
        "redrive policy); dead-letter into file://PATH.jsonl, redis://…?stream=KEY or amqp://…?queue=NAME"
    )


def test_a_short_ipv4_host_is_printed_and_advertised_dotted() -> None:
    """``--host 127.1`` listened on 127.0.0.1 and printed ``http://127.1:PORT``, a TARGET a2actl
    refuses (exit 2: "neither a name nor a dotted IPv4 address"); the card advertised it too."""
    import signal

    import httpx

    from tests.procs import finish

    proc, url = _serving("--host", "127.1")
    try:
        card = httpx.get(url + "/.well-known/agent-card.json", timeout=10).json()
        proc.send_signal(signal.SIGINT)
        _, err = finish(proc, 20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert url.startswith("http://127.0.0.1:"), url
    http_urls = [u for u in _card_urls(card) if u.startswith("http")]
    assert http_urls and all(u.startswith(url + "/a2a/") for u in http_urls), http_urls


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_full_stdout_with_grpc_on_is_one_line_and_exit_2() -> None:
    """Standard output that cannot take the URL (``> /dev/full``) is exit 2 with one line; with gRPC
    on, the gRPC server was left running and Python printed "Exception ignored in
    Server.__del__ … RuntimeError: Event loop is closed" with its traceback."""
    pytest.importorskip("grpc")
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "a2actl", "sandbox", "serve", "--port", "0"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr == "a2actl: standard output: cannot write: No space left on device\n"
