"""Property tests (Hypothesis): validate, snapshot and diff never raise on arbitrary JSON, and a
document never differs from itself."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from a2actl.caps.diff import diff_snapshots, raw_changes
from a2actl.caps.expect import REQUIREMENTS_KEY, check_requirements
from a2actl.caps.snapshot import snapshot
from a2actl.caps.validate import validate_card
from a2actl.core.errors import UsageError

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
)

# Card-shaped JSON: the real field names with arbitrary values, so the parsers go deep.
CARD_KEYS = [
    "name",
    "description",
    "version",
    "url",
    "protocolVersion",
    "preferredTransport",
    "additionalInterfaces",
    "supportedInterfaces",
    "capabilities",
    "skills",
    "securitySchemes",
    "securityRequirements",
    "security",
    "defaultInputModes",
    "defaultOutputModes",
    "provider",
    "signatures",
]
IFACE = st.fixed_dictionaries(
    {},
    optional={
        "url": st.text(max_size=30)
        | st.sampled_from(
            ["http://0.0.0.0:1/a", "http://[::]/b", "https://[bad/", "http://x:99999/", "ftp://h/"]
        )
        | json_values,
        "protocolBinding": st.sampled_from(["JSONRPC", "HTTP+JSON", "GRPC", "REST"]) | json_values,
        "protocolVersion": st.sampled_from(["1.0", "0.3", "0.2.5", "9"]) | json_values,
        "transport": json_values,
        "tenant": json_values,
    },
)
SKILL = st.fixed_dictionaries(
    {},
    optional={
        k: json_values
        for k in ("id", "name", "description", "tags", "examples", "inputModes", "outputModes", "security")
    }
    | {"securityRequirements": st.lists(st.fixed_dictionaries({"schemes": json_values}), max_size=2)},
)
cards = st.fixed_dictionaries(
    {},
    optional={
        **{k: json_values for k in CARD_KEYS},
        "supportedInterfaces": st.lists(IFACE, max_size=3) | json_values,
        "additionalInterfaces": st.lists(IFACE, max_size=2) | json_values,
        "skills": st.lists(SKILL, max_size=3) | json_values,
        "capabilities": st.fixed_dictionaries(
            {},
            optional={
                "streaming": json_values,
                "pushNotifications": json_values,
                "extensions": st.lists(
                    st.fixed_dictionaries(
                        {}, optional={"uri": json_values, "required": json_values, "params": json_values}
                    ),
                    max_size=2,
                )
                | json_values,
            },
        ),
    },
)
anything = json_values | cards


@settings(max_examples=200, deadline=None)
@given(
    anything,
    st.sampled_from(["auto", "0.3", "1.0"]),
    st.booleans(),
    st.sampled_from([None, "https://agent.example.com/.well-known/agent-card.json", "http://127.0.0.1:1/c"]),
)
def test_validate_never_raises(card: Any, version: str, strict: bool, url: str | None) -> None:
    report = validate_card(card, url, version=version, strict=strict)
    assert report.exit_code() in (0, 6, 7)
    report.to_json()


@settings(max_examples=200, deadline=None)
@given(anything, anything)
def test_snapshot_and_diff_never_raise_and_self_diff_is_empty(a: Any, b: Any) -> None:
    sa, sb = snapshot(a), snapshot(b)
    assert diff_snapshots(sa, sa) == []
    for change in diff_snapshots(sa, sb):
        assert change.klass in ("breaking", "risky", "cosmetic") and change.reason


@settings(max_examples=200, deadline=None)
@given(json_values, json_values)
def test_diff_of_arbitrary_json_never_raises(a: Any, b: Any) -> None:
    assert diff_snapshots(a, a) == []
    assert raw_changes(a, a) == []
    diff_snapshots(a, b)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "skills",
                "capabilities",
                "protocolVersion",
                "bindings",
                "interfaces",
                "extensions",
                "security",
                "maxRequiredExtensions",
                "bogus",
            ]
        ),
        json_values,
        max_size=4,
    ),
    anything,
)
def test_requirements_either_check_or_raise_usage_error(req: dict[str, Any], card: Any) -> None:
    try:
        check_requirements({REQUIREMENTS_KEY: 1, **req}, snapshot(card))
    except UsageError:
        pass
