"""Root cause chains: link symptom matches (exit, probe failure, revision not Ready) to their cause.

Postmortem writers need the cause, not six symptoms. Links are decided per match, not per issue, because
one symptom rule (``container-exit-nonzero``) can have different causes in different revisions:

1. Same event: two rules that explain the very same event (a traceback that is both "PostgreSQL refused"
   and "client initialised at import time") describe one failure. The rule the other is a symptom of
   leads; with no relation between them, the rule whose category is closer to a cause leads
   (``CATEGORY_ORDER``: a dependency before configuration ... before startup and platform), except a
   dependency on a loopback host: that is a default taken before the configuration was read.
2. Relations plus proximity: a match of rule S is linked to a match of rule C when C is among S's
   ``relations.symptom_of`` (transitively, through the catalog), both are in the same service and
   revision, on the same instance when both name one, and S happened at most ``WINDOW_S`` after C (or
   ``SLACK_S`` before it: log lines of one crash arrive a moment apart). The nearest cause wins.

Chains are followed to their end: the root's issue lists every linked match as a symptom. Matches with no
cause found stay issues of their own, so nothing is hidden.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from triage.analysis.history import service_of_revision
from triage.engine.matcher import Match
from triage.engine.rules import SEVERITIES, Rule
from triage.records import epoch_seconds

LOOPBACK = ("localhost", "127.0.0.1", "::1", "0.0.0.0")
CATEGORY_ORDER = ("dependency", "configuration", "resources", "network", "code", "startup", "platform")
WINDOW_S = 600.0
SLACK_S = 5.0


@dataclass(frozen=True)
class Symptom:
    rule: Rule
    count: int
    first_seen: str


@dataclass
class Chains:
    lead: list[Match]  # matches that are a root cause or have no cause: they become issues
    symptoms: dict[tuple[str, str], list[Match]] = field(default_factory=dict)  # (service, root rule) -> linked

    def symptom_summary(self, service: str, rule_id: str) -> list[Symptom]:
        """Symptoms of one issue, in the order they first happened (the chain's order)."""
        return summarize(self.symptoms.get((service, rule_id), []))


def summarize(symptoms: Iterable[Match]) -> list[Symptom]:
    """One Symptom per rule of ``symptoms``, in the order they first happened."""
    by_rule: dict[str, list[Match]] = defaultdict(list)
    for m in symptoms:
        by_rule[m.rule.id].append(m)
    out = [Symptom(ms[0].rule, len(ms), min(m.event.timestamp for m in ms)) for ms in by_rule.values()]
    return sorted(out, key=lambda s: (s.first_seen, s.rule.id))


def service_of(m: Match) -> str:
    return m.event.service or service_of_revision(m.event.revision) or "(unknown)"


def cause_closure(rules: Iterable[Rule]) -> dict[str, frozenset[str]]:
    """rule id -> every rule id it is a symptom of, directly or through other rules."""
    direct = {r.id: set(r.symptom_of) for r in rules}
    out: dict[str, frozenset[str]] = {}
    for rid in direct:
        seen: set[str] = set()
        todo = list(direct[rid])
        while todo:
            cur = todo.pop()
            if cur in seen or cur == rid:
                continue
            seen.add(cur)
            todo.extend(direct.get(cur, ()))
        out[rid] = frozenset(seen)
    return out


def _lead_rank(m: Match) -> tuple[int, int, str]:
    rule = m.rule
    cat = CATEGORY_ORDER.index(rule.category) if rule.category in CATEGORY_ORDER else len(CATEGORY_ORDER)
    if rule.category == "dependency" and m.captures.get("host", "").lower() in LOOPBACK:
        # Nothing listens on localhost in a Cloud Run container: the code fell back to a default host
        # because it ran before its configuration was there (import time), so that is the cause to lead.
        cat = len(CATEGORY_ORDER)
    return (cat, SEVERITIES.index(rule.severity), rule.id)


def link(matches: Sequence[Match], rules: Iterable[Rule]) -> Chains:
    closure = cause_closure(rules)
    parent: dict[int, int] = {}  # match index -> index of the match that caused it

    # 1. Same event: one lead per event, the others hang under it.
    by_event: dict[int, list[int]] = defaultdict(list)
    for i, m in enumerate(matches):
        by_event[id(m.event)].append(i)
    for idx in by_event.values():
        if len(idx) < 2:
            continue
        rule_ids = {matches[i].rule.id for i in idx}
        # A rule that is a symptom of another rule on this event cannot lead.
        candidates = [i for i in idx if not (closure.get(matches[i].rule.id, frozenset()) & rule_ids)] or idx
        lead = min(candidates, key=lambda i: _lead_rank(matches[i]))
        for i in idx:
            if i != lead:
                parent[i] = lead

    # 2. Relations plus time, revision and instance proximity, for event leads only. A match on an instance
    # can only be caused on the same instance (preferred) or by a match that names none, so it searches those
    # two indexes; only a match that names no instance searches every instance of its revision.
    index: dict[tuple[str, str, str], tuple[list[float], list[int]]] = {}
    by_instance: dict[tuple[str, str, str, str], tuple[list[float], list[int]]] = {}
    order = sorted(range(len(matches)), key=lambda i: (matches[i].event.timestamp, i))
    for i in order:
        m = matches[i]
        key = (service_of(m), m.event.revision, m.rule.id)
        t = epoch_seconds(m.event.timestamp) or 0.0
        for times, ids in (index.setdefault(key, ([], [])), by_instance.setdefault((*key, m.event.instance), ([], []))):
            times.append(t)
            ids.append(i)
    empty: tuple[list[float], list[int]] = ([], [])
    for i, m in enumerate(matches):
        if i in parent:
            continue
        causes = closure.get(m.rule.id)
        if not causes or not m.event.revision:
            continue
        t = epoch_seconds(m.event.timestamp) or 0.0
        service, instance = service_of(m), m.event.instance
        best: tuple[int, float, int] | None = None  # (other instance?, distance, index)
        for cause in sorted(causes):
            key = (service, m.event.revision, cause)
            if instance:
                searched = ((0, by_instance.get((*key, instance), empty)), (1, by_instance.get((*key, ""), empty)))
            else:
                searched = ((1, index.get(key, empty)),)
            for other, (times, ids) in searched:
                lo = bisect.bisect_left(times, t - WINDOW_S)
                hi = bisect.bisect_right(times, t + SLACK_S)
                for j in range(lo, hi):
                    if matches[ids[j]].event is m.event:
                        continue
                    cand = (other, abs(t - times[j]), ids[j])
                    if best is None or cand < best:
                        best = cand
        if best is not None:
            parent[i] = best[2]

    # Follow each chain to its root; a cycle (rules naming each other) stops where it closes.
    lead: list[Match] = []
    symptoms: dict[tuple[str, str], list[Match]] = defaultdict(list)
    for i, m in enumerate(matches):
        if i not in parent:
            lead.append(m)
            continue
        seen = {i}
        root = parent[i]
        while root in parent and parent[root] not in seen:
            seen.add(root)
            root = parent[root]
        if root in parent and parent[root] in seen:
            lead.append(m)  # a cycle: keep it visible rather than guess
            continue
        r = matches[root]
        symptoms[(service_of(r), r.rule.id)].append(m)
    return Chains(lead, dict(symptoms))
