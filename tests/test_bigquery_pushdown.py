"""The push-down plan through the real client and the fake BigQuery (DuckDB running the transpiled GoogleSQL):
the same run as reading every row, with only the candidate rows returned."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests import hostile_logs
from tests.fake_bigquery import FakeBigQuery
from tests.test_bigquery_source import KINDS, cli, load, sample_entries
from tests.test_exactness import generate, summarize
from triage.engine import Matcher, load_catalog
from triage.pipeline import collect
from triage.records import normalize_timestamp, severity_name
from triage.sources.bigquery import BigQueryQuery, BigQuerySource, Table

START, END = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
TABLES = {
    "log_analytics": "demo.us-central1.logs._AllLogs",
    "sink_sharded": "demo.sink",
    "sink_partitioned": "demo.sink",
}


@pytest.fixture
def fake(bigquery: FakeBigQuery) -> FakeBigQuery:
    return bigquery  # conftest's; "fake" in these tests is BigQuery, not Cloud Logging


def stored(entry: dict[str, Any]) -> dict[str, Any] | None:
    """An entry as Cloud Logging stores it (and BigQuery then holds it): a canonical time, an integer HTTP
    status, a severity of the LogSeverity enum. None for one it would not accept (no readable time)."""
    ts = normalize_timestamp(entry.get("timestamp") or entry.get("receiveTimestamp"))
    if not ts:
        return None
    out = {k: v for k, v in entry.items() if k != "receiveTimestamp"}
    out["timestamp"] = ts
    http = out.get("httpRequest")
    if isinstance(http, dict) and isinstance(http.get("status"), str):
        status = http["status"]
        out["httpRequest"] = {k: v for k, v in http.items() if k != "status"}
        if status.isascii() and status.isdigit():
            out["httpRequest"]["status"] = int(status)
    if "severity" in out:
        out["severity"] = severity_name(out["severity"])
    return out


def run(fake: FakeBigQuery, table: str, push: bool, rules: tuple[Path, ...] = ()) -> tuple[dict, BigQuerySource]:
    source = BigQuerySource(BigQueryQuery(Table.parse(table), START, END), endpoint=fake.url, anonymous=True)
    matcher = Matcher(load_catalog(rules))
    return summarize(collect([source], matcher, fast=push), matcher), source


def _same_as_every_row(fake: FakeBigQuery, kind: str, entries: list[dict[str, Any]]) -> BigQuerySource:
    load(fake, kind, [e for e in map(stored, entries) if e is not None])
    full, every = run(fake, TABLES[kind], push=False)
    pushed, source = run(fake, TABLES[kind], push=True)
    assert every.pushdown is None and source.pushdown is not None
    for key in full:
        if key == "stats":  # the notes name the queries, and say what the plan counted: the rest is the same
            (*ours, notes), (*theirs, their_notes) = _notes_last(pushed[key]), _notes_last(full[key])
            assert ours == theirs
            assert [n for n in notes if not n.startswith("BigQuery")] == [
                n for n in their_notes if not n.startswith("BigQuery")
            ]
        else:
            assert pushed[key] == full[key], key
    return source


def _notes_last(stats: tuple) -> list:
    return [*stats[:6], *stats[7:], stats[6]]  # summarize's stats: the notes are the seventh


@pytest.mark.parametrize("kind", KINDS)
def test_sample_pushed_down_is_the_full_read(fake: FakeBigQuery, kind: str) -> None:
    source = _same_as_every_row(fake, kind, sample_entries())
    whole = source.jobs[0].rows - source.jobs[0].groups
    assert len(source.jobs) == 1 and source.light and source.jobs[0].counted > whole  # most entries stayed
    assert whole + source.jobs[0].counted == len(sample_entries())


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["log_analytics", "sink_sharded"])
def test_hostile_reassembly_pushed_down_is_the_full_read(fake: FakeBigQuery, kind: str, seed: int) -> None:
    """Traces of every runtime cut and interleaved on few instances, equal and MAX_GAP_S-apart times, case
    traps, lines that look like exception lines: the plan must send back every line reassembly may join."""
    source = _same_as_every_row(fake, kind, hostile_logs.entries(1500, seed))
    assert source.jobs[0].counted > 100  # something was counted in BigQuery, not everything travelled


def test_candidates_are_a_small_share_of_the_benchmark_export(fake: FakeBigQuery, tmp_path: Path) -> None:
    path = tmp_path / "bench.jsonl"
    generate.write(20_000, path, seed=5)
    entries = [e for e in map(stored, (orjson.loads(line) for line in path.read_bytes().splitlines())) if e is not None]
    source = _same_as_every_row(fake, "log_analytics", entries)
    job = source.jobs[0]
    whole = job.rows - job.groups
    assert whole + job.counted == len(entries)
    assert whole < 0.10 * len(entries)  # benchmarks: about 6% at 100k and 1M (benchmarks/bigquery_share.py)


def test_a_rule_without_literals_reads_every_row(fake: FakeBigQuery, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "words.yaml").write_text(
        "rules:\n  - id: any-two-words\n    title: Two words\n    severity: low\n    category: resources\n"
        "    match:\n      any:\n        - regex: '^\\S+ \\S+'\n"
        '    problem: "{service} said two words."\n    root_cause: "r"\n    fix: "f"\n'
        "    examples:\n      match: ['a b']\n      no_match: [' x']\n"
    )
    load(fake, "log_analytics", sample_entries())
    _, source = run(fake, TABLES["log_analytics"], push=True, rules=(rules,))
    assert source.pushdown is None and not source.light
    assert "TO_JSON_STRING(t) AS entry" in fake.inserted_jobs()[-1]["configuration"]["query"]["query"]


def test_dry_run_sends_the_plan_as_a_dry_run_only(fake: FakeBigQuery) -> None:
    table = load(fake, "sink_sharded", sample_entries())
    result = cli(
        fake,
        "report",
        "--bigquery",
        table,
        "--from",
        "2025-09-05T00:00:00Z",
        "--to",
        "2025-09-06T00:00:00Z",
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    jobs = fake.inserted_jobs()
    assert len(jobs) == 1 and jobs[0]["configuration"].get("dryRun") is True
    assert "'agg' AS kind" in jobs[0]["configuration"]["query"]["query"]
    assert fake.row_reads() == []
