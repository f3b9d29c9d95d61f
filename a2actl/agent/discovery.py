"""Finding and loading an AgentCard: from a base URL, a full card URL, or a local file.

Discovery order for a base URL: ``/.well-known/agent-card.json`` (v0.3.0+), then
``/.well-known/agent.json`` (≤ v0.2.6) with a note that the legacy path was used (A2A 0.3.0 renamed it; RFC 8615 well-known URIs); a
base URL with a path tries both under that path first, then at the host root (``card_urls``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from a2actl.agent.target import Target, parse_target
from a2actl.core.errors import HTTPStatusError, ProtocolViolation, UsageError
from a2actl.protocol.card import CardView, parse_card
from a2actl.protocol.versions import CARD_PATHS, LEGACY_CARD_PATH

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.transport.base import Transport
    from a2actl.transport.timing import HttpResult


def card_urls(target: Target, card_path: str | None = None) -> list[str]:
    """Candidate card URLs for a remote target, in the order they are tried.

    A base URL with a path (``http://host/agents/42``) is tried under that prefix first
    (``…/agents/42/.well-known/agent-card.json``, as a2a-sdk's ``A2ACardResolver`` appends the
    well-known path to the base URL it is given), then at the host root (RFC 8615 puts well-known
    URIs at the origin). An explicit ``--card-path`` is relative to the base path."""
    if target.kind == "card_url":
        return [target.value]
    parts = urlsplit(target.value)
    base_path = parts.path.rstrip("/")
    if card_path:
        p = card_path if card_path.startswith("/") else "/" + card_path
        return [urlunsplit((parts.scheme, parts.netloc, base_path + p, "", ""))]
    prefixes = [base_path, ""] if base_path else [""]
    return [
        urlunsplit((parts.scheme, parts.netloc, prefix + p, "", ""))
        for prefix in prefixes
        for p in CARD_PATHS
    ]


@dataclass
class CardFetch:
    """A loaded card: ``raw`` as decoded JSON, ``view`` normalised; ``source`` the URL or path it came
    from; ``http`` the exchange (remote only); ``notes`` human notes (fallback used, etc.); ``body``
    the bytes as served or read (what ``raw`` was decoded from: repeated members, line numbers), or
    ``None`` when not kept. ``final_url`` is the URL that served the card when ``-L`` followed
    redirects from ``source`` (the URL asked for) to another, its credentials masked
    (``core.redact.mask_urls``); ``None`` otherwise (no redirect, a file)."""

    source: str
    raw: dict[str, Any]
    view: CardView
    http: HttpResult | None = None
    fallback_used: bool = False
    notes: list[str] = field(default_factory=list)
    parse_seconds: float = 0.0
    body: bytes | None = None
    final_url: str | None = None


def decode_card(body: bytes, source: str) -> tuple[dict[str, Any], CardView]:
    """Decode and normalise card bytes. Raises ``ProtocolViolation`` (exit 6) when the body is not a
    JSON object, or not UTF-8 text (naming the first bad byte and its offset)."""
    from a2actl.protocol.jsondoc import parse

    try:
        raw = parse(body, source)
    except UnicodeDecodeError as exc:
        # JSON between systems is UTF-8 (RFC 8259 §8.1): say so, not "not valid JSON". No text
        # around the byte: a card that failed to parse has no secrets registered, and the bytes
        # next to it may be a URL's userinfo
        from a2actl.core.redact import where_not_utf8

        raise ProtocolViolation(
            f"the agent card at {source} is not UTF-8 text: {where_not_utf8(exc)}",
            hint="JSON must be UTF-8 (RFC 8259 §8.1); check the agent's encoding",
        ) from exc
    except ValueError as exc:
        raise ProtocolViolation(
            f"the agent card at {source} is not valid JSON: {exc}",
            hint="is this URL serving the card, or an HTML error page?",
        ) from exc
    if not isinstance(raw, dict):
        kind = {
            type(None): "null",
            bool: "boolean",
            int: "number",
            float: "number",
            str: "string",
            list: "array",
        }
        raise ProtocolViolation(
            f"the agent card at {source} is a JSON {kind.get(type(raw), type(raw).__name__)}, not an object"
        )
    return raw, parse_card(raw)


def load_card_file(path: str, max_bytes: int) -> CardFetch:
    """Load a card from a local file of at most ``max_bytes`` bytes. Raises ``UsageError`` (exit 2) when
    it cannot be read, ``ProtocolViolation`` (6) when it is over the limit or not a JSON object."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise ProtocolViolation(f"{path} is {size:,} bytes, over the {max_bytes:,}-byte card limit")
        with p.open("rb") as fh:  # bounded: a device or FIFO (/dev/zero) reports size 0 and never ends
            body = fh.read(max_bytes + 1)
        if len(body) > max_bytes:
            raise ProtocolViolation(f"{path} is over the {max_bytes:,}-byte card limit")
    except OSError as exc:
        raise UsageError(f"cannot read card file {path}: {exc.strerror or exc}") from exc
    raw, view = decode_card(body, path)
    return CardFetch(source=str(p), raw=raw, view=view, body=body)


async def read_card_file(path: str, max_bytes: int) -> CardFetch:
    """``load_card_file`` for async callers. A FIFO or device (``<(cmd)``, a named pipe) may block
    in ``open`` or ``read`` for ever: it is read in a daemon thread while the event loop waits
    (``core.offloop.read_path``), so the command's ``--max-time`` and Ctrl-C/SIGTERM still end it
    (they could not while the loop was blocked in the read). A regular file is read at once."""
    from a2actl.core.offloop import read_path

    return await read_path(path, lambda: load_card_file(path, max_bytes), "a2actl-card-file")


async def fetch_card(
    transport: Transport,
    target: Target,
    card_path: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> CardFetch:
    """Fetch and decode the card of a remote target, trying the discovery paths in order.

    A 404 on one path moves to the next; any other failure stops. Raises ``HTTPStatusError`` (exit 1)
    when no path serves a card, ``ProtocolViolation`` (6) for a non-JSON or oversized card, and the
    transport's errors (3/4/5).
    """
    urls = card_urls(target, card_path)
    prefix = urlsplit(target.value).path.rstrip("/") if target.kind == "base_url" and not card_path else ""
    notes: list[str] = []
    for idx, url in enumerate(urls):
        under_prefix = bool(prefix) and urlsplit(url).path.startswith(prefix + "/.well-known/")
        res = await transport.request(
            "GET",
            url,
            headers={"Accept": "application/json", **(extra_headers or {})},
            max_bytes=transport.settings.max_card_bytes,
        )
        if res.status == 404 and idx + 1 < len(urls):
            notes.append(f"{url} answered 404; trying the next discovery path")
            continue
        if res.status >= 400:
            tried = ", ".join(urls[: idx + 1])
            raise HTTPStatusError(
                f"no agent card: {url} answered HTTP {res.status} {res.reason} (tried {tried})",
                hint="pass --card-path PATH if the card lives elsewhere" if res.status == 404 else None,
                details={"httpStatus": res.status},
            )
        t0 = time.perf_counter()
        raw, view = decode_card(res.body, url)
        parse_s = time.perf_counter() - t0
        fallback = url.endswith(LEGACY_CARD_PATH) and card_path is None and target.kind == "base_url"
        if fallback:
            notes.append(
                "card found at the legacy path /.well-known/agent.json (A2A ≤ 0.2.6); "
                "A2A 0.3+ serves /.well-known/agent-card.json"
            )
        if prefix:
            notes.append(
                f"card found under the path prefix {prefix}"
                if under_prefix
                else f"no card under the path prefix {prefix}; the host root answered"
            )
        final_url = None
        if res.final_url is not None and res.final_url != url:
            from a2actl.core.redact import mask_urls

            final_url = mask_urls(res.final_url)
        return CardFetch(
            source=url,
            raw=raw,
            view=view,
            http=res,
            fallback_used=fallback,
            notes=notes,
            parse_seconds=parse_s,
            body=res.body,
            final_url=final_url,
        )
    raise UsageError(f"no card URL to try for {target.value}")  # card_urls never returns an empty list


async def load_card(
    target_text: str,
    settings: Settings,
    sink: EventSink | None = None,
    card_path: str | None = None,
    *,
    register_secrets: bool = True,
) -> CardFetch:
    """Fetch (with discovery) or read one card. Raises what ``fetch_card``/``load_card_file`` raise:
    ``UsageError`` (2), ``UnreachableError`` (3), ``AuthError`` (4), ``TimeoutError_`` (5),
    ``ProtocolViolation`` (6, not JSON), ``HTTPStatusError`` (1, no card).

    The userinfo and credential-like query values of every URL in the card (an interface's
    ``http://user:pw@host/rpc?token=…``) are registered as secrets (``register_card_secrets``), so
    every output of the command masks them, unless ``register_secrets`` is false (``caps sign``: the
    card it prints is the card as signed, and a masked URL would break the signature)."""
    target = parse_target(target_text)
    if not target.is_remote:
        fetched = await read_card_file(target.value, settings.max_card_bytes)
    else:
        from a2actl.transport.http import HttpTransport

        async with HttpTransport(settings, sink) as transport:
            fetched = await fetch_card(transport, target, card_path)
    if register_secrets:
        register_card_secrets(fetched.raw)
    return fetched


def register_card_secrets(raw: Any) -> None:
    """Register the secrets of every URL in the decoded card ``raw`` (its interfaces' and any other:
    userinfo, credential-like query values; ``core.redact.register_urls_in_json``), so every output
    masks them. Never raises."""
    from a2actl.core.redact import register_urls_in_json

    register_urls_in_json(raw)


def source_json(fetched: CardFetch) -> dict[str, Any]:
    """Where a card came from, for JSON output: ``{"source", "kind": "url"|"file", "notes"}``."""
    return {
        "source": fetched.source,
        "kind": "url" if fetched.http is not None else "file",
        "notes": fetched.notes,
    }
