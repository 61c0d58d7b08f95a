"""The report model: one plain dict that the JSON output serialises and every template receives.

Documented in docs/report-model.md. Everything here is derived from the analysis; redaction is applied
once to the finished model (``build`` returns it redacted), so no renderer ever sees a raw secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from triage.analysis import diff, incident
from triage.analysis.findings import Findings
from triage.analysis.history import History
from triage.analysis.impact import service_impact
from triage.analysis.issues import Issue
from triage.analysis.services import ServiceState
from triage.analysis.statuses import FIXED, MUTED
from triage.config import ProjectConfig
from triage.engine.catalog import Catalog
from triage.engine.literals import rule_literals
from triage.pipeline import Collected, RunStats
from triage.report import secret_checks, sections
from triage.report.links import add_links
from triage.report.redact import Redactor
from triage.traces import LIB_MARKERS, TRACEBACK_HEAD

SCHEMA = "triage.report/v1"
EXCERPT_LINES = 20
EXCERPT_CHARS = 1500
UNCLASSIFIED_SHOWN = 25
EXAMPLE_CHARS = 500
TEMPLATE_CHARS = 300  # a template is one table cell
CAPTURE_CHARS = 200  # a capture is interpolated into one-line texts (problem, fix, recommendations)


def template_gaps(catalog: Catalog) -> list[dict[str, str]]:
    """Placeholders a rule's texts use that none of its patterns can capture: they always read "unknown"."""
    return [
        {"rule": rule.id, "placeholder": name} for rule in catalog.rules for name in sorted(rule.unknown_placeholders)
    ]


def issue_key(issue: Issue) -> str:
    return f"{issue.service}:{issue.rule.id}"


def _values(issue: Issue) -> dict[str, str]:
    values = {"service": issue.service, "count": str(issue.count)}
    values.update(issue.captures)
    return values


def _traceback_lines(lines: list[str]) -> list[str]:
    """The lines of a traceback a reader needs: its head, application frames, chain markers, exceptions."""
    keep: list[int] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith('File "'):
            if not any(m in stripped for m in LIB_MARKERS):
                keep.append(i)  # an application frame and the source line under it
                if i + 1 < len(lines) and not lines[i + 1].strip().startswith(('File "', "^", "~")):
                    keep.append(i + 1)
        elif stripped and not line[:1].isspace():
            keep.append(i)  # "Traceback ...", chain markers, exception lines, prefixes
    out: list[str] = []
    last = -1
    for i in sorted(set(keep)):
        if i > last + 1:
            out.append("  ...")
        out.append(lines[i])
        last = i
    return out


def excerpt(text: str) -> tuple[str, bool]:
    """At most EXCERPT_LINES lines / EXCERPT_CHARS characters; True if something was cut."""
    lines = text.splitlines() or [""]
    cut = False
    if len(lines) > EXCERPT_LINES and TRACEBACK_HEAD in text:
        lines, cut = _traceback_lines(lines), True
    if len(lines) > EXCERPT_LINES:
        # Keep the head (what failed) and the tail (the final exception line).
        head, tail = lines[:4], lines[-(EXCERPT_LINES - 5) :]
        lines = [*head, *(["  ..."] if head[-1] != "  ..." and tail[0] != "  ..." else []), *tail]
        cut = True
    out = "\n".join(line[:300] + (" ..." if len(line) > 300 else "") for line in lines)
    if len(out) > EXCERPT_CHARS:
        out, cut = out[:EXCERPT_CHARS] + " ...", True
    return out, cut or any(len(line) > 300 for line in lines)


def clip(value: str, limit: int = CAPTURE_CHARS) -> str:
    """A capture for one-line texts: at most ``limit`` characters, and it says when it was cut."""
    return value if len(value) <= limit else value[:limit] + " ... (cut)"


