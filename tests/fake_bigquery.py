"""A fake BigQuery REST server on 127.0.0.1 for the BigQuery source's tests, spoken to by the real client.

It answers what google-cloud-bigquery sends for ``client.query`` + ``job.result`` and ``list_tables``:
``jobs.insert`` (dry runs included: statistics only, no job kept), ``jobs.get``, ``jobs.getQueryResults``
(paged by ``maxResults``/``pageToken``, timestamps as int64 microseconds when the client asks with
``formatOptions.useInt64Timestamp``), ``jobs.query`` and ``tables.list`` (paged). Every request is recorded.

It is no SQL engine: it runs the query *shapes* triage sends. The ``FROM`` table (or ``prefix_*``
wildcard) is read from the SQL text; the filters come from the structured query parameters, and each is
applied only when its predicate is in the SQL (a parameter without its predicate, or the reverse, is a
400 invalidQuery, as BigQuery answers an unknown parameter). Bytes processed are the JSON size of the
scanned rows: whole shards for a wildcard, only the days of the window for partitioned tables and views.
``maximumBytesBilled`` below that fails the job with ``bytesBilledLimitExceeded``.

Rows are stored in the tables' own shapes: ``log_analytics_row`` and ``sink_row`` turn a REST LogEntry into
them following the documented schemas (see triage/sources/bigquery.py's docstring).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from triage.sources.bigquery_sql import table_base

AUDIT_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"
LA_COLUMNS = (
    "timestamp", "receive_timestamp", "log_name", "log_id", "severity", "insert_id", "resource", "labels",
    "http_request", "operation", "trace", "span_id", "trace_sampled", "source_location", "text_payload",
    "json_payload", "proto_payload",
)  # fmt: skip
STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 500: "INTERNAL"}
MESSAGES = {
    "accessDenied": "Access Denied: Table demo:logs.run_googleapis_com_stderr: User does not have permission",
    "notFound": "Not found: Dataset demo:missing",
    "invalidQuery": "Syntax error: Unexpected keyword",
    "backendError": "Backend error",
}


# -- LogEntry -> table rows ---------------------------------------------------------------------------
def log_id_of(entry: dict[str, Any]) -> str:
    return unquote(str(entry.get("logName", "")).split("/logs/", 1)[-1])


def _latency(text: Any) -> Any:
    if isinstance(text, str) and text.endswith("s"):
        seconds, _, frac = text[:-1].partition(".")
        return {"seconds": int(seconds or 0), "nanos": int((frac + "000000000")[:9])}
    return text


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def log_analytics_row(entry: dict[str, Any]) -> dict[str, Any]:
    """A LogEntry as an ``_AllLogs`` row: snake_case columns, JSON payloads and labels."""
    row: dict[str, Any] = dict.fromkeys(LA_COLUMNS)
    resource = entry.get("resource") or {}
    http = entry.get("httpRequest")
    row.update(
        timestamp=entry.get("timestamp"),
        receive_timestamp=entry.get("receiveTimestamp"),
        log_name=entry.get("logName"),
        log_id=log_id_of(entry),
        severity=entry.get("severity"),
        insert_id=entry.get("insertId"),
        resource={"type": resource.get("type"), "labels": resource.get("labels")},
        labels=entry.get("labels"),
        trace=entry.get("trace"),
        span_id=entry.get("spanId"),
        trace_sampled=entry.get("traceSampled"),
        text_payload=entry.get("textPayload"),
        json_payload=entry.get("jsonPayload"),
        proto_payload=entry.get("protoPayload"),
    )
    if isinstance(http, dict):
        converted = {_snake(k): v for k, v in http.items()}
        for size in ("request_size", "response_size", "cache_fill_bytes"):
            if size in converted:
                converted[size] = int(converted[size])
        if "latency" in converted:
            converted["latency"] = _latency(converted["latency"])
        row["http_request"] = converted
    for key in ("operation", "sourceLocation"):
        if isinstance(entry.get(key), dict):
            row[_snake(key)] = {_snake(k): v for k, v in entry[key].items()}
    return row


def _field_name(name: str) -> str:
    """A user-supplied field as a sink names it: lower case, [a-z0-9_] only, no leading underscore."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower()).lstrip("_")


