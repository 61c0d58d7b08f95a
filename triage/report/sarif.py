"""SARIF 2.1.0 for ``triage ci``, in the subset GitHub code scanning accepts.

Constraints it is written against (GitHub's "SARIF support for code scanning" and "SARIF results exceed
limits" pages): at most 20 runs per file, 25,000 results and 25,000 rules per run, 1,000 locations per
result, 20 tags per rule, 10 MB gzipped; every result needs a ``message.text`` and a location with a
``physicalLocation`` (``artifactLocation.uri`` relative to the repository root and a ``region`` with
``startLine``); results with only ``logicalLocations`` are rejected.

A log finding has no source line, so every result points at one repository file chosen by the caller
(``--sarif-file-location``; by default the first of :data:`DEFAULT_FILE_LOCATIONS` that exists), line 1;
the service and revisions stay as ``logicalLocations`` beside it.

- One run per service, ``automationDetails.id`` = ``triage/<environment>/<service>/``: code scanning
  keeps one set of alerts per category, so a service whose issues are all fixed still gets an (empty)
  run and its alerts close. More services than the 20-run limit fall back to one run for all of them.
- Only open issues (``statuses.OPEN``) are results; FIXED and annotated issues are not alerts.
- ``partialFingerprints`` come from the issue id (``service:rule``), never from file content, so an alert
  keeps its identity when service.yaml is edited and across runs.
- Rules carry ``help.markdown`` (root cause, fix, references); results carry the Logs Explorer link in
  the message and as ``hostedViewerUri``.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import regex as re

import triage
from triage.analysis.statuses import OPEN
from triage.errors import InputError

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# Where a Cloud Run service is defined, most specific first: the service manifest, the image, the app entry.
DEFAULT_FILE_LOCATIONS = (
    "service.yaml",
    "Dockerfile",
    "main.py",
    "app.py",
    "index.js",
    "server.js",
    "main.go",
    "package.json",
    "pyproject.toml",
)
MAX_RUNS = 20  # GitHub's hard limit per file
MAX_TAGS = 10  # GitHub keeps 10 tags per rule (rejects more than 20)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_CATEGORY_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _generic(text: str) -> str:
    """Rule text with its placeholders shown as <name> (the values belong to results, not the rule)."""
    return _PLACEHOLDER.sub(lambda m: f"<{m[1]}>", text)


def resolve_file_location(option: str | None, root: Path) -> str:
    """The repository-relative POSIX path every result points at (``root`` is the repository root)."""
    if option:
        path = Path(option)
        if path.is_absolute():
            try:
                path = path.resolve().relative_to(root.resolve())
            except ValueError:
                raise InputError(f"--sarif-file-location {option}: not inside the repository ({root})") from None
        rel = posixpath.normpath(path.as_posix())
        if rel in ("", ".", "..") or rel.startswith("../"):
            raise InputError(f"--sarif-file-location {option}: expected a file inside the repository")
        return rel
    for name in DEFAULT_FILE_LOCATIONS:
        if (root / name).is_file():
            return name
    return DEFAULT_FILE_LOCATIONS[0]  # nothing found: still a valid, conventional place for the alert


def sarif_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    root_cause, fix = _generic(rule["root_cause"]), _generic(rule["fix"])
    markdown = [f"**{rule['title']}** ({rule['severity']}, {rule['category']})", "", "**Root cause.** " + root_cause]
    markdown += ["", "**Fix.** " + fix]
    if rule.get("references"):
        markdown += ["", "**References**", "", *(f"- <{u}>" for u in rule["references"])]
    markdown += ["", "Each alert's message links to the Logs Explorer query that shows its log entries."]
    out: dict[str, Any] = {
        "id": rule["id"],
        "name": "".join(p.capitalize() for p in rule["id"].split("-")),
        "shortDescription": {"text": rule["title"]},
        "fullDescription": {"text": root_cause},
        "help": {"text": f"Root cause: {root_cause}\nFix: {fix}", "markdown": "\n".join(markdown)},
        "defaultConfiguration": {"level": LEVELS.get(rule["severity"], "warning")},
        "properties": {
            "severity": rule["severity"],
            "category": rule["category"],
            "tags": ["cloud-run", rule["category"], *rule.get("tags", ())][:MAX_TAGS],
        },
    }
    if rule.get("references"):
        out["helpUri"] = rule["references"][0]
    return out


def fingerprint(issue_id: str) -> str:
    return hashlib.sha256(issue_id.encode()).hexdigest()[:32]


def _message(issue: Mapping[str, Any]) -> dict[str, str]:
    head = f"{issue['service']}: {issue['status']}: {issue['problem']}"
    seen = f"Seen {issue['count']}x from {issue['first_seen']} to {issue['last_seen']}."
    msg = {"text": f"{head} {seen}"}
    if issue.get("logs_url"):
        msg["text"] += f" Logs Explorer: {issue['logs_url']}"
        msg["markdown"] = f"{head} {seen} [Open in Logs Explorer]({issue['logs_url']})"
    return msg


def _result(issue: Mapping[str, Any], rule_index: int | None, file_location: str) -> dict[str, Any]:
    service = issue["service"]
    result: dict[str, Any] = {
        "ruleId": issue["rule"],
        "kind": "fail",
        "level": LEVELS.get(issue["severity"], "warning"),
        "message": _message(issue),
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": file_location, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [
                    {"name": service, "kind": "module"},
                    *(
                        {"name": r, "fullyQualifiedName": f"{service}/{r}", "kind": "module"}
                        for r in issue["revisions"]
                    ),
                ],
            }
        ],
        # Set here so the upload action does not hash line 1 of the file (which would change with the file).
        "partialFingerprints": {"triageIssueId/v1": issue["id"], "primaryLocationLineHash": fingerprint(issue["id"])},
        "baselineState": "unchanged" if issue.get("known") else "new",
        "occurrenceCount": max(1, int(issue["count"])),
        "properties": {
            "issueId": issue["id"],
            "status": issue["status"],
            "severity": issue["severity"],
            "failing": bool(issue.get("failing")),
            "known": bool(issue.get("known")),
            "firstSeen": issue["first_seen"],
            "lastSeen": issue["last_seen"],
        },
    }
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    if issue.get("logs_url"):
        result["hostedViewerUri"] = issue["logs_url"]
    return result


def automation_id(environment: str, service: str | None) -> str:
    """``triage/<environment>/<service>/``: the code scanning category of one service's alerts."""
    parts = [environment or "default", service or "all-services"]
    return "triage/" + "/".join(_CATEGORY_UNSAFE.sub("_", p).strip("_") or "_" for p in parts) + "/"


