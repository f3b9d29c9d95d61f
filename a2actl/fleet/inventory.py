"""Fleet inventories: which agents ``a2actl fleet probe`` checks (issue #16, docs/fleet.md).

Five formats, told apart by content (not by file name, except that ``.yaml``/``.yml`` selects YAML):

* ``text``: one URL a line; blank lines and ``#`` comments (a whole line, or after whitespace) skipped.
* ``list``: a JSON (or YAML) list whose items are URLs or agent objects (as in ``agents`` below).
* ``json`` / ``yaml``: an object ``{"defaults": {...}, "agents": [...]}``; each agent is a URL string
  or an object ``{url, name, labels: {k: v}, headers: {Name: value}, tokenEnv, budget}``
  (``token_env`` and ``cardUrl`` are accepted spellings; ``budget`` in seconds or ``"5s"``/``"250ms"``;
  header values may be ``${ENV_VAR}``, read from the environment so that secrets stay out of the file).
  ``defaults`` holds the same keys but ``url``/``name``; an agent's own values win, labels and headers
  are merged key by key.
* ``ai-catalog``: an AI Catalog document (``/.well-known/ai-catalog.json``, the Agent-Card/ai-catalog
  specification): ``{"specVersion": "1.0", "entries": [{"identifier", "type", "url" | "data",
  "displayName", "tags"}]}``. Entries of type ``application/a2a-agent-card+json`` (or the generic
  ``application/agent-card+json``) are agents: ``url`` is the card's URL; an inline card (``data``)
  gives its own ``url`` (A2A 0.3) or first ``supportedInterfaces[].url`` (1.0). Nested catalogs
  (``application/ai-catalog+json``) given inline are read; by URL they are skipped with a note.
  Other entry types (MCP servers, skills) are skipped. The earlier draft's
  ``{"agents": [{"id", "name", "cardUrl", "tags"}]}`` is read too (as the ``json`` format).

Every URL is ``http``/``https`` (a bare ``host:port`` gets ``http://``, as curl does). Duplicates (the
same normalised URL, ``normalise_url``) are dropped, the first kept, and counted in
``Inventory.duplicates``. A bad file raises ``UsageError`` (exit 2) naming the file and the line
(text, YAML, JSON syntax) or the entry (``agents[3]``); a key given twice in one YAML mapping (its
line) or one JSON object (its JSON pointer, ``/agents/0/url``) is such an error.

Secrets: every header value read from ``${VAR}`` (and the variable's value), the value of a header
whose name says credential (``Authorization``, ``X-Api-Key``, any name with ``auth``, ``key``,
``secret``, ``token``, ``sign``, ``session``, ``cookie``, ``pass`` or ``credential`` in it) and the
tokens named by ``tokenEnv``: loading registers them with ``a2actl.core.redact`` so no output prints
them. A literal value of another header (``X-Tenant: acme``) is not masked. ``AgentSpec`` never shows
header values in ``repr``.

Shards: ``shard_index`` hashes the normalised URL (SHA-256), so N jobs with ``--shard 1/N`` … ``N/N``
cover the inventory exactly once, whatever its order.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from a2actl.core.errors import UsageError, parse_value_reason
from a2actl.core.headers import bare_token, checked_token, header_problem, is_field_name
from a2actl.core.hostnames import host_problem as _host_problem
from a2actl.core.redact import header_secrets, register_secret, register_url
from a2actl.core.units import parse_duration

if TYPE_CHECKING:
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.transport.base import Transport

#: Media types of AI Catalog entries that are A2A agents (ai-catalog specification, "Catalog Entry").
AGENT_CARD_TYPES = ("application/a2a-agent-card+json", "application/agent-card+json")
#: Media type of a nested AI Catalog.
CATALOG_TYPE = "application/ai-catalog+json"
#: Formats ``Inventory.format`` takes.
FORMATS = ("text", "yaml", "json", "ai-catalog", "list")
#: Largest inventory file read (bytes): 64 MiB holds about a million URLs.
MAX_INVENTORY_BYTES = 64 * 1024 * 1024

_AGENT_KEYS = {"url", "cardUrl", "card_url", "name", "labels", "headers", "tokenEnv", "token_env", "budget"}
_AGENT_KEYS_LEGACY = {"id", "description", "tags", "updatedAt", "version"}  # earlier ai-catalog draft
_DEFAULT_KEYS = {"labels", "headers", "tokenEnv", "token_env", "budget"}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Header names whose values are credentials even when ``a2actl.core.redact`` does not know the name
#: (``X-Tenant-Key``, ``X-Custom-Auth``, ``X-Signature``): their values are registered as secrets.
_CREDENTIAL_HEADER = re.compile(r"auth|key|secret|token|sign|session|cookie|pass|credential", re.I)


#: The labels/headers of an agent that has none: one shared read-only mapping, not two empty dicts
#: per agent of a 10,000-line text inventory.
_NONE: Mapping[str, str] = MappingProxyType({})


def _no_map() -> Mapping[str, str]:
    return _NONE


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """One agent to check. ``url``: a base URL or card URL (http/https, as written, ``http://`` added
    to a bare ``host:port``); ``name``: a display name (defaults to ``url``); ``labels``: free
    ``str → str`` (JUnit classname uses ``labels["group"]``/``labels["team"]`` when present);
    ``headers``: extra request headers for this agent (values are secrets: never printed, hidden from
    ``repr``); ``token_env``: the NAME of an environment variable holding a bearer token (read by
    ``token()``); ``budget``: this agent's total time budget in seconds (``None``: the run's)."""

    url: str
    name: str = ""
    labels: Mapping[str, str] = field(default_factory=_no_map)
    headers: Mapping[str, str] = field(default_factory=_no_map, repr=False)
    token_env: str | None = None
    budget: float | None = None

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.url)

    @property
    def key(self) -> str:
        """The normalised URL (``normalise_url``): duplicates and shards are judged on it."""
        return normalise_url(self.url)

    def token(self) -> str | None:
        """The bearer token from ``token_env`` (``None`` when unset or empty), without a leading
        ``Bearer`` word (``a2actl.core.headers.bare_token``: a2actl adds the scheme itself). Loading
        the inventory checked that it can be sent (``parse_inventory``)."""
        if not self.token_env:
            return None
        value = os.environ.get(self.token_env, "").strip()
        return bare_token(value)[0] if value else None

    def to_json(self) -> dict[str, Any]:
        """``{"url", "name", "labels", "headerNames", "tokenEnv", "budget"}``: header NAMES only, never
        their values (the values are secrets)."""
        return {
            "url": self.url,
            "name": self.name,
            "labels": dict(self.labels),
            "headerNames": sorted(self.headers),
            "tokenEnv": self.token_env,
            "budget": self.budget,
        }


@dataclass(frozen=True)
class Inventory:
    """A loaded inventory: ``agents`` in file order without duplicates; ``source`` the file name, URL
    or ``<stdin>``; ``format`` one of ``FORMATS``; ``duplicates`` how many entries repeated an earlier
    URL and were dropped; ``skipped`` how many AI Catalog entries were not A2A agents (MCP servers,
    skills; a nested catalog by URL is not counted: it has a note of its own); ``notes`` one-line
    remarks for the report (a nested catalog skipped, …)."""

    agents: tuple[AgentSpec, ...]
    source: str
    format: str
    duplicates: int = 0
    skipped: int = 0
    notes: tuple[str, ...] = ()
    #: The normalised URL of each dropped duplicate (``duplicates`` of them when known): a shard
    #: counts only the duplicates of its own agents, so a merge of the shards sums to the whole's.
    duplicate_keys: tuple[str, ...] = ()

    def shard(self, index: int, count: int) -> Inventory:
        """This inventory's shard ``index`` of ``count`` (1-based, as ``--shard 2/4``), with the
        duplicates of its agents only."""
        keys = tuple(k for k in self.duplicate_keys if shard_index(k, count) == index - 1)
        return Inventory(
            agents=select_shard(self.agents, index, count),
            source=self.source,
            format=self.format,
            duplicates=len(keys) if self.duplicate_keys else self.duplicates,
            skipped=self.skipped,
            notes=self.notes,
            duplicate_keys=keys,
        )


# --------------------------------------------------------------------------------------------- URLs


class _EntryError(Exception):
    """An error in one entry; the caller adds the file and the line or entry path. ``hint``: a
    one-line suggestion for the ``UsageError``."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def check_url(text: str) -> str:
    """``text`` stripped, with ``http://`` added to a bare ``host[:port][/path]``. Raises
    ``ValueError`` for an empty value, another scheme, no host, a bad port, or whitespace inside."""
    t = text.strip()
    if not t:
        raise ValueError("empty URL")
    if _lone_surrogate(t):
        raise ValueError(f"{t!r} is not valid Unicode text (a lone surrogate)")
    if any(c.isspace() for c in t):
        raise ValueError(f"{t!r} is not one URL (whitespace inside)")
    if "://" not in t:
        t = "http://" + t
    parts = urlsplit(t)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"unsupported scheme {parts.scheme!r} in {t!r} (use http:// or https://)")
    try:
        host, _port = parts.hostname, parts.port  # both raise ValueError on a malformed netloc
    except ValueError as exc:
        raise ValueError(f"{t!r} is not a valid URL: {exc}") from exc
    if not host:
        raise ValueError(f"{t!r} has no host")
    problem = _host_problem(host)
    if problem:
        raise ValueError(f"{t!r} is not a valid URL: {problem}")
    return t


