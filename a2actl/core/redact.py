"""Secret redaction applied before anything reaches an output or a log.

Header names and JSON keys that conventionally carry credentials are masked; known secret values
(the bearer token, a handshake session token) are masked wherever they appear in text.

The known values of one process: ``Settings.secrets()`` (the token, the values of sensitive ``-H``
headers) plus the registry below, to which the code that parses a URL adds its userinfo and the values
of credential-like query parameters (``register_url``). Inside a ``secret_scope()`` (a long-running
server's request: ``a2actl exporter``'s probes) those registrations go to the scope instead, masked
in that request's output and forgotten with it, so the process registry does not grow per request. ``Redactor`` applies them all, with their
JSON- and XML-escaped spellings, to every string the renderer writes (stdout, stderr, ``-v`` logs)
and to files a2actl writes (JUnit): the one choke point, so an agent that echoes a token back in an
error text, a header or a body cannot make a2actl print it.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import SplitResult, urlsplit

MASK = "***"
_SENSITIVE_HEADER = re.compile(
    r"^(?!(?:x-)?idempotency-key$|sec-websocket-key$)"  # a request's nonce or dedup key, no credential
    r"(authorization|proxy-authorization|cookie|set-cookie|apikey|x-a2a-notification-token|"
    r".*api[-_]?key.*|.*-key|.*-token|.*secret.*|.*session.*|.*passw(?:or)?d.*|.*passphrase.*|"
    r".*credential.*)$",
    re.I,
)
_SENSITIVE_KEY = re.compile(r"(token|secret|password|passwd|api[-_]?key|credential|authorization)", re.I)


def is_sensitive_header(name: str) -> bool:
    """Whether a header name conventionally carries a credential (``Authorization``, ``Cookie``,
    ``*Api-Key*`` such as ``X-Goog-Api-Key``, ``*-Key`` such as ``X-Auth-Key`` or
    ``Ocp-Apim-Subscription-Key`` (not ``Idempotency-Key`` or ``Sec-WebSocket-Key``), ``*-Token``,
    ``*secret*``, ``*session*``, ``*password*``, ``*passphrase*``, ``*credential*``): its value is
    masked in output, and the transports do not forward it to another origin under ``-L``."""
    return _SENSITIVE_HEADER.match(name) is not None


def is_secret_header(name: str, value: str) -> bool:
    """Whether the header ``name: value`` carries a secret: its name says credential
    (``is_sensitive_header``) or its whole value (stripped) is a registered secret
    (``register_secret``: an inventory header read from ``${VAR}`` or named like a credential, an
    exporter module's ``${VAR}`` header). A redirect under ``-L`` to another origin drops it."""
    if _SENSITIVE_HEADER.match(name) is not None:
        return True
    scope = _SCOPE.get()
    return value.strip() in _REGISTRY or (scope is not None and value.strip() in scope)


def redact_header(name: str, value: str) -> str:
    """Mask a header value if its name is a credential header; keeps the auth scheme (``Bearer ***``)."""
    if not _SENSITIVE_HEADER.match(name):
        return value
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() in ("bearer", "basic", "token", "digest"):
        return f"{scheme} {MASK}"
    return MASK


def redact_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``redact_header`` over a header list (order and names kept)."""
    return [(k, redact_header(k, v)) for k, v in headers]


def redact_json(obj: Any) -> Any:
    """A copy of ``obj`` with the values of credential-like keys masked (recursively)."""
    if isinstance(obj, dict):
        return {
            k: (
                MASK
                if isinstance(k, str) and _SENSITIVE_KEY.search(k) and v not in (None, "")
                else redact_json(v)
            )
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [redact_json(v) for v in obj]
    return obj


def redact_text(text: str, secrets: list[str]) -> str:
    """Replace every occurrence of each known secret value (ignoring values shorter than 4 chars)."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, MASK)
    return text


#: Query parameters that carry credentials by convention, besides names matching ``_SENSITIVE_KEY``
#: (``token``, ``api_key``, …): pre-signed URL signatures and OAuth codes.
_SENSITIVE_QUERY = re.compile(
    r"^(sig|signature|x-amz-signature|x-goog-signature|code|key|auth|access_token)$", re.I
)
_REGISTRY: set[str] = set()
#: Masked forms of the URL prefixes whose userinfo secret is too short to be masked wherever it
#: appears (``register_url``, ``userinfo_swap``): ``redis://:ab@`` → ``redis://:***@``.
_SWAPS: dict[str, str] = {}
#: Counts every registration, process-wide or in any ``secret_scope()``: a ``Redactor`` rebuilds its
#: needles when it moved (or the current scope is another), so its per-write check is one comparison
#: and one identity test, whatever the depth of nested scopes.
_registry_version = [0]


class _Scope:
    """The secrets registered inside one ``secret_scope()``, and the scope it was opened in
    (``parent``, ``None`` at the top): the scope masks its own and every enclosing scope's."""

    __slots__ = ("parent", "swaps", "values")

    def __init__(self, parent: _Scope | None) -> None:
        self.parent = parent
        self.values: set[str] = set()
        self.swaps: dict[str, str] = {}

    def __contains__(self, value: str) -> bool:
        scope: _Scope | None = self
        while scope is not None:
            if value in scope.values:
                return True
            scope = scope.parent
        return False

    def all_values(self) -> set[str]:
        """This scope's secrets and those of every enclosing scope."""
        out: set[str] = set()
        scope: _Scope | None = self
        while scope is not None:
            out |= scope.values
            scope = scope.parent
        return out

    def all_swaps(self) -> dict[str, str]:
        """This scope's URL prefix swaps (``register_url``) and those of every enclosing scope."""
        out: dict[str, str] = {}
        scope: _Scope | None = self
        while scope is not None:
            out = {**scope.swaps, **out}
            scope = scope.parent
        return out


_SCOPE: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("a2actl_secret_scope", default=None)


@contextlib.contextmanager
def secret_scope() -> Iterator[None]:
    """Register the secrets found inside this block (``register_secret``, ``register_url``) for this
    block only: every ``Redactor`` call made inside it (in this context and the asyncio tasks it
    starts, which share the scope) masks them as well as the process registry's, and they are
    forgotten when the block ends. For a server whose requests bring their own URLs (``a2actl
    exporter``'s ``/probe``: a target, the card's interfaces, redirects): registered process-wide,
    each request would grow the registry, and the cost of every later redaction, for good. Output
    made after the block does not mask them: mask inside it. Scopes nest and chain: inside an inner
    block the outer block's secrets are masked too (and a secret the outer one holds is not added
    again); the inner block's are forgotten when it ends, the outer's when the outer one does."""
    token = _SCOPE.set(_Scope(_SCOPE.get()))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def register_secret(value: str | None) -> None:
    """Add a value that must never be printed (values shorter than 4 characters are ignored): to the
    current ``secret_scope()`` inside one, else to the process registry."""
    if not value or len(value) < 4 or value in _REGISTRY:
        return
    scope = _SCOPE.get()
    if scope is not None:
        if value not in scope:
            scope.values.add(value)
            _registry_version[0] += 1
    else:
        _REGISTRY.add(value)
        _registry_version[0] += 1


def url_secrets(url: str) -> list[str]:
    """The secrets a URL carries: its userinfo password (a lone user part, often a token, when there
    is no password) and the values of credential-like query parameters (``token``, ``api_key``,
    ``sig``, ``code``, …), each as written and, when it differs, percent-decoded (output prints the
    URL as written; a client may show it decoded), and the ``Basic`` credential the HTTP clients
    build from the userinfo (base64 of ``user:password``, which decodes to the password: an agent
    that echoes its ``Authorization`` header prints it). A host ``urlsplit`` refuses (an unclosed ``[``:
    ``http://user:pw@[::1``) does not hide them: the error that quotes such a URL prints them. Empty
    for a URL that does not parse otherwise. Never raises."""
    from urllib.parse import unquote, unquote_plus

    out: list[str] = []
    try:
        parts = urlsplit_lenient(url)
        secret = parts.password if parts.password else parts.username
        if secret:
            out += {secret, unquote(secret)}
            out += _basic_credentials(unquote(parts.username or ""), unquote(parts.password or ""))
        for pair in parts.query.split("&"):
            name, eq, value = pair.partition("=")
            name = unquote_plus(name)
            if eq and value and (_SENSITIVE_KEY.search(name) or _SENSITIVE_QUERY.match(name)):
                out += {value, unquote_plus(value)}
    except ValueError:
        return []
    return out


def _basic_credentials(user: str, password: str) -> list[str]:
    """The base64 ``user:password`` of a ``Basic`` header, as httpx (UTF-8) and aiohttp (Latin-1)
    encode it from a URL's userinfo: one or two spellings (one when they agree)."""
    import base64

    out: list[str] = []
    for encoding in ("utf-8", "latin-1"):
        try:
            value = base64.b64encode(f"{user}:{password}".encode(encoding)).decode("ascii")
        except UnicodeEncodeError:
            continue
        if value not in out:
            out.append(value)
    return out


#: ``scheme://``, the userinfo with its ``@`` (up to the netloc's last one, as ``urlsplit`` reads it),
#: the host and port, and the rest: ``urlsplit_lenient`` puts a stand-in host in a refused one's
#: place.
_NETLOC = re.compile(r"([^:/?#]+://)([^/?#]*@)?[^/?#]*(.*)", re.S)


def urlsplit_lenient(url: str) -> SplitResult:
    """``urlsplit(url)``, or when it refuses the netloc (``ValueError``: an unclosed ``[``, a
    character NFKC turns into a delimiter) the split of ``url`` with a stand-in host, for the
    secrets of its userinfo and query (never to request). Raises ``ValueError`` when that fails
    too."""
    try:
        return urlsplit(url)
    except ValueError:
        m = _NETLOC.match(url)
        if m is None:
            raise
        return urlsplit(m.group(1) + (m.group(2) or "") + "host" + m.group(3))


#: A URL's scheme and userinfo as written, up to the netloc's last ``@`` (``urlsplit``'s reading).
_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]{0,31}://)([^/?#]*)@")


