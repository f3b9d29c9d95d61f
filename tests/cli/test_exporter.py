"""``a2actl exporter`` end to end: the real CLI in its own process (``python -m a2actl exporter
--port 0``, the URL read from its stdout) against real sandboxes, scraped over loopback and parsed with
prometheus_client's parser; usage errors through the in-process CLI; the shipped Prometheus files
under ``promtool``; and the Done-when check: a real ``prometheus`` scraping the exporter with the
documented config until the seed's alert fires for a sandbox started with ``--handshake-delay 2s``.

promtool and prometheus come from Debian's ``prometheus`` package (.ci/run installs it): missing, the
tests that need them are skipped with the reason, except in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from a2actl.server.sandbox.options import SandboxOptions
from a2actl.server.sandbox.server import RunningSandbox
from tests.conftest import TOKEN

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "docs" / "monitoring"
SEED_EXPR = (
    "histogram_quantile(0.99, sum by (le, agent) (rate(a2a_handshake_duration_seconds_bucket[5m]))) > 1"
)

Samples = dict[str, list[tuple[dict[str, str], float]]]


def samples(text: str) -> Samples:
    """Every sample of an exposition text by sample name: ``[(labels, value), ...]``."""
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def by_agent(s: Samples, name: str) -> dict[str, float]:
    return {labels["agent"]: value for labels, value in s.get(name, [])}


class Exporter:
    """``a2actl exporter --port 0 ARGS`` in its own process; ``url`` from its first stdout line."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, pre: Sequence[str] = ()) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "a2actl", *pre, "exporter", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(self.proc.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
        try:
            self.url = lines.get(timeout=30).strip()
        except queue.Empty:
            self.proc.kill()
            raise AssertionError("the exporter printed no URL within 30 s") from None
        assert self.url.startswith("http://127.0.0.1:"), (
            self.url,
            self.proc.stderr.read() if self.proc.poll() is not None else "",
        )  # type: ignore[union-attr]
        self.port = int(self.url.rsplit(":", 1)[1])

    def get(self, path: str, headers: dict[str, str] | None = None, **params: str) -> tuple[int, str]:
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        req = urllib.request.Request(url, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self) -> Samples:
        status, text = self.get("/metrics")
        assert status == 200
        return samples(text)

    def stop(self) -> tuple[int, str]:
        """Ctrl-C (SIGINT), as a person stops it: ``(exit status, stderr)``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


@pytest.fixture
def exporter() -> Iterator[Any]:
    started: list[Exporter] = []

    def start(*args: str, env: dict[str, str] | None = None, pre: Sequence[str] = ()) -> Exporter:
        e = Exporter(*args, env=env, pre=pre)
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()


def wait_for(check: Any, timeout: float = 20.0, every: float = 0.1) -> Any:
    """Poll ``check()`` until it returns something truthy (returned) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every)


# ------------------------------------------------------------------------------------------ /probe


def test_probe_of_the_sandbox(exporter: Any, sandbox: Any) -> None:
    e = exporter()
    status, text = e.get("/probe", target=sandbox.url)
    assert status == 200
    s = samples(text)
    assert s["probe_success"] == [({}, 1.0)]
    phases = {labels["phase"]: v for labels, v in s["a2a_probe_phase_seconds"]}
    assert {"connect", "ttfb", "transfer", "parse", "negotiate", "rpc"} <= set(phases)
    assert all(v >= 0 for v in phases.values())
    (duration,) = (v for _, v in s["probe_duration_seconds"])
    (handshake,) = (v for _, v in s["a2a_probe_handshake_duration_seconds"])
    assert 0 < handshake <= duration
    ((info, one),) = s["a2a_probe_info"]
    assert one == 1 and info["version"] == "1.0" and info["binding"] == "JSONRPC"
    assert set(info["declared_versions"].split(",")) == {"1.0", "0.3"}
    assert "probe_failure_info" not in s
    own = e.metrics()
    assert own["a2actl_exporter_probes_total"] == [({"module": "default", "result": "success"}, 1.0)]


def test_probe_of_a_dead_target_is_probe_success_0(exporter: Any, refused_url: str) -> None:
    e = exporter()
    status, text = e.get("/probe", target=refused_url)
    assert status == 200  # blackbox convention: the scrape worked, the probe did not
    s = samples(text)
    assert s["probe_success"] == [({}, 0.0)]
    assert s["probe_failure_info"] == [({"cause": "refused", "error_code": "refused", "phase": "card"}, 1.0)]


def test_probe_with_an_unknown_module_is_400(exporter: Any, sandbox: Any) -> None:
    e = exporter()
    status, text = e.get("/probe", target=sandbox.url, module="nope")
    assert (status, text) == (400, "Unknown module 'nope' (modules: default)\n")
    status, text = e.get("/probe")
    assert (status, text) == (400, "Target parameter is missing\n")


def test_a_slow_agent_ends_before_prometheus_gives_up(exporter: Any, sandbox_slow: Any) -> None:
    e = exporter()
    # the card takes 0.3 s; a scrape timeout of 0.3 s leaves the probe 0.27 s (90 % of a scrape
    # timeout under 1 s; above, 0.5 s less as blackbox_exporter does)
    status, text = e.get(
        "/probe", headers={"X-Prometheus-Scrape-Timeout-Seconds": "0.3"}, target=sandbox_slow.url
    )
    s = samples(text)
    assert status == 200 and s["probe_success"] == [({}, 0.0)]
    failure = s["probe_failure_info"][0][0]
    assert (failure["cause"], failure["phase"]) == ("timeout", "card")
    status, text = e.get("/probe", target=sandbox_slow.url)  # the module's 10 s: it succeeds
    assert samples(text)["probe_success"] == [({}, 1.0)]


