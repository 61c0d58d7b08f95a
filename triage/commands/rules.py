"""`triage rules list|show|test|lint|schema`: the catalog as something authors can inspect and test."""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from triage.engine.catalog import Catalog, files_of, load_catalog
from triage.engine.lint import lint
from triage.engine.literals import rule_literals
from triage.engine.rule_schema import render_rule_schema
from triage.engine.rules import Condition, Rule
from triage.engine.selftest import ExampleResult, run_examples
from triage.errors import TriageError
from triage.output import write_atomic
from triage.records import SEVERITY_LEVELS
from triage.resources import builtin_rules_dir

_LEVEL_NAMES = {v: k for k, v in SEVERITY_LEVELS.items()}


@dataclass(frozen=True)
class RulesOptions:
    rules: tuple[Path, ...] = ()  # --rules: team catalogs added to the built-in one
    disable: tuple[str, ...] = ()
    collect: bool = False  # report every load error at once


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def load(opts: RulesOptions, paths: Sequence[Path] = ()) -> tuple[Catalog, list[Rule]]:
    """The catalog (built-in, --rules, then PATHs) and the rules the command is about (those in PATHs)."""
    builtin = builtin_rules_dir()
    extra = [p for p in paths if not _inside(Path(p), builtin)]  # built-in files are already loaded
    catalog = load_catalog([*opts.rules, *extra], disable=opts.disable, collect=opts.collect)
    if not paths:
        return catalog, list(catalog.rules)
    wanted = files_of(paths)
    return catalog, [r for r in catalog.rules if r.source.path in wanted]


def _out(text: str) -> None:
    sys.stdout.write(text)


# ---- list -----------------------------------------------------------------------------------


