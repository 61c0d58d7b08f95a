"""Ctrl-C (SIGINT): one line on stderr and exit 130, no traceback, no half-written output."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from triage import cli
from triage.commands import ci as ci_command

ROOT = Path(__file__).resolve().parents[1]
FAILED = ROOT / "samples/scenarios/deploy-failed.jsonl"


def test_keyboard_interrupt_in_a_command_exits_130(monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ci_command, "run_analysis", interrupted)
    (tmp_path / "out.txt").write_text("previous\n")
    result = CliRunner().invoke(cli.app, ["ci", str(FAILED), "--out", str(tmp_path / "out.txt")])
    assert result.exit_code == 130
    assert result.stderr == "triage: interrupted\n"
    assert (tmp_path / "out.txt").read_text() == "previous\n"


def test_sigint_to_a_running_ci_exits_130(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "triage", "ci", "-", "--out", str(tmp_path / "out.txt")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdin is not None
    # Far more than a pipe holds: once this write returns, triage is inside the run reading stdin.
    data = FAILED.read_bytes()
    proc.stdin.write(data * (2_000_000 // len(data) + 1))
    proc.stdin.flush()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.decode() == "triage: interrupted\n"
    assert not (tmp_path / "out.txt").exists()