def _lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate (JSON's ``"\\ud800"`` escape): text with no UTF-8
    form, which no output can write (``UnicodeEncodeError`` lost the whole report)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def normalise_url(url: str) -> str:
    """The form duplicates and shards are judged on: scheme and host lower-cased, the default port
    dropped, the fragment dropped, trailing slashes of the path dropped (``HTTP://A.example:80/x/`` →
    ``http://a.example/x``). Userinfo and query are kept. A URL ``urlsplit`` cannot read is returned
    stripped."""
    t = url.strip()
    try:
        parts = urlsplit(t if "://" in t else "http://" + t)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return t
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if "@" in parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}" + (f"?{parts.query}" if parts.query else "")


def shard_index(url: str, count: int) -> int:
    """The 0-based shard (``0 … count-1``) of ``url``: the first 8 bytes of SHA-256 of
    ``normalise_url(url)`` (UTF-8), big-endian, modulo ``count``. Stable across runs, machines and
    Python versions. Raises ``ValueError`` when ``count < 1``."""
    if count < 1:
        raise ValueError("shard count must be at least 1")
    digest = hashlib.sha256(normalise_url(url).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)`` (1-based index, count). Raises ``UsageError`` (exit 2) unless
    ``1 ≤ index ≤ count``."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise UsageError(f"--shard {text!r} is not I/N", hint="for example --shard 1/4 … --shard 4/4")
    try:
        index, count = int(m.group(1)), int(m.group(2))
    except ValueError:  # over int()'s 4,300 digits: exit 1 'unexpected ValueError'
        raise UsageError(
            f"--shard {text[:40]!r}… is not I/N (a number over 4,300 digits)", hint="for example --shard 1/4"
        ) from None
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard {text}: I must be between 1 and N (N ≥ 1)", hint="e.g. --shard 1/4")
    return index, count