def test_a_send_module(exporter: Any, sandbox: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "exporter.yml"
    cfg.write_text("modules:\n  send:\n    checks: [card, rpc, send]\n    send_text: hello\n")
    e = exporter("--config", str(cfg))
    s = samples(e.get("/probe", target=sandbox.url, module="send")[1])
    assert s["probe_success"] == [({}, 1.0)]
    phases = {labels["phase"] for labels, _ in s["a2a_probe_phase_seconds"]}
    assert {"rpc", "first_event", "terminal"} <= phases
    (task,) = (v for _, v in s["a2a_probe_task_duration_seconds"])
    assert task > 0


# ------------------------------------------------------------------------------- the inventory loop


def test_the_interval_loop_updates_the_histograms(
    exporter: Any, sandbox: Any, refused_url: str, tmp_path: Path
) -> None:
    inv = tmp_path / "agents.yaml"
    inv.write_text(
        yaml.safe_dump(
            {
                "agents": [
                    {"url": sandbox.url, "name": "sandbox", "labels": {"team": "a2a"}},
                    {"url": refused_url, "name": "dead", "labels": {"team": "ops", "region": "eu"}},
                ]
            }
        )
    )
    cfg = tmp_path / "exporter.yml"
    cfg.write_text("modules:\n  send:\n    checks: [card, rpc, send]\n")
    e = exporter("--config", str(cfg), "--inventory", str(inv), "--interval", "300ms", "--module", "send")
    first = wait_for(
        lambda: (
            (m := e.metrics())
            and by_agent(m, "a2a_handshake_duration_seconds_count").get("sandbox", 0) >= 1
            and m
        )
    )
    assert first, "no handshake observed within 20 s"
    n1 = by_agent(first, "a2a_handshake_duration_seconds_count")["sandbox"]
    second = wait_for(
        lambda: (
            (m := e.metrics())
            and by_agent(m, "a2a_handshake_duration_seconds_count")["sandbox"] >= n1 + 2
            and m
        )
    )
    assert second, "the histogram did not grow"
    hs = by_agent(second, "a2a_handshake_duration_seconds_count")
    assert hs["dead"] == 0  # failures are counted as errors, not as handshakes
    assert by_agent(second, "a2a_task_duration_seconds_count")["sandbox"] >= 1
    errors = {(lab["agent"], lab["error_code"]): v for lab, v in second["a2a_errors_total"]}
    assert set(errors) == {("dead", "refused")} and errors[("dead", "refused")] >= 2
    labels = {lab["agent"]: lab for lab, _ in second["a2a_agent_up"]}
    assert (
        labels["dead"]["region"] == "eu"
        and labels["sandbox"]["region"] == ""
        and labels["sandbox"]["team"] == "a2a"
    )
    assert by_agent(second, "a2a_agent_up") == {"sandbox": 1.0, "dead": 0.0}
    assert {lab["agent"]: lab["version"] for lab, _ in second["a2a_agent_info"]} == {"sandbox": "1.0"}
    buckets = {
        lab["le"]: v
        for lab, v in second["a2a_handshake_duration_seconds_bucket"]
        if lab["agent"] == "sandbox"
    }
    assert "1.0" in buckets and "10.0" in buckets and buckets["+Inf"] == hs["sandbox"]
    assert second["a2actl_exporter_inventory_agents"] == [({}, 2.0)]
    # a round counts when its last agent is done: the sandbox's handshake of the round in progress
    # may already be counted while that round is not (CI saw 3 handshakes and 2 rounds)
    assert second["a2actl_exporter_inventory_rounds_total"][0][1] >= hs["sandbox"] - 1 >= 2


def test_ctrl_c_stops_it_cleanly(exporter: Any, sandbox: Any, tmp_path: Path) -> None:
    inv = tmp_path / "agents.txt"
    inv.write_text(sandbox.url + "\n")
    e = exporter("--inventory", str(inv), "--interval", "100ms")
    assert wait_for(lambda: by_agent(e.metrics(), "a2a_handshake_duration_seconds_count").get(sandbox.url))
    code, err = e.stop()
    assert code == 130
    assert "a2actl exporter listening on http://127.0.0.1:" in err and "a2actl: interrupted" in err
    assert "Traceback" not in err


def test_ctrl_c_with_a_probe_still_running_past_the_grace_period(exporter: Any) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        target = f"http://127.0.0.1:{silent.getsockname()[1]}"
        e = exporter()
        answers: queue.Queue[tuple[int, str] | BaseException] = queue.Queue()

        def scrape() -> None:
            try:
                answers.put(e.get("/probe", target=target))
            except BaseException as exc:  # noqa: BLE001 - the connection may close instead
                answers.put(exc)

        threading.Thread(target=scrape, daemon=True).start()
        time.sleep(1.0)  # the probe waits for the card (10 s deadline); uvicorn gives it 2 s
        code, err = e.stop()
        answer = answers.get(timeout=15)
    assert code == 130 and "Traceback" not in err and "Exception in ASGI application" not in err, err
    assert not isinstance(answer, tuple) or answer[0] == 503, answer


def test_max_concurrent_probes_wait_then_503_and_health_stays_up(exporter: Any) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        target = f"http://127.0.0.1:{silent.getsockname()[1]}"
        e = exporter("--max-concurrent", "1")
        answers: queue.Queue[tuple[int, str]] = queue.Queue()
        slow = {"X-Prometheus-Scrape-Timeout-Seconds": "3"}
        threading.Thread(
            target=lambda: answers.put(e.get("/probe", slow, target=target)), daemon=True
        ).start()
        assert wait_for(lambda: e.metrics().get("a2actl_exporter_probes_in_flight") == [({}, 1.0)])
        # the one slot is taken: a 1 s scrape spends its 0.5 s deadline waiting, then 503
        status, text = e.get("/probe", {"X-Prometheus-Scrape-Timeout-Seconds": "1"}, target=target)
        assert status == 503 and text.startswith("exporter busy: 1 probes in flight (--max-concurrent)")
        assert e.get("/-/healthy") == (200, "OK\n")
        m = e.metrics()
        assert m["a2actl_exporter_requests_rejected_total"] == [({"reason": "busy"}, 1.0)]
        assert m["a2actl_exporter_probes_max_concurrent"] == [({}, 1.0)]
        status, text = answers.get(timeout=15)  # the first ends at its own 2.5 s deadline
    assert status == 200 and samples(text)["probe_failure_info"][0][0]["cause"] == "timeout"
    assert e.metrics()["a2actl_exporter_probes_in_flight"] == [({}, 0.0)]


def test_secrets_stay_out_of_metrics_and_logs(exporter: Any, sandbox_auth: Any, tmp_path: Path) -> None:
    host_port = sandbox_auth.url.removeprefix("http://")
    inv = tmp_path / "agents.json"
    inv.write_text(
        json.dumps(
            {"agents": [{"url": f"http://scrape-user:url-pa55word@{host_port}", "tokenEnv": "AGENT_TOKEN"}]}
        )
    )
    cfg = tmp_path / "exporter.yml"
    cfg.write_text(
        f"modules:\n  auth:\n    token_env: AGENT_TOKEN\n    allow_targets: ['{sandbox_auth.url}']\n"
        "    headers: {X-Api-Key: '${AGENT_KEY}'}\n"
    )
    env = {"AGENT_TOKEN": TOKEN, "AGENT_KEY": "api-key-for-tests-9876"}
    e = exporter(
        "--config", str(cfg), "--inventory", str(inv), "--interval", "200ms", "--module", "auth", env=env
    )
    status, probe = e.get("/probe", target=sandbox_auth.url, module="auth")
    assert status == 200 and samples(probe)["probe_success"] == [({}, 1.0)]  # the token was sent
    status, debug = e.get("/probe", target=sandbox_auth.url, module="auth", debug="true")
    assert json.loads(debug)["module"]["tokenEnv"] == "AGENT_TOKEN"
    status, forbidden = e.get("/probe", target="http://203.0.113.9:1", module="auth")
    assert status == 403  # a credentialed module never sends its token to a target it does not list
    m = wait_for(lambda: (m := e.metrics()) and m.get("a2a_agent_up") and m)
    assert [(lab["agent"], lab["url"], v) for lab, v in m["a2a_agent_up"]] == [
        (sandbox_auth.url, sandbox_auth.url, 1.0)  # userinfo dropped from the labels
    ]
    _, text = e.get("/metrics")
    _, err = e.stop()
    for out in (probe, debug, forbidden, text, err):
        assert TOKEN not in out and "api-key-for-tests-9876" not in out and "url-pa55word" not in out


class _CardElsewhere:
    """Two loopback HTTP servers: ``card_url`` (127.0.0.1) serves an A2A 1.0 card whose JSON-RPC
    interface is on another host name, ``localhost`` (the second server), which records the
    ``Authorization`` of every request it gets (``seen``) and answers a JSON-RPC error."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.seen: list[str | None] = []
        outer = self

        class Rpc(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                outer.seen.append(self.headers.get("Authorization"))
                rid = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))["id"]
                error = {"code": -32001, "message": "no such task"}
                body = json.dumps({"jsonrpc": "2.0", "id": rid, "error": error}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.rpc = ThreadingHTTPServer(("127.0.0.1", 0), Rpc)
        rpc_url = f"http://localhost:{self.rpc.server_address[1]}/rpc"
        card = json.dumps(
            {
                "name": "elsewhere",
                "description": "a card naming another host as its interface",
                "version": "1",
                "supportedInterfaces": [
                    {"url": rpc_url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
                ],
                "capabilities": {},
                "defaultInputModes": ["text/plain"],
                "defaultOutputModes": ["text/plain"],
                "skills": [{"id": "s", "name": "s", "description": "s", "tags": ["t"]}],
            }
        ).encode()

        class Card(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(card)))
                self.end_headers()
                self.wfile.write(card)

            def log_message(self, *args: Any) -> None:
                pass

        self.cards = ThreadingHTTPServer(("127.0.0.1", 0), Card)
        self.card_url = f"http://127.0.0.1:{self.cards.server_address[1]}"
        for server in (self.rpc, self.cards):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        for server in (self.rpc, self.cards):
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("iface", ["/a2a/jsonrpc", "file:///etc/passwd", "http://127.0.0.1:9/a\r\nX-Evil: 1"])
def test_a_card_interface_url_that_cannot_be_requested_is_cause_protocol(exporter: Any, iface: str) -> None:
    """A card whose interface URL is relative, not http(s) or has a control character in it failed
    with cause="error", error_code="usage" (the caller's fault, and no cause docs/monitoring.md
    lists); fleet probe calls the same card protocol. It is cause="protocol", error_code="protocol"."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.servers import LoopbackServer, v1_card

    def app(base: str) -> Starlette:
        card = v1_card(base, "/rpc")
        card["supportedInterfaces"][0]["url"] = iface
        return Starlette(routes=[Route("/.well-known/agent-card.json", lambda _: JSONResponse(card))])

    with LoopbackServer(app) as agent:
        e = exporter()
        status, text = e.get("/probe", target=agent.url)
        assert status == 200
        s = samples(text)
        assert s["probe_success"] == [({}, 0.0)]
        # a control character is found when the interface is chosen (negotiate), before any request
        phase = "negotiate" if any(c < " " for c in iface) else "rpc"
        assert s["probe_failure_info"] == [
            ({"cause": "protocol", "error_code": "protocol", "phase": phase}, 1.0)
        ]
        m = e.metrics()
        assert m["a2actl_exporter_probe_failures_total"] == [
            ({"module": "default", "cause": "protocol"}, 1.0)
        ]


@pytest.mark.parametrize(
    ("pre", "to", "expected"),
    [
        # not followed without -L: the redirect's own status
        ((), "self", {"cause": "protocol", "error_code": "http_302", "phase": "card"}),
        # -L: a loop ends after 20 redirects, with the last one's status (307 here)
        (("-L",), "self&status=307", {"cause": "protocol", "error_code": "http_307", "phase": "card"}),
        # -L: a redirect a2actl does not follow was cause="error", error_code="http_status"
        (("-L",), "file:///etc/passwd", {"cause": "protocol", "error_code": "protocol", "phase": "card"}),
        # -L: a redirect to a host no request can reach was cause="error" (a bare UnicodeError)
        (("-L",), "http://a..b/", {"cause": "protocol", "error_code": "protocol", "phase": "card"}),
    ],
    ids=["unfollowed", "loop", "unfollowable", "badhost"],
)
def test_a_redirect_of_the_card_is_cause_protocol(
    exporter: Any, fault: str, pre: tuple[str, ...], to: str, expected: dict[str, str]
) -> None:
    """A redirect the probe does not or cannot follow, and a redirect loop under ``a2actl -L
    exporter``, are cause="protocol" (docs/monitoring.md), as fleet probe says: not an HTTP error of
    the agent's, nor a cause the table does not list."""
    e = exporter(pre=pre)
    status, text = e.get("/probe", target=f"{fault}/redirectto/agent-card.json?to={to}")
    assert status == 200
    s = samples(text)
    assert s["probe_success"] == [({}, 0.0)]
    assert s["probe_failure_info"] == [(expected, 1.0)]
    status, body = e.get("/probe", target=f"{fault}/redirectto/agent-card.json?to={to}", debug="true")
    doc = json.loads(body)
    assert (doc["cause"], doc["errorCode"]) == (expected["cause"], expected["error_code"])
    if pre and to.startswith("self"):
        assert "redirected more than 20 times" in doc["message"]


def test_a_plain_http_probe_of_a_tls_port_is_cause_protocol_not_invalid_card(
    exporter: Any, tls_server: tuple[str, str]
) -> None:
    """``http://`` to an HTTPS agent's port: the server closes the connection without an HTTP answer.
    The card was never seen, so the cause is protocol (as fleet probe says), not invalid-card (which
    sent an operator to look at the card)."""
    url, _ = tls_server
    e = exporter()
    status, text = e.get("/probe", target=url.replace("https://", "http://"))
    assert status == 200
    s = samples(text)
    assert s["probe_failure_info"] == [
        ({"cause": "protocol", "error_code": "protocol", "phase": "card"}, 1.0)
    ]


@pytest.mark.parametrize("route", ["boolcode", "nocode"])
def test_a_json_rpc_error_without_an_integer_code_is_cause_rpc_error(
    exporter: Any, fault: str, route: str
) -> None:
    """The first RPC answered a JSON-RPC error whose code is ``true`` or missing: cause="error",
    error_code="a2a_error" (no cause docs/monitoring.md lists); fleet probe says rpc-error."""
    e = exporter()
    status, text = e.get("/probe", target=f"{fault}/{route}/agent-card.json")
    assert status == 200
    assert samples(text)["probe_failure_info"] == [
        ({"cause": "rpc-error", "error_code": "a2a_error", "phase": "rpc"}, 1.0)
    ]


def test_a_credentialed_module_sends_nothing_to_an_interface_outside_allow_targets(
    exporter: Any, tmp_path: Path
) -> None:
    """allow_targets promises that whoever can reach /probe cannot send the module's token to a host
    of their choosing; a card at an allowed target could still name its interface on any host, and
    the token went there with the first RPC. Now that probe fails, cause not-allowed, and the other
    host gets nothing; a module without credentials still probes it."""
    agent = _CardElsewhere()
    try:
        cfg = tmp_path / "exporter.yml"
        cfg.write_text(
            f"modules:\n  auth:\n    token_env: AGENT_TOKEN\n    allow_targets: ['{agent.card_url}']\n"
            "  open: {}\n"
        )
        e = exporter("--config", str(cfg), env={"AGENT_TOKEN": TOKEN})
        status, text = e.get("/probe", target=agent.card_url, module="auth")
        assert status == 200
        s = samples(text)
        assert s["probe_success"] == [({}, 0.0)]
        assert s["probe_failure_info"][0][0]["cause"] == "not-allowed"
        assert agent.seen == []  # nothing, so no token, reached the interface's host
        status, debug = e.get("/probe", target=agent.card_url, module="auth", debug="true")
        assert TOKEN not in debug and "localhost" in json.loads(debug)["message"]
        status, text = e.get("/probe", target=agent.card_url, module="open", debug="true")
        assert status == 200 and json.loads(text)["success"] is True, text
        assert agent.seen == [None]  # the credential-free module reached it, with no Authorization
    finally:
        agent.close()


class _FreshSecrets:
    """A card server on loopback whose every answer carries credentials it has never sent before
    (``issued``): ``/.well-known/agent-card.json`` is a card whose interface URL has a fresh
    userinfo password and ``token`` query value (on a refused port, so the probe's error names it);
    ``/moved/.well-known/agent-card.json`` redirects (302) to a fresh ``user:password@`` URL on that
    port. What a target a stranger sends to ``/probe`` may lead the exporter to."""

    def __init__(self, refused: str) -> None:
        import secrets as random

        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, RedirectResponse, Response
        from starlette.routing import Route

        from tests.servers import LoopbackServer, v1_card

        self.issued: list[str] = []
        host_port = refused.removeprefix("http://")

        def fresh() -> str:
            self.issued.append("fresh" + random.token_hex(8))
            return self.issued[-1]

        def app(base: str) -> Starlette:
            async def card(request: Request) -> Response:
                doc = v1_card(base, "/rpc")
                doc["supportedInterfaces"][0]["url"] = (
                    f"http://agent:{fresh()}@{host_port}/rpc?token={fresh()}"
                )
                return JSONResponse(doc)

            async def moved(request: Request) -> Response:
                return RedirectResponse(f"http://agent:{fresh()}@{host_port}/card", status_code=302)

            return Starlette(
                routes=[
                    Route("/.well-known/agent-card.json", card),
                    Route("/moved/.well-known/agent-card.json", moved),
                ]
            )

        self.server = LoopbackServer(app)

    def __enter__(self) -> _FreshSecrets:
        self.server.__enter__()
        self.url = self.server.url
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)


