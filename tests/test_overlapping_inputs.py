"""Inputs that share entries (overlapping pulls, a sink export beside a gcloud read) count each entry once:
the report of the overlapping parts is the report of the whole, with the copies counted and noted."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from triage.cli import app
from triage.sources.files import FileSource
from triage.sources.overlap import may_share_entries

ROOT = Path(__file__).resolve().parents[1]
_GEN = ROOT / "benchmarks" / "generate.py"
_spec = importlib.util.spec_from_file_location("bench_generate", _GEN)
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)  # type: ignore[union-attr]


def report(*paths: Path) -> dict:
    result = CliRunner().invoke(app, ["report", *map(str, paths), "--format", "json", "--date", "2025-09-06"])
    assert result.exit_code == 0, result.stdout + result.stderr
    return orjson.loads(result.stdout[result.stdout.index("{") :])


def comparable(r: dict) -> dict:
    """The report without what names or counts the inputs themselves."""
    r = dict(r, stats=dict(r["stats"]), notes=dict(r["notes"]))
    for key in ("sources", "generated"):
        r.pop(key, None)
    for key in ("entries", "duplicates"):
        r["stats"].pop(key)
    r["notes"].pop("input")
    return r


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    path = tmp_path_factory.mktemp("overlap") / "whole.jsonl"
    generate.write(6_000, path, seed=5)
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def test_overlapping_parts_in_three_formats_give_the_whole_report(lines: list[bytes], tmp_path: Path) -> None:
    n = len(lines)
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(b"\n".join(lines) + b"\n")
    a, b, c = lines[: n // 2], lines[n // 3 : 3 * n // 4], lines[2 * n // 3 :]
    pa, pb, pc = tmp_path / "a.jsonl", tmp_path / "b.json.gz", tmp_path / "c.json"
    pa.write_bytes(b"\n".join(a) + b"\n")
    pb.write_bytes(gzip.compress(b"\n".join(b) + b"\n"))
    # What gcloud logging read --format=json prints: an indented array, newest first.
    pc.write_bytes(orjson.dumps([orjson.loads(x) for x in c[::-1]], option=orjson.OPT_INDENT_2))
    expected = report(whole)
    got = report(pc, pa, pb)
    copies = (n // 2 - n // 3) + (3 * n // 4 - 2 * n // 3)
    assert got["stats"]["entries"] == len(a) + len(b) + len(c) == n + copies
    assert got["stats"]["duplicates"] == copies and got["stats"]["records"] == n
    assert comparable(got) == comparable(expected)
    notes = [x for x in got["notes"]["input"] if "counted once" in x]
    assert notes == [
        f"{pb}: {n // 2 - n // 3:,} entries are also in {pa} (same insertId, time and log): counted once",
        f"{pc}: {3 * n // 4 - 2 * n // 3:,} entries are also in {pb} (same insertId, time and log): counted once",
    ]
    assert expected["stats"]["duplicates"] == 0


def test_overlap_is_proven_absent_or_present_before_the_run(lines: list[bytes], tmp_path: Path) -> None:
    """Only inputs that may share an entry lose the fast path; disjoint exports keep it."""
    one, two, three = tmp_path / "1.jsonl", tmp_path / "2.jsonl", tmp_path / "3.jsonl.gz"
    one.write_bytes(b"\n".join(lines[:100]) + b"\n")
    two.write_bytes(b"\n".join(lines[100:200]) + b"\n")
    three.write_bytes(gzip.compress(b"\n".join(lines[150:160]) + b"\n"))
    assert may_share_entries([FileSource(str(one)), FileSource(str(two))]) is False
    assert may_share_entries([FileSource(str(one)), FileSource(str(three))]) is False
    assert may_share_entries([FileSource(str(two)), FileSource(str(three))]) is True
    assert may_share_entries([FileSource(str(one))]) is False


def test_same_insert_id_in_another_log_or_time_is_another_entry(tmp_path: Path) -> None:
    base = orjson.loads((ROOT / "samples/scenarios/crash-loop-db.jsonl").read_bytes().splitlines()[0])
    other_time = dict(base, timestamp="2025-09-05T23:59:59.000001Z")
    other_log = dict(base, logName=base["logName"].replace("stdout", "stderr").replace("requests", "stderr") + "x")
    p1, p2 = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    p1.write_bytes(orjson.dumps(base) + b"\n")
    p2.write_bytes(orjson.dumps(other_time) + b"\n" + orjson.dumps(other_log) + b"\n")
    got = report(p1, p2)
    assert (got["stats"]["entries"], got["stats"]["duplicates"], got["stats"]["records"]) == (3, 0, 3)


def test_pasted_text_line_numbers_are_not_entry_ids(tmp_path: Path) -> None:
    """A text file's insertId is its line number: two pastes that share line numbers and times are not copies."""
    lines = [f"2025-09-05T10:00:0{i}Z ERROR psycopg2.OperationalError: connection refused {i}" for i in range(5)]
    p1, p2 = tmp_path / "1.log", tmp_path / "2.log"
    p1.write_text("\n".join(lines) + "\n")
    p2.write_text("\n".join([*lines[:4], "2025-09-05T10:00:04Z ERROR something else"]) + "\n")
    got = report(p1, p2)
    assert (got["stats"]["entries"], got["stats"]["duplicates"], got["stats"]["records"]) == (10, 0, 10)
