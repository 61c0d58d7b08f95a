"""SARIF 2.1.0 for ``triage ci``: the catalog as the tool's rules, one result per issue.

Results carry no source-file location (a log finding has none): the location is logical (service and
revisions), and the Logs Explorer deep link is the result's ``hostedViewerUri`` and in its message.
``baselineState`` is ``unchanged`` for issues known from ``--baseline`` and ``new`` otherwise; FIXED
issues are results of kind ``pass``. ``partialFingerprints`` hold the stable issue id so viewers can
track an issue across runs. Built from the CI view of the redacted model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import regex as re

import triage
from triage.report.ci_model import OPEN

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _generic(text: str) -> str:
    """Rule text with its placeholders shown as <name> (the values belong to results, not the rule)."""
    return _PLACEHOLDER.sub(lambda m: f"<{m[1]}>", text)


def sarif_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rule["id"],
        "name": "".join(p.capitalize() for p in rule["id"].split("-")),
        "shortDescription": {"text": rule["title"]},
        "fullDescription": {"text": _generic(rule["root_cause"])},
        "help": {"text": _generic(rule["fix"])},
        "defaultConfiguration": {"level": LEVELS.get(rule["severity"], "warning")},
        "properties": {"severity": rule["severity"], "category": rule["category"], "tags": list(rule.get("tags", ()))},
    }
    if rule.get("references"):
        out["helpUri"] = rule["references"][0]
    return out


def _result(issue: Mapping[str, Any], rule_index: int | None) -> dict[str, Any]:
    is_open = issue["status"] in OPEN
    text = f"{issue['service']}: {issue['status']}: {issue['problem']}"
    if issue.get("logs_url"):
        text += f" Logs: {issue['logs_url']}"
    result: dict[str, Any] = {
        "ruleId": issue["rule"],
        "kind": "fail" if is_open else "pass",
        "level": LEVELS.get(issue["severity"], "warning") if is_open else "none",
        "message": {"text": text},
        "locations": [
            {
                "logicalLocations": [
                    {"name": issue["service"], "kind": "module"},
                    *(
                        {"name": r, "fullyQualifiedName": f"{issue['service']}/{r}", "kind": "module"}
                        for r in issue["revisions"]
                    ),
                ]
            }
        ],
        "partialFingerprints": {"triageIssueId/v1": issue["id"]},
        "baselineState": "unchanged" if issue.get("known") else "new",
        "occurrenceCount": max(1, int(issue["count"])),
        "properties": {
            "status": issue["status"],
            "severity": issue["severity"],
            "failing": bool(issue.get("failing")),
            "known": bool(issue.get("known")),
            "firstSeen": issue["first_seen"],
            "lastSeen": issue["last_seen"],
            "fixedIn": issue.get("fixed_in"),
        },
    }
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    if issue.get("logs_url"):
        result["hostedViewerUri"] = issue["logs_url"]
    return result


def sarif_log(view: Mapping[str, Any], rules: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    index = {r["id"]: n for n, r in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "triage",
                "version": triage.__version__,
                "rules": [sarif_rule(r) for r in rules],
            }
        },
        "invocations": [{"executionSuccessful": not view.get("partial")}],
        "results": [_result(i, index.get(i["rule"])) for i in view["issues"]],
        "properties": {
            "project": view.get("project"),
            "window": view.get("window"),
            "failOn": view["ci"]["fail_on"],
            "result": view["ci"]["result"],
        },
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render_sarif(view: Mapping[str, Any], rules: Sequence[Mapping[str, Any]]) -> str:
    return orjson.dumps(sarif_log(view, rules), option=orjson.OPT_INDENT_2).decode() + "\n"