def test_probe_secrets_are_masked_per_request_and_never_kept(refused_url: str) -> None:
    """A long-running exporter gets its targets from whoever can reach it. The secrets one probe
    meets (the target's userinfo and api_key, the card's interface URL, a redirect's Location under
    -L) are masked in that probe's answer and not added to the process' secret registry, which grew
    by one value per /probe under -L (every later redaction got slower: 0.1 us -> 100 us per call
    after 2,000 probes) while the card's interface password and token were printed unmasked in
    /probe?debug=true. The app in process (to read the registry) with the real prober, over loopback."""
    import secrets as random
    import warnings

    from a2actl.core import redact
    from a2actl.core.config import Settings
    from a2actl.exporter.app import Exporter as App
    from a2actl.exporter.app import build_app
    from a2actl.exporter.config import Module
    from a2actl.exporter.metrics import ExporterMetrics

    with warnings.catch_warnings():  # starlette 1.x: "use httpx2" (the client is httpx 0.28 here)
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    app = App(
        modules={"default": Module("default")},
        base=Settings(follow_redirects=True),  # a2actl -L exporter
        metrics=ExporterMetrics("t"),
    )
    before = set(redact._REGISTRY)
    answers: list[str] = []
    sent: list[str] = []
    with _FreshSecrets(refused_url) as agent, TestClient(build_app(app)) as client:
        host_port = agent.url.removeprefix("http://")
        for _ in range(60):
            for path in ("", "/moved"):
                sent += [f"user{random.token_hex(6)}", f"key{random.token_hex(8)}"]
                target = f"http://{sent[-2]}@{host_port}{path}/.well-known/agent-card.json?api_key={sent[-1]}"
                for debug in ({}, {"debug": "true"}):
                    r = client.get("/probe", params={"target": target, **debug})
                    assert r.status_code == 200, r.text
                    answers.append(r.text)
                    if debug:
                        doc = json.loads(r.text)
                        assert doc["cause"] == "refused" and "agent:***@" in doc["message"], doc
                    else:
                        assert samples(r.text)["probe_failure_info"][0][0]["cause"] == "refused"
        issued = list(agent.issued)
    assert len(issued) == 60 * 2 * 3  # two cards of two secrets and two redirects of one per target
    assert set(redact._REGISTRY) == before  # nothing of the 600 secrets kept past its probe
    for secret in (*issued, *sent):
        assert not any(secret in text for text in answers), secret


