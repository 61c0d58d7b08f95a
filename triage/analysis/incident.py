"""The incident as a postmortem states it: when impact started and ended, and how long it took to mitigate
and to fix, from the issues and the revision history. No wording here (triage.report does that).

- Impact starts at the first occurrence of any issue and ends at the last one, once every issue is FIXED
  or recovered without a deploy; while one is still open the impact is ongoing (no end).
- An issue is mitigated when a revision of its service without it served requests after it first struck:
  a later revision from the time it became healthy (Ready, else deployed), or an older one traffic was
  rolled back to, from the time of the rollback; an issue that recovered by itself, at its last occurrence.
  The incident is mitigated when every issue is.
- An issue is fixed when the revision that got past it (``fixed_in``) was deployed; the incident when every
  issue is FIXED.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from triage.analysis.history import History, RevisionState
from triage.analysis.impact import seconds_between
from triage.analysis.issues import Issue
from triage.analysis.statuses import FIXED, MUTED
from triage.analysis.traffic import changes


@dataclass(frozen=True)
class IssueTimes:
    mitigated_at: str | None  # a revision without the issue served after it first struck
    fixed_at: str | None  # the fix revision was deployed


@dataclass(frozen=True)
class Incident:
    impact_start: str | None
    impact_end: str | None  # None: still going on at the end of the window
    duration_s: int | None  # to impact_end; while ongoing, to the end of the window (a lower bound)
    mitigated_at: str | None
    time_to_mitigate_s: int | None
    fixed_at: str | None
    time_to_fix_s: int | None

    def as_dict(self) -> dict[str, object]:
        return {
            "impact_start": self.impact_start,
            "impact_end": self.impact_end,
            "ongoing": self.impact_start is not None and self.impact_end is None,
            "duration_s": self.duration_s,
            "mitigated_at": self.mitigated_at,
            "time_to_mitigate_s": self.time_to_mitigate_s,
            "fixed_at": self.fixed_at,
            "time_to_fix_s": self.time_to_fix_s,
        }


def healthy_since(r: RevisionState) -> str:
    """When a revision became healthy: its Ready time, else when it appeared."""
    return r.ready_time if r.ready is True and r.ready_time else r.started


def _rollback_at(issue: Issue, history: History, clean: set[str]) -> str | None:
    """The first traffic change after the issue struck that sent all traffic to a revision without it."""
    for change in changes(history, issue.service):
        t = change.deploy.time
        if t >= issue.first_seen and change.split and all(name in clean for name, _ in change.split):
            return t
    return None


def issue_times(issue: Issue, history: History) -> IssueTimes:
    revisions = history.service_revisions(issue.service)
    by_name = {r.name: r for r in revisions}
    fixed = by_name.get(issue.fixed_in or "")
    fixed_at = (fixed.started or None) if issue.log_status_or_status == FIXED and fixed is not None else None
    clean = {r.name for r in revisions if issue.rule.id not in r.rules and r.served > 0}
    later = [healthy_since(r) for r in revisions if r.name in clean and healthy_since(r) >= issue.first_seen]
    candidates = [t for t in (*later, _rollback_at(issue, history, clean), issue.recovered_at) if t]
    return IssueTimes(min(candidates) if candidates else None, fixed_at)


def _all_or_none(times: Sequence[str | None]) -> str | None:
    """The latest time when every issue has one, else None."""
    return max(times) if times and all(times) else None  # type: ignore[type-var]


def summarise(
    issues: Sequence[Issue], history: History, window_end: str = ""
) -> tuple[Incident, dict[int, IssueTimes]]:
    """The incident over the issues a postmortem shows (MUTED ones are left out), and per issue (by id())."""
    shown = [i for i in issues if i.status != MUTED]
    per = {id(i): issue_times(i, history) for i in shown}
    if not shown:
        return Incident(None, None, None, None, None, None, None), per
    start = min(i.first_seen for i in shown)
    over = all(i.log_status_or_status == FIXED or i.recovered_at for i in shown)
    end = max(i.last_seen for i in shown) if over else None
    mitigated = _all_or_none([per[id(i)].mitigated_at for i in shown])
    fixed = _all_or_none([per[id(i)].fixed_at for i in shown])
    return (
        Incident(
            impact_start=start,
            impact_end=end,
            duration_s=seconds_between(start, end or window_end) if end or window_end else None,
            mitigated_at=mitigated,
            time_to_mitigate_s=seconds_between(start, mitigated) if mitigated else None,
            fixed_at=fixed,
            time_to_fix_s=seconds_between(start, fixed) if fixed else None,
        ),
        per,
    )
