"""Revision history: what each revision of each service did, aggregated from every record.

Statuses need to know how far a revision got (created, instance started, probe passed, Ready, served
requests) and how it failed. This observes records one at a time and keeps counters per revision, never
the records, so it costs constant memory per revision.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import regex as re

from triage.analysis.deploys import (
    Target,
    deployed_revision,
    location_of,
    plain_secret_envs,
    secret_refs,
    traffic_targets,
)
from triage.records import Record

_REV_SEQ = re.compile(r"^(?P<service>.+)-(?P<seq>\d{5})-[a-z0-9]{2,}$")
_READY = re.compile(
    r"Ready condition status changed to (?P<state>True|False|Unknown) for Revision (?P<rev>[\w-]+)"
    r"(?: with message: (?P<msg>.*))?",
    re.DOTALL,
)
_EXIT = re.compile(r"Container called exit\((?P<code>\d+)\)")
# A job execution's outcome, as Cloud Run reports it (system log or system-event audit entry):
# "Execution X has completed successfully." / "Execution X has failed to complete, 1/2 tasks failed."
# (the wording of the gcloud and console summaries; "has" is optional so a terser one still counts).
_EXECUTION = re.compile(r"Execution (?P<ex>[\w-]+) (?:has )?(?P<how>completed successfully|failed)")
# Instance ids kept per revision (a count past it is not news): the smallest ones, so the set, and the
# instance counts unions of sets give, are the same whatever order the instances are seen in.
MAX_INSTANCES = 10_000
_DEPLOY_METHODS = ("Services.ReplaceService", "Services.CreateService", "Services.UpdateService")


@functools.lru_cache(maxsize=4096)  # a handful of revisions, asked about for every group of counted lines
def service_of_revision(revision: str) -> str:
    m = _REV_SEQ.match(revision)
    return m["service"] if m else ""


# What a system-log line's text bumps: (counter, phrase, only at the start), the first that holds wins; then
# the exit and execution regexes (SYSTEM_REGEX_MARKERS: phrases those need). The BigQuery plan reads the same.
SYSTEM_COUNTERS = (
    ("starts", "Starting new instance", True),
    ("probe_passed", "probe succeeded", False),
    ("probe_failed", "probe failed", False),
)
SYSTEM_REGEX_MARKERS = ("Container called exit(", "Execution ")


def system_counter(message: str) -> str:
    """Which revision counter a system-log line bumps: "starts", "probe_passed", "probe_failed", "exits"
    (a non-zero container exit), "clean_exits" (exit(0): a job task that finished), "completed" /
    "aborted" (a job execution that succeeded / failed) or ""."""
    for counter, phrase, at_start in SYSTEM_COUNTERS:
        if message.startswith(phrase) if at_start else phrase in message:
            return counter
    m = _EXIT.search(message)
    if m:
        return "exits" if m["code"] != "0" else "clean_exits"
    e = _EXECUTION.search(message)
    if e:
        return "completed" if e["how"] == "completed successfully" else "aborted"
    return ""


def revision_seq(revision: str) -> int | None:
    m = _REV_SEQ.match(revision)
    return int(m["seq"]) if m else None


@dataclass
class Deploy:
    time: str
    service: str
    revision: str
    commit_sha: str
    method: str
    secrets: tuple[tuple[str, str], ...] = ()  # (env var, secret name)
    location: str = ""
    traffic: tuple[Target, ...] = ()  # where the request sends traffic (empty: it does not say)
    status_traffic: tuple[Target, ...] = ()  # the response's traffic status at the time of the call
    plain_secrets: tuple[str, ...] = ()  # secret-looking env vars set as literal values (names only)


@dataclass(kw_only=True)
class RevisionCounts:
    """What the log lines of one revision add up to: the counters, defined once. ``History.observe`` adds
    one record to them; a partial count (the fast path's benign lines) is added with ``merge``."""

    first_seen: str = ""
    last_seen: str = ""
    entries: int = 0
    requests: int = 0
    served: int = 0  # answered by the app: status < 500 and not 429
    errors_5xx: int = 0
    errors_429: int = 0
    starts: int = 0
    probe_passed: int = 0
    probe_failed: int = 0
    exits: int = 0  # non-zero container exits
    clean_exits: int = 0  # exit(0): for a job task, success
    completed: int = 0  # job execution: "has completed successfully"
    aborted: int = 0  # job execution: "has failed"
    last_served: str = ""  # last request the app answered (status < 500, not 429)
    last_request: str = ""  # last request routed to it, whatever its status (it still took traffic)
    location: str = ""
    instances: set[str] = field(default_factory=set)

    def merge(self, other: RevisionCounts) -> None:
        """Add ``other``'s counts, as if its lines had been observed here too (in time order)."""
        if other.first_seen and (not self.first_seen or other.first_seen < self.first_seen):
            self.first_seen = other.first_seen
        self.last_seen = max(self.last_seen, other.last_seen)
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.last_served = max(self.last_served, other.last_served)
        self.last_request = max(self.last_request, other.last_request)
        self.location = self.location or other.location
        self.add_instances(other.instances)

    def add_requests(self, status: int, n: int, last: str) -> bool:
        """``n`` requests answered with ``status``, the latest at ``last``; whether the app served them."""
        self.requests += n
        self.last_request = max(self.last_request, last)
        if status == 429:
            self.errors_429 += n
        elif status >= 500:
            self.errors_5xx += n
        else:
            self.served += n
            self.last_served = max(self.last_served, last)
            return True
        return False

    def add_instance(self, instance: str) -> None:
        self.instances.add(instance)
        if len(self.instances) >= 2 * MAX_INSTANCES:  # trimmed in batches: sorting on every add would be quadratic
            self.trim()

    def add_instances(self, instances: set[str]) -> None:
        """``add_instance`` of each: one union, then the cap. Trimming keeps the smallest MAX_INSTANCES
        whenever it runs, so when it runs does not change what is left (thousands of instances per fast-path
        chunk at 10M entries, added one by one, were a fifth of that run's merge time)."""
        self.instances |= instances
        if len(self.instances) >= 2 * MAX_INSTANCES:
            self.trim()

    def trim(self) -> None:
        if len(self.instances) > MAX_INSTANCES:
            self.instances = set(sorted(self.instances)[:MAX_INSTANCES])


_COUNTERS = (
    "entries",
    "requests",
    "served",
    "errors_5xx",
    "errors_429",
    "starts",
    "probe_passed",
    "probe_failed",
    "exits",
    "clean_exits",
    "completed",
    "aborted",
)


@dataclass
class RevisionState(RevisionCounts):
    service: str
    name: str
    ready: bool | None = None  # last Ready condition seen
    ready_time: str = ""
    ready_message: str = ""
    deployed_at: str = ""
    commit_sha: str = ""
    kind: str = "revision"  # or "execution" (of a Cloud Run job)
    rules: Counter[str] = field(default_factory=Counter)

    @property
    def sort_key(self) -> tuple[int, str, str]:
        seq = revision_seq(self.name)
        return (seq if seq is not None else 10**9, self.deployed_at or self.first_seen, self.name)

    @property
    def is_execution(self) -> bool:
        """A job execution (jobs have no revision numbers; their executions play the part of revisions)."""
        return self.kind == "execution"

    @property
    def healthy(self) -> bool:
        """Got all the way: Ready, or serving, or passed its startup probe without failing after; an
        execution: it completed successfully."""
        if self.is_execution:
            return self.outcome == "succeeded"
        if self.ready is False:
            return False
        return self.ready is True or self.served > 0 or (self.probe_passed > 0 and not self.probe_failed)

    @property
    def failed(self) -> bool:
        if self.is_execution:
            return self.outcome == "failed"
        return self.ready is False or self.probe_failed > 0 or self.exits > 0

    @property
    def outcome(self) -> str:
        """A job execution's outcome: "succeeded", "failed" or "running" (no verdict logged yet)."""
        if self.aborted:
            return "failed"
        if self.completed:
            return "succeeded"
        return "running"

    @property
    def started(self) -> str:
        """When the revision or execution appeared: its deploy, else its first log line."""
        return self.deployed_at or self.first_seen

    @property
    def decisive(self) -> bool:
        """Got far enough to say something about an issue (a revision just created says nothing)."""
        return self.healthy or self.failed or bool(self.rules)


@dataclass
class HistoryPart:
    """Counts of lines that History did not observe one by one (the fast path's benign lines, counted in
    worker processes), added to it with ``History.merge``. Parts merge with each other first."""

    lines: int = 0
    first_ts: str = ""
    last_ts: str = ""
    service_entries: dict[str, int] = field(default_factory=dict)
    revisions: dict[tuple[str, str], RevisionCounts] = field(default_factory=dict)
    urls: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)  # service -> (ts, id, msg, url)
    instance_ready: dict[str, str] = field(default_factory=dict)  # instance -> earliest served request
    projects: dict[str, int] = field(default_factory=dict)  # GCP project -> lines
    locations: dict[str, set[str]] = field(default_factory=dict)  # service -> regions

    def add(
        self, service: str, revision: str, instance: str, project: str, location: str, n: int, first: str, last: str
    ) -> RevisionCounts | None:
        """Count ``n`` lines of one (service, revision, instance, project, location), timed ``first`` to ``last``
        ("" if untimed), as ``History.observe`` would; the revision's counts, for the caller's own counters
        (None when the lines name no revision). ``service`` is the resource's, "" if it names none."""
        if project:
            self.projects[project] = self.projects.get(project, 0) + n
        service = service or service_of_revision(revision)
        if first:
            if not self.first_ts or first < self.first_ts:
                self.first_ts = first
            self.last_ts = max(self.last_ts, last)
        if not service:
            return None
        self.service_entries[service] = self.service_entries.get(service, 0) + n
        if location:
            self.locations.setdefault(service, set()).add(location)
        if not revision:
            return None
        st = self.revisions.get((service, revision))
        if st is None:
            st = self.revisions[(service, revision)] = RevisionCounts()
        st.location = st.location or location
        st.entries += n
        if first:
            if not st.first_seen or first < st.first_seen:
                st.first_seen = first
            st.last_seen = max(st.last_seen, last)
        if instance:
            st.add_instance(instance)
        return st

    def add_requests(self, st: RevisionCounts, instance: str, status: int, n: int, first: str, last: str) -> None:
        """``n`` request-log lines of one status, already counted with ``add``: the request counters."""
        if st.add_requests(status, n, last) and instance:
            _earliest(self.instance_ready, {instance: first})

    def add_counter(self, st: RevisionCounts, counter: str, instance: str, n: int, first: str) -> None:
        """``n`` system-log lines that bump ``counter`` (system_counter), already counted with ``add``."""
        setattr(st, counter, getattr(st, counter) + n)
        if counter == "probe_passed" and instance:
            _earliest(self.instance_ready, {instance: first})

    def offer_url(self, service: str, cand: tuple[str, str, str, str]) -> None:
        """A request (time, insertId, message, URL): the service's URL is its earliest, by that key."""
        if service not in self.urls or cand < self.urls[service]:
            self.urls[service] = cand

    def merge(self, other: HistoryPart) -> None:
        self.lines += other.lines
        if other.first_ts and (not self.first_ts or other.first_ts < self.first_ts):
            self.first_ts = other.first_ts
        self.last_ts = max(self.last_ts, other.last_ts)
        for k, v in other.service_entries.items():
            self.service_entries[k] = self.service_entries.get(k, 0) + v
        for key, counts in other.revisions.items():
            mine = self.revisions.get(key)
            if mine is None:
                self.revisions[key] = counts
            else:
                mine.merge(counts)
        for svc, cand in other.urls.items():
            self.offer_url(svc, cand)
        _earliest(self.instance_ready, other.instance_ready)
        for project, n in other.projects.items():
            self.projects[project] = self.projects.get(project, 0) + n
        for svc, locs in other.locations.items():
            self.locations.setdefault(svc, set()).update(locs)


