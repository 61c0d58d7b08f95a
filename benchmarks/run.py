"""Benchmark: generated exports -> `triage report` / `triage analyze`, beside grep (and Drain3).

Usage: python benchmarks/run.py [--sizes 100000 1000000 10000000] [--data DIR] [--repeat N]

For each size it prints wall time, entries per second and peak RSS (PSS of the whole process tree, sampled from
/proc, and the largest single process from getrusage) of `triage report` and `triage analyze`, and of
`LC_ALL=C grep -c -E -f <the catalog's regexes as ERE>` over the same file; then, on the largest size,
the cost of 100 extra team rules and of gzipped input (on 1M entries, or the largest size below it); and
whether each target of issue 13 is met. Sizes of 5M entries and more run `triage report` and grep only.
Generated files are cached in DIR (default benchmarks/.data, git-ignored; 10M entries is 8 GB, generated
on demand in about 3 minutes). The default sizes take about 20 minutes.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import generate  # noqa: E402

from triage.engine import load_catalog  # noqa: E402

TRIAGE = [sys.executable, "-m", "triage"]
HUGE = 5_000_000  # from this size on, only `triage report` and grep run
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _tree_rss_kb(pid: int) -> int:
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:  # PSS: pages shared after fork count once
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measure(cmd: list[str]) -> dict:
    """Wall time, peak PSS of the process tree (sampled every 20 ms) and peak RSS of the largest process."""
    # stdout goes to a real file: GNU grep stops at the first match when it sees /dev/null
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=ENV)
        peak = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _tree_rss_kb(proc.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if code not in (0, 1):  # grep -c exits 1 when nothing matched
        raise SystemExit(f"{' '.join(cmd)} failed ({code}): {err[-2000:]}")
    # ru_maxrss (KiB): the largest of the child and the descendants it waited for
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall": wall, "tree_mb": peak / 1024, "max_mb": usage.ru_maxrss / 1024, "cpu": cpu}


def to_ere(pattern: str) -> str | None:
    """Python regex -> POSIX ERE for grep, or None when it has no ERE equivalent."""
    unsupported = ("(?=", "(?!", "(?<=", "(?<!", "(?i)", "(?m)", "(?s)", "\\n", "*?", "+?", "??", "\\b")
    if any(x in pattern for x in unsupported):
        return None
    out = pattern
    out = out.replace("(?:", "(")
    out = re.sub(r"\(\?P<\w+>", "(", out)
    if "(?" in out:
        return None
    out = out.replace("\\d", "[0-9]").replace("\\s", "[[:space:]]").replace("\\w", "[[:alnum:]_]")
    out = out.replace("[^\\n]", "[^\n]")
    if "\\S" in out or "\\W" in out or "\\D" in out:
        return None
    return out


def catalog_regexes() -> tuple[list[str], list[str]]:
    kept, skipped = [], []
    for rule in load_catalog(()).rules:
        for cond in (*rule.match.all, *rule.match.any, *rule.match.none):
            for pat in (cond.regex, cond.exception):
                if pat is None:
                    continue
                ere = to_ere(pat.pattern)
                # The pattern file holds one ERE a line: a class such as [^'\n] would split one in two.
                ok = ere and "\n" not in ere
                (kept.append(ere) if ok else skipped.append(f"{rule.id}: {pat.pattern}"))
    return kept, skipped


def team_rules(folder: Path, n: int = 100) -> None:
    words = ("quota", "ledger", "billing", "webhook", "checkout", "invoice", "tenant", "catalog", "search", "mailer")
    lines = ["rules:"]
    for i in range(n):
        w = words[i % len(words)]
        lines += [
            f"  - id: team-{w}-{i}",
            f"    title: Team rule {i}",
            "    severity: medium",
            "    category: code",
            "    match:",
            "      any:",
            f'        - regex: "{w.capitalize()}Error{i}: (?P<detail>[^\\\\n]+)"',
            f'        - regex: "{w} service {i} unavailable after (?P<tries>\\\\d+) tries"',
            f'    problem: "{w} failed ({i})"',
            "    root_cause: generated for the benchmark",
            "    fix: none",
        ]
    (folder / "team.yaml").write_text("\n".join(lines) + "\n")


def row(name: str, n: int, m: dict) -> str:
    return (
        f"| {name} | {n:,} | {m['wall']:.2f} | {m['cpu']:.2f} | {n / m['wall']:,.0f} | {m['tree_mb']:.0f} "
        f"| {m['max_mb']:.0f} |"
    )


def drain3_row(path: Path, n: int) -> str:
    try:
        from drain3 import TemplateMiner  # type: ignore[import-not-found]
    except ImportError:
        return f"| Drain3 over error lines | {n:,} | not installed | | | | |"
    import orjson

    start = time.perf_counter()
    miner = TemplateMiner()
    with open(path, "rb") as f:
        for line in f:
            if b'"severity":"ERROR"' in line or b"Traceback" in line:
                e = orjson.loads(line)
                miner.add_log_message(str(e.get("textPayload") or e.get("jsonPayload", {}).get("message", "")))
    wall = time.perf_counter() - start
    return f"| Drain3 over error lines (in-process) | {n:,} | {wall:.2f} | | {n / wall:,.0f} | | |"


def best(cmd: list[str], repeat: int) -> dict:
    runs = [measure(cmd) for _ in range(repeat)]
    return min(runs, key=lambda m: m["wall"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    ap.add_argument("--data", type=Path, default=ROOT / "benchmarks" / ".data")
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement; the fastest counts")
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)

    kept, skipped = catalog_regexes()
    ere = args.data / "catalog.ere"
    ere.write_text("\n".join(kept) + "\n")
    print(f"grep patterns: {len(kept)} catalog regexes as ERE; skipped {len(skipped)} with no ERE equivalent:")
    for s in skipped:
        print(f"  skipped {s}")
    grep = shutil.which("grep") or "grep"

    print("\n| run | entries | wall s | CPU s | entries/s | peak PSS tree MB | largest process MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    results: dict[int, dict[str, dict]] = {}
    for n in args.sizes:
        path = args.data / f"export-{n}.jsonl"
        if not path.exists():
            generate.write(n, path, seed=7)
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        r = results[n] = {}
        r["report"] = best([*TRIAGE, "report", str(path), "-o", os.devnull], args.repeat)
        print(row("triage report (markdown)", n, r["report"]))
        if n < HUGE:
            r["analyze"] = best([*TRIAGE, "analyze", str(path), "-o", os.devnull], args.repeat)
            print(row("triage analyze", n, r["analyze"]))
        r["grep"] = best(["env", "LC_ALL=C", grep, "-c", "-E", "-f", str(ere), str(path)], args.repeat)
        print(row(f"LC_ALL=C grep -c -E -f ({len(kept)} regexes)", n, r["grep"]))
        if n < HUGE:
            print(drain3_row(path, n))

    n = max([m for m in args.sizes if m <= 1_000_000] or args.sizes)
    path = args.data / f"export-{n}.jsonl"
    base = results[n]["report"]
    with tempfile.TemporaryDirectory() as tmp:
        team_rules(Path(tmp))
        extra = best([*TRIAGE, "report", str(path), "--rules", tmp, "-o", os.devnull], args.repeat)
    print(row("triage report + 100 team rules", n, extra))
    gz = args.data / f"export-{n}.jsonl.gz"
    if not gz.exists():
        with open(path, "rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, 16 << 20)
    zipped = best([*TRIAGE, "report", str(gz), "-o", os.devnull], args.repeat)
    print(row("triage report, gzipped input", n, zipped))

    mb = path.stat().st_size / 1e6
    print(f"\nTargets of issue 13 ({n:,} entries, {mb:.0f} MB):")
    ratio = base["wall"] / results[n]["grep"]["wall"]
    checks = [
        (
            f"report no slower than grep: {base['wall']:.2f} s vs {results[n]['grep']['wall']:.2f} s ({ratio:.2f})",
            ratio <= 1.0,
        ),
        (
            f"peak PSS <= 300 MB (process tree): {max(m['tree_mb'] for r in results.values() for m in r.values()):.0f} MB",
            all(m["tree_mb"] <= 300 for r in results.values() for k, m in r.items() if k != "grep"),
        ),
        (
            f"100 team rules <= +20%: {100 * (extra['wall'] / base['wall'] - 1):+.0f}%",
            extra["wall"] <= 1.2 * base["wall"],
        ),
        (f"gzip <= 1.5x: {zipped['wall'] / base['wall']:.2f}x", zipped["wall"] <= 1.5 * base["wall"]),
    ]
    big = max(args.sizes)
    if big >= 10 * n:
        scale = results[big]["report"]["wall"] / base["wall"]
        checks.append(
            (f"{big:,} entries <= {big // n * 1.05:.1f}x the {n:,} time: {scale:.1f}x", scale <= big / n * 1.05)
        )
    for text, ok in checks:
        print(f"  [{'met' if ok else 'NOT met'}] {text}")
    load = os.getloadavg()[0]
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load average at the end {load:.1f}")


if __name__ == "__main__":
    main()
