"""Revision history: what each revision of each service did, aggregated from every record.

Statuses need to know how far a revision got (created, instance started, probe passed, Ready, served
requests) and how it failed. This observes records one at a time and keeps counters per revision, never
the records, so it costs constant memory per revision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import regex as re

from triage.records import Record

_REV_SEQ = re.compile(r"^(?P<service>.+)-(?P<seq>\d{5})-[a-z0-9]{2,}$")
_READY = re.compile(
    r"Ready condition status changed to (?P<state>True|False|Unknown) for Revision (?P<rev>[\w-]+)"
    r"(?: with message: (?P<msg>.*))?",
    re.DOTALL,
)
_EXIT = re.compile(r"Container called exit\((?P<code>\d+)\)")
_DEPLOY_METHODS = ("Services.ReplaceService", "Services.CreateService", "Services.UpdateService")


def service_of_revision(revision: str) -> str:
    m = _REV_SEQ.match(revision)
    return m["service"] if m else ""


def system_counter(message: str) -> str:
    """Which revision counter a system-log line bumps: "starts", "probe_passed", "probe_failed", "exits"
    (a non-zero container exit) or ""."""
    if message.startswith("Starting new instance"):
        return "starts"
    if "probe succeeded" in message:
        return "probe_passed"
    if "probe failed" in message:
        return "probe_failed"
    m = _EXIT.search(message)
    return "exits" if m and m["code"] != "0" else ""


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


@dataclass
class RevisionState:
    service: str
    name: str
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
    ready: bool | None = None  # last Ready condition seen
    ready_time: str = ""
    ready_message: str = ""
    deployed_at: str = ""
    commit_sha: str = ""
    instances: set[str] = field(default_factory=set)
    rules: Counter[str] = field(default_factory=Counter)

    @property
    def sort_key(self) -> tuple[int, str, str]:
        seq = revision_seq(self.name)
        return (seq if seq is not None else 10**9, self.deployed_at or self.first_seen, self.name)

    @property
    def healthy(self) -> bool:
        """Got all the way: Ready, or serving, or passed its startup probe without failing after."""
        if self.ready is False:
            return False
        return self.ready is True or self.served > 0 or (self.probe_passed > 0 and not self.probe_failed)

    @property
    def failed(self) -> bool:
        return self.ready is False or self.probe_failed > 0 or self.exits > 0

    @property
    def decisive(self) -> bool:
        """Got far enough to say something about an issue (a revision just created says nothing)."""
        return self.healthy or self.failed or bool(self.rules)


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
        self.first_ts = ""
        self.last_ts = ""

    def revision(self, service: str, name: str) -> RevisionState:
        key = (service, name)
        state = self.revisions.get(key)
        if state is None:
            state = self.revisions[key] = RevisionState(service, name)
        return state

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
        if not rec.revision:
            return
        state = self.revision(service, rec.revision)
        state.entries += 1
        if ts:
            if not state.first_seen or ts < state.first_seen:
                state.first_seen = ts
            if ts > state.last_seen:
                state.last_seen = ts
        if rec.instance and len(state.instances) < 10_000:
            state.instances.add(rec.instance)
        if rec.log == "requests" and service not in self.urls and rec.request_url.startswith("http"):
            scheme, _, rest = rec.request_url.partition("://")
            self.urls[service] = f"{scheme}://{rest.split('/', 1)[0]}"
        if rec.log == "requests" and rec.http_status is not None:
            state.requests += 1
            if rec.http_status == 429:
                state.errors_429 += 1
            elif rec.http_status >= 500:
                state.errors_5xx += 1
            else:
                state.served += 1
                if rec.instance and rec.instance not in self.instance_ready:
                    self.instance_ready[rec.instance] = ts
        elif rec.log == "system":
            counter = system_counter(rec.message)
            if counter:
                setattr(state, counter, getattr(state, counter) + 1)
            if counter == "probe_passed" and rec.instance and rec.instance not in self.instance_ready:
                self.instance_ready[rec.instance] = ts

    def _audit(self, rec: Record, service: str) -> None:
        m = _READY.search(rec.message)
        if m:
            revision = m["rev"]
            state = self.revision(service or service_of_revision(revision), revision)
            if rec.timestamp >= state.ready_time:
                state.ready = {"True": True, "False": False}.get(m["state"])
                state.ready_time = rec.timestamp
                state.ready_message = (m["msg"] or "").strip()
            return
        if rec.method.endswith(_DEPLOY_METHODS) and rec.audit_kind == "activity" and service:
            self.service_entries[service] += 1
            payload = rec.payload or {}
            revision = _deployed_revision(payload)
            deploy = Deploy(rec.timestamp, service, revision, rec.commit_sha, rec.method, tuple(_secret_refs(payload)))
            self.deploys.append(deploy)
            if revision:
                state = self.revision(service, revision)
                state.deployed_at = state.deployed_at or rec.timestamp
                state.commit_sha = state.commit_sha or rec.commit_sha

    def observe_matches(self, matches: Iterable[Any]) -> None:
        for m in matches:
            ev = m.event
            if ev.revision:
                self.revision(ev.service or service_of_revision(ev.revision), ev.revision).rules[m.rule.id] += 1

    def service_revisions(self, service: str) -> list[RevisionState]:
        """Revisions of ``service``, oldest first (by revision number, then time)."""
        return sorted((s for (svc, _), s in self.revisions.items() if svc == service), key=lambda s: s.sort_key)

    def services(self) -> list[str]:
        names = set(self.service_entries) | {svc for svc, _ in self.revisions}
        return sorted(n for n in names if n)


def _get_path(d: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(key)
    return d


def _deployed_revision(payload: Mapping[str, Any]) -> str:
    for path in (
        ("response", "status", "latestCreatedRevisionName"),
        ("response", "latestCreatedRevision"),
        ("request", "service", "spec", "template", "metadata", "name"),
        ("request", "spec", "template", "metadata", "name"),
        ("request", "service", "template", "revision"),
    ):
        value = _get_path(payload, *path)
        if isinstance(value, str) and value:
            return value.rsplit("/", 1)[-1]
    return ""


# A service spec is about ten levels deep; logs are untrusted, and the JSON parser allows ~1000 levels,
# which is past Python's recursion limit.
MAX_SPEC_DEPTH = 64


def _secret_refs(node: Any, env: str = "", depth: int = 0) -> Iterable[tuple[str, str]]:
    """(env var, secret) pairs referenced anywhere in a deploy request (v1 secretKeyRef, v2 secret)."""
    if depth > MAX_SPEC_DEPTH:
        return
    if isinstance(node, Mapping):
        name = node.get("name") if isinstance(node.get("name"), str) else env
        ref = node.get("secretKeyRef")
        if isinstance(ref, Mapping):
            secret = ref.get("name") or ref.get("secret")
            if isinstance(secret, str):
                yield (env, secret.rsplit("/", 1)[-1])
        for key, value in node.items():
            if key != "secretKeyRef":
                yield from _secret_refs(value, name if key in ("valueFrom", "valueSource") else env, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _secret_refs(item, env, depth + 1)
