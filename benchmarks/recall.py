"""Recall and false positives of the catalog on the real-world corpus (tests/corpus/), per runtime and rule.

    python benchmarks/recall.py [--misses]

Each excerpt runs in both forms (the text as pasted, and Cloud Run JSON lines, one entry per line). An
expected id counts as found when it is an issue's rule or a symptom nested under an issue. A false
positive is any issue on a benign excerpt; "extra" counts ids found on a failing excerpt that its labels
do not name (reported, since labels name the root failure and not every consequence).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.corpus_cases import FORMS, RUNTIMES, Case, cases, found_ids, write_form


def evaluate(all_cases: tuple[Case, ...]) -> dict[tuple[str, str], frozenset[str]]:
    """(case id, form) -> the ids triage found."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in all_cases:
            for form in FORMS:
                out[(case.id, form)] = found_ids(write_form(case, form, Path(tmp)))
    return out


def _ratio(hit: int, total: int) -> str:
    return f"{hit / total:.2f}" if total else "-"


def runtime_rows(all_cases: tuple[Case, ...], found: dict) -> list[list[str]]:
    rows = []
    for runtime in (*RUNTIMES, "all"):
        mine = [c for c in all_cases if runtime in (c.runtime, "all")]
        if not mine:
            continue
        row = [runtime, str(sum(not c.benign for c in mine)), str(sum(c.benign for c in mine))]
        for form in FORMS:
            labels = sum(len(c.expect) for c in mine)
            hits = sum(len(c.expect & found[(c.id, form)]) for c in mine)
            fps = sum(1 for c in mine if c.benign and found[(c.id, form)])
            row += [_ratio(hits, labels), str(fps)]
        rows.append(row)
    return rows


def rule_rows(all_cases: tuple[Case, ...], found: dict) -> list[list[str]]:
    expected: Counter[str] = Counter()
    hits: Counter[tuple[str, str]] = Counter()
    extra: Counter[tuple[str, str]] = Counter()
    for c in all_cases:
        expected.update(c.expect)
        for form in FORMS:
            got = found[(c.id, form)]
            hits.update((rid, form) for rid in c.expect & got)
            extra.update((rid, form) for rid in got - c.expect)
    ids = sorted(set(expected) | {rid for rid, _ in extra})
    return [[rid, str(expected[rid]), *(f"{hits[(rid, f)]} / {extra[(rid, f)]}" for f in FORMS)] for rid in ids]


def miss_lines(all_cases: tuple[Case, ...], found: dict) -> list[str]:
    """One line per case and form where triage missed a label or reported more than the labels."""
    out = []
    for c in all_cases:
        for form in FORMS:
            got = found[(c.id, form)]
            if got != c.expect:
                missed, extra = sorted(c.expect - got), sorted(got - c.expect)
                out.append(f"{c.id} [{form}] missed={','.join(missed) or '-'} extra={','.join(extra) or '-'}")
    return out


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(r) + " |" for r in rows)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="also list every case and form that differs")
    parser.add_argument(
        "--corpus", type=Path, default=None, help="another directory of excerpts in the corpus format (a held-out set)"
    )
    args = parser.parse_args()
    all_cases = cases(args.corpus) if args.corpus else cases()
    found = evaluate(all_cases)
    header = ["runtime", "failing", "benign", "recall text", "FP text", "recall jsonl", "FP jsonl"]
    print(table(header, runtime_rows(all_cases, found)))
    print()
    print(table(["rule", "labelled", "text found / extra", "jsonl found / extra"], rule_rows(all_cases, found)))
    if args.misses:
        print()
        print("\n".join(miss_lines(all_cases, found)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
