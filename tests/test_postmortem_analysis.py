"""Issue 5 on synthetic scenarios: chains, phase, impact, lifecycle, timeline, clusters, diff, annotations."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from tests.scenario_logs import crash_loop_db, healthy_unknown_error, regression
from triage.analysis.annotations import parse_annotations
from triage.commands.common import RunOptions, build_model, run_analysis
from triage.errors import ConfigError, TriageError
from triage.report.render import render_json, render_markdown
from triage.sources import MemorySource

OPTS = RunOptions(use_config=False, date="2025-09-10")


def run(entries: list[dict], opts: RunOptions = OPTS, template: str = "audit") -> tuple[dict, str]:
    analysis = run_analysis(opts, [MemorySource(entries)])
    model = orjson.loads(render_json(build_model(opts, analysis)))
    return model, render_markdown(model, template)


def by_rule(model: dict) -> dict[str, dict]:
    return {i["rule"]: i for i in model["issues"]}


def test_crash_loop_is_one_issue_led_by_the_refused_database():
    model, md = run(crash_loop_db(starts=4))
    issues = by_rule(model)
    assert list(issues) == ["postgres-connection-refused"]  # symptoms no longer issues of their own
    pg = issues["postgres-connection-refused"]
    symptoms = {s["rule"]: s["count"] for s in pg["symptoms"]}
    assert symptoms == {
        "import-time-initialization": 4,
        "container-exit-nonzero": 4,
        "instance-start-failed": 4,  # the failed requests (issue 3's catalog explains them too)
        "startup-probe-failed": 4,
        "container-failed-to-listen": 1,
    }
    # chain order = the order things happened: the exit comes before the probe failure
    order = [s["rule"] for s in pg["symptoms"]]
    assert order.index("container-exit-nonzero") < order.index("startup-probe-failed")
    assert order.index("startup-probe-failed") < order.index("container-failed-to-listen")
    assert pg["phase"] == "startup"
    # from the first refused connection (t=11s) to the revision marked not Ready (t=170s)
    assert pg["impact"] == {"requests": 4, "errors_5xx": 4, "errors_429": 0, "instances": 4, "duration_s": 159}
    assert pg["status"] == "PENDING"
    assert pg["trigger"]["revision"] == "orders-api-00012-q2w"
    assert pg["trigger"]["commit"].startswith("41c7d0e2b")
    assert "**Led to**: client initialised at module import time ×4, container exited with an error ×4" in md
    assert "revision not ready - container failed to listen on its port\n" in md
    assert (
        "**Impact**: at startup (before instances became ready); 4 requests to the affected revisions (4 5xx, 0 429)"
        in md
    )


def test_symptom_without_a_cause_stays_an_issue():
    entries = [e for e in crash_loop_db(starts=3) if "Traceback" not in e.get("textPayload", "")]
    issues = by_rule(run(entries)[0])
    assert "postgres-connection-refused" not in issues
    # the probe failures are symptoms of the exits (same instance, seconds apart); the exit leads
    assert issues["container-exit-nonzero"]["count"] == 3
    assert {s["rule"] for s in issues["container-exit-nonzero"]["symptoms"]} >= {"startup-probe-failed"}


def test_symptoms_of_other_revisions_are_not_linked():
    # A probe failure in a revision where the cause never happened is not the cause's symptom.
    entries = crash_loop_db(starts=2)
    other = [e for e in crash_loop_db(starts=1) if "probe failed" in e.get("textPayload", "")]
    for e in other:
        e["resource"]["labels"]["revision_name"] = "orders-api-00013-zzz"
    issues = by_rule(run(entries + other)[0])
    assert issues["startup-probe-failed"]["count"] == 1
    assert issues["startup-probe-failed"]["revisions"] == ["orders-api-00013-zzz"]
    pg = {s["rule"]: s["count"] for s in issues["postgres-connection-refused"]["symptoms"]}
    assert pg["startup-probe-failed"] == 2


def test_fix_then_regression_two_revisions_later():
    fixed_model, _ = run(regression(until_revision=3))
    fixed = by_rule(fixed_model)["redis-connection-failed"]
    assert fixed["status"] == "FIXED"
    assert fixed["fixed_in"] == "billing-api-00002-r2x"
    assert fixed["fixed_commit"] == "e4d3c9c62aa"
    assert fixed["verified"] is True
    kinds = [(t["kind"], t["revision"]) for t in fixed_model["timeline"]]
    assert ("fixed", "billing-api-00002-r2x") in kinds
    assert ("ready", "billing-api-00002-r2x") in kinds

    model, md = run(regression(until_revision=4))
    issue = by_rule(model)["redis-connection-failed"]
    assert issue["status"] == "REGRESSED"
    assert issue["revisions"] == ["billing-api-00001-r1x", "billing-api-00004-r4x"]
    regressed = [t for t in model["timeline"] if t["kind"] == "regressed"]
    assert [(t["revision"], t["time"]) for t in regressed] == [("billing-api-00004-r4x", "2025-09-10T15:06:51.000000Z")]
    assert "**Status**: REGRESSED - came back after a healthy revision" in md


def test_timeline_is_utc_and_in_time_order():
    model, md = run(regression(until_revision=4))
    times = [t["time"] for t in model["timeline"]]
    assert times == sorted(times)
    assert {t["kind"] for t in model["timeline"]} >= {"deploy", "ready", "not_ready", "first_seen", "last_seen"}
    section = md.split("## Timeline (UTC)\n", 1)[1]
    assert section.startswith("- 2025-09-10 14:16:40 Deploy of billing-api: revision billing-api-00001-r1x")


def test_healthy_service_with_unknown_recurring_error_is_clustered():
    model, md = run(healthy_unknown_error(n=12))
    assert model["issues"] == []
    assert model["stats"]["error_events"] == 12
    assert model["stats"]["coverage"] == 0.0
    [cluster] = model["unclassified"]
    assert cluster["template"] == "payment webhook <HEX> rejected: signature mismatch for merchant <NUM>"
    assert cluster["count"] == 12
    assert cluster["service"] == "payments-webhooks"
    assert cluster["example"].startswith("payment webhook 80dae19a7aaa rejected")
    assert "The catalog explains 0% of 12 error events; 12 fall into 1 template(s) no rule covers." in md
    assert model["services"][0]["status"] == "Running"


def test_coverage_counts_explained_error_events():
    model, md = run(crash_loop_db(starts=4) + healthy_unknown_error(n=6))
    s = model["stats"]
    # 4 tracebacks + 4 probe failures + 1 not-Ready + 4 failed requests (instance-start-failed) are
    # explained; the 6 webhooks are not
    assert (s["error_events"], s["unmatched_error_events"]) == (19, 6)
    assert s["coverage"] == pytest.approx(13 / 19, abs=1e-4)
    assert "Coverage: the catalog explains 68% of 19 error events (6 unclassified" in md


def test_serving_phase_for_errors_after_the_instance_became_ready():
    from tests.scenario_logs import REDIS_TRACE, healthy, text

    svc, rev = "api", "api-00002-abc"
    entries = healthy(0, svc, rev, "i1", requests=3)
    trace = REDIS_TRACE.replace("in <module>\n    cache = RedisCache()", "in handle\n    cache.get(k)")
    entries.append(text(120, svc, rev, "i1", trace))
    issue = by_rule(run(entries)[0])["redis-connection-failed"]
    assert issue["phase"] == "serving"
    assert issue["impact"]["requests"] == 3


def test_previous_report_marks_changes_and_resolved(tmp_path: Path):
    previous, _ = run(regression(until_revision=3) + crash_loop_db(starts=2))
    prev = tmp_path / "prev.json"
    prev.write_bytes(orjson.dumps(previous))
    current_entries = regression(until_revision=4) + healthy_unknown_error(n=3)
    # a new issue in another service
    from tests.scenario_logs import PG_TRACE, crash

    current_entries += crash(5000, "ledger", "ledger-00001-aaa", "l1", PG_TRACE)
    model, md = run(current_entries, replace(OPTS, previous=prev))
    change = {i["id"]: i["change"] for i in model["issues"]}
    assert change == {
        "billing-api:redis-connection-failed": "regressed",
        "ledger:postgres-connection-refused": "new",
    }
    assert [(r["id"], r["status"]) for r in model["resolved_since_previous"]] == [
        ("orders-api:postgres-connection-refused", "ABSENT")
    ]
    assert model["previous"]["regressed"] == 1 and model["previous"]["new"] == 1
    head = md.split("## Executive Summary", 1)[0]
    assert "## What changed since the last audit" in head
    assert "- Regressed: Redis connection failed (billing-api" in head
    assert "- Resolved: PostgreSQL connection refused (orders-api, was PENDING; not seen in this window)" in head


def test_previous_must_be_a_report(tmp_path: Path):
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(TriageError, match="not a triage report"):
        run(crash_loop_db(starts=1), replace(OPTS, previous=bad))


def test_annotations_overlay_status_commit_owner(tmp_path: Path):
    notes = tmp_path / "notes.yaml"
    notes.write_text(
        "annotations:\n"
        "  - rule: postgres-connection-refused\n"
        "    service: orders-*\n"
        "    status: acknowledged\n"
        "    owner: alice\n"
        "    link: https://tracker.example/INC-7\n"
        "  - rule: redis-connection-failed\n"
        "    status: WONTFIX\n"
        "    commit: e4d3c9c62\n"
    )
    entries = crash_loop_db(starts=2) + regression(until_revision=3)
    model, md = run(entries, replace(OPTS, annotations=notes))
    issues = by_rule(model)
    pg, redis = issues["postgres-connection-refused"], issues["redis-connection-failed"]
    assert (pg["status"], pg["log_status"], pg["owner"]) == ("ACKNOWLEDGED", "PENDING", "alice")
    assert (redis["status"], redis["commit"]) == ("FIXED", "e4d3c9c62")  # the logs prove FIXED; it stays
    assert "**Status**: ACKNOWLEDGED (logs: PENDING)" in md
    assert "- Committed in e4d3c9c62" in md
    assert "owner alice; https://tracker.example/INC-7" in md
    # the service status still follows the logs
    assert {s["name"]: s["status"] for s in model["services"]}["orders-api"] == "Failed"


def test_annotation_errors_name_the_place():
    with pytest.raises(ConfigError, match=r"annotations\[0\]\.status: must be one of"):
        parse_annotations([{"rule": "x", "status": "DONE"}], "notes.yaml")
    with pytest.raises(ConfigError, match=r"annotations\[0\]\.rule: required"):
        parse_annotations([{"owner": "bob"}], "notes.yaml")


def test_muted_issue_status():
    notes = parse_annotations([{"rule": "postgres-connection-refused", "status": "MUTED"}])
    from triage.analysis.findings import find
    from triage.engine import Matcher, load_catalog
    from triage.pipeline import collect

    catalog = load_catalog()
    collected = collect([MemorySource(crash_loop_db(starts=1))], Matcher(catalog))
    findings = find(collected, catalog.rules, notes)
    assert [i.status for i in findings.issues] == ["MUTED"]


def test_postmortem_template_sections():
    _, md = run(crash_loop_db(starts=3) + regression(until_revision=3), template="postmortem")
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Summary",
        "## Impact",
        "## Root Causes",
        "## Trigger",
        "## Resolution",
        "## Detection",
        "## Action Items",
        "## Lessons Learned",
        "## Timeline (UTC)",
    ]
    assert "first seen after the deploy of `orders-api-00012-q2w`" in md
    assert "fixed in `billing-api-00002-r2x` (commit `e4d3c9c62`)" in md
    assert "| mitigate | TODO | TODO | P0 | open |" in md  # orders-api's open critical issue


def test_custom_template_path(tmp_path: Path):
    tpl = tmp_path / "mine.md.j2"
    tpl.write_text(
        "{% for i in report.issues %}{{ i.rule }} {{ i.phase }} {{ i.impact.instances }}"
        "{% for s in i.symptoms %} {{ s.rule }}={{ s.count }}{% endfor %}\n{% endfor %}"
        "coverage={{ report.stats.coverage }}\n"
    )
    _, out = run(crash_loop_db(starts=2), template=str(tpl))
    assert out.startswith("postgres-connection-refused startup 2 import-time-initialization=2")
    assert out.endswith("coverage=1.0\n")  # all 7 error events explained (failed requests: instance-start-failed)


def test_report_is_deterministic():
    entries = crash_loop_db(starts=3) + regression(until_revision=4) + healthy_unknown_error(n=5)
    a = run(entries)
    b = run(list(reversed(entries)))
    assert a[1] == b[1]
    assert a[0] == b[0]