def issue_dict(issue: Issue, number: str, redactor: Redactor | None = None) -> dict[str, Any]:
    rule, values = issue.rule, _values(issue)
    evidence = []
    seen: set[str] = set()
    for m in issue.evidence:
        # Redact the whole message before cutting it: a cut can split a secret from the context
        # (``password=``, ``://user:``) that identifies it.
        raw = redactor.text(m.event.message) if redactor else m.event.message
        text, cut = excerpt(raw)
        if text in seen:
            continue  # the same failure again: one excerpt says it, the count says how often
        seen.add(text)
        evidence.append(
            {
                "time": m.event.timestamp,
                "revision": m.event.revision,
                "instance": m.event.instance,
                "log": m.event.log,
                "severity": m.event.severity,
                "text": text,
                "truncated": cut,
            }
        )
    return {
        "id": issue_key(issue),
        "number": number,
        "rule": rule.id,
        "title": rule.title,
        "service": issue.service,
        "severity": rule.severity,
        "category": rule.category,
        "component": rule.component,
        "status": issue.status,
        "fixed_in": issue.fixed_in,
        "fixed_commit": issue.fixed_commit,
        "verified": issue.verified,
        "location": issue.location or None,
        "kind": "job" if issue.job else "service",
        "masked_by": f"{issue.service}:{issue.masked_by}" if issue.masked_by else None,
        "fix_deployed": issue.fix_deployed,
        "recovered_at": issue.recovered_at,
        "count": issue.count,
        "first_seen": issue.first_seen,
        "last_seen": issue.last_seen,
        "revisions": issue.revisions,
        "instances": issue.instances,
        "captures": dict(sorted(issue.captures.items())),
        "problem": rule.render(rule.problem, values),
        "root_cause": rule.render(rule.root_cause, values),
        "fix": rule.render(rule.fix, values),
        "verify": [rule.render(v, values) for v in rule.verify],
        "references": list(rule.references),
        "evidence": evidence,
        **postmortem_fields(issue),
    }


def postmortem_fields(issue: Issue) -> dict[str, Any]:
    """Chain, phase, impact, trigger and annotation fields of an issue (see docs/report-model.md)."""
    note = issue.annotation
    trigger = issue.trigger
    return {
        "symptoms": [
            {"rule": s.rule.id, "title": s.rule.title, "count": s.count, "first_seen": s.first_seen}
            for s in issue.symptoms
        ],
        "phase": issue.phase or None,
        "impact": issue.impact.as_dict() if issue.impact else None,
        "log_status": issue.log_status or issue.status,
        "trigger": (
            {"time": trigger.time, "revision": trigger.revision or None, "commit": trigger.commit_sha or None}
            if trigger
            else None
        ),
        "owner": (note.owner or None) if note else None,
        "link": (note.link or None) if note else None,
        "note": (note.note or None) if note else None,
        "commit": (note.commit or None) if note else None,
        "change": None,
    }


def unclassified(findings: Findings, redactor: Redactor | None = None) -> list[dict[str, Any]]:
    out = []
    for c in findings.clusters[:UNCLASSIFIED_SHOWN]:
        example = c.examples[0] if c.examples else ""
        # Redact before cutting: a cut can split a secret from the context that identifies it.
        example = redactor.text(example) if redactor else example
        out.append(
            {
                "template": clip(c.template, TEMPLATE_CHARS),
                "count": c.count,
                "service": c.service,
                "first_seen": c.first_seen or None,
                "last_seen": c.last_seen or None,
                "example": clip(example, EXAMPLE_CHARS),
            }
        )
    return out


def _traffic_note(svc: ServiceState) -> str | None:
    """'traffic: X 90%, Y 10%' when traffic does not all go to the latest revision, else None."""
    latest = svc.latest.name if svc.latest else None
    if svc.kind == "job" or not svc.serving or list(svc.serving) == [latest]:
        return None
    return "traffic: " + ", ".join(f"{name} {pct}%" for name, pct in svc.serving.items())


