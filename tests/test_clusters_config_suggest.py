"""Template mining, project config and `rules suggest` (drafts must pass the rules test via the Matcher)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest
import regex as re
import yaml

from tests.scenario_logs import crash_loop_db, healthy_unknown_error
from triage.analysis.clusters import mask, mine, template_regex
from triage.commands.common import RunOptions, build_model, run_analysis
from triage.commands.suggest import suggest, suggestions
from triage.config import find_config, load_config
from triage.engine import Matcher, load_catalog
from triage.errors import ConfigError
from triage.events import make_event
from triage.records import from_entry
from triage.report.redact import Redactor
from triage.report.render import render_json, render_markdown
from triage.sources import MemorySource

OPTS = RunOptions(use_config=False, date="2025-09-10")


def events(lines: list[str], service: str = "svc"):
    out = []
    for i, line in enumerate(lines):
        entry = {
            "timestamp": f"2025-09-10T10:00:{i:02d}.000000Z",
            "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
            "resource": {"type": "cloud_run_revision", "labels": {"service_name": service, "revision_name": "r"}},
            "severity": "ERROR",
            "textPayload": line,
        }
        out.append(make_event((from_entry(entry),)))
    return out


def test_mask_variable_parts():
    text = (
        "job 3f2a9c1e-0b7d-4e8f-9a6b-2c5d8e1f4a7b for 10.1.2.3:5432 read /var/lib/app/x.db "
        "'secret value' \"other\" 0xdeadbeef id=a1b2c3d4e5 n=42 https://x.example/a?b=1"
    )
    assert mask(text) == "job <UUID> for <IP> read <PATH> '<*>' \"<*>\" <HEX> id=<HEX> n=<NUM> <URL>"


def test_drain_merges_lines_that_differ_in_one_word_and_keeps_others_apart():
    clusters = mine(
        events(
            [
                "Order 1 failed: card declined by issuer",
                "Order 2 failed: card expired by issuer",
                "Order 3 failed: card declined by issuer",
                "cache miss storm detected",
            ]
        )
    )
    assert [(c.template, c.count) for c in clusters] == [
        ("Order <NUM> failed: card <*> by issuer", 3),
        ("cache miss storm detected", 1),
    ]
    rx = template_regex(clusters[0].template)
    assert all(re.search(rx, m) for m in clusters[0].messages)
    assert not re.search(rx, "Order 9 failed: payment declined by issuer")


def test_traceback_clusters_on_its_final_exception():
    tb = "Traceback (most recent call last):\n  File \"/app/x.py\", line {n}, in f\n    g()\nKeyError: 'user_{n}'"
    clusters = mine(events([tb.format(n=n) for n in (1, 2, 3)]))
    assert [(c.template, c.count) for c in clusters] == [("KeyError: '<*>'", 3)]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_project_config_feeds_the_report(tmp_path: Path):
    write(tmp_path / "notes.yaml", "annotations:\n  - rule: postgres-connection-refused\n    owner: dba-team\n")
    cfg = write(
        tmp_path / "triage.yaml",
        "project: acme-shop\n"
        "environment: production\n"
        "services:\n"
        "  orders-api: Orders API\n"
        "  payments-webhooks:\n"
        "    display_name: Payments Webhooks\n"
        "    depends_on: [Stripe]\n"
        "required_secrets: [orders-db-password, stripe-signing-secret]\n"
        "dependencies:\n"
        "  orders-api: [PostgreSQL, Pub/Sub]\n"
        "disable: [container-failed-to-listen]\n"
        "annotations: notes.yaml\n"
        "redact: ['merchant \\d+']\n",
    )
    opts = replace(OPTS, config=cfg)
    analysis = run_analysis(opts, [MemorySource(crash_loop_db(starts=2) + healthy_unknown_error(n=3))])
    model = orjson.loads(render_json(build_model(opts, analysis)))
    md = render_markdown(model)
    assert model["project"] == "acme-shop" and model["environment"] == "production"
    assert {s["name"]: s["display_name"] for s in model["services"]}["orders-api"] == "Orders API"
    issue = model["issues"][0]
    assert issue["owner"] == "dba-team"
    assert "container-failed-to-listen" not in {s["rule"] for s in issue["symptoms"]}
    assert model["unclassified"][0]["example"].endswith("signature mismatch for ***")
    assert "12345" not in md and "30422" not in md
    secrets = {s["name"]: s for s in model["configuration"]["secrets"]}
    assert secrets["orders-db-password"]["referenced"] and secrets["orders-db-password"]["ok"]
    assert not secrets["stripe-signing-secret"]["referenced"]
    assert "- ⚠️ stripe-signing-secret: required, not referenced by a deploy in this window" in md
    assert "- ✅ orders-db-password (DB_PASSWORD)" in md
    deps = {d["service"]: d["depends_on"] for d in model["architecture"]["dependencies"]}
    assert deps["orders-api"][:2] == ["PostgreSQL", "Pub/Sub"]
    assert deps["payments-webhooks"] == ["Stripe"]
    assert "### 1. Orders API Service Issues" in md


def test_config_found_in_working_directory_and_errors_located(tmp_path: Path):
    assert find_config(None, tmp_path) is None
    write(tmp_path / "triage.yaml", "project: x\nservices:\n  a: A\nbogus: 1\n")
    with pytest.raises(ConfigError, match=r"triage.yaml:4: bogus: unknown key"):
        find_config(None, tmp_path)
    bad = write(tmp_path / "c.yaml", "redact: ['(unclosed']\n")
    with pytest.raises(ConfigError, match=r"c.yaml:1: redact\[0\]: invalid regex"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        find_config(tmp_path / "missing.yaml")


def _rules_test(path: Path) -> list[tuple[str, str, bool]]:
    """What `triage rules test` checks: every example of every rule, through the Matcher and its prefilter."""
    catalog = load_catalog([path])
    matcher = Matcher(catalog)
    mine_ = [r for r in catalog.rules if r.id.startswith("suggested-")]
    results = []
    for rule in mine_:
        for kind, examples in (("match", rule.examples_match), ("no_match", rule.examples_no_match)):
            for ex in examples:
                hit = rule.id in {m.rule.id for m in matcher.match(make_event((from_entry(ex.entry),)))}
                results.append((rule.id, kind, hit == (kind == "match")))
    return results


def test_suggest_rules_drafts_pass_the_rules_test_and_explain_the_cluster(tmp_path: Path, monkeypatch):
    entries = crash_loop_db(starts=3) + healthy_unknown_error(n=8)
    src = write(tmp_path / "logs.jsonl", "\n".join(orjson.dumps(e).decode() for e in entries) + "\n")
    out = tmp_path / "team-rules" / "suggested.yaml"
    out.parent.mkdir()
    assert suggest(replace(OPTS, sources=(str(src),)), top=5, min_count=2, out=out) == 0
    doc = yaml.safe_load(out.read_text())
    ids = [r["id"] for r in doc["rules"]]
    # The failed requests of the crash loop are explained by the built-in instance-start-failed rule, so
    # only the webhook errors are left to draft a rule for.
    assert ids == ["suggested-payment-webhook-rejected-signature-mismatch"]
    assert all("draft" in r["tags"] for r in doc["rules"])
    results = _rules_test(out.parent)
    assert results and all(ok for _, _, ok in results), results
    assert {k for _, k, _ in results} == {"match", "no_match"}
    # With the drafts as a team folder, those errors are explained.
    analysis = run_analysis(replace(OPTS, sources=(str(src),), rules=(out.parent,)))
    assert analysis.findings.coverage == 1.0


def test_suggestions_redact_examples_and_skip_small_clusters():
    evs = events(
        [f"login failed for user bob password=hunter{n} at step {n}" for n in range(3)] + ["one-off boom error"]
    )
    drafts = suggestions(mine(evs), top=5, min_count=2, redactor=Redactor())
    assert len(drafts) == 1
    examples = drafts[0]["examples"]["match"]
    assert examples and all("hunter" not in e and "password=***" in e for e in examples)


def test_rules_suggest_output_passes_rules_test_on_the_command_line(tmp_path: Path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    drafts = tmp_path / "drafts.yaml"
    cmd = [sys.executable, "-m", "triage", "rules"]
    sample = root / "samples" / "scenarios" / "healthy-unknown-error.jsonl"
    made = subprocess.run(
        [*cmd, "suggest", str(sample), "--out", str(drafts)], capture_output=True, text=True, cwd=root
    )
    assert made.returncode == 0, made.stderr
    assert "rules:" in drafts.read_text()
    checked = subprocess.run([*cmd, "test", str(drafts)], capture_output=True, text=True, cwd=root)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    last = checked.stdout.strip().splitlines()[-1]
    passed, failed = (int(x.split()[0]) for x in last.split(", "))
    assert passed >= 4 and failed == 0, last
