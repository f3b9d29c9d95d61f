"""The Locust plugin (``a2actl.load.locust``, issue #15 item 2) run by real ``locust`` processes against
the sandbox agent: headless (``-u 4 -r 4 -t 5s``, the issue's command) and as a master with one
worker. Locust runs as a subprocess, never imported here: gevent monkey-patches the standard library
of the process that imports it. The assertions read Locust's own CSV output (``--csv PREFIX``:
``PREFIX_stats.csv``, ``PREFIX_failures.csv``, ``PREFIX_exceptions.csv``).

Locust rewrites the CSV files every second and closes them at exit, so their counts lag the final
console summary by up to a second; the assertions need non-zero counts, not exact ones."""

from __future__ import annotations

import csv
import importlib.util
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from a2actl.server.sandbox.server import RunningSandbox

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("locust") is None,
    reason="locust is not installed (pip install 'a2actl[locust]')",
)

LOCUSTFILE = textwrap.dedent(
    """
    from locust import task

    from a2actl.load.locust import A2AUser


    class V1(A2AUser):  # auto: the card's first 1.0 interface, JSON-RPC
        @task
        def send(self):
            self.a2a_send()

        @task
        def stream(self):
            self.a2a_stream()

        @task
        def handshake(self):
            self.a2a_handshake()


    class V03(A2AUser):
        a2a_version = "0.3"

        @task
        def send(self):
            self.a2a_send()

        @task
        def stream(self):
            self.a2a_stream()


    class V03Rest(A2AUser):
        a2a_version = "0.3"
        binding = "HTTP+JSON"

        @task
        def stream(self):
            self.a2a_stream()


    class Fail(A2AUser):  # the sandbox ends a '/fail' task failed
        binding = "HTTP+JSON"
        text = "/fail"

        @task
        def send(self):
            self.a2a_send()

        @task
        def stream(self):
            self.a2a_stream()
    """
)