def userinfo_swap(url: str) -> tuple[str, str] | None:
    """``(prefix, masked)`` for a URL whose userinfo secret (``url_secrets``: the password, else a
    lone user part) is shorter than 4 characters, which ``register_secret`` ignores (masking ``ab``
    wherever it appears would mangle every text): the URL's scheme and userinfo as written,
    ``redis://:ab@``, and the same with the secret masked, ``redis://:***@`` (``redis://u:ab@`` →
    ``redis://u:***@``; a lone user part, ``redis://ab@`` → ``redis://***@``). ``None`` for a URL
    without userinfo, or whose secret is masked as a value. Never raises."""
    m = _USERINFO.match(url)
    if m is None:
        return None
    scheme, info = m.group(1), m.group(2)
    user, _, password = info.partition(":")
    secret = password or user
    if not secret or len(secret) >= 4:
        return None
    return m.group(0), (f"{scheme}{user}:{MASK}@" if password else f"{scheme}{MASK}@")


def register_url(url: str) -> None:
    """Register the secrets a URL carries (``url_secrets``: userinfo, credential-like query values),
    and a userinfo secret too short to be masked as a value with its URL's prefix
    (``userinfo_swap``): every output masks it where it follows that prefix. Never raises."""
    for secret in url_secrets(url):
        register_secret(secret)
    swap = userinfo_swap(url)
    if swap is not None:
        needle, masked = swap
        scope = _SCOPE.get()
        if needle in _SWAPS or (scope is not None and needle in scope.all_swaps()):
            return
        (scope.swaps if scope is not None else _SWAPS)[needle] = masked
        _registry_version[0] += 1


