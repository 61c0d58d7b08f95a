"""Every output triage produces, as one list the safety tests iterate over (leaks, markup).

A producer takes the log files, the extra CLI options of the case (``--rules DIR``, ``--redact P``) and a
scratch folder, and returns every byte the user could see: stdout, stderr and any file it wrote.
When you add an output format (SARIF, JUnit, a CI step summary, ``triage pull`` lines), add its producer
to ``PRODUCERS``: the secret-leak test then covers it with the whole planted corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from typer.testing import CliRunner

from triage.cli import app

Producer = Callable[[Sequence[str], Sequence[str], Path], str]


def cli(args: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Run the CLI in-process: (exit code, stdout + stderr)."""
    result = CliRunner().invoke(app, list(args), env=dict(env or {}))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout + result.stderr


def _command(*args: str) -> Producer:
    def produce(paths: Sequence[str], extra: Sequence[str], tmp: Path) -> str:
        out = tmp / "out.txt"
        code, printed = cli([*args[:1], *paths, *args[1:], *extra, "--out", str(out)])
        assert code == 0, printed
        return printed + out.read_text(encoding="utf-8")

    return produce


PRODUCERS: dict[str, Producer] = {
    "report-md": _command("report"),
    "report-json": _command("report", "--format", "json"),
    "analyze-table": _command("analyze"),
    "analyze-json": _command("analyze", "--format", "json"),
}
