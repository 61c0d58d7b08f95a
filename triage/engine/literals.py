"""Required literals of a rule, for the prefilter.

A rule can only match an event whose text contains at least one of its literals. For ``any`` every
alternative must contribute one (else the rule has no literal and runs on every event); for ``all`` one
literal from any text condition is enough. Literals avoid characters that JSON escapes (quotes,
backslashes, control and non-ASCII characters) so the same literals also work on raw JSON lines.
"""

from __future__ import annotations

import re._constants as sc
import re._parser as sre_parse

from triage.engine.facts import TRIGGERS
from triage.engine.rules import Condition, Rule

MIN_LITERAL = 3


def _safe(ch: int) -> bool:
    return 0x20 <= ch < 0x7F and ch not in (0x22, 0x5C)  # printable ASCII, not '"' or '\'


def _runs(seq, out: list[str]) -> None:
    """Collect runs of consecutive required literal characters from a parsed pattern."""
    run: list[str] = []

    def flush() -> None:
        if run:
            out.append("".join(run))
            run.clear()

    for op, arg in seq:
        if op is sc.LITERAL and _safe(arg):
            run.append(chr(arg))
            continue
        flush()
        if op is sc.SUBPATTERN:
            _runs(arg[-1], out)
        elif op in (sc.MAX_REPEAT, sc.MIN_REPEAT, sc.POSSESSIVE_REPEAT) and arg[0] >= 1:
            _runs(arg[2], out)
        elif op is sc.ATOMIC_GROUP:
            _runs(arg, out)
    flush()


def regex_literal(pattern: str, ignore_case: bool = False) -> str | None:
    """Longest literal every match of ``pattern`` must contain, or None."""
    try:
        parsed = sre_parse.parse(pattern)
    except Exception:  # `regex` syntax that `re` cannot parse: no literal, not an error
        return None
    # Case does not matter: the prefilter lower-cases both the literals and the text.
    runs: list[str] = []
    _runs(parsed, runs)
    best = max(runs, key=len, default="")
    return best if len(best) >= MIN_LITERAL else None


def _branch_literals(seq) -> tuple[str, ...]:
    """One literal per alternative of the first group every match must enter whose every alternative
    has one (`(?:MongoNetworkError|ServerSelectionTimeoutError)...`), or ()."""
    for op, arg in seq:
        if op is sc.SUBPATTERN:
            seq = arg[-1]
            op, arg = seq[0] if len(seq) == 1 else (None, None)
        if op is not sc.BRANCH:
            continue
        out = []
        for branch in arg[1]:
            runs: list[str] = []
            _runs(branch, runs)
            best = max(runs, key=len, default="")
            if len(best) < MIN_LITERAL:
                break
            out.append(best)
        else:
            return tuple(out)
    return ()


def regex_literals(pattern: str) -> tuple[str, ...]:
    """Literals one of which every match of ``pattern`` contains: its longest required literal or one per
    alternative of a required group, whichever is more selective (the longer shortest literal). A short
    literal such as ``403`` is in every request log line of that status; the group beside it
    (``The caller does not have permission|PERMISSION_DENIED``) is in almost none."""
    lit = regex_literal(pattern)
    try:
        branches = _branch_literals(sre_parse.parse(pattern))
    except Exception:
        branches = ()
    if branches and (not lit or min(map(len, branches)) > len(lit)):
        return branches
    return (lit,) if lit else ()


def condition_literals(cond: Condition) -> tuple[str, ...]:
    """Literals one of which must appear for ``cond`` to hold; () if none is known."""
    texts = tuple(t for t in cond.contains + cond.startswith)
    if texts and all(len(t) >= MIN_LITERAL and all(_safe(ord(c)) for c in t) for t in texts):
        return texts
    if cond.regex is not None:
        lits = regex_literals(cond.regex.pattern)
        if lits:
            return lits
    if cond.facts is not None and cond.facts.outcomes:
        # Every extraction pattern of an outcome contains one of its triggers.
        return tuple(dict.fromkeys(t for o in sorted(cond.facts.outcomes) for t in TRIGGERS[o]))
    return ()


def rule_literals(rule: Rule) -> tuple[str, ...]:
    if rule.keywords:
        return rule.keywords
    for cond in rule.match.all:
        lits = condition_literals(cond)
        if lits:
            return lits
    if rule.match.any:
        out: list[str] = []
        for cond in rule.match.any:
            lits = condition_literals(cond)
            if not lits:
                return ()
            out.extend(lits)
        return tuple(dict.fromkeys(out))
    return ()