def select_shard(agents: Iterable[AgentSpec], index: int, count: int) -> tuple[AgentSpec, ...]:
    """The agents of shard ``index`` (1-based, ``1 … count``) of ``count``, in their order: those whose
    ``shard_index(url, count) == index - 1``. The shards 1…N partition any inventory."""
    if count < 1 or not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count} out of range")
    return tuple(a for a in agents if shard_index(a.url, count) == index - 1)


# ----------------------------------------------------------------------------------------- loading


def load_inventory(source: str, *, stdin: IO[bytes] | None = None, data: bytes | None = None) -> Inventory:
    """Read an inventory from a file path, or standard input for ``"-"`` (``stdin`` overrides
    ``sys.stdin.buffer``); ``data``: its content, read ahead (``a2actl exporter`` reads a FIFO or
    standard input under its start-up deadline), ``source`` then only names it. The format is
    detected from the content (see the module docstring).
    Raises ``UsageError`` (exit 2): unreadable or non-UTF-8 file, a syntax error (with its line),
    a bad entry (with its line or path), or no agents at all. An http(s) URL is refused here
    (``fetch_inventory`` reads one; ``a2actl exporter`` takes files only). Blocks until the file or
    stream ends: ``open_inventory`` reads a pipe or FIFO off the event loop."""
    if source.startswith(("http://", "https://")):
        raise UsageError(
            f"inventory {source} is a URL: give a file here",
            hint="download it (curl -o agents.json URL); fleet probe fetches an inventory URL itself",
        )
    from a2actl.core.offloop import read_upto  # lazy: asyncio and threading, for two calls

    name = "<stdin>" if source == "-" else source
    try:
        if data is None and source == "-":
            if stdin is None and sys.stdin is None:  # `<&-`: Python's sys.stdin is None
                raise UsageError(f"cannot read inventory {name}: standard input is closed")
            data = read_upto(stdin if stdin is not None else sys.stdin.buffer, MAX_INVENTORY_BYTES + 1)
        elif data is None:
            with open(source, "rb") as fh:
                data = read_upto(fh, MAX_INVENTORY_BYTES + 1)
    except IsADirectoryError as exc:
        raise UsageError(f"cannot read inventory {name}: it is a directory") from exc
    except OSError as exc:
        raise UsageError(f"cannot read inventory {name}: {exc.strerror or exc}") from exc
    if len(data) > MAX_INVENTORY_BYTES:
        raise UsageError(f"inventory {name} is larger than {MAX_INVENTORY_BYTES // (1024 * 1024)} MiB")
    lowered = name.lower()
    return parse_inventory(
        data, name, yaml_hint=lowered.endswith((".yaml", ".yml")), json_hint=lowered.endswith(".json")
    )


