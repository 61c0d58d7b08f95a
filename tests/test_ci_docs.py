"""docs/ci.md stays true: every `triage ci` command line it documents runs against the sample exports."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_logging import FakeLogging

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ci.md"
SAMPLES = {"deploy-failed": 1, "deploy-ok": 0}
VARS = {"$PROJECT": "acme-shop-prod", "$SERVICE": "inventory-api"}  # what the doc's jobs set


def documented_commands() -> list[list[str]]:
    """`triage ci ...` lines from the doc's code blocks (YAML `run:` blocks, bash, Cloud Build args)."""
    text = DOC.read_text()
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)
    commands = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)  # backslash continuations
        for line in joined.splitlines():
            line = line.strip().removeprefix("run:").strip().replace("$$", "$")
            if line.startswith("triage ci "):
                commands.append(shlex.split(line))
    return commands


COMMANDS = documented_commands()


def test_the_doc_documents_commands():
    assert len(COMMANDS) >= 4  # GitHub Actions (live), export variant, baseline variant, Cloud Build
    assert all(c[:3] == ["triage", "ci", "logs.json"] or "--project" in c for c in COMMANDS)
    assert any("--project" in c for c in COMMANDS)


def _value(cmd: list[str], option: str) -> str | None:
    return cmd[cmd.index(option) + 1] if option in cmd else None


@pytest.mark.parametrize("sample", sorted(SAMPLES))
@pytest.mark.parametrize("n", range(len(COMMANDS)))
def test_documented_command_runs_on_the_sample(tmp_path, sample, n, fake: FakeLogging):
    cmd = [VARS.get(arg, arg) for arg in COMMANDS[n]]
    logs = ROOT / "samples" / "scenarios" / f"{sample}.jsonl"
    shutil.copy(logs, tmp_path / "logs.json")
    if "--project" in cmd:  # a live run: the same sample, served by the fake Cloud Logging server
        fake.reset([json.loads(line) for line in logs.read_text().splitlines()])
        cmd += ["--anonymous", "--api-endpoint", fake.rest_url]
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    baseline = _value(cmd, "--baseline")
    if baseline:  # what the doc says a baseline is: an earlier analyze JSON of the same service
        prev = subprocess.run(
            [sys.executable, "-m", "triage", "analyze", "logs.json", "--format", "json"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            check=True,
        )
        (tmp_path / baseline).write_text(prev.stdout)
    r = subprocess.run(
        [sys.executable, "-m", "triage", *cmd[1:]], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    expected = 0 if baseline else SAMPLES[sample]
    assert r.returncode == expected, f"{shlex.join(cmd)} on {sample}: {r.stdout}{r.stderr}"
    for option in ("--junit", "--sarif", "--out"):
        path = _value(cmd, option)
        if path:
            assert (tmp_path / path).stat().st_size > 0, path
    if _value(cmd, "--out") and _value(cmd, "--format") == "json":
        assert json.loads((tmp_path / _value(cmd, "--out")).read_text())["ci"]["exit_code"] == expected
    assert (tmp_path / "summary.md").stat().st_size > 0
