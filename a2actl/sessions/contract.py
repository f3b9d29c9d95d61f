"""A compiled check of the debug API contract's schemas (``debug-api.openapi.json``), for pages of
many sessions: ``jsonschema`` takes about 250 µs a session (a 200,000-session page: 53 s), a
closure built once from the same schema a few µs.

The compiled check covers the subset of JSON Schema 2020-12 the contract uses, with ``jsonschema``'s
semantics: ``type`` (one or a list), ``required``, ``properties``, ``items`` (one schema), ``enum``
(of strings and null), ``minimum``, ``oneOf`` and ``$ref`` to ``#/components/schemas/NAME``;
``description``, ``format`` (not asserted, as the validator without a format checker), ``title``,
``example(s)`` are annotations. A schema with any other keyword is not compiled (``compile_component``
answers ``None``) and the caller validates with ``jsonschema`` alone. The check only finds where a
document fails; the caller asks ``jsonschema`` what is wrong there (``Failure``), so the messages
are ``jsonschema``'s."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

#: Where a document fails: the path to the failing instance (keys and indexes) and the schema
#: (a dict of the contract, or one of its components) that instance fails.
Failure = tuple[tuple[str | int, ...], dict[str, Any]]
#: A compiled schema: ``None`` when the instance conforms, else its ``Failure``.
Check = Callable[[Any], Failure | None]

_REF = "#/components/schemas/"
_ANNOTATIONS = frozenset({"description", "format", "title", "example", "examples"})
_KEYWORDS = frozenset({"type", "required", "properties", "items", "enum", "minimum", "oneOf", "$ref"})


class _Unsupported(Exception):
    """A schema outside the compiled subset."""


def _is_type(instance: Any, name: str) -> bool:
    """``jsonschema``'s Draft 2020-12 type check (``_types.draft202012_type_checker``)."""
    if name == "object":
        return isinstance(instance, dict)
    if name == "array":
        return isinstance(instance, list)
    if name == "string":
        return isinstance(instance, str)
    if name == "null":
        return instance is None
    if name == "boolean":
        return isinstance(instance, bool)
    if isinstance(instance, bool):
        return False
    if name == "number":
        return isinstance(instance, numbers.Number)
    if name == "integer":
        return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())
    raise _Unsupported(name)


#: The Python types a JSON reader gives, and the JSON Schema types each one is.
_JSON_TYPES: dict[type, frozenset[str]] = {
    type(None): frozenset({"null"}),
    bool: frozenset({"boolean"}),
    int: frozenset({"integer", "number"}),
    float: frozenset({"number"}),  # and "integer" when it is a whole number (_is_type)
    str: frozenset({"string"}),
    dict: frozenset({"object"}),
    list: frozenset({"array"}),
}


def _type_check(schema: dict[str, Any]) -> Check:
    names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    for name in names:
        if not isinstance(name, str):
            raise _Unsupported(name)
        _is_type(None, name)  # raises for an unknown type name
    wanted = frozenset(names)
    # what a JSON reader's types decide at once: a dict lookup, not a call a value
    passes = frozenset(t for t, kinds in _JSON_TYPES.items() if kinds & wanted)
    whole_floats = "integer" in wanted and float not in passes

    def check(x: Any) -> Failure | None:
        t = type(x)
        if t in passes:
            return None
        if t in _JSON_TYPES:
            if whole_floats and t is float and x.is_integer():
                return None
            return (), schema
        if any(_is_type(x, n) for n in names):  # another type (a Decimal, a subclass): jsonschema's rule
            return None
        return (), schema

    return check


def _enum_check(schema: dict[str, Any]) -> Check:
    values = schema["enum"]
    if not isinstance(values, list) or not all(v is None or isinstance(v, str) for v in values):
        raise _Unsupported("enum")
    strings = frozenset(v for v in values if isinstance(v, str))
    null = None in values

    def check(x: Any) -> Failure | None:
        if (x is None and null) or (isinstance(x, str) and x in strings):
            return None
        return (), schema

    return check


