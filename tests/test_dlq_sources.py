"""Issue 13: DLQ file sources as users write them, and a sandbox worker that refuses to start (or to
take messages) when it cannot dead-letter. The README's dead-letter story runs end to end with real
``a2actl sandbox serve`` processes and a relative ``file://dlq.jsonl``."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from a2actl.core.errors import A2ACtlError
from a2actl.dlq.store.file import FileBackend
from a2actl.server.sandbox.options import SandboxOptions
from a2actl.server.sandbox.server import RunningSandbox
from tests.cli.test_dlq import entries_for, fill


def test_relative_and_absolute_file_forms(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sub").mkdir()
    ids = fill(FileBackend(tmp_path / "sub" / "dlq.jsonl"), entries_for("http://127.0.0.1:9", 3))
    monkeypatch.chdir(tmp_path / "sub")
    forms = [
        "file://dlq.jsonl",
        "file:dlq.jsonl",
        "file://./dlq.jsonl",
        "dlq.jsonl",
        "./dlq.jsonl",
        f"file://{tmp_path}/sub/dlq.jsonl",
        f"file://localhost{tmp_path}/sub/dlq.jsonl",
        f"{tmp_path}/sub/dlq.jsonl",
        "file://../sub/dlq.jsonl",
        f"file://{tmp_path}/s%75b/dlq.jsonl",
    ]
    for src in forms:
        r = cli("dlq", "list", src, "-o", "json")
        assert r.exit_code == 0, (src, r.stdout, r.stderr)
        assert [e["id"] for e in r.json["entries"]] == ids, src
        assert r.stderr == "", (src, r.stderr)
    monkeypatch.chdir(tmp_path)
    assert [e["id"] for e in cli("dlq", "list", "file://sub/dlq.jsonl", "-o", "json").json["entries"]] == ids


@pytest.mark.parametrize("src", ["file:", "file://", "file:///", "file://{tmp}", "{tmp}"])
def test_file_sources_that_name_no_file(cli: Any, tmp_path: Path, src: str) -> None:
    for cmd in (["list"], ["stats"], ["replay", "--yes"]):
        r = cli("dlq", *cmd, src.format(tmp=tmp_path), "-o", "json")
        assert r.exit_code == 2, (cmd, r.stdout)
        assert r.json["error"]["code"] == "usage"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _serve(cwd: Path, port: int, *args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "a2actl", "sandbox", "serve", "--port", str(port), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    assert url == f"http://127.0.0.1:{port}", proc.stderr.read() if proc.stderr else ""
    return proc, url


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_readme_story_with_a_relative_file_dlq(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: serve --dlq file://dlq.jsonl --worker-fault transient, queue 3 orders, list, restart
    fixed, replay, every messageId delivered exactly once."""
    port = _free_port()
    broken, url = _serve(tmp_path, port, "--dlq", "file://dlq.jsonl", "--worker-fault", "transient")
    try:
        for i in (1, 2, 3):
            r = httpx.post(
                url + "/a2a/queue",
                content=json.dumps(
                    {
                        "message": {
                            "messageId": f"order-{i}",
                            "role": "ROLE_USER",
                            "parts": [{"text": f"order {i}"}],
                        }
                    }
                ),
            )
            assert r.status_code == 202
        monkeypatch.chdir(tmp_path)
        deadline = time.monotonic() + 15
        while cli("dlq", "list", "file://dlq.jsonl", "-o", "json").json["count"] < 3:
            assert time.monotonic() < deadline and broken.poll() is None, "messages were not dead-lettered"
            time.sleep(0.05)
    finally:
        err = _stop(broken)
    assert "Traceback" not in err and "Error" not in err, err
    listed = cli("dlq", "list", "file://dlq.jsonl", "-o", "json").json
    assert sorted(e["messageId"] for e in listed["entries"]) == ["order-1", "order-2", "order-3"]
    assert {(e["errorClass"], e["errorCode"], e["attempts"]) for e in listed["entries"]} == {
        ("transient", -32603, 3)
    }
    fixed, url = _serve(tmp_path, port, "--dlq", "file://dlq.jsonl")
    try:
        r = cli("dlq", "replay", "file://dlq.jsonl", "--yes", "--journal", str(tmp_path / "j"), "-o", "json")
        assert r.exit_code == 0 and r.json["acknowledged"] == 3
        got = httpx.get(url + "/debug/a2a/received").json()["messages"]
        assert {m: got[m]["deliveries"] for m in got} == {"order-1": 1, "order-2": 1, "order-3": 1}
    finally:
        _stop(fixed)
    assert cli("dlq", "list", "file://dlq.jsonl", "-o", "json").json["count"] == 0


