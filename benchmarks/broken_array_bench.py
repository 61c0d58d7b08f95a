"""Time reading a gcloud JSON array export whole and truncated (cut mid-entry, so recovery walks it object
by object), and the memory of one huge single line through the file reader and the fast path.

Recovery must be linear: the truncated file takes a small multiple of the whole one, not 20x.

    PYTHONPATH=. python benchmarks/broken_array_bench.py [ENTRIES] [LINE_MB]   (default: 20000 200)
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from triage.sources.files import FileSource


def export(n: int) -> bytes:
    """What ``gcloud logging read --format=json`` prints: an indented array, one object over many lines."""
    entries = [
        {
            "insertId": f"id{i:06d}",
            "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api", "revision_name": "api-1"}},
            "severity": "ERROR" if i % 7 == 0 else "INFO",
            "textPayload": f"request {i} handled",
            "timestamp": f"2025-09-05T10:{i // 600 % 60:02d}:{i // 10 % 60:02d}.{i % 10:06d}Z",
        }
        for i in range(n)
    ]
    return orjson.dumps(entries, option=orjson.OPT_INDENT_2)


def read(path: Path) -> tuple[float, int, int]:
    source = FileSource(str(path))
    start = time.perf_counter()
    count = sum(1 for _ in source.entries())
    return time.perf_counter() - start, count, source.stats.malformed


def huge_line_rss(mb: int, tmp: Path) -> list[tuple[str, float]]:
    """Peak memory (MB) of a child reading one file of a single ``mb`` MB line, by the reader and by a run."""
    path = tmp / "one-line.json"
    with open(path, "wb") as f:
        f.write(b'{"textPayload": "')
        chunk = b"x" * (1 << 20)
        for _ in range(mb):
            f.write(chunk)
        f.write(b'"}\n')
    code = {
        "file reader": "from triage.sources.files import FileSource as F; s=F(sys.argv[1]); sum(1 for _ in s.entries())",
        "triage report (fast path)": "from triage.cli import app; app(['report', sys.argv[1], '--format', 'json'])",
    }
    out = []
    for name, body in code.items():
        script = f"import resource, sys\ntry:\n    {body}\nexcept SystemExit:\n    pass\n"
        script += "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        res = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=False)
        kb = int(res.stdout.strip().splitlines()[-1]) if res.stdout.strip() else -1
        out.append((name, kb / 1024))
    return out


def main(n: int, mb: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        data = export(n)
        whole, cut = tmp / "whole.json", tmp / "cut.json"
        whole.write_bytes(data)
        cut.write_bytes(data[: len(data) - 200])  # inside the last object: the array never closes
        t_whole, n_whole, _ = read(whole)
        t_cut, n_cut, bad = read(cut)
        print(f"whole array     {n_whole:>7} entries  {t_whole:6.2f} s")
        print(f"truncated array {n_cut:>7} entries  {t_cut:6.2f} s  ({bad} malformed, x{t_cut / t_whole:.1f})")
        if mb:
            for name, peak in huge_line_rss(mb, tmp):
                print(f"{mb} MB single line, {name}: peak RSS {peak:,.0f} MB")
    print(f"(self RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, int(sys.argv[2]) if len(sys.argv) > 2 else 200)
