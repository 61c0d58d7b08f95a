"""Typed, frozen rules parsed from YAML mappings (``Rule.from_dict(d, source)``).

Parsing is strict: an unknown key, a wrong type or an invalid regex raises ``RuleError`` naming the
file, line, rule id and key path, e.g. ``rules/db.yaml:14: rule "x": match.any[1].regex: ...``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import regex as re

from triage.engine.facts import FACT_KEYS, OUTCOMES
from triage.engine.yamlpos import duplicate_keys, line_of
from triage.errors import RuleError
from triage.records import SEVERITY_LEVELS

SEVERITIES = ("critical", "high", "medium", "low", "info")
CATEGORIES = ("dependency", "configuration", "startup", "resources", "platform", "network", "code")
LOG_KINDS = ("stdout", "stderr", "requests", "system", "audit", "other")
CONDITION_KEYS = (
    "regex", "contains", "startswith", "ignore_case", "severity", "log", "service",
    "http_status", "exception", "frame", "facts", "requires",
)  # fmt: skip
FRAME_KEYS = ("function", "file", "app", "code")
RULE_KEYS = (
    "id", "title", "severity", "category", "component", "match", "keywords", "problem", "root_cause",
    "fix", "recommendations", "verify", "references", "relations", "examples", "tags",
)  # fmt: skip
RELATION_KEYS = ("symptom_of", "overlaps")
# Values every issue has, whatever the rule captured (see Rule.render and the report model).
BUILTIN_PLACEHOLDERS = frozenset({"service", "revision", "exception", "app_frame", "count"})
EXAMPLE_KEYS = ("text", "log", "severity", "http_status", "service")
LOG_ENTRY_KEYS = (
    "logName", "resource", "timestamp", "receiveTimestamp", "severity", "insertId", "httpRequest", "labels",
    "operation", "trace", "spanId", "traceSampled", "sourceLocation", "split", "textPayload", "jsonPayload",
    "protoPayload", "errorGroups", "apphub", "apphubDestination",
)  # fmt: skip
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"  # also the rule schema's (triage.engine.rule_schema)
_ID_RE = re.compile(ID_PATTERN)


@dataclass(frozen=True, slots=True)
class RuleLocation:
    """Where a rule (or a piece of it) was defined."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


class _Ctx:
    """Builds located errors while walking one rule mapping."""

    def __init__(self, source: RuleLocation, rule: str | None) -> None:
        self.source = source
        self.rule = rule

    def error(self, key: str, message: str, container: Any = None, item: Any = None) -> RuleError:
        line = line_of(container, item, self.source.line) if container is not None else self.source.line
        return RuleError(message, path=self.source.path, line=line, rule=self.rule, key=key)


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {str: "a string", list: "a list", dict: "a mapping", bool: "true or false", int: "an integer"}
    if isinstance(t, tuple):
        return " or ".join(names.get(x, x.__name__) for x in t)
    return names.get(t, t.__name__)


def _get(ctx: _Ctx, d: Mapping, key: str, path: str, t: type | tuple[type, ...], default: Any = None) -> Any:
    if key not in d:
        return default
    value = d[key]
    if not isinstance(value, t) or (t is int and isinstance(value, bool)):
        raise ctx.error(path, f"must be {_type_name(t)}, not {type(value).__name__}", d, key)
    return value


def _str_list(ctx: _Ctx, d: Mapping, key: str, path: str) -> tuple[str, ...]:
    value = _get(ctx, d, key, path, (str, list), ())
    items = [value] if isinstance(value, str) else value
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise ctx.error(f"{path}[{i}]", f"must be a string, not {type(item).__name__}", value, i)
    return tuple(items)


def _unknown(ctx: _Ctx, d: Mapping, allowed: tuple[str, ...], path: str) -> None:
    for key in d:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise ctx.error(where, f"unknown key (expected one of: {', '.join(allowed)})", d, key)


# Built-in patterns are a few hundred characters. A pattern far beyond that is a generated word list or a
# mistake, and compiling it and running it on every event would take the run hostage.
MAX_PATTERN_CHARS = 20_000


