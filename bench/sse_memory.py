"""SSE memory bound (issue #13 item 2): the peak RSS of `a2actl stream tail` against servers that
never end an event (one endless line, endless data lines) or send one 20 MiB event, next to the RSS
of a baseline process that only imports a2actl's CLI and httpx, measured in the same run.

Target: under ~100 MB whatever the server sends (the default --max-event-bytes is 16 MiB).

    python bench/sse_memory.py [SECONDS]     # each endless run lasts SECONDS (default 5) via --max-time
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_rss_mib(cmd: list[str]) -> tuple[float, int]:
    """Run ``cmd`` to its end; its peak RSS in MiB (ru_maxrss of the child) and exit code."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = __import__("os").wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024, __import__("os").waitstatus_to_exitcode(status)


def main() -> None:
    seconds = sys.argv[1] if len(sys.argv) > 1 else "5"
    from tests.servers import LoopbackServer, stream_app

    py = sys.executable
    base, _ = peak_rss_mib([py, "-c", "import a2actl.cli.app, httpx, httpx_sse, rich"])
    print(f"baseline (import a2actl.cli.app, httpx, httpx_sse, rich)   {base:7.1f} MiB")
    with LoopbackServer(stream_app) as srv:
        for mode, extra in (
            ("endlessline", ["--max-time", f"{seconds}s"]),
            ("endlessdata", ["--max-time", f"{seconds}s"]),
            ("hugeline", []),
            ("hugedata", []),
        ):
            cmd = [
                py,
                "-m",
                "a2actl",
                *extra,
                "stream",
                "tail",
                f"{srv.url}/{mode}/agent-card.json",
                "--send",
                "hi",
                "-o",
                "jsonl",
            ]
            rss, code = peak_rss_mib(cmd)
            print(
                f"stream tail {mode:<12} exit {code}   peak RSS {rss:7.1f} MiB   +{rss - base:6.1f} MiB over "
                f"baseline   ratio {rss / base:.2f}x"
            )


if __name__ == "__main__":
    main()
