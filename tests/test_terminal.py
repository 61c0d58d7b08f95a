"""The terminal: --version, shell completion, one --format vocabulary, live options declared once, and a
progress line on stderr only when stderr is a terminal (never in stdout or an output file)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer.main

import triage
from triage import cli

ROOT = Path(__file__).resolve().parents[1]
STAGING = ROOT / "samples/staging-2025-09-05.jsonl"
CMD = [sys.executable, "-m", "triage"]
ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": "/nonexistent"}


def run(*args: object, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True, env={**ENV, **(env or {})}, **kw)


def test_version():
    r = run("--version")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert r.returncode == 0 and r.stdout == f"triage {triage.__version__}\n" and triage.__version__ == version


def test_shell_completion_script_and_completions():
    r = run("--show-completion", "bash", env={"SHELL": "/bin/bash"})
    assert r.returncode == 0 and "_TRIAGE_COMPLETE" in r.stdout and "complete " in r.stdout
    words = {"COMP_WORDS": "triage ru", "COMP_CWORD": "1", "_TRIAGE_COMPLETE": "complete_bash"}
    assert run(env=words).stdout.split() == ["rules"]
    words = {"COMP_WORDS": "triage ci --sarif", "COMP_CWORD": "2", "_TRIAGE_COMPLETE": "complete_bash"}
    assert run(env=words).stdout.split() == ["--sarif", "--sarif-file-location"]


def _commands() -> dict[str, object]:
    group = typer.main.get_command(cli.app)
    out = dict(group.commands)
    out.update({f"rules {k}": v for k, v in group.commands["rules"].commands.items()})
    return out


def test_one_format_vocabulary():
    seen = {}
    for name, command in _commands().items():
        for param in command.params:
            if "--format" in getattr(param, "opts", ()):
                seen[name] = {str(c) for c in param.type_descriptor.choices}
    assert set(seen) == {"report", "analyze", "ci", "rules list"}
    assert all(choices <= {"text", "md", "json", "table"} for choices in seen.values())  # table: old name of text
    assert all("json" in c for c in seen.values()) and seen["report"] == {"md", "json"}
    assert (
        {"text", "json"} <= seen["analyze"]
        and {"text", "json"} <= seen["ci"]
        and {"text", "json"} <= seen["rules list"]
    )


def test_text_is_the_default_and_table_its_old_name():
    default = run("analyze", STAGING)
    assert (
        default.stdout
        == run("analyze", STAGING, "--format", "text").stdout
        == run("analyze", STAGING, "--format", "table").stdout
    )
    assert default.returncode == 0 and default.stdout.startswith("ID ")


def test_live_options_are_declared_once_and_every_live_command_has_them():
    live = {"--project", "--service", "--since", "--from", "--to", "--severity", "--limit", "--pushdown",
            "--api-endpoint", "--anonymous", "--allow-partial"}  # fmt: skip
    commands = _commands()
    for name in ("report", "analyze", "ci", "pull"):
        options = {o for p in commands[name].params for o in getattr(p, "opts", ())}
        assert live <= options, (name, live - options)
    source = (ROOT / "triage/cli.py").read_text()
    for option in live - {"--project"}:
        assert source.count(f'"{option}"') == 1, option
    # --project is optional everywhere: pull and a live run without files fall back to the default project
    for name in ("report", "analyze", "ci", "pull"):
        assert not next(p for p in commands[name].params if "--project" in p.opts).required, name


def _run_with_tty_stderr(args: list[str], cwd: Path, *, stdout_tty: bool = False) -> tuple[int, bytes]:
    """Run triage with stderr on a pseudo-terminal (stdout to a file, or to the same terminal);
    returns (exit code, what the terminal received)."""
    master, slave = pty.openpty()
    with open(cwd / "stdout.txt", "wb") as out:
        proc = subprocess.Popen(
            [*CMD, *args],
            stdout=slave if stdout_tty else out,
            stderr=slave,
            cwd=cwd,
            env={**ENV, "TERM": "xterm-256color", "COLUMNS": "100"},
        )
    os.close(slave)
    chunks = []
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
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks)


@pytest.mark.parametrize("quiet", [False, True], ids=["progress", "quiet"])
def test_progress_goes_to_a_terminal_stderr_only(tmp_path, quiet):
    args = ["ci", str(STAGING), "--format", "json", "--out", "ci.json", "--junit", "j.xml"]
    code, stderr = _run_with_tty_stderr([*args, *(["--quiet"] if quiet else [])], tmp_path)
    assert code == 1
    if quiet:
        assert stderr == b""
    else:
        assert b"triage: reading 1 source(s)" in stderr and b"MB" in stderr
    tty_outputs = [(tmp_path / f).read_bytes() for f in ("stdout.txt", "ci.json", "j.xml")]
    assert all(b"\x1b" not in o and b"triage: reading" not in o for o in tty_outputs)
    plain = tmp_path / "plain"
    plain.mkdir()
    r = subprocess.run([*CMD, *args], capture_output=True, cwd=plain, env=ENV)
    assert r.returncode == 1 and r.stderr == b""  # not a terminal: no progress at all
    assert [(plain / f).read_bytes() for f in ("ci.json", "j.xml")] == tty_outputs[1:]


@pytest.mark.parametrize("command", ["report", "analyze"])
def test_report_and_analyze_show_progress_when_their_output_goes_elsewhere(tmp_path, command):
    code, stderr = _run_with_tty_stderr([command, str(STAGING), "--format", "json", "--out", "out.json"], tmp_path)
    assert code == 0 and b"triage: reading 1 source(s)" in stderr
    out = (tmp_path / "out.json").read_bytes()
    plain = subprocess.run([*CMD, command, str(STAGING), "--format", "json"], capture_output=True, env=ENV)
    assert plain.returncode == 0 and plain.stderr == b"" and plain.stdout == out  # same bytes, no progress


def test_no_progress_when_the_report_goes_to_the_same_terminal(tmp_path):
    code, screen = _run_with_tty_stderr(["analyze", str(STAGING)], tmp_path, stdout_tty=True)
    assert code == 0 and b"4 issue(s); 1975 entries" in screen  # the table reached the terminal
    assert b"triage: reading" not in screen and b"\x1b" not in screen
