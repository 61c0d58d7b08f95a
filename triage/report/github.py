"""GitHub Actions outputs of ``triage ci``: the step summary (markdown) and workflow commands (annotations).

Both render the CI view (``ci_model.build_ci_view``) of the redacted report model.

Step summary: GitHub keeps at most 1 MiB per step in ``$GITHUB_STEP_SUMMARY`` (and drops the whole
summary past it), so the markdown is assembled in blocks, most important first, and stops before the
budget (1 MiB minus what the step already wrote) with a note saying how much was left out.

Annotations: GitHub shows at most 10 error and 10 warning annotations per step and silently drops the
rest, so each type carries the 9 most severe issues plus one annotation with the count of the others.
Escaping follows the runner: ``%``, CR and LF in the message; also ``:`` and ``,`` in properties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from triage.output import strip_controls
from triage.report.ci_model import OPEN
from triage.report.render import cell, code, fence, inline

STEP_SUMMARY_LIMIT = 1024 * 1024
ANNOTATIONS_PER_TYPE = 10
ICONS = {"fail": "❌", "partial": "⚠️", "pass": "✅"}


# ---------------------------------------------------------------- workflow commands


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, title: str | None = None) -> str:
    """One workflow command line; log text in it can neither end the line nor start another command."""
    props = f" title={escape_property(strip_controls(title))}" if title else ""
    return f"::{kind}{props}::{escape_data(strip_controls(message))}"


def _annotation(issue: Mapping[str, Any]) -> tuple[str, str]:
    title = f"{issue['service']}: {issue['title']} [{issue['severity']}]"
    extra = " (known from the baseline)" if issue.get("known") else ""
    message = (
        f"{issue['status']}{extra}: {issue['problem']}\n"
        f"Seen {issue['count']}x from {issue['first_seen']} to {issue['last_seen']}"
        f" in {', '.join(issue['revisions']) or 'unknown revisions'}.\n"
        f"Fix: {issue['fix']}\n"
        f"Logs: {issue.get('logs_url', '')}"
    )
    return title, message


def annotation_kind(issue: Mapping[str, Any]) -> str | None:
    """error: fails the job; warning: open but below the threshold; notice: open and known; None: fixed."""
    if issue["status"] not in OPEN:
        return None
    if issue.get("failing"):
        return "error"
    return "notice" if issue.get("known") else "warning"


def workflow_commands(view: Mapping[str, Any]) -> list[str]:
    """Annotation lines, at most ANNOTATIONS_PER_TYPE per type; issues arrive sorted most severe first."""
    by_kind: dict[str, list[Mapping[str, Any]]] = {"error": [], "warning": [], "notice": []}
    for issue in view["issues"]:
        kind = annotation_kind(issue)
        if kind:
            by_kind[kind].append(issue)
    lines = []
    for kind, issues in by_kind.items():
        shown = issues if len(issues) <= ANNOTATIONS_PER_TYPE else issues[: ANNOTATIONS_PER_TYPE - 1]
        for issue in shown:
            title, message = _annotation(issue)
            lines.append(command(kind, message, title))
        rest = len(issues) - len(shown)
        if rest:
            more = f"{rest} more issue(s) of this kind are not annotated; see the step summary or JUnit/SARIF."
            lines.append(command(kind, more, f"triage: {rest} more"))
    return lines


# ---------------------------------------------------------------- step summary


def _headline(view: Mapping[str, Any]) -> str:
    ci = view["ci"]
    c = ci["counts"]
    verdict = {
        "fail": f"deploy check failed: {c['failing']} open issue(s) at or above `{ci['fail_on']}`",
        "partial": "logs could not be read completely: no issue at the threshold among what was read",
        "pass": "deploy check passed",
    }[ci["result"]]
    return f"## {ICONS[ci['result']]} triage: {verdict}"


def _context(view: Mapping[str, Any]) -> str:
    ci, c, w = view["ci"], view["ci"]["counts"], view["window"]
    parts = [
        f"fail-on `{ci['fail_on']}`",
        f"{c['open']} open (not known)",
        f"{c['known']} known from the baseline",
        f"{c['fixed']} fixed",
    ]
    lines = [" · ".join(parts)]
    scope = f"{view['stats']['entries']} log entries from {w['start'] or 'unknown'} to {w['end'] or 'unknown'} (UTC)"
    if view.get("project"):
        scope += f" in project {code(view['project'])}"
    lines.append(scope + ".")
    if ci.get("since_deploy") is not None:
        since = ", ".join(f"{code(s)} since {t}" for s, t in ci["since_deploy"].items()) or "no deploy events found"
        lines.append(f"Since the latest deploy: {since}; {c['dropped_before_deploy']} earlier issue(s) left out.")
    if view.get("partial"):
        lines.append("> **PARTIAL**: the logs could not be read completely; findings may be incomplete.")
    return "\n\n".join(lines)


def _mark(issue: Mapping[str, Any]) -> str:
    if issue["failing"]:
        return "❌"
    if issue["status"] not in OPEN:
        return "✅"
    return "🔁" if issue["known"] else "⚠️"


def _row(issue: Mapping[str, Any]) -> str:
    link = f"[logs]({issue['logs_url']})" if issue.get("logs_url") else ""
    status = issue["status"] + (" (known)" if issue["known"] else "")
    return (
        f"| {_mark(issue)} | {cell(issue['severity'])} | {cell(status)} | {cell(issue['service'])} "
        f"| {cell(issue['title'])} ({code(issue['rule'])}) | {issue['count']} | {link} |"
    )


def _details(issue: Mapping[str, Any]) -> str:
    out = [
        f"<details><summary>{_mark(issue)} {cell(issue['service'])}: {cell(issue['title'])} "
        f"({cell(issue['status'])})</summary>",
        "",
        f"**Problem**: {inline(issue['problem'])}",
        "",
        f"**Root cause**: {inline(issue['root_cause'])}",
        "",
        f"**Fix**: {inline(issue['fix'])}",
        "",
        f"**Seen**: {issue['count']}x from {issue['first_seen']} to {issue['last_seen']} in "
        + (", ".join(code(r) for r in issue["revisions"]) or "unknown revisions"),
    ]
    if issue.get("logs_url"):
        out += ["", f"**Logs**: [open in Logs Explorer]({issue['logs_url']})"]
    for ev in issue.get("evidence", ())[:1]:
        out += ["", fence(ev["text"])]
    out += ["", "</details>"]
    return "\n".join(out)


class _Budget:
    """Appends text while it fits in a byte budget; counts bytes incrementally (no quadratic re-encoding)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.parts: list[str] = []
        self.size = 0

    def add(self, text: str, reserve: int = 0) -> bool:
        size = len(text.encode("utf-8"))
        if self.size + size > self.budget - reserve:
            return False
        self.parts.append(text)
        self.size += size
        return True

    def text(self) -> str:
        return "".join(self.parts)


