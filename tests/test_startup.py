"""`a2actl --version` and `--help` must not import the heavy client stack or the core; `--version`
alone is answered before typer is imported (issue #12 item 9)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

HEAVY = (
    "httpx",
    "httpx_sse",
    "httpcore",
    "websockets",
    "jsonschema",
    "a2a",
    "uvicorn",
    "rich",
    "redis",
    "yaml",
    "a2actl.transport",
    "a2actl.protocol",
    "a2actl.agent",
    "a2actl.render",
    "a2actl.probe",
    "a2actl.caps",
    "a2actl.tasks",
    "a2actl.sessions",
    "a2actl.stream",
    "a2actl.dlq",
    "a2actl.smoke",
    "a2actl.server",
    "a2actl.schemas",
    "opentelemetry",
    "a2actl.telemetry",
    # the exporter's server stack (uvicorn is above): imported only when `a2actl exporter` runs
    "prometheus_client",
    "starlette",
    "a2actl.exporter",
    # the gRPC binding (optional extra a2actl[grpc], #18): only gRPC paths import it
    "grpc",
    "grpc_reflection",
    "google.rpc",
)


def _command_paths() -> list[list[str]]:
    """Every command and group of the CLI, as argv prefixes (``[]`` is the root); the root builds
    its subcommands lazily, so the walk asks each group for its names."""
    import typer.main
    from typer._click.core import Context  # typer 0.29 vendors click

    from a2actl.cli.app import app

    paths: list[list[str]] = []
    root = typer.main.get_command(app)

    def walk(cmd: Any, prefix: list[str]) -> None:
        paths.append(prefix)
        if hasattr(cmd, "list_commands"):
            ctx = Context(cmd)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None:
                    walk(sub, [*prefix, name])

    walk(root, [])
    return paths


def test_the_walk_sees_every_command():
    names = {" ".join(p) for p in _command_paths()}
    assert {
        "",
        "card get",
        "dlq replay",
        "stream tail",
        "sessions leaks",
        "smoke run",
        "sandbox serve",
    } <= names


@pytest.mark.parametrize(
    "args", [["--version"], *([*path, "--help"] for path in _command_paths())], ids=" ".join
)
def test_no_heavy_imports(args):
    imported = imports_of(*args)
    leaked = sorted(m for m in imported for h in HEAVY if m == h or m.startswith(h + "."))
    assert leaked == []


def test_exporter_help_imports_no_server_stack():
    """`a2actl exporter --help` is built from the lazy table: no prometheus-client, Starlette, uvicorn,
    nor the exporter package (the walk above covers it too; this names it)."""
    imported = imports_of("exporter", "--help")
    assert {"prometheus_client", "starlette", "uvicorn", "a2actl.exporter"}.isdisjoint(imported)


def imports_of(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "a2actl", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    return {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}


def test_version_output():
    from a2actl import __version__

    proc = subprocess.run(
        [sys.executable, "-m", "a2actl", "--version"], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout == f"a2actl {__version__}\n"


def test_version_is_answered_before_typer_is_imported():
    imported = imports_of("--version")
    assert {"typer", "rich", "click", "pydantic", "a2actl.cli", "a2actl.cli.app"}.isdisjoint(imported)
    assert "a2actl" in imported


def test_version_fast_path_matches_the_root_option(cli):
    """The typer path (``--version`` among other arguments, or the app run in-process) prints the
    same line as the fast path."""
    from a2actl import __version__

    r = cli("--version")
    assert (r.exit_code, r.stdout) == (0, f"a2actl {__version__}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "a2actl", "-o", "json", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (proc.returncode, proc.stdout) == (0, r.stdout)


def test_console_entry_point_answers_version(capsys, monkeypatch):
    from a2actl import __version__
    from a2actl.__main__ import main

    monkeypatch.setattr(sys, "argv", ["a2actl", "--version"])
    main()
    assert capsys.readouterr().out == f"a2actl {__version__}\n"


def test_opentelemetry_is_imported_only_with_otlp(sandbox):
    """A command run without ``--otlp`` never imports OpenTelemetry (nor a2actl.telemetry); the same
    command with ``--otlp`` (a collector that is down: a warning, exit 0) does."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    plain = imports_of("send", sandbox.url, "hi")
    assert not {m for m in plain if m.split(".")[0] == "opentelemetry" or m.startswith("a2actl.telemetry")}
    traced = imports_of("send", sandbox.url, "hi", "--otlp", dead)
    assert "a2actl.telemetry.otel" in traced
    assert any(m.startswith("opentelemetry.sdk.") for m in traced)
