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


def test_fast_path_caps_a_huge_line_like_the_file_reader(tmp_path: Path, monkeypatch) -> None:
    """A line past the cap is one malformed entry with a note on both paths; the lines around it are read."""
    from triage import fastpath
    from triage.engine import Matcher, load_catalog
    from triage.pipeline import collect
    from triage.sources import files

    monkeypatch.setattr(files, "MAX_LINE", 2 << 20)
    monkeypatch.setattr(fastpath, "MAX_LINE", 2 << 20)
    monkeypatch.setattr(fastpath, "CHUNK", 1 << 20)
    monkeypatch.setattr(fastpath, "CONTEXT", 64 << 10)
    sample = (Path(__file__).resolve().parents[1] / "samples" / "scenarios" / "crash-loop-db.jsonl").read_bytes()
    head, tail = sample.splitlines(keepends=True)[:70], sample.splitlines(keepends=True)[70:]
    huge = b'{"textPayload": "' + b"x" * (5 << 20) + b'"}\n'
    path = tmp_path / "huge.jsonl"
    path.write_bytes(b"".join(head) + huge + b"".join(tail))  # the first chunk ends inside the huge line
    matcher = Matcher(load_catalog(()))
    ref = collect([FileSource(str(path))], matcher, fast=False)
    fast = collect([FileSource(str(path))], matcher, fast=True)
    assert ref.stats.malformed == fast.stats.malformed == 1
    assert ref.stats.entries == fast.stats.entries == 70 + len(tail) + 1
    assert any("longer than 2,097,152 bytes" in n for n in fast.stats.notes)
    assert sorted(m.event.timestamp for m in fast.matches) == sorted(m.event.timestamp for m in ref.matches)


def test_gzip_stream_caps_a_line_without_newlines(tmp_path: Path, monkeypatch) -> None:
    """A compressed line with no newline for megabytes (a gzip bomb's shape) is capped on the stream path."""
    import gzip

    from triage import fastpath
    from triage.engine import Matcher, load_catalog
    from triage.pipeline import collect
    from triage.sources import files

    monkeypatch.setattr(files, "MAX_LINE", 2 << 20)
    monkeypatch.setattr(fastpath, "MAX_LINE", 2 << 20)
    monkeypatch.setattr(fastpath, "STREAM_CHUNK", 1 << 20)
    sample = (Path(__file__).resolve().parents[1] / "samples" / "scenarios" / "crash-loop-db.jsonl").read_bytes()
    lines = sample.splitlines(keepends=True)
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(lines[:70]) + b"{" + b"x" * (9 << 20) + b"\n" + b"".join(lines[70:])))
    matcher = Matcher(load_catalog(()))
    ref = collect([FileSource(str(path))], matcher, fast=False)
    fast = collect([FileSource(str(path))], matcher, fast=True)
    assert ref.stats.malformed == fast.stats.malformed == 1
    assert ref.stats.entries == fast.stats.entries == len(lines) + 1
    assert any(
        "longer than 2,097,152 bytes" in n and f"{(9 << 20) + 1 - (2 << 20):,} bytes" in n for n in fast.stats.notes
    )
    assert sorted(m.event.timestamp for m in fast.matches) == sorted(m.event.timestamp for m in ref.matches)
