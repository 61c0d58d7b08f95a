"""Live runs end to end: the CLI's live options, ``pull`` then ``report`` on the file equals a live report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.fake_logging import FakeLogging, sample_entries
from triage.cli import app
from triage.commands.common import RunOptions
from triage.commands.pull import pull
from triage.commands.report import report
from triage.engine import load_catalog

WINDOW = ("--from", "2025-09-05T00:00:00Z", "--to", "2025-09-06T00:00:00Z")


def incident_entries() -> list[dict[str, Any]]:
    """Benign traffic plus every built-in rule's first matching example, as entries of service ``api``."""
    entries = sample_entries(3000)
    for n, rule in enumerate(load_catalog().rules):
        example = dict(rule.examples_match[0].entry)
        example.update(
            timestamp=f"2025-09-05T11:{n:02d}:00.000000Z",
            resource={
                "type": "cloud_run_revision",
                "labels": {"service_name": "api", "revision_name": "api-00008-xyz"},
            },
            logName=example.get("logName", "").replace("projects/example/", "projects/demo/")
            or "projects/demo/logs/run.googleapis.com%2Fstderr",
            insertId=f"rule{n:04d}",
        )
        entries.append(example)
    entries.sort(key=lambda e: e["timestamp"])
    return entries


def test_pulled_file_gives_the_same_report_as_a_live_run(fake: FakeLogging, transport: str, tmp_path: Path) -> None:
    fake.reset(incident_entries())
    options = fake.live_options(transport)
    live_json, file_json, pulled = tmp_path / "live.json", tmp_path / "file.json", tmp_path / "pulled.jsonl.gz"

    report(RunOptions(live=options, environment="staging"), fmt="json", out=live_json)
    pull(options, pulled, quiet=True)
    report(RunOptions(sources=(str(pulled),), environment="staging"), fmt="json", out=file_json)

    from_live, from_file = json.loads(live_json.read_text()), json.loads(file_json.read_text())
    assert from_live["issues"], "the fixture should produce issues"
    assert from_live["stats"]["entries"] == len(fake.entries)
    for key in ("issues", "services", "stats", "window", "partial", "recommendations"):
        assert from_live[key] == from_file[key], key


def test_report_cli_live_with_pushdown(fake: FakeLogging, transport: str, tmp_path: Path) -> None:
    fake.reset(incident_entries())
    out = tmp_path / "audit.md"
    args = ["report", "--project", "demo", "--service", "api", *WINDOW, "--pushdown", "--anonymous"]
    result = CliRunner().invoke(app, [*args, "--api-endpoint", fake.endpoint(transport), "--out", str(out)])
    assert result.exit_code == 0, result.output
    sent = fake.requests[0].filter
    assert '"Traceback (most recent call last)"' in sent and 'resource.labels.service_name="api"' in sent
    assert "PARTIAL" not in out.read_text()


def test_report_cli_partial_is_marked(fake: FakeLogging, tmp_path: Path) -> None:
    fake.reset(incident_entries())
    fake.fail(None, 403)
    out = tmp_path / "audit.json"
    args = ["analyze", "--project", "demo", *WINDOW, "--anonymous", "--allow-partial", "--format", "json"]
    result = CliRunner().invoke(app, [*args, "--api-endpoint", fake.rest_url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    model = json.loads(out.read_text())
    assert model["partial"] is True and model["stats"]["entries"] == 1000


def test_pull_cli_writes_and_reports_errors(fake: FakeLogging, transport: str, tmp_path: Path) -> None:
    fake.reset(sample_entries(1200))
    out = tmp_path / "logs.jsonl"
    base = ["pull", "--project", "demo", *WINDOW, "--anonymous", "--api-endpoint", fake.endpoint(transport)]
    result = CliRunner().invoke(app, [*base, "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 1200

    fake.fail(403)
    result = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "denied.jsonl")])
    assert result.exit_code == 3
    assert "roles/logging.viewer" in result.output and not (tmp_path / "denied.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "--service", "api"], "--service need --project"),
        (["analyze", "x.jsonl", "--project", "demo", "--anonymous", "--api-endpoint", "http://[::1]:9"], "not both"),
        (["analyze", "--project", "demo", "--since", "2 hours"], "--since"),
        (["pull", "--project", "demo", "--anonymous", "--out", "x.jsonl"], "--anonymous is only allowed"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