async def fetch_inventory(url: str, transport: Transport) -> Inventory:
    """Fetch an inventory (typically an AI Catalog, ``https://host/.well-known/ai-catalog.json``) over
    ``transport`` and parse it as ``parse_inventory`` does. The whole fetch is bounded by the
    transport's read timeout (``--timeout``), so a server that drips its body cannot hold the run.
    Raises ``UsageError`` (exit 2) for a non-2xx answer (an unfollowed redirect included), an HTML
    page (a login or error page, not an inventory) or a bad document (naming the URL); the transport's
    errors for a network failure (3 unreachable, 4 auth, 6 oversized body) and ``TimeoutError_``
    (exit 5) past the timeout."""
    import asyncio

    from a2actl.core.errors import HTTPStatusError, TimeoutError_

    try:
        checked = check_url(url)
    except ValueError as exc:
        raise UsageError(f"inventory URL: {exc}") from exc
    limit = transport.settings.read_timeout
    call = transport.request(
        "GET", checked, headers={"Accept": f"{CATALOG_TYPE}, application/json"}, max_bytes=MAX_INVENTORY_BYTES
    )
    try:
        res = await asyncio.wait_for(call, limit)
    except HTTPStatusError as exc:
        raise UsageError(f"inventory {url}: {exc.message}", hint=exc.hint) from exc
    except asyncio.TimeoutError:
        raise TimeoutError_(
            f"inventory {url}: no complete answer within {limit:g}s (--timeout)",
            hint="raise --timeout, or download the catalog and pass the file",
        ) from None
    if res.status >= 300:
        raise UsageError(f"inventory {url}: HTTP {res.status} {res.reason}".rstrip())
    ctype = str(res.headers.get("content-type") or "").split(";")[0].strip().lower()
    if ctype in ("text/html", "application/xhtml+xml"):
        raise UsageError(
            f"inventory {url}: answered an HTML page ({ctype}), not an inventory",
            hint="a login or error page? check the URL and the credentials",
        )
    return parse_inventory(res.body, url)


async def open_inventory(
    source: str, settings: Settings, sink: EventSink | None = None, *, stdin: IO[bytes] | None = None
) -> Inventory:
    """``fleet probe INVENTORY``: an http(s) URL is fetched (``fetch_inventory`` over an
    ``HttpTransport`` with the invocation's ``settings``: headers, token, TLS, timeouts, ``-L``);
    anything else is ``load_inventory`` (a path, ``-`` for stdin; a pipe, FIFO or standard input in a
    thread, ``core.offloop``, so ``--max-time`` and SIGTERM still end it). Raises what those raise."""
    if source.startswith(("http://", "https://")):
        from a2actl.transport.http import HttpTransport

        async with HttpTransport(settings, sink) as transport:
            return await fetch_inventory(source, transport)
    from a2actl.core.offloop import off_the_loop, read_path

    def read() -> Inventory:
        return load_inventory(source, stdin=stdin)

    if source == "-":  # standard input may never end
        return await off_the_loop(read, "a2actl-inventory")
    return await read_path(source, read, "a2actl-inventory")


