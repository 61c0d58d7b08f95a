"""Impact of an issue and of a service: requests, 5xx and 429 answers, instances, duration.

Request counts come from the request logs of the revisions the issue (or one of its symptoms) occurred
in, over the whole log window: Cloud Run logs do not say which failed request an exception caused, so
this is the traffic the affected revisions saw, stated as such in the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from triage.analysis.history import RevisionState
from triage.engine.matcher import Match
from triage.records import epoch_seconds


@dataclass(frozen=True)
class Impact:
    requests: int
    errors_5xx: int
    errors_429: int
    instances: int
    duration_s: int
    revisions: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "errors_5xx": self.errors_5xx,
            "errors_429": self.errors_429,
            "instances": self.instances,
            "duration_s": self.duration_s,
        }


def seconds_between(start: str, end: str) -> int:
    a, b = epoch_seconds(start), epoch_seconds(end)
    return 0 if a is None or b is None else max(0, round(b - a))


def _traffic(revisions: Iterable[RevisionState]) -> tuple[int, int, int]:
    revs = list(revisions)
    return (sum(r.requests for r in revs), sum(r.errors_5xx for r in revs), sum(r.errors_429 for r in revs))


def issue_impact(matches: Sequence[Match], revisions: Sequence[RevisionState]) -> Impact:
    """``matches``: the issue's own matches and its symptoms'; ``revisions``: its service's revisions."""
    names = {m.event.revision for m in matches if m.event.revision}
    affected = [r for r in revisions if r.name in names]
    requests, e5, e429 = _traffic(affected)
    times = sorted(m.event.timestamp for m in matches if m.event.timestamp)
    duration = seconds_between(times[0], times[-1]) if times else 0
    instances = len({m.event.instance for m in matches if m.event.instance})
    return Impact(requests, e5, e429, instances, duration, tuple(sorted(names)))


def service_impact(revisions: Sequence[RevisionState]) -> Impact:
    requests, e5, e429 = _traffic(revisions)
    firsts = [r.first_seen for r in revisions if r.first_seen]
    lasts = [r.last_seen for r in revisions if r.last_seen]
    duration = seconds_between(min(firsts), max(lasts)) if firsts and lasts else 0
    instances = len(set().union(*(r.instances for r in revisions))) if revisions else 0
    return Impact(requests, e5, e429, instances, duration, tuple(r.name for r in revisions))
