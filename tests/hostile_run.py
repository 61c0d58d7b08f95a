"""Run the whole pipeline on untrusted input and return every output, for the safety tests."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from triage.analysis.findings import find
from triage.analysis.services import build_services
from triage.commands.common import Analysis, RunOptions, build_model, file_sources, load_project, merge_config
from triage.engine import Matcher, load_catalog
from triage.pipeline import collect
from triage.report.render import render_json, render_markdown

ENTRY_DEFAULTS = {
    "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
    "resource": {"type": "cloud_run_revision", "labels": {"service_name": "api", "revision_name": "api-00001-abc"}},
    "labels": {"instanceId": "00aa"},
}

# The built-in catalog parsed once: property tests run the pipeline hundreds of times.
builtin_catalog = functools.cache(load_catalog)


def analysis_of(options: RunOptions) -> Analysis:
    """``commands.common.run_analysis`` for files, with the built-in catalog cached."""
    project = load_project(options)
    options = merge_config(options, project)
    catalog = load_catalog(options.rules, disable=options.disable) if options.rules else builtin_catalog()
    collected = collect(file_sources(options.sources), Matcher(catalog))
    findings = find(collected, catalog.rules, project.annotations)
    services = build_services(collected.history, findings.issues, options.environment, options.service_names)
    return Analysis(catalog, collected, findings.issues, services, findings, project, options)


def run_bytes(chunks: Sequence[bytes], **opts: Any) -> tuple[Any, dict, str, str]:
    """Write each chunk to its own file, run report: (stats, model, markdown, json)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, data in enumerate(chunks):
            p = Path(tmp) / f"in{i}.log"
            p.write_bytes(data)
            paths.append(str(p))
        return run_paths(paths, **opts)


def run_paths(paths: Sequence[str], **opts: Any) -> tuple[Any, dict, str, str]:
    options = RunOptions(sources=tuple(paths), date="2025-09-05", use_config=False, **opts)
    analysis = analysis_of(options)
    model = build_model(options, analysis)
    return analysis.collected.stats, model, render_markdown(model), render_json(model)