TABLE_HEAD = "\n| | Severity | Status | Service | Issue | Count | Logs |\n|---|---|---|---|---|---|---|"
NOTE_RESERVE = 400  # room kept for the truncation note, whatever its numbers


def step_summary(view: Mapping[str, Any], budget: int = STEP_SUMMARY_LIMIT) -> str:
    """Markdown for the step summary, at most ``budget`` bytes (UTF-8), with a note when cut."""
    issues: Sequence[Mapping[str, Any]] = view["issues"]
    out = _Budget(budget)
    if not out.add(_headline(view) + "\n\n" + _context(view) + "\n"):
        return ""  # not even the headline fits: the step already used its summary space
    if not issues:
        out.add("\nNo known failure signatures found.\n")
        return out.text()
    rows = [_row(i) for i in issues]
    details = [_details(i) for i in issues if i["status"] in OPEN]
    shown_rows = shown_details = 0
    if out.add(TABLE_HEAD, NOTE_RESERVE):
        for row in rows:
            if not out.add("\n" + row, NOTE_RESERVE):
                break
            shown_rows += 1
    out.add("\n")
    if shown_rows == len(rows) and details and out.add("\n### Open issues\n", NOTE_RESERVE):
        for block in details:
            if not out.add("\n" + block + "\n", NOTE_RESERVE):
                break
            shown_details += 1
    if shown_rows < len(rows) or shown_details < len(details):
        out.add(
            f"\n> **Truncated**: {shown_rows} of {len(rows)} issues listed, {shown_details} of {len(details)} "
            "open issues with details; GitHub keeps at most 1 MiB of step summary. "
            "The JSON, JUnit and SARIF outputs hold every issue.\n"
        )
    return strip_controls(out.text())  # only shrinks the text: the budget still holds
