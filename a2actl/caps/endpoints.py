"""``caps fingerprint``'s probes: what one endpoint (url, binding) of a card answers, and whether
the card itself changes with ``A2A-Version``. Side-effect-free calls only; the rules are in
``a2actl.caps.fingerprint`` and ``docs/caps.md`` (``caps fingerprint``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from a2actl.core.errors import A2ACtlError, AuthError, ProtocolViolation
from a2actl.core.redact import register_url
from a2actl.protocol.events import result_shape_error
from a2actl.protocol.jsondoc import parse as parse_json
from a2actl.protocol.jsonrpc import (
    DecodedError,
    EnvelopeError,
    build_request,
    decode_jsonrpc_error,
    decode_rest_error,
    split_response,
    verdict_of,
)
from a2actl.protocol.versions import BINDING_HTTP_JSON, BINDING_JSONRPC, VERSION_HEADER, Family, join_url

if TYPE_CHECKING:
    from a2actl.agent.discovery import CardFetch
    from a2actl.transport.http import HttpTransport
    from a2actl.transport.timing import HttpResult

FAMILIES = ("1.0", "0.3")


@dataclass
class Probe:
    """One probe call. ``verdict``: ``answers``, ``rejects`` (version/method not spoken), ``error``
    (something else went wrong: see ``detail``). ``status`` is the HTTP status (``None`` when the call
    never completed); ``code`` the decoded A2A/JSON-RPC error code; ``exit_code``, for an ``error``,
    the exit code of docs/exit-codes.md that the failure has elsewhere in a2actl (3 unreachable, 4
    refused credentials, 5 timeout, 6 an answer that is no answer, 1 an A2A or HTTP error)."""

    call: str
    headers: dict[str, str]
    verdict: str
    detail: str
    status: int | None = None
    code: int | None = None
    exit_code: int = 1

    def to_json(self) -> dict[str, Any]:
        """``{"call", "headers", "verdict", "detail", "httpStatus", "code"}``."""
        return {
            "call": self.call,
            "headers": self.headers,
            "verdict": self.verdict,
            "detail": self.detail,
            "httpStatus": self.status,
            "code": self.code,
        }


@dataclass
class EndpointPrint:
    """What one (url, binding) answers. ``declared`` are the card's families for it."""

    url: str
    binding: str
    tenant: str | None
    declared: list[str]
    probes: dict[str, Probe] = field(default_factory=dict)
    header_probes: dict[str, Probe] = field(default_factory=dict)

    @property
    def speaks(self) -> list[str]:
        """The families (``1.0``, ``0.3``) whose probe answered, newest first."""
        return [f for f in FAMILIES if f in self.probes and self.probes[f].verdict == "answers"]

    def header_honoured(self) -> bool | None:
        """True when an unknown ``A2A-Version`` is rejected; ``None`` when not measurable."""
        p = self.header_probes.get("unknown")
        if p is None or p.verdict == "error":
            return None
        return p.verdict == "rejects"

    def missing_header_as(self) -> str | None:
        """What a 1.0 call *without* the header is read as: ``0.3`` (spec), ``1.0`` (lenient)."""
        p = self.header_probes.get("missing")
        if p is None or p.verdict == "error":
            return None
        return "1.0" if p.verdict == "answers" else "0.3"

    def to_json(self) -> dict[str, Any]:
        """``{"url", "protocolBinding", "tenant", "declaredVersions", "speaks", "versionHeader",
        "probes", "headerProbes"}``."""
        return {
            "url": self.url,
            "protocolBinding": self.binding,
            "tenant": self.tenant,
            "declaredVersions": self.declared,
            "speaks": self.speaks,
            "versionHeader": {
                "honoured": self.header_honoured(),
                "missingHeaderReadAs": self.missing_header_as(),
            },
            "probes": {k: v.to_json() for k, v in self.probes.items()},
            "headerProbes": {k: v.to_json() for k, v in self.header_probes.items()},
        }


