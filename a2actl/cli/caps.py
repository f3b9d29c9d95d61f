"""``a2actl caps``: capability schemas: validate, snapshot, diff, fingerprint; signed cards: verify,
sign (``a2actl.caps``; formats, change classes and signatures in ``docs/caps.md``)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from a2actl.cli.context import invocation
from a2actl.cli.params import CardPath

app = typer.Typer(
    help="Capability schemas: validate, snapshot, diff, fingerprint; signed cards: verify, sign.",
    no_args_is_help=True,
)


class FailOn(str, Enum):
    """``--fail-on``: the least severe change class that fails ``caps diff`` (``none``: never)."""

    breaking = "breaking"
    risky = "risky"
    any = "any"
    none = "none"


@app.command("validate")
def validate(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Base URL, card URL or card file.")],
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Reject hybrid cards and unknown fields (closed 1.0 schema); origin mismatches fail.",
        ),
    ] = False,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Also call the endpoint (side-effect-free) to find capabilities and versions it contradicts.",
        ),
    ] = False,
    jwks: Annotated[
        str | None,
        typer.Option(
            "--jwks", metavar="FILE|URL", help="Keys to check the card's signatures with (see caps verify)."
        ),
    ] = None,
    card_path: CardPath = None,
) -> None:
    """Validate an AgentCard against the A2A JSON Schemas (0.3 and/or 1.0, chosen from the card
    or --a2a-version) and run operational checks: unroutable or invalid interface URLs, origin
    mismatches, plain http next to security schemes, a missing protocolVersion, and with --live
    capabilities the endpoint contradicts. Every finding has a JSON pointer and a spec section.
    The signature state is reported too (absent, valid, invalid, unverified-no-key; keys from
    --jwks or a same-host https jku): an invalid signature fails, an unsigned card does not.

    Exit codes: 0 valid; 6 schema violations; 7 failed operational checks.

    Examples:

      a2actl caps validate http://localhost:9999

      a2actl caps validate ./agent-card.json --a2a-version 1.0 --strict

      a2actl caps validate https://agent.example.com --live -o json | jq '.findings[]'
    """
    from a2actl.caps.jobs import validate_job
    from a2actl.caps.results import ValidateResult
    from a2actl.render import caps as render_caps

    run = invocation(ctx)
    result: ValidateResult = run.run(
        validate_job(target, run.settings, run.sink, card_path=card_path, strict=strict, live=live, jwks=jwks)
    )
    run.show(result, render_caps.validate)
    raise typer.Exit(int(result.exit))


@app.command("snapshot")
def snapshot(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Base URL, card URL or card file.")],
    card_path: CardPath = None,
) -> None:
    """Write a normalised, sorted, stable capability snapshot of TARGET (any card version) to
    stdout, for committing next to your code and checking with 'caps diff --expect'. Volatile
    fields (the agent's version string, signatures) are left out. Always JSON.

    Examples:

      a2actl caps snapshot http://localhost:9999 > expected-caps.json

      a2actl caps diff http://localhost:9999 --expect expected-caps.json
    """
    from a2actl.caps.jobs import snapshot_job
    from a2actl.caps.results import SnapshotResult
    from a2actl.render import caps as render_caps

    run = invocation(ctx)
    result: SnapshotResult = run.run(snapshot_job(target, run.settings, run.sink, card_path))
    run.show(result, render_caps.snapshot)
    raise typer.Exit(int(result.exit))


@app.command("diff")
def diff(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            help="The deployment to check (URL, card file or snapshot); with a second target, the 'before' side."
        ),
    ],
    other: Annotated[
        str | None,
        typer.Argument(
            metavar="[TARGET_B]", help="The 'after' side (blue/green): URL, card file or snapshot."
        ),
    ] = None,
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            metavar="FILE",
            help="Expectation: a snapshot, a JSON Schema ($schema) or a requirements document (a2actlRequirements).",
        ),
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="Exit 7 when a change of this class or worse exists.")
    ] = FailOn.breaking,
    card_path: CardPath = None,
) -> None:
    """Compare capabilities field by field on the normalised view, and class every change as
    breaking, risky or cosmetic with the reason: against an expectation file, or between two
    deployments (blue/green). Works across card versions (0.2, 0.3, 1.0, hybrid).

    Exit codes: 0 no change at or above --fail-on; 7 otherwise; 2 bad expectation file.

    Examples:

      a2actl caps diff http://localhost:9999 --expect expected-caps.json

      a2actl caps diff https://blue.example.com https://green.example.com --fail-on risky

      a2actl caps diff http://localhost:9999 --expect requirements.json -o json | jq '.changes[]'
    """
    from a2actl.caps.jobs import diff_job
    from a2actl.caps.results import DiffResult
    from a2actl.render import caps as render_caps

    run = invocation(ctx)
    result: DiffResult = run.run(
        diff_job(target, other, expect, run.settings, run.sink, card_path=card_path, fail_on=fail_on.value)
    )
    run.show(result, render_caps.diff)
    raise typer.Exit(int(result.exit))


@app.command("fingerprint")
def fingerprint(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="Base URL, card URL or card file (whose interfaces are probed).")
    ],
    card_path: CardPath = None,
) -> None:
    """Find out what an endpoint really speaks and set it against the card: which method families
    answer on each interface (0.3 tasks/get, 1.0 GetTask; side-effect-free calls only), whether
    A2A-Version is honoured, whether the served card changes with A2A-Version, and whether
    JSON-RPC, HTTP+JSON and gRPC agree. gRPC interfaces (with the grpc extra) get the same probes
    over the 1.0 and 0.3 services, the a2a-version metadata checks, and server reflection (on/off,
    the services it lists). Every mismatch comes with an explanation and a suggested flag.

    Exit codes: 0; 7 when the card declares a version an endpoint rejects.

    Examples:

      a2actl caps fingerprint http://localhost:9999

      a2actl caps fingerprint https://agent.example.com -o json | jq .verdict
    """
    from a2actl.caps.jobs import fingerprint_job
    from a2actl.caps.results import FingerprintResult
    from a2actl.render import caps as render_caps

    run = invocation(ctx)
    result: FingerprintResult = run.run(fingerprint_job(target, run.settings, run.sink, card_path))
    run.show(result, render_caps.fingerprint)
    raise typer.Exit(int(result.exit))


@app.command("verify")
def verify(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Base URL, card URL or card file.")],
    jwks: Annotated[
        str | None,
        typer.Option(
            "--jwks",
            metavar="FILE|URL",
            help="Trusted public keys: a JWK Set file or https URL (keys by kid).",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            metavar="PEM",
            help="A trusted key (PEM, public or private) for signatures whose kid --jwks lacks.",
        ),
    ] = None,
    allow_jku: Annotated[
        bool,
        typer.Option(
            "--allow-jku",
            help="Fetch keys from a signature's jku on another host than the card's (https only).",
        ),
    ] = False,
    require_signature: Annotated[
        bool, typer.Option("--require-signature", help="Exit 7 when the card carries no signature.")
    ] = False,
    card_path: CardPath = None,
) -> None:
    """Verify every signature on an Agent Card (A2A v1.0 §8.4: JWS over the RFC 8785 canonical
    card, defaults and signatures removed). A hybrid card is verified in its 1.0 form, as a2a-sdk
    does: its v0.3 compatibility fields are not signed, and are listed. Keys by kid from --jwks,
    then --key, then the signature's jku (https only; on the card's own host, or anywhere with
    --allow-jku). Each signature: kid, alg, key source, valid / invalid / unknown-key, and the
    sha256 of the signed bytes; -vv shows the canonical JSON.

    Exit codes: 0 all valid (or unsigned); 7 one invalid, a kid with no key, or no signature with
    --require-signature; 6 a signature that is not a JWS; 2 a bad key or JWKS file.

    Examples:

      a2actl caps verify https://agent.example.com --jwks keys.json --require-signature

      a2actl caps verify ./agent-card.json --key signer-public.pem -o json | jq '.signatures[]'
    """
    from a2actl.caps.jobs import verify_job
    from a2actl.caps.results import VerifyResult
    from a2actl.render import caps as render_caps

    run = invocation(ctx)
    result: VerifyResult = run.run(
        verify_job(
            target,
            run.settings,
            run.sink,
            card_path=card_path,
            jwks=jwks,
            key=key,
            allow_jku=allow_jku,
            require_signature=require_signature,
            show_canonical=run.verbose >= 2,
        )
    )
    run.show(result, render_caps.verify)
    raise typer.Exit(int(result.exit))


@app.command("sign")
def sign(
    ctx: typer.Context,
    card: Annotated[str, typer.Argument(metavar="CARD", help="Card file (or URL) to sign.")],
    key: Annotated[
        str,
        typer.Option(
            "--key", metavar="PEM", help="Private key file (PEM: RSA, EC P-256/384/521 or Ed25519)."
        ),
    ],
    kid: Annotated[str, typer.Option("--kid", metavar="K", help="Key id for the protected header.")],
    out: Annotated[
        str | None,
        typer.Option("--out", metavar="FILE", help="Write the signed card here (default: stdout)."),
    ] = None,
    alg: Annotated[
        str | None,
        typer.Option(
            "--alg", metavar="ALG", help="JWS algorithm (default from the key: RS256, ES256/384/512, EdDSA)."
        ),
    ] = None,
    jku: Annotated[
        str | None,
        typer.Option("--jku", metavar="URL", help="https URL of the JWK Set verifiers fetch the key from."),
    ] = None,
    jwks_out: Annotated[
        str | None,
        typer.Option(
            "--jwks-out", metavar="FILE", help="Also write the public key as a JWK Set (for --jwks / jku)."
        ),
    ] = None,
    card_path: CardPath = None,
) -> None:
    """Sign an Agent Card (A2A v1.0 §8.4.2): one more JWS signature over its canonical 1.0 form,
    protected header {alg, typ: JOSE, kid[, jku]}; earlier signatures are kept (key rotation). For
    test fixtures and for teams that sign in CI. The key is read from the PEM file and never
    printed; only the signed card (and with --jwks-out the public key) is written.

    Exit codes: 0; 2 a missing or bad key file, a public key, an unwritable --out; 6 a card with no
    canonical form.

    Examples:

      a2actl caps sign agent-card.json --key signer.pem --kid 2026-11 --out signed-card.json

      a2actl caps sign agent-card.json --key signer.pem --kid k1 --jwks-out keys.json > signed.json
    """
    from a2actl.caps.jobs import sign_job
    from a2actl.caps.results import SignResult
    from a2actl.render import caps as render_caps

    run = invocation(ctx)
    result: SignResult = run.run(
        sign_job(
            card,
            run.settings,
            run.sink,
            card_path=card_path,
            key=key,
            kid=kid,
            alg=alg,
            jku=jku,
            out=out,
            jwks_out=jwks_out,
        )
    )
    run.show(result, render_caps.sign if result.out is not None else render_caps.signed_card)
    raise typer.Exit(int(result.exit))


from a2actl.cli.caps_lint import lint as _lint  # noqa: E402

app.command("lint")(_lint)
