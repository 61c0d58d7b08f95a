"""Match events against the catalog: a literal prefilter first, then each candidate rule's conditions.

Most log lines are benign. Every rule contributes required literals (its ``keywords`` or literals
derived from its patterns); one Aho-Corasick pass over the lower-cased message picks the candidate
rules, so a benign line costs one automaton scan and no regex. Rules with no literal run on every event.
Regexes run under a timeout (``regex`` module) so a pathological team pattern cannot stall a run: a
timeout counts against the rule and the run goes on. A timeout alone is not enough (100k events x
0.25 s is seven hours), so each rule also has a budget: after ``max_timeouts`` timeouts, or once it has
spent ``budget_s`` seconds while averaging more than ``SLOW_AVG_S`` per event, the rule is switched off
for the rest of the run and ``stats.disabled`` says why (the report lists it under Data Quality).

The budget counts the CPU time of the matching thread (``time.thread_time``), not wall time: the fast
path's result thread unpickles worker results in the same process and holds the GIL for milliseconds at a
time, which wall time charged to whatever rule was running (a 1 us regex measured 4 ms), enough to switch
off a healthy rule on a large input. Error-fact extraction, shared by every rule that reads facts, is not
charged to the rule that happened to ask first.
"""

from __future__ import annotations

import fnmatch
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import ahocorasick

from triage.caches import remember
from triage.engine import facts as error_facts
from triage.engine.catalog import Catalog
from triage.engine.literals import rule_literals
from triage.engine.rules import Condition, Rule
from triage.events import Event

DEFAULT_TIMEOUT_S = 0.25
DEFAULT_MAX_TIMEOUTS = 3
DEFAULT_BUDGET_S = 5.0
# A healthy rule costs microseconds per event; the time budget only applies to rules far slower than that,
# so a long run over millions of events never switches off a rule that is merely busy.
SLOW_AVG_S = 1e-4
MEMO_SIZE = 4096  # distinct events whose matches are remembered
_OPS = {
    ">=": int.__ge__,
    "<=": int.__le__,
    ">": int.__gt__,
    "<": int.__lt__,
    "==": int.__eq__,
}


@dataclass(frozen=True, slots=True)
class Match:
    rule: Rule
    event: Event
    captures: Mapping[str, str]
    requires: tuple[str, ...] = ()  # the deciding conditions' ``requires`` (analysis.findings.confirmed)


@dataclass
class MatchStats:
    events: int = 0
    candidates: int = 0  # events that reached at least one rule's conditions
    matched: int = 0
    timeouts: Counter[str] = field(default_factory=Counter)  # rule id -> regex timeouts
    disabled: dict[str, str] = field(default_factory=dict)  # rule id -> why it was switched off mid-run


class _Timeout(Exception):
    pass


