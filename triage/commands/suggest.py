"""`triage rules suggest SOURCE...`: draft YAML rules for the largest
clusters of unclassified error events, with the events as examples.

Every draft is checked before it is written: it must parse as a rule, match each of its ``match``
examples through the Matcher (prefilter included, as ``triage rules test`` does) and miss its
``no_match`` examples. Examples that fail are dropped; a draft left without one is not written. Examples
are redacted like every other output, before the check, so what is written is what was tested.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import regex as re
import yaml

from triage.analysis.clusters import Cluster, template_regex
from triage.commands.common import RunOptions, check_outputs, run_analysis
from triage.commands.report import write_output
from triage.engine.catalog import Catalog
from triage.engine.matcher import Matcher
from triage.engine.rules import Example, Rule, RuleLocation, example_entry
from triage.errors import RuleError
from triage.events import make_event
from triage.records import from_entry
from triage.report.redact import Redactor

EXAMPLE_CHARS = 2000
NO_MATCH_CANDIDATES = (
    "INFO: request completed in 12 ms",
    'Default STARTUP TCP probe succeeded after 1 attempt for container "app" on port 8080.',
    "GET /healthz 200",
)
_SLUG = re.compile(r"[^a-z0-9]+")


def _slug(template: str) -> str:
    words = [w for w in _SLUG.split(re.sub(r"<[^>]*>", " ", template.lower())) if w and not w.isdigit()]
    return "-".join(words[:5]) or "error"


def _plain(text: str) -> str:
    """Text for a rule field: one line, no ``{placeholder}`` braces (the rule would try to fill them)."""
    return " ".join(text.replace("{", "(").replace("}", ")").split())


def core(template: str) -> str:
    """The template without a leading timestamp/pid prefix (tokens with no letters once masks are gone):
    the rule searches anywhere in the text, and the prefix only makes the pattern longer and slower."""
    tokens = template.split()
    while len(tokens) > 1 and not re.search(r"[A-Za-z]", re.sub(r"<[^>]*>", "", tokens[0])):
        tokens.pop(0)
    return " ".join(tokens)


def _example_text(message: str, line: str) -> str:
    return message if len(message) <= EXAMPLE_CHARS else line


def draft(cluster: Cluster, rule_id: str) -> dict[str, Any]:
    short = _plain(core(cluster.template))
    short = short if len(short) <= 70 else short[:67] + "..."
    examples = list(
        dict.fromkeys(_example_text(m, ln) for m, ln in zip(cluster.messages, cluster.examples, strict=True))
    )
    return {
        "id": rule_id,
        "title": f"Draft: {short}",
        "severity": "medium",
        "category": "code",
        "component": "application",
        "match": {"any": [{"regex": template_regex(core(cluster.template))}]},
        "problem": f'{{service}} logs "{short}" ({cluster.count} times in the analysed window).',
        "root_cause": "Not known yet: drafted by triage from an unclassified error cluster. Describe the cause.",
        "fix": "Describe the fix, then remove the 'draft' tag.",
        "tags": ["draft"],
        "examples": {"match": examples, "no_match": list(NO_MATCH_CANDIDATES)},
    }


def _matches(matcher: Matcher, rule_id: str, text: str) -> bool:
    event = make_event((from_entry(example_entry({"text": text})),))
    return any(m.rule.id == rule_id for m in matcher.match(event))


def checked(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The draft with only the examples that behave; None if it is not a valid rule or matches nothing."""
    try:
        rule = Rule.from_dict(doc, RuleLocation("<suggested>"))
    except RuleError:
        return None
    matcher = Matcher(Catalog((rule,)))
    good = [t for t in doc["examples"]["match"] if _matches(matcher, rule.id, t)]
    bad = [t for t in doc["examples"]["no_match"] if not _matches(matcher, rule.id, t)][:1]
    if not good or not bad:
        return None
    return {**doc, "examples": {"match": good, "no_match": bad}}


def suggestions(clusters: list[Cluster], *, top: int, min_count: int, redactor: Redactor) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    used: set[str] = set()
    for cluster in clusters:
        if len(out) >= top:
            break
        if cluster.count < min_count:
            continue
        base = f"suggested-{_slug(core(cluster.template))}"
        rule_id, n = base, 2
        while rule_id in used:
            rule_id, n = f"{base}-{n}", n + 1
        doc = checked(redactor.model(draft(cluster, rule_id)))
        if doc is not None:
            used.add(rule_id)
            out.append(doc)
    return out


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(rules: list[dict[str, Any]], header: str) -> str:
    body = yaml.dump({"rules": rules}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)
    return header + body


def suggest(opts: RunOptions, *, top: int = 5, min_count: int = 2, out: Path | None = None) -> int:
    check_outputs(opts, {"--out": out})
    analysis = run_analysis(opts)
    assert analysis.findings is not None and analysis.options is not None
    stats = analysis.collected.stats
    rules = suggestions(
        analysis.findings.clusters,
        top=top,
        min_count=min_count,
        redactor=analysis.redactor or Redactor(analysis.options.redact_patterns),
    )
    header = (
        "# Draft rules suggested by triage for the largest unclassified error clusters.\n"
        f"# The catalog explained {analysis.findings.coverage:.0%} of {stats.error_events} error events; "
        f"{len(rules)} draft(s) below. Review each: rename the id, set severity, category and the texts.\n"
    )
    write_output(to_yaml(rules, header) if rules else header + "rules: []\n", out)
    return 0


__all__ = ["Example", "suggest", "suggestions", "to_yaml"]