#: A URL in text (any scheme) as far as a delimiter: a space, a quote, ``<>(){}``, or a backslash
#: other than JSON's ``\/`` and ``\uXXXX`` escapes (a body as served may spell ``http:\/\/``). The
#: scheme is at most 32 characters: unbounded, text such as ``a.a.a.…`` took quadratic time.
_URL_IN_TEXT = re.compile(
    r"\b[a-zA-Z][a-zA-Z0-9+.-]{0,31}:(?:\\?/){2}(?:[^\s\"'<>(){}\\]|\\/|\\u[0-9a-fA-F]{4})+"
)
_URL_TRAILER = ".,;:!?)]"


def _text_urls(text: str) -> Iterator[re.Match[str]]:
    """The URLs ``_URL_IN_TEXT`` finds in ``text`` (none without a ``//``: the common case is one
    substring test)."""
    if "//" in text or "\\/\\/" in text:
        yield from _URL_IN_TEXT.finditer(text)


def _bare(url: str) -> str:
    """A URL found in text without trailing punctuation and JSON ``\\/`` escapes."""
    return url.rstrip(_URL_TRAILER).replace("\\/", "/")


def register_urls_in(text: str) -> None:
    """``register_url`` for every URL in ``text`` (a card body, a JSON document as text, prose).
    Never raises."""
    for m in _text_urls(text):
        register_url(_bare(m.group()))


