"""Every example in the built-in catalog, both ways (one test id per example: <rule>-match-0)."""

from __future__ import annotations

import pytest

from triage.engine import Matcher, load_catalog
from triage.events import make_event
from triage.records import from_entry

CATALOG = load_catalog()
MATCHER = Matcher(CATALOG)
CASES = [
    pytest.param(rule, kind, ex, id=f"{rule.id}-{kind}-{i}")
    for rule in CATALOG.rules
    for kind, examples in (("match", rule.examples_match), ("no_match", rule.examples_no_match))
    for i, ex in enumerate(examples)
]


@pytest.mark.parametrize(("rule", "kind", "example"), CASES)
def test_rule_example(rule, kind, example):
    event = make_event((from_entry(example.entry),))
    # Through the prefilter, as a real run would: a literal the example lacks is a rule bug too.
    matched = {m.rule.id for m in MATCHER.match(event)}
    if kind == "match":
        assert rule.id in matched, f"{rule.source}: example at line {example.line} should match"
    else:
        assert rule.id not in matched, f"{rule.source}: example at line {example.line} should not match"


def test_every_rule_has_examples_both_ways():
    for rule in CATALOG.rules:
        assert rule.examples_match and rule.examples_no_match, rule.id


@pytest.mark.parametrize("rule", CATALOG.rules, ids=[r.id for r in CATALOG.rules])
def test_rule_texts_survive_redaction(rule):
    """A rule's own prose must not look like a secret, or the report prints *** in the middle of a fix."""
    from triage.report.redact import Redactor

    texts = [rule.title, rule.problem, rule.root_cause, rule.fix, *rule.immediate, *rule.long_term, *rule.verify]
    redactor = Redactor()
    assert [redactor.text(t) for t in texts] == texts
