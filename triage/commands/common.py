"""The shared run: options -> sources -> catalog -> collected matches -> issues and services."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from triage.analysis.findings import Findings, find
from triage.analysis.issues import Issue
from triage.analysis.services import ServiceState, build_services
from triage.commands.progress import current
from triage.config import ProjectConfig, find_config, load_annotations_file
from triage.engine import Catalog, Matcher, load_catalog
from triage.errors import NoEntriesError, TriageError
from triage.output import refuse_overwriting_inputs
from triage.pipeline import Collected, RunStats, collect
from triage.pushdown import push_down
from triage.report import model as report_model
from triage.report.redact import Redactor, extra_patterns
from triage.sources import Source
from triage.sources.files import FileSource, distinct

if TYPE_CHECKING:
    from triage.commands.pull import LiveOptions
    from triage.sources.bigquery import BigQuerySource

BIGQUERY_ENDPOINT_ENV = "TRIAGE_BIGQUERY_ENDPOINT"


@dataclass(frozen=True)
class BigQueryOptions:
    """``--bigquery TABLE`` and the live options that apply to it, as the user gave them."""

    table: str
    project: str | None = None  # the billing project; default the table's
    services: tuple[str, ...] = ()
    since: str | None = None
    from_: str | None = None
    to: str | None = None
    endpoint: str | None = None  # falls back to $TRIAGE_BIGQUERY_ENDPOINT
    anonymous: bool = False
    maximum_bytes_billed: int | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class RunOptions:
    sources: tuple[str, ...] = ()
    rules: tuple[Path, ...] = ()
    disable: tuple[str, ...] = ()
    environment: str = ""
    date: str | None = None
    # Extra redaction regexes: the project config's ``redact:`` list followed by each ``--redact``.
    redact_patterns: tuple[str, ...] = ()
    service_names: dict[str, str] = field(default_factory=dict)
    config: Path | None = None  # triage.yaml; None: ./triage.yaml when present
    annotations: Path | None = None  # overrides the config's annotations
    previous: Path | None = None  # an earlier report's JSON, for "since the last audit"
    use_config: bool = True  # False: ignore ./triage.yaml (tests, --no-config)
    live: LiveOptions | None = None  # --project and friends: read Cloud Logging instead of files
    bigquery: BigQueryOptions | None = None  # --bigquery TABLE: read a Log Analytics view or sink dataset
    gcp_project: str | None = None  # GCP project id for Logs Explorer links (default: the one the logs name)
    # --allow-partial on a file run: a file marked partial by ``pull --allow-partial`` does not fail ``ci``
    # by itself (the report still says PARTIAL). A live run keeps its own meaning (LiveOptions).
    allow_partial: bool = False


@dataclass
class Analysis:
    catalog: Catalog
    collected: Collected
    issues: list[Issue]
    services: list[ServiceState]
    findings: Findings
    project: ProjectConfig = field(default_factory=ProjectConfig)
    options: RunOptions | None = None  # the options after merging the project config
    # The run's one redactor: cluster templates, the report model and rule drafts share what it learned
    # and the patterns it switched off. None: build_model makes one from the options.
    redactor: Redactor | None = None


def merge_config(opts: RunOptions, project: ProjectConfig) -> RunOptions:
    """Command-line options win; lists from the config are added (config first, then the command line)."""
    return replace(
        opts,
        rules=tuple(project.rules) + tuple(opts.rules),
        disable=tuple(dict.fromkeys((*project.disable, *opts.disable))),
        environment=opts.environment or project.environment,
        redact_patterns=tuple(dict.fromkeys((*project.redact, *opts.redact_patterns))),
        service_names={**project.display_names, **opts.service_names},
    )


def load_project(opts: RunOptions) -> ProjectConfig:
    project = (find_config(opts.config) if opts.use_config or opts.config else None) or ProjectConfig()
    if opts.annotations is not None:
        if not opts.annotations.is_file():
            raise TriageError(f"--annotations: no such file: {opts.annotations}")
        project = replace(project, annotations=load_annotations_file(opts.annotations))
    return project


def load_previous(path: Path) -> Mapping[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise TriageError(f"--previous: cannot read {path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise TriageError(f"--previous: {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise TriageError(f"--previous: {path} is not a triage report JSON object")
    return data


def check_outputs(opts: RunOptions, outputs: dict[str, Path | None], *inputs: Path | None) -> None:
    """Refuse, before any work, an output path that is one of the files the run reads."""
    refuse_overwriting_inputs(outputs, (*opts.sources, opts.previous, opts.config, opts.annotations, *inputs))


def file_sources(paths: Sequence[str]) -> list[Source]:
    if not paths:
        raise TriageError("no log source given: pass export files (or - for stdin), or --project to read Cloud Logging")
    return list(distinct([FileSource(p) for p in paths]))


def live_sources(opts: RunOptions, matcher: Matcher) -> list[Source]:
    from triage.commands.pull import live_source  # keeps the Cloud Logging code out of file runs

    assert opts.live is not None
    if opts.sources:
        raise TriageError("give either log files or --project, not both")
    # Pages, entries and quota waits go to the run's progress line (a no-op off a terminal).
    return [live_source(opts.live, keywords=matcher.keywords(), on_page=current().page)]


def make_bigquery_options(
    table: str | None,
    project: str | None,
    services: Sequence[str] | None,
    *,
    bigquery_endpoint: str | None = None,
    maximum_bytes_billed: int | None = None,
    dry_run: bool = False,
    anonymous: bool = False,
    since: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    **cloud_only: object,
) -> BigQueryOptions | None:
    """The CLI's BigQuery options, or None; options of the other mode are an error, never ignored."""
    if not table:
        given = {"--bigquery-endpoint": bigquery_endpoint, "--maximum-bytes-billed": maximum_bytes_billed}
        used = [name for name, value in {**given, "--dry-run": dry_run}.items() if value]
        if used:
            raise TriageError(f"{', '.join(used)} need --bigquery TABLE")
        return None
    used = ["--" + name.replace("_", "-") for name, value in cloud_only.items() if value]
    if used:
        raise TriageError(f"{', '.join(used)} apply to Cloud Logging (--project alone), not to --bigquery")
    return BigQueryOptions(
        table=table,
        project=project,
        services=tuple(dict.fromkeys(s for s in services or () if s)),
        since=since,
        from_=from_,
        to=to,
        endpoint=bigquery_endpoint,
        anonymous=anonymous,
        maximum_bytes_billed=maximum_bytes_billed,
        dry_run=dry_run,
    )


