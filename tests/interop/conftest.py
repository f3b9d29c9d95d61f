"""Interop fixtures: real echo agents on other A2A SDKs, each a subprocess on a free loopback port.

* ``agent_sdk03``       a2a-sdk 0.3.26, card ``preferredTransport: JSONRPC`` (tests/agents/sdk03/agent.py)
* ``agent_sdk03_rest``  the same agent in its own process, card ``preferredTransport: HTTP+JSON``
* ``agent_js``          @a2a-js/sdk 1.3.0, A2A 1.0 only (tests/agents/js/agent.mjs)
* ``agent_js_compat``   @a2a-js/sdk 1.3.0 with ``legacyCompat: {enabled: true}`` (1.0 + 0.3)

All serve JSON-RPC at ``/a2a/jsonrpc`` and HTTP+JSON under ``/a2a/rest`` (0.3 routes ``/a2a/rest/v1/…``),
the card at ``/.well-known/agent-card.json`` and ``/debug/requests`` (what they received). Behaviour is
the sandbox's table (a2actl/sandbox/agent.py): plain text → completed with a two-chunk echo artifact;
``/fail``, ``/input``, ``/auth``, ``/reject``, ``/cancel`` end in that state; ``/msg TEXT`` a bare
Message; ``/slow N`` N seconds between steps; ``/stream N BYTES``.

Agents are session-scoped and shared: call ``agent.clear_requests()`` before asserting on
``agent.requests()``, and do not rely on an empty task store.

Setup: the 0.3 agent runs in its own venv (tests/agents/sdk03/setup_venv.py, cached in
``$A2ACTL_TEST_CACHE`` or ``~/.cache/a2actl-tests``), the JS agents need node ≥ 20 and
``npm ci`` in tests/agents/js (run here when node_modules is missing). Missing or failed setup is a
skip with the reason, except with ``CI=true``, where it is a failure (.ci/run prepares both).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

AGENTS = Path(__file__).resolve().parent.parent / "agents"
JS_DIR = AGENTS / "js"
SDK03_NAME = "a2a-sdk 0.3.26"
JS_NAME = "@a2a-js/sdk 1.3.0"
START_TIMEOUT = 60.0
#: Read at import: tests/conftest.py's autouse fixture removes A2ACTL_* variables for each test.
_CACHE_ENV = os.environ.get("A2ACTL_TEST_CACHE")


def _setup_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "a2actl_interop_sdk03_setup", AGENTS / "sdk03" / "setup_venv.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sdk03_setup = _setup_module()


def _cache_dir() -> Path:
    return Path(_CACHE_ENV).expanduser() if _CACHE_ENV else Path.home() / ".cache" / "a2actl-tests"


def _missing(reason: str) -> NoReturn:
    """Setup that is missing: a failure in CI (CI=true), a skip with the reason elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"interop setup: {reason}", pytrace=False)
    pytest.skip(f"interop setup: {reason}")


