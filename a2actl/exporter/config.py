"""Exporter modules: named probe settings, read from ``--config exporter.yml`` (blackbox_exporter's
``modules:`` file, docs/monitoring.md) and validated before the server starts.

::

    modules:
      default:                  # replaces the built-in default module
        timeout: 10s
      send_check:
        checks: [card, rpc, send]   # card and rpc always run (the handshake); send adds a real SendMessage
        send_text: ping
        timeout: 15s            # the whole probe; /probe also stops 0.5 s before Prometheus' scrape timeout
        budgets: {total: 2s, rpc: 500ms}   # p99 bounds of `handshake probe --budget`: over → probe_success 0
        a2a_version: auto       # auto | 0.3 | 1.0
        binding: auto           # auto | JSONRPC | HTTP+JSON
        card_path: /.well-known/agent-card.json
        headers: {X-Tenant: acme, X-Api-Key: "${AGENT_API_KEY}"}   # credentials only as ${ENV_VAR}
        token_env: AGENT_TOKEN  # the NAME of an environment variable holding a bearer token
        allow_targets: [https://agents.example.com/]   # /probe targets this module may be used on

Secrets never live in the file: ``token_env`` names an environment variable and a credential header
(``Authorization``, ``X-Api-Key``, ``*-Token``, … as ``a2actl.core.redact`` judges them) must be a
``${ENV_VAR}`` reference; both are read once at start and registered for redaction. A module that sends
credentials answers ``/probe`` only for targets under its ``allow_targets`` prefixes, so that whoever
can reach the exporter cannot make it send the token to a host of their choosing. Headers and the token
follow ``-H``'s and ``--token-env``'s rules (``a2actl.core.headers``): no header the HTTP client owns
(``Content-Length``, ``Host``, …), printable ASCII values, a token's leading ``Bearer`` word dropped.

Standard library and PyYAML only. Errors are ``UsageError`` (exit 2) naming the file and the key
(``exporter.yml: modules.send_check.timeout: not a duration: 'soon'``); a key repeated in one
mapping is one too (PyYAML would keep the last silently).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from a2actl.core.config import MAX_INPUT_BYTES
from a2actl.core.errors import UsageError, parse_value_reason

if TYPE_CHECKING:
    from a2actl.probe.budget import Budget

#: Every check name a module may list (the names ``fleet probe --checks`` uses). ``card`` and ``rpc``
#: always run: they are the handshake probe's phases; ``send`` adds a real SendMessage.
CHECKS: tuple[str, ...] = ("card", "rpc", "send")
DEFAULT_TIMEOUT = 10.0  # seconds, the whole probe
#: The most bytes of a ``--config`` file read (``core.config.MAX_INPUT_BYTES``, 64 MiB): more is exit 2.
MAX_CONFIG_BYTES = MAX_INPUT_BYTES
DEFAULT_SEND_TEXT = "ping"
MODULE_KEYS = (
    "timeout",
    "checks",
    "send_text",
    "budgets",
    "a2a_version",
    "binding",
    "card_path",
    "headers",
    "token_env",
    "allow_targets",
)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MODULE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_VERSIONS = ("auto", "0.3", "1.0")
_BINDINGS = ("auto", "JSONRPC", "HTTP+JSON")


@dataclass(frozen=True)
class Module:
    """One named probe setting. ``timeout``: seconds for the whole probe; ``checks``: a subset of
    ``CHECKS`` (``card`` and ``rpc`` always included); ``send_text``: the message of the send check;
    ``budgets``: p99 bounds (``a2actl.probe.budget.Budget``, seconds); ``headers``: extra request
    headers (credential values resolved from the environment: secrets, never shown by ``repr``);
    ``secret_headers``: the names of the headers whose value came from a ``${ENV_VAR}`` reference
    (secrets whatever the header's name); ``token``: the bearer token read from ``token_env``
    (secret; without a leading ``Bearer`` word); ``allow_targets``: the URLs ``/probe`` accepts for
    this module (``target_allowed``; empty: any target, refused when the module sends credentials);
    ``note``: a remark to show once at start, or ``None``."""

    name: str
    timeout: float = DEFAULT_TIMEOUT
    checks: frozenset[str] = frozenset({"card", "rpc"})
    send_text: str = DEFAULT_SEND_TEXT
    budgets: tuple[Budget, ...] = ()
    a2a_version: str = "auto"
    binding: str = "auto"
    card_path: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    secret_headers: frozenset[str] = frozenset()
    token_env: str | None = None
    token: str | None = field(default=None, repr=False)
    allow_targets: tuple[str, ...] = ()
    #: A remark for stderr when the module was loaded (the token's leading ``Bearer`` word dropped).
    note: str | None = None

    @property
    def sends(self) -> bool:
        """Whether the module runs the send check (a real SendMessage after the first RPC)."""
        return "send" in self.checks

    @property
    def has_credentials(self) -> bool:
        """Whether probes with this module carry a secret (a token or a credential header)."""
        from a2actl.core.redact import header_secrets

        return bool(self.token) or bool(self.secret_headers) or bool(header_secrets(self.headers))

    @property
    def credential_headers(self) -> list[str]:
        """The names of the headers that carry a secret: a credential header by name
        (``a2actl.core.redact``) or a value taken from the environment."""
        from a2actl.core.redact import header_secrets

        return [n for n, v in self.headers if n in self.secret_headers or header_secrets([(n, v)])]

    def allows(self, target: str) -> bool:
        """Whether ``/probe`` may use this module on ``target``: any target when the module has no
        ``allow_targets`` and no credentials; else only a target under one of them
        (``target_allowed``: same scheme and host, never a userinfo)."""
        if not self.allow_targets:
            return not self.has_credentials
        return any(target_allowed(prefix, target) for prefix in self.allow_targets)

    def allows_interface(self, url: str) -> bool:
        """Whether this module's credentials may go to the interface ``url`` a card names: its host
        is the host of one of ``allow_targets`` (and its port, when that entry names one; the path is
        not compared: an agent's RPC path is seldom under its card's). A URL without a scheme (a gRPC
        ``host:port``) is read as a host and port; one with userinfo or no host is refused."""
        from urllib.parse import urlsplit

        try:
            u = urlsplit(url if "//" in url else "//" + url)
            u_port = u.port
        except ValueError:
            return False
        if "@" in u.netloc or not u.hostname:
            return False
        for prefix in self.allow_targets:
            try:
                a = urlsplit(prefix)
                a_port = a.port
            except ValueError:
                continue
            if a.hostname != u.hostname:
                continue
            if a_port is None:
                return True
            default = {"https": 443, "http": 80}.get(u.scheme.lower())
            if a_port == (u_port if u_port is not None else default):
                return True
        return False

    def to_json(self) -> dict[str, Any]:
        """What the module does, without secrets: header NAMES only, the token's variable name."""
        return {
            "name": self.name,
            "timeout": self.timeout,
            "checks": [c for c in CHECKS if c in self.checks],
            "sendText": self.send_text if self.sends else None,
            "budgets": [b.to_json() for b in self.budgets],
            "a2aVersion": self.a2a_version,
            "binding": self.binding,
            "cardPath": self.card_path,
            "headerNames": [n for n, _ in self.headers],
            "credentialHeaders": self.credential_headers,
            "tokenEnv": self.token_env,
            "allowTargets": list(self.allow_targets),
        }


def target_allowed(allowed: str, target: str) -> bool:
    """Whether ``target`` is under the ``allow_targets`` entry ``allowed``, compared as URLs, not as
    text (a text prefix ``https://agents.example`` would let ``https://agents.example.evil.net/`` or
    ``https://agents.example@evil.net/`` receive the module's token): the same scheme and host
    (case-insensitive); the same port when ``allowed`` names one (else any port of that host); a path
    under ``allowed``'s path, at a ``/`` boundary. A target with userinfo is never allowed."""
    from urllib.parse import urlsplit

    try:
        a, t = urlsplit(allowed), urlsplit(target)
        a_port, t_port = a.port, t.port
    except ValueError:
        return False
    if "@" in t.netloc or not t.hostname:
        return False
    if a.scheme.lower() != t.scheme.lower() or a.hostname != t.hostname:
        return False
    if a_port is not None and a_port != (t_port or (443 if t.scheme.lower() == "https" else 80)):
        return False
    base = a.path.rstrip("/")
    path = t.path or "/"
    return not base or path == base or path.startswith(base + "/")


def default_module() -> Module:
    """The built-in ``default`` module: the handshake (card, negotiation, first RPC), 10 s timeout,
    no budget, no credentials."""
    return Module("default")


def load_config(
    path: str | None, environ: Mapping[str, str] | None = None, *, data: bytes | None = None
) -> dict[str, Module]:
    """The modules of config file ``path`` (``None``: only the built-in ``default``), by name; a
    ``default`` in the file replaces the built-in one. ``environ`` (default ``os.environ``) resolves
    ``token_env`` and ``${VAR}`` header references. Registers every resolved secret for redaction.
    ``data``: the file's content, read ahead (a FIFO or ``<(cmd)`` reads once, and is read under the
    start-up deadline: ``Invocation.read_files``); ``path`` then only names it.

    Raises ``UsageError`` (exit 2) naming the file and key: an unreadable file, one over
    ``MAX_CONFIG_BYTES`` (64 MiB; no more is read), YAML syntax (with the line), an unknown key, a bad value, an unset environment variable, a literal credential."""
    modules = {"default": default_module()}
    if path is None:
        return modules
    import yaml

    if data is None:
        from a2actl.core.offloop import read_file_capped

        # at most 64 MiB, as every other file a2actl reads: a huge file grew until memory ran out
        data = read_file_capped(path, f"--config {path}", MAX_CONFIG_BYTES)
    try:
        doc = yaml.load(data.decode("utf-8"), Loader=_unique_key_loader())  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise UsageError(
            f"--config {path}: line {exc.line}: {exc.key!r} appears twice in one mapping",
            hint="YAML would silently keep only the last one; remove or rename one of them",
        ) from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"--config {path}: not UTF-8 text (byte {exc.start})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"--config {path}:{where}: not YAML: {problem}") from exc
    except ValueError as exc:  # an integer over int()'s 4,300 digits: exit 1 'unexpected ValueError'
        raise UsageError(f"--config {path}: not YAML: {parse_value_reason(exc)}") from exc
    env = os.environ if environ is None else environ
    if doc is None:
        return modules
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: expected a mapping with 'modules:', got {type(doc).__name__}")
    unknown = sorted(str(k) for k in doc if k != "modules")
    if unknown:
        raise UsageError(f"{path}: {unknown[0]}: unknown key (the file holds 'modules:')")
    raw = doc.get("modules")
    if raw is None:
        return modules
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: modules: expected a mapping of module names to settings")
    for name, body in raw.items():
        key = f"modules.{name}"
        if not isinstance(name, str) or not _MODULE_NAME.match(name):
            raise UsageError(f"{path}: {key}: a module name is 1-64 of A-Z a-z 0-9 _ . -")
        modules[name] = parse_module(name, body, f"{path}: {key}", env)
    return modules


class _DuplicateKey(Exception):
    """A key repeated in one YAML mapping (``line``: 1-based, of the repeated key)."""

    def __init__(self, key: object, line: int) -> None:
        super().__init__(key, line)
        self.key = key
        self.line = line


def _unique_key_loader() -> type:
    """A ``yaml.SafeLoader`` subclass that raises ``_DuplicateKey`` for a key repeated in one
    mapping (PyYAML keeps the last one silently: two ``default:`` modules, the first lost). Merge
    keys (``<<``) still override as YAML defines."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
            seen: set[object] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    if key in seen:
                        raise _DuplicateKey(key, key_node.start_mark.line + 1)
                    seen.add(key)
                except TypeError:  # unhashable: the base class says so
                    break
            return super().construct_mapping(node, deep)

    return Loader


def parse_module(name: str, body: Any, where: str, env: Mapping[str, str]) -> Module:
    """One module from its YAML mapping ``body`` (``None``: the defaults). ``where`` prefixes errors
    (``file: modules.NAME``). Raises ``UsageError`` (exit 2)."""
    from a2actl.core.headers import checked_token
    from a2actl.core.redact import header_secrets, register_secret
    from a2actl.core.units import parse_duration
    from a2actl.probe.budget import parse_budgets

    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise UsageError(f"{where}: expected a mapping of settings")
    for k in body:
        if k not in MODULE_KEYS:
            raise UsageError(f"{where}.{k}: unknown key; use one of {', '.join(MODULE_KEYS)}")
    mod = Module(name)

    def text(key: str) -> str:
        value = body[key]
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise UsageError(f"{where}.{key}: expected a string")
        return str(value)

    if "timeout" in body:
        try:
            timeout = parse_duration(text("timeout"))
        except ValueError as exc:
            raise UsageError(f"{where}.timeout: {exc}") from exc
        if timeout <= 0:
            raise UsageError(f"{where}.timeout: must be positive")
        mod = replace(mod, timeout=timeout)
    if "checks" in body:
        checks = body["checks"]
        if isinstance(checks, str):
            checks = [c.strip() for c in checks.split(",") if c.strip()]
        if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
            raise UsageError(f"{where}.checks: expected a list such as [card, rpc, send]")
        for c in checks:
            if c == "validate":
                raise UsageError(
                    f"{where}.checks: validate (card schema validation) is not run by the exporter",
                    hint="use 'a2actl fleet probe --checks validate' or 'a2actl caps validate'",
                )
            if c not in CHECKS:
                raise UsageError(f"{where}.checks: unknown check {c!r}; use {', '.join(CHECKS)}")
        mod = replace(mod, checks=frozenset({"card", "rpc", *checks}))
    if "send_text" in body:
        send_text = text("send_text")
        if not send_text:
            raise UsageError(f"{where}.send_text: empty")
        mod = replace(mod, send_text=send_text)
    if "budgets" in body:
        budgets = body["budgets"]
        if isinstance(budgets, dict):
            specs = [f"{k}={v}" for k, v in budgets.items()]
        elif isinstance(budgets, (str, list)):
            specs = [budgets] if isinstance(budgets, str) else [str(b) for b in budgets]
        else:
            raise UsageError(f"{where}.budgets: expected a mapping such as {{total: 2s, rpc: 500ms}}")
        try:
            mod = replace(mod, budgets=tuple(parse_budgets(specs)))
        except ValueError as exc:
            raise UsageError(f"{where}.budgets: {exc}") from exc
    if "a2a_version" in body:
        version = text("a2a_version")
        if version not in _VERSIONS:
            raise UsageError(f"{where}.a2a_version: {version!r}; use one of {', '.join(_VERSIONS)}")
        mod = replace(mod, a2a_version=version)
    if "binding" in body:
        binding = text("binding")
        if binding not in _BINDINGS:
            raise UsageError(f"{where}.binding: {binding!r}; use one of {', '.join(_BINDINGS)}")
        mod = replace(mod, binding=binding)
    if "card_path" in body:
        mod = replace(mod, card_path=_card_path(body["card_path"], f"{where}.card_path"))
    if "headers" in body:
        headers, from_env = _headers(body["headers"], f"{where}.headers", env)
        mod = replace(mod, headers=headers, secret_headers=from_env)
    if "token_env" in body:
        var = text("token_env")
        if not _ENV_NAME.match(var):
            raise UsageError(f"{where}.token_env: {var!r} is not an environment variable name")
        token = env.get(var, "").strip()
        if not token:
            raise UsageError(f"{where}.token_env: the environment variable {var} is not set or empty")
        register_secret(token)
        token, note = checked_token(token, f"{where}.token_env {var}")  # never the value
        register_secret(token)
        mod = replace(mod, token_env=var, token=token, note=note)
    if "allow_targets" in body:
        allow = body["allow_targets"]
        if isinstance(allow, str):
            allow = [allow]
        if not isinstance(allow, list) or not all(isinstance(a, str) and a for a in allow):
            raise UsageError(f"{where}.allow_targets: expected a list of URL prefixes")
        for a in allow:
            _check_allowed(a, f"{where}.allow_targets")
        mod = replace(mod, allow_targets=tuple(allow))
    for secret in header_secrets(mod.headers):
        register_secret(secret)
    for name, value in mod.headers:
        if name in mod.secret_headers:
            register_secret(value)
    return mod


def _card_path(value: Any, where: str) -> str:
    """A module's ``card_path``: a URL path on the target (``/.well-known/agent-card.json``, relative
    to the target's base path as ``--card-path`` is): a string starting with one ``/``, without a
    scheme or host, ``..`` or ``.`` segments, query, fragment, backslash, whitespace or control
    characters. Raises ``UsageError`` (exit 2)."""
    if not isinstance(value, str):
        raise UsageError(f"{where}: expected a path such as /.well-known/agent-card.json, got {value!r}")
    if not value.startswith("/") or value.startswith("//") or "://" in value:
        raise UsageError(
            f"{where}: {value!r} is not a path: it starts with one '/' and names no scheme or host",
            hint="the card is fetched from the probed target; e.g. card_path: /.well-known/agent-card.json",
        )
    if any(seg in (".", "..") for seg in value.split("/")):
        raise UsageError(f"{where}: {value!r}: no '.' or '..' segments")
    if any(c in value for c in "?#\\") or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise UsageError(f"{where}: {value!r}: a path only (no query, fragment, backslash or whitespace)")
    return value


def _check_allowed(prefix: str, where: str) -> None:
    """An ``allow_targets`` entry: an http(s) URL with a host, without userinfo, query or fragment.
    Raises ``UsageError`` (exit 2)."""
    from urllib.parse import urlsplit

    try:
        p = urlsplit(prefix)
        p.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        p = None
    if p is None or p.scheme.lower() not in ("http", "https") or not p.hostname:
        raise UsageError(f"{where}: {prefix!r} is not an http(s) URL with a host")
    if "@" in p.netloc or p.query or p.fragment:
        raise UsageError(
            f"{where}: {prefix!r}: no userinfo, query or fragment (scheme, host, port, path only)"
        )


def _headers(
    raw: Any, where: str, env: Mapping[str, str]
) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    """``headers:`` as name/value pairs, and the names of those whose value came from the
    environment; ``${VAR}`` references resolved from ``env``. A credential header
    (``a2actl.core.redact`` rules) must be written as a reference, never as a literal; a value taken
    from the environment is a secret whatever the header's name. Each header passes
    ``a2actl.core.headers.header_problem`` as ``-H`` does (not one the HTTP client owns, a printable
    ASCII value); errors name the header, never its value."""
    from a2actl.core.headers import header_problem, is_field_name
    from a2actl.core.redact import header_secrets

    if not isinstance(raw, dict):
        raise UsageError(f"{where}: expected a mapping of header names to values")
    out: list[tuple[str, str]] = []
    from_env: set[str] = set()
    seen: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not is_field_name(name):
            raise UsageError(f"{where}: {name!r} is not a header name")
        if seen.setdefault(name.lower(), name) != name:
            raise UsageError(f"{where}: {seen[name.lower()]} and {name} are one header (names ignore case)")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise UsageError(f"{where}.{name}: expected a string")
        text = str(value)
        refs = _ENV_REF.findall(text)
        if header_secrets([(name, text)]) and not refs:
            raise UsageError(
                f"{where}.{name}: a credential written in the config file",
                hint=f'write it as "${{ENV_VAR}}" (or use token_env for a bearer token): {name}: "${{AGENT_KEY}}"',
            )
        for var in refs:
            if not env.get(var, "").strip():
                raise UsageError(f"{where}.{name}: the environment variable {var} is not set or empty")
        resolved = _ENV_REF.sub(lambda m: env.get(m.group(1), "").strip(), text)
        problem = header_problem(name, resolved)  # client-owned, or not sendable: never the value
        if problem:
            raise UsageError(f"{where}.{name}: {problem[0]}", hint=problem[1])
        out.append((name, resolved))
        if refs:
            from_env.add(name)
    return tuple(out), frozenset(from_env)


__all__ = [
    "CHECKS",
    "DEFAULT_TIMEOUT",
    "MODULE_KEYS",
    "Module",
    "default_module",
    "load_config",
    "parse_module",
    "target_allowed",
]
