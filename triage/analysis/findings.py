"""Everything the analysis says about one run, from ``Collected``: issues led by their root causes (with
symptoms, phase, impact, trigger and annotations), the timeline, and the unclassified error clusters.

Pure: no I/O, no templates. The report model turns ``Findings`` into plain data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from triage.analysis import annotations as notes
from triage.analysis import timeline as tl
from triage.analysis.chains import Chains, link, summarize
from triage.analysis.clusters import Cluster, coverage, mine
from triage.analysis.history import Deploy, History
from triage.analysis.impact import issue_impact
from triage.analysis.issues import Issue, analyse, service_key
from triage.engine.matcher import Match
from triage.engine.rules import Rule
from triage.pipeline import Collected


@dataclass
class Findings:
    issues: list[Issue]
    chains: Chains
    timeline: list[tl.TimelineItem]
    clusters: list[Cluster]
    coverage: float
    matches: dict[tuple[str, str], list[Match]]  # (service, rule) -> the issue's own matches, time order


def trigger_of(issue: Issue, matches: Sequence[Match], history: History) -> Deploy | None:
    """The deploy of the first revision the issue occurred in, else the service's last deploy before it."""
    first_rev = next((m.event.revision for m in matches if m.event.revision), "")
    deploys = history.deploys_of(issue.service)
    exact = [d for d in deploys if first_rev and d.revision == first_rev]
    if exact:
        return exact[0]
    before = [d for d in deploys if d.time <= issue.first_seen]
    return before[-1] if before else None


def confirmed(matches: Sequence[Match], history: History) -> list[Match]:
    """``matches`` without those a condition with ``requires`` decided, in a revision (of the same service)
    where none of the required rules matched. Order kept."""
    if not any(m.requires for m in matches):
        return list(matches)
    where = [(service_key(m, history), m.event.revision) for m in matches]
    seen = {(*w, m.rule.id) for w, m in zip(where, matches, strict=True)}
    return [
        m for w, m in zip(where, matches, strict=True) if not m.requires or any((*w, rid) in seen for rid in m.requires)
    ]


def find(
    collected: Collected,
    rules: Iterable[Rule],
    annotations: Sequence[notes.Annotation] = (),
    scrub: Callable[[str], str] | None = None,
) -> Findings:
    """``scrub`` is the run's redactor: cluster templates are built from redacted lines."""
    history = collected.history
    chains = link(confirmed(collected.matches, history), rules)
    issues = analyse(chains.lead, history)
    own: dict[tuple[str, str], list[Match]] = defaultdict(list)
    for m in sorted(chains.lead, key=lambda m: m.event.timestamp):
        own[(service_key(m, history), m.rule.id)].append(m)
    for issue in issues:
        key = (issue.service, issue.rule.id)
        mine_ = own.get(key, [])
        # Chains key symptoms by service name; a name in two regions is two services: keep this one's.
        chain_key = (issue.service.split(" (", 1)[0] if issue.location else issue.service, issue.rule.id)
        symptoms = [m for m in chains.symptoms.get(chain_key, []) if service_key(m, history) == issue.service]
        issue.symptoms = summarize(symptoms)
        issue.impact = issue_impact([*mine_, *symptoms], history.service_revisions(issue.service))
        issue.trigger = trigger_of(issue, mine_, history)
    notes.apply(issues, annotations)
    stats = collected.stats
    return Findings(
        issues=issues,
        chains=chains,
        timeline=tl.build(history, issues, own),
        clusters=mine(collected.error_events, scrub),
        coverage=coverage(stats.error_events, stats.unmatched_error_events),
        matches=dict(own),
    )