def list_rules(opts: RulesOptions, fmt: str = "table") -> int:
    catalog, rules = load(opts)
    replaced = {r.rule_id for r in catalog.replaced}
    if fmt == "json":
        rows = [
            {
                "id": r.id,
                "title": r.title,
                "severity": r.severity,
                "category": r.category,
                "component": r.component,
                "source": str(r.source),
                "replaces_builtin": r.id in replaced,
            }
            for r in rules
        ]
        _out(json.dumps(rows, indent=2) + "\n")
        return 0
    table = [("ID", "TITLE", "SEVERITY", "CATEGORY", "SOURCE")]
    table += [(r.id, r.title, r.severity, r.category, str(r.source)) for r in rules]
    widths = [max(len(row[c]) for row in table) for c in range(len(table[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in table]
    lines.append("")
    lines.append(f"{len(rules)} rule(s)" + (f"; disabled: {', '.join(catalog.disabled)}" if catalog.disabled else ""))
    lines.extend(f"{r.rule_id}: {r.by} replaces the built-in rule ({r.builtin})" for r in catalog.replaced)
    _out("\n".join(lines) + "\n")
    return 0


# ---- show -----------------------------------------------------------------------------------


def describe_condition(cond: Condition) -> str:
    parts = []
    if cond.regex is not None:
        parts.append(f"regex {cond.regex.pattern!r}")
    if cond.contains:
        parts.append("contains " + " | ".join(repr(c) for c in cond.contains))
    if cond.startswith:
        parts.append("startswith " + " | ".join(repr(c) for c in cond.startswith))
    if cond.ignore_case:
        parts.append("ignoring case")
    if cond.severity is not None:
        op, level = cond.severity
        parts.append(f"severity {op}{_LEVEL_NAMES.get(level, level)}")
    if cond.log:
        parts.append("log " + "|".join(sorted(cond.log)))
    if cond.service:
        parts.append("service " + "|".join(cond.service))
    if cond.http_status:
        parts.append("http_status " + ",".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in cond.http_status))
    if cond.exception is not None:
        parts.append(f"exception {cond.exception.pattern!r}")
    if cond.frame is not None:
        f = cond.frame
        keys = [
            f"{k}={v!r}"
            for k, v in (
                ("function", f.function),
                ("file", f.file),
                ("app", f.app),
                ("code", f.code and f.code.pattern),
            )
            if v is not None
        ]
        parts.append("frame(" + ", ".join(keys) + ")")
    if cond.facts is not None:
        parts.append("facts(" + ", ".join(f"{k}={'|'.join(sorted(v))}" for k, v in cond.facts.values) + ")")
    if cond.requires:
        parts.append("only beside " + "|".join(cond.requires) + " in the same revision")
    return "; ".join(parts)


def _first_line(example_entry: dict) -> str:
    text = str(
        example_entry.get("textPayload") or example_entry.get("jsonPayload") or example_entry.get("protoPayload") or ""
    )
    line = next((s for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= 110 else line[:107] + "..."


def render_rule(rule: Rule, catalog: Catalog) -> str:
    lines = [f"{rule.id}: {rule.title}", ""]
    lines.append(f"severity: {rule.severity}    category: {rule.category}    component: {rule.component or '-'}")
    lines.append(f"source: {rule.source}")
    for rep in catalog.replaced:
        if rep.rule_id == rule.id:
            lines.append(f"replaces the built-in rule at {rep.builtin}")
    lits = rule_literals(rule)
    lines.append("prefilter: " + (", ".join(repr(x) for x in lits) if lits else "none (runs on every event)"))
    lines.append("")
    lines.append("match:")
    for group in ("all", "any", "none"):
        for i, cond in enumerate(getattr(rule.match, group)):
            lines.append(f"  {group}[{i}]: {describe_condition(cond)}")
    if rule.captures:
        lines.append("captures: " + ", ".join(sorted(rule.captures)))
    lines.append("")
    for label, text in (("problem", rule.problem), ("root cause", rule.root_cause), ("fix", rule.fix)):
        lines.append(f"{label}: {text}")
    for label, items in (
        ("recommendations (immediate)", rule.immediate),
        ("recommendations (long term)", rule.long_term),
        ("verify", rule.verify),
        ("references", rule.references),
    ):
        if items:
            lines.append(f"{label}:")
            lines.extend(f"  - {x}" for x in items)
    symptoms = [r.id for r in catalog.rules if rule.id in r.symptom_of]
    for label, items in (("symptom of", rule.symptom_of), ("overlaps", rule.overlaps), ("symptoms", tuple(symptoms))):
        if items:
            lines.append(f"{label}: {', '.join(items)}")
    for kind, examples in (("match", rule.examples_match), ("no_match", rule.examples_no_match)):
        lines.append(f"examples.{kind} ({len(examples)}):")
        lines.extend(f"  {rule.source.path}:{ex.line}  {_first_line(dict(ex.entry))}" for ex in examples)
    return "\n".join(lines) + "\n"


def show_rule(opts: RulesOptions, rule_id: str) -> int:
    catalog, _ = load(opts)
    rule = catalog.get(rule_id)
    if rule is None:
        close = difflib.get_close_matches(rule_id, [r.id for r in catalog.rules], n=3)
        hint = f" (did you mean: {', '.join(close)}?)" if close else ""
        raise TriageError(f"unknown rule id {rule_id!r}{hint}")
    _out(render_rule(rule, catalog))
    return 0


# ---- test -----------------------------------------------------------------------------------


def describe_failure(res: ExampleResult) -> str:
    head = f"FAIL {res.rule.id}: examples.{res.kind}[{res.index}] at {res.where}"
    text = _first_line(dict(res.example.entry))
    if res.error:
        why = res.error
    elif res.rule.id in res.timed_out:
        why = "the rule's regex timed out on it"
    elif res.kind == "match":
        others = [m for m in res.matched if m != res.rule.id]
        why = "did not match; " + (f"matched instead: {', '.join(others)}" if others else "no rule matched it")
    else:
        others = [m for m in res.matched if m != res.rule.id]
        why = "matched but should not" + (f" (also matched: {', '.join(others)})" if others else "")
    return f"{head}: {why}\n    {text}"


def test_rules(opts: RulesOptions, paths: Sequence[Path] = ()) -> int:
    catalog, rules = load(opts, paths)
    results = run_examples(catalog, rules)
    failed = [r for r in results if not r.passed]
    lines = [describe_failure(r) for r in failed]
    lines.append(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    _out("\n".join(lines) + "\n")
    return 1 if failed else 0


# ---- lint -----------------------------------------------------------------------------------


def lint_rules(opts: RulesOptions, paths: Sequence[Path] = ()) -> int:
    catalog, rules = load(opts, paths)
    findings = lint(catalog, rules)
    lines = [str(f) for f in findings]
    lines.append(f"{len(rules)} rule(s) checked, {len(findings)} finding(s)")
    _out("\n".join(lines) + "\n")
    return 1 if findings else 0


# ---- schema ---------------------------------------------------------------------------------


def schema(out: Path | None = None) -> int:
    """The rule-file JSON Schema, generated from the rule model (schemas/triage-rules.schema.json is this)."""
    text = render_rule_schema()
    if out:
        write_atomic(out, text)
    else:
        _out(text)
    return 0
