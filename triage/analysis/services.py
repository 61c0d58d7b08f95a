"""Service (and job) status from the revisions that serve and the open issues.

A service is (name, region); its status comes from the revisions traffic goes to (``traffic.serving``),
not from the newest revision: all serving revisions healthy and free of open issues (an issue that
recovered without a deploy does not count) is Running; all failed is Failed; some healthy and some
failing or with open issues is Degraded (a canary that fails); serving revisions that only just started
are Deploying. A job's status is its latest execution's: Succeeded, Failed or Running.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from triage.analysis.history import History, RevisionState
from triage.analysis.issues import Issue
from triage.analysis.statuses import OPEN
from triage.analysis.traffic import serving

RUNNING, DEPLOYING, FAILED, DEGRADED, UNKNOWN = "Running", "Deploying", "Failed", "Degraded", "Unknown"
SUCCEEDED = "Succeeded"  # a job whose latest execution completed (a running execution is RUNNING)
SERVICE, JOB = "service", "job"


@dataclass
class ServiceState:
    name: str  # the service id: the name, with the region when the name runs in several
    display_name: str
    status: str
    latest: RevisionState | None
    revisions: list[RevisionState]
    issues: list[Issue]
    entries: int
    location: str = ""
    kind: str = SERVICE
    serving: dict[str, int] = field(default_factory=dict)  # revision -> percent of traffic

    @property
    def open_issues(self) -> list[Issue]:
        return [i for i in self.issues if i.log_status_or_status in OPEN]


def _one(r: RevisionState, open_issues: list[Issue]) -> str:
    if r.healthy:
        active = [i for i in open_issues if r.name in i.revisions and not i.recovered_at]
        return DEGRADED if active else RUNNING
    return FAILED if r.failed else DEPLOYING


def service_status(
    revisions: list[RevisionState], open_issues: list[Issue], traffic: dict[str, int] | None = None
) -> str:
    if not revisions:
        return DEGRADED if open_issues else UNKNOWN
    latest = revisions[-1]
    if latest.is_execution:
        return {"succeeded": SUCCEEDED, "failed": FAILED}.get(latest.outcome, RUNNING)
    by_name = {r.name: r for r in revisions}
    states = {_one(by_name[n], open_issues) for n in (traffic or {latest.name: 100}) if n in by_name}
    if not states:
        states = {_one(latest, open_issues)}
    if len(states) == 1:
        return states.pop()
    if states & {RUNNING, DEGRADED}:
        return DEGRADED
    return FAILED if FAILED in states else DEPLOYING


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


def _split_id(service_id: str) -> tuple[str, str]:
    """'checkout (europe-west1)' -> ('checkout', 'europe-west1'); a plain name has no region part."""
    if service_id.endswith(")") and " (" in service_id:
        name, _, loc = service_id[:-1].rpartition(" (")
        return name, loc
    return service_id, ""


def build_services(
    history: History, issues: list[Issue], environment: str = "", names: dict[str, str] | None = None
) -> list[ServiceState]:
    ids = sorted(set(history.services()) | {i.service for i in issues})
    bare = sorted({_split_id(i)[0] for i in ids})
    out = []
    for sid in ids:
        name, location = _split_id(sid)
        revisions = history.service_revisions(sid)
        latest = revisions[-1] if revisions else None
        mine = [i for i in issues if i.service == sid]
        split = serving(history, sid)
        status = service_status(revisions, [i for i in mine if i.log_status_or_status in OPEN], split)
        display = (names or {}).get(sid) or (names or {}).get(name) or display_name(name, bare, environment)
        if location:
            display = f"{display} ({location})"
        if not location and revisions:
            location = revisions[-1].location
        kind = JOB if name in history.jobs else SERVICE
        out.append(ServiceState(sid, display, status, latest, revisions, mine, history.entries_of(sid), location,
                                kind, split))  # fmt: skip
    # Services with issues first (the report leads with them), healthy ones after; names break ties.
    out.sort(key=lambda s: (not s.issues, s.name))
    return out