def test_an_agent_answering_a_new_error_code_each_time_adds_no_series_past_the_cap(
    exporter: Any, tmp_path: Path
) -> None:
    """An A2A error code is any integer the agent answers. An inventory agent answering a new one to
    every probe added an a2a_errors_total series per probe, for good (140 after 8 s at --interval
    50ms; 2,880 a day at 30 s). Past MAX_ERROR_CODES distinct codes its failures count as 'other'."""
    import itertools

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from a2actl.exporter.metrics import MAX_ERROR_CODES
    from tests.servers import LoopbackServer, v1_card

    codes = itertools.count(-1_000_000, -1)

    def app(base: str) -> Starlette:
        async def card(request: Request) -> Response:
            return JSONResponse(v1_card(base, "/rpc"))

        async def rpc(request: Request) -> Response:
            rid = (await request.json())["id"]
            error = {"code": next(codes), "message": "a new code every time"}
            return JSONResponse({"jsonrpc": "2.0", "id": rid, "error": error})

        return Starlette(
            routes=[Route("/.well-known/agent-card.json", card), Route("/rpc", rpc, methods=["POST"])]
        )

    with LoopbackServer(app) as agent:
        inv = tmp_path / "agents.json"
        inv.write_text(json.dumps({"agents": [{"url": agent.url, "name": "odd"}]}))
        e = exporter("--inventory", str(inv), "--interval", "100ms")  # the shortest (MIN_INTERVAL)
        rounds = MAX_ERROR_CODES + 10

        def enough() -> Samples | None:
            m = e.metrics()
            done = m.get("a2actl_exporter_inventory_rounds_total", [({}, 0.0)])[0][1]
            return m if done >= rounds else None

        m = wait_for(enough, timeout=60)
        assert m, "the inventory loop did not run enough rounds"
    errors = {labels["error_code"]: value for labels, value in m["a2a_errors_total"]}
    assert len(errors) == MAX_ERROR_CODES + 1 and errors["other"] >= 10, errors
    assert all(code == "other" or int(code) <= -1_000_000 for code in errors)
    assert sum(errors.values()) >= rounds  # every failure still counted


