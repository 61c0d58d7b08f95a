"""The GoogleSQL a ``--bigquery`` run sends, and its rows turned back into REST LogEntry mappings.

Kept apart from the client (triage/sources/bigquery.py, whose docstring cites the two schemas) so the
exact query text and the row conversion can be built and tested without the library.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from triage.errors import TriageError
from triage.sources.cloud_filter import AUDIT_LOGS, CONTAINER_LOGS, PLATFORM_LOGS, RESOURCE_TYPES, rfc3339

LOG_IDS = (*CONTAINER_LOGS, *PLATFORM_LOGS, *AUDIT_LOGS)
_SHARD = re.compile(r"^(?P<base>.+)_(?P<day>\d{8})$")
_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")
_AUDIT_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"


@dataclass(frozen=True)
class Table:
    """What ``--bigquery`` names: a Log Analytics view (3 or 4 parts) or a sink dataset (2 parts)."""

    kind: str  # "log_analytics" or "sink"
    project: str
    path: str  # the whole name, e.g. "p.us.bucket._AllLogs" or "p.dataset"

    @classmethod
    def parse(cls, text: str) -> Table:
        name = text.strip().strip("`")
        parts = name.split(".")
        if not _NAME.match(name) or len(parts) not in (2, 3, 4) or not all(parts):
            raise TriageError(
                f"--bigquery {text!r}: expected PROJECT.LOCATION.BUCKET._AllLogs, PROJECT.DATASET._AllLogs "
                "(Log Analytics) or PROJECT.DATASET (a log sink's dataset)"
            )
        return cls("sink" if len(parts) == 2 else "log_analytics", parts[0], name)


@dataclass(frozen=True)
class BigQueryQuery:
    """What to read; ``start``/``end`` are aware datetimes (inclusive, as the Cloud Logging filter)."""

    table: Table
    start: datetime
    end: datetime
    services: tuple[str, ...] = ()
    billing_project: str = ""  # default: the table's project
    maximum_bytes_billed: int | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise TriageError("the time window must be timezone-aware")
        if self.end <= self.start:
            raise TriageError(f"--to ({rfc3339(self.end)}) must be after --from ({rfc3339(self.start)})")
        if self.maximum_bytes_billed is not None and self.maximum_bytes_billed <= 0:
            raise TriageError("--maximum-bytes-billed must be a positive number of bytes")

    @property
    def project(self) -> str:
        return self.billing_project or self.table.project


@dataclass(frozen=True)
class PlannedQuery:
    label: str  # what it reads, for notes: the table (pattern) name
    sql: str
    params: tuple[tuple[str, str, Any], ...]  # (name, BigQuery type, value); ARRAY<STRING> as "STRING[]"


# -- planning (no client needed) ------------------------------------------------------------------------
def _window_params(query: BigQueryQuery) -> list[tuple[str, str, Any]]:
    return [
        ("start", "TIMESTAMP", query.start.astimezone(UTC)),
        ("end", "TIMESTAMP", query.end.astimezone(UTC)),
        ("resource_types", "STRING[]", list(RESOURCE_TYPES)),
    ]


def _services_clause(query: BigQueryQuery, labels: str) -> tuple[str, list[tuple[str, str, Any]]]:
    if not query.services:
        return "", []
    # A name may be a service or a job; each label exists only on its own resource type.
    clause = (
        f"\n  AND (JSON_VALUE({labels}, '$.service_name') IN UNNEST(@services)"
        f" OR JSON_VALUE({labels}, '$.job_name') IN UNNEST(@services))"
    )
    return clause, [("services", "STRING[]", list(query.services))]


def log_analytics_query(query: BigQueryQuery, ordered: bool = True) -> PlannedQuery:
    services, extra = _services_clause(query, "t.resource.labels")
    sql = (
        "SELECT t.timestamp AS ts, TO_JSON_STRING(t) AS entry\n"
        f"FROM `{query.table.path}` AS t\n"
        "WHERE t.timestamp >= @start AND t.timestamp <= @end\n"
        "  AND t.resource.type IN UNNEST(@resource_types)\n"
        f"  AND t.log_id IN UNNEST(@log_ids){services}"
    )
    sql += "\nORDER BY t.timestamp, t.insert_id" if ordered else ""
    params = [*_window_params(query), ("log_ids", "STRING[]", list(LOG_IDS)), *extra]
    return PlannedQuery(query.table.path, sql, tuple(params))


def table_base(log_id: str) -> str:
    """The sink's table name for a log id: ``run.googleapis.com/stderr`` -> ``run_googleapis_com_stderr``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", log_id)


def _days(query: BigQueryQuery) -> tuple[str, str]:
    first, last = query.start.astimezone(UTC).date(), query.end.astimezone(UTC).date()
    return first.strftime("%Y%m%d"), last.strftime("%Y%m%d")


