"""SARIF that GitHub code scanning accepts: the 2.1.0 schema plus GitHub's documented upload constraints.

GitHub's pages "SARIF support for code scanning" and "SARIF results exceed limits" (docs.github.com,
code-security/code-scanning): at most 20 runs per file, 25,000 results and 25,000 rules per run, 1,000
locations per result, 20 tags per rule, 10 MB gzipped; results need ``message.text`` and at least one
location with a ``physicalLocation`` (a relative ``artifactLocation.uri`` and ``region.startLine``);
runs with the same tool and category in one file are rejected, so each run's ``automationDetails.id``
must be unique.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from triage.analysis.statuses import OPEN
from triage.report.sarif import MAX_RUNS, automation_id, resolve_file_location, sarif_log

ROOT = Path(__file__).resolve().parents[1]
STAGING = ROOT / "samples/staging-2025-09-05.jsonl"
SCENARIOS = sorted((ROOT / "samples/scenarios").glob("*.jsonl"))
SARIF_SCHEMA = json.loads((ROOT / "tests/data/sarif-schema-2.1.0.json").read_text())
CMD = [sys.executable, "-m", "triage"]


def github_problems(log: dict) -> list[str]:
    """Why GitHub code scanning would reject (or truncate) this SARIF log; empty when it is accepted."""
    problems: list[str] = []
    if log.get("version") != "2.1.0" or not log.get("$schema"):
        problems.append("version must be 2.1.0 with a $schema")
    runs = log.get("runs") or []
    if not 1 <= len(runs) <= 20:
        problems.append(f"{len(runs)} runs (1..20)")
    if len(gzip.compress(json.dumps(log).encode())) > 10 * 1024 * 1024:
        problems.append("over 10 MB gzipped")
    categories = [(r["tool"]["driver"]["name"], r.get("automationDetails", {}).get("id")) for r in runs]
    if len(set(categories)) != len(categories):
        problems.append("two runs with the same tool and category")
    for n, run in enumerate(runs):
        rules = run["tool"]["driver"].get("rules", [])
        if not run["tool"]["driver"].get("name") or len(rules) > 25_000 or len(run["results"]) > 25_000:
            problems.append(f"runs[{n}]: driver name, rule or result count")
        problems += [
            f"runs[{n}] rule {r['id']}: >20 tags" for r in rules if len(r.get("properties", {}).get("tags", [])) > 20
        ]
        ids = {r["id"] for r in rules}
        for k, res in enumerate(run["results"]):
            where = f"runs[{n}].results[{k}]"
            if not res.get("message", {}).get("text") or res.get("ruleId") not in ids:
                problems.append(f"{where}: message.text and a ruleId of the driver's rules")
            locs = res.get("locations") or []
            if not 1 <= len(locs) <= 1000:
                problems.append(f"{where}: {len(locs)} locations")
            for loc in locs:
                phys = loc.get("physicalLocation") or {}
                uri = phys.get("artifactLocation", {}).get("uri", "")
                if not uri or uri.startswith(("/", "../")) or "\\" in uri or ":" in uri:
                    problems.append(f"{where}: no relative physicalLocation.artifactLocation.uri ({uri!r})")
                if not isinstance(phys.get("region", {}).get("startLine"), int) or phys["region"]["startLine"] < 1:
                    problems.append(f"{where}: no region.startLine")
    return problems


def sarif(tmp_path: Path, *args: object, cwd: Path | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    cwd = cwd or tmp_path
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [*CMD, "ci", *map(str, args), "--sarif", str(tmp_path / "out.sarif"), "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert r.returncode in (0, 1), r.stderr
    return r, json.loads((tmp_path / "out.sarif").read_text())


def results(log: dict) -> list[dict]:
    return [res for run in log["runs"] for res in run["results"]]


def test_the_checker_rejects_what_github_rejects():
    ok = {
        "$schema": "x",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "t", "rules": [{"id": "r"}]}}, "results": []}],
    }
    assert github_problems(ok) == []
    logical_only = {"ruleId": "r", "message": {"text": "m"}, "locations": [{"logicalLocations": [{"name": "svc"}]}]}
    bad = json.loads(json.dumps(ok))
    bad["runs"][0]["results"] = [logical_only]
    assert any("physicalLocation" in p for p in github_problems(bad))
    bad["runs"] = [ok["runs"][0]] * 2  # same tool, same (missing) category
    assert any("same tool and category" in p for p in github_problems(bad))


@pytest.mark.parametrize("sample", [STAGING, *SCENARIOS], ids=lambda p: p.stem)
def test_every_sample_gives_sarif_github_accepts(tmp_path, sample):
    r, log = sarif(tmp_path, sample, "--env", "staging")
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)
    assert github_problems(log) == []
    view = json.loads(r.stdout)
    opened = sorted(i["id"] for i in view["issues"] if i["status"] in OPEN)
    assert sorted(res["properties"]["issueId"] for res in results(log)) == opened  # open issues only
    services = sorted({s["name"] for s in view["services"]})
    assert [run["automationDetails"]["id"] for run in log["runs"]] == [f"triage/staging/{s}/" for s in services]
    for res in results(log):
        assert res["locations"][0]["logicalLocations"][0]["name"] == res["properties"]["issueId"].split(":")[0]


def test_fixed_issues_are_not_results_but_their_service_keeps_a_run(tmp_path):
    r, log = sarif(tmp_path, STAGING)
    view = json.loads(r.stdout)
    fixed = [i for i in view["issues"] if i["status"] == "FIXED"]
    assert fixed and not {i["id"] for i in fixed} & {res["properties"]["issueId"] for res in results(log)}
    # netra-frontend-staging has no open issue: its run is empty, which closes its earlier alerts
    runs = {run["automationDetails"]["id"]: run for run in log["runs"]}
    assert runs["triage/default/netra-frontend-staging/"]["results"] == []


def test_default_file_location_is_the_first_that_exists(tmp_path):
    assert resolve_file_location(None, tmp_path) == "service.yaml"  # nothing there: the conventional name
    (tmp_path / "main.py").write_text("app = 1\n")
    assert resolve_file_location(None, tmp_path) == "main.py"
    (tmp_path / "Dockerfile").write_text("FROM python\n")
    assert resolve_file_location(None, tmp_path) == "Dockerfile"
    (tmp_path / "service.yaml").write_text("kind: Service\n")
    assert resolve_file_location(None, tmp_path) == "service.yaml"
    _, log = sarif(tmp_path, STAGING)
    (tmp_path / "service.yaml").unlink()
    _, log2 = sarif(tmp_path, STAGING)
    uris = {res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for res in results(log2)}
    assert uris == {"Dockerfile"}
    assert {res["locations"][0]["physicalLocation"]["region"]["startLine"] for res in results(log)} == {1}


def test_file_location_option(tmp_path):
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy/run.yaml").write_text("kind: Service\n")
    for option in ("deploy/run.yaml", tmp_path / "deploy/run.yaml"):
        _, log = sarif(tmp_path, STAGING, "--sarif-file-location", option)
        uris = {res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for res in results(log)}
        assert uris == {"deploy/run.yaml"}
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    assert resolve_file_location("deploy/../Dockerfile", tmp_path) == "Dockerfile"
    for bad in ("/etc/passwd", "../outside.yaml", "deploy/../../outside.yaml"):
        r = subprocess.run(
            [*CMD, "ci", str(STAGING), "--sarif", "s.sarif", "--sarif-file-location", bad],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        assert r.returncode == 2 and "--sarif-file-location" in r.stderr and r.stderr.count("\n") == 1
        assert not (tmp_path / "s.sarif").exists()


def test_fingerprints_are_stable_across_runs_and_file_edits(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "service.yaml").write_text("kind: Service\n")
    (b / "service.yaml").write_text("# edited\nkind: Service\n")
    _, first = sarif(a, STAGING)
    _, second = sarif(b, STAGING)
    prints = [{res["properties"]["issueId"]: res["partialFingerprints"] for res in results(x)} for x in (first, second)]
    assert prints[0] == prints[1] and len(prints[0]) == 2
    assert len({json.dumps(p, sort_keys=True) for p in prints[0].values()}) == 2  # distinct per issue


def test_automation_id_per_service_and_environment():
    assert automation_id("staging", "api") == "triage/staging/api/"
    assert automation_id("", "api") == "triage/default/api/"
    assert automation_id("prod eu", "a/b") == "triage/prod_eu/a_b/"  # a slash would change the category split


def _view(services: int) -> dict:
    issues = [
        {
            "id": f"svc{n}:r",
            "rule": "r",
            "service": f"svc{n}",
            "status": "PENDING",
            "severity": "high",
            "problem": "p",
            "count": 1,
            "first_seen": "t0",
            "last_seen": "t1",
            "revisions": [],
        }
        for n in range(services)
    ]
    return {"environment": "", "issues": issues, "services": [], "ci": {"fail_on": "high", "result": "fail"}}


def test_more_services_than_githubs_run_limit_fold_into_one_run():
    rule = {"id": "r", "title": "R", "root_cause": "c", "fix": "f", "severity": "high", "category": "x"}
    log = sarif_log(_view(MAX_RUNS), [rule])
    assert len(log["runs"]) == MAX_RUNS and github_problems(log) == []
    log = sarif_log(_view(MAX_RUNS + 1), [rule])
    assert len(log["runs"]) == 1 and len(log["runs"][0]["results"]) == MAX_RUNS + 1
    assert log["runs"][0]["automationDetails"]["id"] == "triage/default/all-services/"
    assert github_problems(log) == []
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)


def test_rules_have_markdown_help_and_results_link_the_logs_explorer(tmp_path):
    _, log = sarif(tmp_path, STAGING)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert all("**Root cause.**" in r["help"]["markdown"] and "**Fix.**" in r["help"]["markdown"] for r in rules)
    refs = [r for r in rules if r.get("helpUri")]
    assert refs and all(f"- <{r['helpUri']}>" in r["help"]["markdown"] for r in refs)
    for res in results(log):
        url = res["hostedViewerUri"]
        assert url.startswith("https://console.cloud.google.com/logs/query;query=")
        assert url in res["message"]["text"] and f"[Open in Logs Explorer]({url})" in res["message"]["markdown"]
