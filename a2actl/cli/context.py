"""The per-invocation context (``ctx.obj``): resolved settings, output format, verbosity.

Built once by the root callback; commands get it with ``invocation(ctx)``. Heavy modules (render,
transport, core) are imported lazily so ``--help`` and ``--version`` stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from a2actl.config import Settings

if TYPE_CHECKING:
    from a2actl.events import EventSink
    from a2actl.render import Renderer


@dataclass
class Invocation:
    """Global options of one run. ``output`` is ``table``, ``json`` or ``jsonl``."""

    settings: Settings
    output: str = "table"
    verbose: int = 0
    debug: bool = False
    #: ``send --dry-run --show-secrets``: the one place a2actl prints secrets, when asked to.
    show_secrets: bool = False
    _renderer: Renderer | None = field(default=None, repr=False)

    @property
    def renderer(self) -> Renderer:
        if self._renderer is None:
            from a2actl.render import Renderer

            self._renderer = Renderer(self.output, secrets=self.settings.secrets(), redact=not self.show_secrets)
        return self._renderer

    @property
    def sink(self) -> EventSink:
        from a2actl.events import NullSink
        from a2actl.render import VerboseSink

        return VerboseSink(self.renderer, self.verbose) if self.verbose else NullSink()

    def show(self, doc: Any, table_view: str) -> None:
        """Render ``doc``: with ``table`` through the ``Renderer`` method named ``table_view``,
        otherwise as JSON / JSONL."""
        if self.output == "table":
            getattr(self.renderer, table_view)(doc)
        else:
            self.renderer.data(doc)

    def run(self, coro: Any, *, bounded: bool = True) -> Any:
        """Run a core coroutine under ``--max-time`` (``asyncio.TimeoutError`` → exit 5). Commands that
        end gracefully at ``--max-time`` themselves (``stream tail``) pass ``bounded=False``."""
        import asyncio

        from a2actl.errors import TimeoutError_

        async def under_max_time() -> Any:
            if self.settings.max_time is None or not bounded:
                return await coro
            try:
                return await asyncio.wait_for(coro, self.settings.max_time)
            except asyncio.TimeoutError as exc:
                raise TimeoutError_(f"gave up after --max-time {self.settings.max_time:g}s",
                                    hint="raise --max-time, or look for the slow phase with -vv") from exc

        return asyncio.run(under_max_time())


def invocation(ctx: typer.Context) -> Invocation:
    """The ``Invocation`` built by the root callback (a default one when called without it)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Invocation):
        root.obj = Invocation(Settings())
    return root.obj
