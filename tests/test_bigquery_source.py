"""``--bigquery``: the real google-cloud-bigquery client against a fake BigQuery REST server on 127.0.0.1."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fake_bigquery import FakeBigQuery, log_id_of
from triage.cli import app
from triage.errors import SourceError, TriageError
from triage.sources.bigquery import BigQueryQuery, BigQuerySource, Table, human_bytes, sink_queries

SAMPLE = Path(__file__).parent.parent / "samples" / "staging-2025-09-05.jsonl"
WINDOW = ("--from", "2025-09-05T00:00:00Z", "--to", "2025-09-06T00:00:00Z")
WINDOW_TIMES = (datetime(2025, 9, 5, tzinfo=UTC), datetime(2025, 9, 6, tzinfo=UTC))
LA_VIEW = "demo.us-central1.logs._AllLogs"
SINK = "demo.sink"


def sample_entries() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]


def shifted(entries: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    """The same entries ``days`` later, with other insert ids: a second day of logs."""
    out = []
    for entry in entries:
        moment = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")) + timedelta(days=days)
        out.append(
            {**entry, "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "insertId": f"d{days}-{entry['insertId']}"}
        )
    return out


@pytest.fixture
def fake(bigquery: FakeBigQuery) -> FakeBigQuery:
    return bigquery  # conftest's; "fake" in these tests is BigQuery, not Cloud Logging


def load(fake: FakeBigQuery, kind: str, entries: list[dict[str, Any]]) -> str:
    if kind == "log_analytics":
        fake.load_log_analytics(LA_VIEW, entries)
        return LA_VIEW
    fake.load_sink(SINK, entries, partitioned=kind == "sink_partitioned")
    return SINK


def cli(fake: FakeBigQuery, *args: str) -> Any:
    base = ["--anonymous", "--bigquery-endpoint", fake.url]
    return CliRunner().invoke(app, [*args, *base])


KINDS = ["log_analytics", "sink_sharded", "sink_partitioned"]
_PUSHED = (
    r"BigQuery query 1 of 1: .*: ([\d,]+) rows \(([\d,]+) entries whole, ([\d,]+) counts of ([\d,]+) benign entries\)"
)


@pytest.mark.parametrize("kind", KINDS)
def test_sample_gives_the_file_report(fake: FakeBigQuery, kind: str, tmp_path: Path) -> None:
    table = load(fake, kind, sample_entries())
    from_bq, from_file = tmp_path / "bq.json", tmp_path / "file.json"
    result = cli(fake, "report", "--bigquery", table, *WINDOW, "--format", "json", "--out", str(from_bq))
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(app, ["report", str(SAMPLE), "--format", "json", "--out", str(from_file)]).exit_code == 0
    bq, file = json.loads(from_bq.read_text()), json.loads(from_file.read_text())
    assert bq["issues"], "the sample has issues"
    for key in ("issues", "services", "window", "partial", "recommendations"):
        assert bq[key] == file[key], key
    assert bq["stats"]["entries"] == file["stats"]["entries"] == len(sample_entries())
    assert bq["stats"]["error_events"] == file["stats"]["error_events"]
    notes = bq["notes"]["input"]
    # One push-down query: the entries that can matter whole, the rest counted in BigQuery.
    counts = [re.search(_PUSHED, note) for note in notes]
    found = [[int(g.replace(",", "")) for g in m.groups()] for m in counts if m]
    assert len(found) == 1 and any(n.startswith("BigQuery: 1 query, ") and "bytes processed" in n for n in notes)
    rows, whole, groups, benign = found[0]
    assert rows == whole + groups and whole + benign == len(sample_entries()) and 0 < whole < benign
    # Every job was a real (not dry) query with the client's int64 timestamps.
    assert all(not job["configuration"].get("dryRun") for job in fake.inserted_jobs())
    assert all(r.params.get("formatOptions.useInt64Timestamp", "").lower() == "true" for r in fake.row_reads())


@pytest.mark.parametrize("kind", KINDS)
def test_markdown_is_the_file_report_plus_the_query_notes(fake: FakeBigQuery, kind: str) -> None:
    table = load(fake, kind, sample_entries())
    bq = cli(fake, "report", "--bigquery", table, *WINDOW, "--date", "2025-09-05")
    file = CliRunner().invoke(app, ["report", str(SAMPLE), "--date", "2025-09-05"])
    assert bq.exit_code == 0 and file.exit_code == 0, bq.output
    assert bq.stdout.startswith(file.stdout)  # byte-identical up to the Data Quality notes it adds
    extra = bq.stdout[len(file.stdout) :].splitlines()
    assert extra[:2] == ["", "## Data Quality"], extra
    notes = extra[2:]
    assert len(notes) == 2 and all(line.startswith("- BigQuery") for line in notes)  # one push-down query
    assert re.search(_PUSHED, notes[0]) and notes[-1].startswith("- BigQuery: 1 query, ")


def test_window_prunes_shards_and_partitions(fake: FakeBigQuery) -> None:
    day1 = sample_entries()
    two_days = day1 + shifted(day1, 1)
    fake.load_sink(SINK, two_days)  # shards _20250905 and _20250906
    fake.load_sink("demo.parted", two_days, partitioned=True)
    fake.load_log_analytics(LA_VIEW, two_days)
    start, end = datetime(2025, 9, 5, tzinfo=UTC), datetime(2025, 9, 5, 23, 59, 59, tzinfo=UTC)
    whole = {}
    for name in (SINK, "demo.parted", LA_VIEW):
        source = BigQuerySource(BigQueryQuery(Table.parse(name), start, end), endpoint=fake.url, anonymous=True)
        assert len(list(source.entries())) == len(day1), name
        whole[name] = sum(job.bytes_processed for job in source.jobs)
    day1_bytes = sum(
        size
        for key, t in fake.tables.items()
        if key.startswith(SINK + ".") and key.endswith("20250905")
        for size in t.sizes
    )
    assert whole[SINK] == day1_bytes  # the 0906 shards were not scanned
    for name in ("demo.parted", LA_VIEW):
        total = sum(sum(t.sizes) for key, t in fake.tables.items() if key.startswith(name + "."))
        if name == LA_VIEW:
            total = sum(fake.tables[LA_VIEW].sizes)
        assert 0.4 * total < whole[name] < 0.6 * total, name  # one of two days' partitions
    sharded = [job for job in fake.inserted_jobs() if "_*`" in job["configuration"]["query"]["query"]]
    assert sharded and all(
        "_TABLE_SUFFIX BETWEEN @first_day AND @last_day" in j["configuration"]["query"]["query"] for j in sharded
    )
    days = {
        p["name"]: p["parameterValue"]["value"]
        for p in sharded[0]["configuration"]["query"]["queryParameters"]
        if p["name"].endswith("_day")
    }
    assert days == {"first_day": "20250905", "last_day": "20250905"}


@pytest.mark.parametrize("kind", ["log_analytics", "sink_sharded"])
def test_service_filter_is_a_parameter(fake: FakeBigQuery, kind: str) -> None:
    entries = sample_entries()
    table = load(fake, kind, entries)
    wanted = "netra-backend-staging"
    expected = [e for e in entries if e["resource"]["labels"].get("service_name") == wanted]
    assert 0 < len(expected) < len(entries)
    query = BigQueryQuery(
        Table.parse(table),
        datetime(2025, 9, 5, tzinfo=UTC),
        datetime(2025, 9, 6, tzinfo=UTC),
        services=(wanted, "o'brien"),
    )
    got = list(BigQuerySource(query, endpoint=fake.url, anonymous=True).entries())
    assert [e["insertId"] for e in got] == [e["insertId"] for e in expected]
    for job in fake.inserted_jobs():
        config = job["configuration"]["query"]
        assert "o'brien" not in config["query"] and "IN UNNEST(@services)" in config["query"]
        services = next(p for p in config["queryParameters"] if p["name"] == "services")
        assert [v["value"] for v in services["parameterValue"]["arrayValues"]] == [wanted, "o'brien"]


def test_rows_come_back_as_rest_log_entries(fake: FakeBigQuery) -> None:
    entries = sample_entries()
    fake.load_log_analytics(LA_VIEW, entries)
    query = BigQueryQuery(Table.parse(LA_VIEW), datetime(2025, 9, 5, tzinfo=UTC), datetime(2025, 9, 6, tzinfo=UTC))
    source = BigQuerySource(query, endpoint=fake.url, anonymous=True, page_size=400)
    got = {e["insertId"]: e for e in source.entries()}
    for original in entries:
        entry = got[original["insertId"]]
        for key in ("timestamp", "logName", "resource", "textPayload", "jsonPayload", "protoPayload", "labels"):
            assert entry.get(key) == original.get(key), key
        if "httpRequest" in original:
            assert entry["httpRequest"]["status"] == original["httpRequest"]["status"]
            assert entry["httpRequest"]["requestUrl"] == original["httpRequest"]["requestUrl"]
    tokens = [r.params.get("pageToken") for r in fake.row_reads()]
    assert len(tokens) == 5 and tokens[1:] == ["400", "800", "1200", "1600"]  # paged, 400 rows a page


def test_sink_audit_rows_get_their_payload_back(fake: FakeBigQuery) -> None:
    entries = sample_entries()
    fake.load_sink(SINK, entries)
    audit_table = fake.tables[f"{SINK}.cloudaudit_googleapis_com_activity_20250905"]
    assert "protopayload_auditlog" in audit_table.rows[0] and "protoPayload" not in audit_table.rows[0]
    query = BigQueryQuery(Table.parse(SINK), datetime(2025, 9, 5, tzinfo=UTC), datetime(2025, 9, 6, tzinfo=UTC))
    got = {e["insertId"]: e for e in BigQuerySource(query, endpoint=fake.url, anonymous=True).entries()}
    audits = [e for e in entries if log_id_of(e).startswith("cloudaudit")]
    assert audits
    for original in audits:
        proto, want = got[original["insertId"]]["protoPayload"], original["protoPayload"]
        # Struct fields travel as JSON strings (requestJson) and come back whole; empty records read as NULL.
        for key in ("@type", "methodName", "resourceName", "serviceName", "authenticationInfo", "request", "response"):
            assert proto.get(key) == want.get(key), key
    stdout = [e for e in entries if "labels" in e and "instanceId" in e["labels"]]
    assert all(got[e["insertId"]]["labels"]["instanceId"] == e["labels"]["instanceId"] for e in stdout)


def test_sink_dataset_lists_tables_with_paging(fake: FakeBigQuery) -> None:
    fake.load_sink(SINK, sample_entries())
    for n in range(1100):  # other logs of the dataset: listed, never queried
        fake.add_table(f"{SINK}.other_log_{n:04d}_20250905", [])
    query = BigQueryQuery(Table.parse(SINK), datetime(2025, 9, 5, tzinfo=UTC), datetime(2025, 9, 6, tzinfo=UTC))
    source = BigQuerySource(query, endpoint=fake.url, anonymous=True)
    assert len(list(source.entries())) == len(sample_entries())
    listings = [r for r in fake.requests if r.path.endswith("/tables")]
    assert len(listings) == 2 and listings[1].params.get("pageToken") == "1000"
    assert len(fake.inserted_jobs()) == 6  # one per Cloud Run log found


def test_missing_logs_are_named(fake: FakeBigQuery) -> None:
    fake.load_sink(SINK, [e for e in sample_entries() if log_id_of(e) == "run.googleapis.com/stderr"])
    query = BigQueryQuery(Table.parse(SINK), datetime(2025, 9, 5, tzinfo=UTC), datetime(2025, 9, 6, tzinfo=UTC))
    source = BigQuerySource(query, endpoint=fake.url, anonymous=True)
    list(source.entries())
    assert any("no table for run.googleapis.com/stdout" in note for note in source.stats.notes)


def test_dry_run_prints_bytes_and_reads_no_rows(fake: FakeBigQuery, tmp_path: Path) -> None:
    fake.load_sink(SINK, sample_entries())
    out = tmp_path / "report.md"
    result = cli(fake, "report", "--bigquery", SINK, *WINDOW, "--dry-run", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    expected = sum(sum(t.sizes) for t in fake.tables.values())
    # One push-down query over the six log tables' shards of the window.
    assert (
        len(lines) == 2 and lines[-1] == f"dry run: 1 query would process {expected:,} bytes ({human_bytes(expected)})"
    )
    assert lines[0].startswith(f"dry run: {SINK} (push-down plan over 6 log tables): ")
    jobs = fake.inserted_jobs()
    assert len(jobs) == 1 and all(job["configuration"]["dryRun"] is True for job in jobs)
    assert "run_googleapis_com_stderr_*" in jobs[0]["configuration"]["query"]["query"]
    assert not [r for r in fake.requests if "/queries/" in r.path] and not out.exists()


def test_maximum_bytes_billed_reaches_every_job(fake: FakeBigQuery) -> None:
    fake.load_sink(SINK, sample_entries())
    result = cli(fake, "analyze", "--bigquery", SINK, *WINDOW, "--maximum-bytes-billed", "50000000")
    assert result.exit_code == 0, result.output
    jobs = fake.inserted_jobs()
    assert len(jobs) == 1 and jobs[0]["configuration"]["query"]["maximumBytesBilled"] == "50000000"
    # Reading every row (a catalog that must see every line) runs a job per log table, each with the limit.
    full = BigQuerySource(
        BigQueryQuery(Table.parse(SINK), *WINDOW_TIMES, maximum_bytes_billed=50_000_000),
        endpoint=fake.url,
        anonymous=True,
    )
    assert len(list(full.entries())) == len(sample_entries())
    jobs = fake.inserted_jobs()[1:]
    assert len(jobs) == 6 and {job["configuration"]["query"]["maximumBytesBilled"] for job in jobs} == {"50000000"}


def test_bytes_billed_limit_is_one_line(fake: FakeBigQuery) -> None:
    fake.load_log_analytics(LA_VIEW, sample_entries())
    result = cli(fake, "ci", "--bigquery", LA_VIEW, *WINDOW, "--maximum-bytes-billed", "1000")
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--maximum-bytes-billed" in lines[0] and "bytesBilledLimitExceeded" in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (403, "accessDenied", ["permission denied", "roles/bigquery.jobUser", "403 accessDenied"]),
        (404, "notFound", ["not found", "check --bigquery"]),
        (400, "invalidQuery", ["BigQuery error 400 invalidQuery"]),
    ],
)
def test_server_errors_are_one_clear_line(fake: FakeBigQuery, status: int, reason: str, expected: list[str]) -> None:
    fake.load_sink(SINK, sample_entries())
    fake.fail(status, reason)
    result = cli(fake, "report", "--bigquery", SINK, *WINDOW)
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("triage: error: "), result.stderr
    assert all(part in lines[0] for part in expected), lines[0]
    assert "Traceback" not in result.output


def test_unknown_dataset_is_not_found(fake: FakeBigQuery) -> None:
    result = cli(fake, "analyze", "--bigquery", "demo.missing", *WINDOW)
    assert result.exit_code == 3 and "demo.missing not found" in result.stderr
    assert "linked dataset" not in result.stderr
    # A Log Analytics page name BigQuery does not know: the line says which name BigQuery reads.
    result = cli(fake, "analyze", "--bigquery", "demo.global._Default._AllLogs", *WINDOW)
    assert result.exit_code == 3 and "not found" in result.stderr and "linked dataset" in result.stderr


def test_credentials_stay_on_loopback(fake: FakeBigQuery) -> None:
    fake.load_sink(SINK, sample_entries())
    assert cli(fake, "analyze", "--bigquery", SINK, *WINDOW).exit_code == 0
    assert fake.requests and all(r.authorization == "" for r in fake.requests)  # anonymous: no token sent
    # --anonymous towards a real host is refused before any request.
    remote = CliRunner().invoke(
        app, ["analyze", "--bigquery", SINK, "--anonymous", "--bigquery-endpoint", "https://bigquery.googleapis.com"]
    )
    assert remote.exit_code == 2 and "only allowed with a loopback" in remote.stderr
    # Without --anonymous and without credentials: the usual one-line hint, nothing sent anywhere.
    fake.requests.clear()
    result = CliRunner().invoke(app, ["analyze", "--bigquery", SINK, *WINDOW, "--bigquery-endpoint", fake.url])
    assert result.exit_code == 3 and "gcloud auth application-default login" in result.stderr
    assert fake.requests == []


def test_options_of_the_other_mode_are_errors(fake: FakeBigQuery) -> None:
    result = cli(fake, "report", "--bigquery", SINK, *WINDOW, "--severity", "ERROR")
    assert result.exit_code == 2 and "--severity apply to Cloud Logging" in result.stderr
    result = CliRunner().invoke(app, ["report", str(SAMPLE), "--dry-run"])
    assert result.exit_code == 2 and "--dry-run need --bigquery" in result.stderr
    result = cli(fake, "report", str(SAMPLE), "--bigquery", SINK, *WINDOW)
    assert result.exit_code == 2 and "not both" in result.stderr
    assert fake.requests == []


def test_table_names() -> None:
    assert Table.parse("p.us.bucket._AllLogs").kind == "log_analytics"
    assert Table.parse("`p.linked._AllLogs`") == Table("log_analytics", "p", "p.linked._AllLogs")
    assert Table.parse("p.dataset") == Table("sink", "p", "p.dataset")
    for bad in ("p", "p.d.t.v.x", "p..d", "p.d; DROP TABLE x"):
        with pytest.raises(TriageError):
            Table.parse(bad)


def test_sink_plan_without_a_shard_in_the_window_runs_no_job() -> None:
    query = BigQueryQuery(Table.parse("p.d"), datetime(2025, 9, 7, tzinfo=UTC), datetime(2025, 9, 8, tzinfo=UTC))
    planned, notes = sink_queries(query, ["run_googleapis_com_stderr_20250905", "run_googleapis_com_requests"])
    assert [p.label for p in planned] == ["p.d.run_googleapis_com_requests"]
    assert "TABLE_SUFFIX" not in planned[0].sql and "t.timestamp >= @start" in planned[0].sql
    assert notes and "run.googleapis.com/stdout" in notes[0]


def test_source_error_is_exit_3() -> None:
    assert SourceError("x").exit_code == 3


def test_transient_backend_error_is_retried_by_the_client(fake: FakeBigQuery) -> None:
    fake.load_log_analytics(LA_VIEW, sample_entries())
    fake.fail(500, "backendError")  # the first jobs.insert
    query = BigQueryQuery(Table.parse(LA_VIEW), datetime(2025, 9, 5, tzinfo=UTC), datetime(2025, 9, 6, tzinfo=UTC))
    source = BigQuerySource(query, endpoint=fake.url, anonymous=True)
    assert len(list(source.entries())) == len(sample_entries())
    inserts = [r for r in fake.requests if r.method == "POST"]
    assert len(inserts) == 2 and inserts[0].body["jobReference"] == inserts[1].body["jobReference"]  # same job id
