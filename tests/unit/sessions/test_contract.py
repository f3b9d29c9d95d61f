"""The debug API contract check (``a2actl.sessions.client``): ``fastjsonschema``'s compiled
validator agrees with ``jsonschema`` on every document (Hypothesis), and ``check_contract``
validates a large page without running ``jsonschema`` on each session (53 s for a 200,000-session
page), with ``jsonschema``'s message where it fails."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from a2actl.core.errors import ProtocolViolation
from a2actl.sessions import client

GOOD: dict[str, Any] = {
    "id": "ctx-a",
    "state": "idle",
    "peer": "p",
    "contextIds": ["a"],
    "createdAt": "2026-11-22T04:30:01.695Z",
    "lastActivityAt": "2026-11-22T04:30:01.695Z",
    "ageSeconds": 1000.5,
    "idleSeconds": 900,
    "tasks": [{"id": "t", "state": "completed"}],
    "token": {"scope": "s", "expiresAt": None, "revoked": False},
    "messages": 1,
    "bytesIn": None,
    "bytesOut": 3,
    "closedAt": None,
    "closeReason": None,
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.0, 2.0, -0.5, 1.5, 1e300])
    | st.sampled_from(["", "x", "idle", "closed", "working", "killed", "max-age"])
)
values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "state", "scope", "expiresAt", "revoked", "x"]), kids, max_size=4
        )
    ),
    max_leaves=12,
)


@st.composite
def sessions(draw: st.DrawFn) -> Any:
    """A session with some fields replaced by arbitrary values, or dropped."""
    doc = copy.deepcopy(GOOD)
    for key in draw(st.lists(st.sampled_from([*GOOD, "extra"]), max_size=3)):
        if draw(st.booleans()):
            doc[key] = draw(values)
        else:
            doc.pop(key, None)
    return doc


def _jsonschema_ok(doc: Any, name: str) -> bool:
    return not list(client._contract_validator(name).iter_errors(doc))


def _compiled_ok(doc: Any, name: str) -> bool:
    from fastjsonschema import JsonSchemaValueException

    before = copy.deepcopy(doc)
    try:
        client._compiled(name)(doc)
    except JsonSchemaValueException:
        return False
    finally:
        assert doc == before  # no default written into the document
    return True


@settings(max_examples=400, deadline=None)
@given(sessions())
def test_the_compiled_check_agrees_with_jsonschema_on_a_session(doc: Any) -> None:
    assert _compiled_ok(doc, "Session") == _jsonschema_ok(doc, "Session")


@settings(max_examples=200, deadline=None)
@given(st.lists(sessions(), max_size=3), values, values)
def test_the_compiled_check_agrees_with_jsonschema_on_a_page_and_a_kill(
    page: list[Any], cursor: Any, other: Any
) -> None:
    doc = {"sessions": page, "nextCursor": cursor, "total": other}
    assert _compiled_ok(doc, "SessionPage") == _jsonschema_ok(doc, "SessionPage")
    kill = {"id": "ctx-a", "found": other, "canceledTasks": page, "tokenRevoked": cursor}
    assert _compiled_ok(kill, "KillResult") == _jsonschema_ok(kill, "KillResult")


@pytest.mark.parametrize(
    "value, ok",
    [(3, True), (3.0, True), (3.5, False), (True, False), (-1, False), ("3", False), (None, False)],
)
def test_integers_are_jsonschemas(value: Any, ok: bool) -> None:
    """``messages`` is an integer of minimum 0: 3.0 is one to JSON Schema, True is not."""
    doc = {**GOOD, "messages": value}
    assert _compiled_ok(doc, "Session") is ok is _jsonschema_ok(doc, "Session")


def test_a_large_page_is_checked_without_jsonschema_per_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 200,000-session page took 53 s in ``jsonschema`` (about 250 µs a session); the compiled
    validator leaves it nothing to do on a valid page, and on an invalid one only the failing part."""
    from jsonschema import Draft202012Validator

    page = {"sessions": [{**GOOD, "id": f"ctx-{i}"} for i in range(2000)], "nextCursor": None, "total": 2000}
    seen: list[Any] = []
    real = Draft202012Validator.iter_errors

    def counting(self: Any, instance: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(instance)
        return real(self, instance, *args, **kwargs)

    monkeypatch.setattr(Draft202012Validator, "iter_errors", counting)
    client.check_contract(page, "SessionPage", "http://x/sessions")
    assert seen == []
    page["sessions"][1500] = {**GOOD, "tasks": [{"id": "t", "state": "bogus"}]}
    with pytest.raises(ProtocolViolation) as err:
        client.check_contract(page, "SessionPage", "http://x/sessions")
    assert "sessions[1500].tasks[0].state: 'bogus' is not one of" in err.value.message
    assert all(x is not page for x in seen)  # jsonschema only saw the failing part


@pytest.mark.parametrize(
    "broken, where",
    [
        ({**GOOD, "tasks": "none"}, "sessions[0].tasks: 'none' is not of type 'array'"),
        ({k: v for k, v in GOOD.items() if k != "ageSeconds"}, "sessions[0]: 'ageSeconds' is a required"),
        ({**GOOD, "token": {"scope": "x"}}, "sessions[0].token: {'scope': 'x'} is not valid under any"),
        ({**GOOD, "ageSeconds": float("nan")}, "sessions[0].ageSeconds: not a finite number"),
    ],
)
def test_the_message_names_the_field_as_jsonschema_says(broken: Any, where: str) -> None:
    page = {"sessions": [broken], "nextCursor": None, "total": 1}
    with pytest.raises(ProtocolViolation) as err:
        client.check_contract(page, "SessionPage", "http://x/sessions")
    assert where in err.value.message, err.value.message