def bindings_agree(endpoints: list[EndpointPrint]) -> bool | None:
    """Whether every binding speaks the same families (spec v1.0 §5.1 functional equivalence);
    ``None`` with fewer than two bindings."""
    by_binding: dict[str, set[str]] = {}
    for e in endpoints:
        by_binding.setdefault(e.binding, set()).update(e.speaks)
    if len(by_binding) < 2:
        return None
    return len({frozenset(v) for v in by_binding.values()}) == 1


def _classify_rpc(res: HttpResult, rid: str, method: str) -> tuple[str, str, int | None]:
    try:
        obj = parse_json(res.body, res.url)
        result, error = split_response(obj, rid)
    except (ValueError, EnvelopeError, ProtocolViolation) as exc:
        return "error", f"HTTP {res.status}, not a JSON-RPC answer ({exc.__class__.__name__})", None
    if error is None:
        why = result_shape_error("GetTask", result)
        if why is not None:  # as handshake probe reads it (a protocol violation there, exit 6)
            return "error", f"HTTP {res.status}, the {method} result {why}", None
        return "answers", "result", None
    dec = decode_jsonrpc_error(error, method=method)
    return _verdict(dec)


def _verdict(dec: DecodedError) -> tuple[str, str, int | None]:
    verdict = verdict_of(dec)
    if verdict == "answers":
        return verdict, f"{dec.name} {dec.code} (expected for a random id)", dec.code
    return verdict, f"{dec.name} {dec.code}: {dec.message[:120]}", dec.code


def _classify_rest(res: HttpResult, operation: str = "GetTask") -> tuple[str, str, int | None]:
    """The HTTP+JSON answer to GetTask on a random id, read by the same classifier as every other
    HTTP+JSON call (``decode_rest_error`` + ``verdict_of``): a 404 is TaskNotFound only when the body
    says so; a 404/405 that no A2A server wrote is "no such route"."""
    if 200 <= res.status < 300:
        try:
            why = result_shape_error(operation, parse_json(res.body, res.url))
        except (ValueError, UnicodeDecodeError, ProtocolViolation) as exc:
            why = f"is not JSON ({exc.__class__.__name__})"
        if why is not None:
            return "error", f"HTTP {res.status}, the {operation} answer {why}", None
        return "answers", f"HTTP {res.status}", None
    try:
        body = parse_json(res.body, res.url) if res.body.strip() else None
    except (ValueError, UnicodeDecodeError, ProtocolViolation):
        body = None
    dec = decode_rest_error(res.status, body, operation=operation)
    if dec is None:
        if res.status in (404, 405):
            return "rejects", f"HTTP {res.status}: no such route", None
        return "error", f"HTTP {res.status} {res.reason}".strip(), None
    verdict, detail, code = _verdict(dec)
    return verdict, f"HTTP {res.status} {detail}", code


async def _probe(
    transport: HttpTransport,
    ep: EndpointPrint,
    family: str,
    version_header: str | None,
    method_family: str | None = None,
) -> Probe:
    """GetTask on a random id, spoken as ``method_family``'s method, with ``version_header``."""
    task_id = "a2actl-fingerprint-" + uuid.uuid4().hex[:12]
    headers = {VERSION_HEADER: version_header} if version_header else {}
    mf = method_family or family
    try:
        if ep.binding == BINDING_JSONRPC:
            method = "GetTask" if mf == "1.0" else "tasks/get"
            params: dict[str, Any] = {"id": task_id}
            if mf == "1.0" and ep.tenant:
                params["tenant"] = ep.tenant
            rid = uuid.uuid4().hex
            res = await transport.request(
                "POST", ep.url, json_body=build_request(method, params, rid), headers=headers
            )
            verdict, detail, code = _classify_rpc(res, rid, method)
            call = method
        else:
            path = (f"/{ep.tenant}" if ep.tenant and mf == "1.0" else "") + (
                f"/tasks/{task_id}" if mf == "1.0" else f"/v1/tasks/{task_id}"
            )
            res = await transport.request("GET", join_url(ep.url, path), headers=headers)
            verdict, detail, code = _classify_rest(res)
            call = "GET " + path.replace(task_id, "{id}")
        return Probe(call, headers, verdict, detail, res.status, code, _exit_of(res.status, code))
    except AuthError as exc:
        return Probe(
            "GetTask" if mf == "1.0" else "tasks/get",
            headers,
            "error",
            f"auth required: {exc.message}; set A2ACTL_TOKEN",
            None,
            None,
            int(exc.exit_code),
        )
    except A2ACtlError as exc:
        call = "GetTask" if mf == "1.0" else "tasks/get"
        return Probe(call, headers, "error", exc.message, None, None, int(exc.exit_code))


