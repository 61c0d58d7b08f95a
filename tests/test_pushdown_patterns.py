"""The push-down plan's RE2 patterns are supersets of what Python decides: a line the plan counts in BigQuery
must be one the reference path makes a benign standalone event. Checked with DuckDB's RE2 (the engine of the
fake BigQuery and of BigQuery itself) on real and hostile lines and on generated text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests import hostile_logs
from tests.corpus_cases import cases
from triage.engine import Matcher, load_catalog
from triage.engine.benign import benign_literals
from triage.events import _FAILURE_WORDS
from triage.fastscan import EXTENDER, TRIGGER, _shape
from triage.pushdown import EXTENDER_RE, FAILURE_RE, ODD_RE, TRIGGER_RE, literal_regex

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "staging-2025-09-05.jsonl"
LITERALS = benign_literals(Matcher(load_catalog(())))
# Characters that trip shapes and case: spaces of every kind, line breaks, case traps, punctuation of traces.
TRICKY = (
    " \t\n\r\x0b\x0c\x1c\x85\u2028\u00a0\u3000(){}[]:.$~*/-_\\\"'`#0123456789aAzZkKsSiI\u212a\u0130\u0131\u017f\u00e9"
)


def _lines() -> list[str]:
    out: list[str] = []
    for case in cases():
        text = case.text
        out.extend(text.splitlines())
        out.append(text)  # a whole excerpt as one multi-line message
    entries = [e for seed in range(3) for e in hostile_logs.entries(400, seed)]
    entries += [orjson.loads(line) for line in SAMPLE.read_bytes().splitlines() if line.strip()]
    for entry in entries:
        message = entry.get("textPayload") or (entry.get("jsonPayload") or {}).get("message")
        if isinstance(message, str):
            out.append(message)
    return sorted(set(out))


LINES = _lines()


_DUCK = duckdb.connect()


def _re2(texts: Iterable[str], pattern: str, lower: bool = False) -> list[bool]:
    text = "lower($t[i])" if lower else "$t[i]"
    sql = f"SELECT regexp_matches({text}, $p) FROM range(1, len($t) + 1) AS r(i) ORDER BY i"
    return [bool(hit) for (hit,) in _DUCK.execute(sql, {"t": list(texts), "p": pattern}).fetchall()]


def _violations(texts: list[str]) -> list[tuple[str, str]]:
    """(what Python decides that RE2 misses, the text) for every text the plan could count (a text with an
    ODD_RE character always travels)."""
    trig, ext, fail, odd = (_re2(texts, p) for p in (TRIGGER_RE, EXTENDER_RE, FAILURE_RE, ODD_RE))
    lit = _re2(texts, literal_regex(LITERALS or ()), lower=True)
    bad = []
    for i, text in enumerate(texts):
        if odd[i]:
            continue
        shape = _shape(text)
        if shape == TRIGGER and not trig[i]:
            bad.append(("TRIGGER", text))
        if shape == EXTENDER and not (trig[i] or ext[i]):
            bad.append(("EXTENDER", text))
        if _FAILURE_WORDS.search(text[:300]) and not fail[i]:
            bad.append(("failure words", text))
        lowered = text.lower()
        if any(x in lowered for x in LITERALS or ()) and not lit[i]:
            bad.append(("literal", text))
    return bad


def test_patterns_are_supersets_on_real_and_hostile_lines() -> None:
    assert LITERALS and len(LINES) > 1500
    shapes = {_shape(t) for t in LINES}
    assert {0, TRIGGER, EXTENDER} <= shapes  # the lines exercise every shape
    assert _violations(LINES) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=st.sampled_from(TRICKY), max_size=24), min_size=1, max_size=40))
@example(["\t\u3000"])  # found by Hypothesis: "x\t\u3000" is one token to Python's strip, not to RE2's \s
def test_patterns_are_supersets_on_generated_text(texts: list[str]) -> None:
    prefixes = ("", "  ", "Caused by: ", "KeyError: ", "main.main(", "panic: ", "goroutine 1 [", "INFO: ", "x")
    texts = [p + t for t in texts for p in prefixes]
    assert _violations(texts) == []


@pytest.mark.parametrize(
    ("literals", "text", "hit"),
    [
        (("a.b (c)",), "x a.b (c) y", True),
        (("a.b (c)",), "x aXb (c) y", False),  # "." is escaped, not any character
        (("[errno 111]",), "oserror: [errno 111] refused", True),
        (("x|y",), "y", False),
        ((), "anything", False),
    ],
)
def test_literal_regex_matches_literals_as_written(literals: tuple[str, ...], text: str, hit: bool) -> None:
    assert _re2([text], literal_regex(literals)) == [hit]
    assert (re.search(r"\\[^\\.+*?()|\[\]{}^$]", literal_regex(literals)) is None) or not literals
