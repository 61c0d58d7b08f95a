"""Loader strictness, team catalogs, and the `triage rules` commands."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from triage.cli import app
from triage.engine import Matcher, load_catalog
from triage.engine.catalog import load_file
from triage.engine.lint import lint, nested_quantifier
from triage.engine.literals import regex_literals
from triage.engine.rules import Rule
from triage.errors import RuleError, RuleErrors

runner = CliRunner()

GOOD = """\
  - id: {id}
    title: Team rule
    severity: low
    category: code
    match:
      any:
        - regex: '{regex}'
    problem: "{problem}"
    root_cause: "x"
    fix: "y"
    examples:
      match: ["{match}"]
      no_match: ["nothing to see"]
"""


def write(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


# One rule per error kind; each line number below is the line of the offending key.
BROKEN = """\
rules:
  - id: postgres-connection-refused
    title: Bad regex
    severity: high
    category: dependency
    match:
      any:
        - regex: 'fine'
        - regex: 'Connection refused)'
    problem: p
    root_cause: r
    fix: f
  - id: unknown-key
    title: Unknown condition key
    severity: high
    category: dependency
    match:
      any:
        - regx: 'typo'
    problem: p
    root_cause: r
    fix: f
  - id: wrong-type
    title: Wrong type
    severity: 3
    category: dependency
    match:
      any:
        - regex: 'x'
    problem: p
    root_cause: r
    fix: f
  - id: duplicate-key
    title: Duplicate key
    severity: high
    category: dependency
    match:
      any:
        - regex: 'one'
          regex: 'two'
    problem: p
    root_cause: r
    fix: f
  - id: bad-example
    title: Bad example
    severity: high
    category: dependency
    match:
      any:
        - regex: 'abc'
    problem: p
    root_cause: r
    fix: f
    examples:
      match:
        - {text: abc, sevrity: ERROR}
