"""action.yml: run the composite action's shell steps as the GitHub runner would, and check what they leave.

The runner is imitated closely enough to catch what breaks in Actions: each ``run:`` step goes through
``bash --noprofile --norc -eo pipefail`` (GitHub's ``shell: bash``) with ``GITHUB_OUTPUT`` and
``GITHUB_STEP_SUMMARY`` pointing at temp files, ``${{ inputs.* }}``, ``${{ github.action_path }}`` and
``${{ steps.<id>.outputs.* }}`` substituted from the inputs (action defaults overlaid by the test's) and
earlier steps' outputs, and ``if:`` conditions evaluated. ``uses:`` steps (setup-python, upload-sarif)
are not run; their conditions and inputs are checked.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import regex as re
import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
FAILED = ROOT / "samples/scenarios/deploy-failed.jsonl"
OK = ROOT / "samples/scenarios/deploy-ok.jsonl"
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class Run:
    outputs: dict[str, str] = field(default_factory=dict)  # the action's outputs, resolved
    step_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)  # step name -> exit code, for run steps that ran
    skipped: list[str] = field(default_factory=list)
    uses: list[dict] = field(default_factory=list)  # uses: steps whose condition held
    summary: str = ""


def _parse_outputs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<")[0]:
            name, delim = line.split("<<", 1)
            value = []
            for nxt in lines:
                if nxt == delim:
                    break
                value.append(nxt)
            out[name] = "\n".join(value)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
    return out


class Context:
    def __init__(self, inputs: dict[str, str], failed: bool = False) -> None:
        self.inputs = inputs
        self.steps: dict[str, dict[str, str]] = {}
        self.failed = failed

    def value(self, expr: str) -> str:
        if expr == "github.action_path":
            return str(ROOT)
        if m := re.fullmatch(r"inputs\.([\w-]+)", expr):
            return self.inputs[m[1]]
        if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
            return self.steps.get(m[1], {}).get(m[2], "")
        raise AssertionError(f"expression the test does not know: {expr}")

    def substitute(self, text: str) -> str:
        return _EXPR.sub(lambda m: self.value(m[1]), str(text))

    def condition(self, cond: str | None) -> bool:
        if cond is None:
            return not self.failed  # success() is the default
        cond = _EXPR.sub(lambda m: m[1], cond)
        always = "always()" in cond
        py = re.sub(r"(steps\.[\w-]+\.outputs\.[\w-]+|inputs\.[\w-]+)", lambda m: repr(self.value(m[1])), cond)
        py = py.replace("always()", "True").replace("&&", " and ").replace("||", " or ")
        py = re.sub(r"!(?!=)", " not ", py)
        return bool(eval(py)) and (always or not self.failed)  # our own action file, in a test


def run_action(tmp_path: Path, inputs: dict[str, str], bin_dir: Path) -> Run:
    defaults = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    assert set(inputs) <= set(defaults), set(inputs) - set(defaults)
    ctx = Context({**defaults, **inputs})
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    result = Run()
    for n, step in enumerate(ACTION["runs"]["steps"]):
        name = step.get("name", str(n))
        if not ctx.condition(step.get("if")):
            result.skipped.append(name)
            continue
        if "uses" in step:
            result.uses.append(step)
            continue
        assert step["shell"] == "bash"
        output, summary = tmp_path / f"output-{n}", tmp_path / f"summary-{n}.md"
        output.write_text("")
        env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PYTHONPATH": str(ROOT),
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_ACTION_PATH": str(ROOT),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            **{k: ctx.substitute(v) for k, v in (step.get("env") or {}).items()},
        }
        script = tmp_path / f"step-{n}.sh"
        script.write_text(ctx.substitute(step["run"]))
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
        )
        result.codes[name] = proc.returncode
        ctx.failed = ctx.failed or proc.returncode != 0
        if "id" in step:
            ctx.steps[step["id"]] = result.step_outputs[step["id"]] = _parse_outputs(output.read_text())
        if summary.exists():
            result.summary += summary.read_text()
    result.outputs = {k: ctx.substitute(v["value"]) for k, v in ACTION["outputs"].items()}
    return result


@pytest.fixture
def real_bin(tmp_path: Path) -> Path:
    """PATH entries for the triage under test: ``triage`` and ``python`` are this interpreter."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "triage").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m triage "$@"\n')
    (bin_dir / "triage").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    return bin_dir