def bigquery_source(options: BigQueryOptions, now: datetime | None = None) -> BigQuerySource:
    from triage.commands.pull import LiveOptions, resolve_window
    from triage.sources.bigquery import BigQueryQuery, BigQuerySource, Table

    # The same window rules as a Cloud Logging run (--since, or --from/--to, default the last hour).
    start, end = resolve_window(LiveOptions("", since=options.since, from_=options.from_, to=options.to), now)
    query = BigQueryQuery(
        Table.parse(options.table),
        start,
        end,
        services=options.services,
        billing_project=options.project or "",
        maximum_bytes_billed=options.maximum_bytes_billed,
    )
    endpoint = options.endpoint or os.environ.get(BIGQUERY_ENDPOINT_ENV) or None
    return BigQuerySource(query, endpoint=endpoint, anonymous=options.anonymous)


def bigquery_dry_run(opts: RunOptions, out: TextIO | None = None) -> int:
    """``--dry-run``: what the run's queries would process (with the push-down plan of the run's catalog, as
    ``collect`` would send it), from BigQuery's own dry run; no row is read."""
    from triage.sources.bigquery import human_bytes

    assert opts.bigquery is not None
    stream = out or sys.stdout
    opts = merge_config(opts, load_project(opts))
    source = bigquery_source(opts.bigquery)
    push_down([source], Matcher(load_catalog(opts.rules, disable=opts.disable)))
    jobs = source.dry_run()
    for job in jobs:
        print(f"dry run: {job.label}: {job.bytes_processed:,} bytes ({human_bytes(job.bytes_processed)})", file=stream)
    total = sum(job.bytes_processed for job in jobs)
    queries = "1 query" if len(jobs) == 1 else f"{len(jobs)} queries"
    print(f"dry run: {queries} would process {total:,} bytes ({human_bytes(total)})", file=stream)
    return 0


def require_entries(stats: RunStats) -> None:
    """Fail closed: a run that read no log entry must not report (or pass a check) as if the logs were clean.

    One empty source among others only earns a note naming it."""
    if stats.parsed == 0:
        why = "; ".join(f"{name}: {reason}" for name, reason in sorted(stats.empty_sources.items()))
        raise NoEntriesError(f"no Cloud Run log entries in {why or 'the input'}")
    for name, reason in sorted(stats.empty_sources.items()):
        stats.notes.append(f"no Cloud Run log entries in {name}: {reason}")


def run_analysis(opts: RunOptions, sources: Sequence[Source] | None = None) -> Analysis:
    project = load_project(opts)
    opts = merge_config(opts, project)
    extra_patterns(opts.redact_patterns)  # a bad pattern is a usage error before any work, not after
    catalog = load_catalog(opts.rules, disable=opts.disable)
    matcher = Matcher(catalog)
    if sources is not None:
        srcs = list(sources)
    elif opts.bigquery is not None:
        if opts.sources:
            raise TriageError("give either log files or --bigquery, not both")
        srcs = [bigquery_source(opts.bigquery)]
    elif opts.live is not None:
        srcs = live_sources(opts, matcher)
    else:
        srcs = file_sources(opts.sources)
        current().watch(srcs)  # entries read so far, on the progress line
    collected = collect(srcs, matcher)
    require_entries(collected.stats)
    redactor = Redactor(opts.redact_patterns)
    findings = find(collected, catalog.rules, project.annotations, scrub=redactor.text)
    services = build_services(collected.history, findings.issues, opts.environment, opts.service_names)
    return Analysis(catalog, collected, findings.issues, services, findings, project, opts, redactor)


def report_date(opts: RunOptions, analysis: Analysis) -> str:
    """--date, else the day the logs end (deterministic for a given input), else today."""
    if opts.date:
        try:
            return datetime.strptime(opts.date, "%Y-%m-%d").date().isoformat()
        except ValueError:
            raise TriageError(f"--date: expected YYYY-MM-DD, got {opts.date!r}") from None
    end = analysis.collected.history.last_ts
    return end[:10] if end else datetime.now(UTC).date().isoformat()


def build_model(opts: RunOptions, analysis: Analysis, prose: bool = True) -> dict[str, Any]:
    opts = analysis.options or opts
    return report_model.build(
        analysis.collected,
        analysis.services,
        analysis.catalog,
        date=report_date(opts, analysis),
        environment=opts.environment,
        redactor=analysis.redactor or Redactor(opts.redact_patterns),
        prose=prose,
        findings=analysis.findings,
        project=analysis.project,
        previous=load_previous(opts.previous) if opts.previous else None,
        gcp_project=opts.gcp_project,
    )