def service_dict(svc: ServiceState, history: History) -> dict[str, Any]:
    latest = svc.latest
    return {
        "name": svc.name,
        "display_name": svc.display_name,
        "status": svc.status,
        "kind": svc.kind,
        "location": svc.location or None,
        "latest_revision": latest.name if latest else None,
        "traffic": [{"revision": name, "percent": pct} for name, pct in svc.serving.items()],
        "traffic_note": _traffic_note(svc),
        "revisions": [r.name for r in svc.revisions],
        "revision_details": [
            {
                "name": r.name,
                "deployed_at": r.deployed_at or None,
                "commit_sha": r.commit_sha or None,
                "first_seen": r.first_seen or None,
                "last_seen": r.last_seen or None,
                "ready": r.ready,
                "ready_message": r.ready_message or None,
                "instance_starts": r.starts,
                "probe_passed": r.probe_passed,
                "probe_failed": r.probe_failed,
                "exits": r.exits,
                "requests": r.requests,
                "served": r.served,
                "errors_5xx": r.errors_5xx,
                "errors_429": r.errors_429,
                "last_served": r.last_served or None,
                "location": r.location or None,
            }
            for r in svc.revisions
            if not r.is_execution
        ],
        "executions": [
            {
                "name": r.name,
                "outcome": r.outcome,
                "first_seen": r.first_seen or None,
                "last_seen": r.last_seen or None,
                "tasks_succeeded": r.clean_exits,
                "tasks_failed": r.exits,
                "location": r.location or None,
            }
            for r in svc.revisions
            if r.is_execution
        ],
        "entries": svc.entries,
        "impact": service_impact(svc.revisions).as_dict(),
        "url": history.urls.get(svc.name),  # keyed by name: a name in two regions has no single URL
        "issues": [issue_key(i) for i in svc.issues],
    }


def stats_dict(stats: RunStats, coverage: float) -> dict[str, Any]:
    """The run's counts, each with its parts, so the report can show that they add up.

    entries = malformed + duplicates + records (duplicates: entries another input also held, counted once);
    records = events + joined_lines (continuation lines reassembled into a
    multi-line event); error_events = matched_error_events + unmatched_error_events; matched_events =
    matched_error_events + matched_other_events (events below error level a rule also matches: a WARNING
    container exit, a probe result, a Ready condition)."""
    records = stats.entries - stats.malformed - stats.duplicates
    matched_errors = stats.error_events - stats.unmatched_error_events
    return {
        "entries": stats.entries,
        "malformed": stats.malformed,
        "duplicates": stats.duplicates,
        "records": records,
        "events": stats.events,
        "joined_lines": max(0, records - stats.events),
        "error_events": stats.error_events,
        "matched_events": stats.matched_events,
        "matched_error_events": matched_errors,
        "matched_other_events": stats.matched_events - matched_errors,
        "unmatched_error_events": stats.unmatched_error_events,
        "coverage": coverage,
    }


