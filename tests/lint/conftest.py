"""Fixtures for ``caps lint``: ``card_file`` writes a card to a temp file, ``card_server`` serves a
card (built from the server's own base URL) at ``/.well-known/agent-card.json`` on 127.0.0.1:0, and
``sarif_validator`` checks a log against the official SARIF 2.1.0 schema vendored in
``tests/lint/data`` (see its README)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.servers import LoopbackServer

DATA = Path(__file__).parent / "data"


@pytest.fixture
def card_file(tmp_path: Path) -> Callable[[dict[str, Any]], str]:
    """``card_file(card)`` → the path of a new file holding ``card`` as indented JSON (ASCII: hidden
    characters as ``\\u`` escapes)."""
    n = [0]

    def write(card: dict[str, Any]) -> str:
        n[0] += 1
        p = tmp_path / f"card-{n[0]}.json"
        p.write_text(json.dumps(card, indent=2), encoding="utf-8")
        return str(p)

    return write


def _card_app(build: Callable[[str], dict[str, Any]]) -> Callable[[str], Any]:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def factory(base: str) -> Any:
        card = build(base)

        async def serve(_request: Any) -> JSONResponse:
            return JSONResponse(card)

        return Starlette(routes=[Route("/.well-known/agent-card.json", serve)])

    return factory


@pytest.fixture
def card_server() -> Callable[[Callable[[str], dict[str, Any]]], Any]:
    """``with card_server(build) as url:`` serves ``build(base_url)`` as the card of ``url``."""

    @contextmanager
    def serve(build: Callable[[str], dict[str, Any]]) -> Iterator[str]:
        with LoopbackServer(_card_app(build)) as srv:
            yield srv.url

    return serve


@pytest.fixture(scope="session")
def sarif_validator() -> Any:
    """A jsonschema validator for SARIF 2.1.0 (draft-04, the schema's own dialect)."""
    import jsonschema

    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)
