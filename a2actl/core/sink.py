"""The event sink through which core and transport code report progress; verbosity is the renderer's
choice (architecture practice 5). Nothing here prints.

Header lists and bodies passed to a sink are already redacted by the transport.
"""

from __future__ import annotations

from typing import Protocol


class EventSink(Protocol):
    """Receives wire events. ``elapsed`` values are seconds. ``wants_bodies`` tells the transport
    whether to pay for redacting bodies at all (false on quiet runs: streams skip that per event)."""

    wants_bodies: bool

    def on_request(self, method: str, url: str, headers: list[tuple[str, str]]) -> None: ...
    def on_response(
        self, status: int, reason: str, headers: list[tuple[str, str]], elapsed: float
    ) -> None: ...
    def on_body(self, direction: str, body: bytes) -> None: ...
    def on_timing(self, name: str, seconds: float) -> None: ...
    def on_note(self, text: str) -> None: ...


class NullSink:
    """A sink that ignores everything (the default for quiet runs and for tests)."""

    wants_bodies = False

    def on_request(self, method: str, url: str, headers: list[tuple[str, str]]) -> None:
        pass

    def on_response(self, status: int, reason: str, headers: list[tuple[str, str]], elapsed: float) -> None:
        pass

    def on_body(self, direction: str, body: bytes) -> None:
        pass

    def on_timing(self, name: str, seconds: float) -> None:
        pass

    def on_note(self, text: str) -> None:
        pass