DISTRIBUTED_LOCUSTFILE = textwrap.dedent(
    """
    from locust import task

    from a2actl.load.locust import A2AUser


    class FailV03(A2AUser):  # no @task: the default task set, a2a_send
        host = "{sandbox}"
        a2a_version = "0.3"
        text = "/fail"


    class NoToken(A2AUser):
        host = "{sandbox}"
        token_env = "A2ACTL_LOCUST_TEST_UNSET_TOKEN"


    class Cut(A2AUser):  # ': ping' every 20 ms, and every send stream cut after 3 events
        host = "{streams}"

        @task
        def stream(self):
            self.a2a_stream()
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _locust(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``python -m locust ARGS`` in ``cwd`` (the locustfile's directory) with this checkout's a2actl
    (``_this_checkout``) and ``env`` added to the environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "locust", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": _this_checkout(), **(env or {})},
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 40) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"locust did not finish in {timeout} s:\n{err[-3000:]}")
    return proc.returncode, out + err


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _stats(prefix: Path) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["Type"], r["Name"]): r for r in _rows(Path(f"{prefix}_stats.csv")) if r["Type"]}


def _failures(prefix: Path) -> dict[tuple[str, str], str]:
    return {(r["Name"], r["Error"]): r["Occurrences"] for r in _rows(Path(f"{prefix}_failures.csv"))}


def _check_no_crash(output: str, prefix: Path) -> None:
    assert "Traceback" not in output, output[-3000:]
    assert _rows(Path(f"{prefix}_exceptions.csv")) == []  # no task raised out of the plugin


def test_headless_run_reports_a2a_entries_per_operation_binding_and_version(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    prefix = tmp_path / "run"
    proc = _locust(
        *("-f", "locustfile.py", "--headless", "-u", "4", "-r", "4", "-t", "5s"),
        *("--host", sandbox.url, "--csv", str(prefix), "--only-summary"),
        cwd=tmp_path,
    )
    code, output = _finish(proc)
    assert code == 1, output[-3000:]  # Locust's exit status when any request failed (the /fail user)
    _check_no_crash(output, prefix)
    stats = _stats(prefix)

    def count(kind: str, name: str) -> tuple[int, int]:
        row = stats[(kind, name)]
        return int(row["Request Count"]), int(row["Failure Count"])

    # one user per class (4 users, 4 classes); each class negotiated its own interface
    assert count("A2A", "agent card") == (4, 0)
    for name in (
        "SendMessage (JSONRPC 1.0)",
        "SendStreamingMessage (JSONRPC 1.0)",
        "handshake (JSONRPC 1.0)",
        "SendMessage (JSONRPC 0.3)",
        "SendStreamingMessage (JSONRPC 0.3)",
        "SendStreamingMessage (HTTP+JSON 0.3)",
    ):
        requests, failures = count("A2A", name)
        assert requests > 0 and failures == 0, (name, stats[("A2A", name)])
    # time to first event: its own entry per stream, never later than the stream's end
    for label in ("JSONRPC 1.0", "JSONRPC 0.3", "HTTP+JSON 0.3"):
        stream = stats[("A2A", f"SendStreamingMessage ({label})")]
        ttfe = stats[("A2A-TTFE", f"SendStreamingMessage ({label})")]
        assert int(ttfe["Request Count"]) > 0 and int(ttfe["Failure Count"]) == 0
        assert float(ttfe["Median Response Time"]) <= float(stream["Median Response Time"])
        assert float(ttfe["Min Response Time"]) <= float(stream["Min Response Time"])
        assert float(stream["Average Content Size"]) > float(ttfe["Average Content Size"]) > 0  # bytes
    assert float(stats[("A2A", "SendMessage (JSONRPC 1.0)")]["Average Content Size"]) > 0
    # a task that ends failed is a failure named "task failed", blocking and streaming alike
    failures = _failures(prefix)
    for name in ("SendMessage (HTTP+JSON 1.0)", "SendStreamingMessage (HTTP+JSON 1.0)"):
        requests, failed = count("A2A", name)
        assert requests > 0 and failed == requests
        assert int(failures[(name, "task failed")]) == failed
    assert {error for _, error in failures} == {"task failed"}


def test_master_and_worker_a_cut_stream_and_a_configuration_error(
    sandbox: RunningSandbox, sandbox_streams: RunningSandbox, tmp_path: Path
) -> None:
    (tmp_path / "locustfile.py").write_text(
        DISTRIBUTED_LOCUSTFILE.format(sandbox=sandbox.url, streams=sandbox_streams.url)
    )
    prefix = tmp_path / "dist"
    port = _free_port()
    master = _locust(  # no --host: each class names its own (--host would override them all)
        *("-f", "locustfile.py", "--headless", "-u", "3", "-r", "3", "-t", "4s"),
        *("--csv", str(prefix), "--only-summary"),
        *("--master", "--expect-workers", "1", "--master-bind-host", "127.0.0.1"),
        *("--master-bind-port", str(port)),
        cwd=tmp_path,
    )
    worker = _locust(
        *("-f", "locustfile.py", "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)),
        cwd=tmp_path,
    )
    worker_code, worker_output = _finish(worker)
    code, output = _finish(master)
    assert code == 1, output[-3000:]
    assert worker_code == 0, worker_output[-3000:]
    _check_no_crash(output + worker_output, prefix)
    stats = _stats(prefix)
    failures = _failures(prefix)
    # the failure's name survives the trip from worker to master (Locust sends errors as text)
    requests = int(stats[("A2A", "SendMessage (JSONRPC 0.3)")]["Request Count"])
    assert requests > 0
    assert int(failures[("SendMessage (JSONRPC 0.3)", "task failed")]) == requests
    # a stream whose connection ends mid-body is a failure, after its first events arrived
    streams = stats[("A2A", "SendStreamingMessage (JSONRPC 1.0)")]
    assert int(streams["Request Count"]) > 0 and streams["Failure Count"] == streams["Request Count"]
    cut = {e for (n, e) in failures if n == "SendStreamingMessage (JSONRPC 1.0)"}
    assert len(cut) == 1 and cut.pop().startswith("stream cut: "), failures
    assert int(stats[("A2A-TTFE", "SendStreamingMessage (JSONRPC 1.0)")]["Request Count"]) > 0
    # an unset token_env: one line in the worker's log, one failed card entry, and that user stops
    message = "token_env names 'A2ACTL_LOCUST_TEST_UNSET_TOKEN', which is not set or empty"
    assert f"a2actl A2AUser NoToken: {message}; its users stop" in worker_output
    assert int(failures[("agent card", f"configuration: {message}")]) == 1
    assert ("A2A", "SendMessage (JSONRPC 1.0)") not in stats  # NoToken sent nothing else


SECRETS_LOCUSTFILE = textwrap.dedent(
    """
    from a2actl.load.locust import A2AUser


    class CardInUrl(A2AUser):  # a host whose card is not JSON: the log names the card's URL
        host = "{fault_base}/nonjson/agent-card.json?token=q-SECRET-query-3"


    class Echoed(A2AUser):  # an agent that echoes the bearer token in a body that is not JSON-RPC
        host = "{echo}"
        token_env = "A2ACTL_LOCUST_TEST_TOKEN"
    """
)


def _echo_app(base: str) -> Any:
    """A card, and a JSON-RPC endpoint that answers 200 with a text body echoing Authorization."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    from tests.servers import v1_card

    async def card(_: Any) -> Any:
        return JSONResponse(v1_card(base, "/rpc"))

    async def rpc(request: Any) -> Any:
        return PlainTextResponse(f"you sent {request.headers.get('authorization')}")

    return Starlette(
        routes=[Route("/.well-known/agent-card.json", card), Route("/rpc", rpc, methods=["POST"])]
    )


def test_the_plugin_masks_secrets_in_what_it_logs(fault: str, tmp_path: Path) -> None:
    """The lines the plugin logs for a failure (once per kind) mask the host's userinfo and
    credential query values and the bearer token of ``token_env``, as every a2actl output does.
    They printed the card URL as given (``http://bob:pw-…@host/…?token=…``) and the body of an
    agent that echoed the token."""
    from tests.servers import LoopbackServer

    fault_base = fault.replace("http://", "http://bob:pw-SECRET-userinfo-2@", 1)
    with LoopbackServer(_echo_app) as echo:
        (tmp_path / "locustfile.py").write_text(
            SECRETS_LOCUSTFILE.format(fault_base=fault_base, echo=echo.url)
        )
        prefix = tmp_path / "secrets"
        proc = _locust(
            *("-f", "locustfile.py", "--headless", "-u", "2", "-r", "2", "-t", "4s"),
            *("--csv", str(prefix), "--only-summary"),
            cwd=tmp_path,
            env={"A2ACTL_LOCUST_TEST_TOKEN": "tok-SECRET-bearer-1"},
        )
        code, output = _finish(proc)
    assert code == 1, output[-3000:]
    _check_no_crash(output, prefix)
    assert "SECRET" not in output + Path(f"{prefix}_failures.csv").read_text()
    assert "card: not an agent card: the agent card at http://bob:***@" in output
    assert "protocol violation: not a JSON-RPC answer: 'you sent ***'" in output


LIFECYCLE_LOCUSTFILE = textwrap.dedent(
    """
    from locust import task

    from a2actl.load.locust import A2AUser


    class Regress(A2AUser):  # working → submitted
        host = "{streams}/regress/agent-card.json"

        @task
        def stream(self):
            self.a2a_stream()


    class OtherTask(A2AUser):  # an event about another task, then completed
        host = "{streams}/othertask/agent-card.json"

        @task
        def stream(self):
            self.a2a_stream()


    class Clean(A2AUser):  # submitted, working, an artifact, completed
        host = "{streams}/lf/agent-card.json"

        @task
        def stream(self):
            self.a2a_stream()
    """
)


def test_a_stream_that_load_run_calls_a_protocol_error_is_a_failure(streams: str, tmp_path: Path) -> None:
    """Streams that break the task lifecycle (a state that goes back, an event about another task)
    are failures named by the rule (``protocol violation: illegal-transition``), as ``load run -s
    stream`` counts them ``protocol`` errors; a clean stream stays a success. They were successes."""
    (tmp_path / "locustfile.py").write_text(LIFECYCLE_LOCUSTFILE.format(streams=streams))
    prefix = tmp_path / "lifecycle"
    proc = _locust(
        *("-f", "locustfile.py", "--headless", "-u", "3", "-r", "3", "-t", "4s"),
        *("--csv", str(prefix), "--only-summary"),
        cwd=tmp_path,
    )
    code, output = _finish(proc)
    assert code == 1, output[-3000:]
    _check_no_crash(output, prefix)
    failures = _failures(prefix)
    assert {error for (_, error) in failures} == {
        "protocol violation: illegal-transition",
        "protocol violation: other-task",
    }
    row = _stats(prefix)[("A2A", "SendStreamingMessage (JSONRPC 1.0)")]  # the three users' streams
    assert int(row["Failure Count"]) == sum(int(n) for n in failures.values())
    assert int(row["Request Count"]) > int(row["Failure Count"]) > 0  # the clean ones succeeded
    assert "protocol violation: illegal-transition: working → submitted goes back" in output  # logged once


def _this_checkout() -> str:
    """``PYTHONPATH`` for a Locust subprocess: this checkout's a2actl, whatever an editable install
    points at."""
    return os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])


