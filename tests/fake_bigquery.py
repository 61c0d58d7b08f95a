"""A fake BigQuery REST server on 127.0.0.1 for the BigQuery source's tests, spoken to by the real client.

It answers what google-cloud-bigquery sends for ``client.query`` + ``job.result`` and ``list_tables``:
``jobs.insert`` (dry runs included: statistics only, no job kept), ``jobs.get``, ``jobs.getQueryResults``
(paged by ``maxResults``/``pageToken``, timestamps as int64 microseconds when the client asks with
``formatOptions.useInt64Timestamp``), ``jobs.query`` and ``tables.list`` (paged). Every request is recorded.

Queries run for real: each table is a DuckDB table in one in-memory connection, and the GoogleSQL is parsed
by sqlglot (``read="bigquery"``), rewritten on the AST and generated as DuckDB SQL, so any query triage
sends (CTEs, windows, aggregates, several tables) runs, not only today's shape. The rewrites:

* Table names: ``project.dataset.table`` and ``project.location.bucket._AllLogs`` become the stored
  tables (unknown: 404 ``Not found: Table p:d.t``). A wildcard ``project.dataset.prefix_*`` becomes the
  ``UNION ALL BY NAME`` of the shards named ``prefix…`` with the pseudo column ``_TABLE_SUFFIX``. Each
  WHERE conjunct that reads only ``_TABLE_SUFFIX`` (and parameters, literals) is evaluated by DuckDB
  against the shard names first, so only the shards it selects are read and billed; the predicate stays
  in the query (it is true on every row read). As in BigQuery, the pseudo column is not part of the row:
  ``SELECT *`` excludes it and ``TO_JSON_STRING(t)`` leaves it out.
* ``COUNTIF(x)`` -> ``COUNT(CASE WHEN x THEN 1 END)``: sqlglot writes DuckDB's ``COUNT_IF``, which is
  NULL over no rows (``SELECT COUNT_IF(x) … WHERE FALSE``); BigQuery's COUNTIF is 0.
* ``ARRAY_AGG(x ORDER BY y LIMIT n)`` -> ``list_slice(ARRAY_AGG(x ORDER BY y), 1, n)`` (sqlglot keeps the
  LIMIT, a DuckDB syntax error); ``SAFE.f(…)`` -> ``TRY(f(…))`` (sqlglot writes ``SAFE.f``, an unknown
  column); ``FORMAT_TIMESTAMP``'s ``%E3S``/``%E*S`` -> ``%S.%g``/``%S.%f`` (DuckDB's strftime has no ``%E``).
* ``TO_JSON_STRING(x)``: sqlglot writes ``CAST(TO_JSON(x) AS TEXT)``, and DuckDB's ``to_json`` writes a
  TIMESTAMPTZ as ``"2025-09-05 10:00:00.123+00"``; BigQuery writes ``"2025-09-05T10:00:00.123Z"``. The
  argument's DuckDB type is asked of DuckDB (the enclosing SELECT with only that expression, not run), and
  timestamps inside it (top level, STRUCT fields, list items) are formatted as BigQuery does before
  ``to_json`` (fraction digits only as many as needed, as in the JSON-encoding examples of the GoogleSQL
  docs: ``"2017-03-06T12:34:56.789012Z"``, ``"…T00:00:00Z"``). JSON values (Log Analytics
  ``json_payload``, ``labels``) DuckDB embeds as JSON already. When the type cannot be asked (e.g. a
  correlated subquery), the plain transpilation is kept.
* Projections without a name are named ``f0_``, ``f1_``… as BigQuery does.

Query parameters bind as DuckDB named parameters (only those the query reads). A query sqlglot or DuckDB
rejects is a 400 invalidQuery with the first line of the error; legacy SQL is a 400.

Storage: Log Analytics views (``…._AllLogs``) have the view's fixed, typed columns (``LA_STRUCTURE``); a
sink table's schema is inferred from all its rows (DuckDB's ``json_group_structure``), as a sink's table
is the union of the fields it has seen; ``timestamp``/``receiveTimestamp`` are TIMESTAMPTZ and other
strings stay STRING (``read_json`` would also turn timestamp-like strings inside payloads into
TIMESTAMPs; kept as strings, payloads read back as they were written). Rows are bulk-loaded from one NDJSON file per table, when a query
first reads the table. Bytes processed are the JSON size of the scanned rows: only the selected shards
of a wildcard, only the UTC days between ``@start`` and ``@end`` for partitioned tables and views, the
sum over every table a query reads. ``maximumBytesBilled`` below that fails the job with
``bytesBilledLimitExceeded``.

Rows are stored in the tables' own shapes: ``log_analytics_row`` and ``sink_row`` turn a REST LogEntry into
them following the documented schemas (see triage/sources/bigquery.py's docstring).
"""