@dataclass
class InteropAgent:
    """A running interop agent. ``url`` is the base URL (no trailing slash)."""

    name: str
    sdk: str  # "a2a-sdk 0.3.26" or "@a2a-js/sdk 1.3.0"
    url: str
    bindings: tuple[str, ...]  # ("JSONRPC", "HTTP+JSON")
    versions: tuple[str, ...]  # A2A versions it speaks: ("0.3",), ("1.0",) or ("1.0", "0.3")
    preferred: str  # the binding its card lists first (0.3: preferredTransport)
    stderr_path: Path = field(repr=False)
    proc: subprocess.Popen[bytes] = field(repr=False)

    @property
    def card_url(self) -> str:
        return f"{self.url}/.well-known/agent-card.json"

    @property
    def jsonrpc_url(self) -> str:
        return f"{self.url}/a2a/jsonrpc"

    @property
    def rest_url(self) -> str:
        """The HTTP+JSON interface URL (0.3 paths are under ``{rest_url}/v1/…``)."""
        return f"{self.url}/a2a/rest"

    def requests(self) -> list[dict[str, Any]]:
        """What the agent received, oldest first (``/debug/…`` excluded): ``method``, ``path``,
        ``query``, ``rpc_method`` (JSON-RPC ``method`` or None), ``a2a_version`` (the ``A2A-Version``
        header or None), ``content_type``, ``status`` (None while the response has not started)."""
        import httpx

        r = httpx.get(f"{self.url}/debug/requests", timeout=10)
        r.raise_for_status()
        return r.json()

    def rpc_methods(self) -> list[str]:
        """The JSON-RPC method names received, in order."""
        return [e["rpc_method"] for e in self.requests() if e["rpc_method"]]

    def clear_requests(self) -> None:
        import httpx

        httpx.delete(f"{self.url}/debug/requests", timeout=10).raise_for_status()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def _start(cmd: list[str], cwd: Path, label: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start ``cmd``; wait for its first stdout line (the base URL). Fails with its stderr."""
    tmp = Path(tempfile.mkdtemp(prefix="a2actl-interop-"))
    out_path, err_path = tmp / "stdout", tmp / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        text = out_path.read_text(errors="replace")
        if "\n" in text:
            url = text.split("\n", 1)[0].strip().rstrip("/")
            if url.startswith("http://"):
                return proc, url, err_path
            _stop(proc)
            pytest.fail(f"{label}: first stdout line is not a URL: {url!r}\nstderr:\n{err_path.read_text()}")
        if proc.poll() is not None or time.monotonic() > deadline:
            why = (
                f"exited {proc.returncode}"
                if proc.poll() is not None
                else f"no URL within {START_TIMEOUT:.0f}s"
            )
            _stop(proc)
            pytest.fail(
                f"{label} did not start ({why}): {' '.join(cmd)}\nstderr:\n"
                f"{err_path.read_text(errors='replace')[-4000:]}"
            )
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """The 0.3 venv builder's cross-process lock, for npm ci too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sdk03_setup._locked(path):
        yield


# ---------------------------------------------------------------------------------------------------
# Setup: the 0.3 venv and the JS node_modules
# ---------------------------------------------------------------------------------------------------


def sdk03_ready() -> bool:
    return sdk03_setup.is_ready(sdk03_setup.venv_dir(_cache_dir()))


def js_ready() -> bool:
    """node_modules holds what package-lock.json pins (@a2a-js/sdk and express)."""
    try:
        lock = json.loads((JS_DIR / "package-lock.json").read_text())["packages"]
        for pkg in ("node_modules/@a2a-js/sdk", "node_modules/express"):
            installed = json.loads((JS_DIR / pkg / "package.json").read_text())["version"]
            if installed != lock[pkg]["version"]:
                return False
        return True
    except (OSError, KeyError, ValueError):
        return False


@pytest.fixture(scope="session")
def sdk03_python() -> Path:
    """The a2a-sdk 0.3 venv's python, built on first use."""
    try:
        return sdk03_setup.ensure_venv(_cache_dir(), python=sys.executable)
    except (RuntimeError, OSError) as e:
        _missing(f"could not build the a2a-sdk 0.3 venv in {_cache_dir()}: {e}")


@pytest.fixture(scope="session")
def js_node() -> str:
    """The node executable, with tests/agents/js/node_modules installed (``npm ci``) if missing."""
    exe = shutil.which("node")
    if exe is None:
        _missing("node is not installed (the JS interop agents need node >= 20 and npm)")
    r = subprocess.run([exe, "-p", "process.versions.node.split('.')[0]"], capture_output=True, text=True)
    if r.returncode != 0 or int(r.stdout.strip() or 0) < 20:
        _missing(f"node >= 20 is needed for @a2a-js/sdk 1.3.0, found {r.stdout.strip() or r.stderr.strip()}")
    if not js_ready():
        npm = shutil.which("npm")
        if npm is None:
            _missing("npm is not installed; run `npm ci --prefix tests/agents/js`")
        with _lock(_cache_dir() / "npm-ci.lock"):
            if not js_ready():
                try:
                    r = subprocess.run(
                        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                        cwd=JS_DIR,
                        capture_output=True,
                        text=True,
                        timeout=600,
                        stdin=subprocess.DEVNULL,
                    )
                except subprocess.TimeoutExpired:
                    _missing("`npm ci` in tests/agents/js timed out after 600 s")
                if r.returncode != 0 or not js_ready():
                    _missing(
                        f"`npm ci` in tests/agents/js failed ({r.returncode}):\n{(r.stdout + r.stderr)[-3000:]}"
                    )
    return exe


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """First run: building the 0.3 venv / npm ci happens in a test's setup; give those tests time."""
    if sdk03_ready() and js_ready():
        return
    for item in items:
        if any(
            name.startswith("agent_sdk03") or name.startswith("agent_js")
            for name in getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.timeout(900))


# ---------------------------------------------------------------------------------------------------
# The agents
# ---------------------------------------------------------------------------------------------------


def _sdk03(python: Path, preferred: str, name: str) -> Iterator[InteropAgent]:
    cmd = [str(python), str(AGENTS / "sdk03" / "agent.py"), "--port", "0", "--preferred", preferred]
    proc, url, err = _start(cmd, AGENTS / "sdk03", name)
    try:
        yield InteropAgent(
            name=name,
            sdk=SDK03_NAME,
            url=url,
            bindings=("JSONRPC", "HTTP+JSON"),
            versions=("0.3",),
            preferred=preferred,
            stderr_path=err,
            proc=proc,
        )
    finally:
        _stop(proc)
        shutil.rmtree(err.parent, ignore_errors=True)


def _js(node: str, compat: bool, name: str) -> Iterator[InteropAgent]:
    cmd = [node, str(JS_DIR / "agent.mjs"), "--port", "0", *(["--compat"] if compat else [])]
    proc, url, err = _start(cmd, JS_DIR, name)
    try:
        yield InteropAgent(
            name=name,
            sdk=JS_NAME,
            url=url,
            bindings=("JSONRPC", "HTTP+JSON"),
            versions=("1.0", "0.3") if compat else ("1.0",),
            preferred="JSONRPC",
            stderr_path=err,
            proc=proc,
        )
    finally:
        _stop(proc)
        shutil.rmtree(err.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def agent_sdk03(sdk03_python: Path) -> Iterator[InteropAgent]:
    """a2a-sdk 0.3.26: 0.3 card (``protocolVersion: "0.3.0"``), preferredTransport JSONRPC."""
    yield from _sdk03(sdk03_python, "JSONRPC", "sdk03")


@pytest.fixture(scope="session")
def agent_sdk03_rest(sdk03_python: Path) -> Iterator[InteropAgent]:
    """a2a-sdk 0.3.26, a second process whose card prefers HTTP+JSON (``url`` is the REST base)."""
    yield from _sdk03(sdk03_python, "HTTP+JSON", "sdk03-rest")


@pytest.fixture(scope="session")
def agent_js(js_node: str) -> Iterator[InteropAgent]:
    """@a2a-js/sdk 1.3.0, A2A 1.0 only (a header-less request is refused as 0.3)."""
    yield from _js(js_node, False, "js")


@pytest.fixture(scope="session")
def agent_js_compat(js_node: str) -> Iterator[InteropAgent]:
    """@a2a-js/sdk 1.3.0 with ``legacyCompat: {enabled: true}``: 1.0 and 0.3 on the same URLs."""
    yield from _js(js_node, True, "js-compat")
