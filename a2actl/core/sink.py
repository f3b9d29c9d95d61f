"""The event sink through which core and transport code report progress; verbosity is the renderer's
choice (``docs/architecture.md``). Nothing here prints.

Header lists and bodies passed to a sink are already redacted by the transport.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class EventSink(Protocol):
    """Receives wire events. ``elapsed`` values are seconds. ``wants_bodies`` tells the transport
    whether to pay for redacting bodies at all (false on quiet runs: streams skip that per event)."""

    wants_bodies: bool

    def on_request(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        """A request is about to be sent (``headers`` redacted)."""
        ...

    def on_response(self, status: int, reason: str, headers: list[tuple[str, str]], elapsed: float) -> None:
        """Response headers arrived ``elapsed`` seconds after the request started (``headers`` redacted)."""
        ...

    def on_body(self, direction: str, body: bytes) -> None:
        """A body went out (``direction`` ``">"``) or came in (``"<"``), redacted; only sent when
        ``wants_bodies``."""
        ...

    def on_timing(self, name: str, seconds: float) -> None:
        """A named duration in seconds."""
        ...

    def on_note(self, text: str) -> None:
        """A human note (discovery fallbacks, the negotiated interface)."""
        ...


class NullSink:
    """A sink that ignores everything (the default for quiet runs and for tests)."""

    wants_bodies = False

    def on_request(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        """Ignored."""

    def on_response(self, status: int, reason: str, headers: list[tuple[str, str]], elapsed: float) -> None:
        """Ignored."""

    def on_body(self, direction: str, body: bytes) -> None:
        """Ignored."""

    def on_timing(self, name: str, seconds: float) -> None:
        """Ignored."""

    def on_note(self, text: str) -> None:
        """Ignored."""


class BodyFilterSink:
    """An ``EventSink`` that passes every event on to ``inner`` as it is, except bodies: each goes
    through ``body(direction, data)`` first and what it returns is passed on (a mask of what must not
    reach the wire log, or a scan that registers secrets before the body is logged). ``wants_bodies``
    is ``inner``'s."""

    def __init__(self, inner: EventSink, body: Callable[[str, bytes], bytes]) -> None:
        self.inner = inner
        self.body = body
        self.wants_bodies = inner.wants_bodies

    def on_request(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        """Passed on."""
        self.inner.on_request(method, url, headers)

    def on_response(self, status: int, reason: str, headers: list[tuple[str, str]], elapsed: float) -> None:
        """Passed on (``elapsed`` in seconds)."""
        self.inner.on_response(status, reason, headers, elapsed)

    def on_body(self, direction: str, body: bytes) -> None:
        """``body`` through the filter, then passed on."""
        self.inner.on_body(direction, self.body(direction, body))

    def on_timing(self, name: str, seconds: float) -> None:
        """Passed on."""
        self.inner.on_timing(name, seconds)

    def on_note(self, text: str) -> None:
        """Passed on."""
        self.inner.on_note(text)