def _origin(url: str) -> str:
    """``https://api-xyz.run.app/path?q`` -> ``https://api-xyz.run.app``."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _earliest(into: dict[str, str], other: dict[str, str]) -> None:
    get = into.get
    for key, ts in other.items():
        cur = get(key)
        if cur is None or ts < cur:
            into[key] = ts


class History:
    def __init__(self) -> None:
        self.revisions: dict[tuple[str, str], RevisionState] = {}
        self.service_entries: Counter[str] = Counter()
        self.deploys: list[Deploy] = []
        self.urls: dict[str, str] = {}  # service -> https://host seen in its request logs
        # instance -> first time it passed its startup probe or answered a request: before it, the
        # instance was starting (analysis.phase tells startup failures from request-time ones).
        self.instance_ready: dict[str, str] = {}
        self.projects: Counter[str] = Counter()  # GCP project ids seen (for Logs Explorer links)
        self.locations: dict[str, set[str]] = {}  # service or job name -> regions it runs in
        self.jobs: set[str] = set()  # names that are Cloud Run jobs, not services
        self.first_ts = ""
        self.last_ts = ""

    def revision(self, service: str, name: str) -> RevisionState:
        key = (service, name)
        state = self.revisions.get(key)
        if state is None:
            state = self.revisions[key] = RevisionState(service, name)
            if service in self.jobs:
                state.kind = "execution"
        return state

    def place(self, service: str, location: str, state: RevisionState | None = None, job: bool = False) -> None:
        """Note where ``service`` runs (and, given, the revision's region); ``job``: it is a Cloud Run job."""
        if job and service and service not in self.jobs:
            self.jobs.add(service)
            for (svc, _), st in self.revisions.items():
                if svc == service:
                    st.kind = "execution"
        if state is not None and job:
            state.kind = "execution"
        if not location or not service:
            return
        self.locations.setdefault(service, set()).add(location)
        if state is not None and not state.location:
            state.location = location

    def service_id(self, service: str, revision: str = "", location: str = "") -> str:
        """The service a record belongs to: its name, with the region appended when that name runs in
        more than one (``checkout (europe-west1)``). Revisions of one id never mix regions."""
        if len(self.locations.get(service, ())) < 2:
            return service
        if not location and revision:
            state = self.revisions.get((service, revision))
            location = state.location if state else ""
        return f"{service} ({location})" if location else service

    def id_of(self, state: RevisionState) -> str:
        return self.service_id(state.service, location=state.location)

    def observe(self, rec: Record) -> None:
        ts = rec.timestamp
        if ts:
            if not self.first_ts or ts < self.first_ts:
                self.first_ts = ts
            if ts > self.last_ts:
                self.last_ts = ts
        if rec.project:
            self.projects[rec.project] += 1
        service = rec.service or service_of_revision(rec.revision)
        if rec.log == "audit":
            self._audit(rec, service)
            return
        if not service:
            return
        self.service_entries[service] += 1
        job = rec.resource_type == "cloud_run_job"
        if not rec.revision:
            self.place(service, rec.location, job=job)
            return
        state = self.revision(service, rec.revision)
        self.place(service, rec.location, state, job)
        state.entries += 1
        if ts:
            if not state.first_seen or ts < state.first_seen:
                state.first_seen = ts
            if ts > state.last_seen:
                state.last_seen = ts
        if rec.instance:
            state.add_instance(rec.instance)
        if rec.log == "requests" and service not in self.urls and rec.request_url.startswith("http"):
            self.urls[service] = _origin(rec.request_url)
        if rec.log == "requests" and rec.http_status is not None:
            if state.add_requests(rec.http_status, 1, ts) and rec.instance and rec.instance not in self.instance_ready:
                self.instance_ready[rec.instance] = ts
        elif rec.log == "system":
            counter = system_counter(rec.message)
            if counter:
                setattr(state, counter, getattr(state, counter) + 1)
            if counter == "probe_passed" and rec.instance and rec.instance not in self.instance_ready:
                self.instance_ready[rec.instance] = ts

    def _audit(self, rec: Record, service: str) -> None:
        location = rec.location or location_of(rec.payload or {})
        e = _EXECUTION.search(rec.message) if rec.resource_type == "cloud_run_job" and service else None
        if e:
            state = self.revision(service, rec.revision or e["ex"])
            self.place(service, location, state, job=True)
            counter = system_counter(rec.message)
            setattr(state, counter, getattr(state, counter) + 1)
            return
        m = _READY.search(rec.message)
        if m:
            revision = m["rev"]
            state = self.revision(service or service_of_revision(revision), revision)
            self.place(state.service, location, state)
            if rec.timestamp >= state.ready_time:
                state.ready = {"True": True, "False": False}.get(m["state"])
                state.ready_time = rec.timestamp
                state.ready_message = (m["msg"] or "").strip()
            return
        if rec.method.endswith(_DEPLOY_METHODS) and rec.audit_kind == "activity" and service:
            self.service_entries[service] += 1
            payload = rec.payload or {}
            revision = deployed_revision(payload)
            deploy = Deploy(rec.timestamp, service, revision, rec.commit_sha, rec.method, tuple(secret_refs(payload)),
                            location, traffic_targets(payload), traffic_targets(payload, status=True),
                            tuple(sorted(set(plain_secret_envs(payload)))))  # fmt: skip
            self.deploys.append(deploy)
            self.place(service, location)
            if revision:
                state = self.revision(service, revision)
                self.place(service, location, state)
                # Records arrive in time order, but keep the earliest anyway: a traffic change names the
                # revision it leaves as latest, and must not move that revision's deploy time.
                if not state.deployed_at or rec.timestamp < state.deployed_at:
                    state.deployed_at = rec.timestamp
                    state.commit_sha = rec.commit_sha or state.commit_sha

    def observe_matches(self, matches: Iterable[Any]) -> None:
        for m in matches:
            ev = m.event
            if ev.revision:
                self.revision(ev.service or service_of_revision(ev.revision), ev.revision).rules[m.rule.id] += 1

    def merge(self, part: HistoryPart, first_urls: dict[str, tuple[str, str, str, str]]) -> None:
        """Add a part counted elsewhere, as if each of its lines had been observed in time order.
        ``first_urls``: the first request URL per service among the observed records, by the same sort key
        as the part's (the earlier of both is the service's URL)."""
        if part.first_ts and (not self.first_ts or part.first_ts < self.first_ts):
            self.first_ts = part.first_ts
        self.last_ts = max(self.last_ts, part.last_ts)
        for service, n in part.service_entries.items():
            self.service_entries[service] += n
        for (service, name), counts in part.revisions.items():
            state = self.revision(service, name)
            state.merge(counts)
            self.place(service, counts.location, state)
        for service, locations in part.locations.items():
            for location in sorted(locations):
                self.place(service, location)
        for project, n in part.projects.items():
            self.projects[project] += n
        _earliest(self.instance_ready, part.instance_ready)  # the first in time order, as observe keeps it
        for service, cand in part.urls.items():
            full = first_urls.get(service)
            if full is None or cand < full:
                self.urls[service] = _origin(cand[3])

    def finish(self) -> None:
        """After the last record: every revision keeps exactly its MAX_INSTANCES smallest instance ids."""
        for state in self.revisions.values():
            state.trim()

    def service_revisions(self, service: str) -> list[RevisionState]:
        """Revisions (or job executions) of the service id ``service``, oldest first: by revision number,
        then time. Executions have no number: time alone orders them."""
        mine = [s for s in self.revisions.values() if self.id_of(s) == service]
        return sorted(mine, key=lambda s: s.sort_key)

    def deploys_of(self, service: str) -> list[Deploy]:
        """Deploy and traffic entries of the service id ``service``, in time order."""
        mine = [d for d in self.deploys if self.service_id(d.service, d.revision, d.location) == service]
        return sorted(mine, key=lambda d: d.time)

    def entries_of(self, service: str) -> int:
        """Entries of a service id: all of the name's when it runs in one region, else its revisions'."""
        if service in self.service_entries:
            return self.service_entries[service]
        return sum(s.entries for s in self.service_revisions(service))

    def services(self) -> list[str]:
        """Service (and job) ids: one per name and region."""
        names = set(self.service_entries) | {svc for svc, _ in self.revisions}
        ids = {self.id_of(s) for s in self.revisions.values()}
        ids |= {n for n in names if len(self.locations.get(n, ())) < 2}
        ids |= {self.service_id(d.service, d.revision, d.location) for d in self.deploys}
        return sorted(n for n in ids if n)
