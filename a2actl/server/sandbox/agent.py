"""The sandbox's agent logic: an echo skill that streams status and artifact events.

Commands in the message text: ``/fail`` ends ``failed``, ``/input`` ends ``input-required``,
``/auth`` ``auth-required``, ``/reject`` ``rejected``, ``/cancel`` ``canceled``,
``/msg TEXT`` answers with a bare Message, ``/slow N`` waits N seconds between events,
``/stream N BYTES`` streams N artifact chunks of BYTES bytes each (events over 4 MiB included).
"""

from __future__ import annotations

import asyncio

from a2a.helpers.proto_helpers import get_message_text, new_task_from_user_message, new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import a2a_pb2 as pb

#: Message commands that end the task in a given state: prefix → (TaskUpdater method, status text).
_ENDINGS = {
    "/fail": ("failed", "failed on request (/fail)"),
    "/input": ("requires_input", "more input, please"),
    "/auth": ("requires_auth", "sign in first"),
    "/reject": ("reject", "rejected on request (/reject)"),
    "/cancel": ("cancel", "canceled on request (/cancel)"),
}


class EchoExecutor(AgentExecutor):
    """Echoes the user's text back as a two-chunk artifact, streaming every step."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Answer one message: ``/msg TEXT`` with a message; else a task that works for
        ``interval`` seconds (``/slow N``: N seconds) and ends as the text's prefix asks (``_ENDINGS``)
        or completes with the echo as an artifact."""
        message = context.message
        text = get_message_text(message) if message is not None else ""
        if text.startswith("/msg"):
            await event_queue.enqueue_event(
                new_text_message(f"echo: {text[4:].strip()}", context_id=context.context_id)
            )
            return
        task = context.current_task
        if task is None:
            assert message is not None, "a request without a task carries a message (SendMessage)"
            task = new_task_from_user_message(message)
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        interval = self.interval
        if text.startswith("/slow"):
            try:
                interval = float(text.split()[1])
            except (IndexError, ValueError):
                interval = 1.0
        await updater.start_work(updater.new_agent_message([pb.Part(text="working on it")]))
        await asyncio.sleep(interval)
        for prefix, (ending, note) in _ENDINGS.items():
            if text.startswith(prefix):
                await getattr(updater, ending)(updater.new_agent_message([pb.Part(text=note)]))
                return
        if text.startswith("/stream"):
            count, size = _stream_args(text)
            for i in range(count):
                await updater.add_artifact(
                    [pb.Part(text=_filler(i, size))],
                    artifact_id="stream-artifact",
                    name="stream",
                    append=i > 0,
                    last_chunk=i == count - 1,
                )
                await asyncio.sleep(interval)
            await updater.complete()
            return
        await updater.add_artifact([pb.Part(text="echo: ")], artifact_id="echo-artifact", name="echo")
        await asyncio.sleep(interval)
        await updater.add_artifact(
            [pb.Part(text=text)], artifact_id="echo-artifact", name="echo", append=True, last_chunk=True
        )
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Cancel the current task, if any."""
        task = context.current_task
        if task is not None:
            await TaskUpdater(event_queue, task.id, task.context_id).cancel()


#: Upper bound for ``/stream``: 1,000,000 chunks and 128 MiB per chunk.
_MAX_CHUNKS, _MAX_CHUNK_BYTES = 1_000_000, 128 * 1024 * 1024


def _stream_args(text: str) -> tuple[int, int]:
    """``/stream N BYTES`` → ``(N, BYTES)``; defaults 10 chunks of 64 bytes, clamped to the bounds."""
    parts = text.split()
    try:
        count = int(parts[1]) if len(parts) > 1 else 10
        size = int(parts[2]) if len(parts) > 2 else 64
    except ValueError:
        count, size = 10, 64
    return max(1, min(count, _MAX_CHUNKS)), max(1, min(size, _MAX_CHUNK_BYTES))


def _filler(index: int, size: int) -> str:
    head = f"chunk {index}:"
    return (head + "x" * size)[:size]
