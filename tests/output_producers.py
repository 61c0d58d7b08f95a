"""Every output triage produces, as one list the safety tests iterate over (leaks, markup).

A producer takes the log files, the extra CLI options of the case (``--rules DIR``, ``--redact P``) and a
scratch folder, and returns every byte the user could see: stdout, stderr and any file it wrote.
When you add an output format (SARIF, JUnit, a CI step summary, ...), add its producer to ``PRODUCERS``:
the secret-leak test then covers it with the whole planted corpus. Producers whose output holds counts
only, never log text, are also listed in ``COUNTS_ONLY``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import orjson
from typer.testing import CliRunner

from tests.fake_logging import FakeLogging
from triage.cli import app

Producer = Callable[[Sequence[str], Sequence[str], Path], str]


def cli(args: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Run the CLI in-process: (exit code, stdout + stderr)."""
    result = CliRunner().invoke(app, list(args), env=dict(env or {}))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout + result.stderr


def without_rules(extra: Sequence[str]) -> list[str]:
    """The options minus ``--rules DIR``: with built-in rules only, planted lines are unclassified errors."""
    out, skip = [], False
    for arg in extra:
        if skip:
            skip = False
        elif arg == "--rules":
            skip = True
        else:
            out.append(arg)
    return out


def _command(command: str, *args: str, team_rules: bool = True) -> Producer:
    def produce(paths: Sequence[str], extra: Sequence[str], tmp: Path) -> str:
        out = tmp / "out.txt"
        options = list(extra) if team_rules else without_rules(extra)
        code, printed = cli([*command.split(), *paths, *args, *options, "--out", str(out)])
        assert code == 0, printed
        return printed + (out.read_text(encoding="utf-8") if out.exists() else "")

    return produce


def _pull_summary(paths: Sequence[str], extra: Sequence[str], tmp: Path) -> str:
    """What ``triage pull`` prints (progress summary, notes) when the pull fails midway and keeps the pages."""
    entries = []
    for path in paths:
        for line in Path(path).read_bytes().splitlines():
            try:
                entries.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    fake = FakeLogging((entries * (2500 // max(len(entries), 1) + 1))[:2500]).start(rest=True, grpc=False)
    try:
        fake.fail(None, 403)  # the second page is refused: a partial pull, kept with --allow-partial
        args = ["pull", "--project", "demo", "--from", "2025-09-05T00:00:00Z", "--to", "2025-09-06T00:00:00Z"]
        code, printed = cli([*args, "--anonymous", "--api-endpoint", fake.rest_url, "--allow-partial",
                             "--out", str(tmp / "pulled.jsonl")])  # fmt: skip
    finally:
        fake.stop()
    assert code == 0 and "PARTIAL" in printed, printed
    return printed  # the pulled file is the raw logs by design: not a report output


def _ci(*args: str, files: Sequence[str] = ()) -> Producer:
    """``triage ci``: stdout (summary, GitHub annotations) plus the files it writes (JUnit, SARIF, step summary)."""

    def produce(paths: Sequence[str], extra: Sequence[str], tmp: Path) -> str:
        summary = tmp / "step-summary.md"
        outputs = [tmp / f"ci-{name}" for name in files]
        options = [opt for name, path in zip(files, outputs, strict=True) for opt in (f"--{name}", str(path))]
        env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"}
        code, printed = cli(["ci", *paths, *args, *options, *extra, "--github-annotations", "always"], env=env)
        assert code in (0, 1), printed  # 1: issues at --fail-on, the normal outcome for this corpus
        written = [p.read_text(encoding="utf-8") for p in (*outputs, summary) if p.exists()]
        assert len(written) == len(files) + 1, "ci did not write every file"
        return printed + "".join(written)

    return produce


PRODUCERS: dict[str, Producer] = {
    "report-md": _command("report"),
    "report-md-postmortem": _command("report", "--template", "postmortem"),
    "report-json": _command("report", "--format", "json"),
    "report-md-unclassified": _command("report", team_rules=False),
    "report-json-unclassified": _command("report", "--format", "json", team_rules=False),
    "analyze-table": _command("analyze"),
    "analyze-json": _command("analyze", "--format", "json"),
    "rules-suggest": _command("rules suggest", "--top", "50", "--min-count", "1", team_rules=False),
    "pull-summary": _pull_summary,
    "ci-text-annotations-step-summary": _ci(),
    "ci-json": _ci("--format", "json"),
    "ci-junit": _ci(files=("junit",)),
    "ci-sarif": _ci(files=("sarif",)),
}
COUNTS_ONLY = {"analyze-table", "pull-summary"}
