"""``caps diff``: field-level changes between two capability snapshots, each classed as
``breaking``, ``risky`` or ``cosmetic`` with the reason.

Changes are computed on the normalised snapshot (``a2actl.caps.snapshot``), so a 0.3 card and its
1.0 successor compare field by field. Objects are compared by key, lists as sets (snapshots keep
every list sorted), scalars by value; an object or list member one side lacks reads as empty
(``aligned``). Paths are RFC 6901 JSON pointers into the snapshot; for a set member the path is the
list's and the member is in ``before`` (removed) or ``after`` (added).

Classification (the rules in ``classify``; anything not covered is ``risky``, "unclassified"):

* breaking: a skill, interface, binding, protocol version, input/output mode or security scheme
  removed; ``streaming``/``pushNotifications``/``extendedAgentCard`` true→false; a security
  requirement added to an open agent, or an accepted requirement removed/tightened; a security
  scheme's type, HTTP auth scheme, API key location or name changed, or an OAuth 2 flow removed
  (clients holding the old credentials cannot authenticate).
* risky: an interface url/tenant changed or the preferred interface moved; an extension removed,
  made required, or its params changed; a security scheme's other settings changed (urls, scopes,
  a flow added); security dropped; a skill id that names several skills (``duplicateSkillIds``);
  a card signature disappeared or its key id changed (``signatureKids``, spec v1.0 §8.4).
* cosmetic: descriptions, names, tags, examples, provider, links; anything added (a skill, mode,
  interface, capability turned on, a signature); the case of an HTTP auth scheme (``Bearer``/``bearer``).

Credentials in URLs (userinfo, credential-like query values: ``http://user:pw@host/rpc?token=…``)
are never shown: both sides are compared with them masked (``core.redact.mask_urls``, as ``caps
snapshot`` writes them), so ``before``/``after`` hold ``***`` in their place. A value whose masked
forms are equal but whose credentials differ, on two sides that both carry them (two deployments,
card files, a snapshot written before they were masked), is one ``changed`` entry with both values
masked and the reason saying only the credentials changed, classed as that member's change is
(an interface url: risky). Against a snapshot that holds ``***`` there is nothing to compare: the
credentials' presence and place count, their values do not.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from a2actl.caps.snapshot import SNAPSHOT_KEY
from a2actl.core.pointer import pointer_token

BREAKING = "breaking"
RISKY = "risky"
COSMETIC = "cosmetic"
CLASSES = (BREAKING, RISKY, COSMETIC)
_RANK = {BREAKING: 0, RISKY: 1, COSMETIC: 2}
#: ``--fail-on`` values → the classes that fail.
FAIL_ON = {"breaking": {BREAKING}, "risky": {BREAKING, RISKY}, "any": set(CLASSES), "none": set()}

_CAPABILITIES = ("streaming", "pushNotifications", "extendedAgentCard")


@dataclass(frozen=True)
class Change:
    """One field-level change. ``op`` is ``added``, ``removed`` or ``changed``; ``path`` a JSON
    pointer into the snapshot; ``klass`` one of ``CLASSES``."""

    path: str
    op: str
    before: Any
    after: Any
    klass: str = RISKY
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """``{"path", "op", "before", "after", "class", "reason"}``: one entry of ``changes``."""
        return {
            "path": self.path,
            "op": self.op,
            "before": self.before,
            "after": self.after,
            "class": self.klass,
            "reason": self.reason,
        }


def _unesc(seg: str) -> str:
    return seg.replace("~1", "/").replace("~0", "~")


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def raw_changes(before: Any, after: Any, path: str = "") -> list[Change]:
    """Structural changes from ``before`` to ``after`` (any JSON values), unclassified. Never raises."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[Change] = []
        for key in sorted(set(before) | set(after), key=str):
            p = f"{path}/{pointer_token(key)}"
            if key not in after:
                out.append(Change(p, "removed", before[key], None))
            elif key not in before:
                out.append(Change(p, "added", None, after[key]))
            else:
                out += raw_changes(before[key], after[key], p)
        return out
    if isinstance(before, list) and isinstance(after, list):
        b = {_canon(v): v for v in before}
        a = {_canon(v): v for v in after}
        return [Change(path, "removed", b[k], None) for k in sorted(set(b) - set(a))] + [
            Change(path, "added", None, a[k]) for k in sorted(set(a) - set(b))
        ]
    if _canon(before) != _canon(after):
        return [Change(path, "changed", before, after)]
    return []


