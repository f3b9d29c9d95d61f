"""Startup benchmark: the cost of one a2actl process, against baselines measured in the same run.
Prints median wall times (ms) over N runs, interleaved, and ratios.

* ``a2actl --version`` against ``python -c pass``           (target, issue #12: <= 3x)
* ``a2actl --help``    against ``python -c "import typer"`` (target, issue #2:  <= 1.3x)
* ``a2actl card get URL`` (table and ``-o json``) against the bare one-liner
  ``python -c "import httpx; httpx.get(URL).json()"``      (target, issue #12: <= 1x)

The card is served by a sandbox this script starts in its own process on loopback. ``a2actl`` is run
as ``python -m a2actl``; the installed console script is timed too when it is on the venv's ``bin``
(it takes the ``--version`` fast path only when its entry point is ``a2actl.__main__:main``).
Breakdown rows (imports alone) say where the time of ``card get`` goes.

    python bench/startup.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time


def wall_ms(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    py = sys.executable
    # A wheel install byte-compiles the package; an editable one under PYTHONDONTWRITEBYTECODE
    # (set on this machine) would recompile every module on every start. Compile once, as pip does.
    import compileall
    from pathlib import Path

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "a2actl"), quiet=1)
    server = subprocess.Popen(
        [py, "-m", "a2actl", "sandbox", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()  # type: ignore[union-attr]
        card_url = url + "/.well-known/agent-card.json"
        a2actl = [py, "-m", "a2actl"]
        rows: dict[str, list[str]] = {
            "python -c pass": [py, "-c", "pass"],
            "a2actl --version": [*a2actl, "--version"],
            "python -c 'import typer'": [py, "-c", "import typer"],
            "a2actl --help": [*a2actl, "--help"],
            "python -c 'httpx.get(URL).json()'": [py, "-c", f"import httpx; httpx.get({card_url!r}).json()"],
            "a2actl card get URL": [*a2actl, "card", "get", url],
            "a2actl card get URL -o json": [*a2actl, "card", "get", url, "-o", "json"],
        }
        script = os.path.join(os.path.dirname(py), "a2actl")
        if os.path.exists(script):
            rows["a2actl --version (console script)"] = [script, "--version"]
        rows.update(
            {  # where the time goes
                "python -c 'import typer'+pydantic": [py, "-c", "import typer, typer._adapters"],
                "python -c 'import rich.console'": [py, "-c", "import rich.console"],
                "python -c 'import httpx'": [py, "-c", "import httpx"],
                "python -c 'import asyncio, httpx, httpcore._async'": [
                    py,
                    "-c",
                    "import asyncio, httpx, httpcore._async",
                ],
            }
        )
        for cmd in rows.values():  # warm the file cache, bytecode and the server
            wall_ms(cmd)
        times: dict[str, list[float]] = {k: [] for k in rows}
        for _ in range(n):  # interleaved, so load changes hit every row alike
            for name, cmd in rows.items():
                times[name].append(wall_ms(cmd))
    finally:
        server.terminate()
        server.wait()
    med = {k: statistics.median(v) for k, v in times.items()}

    def line(name: str, base: str | None = None, target: str = "") -> None:
        ratio = f"  {med[name] / med[base]:.2f}x {base}" if base else "  (baseline)"
        print(f"{name:<52} {med[name]:7.1f} ms{ratio}{target}")

    print(f"{'runs each (median, interleaved)':<52} {n}")
    line("python -c pass")
    line("a2actl --version", "python -c pass", "  (target <= 3x)")
    line("python -c 'import typer'")
    line("a2actl --help", "python -c 'import typer'", "  (target <= 1.3x)")
    line("python -c 'httpx.get(URL).json()'")
    line("a2actl card get URL", "python -c 'httpx.get(URL).json()'", "  (target <= 1x)")
    line("a2actl card get URL -o json", "python -c 'httpx.get(URL).json()'", "  (target <= 1x)")
    if "a2actl --version (console script)" in med:
        line("a2actl --version (console script)", "python -c pass")
    print("where the time goes (imports only):")
    for name in (
        "python -c 'import typer'+pydantic",
        "python -c 'import rich.console'",
        "python -c 'import httpx'",
        "python -c 'import asyncio, httpx, httpcore._async'",
    ):
        line(name, "python -c pass")


if __name__ == "__main__":
    main()
