"""Fixtures for ``push listen``: ``push_cli`` runs the real app (``a2actl.cli.app``) with ``push``
registered in ``LAZY_COMMANDS`` (a no-op once the lead wires it), in a thread, so a test can POST to
the receiver while the command runs; ``free_port`` picks a port for ``--listen``."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from a2actl.cli import app as app_module
from a2actl.server.sandbox.server import RunningSandbox
from tests.conftest import Result, _sandbox

PUSH_ENTRY = ("a2actl.cli.push", "app", "Push notifications: a webhook receiver that checks deliveries.")


@pytest.fixture(autouse=True)
def _push_wired(monkeypatch: pytest.MonkeyPatch) -> None:
    if "push" not in app_module.LAZY_COMMANDS:
        monkeypatch.setitem(app_module.LAZY_COMMANDS, "push", PUSH_ENTRY)


@pytest.fixture
def free_port() -> int:
    """A port nobody listens on right now (bound to 0, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Background:
    """``a2actl ARGS`` running in a thread; ``result()`` waits for it."""

    def __init__(self, args: list[str], env: dict[str, str] | None) -> None:
        self.args = args
        self.env = env
        self._result: Result | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        r = CliRunner().invoke(app_module.app, self.args, env=self.env, catch_exceptions=False)
        self._result = Result(r.exit_code, r.stdout, r.stderr)

    def start(self) -> Background:
        self._thread.start()
        return self

    def result(self, timeout: float = 60) -> Result:
        self._thread.join(timeout)
        assert self._result is not None, f"a2actl {' '.join(self.args)} did not finish in {timeout}s"
        return self._result


@pytest.fixture
def push_cli() -> Any:
    """Run ``a2actl ARGS`` in-process (the ``cli`` fixture's way); ``background=True`` returns a
    ``Background`` already started."""

    def run(*args: str, env: dict[str, str] | None = None, background: bool = False) -> Any:
        bg = Background(list(args), env).start()
        return bg if background else bg.result()

    return run


@pytest.fixture(scope="module")
def push_sandbox() -> Iterator[RunningSandbox]:
    """A sandbox (1.0 + 0.3 compat) that pushes; '/slow N' keeps a task working N seconds."""
    yield from _sandbox()
