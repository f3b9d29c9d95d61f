"""``a2actl.cli.aiorun``: Python 3.11's Ctrl-C rule (the first SIGINT cancels the main task, whose
result still counts; a second is a KeyboardInterrupt at once), checked on the 3.10 runner directly,
whatever Python runs the suite, and on the public ``run``."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from a2actl.cli import aiorun

RUNNERS: list[Callable[[Coroutine[Any, Any, Any]], Any]] = [aiorun.run, aiorun._run_310]


def _sigint_soon(loop_delay: float = 0.05) -> None:
    asyncio.get_running_loop().call_later(loop_delay, os.kill, os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("runner", RUNNERS, ids=["run", "run_310"])
def test_a_task_that_takes_the_interrupt_back_returns_its_result(runner: Any) -> None:
    """What ``load run`` does: catch the cancellation, wind down, return the report. On 3.10's
    ``asyncio.run`` the KeyboardInterrupt was raised in the loop and the report lost."""
    steps: list[str] = []

    async def main() -> str:
        _sigint_soon()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            steps.append("cancelled")
            await asyncio.sleep(0.01)  # the wind-down still runs on the loop
            task = asyncio.current_task()
            if hasattr(task, "uncancel"):
                task.uncancel()  # type: ignore[union-attr]
            return "report"
        return "ran to the end"

    assert runner(main()) == "report"
    assert steps == ["cancelled"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("runner", RUNNERS, ids=["run", "run_310"])
def test_a_task_that_ends_cancelled_is_a_keyboard_interrupt_after_its_finally(runner: Any) -> None:
    done: list[str] = []

    async def main() -> None:
        _sigint_soon()
        try:
            await asyncio.sleep(30)
        finally:
            done.append("finally")

    with pytest.raises(KeyboardInterrupt):
        runner(main())
    assert done == ["finally"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("runner", RUNNERS, ids=["run", "run_310"])
def test_a_second_interrupt_is_at_once(runner: Any) -> None:
    """The second Ctrl-C during a slow wind-down stops it: KeyboardInterrupt, no result."""

    async def main() -> str:
        _sigint_soon()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            _sigint_soon()
            await asyncio.sleep(30)  # a wind-down that would hang
        return "report"

    with pytest.raises(KeyboardInterrupt):
        runner(main())
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize("runner", RUNNERS, ids=["run", "run_310"])
def test_results_errors_and_leftover_tasks(runner: Any) -> None:
    """Without an interrupt it is ``asyncio.run``: the result, the error raised, background tasks
    cancelled at the end."""
    left: list[asyncio.Task[None]] = []

    async def ok() -> int:
        left.append(asyncio.ensure_future(asyncio.sleep(30)))
        return 7

    assert runner(ok()) == 7
    assert left[0].cancelled()

    async def bad() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        runner(bad())
