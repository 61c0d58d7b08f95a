"""Stack traces in every runtime's shape: which lines continue one, and its frames and exceptions.

Cloud Run writes each line of unstructured output as its own entry, so a Java trace arrives as
`Exception in thread "main" ...`, then `\tat ...` lines, `Caused by: ...`, `\t... 12 more`; a Node error as
`Error: ...` then `    at ...` lines and `  code: 'ECONNREFUSED'` properties; a Go panic as `panic: ...`,
a blank line, `goroutine 1 [running]:`, function lines and tab-indented file lines; a Ruby error as
`file.rb:12:in 'm': msg (Class)` then `\tfrom ...` lines; libpq follows its error with tab-indented hint
lines. This module knows those shapes; events.py uses them to reassemble, per instance and stream.
"""

from __future__ import annotations

import regex as re

TRACEBACK_HEAD = "Traceback (most recent call last):"
CHAIN_LINES = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)
# Final line of a Python traceback: "pkg.mod.SomeError: message" or a bare type name, not indented.
EXC_RE = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure|Fault|Refused|Timeout|Invalid|Missing|NotFound|Denied|[A-Z]\w*))(?::\s?(?P<msg>.*))?$"
)
_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<func>.*))?$')
# Java / Kotlin / Scala: at com.x.Y.method(Y.java:12) or (Native Method) / (Unknown Source)
_JAVA_FRAME = re.compile(r"^\s+at (?P<func>[\w$.<>/-]+)\((?P<file>[^:()]*)(?::(?P<line>\d+))?\)\s*$")
# Node: at fn (/app/x.js:12:5), at /app/x.js:12:5, at async fn (node:internal/x:1:2)
_NODE_FRAME = re.compile(r"^\s+at (?:(?:async )?(?P<func>[^()]+?) \()?(?P<file>[^()\s]+?):(?P<line>\d+):\d+\)?\s*$")
# Go: a function line, then "\t/path/file.go:19 +0x120"
_GO_FILE = re.compile(r"^\t(?P<file>\S+\.go):(?P<line>\d+)(?: \+0x[0-9a-f]+)?\s*$")
GO_FUNC = re.compile(r"^(?:created by )?(?P<func>[\w./*()\[\]{}$~-]+?)(?:\(.*\))?(?: in goroutine \d+)?\s*$")
# Ruby: /app/x.rb:12:in `m' (optionally after "from "), also 'Class#m' quoting of Ruby >= 3.4
_RUBY_FRAME = re.compile(r"^\s*(?:from )?(?P<file>[^\s:]+\.rb):(?P<line>\d+):in [`'](?P<func>[^'`]+)'")
# PHP: #0 /var/www/x.php(12): Foo->bar()
_PHP_FRAME = re.compile(r"^#\d+ (?P<file>\S+\.php)\((?P<line>\d+)\): (?P<func>[^(\s]+)")

# Exception lines that are not Python's final line.
_JAVA_EXC = re.compile(
    r'^(?:Exception in thread "[^"]*" |Caused by: |Suppressed: |\s+Suppressed: )?'
    r"(?P<type>(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*)(?::\s?(?P<msg>.*))?$"
)
_RUBY_EXC = re.compile(r"^(?P<file>\S+\.rb):(?P<line>\d+):in [`'](?P<func>[^'`]+)': (?P<msg>.*) \((?P<type>[\w:]+)\)$")
_NODE_EXC = re.compile(
    r"^(?:Uncaught )?(?P<type>(?:[A-Z]\w*)?(?:Error|Exception))(?: \[[\w-]+\])?(?::\s?(?P<msg>.*))?$"
)
GO_PANIC = re.compile(r"^(?P<type>panic|fatal error): (?P<msg>.*)$")
_MORE = re.compile(r"^\s*\.\.\. \d+ (?:more|common frames omitted)\s*$")
_GO_TRACE_LINE = re.compile(r"^(?:goroutine \d+ \[[^\]]*\]:|\[signal |created by |exit status \d+$)")