def parse_inventory(
    data: bytes | str, source: str, *, yaml_hint: bool = False, json_hint: bool = False
) -> Inventory:
    """Parse an inventory document (``source`` names it in errors). See the module docstring for the
    formats; ``json_hint`` (a ``.json`` file name) reads the document as JSON whatever it starts with,
    so ``42`` or ``null`` there is an error rather than a text line. Raises ``UsageError`` (exit 2)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UsageError(f"inventory {source} is not UTF-8 text (byte {exc.start})") from exc
    else:
        text = data
    head = _first_significant(text)
    if head.startswith(("{", "[")) or (json_hint and head):
        doc, lines = _load_json(text, source), None
        fmt = "json"
    elif yaml_hint or _looks_yaml(head):
        doc, lines = _load_yaml(text, source)
        fmt = "yaml"
    else:
        return _finish(_parse_text(text, source), source, "text")
    try:
        if isinstance(doc, list):
            specs = _agents_from_list(doc, "", {}, lines)
            return _finish(specs, source, "list")
        if not isinstance(doc, dict):
            raise _EntryError(f"the document is a {_kind(doc)}; expected a list or an object with 'agents'")
        if "entries" in doc:
            specs, skipped, notes = _agents_from_catalog(doc, "", lines)
            return _finish(specs, source, "ai-catalog", skipped=skipped, notes=notes)
        if "agents" in doc:
            return _finish(_agents_from_object(doc, lines), source, fmt)
        raise _EntryError("an object without 'agents' (an inventory) or 'entries' (an AI Catalog)")
    except _EntryError as exc:
        raise UsageError(f"inventory {source}: {exc}", hint=exc.hint) from exc


def _finish(
    specs: list[AgentSpec], source: str, fmt: str, *, skipped: int = 0, notes: Sequence[str] = ()
) -> Inventory:
    """Drop duplicates (first kept), register secrets, refuse an empty inventory."""
    seen: set[str] = set()
    agents: list[AgentSpec] = []
    dropped: list[str] = []
    notes = list(notes)
    scheme_noted: set[str] = set()
    for spec in specs:
        key = spec.key
        if key in seen:
            dropped.append(key)
            continue
        seen.add(key)
        agents.append(spec)
        register_url(spec.url)
        for secret in header_secrets(spec.headers.items()):
            register_secret(secret)
        for name, value in spec.headers.items():
            if _CREDENTIAL_HEADER.search(name):
                register_secret(value.strip())
        token = spec.token()
        if token:
            register_secret(token)
            var = spec.token_env or ""
            if var not in scheme_noted and bare_token(os.environ.get(var, "").strip())[1]:
                scheme_noted.add(var)  # one note per variable, not one per agent that uses it
                notes.append(
                    f"tokenEnv {var} starts with 'Bearer '; sending the token after it "
                    "(a2actl adds the Bearer scheme itself)"
                )
    if not agents:
        raise UsageError(f"inventory {source} lists no agents")
    return Inventory(
        agents=tuple(agents),
        source=source,
        format=fmt,
        duplicates=len(dropped),
        skipped=skipped,
        notes=tuple(notes),
        duplicate_keys=tuple(dropped),
    )


#: One line as ``str.splitlines`` cuts them (the same line boundaries), matched in place.
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE = re.compile(f"([^{_BREAKS}]*)(?:\r\n|[{_BREAKS}]|\\Z)")


def iter_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` as ``text.splitlines()`` gives them (plus one empty line at the end
    when ``text`` ends with a line break), one at a time: a 10 MiB inventory is not copied into a
    list of lines."""
    for m in _LINE.finditer(text):
        yield m.group(1)
        if m.end() == len(text):
            return


def _first_significant(text: str) -> str:
    for line in iter_lines(text):
        s = line.strip()
        if s and not s.startswith("#"):
            return s
    return ""


def _looks_yaml(head: str) -> bool:
    """A first line like ``agents:``, ``defaults:``, ``- url: …`` or ``---``."""
    return head == "---" or bool(re.match(r"^(-\s|[A-Za-z_][\w-]*:(\s|$))", head))


_COMMENT = re.compile(r"(^|\s)#.*$")


def _parse_text(text: str, source: str) -> list[AgentSpec]:
    specs = []
    for number, line in enumerate(iter_lines(text), 1):
        s = _COMMENT.sub("", line).strip()
        if not s:
            continue
        try:
            specs.append(AgentSpec(url=check_url(s)))
        except ValueError as exc:
            raise UsageError(f"inventory {source}, line {number}: {exc}") from exc
    return specs