def register_urls_in_json(obj: Any) -> None:
    """``register_urls_in`` for every string of the JSON value ``obj``, object keys included (a
    decoded agent card, a snapshot). Never raises."""
    if isinstance(obj, str):
        register_urls_in(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, str):
                register_urls_in(k)
            register_urls_in_json(v)
    elif isinstance(obj, list):
        for v in obj:
            register_urls_in_json(v)


def mask_urls(text: str) -> str:
    """``text`` with the secrets of every URL in it (``url_secrets``) masked inside that URL, as the
    ``Redactor`` masks registered ones (``http://user:***@host/rpc?token=***``), without registering
    them: nothing else in the text is touched. Never raises."""
    if "//" not in text and "\\/\\/" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        found = m.group()
        bare = _bare(found)
        secrets = url_secrets(bare)
        out = redact_text(found, sorted(set(secrets), key=len, reverse=True)) if secrets else found
        swap = userinfo_swap(bare)  # a userinfo secret of any length: masked where it stands
        return out.replace(swap[0], swap[1], 1) if swap is not None else out

    return _URL_IN_TEXT.sub(one, text)


#: A run of bearer-token characters (RFC 6750 §2.1 ``b64token``; most API keys too) at the end of a text.
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9\-._~+/=]+\Z")


def preview(body: bytes | str, limit: int) -> str:
    """The start of an agent's ``body`` for an error message: at most ``limit`` characters (bytes are
    decoded as UTF-8, a bad byte as U+FFFD), the secrets of every URL in it masked (``mask_urls``),
    and never ending inside a run of token characters that goes on past the cut. Cut there, a secret
    the agent echoed (the caller's token in an error page) leaves a start that no ``Redactor``
    matches, and that start would be printed; a whole secret is masked by the output's ``Redactor``.
    Whitespace around it is stripped."""
    text = body[: limit * 4 + 64].decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = mask_urls(text[: limit * 4 + 64]).strip()
    if len(text) <= limit:
        return text
    head = text[:limit]
    if _TOKEN_TAIL.match(text[limit]):
        head = _TOKEN_TAIL.sub("", head)
    return head.rstrip()


def where_not_utf8(exc: UnicodeDecodeError) -> str:
    """Where a decode of bytes as UTF-8 failed, for an error message, without the bytes around it
    (they may be a secret, not yet registered: a body that did not parse): ``byte 0xe9 at offset 13
    (line 1, byte 14 of the line)``."""
    data, at = exc.object, exc.start
    line = data.count(b"\n", 0, at) + 1
    column = at - (data.rfind(b"\n", 0, at) + 1) + 1
    return f"byte 0x{data[at]:02x} at offset {at} (line {line}, byte {column} of the line)"


def mask_urls_in_json(obj: Any) -> Any:
    """A copy of the JSON value ``obj`` with ``mask_urls`` applied to every string in it, object keys
    included (a card's or a snapshot's URLs: ``http://user:***@host/rpc?token=***``)."""
    if isinstance(obj, str):
        return mask_urls(obj)
    if isinstance(obj, dict):
        return {mask_urls(k) if isinstance(k, str) else k: mask_urls_in_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask_urls_in_json(v) for v in obj]
    return obj


