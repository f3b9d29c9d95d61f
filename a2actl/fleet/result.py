"""What a fleet probe produces per agent (``AgentResult``), its options (``FleetOptions``), the funnel
stages and failure causes, and the live ``FleetProgress`` snapshot (issue #16, docs/fleet.md).

The funnel (``STAGES``, in order; an agent reaches a stage only after every earlier one):

``listed``      in the inventory (after dedup and ``--shard``);
``reachable``   a TCP/TLS connection and an HTTP answer to the card request (any status);
``card``        the card was served (2xx), parsed as a JSON object and, with the ``validate`` check,
                is schema-valid (a2actl/schemas, A2A 0.3 or 1.0 by its declared version);
``negotiated``  a version and binding a2actl speaks was selected from the card
                (``a2actl.protocol.negotiation``: A2A 1.0 ``supportedInterfaces``, 0.3 ``url`` /
                ``preferredTransport``);
``rpc``         the first RPC answered: ``GetTask`` on a random id, where TaskNotFound (JSON-RPC -32001,
                or HTTP 404 with the TaskNotFound body over HTTP+JSON) is healthy, as ``handshake probe``;
``send``        (``send`` check) a blocking ``SendMessage`` reached a terminal state other than
                ``failed``/``rejected``/``canceled``.

Which stages a run counts depends on ``FleetOptions.checks`` (``stages_for``): ``listed`` and
``reachable`` always; ``card`` with ``card`` or ``validate``; ``negotiated`` and ``rpc`` with ``rpc``;
``send`` with ``send``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from a2actl.core.errors import UsageError
from a2actl.core.redact import register_url
from a2actl.fleet.inventory import AgentSpec

_T = TypeVar("_T")

#: The funnel, in order.
STAGES: tuple[str, ...] = ("listed", "reachable", "card", "negotiated", "rpc", "send")

#: Human names of the stages (tables, JUnit messages).
STAGE_LABELS: Mapping[str, str] = {
    "listed": "listed",
    "reachable": "reachable",
    "card": "card valid",
    "negotiated": "version negotiated",
    "rpc": "first RPC answers",
    "send": "send completes",
}

#: The checks ``--checks`` takes.
CHECKS: tuple[str, ...] = ("card", "validate", "rpc", "send")
DEFAULT_CHECKS: frozenset[str] = frozenset({"card", "validate", "rpc"})

#: Why an agent failed (``AgentResult.cause``), with the stage it failed at. One cause per agent:
#: the first thing that went wrong.
CAUSES: Mapping[str, str] = {
    "dns": "the host name does not resolve",
    "refused": "connection refused (or reset before an answer)",
    "tls": "TLS handshake or certificate failure",
    "timeout": "connect or read timeout",
    "http-4xx": "the card request or an RPC answered 4xx (not 401/403)",
    "http-5xx": "the card request or an RPC answered 5xx",
    "auth": "HTTP 401/403 or an A2A auth error",
    "invalid-card": "the card is not JSON, not an object, not schema-valid, or over 10 MiB",
    "version-mismatch": "no A2A version/binding a2actl speaks in the card",
    "rpc-error": "the first RPC answered a JSON-RPC/A2A error other than TaskNotFound",
    "send-failed": "SendMessage ended failed/rejected/canceled or answered an error",
    "over-budget": "the agent's checks took longer than its --budget",
    "protocol": "a malformed answer (not JSON, wrong envelope, oversized RPC answer, wrong content type)",
}

#: The phases ``AgentResult.phases`` may carry (seconds), in the order they happen.
PHASES: tuple[str, ...] = ("connect", "card", "validate", "rpc", "send")
_PHASE_INDEX: Mapping[str, int] = {name: i for i, name in enumerate(PHASES)}

#: How a per-agent note on an interface URL at another host than the card's begins
#: (``AgentResult.notes``; ``fleet.check.cross_host_note``); ``FleetReport`` counts these agents.
CROSS_HOST_NOTE = "interface host "

#: Transient causes ``--retries`` retries (never a check that the agent answered and failed).
TRANSIENT_CAUSES: frozenset[str] = frozenset({"refused", "timeout", "http-5xx"})


def stages_for(checks: Iterable[str]) -> tuple[str, ...]:
    """The funnel stages a run with ``checks`` counts, in order (see the module docstring)."""
    wanted = set(checks)
    out = ["listed", "reachable"]
    if wanted & {"card", "validate", "rpc", "send"}:
        out.append("card")
    if wanted & {"rpc", "send"}:
        out += ["negotiated", "rpc"]
    if "send" in wanted:
        out.append("send")
    return tuple(out)


def parse_checks(text: str) -> frozenset[str]:
    """``"card,validate,rpc"`` → the set. ``send`` implies ``rpc``; ``rpc`` and ``validate`` imply
    ``card``. Raises ``UsageError`` (exit 2) for an unknown or empty list."""
    names = [c.strip().lower() for c in text.split(",") if c.strip()]
    unknown = sorted(set(names) - set(CHECKS))
    if unknown or not names:
        raise UsageError(
            f"--checks {text!r}: unknown check(s) {', '.join(unknown)}" if unknown else "--checks is empty",
            hint=f"choose from {','.join(CHECKS)}",
        )
    out = set(names)
    if "send" in out:
        out.add("rpc")
    if out & {"rpc", "validate"}:
        out.add("card")
    return frozenset(out)


@dataclass
class FleetOptions:
    """A fleet run's options. ``concurrency``: agents checked at once; ``timeout``: seconds per request
    (connect and each read); ``budget``: seconds per agent for all its checks (``None``: unbounded; an
    ``AgentSpec.budget`` wins); ``checks``: a subset of ``CHECKS`` (``parse_checks``); ``retries``:
    extra attempts for a transient failure (``TRANSIENT_CAUSES``); ``send_text``: the message of the
    ``send`` check; ``a2a_version``/``binding``: as the global ``--a2a-version``/``--binding``;
    ``headers``: global headers, under each agent's own (same name: the agent's wins); ``token``: the
    global bearer token (an agent's ``tokenEnv`` wins; a secret)."""

    concurrency: int = 50
    timeout: float = 10.0
    budget: float | None = None
    checks: frozenset[str] = DEFAULT_CHECKS
    retries: int = 1
    send_text: str = "ping"
    a2a_version: str = "auto"
    binding: str = "auto"
    headers: tuple[tuple[str, str], ...] = ()
    token: str | None = field(default=None, repr=False)

    @property
    def stages(self) -> tuple[str, ...]:
        """``stages_for(self.checks)``."""
        return stages_for(self.checks)

    def to_json(self) -> dict[str, Any]:
        """The options as the report records them (no header values, no token)."""
        return {
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "budget": self.budget,
            "checks": sorted(self.checks, key=CHECKS.index),
            "retries": self.retries,
            "a2aVersion": self.a2a_version,
            "binding": self.binding,
        }


#: Shared instances of the small values many agents repeat (``passed`` tuples, declared-version
#: tuples, version and binding names): 10,000 agents hold 10,000 references to one object, not
#: 10,000 equal copies. Bounded (``_SHARED_MAX``): a fleet of cards declaring odd versions does not
#: grow it without end; past the bound a value is kept as it is.
_SHARED: dict[Any, Any] = {}
_SHARED_MAX = 4096
#: Missing phase in ``AgentResult.timings``.
_NO_TIME = None


def printable(text: str) -> str:
    """``text`` with each lone surrogate (``"\\ud800"`` in an agent's JSON: no UTF-8 form) written as
    the escape ``\\ud800``; any other text unchanged. An agent's detail, declared version or
    interface URL holding one made every output (table, ``-o json``, ``--out``, ``--junit``) fail
    with ``UnicodeEncodeError``, and the sweep's report was lost."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def shared(value: _T) -> _T:
    """The shared instance equal to ``value`` (a string, or a tuple of strings): see ``_SHARED``."""
    out = _SHARED.get(value)
    if out is not None:
        return cast("_T", out)
    if len(_SHARED) < _SHARED_MAX:
        _SHARED[value] = value
    return value


@dataclass(slots=True, init=False)
class AgentResult:
    """One agent's outcome. ``passed``: the funnel stages it reached, in ``STAGES`` order (``listed``
    always); ``ok``: every requested check passed within budget; ``cause``: one of ``CAUSES`` when not
    ok; ``detail``: one line (the first schema error with its JSON pointer, ``HTTP 503``,
    ``-32601 Method not found``); ``error_code``: the JSON-RPC code of an A2A error; ``http_status``:
    the HTTP status behind the cause; ``declared_versions``: the A2A versions the card declares
    (``protocolVersion`` of 0.3, ``supportedInterfaces[].protocolVersion`` of 1.0); ``version`` /
    ``binding`` / ``interface_url``: what was negotiated; ``phases``: seconds per phase (``PHASES``;
    ``connect`` is coarse: aiohttp's connection-setup marks, DNS+TCP+TLS together); ``total``: seconds
    for all attempts of this agent; ``attempts``: 1 + retries used; ``notes``: one-line remarks that
    do not fail the agent (its interface URL on another host than its card: ``CROSS_HOST_NOTE``).

    Compact on purpose (a fleet keeps one per agent until the report is written): slots, the phases
    held as ``timings`` (a tuple of seconds or ``None`` in ``PHASES`` order; ``phases`` is the dict
    view), and the values agents repeat shared (``compact``)."""

    spec: AgentSpec
    passed: tuple[str, ...]
    ok: bool
    cause: str | None
    detail: str | None
    error_code: int | None
    http_status: int | None
    declared_versions: tuple[str, ...]
    version: str | None
    binding: str | None
    interface_url: str | None
    timings: tuple[float | None, ...] | dict[str, float]
    total: float
    attempts: int
    notes: tuple[str, ...]

    def __init__(
        self,
        spec: AgentSpec,
        passed: tuple[str, ...] = ("listed",),
        ok: bool = False,
        cause: str | None = None,
        detail: str | None = None,
        error_code: int | None = None,
        http_status: int | None = None,
        declared_versions: tuple[str, ...] = (),
        version: str | None = None,
        binding: str | None = None,
        interface_url: str | None = None,
        phases: Mapping[str, float] | None = None,
        total: float = 0.0,
        attempts: int = 1,
        notes: tuple[str, ...] = (),
    ) -> None:
        self.spec = spec
        self.passed = passed
        self.ok = ok
        self.cause = cause
        self.detail = detail
        self.error_code = error_code
        self.http_status = http_status
        self.declared_versions = declared_versions
        self.version = version
        self.binding = binding
        self.interface_url = interface_url
        self.timings = ()
        self.phases = phases or {}
        self.total = total
        self.attempts = attempts
        self.notes = notes

    @property
    def phases(self) -> dict[str, float]:
        """Seconds per phase, in ``PHASES`` order, only the phases timed (a new dict each time)."""
        t = self.timings
        if isinstance(t, dict):
            return dict(t)
        return {name: v for name, v in zip(PHASES, t, strict=False) if v is not None}

    @phases.setter
    def phases(self, value: Mapping[str, float]) -> None:
        if all(k in _PHASE_INDEX for k in value):
            times: list[float | None] = [_NO_TIME] * len(PHASES)
            for k, v in value.items():
                times[_PHASE_INDEX[k]] = v
            while times and times[-1] is None:
                times.pop()
            self.timings = tuple(times)
        else:  # a phase this a2actl does not know (a report of a newer one): kept as given
            self.timings = dict(value)

    def compact(self) -> AgentResult:
        """Make the agent's own text writable (``printable``: ``detail``, ``declared_versions``,
        ``version``, ``binding``, ``interface_url``, ``notes``: they come from its card and answers)
        and share the values many agents repeat (``shared``): ``passed``, ``declared_versions``,
        ``version``, ``binding``. Returns ``self``."""
        if self.detail is not None:
            self.detail = printable(self.detail)
        if self.interface_url is not None:
            self.interface_url = printable(self.interface_url)
        self.notes = tuple(printable(n) for n in self.notes)
        self.passed = shared(self.passed)
        self.declared_versions = shared(tuple(printable(v) for v in self.declared_versions))
        if self.version is not None:
            self.version = shared(printable(self.version))
        if self.binding is not None:
            self.binding = shared(printable(self.binding))
        return self

    @property
    def reached(self) -> str:
        """The last stage passed."""
        return self.passed[-1] if self.passed else "listed"

    @property
    def failed_stage(self) -> str | None:
        """The stage this agent failed to reach (``None`` when ok): the one after ``reached`` (an
        over-budget agent that passed every stage fails at its last)."""
        if self.ok:
            return None
        idx = STAGES.index(self.reached) if self.reached in STAGES else 0
        return STAGES[idx + 1] if idx + 1 < len(STAGES) else STAGES[idx]

    def to_json(self) -> dict[str, Any]:
        """The per-agent record of ``-o json``/``-o jsonl`` and of the report file (camelCase keys;
        seconds as floats rounded to the microsecond; header values never included)."""
        return {
            "url": self.spec.url,
            "name": self.spec.name,
            "labels": dict(self.spec.labels),
            "ok": self.ok,
            "passed": list(self.passed),
            "cause": self.cause,
            "detail": self.detail,
            "errorCode": self.error_code,
            "httpStatus": self.http_status,
            "declaredVersions": list(self.declared_versions),
            "version": self.version,
            "binding": self.binding,
            "interfaceUrl": self.interface_url,
            "phases": {k: round(v, 6) for k, v in self.phases.items()},
            "total": round(self.total, 6),
            "attempts": self.attempts,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, doc: Any, where: str = "record") -> AgentResult:
        """Read a record written by ``to_json`` (``fleet report`` merges); the credentials in its
        ``url`` and ``interfaceUrl`` (userinfo, credential query values) are registered as secrets
        (``core.redact.register_url``). Raises ``UsageError`` (exit 2)
        naming ``where`` for anything ``to_json`` would not have written: a missing or mistyped key,
        an unknown stage or cause, a negative or non-finite time."""

        def bad(msg: str) -> UsageError:
            return UsageError(f"{where}: {msg}")

        if not isinstance(doc, dict):
            raise bad("not an object")

        def get(key: str, kinds: tuple[type, ...], *, optional: bool = False) -> Any:
            if key not in doc:
                if optional:
                    return None
                raise bad(f"missing {key!r}")
            value = doc[key]
            if value is None and optional:
                return None
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise bad(f"{key!r} has the wrong type")
            return value

        def seconds(value: Any, key: str) -> float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad(f"{key!r} is not a number of seconds")
            if value < 0:
                raise bad(f"{key!r} is negative")
            return float(value)

        def strings(key: str) -> tuple[str, ...]:
            value = get(key, (list,), optional=True) or []
            if not all(isinstance(v, str) for v in value):
                raise bad(f"{key!r} must be a list of strings")
            return tuple(value)

        url = get("url", (str,))
        labels = get("labels", (dict,), optional=True) or {}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise bad("'labels' must map strings to strings")
        passed = strings("passed") or ("listed",)
        if any(p not in STAGES for p in passed) or list(passed) != sorted(passed, key=STAGES.index):
            raise bad(f"'passed' must be funnel stages in order ({', '.join(STAGES)})")
        if len(set(passed)) != len(passed) or passed[0] != "listed":
            raise bad("'passed' must start with 'listed' and not repeat a stage")
        cause = get("cause", (str,), optional=True)
        if cause is not None and cause not in CAUSES:
            raise bad(f"unknown cause {cause!r}")
        ok = get("ok", (bool,))
        if ok and cause is not None:
            raise bad("an ok record carries a cause")
        if not ok and cause is None:
            raise bad("a failed record has no cause")
        phases_doc = get("phases", (dict,), optional=True) or {}
        phases = {str(k): seconds(v, f"phases.{k}") for k, v in phases_doc.items()}
        attempts = get("attempts", (int,), optional=True)
        if attempts is not None and attempts < 1:
            raise bad("'attempts' must be at least 1")
        for key in ("errorCode", "httpStatus"):
            value = get(key, (int,), optional=True)
            if value is not None and abs(value) >= 2**63:
                raise bad(f"{key!r} is out of range")
        interface_url = get("interfaceUrl", (str,), optional=True)
        # a report written by an a2actl that did not mask them (or by hand) may carry the credentials
        # of the agent's or its card's interface URL: secrets from here on, as when probing
        register_url(url)
        if interface_url is not None:
            register_url(interface_url)
        spec = AgentSpec(url=url, name=get("name", (str,), optional=True) or url, labels=labels)
        return cls(
            spec=spec,
            passed=passed,
            ok=ok,
            cause=cause,
            detail=get("detail", (str,), optional=True),
            error_code=get("errorCode", (int,), optional=True),
            http_status=get("httpStatus", (int,), optional=True),
            declared_versions=strings("declaredVersions"),
            version=get("version", (str,), optional=True),
            binding=get("binding", (str,), optional=True),
            interface_url=interface_url,
            phases=phases,
            total=seconds(get("total", (int, float)), "total"),
            attempts=attempts or 1,
            notes=strings("notes"),
        ).compact()


@dataclass(frozen=True)
class FleetProgress:
    """A live snapshot for the progress line: ``done`` of ``total`` agents finished; ``stages``: how
    many finished agents reached each stage (``STAGES`` keys; ``listed`` = ``done``); ``failures``:
    finished agents not ok; ``elapsed``: seconds since the run started."""

    done: int
    total: int
    stages: Mapping[str, int]
    failures: int
    elapsed: float


def progress_of(results: Iterable[AgentResult], total: int, elapsed: float) -> FleetProgress:
    """A ``FleetProgress`` from the results finished so far (a helper for runners and tests)."""
    counts = dict.fromkeys(STAGES, 0)
    done = failures = 0
    for r in results:
        done += 1
        failures += not r.ok
        for stage in r.passed:
            counts[stage] += 1
    return FleetProgress(done=done, total=total, stages=counts, failures=failures, elapsed=elapsed)


__all__ = [
    "CAUSES",
    "CHECKS",
    "CROSS_HOST_NOTE",
    "DEFAULT_CHECKS",
    "PHASES",
    "STAGES",
    "STAGE_LABELS",
    "TRANSIENT_CAUSES",
    "AgentResult",
    "FleetOptions",
    "FleetProgress",
    "parse_checks",
    "progress_of",
    "stages_for",
]