class _RepeatedMember(Exception):
    """A member name repeated in one JSON object (found by ``_unique_members``; where: a second read)."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` of an inventory's JSON: the object, or ``_RepeatedMember`` for a name
    given twice in it (the standard library would keep the last value silently)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _RepeatedMember
    return obj


def _load_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_members)
    except _RepeatedMember:
        # a second 'agents' (two teams' lists pasted together) dropped the first list's agents
        # unprobed, exit 0; a second 'url' probed another agent than the first named
        from a2actl.protocol.jsondoc import duplicate_members

        repeats = duplicate_members(text)
        where = f" ({repeats[0].pointer})" if repeats else ""
        name = repeats[0].name if repeats else "a member"
        raise UsageError(
            f"inventory {source}: {name!r} appears twice in one object{where}",
            hint="most JSON readers (a2actl's among them) keep only the last one; remove or rename one of them",
        ) from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"inventory {source}, line {exc.lineno} column {exc.colno}: not JSON: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise UsageError(f"inventory {source}: JSON nested too deep") from exc
    except ValueError as exc:  # a number over int()'s 4,300 digits: exit 1 'unexpected ValueError'
        raise UsageError(f"inventory {source}: not JSON: {parse_value_reason(exc)}") from exc


class _DuplicateKey(Exception):
    """A key repeated in one YAML mapping (``line``: 1-based, of the repeated key)."""

    def __init__(self, key: object, line: int) -> None:
        super().__init__(key, line)
        self.key = key
        self.line = line


class _Lines(dict[int, int]):
    """``id(node) → line`` for the YAML containers (1-based), to name an entry's line."""


def _load_yaml(text: str, source: str) -> tuple[Any, _Lines]:
    import yaml

    lines = _Lines()

    class LineLoader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
        # a key twice in one mapping: PyYAML keeps the last one silently, so a second 'agents:'
        # (two teams' lists pasted together) dropped the first list's agents unprobed, exit 0; a
        # second 'url:' probed another agent than the first named. Merge keys (<<) still override.
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = loader.construct_object(key_node)
            if key in seen:
                raise _DuplicateKey(key, key_node.start_mark.line + 1)
            seen.add(key)
        value = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
        lines[id(value)] = node.start_mark.line + 1
        return value

    LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        doc = yaml.load(text, Loader=LineLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise UsageError(
            f"inventory {source}, line {exc.line}: {exc.key!r} appears twice in one mapping",
            hint="YAML would silently keep only the last one; remove or rename one of them",
        ) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"inventory {source}{where}: not YAML: {exc.problem or exc}") from exc
    except (yaml.YAMLError, RecursionError) as exc:
        raise UsageError(f"inventory {source}: not YAML: {exc}") from exc
    except ValueError as exc:  # an integer over int()'s 4,300 digits: exit 1 'unexpected ValueError'
        raise UsageError(f"inventory {source}: not YAML: {parse_value_reason(exc)}") from exc
    return doc, lines


def _where(path: str, node: Any, lines: _Lines | None) -> str:
    line = lines.get(id(node)) if lines is not None else None
    return f"{path} (line {line})" if line else path


def _kind(value: Any) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _EntryError(f"{what} must be an object of strings, not a {_kind(value)}")
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or isinstance(v, (dict, list)) or v is None:
            raise _EntryError(f"{what}: {k!r} must map to a string")
        if _lone_surrogate(k) or (isinstance(v, str) and _lone_surrogate(v)):
            raise _EntryError(f"{what}: {k!r} is not valid Unicode text (a lone surrogate)")
        if isinstance(v, (_dt.date, _dt.datetime)):  # YAML reads 2024-01-01 as a date
            out[k] = v.isoformat()
        elif isinstance(v, str):
            out[k] = v
        elif isinstance(v, (bool, int, float)):
            out[k] = json.dumps(v)
        else:  # a YAML timestamp or binary: not a label or header value
            raise _EntryError(f"{what}: {k!r} must map to a string")
    return out


def _headers(value: Any, what: str) -> dict[str, str]:
    headers = _str_map(value, what)
    seen: dict[str, str] = {}
    for name, raw in list(headers.items()):
        if not is_field_name(name):
            shown = repr(name) if len(name) <= 40 else repr(name[:40]) + "…"
            raise _EntryError(f"{what}: {shown} is not a header name")
        if seen.setdefault(name.lower(), name) != name:
            raise _EntryError(f"{what}: {seen[name.lower()]} and {name} are one header (names ignore case)")

        def env(m: re.Match[str], name: str = name) -> str:
            var = m.group(1)
            if var not in os.environ:
                raise _EntryError(f"{what}.{name}: environment variable {var} is not set")
            register_secret(os.environ[var])  # kept out of the file: a secret whatever the header
            return os.environ[var]

        value_ = _ENV_REF.sub(env, raw)
        problem = header_problem(name, value_)
        if problem:  # never the value: it may be a secret
            raise _EntryError(f"{what}.{name}: {problem[0]}", hint=problem[1])
        if value_ != raw:
            register_secret(value_)
        headers[name] = value_
    return headers


