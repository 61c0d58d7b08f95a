"""Turn matches into issues (one per service and rule) and work out their status from the history.

A service is (name, region): issues, revisions and traffic are per service id (``History.service_id``).
Status (per issue), over the service's revisions in order (job executions in time order):
- FIXED: a revision after the last one with the issue got past the phase where the issue struck, without
  it: for a startup issue it passed its startup probe, became Ready or served; for a serving issue it
  served requests for as long as the issue's revision served before it struck, at most RECOVERY_S (a
  job: a later execution succeeded). A later revision that failed of another issue at
  the same depth or later (``phase.issue_depth``: import < rest of startup < serving) counts as well: it
  got at least as far. ``fixed_in`` is that revision; ``verified`` says a revision without the issue
  served requests (or a later execution succeeded). The issue must not occur, after the fix became
  healthy, in a revision that still serves (``traffic.serving``): if it does, REGRESSED when the fix
  served, else PENDING with ``fix_deployed`` (a fix nobody routed traffic to proves nothing).
- REGRESSED: not fixed now, but some healthy revision between occurrences was free of it.
- PENDING: otherwise. ``masked_by`` names the issue a later revision died of earlier than this issue
  struck (it never got far enough to show whether the fix worked); ``fix_deployed`` a later revision that
  became healthy but served nothing (or, for a serving issue, not for long enough); ``recovered_at`` the last occurrence when the same revision then
  served requests cleanly for RECOVERY_S or more (recovered without a deploy). A later revision that has
  only just started, or failed with no known cause, decides nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from triage.analysis.history import History, RevisionState, service_of_revision
from triage.analysis.phase import SERVING, issue_depth, issue_phase, match_depth
from triage.analysis.statuses import FIXED, PENDING, REGRESSED
from triage.analysis.traffic import serving
from triage.engine.matcher import Match
from triage.engine.rules import SEVERITIES, Rule
from triage.records import epoch_seconds

if TYPE_CHECKING:
    from triage.analysis.annotations import Annotation
    from triage.analysis.chains import Symptom
    from triage.analysis.history import Deploy
    from triage.analysis.impact import Impact

EVIDENCE_PER_ISSUE = 3
RECOVERY_S = 300  # clean serving on the same revision after the last occurrence that counts as recovered


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
    location: str = ""  # the region, when the service's name runs in more than one
    job: bool = False  # the service is a Cloud Run job (its revisions are executions)
    masked_by: str | None = None  # rule id of the issue a later revision died of before this one could show
    fix_deployed: str | None = None  # a later revision that became healthy but served no traffic
    recovered_at: str | None = None  # last occurrence, when the same revision then served cleanly
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


def service_key(m: Match, history: History | None) -> str:
    """The service id a match belongs to (``History.service_id``; the bare name without a history)."""
    name = m.event.service or service_of_revision(m.event.revision) or "(unknown)"
    if history is None:
        return name
    return history.service_id(name, m.event.revision, m.event.first.location)


def _groups(matches: Sequence[Match], history: History | None) -> list[tuple[str, list[int]]]:
    """(service id, indices of its matches of one rule) per (service id, rule) in that order, each group in time
    order. Ties in time are broken by what the events say, not by the order they were emitted in (which
    depends on when reassembly closed them): evidence and first captures are the same on every path. Plain
    sorts: what pandas' groupby and sort_values did here, without importing pandas (0.3 s) for it."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, m in enumerate(matches):
        groups.setdefault((service_key(m, history), m.rule.id), []).append(i)

    def order(i: int) -> tuple[str, str, str, str, int]:
        ev = matches[i].event
        return (ev.timestamp, ev.instance, ev.revision, ev.message, i)

    return [(key[0], sorted(groups[key], key=order)) for key in sorted(groups)]


def group(matches: Sequence[Match], history: History | None = None) -> list[Issue]:
    """One issue per (service id, rule), with counts, window, revisions and a few evidence matches."""
    return [issue for issue, _ in _grouped(matches, history)]


def _grouped(matches: Sequence[Match], history: History | None) -> list[tuple[Issue, list[Match]]]:
    if not matches:
        return []
    issues = []
    for service, idx in _groups(matches, history):
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
        revisions = sorted({m.event.revision for m in ms if m.event.revision})
        issues.append((
            Issue(
                rule=ms[0].rule,
                service=str(service),
                count=len(ms),
                first_seen=ms[0].event.timestamp,
                last_seen=ms[-1].event.timestamp,
                revisions=revisions,
                instances=len({m.event.instance for m in ms if m.event.instance}),
                captures=captures,
                evidence=[ms[p] for p in picks],
                location=ms[0].event.first.location,
                job=history is not None and ms[0].event.first.resource_type == "cloud_run_job",
            ),
            ms,
        ))  # fmt: skip
    return issues


@dataclass(frozen=True)
class Context:
    """What deciding one issue's status needs beyond its service's ordered revisions."""

    phase: str = ""  # startup or serving (analysis.phase)
    depth: int = 1  # phase.issue_depth
    last_by_revision: dict[str, str] = field(default_factory=dict)  # revision -> last occurrence
    failures: dict[str, dict[str, int]] = field(default_factory=dict)  # revision -> {rule: earliest depth}
    serving: frozenset[str] = frozenset()  # revisions that serve at the end of the window
    onset_s: float = 0.0  # a serving issue: seconds its revision served before it first struck (capped)


