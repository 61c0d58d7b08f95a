"""Renderers: jinja2 templates for markdown, orjson for JSON. Only this module imports jinja2.

Templates receive the report model (already redacted) as ``report`` and a few filters that keep log
text from changing the markdown's structure: ``cell`` for table cells, ``code`` for inline code and
``fence`` for multi-line excerpts (a fence longer than any backtick run inside the text).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
import orjson
import regex as re

from triage.errors import TriageError
from triage.output import strip_controls
from triage.resources import templates_dir

BUILTIN_TEMPLATES = {"audit": "audit.md.j2", "postmortem": "postmortem.md.j2"}
_BACKTICKS = re.compile(r"`+")
_LINK_CLOSE = re.compile(r"\](?=[(\[:])")
# Only a run of three backticks opens a fence: a leading `code span` in a rule's text stays one.
_BLOCK_START = re.compile(r"^(?:(`(?=``)|[#>*+=_~|-])|(\d{1,9})([.)])(?=\s|$))")


def _neutral(text: str) -> str:
    """Escape what would turn log text into markup: HTML (tags, comments, autolinks) and links/images."""
    text = text.replace("\\", "\\\\").replace("<", "&lt;").replace(">", "&gt;")
    # A "]" right before "(", "[" or ":" is what makes [text](url), ![img](src), [text][ref] and [ref]: url;
    # escaping only that one keeps "[Errno 111]" readable in the markdown source.
    return _LINK_CLOSE.sub(r"\\]", text)


def cell(value: Any) -> str:
    """Text safe inside a markdown table cell: no pipes, no newlines, no HTML, no links."""
    text = _neutral(str(value if value is not None else "")).replace("|", "\\|")
    return " ".join(text.split())


def inline(value: Any) -> str:
    """Inline text (a heading or a list item): one line, HTML and markdown control characters escaped.

    A leading block marker (heading, quote, list, rule, table, fence) is escaped so the text stays a
    paragraph wherever the template puts it, including at the start of a line.
    """
    text = _neutral(" ".join(str(value if value is not None else "").split()))
    return _BLOCK_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def code(value: Any) -> str:
    """Inline code span that survives backticks inside the value."""
    text = " ".join(str(value).split())
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(value: Any, lang: str = "text") -> str:
    """A fenced block that the text cannot close early."""
    text = str(value).replace("\r", "")
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def duration(seconds: Any) -> str:
    """2h 5m / 3m 20s / 45s."""
    s = int(seconds or 0)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h {m}m" if m else f"{h}h"
    if m:
        return f"{m}m {sec}s" if sec else f"{m}m"
    return f"{sec}s"


def thousands(value: Any) -> str:
    return f"{int(value or 0):,}"


def percent(value: Any) -> str:
    """0.8712 -> 87%; never rounds a partial share up to 100% or down to 0%."""
    v = float(value or 0)
    p = round(v * 100)
    if p == 100 and v < 1:
        p = 99
    if p == 0 and v > 0:
        p = 1
    return f"{p}%"


def utc(value: Any) -> str:
    """2025-09-05T10:02:17.904551Z -> 2025-09-05 10:02:17."""
    text = str(value or "")
    return text[:19].replace("T", " ") if len(text) >= 19 else text


@functools.lru_cache(maxsize=8)
def environment(extra_dir: Path | None = None) -> jinja2.Environment:
    """One environment per template folder: jinja2 caches compiled templates (and reloads changed files).

    A team's template (``extra_dir``) may come from any cloned repository: it renders sandboxed, so it
    cannot reach Python internals (``''.__class__.__mro__``) and run code; the built-in ones need no sandbox.
    """
    dirs = [str(extra_dir)] if extra_dir else []
    kind = jinja2.sandbox.SandboxedEnvironment if extra_dir else jinja2.Environment
    env = kind(
        loader=jinja2.FileSystemLoader([*dirs, str(templates_dir())]),
        autoescape=False,  # markdown, not HTML: escaping is done by the filters above
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        cell=cell,
        code=code,
        fence=fence,
        inline=inline,
        duration=duration,
        thousands=thousands,
        percent=percent,
        utc=utc,
    )
    return env


def render_markdown(model: dict[str, Any], template: str = "audit") -> str:
    """Render a built-in template by name, or a team's template file by path."""
    path = Path(template)
    try:
        if template in BUILTIN_TEMPLATES:
            tpl = environment().get_template(BUILTIN_TEMPLATES[template])
        elif path.is_file():
            tpl = environment(path.parent).get_template(path.name)
        else:
            raise TriageError(f"--template: no built-in template or file named {template!r}")
        text = tpl.render(report=model)
    except jinja2.sandbox.SecurityError as exc:
        raise TriageError(f"template {template}: not allowed in a custom template (sandboxed): {exc}") from None
    except jinja2.TemplateError as exc:
        where = f"{exc.filename}:{exc.lineno}: " if getattr(exc, "lineno", None) else ""
        raise TriageError(f"template {template}: {where}{exc.message}") from None
    # Controls go whatever the template printed unfiltered (NUL, ESC reach a terminal or a PR comment);
    # then runs of blank lines a conditional block may leave collapse; output stays byte-stable.
    return re.sub(r"\n{3,}", "\n\n", strip_controls(text)).rstrip("\n") + "\n"


def render_json(model: dict[str, Any]) -> str:
    return orjson.dumps(model, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
