"""Compressed answers (issue #12 item 5): the sandbox behind a gzip middleware works for every
command, SSE included; a decompression bomb stops at the body limit with bounded memory; content
codings a2actl did not ask for are named."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.gzip_servers import BOMB_BYTES, bomb_app, gzip_sandbox_app
from tests.servers import LoopbackServer


@pytest.fixture(scope="module")
def gzip_sandbox() -> Iterator[str]:
    with LoopbackServer(gzip_sandbox_app) as srv:
        yield srv.url


@pytest.fixture(scope="module")
def bombs() -> Iterator[str]:
    with LoopbackServer(bomb_app) as srv:
        yield srv.url


def gzipped(stderr: str) -> int:
    """How many answers the -v wire log shows as gzip-encoded."""
    return sum(1 for line in stderr.lower().splitlines() if "content-encoding: gzip" in line)


def test_card_get_gzip(cli: Any, gzip_sandbox: str) -> None:
    r = cli("card", "get", gzip_sandbox, "-v", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["card"]["name"] == "a2actl sandbox agent"
    assert r.json["normalized"]["shape"] == "hybrid"
    assert gzipped(r.stderr) == 1


def test_send_gzip(cli: Any, gzip_sandbox: str) -> None:
    r = cli("send", gzip_sandbox, "hello", "-v", "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.json["state"] == "completed"
    assert r.json["result"]["artifacts"][0]["text"] == "echo: hello"
    assert gzipped(r.stderr) == 2  # the card and the SendMessage answer


@pytest.mark.parametrize("args", [[], ["--binding", "HTTP+JSON"]])
def test_send_stream_gzip_sse(cli: Any, gzip_sandbox: str, args: list[str]) -> None:
    r = cli("send", gzip_sandbox, "hello", "--stream", "-v", "-o", "jsonl", *args)
    assert r.exit_code == 0, r.stderr
    lines = r.jsonl
    assert lines[-1]["type"] == "result" and lines[-1]["state"] == "completed"
    assert gzipped(r.stderr) == 2  # the card and the event stream


def test_stream_tail_gzip_sse(cli: Any, gzip_sandbox: str) -> None:
    r = cli("stream", "tail", gzip_sandbox, "--send", "hi", "-o", "jsonl")
    assert r.exit_code == 0, r.stderr
    summary = r.jsonl[-1]
    assert summary["type"] == "summary" and summary["finalState"] == "completed"


def test_handshake_probe_gzip_reports_wire_and_decoded_sizes(cli: Any, gzip_sandbox: str) -> None:
    r = cli("handshake", "probe", gzip_sandbox, "--send", "hi", "-o", "json")
    assert r.exit_code == 0, r.stderr
    s = r.json["samples"][0]
    assert s["ok"] is True and s["rpc"]["error"]["code"] == -32001
    assert s["send"]["finalState"] == "completed" and s["send"]["streaming"] is True
    size = s["cardBytes"]
    assert size["contentEncoding"] == "gzip"
    assert 0 < size["wire"] < size["decoded"]


def test_handshake_probe_plain_sizes_are_equal(cli: Any, sandbox: Any) -> None:
    size = cli("handshake", "probe", sandbox.url, "-o", "json").json["samples"][0]["cardBytes"]
    assert size["contentEncoding"] is None and size["wire"] == size["decoded"] > 0


def test_card_bomb_stops_at_the_card_limit(cli: Any, bombs: str) -> None:
    r = cli("card", "get", bombs + "/bomb/agent-card.json", "-o", "json")
    assert r.exit_code == 6
    err = r.json["error"]
    assert "gzip body that decodes to more than 10,485,760 bytes" in err["message"]
    assert "decompression bomb" in err["hint"]


@pytest.mark.parametrize("command", [["send", "{url}", "hi"], ["handshake", "probe", "{url}"]])
def test_rpc_bomb_stops_at_the_body_limit(cli: Any, bombs: str, command: list[str]) -> None:
    r = cli(*(a.format(url=bombs + "/rpcbomb/agent-card.json") for a in command), "-o", "json")
    assert r.exit_code == 6
    doc = r.json
    err = doc["error"] if "error" in doc else doc["samples"][0]["error"]
    assert "decodes to more than 67,108,864 bytes" in err["message"]


def test_bomb_memory_is_bounded(bombs: str) -> None:
    """A 1 GiB bomb, read by a real process: its peak RSS stays far below what it would inflate to
    (the card limit plus one decoded read), measured against the same command on a plain card."""

    def peak_rss_kib(url: str) -> tuple[int, int]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "a2actl", "card", "get", url, "-o", "json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        return proc.returncode, usage.ru_maxrss

    code, bomb_kib = peak_rss_kib(bombs + "/bomb/agent-card.json")
    assert code == 6
    _, plain_kib = peak_rss_kib(bombs + "/rpcbomb/agent-card.json")  # a small gzip card
    extra_mib = (bomb_kib - plain_kib) / 1024
    assert extra_mib < 100, f"the bomb cost {extra_mib:.0f} MiB over a plain card"
    assert BOMB_BYTES / 1024 / 1024 > 10 * 100  # the bound means something: the bomb is 1 GiB


@pytest.mark.parametrize(("case", "named"), [("double", "'gzip, gzip'"), ("brotli", "'br'")])
def test_codings_not_asked_for_are_named(cli: Any, bombs: str, case: str, named: str) -> None:
    r = cli("card", "get", f"{bombs}/{case}/agent-card.json", "-o", "json")
    assert r.exit_code == 6
    assert f"Content-Encoding {named}" in r.json["error"]["message"]
    assert "gzip, deflate" in r.json["error"]["message"]
