"""Rule quality checks (``triage rules lint``): valid rules that will still behave badly.

Validity is the loader's job; lint looks for rules that are hard to trust: no examples one way, a
pattern that matches the empty string (fires on everything), a pattern that backtracks badly (static
nested-quantifier check plus timing on adversarial input under the regex timeout), examples another rule
also matches without a declared relation, no prefilter literal (the rule runs on every event), and
placeholders that nothing captures (they would render as "unknown NAME").
"""

from __future__ import annotations

import re._constants as sc
import re._parser as sre_parse
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import regex as re

from triage.engine.catalog import Catalog
from triage.engine.literals import MIN_LITERAL, regex_literal, rule_literals
from triage.engine.rules import BUILTIN_PLACEHOLDERS, Rule
from triage.engine.selftest import run_examples

# Adversarial input: long runs of one character class, then a character that makes the match fail
# at the very end, so a backtracking engine explores every way to split the run.
PUMP_LENGTH = 5000
PUMP_CHARS = ("a", "A", "0", " ", "\t", "\n", ".", "-", "_", "'", '"', ":", "/", "=", "ab", "a ", "a\n")
SLOW_S = 0.05  # a healthy pattern scans 5000 characters in well under a millisecond
LINT_TIMEOUT_S = 0.25


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    rule: str
    code: str
    message: str

    def __str__(self) -> str:
        return f'{self.path}:{self.line}: rule "{self.rule}": {self.code}: {self.message}'


def _patterns(rule: Rule) -> Iterator[tuple[str, re.Pattern, int | None]]:
    """(key path, compiled pattern, line) for every pattern of a rule."""
    for group in ("all", "any", "none"):
        for i, cond in enumerate(getattr(rule.match, group)):
            base = f"match.{group}[{i}]"
            if cond.regex is not None:
                yield f"{base}.regex", cond.regex, cond.line
            if cond.exception is not None:
                yield f"{base}.exception", cond.exception, cond.line
            if cond.frame is not None and cond.frame.code is not None:
                yield f"{base}.frame.code", cond.frame.code, cond.line


def _unbounded(op, arg) -> bool:
    return op in (sc.MAX_REPEAT, sc.MIN_REPEAT, sc.POSSESSIVE_REPEAT) and arg[1] is sc.MAXREPEAT


def _has_unbounded(seq) -> bool:
    for op, arg in seq:
        if _unbounded(op, arg):
            return True
        if op is sc.SUBPATTERN and _has_unbounded(arg[-1]):
            return True
        if op in (sc.MAX_REPEAT, sc.MIN_REPEAT) and _has_unbounded(arg[2]):
            return True
        if op is sc.BRANCH and any(_has_unbounded(b) for b in arg[1]):
            return True
    return False


def nested_quantifier(pattern: str) -> bool:
    """True if an unbounded repeat contains another unbounded repeat, as in ``(\\w+\\s?)+``."""
    try:
        parsed = sre_parse.parse(pattern)
    except Exception:  # syntax only the `regex` module knows: the timing check still covers it
        return False

    def walk(seq) -> bool:
        for op, arg in seq:
            if op in (sc.MAX_REPEAT, sc.MIN_REPEAT):
                if arg[1] is sc.MAXREPEAT and _has_unbounded(arg[2]):
                    return True
                if walk(arg[2]):
                    return True
            elif op is sc.SUBPATTERN:
                if walk(arg[-1]):
                    return True
            elif op is sc.BRANCH:
                if any(walk(b) for b in arg[1]):
                    return True
            elif op is sc.ATOMIC_GROUP and walk(arg):
                return True
        return False

    return walk(parsed)


