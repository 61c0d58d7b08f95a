"""The UTC timeline: deploys, revisions Ready or failed, first and last occurrence of each issue, fixes
and regressions, in time order (ties: the kind order below, then service and text, so output is stable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from triage.analysis.history import History
from triage.analysis.issues import Issue
from triage.analysis.statuses import FIXED, REGRESSED
from triage.engine.matcher import Match

KINDS = ("deploy", "ready", "not_ready", "first_seen", "regressed", "last_seen", "fixed")
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


def build(
    history: History, issues: Sequence[Issue], matches: Mapping[tuple[str, str], Sequence[Match]]
) -> list[TimelineItem]:
    items: list[TimelineItem] = []
    for d in history.deploys:
        commit = f" (commit {short_sha(d.commit_sha)})" if d.commit_sha else ""
        target = f": revision {d.revision}" if d.revision else ""
        items.append(TimelineItem(d.time, "deploy", d.service, d.revision, f"Deploy of {d.service}{target}{commit}"))
    for (service, name), rev in sorted(history.revisions.items()):
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
        if issue.log_status_or_status == FIXED and issue.fixed_in:
            rev = history.revisions.get((issue.service, issue.fixed_in))
            when = (rev.deployed_at or rev.first_seen) if rev else ""
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
