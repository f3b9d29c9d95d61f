"""``stream.follow._consume_watched``: a watch (``_ended_unannounced``) that fails never ends a
healthy stream; the stream's own end or error wins over the watch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from a2actl.core.errors import StreamCut
from a2actl.stream import follow
from a2actl.stream.tail import Tail, TailOptions


def _tail() -> Tail:
    return Tail(TailOptions(), lambda _r: None)


@pytest.mark.parametrize("outcome", ["settled", StreamCut("cut")])
def test_a_failing_watch_leaves_the_stream_to_decide(monkeypatch: pytest.MonkeyPatch, outcome: Any) -> None:
    async def consume(*_: Any) -> str:
        await asyncio.sleep(0.05)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    async def broken_watch(*_: Any) -> Any:
        raise KeyError("a bug in the watch")

    monkeypatch.setattr(follow, "_consume", consume)
    monkeypatch.setattr(follow, "_ended_unannounced", broken_watch)
    run = follow._consume_watched(_tail(), object(), "SendStreamingMessage", {}, False)  # type: ignore[arg-type]
    if isinstance(outcome, Exception):
        with pytest.raises(StreamCut):
            asyncio.run(run)
    else:
        assert asyncio.run(run) == "settled"


def test_the_watch_is_cancelled_when_the_stream_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    cancelled: list[bool] = []

    async def consume(*_: Any) -> str:
        return "closed"

    async def watch(*_: Any) -> Any:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    monkeypatch.setattr(follow, "_consume", consume)
    monkeypatch.setattr(follow, "_ended_unannounced", watch)
    run = follow._consume_watched(_tail(), object(), "SendStreamingMessage", {}, False)  # type: ignore[arg-type]
    assert asyncio.run(run) == "closed" and cancelled == [True]
