"""a2actl.core.headers: the one rule for request headers and bearer tokens (``-H``, the token
options, inventories, exporter modules)."""

from __future__ import annotations

import pytest

from a2actl.core.errors import UsageError
from a2actl.core.headers import bare_token, checked_token, header_problem


@pytest.mark.parametrize(
    "name", ["Content-Length", "transfer-encoding", "HOST", "Connection", "Keep-Alive", "TE", "Upgrade"]
)
def test_headers_the_client_owns_are_a_problem(name: str) -> None:
    problem = header_problem(name, "5")
    assert problem is not None and f"sets {name} itself" in problem[0]


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "caf\u00e9", "a\x00b", "a\x7fb"])
def test_unsendable_values_are_a_problem_that_never_shows_the_value(value: str) -> None:
    problem = header_problem("X-Tenant", value)
    assert problem is not None and "printable ASCII" in problem[0]
    assert value not in problem[0] + problem[1]


def test_a_sendable_header_and_a_bad_name() -> None:
    assert header_problem("X-Tenant", "acme\twest") is None
    problem = header_problem("bad name", "x")
    assert problem is not None and "not a header name" in problem[0]


def test_bare_token_drops_one_bearer_word() -> None:
    assert bare_token("Bearer abc.def") == ("abc.def", True)
    assert bare_token("bearer\tabc") == ("abc", True)
    assert bare_token("Bearerabc") == ("Bearerabc", False)
    assert bare_token("Bearer ") == ("Bearer ", False)


def test_checked_token_notes_the_scheme_and_refuses_unsendable_tokens() -> None:
    assert checked_token("plain-token", "--token-env T") == ("plain-token", None)
    token, note = checked_token("Bearer s3cret-token", "--token-env T")
    assert token == "s3cret-token" and note is not None and "--token-env T" in note
    assert "s3cret" not in note
    for bad in ("s3cret\ntoken", "s3cr\u00e9t-token"):
        with pytest.raises(UsageError) as err:
            checked_token(bad, "tokenEnv T")
        assert err.value.message.startswith("tokenEnv T: ") and "s3cr" not in err.value.message
        assert int(err.value.exit_code) == 2
