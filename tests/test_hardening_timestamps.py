"""Impossible timestamps ("2025-99-99T99:99:99Z", February 30, hour 24) are malformed entries, counted
with a reason on the full and the fast path alike, and never a report's date or window edge."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from triage.engine import Matcher, load_catalog
from triage.pipeline import collect
from triage.records import NotAnEntry, from_entry, normalize_timestamp
from triage.sources.files import FileSource

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "scenarios" / "crash-loop-db.jsonl"

IMPOSSIBLE = [
    "2025-99-99T99:99:99Z",
    "2025-02-30T10:00:00.000000Z",
    "2025-02-29T10:00:00Z",  # 2025 is not a leap year
    "1900-02-29T00:00:00.5Z",  # nor is 1900
    "2025-09-10T24:00:00.000000Z",
    "2025-09-10T14:60:00.000000Z",
    "2025-09-10T14:00:60.000000Z",  # a leap second: the full parse refuses it too
    "2025-04-31T14:00:00.000000Z",
    "2025-00-10T14:00:00.000000Z",
    "0000-01-01T00:00:00.000000Z",
    "2025-13-01T00:00:00.000000000Z",
]
POSSIBLE = ["2024-02-29T23:59:59.999999Z", "2000-02-29T00:00:00Z", "2025-12-31T00:00:00.1Z"]


@pytest.mark.parametrize("ts", IMPOSSIBLE)
def test_impossible_timestamp_is_no_date(ts: str) -> None:
    assert normalize_timestamp(ts) == ""
    assert normalize_timestamp(ts.replace("Z", "+00:00")) == ""
    with pytest.raises(NotAnEntry, match="timestamp"):
        from_entry({"timestamp": ts, "textPayload": "x", "logName": "projects/p/logs/run.googleapis.com%2Fstdout"})


@pytest.mark.parametrize("ts", POSSIBLE)
def test_real_edge_dates_still_parse(ts: str) -> None:
    assert normalize_timestamp(ts).startswith(ts[:19])
    assert from_entry({"timestamp": ts, "textPayload": "x"}).timestamp == normalize_timestamp(ts)


def _hostile(tmp_path: Path) -> Path:
    """The sample plus, for each impossible timestamp, a line each path could take: a light stdout line,
    an error a rule matches (full path), a request line and a system line."""
    base = orjson.loads(SAMPLE.read_bytes().splitlines()[0])
    lines = [SAMPLE.read_bytes().rstrip(b"\n")]
    for i, ts in enumerate(IMPOSSIBLE):
        shapes = [
            {"textPayload": "listening on :8080", "severity": "INFO"},
            {"textPayload": "psycopg2.OperationalError: connection refused", "severity": "ERROR"},
            {"httpRequest": {"status": 503, "requestMethod": "GET", "requestUrl": "https://x.run.app/"}},
        ]
        for j, shape in enumerate(shapes):
            entry = {k: v for k, v in base.items() if k not in ("textPayload", "jsonPayload", "httpRequest")}
            lines.append(orjson.dumps({**entry, **shape, "timestamp": ts, "insertId": f"bad{i}-{j}"}))
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("fast", [False, True])
def test_impossible_timestamps_are_counted_malformed_on_both_paths(tmp_path: Path, fast: bool) -> None:
    matcher = Matcher(load_catalog(()))
    clean = collect([FileSource(str(SAMPLE))], matcher, fast=fast)
    hostile = collect([FileSource(str(_hostile(tmp_path)))], matcher, fast=fast)
    bad = 3 * len(IMPOSSIBLE)
    assert hostile.stats.malformed == clean.stats.malformed + bad
    assert hostile.stats.entries == clean.stats.entries + bad
    assert any("timestamp is not a valid" in n for n in hostile.stats.notes)
    # the window and every issue's dates are the clean run's: no impossible date became a report date
    assert (hostile.history.first_ts, hostile.history.last_ts) == (clean.history.first_ts, clean.history.last_ts)
    assert sorted(m.event.timestamp for m in hostile.matches) == sorted(m.event.timestamp for m in clean.matches)
    # the untrusted value is not echoed into the notes
    assert not any("99:99" in n or "02-30" in n for n in hostile.stats.notes)


@pytest.mark.parametrize("ts", [t for t in IMPOSSIBLE if "." not in t and t[:4] != "0000"])
def test_pasted_text_line_with_an_impossible_time_is_malformed_not_reassigned(tmp_path: Path, ts: str) -> None:
    # Pasted text: the impossible line is counted malformed (it does not borrow its neighbour's time),
    # and the line after it, which has no time of its own, takes the last good line's time.
    path = tmp_path / "pasted.txt"
    path.write_text(f"2025-09-05T10:00:00Z INFO starting\n{ts} ERROR boom\n  wrapped line\n")
    source = FileSource(str(path))
    entries = list(source.entries())
    assert source.stats.entries == 3
    times = [e.get("timestamp") for e in entries]
    assert times[0] == times[2] == normalize_timestamp("2025-09-05T10:00:00Z")
    with pytest.raises(NotAnEntry):
        from_entry(entries[1])
    got = collect([FileSource(str(path))], Matcher(load_catalog()))
    assert (got.stats.entries, got.stats.malformed) == (3, 1)
    assert got.history.first_ts == got.history.last_ts == times[0]
