"""``a2actl caps``: capability schemas: validate, snapshot, diff, fingerprint (``a2actl.caps``;
formats and change classes in ``docs/caps.md``)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from a2actl.cli.context import invocation
from a2actl.cli.params import CardPath

app = typer.Typer(help="Capability schemas: validate, snapshot, diff, fingerprint.", no_args_is_help=True)


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
    card_path: CardPath = None,
) -> None:
    """Validate an AgentCard against the A2A JSON Schemas (0.3 and/or 1.0, chosen from the card
    or --a2a-version) and run operational checks: unroutable or invalid interface URLs, origin
    mismatches, plain http next to security schemes, a missing protocolVersion, and with --live
    capabilities the endpoint contradicts. Every finding has a JSON pointer and a spec section.

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
        validate_job(target, run.settings, run.sink, card_path=card_path, strict=strict, live=live)
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
    JSON-RPC and HTTP+JSON agree. Every mismatch comes with an explanation and a suggested flag.

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
