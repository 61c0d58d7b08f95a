"""The catalog: every rule from the built-in folder plus team folders, validated and typed.

A rule file holds ``rules: [ ... ]``. Ids are unique across one folder; a team folder may replace a
built-in rule by reusing its id (the catalog records it so the report can say so).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from triage.engine.rules import Rule, RuleLocation
from triage.engine.yamlpos import PosDict, line_of, load_yaml
from triage.errors import RuleError, RuleErrors
from triage.resources import builtin_rules_dir


@dataclass(frozen=True)
class Replacement:
    rule_id: str
    builtin: str  # where the built-in rule was
    by: str  # where the team rule is


@dataclass(frozen=True)
class Catalog:
    rules: tuple[Rule, ...]
    replaced: tuple[Replacement, ...] = ()
    disabled: tuple[str, ...] = ()

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def display_name(path: Path) -> str:
    """How errors and listings name a rule file: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def files_of(paths: Iterable[Path]) -> set[str]:
    """Display names of every rule file under ``paths`` (to pick the rules a command should look at)."""
    return {display_name(f) for p in paths for f in rule_files(Path(p))}


def rule_files(path: Path) -> list[Path]:
    """A rule file as named, or the *.yaml/*.yml files of a rule folder up to MAX_DEPTH folders below it.

    A folder is walked without following symlinks out of it, and a folder deeper than the limit (or
    one with more than MAX_ENTRIES entries in all) is an error, not a longer walk: ``rules: [/]`` must
    fail at once, never read the whole filesystem."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise RuleError("no such rule file or folder", path=str(path))
    root = path.resolve()
    found: list[Path] = []
    budget = [MAX_ENTRIES]
    _walk(path, root, 0, found, budget)
    return sorted(found)


MAX_DEPTH = 3  # folders below a named rule folder that are searched for rule files
MAX_ENTRIES = 10_000  # directory entries one rule folder may hold in all, nested ones included


def _walk(folder: Path, root: Path, depth: int, found: list[Path], budget: list[int]) -> None:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise RuleError(f"cannot read rule folder: {exc.strerror or exc}", path=str(folder)) from None
    budget[0] -= len(entries)
    if budget[0] < 0:
        raise RuleError(
            f"more than {MAX_ENTRIES:,} entries under this rule folder: name the folder that holds the rule files",
            path=str(root),
        )
    for entry in entries:
        p = Path(entry.path)
        if entry.is_symlink():
            target = p.resolve()
            if not target.is_relative_to(root):
                raise RuleError(
                    f"symlink to {display_name(target)}, outside the rule folder: name it instead", path=str(p)
                )
            if target.is_dir():
                continue  # inside the folder: its files are reached by their own path
        if entry.is_dir(follow_symlinks=False):
            if depth + 1 > MAX_DEPTH:
                raise RuleError(
                    f"rule folders are searched at most {MAX_DEPTH} levels deep, and {display_name(p)} is"
                    " deeper: name the folder that holds the rule files",
                    path=display_name(root),
                )
            _walk(p, root, depth + 1, found, budget)
        elif p.suffix in (".yaml", ".yml") and entry.is_file():
            found.append(p)


def load_file(path: Path, errors: list[RuleError] | None = None) -> list[Rule]:
    """Rules of one file. With ``errors`` given, collect every bad rule instead of stopping at the first."""
    name = display_name(path)
    doc = load_yaml(path, name)
    if doc is None:
        return []
    if not isinstance(doc, PosDict) or "rules" not in doc:
        raise RuleError("a rule file is a mapping with a 'rules' list", path=name, line=getattr(doc, "line", 1))
    for key, line, first in doc.duplicates:
        raise RuleError(f"duplicate key (first at line {first})", path=name, line=line, key=str(key))
    extra = [k for k in doc if k != "rules"]
    if extra:
        line = line_of(doc, extra[0])
        raise RuleError("unknown top-level key (only 'rules')", path=name, line=line, key=str(extra[0]))
    items = doc["rules"]
    if not isinstance(items, list):
        raise RuleError("'rules' must be a list", path=name, line=line_of(doc, "rules"), key="rules")
    rules: list[Rule] = []
    for i, item in enumerate(items):
        try:
            rules.append(Rule.from_dict(item, RuleLocation(name, line_of(items, i))))
        except RuleError as exc:
            if errors is None:
                raise
            errors.append(exc)
    return rules


def _duplicate(rule: Rule, first: Rule, errors: list[RuleError] | None) -> None:
    """Raise (or collect) the error for a second rule with ``first``'s id."""
    exc = RuleError(
        f"duplicate id (first defined at {first.source})",
        path=rule.source.path,
        line=rule.source.line,
        rule=rule.id,
        key="id",
    )
    if errors is None:
        raise exc
    errors.append(exc)


def load_dir(path: Path, errors: list[RuleError] | None = None) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, Rule] = {}
    for file in rule_files(path):
        try:
            loaded = load_file(file, errors)
        except RuleError as exc:
            if errors is None:
                raise
            errors.append(exc)
            continue
        for rule in loaded:
            if rule.id in seen:
                _duplicate(rule, seen[rule.id], errors)
                continue
            seen[rule.id] = rule
            rules.append(rule)
    return rules


def load_catalog(
    extra_dirs: Sequence[Path] = (),
    *,
    builtin: bool = True,
    disable: Iterable[str] = (),
    collect: bool = False,
) -> Catalog:
    """Built-in rules, then each team folder in order; ``collect`` raises all errors at once."""
    errors: list[RuleError] | None = [] if collect else None
    by_id: dict[str, Rule] = {}
    replaced: list[Replacement] = []
    folders = ([builtin_rules_dir()] if builtin else []) + list(extra_dirs)
    builtin_ids: set[str] = set()
    for index, folder in enumerate(folders):
        for rule in load_dir(Path(folder), errors):
            old = by_id.get(rule.id)
            if old is not None and old.source.path == rule.source.path:
                continue  # the same file reached twice (a folder given twice, or the built-in folder)
            if old is None:
                if builtin and index == 0:
                    builtin_ids.add(rule.id)
            elif old.id in builtin_ids and not any(r.rule_id == rule.id for r in replaced):
                replaced.append(Replacement(rule.id, str(old.source), str(rule.source)))
            else:
                # Two team catalogs (or a team catalog twice) define one id: which one wins would depend
                # on option order, so it is an error like a duplicate inside one folder.
                _duplicate(rule, old, errors)
                continue
            by_id[rule.id] = rule
    if errors:
        raise RuleErrors(errors)
    disabled = tuple(sorted(set(disable)))
    unknown = [d for d in disabled if d not in by_id]
    if unknown:
        raise RuleError(f"cannot disable unknown rule id(s): {', '.join(unknown)}", path="--disable")
    rules = tuple(r for r in by_id.values() if r.id not in disabled)
    return Catalog(rules, tuple(replaced), disabled)
