"""``caps lint``: security and hygiene rules over an AgentCard of any version (0.2, 0.3, 1.0,
hybrid), each finding with a stable rule id (``a2actl.caps.lint_rules``), a severity, an RFC 6901
JSON pointer into the card as served, a message, and the rule's one-line why and fix. The rules,
their limits and the allow-list file format: ``docs/lint-rules.md``.

The static rules read the raw card (pointers must point into what was served, whatever its
version) plus the normalised view (``a2actl.protocol.card``) where versions differ. The one live
rule (``A2A-SEC-003``, ``--live``) makes one side-effect-free call per declared JSON-RPC or HTTP+JSON
interface (``GetTask`` / ``tasks/get`` on a random task id) without any credential.

Pure functions never print and never raise for card content; ``lint_job`` raises what card loading
raises (``a2actl.caps.jobs``: exit 2/3/4/5/6/1) and ``UsageError`` (2) for a bad ``--select``,
``--ignore`` or ``--config``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from a2actl.caps.checks import undeclared_scheme_refs
from a2actl.caps.lint_rules import BY_ID, RULES, SEVERITY_RANK, Rule, matching
from a2actl.core.errors import UsageError, parse_value_reason
from a2actl.core.exit_codes import ExitCode

if TYPE_CHECKING:
    from a2actl.agent.discovery import CardFetch
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink
    from a2actl.protocol.card import CardView

#: ``--fail-on`` values.
FAIL_ON = ("error", "warning", "info", "none")

# -- limits of A2A-SEC-013 (characters, items, bytes) -------------------------------------------
LIMIT_NAME = 200
LIMIT_DESCRIPTION = 4000
LIMIT_EXAMPLE = 1000
LIMIT_TAG = 100
LIMIT_STRING = 2048
LIMIT_SKILLS = 200
LIMIT_ITEMS = 50
LIMIT_CARD_BYTES = 256 * 1024
#: The most of a ``--config`` file read (bytes); a larger file is exit 2.
LIMIT_CONFIG_BYTES = 1024 * 1024

#: At most this many findings of one rule are listed; the rest are counted (``LintResult.omitted``)
#: and still count for ``--fail-on``. A hostile card with 100,000 bidi characters must not make a
#: 100 MB report, a table that takes minutes, or a SARIF log that GitHub code scanning rejects (over
#: 25,000 results a run; it shows the first 5,000): 19 rules x 100 stays under both.
MAX_PER_RULE = 100


@dataclass(frozen=True)
class Suppression:
    """Why a finding is allowed: the allow entry's ``reason`` and where it came from (``source``:
    ``FILE#N``, the N-th ``allow`` entry of the config file, counted from 1)."""

    reason: str
    source: str

    def to_json(self) -> dict[str, Any]:
        """``{"reason", "source"}``."""
        return {"reason": self.reason, "source": self.source}


@dataclass(frozen=True)
class LintFinding:
    """One finding: the ``rule``, an RFC 6901 ``pointer`` into the card as served (``""`` is the
    whole card), a one-line ``message``; ``suppressed`` when an allow entry covers it."""

    rule: Rule
    pointer: str
    message: str
    suppressed: Suppression | None = None

    @property
    def severity(self) -> str:
        """The rule's severity (``error``, ``warning``, ``info``)."""
        return self.rule.severity

    def to_json(self) -> dict[str, Any]:
        """``{"id", "name", "severity", "title", "pointer", "message", "why", "fix", "suppressed"}``."""
        return {
            "id": self.rule.id,
            "name": self.rule.name,
            "severity": self.rule.severity,
            "title": self.rule.title,
            "pointer": self.pointer,
            "message": self.message,
            "why": self.rule.why,
            "fix": self.rule.fix,
            "suppressed": self.suppressed.to_json() if self.suppressed else None,
        }


