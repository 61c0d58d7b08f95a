"""The markdown report as GitHub renders it: parsed with a real CommonMark renderer (markdown-it-py, with
tables), then its structure checked: headings, one paragraph per issue field, tables with their columns,
and a mermaid gantt block of the right shape (omitted when there is nothing to draw)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import regex as re
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tests.helpers import entry

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [ROOT / "samples/staging-2025-09-05.jsonl", *sorted((ROOT / "samples/scenarios").glob("*.jsonl"))]
FIELDS = ("Problem", "Root Cause", "Led to", "Fix", "Status", "Tracking", "Seen", "Logs", "Impact")
REQUIRED_FIELDS = {"Problem", "Root Cause", "Fix", "Status", "Seen", "Logs", "Impact"}
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
TASK = re.compile(rf"^    (?P<name>[^:\n]+?) :(?:(?P<tag>crit|done|active), )?(?P<start>{TIME}), (?P<end>{TIME})$")
MD = MarkdownIt("commonmark").enable("table")


def triage(*args: object) -> str:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "triage", *map(str, args)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def headings(tokens: list[Token]) -> list[tuple[str, str]]:
    return [(t.tag, tokens[n + 1].content) for n, t in enumerate(tokens) if t.type == "heading_open"]


def paragraphs_after(tokens: list[Token], title: str) -> list[str]:
    """The inline text of each paragraph under a heading, up to the next heading."""
    start = next(n for n, t in enumerate(tokens) if t.type == "inline" and t.content == title)
    out = []
    for n in range(start + 1, len(tokens)):
        if tokens[n].type == "heading_open":
            break
        if tokens[n].type == "paragraph_open":
            out.append(tokens[n + 1].content)
    return out


def tables(tokens: list[Token]) -> list[tuple[list[str], list[list[str]]]]:
    """(header cells, body rows) of each table."""
    out, header, rows, row = [], [], [], None
    for n, t in enumerate(tokens):
        if t.type == "table_open":
            header, rows = [], []
        elif t.type == "th_open":
            header.append(tokens[n + 1].content)
        elif t.type == "tr_open" and header:
            row = []
        elif t.type == "td_open" and row is not None:
            row.append(tokens[n + 1].content)
        elif t.type == "tr_close" and row is not None:
            rows.append(row)
            row = None
        elif t.type == "table_close":
            out.append((header, rows))
    return out


def gantt(tokens: list[Token]) -> list[str] | None:
    blocks = [t.content for t in tokens if t.type == "fence" and t.info.strip() == "mermaid"]
    assert len(blocks) <= 1
    return blocks[0].splitlines() if blocks else None


def check_gantt(lines: list[str], model: dict) -> None:
    assert lines[0] == "gantt" and "    dateFormat YYYY-MM-DD HH:mm:ss" in lines
    sections = [x.removeprefix("    section ") for x in lines if x.startswith("    section ")]
    names = {s["name"]: s["display_name"] for s in model["services"]}
    assert sections and set(sections) <= set(names.values())
    tasks = [
        x for x in lines[1:] if not x.startswith(("    title ", "    dateFormat ", "    axisFormat ", "    section "))
    ]
    issue_tasks = []
    for line in tasks:
        m = TASK.match(line)
        assert m, f"not a gantt task: {line!r}"
        assert m["start"] <= m["end"]
        if m["name"].startswith("Issue "):
            issue_tasks.append(m)
    assert len(issue_tasks) == len(model["issues"])
    for task, issue in zip(
        issue_tasks, sorted(model["issues"], key=lambda i: [int(x) for x in i["number"].split(".")]), strict=True
    ):
        assert task["name"].startswith(f"Issue {issue['number']} ")
        assert task["start"] == issue["first_seen"][:19].replace("T", " ")
        assert task["tag"] == ("crit" if issue["status"] in ("PENDING", "REGRESSED") else "done")


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_audit_report_structure(sample):
    text = triage("report", sample)
    model = json.loads(triage("report", sample, "--format", "json"))
    tokens = MD.parse(text)
    heads = headings(tokens)
    assert [h for h in heads if h[0] == "h1"] == [("h1", heads[0][1])] and heads[0][1].endswith("Audit Report")
    h2 = [c for tag, c in heads if tag == "h2"]
    for section in ("Executive Summary", "Issues Identified and Fixed", "Current Deployment Status", "Timeline (UTC)"):
        assert section in h2
    issue_heads = [c for tag, c in heads if tag == "h4" and c.startswith("Issue ")]
    assert len(issue_heads) == len(model["issues"])
    for title in issue_heads:
        paras = paragraphs_after(tokens, title)
        fields = []
        for p in paras:
            m = re.match(r"\*\*(?P<f>[^*]+)\*\*: \S", p)
            assert m and m["f"] in FIELDS, f"{title}: paragraph is not one field: {p[:80]!r}"
            assert not re.search(r"\n\*\*[A-Z][a-z ]+\*\*: ", p), f"{title}: two fields in one paragraph"
            fields.append(m["f"])
        assert set(fields) >= REQUIRED_FIELDS and len(fields) == len(set(fields)), (title, fields)
        seen = next(p for p in paras if p.startswith("**Seen**"))
        assert re.search(rf"from {TIME} to {TIME} UTC", seen) and ".0" not in seen  # to the second
    # tables keep their columns: every row has as many cells as the header
    found = tables(tokens)
    assert found and all(len(row) == len(header) for header, rows in found for row in rows)
    status = next(rows for header, rows in found if header == ["Service", "Status", "Revision", "Issue"])
    assert len(status) == len(model["services"])
    lines = gantt(tokens)
    assert lines is not None
    check_gantt(lines, model)


@pytest.mark.parametrize("sample", SAMPLES[:2], ids=lambda p: p.stem)
def test_postmortem_has_the_gantt(sample):
    model = json.loads(triage("report", sample, "--format", "json"))
    tokens = MD.parse(triage("report", sample, "--template", "postmortem"))
    assert ("h2", "Timeline (UTC)") in headings(tokens)
    check_gantt(gantt(tokens), model)


def test_gantt_is_omitted_when_there_is_nothing_to_draw(tmp_path):
    quiet = entry("10:00:00", "GET / 200 OK", severity="INFO")
    del quiet["resource"]["labels"]["revision_name"]
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps(quiet) + "\n")
    model = json.loads(triage("report", logs, "--format", "json"))
    assert not model["issues"] and not any(s["revision_details"] for s in model["services"])
    tokens = MD.parse(triage("report", logs))
    assert gantt(tokens) is None and ("h2", "Timeline (UTC)") in headings(tokens)


def test_gantt_labels_cannot_break_the_block(tmp_path):
    hostile = "api:x;#%`ok``` \n--> evil"
    logs = tmp_path / "logs.jsonl"
    records = [entry("10:00:00", "KeyError: 'DATABASE_URL'", revision=f"rev-{hostile}")]
    logs.write_text("".join(json.dumps(r) + "\n" for r in records))
    tokens = MD.parse(triage("report", logs))
    lines = gantt(tokens)
    assert lines is not None
    for line in lines[1:]:
        if not line.startswith(("    title ", "    dateFormat ", "    axisFormat ", "    section ")):
            assert TASK.match(line), line
    assert any("rev-api x" in line and "evil deployed :" in line for line in lines)  # drawn, on one line
    assert not any("`" in line or "#" in line or ";" in line for line in lines)
