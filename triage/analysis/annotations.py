"""Annotations: what the logs cannot know, overlaid on the issues (status, commit, owner, link, note).

An annotation names a rule id and, optionally, a service (a glob); the most specific one wins (an exact
service before a glob before none; file order breaks ties). A service id with a region
(``checkout (europe-west1)``) is matched by itself and by its bare name. Its status (ACKNOWLEDGED, MUTED, WONTFIX)
replaces an open status (PENDING, REGRESSED); a FIXED issue stays FIXED because the logs prove it. The
status the logs gave is kept in ``log_status`` either way. Parsing is pure: the file is read elsewhere.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.analysis.statuses import ANNOTATION_STATUSES, OPEN
from triage.errors import ConfigError

KEYS = ("rule", "service", "status", "commit", "owner", "link", "note")


@dataclass(frozen=True)
class Annotation:
    rule: str
    service: str = ""  # "" = every service; globs allowed
    status: str = ""
    commit: str = ""
    owner: str = ""
    link: str = ""
    note: str = ""
    line: int | None = None

    def applies(self, rule: str, service: str) -> bool:
        if self.rule != rule:
            return False
        names = {service, service.split(" (", 1)[0]}  # the id, and the name without its region
        return not self.service or any(fnmatch.fnmatchcase(n, self.service) for n in names)

    @property
    def specificity(self) -> int:
        if not self.service:
            return 0
        return 1 if any(ch in self.service for ch in "*?[") else 2


def parse_annotations(items: Any, path: str = "annotations") -> list[Annotation]:
    """``items``: a list of mappings (the ``annotations:`` list of a YAML file)."""
    if items is None:
        return []
    if not isinstance(items, list):
        line = getattr(items, "line", None)
        raise ConfigError("must be a list of annotations", path=path, line=line, key="annotations")
    out = []
    for i, item in enumerate(items):
        line = getattr(item, "line", None)
        where = f"annotations[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigError("an annotation is a mapping with at least 'rule'", path=path, line=line, key=where)
        unknown = [k for k in item if k not in KEYS]
        if unknown:
            raise ConfigError(f"unknown key (expected one of: {', '.join(KEYS)})", path=path, line=line,
                              key=f"{where}.{unknown[0]}")  # fmt: skip
        values = {}
        for key in KEYS:
            value = item.get(key, "")
            if value is None:
                value = ""
            if not isinstance(value, str | int):
                raise ConfigError("must be a string", path=path, line=line, key=f"{where}.{key}")
            values[key] = str(value).strip()
        if not values["rule"]:
            raise ConfigError("required", path=path, line=line, key=f"{where}.rule")
        values["status"] = values["status"].upper()
        if values["status"] and values["status"] not in ANNOTATION_STATUSES:
            raise ConfigError(f"must be one of {', '.join(ANNOTATION_STATUSES)}", path=path, line=line,
                              key=f"{where}.status")  # fmt: skip
        out.append(Annotation(line=line, **values))
    return out


def find(annotations: Sequence[Annotation], rule: str, service: str) -> Annotation | None:
    found = [a for a in annotations if a.applies(rule, service)]
    if not found:
        return None
    top = max(a.specificity for a in found)
    return next(a for a in found if a.specificity == top)


def apply(issues: Iterable[Any], annotations: Sequence[Annotation]) -> None:
    """Set ``annotation``, ``log_status`` and, for open issues, ``status`` on each issue."""
    for issue in issues:
        issue.log_status = issue.status
        note = find(annotations, issue.rule.id, issue.service)
        issue.annotation = note
        if note is not None and note.status and issue.status in OPEN:
            issue.status = note.status