# Paths and packages that are not the application: installed packages, standard libraries, runtimes.
LIB_MARKERS = (
    "site-packages/",
    "dist-packages/",
    "/lib/python",
    "<frozen ",
    "<string>",
    "/usr/local/bin/",
    "/usr/bin/",
    "node_modules/",
    "node:",
    "/usr/local/go/",
    "/go/pkg/mod/",
    "/gems/",
    "/vendor/",
)
_JVM_LIB = re.compile(
    r"^(?:java|javax|jdk|sun|com\.sun|kotlin|scala|org\.springframework|org\.apache|org\.hibernate|"
    r"com\.zaxxer|org\.postgresql|com\.mysql|io\.netty|reactor|io\.grpc|com\.google|org\.eclipse)\."
)


def is_library(file: str, function: str) -> bool:
    """Is this frame in a library or runtime rather than the application?"""
    return any(m in file for m in LIB_MARKERS) or bool(_JVM_LIB.match(function))


def trace_kind(first_line: str) -> str:
    """The shape of trace a line can head: python, go, or generic (anything else)."""
    if TRACEBACK_HEAD in first_line:
        return "python"
    if GO_PANIC.match(first_line.strip()):
        return "go"
    return "generic"


def continues(kind: str, text: str, saw_frames: bool) -> bool:
    """Can this line (not a Python traceback line) continue an event of ``kind``?

    Indented lines always can (frames, hint lines, properties, a wrapped paste); `Caused by:` and Node's
    closing brace can after frames; a Go panic takes its goroutine dumps, function lines and blanks."""
    stripped = text.strip()
    if not stripped:
        return kind == "go"
    if text[0].isspace():
        return True
    if saw_frames and (stripped.startswith(("Caused by: ", "Suppressed: ")) or stripped == "}" or _MORE.match(text)):
        return True
    if kind == "go":
        return bool(_GO_TRACE_LINE.match(stripped) or GO_FUNC.match(stripped))
    return False


_GO_CALL = re.compile(r"^[\w./*()\[\]{}$~-]+\(.*\)(?: in goroutine \d+)?$")


def may_continue(text: str) -> bool:
    """Could this line continue some event, whatever its state (the fast path's cheap test: such lines
    must reach reassembly)? Indented lines, `Caused by:`, `... N more`, a closing brace, Go dump lines."""
    if not text or text[0].isspace():
        return bool(text.strip())
    stripped = text.rstrip()
    return (
        stripped.startswith(("Caused by: ", "Suppressed: "))
        or stripped == "}"
        or bool(_MORE.match(stripped) or _GO_TRACE_LINE.match(stripped) or _GO_CALL.match(stripped))
    )


def is_frame_line(text: str) -> bool:
    return bool(_JAVA_FRAME.match(text) or _NODE_FRAME.match(text) or _RUBY_FRAME.match(text) or _GO_FILE.match(text))


def parse_frames(text: str) -> tuple[list[tuple[str, int, str, str]], list[tuple[str, str]]]:
    """(file, line, function, code) frames and (type, message) exceptions of a non-Python trace, in
    the order they appear."""
    frames: list[tuple[str, int, str, str]] = []
    excs: list[tuple[str, str]] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _RUBY_EXC.match(line)
        if m:
            excs.append((m["type"], m["msg"]))
            frames.append((m["file"], int(m["line"]), m["func"], ""))
            continue
        m = _JAVA_FRAME.match(line) or _NODE_FRAME.match(line) or _RUBY_FRAME.match(line) or _PHP_FRAME.match(line)
        if m:
            frames.append((m["file"], int(m["line"] or 0), (m["func"] or "").strip(), ""))
            continue
        m = _GO_FILE.match(line)
        if m:
            func = GO_FUNC.match(lines[i - 1].strip()) if i else None
            frames.append((m["file"], int(m["line"]), func["func"] if func else "", ""))
            continue
        m = GO_PANIC.match(line) or (None if line[:1].isspace() else _JAVA_EXC.match(line) or _NODE_EXC.match(line))
        if m:
            excs.append((m["type"], (m["msg"] or "").strip()))
    return frames, excs
