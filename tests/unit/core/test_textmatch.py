"""``core.textmatch.search``: ``re.search`` in a child process, so a pattern that backtracks for
ages cannot hold the event loop; giving up kills the child."""

from __future__ import annotations

import asyncio
import time

import pytest

from a2actl.core.textmatch import search


@pytest.mark.parametrize(
    "pattern, text, found",
    [
        ("echo: .*", "echo: hello", True),
        ("^done$", "not done", False),
        ("t-\ud800", "a task t-\ud800 (a lone surrogate from an agent's JSON)", True),
        ("caf\u00e9", "CAF\u00c9 caf\u00e9", True),
    ],
)
def test_the_answer_is_re_search(pattern: str, text: str, found: bool) -> None:
    assert asyncio.run(search(pattern, text)) is found


def test_a_deadline_ends_a_match_that_backtracks_for_ages() -> None:
    """The loop keeps running while the child matches, so ``wait_for`` fires on time; the child is
    killed (it would run for hours)."""

    async def main() -> float:
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(search("(a+)+$", "a" * 40 + "b"), 0.5)
        return time.monotonic() - started

    assert asyncio.run(main()) < 3


def test_without_a_child_to_start_the_match_runs_here(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    assert asyncio.run(search("echo: .*", "echo: hi")) is True
    monkeypatch.setattr(sys, "executable", "")
    assert asyncio.run(search("^x$", "y")) is False


def test_the_child_caps_its_own_cpu_time() -> None:
    """A child a2actl cannot kill (a2actl was SIGKILLed mid-match) must not backtrack for ever: it
    caps its own CPU time (RLIMIT_CPU), so the kernel ends it. Here the cap (1 s) ends the match
    and the answer-less child is a RuntimeError."""
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="matcher ended with status"):
        asyncio.run(search("(a+)+$", "a" * 40 + "b", max_seconds=0))
    assert time.monotonic() - started < 20