def test_failed_deploy_sets_outputs_summary_and_fails_the_step(tmp_path, real_bin):
    run = run_action(tmp_path, {"sources": str(FAILED), "install": "false", "upload-sarif": "true"}, real_bin)
    assert run.outputs["result"] == "fail" and run.outputs["exit-code"] == "1"
    assert run.outputs["open-issues"] == "1" and run.outputs["failing-issues"] == "1"
    report = tmp_path / "workspace" / run.outputs["report"]
    view = json.loads(report.read_text())
    assert view["ci"]["result"] == "fail" and view["ci"]["counts"]["open"] == 1
    assert run.summary.startswith("## ❌ triage: deploy check failed") and "missing-config-env" in run.summary
    sarif = tmp_path / "workspace" / run.outputs["sarif"]
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    assert (tmp_path / "workspace/triage-junit.xml").stat().st_size > 0
    # the upload ran (condition held) with the SARIF path, no category (each run has its own)
    (upload,) = run.uses
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert "category" not in upload["with"]
    assert run.codes["Run triage ci"] == 0  # the check step records; the verdict step fails the job
    assert run.codes["Verdict"] == 1
    assert "Install triage" in run.skipped and "Set up Python" in run.skipped


def test_healthy_deploy_passes_and_does_not_upload_by_default(tmp_path, real_bin):
    run = run_action(tmp_path, {"sources": str(OK), "install": "false", "fail-on": "any"}, real_bin)
    assert run.outputs["result"] == "pass" and run.outputs["exit-code"] == "0"
    assert run.outputs["open-issues"] == "0" and run.codes["Verdict"] == 0
    assert run.uses == [] and "Upload SARIF to code scanning" in run.skipped
    assert "deploy check passed" in run.summary


def test_fail_job_false_keeps_the_step_green(tmp_path, real_bin):
    run = run_action(tmp_path, {"sources": str(FAILED), "install": "false", "fail-job": "false"}, real_bin)
    assert run.outputs["result"] == "fail" and "Verdict" in run.skipped
    assert all(code == 0 for code in run.codes.values())


def test_sources_and_options_are_values_not_shell(tmp_path, real_bin):
    (tmp_path / "workspace").mkdir()
    hostile = '$(touch pwned)\n"; touch pwned2; echo "'
    run = run_action(tmp_path, {"sources": hostile, "install": "false", "environment": "`touch pwned3`"}, real_bin)
    assert not list((tmp_path / "workspace").glob("pwned*"))
    assert run.outputs["result"] == "error" and run.outputs["exit-code"] == "2"
    assert run.outputs["report"] == "" and run.outputs["open-issues"] == ""
    assert run.codes["Verdict"] == 2


def test_live_inputs_become_live_options_and_install_uses_the_action(tmp_path):
    """A recording ``triage`` and ``python``: what the steps would run on a runner, without the network."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.log"
    for tool in ("triage", "python"):
        (bin_dir / tool).write_text(f'#!/bin/sh\nprintf "%s\\n" "{tool}" "$@" "--" >> "{log}"\n')
        (bin_dir / tool).chmod(0o755)
    inputs = {"project": "acme-prod", "services": "api\nworker\n", "since": "2h", "rules": "team-rules"}
    run = run_action(tmp_path, inputs, bin_dir)
    calls = [c.strip("\n").split("\n") for c in log.read_text().split("--\n") if c.strip()]
    install, triage = calls
    assert install[:4] == ["python", "-m", "pip", "install"] and install[-1] == str(ROOT)
    args = triage[1:]
    assert args[:2] == ["ci", "--format"] and "--since-deploy" in args
    pairs = list(itertools.pairwise(args))
    for pair in (("--project", "acme-prod"), ("--service", "api"), ("--service", "worker"), ("--since", "2h")):
        assert pair in pairs
    assert ("--rules", "team-rules") in pairs and ("--fail-on", "high") in pairs
    assert "--from" not in args and "--allow-partial" not in args
    assert run.outputs["result"] == "pass" and run.outputs["report"] == ""  # the recorder wrote no report


def test_every_input_is_documented_and_reaches_the_script():
    steps = {s.get("id"): s for s in ACTION["runs"]["steps"]}
    env_refs = " ".join(map(str, steps["triage"]["env"].values()))
    for name, spec in ACTION["inputs"].items():
        assert spec.get("description"), name
        if name not in ("install", "triage-spec", "python-version", "upload-sarif", "fail-job"):
            assert f"inputs.{name} }}" in env_refs, name
    # no expression inside a script body: inputs reach the shell only through env
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")


def test_the_documented_workflow_uses_real_inputs_and_outputs():
    doc = (ROOT / "docs/ci.md").read_text()
    blocks = [yaml.safe_load(b) for b in re.findall(r"^```yaml\n(.*?)^```", doc, flags=re.S | re.M)]
    uses = [
        step
        for block in blocks
        if isinstance(block, dict) and "jobs" in block
        for job in block["jobs"].values()
        for step in job["steps"]
        if str(step.get("uses", "")).split("@")[0].endswith("/triage")
    ]
    assert uses, "docs/ci.md shows the action"
    for step in uses:
        assert set(step["with"]) <= set(ACTION["inputs"]), set(step["with"]) - set(ACTION["inputs"])
    for name in re.findall(r"steps\.triage\.outputs\.([\w-]+)", doc):
        assert name in ACTION["outputs"], name
