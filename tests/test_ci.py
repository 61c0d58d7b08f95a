"""`triage ci`: exit policy, since-deploy, baseline, and every output (summary, annotations, JUnit, SARIF, JSON)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import junitparser
import pytest

from tests.fake_logging import sample_entries
from tests.helpers import deploy, entry
from triage.commands.ci import CiOptions, ci
from triage.commands.common import RunOptions
from triage.report import github
from triage.report.links import BASE
from triage.sources import MemorySource

ROOT = Path(__file__).resolve().parents[1]
FAILED = ROOT / "samples/scenarios/deploy-failed.jsonl"
OK = ROOT / "samples/scenarios/deploy-ok.jsonl"
STAGING = ROOT / "samples/staging-2025-09-05.jsonl"
# SARIF 2.1.0 schema, vendored (see tests/data/SOURCES.md: npm @microsoft/jest-sarif, lib/schemas/sarif-2.1.0-rtm.5.json)
SARIF_SCHEMA = json.loads((ROOT / "tests/data/sarif-schema-2.1.0.json").read_text())
CMD = [sys.executable, "-m", "triage"]


def cli(args, tmp_path, *, github_env=True, **kw):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    if github_env:
        env.update(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"))
    return subprocess.run([*CMD, "ci", *map(str, args)], capture_output=True, text=True, env=env, cwd=tmp_path, **kw)


def annotations(stdout: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"error": [], "warning": [], "notice": []}
    for line in stdout.splitlines():
        for kind in out:
            if line.startswith(f"::{kind} "):
                out[kind].append(line)
    return out


def run_memory(entries, capsys, tmp_path, **ci_kw):
    """Run ci() in process on in-memory entries; returns (exit code, stdout, summary text)."""
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    code = ci(RunOptions(), CiOptions(**ci_kw), sources=[MemorySource(entries)], env=env)
    return code, capsys.readouterr().out, summary.read_text() if summary.exists() else ""


# ------------------------------------------------------------------ acceptance on the samples


def test_failed_deploy_fails_with_every_output(tmp_path):
    r = cli([FAILED, "--fail-on", "high", "--junit", "junit.xml", "--sarif", "out.sarif"], tmp_path)
    assert r.returncode == 1, r.stderr
    assert r.stdout.startswith("triage ci: FAIL (fail-on high): 1 failing")

    summary = (tmp_path / "summary.md").read_bytes()
    assert 0 < len(summary) < 1024 * 1024
    assert summary.startswith("## ❌ triage: deploy check failed".encode())
    assert b"inventory-api" in summary and b"missing-config-env" in summary

    notes = annotations(r.stdout)
    assert 1 <= len(notes["error"]) <= 10 and len(notes["warning"]) <= 10
    assert any("Required configuration missing" in line for line in notes["error"])
    assert all("\n" not in line for line in notes["error"])

    suites = junitparser.JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    cases = [(suite.name, case.name, case) for suite in suites for case in suite]
    failed = {(s, n) for s, n, c in cases if any(isinstance(x, junitparser.Failure) for x in c.result)}
    assert ("inventory-api", "missing-config-env") in failed
    assert ("inventory-api", "startup-probe-failed") not in failed  # a symptom is not a second failure
    assert ("inventory-api", "postgres-connection-refused") not in failed
    assert len(cases) == len({(s, n) for s, n, _ in cases})  # one case per rule and service

    sarif = json.loads((tmp_path / "out.sarif").read_text())
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(sarif)
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "postgres-connection-refused" in rule_ids  # the whole catalog, not only what was found
    results = {r["ruleId"]: r for r in run["results"]}
    assert set(results) == {"missing-config-env"} and results["missing-config-env"]["level"] == "error"
    assert results["missing-config-env"]["baselineState"] == "new"
    assert results["missing-config-env"]["hostedViewerUri"].startswith(BASE)
    assert all(run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"] for r in run["results"])


def test_healthy_deploy_passes(tmp_path):
    r = cli([OK, "--fail-on", "any", "--junit", "j.xml", "--sarif", "s.sarif"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("triage ci: PASS")
    assert annotations(r.stdout) == {"error": [], "warning": [], "notice": []}
    assert "deploy check passed" in (tmp_path / "summary.md").read_text()
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert root.tag == "testsuites" and root.get("failures") == "0" and int(root.get("tests")) > 0
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads((tmp_path / "s.sarif").read_text()))


def test_baseline_with_every_issue_passes(tmp_path):
    prev = subprocess.run([*CMD, "report", FAILED, "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    (tmp_path / "prev.json").write_text(prev.stdout)
    r = cli(
        [
            FAILED,
            "--baseline",
            "prev.json",
            "--fail-on",
            "any",
            "--format",
            "json",
            "--out",
            "ci.json",
            "--junit",
            "j.xml",
        ],
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    view = json.loads((tmp_path / "ci.json").read_text())
    assert view["ci"]["result"] == "pass" and view["ci"]["counts"]["known"] == 1
    assert all(i["known"] and not i["failing"] for i in view["issues"])
    assert len(annotations(r.stdout)["notice"]) == 1 and not annotations(r.stdout)["error"]
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert root.get("failures") == "0" and root.get("skipped") == "1"  # the issue; its three symptoms are not cases


def test_baseline_with_some_issues_fails_on_the_new_ones(tmp_path):
    (tmp_path / "prev.json").write_text(json.dumps(["netra-backend-staging:postgres-connection-refused"]))
    r = cli([STAGING, "--baseline", "prev.json", "--format", "json"], tmp_path)
    assert r.returncode == 1
    view = json.loads(r.stdout)  # auto mode: no annotations mixed into JSON on stdout
    assert view["ci"]["failing"] == ["netra-auth-service:secret-key-invalid"]
    assert [i["id"] for i in view["issues"] if i["known"]] == ["netra-backend-staging:postgres-connection-refused"]


@pytest.mark.parametrize(("fail_on", "code"), [("critical", 0), ("high", 1), ("medium", 1), ("any", 1), ("none", 0)])
def test_fail_on_thresholds(tmp_path, fail_on, code):
    r = cli([FAILED, "--fail-on", fail_on, "--github-annotations", "never"], tmp_path, github_env=False)
    assert r.returncode == code, r.stdout + r.stderr
    assert "::" not in r.stdout


def test_usage_and_input_errors_exit_2(tmp_path):
    assert cli([FAILED, "--fail-on", "severe"], tmp_path).returncode == 2
    (tmp_path / "bad.json").write_text("{not json")
    r = cli([FAILED, "--baseline", "bad.json"], tmp_path)
    assert r.returncode == 2 and "--baseline" in r.stderr and "Traceback" not in r.stderr
    assert cli([tmp_path / "missing.jsonl"], tmp_path).returncode == 2


def test_partial_logs_exit_3_unless_an_issue_fails(tmp_path):
    for sample, expected in ((OK, 3), (FAILED, 1)):
        data = gzip.compress(sample.read_bytes())
        cut = tmp_path / f"{sample.stem}.jsonl.gz"
        cut.write_bytes(data[: len(data) * 3 // 4])  # a truncated download
        r = cli([cut], tmp_path)
        assert r.returncode == expected, r.stdout + r.stderr
        assert "PARTIAL" in (tmp_path / "summary.md").read_text()


def test_outputs_are_deterministic(tmp_path):
    outs = []
    for n in range(2):
        d = tmp_path / str(n)
        d.mkdir()
        r = cli([STAGING, "--junit", "j.xml", "--sarif", "s.sarif"], d)
        assert r.returncode == 1
        outs.append([r.stdout, *((d / f).read_bytes() for f in ("j.xml", "s.sarif", "summary.md"))])
    assert outs[0] == outs[1]


# ------------------------------------------------------------------ since-deploy


def _since_deploy_logs():
    return [
        # api: revision 1 failed on a missing variable, then a deploy of revision 2 that fails on Redis
        entry("10:00:00", "KeyError: 'DATABASE_URL'", revision="api-00001-abc"),
        deploy("10:05:00", "api", "api-00002-def"),
        entry(
            "10:06:00",
            "redis.exceptions.ConnectionError: Error 111 connecting to localhost:6379. Connection refused.",
            revision="api-00002-def",
        ),
        # worker: no deploy in the window, its issue stays
        entry("10:07:00", "KeyError: 'QUEUE_URL'", service="worker", revision="worker-00003-xyz"),
    ]


def test_since_deploy_keeps_only_what_the_deploy_introduced(tmp_path, capsys):
    code, out, summary = run_memory(
        _since_deploy_logs(), capsys, tmp_path, since_deploy=True, fmt="json", annotations="never"
    )
    view = json.loads(out)
    assert sorted(i["id"] for i in view["issues"]) == ["api:redis-connection-failed", "worker:missing-config-env"]
    assert view["ci"]["since_deploy"] == {"api": "2025-09-05T10:05:00.000000Z"}
    assert view["ci"]["no_deploy"] == ["worker"] and view["ci"]["counts"]["dropped_before_deploy"] == 1
    assert code == 1 and "since 2025-09-05T10:05:00" in summary
    code, out, _ = run_memory(_since_deploy_logs(), capsys, tmp_path, fmt="json", annotations="never")
    assert "api:missing-config-env" in {i["id"] for i in json.loads(out)["issues"]}  # without the flag it counts


# ------------------------------------------------------------------ links, redaction


def test_every_issue_has_a_logs_explorer_link_in_every_output(tmp_path):
    r = cli([STAGING, "--format", "json", "--out", "ci.json", "--junit", "j.xml", "--sarif", "s.sarif"], tmp_path)
    view = json.loads((tmp_path / "ci.json").read_text())
    junit = (tmp_path / "j.xml").read_text()
    sarif = [res for run in json.loads((tmp_path / "s.sarif").read_text())["runs"] for res in run["results"]]
    summary = (tmp_path / "summary.md").read_text()
    assert view["gcp_project"] == "netra-staging"
    for issue in view["issues"]:
        link = issue["logs_url"]
        assert link.startswith(BASE + ";query=") and link.endswith("?project=netra-staging")
        query = unquote(link.split(";query=")[1].split(";timeRange=")[0])
        assert f'resource.labels.service_name="{issue["service"]}"' in query.splitlines()
        assert ";timeRange=" in link and "%2F" in link.split(";timeRange=")[1]
        assert link in summary
        if issue["status"] != "FIXED":
            assert link.replace("&", "&amp;") in junit
            assert github.escape_data(link) in r.stdout  # the annotation carries it too
    # SARIF results are the open issues only (a fixed issue is not a code scanning alert)
    opened = {i["logs_url"] for i in view["issues"] if i["status"] != "FIXED"}
    assert {res["hostedViewerUri"] for res in sarif} == opened and len(opened) < len(view["issues"])


def test_links_take_project_from_the_option_and_term_from_the_evidence(tmp_path, capsys):
    logs = [entry("10:00:00", "KeyError: 'DATABASE_URL'")]
    del logs[0]["resource"]["labels"]["project_id"]  # only the logName names it then
    _, out, _ = run_memory(logs, capsys, tmp_path, fmt="json", annotations="never")
    link = json.loads(out)["issues"][0]["logs_url"]
    assert link.endswith("?project=netra-staging")
    assert unquote(link.split(";query=")[1].split(";")[0]).splitlines()[-1] == '"KeyError: \'"'
    summary = tmp_path / "s2.md"
    ci(
        RunOptions(gcp_project="other-proj"),
        CiOptions(fmt="json", annotations="never"),
        sources=[MemorySource(logs)],
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert json.loads(capsys.readouterr().out)["issues"][0]["logs_url"].endswith("?project=other-proj")


def test_secrets_never_reach_ci_outputs(tmp_path):
    secret = "s3cr3t-Pa55w0rd-value"
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps(entry("10:00:00", f"KeyError: 'DATABASE_URL' (DB_PASSWORD={secret})")) + "\n")
    r = cli([logs, "--junit", "j.xml", "--sarif", "s.sarif", "--format", "json", "--out", "ci.json"], tmp_path)
    assert r.returncode == 1
    for text in (r.stdout, *((tmp_path / f).read_text() for f in ("j.xml", "s.sarif", "summary.md", "ci.json"))):
        assert secret not in text


# ------------------------------------------------------------------ limits: annotations and step summary


def _many_services(n: int):
    return [
        entry(
            f"10:{i // 60:02d}:{i % 60:02d}",
            f"KeyError: 'VAR_{i}'",
            service=f"svc-{i:04d}",
            revision=f"svc-{i:04d}-00001-abc",
            instance=f"i{i}",
        )
        for i in range(n)
    ]


def test_annotations_are_capped_at_ten_per_type_most_severe_first(tmp_path, capsys):
    db = entry(
        "11:00:00",
        'connection to server at "10.0.0.3", port 5432 failed: Connection refused',
        service="db-svc",
        revision="db-svc-00001-abc",
    )
    logs = [*_many_services(25), db]
    code, out, _ = run_memory(logs, capsys, tmp_path)
    errors = annotations(out)["error"]
    assert code == 1 and len(errors) == 10
    assert "PostgreSQL" in errors[0] and "[critical]" in errors[0]  # the critical one leads
    assert errors[-1].startswith("::error title=triage%3A 17 more::17 more issue(s)")


def test_workflow_command_escaping():
    assert github.escape_data("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext: a,b"
    assert github.escape_property("svc: a,b%\n") == "svc%3A a%2Cb%25%0A"
    assert github.command("error", "x\ny", "t: 1") == "::error title=t%3A 1::x%0Ay"


def test_huge_input_truncates_the_step_summary_under_1_mib(tmp_path, capsys):
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier output of this step\n" * 2000)  # the budget is what the step has left
    before = summary.stat().st_size
    code, out, text = run_memory(_many_services(1800), capsys, tmp_path, fmt="json", annotations="never")
    view = json.loads(out)
    assert code == 1 and len(view["issues"]) == 1800
    assert summary.stat().st_size <= github.STEP_SUMMARY_LIMIT
    appended = text[len("# earlier output of this step\n") * 2000 :]
    assert summary.stat().st_size - before > 900 * 1024  # it used the space, not gave up early
    assert "> **Truncated**:" in appended and "of 1800 issues listed" in appended
    assert appended.rstrip().endswith("The JSON, JUnit and SARIF outputs hold every issue.")


def test_step_summary_budget_is_respected_exactly_for_small_budgets(tmp_path, capsys):
    _, out, _ = run_memory(_many_services(40), capsys, tmp_path, fmt="json", annotations="never")
    view = json.loads(out)

    full = github.step_summary(view)
    assert "Truncated" not in full
    for budget in (0, 200, 2000, 5000, len(full.encode()) - 1):
        text = github.step_summary(view, budget)
        assert len(text.encode()) <= budget
        if text and budget > 2000:
            assert "Truncated" in text


def test_stdin_source(tmp_path):
    r = cli(["-", "--github-annotations", "never"], tmp_path, github_env=False, input=FAILED.read_text())
    assert r.returncode == 1 and r.stdout.startswith("triage ci: FAIL")


# ------------------------------------------------------------------ live (fake Cloud Logging server on 127.0.0.1)


def _serve(fake, sample: Path) -> list[str]:
    fake.reset([json.loads(line) for line in sample.read_text().splitlines()])
    return ["--project", "acme-shop-prod", "--since", "1h", "--anonymous", "--api-endpoint", fake.rest_url]


def test_live_run_fails_the_failed_deploy_and_links_to_the_project(tmp_path, fake):
    r = cli([*_serve(fake, FAILED), "--since-deploy", "--format", "json", "--out", "ci.json"], tmp_path)
    assert r.returncode == 1, r.stderr
    view = json.loads((tmp_path / "ci.json").read_text())
    assert view["gcp_project"] == "acme-shop-prod" and view["stats"]["entries"] == 237
    assert view["issues"][0]["logs_url"].endswith("?project=acme-shop-prod")


def test_live_read_failures_exit_3(tmp_path, fake):
    args = _serve(fake, OK)
    fake.fail(403)
    r = cli(args, tmp_path)
    assert r.returncode == 3 and "roles/logging.viewer" in r.stderr
    fake.reset(sample_entries(1500, project="acme-shop-prod"))  # benign traffic, two pages
    fake.fail(None, 403)  # the first page comes, the second is refused
    r = cli([*args, "--allow-partial"], tmp_path)
    assert r.returncode == 3 and r.stdout.startswith("triage ci: PARTIAL"), r.stdout + r.stderr


# ------------------------------------------------------------------ hostile log text vs the runner

HOSTILE_SERVICE = "api\n::stop-commands::tok3n\r\n::error title=x::planted\x00\x1b[31m"
HOSTILE_TEXT = "KeyError: 'DATABASE_URL' \n::stop-commands::tok3n\n::warning::planted %0A 50%\x1b]0;x\x07\x00"


def _runner_lines(stdout: str) -> list[str]:
    """The lines as the runner reads them: split on CR and LF, leading whitespace trimmed."""
    return [line.lstrip() for line in stdout.replace("\r", "\n").split("\n")]


def test_hostile_text_cannot_steer_the_runner(tmp_path):
    logs = tmp_path / "logs.jsonl"
    hostile = [
        entry("10:00:00", HOSTILE_TEXT, service=HOSTILE_SERVICE, revision="r-00001-abc"),
        entry("10:00:01", "KeyError: 'QUEUE_URL'", service="plain-svc", revision="plain-svc-00001-abc"),
    ]
    logs.write_text("".join(json.dumps(e) + "\n" for e in hostile))
    r = cli([logs, "--fail-on", "high"], tmp_path)
    assert r.returncode == 1, r.stderr
    commands = [line for line in _runner_lines(r.stdout) if line.startswith("::")]
    # Only triage's own annotations, one per issue: nothing from the logs, and stop-commands never issued.
    assert len(commands) == 2 and all(line.startswith("::error title=") for line in commands), commands
    # The runner ends the properties at the first "::": the planted text stays escaped data, not a command.
    assert all(line[2:].split("::", 1)[0].startswith("error title=") for line in commands)
    assert all("%0A%3A%3Astop-commands" in line for line in commands if "stop-commands" in line)
    assert any(line.startswith("::error title=plain-svc%3A") for line in commands)  # still annotated after it
    for text in (r.stdout, (tmp_path / "summary.md").read_text()):
        assert "\x00" not in text and "\x1b" not in text and "\x07" not in text and "\r" not in text


def test_hostile_text_in_text_and_report_stdout(tmp_path):
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps(entry("10:00:00", HOSTILE_TEXT, service=HOSTILE_SERVICE)) + "\n")
    r = cli([logs, "--github-annotations", "never"], tmp_path)
    assert r.returncode == 1 and r.stdout.startswith("triage ci: FAIL")
    assert not any(line.startswith("::") for line in _runner_lines(r.stdout)), r.stdout
    assert "\x00" not in r.stdout and "\x1b" not in r.stdout
    rep = subprocess.run([*CMD, "report", logs], capture_output=True, text=True, cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    assert not any(line.startswith("::") for line in _runner_lines(rep.stdout))
    assert "\x00" not in rep.stdout and "\x1b" not in rep.stdout and "\x07" not in rep.stdout


def test_stdout_guard_and_command_strip_controls():
    from triage.output import stdout_safe

    assert stdout_safe("ok\n  ::stop-commands::t\n::x\x00\x1b") == "ok\n\\  ::stop-commands::t\n\\::x"
    assert github.command("error", "a\x00\nb\x1b", "t\x07\n::x") == "::error title=t%0A%3A%3Ax::a%0Ab"


# ------------------------------------------------------------------ fail closed: no log entries at all

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"
ALL_MALFORMED = b"{broken\n{also broken\n[1]\n"
NO_ENTRIES = [
    (b"", "the input is empty"),
    (PNG, "not a log export (binary data)"),
    (b"[]", "an empty JSON array"),
    (b"[1,2,3]", "not a log export (3 of 3 entries malformed)"),
    (ALL_MALFORMED, "not a log export (3 of 3 entries malformed)"),
]


@pytest.mark.parametrize(("data", "why"), NO_ENTRIES)
def test_no_entries_fails_ci_with_one_line(tmp_path, data, why):
    (tmp_path / "x.log").write_bytes(data)
    r = cli(["x.log"], tmp_path, github_env=False)
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stderr == f"triage: error: no Cloud Run log entries in x.log: {why}\n"
    assert "PASS" not in r.stdout


@pytest.mark.parametrize("command", ["report", "analyze"])
def test_no_entries_is_an_input_error_for_report_and_analyze(tmp_path, command):
    (tmp_path / "x.png").write_bytes(PNG)
    r = subprocess.run([*CMD, command, "x.png"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == "triage: error: no Cloud Run log entries in x.png: not a log export (binary data)\n"


def test_one_empty_source_among_others_is_a_note(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    r = cli([OK, "empty.jsonl", "--format", "json"], tmp_path, github_env=False)
    assert r.returncode == 0, r.stderr
    assert "no Cloud Run log entries in empty.jsonl: the input is empty" in json.loads(r.stdout)["notes"]["input"]


def test_junit_has_one_failure_per_open_root_cause_with_symptoms_as_properties(tmp_path):
    r = cli([STAGING, "--fail-on", "any", "--junit", "j.xml", "--format", "json", "--out", "ci.json"], tmp_path)
    assert r.returncode == 1, r.stderr
    view = json.loads((tmp_path / "ci.json").read_text())
    opened = {i["id"]: i for i in view["issues"] if i["status"] in ("PENDING", "REGRESSED")}
    assert any(i["symptoms"] for i in opened.values())  # the sample folds symptoms into its root causes
    root = ET.parse(tmp_path / "j.xml").getroot()
    failing = {
        f"{c.get('classname')}:{c.get('name')}": c for c in root.iter("testcase") if c.find("failure") is not None
    }
    assert sorted(failing) == sorted(opened) and root.get("failures") == str(len(opened))
    for issue_id, case in failing.items():
        props = [(p.get("name"), p.get("value")) for p in case.iter("property")]
        assert ("issue", issue_id) in props and ("status", opened[issue_id]["status"]) in props
        symptoms = [v for n, v in props if n == "symptom"]
        assert [v.split(":")[0] for v in symptoms] == [s["rule"] for s in opened[issue_id]["symptoms"]]
        for symptom in opened[issue_id]["symptoms"]:  # the symptom's own case passes and names its root cause
            other = next(
                c
                for c in root.iter("testcase")
                if (c.get("classname"), c.get("name")) == (opened[issue_id]["service"], symptom["rule"])
            )
            assert other.find("failure") is None
            assert f"symptom of {opened[issue_id]['rule']}" in other.findtext("system-out")
