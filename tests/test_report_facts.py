"""Issue 12, "what the report must get right": counts that add up, secrets an open issue implicates,
what startup problems have in common, and a postmortem filled with what the logs can tell.

Each test builds a full Cloud Run export (audit, system, request and app logs) with tests/scenario_logs.py
and asserts on the report JSON and the rendered markdown.
"""

from __future__ import annotations

import orjson

from tests.scenario_logs import (
    PG_TRACE,
    crash,
    crash_loop_db,
    text,
)
from triage.commands.common import RunOptions, build_model, run_analysis
from triage.report.render import render_json, render_markdown
from triage.sources import MemorySource

OPTS = RunOptions(use_config=False, date="2025-09-10")
SPLIT_TRACE = PG_TRACE.splitlines()


def run(entries: list[dict], template: str = "audit") -> tuple[dict, str]:
    analysis = run_analysis(OPTS, [MemorySource(entries)])
    model = orjson.loads(render_json(build_model(OPTS, analysis)))
    return model, render_markdown(model, template)


def line_by_line_crash(t: float, svc: str, rev: str, inst: str) -> list[dict]:
    """A start whose traceback arrives one entry per line (print-style), as a worker's stderr often does."""
    out = crash(t, svc, rev, inst, "placeholder")
    out[1:2] = [text(t + 1 + 0.001 * i, svc, rev, inst, line) for i, line in enumerate(SPLIT_TRACE)]
    return out


# ---------------------------------------------------------------------------------------------------------
# Summary counts
# ---------------------------------------------------------------------------------------------------------


def test_summary_counts_add_up_and_say_what_each_counts():
    svc, rev = "orders-api", "orders-api-00012-q2w"
    entries = [*crash_loop_db(starts=2), *line_by_line_crash(200, svc, rev, "inst9")]
    entries.append({"unrelated": 1})  # no LogEntry field: malformed, counted and skipped
    model, md = run(entries)
    st = model["stats"]
    assert st["malformed"] == 1
    assert st["entries"] == st["malformed"] + st["records"] == len(entries)
    # The 8-line traceback became one event: 7 continuation lines joined.
    assert st["joined_lines"] == len(SPLIT_TRACE) - 1
    assert st["records"] == st["events"] + st["joined_lines"]
    assert st["error_events"] == st["matched_error_events"] + st["unmatched_error_events"]
    assert st["matched_events"] == st["matched_error_events"] + st["matched_other_events"]
    # WARNING container exits are matched (a symptom) without being error events: more matched than errors
    # is possible, and the header says why.
    assert st["matched_other_events"] == 3
    assert st["matched_events"] > st["error_events"] - st["unmatched_error_events"]
    header = next(line for line in md.splitlines() if line.startswith("Window: "))
    assert f"Analysed {st['entries']} log entries (1 malformed, skipped: see Data Quality)" in header
    assert f"{st['records']} read, reassembled into {st['events']} events (7 continuation lines joined" in header
    assert (
        f"{st['error_events']} of the events are errors (ERROR or above, tracebacks, unlevelled lines with failure "
        f"words): {st['matched_error_events']} match a known failure, {st['unmatched_error_events']} do not." in header
    )
    assert (
        f"{st['matched_events']} events match a rule in all: those {st['matched_error_events']} error events and "
        f"{st['matched_other_events']} below error level" in header
    )
