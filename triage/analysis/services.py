"""Service status from the latest revision and the open issues."""

from __future__ import annotations

from dataclasses import dataclass

from triage.analysis.history import History, RevisionState
from triage.analysis.issues import Issue
from triage.analysis.statuses import OPEN

RUNNING, DEPLOYING, FAILED, DEGRADED, UNKNOWN = "Running", "Deploying", "Failed", "Degraded", "Unknown"


@dataclass
class ServiceState:
    name: str
    display_name: str
    status: str
    latest: RevisionState | None
    revisions: list[RevisionState]
    issues: list[Issue]
    entries: int

    @property
    def open_issues(self) -> list[Issue]:
        return [i for i in self.issues if i.log_status_or_status in OPEN]


def service_status(latest: RevisionState | None, open_issues: list[Issue]) -> str:
    if latest is None:
        return DEGRADED if open_issues else UNKNOWN
    in_latest = [i for i in open_issues if latest.name in i.revisions]
    if latest.healthy:
        return DEGRADED if in_latest else RUNNING
    if latest.failed:
        return FAILED
    return DEPLOYING


def display_name(name: str, all_names: list[str], environment: str = "") -> str:
    """'netra-auth-service' among 'netra-*' services in staging -> 'Auth'."""
    parts = name.split("-")
    prefixes = [n.split("-")[0] for n in all_names]
    if len(all_names) > 1 and len(parts) > 1 and all(p == parts[0] for p in prefixes):
        parts = parts[1:]
    drop = {"service", "svc", environment.lower()} - {""}
    while len(parts) > 1 and parts[-1].lower() in drop | {"staging", "prod", "production", "dev", "stg"}:
        parts = parts[:-1]
    return " ".join(p.capitalize() for p in parts) or name


def build_services(
    history: History, issues: list[Issue], environment: str = "", names: dict[str, str] | None = None
) -> list[ServiceState]:
    all_names = sorted(set(history.services()) | {i.service for i in issues})
    out = []
    for name in all_names:
        revisions = history.service_revisions(name)
        latest = revisions[-1] if revisions else None
        mine = [i for i in issues if i.service == name]
        status = service_status(latest, [i for i in mine if i.log_status_or_status in OPEN])
        display = (names or {}).get(name) or display_name(name, all_names, environment)
        out.append(ServiceState(name, display, status, latest, revisions, mine, history.service_entries[name]))
    # Services with issues first (the report leads with them), healthy ones after; names break ties.
    out.sort(key=lambda s: (not s.issues, s.name))
    return out
