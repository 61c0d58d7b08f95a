"""A condition's ``requires``: its matches stand only in a revision where a required rule matched too.

The built-in case: a server banner naming a loopback address (every healthy local boot prints one) is the
cause of a failed startup probe in the same revision, and nothing without one."""

from __future__ import annotations

import textwrap
from pathlib import Path

import orjson
import pytest

from tests.helpers import entry
from triage.analysis.findings import find
from triage.engine import Matcher, load_catalog
from triage.engine.lint import lint
from triage.errors import RuleError
from triage.pipeline import collect
from triage.sources.files import FileSource

BANNER = "INFO:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)"
PROBE = 'Default STARTUP TCP probe failed 1 time consecutively for container "api-1" on port 8080.'


def _found(tmp_path: Path, entries: list[dict]) -> dict[str, set[str]]:
    """rule id -> revisions of its issue, for the lead issues and their symptoms."""
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in entries))
    catalog = load_catalog()
    findings = find(collect([FileSource(str(path))], Matcher(catalog)), catalog.rules)
    out: dict[str, set[str]] = {}
    for issue in findings.issues:
        out.setdefault(issue.rule.id, set()).update(issue.revisions)
        for symptom in issue.symptoms:
            out.setdefault(symptom.rule.id, set())
    return out


def test_loopback_banner_alone_is_no_issue(tmp_path: Path) -> None:
    found = _found(tmp_path, [entry("10:00:00.000000", BANNER, log="stdout")])
    assert "invalid-listen-address" not in found


def test_loopback_banner_beside_a_failed_probe_is_the_cause(tmp_path: Path) -> None:
    found = _found(
        tmp_path,
        [
            entry("10:00:00.000000", BANNER, log="stdout"),
            entry("10:00:09.000000", PROBE, log="system", severity="ERROR"),
        ],
    )
    assert found.get("invalid-listen-address") == {"api-00001-abc"}
    assert "startup-probe-failed" in found  # a symptom under it (startup-probe-failed is its symptom_of)


def test_the_probe_must_fail_in_the_same_revision(tmp_path: Path) -> None:
    found = _found(
        tmp_path,
        [
            entry("10:00:00.000000", BANNER, log="stdout", revision="api-00001-abc"),
            entry("10:05:00.000000", PROBE, log="system", severity="ERROR", revision="api-00002-def"),
        ],
    )
    assert "invalid-listen-address" not in found
    assert found.get("startup-probe-failed") == {"api-00002-def"}


def test_a_malformed_address_needs_no_probe(tmp_path: Path) -> None:
    line = "2025/07/03 14:41:53 Fatal server error: listen tcp: address 8000: missing port in address"
    assert "invalid-listen-address" in _found(tmp_path, [entry("10:00:00.000000", line)])


def _rule_file(tmp_path: Path, condition: str) -> Path:
    body = f"""\
        rules:
          - id: team-banner
            title: t
            severity: low
            category: startup
            match:
              any:
                - {condition}
            problem: p
            root_cause: r
            fix: f
            examples:
              match: ["banner here"]
              no_match: ["other"]
        """
    path = tmp_path / "team.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_requires_alone_is_a_located_error(tmp_path: Path) -> None:
    path = _rule_file(tmp_path, "{requires: [startup-probe-failed]}")
    with pytest.raises(RuleError, match=rf'^{path}:8: rule "team-banner": match.any\[0\].requires: needs a test'):
        load_catalog([tmp_path])


def test_lint_names_an_unknown_required_rule(tmp_path: Path) -> None:
    _rule_file(tmp_path, "{contains: banner, requires: [no-such-rule]}")
    catalog = load_catalog([tmp_path])
    findings = [f for f in lint(catalog, [r for r in catalog.rules if r.id == "team-banner"]) if f.code == "relation"]
    assert [f.message for f in findings] == ["requires unknown rule id 'no-such-rule'"]
    assert findings[0].line == 8


def test_rules_show_says_what_a_condition_requires_and_tests() -> None:
    from typer.testing import CliRunner

    from triage.cli import app

    shown = CliRunner().invoke(app, ["rules", "show", "invalid-listen-address"])
    assert shown.exit_code == 0, shown.output
    assert "only beside startup-probe-failed|container-failed-to-listen in the same revision" in shown.output
    facts = CliRunner().invoke(app, ["rules", "show", "postgres-connection-refused"])
    assert "facts(outcome=refused, component=postgres)" in facts.output
