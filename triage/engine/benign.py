"""Which lines a run may count without matching them: benign lines, and the catalog's literals that prove it.

A benign line is one no rule can match and that is not error-like: below ERROR, no traceback, not an
audit entry, and none of the catalog's literals in its message (rules match only events whose lower-cased
message holds one of their literals, see literals.py). The fast path's workers and the BigQuery plan both
count such lines instead of parsing them; that is only exact when every rule needs a literal to match one,
which ``benign_literals`` checks once.
"""

from __future__ import annotations

from triage.engine.matcher import Matcher
from triage.engine.rules import Condition, Rule

# Logs whose lines can be benign (audit entries never are: they carry deploys and Ready conditions).
BENIGN_LOGS = frozenset({"stdout", "stderr", "requests", "system", "other"})


def _cond_can_be_benign(cond: Condition) -> bool:
    """Could this condition hold for a benign line (severity < ERROR, no traceback, not audit)?"""
    if cond.exception is not None or cond.frame is not None:
        return False  # both need a parsed traceback, and benign lines hold no traceback head
    if cond.log and not (set(cond.log) & BENIGN_LOGS):
        return False
    if cond.severity is not None:
        op, level = cond.severity
        if (op in (">=", "==") and level >= 500) or (op == ">" and level >= 499):
            return False
    return True


def rule_can_be_benign(rule: Rule) -> bool:
    spec = rule.match
    if not all(_cond_can_be_benign(c) for c in spec.all):
        return False
    return not spec.any or any(_cond_can_be_benign(c) for c in spec.any)


def benign_literals(matcher: Matcher) -> tuple[str, ...] | None:
    """Every rule literal, lower-cased and sorted, when a line without any of them can be counted unmatched;
    None when some rule without literals could match a benign line (then every line must be matched)."""
    if any(rule_can_be_benign(matcher.catalog.rules[i]) for i in matcher.unfiltered):
        return None
    return tuple(sorted({lit.lower() for lits in matcher.literals.values() for lit in lits}))
