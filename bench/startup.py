"""Startup benchmark: `a2actl --version` and `--help` against `python -c "import typer"`, measured in
the same run. Prints median wall times (ms) over N runs and the ratio to the baseline.

Target (issue #2): `--help` at most 1.3x `import typer`.

    python bench/startup.py [N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def median_ms(cmd: list[str], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    py = sys.executable
    # A wheel install byte-compiles the package; an editable one under PYTHONDONTWRITEBYTECODE
    # (set on this machine) would recompile every module on every start. Compile once, as pip does.
    import compileall
    from pathlib import Path

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "a2actl"), quiet=1)
    median_ms([py, "-m", "a2actl", "--version"], 2)  # warm the file cache / bytecode
    base = median_ms([py, "-c", "import typer"], n)
    version = median_ms([py, "-m", "a2actl", "--version"], n)
    helps = median_ms([py, "-m", "a2actl", "--help"], n)
    print(f"runs each                 {n}")
    print(f"python -c 'import typer'  {base:7.1f} ms  (baseline)")
    print(f"a2actl --version          {version:7.1f} ms  ratio {version / base:.2f}x")
    print(f"a2actl --help             {helps:7.1f} ms  ratio {helps / base:.2f}x  (target <= 1.30x)")


if __name__ == "__main__":
    main()
