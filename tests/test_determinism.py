"""Same input, any order: reordering input files, or entries with equal timestamps, gives byte-identical
reports (markdown and JSON)."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

from tests.hostile_run import ENTRY_DEFAULTS, run_paths

TS = "2025-09-05T10:00:00Z"  # everything at the same instant: only tie-breaking decides the order
SYSTEM = "projects/p/logs/run.googleapis.com%2Fvarlog%2Fsystem"


def entry(text: str, *, service: str = "api", revision: str = "api-00001-abc", instance: str = "00aa", **kw) -> dict:
    labels = {"service_name": service, "revision_name": revision}
    return {
        **ENTRY_DEFAULTS,
        "timestamp": TS,
        "resource": {"type": "cloud_run_revision", "labels": labels},
        "labels": {"instanceId": instance},
        "severity": "ERROR",
        "textPayload": text,
        **kw,
    }


def files() -> list[list[dict]]:
    refused = "ConnectionRefusedError: [Errno 111] Connect call failed ('{}', 5432)"
    return [
        [
            entry(refused.format("10.0.0.3"), insertId="a"),
            entry(refused.format("10.0.0.4"), insertId="a"),  # duplicate insertId, other host
            entry(refused.format("10.0.0.5"), instance="00bb"),  # no insertId
            entry(refused.format("10.0.0.6"), revision="api-00002-def", instance="00cc"),
        ],
        [
            entry(refused.format("10.0.0.7"), service="worker", revision="worker-00001-xyz"),
            entry(refused.format("10.0.0.3"), severity="CRITICAL"),  # same text, other severity
            entry(refused.format("10.0.0.3"), instance="00ee"),  # same text and time, other instance
            entry("Container called exit(1).", logName=SYSTEM),
        ],
        [
            entry("Container called exit(1).", service="worker", revision="worker-00001-xyz", insertId="z"),
            {"textPayload": "not json at all"},  # parses; no timestamp
            entry(refused.format("10.0.0.8"), instance="00dd", insertId="a"),
        ],
    ]


def encode(items: list) -> bytes:
    return b"".join(orjson.dumps(x) + b"\n" for x in items) + b"{broken\n"


def outputs(tmp: Path, order: list[int], rng: random.Random | None = None) -> tuple[str, str]:
    paths = []
    for i in order:
        items = list(files()[i])
        if rng:
            rng.shuffle(items)
        path = tmp / f"export-{i}.jsonl"  # named by content, so notes read the same in any order
        path.write_bytes(encode(items))
        paths.append(str(path))
    _, _, md, js = run_paths(paths)
    return md, js


def test_reordered_files_give_identical_reports(tmp_path: Path):
    md, js = outputs(tmp_path, [0, 1, 2])
    assert orjson.loads(js)["issues"], "the case must produce issues to be meaningful"
    for order in ([2, 1, 0], [1, 2, 0], [0, 2, 1]):
        assert outputs(tmp_path, order) == (md, js), order


def test_shuffled_equal_timestamp_entries_give_identical_reports(tmp_path: Path):
    md, js = outputs(tmp_path, [0, 1, 2])
    for seed in range(8):
        assert outputs(tmp_path, [0, 1, 2], random.Random(seed)) == (md, js), seed
