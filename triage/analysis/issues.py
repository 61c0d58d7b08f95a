"""Turn matches into issues (one per service and rule) and work out their status from the history.

Status (per issue):
- FIXED: a revision later than the last one with the issue got at least as far without it (became
  Ready, passed its startup probe, served requests, or failed on a different issue), and the issue never
  came back. ``fixed_in`` is the first such revision; ``verified`` says whether a revision without the
  issue became Ready or served requests.
- REGRESSED: not fixed now, but some healthy revision between occurrences was free of it.
- PENDING: otherwise. A later revision that has only just started decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from triage.analysis.history import History, RevisionState, service_of_revision
from triage.analysis.statuses import FIXED, PENDING, REGRESSED
from triage.engine.matcher import Match
from triage.engine.rules import SEVERITIES, Rule

if TYPE_CHECKING:
    import pandas as pd

    from triage.analysis.annotations import Annotation
    from triage.analysis.chains import Symptom
    from triage.analysis.history import Deploy
    from triage.analysis.impact import Impact

EVIDENCE_PER_ISSUE = 3


@dataclass
class Issue:
    rule: Rule
    service: str
    count: int
    first_seen: str
    last_seen: str
    revisions: list[str]
    instances: int
    captures: dict[str, str]
    evidence: list[Match]
    status: str = PENDING
    fixed_in: str | None = None
    fixed_commit: str | None = None
    verified: bool = False
    # Filled by triage.analysis.findings: the postmortem view of the issue.
    symptoms: list[Symptom] = field(default_factory=list)
    phase: str = ""
    impact: Impact | None = None
    trigger: Deploy | None = None  # the deploy that brought the first revision with the issue
    annotation: Annotation | None = None
    log_status: str = ""  # the status the logs gave, before annotations

    @property
    def log_status_or_status(self) -> str:
        return self.log_status or self.status

    @property
    def severity_rank(self) -> int:
        return SEVERITIES.index(self.rule.severity)


def _frame(matches: Sequence[Match]) -> pd.DataFrame:
    # Imported here, not at module level: the fast path forks its scan workers before analysis runs,
    # and a run that never reaches grouping (errors, `rules` commands) should not pay 0.3 s for pandas.
    import pandas as pd

    rows = [
        {
            "i": i,
            "rule": m.rule.id,
            "service": m.event.service or service_of_revision(m.event.revision) or "(unknown)",
            "revision": m.event.revision,
            "instance": m.event.instance,
            "ts": m.event.timestamp,
        }
        for i, m in enumerate(matches)
    ]
    return pd.DataFrame(rows, columns=["i", "rule", "service", "revision", "instance", "ts"])


def group(matches: Sequence[Match]) -> list[Issue]:
    """One issue per (service, rule), with counts, window, revisions and a few evidence matches."""
    if not matches:
        return []
    df = _frame(matches)
    issues = []
    for (service, _rule_id), g in df.groupby(["service", "rule"], sort=True):
        g = g.sort_values(["ts", "i"])
        idx = g["i"].tolist()
        ms = [matches[i] for i in idx]
        # Evidence: the first occurrence, the last, and one from the middle; stable for a given input.
        picks = sorted({0, len(ms) // 2, len(ms) - 1})[:EVIDENCE_PER_ISSUE]
        captures: dict[str, str] = {}
        for m in ms:  # first non-empty value of each capture, in time order
            for k, v in m.captures.items():
                captures.setdefault(k, v)
            if m.event.exception:
                captures.setdefault("exception", m.event.exception)
            if m.event.frames and m.event.app_frame:
                captures.setdefault("app_frame", m.event.app_frame)
        captures.setdefault("revision", ms[0].event.revision)
        revisions = sorted({r for r in g["revision"] if r})
        issues.append(
            Issue(
                rule=ms[0].rule,
                service=str(service),
                count=len(ms),
                first_seen=str(g["ts"].iloc[0]),
                last_seen=str(g["ts"].iloc[-1]),
                revisions=revisions,
                instances=int(g.loc[g["instance"] != "", "instance"].nunique()),
                captures=captures,
                evidence=[ms[p] for p in picks],
            )
        )
    return issues


def decide_status(issue: Issue, revisions: list[RevisionState]) -> None:
    """Set status, fixed_in, fixed_commit and verified from the service's ordered revisions."""
    hit = [i for i, r in enumerate(revisions) if issue.rule.id in r.rules]
    if not hit:
        issue.status = PENDING  # matches without a known revision: nothing to compare against
        return
    last = hit[-1]
    later = [r for r in revisions[last + 1 :] if r.decisive]
    if later:
        issue.status = FIXED
        issue.fixed_in = later[0].name
        issue.fixed_commit = later[0].commit_sha or None
        issue.verified = any(r.ready is True or r.served > 0 for r in later)
        return
    between = revisions[hit[0] + 1 : last]
    if any(r.healthy and issue.rule.id not in r.rules for r in between):
        issue.status = REGRESSED
    else:
        issue.status = PENDING


def analyse(matches: Sequence[Match], history: History) -> list[Issue]:
    issues = group(matches)
    for issue in issues:
        decide_status(issue, history.service_revisions(issue.service))
    issues.sort(key=lambda i: (i.service, i.severity_rank, i.first_seen, i.rule.id))
    return issues