def _refused_redis() -> str:
    return f"redis://127.0.0.1:{_free_port()}/0?stream=dlq"


@pytest.mark.parametrize(
    ("dlq", "exit_code"),
    [
        ("file:///nonexistent-a2actl-dir/dlq.jsonl", 2),
        ("file://{tmp}", 2),  # a directory
        ("{tmp}/ro/dlq.jsonl", 2),  # a path under a file, not a directory
        ("http://127.0.0.1:9/debug/a2a/dlq", 2),  # read/replay only
        ("redis://127.0.0.1:6379/0", 2),  # no stream=
        ("REFUSED", 3),
        ("WRONGTYPE", 2),
    ],
)
def test_sandbox_refuses_to_start_without_a_dlq(
    cli: Any, tmp_path: Path, redis_url: str, dlq: str, exit_code: int
) -> None:
    (tmp_path / "ro").write_text("a file, not a directory")
    if dlq == "REFUSED":
        dlq = _refused_redis()
    elif dlq == "WRONGTYPE":
        redis.Redis.from_url(redis_url).set("a-string", "x")
        dlq = f"{redis_url}?stream=a-string"
    r = cli(
        "sandbox",
        "serve",
        "--port",
        "0",
        "--dlq",
        dlq.format(tmp=tmp_path),
        "--worker-fault",
        "transient",
        "-o",
        "json",
    )
    assert r.exit_code == exit_code, (r.stdout, r.stderr)
    assert r.json["error"]["message"].startswith(("cannot dead-letter", "the HTTP DLQ", "redis://"))
    assert "Traceback" not in r.stderr
    with pytest.raises(A2ACtlError) as exc:  # the in-process sandbox refuses too
        RunningSandbox(SandboxOptions(dlq=dlq.format(tmp=tmp_path)))
    assert exc.value.exit_code == exit_code


def test_worker_keeps_messages_it_cannot_dead_letter(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The DLQ breaks after start: the message is logged whole (to re-send) and the queue answers 503."""
    path = tmp_path / "dlq.jsonl"
    sb = RunningSandbox(
        SandboxOptions(stream_interval=0.005, dlq=f"file://{path}", worker_fault="transient")
    ).start()
    try:
        path.unlink()
        path.mkdir()  # appends now fail (IsADirectoryError), even for root
        with caplog.at_level(logging.ERROR, logger="a2actl.server.sandbox.worker"):
            msg = {"message": {"messageId": "kept-1", "role": "ROLE_USER", "parts": [{"text": "x"}]}}
            assert httpx.post(sb.url + "/a2a/queue", json=msg).status_code == 202
            deadline = time.monotonic() + 15
            while (
                r := httpx.post(
                    sb.url + "/a2a/queue", json={"message": {**msg["message"], "messageId": "probe"}}
                )
            ).status_code == 202:
                assert time.monotonic() < deadline, "the worker never said its DLQ is broken"
                time.sleep(0.2)
            assert (
                r.status_code == 503 and "dead-letter queue cannot be written" in r.json()["error"]["message"]
            )
            deadline = time.monotonic() + 15
            while not any("kept-1" in rec.getMessage() for rec in caplog.records):
                assert time.monotonic() < deadline
                time.sleep(0.1)
        logged = next(rec.getMessage() for rec in caplog.records if "kept-1" in rec.getMessage())
        entry = json.loads(logged.split("re-send it: ", 1)[1])
        assert entry["request"]["params"]["message"]["messageId"] == "kept-1"
    finally:
        sb.stop()
        shutil.rmtree(path, ignore_errors=True)
    assert not os.path.exists(path)
