"""Command line: parse options, call a plain function from triage.commands, map errors to exit codes.

No logic lives here. Every TriageError becomes one line on stderr and its exit code (2 for usage and
input errors); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from triage.commands.common import RunOptions
from triage.errors import TriageError

app = typer.Typer(
    name="triage",
    help="Turn Cloud Run logs into a dated incident audit report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ReportFormat(StrEnum):
    md = "md"
    json = "json"


class TableFormat(StrEnum):
    table = "table"
    json = "json"


def run(fn: Callable[[], int]) -> None:
    """Call a command function; TriageError -> one line on stderr and its exit code."""
    try:
        code = fn()
    except TriageError as exc:
        typer.echo(f"triage: error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except BrokenPipeError:
        sys.stderr.close()
        code = 0
    raise typer.Exit(code)


Sources = Annotated[list[str] | None, typer.Argument(help="Log exports: gcloud JSON, JSON lines or text; .gz ok; - for stdin.")]
Rules = Annotated[list[Path] | None, typer.Option("--rules", help="Extra rule folder or file (repeatable).")]
Disable = Annotated[list[str] | None, typer.Option("--disable", help="Turn a rule off by id (repeatable).")]
Env = Annotated[str, typer.Option("--env", help="Environment name shown in the report (e.g. staging).")]
Out = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")]
Previous = Annotated[
    Path | None, typer.Option("--previous", help="An earlier report's JSON: mark issues new, persisting, regressed.")
]
Config = Annotated[Path | None, typer.Option("--config", help="Project config (default: ./triage.yaml if present).")]
Notes = Annotated[
    Path | None, typer.Option("--annotations", help="Annotations file: status, commit, owner, link, note per issue.")
]


def _options(
    sources: list[str] | None,
    rules: list[Path] | None,
    disable: list[str] | None,
    env: str,
    date: str | None = None,
    **extra: Path | None,
) -> RunOptions:
    return RunOptions(
        sources=tuple(sources or ()),
        rules=tuple(rules or ()),
        disable=tuple(disable or ()),
        environment=env,
        date=date,
        **extra,
    )


@app.command()
def report(
    sources: Sources = None,
    out: Out = None,
    date: Annotated[str | None, typer.Option("--date", help="Report date YYYY-MM-DD (default: last log day).")] = None,
    env: Env = "",
    fmt: Annotated[ReportFormat, typer.Option("--format", help="md or json.")] = ReportFormat.md,
    template: Annotated[str, typer.Option("--template", help="Built-in template name or a jinja2 file.")] = "audit",
    rules: Rules = None,
    disable: Disable = None,
    previous: Previous = None,
    config: Config = None,
    annotations: Notes = None,
) -> None:
    """Render the dated audit report from log exports."""
    from triage.commands.report import report as cmd

    opts = _options(sources, rules, disable, env, date, previous=previous, config=config, annotations=annotations)
    run(lambda: cmd(opts, fmt=fmt.value, template=template, out=out))


@app.command()
def analyze(
    sources: Sources = None,
    out: Out = None,
    env: Env = "",
    fmt: Annotated[TableFormat, typer.Option("--format", help="table or json.")] = TableFormat.table,
    rules: Rules = None,
    disable: Disable = None,
    previous: Previous = None,
    config: Config = None,
    annotations: Notes = None,
) -> None:
    """List the issues only (for scripts)."""
    from triage.commands.report import analyze as cmd

    opts = _options(sources, rules, disable, env, previous=previous, config=config, annotations=annotations)
    run(lambda: cmd(opts, fmt=fmt.value, out=out))


@app.command("suggest-rules")
def suggest_rules(
    sources: Sources = None,
    out: Out = None,
    top: Annotated[int, typer.Option("--top", help="At most this many draft rules.")] = 5,
    min_count: Annotated[int, typer.Option("--min-count", help="Skip clusters with fewer events.")] = 2,
    rules: Rules = None,
    disable: Disable = None,
    config: Config = None,
) -> None:
    """Draft YAML rules, with examples, for the largest clusters of unclassified errors."""
    from triage.commands.suggest import suggest as cmd

    opts = _options(sources, rules, disable, "", config=config)
    run(lambda: cmd(opts, top=top, min_count=min_count, out=out))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
