"""Output files: never one of the inputs, always written whole (temporary file + rename) or not at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from triage.errors import TriageError
from triage.output import write_atomic

ROOT = Path(__file__).resolve().parents[1]
FAILED = ROOT / "samples/scenarios/deploy-failed.jsonl"
CMD = [sys.executable, "-m", "triage"]


def _triage(args, cwd, **env):
    full = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=full)


@pytest.mark.parametrize(
    "args",
    [
        ["report", "logs.jsonl", "--out", "logs.jsonl"],
        ["analyze", "logs.jsonl", "--out", "./sub/../logs.jsonl"],
        ["ci", "logs.jsonl", "--out", "logs.jsonl"],
        ["ci", "logs.jsonl", "--junit", "hard.jsonl"],  # a hard link: same file, other name
        ["ci", "logs.jsonl", "--sarif", "link.jsonl"],  # a symlink
        ["rules", "suggest", "logs.jsonl", "--out", "logs.jsonl"],
    ],
)
def test_an_output_that_is_an_input_is_refused(tmp_path, args):
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(FAILED.read_bytes())
    (tmp_path / "sub").mkdir()
    os.link(logs, tmp_path / "hard.jsonl")
    (tmp_path / "link.jsonl").symlink_to(logs)
    r = _triage(args, tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "refusing to overwrite" in r.stderr and "Traceback" not in r.stderr
    assert logs.read_bytes() == FAILED.read_bytes()


def test_step_summary_and_baseline_count_as_outputs_and_inputs(tmp_path):
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(FAILED.read_bytes())
    r = _triage(["ci", logs], tmp_path, GITHUB_STEP_SUMMARY=str(logs))
    assert r.returncode == 2 and "GITHUB_STEP_SUMMARY" in r.stderr
    (tmp_path / "base.json").write_text("[]")
    r = _triage(["ci", logs, "--baseline", "base.json", "--out", "base.json"], tmp_path)
    assert r.returncode == 2 and (tmp_path / "base.json").read_text() == "[]"
    assert logs.read_bytes() == FAILED.read_bytes()


def test_a_renderer_failing_midway_leaves_the_previous_file(tmp_path):
    out = tmp_path / "report.md"
    out.write_text("previous report\n")

    def chunks():
        yield "# half a report\n"
        raise RuntimeError("renderer broke")

    with pytest.raises(RuntimeError):
        write_atomic(out, chunks())
    assert out.read_text() == "previous report\n"
    assert os.listdir(tmp_path) == ["report.md"]  # no temporary file left behind


def test_a_full_disk_leaves_the_previous_file(tmp_path, monkeypatch):
    out = tmp_path / "report.md"
    out.write_text("previous report\n")

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(TriageError, match="No space left on device"):
        write_atomic(out, "new report\n")
    assert out.read_text() == "previous report\n" and os.listdir(tmp_path) == ["report.md"]


def test_atomic_write_replaces_appends_and_keeps_umask_mode(tmp_path):
    out = tmp_path / "summary.md"
    write_atomic(out, "one\n")
    write_atomic(out, "two\n", append=True)
    assert out.read_text() == "one\ntwo\n"
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failing_template_keeps_the_previous_report(tmp_path):
    (tmp_path / "bad.md.j2").write_text("{{ report.no_such_key }}\n")
    (tmp_path / "report.md").write_text("previous report\n")
    r = _triage(["report", FAILED, "--template", "bad.md.j2", "--out", "report.md"], tmp_path)
    assert r.returncode == 2 and (tmp_path / "report.md").read_text() == "previous report\n"


def test_custom_templates_are_sandboxed(tmp_path):
    for n, body in enumerate(
        [
            "{{ ''.__class__.__mro__[1].__subclasses__() }}\n",
            "{{ report.__class__.__init__.__globals__ }}\n",
            "{{ cycler.__init__.__globals__.os.system('touch pwned') }}\n",
        ]
    ):
        (tmp_path / f"evil{n}.md.j2").write_text(body)
        r = _triage(["report", FAILED, "--template", f"evil{n}.md.j2"], tmp_path)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1
        assert "unsafe" in r.stderr or "sandbox" in r.stderr, r.stderr
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "ok.md.j2").write_text("# {{ report.issues | length }} issues {{ 'x' | code }}\n")
    r = _triage(["report", FAILED, "--template", "ok.md.j2"], tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("# ") and "`x`" in r.stdout