@dataclass(frozen=True)
class LiveCheck:
    """One ``--live`` call without credentials: the interface (``url``, ``binding``, ``version``),
    its JSON ``pointer`` in the card, the ``outcome`` (``refused``: HTTP 401/403, as it should;
    ``answered``: an A2A answer came back, A2A-SEC-003; ``unknown``: anything else, with ``detail``)."""

    url: str
    binding: str
    version: str
    pointer: str
    outcome: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        """``{"url", "binding", "version", "pointer", "outcome", "detail"}``."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AllowEntry:
    """An ``allow`` entry of the config file: ``rule`` (id, prefix or name), optional ``pointer`` (the
    finding's pointer or one of its ancestors), required ``reason``; ``source`` says where it was
    read (``FILE#N``)."""

    rule: str
    ids: frozenset[str]
    pointer: str | None
    reason: str
    source: str

    def covers(self, f: LintFinding) -> bool:
        """Whether this entry allows finding ``f``."""
        if f.rule.id not in self.ids:
            return False
        if self.pointer is None:
            return True
        p = self.pointer.rstrip("/")
        return f.pointer == p or f.pointer.startswith(p + "/") or p == ""


@dataclass(frozen=True)
class LintConfig:
    """A ``--config`` file: ``select``/``ignore`` (``None``: not set), ``fail_on`` (``None``: not
    set) and the ``allow`` entries. Format: ``docs/lint-rules.md`` ("Configuration file")."""

    path: str | None = None
    select: list[str] | None = None
    ignore: list[str] | None = None
    fail_on: str | None = None
    allow: list[AllowEntry] = field(default_factory=list)


async def read_config(path: str) -> LintConfig:
    """``load_config`` for the event loop: a FIFO or ``<(cmd)`` is read in a daemon thread
    (``core.offloop.read_path``), so ``--max-time`` (exit 5) and one Ctrl-C/SIGTERM (exit 130) end a
    wait for a writer that never comes (the loop blocked in ``open`` ignored both); a regular file is
    read at once. Raises what ``load_config`` raises (``UsageError``, exit 2)."""
    from a2actl.core.offloop import read_path

    return await read_path(path, lambda: load_config(path), "a2actl-lint-config")


def load_config(path: str) -> LintConfig:
    """Read a lint configuration file: YAML (JSON is YAML too) with a top-level ``lint`` mapping
    (``select``, ``ignore``, ``fail-on``, ``allow``; docs/lint-rules.md). Raises ``UsageError``
    (exit 2) naming the file and the key when it cannot be read, is over ``LIMIT_CONFIG_BYTES``,
    is not YAML or nests too deep, has unknown keys or
    wrong types, names no rule, or an allow entry has no ``reason``."""
    import yaml

    try:
        with open(path, "rb") as fh:  # bounded: --config /dev/zero must not read forever
            data = fh.read(LIMIT_CONFIG_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"--config: cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > LIMIT_CONFIG_BYTES:
        raise UsageError(f"--config: {path} is over {LIMIT_CONFIG_BYTES:,} bytes: not a lint configuration")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"--config: {path} is not UTF-8 text") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"--config: {path} is not YAML: {_cut(' '.join(str(exc).split()))}") from exc
    except RecursionError as exc:  # PyYAML composes nested collections recursively
        raise UsageError(f"--config: {path} nests too deep to be a lint configuration") from exc
    except ValueError as exc:
        # PyYAML's scalar constructors raise a plain ValueError (no YAMLError) for an unquoted date
        # that is no date (2001-13-01) or an integer over int()'s 4,300 digits: it was exit 1
        # 'unexpected ValueError', as it was in smoke suites and fleet inventories
        raise UsageError(f"--config: {path} is not YAML: {_cut(parse_value_reason(exc))}") from exc
    table = doc.get("lint") if isinstance(doc, dict) else None
    if not isinstance(table, dict):
        raise UsageError(f"--config: {path} has no 'lint:' mapping")
    known = {"select", "ignore", "fail-on", "allow"}
    for key in table:
        if key not in known:
            raise UsageError(f"--config: {path}: unknown key lint.{key} (known: {', '.join(sorted(known))})")

    def str_list(key: str) -> list[str] | None:
        v = table.get(key)
        if v is None:
            return None
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise UsageError(
                f"--config: {path}: lint.{key} must be a list of rule ids, prefixes or names (none empty)"
            )
        try:
            matching(v)
        except ValueError as exc:
            raise UsageError(f"--config: {path}: lint.{key}: {exc}") from exc
        return list(v)

    fail_on = table.get("fail-on")
    if fail_on is not None and fail_on not in FAIL_ON:
        raise UsageError(
            f"--config: {path}: lint.fail-on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}"
        )
    allow_raw = table.get("allow", [])
    if not isinstance(allow_raw, list):
        raise UsageError(f"--config: {path}: lint.allow must be a list of entries (rule, pointer, reason)")
    allow: list[AllowEntry] = []
    for n, entry in enumerate(allow_raw, 1):
        where = f"{path}#{n}"
        if not isinstance(entry, dict):
            raise UsageError(f"--config: {where}: an allow entry must be a mapping (rule, pointer, reason)")
        extra = set(entry) - {"rule", "pointer", "reason"}
        if extra:
            raise UsageError(
                f"--config: {where}: unknown key {sorted(extra)[0]} (known: pointer, reason, rule)"
            )
        rule, pointer, reason = entry.get("rule"), entry.get("pointer"), entry.get("reason")
        if not isinstance(rule, str) or not rule.strip():
            raise UsageError(f"--config: {where}: rule is required (an id such as A2A-SEC-008)")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(f"--config: {where}: reason is required (say why {rule} is allowed)")
        if pointer is not None and (
            not isinstance(pointer, str) or (pointer and not pointer.startswith("/"))
        ):
            raise UsageError(f"--config: {where}: pointer must be a JSON pointer starting with '/'")
        try:
            ids = frozenset(matching([rule]))
        except ValueError as exc:
            raise UsageError(f"--config: {where}: {exc}") from exc
        allow.append(AllowEntry(rule, ids, pointer, reason.strip(), where))
    return LintConfig(path, str_list("select"), str_list("ignore"), fail_on, allow)


def _cut(text: str, width: int = 200) -> str:
    """``text`` cut to ``width`` characters (an error message stays one readable line)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def selected_rules(select: list[str] | None, ignore: list[str] | None) -> list[Rule]:
    """The rules to run: those ``select`` matches (all when ``None`` or empty) minus those ``ignore``
    matches. Raises ``UsageError`` (exit 2) for a pattern that matches no rule, and when no rule is
    left to run (a lint that checks nothing must not pass silently)."""
    try:
        chosen = matching(select) if select else {r.id for r in RULES}
        dropped = matching(ignore) if ignore else set()
    except ValueError as exc:
        raise UsageError(f"--select/--ignore: {exc}") from exc
    rules = [r for r in RULES if r.id in chosen and r.id not in dropped]
    if not rules:
        raise UsageError(
            "--select/--ignore: no rule left to run (the ignore list covers every selected rule)"
        )
    return rules


# -- walking the card ------------------------------------------------------------------------------


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def walk(value: Any, pointer: str = "") -> Iterator[tuple[str, str | None, str]]:
    """Every string in ``value`` as ``(pointer, key, text)``: string values (``key`` the member
    name, ``None`` for array items) and object member names (``key`` ``"\\0key"``: the name itself
    is ``text``, ``pointer`` the member's)."""
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{pointer}/{_escape(str(k))}"
            yield p, "\0key", str(k)
            if isinstance(v, str):
                yield p, str(k), v
            else:
                yield from walk(v, p)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            p = f"{pointer}/{i}"
            if isinstance(v, str):
                yield p, None, v
            else:
                yield from walk(v, p)


_URL_VALUE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$")
_URL_IN_TEXT = re.compile(r"\b(?:https?|wss?)://[^\s\"'<>()\[\]]+", re.I)
_INTERFACE_URL = re.compile(r"^/(?:url|supportedInterfaces/\d+/url|additionalInterfaces/\d+/url)$")


def _url_key(key: str | None) -> bool:
    return key is not None and key != "\0key" and (key == "url" or key.endswith(("Url", "URL")))


def host_class(host: str | None) -> str:
    """The class of a URL host: ``loopback``, ``unspecified``, ``link-local``, ``private`` (RFC 1918,
    RFC 4193, RFC 6598 shared space), ``internal-name`` (``.local``, ``.internal``, ``.lan``,
    ``.home.arpa``, ``.corp``, ``.intranet``), ``public`` (a public IP) or ``name`` (any other DNS
    name)."""
    if not host:
        return "name"
    h = host.lower().strip("[]").rstrip(".")
    if h in ("localhost", "localhost.localdomain") or h.endswith(".localhost"):
        return "loopback"
    try:
        ip = ipaddress.ip_address(h.split("%", 1)[0])
    except ValueError:
        if h.endswith((".local", ".internal", ".lan", ".home.arpa", ".corp", ".intranet")) or "." not in h:
            return "internal-name"
        return "name"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private or ip in ipaddress.ip_network("100.64.0.0/10"):
        return "private"
    return "public"


def _split(url: str) -> tuple[str, str | None, Any] | None:
    """``(scheme, hostname, SplitResult)`` of an absolute URL, else ``None``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    return parts.scheme.lower(), host, parts


_CRED_PARAM = re.compile(
    r"^(?:.*token|.*secret|.*password|passwd|api[-_]?key|apikey|key|sig|signature|x-amz-signature|"
    r"x-amz-credential|x-goog-signature|x-goog-credential|code|auth|credentials?|client_secret)$",
    re.I,
)


def _masked(url: str) -> str:
    """``url`` with its userinfo and credential-like query values replaced by ``***``."""
    parsed = _split(url)
    if parsed is None:
        return url
    parts = parsed[2]
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = "&".join(
        f"{k}=***" if _CRED_PARAM.match(k) else f"{k}={v}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    )
    out = f"{parts.scheme}://{netloc}{parts.path}"
    return out + (f"?{query}" if query else "")


def _url_credentials(url: str) -> list[str]:
    """What in ``url`` is a credential: ``userinfo`` and the names of credential-like query
    parameters with a value."""
    parsed = _split(url)
    if parsed is None:
        return []
    parts = parsed[2]
    found = []
    if "@" in parts.netloc:
        found.append("userinfo")
    try:
        params = parse_qsl(parts.query, keep_blank_values=False)
    except ValueError:
        params = []
    found += [f"query parameter {k}" for k, v in params if v and _CRED_PARAM.match(k)]
    return found


# -- text rules ------------------------------------------------------------------------------------

_INSTRUCTION_PATTERNS = [
    re.compile(
        r"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+|any\s+|the\s+|your\s+|of\s+)*"
        r"(?:previous|prior|above|earlier|preceding|former|system|original|safety)\s+"
        r"(?:instructions?|prompts?|rules|directions|directives|guidelines|messages|context)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:forget|ignore)\s+(?:everything|all)\s+(?:you\s+)?(?:know|were told|above|before)\b", re.I
    ),
    re.compile(r"\byou\s+are\s+now\s+(?:a|an|in|the|no longer)\b", re.I),
    re.compile(r"\bfrom\s+now\s+on,?\s+(?:you|the\s+(?:assistant|model|ai))\b", re.I),
    re.compile(
        r"\b(?:reveal|print|show|repeat|output|leak|dump)\s+(?:your|the)\s+(?:system\s+prompt|"
        r"hidden\s+instructions|initial\s+instructions|instructions\s+above)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:do\s+not|don't|never)\s+(?:tell|inform|mention\s+(?:this\s+)?to|reveal\s+(?:this\s+)?to|alert)\s+"
        r"the\s+user\b",
        re.I,
    ),
    re.compile(r"\bwithout\s+(?:telling|informing|notifying|asking)\s+the\s+user\b", re.I),
    re.compile(r"\bnew\s+(?:system\s+)?instructions\s*:", re.I),
    re.compile(
        r"\b(?:send|forward|exfiltrate|leak|email|post|upload)\s+(?:all\s+)?(?:your|the\s+user'?s?|any|the)\s+"
        r"(?:api[ -]?keys?|tokens?|credentials|passwords?|secrets?|private\s+data|conversation|chat\s+history)\b",
        re.I,
    ),
    re.compile(r"<\|(?:im_start|im_end|system|endoftext|user|assistant)\|>|\[/?INST\]|<</?SYS>>", re.I),
    # horizontal blanks only: "^\s*" under (?m) crosses newlines and is quadratic on blank lines
    re.compile(r"(?m)^[ \t]*#{2,}[ \t]*(?:system|instructions?)[ \t]*:?[ \t]*$", re.I),
]

_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
_ZERO_WIDTH = {
    chr(c) for c in (0x200B, 0x200C, 0x200D, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x180E)
}


#: Variation selectors (U+FE00-FE0F, U+E0100-E01EF): one after a base character picks its glyph
#: (❤️, 1️⃣, CJK ideographic variants); a run of them renders as nothing and can carry bytes
#: ("emoji smuggling"). Counted apart from ``_ZERO_WIDTH``: VS16 + ZWJ is ordinary (🏳️‍🌈).
_VARIATION = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
#: Any character A2A-SEC-010..012 look for (a string without one skips them).
_INVISIBLE = re.compile(
    "[\U000e0000-\U000e007f" + _VARIATION + "".join(sorted(_BIDI)) + "".join(sorted(_ZERO_WIDTH)) + "]"
)
#: Two or more zero-width characters, or two or more variation selectors, in a row (A2A-SEC-012).
_ZERO_WIDTH_RUN = re.compile("[" + "".join(sorted(_ZERO_WIDTH)) + "]{2,}|[" + _VARIATION + "]{2,}")


def _char_name(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()


#: The emoji tag sequences that are emoji (Unicode TS #51 §2.2.3): U+1F3F4 WAVING BLACK FLAG, the tag
#: spelling of a subdivision, U+E007F CANCEL TAG. Only the three RGI ones (England, Scotland, Wales:
#: Unicode emoji-test.txt) are rendered anywhere; any other tag run of that shape spells hidden text
#: (🏴 + "ignore" + CANCEL TAG has the same shape as 🏴 + "gbsct"), so it fires.
_FLAG_TAGS = re.compile(
    "\U0001f3f4(?:"
    + "|".join("".join(chr(0xE0000 + ord(c)) for c in sub) for sub in ("gbeng", "gbsct", "gbwls"))
    + ")\U000e007f"
)


def _tag_text(s: str) -> str:
    """The ASCII that the tag characters of ``s`` spell (U+E0020-U+E007E → ' '..'~')."""
    return "".join(chr(ord(c) - 0xE0000) for c in s if 0xE0020 <= ord(c) <= 0xE007E)


def _snippet(text: str, start: int, end: int, width: int = 60) -> str:
    s = text[start:end]
    return s if len(s) <= width else s[: width - 1] + "…"


# -- the rules -------------------------------------------------------------------------------------


#: URL schemes that run script when followed (javascript:, vbscript:, data:) or read the
#: viewer's own files (file:), A2A-SEC-017.
_SCRIPT_SCHEME = re.compile(r"(javascript|vbscript|data|file):", re.I)
_JWS_PART = re.compile(r"^/signatures/\d+/(?:protected|signature)$")


def _where(pointer: str) -> str:
    return pointer or "the card"


def static_findings(raw: dict[str, Any], view: CardView, card_url: str | None) -> list[LintFinding]:
    """The findings of every static rule (all but ``A2A-SEC-003``), in rule order. ``card_url`` is
    where the card was fetched from (``None`` for a file: ``A2A-SEC-008`` is skipped and the card
    counts as public when one of its interfaces has a public host). Never raises."""
    out: list[LintFinding] = []

    def add(rule_id: str, pointer: str, message: str) -> None:
        out.append(LintFinding(BY_ID[rule_id], pointer, message))

    # a signature's protected header and signature are base64url, not text; its unprotected
    # header (kid, jku URL) is linted like the rest
    strings = [(p, k, s) for p, k, s in walk(raw) if not _JWS_PART.match(p)]
    value_strings = [(p, k, s) for p, k, s in strings if k != "\0key"]
    url_fields = [(p, s) for p, k, s in value_strings if (_url_key(k) or _URL_VALUE.match(s)) and _split(s)]
    interface_urls = [(p, s) for p, s in url_fields if _INTERFACE_URL.match(p)]
    scheme_urls = [(p, s) for p, s in url_fields if p.startswith("/securitySchemes/")]

    card_parts = _split(card_url) if card_url else None
    card_host = card_parts[1] if card_parts else None
    if card_parts is not None:
        public = host_class(card_host) in ("public", "name")
    else:
        public = any(host_class(_split(s)[1]) in ("public", "name") for _, s in interface_urls)  # type: ignore[index]

    # A2A-SEC-001 plaintext-http
    for p, s in interface_urls + scheme_urls:
        scheme, host, _ = _split(s)  # type: ignore[misc]
        if scheme in ("http", "ws") and host_class(host) != "loopback":
            add(
                "A2A-SEC-001",
                p,
                f"{_masked(s)} is plain {scheme}:// to {host or '?'}"
                + (" (an OAuth/OpenID endpoint)" if p.startswith("/securitySchemes/") else ""),
            )

    # A2A-SEC-002 no-security-scheme
    raw_skills = raw.get("skills")
    skill_security = isinstance(raw_skills, list) and any(
        isinstance(s, dict) and (s.get("security") or s.get("securityRequirements")) for s in raw_skills
    )
    if not view.security_schemes and not view.security_requirements and not skill_security and view.skills:
        n = len(view.skills)
        add(
            "A2A-SEC-002",
            "/securitySchemes",
            f"no security scheme is declared, and {n} skill{'s' if n != 1 else ''} "
            f"({', '.join(s.id for s in view.skills[:3])}{', …' if n > 3 else ''}) "
            f"take{'s' if n == 1 else ''} input",
        )

    # A2A-SEC-004 removed-oauth-flow, A2A-SEC-016 api-key-in-query
    schemes = raw.get("securitySchemes")
    for name, scheme in schemes.items() if isinstance(schemes, dict) else []:
        if not isinstance(scheme, dict):
            continue
        base = f"/securitySchemes/{_escape(str(name))}"
        places: list[tuple[str, Any]] = [(base, scheme)]
        for wrapper in ("oauth2SecurityScheme", "apiKeySecurityScheme"):
            if isinstance(scheme.get(wrapper), dict):
                places.append((f"{base}/{wrapper}", scheme[wrapper]))
        for ptr, obj in places:
            flows = obj.get("flows")
            if isinstance(flows, dict):
                for flow in ("implicit", "password"):
                    if flow in flows:
                        add(
                            "A2A-SEC-004",
                            f"{ptr}/flows/{flow}",
                            f"security scheme {name!r} offers the OAuth 2 {flow} flow, ruled out by RFC 9700 "
                            "and deprecated by A2A 1.0",
                        )
            loc_key = "in" if "in" in obj and obj.get("type") == "apiKey" else "location"
            loc = obj.get(loc_key)
            is_api_key = obj.get("type") == "apiKey" or ptr.endswith("/apiKeySecurityScheme")
            if is_api_key and isinstance(loc, str) and loc.lower() == "query":
                add(
                    "A2A-SEC-016",
                    f"{ptr}/{loc_key}",
                    f"API key scheme {name!r} sends the key as query parameter {obj.get('name')!r}",
                )

    # A2A-SEC-005 push-without-auth
    if view.capabilities.get("pushNotifications") and not view.security_schemes:
        add(
            "A2A-SEC-005",
            "/capabilities/pushNotifications",
            "pushNotifications is true but the card declares no security scheme: anyone can register a webhook",
        )

    # A2A-SEC-006 credentials-in-url
    for p, _k, s in value_strings:
        urls = [s] if _URL_VALUE.match(s) else _URL_IN_TEXT.findall(s)
        for u in urls:
            creds = _url_credentials(u)
            if creds:
                from a2actl.core.redact import register_url

                register_url(u)  # belt and braces: the value is masked in every output too
                add("A2A-SEC-006", p, f"{_masked(u)} carries {', '.join(creds)}")

    # A2A-SEC-007 private-url
    if public:
        for p, s in url_fields:
            host = _split(s)[1]  # type: ignore[index]
            cls = host_class(host)
            if cls in ("loopback", "unspecified", "link-local", "private", "internal-name"):
                add(
                    "A2A-SEC-007",
                    p,
                    f"{_masked(s)} points to a {cls.replace('-', ' ')} host ({host}) in a public card",
                )

    # A2A-SEC-008 interface-host-differs
    if card_host:
        for p, s in interface_urls:
            host = _split(s)[1]  # type: ignore[index]
            if host and host.lower() != card_host.lower():
                add("A2A-SEC-008", p, f"interface host {host} differs from the card's host {card_host}")

    # A2A-SEC-017 script-url: URL members only (key url / *Url); browsers drop tabs and newlines
    # and leading blanks and controls, and ignore the scheme's case
    for p, k, s in value_strings:
        if _url_key(k):
            m = _SCRIPT_SCHEME.match(re.sub(r"[\t\n\r]", "", s).lstrip("\x00- "))
            if m:
                add("A2A-SEC-017", p, f"a {m.group(1).lower()}: URL ({_snippet(s, 0, len(s), 40)!r})")

    # A2A-SEC-009 .. 012: the prompt-injection surface
    for p, k, s in strings:
        what = "member name" if k == "\0key" else "text"
        if k != "\0key" and not _URL_VALUE.match(s):
            for pat in _INSTRUCTION_PATTERNS:
                m = pat.search(s)
                if m:
                    add("A2A-SEC-009", p, f"instruction-like {what}: {_snippet(s, m.start(), m.end())!r}")
                    break
        if not _INVISIBLE.search(s):  # the common case: nothing for A2A-SEC-010..012 to look at
            continue
        bare = _FLAG_TAGS.sub("\U0001f3f4", s)  # subdivision flags (🏴 + tags) are emoji, not hidden text
        tags = [c for c in bare if 0xE0000 <= ord(c) <= 0xE007F]
        if tags:
            hidden = _tag_text(bare)
            add(
                "A2A-SEC-010",
                p,
                f"{len(tags)} hidden tag character{'s' if len(tags) != 1 else ''} in this {what}"
                + (f", spelling {hidden[:80]!r}" if hidden else ""),
            )
        bidi = [(i, c) for i, c in enumerate(s) if c in _BIDI]
        if bidi:
            i, c = bidi[0]
            add(
                "A2A-SEC-011",
                p,
                f"{len(bidi)} bidi control character{'s' if len(bidi) != 1 else ''} in this {what}, "
                f"first {_char_name(c)} at character {i}",
            )
        runs = list(_ZERO_WIDTH_RUN.finditer(s))
        if runs:
            m = max(runs, key=lambda m: m.end() - m.start())  # the first of the longest
            n, at = m.end() - m.start(), m.start()
            chars = " ".join(f"U+{ord(c):04X}" for c in s[at : at + min(n, 6)])
            add(
                "A2A-SEC-012",
                p,
                f"{n} zero-width characters in a row at character {at} ({chars}{' …' if n > 6 else ''})",
            )

    # A2A-SEC-013 oversized-field
    size = len(json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    if size > LIMIT_CARD_BYTES:
        add("A2A-SEC-013", "", f"the card is {size:,} bytes of JSON, over {LIMIT_CARD_BYTES:,}")
    skills = raw.get("skills")
    if isinstance(skills, list):
        if len(skills) > LIMIT_SKILLS:
            add("A2A-SEC-013", "/skills", f"{len(skills)} skills, over {LIMIT_SKILLS}")
        for i, sk in enumerate(skills):
            if not isinstance(sk, dict):
                continue
            for key in ("examples", "tags"):
                items = sk.get(key)
                if isinstance(items, list) and len(items) > LIMIT_ITEMS:
                    add("A2A-SEC-013", f"/skills/{i}/{key}", f"{len(items)} {key}, over {LIMIT_ITEMS}")
    for p, k, s in value_strings:
        if re.match(r"^/skills/\d+/examples/\d+$", p):
            limit, what = LIMIT_EXAMPLE, "an example"
        elif re.match(r"^/skills/\d+/tags/\d+$", p):
            limit, what = LIMIT_TAG, "a tag"
        elif k == "name":
            limit, what = LIMIT_NAME, "a name"
        elif k == "description":
            limit, what = LIMIT_DESCRIPTION, "a description"
        else:
            limit, what = LIMIT_STRING, "a string"
        if len(s) > limit:
            add("A2A-SEC-013", p, f"{len(s):,} characters, over the {limit:,}-character limit for {what}")

    # A2A-SEC-014 missing-provider, A2A-SEC-015 missing-documentation-url
    provider = raw.get("provider")
    if not isinstance(provider, dict) or not provider.get("organization"):
        add(
            "A2A-SEC-014",
            "/provider",
            "no provider" if not isinstance(provider, dict) else "provider has no organization",
        )
    if not isinstance(raw.get("documentationUrl"), str) or not raw.get("documentationUrl"):
        add("A2A-SEC-015", "/documentationUrl", "no documentationUrl")

    # A2A-SEC-019 undeclared-security-scheme (caps validate's check of the same name)
    for p, name in undeclared_scheme_refs(raw):
        add("A2A-SEC-019", p, f"requires scheme {name!r}, which securitySchemes does not declare")
    return out


# -- A2A-SEC-003: the live rule ------------------------------------------------------------------

#: Security scheme types whose credential travels in an HTTP header or query (a bearer token or an
#: API key); mutualTLS is refused in the TLS handshake and is not checked.
_CREDENTIAL_TYPES = {"http", "apiKey", "oauth2", "openIdConnect"}


def _interface_pointer(source: str) -> str:
    """``supportedInterfaces[1]`` → ``/supportedInterfaces/1/url``; ``url`` → ``/url``."""
    if "[" in source:
        name, idx = source.rstrip("]").split("[", 1)
        return f"/{name}/{idx}/url"
    return "/" + source


def without_credentials(settings: Settings) -> Settings:
    """``settings`` with no token, no credential headers (``Authorization``, API-key and cookie
    headers, ``*-Token``, …) and no client certificate: what an anonymous caller sends."""
    from a2actl.core.redact import header_secrets

    headers = tuple((k, v) for k, v in settings.headers if not header_secrets([(k, v)]))
    return dataclasses.replace(settings, token=None, headers=headers, cert=None, key=None)


async def live_checks(view: CardView, settings: Settings, sink: EventSink | None) -> list[LiveCheck]:
    """``A2A-SEC-003``: when the card declares a bearer/API-key/OAuth/OpenID scheme, call each
    JSON-RPC and HTTP+JSON interface once with ``GetTask`` (``tasks/get`` on 0.x) on a random task id
    and no credentials (``without_credentials``; an interface URL's ``user:pass@`` is dropped too). Side-effect free: the task does not exist. Never
    raises for agent behaviour: transport failures are ``unknown`` checks. Returns ``[]`` when no
    such scheme is declared."""
    from a2actl.core.errors import A2ACtlError, AuthError
    from a2actl.protocol.negotiation import Selection
    from a2actl.protocol.versions import BINDING_HTTP_JSON, BINDING_JSONRPC, Family
    from a2actl.transport.a2a import A2AClient
    from a2actl.transport.http import HttpTransport

    if not any(s.get("type") in _CREDENTIAL_TYPES for s in view.security_schemes.values()):
        return []
    out: list[LiveCheck] = []
    seen: set[tuple[str, str, Family]] = set()
    async with HttpTransport(without_credentials(settings), sink) as transport:
        for iface in view.interfaces:
            family = iface.family
            if iface.protocol_binding not in (BINDING_JSONRPC, BINDING_HTTP_JSON) or family is None:
                continue
            parsed = _split(iface.url)
            if parsed is None or parsed[0] not in ("http", "https"):
                continue
            # anonymous means no userinfo either: httpx would send it as Basic credentials
            iface = dataclasses.replace(iface, url=_without_userinfo(iface.url))
            key = (iface.url.rstrip("/"), iface.protocol_binding, family)
            if key in seen:
                continue
            seen.add(key)
            client = A2AClient(transport, Selection(iface, family, "caps lint --live"))
            rid = "a2actl-lint-" + uuid.uuid4().hex[:12]
            ptr = _interface_pointer(iface.source)

            def check(outcome: str, detail: str, iface: Any = iface, ptr: str = ptr) -> LiveCheck:
                return LiveCheck(iface.url, iface.protocol_binding, iface.family.value, ptr, outcome, detail)

            try:
                res = await client.call("GetTask", {"id": rid})
            except AuthError as exc:  # "<url> answered HTTP 401 …": the URL is in the check already
                out.append(check("refused", exc.message.split(" answered ", 1)[-1]))
                continue
            except A2ACtlError as exc:
                out.append(check("unknown", exc.message))
                continue
            if res.error is None:
                out.append(check("answered", f"{res.method} answered with a result"))
            elif res.error.code == -32001:
                out.append(check("answered", f"{res.method} answered {res.error.name} {res.error.code}"))
            else:
                out.append(check("unknown", f"{res.method} answered {res.error.name} {res.error.code}"))
    return out


def _without_userinfo(url: str) -> str:
    """``url`` without its ``user:pass@`` part (unchanged when it has none or does not parse)."""
    parsed = _split(url)
    if parsed is None or "@" not in parsed[2].netloc:
        return url
    parts = parsed[2]
    return str(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl())


def live_findings(checks: list[LiveCheck], view: CardView) -> list[LintFinding]:
    """``A2A-SEC-003`` findings for the ``answered`` checks."""
    names = [n for n, s in view.security_schemes.items() if s.get("type") in _CREDENTIAL_TYPES]
    return [
        LintFinding(
            BY_ID["A2A-SEC-003"],
            c.pointer,
            f"{c.url} ({c.binding} {c.version}) answered without credentials although the card declares "
            f"{', '.join(repr(n) for n in names)}: {c.detail}",
        )
        for c in checks
        if c.outcome == "answered"
    ]


# -- the job ---------------------------------------------------------------------------------------


def register_card_urls(text: str) -> None:
    """Register (``a2actl.core.redact.register_urls_in``) the userinfo and credential-like query
    values of every URL in ``text``, a card body as received (JSON ``\\/`` escapes included), so
    every output masks them. Never raises."""
    from a2actl.core.redact import register_urls_in

    register_urls_in(text)


def card_secrets_sink(sink: EventSink) -> EventSink:
    """``sink`` for loading a card to lint: with ``-vv`` the card body reaches the wire log before any
    rule has run, and a card that carries ``https://user:pass@…`` or ``?access_token=…`` URLs
    (A2A-SEC-006) must not have them printed there either. The transport's body redaction masks
    them in the logged body (``core.redact.mask_urls``); this registers them as the body arrives, so
    everything printed after it masks them too. Bodies are scanned only when ``sink.wants_bodies``."""
    from a2actl.core.sink import BodyFilterSink

    def register(_direction: str, body: bytes) -> bytes:
        register_card_urls(body.decode("utf-8", "replace"))
        return body

    return BodyFilterSink(sink, register)


def apply_allow(findings: list[LintFinding], allow: list[AllowEntry]) -> tuple[list[LintFinding], list[str]]:
    """``findings`` with the ones an allow entry covers marked ``suppressed`` (the first entry that
    covers it), and the sources of the entries that covered nothing."""
    used: set[str] = set()
    out = []
    for f in findings:
        entry = next((a for a in allow if a.covers(f)), None)
        if entry is not None:
            used.add(entry.source)
            f = dataclasses.replace(f, suppressed=Suppression(entry.reason, entry.source))
        out.append(f)
    return out, [a.source for a in allow if a.source not in used]


def capped(
    findings: list[LintFinding], limit: int = MAX_PER_RULE
) -> tuple[list[LintFinding], list[LintFinding]]:
    """``(kept, dropped)``: at most ``limit`` findings per rule kept, in their order; when a rule has
    more, its unsuppressed findings are kept first, so the kept ones still show why ``--fail-on``
    failed."""
    by_rule: dict[str, list[LintFinding]] = {}
    for f in findings:
        by_rule.setdefault(f.rule.id, []).append(f)
    keep: set[int] = set()
    for group in by_rule.values():
        if len(group) > limit:
            group = sorted(group, key=lambda f: f.suppressed is not None)[:limit]
        keep.update(id(f) for f in group)
    return [f for f in findings if id(f) in keep], [f for f in findings if id(f) not in keep]


def ordered(findings: list[LintFinding]) -> list[LintFinding]:
    """Most severe first, then by rule id, then in card order (stable)."""
    return sorted(findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.rule.id))


@dataclass(frozen=True)
class LintResult:
    """``caps lint``: where the card came from (``source``, ``kind`` ``url``/``file``, ``notes``),
    its ``shape``, the rules run (``rules``) and not run with why (``not_run``), the findings (most
    severe first; at most ``MAX_PER_RULE`` a rule), the ``--live`` checks, ``fail_on`` and the unused
    allow entries. ``text`` is the card as served (for SARIF line numbers; not in ``to_json``);
    ``dropped`` the findings over ``MAX_PER_RULE`` (counted in ``counts``, ``failed`` and
    ``omitted``, not listed). ``final_url`` is the URL that served the card when ``-L`` followed
    redirects from ``source`` to another (credentials masked), else ``None``."""

    source: str
    kind: str
    notes: list[str]
    shape: str
    live: bool
    fail_on: str
    rules: list[Rule]
    not_run: dict[str, str]
    findings: list[LintFinding]
    live_checks: list[LiveCheck]
    unused_allow: list[str]
    config: str | None = None
    text: str | None = None
    dropped: list[LintFinding] = field(default_factory=list)
    final_url: str | None = None

    @property
    def omitted(self) -> dict[str, int]:
        """Per rule id, how many findings are not listed (over ``MAX_PER_RULE``)."""
        out: dict[str, int] = {}
        for f in self.dropped:
            out[f.rule.id] = out.get(f.rule.id, 0) + 1
        return out

    @property
    def failed(self) -> bool:
        """Whether an unsuppressed finding (listed or not) is at or above ``fail_on`` (never with
        ``none``)."""
        if self.fail_on == "none":
            return False
        floor = SEVERITY_RANK[self.fail_on]
        return any(
            f.suppressed is None and SEVERITY_RANK[f.severity] >= floor
            for f in (*self.findings, *self.dropped)
        )

    @property
    def exit(self) -> ExitCode:
        """7 (``CHECK_FAILED``) when ``failed``, else 0."""
        return ExitCode.CHECK_FAILED if self.failed else ExitCode.OK

    def counts(self) -> dict[str, int]:
        """Unsuppressed findings per severity, plus ``suppressed`` (listed or not)."""
        c = {"error": 0, "warning": 0, "info": 0, "suppressed": 0}
        for f in (*self.findings, *self.dropped):
            c["suppressed" if f.suppressed else f.severity] += 1
        return c

    def to_json(self) -> dict[str, Any]:
        """``{"source", "finalUrl", "kind", "notes", "shape", "live", "config", "failOn", "failed",
        "counts", "rulesRun", "notRun", "findings", "omitted", "liveChecks", "unusedAllow"}``
        (docs/lint-rules.md)."""
        return {
            "source": self.source,
            "finalUrl": self.final_url,
            "kind": self.kind,
            "notes": self.notes,
            "shape": self.shape,
            "live": self.live,
            "config": self.config,
            "failOn": self.fail_on,
            "failed": self.failed,
            "counts": self.counts(),
            "rulesRun": [r.id for r in self.rules if r.id not in self.not_run],
            "notRun": [{"id": k, "reason": v} for k, v in self.not_run.items()],
            "findings": [f.to_json() for f in self.findings],
            "omitted": self.omitted,
            "liveChecks": [c.to_json() for c in self.live_checks],
            "unusedAllow": self.unused_allow,
        }


def duplicate_findings(text: str) -> list[LintFinding]:
    """A2A-SEC-018 duplicate-key: one finding per member repeated with different values in one
    object of the card as served (``text``), at the member's pointer; a member repeated with the same
    value is no finding (every reader agrees; ``caps validate`` warns about it). Never raises."""
    from a2actl.protocol.jsondoc import duplicate_members

    return [
        LintFinding(
            BY_ID["A2A-SEC-018"],
            d.pointer,
            f"{d.name!r} appears {d.count} times in one object with different values",
        )
        for d in duplicate_members(text)
        if not d.same
    ]


def lint_fetched(
    fetched: CardFetch,
    rules: list[Rule],
    *,
    live_results: list[LiveCheck] | None,
    allow: list[AllowEntry],
    fail_on: str,
    config: str | None = None,
    text: str | None = None,
) -> LintResult:
    """Lint a loaded card with ``rules``; ``live_results`` are the ``--live`` checks (``None``: not
    run, and A2A-SEC-003 is listed in ``notRun``; so it is when there are none, or every one is
    ``unknown``: nothing was checked). Never raises."""
    card_url = fetched.source if fetched.http is not None else None
    wanted = {r.id for r in rules}
    found = [f for f in static_findings(fetched.raw, fetched.view, card_url) if f.rule.id in wanted]
    not_run: dict[str, str] = {}
    if "A2A-SEC-003" in wanted:
        if live_results is None:
            not_run["A2A-SEC-003"] = (
                "needs --live (one side-effect-free call per interface, without credentials)"
            )
        else:
            found += live_findings(live_results, fetched.view)
            if not live_results:
                not_run["A2A-SEC-003"] = (
                    "the card declares no bearer, API-key, OAuth 2 or OpenID Connect scheme"
                )
            elif all(c.outcome == "unknown" for c in live_results):
                not_run["A2A-SEC-003"] = (
                    "every live check is unknown (no interface answered with a refusal or an A2A answer)"
                )
    if "A2A-SEC-008" in wanted and card_url is None:
        not_run["A2A-SEC-008"] = "a card file has no host to compare with"
    if "A2A-SEC-018" in wanted:
        if text is None:
            not_run["A2A-SEC-018"] = "the card's text was not kept (only its decoded value)"
        else:
            found += duplicate_findings(text)
    findings, unused = apply_allow(ordered(found), allow)
    findings, dropped = capped(findings)
    return LintResult(
        source=fetched.source,
        final_url=fetched.final_url,
        kind="url" if fetched.http is not None else "file",
        notes=list(fetched.notes),
        shape=fetched.view.shape,
        live=live_results is not None,
        fail_on=fail_on,
        rules=rules,
        not_run=not_run,
        findings=findings,
        live_checks=live_results or [],
        unused_allow=unused,
        config=config,
        text=text,
        dropped=dropped,
    )


async def lint_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    *,
    card_path: str | None,
    live: bool,
    select: list[str] | None,
    ignore: list[str] | None,
    config: str | None,
    fail_on: str | None,
) -> LintResult:
    """``caps lint``: load TARGET's card (``a2actl.agent.discovery.load_card``), run the selected
    rules and, with ``live``, the A2A-SEC-003 calls. ``select`` replaces the config file's
    ``select``; ``ignore`` adds to its ``ignore``; ``fail_on`` (``None``: the config's, else
    ``error``). Raises ``UsageError`` (2) for bad options or config, ``--live`` on a card with no
    interface, and whatever ``load_card`` raises (2/3/4/5/6/1)."""
    from a2actl.agent.discovery import load_card

    cfg = await read_config(config) if config else LintConfig()
    rules = selected_rules(select if select else cfg.select, [*(cfg.ignore or []), *(ignore or [])] or None)
    fail = fail_on or cfg.fail_on or "error"
    if fail not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}, got {fail!r}")
    fetched = await load_card(
        target,
        settings,
        card_secrets_sink(sink) if sink is not None and sink.wants_bodies else sink,
        card_path,
    )
    # the bytes as loaded, never the file read again: a FIFO (<(cmd), a named pipe) has nothing left
    # and blocked the command in open() past --max-time and SIGTERM
    body = fetched.body if fetched.body is not None else (fetched.http.body if fetched.http else None)
    text = body.decode(json.detect_encoding(body), "replace") if body is not None else None
    # before anything else is printed (-v request lines of --live, notes): the card's URL secrets
    register_card_urls(text if text is not None else json.dumps(fetched.raw))
    checks: list[LiveCheck] | None = None
    if live and any(r.live for r in rules):
        if not fetched.view.interfaces:
            raise UsageError("--live needs interfaces to call; this card declares none")
        checks = await live_checks(fetched.view, settings, sink)
    return lint_fetched(
        fetched,
        rules,
        live_results=checks,
        allow=cfg.allow,
        fail_on=fail,
        config=cfg.path,
        text=text,
    )