def header_secrets(headers: Iterable[tuple[str, str]]) -> list[str]:
    """The secret parts of sensitive headers: the whole value and, after an auth scheme, the
    credential alone (``Bearer abc`` → ``Bearer abc``, ``abc``)."""
    out: list[str] = []
    for name, value in headers:
        if _SENSITIVE_HEADER.match(name) and value.strip():
            out.append(value.strip())
            scheme, _, rest = value.strip().partition(" ")
            if rest.strip() and scheme.lower() in ("bearer", "basic", "token", "digest"):
                out.append(rest.strip())
    return out


def _spellings(secret: str) -> list[str]:
    """A secret as it may appear in output: raw, JSON-escaped, XML-escaped."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret, quote=False),
        html.escape(secret, quote=True),
    }
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def _swap_spellings(needle: str, masked: str) -> dict[str, str]:
    """A URL prefix swap (``userinfo_swap``) as it may appear in output (raw, JSON-, XML-escaped),
    each spelling with its masked form spelled alike."""
    return {
        f(needle): f(masked)
        for f in (
            lambda x: x,
            lambda x: json.dumps(x)[1:-1],
            lambda x: json.dumps(x, ensure_ascii=False)[1:-1],
            lambda x: html.escape(x, quote=False),
            lambda x: html.escape(x, quote=True),
        )
    }


class Redactor:
    """Masks every known secret in a string: ``secrets`` (the invocation's own, ``Settings.secrets()``,
    fixed for the run), the process registry and, called inside a ``secret_scope()``, that scope's and
    its enclosing scopes'. The needle list is rebuilt only when a secret was registered anywhere since
    (or the scope is another), so the per-write cost with no secrets is a few comparisons."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.own = [v for v in secrets if v]
        self._key: tuple[int, _Scope | None] | None = None
        self._needles: list[str] = []
        self._swaps: dict[str, str] = {}

    def needles(self) -> list[str]:
        """The spellings to mask, longest first (rebuilt when a secret was registered since, or the
        scope is another)."""
        scope = _SCOPE.get()
        key = self._key
        if key is not None and key[0] == _registry_version[0] and key[1] is scope:
            return self._needles  # the per-write path (stream tail's every read): no tuple built
        scoped = scope.all_values() if scope is not None else set()
        values = {v for v in (*self.own, *_REGISTRY, *scoped) if len(v) >= 4}
        swaps: dict[str, str] = {}
        for needle, masked in {**_SWAPS, **(scope.all_swaps() if scope is not None else {})}.items():
            swaps.update(_swap_spellings(needle, masked))
        self._swaps = swaps
        self._needles = sorted({f for v in values for f in _spellings(v)} | set(swaps), key=len, reverse=True)
        self._key = (_registry_version[0], scope)
        return self._needles

    @property
    def swaps(self) -> dict[str, str]:
        """The needles (``needles``) replaced by something else than ``***``: URL prefixes with a
        short userinfo secret (``userinfo_swap``), each with its masked form."""
        self.needles()
        return self._swaps

    def __call__(self, text: str) -> str:
        """``text`` with every known secret spelling replaced by ``***`` (a URL prefix with a short
        userinfo secret by its masked form, ``redis://:***@``)."""
        needles = self.needles()
        swaps = self._swaps
        for needle in needles:
            if needle in text:
                text = text.replace(needle, swaps.get(needle, MASK))
        return text


def redact_body(body: bytes, secrets: list[str]) -> bytes:
    """A wire body for the event sink (``-vv``): ``secrets`` masked as text (``redact_text``), the
    secrets of every URL in it masked inside that URL (``mask_urls``: an agent card's
    ``http://user:pw@host/rpc?token=…`` interfaces, logged before anything read the card) and, in a
    JSON body of at most 1 MiB, the values of credential-like keys (``sessionToken``,
    ``access_token``, …) masked too (``redact_json``). Never raises."""
    import json

    text = body.decode("utf-8", "replace")
    if len(body) <= 1024 * 1024 and text.lstrip()[:1] in ("{", "["):
        try:
            text = json.dumps(redact_json(json.loads(text)), separators=(",", ":"))
        except (ValueError, RecursionError):  # not JSON, or nested too deep to walk: text-level only
            pass
    return redact_text(mask_urls(text), secrets).encode()
