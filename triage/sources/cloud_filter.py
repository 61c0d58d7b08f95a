"""The Cloud Logging query a live run sends: which resources, logs, window, severity and pushdown terms.

Kept apart from the client code so the exact filter text can be built and tested without the library.
The filter always carries an explicit ``timestamp>=`` clause: ``list_entries`` (and the Logs Explorer)
silently add a 24-hour one when a filter has none, which would cut a ``--since 2d`` window short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from triage.errors import TriageError
from triage.records import SEVERITY_LEVELS

# The API rejects longer filters with 400 INVALID_ARGUMENT.
MAX_FILTER_CHARS = 20_000

RESOURCE_TYPES = ("cloud_run_revision", "cloud_run_job")
# Container output: the only logs the pushdown keywords narrow.
CONTAINER_LOGS = ("run.googleapis.com/stdout", "run.googleapis.com/stderr")
# Logs status inference needs in full: requests, instance starts/probes, deploys, Ready changes.
PLATFORM_LOGS = (
    "run.googleapis.com/requests",
    "run.googleapis.com/varlog/system",
)
AUDIT_LOGS = (
    "cloudaudit.googleapis.com/activity",
    "cloudaudit.googleapis.com/system_event",
)


@dataclass(frozen=True)
class CloudQuery:
    """What to pull. ``start``/``end`` are aware datetimes; ``end`` None means "until now"."""

    project: str
    start: datetime
    end: datetime | None = None
    services: tuple[str, ...] = ()  # empty: every Cloud Run service and job of the project
    severity: str | None = None  # floor for container, request and system logs; audit logs always come
    limit: int | None = None
    pushdown: tuple[str, ...] = ()  # literal keywords; matched server-side against stdout/stderr only

    def __post_init__(self) -> None:
        if not self.project:
            raise TriageError("a project is required for a live run (--project)")
        if self.start.tzinfo is None or (self.end is not None and self.end.tzinfo is None):
            raise TriageError("the time window must be timezone-aware")
        if self.end is not None and self.end <= self.start:
            raise TriageError(f"--to ({rfc3339(self.end)}) must be after --from ({rfc3339(self.start)})")
        if self.severity is not None and self.severity.upper() not in SEVERITY_LEVELS:
            names = ", ".join(SEVERITY_LEVELS)
            raise TriageError(f"unknown severity {self.severity!r} (one of {names})")
        if self.limit is not None and self.limit <= 0:
            raise TriageError("--limit must be a positive number")

    @property
    def resource_name(self) -> str:
        return f"projects/{self.project}"


def rfc3339(moment: datetime) -> str:
    """UTC, ``Z`` suffix, microseconds only when present: the form the Logging API documents."""
    moment = moment.astimezone(UTC)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if moment.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return moment.strftime(fmt)


def quote(value: str) -> str:
    """A Logging query string literal: backslash and double quote are the only escapes needed."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def log_name(project: str, log_id: str) -> str:
    # logName holds the log id URL-encoded; "/" is the only character Cloud Run's ids need escaped.
    return f"projects/{project}/logs/{log_id.replace('/', '%2F')}"


def _any_of(field: str, values: tuple[str, ...] | list[str]) -> str:
    terms = [f"{field}={quote(v)}" for v in values]
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def build_filter(query: CloudQuery, *, pushdown: bool = True) -> str:
    """The filter text, one clause per line (newlines are whitespace to the query language)."""
    p = query.project
    clauses = [f"timestamp>={quote(rfc3339(query.start))}"]
    if query.end is not None:
        clauses.append(f"timestamp<={quote(rfc3339(query.end))}")
    clauses.append(_any_of("resource.type", list(RESOURCE_TYPES)))
    if query.services:
        # A name may be a service or a job: match both labels, each only exists on its own resource type.
        names = list(query.services)
        both = [f"resource.labels.service_name={quote(s)}" for s in names]
        both += [f"resource.labels.job_name={quote(s)}" for s in names]
        clauses.append("(" + " OR ".join(both) + ")")

    severity = f" AND severity>={query.severity.upper()}" if query.severity else ""
    container = _any_of("logName", [log_name(p, x) for x in CONTAINER_LOGS])
    if pushdown and query.pushdown:
        terms = " OR ".join(quote(k) for k in query.pushdown)
        container = f"({container} AND ({terms}))"
    platform = _any_of("logName", [log_name(p, x) for x in PLATFORM_LOGS])
    audit = _any_of("logName", [log_name(p, x) for x in AUDIT_LOGS])
    if severity:
        container, platform = f"({container}{severity})", f"({platform}{severity})"
    clauses.append(f"(\n  {container}\n  OR {platform}\n  OR {audit}\n)")
    return "\nAND ".join(clauses)


def filter_with_fallback(query: CloudQuery) -> tuple[str, list[str]]:
    """(filter, notes): drop the pushdown terms when they would push the filter past the API's limit."""
    notes: list[str] = []
    text = build_filter(query)
    if query.pushdown and len(text) > MAX_FILTER_CHARS:
        text = build_filter(query, pushdown=False)
        notes.append(
            f"pushdown skipped: {len(query.pushdown)} keywords would exceed the "
            f"{MAX_FILTER_CHARS:,}-character filter limit; pulled all container output instead"
        )
    if len(text) > MAX_FILTER_CHARS:
        raise TriageError(
            f"the Cloud Logging filter would be {len(text):,} characters (limit {MAX_FILTER_CHARS:,}); "
            "name fewer --service values"
        )
    return text, notes