class Matcher:
    def __init__(
        self,
        catalog: Catalog,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        *,
        max_timeouts: int = DEFAULT_MAX_TIMEOUTS,
        budget_s: float = DEFAULT_BUDGET_S,
    ) -> None:
        self.catalog = catalog
        self.timeout_s = timeout_s
        self.max_timeouts = max_timeouts
        self.budget_s = budget_s
        self.stats = MatchStats()
        self._spent = [0.0] * len(catalog.rules)
        self._runs = [0] * len(catalog.rules)
        self._off: set[int] = set()
        self._facts: tuple[Event | None, error_facts.Facts] = (None, error_facts.NONE)
        self._shared_s = 0.0  # CPU time of fact extraction so far (charged to no rule)
        self._memo: dict[tuple, list[tuple[int, dict[str, str]]]] = {}  # see match
        self.unfiltered: tuple[int, ...] = ()
        self.literals: dict[int, tuple[str, ...]] = {}
        automaton = ahocorasick.Automaton()
        unfiltered = []
        for index, rule in enumerate(catalog.rules):
            lits = rule_literals(rule)
            if not lits:
                unfiltered.append(index)
                continue
            self.literals[index] = lits
            for lit in lits:
                key = lit.lower()
                owners = automaton.get(key, None) if key in automaton else None
                automaton.add_word(key, (owners or ()) + (index,))
        self.unfiltered = tuple(unfiltered)
        self._automaton = automaton if len(automaton) else None
        if self._automaton is not None:
            self._automaton.make_automaton()

    def keywords(self) -> list[str]:
        """All prefilter literals (for server-side pushdown); empty if some rule has none."""
        if self.unfiltered:
            return []
        return sorted({lit for lits in self.literals.values() for lit in lits})

    def candidates(self, text: str) -> set[int]:
        found: set[int] = set(self.unfiltered)
        if self._automaton is not None and text:
            for _end, owners in self._automaton.iter(text.lower()):
                found.update(owners)
        return found

    def match(self, event: Event) -> list[Match]:
        self.stats.events += 1
        candidates = self.candidates(event.message)
        if not candidates:
            return []
        self.stats.candidates += 1
        # What a rule can test of an event is a function of these (frames, exceptions and facts come from
        # the message): a crash loop repeats the same event thousands of times, evaluated once here.
        key = (event.message, event.log, event.level, event.service, event.first.http_status)
        found = self._memo.get(key)
        if found is None:
            found, timed_out = self._evaluate(candidates, event)
            if not timed_out:  # a timeout is not an answer: the next copy is evaluated (and charged) again
                remember(self._memo, key, found, MEMO_SIZE)
        out = [Match(self.catalog.rules[i], event, dict(c), req) for i, c, req in found if i not in self._off]
        if out:
            self.stats.matched += 1
        return out

    def _evaluate(
        self, candidates: set[int], event: Event
    ) -> tuple[list[tuple[int, dict[str, str], tuple[str, ...]]], bool]:
        found: list[tuple[int, dict[str, str], tuple[str, ...]]] = []
        timed_out = False
        for index in sorted(candidates - self._off if self._off else candidates):
            rule = self.catalog.rules[index]
            shared = self._shared_s
            start = time.thread_time()
            try:
                got = self._match_rule(rule, event)
            except _Timeout:
                self.stats.timeouts[rule.id] += 1
                got, timed_out = None, True
            self._charge(index, time.thread_time() - start - (self._shared_s - shared))
            if got is not None:
                found.append((index, *got))
        return found, timed_out

    def _charge(self, index: int, spent: float) -> None:
        """Account one evaluation; switch the rule off once it is over its budget."""
        self._spent[index] += spent
        self._runs[index] += 1
        rule_id = self.catalog.rules[index].id
        timeouts = self.stats.timeouts.get(rule_id, 0)
        total, runs = self._spent[index], self._runs[index]
        if timeouts >= self.max_timeouts:
            why = f"{timeouts} regex timeouts (limit {self.max_timeouts})"
        elif total > self.budget_s and total / runs > SLOW_AVG_S:
            why = f"{total:.1f} s spent on {runs} events (budget {self.budget_s:g} s)"
        else:
            return
        self._off.add(index)
        self.stats.disabled[rule_id] = why

    def match_rule(self, rule: Rule, event: Event) -> dict[str, str] | None:
        """Captures if ``rule`` matches ``event``, else None (ignores the prefilter)."""
        got = self._match_rule(rule, event)
        return None if got is None else got[0]

    def _match_rule(self, rule: Rule, event: Event) -> tuple[dict[str, str], tuple[str, ...]] | None:
        """(captures, the ``requires`` of the conditions that decided: every ``all`` one and the ``any`` one
        that held first) if ``rule`` matches ``event``, else None."""
        captures: dict[str, str] = {}
        requires: tuple[str, ...] = ()
        spec = rule.match
        for cond in spec.all:
            got = self._test(cond, event)
            if got is None:
                return None
            captures.update(got)
            requires += cond.requires
        if spec.any:
            for cond in spec.any:
                got = self._test(cond, event)
                if got is not None:
                    captures.update(got)
                    requires += cond.requires
                    break
            else:
                return None
        for cond in spec.none:
            if self._test(cond, event) is not None:
                return None
        return captures, requires

    def _search(self, pattern, text: str):
        try:
            return pattern.search(text, timeout=self.timeout_s)
        except TimeoutError:
            raise _Timeout from None

    def _test(self, cond: Condition, event: Event) -> dict[str, str] | None:
        """Captures (possibly empty) if every key of the condition holds, else None."""
        rec = event.first
        if cond.log and event.log not in cond.log:
            return None
        if cond.severity is not None and not _OPS[cond.severity[0]](event.level, cond.severity[1]):
            return None
        if cond.service and not any(fnmatch.fnmatchcase(event.service, g) for g in cond.service):
            return None
        if cond.http_status:
            status = rec.http_status
            if status is None or not any(lo <= status <= hi for lo, hi in cond.http_status):
                return None
        text = event.message
        if cond.contains or cond.startswith:
            hay = text.lower() if cond.ignore_case else text
            if cond.contains and not any((c.lower() if cond.ignore_case else c) in hay for c in cond.contains):
                return None
            if cond.startswith and not any(
                hay.lstrip().startswith(s.lower() if cond.ignore_case else s) for s in cond.startswith
            ):
                return None
        # The exception type of the final line: the one that surfaced.
        if cond.exception is not None and (not event.exceptions or not self._search(cond.exception, event.exception)):
            return None
        if cond.frame is not None and not any(cond.frame.test(f, self._search) for f in event.frames):
            return None
        captures: dict[str, str] = {}
        if cond.facts is not None:
            facts = self.facts(event)
            if not cond.facts.test(facts):
                return None
            captures = facts.as_captures()
        if cond.regex is not None:
            m = self._search(cond.regex, text)
            if m is None:
                return None
            captures.update((k, v) for k, v in m.groupdict().items() if v is not None)
        return captures

    def facts(self, event: Event) -> error_facts.Facts:
        """The event's error facts, extracted once however many rules ask (events come one at a time)."""
        if self._facts[0] is not event:
            start = time.thread_time()
            self._facts = (event, error_facts.extract(event.message))
            self._shared_s += time.thread_time() - start
        return self._facts[1]
