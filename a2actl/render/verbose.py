"""``-v``/``-vv``: the verbose wire log on stderr (an ``EventSink``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from a2actl.core.units import format_seconds
from a2actl.render.terminal import safe

if TYPE_CHECKING:
    from a2actl.render.output import Output


class VerboseSink:
    """``-v``: request and response lines with headers; ``-vv``: also bodies (first 2 KiB) and timings.
    Everything goes to stderr; headers and bodies arrive already redacted."""

    def __init__(self, renderer: Output, level: int) -> None:
        self.err = renderer.err
        self.level = level
        #: ``-vv`` shows bodies: only then does the transport pay for redacting them.
        self.wants_bodies = level >= 2

    def on_request(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        """``> METHOD URL`` and one ``> name: value`` line per (already redacted) header."""
        self.err.print(Text(f"> {method} {safe(url)}", style="cyan"))
        for k, v in headers:
            self.err.print(Text(f"> {k}: {safe(v)}", style="cyan"))

    def on_response(self, status: int, reason: str, headers: list[tuple[str, str]], elapsed: float) -> None:
        """``< STATUS REASON (elapsed)`` (``elapsed`` in seconds) and the response headers."""
        self.err.print(Text(f"< {status} {safe(reason)} ({format_seconds(elapsed)})", style="green"))
        for k, v in headers:
            self.err.print(Text(f"< {k}: {safe(v)}", style="green"))

    def on_body(self, direction: str, body: bytes) -> None:
        """With ``-vv``: the first 2 KiB of a (redacted) body, with its size when longer."""
        if self.level >= 2:
            text = body[:2048].decode("utf-8", "replace")
            more = f" … ({len(body):,} bytes)" if len(body) > 2048 else ""
            self.err.print(Text(f"{direction} {safe(text, 2048)}{more}", style="dim"))

    def on_timing(self, name: str, seconds: float) -> None:
        """With ``-vv``: one timing mark (``seconds``)."""
        if self.level >= 2:
            self.err.print(Text(f"* {name}: {format_seconds(seconds)}", style="dim"))

    def on_note(self, text: str) -> None:
        """A ``* note`` line (discovery, negotiation, retries)."""
        self.err.print(Text(f"* {safe(text)}", style="dim"))