def build(
    collected: Collected,
    services: Sequence[ServiceState],
    catalog: Catalog,
    *,
    date: str,
    environment: str,
    redactor: Redactor | None = None,
    prose: bool = True,
    findings: Findings,
    project: ProjectConfig | None = None,
    previous: Mapping[str, Any] | None = None,
    gcp_project: str | None = None,
) -> dict[str, Any]:
    stats = collected.stats
    project = project or ProjectConfig()
    history = collected.history
    redactor = redactor or Redactor()
    _learn_capture_contexts(collected, redactor)
    # Captures go into one-line texts: redact, then clip (clipping first could keep half a secret and drop
    # the context that identifies it). Only the report reads captures from here on.
    for svc in services:
        for issue in svc.issues:
            issue.captures = {k: clip(redactor.text(v)) for k, v in issue.captures.items()}
    issues_out: list[dict[str, Any]] = []
    numbered: list[tuple[Issue, dict[str, Any]]] = []
    for s_index, svc in enumerate((s for s in services if s.issues), 1):
        for i_index, issue in enumerate(svc.issues, 1):
            d = issue_dict(issue, f"{s_index}.{i_index}", redactor)
            issues_out.append(d)
            numbered.append((issue, d))
    numbers = {d["id"]: d["number"] for d in issues_out}
    summary, times = incident.summarise([i for i, _ in numbered], history, history.last_ts)
    for issue, d in numbered:
        t = times.get(id(issue))
        d["mitigated_at"], d["fixed_at"] = (t.mitigated_at, t.fixed_at) if t else (None, None)
    for d in issues_out:
        d["masked_by_number"] = f"issue {numbers[d['masked_by']]}" if d["masked_by"] in numbers else None
    model: dict[str, Any] = {
        "schema": SCHEMA,
        "project": project.project or None,
        "date": date,
        "environment": environment,
        "gcp_project": gcp_project or main_project(history) or None,
        "partial": stats.partial,
        "window": {"start": history.first_ts or None, "end": history.last_ts or None},
        "stats": stats_dict(stats, findings.coverage),
        "sources": stats.sources,
        "services": [service_dict(s, history) for s in services],
        "issues": issues_out,
        "recommendations": sections.recommendations(numbered),
        "incident": {**summary.as_dict(), "trigger": incident_trigger(numbered)},
        "timeline": [t.as_dict() for t in findings.timeline],
        "unclassified": unclassified(findings, redactor),
        "unclassified_templates": len(findings.clusters),
        "previous": None,
        "resolved_since_previous": [],
        "notes": {
            "input": stats.notes,
            "rule_timeouts": stats.rule_timeouts,
            "rules_replaced": [r.__dict__ for r in catalog.replaced],
            "rules_disabled": list(catalog.disabled),
            "template_gaps": template_gaps(catalog),
        },
    }
    if previous is not None:
        since = diff.compare(model, previous)
        for d in issues_out:
            d["change"] = since["change"].get(d["id"])
        model["previous"] = since["summary"]
        model["resolved_since_previous"] = since["resolved"]
    if prose:
        model["summary"] = sections.summary(services, issues_out)
        model["configuration"] = secret_checks.configuration(services, issues_out, history, project)
        model["architecture"] = sections.architecture(services, issues_out, history, project.dependencies)
        model["testing"] = sections.testing(services, issues_out)
        model["next_steps"] = sections.next_steps(services, issues_out)
    redacted = redactor.model(model)
    # A redaction pattern that timed out (switched off, a string masked whole) is a data-quality note. Added
    # after redaction: the notes are written by the redactor and never quote a pattern or a string.
    redacted["notes"]["input"] = [*redacted["notes"]["input"], *redactor.notes]
    # Links are built from the redacted model (plus catalog literals), so they carry nothing redaction removed.
    return add_links(redacted, {r.id: rule_literals(r) for r in catalog.rules})


def incident_trigger(numbered: Sequence[tuple[Issue, dict[str, Any]]]) -> dict[str, Any] | None:
    """The deploy that brought the first issue of the incident (the earliest not MUTED), when there was one."""
    shown = sorted((d for _, d in numbered if d["status"] != MUTED), key=lambda d: (d["first_seen"], d["number"]))
    first = shown[0] if shown else None
    if first is None or first["trigger"] is None:
        return None
    return {**first["trigger"], "service": first["service"], "issue": first["number"]}


def main_project(history: History) -> str:
    """The project most entries came from (ties: the first name), "" when the input names none."""
    ranked = sorted(history.projects.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[0][0] if ranked else ""


def _learn_capture_contexts(collected: Collected, redactor: Redactor) -> None:
    """Show the redactor the message each distinct capture value came from.

    A capture is a fragment of a log line; out of context (``{user}`` alone, interpolated into a
    problem text) a password no longer looks like one. Learning the secrets of its source message lets
    the model pass mask the fragment wherever it is rendered.
    """
    done: set[str] = set()
    for m in collected.matches:
        fresh = [v for v in m.captures.values() if v and v not in done]
        if fresh:
            done.update(fresh)
            redactor.learn(m.event.message)


__all__ = ["FIXED", "SCHEMA", "build", "excerpt", "issue_key"]
