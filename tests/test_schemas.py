"""The shipped JSON Schemas: regenerated from the installed a2a-sdk they must equal the committed
files, carry their origin, and validate the SDK's own cards."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def gen_module() -> Any:
    spec = importlib.util.spec_from_file_location("gen_schemas", ROOT / "scripts" / "gen_schemas.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gen_schemas"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_committed_schemas_are_not_stale() -> None:
    gen = gen_module()
    for name, text in gen.build_all().items():
        committed = (ROOT / "a2actl" / "schemas" / name).read_text(encoding="utf-8")
        assert committed == text, f"a2actl/schemas/{name} is stale: run python3 scripts/gen_schemas.py"


def test_check_mode_detects_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = gen_module()
    for name, text in gen.build_all().items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.setattr(gen, "OUT_DIR", tmp_path)
    assert gen.main(["--check"]) == 0
    path = tmp_path / "a2a-v1.0.schema.json"
    doc = json.loads(path.read_text())
    doc["$defs"]["AgentCard"]["required"].remove("skills")
    path.write_text(json.dumps(doc))
    assert gen.main(["--check"]) == 1


@pytest.mark.parametrize("version", ["0.3", "1.0"])
def test_schemas_state_origin_and_license(version: str) -> None:
    from a2actl.schemas import load_schema

    schema = load_schema(version)
    assert "Apache-2.0" in schema["$comment"] and "a2a-sdk" in schema["$comment"]
    assert schema["$ref"] == "#/$defs/AgentCard"
    lic = (ROOT / "a2actl" / "schemas" / "LICENSE-A2A.txt").read_text()
    assert "Apache License" in lic and "Version 2.0" in lic


def test_v10_schema_follows_protojson_rules() -> None:
    from a2actl.schemas import load_schema

    defs = load_schema("1.0")["$defs"]
    card = defs["AgentCard"]
    assert set(card["required"]) == {
        "name",
        "description",
        "supportedInterfaces",
        "version",
        "capabilities",
        "defaultInputModes",
        "defaultOutputModes",
        "skills",
    }
    assert card["properties"]["skills"]["minItems"] == 1  # repeated REQUIRED
    assert "documentationUrl" in card["properties"]  # camelCase json_name
    assert card["properties"]["securitySchemes"]["type"] == "object"  # map field
    assert "TASK_STATE_COMPLETED" in defs["TaskState"]["enum"]  # enums by name
    assert "not" in defs["Part"] and "not" in defs["SecurityScheme"]  # oneof: at most one
    assert "not" not in defs["AgentCapabilities"]  # proto3 optional is not a oneof


def test_closed_schema_rejects_unknown_fields() -> None:
    from jsonschema import Draft202012Validator

    from a2actl.schemas import load_schema

    card = {
        "name": "n",
        "description": "d",
        "version": "1",
        "capabilities": {},
        "defaultInputModes": ["a"],
        "defaultOutputModes": ["a"],
        "skills": [{"id": "s", "name": "s", "description": "s", "tags": ["t"]}],
        "supportedInterfaces": [{"url": "https://x", "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
        "url": "https://x",
    }
    assert list(Draft202012Validator(load_schema("1.0")).iter_errors(card)) == []
    errors = list(Draft202012Validator(load_schema("1.0", closed=True)).iter_errors(card))
    assert [e.validator for e in errors] == ["additionalProperties"]
