"""The shared run: options -> sources -> catalog -> collected matches -> issues and services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triage.analysis.issues import Issue, analyse
from triage.analysis.services import ServiceState, build_services
from triage.engine import Catalog, Matcher, load_catalog
from triage.errors import TriageError
from triage.pipeline import Collected, collect
from triage.report import model as report_model
from triage.report.redact import Redactor
from triage.sources import Source
from triage.sources.files import FileSource


@dataclass(frozen=True)
class RunOptions:
    sources: tuple[str, ...] = ()
    rules: tuple[Path, ...] = ()
    disable: tuple[str, ...] = ()
    environment: str = ""
    date: str | None = None
    redact_patterns: tuple[str, ...] = ()
    service_names: dict[str, str] = field(default_factory=dict)


@dataclass
class Analysis:
    catalog: Catalog
    collected: Collected
    issues: list[Issue]
    services: list[ServiceState]


def file_sources(paths: Sequence[str]) -> list[Source]:
    if not paths:
        raise TriageError("no log source given: pass export files (or - for stdin)")
    return [FileSource(p) for p in paths]


def run_analysis(opts: RunOptions, sources: Sequence[Source] | None = None) -> Analysis:
    catalog = load_catalog(opts.rules, disable=opts.disable)
    srcs = list(sources) if sources is not None else file_sources(opts.sources)
    collected = collect(srcs, Matcher(catalog))
    issues = analyse(collected.matches, collected.history)
    services = build_services(collected.history, issues, opts.environment, opts.service_names)
    return Analysis(catalog, collected, issues, services)


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
    return report_model.build(
        analysis.collected,
        analysis.services,
        analysis.catalog,
        date=report_date(opts, analysis),
        environment=opts.environment,
        redactor=Redactor(opts.redact_patterns),
        prose=prose,
    )
