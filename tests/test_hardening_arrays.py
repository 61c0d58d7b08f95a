"""A truncated gcloud array is recovered object by object with exact line numbers (counted on, not from
the start of the file for every item: see benchmarks/broken_array_bench.py for the timing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from triage.sources.files import FileSource

_BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "broken_array_bench.py"
_spec = importlib.util.spec_from_file_location("broken_array_bench", _BENCH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)  # type: ignore[union-attr]


def test_truncated_array_recovers_every_whole_object_with_its_line(tmp_path: Path) -> None:
    data = bench.export(500)
    cut = data[: data.rindex(b'"textPayload"')]  # inside the last object
    path = tmp_path / "cut.json"
    path.write_bytes(cut)
    source = FileSource(str(path))
    entries = list(source.entries())
    assert len(entries) == 499 and source.stats.malformed == 1 and source.stats.partial
    last_open = cut.rindex(b"\n  {") + 1  # the cut object starts on the line after this newline
    expected_line = cut.count(b"\n", 0, last_open) + 1
    assert any(f":{expected_line}:" in n and "rest of the file skipped" in n for n in source.stats.notes), (
        expected_line,
        source.stats.notes,
    )
    assert {e["insertId"] for e in entries} == {f"id{i:06d}" for i in range(499)}
