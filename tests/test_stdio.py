"""A closed or read-only stdout, a closed stderr (``a2actl.stdio``): the real process, started
with the descriptor closed as a shell's ``>&-``/``2>&-`` does. Python then makes ``sys.stdout`` or
``sys.stderr`` ``None``, which crashed with a traceback once a line was written (and again in the
error boundary), after the command had done its work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest


def _a2actl(*args: str, close: tuple[int, ...] = (), **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """``python -m a2actl ARGS`` with the descriptors ``close`` closed in the child (``>&-`` is 1,
    ``2>&-`` is 2); stdout and stderr are pipes unless ``kw`` says otherwise."""

    cmd = [sys.executable, "-m", "a2actl", *args]
    if close:
        # the shell closes them (`exec CMD 1>&-`), not a preexec_fn: Python code between fork and
        # exec runs the at-fork handlers of what this process loaded, and grpcio's (the sandbox's
        # gRPC server) restarted its poller in the child, which aborted there now and then
        # ("epoll_wait error: Bad file descriptor", exit -6, a fresh-clone CI run)
        redirects = " ".join(f"{fd}>&-" for fd in close)
        cmd = ["/bin/sh", "-c", f'exec "$@" {redirects}', "sh", *cmd]
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, timeout=60, check=False, **kw)


def _received(sandbox: Any) -> dict[str, Any]:
    got: dict[str, Any] = httpx.get(sandbox.url + "/debug/a2a/received").json()["messages"]
    return got


@pytest.mark.parametrize(
    "args", [["send", "{url}", "hi", "--message-id", "{mid}"], ["--version"], ["--help"]]
)
def test_a_closed_stdout_is_refused_before_anything_is_done(sandbox: Any, args: list[str]) -> None:
    """``a2actl send URL hi >&-`` sent the message, then crashed with a traceback (``sys.stdout`` is
    None: in the renderer, and again in the error boundary), exit 1; ``--version >&-`` likewise.
    It is one line on stderr, exit 2, and nothing is sent."""
    mid = f"closed-stdout-{uuid.uuid4().hex[:8]}"
    argv = [a.format(url=sandbox.url, mid=mid) for a in args]
    r = _a2actl(*argv, close=(1,), stdout=None)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert err.splitlines() == [
        "a2actl: standard output is closed (>&-): nothing was done; to discard the output, redirect it to /dev/null"
    ]
    assert mid not in _received(sandbox)


def test_a_stdout_open_only_for_reading_is_refused(sandbox: Any) -> None:
    """``a2actl send URL hi 1</dev/null`` sent the message, then was exit 1 "unexpected OSError: [Errno
    9] Bad file descriptor"."""
    mid = f"ro-stdout-{uuid.uuid4().hex[:8]}"
    with open(os.devnull, "rb") as read_only:
        r = _a2actl("send", sandbox.url, "hi", "--message-id", mid, stdout=read_only)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert err.startswith("a2actl: standard output is not open for writing: nothing was done")
    assert len(err.splitlines()) == 1 and mid not in _received(sandbox)


def test_a_closed_stderr_discards_diagnostics_and_keeps_exit_codes(sandbox: Any, refused_url: str) -> None:
    """``2>&-``: every error crashed in the error boundary writing its line (``sys.stderr`` is None),
    so an unreachable agent (3) or a bad --data file (2) was exit 1. Diagnostics go to /dev/null;
    the output and the exit code are the command's."""
    r = _a2actl("-o", "json", "send", refused_url, "hi", close=(2,), stderr=None)
    assert r.returncode == 3, r.stdout
    assert json.loads(r.stdout)["error"]["code"] == "unreachable"
    r = _a2actl("-o", "json", "send", sandbox.url, "hi", "--data", "@/no/such/file", close=(2,), stderr=None)
    assert r.returncode == 2 and json.loads(r.stdout)["error"]["code"] == "usage"
    r = _a2actl("-vv", "-o", "json", "send", sandbox.url, "hi", close=(2,), stderr=None)  # -vv: stderr
    assert r.returncode == 0 and json.loads(r.stdout)["state"] == "completed"
    r = _a2actl("--version", close=(1, 2), stdout=None, stderr=None)  # both closed: refused, silently
    assert r.returncode == 2