def sink_queries(
    query: BigQueryQuery, table_ids: Sequence[str], ordered: bool = True
) -> tuple[list[PlannedQuery], list[str]]:
    """One query per log found in the dataset: shards by ``_TABLE_SUFFIX``, a partitioned table by time;
    ``ordered=False`` leaves out the ORDER BY (for the push-down plan, which reads them as one)."""
    order = "\nORDER BY t.timestamp, t.insertId" if ordered else ""
    plain = set(table_ids)
    shards: dict[str, list[str]] = {}
    for table_id in table_ids:
        if match := _SHARD.match(table_id):
            shards.setdefault(match["base"], []).append(match["day"])
    first, last = _days(query)
    services, extra = _services_clause(query, "TO_JSON_STRING(t.resource.labels)")
    where = "t.timestamp >= @start AND t.timestamp <= @end\n  AND t.resource.type IN UNNEST(@resource_types)" + services
    planned: list[PlannedQuery] = []
    missing: list[str] = []
    dataset = query.table.path
    for log_id in LOG_IDS:
        base = table_base(log_id)
        found = False
        if base in plain:  # a partitioned table (on ``timestamp``): the predicate prunes partitions
            found = True
            sql = f"SELECT t.timestamp AS ts, TO_JSON_STRING(t) AS entry\nFROM `{dataset}.{base}` AS t\nWHERE {where}"
            planned.append(PlannedQuery(f"{dataset}.{base}", sql + order, ()))
        days = shards.get(base, [])
        if days:
            found = True
            if any(first <= day <= last for day in days):  # no shard in the window: no job at all
                sql = (
                    f"SELECT t.timestamp AS ts, TO_JSON_STRING(t) AS entry\nFROM `{dataset}.{base}_*` AS t\n"
                    f"WHERE _TABLE_SUFFIX BETWEEN @first_day AND @last_day\n  AND {where}{order}"
                )
                days_params = (("first_day", "STRING", first), ("last_day", "STRING", last))
                planned.append(PlannedQuery(f"{dataset}.{base}_*", sql, days_params))
        if not found:
            missing.append(log_id)
    params = (*_window_params(query), *extra)
    planned = [PlannedQuery(p.label, p.sql, (*params, *p.params)) for p in planned]
    notes = [f"BigQuery: no table for {', '.join(missing)} in dataset {dataset}"] if missing else []
    return planned, notes


# -- rows -> LogEntry mappings ------------------------------------------------------------------------
@functools.cache
def _camel(name: str) -> str:  # column names repeat on every row
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def bigquery_timestamp(value: Any) -> str:
    """A TIMESTAMP value as the RFC 3339 text a LogEntry holds."""
    if isinstance(value, datetime):
        return rfc3339(value if value.tzinfo else value.replace(tzinfo=UTC))
    return str(value or "")


_LA_JSON = {"text_payload": "textPayload", "json_payload": "jsonPayload", "proto_payload": "protoPayload"}
_LA_SKIP = frozenset({"log_id", "severity_number"})  # derived columns, not LogEntry fields


def from_log_analytics(ts: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A Log Analytics row (snake_case columns, JSON payloads) as a REST LogEntry."""
    entry: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or key in _LA_SKIP:
            continue
        if key in _LA_JSON:  # the payload as written, nulls inside it included
            entry[_LA_JSON[key]] = value
        elif key in ("labels", "resource"):
            if value:
                entry[key] = value
        elif isinstance(value, dict):  # http_request, operation, source_location, split: STRUCT columns
            fields = {_camel(k): v for k, v in value.items() if v is not None}
            if fields:
                entry[_camel(key)] = fields
        elif value != []:
            entry[_camel(key)] = value
    entry["timestamp"] = bigquery_timestamp(ts)
    return entry


# Label keys the pipeline reads, as a sink stores them (lower-cased, "." and "/" as "_").
_SINK_LABELS = {"instanceid": "instanceId", "run_googleapis_com_execution_name": "run.googleapis.com/execution_name"}
_AUDIT_JSON = {"requestJson": "request", "responseJson": "response", "metadataJson": "metadata"}


def from_sink(ts: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A sink table's row (LogEntry field names) as a REST LogEntry."""
    entry = _drop_nulls(row)
    audit = entry.pop("protopayload_auditlog", None)
    if isinstance(audit, dict):
        proto: dict[str, Any] = {"@type": _AUDIT_TYPE}
        for key, value in audit.items():
            if key in _AUDIT_JSON and isinstance(value, str):
                with contextlib.suppress(orjson.JSONDecodeError):  # else kept as the string it was
                    value = orjson.loads(value)
                key = _AUDIT_JSON[key]
            proto[key] = value
        entry["protoPayload"] = proto
    labels = entry.get("labels")
    if isinstance(labels, dict):
        entry["labels"] = {_SINK_LABELS.get(k, k): v for k, v in labels.items()}
    entry["timestamp"] = bigquery_timestamp(ts)
    return entry