def compile_regex(ctx: _Ctx, pattern: str, path: str, container: Any, key: Any, flags: int = 0) -> re.Pattern:
    if len(pattern) > MAX_PATTERN_CHARS:
        message = f"pattern too long ({len(pattern):,} characters; the limit is {MAX_PATTERN_CHARS:,})"
        raise ctx.error(path, message, container, key)
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise ctx.error(path, str(exc), container, key) from None
    except (OverflowError, RecursionError, MemoryError) as exc:
        raise ctx.error(path, f"pattern too large: {exc.__class__.__name__}", container, key) from None


def _status_ranges(ctx: _Ctx, value: Any, path: str, d: Mapping) -> tuple[tuple[int, int], ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            out.append((item, item))
            continue
        text = str(item).strip().lower()
        if len(text) == 3 and text.endswith("xx") and text[0].isdigit():
            base = int(text[0]) * 100
            out.append((base, base + 99))
            continue
        lo, sep, hi = text.partition("-")
        if sep and lo.strip().isdigit() and hi.strip().isdigit():
            out.append((int(lo), int(hi)))
            continue
        raise ctx.error(path, f"invalid status {item!r} (use 503, '5xx' or '500-599')", d, "http_status")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class FrameTest:
    function: str | None = None  # exact function name, e.g. "<module>"
    file: str | None = None  # glob on the file path
    app: bool | None = None  # True: application code only (not site-packages / stdlib)
    code: re.Pattern | None = None  # regex on the source line shown under the frame

    def test(self, frame: Any, search: Any = None) -> bool:
        """``search(pattern, text)``: the matcher's, so ``code`` runs under its timeout and budget."""
        if self.function is not None and frame.function != self.function:
            return False
        if self.file is not None and not fnmatch.fnmatchcase(frame.file, self.file):
            return False
        if self.app is not None and frame.is_app != self.app:
            return False
        if self.code is None:
            return True
        return (search(self.code, frame.code) if search else self.code.search(frame.code)) is not None


@dataclass(frozen=True, slots=True)
class FactTest:
    """Each named fact must take one of the given values (see triage.engine.facts)."""

    values: tuple[tuple[str, frozenset[str]], ...]

    @property
    def outcomes(self) -> frozenset[str]:
        return next((v for k, v in self.values if k == "outcome"), frozenset())

    def test(self, facts: Any) -> bool:
        return all(getattr(facts, key) in allowed for key, allowed in self.values)

    @classmethod
    def from_dict(cls, ctx: _Ctx, d: Any, path: str) -> FactTest:
        if not isinstance(d, Mapping) or not d:
            raise ctx.error(path, "must be a non-empty mapping of fact: value (or list of values)")
        _unknown(ctx, d, FACT_KEYS, path)
        values = []
        for key in d:
            allowed = _str_list(ctx, d, key, f"{path}.{key}")
            if not allowed:
                raise ctx.error(f"{path}.{key}", "needs at least one value", d, key)
            if key == "outcome" and not set(allowed) <= set(OUTCOMES):
                raise ctx.error(f"{path}.{key}", f"unknown outcome (one of {', '.join(OUTCOMES)})", d, key)
            values.append((str(key), frozenset(allowed)))
        return cls(tuple(values))


@dataclass(frozen=True, slots=True)
class Condition:
    """All keys given in one condition must hold (AND)."""

    regex: re.Pattern | None = None
    contains: tuple[str, ...] = ()  # any of these substrings
    startswith: tuple[str, ...] = ()
    ignore_case: bool = False
    severity: tuple[str, int] | None = None  # (op, level)
    log: frozenset[str] = frozenset()
    service: tuple[str, ...] = ()  # globs
    http_status: tuple[tuple[int, int], ...] = ()
    exception: re.Pattern | None = None
    frame: FrameTest | None = None
    facts: FactTest | None = None
    # Rule ids: a match this condition decided stands only in a revision where one of them matched too
    # (analysis.findings.confirmed), for a line every healthy boot may print that is a cause only beside
    # the failure it explains (a loopback listen address beside a startup probe that could not connect).
    requires: tuple[str, ...] = ()
    line: int | None = None

    @classmethod
    def from_dict(cls, d: Any, ctx: _Ctx, path: str) -> Condition:
        if not isinstance(d, Mapping):
            raise ctx.error(path, f"a condition must be a mapping, not {type(d).__name__}")
        _unknown(ctx, d, CONDITION_KEYS, path)
        if not d:
            raise ctx.error(path, "empty condition", d)
        if not set(d) - {"requires", "ignore_case"}:
            raise ctx.error(f"{path}.requires", "needs a test in the same condition", d, "requires")
        ignore_case = bool(_get(ctx, d, "ignore_case", f"{path}.ignore_case", bool, False))
        flags = re.IGNORECASE if ignore_case else 0
        regex = None
        if "regex" in d:
            pattern = _get(ctx, d, "regex", f"{path}.regex", str)
            regex = compile_regex(ctx, pattern, f"{path}.regex", d, "regex", flags | re.MULTILINE)
        severity = None
        if "severity" in d:
            text = str(_get(ctx, d, "severity", f"{path}.severity", str)).strip().upper()
            op = next((o for o in (">=", "<=", ">", "<", "==") if text.startswith(o)), "==")
            name = text[len(op) :].strip() if text.startswith(op) else text
            if name not in SEVERITY_LEVELS:
                raise ctx.error(f"{path}.severity", f"unknown severity {name!r}", d, "severity")
            severity = (op, SEVERITY_LEVELS[name])
        logs = _str_list(ctx, d, "log", f"{path}.log")
        for kind in logs:
            if kind not in LOG_KINDS:
                raise ctx.error(f"{path}.log", f"unknown log kind {kind!r} (one of {', '.join(LOG_KINDS)})", d, "log")
        exception = None
        if "exception" in d:
            pattern = _get(ctx, d, "exception", f"{path}.exception", str)
            exception = compile_regex(ctx, pattern, f"{path}.exception", d, "exception")
        frame = None
        if "frame" in d:
            fd = _get(ctx, d, "frame", f"{path}.frame", dict)
            _unknown(ctx, fd, FRAME_KEYS, f"{path}.frame")
            code = _get(ctx, fd, "code", f"{path}.frame.code", str)
            frame = FrameTest(
                function=_get(ctx, fd, "function", f"{path}.frame.function", str),
                file=_get(ctx, fd, "file", f"{path}.frame.file", str),
                app=_get(ctx, fd, "app", f"{path}.frame.app", bool),
                code=compile_regex(ctx, code, f"{path}.frame.code", fd, "code") if code is not None else None,
            )
        return cls(
            regex=regex,
            contains=_str_list(ctx, d, "contains", f"{path}.contains"),
            startswith=_str_list(ctx, d, "startswith", f"{path}.startswith"),
            ignore_case=ignore_case,
            severity=severity,
            log=frozenset(logs),
            service=_str_list(ctx, d, "service", f"{path}.service"),
            http_status=_status_ranges(ctx, d["http_status"], f"{path}.http_status", d) if "http_status" in d else (),
            exception=exception,
            frame=frame,
            facts=FactTest.from_dict(ctx, d["facts"], f"{path}.facts") if "facts" in d else None,
            requires=_str_list(ctx, d, "requires", f"{path}.requires"),
            line=getattr(d, "line", None),
        )


@dataclass(frozen=True, slots=True)
class MatchSpec:
    any: tuple[Condition, ...] = ()
    all: tuple[Condition, ...] = ()
    none: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class Example:
    entry: Mapping[str, Any]  # a LogEntry mapping (short text examples are expanded to one)
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: str
    category: str
    component: str
    match: MatchSpec
    problem: str
    root_cause: str
    fix: str
    source: RuleLocation
    keywords: tuple[str, ...] = ()  # explicit prefilter literals; derived from the patterns when empty
    immediate: tuple[str, ...] = ()
    long_term: tuple[str, ...] = ()
    verify: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    symptom_of: tuple[str, ...] = ()  # this rule's findings are caused by those rules' findings
    overlaps: tuple[str, ...] = ()  # rules that may fire on the same event on purpose (not a cause)
    tags: tuple[str, ...] = ()
    examples_match: tuple[Example, ...] = ()
    examples_no_match: tuple[Example, ...] = ()
    placeholders: frozenset[str] = field(default=frozenset())  # {names} used in the texts
    captures: frozenset[str] = field(default=frozenset())  # named groups the rule's patterns define

    @property
    def unknown_placeholders(self) -> frozenset[str]:
        """Placeholders no pattern captures and the report does not provide: they render "unknown X"."""
        return self.placeholders - self.captures - BUILTIN_PLACEHOLDERS

    @classmethod
    def from_dict(cls, d: Any, source: RuleLocation) -> Rule:
        ctx = _Ctx(source, None)
        if not isinstance(d, Mapping):
            raise ctx.error("", f"a rule must be a mapping, not {type(d).__name__}")
        rid = d.get("id")
        if not isinstance(rid, str) or not _ID_RE.match(rid):
            raise ctx.error("id", "required: lower-case letters, digits and dashes", d, "id")
        ctx.rule = rid
        for key_path, line, first in duplicate_keys(d):
            message = f"duplicate key (first at line {first})"
            raise RuleError(message, path=source.path, line=line, rule=rid, key=key_path)
        _unknown(ctx, d, RULE_KEYS, "")
        names = ("title", "severity", "category", "problem", "root_cause", "fix")
        required = {k: _get(ctx, d, k, k, str) for k in names}
        for key, value in required.items():
            if not value:
                raise ctx.error(key, "required", d)
        if required["severity"] not in SEVERITIES:
            raise ctx.error("severity", f"must be one of {', '.join(SEVERITIES)}", d, "severity")
        if required["category"] not in CATEGORIES:
            raise ctx.error("category", f"must be one of {', '.join(CATEGORIES)}", d, "category")

        md = _get(ctx, d, "match", "match", dict)
        if md is None:
            raise ctx.error("match", "required", d)
        _unknown(ctx, md, ("any", "all", "none"), "match")
        groups: dict[str, tuple[Condition, ...]] = {}
        for group in ("any", "all", "none"):
            items = _get(ctx, md, group, f"match.{group}", list, [])
            groups[group] = tuple(Condition.from_dict(c, ctx, f"match.{group}[{i}]") for i, c in enumerate(items))
        if not groups["any"] and not groups["all"]:
            raise ctx.error("match", "needs at least one condition under 'any' or 'all'", d, "match")

        recs = _get(ctx, d, "recommendations", "recommendations", dict, {})
        _unknown(ctx, recs, ("immediate", "long_term"), "recommendations")
        rel = _get(ctx, d, "relations", "relations", dict, {})
        _unknown(ctx, rel, RELATION_KEYS, "relations")
        ex = _get(ctx, d, "examples", "examples", dict, {})
        _unknown(ctx, ex, ("match", "no_match"), "examples")

        immediate = _str_list(ctx, recs, "immediate", "recommendations.immediate")
        long_term = _str_list(ctx, recs, "long_term", "recommendations.long_term")
        verify = _str_list(ctx, d, "verify", "verify")
        texts = [required["problem"], required["root_cause"], required["fix"], *immediate, *long_term, *verify]
        placeholders = frozenset(p for t in texts for p in _PLACEHOLDER.findall(t))
        captures = frozenset(
            name
            for conds in groups.values()
            for c in conds
            for pattern in (c.regex, c.exception)
            if pattern is not None
            for name in pattern.groupindex
        ) | frozenset(FACT_KEYS if any(c.facts for conds in groups.values() for c in conds) else ())
        return cls(
            id=rid,
            title=required["title"],
            severity=required["severity"],
            category=required["category"],
            component=_get(ctx, d, "component", "component", str, ""),
            match=MatchSpec(**groups),
            problem=required["problem"],
            root_cause=required["root_cause"],
            fix=required["fix"],
            source=RuleLocation(source.path, getattr(d, "line", None) or source.line),
            keywords=_str_list(ctx, d, "keywords", "keywords"),
            immediate=immediate,
            long_term=long_term,
            verify=verify,
            references=_str_list(ctx, d, "references", "references"),
            symptom_of=_str_list(ctx, rel, "symptom_of", "relations.symptom_of"),
            overlaps=_str_list(ctx, rel, "overlaps", "relations.overlaps"),
            tags=_str_list(ctx, d, "tags", "tags"),
            examples_match=_examples(ctx, ex, "match"),
            examples_no_match=_examples(ctx, ex, "no_match"),
            placeholders=placeholders,
            captures=captures,
        )

    def render(self, text: str, values: Mapping[str, str]) -> str:
        """Fill ``{name}`` placeholders; a capture that did not take part reads "unknown"."""
        return _PLACEHOLDER.sub(lambda m: str(values.get(m[1]) or f"unknown {m[1]}"), text)


def _examples(ctx: _Ctx, ex: Mapping, key: str) -> tuple[Example, ...]:
    items = _get(ctx, ex, key, f"examples.{key}", list, [])
    out = []
    for i, item in enumerate(items):
        line = line_of(items, i)
        path = f"examples.{key}[{i}]"
        if isinstance(item, str):
            out.append(Example(example_entry({"text": item}), line))
        elif isinstance(item, Mapping):
            if "text" in item:
                _unknown(ctx, item, EXAMPLE_KEYS, path)
                if not isinstance(item["text"], str):
                    message = f"must be a string, not {type(item['text']).__name__}"
                    raise ctx.error(f"{path}.text", message, item, "text")
                kind = item.get("log", "stderr")
                if kind not in LOG_KINDS:
                    message = f"unknown log kind {kind!r} (one of {', '.join(LOG_KINDS)})"
                    raise ctx.error(f"{path}.log", message, item, "log")
                sev = item.get("severity", "DEFAULT")
                if not isinstance(sev, str) or sev.upper() not in SEVERITY_LEVELS:
                    raise ctx.error(f"{path}.severity", f"unknown severity {sev!r}", item, "severity")
                status = item.get("http_status", 200)
                if not isinstance(status, int) or isinstance(status, bool):
                    raise ctx.error(f"{path}.http_status", "must be an integer", item, "http_status")
            else:
                _unknown(ctx, item, LOG_ENTRY_KEYS, path)
            out.append(Example(example_entry(item), line))
        else:
            raise ctx.error(f"examples.{key}[{i}]", "must be log text or a LogEntry mapping", items, i)
    return tuple(out)


_LOG_NAMES = {
    "stdout": "run.googleapis.com%2Fstdout",
    "stderr": "run.googleapis.com%2Fstderr",
    "requests": "run.googleapis.com%2Frequests",
    "system": "run.googleapis.com%2Fvarlog%2Fsystem",
    "audit": "cloudaudit.googleapis.com%2Fsystem_event",
}


def example_entry(item: Mapping[str, Any]) -> dict[str, Any]:
    """Expand an example to a LogEntry. ``{text, log, severity, http_status, service}`` is shorthand."""
    if "text" not in item:
        return dict(item)
    log = str(item.get("log", "stderr"))
    entry: dict[str, Any] = {
        "timestamp": "2025-01-01T00:00:00.000000Z",
        "logName": f"projects/example/logs/{_LOG_NAMES.get(log, log)}",
        "resource": {
            "type": "cloud_run_revision",
            "labels": {
                "service_name": item.get("service", "example-service"),
                "revision_name": "example-service-00001-abc",
            },
        },
        "labels": {"instanceId": "00example"},
        "textPayload": str(item["text"]),
    }
    if "severity" in item:
        entry["severity"] = item["severity"]
    if "http_status" in item:
        entry["httpRequest"] = {"status": item["http_status"], "requestMethod": "GET", "requestUrl": "/"}
    return entry