def _served_for(r: RevisionState) -> float:
    start, end = epoch_seconds(_healthy_at(r)), epoch_seconds(r.last_served)
    return end - start if start is not None and end is not None else 0.0


def _got_past(r: RevisionState, ctx: Context) -> bool:
    """Did ``r`` get past the phase an issue struck in (see the module docstring)? A serving issue needs
    ``r`` to have served for as long as the issue took to strike (at most RECOVERY_S)."""
    if r.is_execution:
        return r.healthy
    if ctx.phase == SERVING:
        return r.served > 0 and _served_for(r) >= ctx.onset_s
    return r.ready is True or r.probe_passed > 0 or r.served > 0


def _verified(r: RevisionState) -> bool:
    return r.healthy if r.is_execution else r.served > 0


def _healthy_at(r: RevisionState) -> str:
    return r.ready_time if r.ready is True and r.ready_time else r.started


def decide_status(issue: Issue, revisions: list[RevisionState], ctx: Context | None = None) -> None:
    """Set status, fixed_in, fixed_commit, verified, masked_by, fix_deployed and recovered_at."""
    ctx = ctx or Context(last_by_revision={r: issue.last_seen for r in issue.revisions})
    rule = issue.rule.id
    hit = [i for i, r in enumerate(revisions) if rule in r.rules]
    if not hit:
        issue.status = PENDING  # matches without a known revision: nothing to compare against
        return
    last = hit[-1]
    proof: RevisionState | None = None
    for r in revisions[last + 1 :]:
        others = {k: d for k, d in ctx.failures.get(r.name, {}).items() if k != rule}
        if _got_past(r, ctx):
            proof = r
            break
        if r.healthy and not r.is_execution:
            issue.fix_deployed = issue.fix_deployed or r.name  # Ready, but no (or too little) traffic yet
        if r.failed and others:
            if min(others.values()) >= ctx.depth:
                proof = r  # died of something else, at least as far along: the issue did not stop it
                break
            issue.masked_by = issue.masked_by or min(others, key=lambda k: (others[k], k))
    if proof is not None:
        _fixed_or_back(issue, revisions, proof, ctx)
        return
    between = revisions[hit[0] + 1 : last]
    if any(r.healthy and rule not in r.rules for r in between):
        issue.status, issue.masked_by = REGRESSED, None
        return
    issue.status = PENDING
    still = revisions[last]
    end = epoch_seconds(still.last_served)
    gone = epoch_seconds(issue.last_seen)
    if still.name in ctx.serving and end is not None and gone is not None and end - gone >= RECOVERY_S:
        issue.recovered_at = issue.last_seen


def _fixed_or_back(issue: Issue, revisions: list[RevisionState], proof: RevisionState, ctx: Context) -> None:
    """A later revision got past the issue: FIXED, unless the issue goes on in a revision that still serves."""
    after = revisions[revisions.index(proof) :]
    verified = any(_verified(r) for r in after)
    since = _healthy_at(proof)
    goes_on = [r for r, t in ctx.last_by_revision.items() if r in ctx.serving and since and t > since]
    if goes_on:
        issue.status = REGRESSED if verified else PENDING
        issue.fix_deployed = None if verified else proof.name
        return
    issue.status = FIXED
    issue.fixed_in = proof.name
    issue.fixed_commit = proof.commit_sha or None
    issue.verified = verified
    issue.masked_by = issue.fix_deployed = None


def _onset(issue: Issue, ms: list[Match], history: History) -> float:
    """Seconds the last revision with a serving issue served before the issue first struck in it."""
    if issue.phase != SERVING:
        return 0.0
    last = max((m for m in ms if m.event.revision), key=lambda m: m.event.timestamp, default=None)
    if last is None:
        return 0.0
    state = history.revisions.get((last.event.service or service_of_revision(last.event.revision), last.event.revision))
    first = min(m.event.timestamp for m in ms if m.event.revision == last.event.revision)
    start, hit = (epoch_seconds(_healthy_at(state)) if state else None), epoch_seconds(first)
    if start is None or hit is None:
        return 0.0
    return max(0.0, min(hit - start, RECOVERY_S))


def analyse(matches: Sequence[Match], history: History) -> list[Issue]:
    grouped = _grouped(matches, history)
    failures: dict[str, dict[str, dict[str, int]]] = {}  # service id -> revision -> {rule: depth}
    for m in matches:
        if m.event.revision:
            per = failures.setdefault(service_key(m, history), {}).setdefault(m.event.revision, {})
            d = match_depth(m, history)
            per[m.rule.id] = min(d, per.get(m.rule.id, d))
    for issue, ms in grouped:
        issue.phase = issue_phase(ms, history)
        last: dict[str, str] = {}
        for m in ms:
            if m.event.revision:
                last[m.event.revision] = max(last.get(m.event.revision, ""), m.event.timestamp)
        ctx = Context(
            onset_s=_onset(issue, ms, history),
            phase=issue.phase,
            depth=issue_depth(issue.phase, ms, history),
            last_by_revision=last,
            failures=failures.get(issue.service, {}),
            serving=frozenset(serving(history, issue.service)),
        )
        decide_status(issue, history.service_revisions(issue.service), ctx)
    issues = [issue for issue, _ in grouped]
    issues.sort(key=lambda i: (i.service, i.severity_rank, i.first_seen, i.rule.id))
    return issues