def _get(doc: Any, segs: list[str]) -> Any:
    for s in segs:
        if isinstance(doc, dict):
            doc = doc.get(s)
        else:
            return None
    return doc


def _security_class(ch: Change, segs: list[str], before_doc: Any, after_doc: Any) -> tuple[str, str]:
    where = "the agent" if segs[0] == "securityRequirements" else f"skill {segs[1]!r}"
    after_list = _get(after_doc, segs)
    before_list = _get(before_doc, segs)
    item = _canon(ch.before if ch.op == "removed" else ch.after)
    if ch.op == "added":
        if not before_list:
            return BREAKING, f"{where} now requires authentication ({item}); clients without credentials fail"
        return RISKY, f"{where} accepts a new way to authenticate ({item}): the security posture changed"
    if ch.op == "removed":
        if not after_list:
            return RISKY, f"{where} no longer requires authentication: check this is intended"
        return BREAKING, f"{where} no longer accepts {item} (removed or tightened); clients using it fail"
    return BREAKING, f"{where}'s security requirements changed"


def _signature_class(ch: Change, after_doc: Any) -> tuple[str, str]:
    """A change of ``signatureKids`` (the key ids of the card's signatures, spec v1.0 §8.4)."""
    after_kids = _get(after_doc, ["signatureKids"]) or []
    if ch.op == "removed" and (ch.path == "/signatureKids" and not after_kids):
        if isinstance(ch.before, list):  # the whole member: the card is no longer signed
            return RISKY, "the card is no longer signed: clients that verify signatures reject it"
        return RISKY, (
            f"the signature with kid {ch.before!r} disappeared and the card is no longer signed: "
            "clients that verify signatures reject it"
        )
    if ch.op == "removed":
        return RISKY, (
            f"the signature with kid {ch.before!r} disappeared (now {', '.join(map(repr, after_kids))}): "
            "clients that pinned that key reject the card"
        )
    return COSMETIC, f"signed with kid {ch.after!r} (additive)"


#: The members of a (flattened) security scheme that say how a client authenticates: a change of
#: one makes the credentials clients hold useless (``type``: http → apiKey; ``scheme``: Bearer →
#: Basic; an API key's ``location`` or header ``name``). Spec v1.0 §4.5.1 SecurityScheme, §4.5.2-4.5.6.
_SCHEME_IDENTITY = ("type", "scheme", "location", "name")


def _scheme_change(ch: Change, segs: list[str]) -> tuple[str, str] | None:
    """The class of a change inside one security scheme (``/securitySchemes/NAME/...``) when the
    settings rule ("risky") does not fit: its type, HTTP auth scheme, API key location or name changed
    or removed (breaking; a change of the auth scheme's case alone is cosmetic, RFC 9110 §11.1 compares
    it case-insensitively); an OAuth 2 flow, or ``flows`` itself, removed (breaking). ``None``: other
    settings (urls, scopes, ``bearerFormat``, a flow added)."""
    if len(segs) < 3:
        return None
    name, member = segs[1], segs[2]
    if len(segs) == 3 and member in _SCHEME_IDENTITY and ch.op != "added":
        before, after = ch.before, ch.after
        if member == "scheme" and isinstance(before, str) and isinstance(after, str):
            if before.lower() == after.lower():
                return COSMETIC, f"security scheme {name!r}: only the case of its auth scheme changed"
        what = {
            "type": "type",
            "scheme": "auth scheme",
            "location": "API key location",
            "name": "API key name",
        }
        return BREAKING, (
            f"security scheme {name!r} {what[member]} changed ({_canon(before)} → {_canon(after)}): "
            "clients holding the old kind of credential cannot authenticate"
        )
    if member == "flows" and ch.op == "removed" and len(segs) <= 4:
        flow = f"OAuth 2 flow {segs[3]!r}" if len(segs) == 4 else "every OAuth 2 flow"
        return BREAKING, f"security scheme {name!r}: {flow} removed: clients using it cannot get a token"
    return None


