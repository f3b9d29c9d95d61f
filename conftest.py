"""Collects the console examples of README.md and docs/*.md as tests (Sybil; the evaluator and the
conventions are in tests/docs/console.py). Generated pages are left out."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from sybil import Sybil
from sybil.parsers.markdown import CodeBlockParser

from tests.docs.console import evaluate, teardown

# Before any test imports grpcio (the sandbox fixtures serve gRPC in the pytest process): its fork
# support restarts its poller in a child that runs Python between fork and exec (a preexec_fn), and
# that poller aborted the child now and then ("epoll_wait error: Bad file descriptor", exit -6).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

ROOT = Path(__file__).resolve().parent
GENERATED = {"cli-reference.md", "interop.md"}  # scripts/gen_cli_docs.py, tests/interop

_docs = Sybil(
    parsers=[CodeBlockParser(language="console", evaluator=evaluate)],
    patterns=["README.md", "docs/*.md"],
    teardown=teardown,
    name="console",
).pytest()


def pytest_collect_file(file_path: Path, parent: Any) -> Any:
    if file_path == ROOT / "README.md" or (
        file_path.parent == ROOT / "docs" and file_path.suffix == ".md" and file_path.name not in GENERATED
    ):
        return _docs(file_path, parent)
    return None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (``-n 2``, README's test command) some tests must share one worker: the
    console examples of README.md and docs/ start servers on the fixed ports they show (9999, ...),
    so two documents cannot run at once; the interop tests build one a2a-sdk 0.3 venv and one
    node_modules in a shared cache. Every other test is its own unit of work. (Not ``--dist
    loadgroup`` with ``xdist_group`` marks: on pytest 9.2 that grouping silently does nothing,
    pytest-xdist#1386.)"""
    from xdist.scheduler import LoadScopeScheduling

    class SharedResources(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            if path == "README.md" or path.startswith("docs/"):
                return "docs"
            if path.startswith("tests/interop/"):
                return "interop"
            return nodeid

    return SharedResources(config, log)