from __future__ import annotations

import base64
import json
import math
import re
import tempfile
import threading
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import duckdb
import sqlglot
from sqlglot import exp

from triage.sources.bigquery_sql import table_base

AUDIT_TYPE = "type.googleapis.com/google.cloud.audit.AuditLog"
LA_COLUMNS = (
    "timestamp", "receive_timestamp", "log_name", "log_id", "severity", "insert_id", "resource", "labels",
    "http_request", "operation", "trace", "span_id", "trace_sampled", "source_location", "text_payload",
    "json_payload", "proto_payload",
)  # fmt: skip
# The ``_AllLogs`` view's columns, as a DuckDB ``json_transform`` structure (cloud.google.com/logging/docs/
# analyze/query-and-view: RECORDs are STRUCTs, labels and payloads JSON).
LA_STRUCTURE: dict[str, Any] = {
    "timestamp": "TIMESTAMPTZ",
    "receive_timestamp": "TIMESTAMPTZ",
    "log_name": "VARCHAR",
    "log_id": "VARCHAR",
    "severity": "VARCHAR",
    "insert_id": "VARCHAR",
    "trace": "VARCHAR",
    "span_id": "VARCHAR",
    "trace_sampled": "BOOLEAN",
    "resource": {"type": "VARCHAR", "labels": "JSON"},
    "labels": "JSON",
    "text_payload": "VARCHAR",
    "json_payload": "JSON",
    "proto_payload": "JSON",
    "http_request": {
        "request_method": "VARCHAR",
        "request_url": "VARCHAR",
        "request_size": "BIGINT",
        "status": "BIGINT",
        "response_size": "BIGINT",
        "user_agent": "VARCHAR",
        "remote_ip": "VARCHAR",
        "server_ip": "VARCHAR",
        "referer": "VARCHAR",
        "latency": {"seconds": "BIGINT", "nanos": "BIGINT"},
        "cache_lookup": "BOOLEAN",
        "cache_hit": "BOOLEAN",
        "cache_validated_with_origin_server": "BOOLEAN",
        "cache_fill_bytes": "BIGINT",
        "protocol": "VARCHAR",
    },
    "operation": {"id": "VARCHAR", "producer": "VARCHAR", "first": "BOOLEAN", "last": "BOOLEAN"},
    "source_location": {"file": "VARCHAR", "line": "BIGINT", "function": "VARCHAR"},
}
SINK_TIMESTAMPS = ("timestamp", "receiveTimestamp")
SUFFIX = "_TABLE_SUFFIX"
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


