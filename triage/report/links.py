"""Logs Explorer deep links: one URL per issue that opens the entries behind it.

The link is built from the redacted report model (service, revisions, time window, evidence text) and
the catalog's literals (never from raw log text), so it can carry no secret a log line held:

    https://console.cloud.google.com/logs/query;query=<url-encoded query>;timeRange=<start>%2F<end>?project=<id>

The query selects the resource type, the service, the issue's revisions and one text term: the first
literal of the rule (the prefilter's keywords) that appears in the issue's evidence, so the search hits
the same lines the matcher did. Lines are ANDed by the Logs Explorer. The time range is the issue's
first and last occurrence, widened by a minute on each side so both ends are inside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote as url_quote

from triage.sources.cloud_filter import quote

BASE = "https://console.cloud.google.com/logs/query"
PAD = timedelta(minutes=1)
MAX_REVISIONS = 20  # beyond this the revision clause is dropped rather than making a huge URL


def pick_term(literals: Iterable[str], evidence_texts: Iterable[str]) -> str | None:
    """The first rule literal found verbatim in the evidence (what the matcher saw), else None."""
    texts = list(evidence_texts)
    for lit in literals:
        if lit.strip() and any(lit in t for t in texts):
            return lit.strip()
    return None


def issue_query(issue: Mapping[str, Any], term: str | None, resource_type: str = "cloud_run_revision") -> str:
    job = issue.get("kind") == "job"  # a job's resource, name label and execution label differ
    lines = [f"resource.type={quote('cloud_run_job' if job else resource_type)}"]
    service, location = issue.get("service"), issue.get("location")
    suffix = f" ({location})"
    regional = bool(service and location and service.endswith(suffix))  # the id of a name in several regions
    if regional:
        service = service[: -len(suffix)]
    if service and service != "(unknown)":
        lines.append(f"resource.labels.{'job_name' if job else 'service_name'}={quote(service)}")
    if regional:
        lines.append(f"resource.labels.location={quote(location)}")
    revisions: Sequence[str] = issue.get("revisions") or ()
    field = 'labels."run.googleapis.com/execution_name"' if job else "resource.labels.revision_name"
    if 0 < len(revisions) <= MAX_REVISIONS:
        if len(revisions) == 1:
            lines.append(f"{field}={quote(revisions[0])}")
        else:
            lines.append(f"{field}=(" + " OR ".join(quote(r) for r in revisions) + ")")
    if term:
        lines.append(quote(term))  # a bare string searches every field of the entry
    return "\n".join(lines)


def _parse(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def time_range(start: str | None, end: str | None) -> str | None:
    a, b = _parse(start), _parse(end)
    if a is None or b is None:
        return None
    return f"{_fmt(a - PAD)}%2F{_fmt(b + PAD)}"


def logs_explorer_url(query: str, start: str | None, end: str | None, project: str | None) -> str:
    url = f"{BASE};query={url_quote(query, safe='')}"
    window = time_range(start, end)
    if window:
        url += f";timeRange={window}"
    if project:
        url += f"?project={url_quote(project, safe='')}"
    return url


def issue_link(issue: Mapping[str, Any], literals: Sequence[str], project: str | None) -> str:
    term = pick_term(literals, (e.get("text", "") for e in issue.get("evidence", ())))
    return logs_explorer_url(issue_query(issue, term), issue.get("first_seen"), issue.get("last_seen"), project)


def add_links(model: dict[str, Any], literals_by_rule: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Set ``logs_url`` on every issue of a (redacted) report model; ``model['gcp_project']`` scopes them."""
    project = model.get("gcp_project")
    for issue in model.get("issues", ()):
        issue["logs_url"] = issue_link(issue, literals_by_rule.get(issue.get("rule", ""), ()), project)
    return model
