"""The caps operator jobs: load what they need, run the pure checks, return a typed result
(``a2actl.caps.results``) with ``.exit`` and ``.to_json()``; shapes in ``docs/output-formats.md``.

Loading a card (``a2actl.agent.discovery.load_card``) raises ``UsageError`` (exit 2),
``UnreachableError`` (3), ``AuthError`` (4), ``TimeoutError_`` (5), ``ProtocolViolation`` (6, not
JSON) or ``HTTPStatusError`` (1, no card); every job lets those through.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from a2actl.agent.discovery import CardFetch, load_card
from a2actl.caps.results import (
    DiffResult,
    FingerprintResult,
    SignatureReport,
    SignResult,
    SnapshotResult,
    Source,
    ValidateResult,
    VerifyResult,
)
from a2actl.caps.signature import KeyRef, KeyRing
from a2actl.core.errors import UsageError

if TYPE_CHECKING:
    from a2actl.caps.diff import Change
    from a2actl.core.config import Settings
    from a2actl.core.sink import EventSink


def source_of(fetched: CardFetch) -> Source:
    """Where a loaded card came from: its URL (``kind`` ``url``) or path (``file``), with notes, and
    the URL that served it after ``-L`` redirects (``final_url``)."""
    return Source(
        fetched.source, "url" if fetched.http is not None else "file", fetched.notes, fetched.final_url
    )


async def validate_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    *,
    card_path: str | None,
    strict: bool,
    live: bool,
    jwks: str | None = None,
) -> ValidateResult:
    """``caps validate``: schema findings and operational checks (``a2actl.caps.validate``), plus
    with ``live`` the capabilities the endpoint contradicts (``a2actl.caps.live``). The result exits
    6 for schema violations, 7 for failed checks, else 0. The signature check uses ``jwks`` and a
    same-host https ``jku`` (``check_signatures``). Raises ``UsageError`` (exit 2) for ``--live`` on
    a card file that declares no interface and for a bad ``--jwks`` file."""
    from a2actl.caps.signature import CanonicalizationError
    from a2actl.caps.validate import signature_findings, validate_card

    fetched = await load_card(target, settings, sink, card_path)
    report = validate_card(
        fetched.raw,
        fetched.source if fetched.http is not None else None,
        version=settings.a2a_version,
        strict=strict,
        body=fetched.body,
    )
    if live:
        if fetched.http is None and not fetched.view.interfaces:
            raise UsageError("--live needs interfaces to call; this card declares none")
        from a2actl.caps.live import live_findings
        from a2actl.transport.http import HttpTransport

        async with HttpTransport(settings, sink) as transport:
            report.findings += await live_findings(fetched, transport)
    ring = await load_keyring(settings, sink, jwks=jwks, key=None)
    try:
        sig = await check_signatures(fetched, settings, sink, ring, allow_jku=False)
    except CanonicalizationError as exc:
        report.signature = {"state": "invalid", "reason": exc.message}
        report.findings += signature_findings("invalid", [], exc.message)
    else:
        report.signature = sig.to_json()
        report.findings += signature_findings(sig.state, sig.checks)
    return ValidateResult(source_of(fetched), live, report)


async def snapshot_job(
    target: str, settings: Settings, sink: EventSink | None, card_path: str | None
) -> SnapshotResult:
    """``caps snapshot``: the snapshot document of TARGET (a snapshot file is passed through), the
    secrets of its URLs masked (``caps.snapshot.masked_snapshot``)."""
    from a2actl.caps.snapshot import masked_snapshot

    snap, _ = await _side(target, settings, sink, card_path)
    return SnapshotResult(masked_snapshot(snap))


def _is_local_json(target: str) -> bool:
    """Whether TARGET names a local file (not a URL)."""
    from a2actl.agent.target import parse_target

    try:
        return parse_target(target).kind == "file"
    except UsageError:
        return False


def _read_json_file(path: str, max_bytes: int) -> Any:
    """The JSON value of a local file of at most ``max_bytes`` bytes. Raises ``UsageError`` (exit 2)
    when it cannot be read, is larger (a device or FIFO such as /dev/zero reports size 0 and never
    ends: the read is bounded), is not UTF-8, is not JSON or is nested deeper than any A2A document
    (``a2actl.protocol.jsondoc.MAX_NESTING``). A leading UTF-8 byte order mark (editors on Windows
    write one) is skipped, as RFC 8259 §8.1 allows and as ``card get`` and ``caps validate`` read the
    same file."""
    from a2actl.agent.target import parse_target
    from a2actl.core.errors import ProtocolViolation
    from a2actl.protocol import jsondoc

    p = Path(parse_target(path).value)
    try:
        with p.open("rb") as fh:
            body = fh.read(max_bytes + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(body) > max_bytes:
        raise UsageError(f"{path} is over the {max_bytes:,}-byte limit")
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text") from exc
    try:
        return jsondoc.parse(text, path)
    except ProtocolViolation as exc:
        raise UsageError(exc.message) from None
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from exc


async def _read_json_file_off_loop(path: str, max_bytes: int) -> Any:
    """``_read_json_file`` for the event loop: a FIFO or ``<(cmd)`` that never delivers is read in a
    daemon thread (``core.offloop.read_path``), so ``--max-time`` and Ctrl-C/SIGTERM end the command
    (the blocked read ignored both)."""
    from a2actl.agent.target import parse_target
    from a2actl.core.offloop import read_path

    return await read_path(parse_target(path).value, lambda: _read_json_file(path, max_bytes))


async def _side(
    target: str, settings: Settings, sink: EventSink | None, card_path: str | None
) -> tuple[dict[str, Any], Source]:
    """A diff side: ``(snapshot, source)`` from a URL, a card file or a snapshot file. A file is
    read once (a FIFO or ``<(cmd)`` gives its bytes once: read again, it was empty, exit 6 "not
    valid JSON"). Raises ``ProtocolViolation`` (6) for a card file that is not a JSON object, and
    ``UsageError`` (2) for an object that is neither a snapshot nor shaped like a card
    (``expect.looks_like_card``): read as a card, every member of the other side was "added".
    The secrets of the URLs in a file read are registered (``load_card`` registers a fetched card's),
    so no output prints them: a snapshot written before they were masked holds them in clear."""
    from a2actl.agent.discovery import decode_card, register_card_secrets
    from a2actl.agent.target import parse_target
    from a2actl.caps.expect import looks_like_card
    from a2actl.caps.snapshot import (
        check_snapshot_shape,
        check_snapshot_version,
        duplicate_skill_notes,
        is_snapshot,
        snapshot,
    )

    if _is_local_json(target):
        doc = await _read_json_file_off_loop(target, settings.max_card_bytes)
        register_card_secrets(doc)
        check_snapshot_version(doc, target)
        if is_snapshot(doc):
            check_snapshot_shape(doc, target)
            return doc, Source(target, "snapshot", duplicate_skill_notes(doc))
        path = str(Path(parse_target(target).value))
        raw, _ = decode_card(json.dumps(doc).encode(), path)  # its checks, on what was read
        if not looks_like_card(raw):  # e.g. 'card get -o json' output: every member would be "added"
            raise UsageError(
                f"{target}: neither an a2actl snapshot nor an agent card (an object with 'name' and "
                "'supportedInterfaces', 'url' or 'skills')",
                hint="write one with 'a2actl caps snapshot TARGET > before.json'; formats: docs/caps.md",
            )
        snap = snapshot(raw)
        return snap, Source(path, "file", duplicate_skill_notes(snap))
    fetched = await load_card(target, settings, sink, card_path)
    snap = snapshot(fetched.raw)
    src = source_of(fetched)
    return snap, dataclasses.replace(src, notes=[*src.notes, *duplicate_skill_notes(snap)])


def _expectation_notes(expectation: Any, kind: str) -> list[str]:
    """The notes of a ``--expect`` file of ``kind`` (``snapshot``/``card``: its duplicate skill ids)."""
    from a2actl.caps.snapshot import duplicate_skill_notes, snapshot

    if kind == "snapshot":
        return duplicate_skill_notes(expectation)
    if kind == "card":
        return duplicate_skill_notes(snapshot(expectation))
    return []


async def diff_job(
    target: str,
    other: str | None,
    expect: str | None,
    settings: Settings,
    sink: EventSink | None,
    *,
    card_path: str | None,
    fail_on: str,
) -> DiffResult:
    """``caps diff``: ``TARGET --expect FILE`` or ``A B`` (A before, B after). The result exits 7
    when a change reaches ``fail_on``. Raises ``UsageError`` (exit 2) unless exactly one of
    ``other`` and ``expect`` is given, and for an unreadable or malformed expectation."""
    from a2actl.agent.discovery import register_card_secrets
    from a2actl.caps.diff import diff_snapshots
    from a2actl.caps.expect import compare

    kind: str | None
    changes: list[Change]
    if other is not None and expect is None:
        before, before_src = await _side(target, settings, sink, card_path)
        after, after_src = await _side(other, settings, sink, card_path)
        kind, changes = None, diff_snapshots(before, after)
    elif expect is not None and other is None:
        expectation = await _read_json_file_off_loop(expect, settings.max_card_bytes)
        register_card_secrets(expectation)  # a snapshot or card file may hold URL credentials in clear
        after, after_src = await _side(target, settings, sink, card_path)
        kind, changes = compare(expectation, after, expect)
        before_src = Source(expect, kind, _expectation_notes(expectation, kind))
    else:
        raise UsageError(
            "give either TARGET --expect FILE, or two targets TARGET_A TARGET_B",
            hint="a2actl caps diff URL --expect expected.json | a2actl caps diff BLUE_URL GREEN_URL",
        )
    return DiffResult(
        mode="expect" if expect is not None else "targets",
        before=before_src,
        after=after_src,
        expectation=kind,
        fail_on=fail_on,
        changes=changes,
    )


async def fingerprint_job(
    target: str, settings: Settings, sink: EventSink | None, card_path: str | None
) -> FingerprintResult:
    """``caps fingerprint``: what the card's endpoints really speak (``a2actl.caps.fingerprint``).
    The result exits 7 when the card claims a version an endpoint rejects."""
    from a2actl.caps.fingerprint import fingerprint
    from a2actl.transport.http import HttpTransport

    fetched = await load_card(target, settings, sink, card_path)
    async with HttpTransport(settings, sink) as transport:
        fp = await fingerprint(fetched, transport)
    return FingerprintResult(fp, fetched.notes)


# ---------------------------------------------------------------------------------------------------
# Signed cards: caps verify, caps sign, and the signature check of caps validate (spec v1.0 §8.4)


#: JWK members that hold private key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2).
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _mask_private_jwk(body: bytes) -> bytes:
    """``body`` with the private members of any JWK in it masked (``-vv`` shows JWK Set bodies; a
    published set that wrongly holds private keys must not be copied into a CI log). A body that is
    not JSON is returned as is."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return body

    def mask(value: Any) -> Any:
        if isinstance(value, dict):
            jwk = isinstance(value.get("kty"), str)
            return {k: "***" if jwk and k in _PRIVATE_JWK_MEMBERS else mask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mask(v) for v in value]
        return value

    masked = mask(doc)
    return body if masked == doc else json.dumps(masked).encode("utf-8")


async def _fetch_jwks_url(url: str, settings: Settings, sink: EventSink | None, what: str) -> list[KeyRef]:
    """The keys of the JWK Set at ``url``, fetched through the transport layer without the agent's
    credentials (``--token`` and ``-H`` headers are for the agent, not for a key server), and
    without following redirects even under ``-L``: ``jku_decision`` (or the https check of
    ``--jwks``) judged that URL, and a redirect could lead to any host or to plain http (spec v1.0
    §8.4.3).
    Raises the transport's errors (3/5), ``AuthError`` (4) for 401/403 (with a hint that no
    credentials were sent), ``HTTPStatusError`` (1) for another HTTP error status or a redirect not
    followed and ``ProtocolViolation`` (6) when the body is not a JWK Set."""
    from a2actl.caps.signature import parse_jwks
    from a2actl.core.errors import AuthError, HTTPStatusError, ProtocolViolation
    from a2actl.transport.http import HttpTransport

    bare = dataclasses.replace(settings, token=None, headers=(), follow_redirects=False)
    if sink is not None and sink.wants_bodies:
        from a2actl.core.sink import BodyFilterSink

        sink = BodyFilterSink(sink, lambda _direction, body: _mask_private_jwk(body))
    async with HttpTransport(bare, sink) as transport:
        try:
            res = await transport.request(
                "GET",
                url,
                headers={"Accept": "application/jwk-set+json, application/json"},
                max_bytes=settings.max_card_bytes,
            )
        except AuthError as exc:  # the transport's hint is about the agent's token: not sent here
            raise AuthError(
                f"{what} {exc.message}",
                hint="the agent's token and -H headers are never sent to a key server: fetch the JWK Set "
                "yourself and pass --jwks FILE",
                details=exc.details,
            ) from None
        except HTTPStatusError as exc:  # a redirect: never followed here, -L does not help
            raise HTTPStatusError(
                exc.message,
                hint="keys are never fetched through a redirect, even with -L: use the URL it names if you trust it",
                details=exc.details,
            ) from None
    if res.status >= 400:
        raise HTTPStatusError(
            f"{what} {url} answered HTTP {res.status} {res.reason}", details={"httpStatus": res.status}
        )
    try:
        return parse_jwks(res.body, f"{what} {url}")
    except ValueError as exc:
        raise ProtocolViolation(str(exc)) from None


def _is_loopback(url: str) -> bool:
    """Whether ``url``'s host is a loopback name or address (``localhost``, ``*.localhost``, RFC 6761
    §6.3; 127.0.0.0/8, ``::1``)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def load_keyring(
    settings: Settings, sink: EventSink | None, *, jwks: str | None, key: str | None
) -> KeyRing:
    """The operator's keys: ``--jwks FILE|URL`` and ``--key PEM``. Raises ``UsageError`` (exit 2)
    naming the file for a missing or unreadable file, a bad PEM or a file that is not a JWK Set, and
    for an ``http://`` JWKS URL whose host is not loopback (spec v1.0 §8.4.3: secure channels);
    for a JWKS URL what ``_fetch_jwks_url`` raises."""
    from a2actl.caps.signature import parse_jwks
    from a2actl.core.offloop import read_path

    refs: list[KeyRef] = []
    if jwks is not None:
        if jwks.lower().startswith(("http://", "https://")):
            if jwks.lower().startswith("http://") and not _is_loopback(jwks):
                # the keys you trust, over a channel anyone on the path can rewrite (spec v1.0
                # §8.4.3: keys SHOULD come over secure channels)
                raise UsageError(
                    "--jwks: an http:// URL can be rewritten on the way; use https:// (http is accepted "
                    "for loopback hosts only)",
                    hint="or fetch the JWK Set over a channel you trust and pass --jwks FILE",
                )
            refs = await _fetch_jwks_url(jwks, settings, sink, "--jwks")
        else:
            path, limit = jwks, settings.max_card_bytes

            def read() -> bytes:
                try:
                    with Path(path).open("rb") as fh:  # bounded, as a --jwks URL's body: /dev/zero never ends
                        return fh.read(limit + 1)
                except OSError as exc:
                    raise UsageError(f"--jwks {path}: cannot read the file: {exc.strerror or exc}") from exc

            # a FIFO or <(cmd) that never delivers: read off the loop, so --max-time and one
            # Ctrl-C/SIGTERM end the wait (the loop blocked in open() ignored both)
            data = await read_path(jwks, read, "a2actl-jwks")
            if len(data) > settings.max_card_bytes:
                raise UsageError(f"--jwks {jwks}: over {settings.max_card_bytes:,} bytes: not a JWK Set")
            try:
                refs = parse_jwks(data, f"--jwks {jwks}")
            except ValueError as exc:
                raise UsageError(str(exc)) from None
    return KeyRing(refs, await read_pem_key(key) if key is not None else None)


async def read_pem_key(path: str, option: str = "--key") -> KeyRef:
    """``caps.signature.load_pem_key`` for the event loop: a FIFO or ``<(cmd)`` (a key from a vault)
    is read in a daemon thread (``core.offloop.read_path``), so ``--max-time`` (exit 5) and one
    Ctrl-C/SIGTERM (exit 130) end a wait for a writer that never comes; a regular file is read at
    once. Raises what ``load_pem_key`` raises (``UsageError``, exit 2)."""
    from a2actl.caps.signature import load_pem_key
    from a2actl.core.offloop import read_path

    return await read_path(path, lambda: load_pem_key(path, option), "a2actl-key")


async def check_signatures(
    fetched: CardFetch,
    settings: Settings,
    sink: EventSink | None,
    ring: KeyRing,
    *,
    allow_jku: bool,
) -> SignatureReport:
    """Every signature on the card checked: the keys by ``kid`` from ``ring`` (``--jwks``, then
    ``--key``; ``KeyRing.candidates``), else from the protected header's ``jku`` when ``jku_decision``
    allows it (each URL fetched once; a failed fetch leaves that signature ``unknown-key`` with the
    reason). With several keys under one kid, the signature is valid when one of them verifies it,
    else the verdict of the best-fitting key is reported. Raises
    ``CanonicalizationError`` (exit 6) for a signed card with no canonical form."""
    from a2actl.caps.signature import (
        INVALID,
        MISMATCH,
        UNKNOWN_KEY,
        V03_ONLY_NOTE,
        VALID,
        canonical,
        check_signature,
        jku_decision,
        parse_signatures,
        sha256_hex,
        unsigned_endpoints,
    )
    from a2actl.core.errors import A2ACtlError

    sigs = parse_signatures(fetched.raw)
    card_url = fetched.source if fetched.http is not None else None
    if not sigs:
        return SignatureReport(source_of(fetched), [], None, None, [])
    payload, uncovered = canonical(fetched.raw)
    v03_only = isinstance(fetched.raw, dict) and "supportedInterfaces" not in fetched.raw
    fetched_sets: dict[str, list[KeyRef] | str] = {}
    checks = []
    for sig in sigs:
        refs = ring.candidates(sig.kid, sig.alg)
        use: str | None = None
        if sig.jku is not None:
            use = "not needed" if refs else jku_decision(sig.jku, card_url, allow_jku)
        if not refs and sig.jku is not None and use is not None and not use.startswith("refused"):
            if sig.jku not in fetched_sets:
                try:
                    fetched_sets[sig.jku] = await _fetch_jwks_url(sig.jku, settings, sink, "jku")
                except A2ACtlError as exc:
                    fetched_sets[sig.jku] = exc.message
            got = fetched_sets[sig.jku]
            if isinstance(got, str):
                use = f"failed: {got}"
            elif sig.kid is not None:
                refs = KeyRing(got).candidates(sig.kid, sig.alg)
            else:  # no kid: the set's one usable key, if it has only one
                usable = [r for r in got if r.problem is None]
                refs = usable if len(usable) == 1 else []
        tried = [check_signature(sig, payload, ref, use) for ref in refs] or [
            check_signature(sig, payload, None, use)
        ]
        check = next((c for c in tried if c.status == VALID), tried[0])
        if check.status == UNKNOWN_KEY and use and not use.startswith(("same-host", "allowed", "not needed")):
            check = dataclasses.replace(check, reason=f"{check.reason}; jku {use}")
        if check.status == INVALID and check.reason == MISMATCH and v03_only:
            check = dataclasses.replace(check, reason=f"{MISMATCH} {V03_ONLY_NOTE}")
        checks.append(check)
    source = source_of(fetched)
    source = dataclasses.replace(source, notes=[*source.notes, *unsigned_endpoints(fetched.raw)])
    return SignatureReport(source, checks, payload, sha256_hex(payload), uncovered)


async def verify_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    *,
    card_path: str | None,
    jwks: str | None,
    key: str | None,
    allow_jku: bool,
    require_signature: bool,
    show_canonical: bool,
) -> VerifyResult:
    """``caps verify``: every signature on TARGET's card (URL or file). The result exits 0 when all
    are valid, 6 for a malformed JWS, 7 for an invalid one, an unknown key, or with
    ``require_signature`` none at all. Raises what ``load_card`` and ``load_keyring`` raise, and
    ``CanonicalizationError`` (6)."""
    ring = await load_keyring(settings, sink, jwks=jwks, key=key)
    fetched = await load_card(target, settings, sink, card_path)
    report = await check_signatures(fetched, settings, sink, ring, allow_jku=allow_jku)
    return VerifyResult(report, require_signature, show_canonical)


async def sign_job(
    target: str,
    settings: Settings,
    sink: EventSink | None,
    *,
    card_path: str | None,
    key: str,
    kid: str,
    alg: str | None,
    jku: str | None,
    out: str | None,
    jwks_out: str | None,
) -> SignResult:
    """``caps sign``: TARGET's card (file or URL) with one more signature by the PEM private key
    ``key`` under ``kid``, written to ``out`` (else returned for stdout); the public key as a JWK Set to
    ``jwks_out``. The key itself is never written or printed. Raises ``UsageError`` (exit 2) for key
    and output-file problems (an ``out`` or ``jwks_out`` that is the key file, or both one file:
    ``_refuse_overwrites``), ``CanonicalizationError`` (6) for a card with no canonical form."""
    from a2actl.caps.signature import (
        canonical,
        jku_decision,
        parse_signatures,
        public_jwks,
        sha256_hex,
        sign_card,
    )

    if not kid:
        raise UsageError("--kid must not be empty")
    if jku is not None and (verdict := jku_decision(jku, None, allow_jku=True)) != "allowed":
        # the URL is not echoed: it may carry userinfo
        raise UsageError(
            f"--jku: {verdict.removeprefix('refused: ')}; verifiers would refuse it (https only)"
        )
    from a2actl.caps.snapshot import is_snapshot

    _refuse_overwrites(key, out, jwks_out)
    ref = await read_pem_key(key)
    # not registered: the card printed without --out is the signed card, and a URL masked in it
    # would no longer match its signature
    fetched = await load_card(target, settings, sink, card_path, register_secrets=False)
    if is_snapshot(fetched.raw):
        raise UsageError(
            f"{target} is an a2actl caps snapshot, not an agent card: a signature covers the card itself",
            hint="sign the card file or URL the snapshot was taken from",
        )
    signed = sign_card(fetched.raw, ref, kid, alg, jku)
    payload, uncovered = canonical(signed)
    if out is not None:
        await _write_json(out, signed, "--out")
    if jwks_out is not None:
        await _write_json(jwks_out, public_jwks(ref, kid), "--jwks-out")
    alg_used = parse_signatures(signed)[-1].alg or ""
    return SignResult(
        source=source_of(fetched),
        card=signed,
        out=out,
        jwks_out=jwks_out,
        kid=kid,
        alg=alg_used,
        sha256=sha256_hex(payload),
        signatures=len(signed["signatures"]),
        uncovered=uncovered,
    )


def _same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name one regular file (one that exists: the same device and
    inode, through links or other spellings), or one path neither of which exists yet (the same
    real path). A FIFO or device (``/dev/stdout``) is never "the same file": writing it twice
    destroys nothing."""
    import os
    import stat

    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)
    return stat.S_ISREG(sa.st_mode) and (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _refuse_overwrites(key: str, out: str | None, jwks_out: str | None) -> None:
    """Raise ``UsageError`` (exit 2), before anything is read or written, when ``caps sign`` would
    write over its own private key (``--out`` or ``--jwks-out`` naming the ``--key`` file: the key
    was replaced by the card or the public JWK Set, exit 0) or write the JWK Set over the signed card
    it just wrote (``--out`` and ``--jwks-out`` naming one file: exit 0 and "signed → FILE", but FILE
    held the keys). ``--out`` naming the card being signed (signing in place) is allowed."""
    for option, path in (("--out", out), ("--jwks-out", jwks_out)):
        if path is not None and _same_file(path, key):
            raise UsageError(
                f"{option} {path} is the --key file: writing it would replace the private key",
                hint=f"give {option} another file",
            )
    if out is not None and jwks_out is not None and _same_file(out, jwks_out):
        raise UsageError(
            f"--out and --jwks-out name one file ({out}): the JWK Set would replace the signed card",
            hint="give each its own file",
        )


async def _write_json(path: str, doc: Any, option: str) -> None:
    """Write ``doc`` as indented JSON to ``path`` atomically (a temp file beside it, renamed over it;
    removed again on failure), with the mode a new file gets (not ``mkstemp``'s 0600: a card or a
    public JWK Set is no secret). A path that exists and is neither a regular file nor a directory
    (``/dev/stdout``, ``/dev/null``, a FIFO), or that is a symbolic link, is written in place:
    renaming over it would replace the device, pipe or link with a file (as root, ``/dev/null``
    itself; ``/dev/stdout``, a link to ``/proc/self/fd/1``, when the output is redirected to a file:
    the card went to a new file in ``/dev``, not to the redirect), and a reader would never get the
    data. Such a path is written in a daemon thread (``core.offloop.off_the_loop``): a FIFO nobody
    reads blocked the event loop in ``open``, past ``--max-time`` and SIGTERM. Raises ``UsageError``
    (exit 2) naming the option and the path."""
    import os
    import stat
    import tempfile

    from a2actl.core.offloop import off_the_loop

    target = Path(path)
    try:
        special = not stat.S_ISREG(mode := target.stat().st_mode) and not stat.S_ISDIR(mode)
    except OSError:
        special = False  # missing (a new file) or unreadable: the temp file and rename say why
    special = special or target.is_symlink()  # through the link: a rename would replace the link
    if special:

        def write() -> None:
            try:
                with target.open("w", encoding="utf-8") as fh:
                    json.dump(doc, fh, indent=2, ensure_ascii=False)
                    fh.write("\n")
            except OSError as exc:
                raise UsageError(f"{option} {path}: cannot write: {exc.strerror or exc}") from exc

        # a FIFO nobody reads blocks in open(): off the loop, so --max-time and Ctrl-C/SIGTERM end it
        await off_the_loop(write, "a2actl-out")
        return
    try:
        fd, tmp = tempfile.mkstemp(prefix=".a2actl-", dir=target.parent)
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write: {exc.strerror or exc}") from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"{option} {path}: cannot write: {exc.strerror or exc}") from exc
