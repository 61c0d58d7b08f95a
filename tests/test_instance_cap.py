"""A revision keeps at most MAX_INSTANCES instance ids, and always the same ones (the smallest): whatever
order they come in and whichever path counted them, the instance counts of services and issues agree."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from triage.analysis.history import MAX_INSTANCES, History
from triage.engine import Matcher, load_catalog
from triage.pipeline import collect
from triage.records import from_entry
from triage.sources.files import FileSource

REV = {"service_name": "api", "revision_name": "api-00001-abc", "location": "us-central1"}


def _entry(i: int, instance: str, error: bool) -> dict:
    e = {
        "insertId": f"{i:08d}",
        "timestamp": f"2025-09-05T10:{i // 60_000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}000Z",
        "logName": "projects/p/logs/run.googleapis.com%2Fstdout",
        "resource": {"type": "cloud_run_revision", "labels": REV},
        "labels": {"instanceId": instance},
        "textPayload": f"request {i} handled",
    }
    if error:
        e.update(severity="ERROR", textPayload="psycopg2.OperationalError: connection refused")
    return e


def test_the_cap_keeps_the_smallest_ids_on_both_paths(tmp_path: Path) -> None:
    ids = [f"{n:040x}" for n in random.Random(3).sample(range(10**9), 2 * MAX_INSTANCES + 5_000)]
    rows = [_entry(i, inst, error=i % 7 == 0) for i, inst in enumerate(ids)]  # shuffled ids, in time order
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    smallest = set(sorted(ids)[:MAX_INSTANCES])
    for fast in (True, False):
        c = collect([FileSource(str(path))], Matcher(load_catalog(())), fast=fast)
        (state,) = c.history.revisions.values()
        assert state.instances == smallest, fast
        assert state.entries == len(ids)


def test_history_alone_trims_at_finish() -> None:
    h = History()
    ids = [f"i{n:06d}" for n in range(3 * MAX_INSTANCES)][::-1]  # the largest first
    for i, inst in enumerate(ids):
        h.observe(from_entry(_entry(i, inst, error=False)))
    h.finish()
    (state,) = h.revisions.values()
    assert len(state.instances) == MAX_INSTANCES and min(state.instances) == "i000000"
    assert max(state.instances) == f"i{MAX_INSTANCES - 1:06d}"