def classify(ch: Change, before_doc: Any = None, after_doc: Any = None) -> Change:
    """Return ``ch`` with its class and reason (rules in the module docstring)."""
    segs = [_unesc(s) for s in ch.path.split("/")[1:]]

    def out(klass: str, reason: str) -> Change:
        return Change(ch.path, ch.op, ch.before, ch.after, klass, reason)

    if not segs:
        return out(BREAKING, "the document is not a capability snapshot")
    top = segs[0]
    if top == SNAPSHOT_KEY:
        return out(RISKY, "snapshot format version differs; regenerate the snapshot")
    if top in ("name", "description", "provider", "documentationUrl", "iconUrl"):
        return out(COSMETIC, f"{top} edited")
    if top == "signatureKids":
        return out(*_signature_class(ch, after_doc))
    if top == "duplicateSkillIds":
        if ch.op == "removed":
            return out(COSMETIC, f"skill id {ch.before!r} names one skill again")
        return out(
            RISKY,
            f"skill id {ch.after!r} now names more than one skill: clients see one of them, and only the "
            "first is compared",
        )

    def membership(removed: str, added: str) -> Change | None:
        """Losing a member breaks the clients that use it; gaining one is additive."""
        if ch.op == "removed":
            return out(BREAKING, removed)
        if ch.op == "added":
            return out(COSMETIC, added + " (additive)")
        return None

    verdict: Change | None = None
    if top in ("protocolVersions", "bindings"):
        what = "protocol version" if top == "protocolVersions" else "binding"
        verdict = membership(
            f"{what} {ch.before} dropped: clients that speak only it cannot call the agent",
            f"{what} {ch.after} added",
        )
    elif top in ("interfaces", "skills") and len(segs) == 2:
        what = "interface" if top == "interfaces" else "skill"
        verdict = membership(f"{what} {segs[1]!r} removed: clients using it fail", f"new {what} {segs[1]!r}")
    elif top in ("defaultInputModes", "defaultOutputModes"):
        verdict = membership(
            f"{top} no longer includes {ch.before}: requests or answers in it are rejected",
            f"{top} gained {ch.after}",
        )
    elif top == "skills" and len(segs) == 3 and segs[2] in ("inputModes", "outputModes"):
        mode = segs[2][:-5]
        verdict = membership(
            f"skill {segs[1]!r} no longer supports {mode} mode {ch.before}",
            f"skill {segs[1]!r} gained {mode} mode {ch.after}",
        )
    elif top == "securitySchemes" and len(segs) == 2:
        verdict = membership(
            f"security scheme {segs[1]!r} removed: clients using it cannot authenticate",
            f"security scheme {segs[1]!r} added",
        )
    if verdict is not None:
        return verdict
    if top == "interfaces":
        if len(segs) == 3 and segs[2] == "url":
            return out(
                RISKY, f"interface {segs[1]} moved to another url: pinned clients and firewalls may break"
            )
        if len(segs) == 3 and segs[2] == "tenant":
            return out(RISKY, f"interface {segs[1]} tenant changed: requests carry the tenant")
        if len(segs) == 3 and segs[2] == "bindingSpelling":
            return out(*_binding_spelling_class(segs[1], ch))
        if len(segs) == 3 and segs[2] == "preferred":
            return out(
                RISKY,
                f"preferred interface changed ({segs[1]} now {'first' if ch.after else 'not first'}): "
                "clients following card order switch binding or version",
            )
    if top == "capabilities" and len(segs) == 2 and segs[1] in _CAPABILITIES:
        if ch.before is True and ch.after is not True:
            return out(
                BREAKING,
                f"capabilities.{segs[1]} true→false: clients relying on it fail "
                + (
                    "(UnsupportedOperationError -32004)"
                    if segs[1] == "streaming"
                    else "(PushNotificationNotSupportedError -32003)"
                    if segs[1] == "pushNotifications"
                    else "(no extended card)"
                ),
            )
        if ch.after is True:
            return out(COSMETIC, f"capabilities.{segs[1]} turned on (additive)")
        if ch.before in (None, False) and ch.after in (None, False):  # absent reads as false
            return out(COSMETIC, f"capabilities.{segs[1]} false, stated or not")
    if top == "skills" and len(segs) >= 3:
        field = segs[2]
        if field == "securityRequirements":
            return out(*_security_class(ch, segs[:3], before_doc, after_doc))
        if field in ("name", "description", "tags", "examples"):
            return out(COSMETIC, f"skill {segs[1]!r} {field} edited")
    if top == "securityRequirements":
        return out(*_security_class(ch, segs[:1], before_doc, after_doc))
    if top == "securitySchemes":
        if len(segs) >= 3 and segs[2] == "description":
            return out(COSMETIC, f"security scheme {segs[1]!r} description edited")
        how = _scheme_change(ch, segs)
        if how is not None:
            return out(*how)
        return out(
            RISKY,
            f"security scheme {segs[1] if len(segs) > 1 else ''!r} settings changed "
            "(flows, urls, location): clients may authenticate against the wrong place",
        )
    if top == "extensions":
        if len(segs) == 2:
            if ch.op == "removed":
                return out(RISKY, f"extension {segs[1]} removed: clients activating it lose the behaviour")
            if ch.op == "added":
                required = isinstance(ch.after, dict) and ch.after.get("required") is True
                return (
                    out(RISKY, f"new required extension {segs[1]}: clients without it are rejected (-32008)")
                    if required
                    else out(COSMETIC, f"extension {segs[1]} added (optional)")
                )
        if len(segs) == 3 and segs[2] == "required":
            if ch.after is True:
                return out(
                    RISKY, f"extension {segs[1]} became required: clients without it are rejected (-32008)"
                )
            return out(COSMETIC, f"extension {segs[1]} no longer required")
        if len(segs) >= 3 and segs[2] == "description":
            return out(COSMETIC, f"extension {segs[1]} description edited")
        if len(segs) >= 3 and segs[2] == "params":
            return out(RISKY, f"extension {segs[1]} params changed")
    return out(RISKY, "unclassified change: review it")


