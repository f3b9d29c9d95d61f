"""Build, once, the virtualenv the a2a-sdk 0.3 interop agent runs in (stdlib only).

a2a-sdk 0.3 cannot share a venv with a2a-sdk 1.3, so the agent gets its own:
``$A2ACTL_TEST_CACHE/venv-a2a-sdk-0.3.26`` (default cache ``~/.cache/a2actl-tests``), installed from
``requirements.txt`` next to this file. A marker file holding the requirements' SHA-256 is written last,
so a half-built venv (killed build) or a changed requirements file means a rebuild. An exclusive
``fcntl`` lock on ``venv-a2a-sdk-0.3.26.lock`` makes concurrent builders (two pytest processes, CI)
wait for each other; the second one then finds the venv ready.

Usage: ``python3 tests/agents/sdk03/setup_venv.py [--cache DIR]`` prints the venv's python.
The interop fixtures (tests/interop/conftest.py) call :func:`ensure_venv` themselves.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

SDK_VERSION = "0.3.26"
HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
AGENT = HERE / "agent.py"
MARKER = ".a2actl-ready"


def cache_dir() -> Path:
    env = os.environ.get("A2ACTL_TEST_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "a2actl-tests"


def venv_dir(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / f"venv-a2a-sdk-{SDK_VERSION}"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _fingerprint() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def is_ready(venv: Path) -> bool:
    try:
        return (venv / MARKER).read_text().strip() == _fingerprint() and venv_python(venv).exists()
    except OSError:
        return False


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no fcntl (Windows): no cross-process lock
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run(cmd: list[str], timeout: float) -> None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"{' '.join(cmd)} timed out after {timeout:.0f}s") from e
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-30:])
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}:\n{tail}")


def ensure_venv(cache: Path | None = None, python: str = sys.executable, timeout: float = 900) -> Path:
    """The venv's python, building the venv first if needed. Raises RuntimeError when the build fails."""
    venv = venv_dir(cache)
    if is_ready(venv):
        return venv_python(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with _locked(venv.parent / f"{venv.name}.lock"):
        if is_ready(venv):  # another process built it while we waited for the lock
            return venv_python(venv)
        shutil.rmtree(venv, ignore_errors=True)
        _run([python, "-m", "venv", str(venv)], timeout=120)
        py = str(venv_python(venv))
        _run(
            [
                py,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
                str(REQUIREMENTS),
            ],
            timeout=timeout,
        )
        _run([py, "-c", "import a2a.server.apps, fastapi, uvicorn"], timeout=120)
        (venv / MARKER).write_text(_fingerprint() + "\n")
    return venv_python(venv)


def main() -> None:
    p = argparse.ArgumentParser(description="Build the a2a-sdk 0.3 venv for a2actl's interop tests.")
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="cache dir (default $A2ACTL_TEST_CACHE or ~/.cache/a2actl-tests)",
    )
    args = p.parse_args()
    try:
        print(ensure_venv(args.cache))
    except RuntimeError as e:
        sys.exit(f"setup_venv: {e}")


if __name__ == "__main__":
    main()