def test_a_closed_stderr_is_not_taken_by_a_file_opened_later(tmp_path: Any) -> None:
    """With descriptor 2 closed, the next file or socket the process opens gets the number 2, and
    a child process or a C library writing to "stderr" writes into it. /dev/null is put there."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os, sys\n"
        "from a2actl.stdio import check_standard_streams\n"
        "assert check_standard_streams() is None\n"
        "print(os.readlink('/proc/self/fd/2'), sys.stderr.fileno())\n"
    )

    def closing() -> None:
        os.close(2)

    r = subprocess.run(
        [sys.executable, str(probe)],
        capture_output=False,
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=os.getcwd(),
        env={**os.environ, "PYTHONPATH": os.getcwd()},
        timeout=30,
        preexec_fn=closing,  # noqa: PLW1509
        check=False,
    )
    assert r.returncode == 0
    assert r.stdout.decode().split() == [os.devnull, "2"]


# ------------------------------------------------------------------- a stdout that cannot be written

FULL = "/dev/full"  # every write fails with ENOSPC, as on a full disk
FULL_LINE = "a2actl: standard output: cannot write: No space left on device"
needs_dev_full = pytest.mark.skipif(not os.path.exists(FULL), reason="no /dev/full here")


def _to_full(*args: str) -> subprocess.CompletedProcess[bytes]:
    """``python -m a2actl ARGS > /dev/full``."""
    with open(FULL, "wb") as full:
        return _a2actl(*args, stdout=full)


@needs_dev_full
@pytest.mark.parametrize(
    "args",
    [
        ["card", "get", "{url}"],
        ["-o", "json", "card", "get", "{url}"],
        ["-o", "jsonl", "send", "--stream", "{url}", "hi"],
        ["--max-time", "5s", "stream", "tail", "{url}", "--send", "hi"],
        ["--version"],
        ["exporter", "--port", "0"],  # its URL, printed once it listens
        ["-o", "json", "--version"],  # not alone: the root's --version option
        ["--help"],
        ["card", "--help"],
        ["task", "cancel", "--help"],
        ["send", "-h"],
        ["--show-completion", "bash"],
    ],
    ids=[
        "table",
        "json",
        "jsonl",
        "stream-tail",
        "version",
        "exporter",
        "root-version-option",
        "help",
        "group-help",
        "command-help",
        "single-command-help",
        "show-completion",
    ],
)
def test_a_full_stdout_is_exit_2_naming_it(sandbox: Any, args: list[str]) -> None:
    """``a2actl card get URL > /dev/full`` was exit 1 "unexpected OSError: [Errno 28] …"; with ``-o
    json`` a traceback (the error boundary wrote the error object to the same full disk), and
    ``--version`` a traceback; ``--help`` a traceback, a subcommand's ``--help`` exit 1 "unexpected
    OSError"; ``--show-completion bash`` typer's traceback, exit 1. Exit 2, as a closed stdout: one
    line naming standard output and why."""
    r = _to_full(*[a.format(url=sandbox.url) for a in args])
    err = r.stderr.decode()
    assert r.returncode == 2, err
    assert err.splitlines() == [FULL_LINE]


@needs_dev_full
def test_an_error_whose_json_cannot_be_written_keeps_its_exit_code(refused_url: str) -> None:
    """``-o json send UNREACHABLE > /dev/full``: the error object could not be written either, and
    that failure in the error boundary was a traceback (exit 1). The command's own error stays the
    exit code (3), its line first; one more line says standard output could not be written."""
    r = _to_full("-o", "json", "send", refused_url, "hi")
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 3, lines
    assert len(lines) == 2 and lines[0].startswith(f"a2actl: connection to {refused_url}")
    assert lines[1] == FULL_LINE


@needs_dev_full
@pytest.mark.parametrize("jsonl", [(), ("-o", "jsonl")], ids=["table", "jsonl"])
@pytest.mark.parametrize("model", [("-c", "1"), ("--rate", "20")], ids=["closed", "open"])
def test_load_run_with_a_full_stdout_keeps_its_out_file(
    sandbox: Any, tmp_path: Any, jsonl: tuple[str, ...], model: tuple[str, ...]
) -> None:
    """``load run --out FILE > /dev/full``: the report is in FILE; stdout's failure is exit 2, one line.
    With ``-o jsonl`` the first request's record fails: the run stops there (``aborted`` says so)
    and FILE still holds its report; it was lost (the error ended the run without one)."""
    out = tmp_path / "report.json"
    r = _to_full(*jsonl, "load", "run", sandbox.url, "--duration", "3s", *model, "--out", str(out))
    assert r.returncode == 2, r.stderr.decode()
    assert r.stderr.decode().splitlines() == [FULL_LINE]
    doc = json.loads(out.read_text())
    assert doc["kind"] == "a2actl.load.report"
    assert doc["requests"]["ok"] >= 1
    if jsonl:
        assert doc["aborted"] == "stopped: a request's record could not be written"
        assert doc["elapsed"] < 2.5  # stopped at the first record, not at the end of --duration


@needs_dev_full
def test_fleet_probe_jsonl_with_a_full_stdout_keeps_its_out_and_junit_files(
    sandbox: Any, refused_url: str, tmp_path: Any
) -> None:
    """``-o jsonl fleet probe INV --out F --junit J > /dev/full``: the first agent record's write
    failed and ended the probe with neither file written; now the probe goes on, both files are
    written, and stdout's failure is exit 2, one line."""
    inv = tmp_path / "agents.txt"
    inv.write_text(f"{sandbox.url}\n{refused_url}\n")
    out, junit = tmp_path / "fleet.json", tmp_path / "fleet.xml"
    r = _to_full("-o", "jsonl", "fleet", "probe", str(inv), "--out", str(out), "--junit", str(junit))
    assert r.returncode == 2, r.stderr.decode()
    assert r.stderr.decode().splitlines() == [FULL_LINE]
    assert len(json.loads(out.read_text())["agents"]) == 2
    assert "<testsuite" in junit.read_text()


