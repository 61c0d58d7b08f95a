"""A live run without credentials: fast, one line on how to authenticate, exit 3; and on a terminal the
first thing on stderr, right away, is which project's credentials are being checked."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from tests.fake_logging import FakeLogging, sample_entries
from triage.cli import app

ROOT = Path(__file__).resolve().parents[1]
WINDOW = ("--from", "2025-09-05T00:00:00Z", "--to", "2025-09-06T00:00:00Z")
FIRST = b"checking credentials for project demo"


def _env() -> dict[str, str]:
    # The suite's loopback credential environment (conftest) plus this worktree on the path.
    return {**os.environ, "PYTHONPATH": str(ROOT), "HOME": "/nonexistent", "TERM": "xterm-256color"}


def test_live_run_without_credentials_fails_fast_with_one_line(fake: FakeLogging, tmp_path: Path) -> None:
    fake.reset(sample_entries(3))
    for command in (["analyze", "--format", "json"], ["pull", "--out", str(tmp_path / "x.jsonl")]):
        args = [*command, "--project", "demo", *WINDOW, "--api-endpoint", fake.rest_url]
        started = time.monotonic()
        result = CliRunner().invoke(app, args)
        elapsed = time.monotonic() - started
        assert result.exit_code == 3, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, lines
        for hint in ("gcloud auth application-default login", "GOOGLE_APPLICATION_CREDENTIALS", "--anonymous"):
            assert hint in lines[0], hint
        assert elapsed < 10.0  # the bar is 5 s; generous here because the machine is shared
        assert fake.requests == []  # nothing was sent without credentials
    assert not (tmp_path / "x.jsonl").exists()


def _first_stderr_on_a_tty(args: list[str], cwd: Path) -> tuple[float | None, bytes, int]:
    """(seconds until FIRST appeared on the terminal, all it received, exit code)."""
    master, slave = pty.openpty()
    started = time.monotonic()
    with open(cwd / "stdout.txt", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "triage", *args], stdout=out, stderr=slave, cwd=cwd, env=_env())
    os.close(slave)
    seen, first = b"", None
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        seen += data
        if first is None and FIRST in seen:
            first = time.monotonic() - started
    os.close(master)
    return first, seen, proc.wait(timeout=60)


def test_first_message_on_a_terminal_names_the_project(fake: FakeLogging, tmp_path: Path) -> None:
    for command in (["analyze", "--out", "a.json", "--format", "json"], ["pull", "--out", "p.jsonl"]):
        args = [*command, "--project", "demo", *WINDOW, "--api-endpoint", fake.rest_url]
        first, stderr, code = _first_stderr_on_a_tty(args, tmp_path)
        assert code == 3, stderr
        # Measured from process start (interpreter start-up included); generous for a loaded machine.
        assert first is not None and first < 10.0, stderr
        assert stderr.index(FIRST) < stderr.index(b"gcloud auth application-default login")
        assert (tmp_path / "stdout.txt").read_bytes() == b""  # the progress line never reaches stdout


def test_no_progress_line_off_a_terminal(fake: FakeLogging, tmp_path: Path) -> None:
    args = ["analyze", "--project", "demo", *WINDOW, "--api-endpoint", fake.rest_url, "--out", "a.json"]
    r = subprocess.run([sys.executable, "-m", "triage", *args], capture_output=True, cwd=tmp_path, env=_env())
    assert r.returncode == 3 and FIRST not in r.stderr and b"gcloud auth application-default login" in r.stderr
