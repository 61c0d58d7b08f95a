"""JSON Schemas in schemas/: the rule-file schema is the one generated from the rule model (and every
built-in rule file passes it), the report schema holds for every sample's report, analyze and CI JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from triage.analysis import statuses
from triage.engine import rule_schema as gen
from triage.engine import rules as model
from triage.engine.catalog import load_catalog
from triage.errors import RuleError
from triage.resources import builtin_rules_dir, schemas_dir

ROOT = Path(__file__).resolve().parents[1]
RULE_SCHEMA_FILE = ROOT / "schemas" / gen.FILE_NAME
REPORT_SCHEMA = json.loads((ROOT / "schemas/triage-report.v1.schema.json").read_text())
SAMPLES = [ROOT / "samples/staging-2025-09-05.jsonl", *sorted((ROOT / "samples/scenarios").glob("*.jsonl"))]
RULE_FILES = sorted(p for p in (ROOT / "rules").rglob("*.y*ml"))
CMD = [sys.executable, "-m", "triage"]


def triage(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    return subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)


# ------------------------------------------------------------------ rule files


def test_committed_rule_schema_is_the_generated_one():
    r = triage("rules", "schema")
    assert r.returncode == 0, r.stderr
    assert r.stdout == RULE_SCHEMA_FILE.read_text() == gen.render_rule_schema(), (
        "schemas/triage-rules.schema.json is stale: run `triage rules schema --out schemas/triage-rules.schema.json`"
    )
    jsonschema.Draft7Validator.check_schema(json.loads(r.stdout))
    # shipped with the package: the installed data folder (or the checkout's schemas/) holds the same file
    assert (schemas_dir() / gen.FILE_NAME).read_text() == r.stdout
    assert '"schemas" = "triage/_data/schemas"' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_every_builtin_rule_file_passes_the_schema(path):
    validator = jsonschema.Draft7Validator(json.loads(RULE_SCHEMA_FILE.read_text()))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def test_builtin_rules_are_where_the_schema_test_looks():
    assert RULE_FILES and builtin_rules_dir().resolve() == (ROOT / "rules").resolve()


GOOD_RULE = {
    "id": "team-x",
    "title": "X",
    "severity": "high",
    "category": "code",
    "problem": "p",
    "root_cause": "r",
    "fix": "f",
    "match": {"any": [{"regex": "boom", "severity": ">=ERROR", "log": ["stderr"], "http_status": ["5xx", 503]}]},
    "examples": {"match": ["boom", {"text": "boom", "severity": "ERROR"}], "no_match": [{"textPayload": "ok"}]},
}
BAD_RULES = {
    "unknown key": {**GOOD_RULE, "sevrity": "high"},
    "bad severity": {**GOOD_RULE, "severity": "urgent"},
    "bad category": {**GOOD_RULE, "category": "misc"},
    "bad id": {**GOOD_RULE, "id": "Team_X"},
    "no condition": {**GOOD_RULE, "match": {"none": [{"contains": "x"}]}},
    "unknown condition key": {**GOOD_RULE, "match": {"any": [{"regexp": "x"}]}},
    "bad log kind": {**GOOD_RULE, "match": {"any": [{"regex": "x", "log": "syslog"}]}},
    "bad condition severity": {**GOOD_RULE, "match": {"any": [{"regex": "x", "severity": ">=LOUD"}]}},
    "bad http status": {**GOOD_RULE, "match": {"any": [{"regex": "x", "http_status": "fivehundred"}]}},
    "bad fact": {**GOOD_RULE, "match": {"any": [{"facts": {"colour": "red"}}]}},
    "bad example key": {**GOOD_RULE, "examples": {"match": [{"text": "x", "level": "ERROR"}]}},
    "missing fix": {k: v for k, v in GOOD_RULE.items() if k != "fix"},
}


def test_schema_accepts_what_the_parser_accepts():
    validator = jsonschema.Draft7Validator(gen.rule_schema())
    validator.validate({"rules": [GOOD_RULE]})
    model.Rule.from_dict(GOOD_RULE, model.RuleLocation("x.yaml"))


@pytest.mark.parametrize("case", sorted(BAD_RULES))
def test_schema_rejects_what_the_parser_rejects(tmp_path, case):
    assert not jsonschema.Draft7Validator(gen.rule_schema()).is_valid({"rules": [BAD_RULES[case]]})
    path = tmp_path / "team.yaml"
    path.write_text(yaml.safe_dump({"rules": [BAD_RULES[case]]}))
    with pytest.raises(RuleError):
        load_catalog([path])


def test_a_model_key_without_a_schema_type_stops_the_generator(monkeypatch):
    monkeypatch.setattr(model, "RULE_KEYS", (*model.RULE_KEYS, "owner"))
    with pytest.raises(RuntimeError, match="no type for \\['owner'\\]"):
        gen.rule_schema()


def test_readme_points_editors_at_the_schema():
    readme = (ROOT / "rules/README.md").read_text()
    assert "# yaml-language-server: $schema=" in readme
    line = next(x for x in readme.splitlines() if x.startswith("# yaml-language-server: $schema="))
    assert line.endswith(gen.FILE_NAME)


# ------------------------------------------------------------------ report JSON


def test_report_schema_statuses_are_the_ones_statuses_defines():
    defs = REPORT_SCHEMA["definitions"]
    assert defs["status"]["enum"] == [*statuses.LOG_STATUSES, *statuses.ANNOTATION_STATUSES]
    assert defs["log_status"]["enum"] == list(statuses.LOG_STATUSES)
    assert defs["issue"]["properties"]["severity"]["enum"] == list(model.SEVERITIES)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_every_sample_report_and_ci_json_pass_the_report_schema(tmp_path, sample):
    validator = jsonschema.Draft7Validator(REPORT_SCHEMA)
    outputs = {
        "report": triage("report", sample, "--format", "json"),
        "analyze": triage("analyze", sample, "--format", "json"),
        "ci": triage("ci", sample, "--format", "json", cwd=tmp_path),
    }
    for name, r in outputs.items():
        assert r.returncode in (0, 1), f"{name}: {r.stderr}"
        doc = json.loads(r.stdout)
        errors = [f"{name} {list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == []
    assert "ci" in json.loads(outputs["ci"].stdout) and "summary" in json.loads(outputs["report"].stdout)


def test_report_schema_rejects_a_broken_report():
    doc = json.loads(triage("analyze", SAMPLES[0], "--format", "json").stdout)
    validator = jsonschema.Draft7Validator(REPORT_SCHEMA)
    assert validator.is_valid(doc)
    for broken in (
        {**doc, "schema": "triage.report/v2"},
        {**doc, "issues": [{**doc["issues"][0], "status": "OPEN"}]},
        {k: v for k, v in doc.items() if k != "stats"},
    ):
        assert not validator.is_valid(broken)
