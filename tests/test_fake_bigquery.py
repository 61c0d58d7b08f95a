"""The fake BigQuery runs GoogleSQL for real (sqlglot -> DuckDB): each construct through the real client."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from google.api_core import exceptions as gexc
from google.cloud import bigquery

from tests.fake_bigquery import FakeBigQuery
from triage.sources.bigquery import open_client

LA = "demo.us.logs._AllLogs"
LA_SQL = f"`{LA}`"
SINK = "demo.sink"
DAY = "2025-09-05"


def entry(insert_id: str, at: str, service: str, log: str = "stderr", **fields: Any) -> dict[str, Any]:
    return {
        "insertId": insert_id,
        "timestamp": at,
        "receiveTimestamp": at,
        "logName": f"projects/demo/logs/{quote('run.googleapis.com/' + log, safe='')}",
        "resource": {
            "type": "cloud_run_revision",
            "labels": {"service_name": service, "revision_name": service + "-1"},
        },
        **fields,
    }


ENTRIES = [
    entry("a1", f"{DAY}T10:00:00Z", "api", severity="ERROR", textPayload="Traceback (most recent call last):"),
    entry(
        "a2",
        f"{DAY}T10:00:01.5Z",
        "api",
        "stdout",
        severity="ERROR",
        jsonPayload={"message": "Boom: DB timeout", "code": 7},
        labels={"run.googleapis.com/execution_name": "exec-1", "instanceId": "i1"},
    ),
    entry(
        "a3",
        f"{DAY}T10:00:02Z",
        "api",
        "requests",
        severity="ERROR",
        httpRequest={"requestMethod": "GET", "requestUrl": "https://api/x", "status": 503, "latency": "0.25s"},
    ),
    entry("b1", f"{DAY}T10:00:03Z", "web", severity="INFO", textPayload="ready 42"),
    entry("b2", f"{DAY}T10:00:04Z", "web", "requests", severity="INFO", httpRequest={"status": 200}),
    entry("a4", "2025-09-06T01:00:00Z", "api", severity="WARNING", textPayload="later"),
]


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeBigQuery]:
    with FakeBigQuery() as fake:
        yield fake


@pytest.fixture
def fake(_server: FakeBigQuery, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeBigQuery:
    _server.reset()
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)  # anonymous, loopback only
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    _server.load_log_analytics(LA, ENTRIES)
    _server.load_sink(SINK, ENTRIES)
    return _server


def _param(name: str, value: Any) -> Any:
    if isinstance(value, list):
        kind = "INT64" if value and isinstance(value[0], int) else "STRING"
        return bigquery.ArrayQueryParameter(name, kind, value)
    kinds = {datetime: "TIMESTAMP", bool: "BOOL", int: "INT64", str: "STRING"}
    return bigquery.ScalarQueryParameter(name, kinds[type(value)], value)


def run(fake: FakeBigQuery, sql: str, *, dry: bool = False, **params: Any) -> Any:
    """Rows as dicts (or the dry-run job) through the real client."""
    client = open_client(fake.url, anonymous=True, project="demo")
    config = bigquery.QueryJobConfig(query_parameters=[_param(k, v) for k, v in params.items()], dry_run=dry)
    try:
        job = client.query(sql, job_config=config)
        return job if dry else [dict(row.items()) for row in job.result()]
    finally:
        client.close()


def values(fake: FakeBigQuery, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in run(fake, sql, **params)]


WINDOW = {"start": datetime(2025, 9, 5, tzinfo=UTC), "end": datetime(2025, 9, 5, 23, 59, tzinfo=UTC)}
AT = datetime(2025, 9, 5, 10, tzinfo=UTC)


def test_ctes_group_by_many_keys_and_order_by_several(fake: FakeBigQuery) -> None:
    sql = f"""
        WITH a AS (
          SELECT JSON_VALUE(t.resource.labels, '$.service_name') AS service, t.severity, t.log_id, t.timestamp
          FROM {LA_SQL} AS t WHERE t.timestamp >= @start AND t.timestamp <= @end
        ), b AS (
          SELECT service, severity, log_id, COUNT(*) AS n, MIN(timestamp) AS first, MAX(timestamp) AS last
          FROM a GROUP BY service, severity, log_id
        )
        SELECT service, severity, log_id, n, first, last FROM b ORDER BY service DESC, severity, log_id DESC"""
    half = AT.replace(second=1, microsecond=500000)
    assert values(fake, sql, **WINDOW) == [
        ("web", "INFO", "run.googleapis.com/stderr", 1, AT.replace(second=3), AT.replace(second=3)),
        ("web", "INFO", "run.googleapis.com/requests", 1, AT.replace(second=4), AT.replace(second=4)),
        ("api", "ERROR", "run.googleapis.com/stdout", 1, half, half),
        ("api", "ERROR", "run.googleapis.com/stderr", 1, AT, AT),
        ("api", "ERROR", "run.googleapis.com/requests", 1, AT.replace(second=2), AT.replace(second=2)),
    ]


def test_union_all_of_several_tables_sums_their_bytes(fake: FakeBigQuery) -> None:
    shard = f"{SINK}.run_googleapis_com_stderr_20250905"
    sql = f"""
        SELECT t.insert_id AS id, 'la' AS origin FROM {LA_SQL} AS t WHERE t.log_id = 'run.googleapis.com/stderr'
        UNION ALL
        SELECT s.insertId, 'sink' FROM `{shard}` AS s
        UNION ALL
        SELECT r.insertId, 'sink' FROM `{SINK}.run_googleapis_com_requests_20250905` AS r
        ORDER BY origin, id"""
    la = [("a1", "la"), ("a4", "la"), ("b1", "la")]
    assert values(fake, sql) == [*la, ("a1", "sink"), ("a3", "sink"), ("b1", "sink"), ("b2", "sink")]
    tables = [LA, shard, f"{SINK}.run_googleapis_com_requests_20250905"]
    assert run(fake, sql, dry=True).total_bytes_processed == sum(sum(fake.tables[n].sizes) for n in tables)


def test_json_value_query_and_quoted_keys(fake: FakeBigQuery) -> None:
    sql = f"""
        SELECT JSON_VALUE(t.json_payload, '$.message') AS message,
               JSON_VALUE(t.labels, '$."run.googleapis.com/execution_name"') AS execution,
               JSON_QUERY(t.json_payload, '$.code') AS code,
               JSON_VALUE(TO_JSON_STRING(t.resource.labels), '$.service_name') AS service
        FROM {LA_SQL} AS t WHERE t.insert_id = 'a2'"""
    assert run(fake, sql) == [{"message": "Boom: DB timeout", "execution": "exec-1", "code": 7, "service": "api"}]
    # A sink's labels are a STRUCT with sanitised names; its jsonPayload a STRUCT too.
    sink = f"""
        SELECT JSON_VALUE(TO_JSON_STRING(t.labels), '$.run_googleapis_com_execution_name') AS execution,
               t.jsonPayload.message AS message, t.jsonPayload.code AS code
        FROM `{SINK}.run_googleapis_com_stdout_20250905` AS t"""
    assert run(fake, sink) == [{"execution": "exec-1", "message": "Boom: DB timeout", "code": 7}]


def test_to_json_string_of_a_log_analytics_row_is_bigquerys_json(fake: FakeBigQuery) -> None:
    sql = f"SELECT TO_JSON_STRING(t) AS entry FROM {LA_SQL} AS t WHERE t.insert_id IN ('a2', 'a3') ORDER BY t.insert_id"
    texts = [row["entry"] for row in run(fake, sql)]
    row = json.loads(texts[0])
    assert list(row)[:10] == [
        "timestamp", "receive_timestamp", "log_name", "log_id", "severity", "insert_id", "trace", "span_id",
        "trace_sampled", "resource",
    ]  # fmt: skip
    assert row["timestamp"] == row["receive_timestamp"] == "2025-09-05T10:00:01.5Z"  # TIMESTAMP as a string
    assert '"json_payload":{"message":"Boom: DB timeout","code":7}' in texts[0]  # JSON embedded, not quoted
    assert row["labels"] == {"run.googleapis.com/execution_name": "exec-1", "instanceId": "i1"}
    assert row["resource"] == {
        "type": "cloud_run_revision",
        "labels": {"service_name": "api", "revision_name": "api-1"},
    }
    assert row["http_request"] is None and row["text_payload"] is None
    http = json.loads(texts[1])["http_request"]
    assert http["status"] == 503 and http["latency"] == {"seconds": 0, "nanos": 250000000}
    assert json.loads(texts[1])["timestamp"] == "2025-09-05T10:00:02Z"


def test_to_json_string_of_a_struct_column_and_a_sink_row(fake: FakeBigQuery) -> None:
    sql = f"SELECT TO_JSON_STRING(t.http_request) AS h FROM {LA_SQL} AS t WHERE t.insert_id = 'b2'"
    assert json.loads(run(fake, sql)[0]["h"])["status"] == 200
    sink = f"SELECT TO_JSON_STRING(t) AS e FROM `{SINK}.run_googleapis_com_stdout_20250905` AS t"
    row = json.loads(run(fake, sink)[0]["e"])
    assert row["timestamp"] == "2025-09-05T10:00:01.5Z" and row["jsonPayload"] == {
        "message": "Boom: DB timeout",
        "code": 7,
    }
    assert row["resource"]["labels"]["service_name"] == "api" and row["labels"]["instanceid"] == "i1"


def test_wildcard_reads_the_shards_table_suffix_selects(fake: FakeBigQuery) -> None:
    sql = f"""
        SELECT t.insertId AS id, _TABLE_SUFFIX AS day, TO_JSON_STRING(t) AS entry
        FROM `{SINK}.run_googleapis_com_stderr_*` AS t
        WHERE _TABLE_SUFFIX BETWEEN @first_day AND @last_day ORDER BY t.timestamp, t.insertId"""
    rows = run(fake, sql, first_day="20250905", last_day="20250905")
    assert [(r["id"], r["day"]) for r in rows] == [("a1", "20250905"), ("b1", "20250905")]
    assert all("_TABLE_SUFFIX" not in json.loads(r["entry"]) for r in rows)  # a pseudo column, not the row's
    both = run(fake, sql, first_day="20250905", last_day="20250906")
    assert [r["day"] for r in both] == ["20250905", "20250905", "20250906"]
    shard = sum(fake.tables[f"{SINK}.run_googleapis_com_stderr_20250905"].sizes)
    assert run(fake, sql, dry=True, first_day="20250905", last_day="20250905").total_bytes_processed == shard
    assert run(fake, sql, dry=True, first_day="20250101", last_day="20250102").total_bytes_processed == 0
    # SELECT * leaves the pseudo column out, as BigQuery does.
    star = run(fake, f"SELECT * FROM `{SINK}.run_googleapis_com_stderr_*` WHERE _TABLE_SUFFIX = '20250906'")
    assert len(star) == 1 and "_TABLE_SUFFIX" not in star[0] and star[0]["insertId"] == "a4"
    sql = f"SELECT * EXCEPT (textPayload) FROM `{SINK}.run_googleapis_com_stderr_*` WHERE _TABLE_SUFFIX = '20250906'"
    (row,) = run(fake, sql)
    assert "_TABLE_SUFFIX" not in row and "textPayload" not in row and row["insertId"] == "a4"


def test_struct_fields_and_string_functions(fake: FakeBigQuery) -> None:
    sql = rf"""
        SELECT t.insert_id AS id, t.resource.type AS type, t.http_request.status AS status,
          REGEXP_CONTAINS(t.text_payload, r'^Traceback \(most') AS tb,
          STRPOS(LOWER(t.text_payload), 'ready') > 0 AS ready,
          STARTS_WITH(t.insert_id, 'b') AS web,
          REGEXP_EXTRACT(t.text_payload, r'(\d+)') AS number,
          SUBSTR(t.insert_id, 1, 1) AS head,
          IFNULL(t.text_payload, '-') AS text,
          COALESCE(CAST(t.http_request.status AS STRING), t.severity) AS what,
          SAFE_CAST(REGEXP_EXTRACT(t.text_payload, r'(\d+)') AS INT64) AS n,
          SAFE_CAST(t.insert_id AS INT64) AS bad,
          IF(t.severity = 'ERROR', 'bad', 'good') AS verdict,
          CASE WHEN t.http_request.status >= 500 THEN '5xx' WHEN t.http_request.status IS NULL THEN 'none' ELSE 'ok' END AS klass
        FROM {LA_SQL} AS t WHERE t.insert_id IN UNNEST(@ids) ORDER BY id"""
    rows = run(fake, sql, ids=["a1", "a3", "b1"])
    assert [r["id"] for r in rows] == ["a1", "a3", "b1"]
    a1, a3, b1 = rows
    assert (a1["type"], a1["status"], a1["tb"], a1["ready"], a1["web"]) == (
        "cloud_run_revision",
        None,
        True,
        False,
        False,
    )
    assert (a3["status"], a3["what"], a3["klass"], a3["text"], a3["tb"]) == (503, "503", "5xx", "-", None)
    assert (b1["number"], b1["n"], b1["head"], b1["ready"], b1["web"], b1["verdict"]) == (
        "42",
        42,
        "b",
        True,
        True,
        "good",
    )
    assert a1["bad"] is None and a1["verdict"] == "bad" and a1["klass"] == "none" and a1["what"] == "ERROR"


def test_in_unnest_of_int_array_and_bool_param(fake: FakeBigQuery) -> None:
    sql = f"""SELECT t.insert_id AS id FROM {LA_SQL} AS t
        WHERE t.http_request.status IN UNNEST(@codes) AND @on ORDER BY id"""
    assert values(fake, sql, codes=[503, 404], on=True) == [("a3",)]
    assert values(fake, sql, codes=[503], on=False) == []


def test_countif_is_zero_over_no_rows(fake: FakeBigQuery) -> None:
    sql = f"SELECT COUNTIF(t.severity = 'ERROR') AS errors, COUNT(*) AS n FROM {LA_SQL} AS t WHERE t.insert_id = @id"
    assert run(fake, sql, id="nope") == [{"errors": 0, "n": 0}]
    assert run(fake, sql, id="a1") == [{"errors": 1, "n": 1}]
    grouped = f"""SELECT t.severity, COUNTIF(t.http_request.status >= 500) AS bad FROM {LA_SQL} AS t
        GROUP BY t.severity ORDER BY t.severity"""
    assert values(fake, grouped) == [("ERROR", 1), ("INFO", 0), ("WARNING", 0)]


def test_functions_sqlglot_leaves_wrong_for_duckdb(fake: FakeBigQuery) -> None:
    sql = rf"""
        SELECT ARRAY_AGG(t.insert_id ORDER BY t.timestamp DESC LIMIT 2) AS latest,
          ANY_VALUE(SAFE.REGEXP_EXTRACT(t.text_payload, r'ready (\d+)')) AS ready,
          MAX(FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E3SZ', t.timestamp)) AS last,
          MIN(SAFE_CAST(t.insert_id AS INT64)) AS none
        FROM {LA_SQL} AS t WHERE JSON_VALUE(t.resource.labels, '$.service_name') = 'web'"""
    assert run(fake, sql) == [{"latest": ["b2", "b1"], "ready": "42", "last": "2025-09-05T10:00:04.000Z", "none": None}]


def test_window_functions(fake: FakeBigQuery) -> None:
    sql = f"""
        SELECT t.insert_id AS id,
          LAG(t.insert_id) OVER (PARTITION BY JSON_VALUE(t.resource.labels, '$.service_name') ORDER BY t.timestamp) AS prev,
          LEAD(t.insert_id) OVER (PARTITION BY JSON_VALUE(t.resource.labels, '$.service_name') ORDER BY t.timestamp) AS next,
          LAST_VALUE(t.text_payload IGNORE NULLS) OVER (
            PARTITION BY JSON_VALUE(t.resource.labels, '$.service_name') ORDER BY t.timestamp
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS last_text,
          SUM(IF(t.severity = 'ERROR', 1, 0)) OVER (
            PARTITION BY JSON_VALUE(t.resource.labels, '$.service_name') ORDER BY t.timestamp
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS errors_so_far,
          ROW_NUMBER() OVER (ORDER BY t.timestamp DESC) AS recent,
          COUNTIF(t.severity = 'ERROR') OVER (PARTITION BY JSON_VALUE(t.resource.labels, '$.service_name')) AS errs
        FROM {LA_SQL} AS t ORDER BY t.timestamp"""
    assert values(fake, sql) == [
        ("a1", None, "a2", None, 1, 6, 3),
        ("a2", "a1", "a3", "Traceback (most recent call last):", 2, 5, 3),
        ("a3", "a2", "a4", "Traceback (most recent call last):", 3, 4, 3),
        ("b1", None, "b2", None, 0, 3, 0),
        ("b2", "b1", None, "ready 42", 0, 2, 0),
        ("a4", "a3", None, "Traceback (most recent call last):", 3, 1, 3),
    ]


def test_result_types_and_unnamed_columns(fake: FakeBigQuery) -> None:
    sql = f"""SELECT MIN(t.timestamp), MAX(t.timestamp) AS last, COUNT(*) / 4 AS ratio, LOGICAL_OR(t.trace_sampled IS NULL) AS b,
        DATE(MAX(t.timestamp)) AS day, ANY_VALUE(t.json_payload) AS j FROM {LA_SQL} AS t WHERE t.insert_id IN ('a2', 'a4')"""
    client = open_client(fake.url, anonymous=True, project="demo")
    try:
        result = client.query(sql).result()
        schema = [(f.name, f.field_type) for f in result.schema]
        (row,) = list(result)
    finally:
        client.close()
    assert schema == [
        ("f0_", "TIMESTAMP"), ("last", "TIMESTAMP"), ("ratio", "FLOAT"), ("b", "BOOLEAN"), ("day", "DATE"), ("j", "JSON"),
    ]  # fmt: skip
    assert row[0] == AT.replace(second=1, microsecond=500000) and row["last"] == datetime(2025, 9, 6, 1, tzinfo=UTC)
    assert row["ratio"] == 0.5 and row["b"] is True and str(row["day"]) == "2025-09-06"


def _rest(fake: FakeBigQuery, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A bare REST call (no client): what the client never sends, e.g. float-seconds timestamps."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(fake.url + path, data=data, method=method)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1, never a proxy
    with opener.open(request) as response:
        return json.loads(response.read())


def test_timestamps_are_float_seconds_unless_int64_is_asked(fake: FakeBigQuery) -> None:
    sql = f"SELECT t.timestamp, t.insert_id FROM {LA_SQL} AS t WHERE t.insert_id IN ('a2', 'a3') ORDER BY 1"
    job = _rest(
        fake,
        "POST",
        "/bigquery/v2/projects/demo/jobs",
        {"configuration": {"query": {"query": sql, "useLegacySql": False}}},
    )
    path = f"/bigquery/v2/projects/demo/queries/{job['jobReference']['jobId']}?maxResults=1"
    page = _rest(fake, "GET", path)
    assert page["rows"] == [{"f": [{"v": "1757066401.500000"}, {"v": "a2"}]}] and page["pageToken"] == "1"
    page = _rest(fake, "GET", path + "&pageToken=1&formatOptions.useInt64Timestamp=true")
    assert page["rows"] == [{"f": [{"v": "1757066402000000"}, {"v": "a3"}]}] and "pageToken" not in page
    assert [f["type"] for f in page["schema"]["fields"]] == ["TIMESTAMP", "STRING"]


def test_errors(fake: FakeBigQuery) -> None:
    with pytest.raises(gexc.BadRequest, match=r"no_such_column"):
        run(fake, f"SELECT t.no_such_column FROM {LA_SQL} AS t")
    with pytest.raises(gexc.NotFound, match=r"Not found: Table demo:sink\.nope"):
        run(fake, f"SELECT 1 FROM `{SINK}.nope`")
    with pytest.raises(gexc.NotFound, match=r"Not found: Table demo:sink.nope_\*"):
        run(fake, f"SELECT 1 FROM `{SINK}.nope_*`")
    with pytest.raises(gexc.BadRequest, match=r"missing"):
        run(fake, f"SELECT 1 FROM {LA_SQL} AS t WHERE t.insert_id = @missing")


def test_bulk_load_is_fast(fake: FakeBigQuery) -> None:
    many = [
        entry(
            f"x{n}",
            f"{DAY}T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
            f"s{n % 7}",
            textPayload=f"line {n}",
        )
        for n in range(30_000)
    ]
    fake.load_log_analytics(LA, many)
    fake.load_sink(SINK, many)
    began = time.perf_counter()
    assert values(fake, f"SELECT COUNT(*) FROM {LA_SQL}") == [(30_000,)]
    assert values(
        fake,
        f"SELECT COUNT(DISTINCT t.insertId) FROM `{SINK}.run_googleapis_com_stderr_*` AS t WHERE _TABLE_SUFFIX < '20250906'",
    ) == [(30_000,)]
    assert time.perf_counter() - began < 5