"""


def expected_errors(path: Path) -> list[str]:
    p = str(path)
    return [
        f'{p}:9: rule "postgres-connection-refused": match.any[1].regex: unbalanced parenthesis at position 18',
        f'{p}:19: rule "unknown-key": match.any[0].regx: unknown key (expected one of: regex, contains, startswith, '
        "ignore_case, severity, log, service, http_status, exception, frame, facts, requires)",
        f'{p}:25: rule "wrong-type": severity: must be a string, not int',
        f'{p}:40: rule "duplicate-key": match.any[0].regex: duplicate key (first at line 39)',
        f'{p}:56: rule "bad-example": examples.match[0].sevrity: unknown key (expected one of: text, log, severity, '
        "http_status, service)",
    ]


def test_broken_file_first_error_is_located(tmp_path):
    path = write(tmp_path, "db.yaml", BROKEN)
    with pytest.raises(RuleError) as info:
        load_catalog([tmp_path])
    assert str(info.value) == expected_errors(path)[0]


def test_collect_lists_every_error(tmp_path):
    path = write(tmp_path, "db.yaml", BROKEN)
    with pytest.raises(RuleErrors) as info:
        load_catalog([tmp_path], collect=True)
    assert [str(e) for e in info.value.errors] == expected_errors(path)


def test_collect_on_the_command_line(tmp_path):
    path = write(tmp_path, "db.yaml", BROKEN)
    result = runner.invoke(app, ["rules", "test", "--rules", str(tmp_path), "--collect"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines == [f"triage: error: {e}" for e in expected_errors(path)] + ["triage: 5 rule error(s)"]
    # Without --collect only the first error is shown.
    result = runner.invoke(app, ["rules", "lint", "--rules", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"triage: error: {expected_errors(path)[0]}"]


def test_duplicate_top_level_key_and_invalid_yaml(tmp_path):
    path = write(tmp_path, "a.yaml", "rules: []\nrules: []\n")
    with pytest.raises(RuleError, match=r"a\.yaml:2: rules: duplicate key \(first at line 1\)$"):
        load_file(path)
    path = write(tmp_path, "b.yaml", "rules:\n  - id: x\n   title: y\n")
    with pytest.raises(RuleError, match=r"b\.yaml:3: invalid YAML"):
        load_file(path)


def test_duplicate_ids_across_files(tmp_path):
    write(tmp_path, "a.yaml", "rules:\n" + GOOD.format(id="team-one", regex="alpha", problem="p", match="alpha"))
    b = write(tmp_path, "b.yaml", "rules:\n" + GOOD.format(id="team-one", regex="beta", problem="p", match="beta"))
    with pytest.raises(RuleError) as info:
        load_catalog([tmp_path])
    assert str(info.value) == f'{b}:2: rule "team-one": id: duplicate id (first defined at {tmp_path / "a.yaml"}:2)'


def test_duplicate_ids_across_team_catalogs(tmp_path):
    write(tmp_path / "a", "r.yaml", "rules:\n" + GOOD.format(id="team-one", regex="alpha", problem="p", match="alpha"))
    b = write(
        tmp_path / "b", "r.yaml", "rules:\n" + GOOD.format(id="team-one", regex="beta", problem="p", match="beta")
    )
    with pytest.raises(RuleError, match=f'^{b}:2: rule "team-one": id: duplicate id'):
        load_catalog([tmp_path / "a", tmp_path / "b"])


def test_team_rule_replaces_builtin(tmp_path):
    team = write(
        tmp_path,
        "db.yaml",
        "rules:\n" + GOOD.format(id="postgres-connection-refused", regex="pg down", problem="p", match="pg down"),
    )
    catalog = load_catalog([tmp_path])
    rule = catalog.get("postgres-connection-refused")
    assert rule is not None and rule.source.path == str(team)
    assert [(r.rule_id, r.by) for r in catalog.replaced] == [("postgres-connection-refused", f"{team}:2")]
    assert len(catalog.rules) == len(load_catalog().rules)
    listing = runner.invoke(app, ["rules", "list", "--rules", str(tmp_path)])
    assert f"postgres-connection-refused: {team}:2 replaces the built-in rule (rules/database.yaml:2)" in listing.stdout


def test_disable(tmp_path):
    catalog = load_catalog(disable=["redis-connection-failed"])
    assert catalog.get("redis-connection-failed") is None
    assert catalog.disabled == ("redis-connection-failed",)
    with pytest.raises(RuleError, match="cannot disable unknown rule id"):
        load_catalog(disable=["no-such-rule"])
    result = runner.invoke(app, ["rules", "list", "--format", "json", "--disable", "redis-connection-failed"])
    ids = [r["id"] for r in json.loads(result.stdout)]
    assert "redis-connection-failed" not in ids and "postgres-connection-refused" in ids


def test_builtin_catalog_has_the_issue_ids():
    ids = {r.id for r in load_catalog().rules}
    required = [
        "postgres-connection-refused",
        "postgres-connection-timeout",
        "cloudsql-socket-unavailable",
        "redis-connection-failed",
        "secret-key-invalid",
        "missing-config-env",
        "import-time-initialization",
        "app-startup-failed",
        "container-exit-nonzero",
        "startup-probe-failed",
        "container-failed-to-listen",
        "memory-limit-exceeded",
        "no-available-instance",
        "instance-start-failed",
        "request-timeout",
        "secret-access-denied",
        "dns-resolution-failed",
        "connection-timeout",
        "service-connection-refused",
        "tls-verification-failed",
        "module-not-found",
        "syntax-error-at-import",
        "port-in-use",
    ]
    assert set(required) <= ids


def test_symptom_rules_point_at_causes():
    catalog = load_catalog()
    for symptom in ("container-exit-nonzero", "startup-probe-failed", "container-failed-to-listen",
                    "app-startup-failed", "instance-start-failed", "no-available-instance"):  # fmt: skip
        rule = catalog.get(symptom)
        assert {"import-time-initialization", "missing-config-env", "postgres-connection-refused"} <= set(
            rule.symptom_of
        ), symptom


def test_rules_test_builtin_passes():
    result = runner.invoke(app, ["rules", "test"])
    assert result.exit_code == 0, result.stdout
    last = result.stdout.splitlines()[-1]
    total = sum(len(r.examples_match) + len(r.examples_no_match) for r in load_catalog().rules)
    assert last == f"{total} passed, 0 failed"


def test_rules_test_reports_failures(tmp_path):
    body = """\
        rules:
          - id: team-refused
            title: Team rule
            severity: low
            category: code
            match:
              any:
                - regex: 'widget refused'
            problem: p
            root_cause: r
            fix: f
            examples:
              match:
                - gadget refused
                - "ConnectionRefusedError: [Errno 111] Connect call failed ('10.0.0.3', 5432)"
              no_match:
                - nothing to see
                - {text: widget refused, log: stdout}
        """
    path = write(tmp_path, "team.yaml", body)
    result = runner.invoke(app, ["rules", "test", str(path)])
    assert result.exit_code == 1
    out = result.stdout.splitlines()
    assert out[-1] == "1 passed, 3 failed"
    assert f"FAIL team-refused: examples.match[0] at {path}:14: did not match; no rule matched it" in out
    assert (
        f"FAIL team-refused: examples.match[1] at {path}:15: did not match; "
        "matched instead: postgres-connection-refused"
    ) in out
    assert f"FAIL team-refused: examples.no_match[1] at {path}:18: matched but should not" in out


def test_lint_builtin_is_clean():
    result = runner.invoke(app, ["rules", "lint"])
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines()[-1] == f"{len(load_catalog().rules)} rule(s) checked, 0 finding(s)"


LINTY = """\
rules:
  - id: team-sloppy
    title: Sloppy
    severity: low
    category: code
    match:
      any:
        - regex: '(\\w+\\s?)+$'
        - regex: 'x*'
    problem: "{service} talks to {host}"
    root_cause: r
    fix: f
    examples:
      match:
        - "ConnectionRefusedError: [Errno 111] Connect call failed ('10.0.0.3', 5432)"
  - id: team-hostile
    title: Hostile
    severity: low
    category: code
    match:
      any:
        - regex: '(\\w|\\w\\w)+$'
    problem: p
    root_cause: r
    fix: f
    relations:
      symptom_of: [no-such-rule]
    examples:
      match: ["abc"]
      no_match: ["abc!"]