def _exit_of(status: int, code: int | None) -> int:
    """The exit code of a probe answered with HTTP ``status`` whose verdict is ``error``
    (``Probe.exit_code``): 4 for 401/403, 1 for an A2A error (``code``) or another HTTP error
    status, 6 for a 2xx that is no answer of the operation."""
    from a2actl.core.exit_codes import ExitCode

    if status in (401, 403):
        return int(ExitCode.AUTH)
    if code is None and 200 <= status < 300:
        return int(ExitCode.PROTOCOL)
    return int(ExitCode.ERROR)


async def probe_endpoint(transport: HttpTransport, ep: EndpointPrint) -> EndpointPrint:
    """Fill ``ep.probes`` and ``ep.header_probes`` (see the module docstring)."""
    ep.probes["1.0"] = await _probe(transport, ep, "1.0", "1.0")
    ep.probes["0.3"] = await _probe(transport, ep, "0.3", None)
    if ep.probes["1.0"].verdict == "answers":
        ep.header_probes["unknown"] = await _probe(transport, ep, "1.0", "99.0")
        ep.header_probes["missing"] = await _probe(transport, ep, "1.0", None)
    return ep


def _digest(body: bytes) -> str:
    try:
        canon = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):
        canon = body
    return hashlib.sha256(canon).hexdigest()[:16]


async def card_variants(transport: HttpTransport, card_url: str) -> dict[str, Any]:
    """Fetch ``card_url`` with no ``A2A-Version``, ``0.3`` and ``1.0``; report digests (sha256 of the
    canonical JSON, 16 hex chars), the ``Vary`` header and whether the card changes."""
    out: dict[str, Any] = {"url": card_url, "byHeader": {}}
    vary = None
    for label, header in (("none", None), ("0.3", "0.3"), ("1.0", "1.0")):
        try:
            res = await transport.request(
                "GET",
                card_url,
                headers={VERSION_HEADER: header} if header else {},
                max_bytes=transport.settings.max_card_bytes,
            )
        except A2ACtlError as exc:
            out["byHeader"][label] = {"error": exc.message}
            continue
        vary = vary or res.headers.get("vary")
        out["byHeader"][label] = {"status": res.status, "sha256": _digest(res.body), "bytes": len(res.body)}
    digests = {v.get("sha256") for v in out["byHeader"].values() if "sha256" in v}
    out["varies"] = len(digests) > 1
    out["vary"] = vary
    out["varyNamesVersion"] = bool(vary and VERSION_HEADER.lower() in vary.lower())
    return out


def endpoints_of(fetched: CardFetch) -> list[EndpointPrint]:
    """The distinct (url, binding) pairs of the card's JSON-RPC and HTTP+JSON interfaces; the
    secrets in their URLs (userinfo, credential query values) are registered
    (``core.redact.register_url``): the probes name those URLs in errors and ``-v``."""
    eps: dict[tuple[str, str], EndpointPrint] = {}
    for iface in fetched.view.interfaces:
        if iface.protocol_binding not in (BINDING_JSONRPC, BINDING_HTTP_JSON):
            continue
        register_url(iface.url)
        key = (iface.url.rstrip("/"), iface.protocol_binding)
        ep = eps.setdefault(key, EndpointPrint(iface.url, iface.protocol_binding, iface.tenant, []))
        fam = iface.family
        label = "1.0" if fam is Family.V1_0 else "0.3" if fam in (Family.V0_3, Family.V0_2) else None
        if label and label not in ep.declared:
            ep.declared.append(label)
    return list(eps.values())