# ---------------------------------------------------------------------------------- usage errors


def test_bad_config_is_exit_2_naming_the_key(cli: Any, tmp_path: Path) -> None:
    cfg = tmp_path / "exporter.yml"
    cfg.write_text("modules:\n  fast:\n    timeout: soon\n")
    r = cli("exporter", "--config", str(cfg))
    assert r.exit_code == 2
    assert f"{cfg}: modules.fast.timeout: not a duration: 'soon'" in r.stderr
    r = cli("-o", "json", "exporter", "--config", str(cfg))
    assert (
        r.exit_code == 2
        and r.json["error"]["code"] == "usage"
        and "modules.fast.timeout" in r.json["error"]["message"]
    )
    cfg.write_text("modules:\n  fast:\n    card_path: http://evil.example/card.json\n")
    r = cli("exporter", "--config", str(cfg), "--check-config")
    assert (
        r.exit_code == 2
        and f"{cfg}: modules.fast.card_path: 'http://evil.example/card.json' is not a path" in r.stderr
    )
    cfg.write_text("modules:\n  fast:\n    timeout: 1s\n  fast:\n    timeout: 2s\n")
    r = cli("exporter", "--config", str(cfg), "--check-config")
    assert r.exit_code == 2 and f"--config {cfg}: line 4: 'fast' appears twice in one mapping" in r.stderr
    # values YAML builds with int()/date() that raise ValueError: exit 1 'unexpected ValueError'
    for value, reason in (("9" * 5000, "Exceeds the limit (4300"), ("2001-13-01", "month must be")):
        cfg.write_text(f"modules:\n  fast:\n    timeout: {value}\n")
        r = cli("exporter", "--config", str(cfg), "--check-config")
        assert r.exit_code == 2 and f"--config {cfg}: not YAML: {reason}" in r.stderr, r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-H", "X-Tenant: acme", "exporter"], "-H: the exporter sends the headers of its modules"),
        (["exporter", "--interval", "10s"], "--interval and --module choose how --inventory is probed"),
        (["exporter", "--module", "nope"], "--module 'nope': no such module (modules: default)"),
        (["exporter", "--interval", "soon", "--inventory", "x"], "--interval: not a duration"),
        (["exporter", "--interval", "0", "--inventory", "x"], "--interval must be at least 0.1s, got '0'"),
        (
            ["exporter", "--interval", "10ms", "--inventory", "x"],
            "--interval must be at least 0.1s, got '10ms'",
        ),
        (
            ["exporter", "--inventory", "/nonexistent/agents.txt"],
            "cannot read inventory /nonexistent/agents.txt",
        ),
        (
            ["exporter", "--config", "/nonexistent/exporter.yml"],
            "--config /nonexistent/exporter.yml: cannot read",
        ),
    ],
)
def test_usage_errors(cli: Any, args: list[str], message: str) -> None:
    r = cli(*args)
    assert r.exit_code == 2, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("check", [[], ["--check-config"]], ids=["serve", "check-config"])