def _run(
    view: Mapping[str, Any],
    rules: Sequence[Mapping[str, Any]],
    service: str | None,
    issues: Sequence[Mapping[str, Any]],
    file_location: str,
) -> dict[str, Any]:
    index = {r["id"]: n for n, r in enumerate(rules)}
    return {
        "tool": {
            "driver": {
                "name": "triage",
                "version": triage.__version__,
                "semanticVersion": triage.__version__,
                "informationUri": "https://cloud.google.com/run/docs/logging",
                "rules": [sarif_rule(r) for r in rules],
            }
        },
        "automationDetails": {"id": automation_id(view.get("environment") or "", service)},
        "invocations": [{"executionSuccessful": not view.get("partial")}],
        "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The repository root."}}},
        "results": [_result(i, index.get(i["rule"]), file_location) for i in issues],
        "properties": {
            "service": service,
            "project": view.get("project") or view.get("gcp_project"),
            "window": view.get("window"),
            "failOn": view["ci"]["fail_on"],
            "result": view["ci"]["result"],
        },
    }


def sarif_log(
    view: Mapping[str, Any], rules: Sequence[Mapping[str, Any]], file_location: str = DEFAULT_FILE_LOCATIONS[0]
) -> dict[str, Any]:
    opened = [i for i in view["issues"] if i["status"] in OPEN]
    services = sorted({s["name"] for s in view.get("services", ())} | {i["service"] for i in view["issues"]})
    if len(services) > MAX_RUNS or not services:
        runs = [_run(view, rules, None, opened, file_location)]
    else:
        runs = [_run(view, rules, s, [i for i in opened if i["service"] == s], file_location) for s in services]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs}


def render_sarif(
    view: Mapping[str, Any], rules: Sequence[Mapping[str, Any]], file_location: str = DEFAULT_FILE_LOCATIONS[0]
) -> str:
    return orjson.dumps(sarif_log(view, rules, file_location), option=orjson.OPT_INDENT_2).decode() + "\n"
