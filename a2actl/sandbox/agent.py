"""The sandbox's agent logic: an echo skill that streams status and artifact events.

Commands in the message text: ``/fail`` ends ``failed``, ``/input`` ends ``input-required``,
``/msg TEXT`` answers with a bare Message, ``/slow N`` waits N seconds between events.
"""

from __future__ import annotations

import asyncio

from a2a.helpers.proto_helpers import get_message_text, new_task_from_user_message, new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import a2a_pb2 as pb


class EchoExecutor(AgentExecutor):
    """Echoes the user's text back as a two-chunk artifact, streaming every step."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = context.message
        text = get_message_text(message) if message is not None else ""
        if text.startswith("/msg"):
            await event_queue.enqueue_event(new_text_message(f"echo: {text[4:].strip()}",
                                                             context_id=context.context_id))
            return
        task = context.current_task
        if task is None:
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
        if text.startswith("/fail"):
            await updater.failed(updater.new_agent_message([pb.Part(text="failed on request (/fail)")]))
            return
        if text.startswith("/input"):
            await updater.requires_input(updater.new_agent_message([pb.Part(text="more input, please")]))
            return
        await updater.add_artifact([pb.Part(text="echo: ")], artifact_id="echo-artifact", name="echo")
        await asyncio.sleep(interval)
        await updater.add_artifact([pb.Part(text=text)], artifact_id="echo-artifact", name="echo",
                                   append=True, last_chunk=True)
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task
        if task is not None:
            await TaskUpdater(event_queue, task.id, task.context_id).cancel()