@pytest.mark.parametrize("source", ["regular", "device"])
def test_a_config_file_over_64_mib_is_exit_2_and_read_no_further(
    cli: Any, tmp_path: Path, check: list[str], source: str
) -> None:
    """A regular --config was handed to PyYAML whole: a log file given by mistake (gigabytes) grew
    the process until memory ran out. It is read up to 64 MiB, as every other input file (a FIFO,
    <(yes) or /dev/zero already was, read ahead under the start-up deadline); more is exit 2 naming
    the file, in the same words either way (the read-ahead said "… is over 67,108,864 bytes")."""
    if source == "regular":
        cfg = str(tmp_path / "huge.yml")
        with open(cfg, "wb") as fh:  # sparse: 64 MiB + 1 byte without using the disk
            fh.write(b"modules: {}\n")
            fh.truncate(64 * 1024 * 1024 + 1)
    else:
        cfg = "/dev/zero"
        if not Path(cfg).exists():
            pytest.skip("no /dev/zero here")
    r = cli("-o", "json", "exporter", "--port", "0", "--config", cfg, *check)
    assert r.exit_code == 2, r.stderr
    assert r.json["error"] == {
        "code": "usage",
        "message": f"--config {cfg}: over the 64 MiB limit (67,108,864 bytes)",
        "exitCode": 2,
    }