# -- DuckDB storage -----------------------------------------------------------------------------------
def _parse_ts(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _bigquery_types(structure: Any) -> Any:
    """An inferred ``json_group_structure`` as a sink's column types: INT64 for integers, JSON for unknowns."""
    if isinstance(structure, dict):
        # An empty record, or one of nothing but nulls, has no STRUCT type: kept as JSON.
        return {k: _bigquery_types(v) for k, v in structure.items()} if structure else "JSON"
    if isinstance(structure, list):
        return [_bigquery_types(structure[0])] if structure else "JSON"
    return {"UBIGINT": "BIGINT", "NULL": "JSON"}.get(structure, structure)


@dataclass
class FakeTable:
    rows: list[dict[str, Any]]
    partitioned: bool = False  # by DAY on ``timestamp``
    structure: dict[str, Any] | None = None  # fixed column types (Log Analytics); None: inferred from the rows
    sizes: list[int] = field(default_factory=list)  # JSON size of each row: what scanning it bills
    stamps: list[datetime] = field(default_factory=list)
    loaded: bool = False  # a DuckDB table yet

    def __post_init__(self) -> None:
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        # A table's schema is the union of its rows' fields; a row without one reads it as NULL.
        self.rows = [{c: row.get(c) for c in columns} for row in self.rows]
        self.rows.sort(key=lambda r: _parse_ts(r["timestamp"]))
        self.stamps = [_parse_ts(r["timestamp"]) for r in self.rows]
        self.sizes = [len(json.dumps(r, separators=(",", ":"))) for r in self.rows]


def _load(db: duckdb.DuckDBPyConnection, name: str, table: FakeTable) -> None:
    """``name`` as a DuckDB table: one NDJSON file, typed by ``json_transform`` (no per-row INSERT)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.ndjson"
        path.write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in table.rows))
        source = f"read_json_objects({_literal(str(path))}, format='newline_delimited')"
        structure = table.structure
        if structure is None:
            (inferred,) = db.execute(f"SELECT json_group_structure(json) FROM {source}").fetchone() or (None,)
            found = _bigquery_types(json.loads(inferred)) if inferred else {}
            structure = found if isinstance(found, dict) else {}
            for key in SINK_TIMESTAMPS:
                if key in structure or key == "timestamp":
                    structure[key] = "TIMESTAMPTZ"
        typed = f"json_transform(json, {_literal(json.dumps(structure))})"
        db.execute(f"CREATE TABLE {_quote(name)} AS SELECT unnest({typed}) FROM {source}")
    table.loaded = True


# -- GoogleSQL -> DuckDB ------------------------------------------------------------------------------
@dataclass
class Compiled:
    sql: str
    params: dict[str, Any]  # only those the query reads: DuckDB refuses the others
    scanned: dict[str, FakeTable]


def _used(node: exp.Expression, params: dict[str, Any]) -> dict[str, Any]:
    names = {p.name for p in node.find_all(exp.Parameter)}
    return {k: v for k, v in params.items() if k in names}


def _conjuncts(select: exp.Select | None) -> list[exp.Expression]:
    where = select.args.get("where") if select is not None else None
    if where is None:
        return []
    return list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]


_FORMATS = {"%E3S": "%S.%g", "%E*S": "%S.%f"}  # sqlglot leaves these; DuckDB's strftime has no %E


def _functions(tree: exp.Expression) -> None:
    """Functions sqlglot transpiles to something DuckDB answers differently, or refuses."""
    for node in list(tree.find_all(exp.CountIf)):  # COUNT_IF is NULL over no rows, COUNTIF 0
        node.replace(exp.Count(this=exp.case().when(node.this.copy(), exp.Literal.number(1))))
    for node in list(tree.find_all(exp.ArrayAgg)):  # DuckDB has no LIMIT inside ARRAY_AGG
        if isinstance(node.this, exp.Limit):
            limit = node.this
            whole = exp.ArrayAgg(this=limit.this.copy())
            node.replace(
                exp.Anonymous(this="list_slice", expressions=[whole, exp.Literal.number(1), limit.expression.copy()])
            )
    for node in list(tree.find_all(exp.SafeFunc)):  # SAFE.f(...): NULL instead of an error, DuckDB's TRY
        node.replace(exp.Anonymous(this="TRY", expressions=[node.this.copy()]))
    for node in list(tree.find_all(exp.TimeToStr)):
        fmt = node.args.get("format")
        if isinstance(fmt, exp.Literal) and "%E" in fmt.this:
            text = fmt.this
            for bigquery, duckdb_format in _FORMATS.items():
                text = text.replace(bigquery, duckdb_format)
            node.set("format", exp.Literal.string(text))


def _name_projections(tree: exp.Expression) -> None:
    """Unnamed projections get BigQuery's names, ``f0_``… (DuckDB would name them after their text)."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    for n, item in enumerate(select.expressions):
        if not isinstance(item, exp.Alias | exp.Column | exp.Star | exp.Dot):
            item.replace(exp.alias_(item.copy(), f"f{n}_"))


def _exclude_suffix(select: exp.Select | None) -> None:
    """``SELECT *`` over a wildcard: the pseudo column is no column of the rows."""
    for item in select.expressions if select is not None else []:
        star = item.this if isinstance(item, exp.Column) and isinstance(item.this, exp.Star) else item
        if isinstance(star, exp.Star):
            star.set("except_", [*(star.args.get("except_") or []), exp.column(SUFFIX)])


def _bq_timestamp(sql: str, zone: str) -> str:
    # BigQuery's JSON for a TIMESTAMP: ISO 8601 with "T" and "Z", fraction digits only as needed.
    text = f"regexp_replace(strftime({sql}, '%Y-%m-%dT%H:%M:%S.%f'), '\\.?0+$', '')"
    return f"({text} || 'Z')" if zone else text


def _json_ready(sql: str, kind: duckdb.DuckDBPyType, depth: int = 0, drop: str = "") -> str | None:
    """``sql`` with its timestamps formatted as BigQuery's TO_JSON_STRING writes them; None: as it is."""
    if kind.id in ("timestamp with time zone", "timestamp"):
        return _bq_timestamp(sql, "Z" if kind.id != "timestamp" else "")
    if kind.id == "list":
        var = f"__e{depth}"
        item = _json_ready(var, kind.children[0][1], depth + 1)
        return None if item is None else f"list_transform({sql}, lambda {var}: {item})"
    if kind.id != "struct":
        return None
    fields = [(name, f"struct_extract({sql}, {_literal(name)})", sub) for name, sub in kind.children if name != drop]
    built = [(name, _json_ready(value, sub, depth + 1), value) for name, value, sub in fields]
    if len(fields) == len(kind.children) and all(ready is None for _, ready, _ in built):
        return None
    record = "{" + ", ".join(f"{_literal(name)}: {ready or value}" for name, ready, value in built) + "}"
    return record if drop else f"CASE WHEN {sql} IS NULL THEN NULL ELSE {record} END"


# -- REST rows ----------------------------------------------------------------------------------------
_TYPES = {
    "varchar": "STRING", "boolean": "BOOLEAN", "double": "FLOAT", "float": "FLOAT", "decimal": "FLOAT",
    "date": "DATE", "time": "TIME", "timestamp": "TIMESTAMP", "timestamp with time zone": "TIMESTAMP",
    "timestamp_ms": "TIMESTAMP", "timestamp_ns": "TIMESTAMP", "timestamp_s": "TIMESTAMP", "blob": "BYTES",
    "tinyint": "INTEGER", "smallint": "INTEGER", "integer": "INTEGER", "bigint": "INTEGER", "hugeint": "INTEGER",
    "utinyint": "INTEGER", "usmallint": "INTEGER", "uinteger": "INTEGER", "ubigint": "INTEGER",
}  # fmt: skip
# DECIMAL is FLOAT: DuckDB types GoogleSQL's float literals (2.5) DECIMAL, BigQuery FLOAT64.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _schema_field(name: str, kind: duckdb.DuckDBPyType) -> dict[str, Any]:
    """A DuckDB result column as a BigQuery schema field (lists REPEATED, structs RECORD)."""
    if kind.id == "list":
        return {**_schema_field(name, kind.children[0][1]), "mode": "REPEATED"}
    out: dict[str, Any] = {"name": name, "type": "JSON" if str(kind) == "JSON" else _TYPES.get(kind.id, "STRING")}
    out["mode"] = "NULLABLE"
    if kind.id == "struct":
        out["type"] = "RECORD"
        out["fields"] = [_schema_field(child, sub) for child, sub in kind.children]
    return out


def _micros(value: datetime) -> int:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # a DATETIME read as UTC
    return (aware - _EPOCH) // timedelta(microseconds=1)


def _scalar(value: Any, kind: str, int64: bool) -> str:
    if kind == "TIMESTAMP" and isinstance(value, datetime):
        micros = _micros(value)
        if int64:
            return str(micros)
        sign, whole = ("-" if micros < 0 else ""), abs(micros)
        return f"{sign}{whole // 1_000_000}.{whole % 1_000_000:06d}"  # exact, unlike micros / 1e6
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _cell(value: Any, spec: dict[str, Any], int64: bool) -> Any:
    """One value as BigQuery's REST rows carry it: scalars as strings, records as ``{"f": [...]}``."""
    if value is None:
        return [] if spec["mode"] == "REPEATED" else None
    if spec["mode"] == "REPEATED":
        item = {**spec, "mode": "NULLABLE"}
        return [{"v": _cell(v, item, int64)} for v in value]
    if spec["type"] == "RECORD":
        return {"f": [{"v": _cell(value.get(sub["name"]), sub, int64)} for sub in spec["fields"]]}
    return _scalar(value, spec["type"], int64)


# -- the server ---------------------------------------------------------------------------------------
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
    rows: list[tuple[Any, ...]] = field(default_factory=list)  # DuckDB's values, encoded page by page
    schema: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None


def _connect() -> duckdb.DuckDBPyConnection:
    db = duckdb.connect(":memory:")
    db.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ text and day boundaries in UTC, as BigQuery
    return db


class FakeBigQuery:
    def __init__(self) -> None:
        self.tables: dict[str, FakeTable] = {}
        self.jobs: dict[str, Job] = {}
        self.requests: list[Recorded] = []
        self._script: deque[tuple[int, str]] = deque()
        self._lock = threading.Lock()  # the HTTP server is threaded; one DuckDB connection serves all
        self._db = _connect()
        self._http: ThreadingHTTPServer | None = None
        self.url = ""

    # -- configuration ---------------------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.tables.clear()
            self.jobs.clear()
            self.requests.clear()
            self._script.clear()
            self._db.close()
            self._db = _connect()

    def add_table(self, path: str, rows: Iterable[dict[str, Any]], *, partitioned: bool = False) -> None:
        structure = LA_STRUCTURE if path.endswith("._AllLogs") else None
        with self._lock:
            old = self.tables.pop(path, None)
            if old is not None and old.loaded:
                self._db.execute(f"DROP TABLE {_quote(path)}")
            self.tables[path] = FakeTable(list(rows), partitioned, structure)

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

    # -- GoogleSQL -> DuckDB ---------------------------------------------------------------------------
    def _table(self, name: str) -> FakeTable:
        table = self.tables[name]
        if not table.loaded:
            _load(self._db, name, table)
        return table

    def _compile(self, sql: str, params: dict[str, Any]) -> Compiled:
        try:
            tree = sqlglot.parse_one(sql, read="bigquery")
        except sqlglot.errors.SqlglotError as exc:
            raise _Error(400, "invalidQuery", _first_line(exc)) from None
        if not isinstance(tree, exp.Query):
            raise _Error(400, "invalidQuery", "fake: only queries (SELECT, WITH) run here")
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        scanned: dict[str, FakeTable] = {}
        for table in list(tree.find_all(exp.Table)):
            parts = [part.name for part in table.parts]
            name = ".".join(parts)
            if len(parts) == 1 and name.lower() in ctes:
                continue
            if name.endswith("*"):
                self._wildcard(table, name, params, scanned)
            elif name in self.tables:
                scanned[name] = self._table(name)
                table.replace(exp.Table(this=exp.to_identifier(name, quoted=True), alias=table.args.get("alias")))
            else:
                raise _Error(404, "notFound", f"Not found: Table {name.replace('.', ':', 1)}")
        _functions(tree)
        _name_projections(tree)
        bound = _used(tree, params)
        return Compiled(self._to_json_strings(tree, bound), bound, scanned)

    def _wildcard(self, table: exp.Table, name: str, params: dict[str, Any], scanned: dict[str, FakeTable]) -> None:
        """``prefix_*``: the union of the shards ``_TABLE_SUFFIX`` selects, with the pseudo column."""
        prefix = name[:-1]
        shards = {k[len(prefix) :]: k for k in sorted(self.tables) if k.startswith(prefix) and k.count(".") == 2}
        if not shards:
            raise _Error(404, "notFound", f"Not found: Table {name.replace('.', ':', 1)}")
        alias = table.alias or table.name
        select = table.find_ancestor(exp.Select)
        chosen = self._suffixes(select, alias, list(shards), params)
        for suffix in chosen:
            scanned[shards[suffix]] = self._table(shards[suffix])
        for suffix in shards:  # every shard's columns are the union's, even when none is read
            self._table(shards[suffix])
        union = " UNION ALL BY NAME ".join(
            f"SELECT *, {_literal(s)} AS {SUFFIX} FROM {_quote(shards[s])}" for s in (chosen or shards)
        )
        if not chosen:
            union = f"SELECT * FROM ({union}) WHERE FALSE"
        parsed = sqlglot.parse_one(f"SELECT * FROM ({union}) AS {_quote(alias)}", read="duckdb")
        table.replace(parsed.find(exp.Subquery))
        _exclude_suffix(select)

    def _suffixes(
        self, select: exp.Select | None, alias: str, suffixes: list[str], params: dict[str, Any]
    ) -> list[str]:
        """The shard suffixes every WHERE conjunct reading only ``_TABLE_SUFFIX`` accepts (DuckDB decides)."""
        chosen = suffixes
        for condition in _conjuncts(select):
            columns = list(condition.find_all(exp.Column))
            if not columns or any(c.name.upper() != SUFFIX or c.table not in ("", alias) for c in columns):
                continue
            probe = condition.copy()
            for column in probe.find_all(exp.Column):
                column.set("table", None)
            sql = f"SELECT {SUFFIX} FROM (SELECT unnest($__suffixes) AS {SUFFIX}) WHERE {probe.sql('duckdb')}"
            try:
                kept = {
                    row[0] for row in self._db.execute(sql, {"__suffixes": chosen, **_used(probe, params)}).fetchall()
                }
            except duckdb.Error:
                continue  # the predicate still filters the rows; the shards are all read
            chosen = [s for s in chosen if s in kept]
            if not chosen:
                break
        return chosen

    def _probe(self, tree: exp.Query, node: exp.Expression, params: dict[str, Any]) -> duckdb.DuckDBPyType | None:
        """The DuckDB type of ``node`` in its SELECT, asked of DuckDB's binder (the query is not run)."""
        select = node.find_ancestor(exp.Select)
        if select is None:
            return None
        probe = select.copy()
        probe.set("expressions", [exp.alias_(node.copy(), "__probe")])
        for key in ("order", "limit", "offset", "distinct", "qualify"):
            probe.set(key, None)
        if select is not tree and tree.args.get("with_") is not None and probe.args.get("with_") is None:
            probe.set("with_", tree.args["with_"].copy())
        try:
            return self._db.sql(probe.sql("duckdb"), params=_used(probe, params) or None).types[0]
        except duckdb.Error:
            return None

    def _to_json_strings(self, tree: exp.Query, params: dict[str, Any]) -> str:
        """The DuckDB SQL, with each ``TO_JSON_STRING`` writing timestamps as BigQuery does."""
        kinds = [(node, self._probe(tree, node.this, params)) for node in tree.find_all(exp.JSONFormat)]
        snippets: dict[str, str] = {}
        for n, (node, kind) in enumerate(kinds):
            whole_row = isinstance(node.this, exp.Column) and not node.this.table  # TO_JSON_STRING(t)
            ready = _json_ready(node.this.sql("duckdb"), kind, drop=SUFFIX if whole_row else "") if kind else None
            if ready is not None:
                token = f"__to_json_{n}__"
                snippets[token] = f"CAST(to_json({ready}) AS VARCHAR)"
                node.replace(exp.column(token))
        text = tree.sql("duckdb")
        for token, snippet in snippets.items():
            text = text.replace(token, snippet)
        return text

    # -- queries ---------------------------------------------------------------------------------------
    def _execute(self, config: dict[str, Any], *, run: bool) -> tuple[Job, int]:
        """The query's result (no rows for a dry run) and the bytes it bills."""
        if config.get("useLegacySql", True) is not False:
            raise _Error(400, "invalidQuery", "fake: legacy SQL")
        params = _params(config.get("queryParameters", []))
        compiled = self._compile(config.get("query", ""), params)
        scanned = _scanned_bytes(compiled.scanned, params)
        limit = config.get("maximumBytesBilled")
        try:
            relation = self._db.sql(compiled.sql, params=compiled.params or None)
            job = Job({}, schema=[_schema_field(n, k) for n, k in zip(relation.columns, relation.types, strict=True)])
            if run and (limit is None or scanned <= int(limit)):
                job.rows = relation.fetchall()
        except duckdb.Error as exc:
            raise _Error(400, "invalidQuery", _first_line(exc)) from None
        return job, scanned

    def _insert(self, project: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        configuration = body.get("configuration", {})
        config = configuration.get("query", {})
        reference = {"projectId": project, "location": "US", **body.get("jobReference", {})}
        reference.setdefault("jobId", uuid.uuid4().hex)
        dry = bool(configuration.get("dryRun"))
        job, scanned = self._execute(config, run=not dry)
        limit = config.get("maximumBytesBilled")
        job.resource = {
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
            return 200, job.resource  # a dry run keeps no job
        if limit is not None and scanned > int(limit):
            job.error = {
                "reason": "bytesBilledLimitExceeded",
                "message": f"Query exceeded limit for bytes billed: {limit}. {scanned} or higher required.",
            }
            job.resource["status"] = {"state": "DONE", "errorResult": job.error, "errors": [job.error]}
        self.jobs[reference["jobId"]] = job
        return 200, job.resource

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
            "schema": {"fields": job.schema},
        }
        if page:
            response["rows"] = [
                {"f": [{"v": _cell(value, spec, int64)} for value, spec in zip(row, job.schema, strict=True)]}
                for row in page
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


def _scanned_bytes(scanned: dict[str, FakeTable], params: dict[str, Any]) -> int:
    """The JSON size of the rows read: a partitioned table's (or view's) only within the @start..@end days."""
    start, end = params.get("start"), params.get("end")
    window = isinstance(start, datetime) and isinstance(end, datetime)
    total = 0
    for table in scanned.values():
        if table.partitioned and window:
            first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
            total += sum(
                size for stamp, size in zip(table.stamps, table.sizes, strict=True) if first <= stamp.date() <= last
            )
        else:
            total += sum(table.sizes)
    return total


def _scalar_param(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "TIMESTAMP":
        return _parse_ts(value)
    if kind == "INT64":
        return int(value)
    if kind in ("FLOAT64", "NUMERIC", "BIGNUMERIC"):
        return float(value)
    if kind == "BOOL":
        return str(value).lower() == "true"
    if kind == "DATE":
        return date.fromisoformat(value)
    return value


def _params(raw: list[dict[str, Any]]) -> dict[str, Any]:
    """Named query parameters as Python values DuckDB binds: TIMESTAMP -> aware datetime, ARRAY -> list."""
    out: dict[str, Any] = {}
    for param in raw:
        kind = param["parameterType"]
        value = param.get("parameterValue", {})
        if kind["type"] == "ARRAY":
            item = kind.get("arrayType", {}).get("type", "STRING")
            out[param["name"]] = [_scalar_param(item, v.get("value")) for v in value.get("arrayValues", [])]
        else:
            out[param["name"]] = _scalar_param(kind["type"], value.get("value"))
    return out
