"""``triage ci``: check the logs of a deploy and return an exit code a CI job can act on.

Runs the same analysis as ``report``, builds the redacted report model, narrows it to the CI view
(``triage.report.ci_model``: since-deploy window, baseline, fail-on policy) and writes each requested
output from that view: a plain summary (or JSON) on stdout or ``--out``, the GitHub step summary when
``$GITHUB_STEP_SUMMARY`` is set, workflow-command annotations, ``--junit`` and ``--sarif`` files.
Exit codes: 0 pass, 1 an issue at the threshold, 2 usage or input error (raised), 3 partial logs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from triage.commands.common import RunOptions, build_model, check_outputs, run_analysis
from triage.commands.progress import describe_work, progress
from triage.engine.catalog import Catalog
from triage.errors import InputError, NoEntriesError
from triage.output import one_line, stdout_safe, write_atomic
from triage.report import github
from triage.report.ci_model import OPEN, build_ci_view, deploy_cutoffs, load_baseline
from triage.report.junit import junit_xml
from triage.report.render import render_json
from triage.report.sarif import render_sarif, resolve_file_location
from triage.sources import Source

ANNOTATION_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class CiOptions:
    fail_on: str = "high"
    since_deploy: bool = False
    baseline: Path | None = None
    fmt: str = "text"  # text (plain summary) or json (the CI view)
    out: Path | None = None  # where the summary/JSON goes instead of stdout
    junit: Path | None = None
    sarif: Path | None = None
    sarif_file_location: str | None = None  # repository file SARIF results point at (default: detected)
    annotations: str = "auto"  # auto: when $GITHUB_ACTIONS is "true" and stdout is not JSON
    quiet: bool = False  # no progress line on stderr (there is none off a terminal anyway)


def catalog_rules(catalog: Catalog) -> list[dict[str, Any]]:
    """The catalog as plain data for JUnit and SARIF, sorted by id so the output is stable."""
    return [
        {
            "id": r.id,
            "title": r.title,
            "severity": r.severity,
            "category": r.category,
            "root_cause": r.root_cause,
            "fix": r.fix,
            "references": list(r.references),
            "tags": list(r.tags),
        }
        for r in sorted(catalog.rules, key=lambda r: r.id)
    ]


def plain_summary(view: Mapping[str, Any]) -> str:
    ci, c = view["ci"], view["ci"]["counts"]
    verdict = {"fail": "FAIL", "partial": "PARTIAL", "pass": "PASS"}[ci["result"]]
    lines = [
        f"triage ci: {verdict} (fail-on {ci['fail_on']}): {c['failing']} failing, {c['open']} open, "
        f"{c['known']} known, {c['fixed']} fixed; {view['stats']['entries']} entries"
        + (", logs read only partly" if view.get("partial") else "")
    ]
    if ci.get("since_deploy") is not None:
        since = ", ".join(f"{one_line(s)} since {t}" for s, t in ci["since_deploy"].items())
        since = since or "no deploy events in the logs"
        lines.append(f"since deploy: {since}")
    for issue in view["issues"]:
        if issue["status"] not in OPEN:
            continue
        mark = "FAIL " if issue["failing"] else "known" if issue["known"] else "open "
        # Ids and titles carry service names and log text: one line each, or a newline could start a command.
        lines.append(
            f"  {mark} {issue['severity']:<8} {issue['status']:<9} {one_line(issue['id'])}  "
            f"{one_line(issue['title'])} ({issue['count']}x)"
        )
        if issue["failing"] and issue.get("logs_url"):
            lines.append(f"        logs: {one_line(issue['logs_url'])}")
    return "\n".join(lines) + "\n"


def _summary_budget(path: Path) -> int:
    """What is left of the step's 1 MiB after what earlier commands of the step appended."""
    try:
        used = path.stat().st_size
    except OSError:
        used = 0
    return max(0, github.STEP_SUMMARY_LIMIT - used)


def ci_view(opts: RunOptions, ci: CiOptions, sources: Sequence[Source] | None = None) -> tuple[dict[str, Any], Catalog]:
    if ci.annotations not in ANNOTATION_MODES:
        raise InputError(f"--annotations {ci.annotations!r}: expected one of {', '.join(ANNOTATION_MODES)}")
    known = load_baseline(ci.baseline) if ci.baseline else frozenset()
    label = describe_work(opts.sources, opts.live.project if opts.live else None)
    try:
        with progress(label, quiet=ci.quiet):
            analysis = run_analysis(opts, sources)
    except NoEntriesError as exc:
        exc.exit_code = 3  # CI: logs that could not be read are a failed check, as with partial logs
        raise
    model = build_model(opts, analysis, prose=False)
    cutoffs = None
    if ci.since_deploy:
        history = analysis.collected.history
        cutoffs = deploy_cutoffs(
            (history.service_id(d.service, d.revision, d.location), d.time) for d in history.deploys
        )
    view = build_ci_view(
        model,
        fail_on=ci.fail_on,
        known=known,
        cutoffs=cutoffs,
        baseline=str(ci.baseline) if ci.baseline else None,
        allow_partial=opts.allow_partial and opts.live is None,
    )
    return view, analysis.catalog


def ci(
    opts: RunOptions,
    ci_opts: CiOptions,
    *,
    sources: Sequence[Source] | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    env = os.environ if env is None else env
    summary_path = env.get("GITHUB_STEP_SUMMARY")
    outputs = {"--out": ci_opts.out, "--junit": ci_opts.junit, "--sarif": ci_opts.sarif}
    check_outputs(
        opts, {**outputs, "GITHUB_STEP_SUMMARY": Path(summary_path) if summary_path else None}, ci_opts.baseline
    )
    # Checked before the analysis: a bad --sarif-file-location fails fast. The working directory is the
    # repository root in a CI checkout (GITHUB_WORKSPACE).
    location = resolve_file_location(ci_opts.sarif_file_location, Path.cwd()) if ci_opts.sarif else ""
    view, catalog = ci_view(opts, ci_opts, sources)
    rules = catalog_rules(catalog)
    main = render_json(view) if ci_opts.fmt == "json" else plain_summary(view)
    if ci_opts.out:
        write_atomic(ci_opts.out, main)
    if ci_opts.junit:
        write_atomic(ci_opts.junit, junit_xml(view, rules))
    if ci_opts.sarif:
        write_atomic(ci_opts.sarif, render_sarif(view, rules, location))
    if summary_path:
        path = Path(summary_path)
        write_atomic(path, github.step_summary(view, _summary_budget(path)), append=True)
    stdout_is_json = ci_opts.fmt == "json" and not ci_opts.out
    annotate = ci_opts.annotations == "always" or (
        ci_opts.annotations == "auto" and env.get("GITHUB_ACTIONS") == "true" and not stdout_is_json
    )
    if not ci_opts.out:
        sys.stdout.write(stdout_safe(main))
    if annotate:
        # Workflow commands are read from stdout; with JSON on stdout they would corrupt it (use --out).
        sys.stdout.write("".join(line + "\n" for line in github.workflow_commands(view)))
    sys.stdout.flush()
    return int(view["ci"]["exit_code"])
