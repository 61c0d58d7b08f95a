"""The push-down plan in GoogleSQL: only candidate rows travel back, the rest are counted in BigQuery.

One query reads every table of the window (the same reads as the full-row plan in bigquery_sql, unioned)
and returns two kinds of rows, ``agg`` first: the counts of *benign* entries per (service, job, revision,
execution, instance, logName, location, request?, status, system counter) with their first and last time
and first request URL; then ``row``: every other entry whole (``TO_JSON_STRING``, as ``entry``), ordered by
time and insertId. Which entries are benign is decided by triage/pushdown.py, which also supplies every
pattern as a query parameter (see ``PlanParams``); this module only knows the SQL and the two schemas.

The plan, per entry: its fields from ``TO_JSON_STRING(t)`` by the schema's ``Layout`` (one code path for
every table, whatever its columns); the message the pipeline will build (NULL where SQL cannot tell, then
the entry travels); ``own``: not benign by itself; then, for container lines, the neighbours of its
instance in the pipeline's merge order (time, insertId, message): a line travels when it is ``own``, a
TRIGGER, the line before a TRIGGER, an EXTENDER in a run a TRIGGER opened, or in a run of EXTENDERs (with
the line before it) where some line travels; a run also ends at a time gap (``@gap_us``).

Table names and JSON paths are the only text spliced in; they come from ``Table.parse`` (checked) and the
constants here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from triage.sources.bigquery_sql import PlannedQuery
from triage.sources.cloud_filter import CONTAINER_LOGS, PLATFORM_LOGS

REQUEST_LOG, SYSTEM_LOG = PLATFORM_LOGS


@dataclass(frozen=True)
class PlanParams:
    """What makes an entry benign, as RE2 patterns and strings (triage/pushdown.py builds it)."""

    literals_re: str  # any catalog literal, lower-cased
    trigger_re: str  # may continue the line before it
    extender_re: str  # may continue an open trace
    failure_re: str  # words that make an unlevelled container line error-like
    odd_re: str  # characters whose line breaks or case differ between Python and RE2
    benign_severities: tuple[str, ...]
    gap_us: int  # lines further apart are never joined
    message_keys: tuple[str, ...]  # JSON payload keys of the message, in order
    exception_keys: tuple[str, ...]  # JSON payload keys appended to it (such entries travel)
    counters: tuple[tuple[str, str, bool], ...]  # system-log (counter, phrase, at start only), first wins
    counter_markers: tuple[str, ...]  # system-log phrases only Python can read: such entries travel

    def sql_params(self) -> tuple[tuple[str, str, Any], ...]:
        phrases = tuple((f"counter{i}", "STRING", phrase) for i, (_, phrase, _) in enumerate(self.counters))
        markers = tuple((f"marker{i}", "STRING", m) for i, m in enumerate(self.counter_markers))
        return (
            ("literals_re", "STRING", self.literals_re),
            ("trigger_re", "STRING", self.trigger_re),
            ("extender_re", "STRING", self.extender_re),
            ("failure_re", "STRING", self.failure_re),
            ("odd_re", "STRING", self.odd_re),
            ("benign_severities", "STRING[]", list(self.benign_severities)),
            ("gap_us", "INT64", self.gap_us),
            ("app_logs", "STRING[]", list(CONTAINER_LOGS)),
            ("request_log", "STRING", REQUEST_LOG),
            ("system_log", "STRING", SYSTEM_LOG),
            *phrases,
            *markers,
        )


@dataclass(frozen=True)
class Layout:
    """Where a LogEntry field is in ``TO_JSON_STRING`` of a row: the one difference between the schemas."""

    insert_id: str
    log_name: str
    severity: str
    resource: str  # the resource STRUCT: .type, .labels.<name>
    labels: str
    instance: str  # key of the instance id label
    execution: str  # key of the job execution label
    text: str
    json: str
    proto: str
    http: str
    status: str
    method: str
    url: str


LOG_ANALYTICS = Layout(
    "$.insert_id", "$.log_name", "$.severity", "$.resource", "$.labels", "instanceId",
    '"run.googleapis.com/execution_name"', "$.text_payload", "$.json_payload", "$.proto_payload",
    "$.http_request", "status", "request_method", "request_url",
)  # fmt: skip
# Sink tables lower-case user field names and turn "." and "/" into "_" (bigquery_sql.from_sink maps back).
SINK = Layout(
    "$.insertId", "$.logName", "$.severity", "$.resource", "$.labels", "instanceid",
    "run_googleapis_com_execution_name", "$.textPayload", "$.jsonPayload", "$.protopayload_auditlog",
    "$.httpRequest", "status", "requestMethod", "requestUrl",
)  # fmt: skip


def _present(path: str) -> str:
    return f"IFNULL(CAST(JSON_QUERY(entry, '{path}') AS STRING), 'null') != 'null'"


def _string(path: str) -> str:
    """The value at ``path`` when it is a non-empty JSON string, else NULL (records.json_message's test)."""
    return f"IF(STARTS_WITH(CAST(JSON_QUERY(entry, '{path}') AS STRING), '\"'), NULLIF(JSON_VALUE(entry, '{path}'), ''), NULL)"


def _fields(lay: Layout, params: PlanParams) -> str:
    label = f"{lay.resource}.labels"
    jmsg = ", ".join(_string(f"{lay.json}.{k}") for k in params.message_keys)
    exc = " OR ".join(_present(f"{lay.json}.{k}") for k in params.exception_keys) or "FALSE"
    return f"""SELECT ts, entry,
    IFNULL(JSON_VALUE(entry, '{lay.insert_id}'), '') AS iid,
    IFNULL(JSON_VALUE(entry, '{lay.log_name}'), '') AS log_name,
    JSON_VALUE(entry, '{lay.severity}') AS sev,
    IFNULL(JSON_VALUE(entry, '{lay.resource}.type'), '') AS rtype,
    IFNULL(JSON_VALUE(entry, '{label}.service_name'), '') AS svc,
    IFNULL(JSON_VALUE(entry, '{label}.job_name'), '') AS job,
    IFNULL(JSON_VALUE(entry, '{label}.revision_name'), '') AS rev,
    IFNULL(JSON_VALUE(entry, '{lay.labels}.{lay.execution}'), '') AS exe,
    IFNULL(JSON_VALUE(entry, '{lay.labels}.{lay.instance}'), '') AS inst,
    IFNULL(JSON_VALUE(entry, '{label}.project_id'), '') AS proj,
    IFNULL(JSON_VALUE(entry, '{label}.location'), '') AS loc,
    JSON_VALUE(entry, '{lay.text}') AS text,
    {_present(lay.json)} AS has_json,
    COALESCE({jmsg}) AS jmsg,
    ({exc}) AS has_exc,
    {_present(lay.proto)} AS has_proto,
    {_present(lay.http)} AS has_http,
    SAFE_CAST(JSON_VALUE(entry, '{lay.http}.{lay.status}') AS INT64) AS status,
    IFNULL(JSON_VALUE(entry, '{lay.http}.{lay.method}'), '') AS method,
    IFNULL(JSON_VALUE(entry, '{lay.http}.{lay.url}'), '') AS url
  FROM raw"""


# The message records.from_entry builds (NULL: SQL cannot tell) and the log id from the logName as
# records.log_kind reads it.
_MESSAGE = """SELECT *,
    CASE
      WHEN text IS NOT NULL AND (text != '' OR NOT has_http) THEN text
      WHEN text IS NULL AND has_json THEN IF(has_exc, NULL, jmsg)
      WHEN has_http THEN TRIM(CONCAT(method, ' ', IF(IFNULL(status, 0) = 0, '', CAST(status AS STRING)), ' ', url))
      WHEN text IS NULL AND NOT has_proto THEN ''
    END AS msg,
    REPLACE(REPLACE(IF(STRPOS(log_name, '/logs/') > 0, SUBSTR(log_name, STRPOS(log_name, '/logs/') + 6), log_name),
      '%2F', '/'), '%2f', '/') AS tail
  FROM e"""


def _counter(params: PlanParams) -> str:
    """The revision counter a system-log line bumps (history.system_counter); NULL: only Python can tell."""
    whens = [f"WHEN STRPOS(msg, @marker{i}) > 0 THEN NULL" for i in range(len(params.counter_markers))]
    for i, (name, _, at_start) in enumerate(params.counters):
        test = f"STARTS_WITH(msg, @counter{i})" if at_start else f"STRPOS(msg, @counter{i}) > 0"
        whens.append(f"WHEN {test} THEN '{name}'")  # a name from history.SYSTEM_COUNTERS, not user text
    return "CASE WHEN tail != @system_log THEN '' WHEN text IS NULL OR has_http THEN NULL\n      " + "\n      ".join(
        [*whens, "ELSE '' END"]
    )


def _own(params: PlanParams) -> str:
    """Not benign by itself, whatever its neighbours."""
    return f"""SELECT *,
    (rtype != 'cloud_run_revision' OR ts IS NULL OR has_proto OR msg IS NULL OR counter IS NULL
      OR tail NOT IN UNNEST(@app_logs) AND tail NOT IN (@request_log, @system_log)
      OR REGEXP_CONTAINS(msg, @odd_re) OR REGEXP_CONTAINS(LOWER(msg), @literals_re)
      OR NOT (IFNULL(sev, 'DEFAULT') IN UNNEST(@benign_severities)
              OR (IFNULL(sev, 'DEFAULT') = 'DEFAULT' AND (tail NOT IN UNNEST(@app_logs) OR NOT REGEXP_CONTAINS(msg, @failure_re))))
      OR (tail = @request_log AND NOT has_http) OR (tail IN UNNEST(@app_logs) AND has_http)) AS own
  FROM (SELECT *, {_counter(params)} AS counter FROM m)"""


_KEY = "IF(svc != '', svc, job), IF(rev != '', rev, exe), inst"  # the instance, as events.assemble keys it
_ORDER = "ts, iid, msg"
_WINDOW = f"PARTITION BY {_KEY} ORDER BY {_ORDER}"
_NEAR = "IFNULL(TIMESTAMP_DIFF({later}, {earlier}, MICROSECOND) <= @gap_us, TRUE)"  # no time: maybe near

# The shapes, each line's neighbours in its instance, then the runs: a run starts at a TRIGGER, at a line
# that is no EXTENDER, or after a gap.
_SHAPES = f"""SELECT *, SUM(IF(trig OR NOT ext OR NOT near_prev, 1, 0)) OVER ({_WINDOW}
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS g
  FROM (SELECT *,
          IFNULL(LEAD(trig) OVER ({_WINDOW}), FALSE) AND {_NEAR.format(later=f"LEAD(ts) OVER ({_WINDOW})", earlier="ts")}
            AS next_trig,
          {_NEAR.format(later="ts", earlier=f"LAG(ts) OVER ({_WINDOW})")} AS near_prev
        FROM (SELECT *, msg IS NULL OR REGEXP_CONTAINS(msg, @trigger_re) AS trig,
                msg IS NULL OR REGEXP_CONTAINS(msg, @extender_re) AS ext
              FROM o WHERE tail IN UNNEST(@app_logs)))"""

_RUNS = f"""SELECT *, pull
      OR (ext AND FIRST_VALUE(trig) OVER (PARTITION BY {_KEY}, g ORDER BY {_ORDER}))
      OR LOGICAL_OR(ext AND pull) OVER (PARTITION BY {_KEY}, g) AS cand
  FROM (SELECT *, own OR trig OR next_trig AS pull FROM s)"""

_COLUMNS = "ts, entry, iid, log_name, svc, job, rev, exe, inst, proj, loc, status, url, msg, tail, counter"
_GROUP = "svc, job, rev, exe, inst, proj, log_name, loc, req, status, counter"
# The result's columns, for reading its rows back.
AGG_COLUMNS = ("kind", "ts", "entry", "iid", *_GROUP.split(", "), "n", "last_ts", "url", "url_ts", "url_iid", "url_msg")

# The counts of the benign entries (``cand`` false) per group, with each group's first request URL.
AGG_SQL = f"""SELECT 'agg' AS kind, MIN(ts) AS ts, CAST(NULL AS STRING) AS entry, '' AS iid, {_GROUP},
    COUNT(*) AS n, MAX(ts) AS last_ts,
    MAX(IF(first_url, url, NULL)) AS url, MAX(IF(first_url, ts, NULL)) AS url_ts,
    MAX(IF(first_url, iid, NULL)) AS url_iid, MAX(IF(first_url, msg, NULL)) AS url_msg
  FROM (SELECT *, url_ok AND ROW_NUMBER() OVER (PARTITION BY {_GROUP}, url_ok ORDER BY {_ORDER}) = 1 AS first_url
        FROM (SELECT *, tail = @request_log AS req, STARTS_WITH(url, 'http') AS url_ok FROM c WHERE NOT cand))
  GROUP BY {_GROUP}"""

_OUTPUT = f"""{AGG_SQL}
UNION ALL
SELECT 'row', ts, entry, iid{", NULL" * (len(AGG_COLUMNS) - 4)}
  FROM c WHERE cand
ORDER BY kind, ts, iid, {_GROUP}"""  # a total order: the same rows in the same order every run


def stages_sql(params: PlanParams) -> str:
    """The stages after ``e`` (one row per entry with ``_fields``'s columns) up to ``c`` (every entry and
    whether it travels, ``cand``), as CTEs: what another engine's own ``e`` is followed by
    (benchmarks/duckdb_plan.py runs them on DuckDB over a JSON-lines file)."""
    return f"""m AS ({_MESSAGE}
), o AS ({_own(params)}
), s AS ({_SHAPES}
), c AS (
  SELECT {_COLUMNS}, cand FROM ({_RUNS})
  UNION ALL
  SELECT {_COLUMNS}, own AS cand FROM o WHERE tail NOT IN UNNEST(@app_logs)
)"""


def plan_sql(reads: Sequence[str], lay: Layout, params: PlanParams) -> str:
    raw = "\nUNION ALL\n".join(reads)
    return f"""WITH raw AS (
{raw}
), e AS ({_fields(lay, params)}
), {stages_sql(params)}
{_OUTPUT}"""


def pushdown_query(reads: Sequence[PlannedQuery], kind: str, params: PlanParams, label: str) -> PlannedQuery:
    """The one plan query over the window's unordered full-row reads (bigquery_sql: ``ordered=False``) of a
    Log Analytics view (``kind`` "log_analytics") or of a sink dataset's tables; ``label`` names it in notes."""
    merged: dict[str, tuple[str, str, Any]] = {}
    for read in reads:
        for param in read.params:
            merged[param[0]] = param  # the window's parameters are the same in every read
    for param in params.sql_params():
        merged[param[0]] = param
    lay = LOG_ANALYTICS if kind == "log_analytics" else SINK
    return PlannedQuery(label, plan_sql([r.sql for r in reads], lay, params), tuple(merged.values()))
