"""Partial data is never presented as complete; a missing input is a usage error."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from tests.hostile_run import ENTRY_DEFAULTS
from tests.output_producers import cli
from triage.commands.common import RunOptions, build_model, run_analysis
from triage.commands.report import analyze_table
from triage.report.render import render_json, render_markdown
from triage.sources import MemorySource, SourceStats


def lines(n: int) -> bytes:
    items = [
        {
            **ENTRY_DEFAULTS,
            "timestamp": f"2025-09-05T10:{i // 60:02d}:{i % 60:02d}Z",
            "textPayload": os.urandom(40).hex(),
        }
        for i in range(n)
    ]
    return b"".join(orjson.dumps(x) + b"\n" for x in items)


class StoppedSource:
    """Stands in for a live pull that failed after some pages and kept them (``SourceStats.partial``)."""

    name = "cloud-logging"

    def __init__(self) -> None:
        self.stats = SourceStats()

    def entries(self) -> Iterator[Mapping[str, Any]]:
        for i in range(3):
            self.stats.entries += 1
            yield {**ENTRY_DEFAULTS, "timestamp": f"2025-09-05T10:00:0{i}Z", "textPayload": "hello"}
        self.stats.partial = True
        self.stats.notes.append("PARTIAL: pull stopped after 1 pages (3 entries): 503 Service Unavailable")


def test_missing_file_among_several_is_a_usage_error(tmp_path: Path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(lines(3))
    code, out = cli(["report", str(good), str(tmp_path / "missing.jsonl"), str(good)])
    assert code == 2 and out == f"triage: error: {tmp_path / 'missing.jsonl'}: no such file\n"
    code, out = cli(["analyze", str(good), str(tmp_path)])
    assert code == 2 and out.count("\n") == 1 and "is a directory" in out


def test_truncated_and_corrupt_gzip_among_several_mark_the_run_partial(tmp_path: Path):
    good, cut, bad = tmp_path / "good.jsonl", tmp_path / "cut.jsonl.gz", tmp_path / "bad.jsonl.gz"
    good.write_bytes(lines(5))
    whole = gzip.compress(lines(200))
    cut.write_bytes(whole[: len(whole) // 2])
    bad.write_bytes(whole[:40] + bytes(b ^ 0xFF for b in whole[40:80]) + whole[80:])
    for broken in (cut, bad):
        code, md = cli(["report", str(good), str(broken)])
        assert code == 0 and "**PARTIAL**" in md.split("## Executive Summary")[0]
        assert f"{broken}: read stopped early" in md
        code, js = cli(["report", str(good), str(broken), "--format", "json"])
        assert orjson.loads(js)["partial"] is True
        code, table = cli(["analyze", str(good), str(broken)])
        assert "PARTIAL" in table
    code, js = cli(["report", str(good), "--format", "json"])
    assert orjson.loads(js)["partial"] is False


def test_any_partial_source_marks_every_output_partial():
    sources = [
        MemorySource([{**ENTRY_DEFAULTS, "timestamp": "2025-09-05T09:00:00Z", "textPayload": "x"}]),
        StoppedSource(),
    ]
    opts = RunOptions(date="2025-09-05")
    model = build_model(opts, run_analysis(opts, sources))
    assert model["partial"] is True and model["stats"]["entries"] == 4
    assert "**PARTIAL**" in render_markdown(model)
    assert orjson.loads(render_json(model))["partial"] is True
    assert "PARTIAL" in analyze_table(model)
    assert any("pull stopped" in n for n in model["notes"]["input"])