def _budget(value: Any, what: str) -> float | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        seconds = float(value) if isinstance(value, (int, float)) else parse_duration(str(value))
    except (ValueError, OverflowError) as exc:  # OverflowError: an integer too large for a float
        raise _EntryError(f"{what}: budget {value!r} is not a duration (5, 5s, 250ms)") from exc
    if not seconds > 0 or seconds == float("inf"):
        raise _EntryError(f"{what}: budget must be a positive duration, not {value!r}")
    return seconds


def _token_env(entry: Mapping[str, Any], what: str) -> str | None:
    value = entry.get("tokenEnv", entry.get("token_env"))
    if value is None:
        return None
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise _EntryError(f"{what}: tokenEnv must be an environment variable NAME, not {value!r}")
    return value


def _check_token(var: str | None, what: str) -> None:
    """The token the variable ``var`` holds must be set, non-empty and sendable
    (``a2actl.core.headers.checked_token``: printable ASCII on one line, after one optional leading
    ``Bearer`` word): as the global ``--token-env``. A typo must not send the agent no token and
    report ``auth``. Raises ``_EntryError`` naming the variable, never its value."""
    if var is None:
        return
    value = os.environ.get(var, "").strip()
    if not value:
        raise _EntryError(f"{what}: tokenEnv {var}: that environment variable is not set or empty")
    try:
        checked_token(value, f"{what}: tokenEnv {var}")
    except UsageError as exc:
        raise _EntryError(exc.message, hint=exc.hint) from None


def _defaults(doc: Mapping[str, Any], lines: _Lines | None) -> dict[str, Any]:
    raw = doc.get("defaults")
    if raw is None:
        return {}
    where = _where("defaults", raw, lines)
    if not isinstance(raw, dict):
        raise _EntryError(f"{where} must be an object")
    unknown = set(raw) - _DEFAULT_KEYS
    if unknown:
        raise _EntryError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    return {
        "labels": _str_map(raw.get("labels"), f"{where}.labels"),
        "headers": _headers(raw.get("headers"), f"{where}.headers"),
        "token_env": _token_env(raw, where),
        "budget": _budget(raw.get("budget"), where),
    }


def _agent(entry: Any, path: str, defaults: Mapping[str, Any], lines: _Lines | None) -> AgentSpec:
    where = _where(path, entry, lines)
    if isinstance(entry, str):
        _check_token(defaults.get("token_env"), where)
        try:
            return AgentSpec(
                url=check_url(entry),
                labels=dict(defaults.get("labels", {})) or _NONE,
                headers=dict(defaults.get("headers", {})) or _NONE,
                token_env=defaults.get("token_env"),
                budget=defaults.get("budget"),
            )
        except ValueError as exc:
            raise _EntryError(f"{where}: {exc}") from exc
    if not isinstance(entry, dict):
        raise _EntryError(f"{where} must be a URL or an object, not a {_kind(entry)}")
    unknown = set(entry) - _AGENT_KEYS - _AGENT_KEYS_LEGACY
    if unknown:
        raise _EntryError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    url = entry.get("url", entry.get("cardUrl", entry.get("card_url")))
    if not isinstance(url, str):
        raise _EntryError(f"{where}: 'url' (a string) is required")
    try:
        url = check_url(url)
    except ValueError as exc:
        raise _EntryError(f"{where}: {exc}") from exc
    name = entry.get("name", "")
    if not isinstance(name, str):
        raise _EntryError(f"{where}: name must be a string")
    if _lone_surrogate(name):
        raise _EntryError(f"{where}: name {name!r} is not valid Unicode text (a lone surrogate)")
    labels = {**defaults.get("labels", {}), **_str_map(entry.get("labels"), f"{where}.labels")}
    tags = entry.get("tags")
    if isinstance(tags, list) and tags and "tags" not in labels:
        labels["tags"] = ",".join(str(t) for t in tags)
        if _lone_surrogate(labels["tags"]):
            raise _EntryError(
                f"{where}: tags {labels['tags']!r} are not valid Unicode text (a lone surrogate)"
            )
    own = _headers(entry.get("headers"), f"{where}.headers")
    taken = {k.lower() for k in own}  # names compare case-insensitively: the agent's replaces the default
    headers = {**{k: v for k, v in defaults.get("headers", {}).items() if k.lower() not in taken}, **own}
    token_env = _token_env(entry, where) or defaults.get("token_env")
    _check_token(token_env, where)
    budget = _budget(entry.get("budget"), where)
    return AgentSpec(
        url=url,
        name=name,
        labels=labels or _NONE,
        headers=headers or _NONE,
        token_env=token_env,
        budget=budget if budget is not None else defaults.get("budget"),
    )