BAD_HOST_LOCUSTFILE = textwrap.dedent(
    """
    from a2actl.load.locust import A2AUser


    class BadHost(A2AUser):
        host = "http://user:pw-SECRET-7@[::1"


    class NoHost(A2AUser):  # and no --host
        pass


    class Grpc(A2AUser):
        host = "{sandbox}"
        binding = "GRPC"


    class Version(A2AUser):
        host = "{sandbox}"
        a2a_version = "2.0"
    """
)


def test_a_host_locust_cannot_parse_or_no_host_is_a_configuration_error(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """``host = "http://[::1"``: FastHttpUser's session parses the host as each user is made, and
    its ``ValueError`` ("Invalid IPv6 URL") ended Locust's spawning with a traceback (exit 2); no
    host at all raised ``StopTest``: a traceback, and exit 0 with nothing sent. Each is a
    configuration error, as a TARGET a2actl cannot read: one line per class, one failed ``agent
    card`` entry per user, the users stop (exit 1), and the host (which may hold credentials) is
    not quoted. A ``binding`` or ``a2a_version`` that cannot work is named by the class's
    attribute (it said ``--binding GRPC is not available for this command``, an option the
    locustfile has not)."""
    (tmp_path / "locustfile.py").write_text(BAD_HOST_LOCUSTFILE.format(sandbox=sandbox.url))
    prefix = tmp_path / "bad"
    proc = _locust(
        *("-f", "locustfile.py", "--headless", "-u", "8", "-r", "8", "-t", "2s"),
        *("--csv", str(prefix), "--only-summary"),
        cwd=tmp_path,
    )
    code, output = _finish(proc)
    assert code == 1, output[-3000:]
    _check_no_crash(output, prefix)
    bad = "host is not a valid URL: Invalid IPv6 URL"
    none = "no host: give --host URL, or a host attribute in the class"
    assert output.count(f"a2actl A2AUser BadHost: {bad}; its users stop") == 1, output[-3000:]
    assert output.count(f"a2actl A2AUser NoHost: {none}; its users stop") == 1, output[-3000:]
    grpc = "binding GRPC is not spoken by the Locust plugin: use JSONRPC or HTTP+JSON"
    version = "unknown a2a_version '2.0'; use auto, 0.3 or 1.0"
    assert _failures(prefix) == {
        ("agent card", f"configuration: {bad}"): "2",
        ("agent card", f"configuration: {none}"): "2",
        ("agent card", f"configuration: {grpc}"): "2",
        ("agent card", f"configuration: {version}"): "2",
    }
    assert set(_stats(prefix)) == {("A2A", "agent card")}
    assert "SECRET" not in output


BASIC_LOCUSTFILE = textwrap.dedent(
    """
    from a2actl.load.locust import A2AUser


    class Basic(A2AUser):
        host = "{host}"
    """
)


def test_credentials_in_the_host_url_are_sent_as_basic(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """``host = "http://alice:pw@agent"``: a2actl sends a URL's userinfo as Basic credentials (as
    httpx does), and so does Locust's own ``FastHttpUser``; the plugin, which sends through the
    geventhttpclient pool, dropped them, and an agent behind Basic answered every card fetch 401
    ("card: HTTP 401"). Here the card needs them; the interface it names (the sandbox) does not."""
    import base64

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from tests.servers import LoopbackServer, v1_card

    expected = "Basic " + base64.b64encode(b"alice:pw-SECRET-basic-5").decode()
    seen: list[str | None] = []

    def app(_: str) -> Any:
        async def card(request: Any) -> Any:
            seen.append(request.headers.get("authorization"))
            if request.headers.get("authorization") != expected:
                return Response(status_code=401)
            return JSONResponse(v1_card(sandbox.url, "/a2a/jsonrpc"))

        return Starlette(routes=[Route("/.well-known/agent-card.json", card)])

    with LoopbackServer(app) as guarded:
        host = guarded.url.replace("http://", "http://alice:pw-SECRET-basic-5@", 1)
        (tmp_path / "locustfile.py").write_text(BASIC_LOCUSTFILE.format(host=host))
        prefix = tmp_path / "basic"
        proc = _locust(
            *("-f", "locustfile.py", "--headless", "-u", "1", "-r", "1", "-t", "2s"),
            *("--csv", str(prefix), "--only-summary"),
            cwd=tmp_path,
        )
        code, output = _finish(proc)
    assert code == 0, output[-3000:]
    _check_no_crash(output, prefix)
    assert seen == [expected]
    stats = _stats(prefix)
    assert stats[("A2A", "agent card")]["Failure Count"] == "0"
    assert int(stats[("A2A", "SendMessage (JSONRPC 1.0)")]["Request Count"]) > 0
    assert "SECRET" not in output
