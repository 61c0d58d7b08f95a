"""Command line: parse options, call a plain function from triage.commands, map errors to exit codes.

No logic lives here. Every TriageError becomes one line on stderr and its exit code (2 for usage and
input errors); Ctrl-C (SIGINT) becomes "interrupted" and 130, the shell's code for it; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

import triage
from triage.commands.common import RunOptions, bigquery_dry_run, make_bigquery_options
from triage.commands.progress import describe_work, output_elsewhere, progress
from triage.commands.pull import make_live_options
from triage.errors import RuleErrors, TriageError
from triage.output import strip_controls

INTERRUPTED = 130  # 128 + SIGINT

app = typer.Typer(
    name="triage",
    help="Turn Cloud Run logs into a dated incident audit report.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"triage {triage.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Turn Cloud Run logs into a dated incident audit report."""


# One --format vocabulary: text (for a terminal), md (a document), json (for programs); each command
# takes the ones that apply. "table" is the old name of analyze's and rules list's text output.
class ReportFormat(StrEnum):
    md = "md"
    json = "json"


class TextFormat(StrEnum):
    text = "text"
    json = "json"
    table = "table"


class CiFormat(StrEnum):
    text = "text"
    json = "json"


class FailOn(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    any = "any"
    none = "none"


class Annotations(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


def _clean(exc: Exception) -> str:
    """An error message on one line, without control characters: it can quote log text or file content
    (an ESC sequence, a carriage return, a NUL), which must not steer the terminal or a CI log."""
    return strip_controls(str(exc)).replace("\n", " ").replace("\t", " ")


def run(fn: Callable[[], int]) -> None:
    """Call a command function; TriageError -> one line on stderr and its exit code."""
    try:
        code = fn()
    except RuleErrors as exc:  # --collect: one line per error
        for err in exc.errors:
            typer.echo(f"triage: error: {_clean(err)}", err=True)
        typer.echo(f"triage: {len(exc.errors)} rule error(s)", err=True)
        raise typer.Exit(exc.exit_code) from None
    except TriageError as exc:
        typer.echo(f"triage: error: {_clean(exc)}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except BrokenPipeError:
        sys.stderr.close()
        code = 0
    except KeyboardInterrupt:
        # Caught here, not by click (which prints "Aborted!" and exits 1); outputs are atomic, none is half-written.
        typer.echo("triage: interrupted", err=True)
        raise typer.Exit(INTERRUPTED) from None
    raise typer.Exit(code)


Sources = Annotated[
    list[str] | None, typer.Argument(help="Log exports: gcloud JSON, JSON lines or text; .gz ok; - for stdin.")
]
Rules = Annotated[list[Path] | None, typer.Option("--rules", help="Extra rule folder or file (repeatable).")]
Disable = Annotated[list[str] | None, typer.Option("--disable", help="Turn a rule off by id (repeatable).")]
Env = Annotated[str, typer.Option("--env", help="Environment name shown in the report (e.g. staging).")]
Out = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")]
Redact = Annotated[
    list[str] | None,
    typer.Option("--redact", help="Extra regex to mask in every output (repeatable; adds to config redact:)."),
]
Previous = Annotated[
    Path | None, typer.Option("--previous", help="An earlier report's JSON: mark issues new, persisting, regressed.")
]
Config = Annotated[Path | None, typer.Option("--config", help="Project config (default: ./triage.yaml if present).")]
Notes = Annotated[
    Path | None, typer.Option("--annotations", help="Annotations file: status, commit, owner, link, note per issue.")
]

# Live options (Cloud Logging instead of files): declared once here, added to report, analyze, ci and pull
# by @live_options.
Project = Annotated[str | None, typer.Option("--project", help="Read this Google Cloud project's logs.")]
Service = Annotated[
    list[str] | None, typer.Option("--service", help="Cloud Run service or job (repeatable; default: all).")
]
Since = Annotated[str | None, typer.Option("--since", help="Window ending now: 30m, 2h, 1d (default 1h).")]
From = Annotated[str | None, typer.Option("--from", help="Window start, RFC 3339 (2025-09-05T10:00:00Z).")]
To = Annotated[str | None, typer.Option("--to", help="Window end, RFC 3339 (default: now).")]
Severity = Annotated[
    str | None, typer.Option("--severity", help="Severity floor (default none: plain stderr has no severity).")
]
Limit = Annotated[int | None, typer.Option("--limit", help="Stop after this many entries.")]
Pushdown = Annotated[
    bool, typer.Option("--pushdown", help="Send the catalog's keywords as server-side terms for stdout/stderr.")
]
ApiEndpoint = Annotated[
    str | None,
    typer.Option(
        "--api-endpoint", help="http://host:port (REST) or host:port (gRPC, no TLS); env TRIAGE_LOGGING_ENDPOINT."
    ),
]
Anonymous = Annotated[bool, typer.Option("--anonymous", help="No credentials (loopback endpoints only).")]
AllowPartial = Annotated[
    bool, typer.Option("--allow-partial", help="Keep what came when a pull fails midway; mark the report PARTIAL.")
]
_LIVE_PARAMS: tuple[tuple[str, object, object], ...] = (
    ("service", Service, None),
    ("since", Since, None),
    ("from_", From, None),
    ("to", To, None),
    ("severity", Severity, None),
    ("limit", Limit, None),
    ("pushdown", Pushdown, False),
    ("api_endpoint", ApiEndpoint, None),
    ("anonymous", Anonymous, False),
    ("allow_partial", AllowPartial, False),
)
_LIVE = tuple(name for name, _, _ in _LIVE_PARAMS if name != "service")

# BigQuery instead of Cloud Logging (report, analyze, ci): --service/--since/--from/--to apply, --project bills.
BigQuery = Annotated[
    str | None,
    typer.Option(
        "--bigquery",
        help="Read a Log Analytics view in its linked dataset (PROJECT.DATASET._AllLogs) "
        "or a log sink's dataset (PROJECT.DATASET); --project is then the billing project.",
    ),
]
BigQueryEndpoint = Annotated[
    str | None,
    typer.Option("--bigquery-endpoint", help="http(s)://host:port of a BigQuery API; env TRIAGE_BIGQUERY_ENDPOINT."),
]
MaxBytesBilled = Annotated[
    int | None, typer.Option("--maximum-bytes-billed", help="Fail any BigQuery job that would bill more bytes.")
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the bytes each BigQuery query would process; read no rows.")
]


_BIGQUERY_PARAMS: tuple[tuple[str, object, object], ...] = (
    ("bigquery", BigQuery, None),
    ("bigquery_endpoint", BigQueryEndpoint, None),
    ("maximum_bytes_billed", MaxBytesBilled, None),
    ("dry_run", DryRun, False),
)


def live_options(*, bigquery: bool = True) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Add --project, the live options and (unless ``bigquery=False``) the BigQuery options to a command;
    the function receives them as ``live_args``."""
    project = ("project", Project, None)
    added = (project, *_LIVE_PARAMS, *(_BIGQUERY_PARAMS if bigquery else ()))

    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        sig = inspect.signature(fn, eval_str=True)  # typer takes a given __signature__ as is
        params = [p for p in sig.parameters.values() if p.name != "live_args"]
        params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d, annotation=a) for n, a, d in added]

        @functools.wraps(fn)
        def command(**kwargs: object) -> None:
            live_args = {name: kwargs.pop(name) for name, _, _ in added}
            fn(**kwargs, live_args=live_args)

        # typer reads the options from the signature and the annotations
        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        hints = {k: v for k, v in fn.__annotations__.items() if k != "live_args"}
        command.__annotations__ = {**hints, **{name: ann for name, ann, _ in added}}
        return command

    return wrap


def _live(args: dict[str, object], sources: list[str] | None = None, *, always_live: bool = False):
    """The live options from a command's ``live_args``: None for a file run (see ``make_live_options``)."""
    live = {k: args[k] for k in _LIVE}
    return make_live_options(args["project"], args["service"], sources=sources or (), always_live=always_live, **live)  # type: ignore[arg-type]


_BIGQUERY = ("bigquery_endpoint", "maximum_bytes_billed", "dry_run", "anonymous", "since", "from_", "to")
_CLOUD_ONLY = ("severity", "limit", "pushdown", "api_endpoint", "allow_partial")


def _bigquery(args: dict[str, object]):
    """The BigQuery options from a command's parameters, or None without --bigquery."""
    return make_bigquery_options(
        args["bigquery"],  # type: ignore[arg-type]
        args["project"],  # type: ignore[arg-type]
        args["service"],  # type: ignore[arg-type]
        **{k: args[k] for k in (*_BIGQUERY, *_CLOUD_ONLY)},  # type: ignore[arg-type]
    )


def _options(
    sources: list[str] | None,
    rules: list[Path] | None,
    disable: list[str] | None,
    env: str,
    date: str | None = None,
    **extra: object,
) -> RunOptions:
    return RunOptions(
        sources=tuple(sources or ()),
        rules=tuple(rules or ()),
        disable=tuple(disable or ()),
        environment=env,
        date=date,
        **extra,  # type: ignore[arg-type]
    )


@app.command()
@live_options()
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
    redact: Redact = None,
    live_args: dict[str, object] | None = None,
) -> None:
    """Render the dated audit report from log exports or, with --project, from Cloud Logging."""
    args = live_args or {}
    from triage.commands.report import report as cmd

    def go() -> int:
        bq = _bigquery(args)
        live = None if bq else _live(args, sources)
        opts = _options(
            sources, rules, disable, env, date, previous=previous, config=config, annotations=annotations, live=live, bigquery=bq,
            redact_patterns=tuple(redact or ()),
        )  # fmt: skip
        if bq is not None and bq.dry_run:
            return bigquery_dry_run(opts)
        # A report printed to the same terminal would interleave with the progress line: none then.
        with progress(
            describe_work(opts.sources, live.project if live else args["project"]), quiet=not output_elsewhere(out)
        ):
            return cmd(opts, fmt=fmt.value, template=template, out=out)

    run(go)


@app.command()
@live_options()
def analyze(
    sources: Sources = None,
    out: Out = None,
    env: Env = "",
    fmt: Annotated[TextFormat, typer.Option("--format", help="text (a table) or json.")] = TextFormat.text,
    rules: Rules = None,
    disable: Disable = None,
    previous: Previous = None,
    config: Config = None,
    annotations: Notes = None,
    redact: Redact = None,
    live_args: dict[str, object] | None = None,
) -> None:
    """List the issues only (for scripts)."""
    args = live_args or {}
    from triage.commands.report import analyze as cmd

    def go() -> int:
        bq = _bigquery(args)
        live = None if bq else _live(args, sources)
        opts = _options(
            sources, rules, disable, env, previous=previous, config=config, annotations=annotations, live=live, bigquery=bq,
            redact_patterns=tuple(redact or ()),
        )  # fmt: skip
        if bq is not None and bq.dry_run:
            return bigquery_dry_run(opts)
        with progress(
            describe_work(opts.sources, live.project if live else args["project"]), quiet=not output_elsewhere(out)
        ):
            return cmd(opts, fmt=fmt.value, out=out)

    run(go)


@app.command()
@live_options(bigquery=False)
def pull(
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON lines file to write (.gz compresses).")],
    rules: Rules = None,
    disable: Disable = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display or summary.")] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds for the whole pull (default: 3 min per 10k --limit).")
    ] = None,
    live_args: dict[str, object] | None = None,
) -> None:
    """Save Cloud Logging entries to a file, one LogEntry per line as the API returned it."""
    args = live_args or {}
    from triage.commands.pull import catalog_keywords
    from triage.commands.pull import pull as cmd

    def go() -> int:
        live = _live(args, always_live=True)  # pull always reads Cloud Logging: the default project without --project
        assert live is not None
        live = dataclasses.replace(live, timeout=timeout)
        keywords = catalog_keywords(rules or (), disable or ()) if args["pushdown"] else ()
        return cmd(live, out, quiet, keywords=keywords)

    run(go)


