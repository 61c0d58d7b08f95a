"""A catastrophic-backtracking team rule over a 100k-entry export must not stall the run.

Writes a JSON-lines export of N entries (default 100,000) whose lines end in long hex trace ids (the
input that makes ``(\\w|\\w\\w)+$`` backtrack until the regex timeout) and a team rule with that pattern,
then times `triage analyze` with and without the rule. Prints seconds and what the matcher reported.

    PYTHONPATH=. python benchmarks/hostile_rule.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import orjson

from triage.commands.common import RunOptions, run_analysis

# A folder holding one team rule whose pattern backtracks catastrophically on the entries below.
HOSTILE_RULES = Path(__file__).resolve().parents[1] / "tests" / "data" / "hostile-team"


def write_export(path: Path, n: int) -> None:
    with path.open("wb") as out:
        for i in range(n):
            sec, frac = divmod(i, 1000)
            entry = {
                "timestamp": f"2025-09-05T{sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.{frac:03d}000Z",
                "logName": "projects/p/logs/run.googleapis.com%2Fstdout",
                "resource": {
                    "type": "cloud_run_revision",
                    "labels": {"service_name": "api", "revision_name": "api-00001-abc"},
                },
                "insertId": f"{i:024x}",
                "textPayload": f"request finished trace={i:040x}{'5f3c9a0e1b2d4c6e8f7a'}.",
            }
            out.write(orjson.dumps(entry) + b"\n")


def timed(opts: RunOptions) -> tuple[float, object]:
    start = time.perf_counter()
    analysis = run_analysis(opts)
    return time.perf_counter() - start, analysis


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export.jsonl"
        rules = HOSTILE_RULES
        write_export(export, n)
        base, _ = timed(RunOptions(sources=(str(export),)))
        hostile, analysis = timed(RunOptions(sources=(str(export),), rules=(rules,)))
        stats = analysis.collected.stats
        print(f"entries: {n}")
        print(f"baseline (built-in catalog): {base:.2f} s")
        print(f"with the hostile team rule: {hostile:.2f} s (+{hostile - base:.2f} s)")
        print(f"rule_timeouts: {stats.rule_timeouts}")
        print(f"notes: {[x for x in stats.notes if 'switched off' in x]}")


if __name__ == "__main__":
    main()