"""


def test_lint_findings(tmp_path):
    path = write(tmp_path, "team.yaml", LINTY)
    result = runner.invoke(app, ["rules", "lint", str(path)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    p = str(path)
    expected = [
        f"{p}:15: rule \"team-sloppy\": overlap: examples.match[0] is also matched by 'postgres-connection-refused' "
        "without a declared relation (relations.symptom_of or relations.overlaps)",
        f'{p}:2: rule "team-sloppy": examples: no no_match examples (every rule needs examples both ways)',
        f'{p}:2: rule "team-sloppy": no-prefilter: no literal of 3+ characters is required, so the rule runs on '
        "every event (add keywords)",
        f'{p}:2: rule "team-sloppy": placeholder: {{host}} is not captured by any pattern of the rule (builtins: '
        'app_frame, count, exception, revision, service); it renders as "unknown host"',
        f'{p}:8: rule "team-sloppy": nested-quantifier: match.any[0].regex nests unbounded quantifiers '
        "(catastrophic backtracking)",
        f'{p}:9: rule "team-sloppy": empty-match: match.any[1].regex matches the empty string, so it holds for every '
        "event",
        f'{p}:16: rule "team-hostile": no-prefilter: no literal of 3+ characters is required, so the rule runs on '
        "every event (add keywords)",
        f"{p}:16: rule \"team-hostile\": relation: relates to unknown rule id 'no-such-rule'",
    ]
    for line in expected:
        assert line in lines
    slow = [x for x in lines if ": slow-pattern: " in x]
    assert any(x.startswith(f'{p}:8: rule "team-sloppy": slow-pattern: match.any[0].regex') for x in slow)
    assert any(x.startswith(f'{p}:22: rule "team-hostile": slow-pattern: match.any[0].regex hits') for x in slow)
    assert lines[-1] == f"2 rule(s) checked, {len(lines) - 1} finding(s)"


def test_nested_quantifier_detection():
    assert nested_quantifier(r"(\w+\s?)+$")
    assert nested_quantifier(r"^(\d+)*$")
    assert not nested_quantifier(r"(?:, \d+, \d+)?\)")
    assert not nested_quantifier(r"File \"[^\"]+\", line \d+\n(?:[^\n]*\n){0,4}?SyntaxError")


def test_placeholder_without_capture_renders_unknown(tmp_path):
    write(tmp_path, "t.yaml", LINTY)
    rule = load_catalog([tmp_path]).get("team-sloppy")
    assert isinstance(rule, Rule)
    assert rule.unknown_placeholders == frozenset({"host"})
    assert rule.render(rule.problem, {"service": "api"}) == "api talks to unknown host"


def test_lint_sees_the_whole_catalog_when_given_paths(tmp_path):
    # Linting only the team file still compares its examples with the built-in rules (overlap above),
    # and judges only the team rules.
    path = write(tmp_path, "team.yaml", LINTY)
    findings = lint(load_catalog([tmp_path]), [r for r in load_catalog([tmp_path]).rules if r.source.path == str(path)])
    assert {f.rule for f in findings} == {"team-sloppy", "team-hostile"}


def test_show_unknown_rule_suggests():
    result = runner.invoke(app, ["rules", "show", "postgres-conection-refused"])
    assert result.exit_code == 2
    assert "did you mean: postgres-connection-refused" in result.stderr
    result = runner.invoke(app, ["rules", "show", "import-time-initialization"])
    assert result.exit_code == 0
    assert "all[0]: frame(function='<module>', app=True)" in result.stdout
    assert "prefilter: 'Traceback (most recent call last)'" in result.stdout


def test_matcher_uses_every_rule_literal():
    # Every built-in rule is prefiltered: a benign line reaches no rule's conditions.
    matcher = Matcher(load_catalog())
    assert matcher.unfiltered == ()
    assert matcher.candidates("INFO:     Application startup complete.") == set()


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # A short required literal loses to a required group whose every branch has a longer one.
        (
            r"(?s)\b403\b.{0,300}?(?P<reason>The caller does not have permission|PERMISSION_DENIED)",
            ("The caller does not have permission", "PERMISSION_DENIED"),
        ),
        # A long required literal wins over a group with a short branch.
        (r"connection refused (?:on|at) port", ("connection refused ",)),
        (r"(?:MongoNetworkError|ServerSelectionTimeoutError)", ("MongoNetworkError", "ServerSelectionTimeoutError")),
        (r"\d+\s\w+", ()),
    ],
)
def test_regex_literals_prefer_the_more_selective_set(pattern, expected):
    assert regex_literals(pattern) == expected


def test_request_lines_of_a_status_do_not_reach_the_403_rule():
    # "403" is in every forbidden request's log line; the rule needs its words, so such lines stay light.
    matcher = Matcher(load_catalog())
    assert "iam-permission-denied" not in {
        matcher.catalog.rules[i].id for i in matcher.candidates("GET 403 https://api-abc-uc.a.run.app/admin?id=403")
    }