rules_app = typer.Typer(help="Inspect, test and lint the rule catalog.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
RulePaths = Annotated[
    list[Path] | None, typer.Argument(help="Rule files or folders to check (default: the whole catalog).")
]
Collect = Annotated[bool, typer.Option("--collect", help="Report every rule load error at once.")]


def _rules_options(rules: list[Path] | None, disable: list[str] | None, collect: bool = False):
    from triage.commands.rules import RulesOptions

    return RulesOptions(rules=tuple(rules or ()), disable=tuple(disable or ()), collect=collect)


@rules_app.command("list")
def rules_list(
    fmt: Annotated[TextFormat, typer.Option("--format", help="text (a table) or json.")] = TextFormat.text,
    rules: Rules = None,
    disable: Disable = None,
) -> None:
    """List the rules: id, title, severity, category, source file."""
    from triage.commands.rules import list_rules

    run(lambda: list_rules(_rules_options(rules, disable), fmt=fmt.value))


@rules_app.command("show")
def rules_show(
    rule_id: Annotated[str, typer.Argument(help="Rule id.")], rules: Rules = None, disable: Disable = None
) -> None:
    """Everything about one rule."""
    from triage.commands.rules import show_rule

    run(lambda: show_rule(_rules_options(rules, disable), rule_id))


@rules_app.command("test")
def rules_test(paths: RulePaths = None, rules: Rules = None, disable: Disable = None, collect: Collect = False) -> None:
    """Run every example both ways through the matcher; exit 1 on any failure."""
    from triage.commands.rules import test_rules

    run(lambda: test_rules(_rules_options(rules, disable, collect), tuple(paths or ())))


@rules_app.command("lint")
def rules_lint(paths: RulePaths = None, rules: Rules = None, disable: Disable = None, collect: Collect = False) -> None:
    """Quality checks: examples both ways, empty or slow patterns, overlaps, prefilter, placeholders."""
    from triage.commands.rules import lint_rules

    run(lambda: lint_rules(_rules_options(rules, disable, collect), tuple(paths or ())))


@rules_app.command("schema")
def rules_schema(out: Out = None) -> None:
    """The rule files' JSON Schema (generated from the rule model), for editors and CI checks."""
    from triage.commands.rules import schema

    run(lambda: schema(out))


@rules_app.command("suggest")
def rules_suggest(
    sources: Sources = None,
    out: Out = None,
    top: Annotated[int, typer.Option("--top", help="At most this many draft rules.")] = 5,
    min_count: Annotated[int, typer.Option("--min-count", help="Skip clusters with fewer events.")] = 2,
    rules: Rules = None,
    disable: Disable = None,
    config: Config = None,
    redact: Redact = None,
) -> None:
    """Draft YAML rules, with examples, for the largest clusters of unclassified errors."""
    from triage.commands.suggest import suggest as cmd

    opts = _options(sources, rules, disable, "", config=config, redact_patterns=tuple(redact or ()))
    run(lambda: cmd(opts, top=top, min_count=min_count, out=out))


FailOnOpt = Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 on an open, new issue of this severity or worse.")]
SinceDeploy = Annotated[bool, typer.Option("--since-deploy", help="Only issues seen since each service's last deploy.")]
Baseline = Annotated[Path | None, typer.Option("--baseline", help="A previous JSON report: its issues never fail.")]
CiFmt = Annotated[CiFormat, typer.Option("--format", help="What goes to stdout (or --out): text summary or json.")]
Junit = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML (one case per rule and service).")]
Sarif = Annotated[Path | None, typer.Option("--sarif", help="Write SARIF 2.1.0 for code scanning (open issues).")]
SarifLocation = Annotated[
    str | None,
    typer.Option(
        "--sarif-file-location",
        help="Repository file the SARIF results point at (default: service.yaml, Dockerfile or the app entry).",
    ),
]
GithubAnnotations = Annotated[
    Annotations, typer.Option("--github-annotations", help="GitHub workflow-command annotations (auto: in Actions).")
]


@app.command()
@live_options()
def ci(
    sources: Sources = None,
    fail_on: FailOnOpt = FailOn.high,
    since_deploy: SinceDeploy = False,
    baseline: Baseline = None,
    fmt: CiFmt = CiFormat.text,
    out: Out = None,
    junit: Junit = None,
    sarif: Sarif = None,
    sarif_file_location: SarifLocation = None,
    github_annotations: GithubAnnotations = Annotations.auto,
    env: Env = "",
    rules: Rules = None,
    disable: Disable = None,
    config: Config = None,
    annotations: Notes = None,
    redact: Redact = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress line on stderr.")] = False,
    live_args: dict[str, object] | None = None,
) -> None:
    """Check a deploy's logs in CI: exit 0 pass, 1 issues at --fail-on, 2 bad input, 3 logs read partly."""
    args = live_args or {}
    from triage.commands.ci import CiOptions
    from triage.commands.ci import ci as cmd

    ci_opts = CiOptions(
        fail_on=fail_on.value,
        since_deploy=since_deploy,
        baseline=baseline,
        fmt=fmt.value,
        out=out,
        junit=junit,
        sarif=sarif,
        sarif_file_location=sarif_file_location,
        annotations=github_annotations.value,
        quiet=quiet,
    )

    def go() -> int:
        bq = _bigquery(args)
        live = None if bq else _live(args, sources)
        opts = _options(
            sources, rules, disable, env, config=config, annotations=annotations, live=live, bigquery=bq,
            gcp_project=None if bq else live.project if live else args["project"], redact_patterns=tuple(redact or ()),
            allow_partial=bool(args["allow_partial"]),
        )  # fmt: skip
        if bq is not None and bq.dry_run:
            return bigquery_dry_run(opts)
        return cmd(opts, ci_opts)

    run(go)


def main() -> None:
    try:
        app(prog_name="triage")  # also under python -m triage: completion keys on the name
    except KeyboardInterrupt:  # Ctrl-C outside a command's run (while parsing options)
        print("triage: interrupted", file=sys.stderr)
        sys.exit(INTERRUPTED)


if __name__ == "__main__":
    main()
