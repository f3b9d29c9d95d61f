"""Choosing the interface and wire family for RPCs from a normalised card (``--a2a-version``,
``--binding``).

Rules: spec v1.0 §5.8 (``supportedInterfaces``: the first is the agent's preference), §3.2.6 (version
negotiation: the client names the version it speaks; patch versions are not negotiated). a2actl calls
JSON-RPC and HTTP+JSON interfaces, and gRPC ones when the caller can (``grpc=True``: the extra
``a2actl[grpc]`` is installed and the command speaks gRPC, ``docs/grpc.md``); other bindings are listed
and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from a2actl.protocol.versions import (
    BINDING_GRPC,
    BINDING_HTTP_JSON,
    BINDING_JSONRPC,
    Family,
    family_of,
    normalise_binding,
)

if TYPE_CHECKING:
    from a2actl.protocol.card import CardView, Interface

#: Bindings a2actl can call today (gRPC interfaces are listed but not selected).
CALLABLE_BINDINGS = (BINDING_JSONRPC, BINDING_HTTP_JSON)


@dataclass(frozen=True)
class Selection:
    """The interface chosen for RPCs, the wire family to speak on it and why.

    ``forced`` is true when ``--a2a-version``/``--binding`` asked for something the card does not
    declare and a2actl will try it anyway on the closest declared URL.
    """

    interface: Interface
    family: Family
    reason: str
    forced: bool = False
    candidates: list[Interface] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The negotiation as JSON (the ``negotiation`` member of task and stream documents)."""
        return {
            "url": self.interface.url,
            "protocolBinding": self.interface.protocol_binding,
            "protocolVersion": self.family.value,
            "declaredVersion": self.interface.protocol_version,
            "tenant": self.interface.tenant,
            "reason": self.reason,
            "forced": self.forced,
        }


class NegotiationFailed(ValueError):
    """No interface of the card can be called with the requested version/binding."""


#: What a skipped gRPC interface needs when the extra is missing (``grpc_hint`` of ``select_interface``).
GRPC_EXTRA_HINT = "needs `pip install 'a2actl[grpc]'`"


def _skipped_note(skipped: list[Interface], grpc_hint: str | None = None) -> str:
    """``; 1 gRPC interface and 1 WebSocket interface skipped``: each kind named as what it is (a
    ``ws://``/``wss://`` URL is a WebSocket channel, whatever its custom binding URI says); a gRPC
    interface says ``grpc_hint`` when given (``gRPC (needs `pip install 'a2actl[grpc]'`)``)."""
    if not skipped:
        return ""
    counts: dict[str, int] = {}
    for i in skipped:
        if i.protocol_binding == BINDING_GRPC:
            kind = f"gRPC ({grpc_hint})" if grpc_hint else "gRPC"
        elif i.url.lower().startswith(("ws://", "wss://")):
            kind = "WebSocket"
        else:
            kind = f"custom ({i.protocol_binding})"
        counts[kind] = counts.get(kind, 0) + 1
    return (
        "; "
        + " and ".join(f"{n} {kind} interface{'s' if n > 1 else ''}" for kind, n in counts.items())
        + " skipped"
    )


