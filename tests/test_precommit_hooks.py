""".pre-commit-hooks.yaml: every hook is well-formed and its entry, run as pre-commit runs it (entry, args,
then the changed files), passes a good rule file and fails a broken one."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import regex as re
import yaml

ROOT = Path(__file__).resolve().parents[1]
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
GOOD = """\
rules:
  - id: team-quota-exhausted
    title: Team quota exhausted
    severity: high
    category: resources
    match:
      any:
        - regex: 'TeamQuotaError: quota (?P<quota>\\w+) exhausted'
    problem: "{service} ran out of its {quota} quota."
    root_cause: "The {quota} quota of the team project is used up."
    fix: "Raise the {quota} quota or slow down the callers."
    examples:
      match:
        - "TeamQuotaError: quota writes exhausted"
      no_match:
        - "INFO: quota writes at 50%"
"""
BROKEN = {
    # the no_match example matches: the example fails
    "triage-rules-test": GOOD.replace('"INFO: quota writes at 50%"', '"TeamQuotaError: quota reads exhausted"'),
    # no no_match example at all: lint wants examples both ways
    "triage-rules-lint": GOOD.replace('      no_match:\n        - "INFO: quota writes at 50%"\n', ""),
}


def run_hook(hook: dict, files: list[str], cwd: Path) -> subprocess.CompletedProcess:
    argv = shlex.split(hook["entry"]) + list(hook.get("args", [])) + files
    assert argv[0] == "triage"  # the console script pre-commit installs from this repository
    return subprocess.run(
        [sys.executable, "-m", "triage", *argv[1:]],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def test_hooks_are_well_formed():
    assert {h["id"] for h in HOOKS} == {"triage-rules-lint", "triage-rules-test"}
    for hook in HOOKS:
        assert {"id", "name", "entry", "language"} <= set(hook) and hook["language"] == "python"
        files = re.compile(hook["files"])
        assert files.search("rules/team.yaml") and files.search("catalog/rules/db.yml")
        assert not files.search("docs/ci.md") and not files.search("service.yaml")
    entries = {h["id"]: shlex.split(h["entry"]) for h in HOOKS}
    assert entries["triage-rules-lint"] == ["triage", "rules", "lint"]
    assert entries["triage-rules-test"] == ["triage", "rules", "test"]


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h["id"])
def test_hook_entry_passes_a_good_rule_file_and_fails_a_broken_one(tmp_path, hook):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules/team.yaml").write_text(GOOD)
    r = run_hook(hook, ["rules/team.yaml"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 rule(s) checked, 0 finding(s)" in r.stdout or "2 passed, 0 failed" in r.stdout
    assert BROKEN[hook["id"]] != GOOD
    (tmp_path / "rules/team.yaml").write_text(BROKEN[hook["id"]])
    r = run_hook(hook, ["rules/team.yaml"], tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "team-quota-exhausted" in r.stdout and "no_match" in r.stdout


@pytest.mark.parametrize("hook", HOOKS, ids=lambda h: h["id"])
def test_hook_with_the_documented_whole_catalog_args(tmp_path, hook):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules/team.yaml").write_text(GOOD)
    (tmp_path / "rules/other.yaml").write_text(GOOD.replace("team-quota-exhausted", "team-quota-symptom"))
    r = run_hook({**hook, "args": ["--rules", "rules/"]}, ["rules/team.yaml"], tmp_path)
    assert r.returncode in (0, 1), r.stderr  # loads (no duplicate-id error from the file given twice)
    assert "error" not in r.stderr
