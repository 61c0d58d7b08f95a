"""The JSON Schema of rule files, generated from the rule model (``triage.engine.rules``), never kept by hand.

Key sets and value sets come from the model's own tuples (RULE_KEYS, CONDITION_KEYS, SEVERITIES,
CATEGORIES, LOG_KINDS, FACT_KEYS, ...); this module only says which JSON type each key takes, and
refuses to generate when the model has a key it has no type for (or the reverse), so adding a key to
the parser without the schema fails ``triage rules schema`` and the test that compares it with
``schemas/triage-rules.schema.json``. Editors read the schema through the ``yaml-language-server``
comment (see rules/README.md); the parser stays the authority (it also checks regexes, placeholders,
duplicate keys).
"""

from __future__ import annotations

import json
from typing import Any

from triage.engine import rules as model
from triage.engine.facts import FACT_KEYS, OUTCOMES
from triage.records import SEVERITY_LEVELS

SCHEMA_ID = "https://triage.dev/schemas/triage-rules.schema.json"
FILE_NAME = "triage-rules.schema.json"

_STR = {"type": "string"}
_TEXT = {"type": "string", "minLength": 1}
# The parser reads a string where a list is expected as a one-item list.
_STRS = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}


def _one_or_list(item: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [item, {"type": "array", "items": item}]}


def _cases(names: tuple[str, ...] | list[str]) -> str:
    return "|".join(sorted({n.upper() for n in names} | {n.lower() for n in names}))


def _check(kind: str, keys: tuple[str, ...], types: dict[str, Any]) -> dict[str, Any]:
    if set(keys) != set(types):
        missing, extra = sorted(set(keys) - set(types)), sorted(set(types) - set(keys))
        raise RuntimeError(f"rule schema out of date for {kind}: no type for {missing}, unknown {extra}")
    return {k: types[k] for k in keys}


def _condition() -> dict[str, Any]:
    ops = "(>=|<=|>|<|==)?"
    http = {"type": "string", "pattern": r"^\s*([1-5][xX][xX]|\d+\s*-\s*\d+)\s*$"}
    types = {
        "regex": {"type": "string", "description": "regex-module pattern, multiline; named groups are captures"},
        "contains": _STRS,
        "startswith": _STRS,
        "ignore_case": {"type": "boolean"},
        "severity": {"type": "string", "pattern": rf"^\s*{ops}\s*({_cases(list(SEVERITY_LEVELS))})\s*$"},
        "log": _one_or_list({"enum": list(model.LOG_KINDS)}),
        "service": _STRS,
        "http_status": _one_or_list({"anyOf": [{"type": "integer"}, http]}),
        "exception": {"type": "string"},
        "frame": {
            "type": "object",
            "additionalProperties": False,
            "properties": _check(
                "frame",
                model.FRAME_KEYS,
                {"function": _STR, "file": _STR, "app": {"type": "boolean"}, "code": _STR},
            ),
        },
        "facts": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": {k: _one_or_list({"enum": list(OUTCOMES)}) if k == "outcome" else _STRS for k in FACT_KEYS},
        },
        "requires": _STRS,
    }
    return {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": _check("condition", model.CONDITION_KEYS, types),
    }


def _example() -> dict[str, Any]:
    short = {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": _check(
            "example",
            model.EXAMPLE_KEYS,
            {
                "text": _STR,
                "log": {"enum": list(model.LOG_KINDS)},
                "severity": {"type": "string", "pattern": f"^({_cases(list(SEVERITY_LEVELS))})$"},
                "http_status": {"type": "integer"},
                "service": _STR,
            },
        ),
    }
    entry = {"type": "object", "additionalProperties": False, "properties": {k: {} for k in model.LOG_ENTRY_KEYS}}
    return {
        "anyOf": [
            {"type": "string", "description": "log text (a stderr entry)"},
            {"type": "object", "if": {"required": ["text"]}, "then": short, "else": entry},
        ]
    }


def _rule() -> dict[str, Any]:
    conditions = {"type": "array", "items": {"$ref": "#/definitions/condition"}}
    examples = {"type": "array", "items": {"$ref": "#/definitions/example"}}
    types = {
        "id": {"type": "string", "pattern": model.ID_PATTERN},
        "title": _TEXT,
        "severity": {"enum": list(model.SEVERITIES)},
        "category": {"enum": list(model.CATEGORIES)},
        "component": _STR,
        "match": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"any": conditions, "all": conditions, "none": conditions},
            "anyOf": [
                {"required": ["any"], "properties": {"any": {"minItems": 1}}},
                {"required": ["all"], "properties": {"all": {"minItems": 1}}},
            ],
        },
        "keywords": _STRS,
        "problem": _TEXT,
        "root_cause": _TEXT,
        "fix": _TEXT,
        "recommendations": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"immediate": _STRS, "long_term": _STRS},
        },
        "verify": _STRS,
        "references": _STRS,
        "relations": {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: _STRS for k in model.RELATION_KEYS},
        },
        "examples": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"match": examples, "no_match": examples},
        },
        "tags": _STRS,
    }
    return {
        "type": "object",
        "required": ["id", "title", "severity", "category", "match", "problem", "root_cause", "fix"],
        "additionalProperties": False,
        "properties": _check("rule", model.RULE_KEYS, types),
    }


def rule_schema() -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "triage rule file",
        "description": "A triage rule catalog file: rules/README.md documents every key.",
        "type": "object",
        "required": ["rules"],
        "additionalProperties": False,
        "properties": {"rules": {"type": "array", "items": {"$ref": "#/definitions/rule"}}},
        "definitions": {"rule": _rule(), "condition": _condition(), "example": _example()},
    }


def render_rule_schema() -> str:
    return json.dumps(rule_schema(), indent=2, sort_keys=True) + "\n"