def select_interface(
    view: CardView,
    version: str = "auto",
    binding: str = "auto",
    *,
    grpc: bool = False,
    grpc_hint: str | None = None,
) -> Selection:
    """Choose the interface and wire family for RPCs.

    Rules: candidates are the card's interfaces in card order (spec v1.0 §5.8: the first is the agent's
    preference) restricted to bindings a2actl can call (JSON-RPC, HTTP+JSON); ``version`` (``auto``,
    ``0.3``, ``1.0``) and ``binding`` (``auto``, ``JSONRPC``, ``HTTP+JSON``) filter them. With ``auto``,
    a 1.0 interface is preferred over a 0.x one (as a2a-sdk's client does), then card order.
    A 0.2 interface is spoken with the 0.x method names (identical in 0.2 and 0.3).
    If the filters leave nothing but a URL with the wanted binding exists, that URL is used with the
    requested version and ``forced=True``, so an operator can test what a card does not declare.

    ``grpc``: GRPC interfaces are callable too (in card order with the others, under the same 1.0
    preference; ``--binding GRPC`` picks them alone). ``grpc_hint``: why they are not (the missing
    extra), said in the skipped note and in the failure for ``--binding GRPC``.

    Raises ``NegotiationFailed`` when no callable interface fits at all.
    """
    want_family = None if version == "auto" else family_of(version)
    if version != "auto" and want_family is None:
        raise NegotiationFailed(f"unknown --a2a-version {version!r}; use auto, 0.3 or 1.0")
    want_binding = None if binding == "auto" else normalise_binding(binding)
    bindings = (*CALLABLE_BINDINGS, BINDING_GRPC) if grpc else CALLABLE_BINDINGS
    if want_binding == BINDING_GRPC and not grpc:
        raise NegotiationFailed(f"--binding GRPC {grpc_hint or 'is not available for this command'}")
    if want_binding is not None and want_binding not in bindings:
        raise NegotiationFailed(f"binding {binding!r} cannot be called by a2actl; use JSONRPC or HTTP+JSON")

    callable_ifaces = [i for i in view.interfaces if i.protocol_binding in bindings]
    skipped = [i for i in view.interfaces if i.protocol_binding not in bindings]
    if not callable_ifaces:
        declared = ", ".join(f"{i.protocol_binding} {i.protocol_version}" for i in view.interfaces) or "none"
        grpc_only = bool(view.interfaces) and all(i.protocol_binding == BINDING_GRPC for i in view.interfaces)
        raise NegotiationFailed(
            f"the card declares no JSON-RPC or HTTP+JSON interface (declared: {declared})"
            + (f"; gRPC: {grpc_hint}" if grpc_only and grpc_hint else "")
        )

    def fam(i: Interface) -> Family:
        return i.family or Family.V0_3

    def same_family(a: Family, b: Family) -> bool:
        # 0.2 and 0.3 share method names and shapes on JSON-RPC.
        return a is b or {a, b} <= {Family.V0_2, Family.V0_3}

    cands = [
        i
        for i in callable_ifaces
        if (want_binding is None or i.protocol_binding == want_binding)
        and (want_family is None or same_family(fam(i), want_family))
    ]
    note_grpc = _skipped_note(skipped, grpc_hint)
    if cands:
        if want_family is None:
            ordered = sorted(enumerate(cands), key=lambda p: (fam(p[1]) is not Family.V1_0, p[0]))
            chosen = ordered[0][1]
            pos = view.interfaces.index(chosen) + 1
            why = f"interface #{pos} of the card: " + (
                "the first 1.0 interface (1.0 preferred over 0.x, then card order)"
                if fam(chosen) is Family.V1_0
                else "the card declares no 1.0 interface; first 0.x one"
            )
            if chosen.family is None:  # "2.0", "banana", missing: nothing a2actl knows
                why += (
                    f" (its protocolVersion {chosen.protocol_version!r} is not one a2actl knows: "
                    "0.2, 0.3 or 1.x; spoken as 0.3; --a2a-version picks another)"
                )
        else:
            chosen = cands[0]
            pos = view.interfaces.index(chosen) + 1
            why = f"interface #{pos} of the card: first one matching --a2a-version {want_family.value}"
        if want_binding is not None:
            why += f" and --binding {want_binding}"
        family = (
            want_family
            if want_family is not None and not (want_family is Family.V0_3 and fam(chosen) is Family.V0_2)
            else fam(chosen)
        )
        return Selection(chosen, family, why + note_grpc, candidates=callable_ifaces)

    # Nothing declared matches: try the requested version on a URL with the right binding.
    fallback = [i for i in callable_ifaces if want_binding is None or i.protocol_binding == want_binding]
    if not fallback:
        raise NegotiationFailed(
            f"the card declares no {want_binding} interface "
            f"(declared: {', '.join(sorted({i.protocol_binding for i in callable_ifaces}))})"
        )
    chosen = fallback[0]
    family = want_family or fam(chosen)
    declared = ", ".join(sorted({f"{fam(i).value}" for i in callable_ifaces}))
    why = (
        f"forced by --a2a-version {family.value}: the card declares only {declared} here; "
        f"trying {family.value} on interface #{view.interfaces.index(chosen) + 1}"
    )
    return Selection(chosen, family, why, forced=True, candidates=callable_ifaces)


def known_versions(view: CardView) -> CardView:
    """``view`` with only the interfaces whose ``protocolVersion`` a2actl knows (0.2, 0.3, 1.x): the
    candidates of ``fleet probe`` and the exporter under ``auto`` (docs/fleet.md, docs/monitoring.md:
    a card declaring only versions a2actl does not speak is ``version-mismatch``, and nothing is sent),
    where the single-agent commands speak an unknown version as 0.3. Raises ``NegotiationFailed``
    naming the declared versions when the card has interfaces but none of a known version."""
    from dataclasses import replace

    known = [i for i in view.interfaces if i.family is not None]
    if not known and view.interfaces:
        listed = ", ".join(f"{i.protocol_binding} {i.protocol_version or '?'}" for i in view.interfaces)
        raise NegotiationFailed(f"the card declares no A2A version a2actl speaks (0.2, 0.3, 1.0): {listed}")
    return replace(view, interfaces=known)


__all__ = [
    "CALLABLE_BINDINGS",
    "GRPC_EXTRA_HINT",
    "NegotiationFailed",
    "Selection",
    "known_versions",
    "select_interface",
]