def _stderr_to_full(*args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    """``python -m a2actl ARGS 2> /dev/full``."""
    with open(FULL, "wb") as full:
        return _a2actl(*args, stderr=full, **kw)


@needs_dev_full
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["card", "get", "{refused}"], 3),
        (["-o", "json", "card", "get", "{refused}"], 3),
        (["nosuchcommand"], 2),
        (["card", "get", "--no-such-option"], 2),
        (["card"], 2),  # no arguments: the help, as a usage error, on stderr
        (["-vv", "card", "get", "{url}"], 0),  # -vv: the wire log on stderr
    ],
    ids=["unreachable", "unreachable-json", "no-such-command", "bad-option", "no-args", "verbose-ok"],
)
def test_a_full_stderr_loses_the_messages_not_the_exit_code(
    sandbox: Any, refused_url: str, args: list[str], code: int
) -> None:
    """``a2actl card get UNREACHABLE 2> /dev/full`` was exit 1 (the error line's write failed in the
    error boundary), as was every usage error; a command that succeeded after writing to stderr could
    end 120 (the interpreter's last flush failed). The exit code is the command's; with ``-o json``
    the error object is still on stdout."""
    argv = [a.format(url=sandbox.url, refused=refused_url) for a in args]
    r = _stderr_to_full(*argv)
    assert r.returncode == code, r.stdout
    if "json" in argv:
        assert json.loads(r.stdout)["error"]["code"] == "unreachable"


@needs_dev_full
def test_full_stdout_and_stderr_keep_the_exit_code(refused_url: str) -> None:
    """Both full: nothing can be said, the exit codes are still the command's (3) and stdout's (2)."""
    with open(FULL, "wb") as full:
        r = _a2actl("-o", "json", "card", "get", refused_url, stdout=full, stderr=full)
        assert r.returncode == 3
        r = _a2actl("--help", stdout=full, stderr=full)
        assert r.returncode == 2
