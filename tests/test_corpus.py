"""The real-world corpus (tests/corpus/): well-formed cases, and no issue on any benign excerpt.

Recall on the failing excerpts is measured by benchmarks/recall.py (per runtime and rule, both forms);
the benign excerpts must stay silent in both forms, as the precision of the catalog is what users trust.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.corpus_cases import FORMS, RUNTIMES, Case, cases, found_ids, vocabulary, write_form

CASES = cases()
BENIGN = [c for c in CASES if c.benign]


def test_corpus_is_there() -> None:
    assert len(CASES) >= 90
    assert len(BENIGN) >= 20
    assert {c.runtime for c in CASES} >= {"node", "go", "java", "ruby"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case_is_well_formed(case: Case) -> None:
    assert case.source.startswith(("https://", "http://")), "source must be the URL the text came from"
    assert case.runtime in RUNTIMES and case.path.parent.name == case.runtime
    assert case.expect <= vocabulary(), f"unknown labels: {sorted(case.expect - vocabulary())}"
    assert case.text.strip() and case.note.strip()
    assert case.log in ("stdout", "stderr", "system", "requests")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("case", BENIGN, ids=lambda c: c.id)
def test_benign_excerpt_reports_no_issue(case: Case, form: str, tmp_path: Path) -> None:
    assert found_ids(write_form(case, form, tmp_path)) == frozenset()


def test_both_forms_carry_every_line(tmp_path: Path) -> None:
    # The JSON-lines form is one Cloud Run entry per non-blank line, so reassembly is what joins them.
    case = next(c for c in CASES if len(c.text.strip().splitlines()) > 3)
    lines = [ln for ln in case.text.splitlines() if ln.strip()]
    jsonl = write_form(case, "jsonl", tmp_path).read_text(encoding="utf-8").splitlines()
    assert len(jsonl) == len(lines)
