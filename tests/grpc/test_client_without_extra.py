"""Without the ``grpc`` extra (#18): the CLI runs in a subprocess whose ``sitecustomize`` makes
``import grpc`` (and ``google.rpc``) fail, as on an install without ``a2actl[grpc]``. A gRPC interface is
then reported with the install hint, never as the agent's error; ``--binding GRPC`` is exit 2 with the
hint; the other bindings keep their exit codes. Also: non-gRPC paths never import grpc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HIDE = '''
import sys

class _NoGrpc:
    """A meta path finder that refuses grpc and google.rpc, as if the extra were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name in ("grpc", "google.rpc") or name.startswith(("grpc.", "grpc_", "google.rpc.")):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
        return None

sys.meta_path.insert(0, _NoGrpc())
'''

HINT = "pip install 'a2actl[grpc]'"


@pytest.fixture(scope="module")
def hidden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("nogrpc")
    (d / "sitecustomize.py").write_text(HIDE)
    return d


def run(hidden: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("A2ACTL_")}
    env["NO_COLOR"] = "1"
    if hidden is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(hidden), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", "a2actl", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_the_hook_hides_grpc(hidden: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(hidden))
    proc = subprocess.run([sys.executable, "-c", "import grpc"], capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "hidden by the test" in proc.stderr


def test_binding_grpc_without_the_extra_is_exit_2_with_the_hint(hidden: Path, sandbox_grpc) -> None:
    proc = run(hidden, "send", sandbox_grpc.url, "hi", "--binding", "GRPC", "-o", "json")
    assert proc.returncode == 2, proc.stderr
    err = json.loads(proc.stdout)["error"]
    assert err["code"] == "usage" and err["hint"] == HINT


def test_auto_skips_the_grpc_interface_with_the_hint(hidden: Path, sandbox_grpc) -> None:
    proc = run(hidden, "send", sandbox_grpc.url, "hi", "-v", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["state"] == "completed"
    note = next(line for line in proc.stderr.splitlines() if "negotiated" in line)
    assert f"gRPC (needs `{HINT}`) interfaces skipped" in note


def test_grpc_only_agent_without_the_extra_names_the_extra(hidden: Path, sdk_grpc_agent) -> None:
    proc = run(hidden, "send", sdk_grpc_agent.url, "hi", "-o", "json")
    assert proc.returncode == 2, proc.stderr
    err = json.loads(proc.stdout)["error"]
    assert HINT in err["message"] and err["hint"] == HINT


@pytest.mark.parametrize(
    ("binding", "code"), [("JSONRPC", 1), ("HTTP+JSON", 1)], ids=["jsonrpc", "http-json"]
)
def test_other_bindings_keep_their_exit_codes(hidden: Path, sandbox_grpc, binding: str, code: int) -> None:
    proc = run(hidden, "task", "get", sandbox_grpc.url, "nope", "--binding", binding, "-o", "json")
    assert proc.returncode == code
    assert json.loads(proc.stdout)["error"]["a2aCode"] == -32001


def _imports(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "a2actl", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    return {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}


def test_non_grpc_paths_never_import_grpc(sandbox_grpc) -> None:
    """JSON-RPC on a card that declares gRPC too imports no grpc; --binding GRPC does."""
    plain = _imports("send", sandbox_grpc.url, "hi")
    assert not {
        m for m in plain if m.split(".")[0] == "grpc" or m.startswith(("google.rpc", "a2actl.transport.grpc"))
    }
    over_grpc = _imports("send", sandbox_grpc.url, "hi", "--binding", "GRPC")
    assert {"grpc", "a2actl.transport.grpc"} <= over_grpc


def test_probe_binding_grpc_without_the_extra_is_exit_2(hidden: Path, sandbox_grpc) -> None:
    proc = run(hidden, "handshake", "probe", sandbox_grpc.url, "--binding", "GRPC", "-o", "json")
    assert proc.returncode == 2, proc.stderr
    assert json.loads(proc.stdout)["error"]["hint"] == HINT
