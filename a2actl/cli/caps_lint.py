"""``a2actl caps lint``: security and hygiene rules for Agent Cards (``a2actl.caps.lint``; every
rule in ``docs/lint-rules.md``). Registered on the ``caps`` group at the end of ``a2actl/cli/caps.py``."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from a2actl.cli.context import invocation
from a2actl.cli.params import CardPath


class LintFailOn(str, Enum):
    """``caps lint --fail-on``: the least severe finding that makes the exit 7 (``none``: never)."""

    error = "error"
    warning = "warning"
    info = "info"
    none = "none"


def _patterns(values: list[str] | None) -> list[str] | None:
    """Repeatable, comma-separated rule ids or prefixes → a flat list (``None`` when not given)."""
    if not values:
        return None
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


def lint(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Base URL, card URL or card file.")],
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Also call each interface once without credentials (GetTask on a random id) to check "
            "that a declared bearer/API-key scheme is enforced (A2A-SEC-003).",
        ),
    ] = False,
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            metavar="IDS",
            help="Run only these rules: ids, prefixes or names, comma-separated or repeated (A2A-SEC-00).",
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", metavar="IDS", help="Skip these rules: ids, prefixes or names."),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="YAML file: lint: {select, ignore, fail-on, allow: [{rule, pointer, reason}]} (docs/lint-rules.md).",
        ),
    ] = None,
    fail_on: Annotated[
        LintFailOn | None,
        typer.Option(
            "--fail-on",
            help="Exit 7 on a finding of this severity or worse (default: error, or the config file's).",
        ),
    ] = None,
    card_path: CardPath = None,
) -> None:
    """Lint an Agent Card (0.2, 0.3, 1.0 or hybrid) for security and hygiene: plain http
    endpoints, missing or unenforced authentication, deprecated OAuth flows, credentials and private
    addresses in URLs, javascript:/data:/file: links, the prompt-injection surface of its text (instruction-like phrases, hidden
    Unicode tag characters, bidi controls, zero-width runs), oversized fields, missing provider or
    documentation. Every finding has a stable rule id (A2A-SEC-001 ...), a severity, a JSON pointer,
    why it matters and how to fix it (docs/lint-rules.md). -o sarif writes SARIF 2.1.0 for GitHub
    code scanning.

    Exit codes: 0 no finding at or above --fail-on; 7 otherwise; 2 bad option or config file.

    Examples:

      a2actl caps lint http://localhost:9999

      a2actl caps lint ./agent-card.json --fail-on warning --ignore A2A-SEC-015

      a2actl caps lint https://agent.example.com --live -o sarif > a2a.sarif

      a2actl caps lint https://agent.example.com --config a2a-lint.yaml -o json | jq '.findings[]'
    """
    from a2actl.caps.lint import LintResult, lint_job
    from a2actl.render import lint as render_lint

    run = invocation(ctx)
    result: LintResult = run.run(
        lint_job(
            target,
            run.settings,
            run.sink,
            card_path=card_path,
            live=live,
            select=_patterns(select),
            ignore=_patterns(ignore),
            config=config,
            fail_on=fail_on.value if fail_on is not None else None,
        )
    )
    if run.format == "sarif":
        from a2actl.caps.sarif import to_sarif

        render_lint.sarif(run.out, to_sarif(result))
    else:
        run.show(result, render_lint.lint)
    raise typer.Exit(int(result.exit))
