"""Log text cannot change the report's structure: the same run with hostile text and with plain text
gives the same block structure (headings, tables, fences, lists), no HTML, no links, capped excerpts."""

from __future__ import annotations

import orjson
import regex as re
from markdown_it import MarkdownIt

from tests.hostile_run import run_bytes

HOSTILE = [
    "a | b | c\n|---|---|",
    "`tick` ``double`` ```\n# not a heading\n```",
    "~~~\nfenced\n~~~",
    "<script>alert(1)</script>",
    "# Heading\n## Second\nTitle\n=====",
    "<!-- comment --> <!--",
    "[link](http://evil.example) ![img](http://evil.example/p.png) <http://auto.example>",
    "\\[escaped](http://evil.example) [ref]: http://evil.example",
    "> quote\n- item\n1. item\n---\n***",
    "x" * 5000,
    ("y" * 80 + "\n") * 40,
    "<img src=x onerror=alert(1)> &lt;b&gt; </details>",
]
RULES = """\
rules:
  - id: catch-all
    title: Planted text
    severity: high
    category: code
    match:
      any:
        - regex: "(?s)(?P<all>.*MARK.*)"
    problem: "Saw {all}"
    root_cause: "{all}"
    fix: "Fix {all}"
    recommendations:
      immediate: ["Look at {all}"]
    verify: ["{all}"]
"""


def entries(texts: list[str], names: list[str]) -> bytes:
    out = []
    for n, (text, name) in enumerate(zip(texts, names, strict=True)):
        service = f"s{n:02d}-{name}"
        out.append(
            {
                "timestamp": f"2025-09-05T10:00:{n:02d}Z",
                "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
                "resource": {
                    "type": "cloud_run_revision",
                    "labels": {"service_name": service, "revision_name": f"{service}-00001-abc"},
                },
                "labels": {"instanceId": "00aa"},
                "severity": "ERROR",
                "textPayload": f"MARK {text}",
            }
        )
        out.append(
            {
                "timestamp": f"2025-09-05T10:01:{n:02d}Z",
                "logName": "projects/p/logs/run.googleapis.com%2Frequests",
                "resource": {
                    "type": "cloud_run_revision",
                    "labels": {"service_name": service, "revision_name": f"{service}-00001-abc"},
                },
                "httpRequest": {"status": 200, "requestUrl": f"https://{name}/x"},
            }
        )
    return b"".join(orjson.dumps(e) + b"\n" for e in out)


def render(texts: list[str], names: list[str], tmp_path) -> str:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "r.yaml").write_text(RULES)
    _, _, md, _ = run_bytes([entries(texts, names)], rules=(rules,), environment="staging")
    return md


def skeleton(md: str) -> tuple[list[tuple[str, str]], list[str]]:
    """Block structure (token type and tag, no text) and every inline token type found."""
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    blocks = [(t.type, t.tag) for t in tokens if t.type != "inline"]
    inline = sorted({c.type for t in tokens if t.type == "inline" for c in t.children or []})
    return blocks, inline


LOGS_EXPLORER = "https://console.cloud.google.com/logs/query;"


def links(md: str) -> list[str]:
    """The href of every link in the rendered markdown, with the (log-derived) service part cut off."""
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    hrefs = [c.attrGet("href") for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "link_open"]
    return [str(h).split("%0Aresource.labels.service_name")[0] for h in hrefs]


def test_hostile_text_does_not_change_structure(tmp_path):
    plain_texts = [f"plain text {n}" for n in range(len(HOSTILE))]
    names = [f"name{n}" for n in range(len(HOSTILE))]
    hostile_names = ["x|y", "`a`", "<b>", "#h", "[l](u)", "<!--", "a\nb", "-", "1.", "~~~", "```", "|"]
    plain = render(plain_texts, names, tmp_path)
    hostile = render(HOSTILE, hostile_names, tmp_path)
    plain_blocks, plain_inline = skeleton(plain)
    hostile_blocks, hostile_inline = skeleton(hostile)
    assert hostile_blocks == plain_blocks
    # No raw HTML or images from log text, and no links but the Logs Explorer links the report makes.
    for kind in ("html_inline", "html_block", "image"):
        assert kind not in hostile_inline and kind not in plain_inline
    assert links(hostile) == links(plain)
    assert links(plain) and all(href.startswith(LOGS_EXPLORER) for href in links(plain))
    # Raw markup survives only as literal text: in fenced excerpts and code spans, escaped everywhere else.
    tokens = MarkdownIt("commonmark").enable("table").parse(hostile)
    fenced = {n for t in tokens if t.type == "fence" for n in range(*t.map)}
    lines = [line for n, line in enumerate(hostile.splitlines()) if n not in fenced]
    outside = re.sub(r"(`+).*?\1", "", "\n".join(lines))
    for raw in ("<script", "<!--", "<img", "</details"):
        assert raw not in outside
    assert "&lt;script&gt;" in outside


def test_long_lines_are_capped_and_say_so(tmp_path):
    md = render(HOSTILE, [f"name{n}" for n in range(len(HOSTILE))], tmp_path)
    assert max(len(line) for line in md.splitlines()) < 2000
    assert "x" * 1000 not in md
    assert "(excerpt, truncated)" in md and "(cut)" in md


def test_hostile_unclassified_errors_keep_tables_and_headings(tmp_path):
    # Without the catch-all rule the same lines are unclassified errors: a table of templates and examples.
    names = [f"name{n}" for n in range(len(HOSTILE))]
    _, _, md, _ = run_bytes([entries(HOSTILE, names)], environment="staging")
    _, _, plain, _ = run_bytes([entries([f"plain {n}" for n in range(len(HOSTILE))], names)], environment="staging")
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    kinds = {c.type for t in tokens if t.type == "inline" for c in t.children or []}
    assert not kinds & {"html_inline", "link_open", "image"}
    assert not any(t.type == "html_block" for t in tokens)
    headings = [t.tag for t in tokens if t.type == "heading_open"]
    plain_headings = [t.tag for t in MarkdownIt("commonmark").enable("table").parse(plain) if t.type == "heading_open"]
    assert headings == plain_headings
    assert "## Unclassified Errors" in md and "| `MARK a \\| b \\| c` |" in md
    assert max(len(line) for line in md.splitlines()) < 2000
    # Every row of a table has as many unescaped pipes as its header: no pipe in log text split a cell.
    fenced = {n for t in tokens if t.type == "fence" for n in range(*t.map)}
    tables: list[list[int]] = []
    previous = False
    for n, line in enumerate(md.splitlines()):
        row = n not in fenced and line.startswith("|")
        if row:
            pipes = len(re.findall(r"(?<!\\)\|", line))
            if previous:
                tables[-1].append(pipes)
            else:
                tables.append([pipes])
        previous = row
    assert len(tables) == 2 and all(len(set(t)) == 1 for t in tables), tables
