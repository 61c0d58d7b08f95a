"""The UTC timeline: deploys, traffic changes (rollbacks, splits), revisions Ready or failed, job
executions, first and last occurrence of each issue, fixes, recoveries and regressions, in time order
(ties: the kind order below, then service and text, so output is stable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from triage.analysis import traffic
from triage.analysis.history import History, RevisionState
from triage.analysis.issues import Issue
from triage.analysis.statuses import FIXED, PENDING, REGRESSED
from triage.engine.matcher import Match

KINDS = ("deploy", "traffic", "ready", "not_ready", "execution", "first_seen", "regressed", "last_seen", "fixed",
         "recovered")  # fmt: skip
MESSAGE_CHARS = 200


@dataclass(frozen=True)
class TimelineItem:
    time: str
    kind: str
    service: str
    revision: str
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"time": self.time, "kind": self.kind, "service": self.service, "revision": self.revision,
                "text": self.text}  # fmt: skip


def short_sha(sha: str) -> str:
    return sha[:9]


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 3] + "..."


def regressed_at(issue: Issue, matches: Sequence[Match], history: History) -> tuple[str, str] | None:
    """(time, revision) where the issue came back after a healthy revision that was free of it."""
    revisions = history.service_revisions(issue.service)
    hit = [i for i, r in enumerate(revisions) if issue.rule.id in r.rules]
    for a, b in pairwise(hit):
        if any(r.healthy and issue.rule.id not in r.rules for r in revisions[a + 1 : b]):
            name = revisions[b].name
            times = [m.event.timestamp for m in matches if m.event.revision == name]
            return (min(times) if times else revisions[b].first_seen, name)
    return None


def _changes(history: History, service: str) -> list[TimelineItem]:
    """Deploys and traffic changes of one service id."""
    items = []
    for c in traffic.changes(history, service):
        d = c.deploy
        commit = f" (commit {short_sha(d.commit_sha)})" if d.commit_sha else ""
        if c.kind == traffic.DEPLOY:
            target = f": revision {d.revision}" if d.revision else ""
            moved = [n for n, _ in c.split]
            # Traffic the entry keeps elsewhere (--no-traffic, a canary share) is part of what it did.
            note = f"; traffic: {traffic.split_text(c.split)}" if c.explicit and moved != [d.revision] else ""
            items.append(TimelineItem(d.time, "deploy", service, d.revision,
                                      f"Deploy of {service}{target}{commit}{note}"))  # fmt: skip
        elif c.split:
            (only, _), *rest = c.split
            if c.rollback:
                text = f"Traffic rolled back to {only} ({service})"
            elif rest:
                text = f"Traffic split: {traffic.split_text(c.split)} ({service})"
            else:
                text = f"Traffic moved to {only} ({service})"
            items.append(TimelineItem(d.time, "traffic", service, only, text))
    return items


def _execution(service: str, ex: RevisionState) -> TimelineItem | None:
    if ex.outcome == "running" or not ex.last_seen:
        return None
    verb = "succeeded" if ex.outcome == "succeeded" else "failed"
    tasks = f" ({ex.exits} task attempts failed)" if ex.exits else ""
    return TimelineItem(ex.last_seen, "execution", service, ex.name, f"Execution {ex.name} {verb}{tasks} ({service})")


def build(
    history: History, issues: Sequence[Issue], matches: Mapping[tuple[str, str], Sequence[Match]]
) -> list[TimelineItem]:
    items: list[TimelineItem] = []
    for service in history.services():
        items += _changes(history, service)
        for ex in history.service_revisions(service):
            item = _execution(service, ex) if ex.is_execution else None
            if item:
                items.append(item)
    for rev in sorted(history.revisions.values(), key=lambda r: (r.service, r.name)):
        service, name = history.id_of(rev), rev.name
        if not rev.ready_time or rev.ready is None:
            continue
        if rev.ready:
            items.append(TimelineItem(rev.ready_time, "ready", service, name, f"Revision {name} is Ready"))
        else:
            why = f": {_one_line(rev.ready_message)}" if rev.ready_message else ""
            items.append(TimelineItem(rev.ready_time, "not_ready", service, name, f"Revision {name} not Ready{why}"))
    for issue in issues:
        own = matches.get((issue.service, issue.rule.id), ())
        first_rev = next((m.event.revision for m in own if m.event.timestamp == issue.first_seen), "")
        last_rev = next((m.event.revision for m in reversed(own) if m.event.timestamp == issue.last_seen), "")
        items.append(TimelineItem(issue.first_seen, "first_seen", issue.service, first_rev,
                                  f"First occurrence: {issue.rule.title} ({issue.service})"))  # fmt: skip
        if issue.count > 1 and issue.last_seen != issue.first_seen:
            items.append(TimelineItem(issue.last_seen, "last_seen", issue.service, last_rev,
                                      f"Last occurrence ({issue.count}x): {issue.rule.title} ({issue.service})"))  # fmt: skip
        if issue.log_status_or_status == PENDING and issue.recovered_at:
            items.append(TimelineItem(issue.recovered_at, "recovered", issue.service, last_rev,
                                      f"Not seen since {issue.recovered_at}; recovered without a deploy: "
                                      f"{issue.rule.title} ({issue.service})"))  # fmt: skip
        if issue.log_status_or_status == FIXED and issue.fixed_in:
            rev = next((r for r in history.service_revisions(issue.service) if r.name == issue.fixed_in), None)
            when = rev.started if rev else ""
            commit = f" (commit {short_sha(issue.fixed_commit)})" if issue.fixed_commit else ""
            verified = "" if issue.verified else ", not yet verified"
            text = f"Fixed in {issue.fixed_in}{commit}{verified}: {issue.rule.title} ({issue.service})"
            if when:
                items.append(TimelineItem(when, "fixed", issue.service, issue.fixed_in, text))
        if issue.log_status_or_status == REGRESSED:
            back = regressed_at(issue, own, history)
            if back:
                items.append(TimelineItem(back[0], "regressed", issue.service, back[1],
                                          f"Regressed in {back[1]}: {issue.rule.title} ({issue.service})"))  # fmt: skip
    return sorted(items, key=lambda t: (t.time, KINDS.index(t.kind), t.service, t.text))