def _fill(before: dict[str, Any], after: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    """Give the side that lacks a member the other side's member type, empty (in place)."""
    for key in (before.keys() ^ after.keys()) - set(skip):
        have, lacking = (before, after) if key in before else (after, before)
        if isinstance(have[key], (dict, list)):
            lacking[key] = type(have[key])()


def _unknown_spellings(before: dict[str, Any], after: dict[str, Any]) -> None:
    """For an interface both snapshots have, drop ``bindingSpelling`` from the side that has it when
    the other lacks it (a snapshot written before the member existed, a hand-written expectation):
    the other side's spelling is unknown, so there is nothing to compare (in place; the interface
    maps and their entries are copied before a change)."""
    b_ifaces, a_ifaces = before.get("interfaces"), after.get("interfaces")
    if not isinstance(b_ifaces, dict) or not isinstance(a_ifaces, dict):
        return
    for key in b_ifaces.keys() & a_ifaces.keys():
        b_entry, a_entry = b_ifaces[key], a_ifaces[key]
        if not isinstance(b_entry, dict) or not isinstance(a_entry, dict):
            continue
        if ("bindingSpelling" in b_entry) == ("bindingSpelling" in a_entry):
            continue
        side = before if "bindingSpelling" in b_entry else after
        ifaces = side["interfaces"] = dict(side["interfaces"])
        ifaces[key] = {k: v for k, v in ifaces[key].items() if k != "bindingSpelling"}


def _binding_spelling_class(key: str, ch: Change) -> tuple[str, str]:
    """A change of an interface's ``bindingSpelling`` (the binding name as the card writes it; the
    snapshot key ``key`` holds the canonical one). Binding names are case-sensitive (spec v1.0 §4.4.6,
    v0.3 §5.6) and a2a-sdk matches them exactly: a standard binding now spelled otherwise
    (``JSONRPC`` → ``jsonrpc``) is no interface of that binding to such clients (breaking); one now
    spelled as the spec names it is a fix (cosmetic); a custom binding's spelling changed is risky."""
    from a2actl.protocol.versions import STANDARD_BINDINGS

    binding = key.rsplit("@", 1)[0]
    before, after = _canon(ch.before), _canon(ch.after)
    if ch.after in STANDARD_BINDINGS:
        return COSMETIC, f"interface {key}: binding now spelled as the spec names it ({before} → {after})"
    if binding in STANDARD_BINDINGS:
        return BREAKING, (
            f"interface {key}: binding spelled {after} (was {before}), not the spec's {binding!r}: binding "
            f"names are case-sensitive, so clients that match them exactly (a2a-sdk) find no {binding} "
            "interface"
        )
    return (
        RISKY,
        f"interface {key}: binding spelled {after} (was {before}): clients match binding names exactly",
    )


def aligned(before: Any, after: Any) -> tuple[Any, Any]:
    """Copies of two snapshots in which a container member (an object or a list) that one side
    lacks, at the top level or in a skill both sides have, is empty on that side: an absent set is
    the empty set. So a whole member removed (a hand-edited or truncated snapshot without
    ``skills``) counts as each of its entries removed, breaking where an entry would be (it was one
    risky "unclassified" change), and a hand-written expectation that leaves out a skill's
    ``securityRequirements`` does not read as "now requires authentication ([])". ``signatureKids``
    is left alone: its absence means an unsigned card (``_signature_class``)."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return before, after
    b, a = dict(before), dict(after)
    _fill(b, a, skip=("signatureKids",))
    _unknown_spellings(b, a)
    b_skills, a_skills = b.get("skills"), a.get("skills")
    if isinstance(b_skills, dict) and isinstance(a_skills, dict):
        b_skills, a_skills = dict(b_skills), dict(a_skills)
        for sid in b_skills.keys() & a_skills.keys():
            if isinstance(b_skills[sid], dict) and isinstance(a_skills[sid], dict):
                b_skills[sid], a_skills[sid] = dict(b_skills[sid]), dict(a_skills[sid])
                _fill(b_skills[sid], a_skills[sid])
        b["skills"], a["skills"] = b_skills, a_skills
    return b, a


def credential_changes(before: Any, after: Any, path: str = "") -> list[Change]:
    """The members (object members, at any depth; not set members) whose string values differ in the
    credentials of a URL alone: equal once masked (``core.redact.mask_urls``), both carrying
    credentials (neither already masked). Each is a ``changed`` entry with both values masked,
    unclassified; ``path`` built from masked keys. Never raises."""
    from a2actl.core.redact import mask_urls

    if isinstance(before, dict) and isinstance(after, dict):
        b = {mask_urls(k) if isinstance(k, str) else k: v for k, v in before.items()}
        a = {mask_urls(k) if isinstance(k, str) else k: v for k, v in after.items()}
        out: list[Change] = []
        for key in sorted(b.keys() & a.keys(), key=str):
            out += credential_changes(b[key], a[key], f"{path}/{pointer_token(str(key))}")
        return out
    if isinstance(before, str) and isinstance(after, str) and before != after:
        masked_before, masked_after = mask_urls(before), mask_urls(after)
        if masked_before == masked_after and masked_before != before and masked_after != after:
            return [Change(path, "changed", masked_before, masked_after)]
    return []


def _credential_class(ch: Change, before_doc: Any, after_doc: Any) -> Change:
    """``ch`` (from ``credential_changes``) classed as a change of that member is, with a reason that
    says only the URL's credentials changed."""
    base = classify(ch, before_doc, after_doc)
    segs = [_unesc(s) for s in ch.path.split("/")[1:]]
    if len(segs) == 3 and segs[0] == "interfaces" and segs[2] == "url":
        reason = (
            f"interface {segs[1]}: only the credentials in its url changed (values not shown): "
            "clients holding the old ones fail to authenticate"
        )
    else:
        reason = f"{base.reason} (only the credentials in its URL changed; values not shown)"
    return dataclasses.replace(base, reason=reason)


def diff_snapshots(before: Any, after: Any) -> list[Change]:
    """Classified changes from snapshot ``before`` (the expectation, or blue) to ``after`` (the
    target, or green), most severe first, then by path. A container member one side lacks is read
    as empty (``aligned``). URL credentials are compared masked, and a value whose credentials alone
    changed is one change that shows neither (module docstring). Never raises for any JSON values."""
    from a2actl.core.redact import mask_urls_in_json

    before, after = aligned(before, after)
    secret = credential_changes(before, after)
    before, after = mask_urls_in_json(before), mask_urls_in_json(after)
    changes = [classify(c, before, after) for c in raw_changes(before, after)]
    changes += [_credential_class(c, before, after) for c in secret]
    changes = _one_entry_per_retyped_scheme(changes)
    return sorted(changes, key=lambda c: (_RANK[c.klass], c.path, c.op))


def _one_entry_per_retyped_scheme(changes: list[Change]) -> list[Change]:
    """``changes`` with, for each security scheme whose ``type`` changed (``/securitySchemes/NAME/type``,
    breaking), that entry alone: the members that went or came with the new type (``scheme`` removed,
    ``location`` and ``name`` added for http → apiKey) are part of that one change, not changes of
    their own. The type entry's reason names them. Other changes are returned unchanged, in order."""
    retyped: dict[str, Change] = {}
    for c in changes:
        segs = c.path.split("/")[1:]
        if len(segs) == 3 and segs[0] == "securitySchemes" and segs[2] == "type" and c.klass == BREAKING:
            retyped[segs[1]] = c
    if not retyped:
        return changes
    folded: dict[str, list[str]] = {name: [] for name in retyped}
    out: list[Change] = []
    for c in changes:
        segs = c.path.split("/")[1:]
        if (
            len(segs) >= 3
            and segs[0] == "securitySchemes"
            and segs[1] in retyped
            and c is not retyped[segs[1]]
        ):
            folded[segs[1]].append(_unesc(segs[2]))
            continue
        out.append(c)
    for name, members in folded.items():
        if members:
            type_change = retyped[name]
            with_it = ", ".join(sorted(set(members)))
            idx = out.index(type_change)
            out[idx] = dataclasses.replace(
                type_change, reason=f"{type_change.reason} (with it: {with_it} changed)"
            )
    return out


def failed(changes: list[Change], fail_on: str) -> bool:
    """Whether ``changes`` fail ``--fail-on fail_on`` (``breaking``, ``risky``, ``any``, ``none``)."""
    classes = FAIL_ON[fail_on]
    return any(c.klass in classes for c in changes)


def counts(changes: list[Change]) -> dict[str, int]:
    """Changes per class: ``{"breaking": n, "risky": n, "cosmetic": n}``."""
    return {k: sum(1 for c in changes if c.klass == k) for k in CLASSES}
