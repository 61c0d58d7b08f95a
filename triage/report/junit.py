"""JUnit XML for ``triage ci``: one test suite per service, one test case per catalog rule.

A rule with an open root-cause issue (``statuses.OPEN``) on that service is a failure: one failing case
per open issue, so the failure count is the number of things to fix. The issue's symptoms (matches folded
into it, such as the startup probe failing because a variable is missing) are ``<properties>`` of that
case and the symptom rules' own cases pass with a note naming the root cause: a symptom is not a second
failure. Known from the baseline, the case is skipped (it never fails the job); FIXED or not seen, it
passes (a fixed one says where it was fixed). CI systems that read JUnit (GitHub test reporters, GitLab,
Jenkins, Cloud Build artefacts) then show a checklist of every failure signature per service. Built from
the CI view of the redacted model.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

import regex as re

from triage.analysis.statuses import FIXED, OPEN

# XML 1.0 forbids most control characters; log text can contain them.
_XML_INVALID = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: Any) -> str:
    return _XML_INVALID.sub("\ufffd", str(text if text is not None else ""))


def _body(issue: Mapping[str, Any]) -> str:
    lines = [
        f"{issue['status']}: {issue['problem']}",
        f"Root cause: {issue['root_cause']}",
        f"Fix: {issue['fix']}",
        f"Seen {issue['count']}x from {issue['first_seen']} to {issue['last_seen']} in "
        f"{', '.join(issue['revisions']) or 'unknown revisions'}",
    ]
    if issue.get("logs_url"):
        lines.append(f"Logs: {issue['logs_url']}")
    symptoms = [f"{s['rule']} ({s['count']}x)" for s in issue.get("symptoms") or ()]
    if symptoms:
        lines.append(f"Symptoms (not separate failures): {', '.join(symptoms)}")
    for ev in issue.get("evidence", ())[:1]:
        lines += ["", ev["text"]]
    return _clean("\n".join(lines))


def _properties(case: ET.Element, issue: Mapping[str, Any]) -> None:
    props = ET.SubElement(case, "properties")
    pairs = [("issue", issue["id"]), ("status", issue["status"]), ("severity", issue["severity"])]
    for symptom in issue.get("symptoms") or ():
        pairs.append(("symptom", f"{symptom['rule']}: {symptom.get('title', symptom['rule'])} ({symptom['count']}x)"))
    if issue.get("logs_url"):
        pairs.append(("logs_url", issue["logs_url"]))
    for name, value in pairs:
        ET.SubElement(props, "property", {"name": name, "value": _clean(value)})


def _case(
    suite: ET.Element,
    service: str,
    rule: Mapping[str, Any],
    issue: Mapping[str, Any] | None,
    root: Mapping[str, Any] | None = None,
) -> str:
    case = ET.SubElement(suite, "testcase", {"classname": _clean(service), "name": _clean(rule["id"]), "time": "0"})
    if issue is None:
        if root is not None:  # this rule matched only as a symptom of an open issue: that case fails, not this
            out = ET.SubElement(case, "system-out")
            out.text = _clean(f"symptom of {root['rule']} ({root['status']}): {root['title']}")
        return "pass"
    if issue["status"] not in OPEN:
        out = ET.SubElement(case, "system-out")
        if issue["status"] == FIXED:
            out.text = _clean(f"FIXED in {issue.get('fixed_in') or 'a later revision'}: {issue['title']}")
        else:  # ACKNOWLEDGED, MUTED, WONTFIX: a person decided; not a failure
            out.text = _clean(f"{issue['status']}: {issue['title']}")
        return "pass"
    _properties(case, issue)
    if issue.get("known"):
        message = f"known from the baseline: {issue['title']} ({issue['status']})"
        ET.SubElement(case, "skipped", {"message": _clean(message)})
        return "skipped"
    attrs = {"type": _clean(issue["severity"]), "message": _clean(f"{issue['status']}: {issue['title']}")}
    ET.SubElement(case, "failure", attrs).text = _body(issue)
    return "failure"


def junit_xml(view: Mapping[str, Any], rules: Sequence[Mapping[str, Any]]) -> str:
    """The JUnit document; ``rules`` are the catalog rules (id, title, severity, ...), in output order."""
    by_key = {(i["service"], i["rule"]): i for i in view["issues"]}
    # (service, symptom rule) -> the open root-cause issue it was folded into (its case says so, and passes)
    roots: dict[tuple[str, str], Mapping[str, Any]] = {}
    for issue in view["issues"]:
        if issue["status"] in OPEN:
            for symptom in issue.get("symptoms") or ():
                roots.setdefault((issue["service"], symptom["rule"]), issue)
    services = sorted({s["name"] for s in view.get("services", ())} | {i["service"] for i in view["issues"]})
    rule_ids = {r["id"] for r in rules}
    root = ET.Element("testsuites", {"name": "triage ci"})
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for service in services:
        suite = ET.SubElement(root, "testsuite", {"name": _clean(service)})
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        # Issues from rules outside the catalog list (a team rule removed since) still get a case.
        extra = [{"id": i["rule"]} for i in view["issues"] if i["service"] == service and i["rule"] not in rule_ids]
        for rule in [*rules, *extra]:
            key = (service, rule["id"])
            outcome = _case(suite, service, rule, by_key.get(key), roots.get(key))
            counts["tests"] += 1
            if outcome == "failure":
                counts["failures"] += 1
            elif outcome == "skipped":
                counts["skipped"] += 1
        suite.attrib.update(
            {
                "tests": str(counts["tests"]),
                "failures": str(counts["failures"]),
                "errors": "0",
                "skipped": str(counts["skipped"]),
                "time": "0",
            }
        )
        for k in totals:
            totals[k] += counts[k]
    root.attrib.update(
        {
            "tests": str(totals["tests"]),
            "failures": str(totals["failures"]),
            "errors": "0",
            "skipped": str(totals["skipped"]),
            "time": "0",
        }
    )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