def _minimum_check(schema: dict[str, Any]) -> Check:
    bound = schema["minimum"]
    if isinstance(bound, bool) or not isinstance(bound, (int, float)):
        raise _Unsupported("minimum")

    def check(x: Any) -> Failure | None:
        if (type(x) in (int, float) or _is_type(x, "number")) and x < bound:
            return (), schema
        return None

    return check


def _object_check(schema: dict[str, Any], components: dict[str, Any], refs: dict[str, Check]) -> Check:
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise _Unsupported("required")
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise _Unsupported("properties")
    compiled = [(name, _compile(sub, components, refs)) for name, sub in properties.items()]

    def check(x: Any) -> Failure | None:
        if not isinstance(x, dict):
            return None
        for name in required:
            if name not in x:
                return (), schema
        for name, sub in compiled:
            if name in x:
                failure = sub(x[name])
                if failure is not None:
                    return (name, *failure[0]), failure[1]
        return None

    return check


def _items_check(schema: dict[str, Any], components: dict[str, Any], refs: dict[str, Check]) -> Check:
    if not isinstance(schema["items"], dict):
        raise _Unsupported("items")
    sub = _compile(schema["items"], components, refs)

    def check(x: Any) -> Failure | None:
        if not isinstance(x, list):
            return None
        for i, item in enumerate(x):
            failure = sub(item)
            if failure is not None:
                return (i, *failure[0]), failure[1]
        return None

    return check


def _one_of_check(schema: dict[str, Any], components: dict[str, Any], refs: dict[str, Check]) -> Check:
    if not isinstance(schema["oneOf"], list):
        raise _Unsupported("oneOf")
    branches = [_compile(sub, components, refs) for sub in schema["oneOf"]]

    def check(x: Any) -> Failure | None:
        if sum(1 for branch in branches if branch(x) is None) == 1:
            return None
        return (), schema

    return check


def _ref_check(schema: dict[str, Any], components: dict[str, Any], refs: dict[str, Check]) -> Check:
    ref = schema["$ref"]
    if set(schema) - _ANNOTATIONS != {"$ref"} or not isinstance(ref, str) or not ref.startswith(_REF):
        raise _Unsupported("$ref")
    name = ref[len(_REF) :]
    if name not in refs:
        if name not in components or not isinstance(components[name], dict):
            raise _Unsupported(ref)
        late: list[Check] = []
        refs[name] = lambda x: late[0](x)  # a component may refer to itself
        late.append(_compile(components[name], components, refs))
    return refs[name]


def _compile(schema: Any, components: dict[str, Any], refs: dict[str, Check]) -> Check:
    """``schema`` as a ``Check``; raises ``_Unsupported`` outside the subset (module docstring)."""
    if not isinstance(schema, dict) or set(schema) - _ANNOTATIONS - _KEYWORDS:
        raise _Unsupported(str(schema)[:80])
    if "$ref" in schema:
        return _ref_check(schema, components, refs)
    checks: list[Check] = []
    if "type" in schema:
        checks.append(_type_check(schema))
    if "enum" in schema:
        checks.append(_enum_check(schema))
    if "minimum" in schema:
        checks.append(_minimum_check(schema))
    if "required" in schema or "properties" in schema:
        checks.append(_object_check(schema, components, refs))
    if "items" in schema:
        checks.append(_items_check(schema, components, refs))
    if "oneOf" in schema:
        checks.append(_one_of_check(schema, components, refs))
    if len(checks) == 1:
        return checks[0]

    def check(x: Any) -> Failure | None:
        for one in checks:
            failure = one(x)
            if failure is not None:
                return failure
        return None

    return check


def compile_component(components: dict[str, Any], name: str) -> Check | None:
    """The ``Check`` of ``components[name]`` (the contract's ``components.schemas``), or ``None``
    when it (or a schema it refers to) uses a keyword outside the compiled subset."""
    try:
        return _compile({"$ref": _REF + name}, components, {})
    except _Unsupported:
        return None


def instance_at(doc: Any, path: tuple[str | int, ...]) -> Any:
    """The part of ``doc`` at ``path`` (a ``Failure``'s: keys and indexes that exist in ``doc``)."""
    for step in path:
        doc = doc[step]
    return doc
