"""``card get``: load one AgentCard (from a URL with discovery, or from a file) and return it raw
and normalised, with the HTTP exchange that served it.

Discovery order and the legacy path are described in ``a2actl.agent.discovery``; the normalised
view (one shape for 0.2, 0.3, 1.0 and hybrid cards) in ``a2actl.protocol.card``. The ``-o json``
document is documented in ``docs/output-formats.md``; timings are seconds, sizes bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from a2actl.core.exit_codes import ExitCode

if TYPE_CHECKING:
    from a2actl.agent.discovery import CardFetch
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink


@dataclass(frozen=True)
class CardHttp:
    """The HTTP response that served a card: ``status``, the ``Content-Type``, ``ETag`` and
    ``Cache-Control`` headers (``None`` when absent), the body's decoded size in ``bytes`` and the
    request's curl-style ``timing`` (seconds; ``Timing.to_json``)."""

    status: int
    content_type: str | None
    etag: str | None
    cache_control: str | None
    bytes: int
    timing: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """``{"status", "contentType", "etag", "cacheControl", "bytes", "timing"}``."""
        return {
            "status": self.status,
            "contentType": self.content_type,
            "etag": self.etag,
            "cacheControl": self.cache_control,
            "bytes": self.bytes,
            "timing": self.timing,
        }


@dataclass(frozen=True)
class CardResult:
    """``card get``: the card as served (``card``, a pass-through JSON object) and normalised
    (``normalized``, ``CardView.to_json``), both with the secrets of their URLs masked (userinfo,
    credential-like query values: ``http://user:***@host/rpc?token=***``,
    ``core.redact.mask_urls_in_json``). ``source`` is the URL or path it came from (for a URL, the
    one asked for); ``final_url`` the URL that served it when ``-L`` followed redirects to another
    (credentials masked), else ``None``;
    ``trace_id`` the run's W3C trace id for a remote card (``None`` for a file); ``http`` the
    exchange (``None`` for a file); ``notes`` what discovery noticed (the legacy path, a path
    prefix). Always exit 0: failures to load raise before a result exists."""

    source: str
    trace_id: str | None
    fallback_used: bool
    notes: list[str]
    http: CardHttp | None
    card: dict[str, Any]
    normalized: dict[str, Any]
    final_url: str | None = None

    @property
    def exit(self) -> ExitCode:
        """Always 0 (``OK``)."""
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        """``{"source", "finalUrl", "traceId", "fallbackUsed", "notes", "http", "card", "normalized"}``."""
        return {
            "source": self.source,
            "finalUrl": self.final_url,
            "traceId": self.trace_id,
            "fallbackUsed": self.fallback_used,
            "notes": self.notes,
            "http": self.http.to_json() if self.http is not None else None,
            "card": self.card,
            "normalized": self.normalized,
        }


def card_result(fetched: CardFetch, trace_id: str | None) -> CardResult:
    """The ``card get`` result of a loaded card (``trace_id`` for a remote one, else ``None``), the
    secrets of the card's URLs masked in ``card`` and ``normalized`` (before any table lays them
    out: masked as text after it, a cell that cuts a URL inside a secret would print its start)."""
    from a2actl.core.redact import mask_urls_in_json

    http = None
    if fetched.http is not None:
        res = fetched.http
        http = CardHttp(
            status=res.status,
            content_type=res.headers.get("content-type"),
            etag=res.headers.get("etag"),
            cache_control=res.headers.get("cache-control"),
            bytes=len(res.body),
            timing=res.timing.to_json(),
        )
    return CardResult(
        source=fetched.source,
        trace_id=trace_id,
        fallback_used=fetched.fallback_used,
        notes=fetched.notes,
        http=http,
        card=mask_urls_in_json(fetched.raw),
        normalized=mask_urls_in_json(fetched.view.to_json()),
        final_url=fetched.final_url,
    )


async def get_card(
    target: str, settings: Settings, card_path: str | None = None, sink: EventSink | None = None
) -> CardResult:
    """``card get``: load the card of TARGET (a base URL with discovery, a card URL, or a file).

    Raises ``UsageError`` (exit 2) for a bad TARGET or an unreadable file, ``UnreachableError`` (3),
    ``AuthError`` (4), ``TimeoutError_`` (5), ``ProtocolViolation`` (6: not JSON, too large) and
    ``HTTPStatusError`` (1: no discovery path served a card).
    """
    from a2actl.agent.discovery import load_card
    from a2actl.agent.target import parse_target

    remote = parse_target(target).is_remote
    fetched = await load_card(target, settings, sink, card_path)
    return card_result(fetched, settings.trace_id if remote else None)
