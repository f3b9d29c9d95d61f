"""``a2actl card``: fetch and show agent cards."""

from __future__ import annotations

from typing import Annotated

import typer

from a2actl.cli.context import invocation

app = typer.Typer(help="Agent cards: fetch, show.", no_args_is_help=True)


@app.command("get")
def get(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Base URL, full card URL, or a local card file.")],
    card_path: Annotated[
        str | None,
        typer.Option(
            "--card-path", metavar="PATH", help="Card path to use instead of the well-known discovery paths."
        ),
    ] = None,
) -> None:
    """Fetch an AgentCard (any version: 0.2, 0.3, 1.0, hybrid) and show it normalised.

    Discovery tries /.well-known/agent-card.json, then the legacy /.well-known/agent.json (noted).
    -o json prints {"card": <raw card>, "normalized": <one view for every version>, ...}.

    Examples:

      a2actl card get http://localhost:9999

      a2actl card get ./agent-card.json -o json | jq .normalized.interfaces
    """
    from a2actl.caps.card import CardResult, get_card
    from a2actl.render import card as render_card

    run = invocation(ctx)
    result: CardResult = run.run(get_card(target, run.settings, card_path, run.sink))
    run.show(result, render_card.card)
    raise typer.Exit(int(result.exit))