def test_bad_inventory_labels_and_unset_token_env(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv = tmp_path / "agents.json"
    inv.write_text(
        json.dumps({"agents": [{"url": "http://127.0.0.1:1", "name": "a", "labels": {"team-name": "x"}}]})
    )
    for check in ([], ["--check-config"]):  # --check-config refuses what serving would refuse
        r = cli("exporter", "--inventory", str(inv), *check)
        assert (
            r.exit_code == 2
            and "inventory agent 'a': label 'team-name' is not a Prometheus label name" in r.stderr
        ), (check, r.stdout)
    monkeypatch.delenv("UNSET_TOKEN_FOR_TESTS", raising=False)
    inv.write_text(
        json.dumps(
            {"agents": [{"url": "http://127.0.0.1:1", "name": "b", "tokenEnv": "UNSET_TOKEN_FOR_TESTS"}]}
        )
    )
    r = cli("exporter", "--inventory", str(inv))
    assert r.exit_code == 2
    assert (
        f"inventory {inv}: agents[0]: tokenEnv UNSET_TOKEN_FOR_TESTS: that environment variable is not set"
        in r.stderr
    )


def test_a_port_in_use_is_exit_2(cli: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = cli("exporter", "--port", str(port))
    assert r.exit_code == 2 and f"cannot listen on 127.0.0.1:{port}" in r.stderr


@pytest.mark.parametrize("missing", ["prometheus_client", "starlette", "uvicorn"])
def test_without_the_extra_it_says_what_to_install(
    cli: Any, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # `import missing` raises ImportError
    r = cli("exporter")
    assert r.exit_code == 2
    assert (
        "the exporter needs the 'exporter' extra" in r.stderr and "pip install 'a2actl[exporter]'" in r.stderr
    )


def test_check_config(cli: Any, tmp_path: Path, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHECK_TOKEN", "check-config-token-1234")
    cfg = tmp_path / "exporter.yml"
    cfg.write_text(
        "modules:\n  secure:\n    token_env: CHECK_TOKEN\n    budgets: {total: 2s}\n    checks: [card, rpc, send]\n"
    )
    inv = tmp_path / "agents.txt"
    inv.write_text(f"{sandbox.url}\nhttp://127.0.0.1:1\n")
    r = cli(
        "-o",
        "json",
        "exporter",
        "--config",
        str(cfg),
        "--check-config",
        "--inventory",
        str(inv),
        "--module",
        "secure",
    )
    assert r.exit_code == 0, r.stderr
    doc = r.json
    mods = {m["name"]: m for m in doc["modules"]}
    assert set(mods) == {"default", "secure"}
    assert mods["secure"]["tokenEnv"] == "CHECK_TOKEN" and mods["secure"]["checks"] == ["card", "rpc", "send"]
    assert mods["secure"]["budgets"] == [{"metric": "total", "limit": 2.0}]
    assert doc["inventory"] == {
        "source": str(inv),
        "format": "text",
        "agents": 2,
        "module": "secure",
        "interval": 30.0,
    }
    assert "check-config-token-1234" not in r.stdout
    table = cli("exporter", "--config", str(cfg), "--check-config")
    assert table.exit_code == 0 and "config ok" in table.stdout and "token $CHECK_TOKEN" in table.stdout
    assert "none (credentials)" in table.stdout


def test_check_config_shows_which_modules_send_credentials(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECK_FOO", "check-config-env-header-4321")
    cfg = tmp_path / "exporter.yml"
    cfg.write_text(
        "modules:\n  tenant:\n    headers: {X-Tenant: acme}\n  env:\n    headers: {X-Foo: '${CHECK_FOO}'}\n"
    )
    r = cli("-o", "json", "exporter", "--config", str(cfg), "--check-config")
    assert r.exit_code == 0, r.stderr
    mods = {m["name"]: m for m in r.json["modules"]}
    assert mods["tenant"]["headerNames"] == ["X-Tenant"] and mods["tenant"]["credentialHeaders"] == []
    assert mods["env"]["credentialHeaders"] == ["X-Foo"]
    rows = {
        line.split()[0]: line
        for line in cli("exporter", "--config", str(cfg), "--check-config").stdout.splitlines()
        if line.split()
    }
    # a plain header is not a credential: /probe takes any target with that module
    assert rows["tenant"].rstrip().endswith("any") and "header X-Tenant" not in rows["tenant"]
    assert "header X-Foo" in rows["env"] and "none (credentials)" in rows["env"]
    assert "check-config-env-header-4321" not in r.stdout


# ------------------------------------------------------------------------- promtool / prometheus


def tool(name: str) -> str:
    """The path of ``name`` (promtool, prometheus); skip when missing, fail in CI."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed; .ci/run must apt-get install prometheus")
        pytest.skip(f"{name} is not installed (Debian: apt-get install --no-install-recommends prometheus)")
    return path


def test_promtool_unit_tests_of_the_alert_rules() -> None:
    r = subprocess.run(
        [tool("promtool"), "test", "rules", "alerts_test.yml"],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


def test_the_rule_tests_catch_a_wrong_threshold(tmp_path: Path) -> None:
    """The promtool tests can fail: the same tests against the rule with its threshold raised to 3 s
    (above the synthetic 2.495 s p99) must report the missing alert."""
    rules = (MONITORING / "alerts.yml").read_text()
    assert SEED_EXPR in rules
    (tmp_path / "alerts.yml").write_text(rules.replace(SEED_EXPR, SEED_EXPR.removesuffix("> 1") + "> 3"))
    shutil.copy(MONITORING / "alerts_test.yml", tmp_path / "alerts_test.yml")
    r = subprocess.run(
        [tool("promtool"), "test", "rules", "alerts_test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0 and "A2AHandshakeSlow" in r.stdout + r.stderr


def test_promtool_checks_the_shipped_config_and_rules() -> None:
    promtool = tool("promtool")
    r = subprocess.run(
        [promtool, "check", "rules", "alerts.yml"], cwd=MONITORING, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and "SUCCESS: 3 rules found" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_grafana_dashboard(tmp_path: Path) -> None:
    """Valid dashboard JSON whose every query is valid PromQL (checked by promtool as recording rules,
    Grafana's $variables replaced by values) and uses the exporter's metric names."""
    dash = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert dash["title"] and dash["uid"] == "a2actl-exporter"
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    titles = " ".join(p["title"] for p in dash["panels"])
    assert "p99" in titles and "p50" in titles and "Errors by code" in titles and "Probe success" in titles
    joined = " ".join(exprs)
    for metric in (
        "a2a_handshake_duration_seconds_bucket",
        "a2a_errors_total",
        "probe_success",
        "a2a_agent_up",
        "a2a_task_duration_seconds_bucket",
    ):
        assert metric in joined
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    concrete = [e.replace("$__rate_interval", "5m").replace('"$agent"', '".*"') for e in exprs]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:query{i}", "expr": e} for i, e in enumerate(concrete)],
            }
        ]
    }
    (tmp_path / "dashboard-rules.yml").write_text(yaml.safe_dump(rules))
    r = subprocess.run(
        [tool("promtool"), "check", "rules", "dashboard-rules.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _api(port: int, path: str) -> Any:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def test_prometheus_scrapes_the_exporter_and_the_seed_alert_fires(
    exporter: Any, sandbox: Any, tmp_path: Path
) -> None:
    """Done when: Prometheus scrapes ``a2actl exporter`` with the documented config
    (docs/monitoring/prometheus.yml: the blackbox-style /probe job and the /metrics job) and the
    seed's alert (docs/monitoring/alerts.yml, A2AHandshakeSlow) fires for a sandbox started with
    ``--handshake-delay 2s``.

    Shortened for a test, and only in these ways: scrape and evaluation every 1 s; the rule's
    ``rate(...[5m])`` window becomes ``[10s]`` and its ``for: 5m`` becomes ``0s``; the inventory is
    probed every second. The /probe job probes a second, fast sandbox (a 2 s probe would outlast a
    1 s scrape timeout)."""
    prometheus = tool("prometheus")
    slow = RunningSandbox(SandboxOptions(handshake_delay=2.0, stream_interval=0.01)).start()
    prom: subprocess.Popen[str] | None = None
    try:
        inv = tmp_path / "agents.txt"
        inv.write_text(slow.url + "\n")
        e = exporter("--inventory", str(inv), "--interval", "1s")
        rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
        (seed,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "A2AHandshakeSlow"]
        assert seed["expr"] == SEED_EXPR
        seed["expr"] = seed["expr"].replace("[5m]", "[10s]")
        seed["for"] = "0s"
        (tmp_path / "alerts.yml").write_text(yaml.safe_dump({"groups": [{"name": "a2a", "rules": [seed]}]}))
        config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(tmp_path / "alerts.yml")]
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        probe_job, metrics_job = jobs["a2a-probe"], jobs["a2actl-exporter"]
        probe_job["static_configs"] = [{"targets": [sandbox.url]}]
        (address,) = [r for r in probe_job["relabel_configs"] if r.get("target_label") == "__address__"]
        assert address["replacement"] == "127.0.0.1:9197"  # the documented default port
        address["replacement"] = f"127.0.0.1:{e.port}"
        assert metrics_job["static_configs"] == [{"targets": ["127.0.0.1:9197"]}]
        metrics_job["static_configs"] = [{"targets": [f"127.0.0.1:{e.port}"]}]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = _free_port()
        prom = subprocess.Popen(
            [
                prometheus,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        started = time.monotonic()

        def firing() -> Any:
            doc = _api(port, "/api/v1/alerts")
            alerts = (doc or {}).get("data", {}).get("alerts", [])
            return [
                a
                for a in alerts
                if a["labels"].get("alertname") == "A2AHandshakeSlow" and a["state"] == "firing"
            ]

        alerts = wait_for(firing, timeout=60, every=0.5)
        took = time.monotonic() - started
        assert prom.poll() is None, prom.stderr.read() if prom.stderr else ""
        assert alerts, f"A2AHandshakeSlow did not fire within 60 s: {_api(port, '/api/v1/alerts')}"
        assert alerts[0]["labels"]["agent"] == slow.url and float(alerts[0]["value"]) > 1.9
        # the documented /probe job: relabelled to ?target=<agent>, instance=<agent>
        up = _api(
            port, "/api/v1/query?" + urllib.parse.urlencode({"query": 'probe_success{job="a2a-probe"}'})
        )
        result = up["data"]["result"]
        assert [(r["metric"]["instance"], r["value"][1]) for r in result] == [(sandbox.url, "1")]
        print(f"A2AHandshakeSlow firing {took:.1f} s after Prometheus started")
    finally:
        if prom is not None:
            prom.terminate()
            prom.wait(timeout=15)
        slow.stop()


def test_module_and_inventory_headers_and_tokens_follow_the_command_line_rules(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as -H and --token-env: exit 2 naming the file, the module or entry and the header or variable,
    # never a value; a token's 'Bearer ' word is dropped with a note
    cfg, inv = tmp_path / "exporter.yml", tmp_path / "agents.json"
    cfg.write_text("modules:\n  m:\n    headers: {Content-Length: '0'}\n")
    r = cli("exporter", "--config", str(cfg), "--check-config")
    assert r.exit_code == 2 and r.stderr.startswith(f"a2actl: {cfg}: modules.m.headers.Content-Length: ")
    monkeypatch.setenv("EXP_BAD_TOKEN", "s3cret-token\nX-Injected: 1")
    inv.write_text(json.dumps({"agents": [{"url": "http://127.0.0.1:1", "tokenEnv": "EXP_BAD_TOKEN"}]}))
    r = cli("exporter", "--inventory", str(inv), "--check-config")
    assert r.exit_code == 2 and r.stderr.startswith(
        f"a2actl: inventory {inv}: agents[0]: tokenEnv EXP_BAD_TOKEN: "
    )
    inv.write_text(
        json.dumps({"agents": [{"url": "http://127.0.0.1:1", "headers": {"Transfer-Encoding": "chunked"}}]})
    )
    r = cli("exporter", "--inventory", str(inv), "--check-config")
    assert r.exit_code == 2 and f"inventory {inv}: agents[0].headers.Transfer-Encoding: " in r.stderr
    monkeypatch.setenv("EXP_SCHEMED_TOKEN", "Bearer s3cret-token-4242")
    cfg.write_text("modules:\n  m:\n    token_env: EXP_SCHEMED_TOKEN\n")
    inv.write_text(json.dumps({"agents": [{"url": "http://127.0.0.1:1", "tokenEnv": "EXP_SCHEMED_TOKEN"}]}))
    r = cli("exporter", "--config", str(cfg), "--inventory", str(inv), "--check-config")
    assert r.exit_code == 0, r.stderr
    assert "modules.m.token_env EXP_SCHEMED_TOKEN starts with 'Bearer '" in r.stderr
    assert "tokenEnv EXP_SCHEMED_TOKEN starts with 'Bearer '" in r.stderr
    for out in (r.stdout, r.stderr):
        assert "s3cret" not in out


def test_inventory_agents_with_the_same_series_labels_are_exit_2(cli: Any, tmp_path: Path) -> None:
    # http://u:p@h and http://h are two agents; their labels drop the userinfo: one series for both
    inv = tmp_path / "agents.txt"
    inv.write_text("http://127.0.0.1:1\nhttp://scrape:pa55word@127.0.0.1:1\n")
    # --check-config refuses what serving would (one code path: a serving run would not return)
    r = cli("exporter", "--inventory", str(inv), "--check-config")
    assert r.exit_code == 2, r.stdout
    assert r.stderr.startswith(f"a2actl: inventory {inv}: agents #1 and #2 get the same series labels")
    assert "pa55word" not in r.stderr


# ------------------------------------------------------------------ FIFO and <(cmd) start-up files


@pytest.mark.parametrize("check", [[], ["--check-config"]], ids=["serve", "check-config"])
@pytest.mark.parametrize("option", ["--config", "--inventory"])
def test_a_start_up_file_that_never_arrives_is_exit_5_naming_it(
    tmp_path: Path, option: str, check: list[str]
) -> None:
    """--config/--inventory naming a FIFO or <(cmd) that never delivers: the exporter blocked in
    open() for ever, never listening and never failing (only a signal ended it). The start-up reads
    them under --max-time: exit 5, one line naming the file."""
    from tests.fifo import run_a2actl

    fifo = tmp_path / "start-up.fifo"
    os.mkfifo(fifo)
    ran = run_a2actl("--max-time", "1.5s", "-o", "json", "exporter", "--port", "0", option, str(fifo), *check)
    assert ran.code == 5, (ran.code, ran.out[-500:], ran.err[-500:])
    error = json.loads(ran.out)["error"]
    assert error["message"] == f"gave up after --max-time 1.5s: {option} {fifo} not read yet"
    assert ran.elapsed < 10, ran.elapsed


@pytest.mark.parametrize("option", ["--config", "--cacert"])
def test_the_start_up_has_a_default_deadline_and_sigterm_ends_it(tmp_path: Path, option: str) -> None:
    """Without --max-time the start-up has the exporter's default (60 s; shortened here in the
    child): a global --cacert FIFO waited for ever too. One SIGTERM meanwhile is exit 130."""
    from tests.fifo import run_a2actl

    fifo = tmp_path / "start-up.fifo"
    os.mkfifo(fifo)
    argv = ["--cacert", str(fifo), "exporter"] if option == "--cacert" else ["exporter", option, str(fifo)]
    ran = run_a2actl(
        "-o", "json", *argv, "--check-config",
        prelude="from a2actl.cli import context\ncontext.DEFAULT_MAX_TIME['exporter'] = 1.5",
    )  # fmt: skip
    assert ran.code == 5, (ran.code, ran.out[-500:], ran.err[-500:])
    message = json.loads(ran.out)["error"]["message"]
    assert (
        message == f"gave up after --max-time 1.5s (the default for 'exporter'): {option} {fifo} not read yet"
    )
    ran = run_a2actl("exporter", "--port", "0", "--config", str(fifo), term_after=1.5, timeout=10)
    assert ran.code == 130, (ran.code, ran.err[-500:])
    assert ran.err.strip() == "a2actl: interrupted"


def test_start_up_files_from_fifos_fed_in_any_order(tmp_path: Path, sandbox: Any) -> None:
    """--config <(…) --inventory <(…): read once each, together (the inventory's writer comes first
    here and must not wait for the config's), then served as from regular files."""
    config, inventory = tmp_path / "config.fifo", tmp_path / "agents.fifo"
    os.mkfifo(config)
    os.mkfifo(inventory)

    def feed(path: Path, data: str, after: float) -> None:
        time.sleep(after)
        with open(path, "w") as w:
            w.write(data)

    threading.Thread(
        target=feed, args=(config, "modules:\n  quick:\n    timeout: 5s\n", 1.0), daemon=True
    ).start()
    threading.Thread(target=feed, args=(inventory, f"{sandbox.url}\n", 0.2), daemon=True).start()
    e = Exporter(
        "--config", str(config), "--inventory", str(inventory), "--module", "quick", "--interval", "1s"
    )
    try:
        assert wait_for(lambda: by_agent(e.metrics(), "a2a_agent_up").get(sandbox.url) == 1.0), e.metrics()
        status, body = e.get("/probe", target=sandbox.url, module="quick")
        assert status == 200 and samples(body)["probe_success"] == [({}, 1.0)], body
    finally:
        code, err = e.stop()
    assert code == 130, err


def test_an_inventory_on_a_closed_stdin_is_a_usage_error() -> None:
    """`a2actl exporter --inventory - <&-`: Python's sys.stdin is None; the read-ahead of standard
    input (Invocation.read_files) was exit 1 "unexpected AttributeError". Exit 2, naming the option."""
    from tests.procs import a2actl_stdin_closed

    r = a2actl_stdin_closed("-o", "json", "exporter", "--inventory", "-", "--check-config")
    assert r.returncode == 2, (r.stdout, r.stderr)
    error = json.loads(r.stdout)["error"]
    assert error["code"] == "usage"
    assert error["message"] == "cannot read --inventory -: standard input is closed"
