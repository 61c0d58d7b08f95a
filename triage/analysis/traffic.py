"""Where traffic goes: which revisions of a service serve, and what each deploy or traffic entry did.

A service's status comes from the revisions that serve, not from the newest one. The last deploy or traffic
entry decides when it has a traffic block (``latestRevision: true`` resolves to the newest revision that became
healthy, as Cloud Run routes it). Without one, a deploy sends all traffic to its revision once it is
Ready; a new revision that failed and answered nothing leaves traffic where it was (the newest older
revision that was healthy), as Cloud Run does when a rollout fails. Request logs name the revision that
served each request: an older revision that still took requests after the newest one became Ready serves too
(a split the logs hold no traffic entry for); its share is then estimated from request counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from triage.analysis.deploys import Target
from triage.analysis.history import Deploy, History, RevisionState

DEPLOY, TRAFFIC = "deploy", "traffic"


@dataclass(frozen=True)
class Change:
    """One deploy or traffic entry of a service id: ``kind`` is DEPLOY when it created a revision, TRAFFIC
    when it only moved traffic between revisions that already existed (a rollback, a split, a tag)."""

    deploy: Deploy
    kind: str
    split: tuple[tuple[str, int], ...]  # (revision, percent > 0) in the entry's order; empty: not said
    explicit: bool  # the entry names revisions (a split, --no-traffic), not only "all to the latest"
    rollback: bool  # all traffic to a revision older than the newest one deployed before


def _latest_healthy(revisions: list[RevisionState], until: str = "") -> str:
    """The newest revision that got healthy (deployed by ``until`` when given), else the newest one."""
    known = [r for r in revisions if not until or not r.started or r.started <= until]
    healthy = [r for r in known if r.healthy]
    pick = healthy[-1] if healthy else (known[-1] if known else None)
    return pick.name if pick else ""


def resolve(targets: tuple[Target, ...], revisions: list[RevisionState], until: str = "") -> dict[str, int]:
    """revision -> percent (> 0) for a traffic block; ``latest`` targets resolve to the newest revision
    (deployed by ``until``) that got healthy. Not to the response's latestReadyRevisionName: a deploy's
    response is written before its new revision is Ready."""
    out: dict[str, int] = {}
    for t in targets:
        name = t.revision or _latest_healthy(revisions, until)
        if name and t.percent > 0:
            out[name] = out.get(name, 0) + t.percent
    return out


def _targets(d: Deploy, is_new: bool) -> tuple[Target, ...]:
    """The request's traffic block; for a traffic change without one, the response's status."""
    return d.traffic or (() if is_new else d.status_traffic)


def changes(history: History, service: str) -> list[Change]:
    """The service id's deploy and traffic entries, in time order, each classified."""
    revisions = history.service_revisions(service)
    order = {r.name: i for i, r in enumerate(revisions)}
    seen: set[str] = set()
    newest = -1
    out = []
    for d in history.deploys_of(service):
        is_new = bool(d.revision) and d.revision not in seen and order.get(d.revision, -1) > newest
        split = resolve(_targets(d, is_new), revisions, d.time)
        only = next(iter(split)) if len(split) == 1 else ""
        rollback = bool(only) and order.get(only, newest) < max(newest, order.get(d.revision, -1))
        explicit = any(not t.latest or t.percent < 100 for t in _targets(d, is_new))
        out.append(Change(d, DEPLOY if is_new else TRAFFIC, tuple(split.items()), explicit, rollback))
        if d.revision:
            seen.add(d.revision)
            newest = max(newest, order.get(d.revision, -1))
    return out


def serving(history: History, service: str) -> dict[str, int]:
    """revision -> percent of traffic at the end of the window (see the module docstring)."""
    revisions = history.service_revisions(service)
    if not revisions:
        return {}
    if revisions[-1].is_execution:
        return {revisions[-1].name: 100}  # a job: its latest execution speaks for it
    moves = changes(history, service)
    if moves:  # a deploy without a traffic block sends it all to its revision once Ready
        last = moves[-1]
        split = resolve(_targets(last.deploy, last.kind == DEPLOY), revisions)
        if split:
            return split
    latest = revisions[-1]
    if latest.failed and not latest.healthy and latest.requests == 0:
        older = [r for r in revisions[:-1] if r.healthy]
        if older:
            return {older[-1].name: 100}
    # Requests in flight while the newest revision started are not a split: count from when it was Ready.
    since = latest.ready_time if latest.ready is True and latest.ready_time else latest.started
    others = [r for r in revisions[:-1] if since and r.last_request > since]
    if not others or not latest.requests:
        return {latest.name: 100}
    return _shares([*others, latest])


def _shares(revisions: list[RevisionState]) -> dict[str, int]:
    """Percent of requests per revision (rounded; the newest takes the rounding remainder)."""
    total = sum(r.requests for r in revisions)
    out = {r.name: r.requests * 100 // total for r in revisions[:-1]}
    out[revisions[-1].name] = 100 - sum(out.values())
    return {k: v for k, v in out.items() if v > 0} or {revisions[-1].name: 100}


def split_text(split: tuple[tuple[str, int], ...]) -> str:
    return ", ".join(f"{name} {pct}%" for name, pct in split)