def _agents_from_list(
    items: list[Any], prefix: str, defaults: Mapping[str, Any], lines: _Lines | None
) -> list[AgentSpec]:
    return [_agent(item, f"{prefix}[{i}]", defaults, lines) for i, item in enumerate(items)]


def _agents_from_object(doc: Mapping[str, Any], lines: _Lines | None) -> list[AgentSpec]:
    unknown = set(doc) - {"agents", "defaults", "$schema", "specVersion", "host", "version"}
    if unknown:
        raise _EntryError(f"unknown top-level key(s) {', '.join(sorted(map(str, unknown)))}")
    agents = doc.get("agents")
    if not isinstance(agents, list):
        raise _EntryError(f"'agents' must be a list, not a {_kind(agents)}")
    return _agents_from_list(agents, "agents", _defaults(doc, lines), lines)


def _inline_card_url(card: Any) -> str | None:
    """The URL an inline A2A card gives: ``url`` (0.3) or the first ``supportedInterfaces[].url`` (1.0)."""
    if not isinstance(card, dict):
        return None
    url = card.get("url")
    if isinstance(url, str) and url:
        return url
    for iface in card.get("supportedInterfaces") or []:
        if isinstance(iface, dict) and isinstance(iface.get("url"), str) and iface["url"]:
            return str(iface["url"])
    return None


def _agents_from_catalog(
    doc: Mapping[str, Any], prefix: str, lines: _Lines | None, depth: int = 0
) -> tuple[list[AgentSpec], int, list[str]]:
    """Agents of an AI Catalog (ai-catalog specification, "Top-Level Structure" / "Catalog Entry")."""
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise _EntryError(f"{prefix}entries must be a list, not a {_kind(entries)}")
    specs: list[AgentSpec] = []
    skipped = 0
    notes: list[str] = []
    for i, entry in enumerate(entries):
        path = f"{prefix}entries[{i}]"
        where = _where(path, entry, lines)
        if not isinstance(entry, dict):
            raise _EntryError(f"{where} must be an object, not a {_kind(entry)}")
        kind = entry.get("type")
        if not isinstance(kind, str):
            raise _EntryError(f"{where}: 'type' (a media type) is required")
        kind = kind.split(";")[0].strip().lower()
        if kind == CATALOG_TYPE:
            if isinstance(entry.get("data"), dict) and depth < 8:
                nested, n_skipped, n_notes = _agents_from_catalog(
                    entry["data"], f"{path}.data.", lines, depth + 1
                )
                specs += nested
                skipped += n_skipped
                notes += n_notes
            else:  # noted on its own, not counted with the MCP servers and skills
                notes.append(f"{path}: a nested catalog by URL is not followed; list it as its own inventory")
            continue
        if kind not in AGENT_CARD_TYPES:
            skipped += 1
            continue
        url = entry.get("url")
        if url is None:
            url = _inline_card_url(entry.get("data"))
        if not isinstance(url, str):
            raise _EntryError(f"{where}: an agent entry needs 'url' or an inline card ('data') with a url")
        try:
            url = check_url(url)
        except ValueError as exc:
            raise _EntryError(f"{where}: {exc}") from exc
        name = entry.get("displayName") or entry.get("identifier") or ""
        labels: dict[str, str] = {}
        if isinstance(entry.get("identifier"), str):
            labels["identifier"] = entry["identifier"]
        tags = entry.get("tags")
        if isinstance(tags, list) and tags:
            labels["tags"] = ",".join(str(t) for t in tags)
        for text in (str(name), *labels.values()):
            if _lone_surrogate(text):
                raise _EntryError(f"{where}: {text!r} is not valid Unicode text (a lone surrogate)")
        specs.append(AgentSpec(url=url, name=str(name), labels=labels))
    return specs, skipped, notes


__all__ = [
    "AGENT_CARD_TYPES",
    "FORMATS",
    "AgentSpec",
    "Inventory",
    "check_url",
    "fetch_inventory",
    "load_inventory",
    "normalise_url",
    "open_inventory",
    "parse_inventory",
    "parse_shard",
    "select_shard",
    "shard_index",
]
