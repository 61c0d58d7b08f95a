"""Run every rule example both ways through the real matcher (prefilter included).

A rule's examples are its specification: ``match`` examples must produce the rule, ``no_match``
examples must not. A failure says what matched instead, so the author sees which rule took the line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from triage.engine.catalog import Catalog
from triage.engine.matcher import Matcher
from triage.engine.rules import Example, Rule
from triage.events import Event, make_event
from triage.records import NotAnEntry, from_entry


@dataclass(frozen=True)
class ExampleResult:
    rule: Rule
    kind: str  # "match" or "no_match"
    index: int
    example: Example
    matched: tuple[str, ...]  # ids of every rule that matched the example
    timed_out: tuple[str, ...] = ()
    error: str = ""  # the example is not a usable LogEntry

    @property
    def passed(self) -> bool:
        if self.error or self.rule.id in self.timed_out:
            return False
        return (self.rule.id in self.matched) == (self.kind == "match")

    @property
    def where(self) -> str:
        return f"{self.rule.source.path}:{self.example.line}" if self.example.line else str(self.rule.source)


def example_event(example: Example) -> Event:
    return make_event((from_entry(example.entry),))


def unbounded_matcher(catalog: Catalog) -> Matcher:
    """A matcher whose per-rule budget never switches a rule off: every example must be judged."""
    return Matcher(catalog, max_timeouts=10**9, budget_s=float("inf"))


def run_examples(catalog: Catalog, rules: Iterable[Rule] | None = None) -> list[ExampleResult]:
    matcher = unbounded_matcher(catalog)
    results = []
    for rule in catalog.rules if rules is None else rules:
        for kind, examples in (("match", rule.examples_match), ("no_match", rule.examples_no_match)):
            for i, ex in enumerate(examples):
                try:
                    event = example_event(ex)
                except NotAnEntry as exc:
                    results.append(ExampleResult(rule, kind, i, ex, (), (), f"not a LogEntry: {exc}"))
                    continue
                before = dict(matcher.stats.timeouts)
                matched = tuple(sorted({m.rule.id for m in matcher.match(event)}))
                timed_out = tuple(sorted(k for k, v in matcher.stats.timeouts.items() if v > before.get(k, 0)))
                results.append(ExampleResult(rule, kind, i, ex, matched, timed_out))
    return results