def adversarial_inputs(pattern: re.Pattern) -> Iterator[tuple[str, str]]:
    """(description, text): runs of common characters, with and without the pattern's literal before them."""
    prefix = regex_literal(pattern.pattern) or ""
    for chars in PUMP_CHARS:
        run = chars * (PUMP_LENGTH // len(chars))
        yield f"{chars!r} x {len(run)}", run + "\x00!"
        if prefix:
            yield f"{prefix!r} + {chars!r} x {len(run)}", prefix + run + "\x00!"


def time_pattern(pattern: re.Pattern, timeout_s: float = LINT_TIMEOUT_S) -> tuple[float, str]:
    """Slowest search over the adversarial inputs: (seconds, which input); a timeout counts as timeout_s."""
    worst, which = 0.0, ""
    for desc, text in adversarial_inputs(pattern):
        start = time.perf_counter()
        try:
            pattern.search(text, timeout=timeout_s)
            spent = time.perf_counter() - start
        except TimeoutError:
            spent = timeout_s
        if spent > worst:
            worst, which = spent, desc
        if worst >= timeout_s:
            break
    return worst, which


def _related(a: Rule, b: Rule) -> bool:
    return b.id in a.symptom_of + a.overlaps or a.id in b.symptom_of + b.overlaps


def lint(catalog: Catalog, rules: Iterable[Rule] | None = None, *, timeout_s: float = LINT_TIMEOUT_S) -> list[Finding]:
    """Findings for ``rules`` (default: the whole catalog), judged against the whole catalog."""
    chosen = list(catalog.rules if rules is None else rules)
    ids = {r.id for r in catalog.rules}
    by_id = {r.id: r for r in catalog.rules}
    out: list[Finding] = []
    builtins = ", ".join(sorted(BUILTIN_PLACEHOLDERS))

    def add(rule: Rule, line: int | None, code: str, message: str) -> None:
        out.append(Finding(rule.source.path, line or rule.source.line or 0, rule.id, code, message))

    for rule in chosen:
        if not rule.examples_match or not rule.examples_no_match:
            missing = " and ".join(
                k for k, v in (("match", rule.examples_match), ("no_match", rule.examples_no_match)) if not v
            )
            add(rule, None, "examples", f"no {missing} examples (every rule needs examples both ways)")
        for key, pattern, line in _patterns(rule):
            if pattern.search("") is not None:
                add(rule, line, "empty-match", f"{key} matches the empty string, so it holds for every event")
            if nested_quantifier(pattern.pattern):
                add(rule, line, "nested-quantifier", f"{key} nests unbounded quantifiers (catastrophic backtracking)")
            spent, which = time_pattern(pattern, timeout_s)
            if spent >= timeout_s:
                add(
                    rule,
                    line,
                    "slow-pattern",
                    f"{key} hits the {timeout_s:g} s regex timeout on adversarial input ({which})",
                )
            elif spent > SLOW_S:
                add(rule, line, "slow-pattern", f"{key} takes {spent * 1000:.0f} ms on adversarial input ({which})")
        if not rule_literals(rule):
            add(
                rule,
                None,
                "no-prefilter",
                "no literal of 3+ characters is required, so the rule runs on every event (add keywords)",
            )
        short = [k for k in rule.keywords if len(k) < MIN_LITERAL]
        if short:
            add(
                rule,
                None,
                "no-prefilter",
                f"keywords shorter than {MIN_LITERAL} characters match almost every event: {short}",
            )
        for name in sorted(rule.unknown_placeholders):
            add(
                rule,
                None,
                "placeholder",
                f"{{{name}}} is not captured by any pattern of the rule (builtins: {builtins}); "
                f'it renders as "unknown {name}"',
            )
        for rel in rule.symptom_of + rule.overlaps:
            if rel not in ids:
                add(rule, None, "relation", f"relates to unknown rule id {rel!r}")
        spec = rule.match
        for cond in (*spec.all, *spec.any, *spec.none):
            for rid in cond.requires:
                if rid not in ids:
                    add(rule, cond.line, "relation", f"requires unknown rule id {rid!r}")

    for result in run_examples(catalog, chosen):
        if result.kind != "match":
            continue
        for other in result.matched:
            if other != result.rule.id and other in by_id and not _related(result.rule, by_id[other]):
                add(
                    result.rule,
                    result.example.line,
                    "overlap",
                    f"examples.match[{result.index}] is also matched by {other!r} without a declared relation "
                    "(relations.symptom_of or relations.overlaps)",
                )
    return sorted(set(out))