def _sanitize(value: Any) -> Any:
    if isinstance(value, dict):
        return {_field_name(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sanitize(v) for v in value]
    return value


def sink_row(entry: dict[str, Any]) -> dict[str, Any]:
    """A LogEntry as a sink table row: LogEntry names, user fields sanitised, AuditLog flattened."""
    row: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "protoPayload" and isinstance(value, dict) and value.get("@type") == AUDIT_TYPE:
            audit: dict[str, Any] = {}
            for name, item in value.items():
                if name in ("request", "response", "metadata"):
                    audit[name + "Json"] = json.dumps(item, separators=(",", ":"))
                elif name != "@type":
                    audit[name] = item
            row["protopayload_auditlog"] = audit
        elif key in ("jsonPayload", "labels"):
            row[key] = _sanitize(value)
        elif key == "resource" and isinstance(value, dict):
            row[key] = {"type": value.get("type"), "labels": _sanitize(value.get("labels") or {})}
        else:
            row[key] = value
    return row


# -- the server ---------------------------------------------------------------------------------------
def _parse_ts(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class FakeTable:
    rows: list[dict[str, Any]]
    partitioned: bool = False  # by DAY on ``timestamp``
    sizes: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # TO_JSON_STRING of each row, encoded once
    stamps: list[datetime] = field(default_factory=list)

    def __post_init__(self) -> None:
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        # A table's schema is the union of its rows' fields; a row without one reads it as NULL.
        self.rows = [{c: row.get(c) for c in columns} for row in self.rows]
        self.rows.sort(key=lambda r: _parse_ts(r["timestamp"]))
        self.stamps = [_parse_ts(r["timestamp"]) for r in self.rows]
        self.texts = [json.dumps(r, separators=(",", ":")) for r in self.rows]
        self.sizes = [len(t) for t in self.texts]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    body: dict[str, Any]
    authorization: str


@dataclass
class Job:
    resource: dict[str, Any]
    rows: list[tuple[int, str]] = field(default_factory=list)  # (timestamp in microseconds, TO_JSON_STRING)
    error: dict[str, Any] | None = None


class FakeBigQuery:
    def __init__(self) -> None:
        self.tables: dict[str, FakeTable] = {}
        self.jobs: dict[str, Job] = {}
        self.requests: list[Recorded] = []
        self._script: deque[tuple[int, str]] = deque()
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None
        self.url = ""

    # -- configuration ---------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.tables.clear()
            self.jobs.clear()
            self.requests.clear()
            self._script.clear()

    def add_table(self, path: str, rows: Iterable[dict[str, Any]], *, partitioned: bool = False) -> None:
        self.tables[path] = FakeTable(list(rows), partitioned)

    def load_log_analytics(self, path: str, entries: Iterable[dict[str, Any]]) -> None:
        self.add_table(path, [log_analytics_row(e) for e in entries], partitioned=True)

    def load_sink(self, dataset: str, entries: Iterable[dict[str, Any]], *, partitioned: bool = False) -> None:
        """One table per log; date-sharded ``_YYYYMMDD`` (by UTC day) unless ``partitioned``."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            name = f"{dataset}.{table_base(log_id_of(entry))}"
            if not partitioned:
                name += "_" + _parse_ts(entry["timestamp"]).strftime("%Y%m%d")
            groups.setdefault(name, []).append(sink_row(entry))
        for name, rows in groups.items():
            self.add_table(name, rows, partitioned=partitioned)

    def fail(self, status: int, reason: str) -> None:
        """The next request fails with this HTTP status and error reason."""
        with self._lock:
            self._script.append((status, reason))

    # -- views for assertions --------------------------------------------------------------------------
    def inserted_jobs(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.method == "POST" and r.path.endswith("/jobs")]

    def row_reads(self) -> list[Recorded]:
        return [r for r in self.requests if "/queries/" in r.path and r.params.get("maxResults", "0") != "0"]

    # -- queries ---------------------------------------------------------------------------------------
    def _scan(self, sql: str, params: dict[str, Any]) -> tuple[list[tuple[str, FakeTable]], int]:
        match = re.search(r"FROM `([^`]+)` AS t", sql)
        if not match:
            raise _Error(400, "invalidQuery", "fake: no FROM `table` AS t")
        name = match[1]
        if name.endswith("*"):
            if "_TABLE_SUFFIX BETWEEN @first_day AND @last_day" not in sql:
                raise _Error(400, "invalidQuery", "fake: a wildcard query without _TABLE_SUFFIX reads every shard")
            prefix = name[:-1]
            first, last = params["first_day"], params["last_day"]
            scanned = [(k, t) for k, t in sorted(self.tables.items()) if k.startswith(prefix)]
            scanned = [(k, t) for k, t in scanned if first <= k[len(prefix) :] <= last]
        elif name in self.tables:
            scanned = [(name, self.tables[name])]
        else:
            raise _Error(404, "notFound", f"Not found: Table {name.replace('.', ':', 1)}")
        start, end = params["start"].date(), params["end"].date()
        scanned_bytes = 0
        for _, table in scanned:
            for stamp, size in zip(table.stamps, table.sizes, strict=True):
                if not table.partitioned or start <= stamp.date() <= end:
                    scanned_bytes += size
        return scanned, scanned_bytes

    def _keep(self, row: dict[str, Any], ts: datetime, params: dict[str, Any]) -> bool:
        if not params["start"] <= ts <= params["end"]:
            return False
        if (row.get("resource") or {}).get("type") not in params["resource_types"]:
            return False
        if "log_ids" in params and row.get("log_id") not in params["log_ids"]:
            return False
        if "services" in params:
            labels = (row.get("resource") or {}).get("labels") or {}
            if (
                labels.get("service_name") not in params["services"]
                and labels.get("job_name") not in params["services"]
            ):
                return False
        return True

    def _execute(self, config: dict[str, Any]) -> tuple[list[tuple[int, str]], int]:
        sql = config.get("query", "")
        if config.get("useLegacySql", True) is not False:
            raise _Error(400, "invalidQuery", "fake: legacy SQL")
        if not sql.startswith("SELECT t.timestamp AS ts, TO_JSON_STRING(t) AS entry\n"):
            raise _Error(400, "invalidQuery", "fake: unsupported projection")
        params = _params(config.get("queryParameters", []))
        predicates = {
            "start": "t.timestamp >= @start",
            "end": "t.timestamp <= @end",
            "resource_types": "t.resource.type IN UNNEST(@resource_types)",
            "log_ids": "t.log_id IN UNNEST(@log_ids)",
            "services": "IN UNNEST(@services)",
            "first_day": "@first_day",
            "last_day": "@last_day",
        }
        for name, text in predicates.items():
            if (name in params) != (text in sql):
                raise _Error(400, "invalidQuery", f"fake: parameter {name!r} and its predicate must come together")
        scanned, scanned_bytes = self._scan(sql, params)
        order = "insert_id" if "ORDER BY t.timestamp, t.insert_id" in sql else "insertId"
        kept = [
            (ts, row.get(order) or "", text)
            for _, table in scanned
            for row, ts, text in zip(table.rows, table.stamps, table.texts, strict=True)
            if self._keep(row, ts, params)
        ]
        kept.sort(key=lambda item: (item[0], item[1]))
        out = [(int(ts.timestamp()) * 1_000_000 + ts.microsecond, text) for ts, _, text in kept]
        return out, scanned_bytes

    def _insert(self, project: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        configuration = body.get("configuration", {})
        config = configuration.get("query", {})
        reference = {"projectId": project, "location": "US", **body.get("jobReference", {})}
        reference.setdefault("jobId", uuid.uuid4().hex)
        dry = bool(configuration.get("dryRun"))
        rows, scanned = self._execute(config)
        limit = config.get("maximumBytesBilled")
        resource: dict[str, Any] = {
            "kind": "bigquery#job",
            "id": f"{project}:US.{reference['jobId']}",
            "jobReference": reference,
            "configuration": configuration,
            "status": {"state": "DONE"},
            "statistics": {
                "totalBytesProcessed": str(scanned),
                "query": {"totalBytesProcessed": str(scanned), "totalBytesBilled": "0" if dry else str(scanned)},
            },
        }
        if dry:
            return 200, resource  # a dry run keeps no job
        job = Job(resource, rows)
        if limit is not None and scanned > int(limit):
            job.error = {
                "reason": "bytesBilledLimitExceeded",
                "message": f"Query exceeded limit for bytes billed: {limit}. {scanned} or higher required.",
            }
            resource["status"] = {"state": "DONE", "errorResult": job.error, "errors": [job.error]}
            job.rows = []
        self.jobs[reference["jobId"]] = job
        return 200, resource

    def _results(self, job_id: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(job_id)
        if job is None:
            raise _Error(404, "notFound", f"Not found: Job {job_id}")
        if job.error is not None:
            raise _Error(400, job.error["reason"], job.error["message"])
        start = int(params.get("pageToken", "0") or 0) or int(params.get("startIndex", "0") or 0)
        size = int(params.get("maxResults", "0") or 0) or 100_000
        page = job.rows[start : start + size] if params.get("maxResults") != "0" else []
        int64 = params.get("formatOptions.useInt64Timestamp", "").lower() == "true"
        response: dict[str, Any] = {
            "kind": "bigquery#getQueryResultsResponse",
            "jobReference": job.resource["jobReference"],
            "jobComplete": True,
            "totalRows": str(len(job.rows)),
            "totalBytesProcessed": job.resource["statistics"]["totalBytesProcessed"],
            "cacheHit": False,
            "schema": {
                "fields": [
                    {"name": "ts", "type": "TIMESTAMP", "mode": "NULLABLE"},
                    {"name": "entry", "type": "STRING", "mode": "NULLABLE"},
                ]
            },
        }
        if page:
            response["rows"] = [
                {"f": [{"v": str(micros) if int64 else f"{micros / 1e6:.6f}"}, {"v": text}]} for micros, text in page
            ]
        if params.get("maxResults") != "0" and start + len(page) < len(job.rows):
            response["pageToken"] = str(start + len(page))
        return 200, response

    def _list_tables(self, project: str, dataset: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        prefix = f"{project}.{dataset}."
        names = sorted(k for k in self.tables if k.startswith(prefix) and k.count(".") == 2)
        if not names:
            raise _Error(404, "notFound", f"Not found: Dataset {project}:{dataset}")
        start = int(params.get("pageToken", "0") or 0)
        size = int(params.get("maxResults", "50") or 50)
        items = []
        for name in names[start : start + size]:
            table_id = name[len(prefix) :]
            item: dict[str, Any] = {
                "kind": "bigquery#table",
                "id": f"{project}:{dataset}.{table_id}",
                "tableReference": {"projectId": project, "datasetId": dataset, "tableId": table_id},
                "type": "TABLE",
            }
            if self.tables[name].partitioned:
                item["timePartitioning"] = {"type": "DAY", "field": "timestamp"}
            items.append(item)
        response: dict[str, Any] = {"kind": "bigquery#tableList", "tables": items, "totalItems": len(names)}
        if start + size < len(names):
            response["nextPageToken"] = str(start + size)
        return 200, response

    def _route(self, method: str, path: str, params: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        parts = path.removeprefix("/bigquery/v2/").split("/")
        if method == "POST" and len(parts) == 3 and parts[0] == "projects" and parts[2] == "jobs":
            return self._insert(parts[1], body)
        if method == "POST" and len(parts) == 3 and parts[2] == "queries":  # jobs.query: insert + first page
            config = {k: v for k, v in body.items() if k not in ("dryRun", "formatOptions", "maxResults")}
            status, job = self._insert(parts[1], {"configuration": {"query": config, "dryRun": body.get("dryRun")}})
            if body.get("dryRun"):
                return status, {"kind": "bigquery#queryResponse", "jobComplete": True, **job["statistics"]}
            return self._results(job["jobReference"]["jobId"], {"maxResults": str(body.get("maxResults", ""))})
        if method == "GET" and len(parts) == 4 and parts[2] == "queries":
            return self._results(parts[3], params)
        if method == "GET" and len(parts) == 4 and parts[2] == "jobs":
            job = self.jobs.get(parts[3])
            if job is None:
                raise _Error(404, "notFound", f"Not found: Job {parts[3]}")
            return 200, job.resource
        if method == "GET" and len(parts) == 5 and parts[2] == "datasets" and parts[4] == "tables":
            return self._list_tables(parts[1], parts[3], params)
        raise _Error(404, "notFound", f"fake: no such method {method} {path}")

    def _handle(self, method: str, raw_path: str, body: dict[str, Any], authorization: str) -> tuple[int, bytes]:
        url = urlsplit(raw_path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append(Recorded(method, url.path, params, body, authorization))
            scripted = self._script.popleft() if self._script else None
            try:
                if scripted:
                    raise _Error(scripted[0], scripted[1], MESSAGES.get(scripted[1], scripted[1]))
                status, payload = self._route(method, url.path, params, body)
            except _Error as exc:
                status, payload = exc.status, exc.body()
        return status, json.dumps(payload).encode()

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, payload = fake._handle(
                    method, self.path, json.loads(raw or b"{}"), self.headers.get("Authorization", "")
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._reply("GET")

            def do_POST(self) -> None:
                self._reply("POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Error(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message

    def body(self) -> dict[str, Any]:
        error = {"message": self.message, "domain": "global", "reason": self.reason}
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [error],
                "status": STATUS.get(self.status, ""),
            }
        }


def _params(raw: list[dict[str, Any]]) -> dict[str, Any]:
    """Query parameters as Python values: TIMESTAMP -> aware datetime, arrays -> lists of strings."""
    out: dict[str, Any] = {}
    for param in raw:
        kind = param["parameterType"]
        value = param.get("parameterValue", {})
        if kind["type"] == "ARRAY":
            out[param["name"]] = [v.get("value") for v in value.get("arrayValues", [])]
        elif kind["type"] == "TIMESTAMP":
            out[param["name"]] = _parse_ts(value["value"])
        else:
            out[param["name"]] = value.get("value")
    return out
