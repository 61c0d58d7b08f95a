"""`triage report` and `triage analyze`."""

from __future__ import annotations

from pathlib import Path

from triage.commands.common import RunOptions, build_model, check_outputs, run_analysis
from triage.output import write_atomic, write_stdout
from triage.report.render import render_json, render_markdown


def write_output(text: str, out: Path | None) -> None:
    if out is None:
        write_stdout(text)
        return
    write_atomic(out, text)


def report(opts: RunOptions, *, fmt: str = "md", template: str = "audit", out: Path | None = None) -> int:
    check_outputs(opts, {"--out": out})
    analysis = run_analysis(opts)
    model = build_model(opts, analysis)
    text = render_json(model) if fmt == "json" else render_markdown(model, template)
    write_output(text, out)
    return 0


def analyze_table(model: dict) -> str:
    rows = [("ID", "STATUS", "SEVERITY", "COUNT", "SERVICE", "RULE", "FIXED IN")]
    for i in model["issues"]:
        rows.append(
            (i["number"], i["status"], i["severity"], str(i["count"]), i["service"], i["rule"], i["fixed_in"] or "-")
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    s = model["stats"]
    lines.append("")
    if model["partial"]:
        lines.append("PARTIAL: the logs could not be read completely; the issues above may be incomplete.")
    lines.append(
        f"{len(model['issues'])} issue(s); {s['entries']} entries, {s['malformed']} malformed, "
        f"{s['error_events']} error events, {s['matched_events']} matched"
    )
    for svc in model["services"]:
        lines.append(f"{svc['name']}: {svc['status']} (latest {svc['latest_revision'] or '-'})")
    return "\n".join(lines) + "\n"


def analyze(opts: RunOptions, *, fmt: str = "table", out: Path | None = None) -> int:
    check_outputs(opts, {"--out": out})
    analysis = run_analysis(opts)
    model = build_model(opts, analysis, prose=False)
    write_output(render_json(model) if fmt == "json" else analyze_table(model), out)
    return 0
