"""Normalise a Cloud Logging LogEntry (any payload shape) into one typed, immutable record.

This is the only place that knows the LogEntry layout; everything downstream sees ``Record``.
Unknown or wrong-typed fields degrade to empty values instead of raising: logs are untrusted input.
A mapping that is not a LogEntry at all raises ``NotAnEntry`` so the caller can count it as malformed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

# Cloud Logging's LogSeverity numbers; DEFAULT (0) is what plain stderr lines get.
SEVERITY_LEVELS: dict[str, int] = {
    "DEFAULT": 0,
    "DEBUG": 100,
    "INFO": 200,
    "NOTICE": 300,
    "WARNING": 400,
    "ERROR": 500,
    "CRITICAL": 600,
    "ALERT": 700,
    "EMERGENCY": 800,
}
_LEVEL_NAMES = {v: k for k, v in SEVERITY_LEVELS.items()}
_SEVERITY_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "ERR": "ERROR", "CRIT": "CRITICAL"}

# logName suffix (after /logs/, URL-decoded) -> log kind
LOG_KINDS: dict[str, str] = {
    "run.googleapis.com/stdout": "stdout",
    "run.googleapis.com/stderr": "stderr",
    "run.googleapis.com/requests": "requests",
    "run.googleapis.com/varlog/system": "system",
    "cloudaudit.googleapis.com/activity": "audit",
    "cloudaudit.googleapis.com/system_event": "audit",
    "cloudaudit.googleapis.com/data_access": "audit",
}
# The application's own output: Cloud Run's stdout and stderr, and any other log it writes (a client
# library's log name, pasted text). Stack traces are reassembled from these.
APP_LOGS = frozenset({"stdout", "stderr", "other"})
# Finer audit kind, kept in ``audit_kind`` because status inference treats them differently.
_AUDIT_KINDS = {
    "cloudaudit.googleapis.com/activity": "activity",
    "cloudaudit.googleapis.com/system_event": "system_event",
    "cloudaudit.googleapis.com/data_access": "data_access",
}
# jsonPayload keys that carry a traceback next to ``message`` (structlog, python-json-logger, GCP libs).
EXC_KEYS = ("exc_info", "stack_trace", "exception", "traceback", "stacktrace", "error", "err")
MESSAGE_KEYS = ("message", "msg", "textPayload", "event", "log")


# A canonical timestamp (normalize_timestamp's output shape) that names a real instant: months 01-12,
# each month's last day, February 29 in leap years only, hours 00-23, no second 60, no year 0000. A
# canonical-looking impossible one must not pass unread: from_entry counts it as malformed. Such a string
# is its own normal form, so normalize_timestamp returns it after one regex check (fastscan uses it too).
_MONTH_DAY = r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
_LEAP_DAY = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29"
CANONICAL_TS = (
    rf"(?!0000)(?:[0-9]{{4}}-{_MONTH_DAY}|{_LEAP_DAY})T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{{6}}Z"
)
_CANONICAL = re.compile(CANONICAL_TS)


class NotAnEntry(ValueError):
    """The mapping has none of the fields a LogEntry has."""


@dataclass(frozen=True, slots=True)
class Record:
    timestamp: str  # RFC 3339 UTC with microseconds ("2025-09-05T10:00:00.123456Z"); "" if unknown
    severity: str  # Cloud Logging severity name; "DEFAULT" when absent
    service: str  # Cloud Run service (or job) name; "" if not a Cloud Run resource
    revision: str  # revision (or job execution) name
    instance: str
    log: str  # stdout, stderr, requests, system, audit, other
    message: str
    http_status: int | None = None
    latency_s: float | None = None
    request_url: str = ""
    trace: str = ""
    insert_id: str = ""
    resource_type: str = ""
    audit_kind: str = ""  # activity, system_event, data_access (audit logs only)
    method: str = ""  # audit methodName
    resource_name: str = ""  # audit resourceName
    labels: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] | None = None  # audit protoPayload, kept for deploy/secret analysis
    project: str = ""  # GCP project id (resource label project_id, else logName projects/P/...)
    location: str = ""  # Cloud Run region (resource label location): a service is (name, location)

    @property
    def level(self) -> int:
        return SEVERITY_LEVELS.get(self.severity, 0)

    @property
    def commit_sha(self) -> str:
        return self.labels.get("commit-sha", "") or self.labels.get("commit_sha", "")


def severity_name(value: Any) -> str:
    """Map whatever a logger put in ``severity`` to a Cloud Logging severity name."""
    if isinstance(value, str):
        name = value.strip().upper()
        name = _SEVERITY_ALIASES.get(name, name)
        return name if name in SEVERITY_LEVELS else "DEFAULT"
    if isinstance(value, int) and not isinstance(value, bool):
        return _LEVEL_NAMES.get(value, "DEFAULT")
    return "DEFAULT"


def normalize_timestamp(value: Any) -> str:
    """Return RFC 3339 UTC with exactly six fractional digits, or "" if unparseable.

    Fixed width makes string order equal time order, so the rest of the tool sorts strings.
    """
    if type(value) is str and _CANONICAL.fullmatch(value):
        return value  # already the output shape (Cloud Logging's own): one C-level check instead of the parse
    if type(value) is not str and isinstance(value, Mapping):  # protobuf Timestamp as a mapping {seconds, nanos}
        try:
            secs = int(value.get("seconds", 0)) + int(value.get("nanos", 0)) / 1e9
            return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        except (TypeError, ValueError, OverflowError, OSError):
            return ""
    if not isinstance(value, str) or len(value) < 19:
        return ""
    s = value.strip()
    # Fast path: already "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z", the shape Cloud Logging writes.
    # Every other position must be an ASCII digit: str.isdigit() alone accepts other scripts' digits, and
    # the result goes into reports verbatim, so "2025-01-01T<script>Z" must not pass.
    if s.endswith("Z") and s[4:5] == "-" and s[10:11] in "Tt " and s.isascii():
        head, frac = s[:19], s[19:-1]
        digits = head[:4] + head[5:7] + head[8:10] + head[11:13] + head[14:16] + head[17:19]
        if (
            (not frac or (frac[0] == "." and frac[1:].isdigit()))
            and digits.isdigit()
            and head[7] + head[13] + head[16] == "-::"
        ):
            if not _in_range(head):
                return ""  # "2025-99-99T99:99:99Z", "2025-02-30T...", hour 24: not a date, never a report's
            frac_digits = (frac[1:] + "000000")[:6]
            return f"{head[:10]}T{head[11:]}.{frac_digits}Z"
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except OverflowError:  # year 1 or 9999 shifted out of range by its offset
        return ""


# Last day of each month as two digits (index = month); February's 29 is checked against the year.
_LAST_DAY = ("", "31", "29", "31", "30", "31", "30", "31", "31", "30", "31", "30", "31")


def _in_range(head: str) -> bool:
    """Whether "YYYY-MM-DDTHH:MM:SS" (all positions ASCII digits) names a real instant, as the full parse
    (datetime.fromisoformat) would decide: fixed-width digit strings compare like their numbers, so this
    is string comparisons, no int() per field. A leap second (:60) is refused like the full parse does:
    Google smears leap seconds, and the rest of the tool reads these strings back with fromisoformat."""
    month, day = head[5:7], head[8:10]
    if not ("01" <= month <= "12" and "01" <= day <= _LAST_DAY[int(month)] and head[:4] != "0000"):
        return False
    if head[11:13] > "23" or head[14:16] > "59" or head[17:19] > "59":
        return False
    if month == "02" and day == "29":
        year = int(head[:4])
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return True


def epoch_seconds(ts: str) -> float | None:
    """Seconds since the epoch of a normalised timestamp, or None for "" or garbage."""
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _str_map(value: Any) -> dict[str, str]:
    if type(value) is not dict and not isinstance(value, Mapping):  # the exact-type test first: ABC checks cost
        return {}
    # Labels are map<string, string>; scalars of another type are stringified, nested values dropped
    # (their repr could be megabytes, or recurse past the interpreter's limit).
    out: dict[str, str] = {}
    for k, v in value.items():
        if type(v) is str:
            out[k if type(k) is str else str(k)] = v
        elif isinstance(v, str | int | float | bool):  # a str subclass, or a scalar: as a plain string
            out[str(k)] = str(v)
    return out


@lru_cache(maxsize=4096)  # a run has a few distinct logNames, each seen on many lines
def log_kind(log_name: str) -> tuple[str, str]:
    """(kind, audit_kind) for a logName like ``projects/p/logs/run.googleapis.com%2Fstderr``."""
    _, sep, tail = log_name.partition("/logs/")
    if not sep:
        tail = log_name
    tail = tail.replace("%2F", "/").replace("%2f", "/")
    return LOG_KINDS.get(tail, "other"), _AUDIT_KINDS.get(tail, "")


def _latency(value: Any) -> float | None:
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            return None
    if isinstance(value, Mapping):  # Duration as {seconds, nanos}
        try:
            return int(value.get("seconds", 0)) + int(value.get("nanos", 0)) / 1e9
        except (TypeError, ValueError):
            return None
    return None


def json_message(payload: Mapping[str, Any]) -> str:
    msg = ""
    for key in MESSAGE_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value:
            msg = value
            break
    extras = []
    for key in EXC_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value and value not in msg:
            extras.append(value)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            extras.append("".join(value))
    if extras:
        msg = "\n".join([msg, *extras]) if msg else "\n".join(extras)
    if not msg:
        # No message key: keep the payload's scalar fields so rules still see the text.
        msg = " ".join(f"{k}={v}" for k, v in payload.items() if isinstance(v, str | int | float))
    return msg


def _audit_message(proto: Mapping[str, Any]) -> str:
    parts = [_str(proto.get("methodName")), _str(proto.get("resourceName"))]
    status = proto.get("status")
    if isinstance(status, Mapping) and isinstance(status.get("message"), str):
        parts.append(status["message"])
    return " ".join(p for p in parts if p)


_APP_TIME_KEYS = ("time", "ts", "timestamp", "@timestamp", "t")
_APP_LEVEL_KEYS = ("level", "severity", "lvl", "levelname")


def _app_line(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """An application's own JSON log line (docker's json-file `{"log", "stream", "time"}`, pino, zap,
    bunyan, winston, structlog: a message field, no LogEntry field), as the LogEntry Cloud Run makes of
    such a line on stdout: its jsonPayload. An object with no message field is not a log line (None)."""
    error = obj.get("error")
    has_message = any(isinstance(obj.get(k), str) for k in ("message", "msg", "log", "err", "error")) or (
        isinstance(error, Mapping) and isinstance(error.get("message"), str)
    )
    if not has_message:
        return None
    payload = dict(obj)
    if isinstance(obj.get("log"), str):  # docker keeps the line's newline
        payload["log"] = obj["log"].rstrip("\r\n")
    if isinstance(error, Mapping):  # a Google API error body: {"error": {"code", "message", "status"}}
        payload.setdefault("message", " ".join(str(v) for v in error.values() if isinstance(v, str | int)))
    entry: dict[str, Any] = {"jsonPayload": payload, "logName": "text"}
    stamp = next((obj[k] for k in _APP_TIME_KEYS if k in obj), None)
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        try:  # epoch seconds (zap, pino in ms)
            secs = stamp / 1000 if stamp > 1e11 else stamp
            stamp = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        except (OverflowError, OSError, ValueError):
            stamp = None
    # An app's own time format varies ("2024-11-01 09:11:24.798 Z", "05/Sep/2025:10:00:00"): one triage
    # cannot read leaves the line untimed, it does not make a good line malformed (a whole file rejected).
    if stamp is not None and normalize_timestamp(stamp):
        entry["timestamp"] = stamp
    level = next((obj[k] for k in _APP_LEVEL_KEYS if k in obj), None)
    if level is not None:
        entry["severity"] = level
    return entry


def from_entry(entry: Any) -> Record:
    """Normalise one LogEntry mapping (REST/JSON shape, camelCase keys)."""
    if type(entry) is not dict and not isinstance(entry, Mapping):
        raise NotAnEntry(f"expected a JSON object, got {type(entry).__name__}")
    if (  # no payload key or logName (tested one by one: a generator here costs per entry)
        "textPayload" not in entry
        and "jsonPayload" not in entry
        and "protoPayload" not in entry
        and "httpRequest" not in entry
        and "logName" not in entry
    ):
        # An app's own JSON line may carry a "timestamp" of its own (zap, Mattermost, structlog): with a
        # message field it is that app line, whatever its time looks like. With a resource too, it is a
        # LogEntry that lost its payload, as before.
        app = _app_line(entry) if "timestamp" not in entry or "resource" not in entry else None
        if app is not None:
            entry = app
        elif "timestamp" not in entry:
            raise NotAnEntry("no LogEntry fields (timestamp, logName or a payload)")

    resource = entry.get("resource")
    rtype = ""
    rlabels: dict[str, str] = {}
    if type(resource) is dict or isinstance(resource, Mapping):
        rtype = _str(resource.get("type"))
        rlabels = _str_map(resource.get("labels"))
    labels = _str_map(entry.get("labels"))
    log_name = _str(entry.get("logName"))
    kind, audit_kind = log_kind(log_name)

    service = rlabels.get("service_name") or rlabels.get("job_name") or ""
    revision = rlabels.get("revision_name") or labels.get("run.googleapis.com/execution_name", "")
    instance = labels.get("instanceId", "")
    method = resource_name = ""
    payload: Mapping[str, Any] | None = None

    text = entry.get("textPayload")
    jp = entry.get("jsonPayload")
    pp = entry.get("protoPayload")
    if isinstance(text, str):
        message = text
    elif type(jp) is dict or isinstance(jp, Mapping):
        message = json_message(jp)
    elif isinstance(pp, Mapping):
        payload = pp
        method = _str(pp.get("methodName"))
        resource_name = _str(pp.get("resourceName"))
        message = _audit_message(pp)
        # Audit entries name the service or revision in resourceName: namespaces/P/services/S
        parts = resource_name.split("/")
        if len(parts) >= 2 and parts[-2] in ("services", "revisions", "jobs"):
            if parts[-2] == "revisions":
                revision = revision or parts[-1]
            else:
                service = service or parts[-1]
    else:
        message = ""

    http = entry.get("httpRequest")
    status = latency = None
    url = ""
    if isinstance(http, Mapping):
        raw_status = http.get("status")
        if isinstance(raw_status, int) and not isinstance(raw_status, bool):
            status = raw_status
        elif isinstance(raw_status, str) and raw_status.isascii() and raw_status.isdigit():  # not "²"
            status = int(raw_status)
        latency = _latency(http.get("latency"))
        url = _str(http.get("requestUrl"))
        if not message:
            message = f"{_str(http.get('requestMethod'))} {status or ''} {url}".strip()

    raw_ts = entry.get("timestamp") or entry.get("receiveTimestamp")
    timestamp = normalize_timestamp(raw_ts)
    if raw_ts and not timestamp:
        # A timestamp that is there but names no real instant ("2025-02-30T...", hour 24) would become a
        # report's date or vanish from the time range: the entry is malformed, counted with this reason.
        # The value itself is not repeated: it is untrusted log text.
        raise NotAnEntry("timestamp is not a valid RFC 3339 date and time")
    return Record(
        timestamp=timestamp,
        severity=severity_name(entry.get("severity")),
        service=service,
        revision=revision,
        instance=instance,
        log=kind,
        message=message,
        http_status=status,
        latency_s=latency,
        request_url=url,
        trace=_str(entry.get("trace")),
        insert_id=_str(entry.get("insertId")),
        resource_type=rtype,
        audit_kind=audit_kind,
        method=method,
        resource_name=resource_name,
        labels=labels,
        payload=payload,
        project=rlabels.get("project_id") or project_of(log_name),
        location=rlabels.get("location", ""),
    )


def project_of(log_name: str) -> str:
    """``projects/P/logs/...`` -> P (the logName of every LogEntry starts with its project)."""
    if log_name.startswith("projects/"):
        return log_name[9:].partition("/")[0]
    return ""
