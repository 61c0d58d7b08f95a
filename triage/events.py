"""Group records into events: a Python traceback split over many entries becomes one event.

Cloud Run keeps a traceback written in one ``write()`` as one entry, but output printed line by line
(or behind uvicorn's ``ERROR:    Traceback`` prefix) arrives one entry per line, often without a
severity. Rules must see the frames and the final exception line together, so this stage reassembles
them per (service, revision, instance), by time and by the shape of the lines. Everything that is not
part of a traceback passes through as a one-record event. Memory holds only open tracebacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import regex as re

from triage.records import SEVERITY_LEVELS, Record, epoch_seconds

TRACEBACK_HEAD = "Traceback (most recent call last):"
_CHAIN_LINES = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)
_FRAME_RE = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<func>.*))?$')
# Final line of a traceback: "pkg.mod.SomeError: message" or a bare type name, not indented.
_EXC_RE = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure|Fault|Refused|Timeout|Invalid|Missing|NotFound|Denied|[A-Z]\w*))(?::\s?(?P<msg>.*))?$"
)
# Paths that are not the application: installed packages, the standard library, console scripts
# (`/usr/local/bin/uvicorn` runs at `<module>` level but is not the app's import-time code).
LIB_MARKERS = (
    "site-packages/",
    "dist-packages/",
    "/lib/python",
    "<frozen ",
    "<string>",
    "/usr/local/bin/",
    "/usr/bin/",
)
# A split traceback line that arrives later than this after the previous one is a new story.
MAX_GAP_S = 5.0
MAX_LINES = 2000


@dataclass(frozen=True, slots=True)
class Frame:
    file: str
    line: int
    function: str
    code: str = ""

    @property
    def is_app(self) -> bool:
        """Application code, not the standard library or an installed package."""
        return not any(m in self.file for m in LIB_MARKERS)


@dataclass(frozen=True, slots=True)
class Event:
    records: tuple[Record, ...]
    message: str
    frames: tuple[Frame, ...] = ()
    exceptions: tuple[tuple[str, str], ...] = ()  # (type, message) per exception in the chain, oldest first

    @property
    def first(self) -> Record:
        return self.records[0]

    @property
    def timestamp(self) -> str:
        return self.records[0].timestamp

    @property
    def service(self) -> str:
        return self.records[0].service

    @property
    def revision(self) -> str:
        return self.records[0].revision

    @property
    def instance(self) -> str:
        return self.records[0].instance

    @property
    def log(self) -> str:
        return self.records[0].log

    @property
    def http_status(self) -> int | None:
        return self.records[0].http_status

    @property
    def severity(self) -> str:
        if len(self.records) == 1:
            return self.records[0].severity
        return max((r.severity for r in self.records), key=lambda s: SEVERITY_LEVELS.get(s, 0))

    @property
    def level(self) -> int:
        return SEVERITY_LEVELS.get(self.severity, 0)

    @property
    def is_traceback(self) -> bool:
        return bool(self.frames) or TRACEBACK_HEAD in self.message

    @property
    def exception(self) -> str:
        """Type of the exception that surfaced last ("" if none)."""
        return self.exceptions[-1][0] if self.exceptions else ""

    @property
    def app_frame(self) -> str:
        """Where the application was when it failed: its innermost module-level frame (import time),
        else its innermost frame, as "file.py line N: code"; "" without application frames."""
        app = [f for f in self.frames if f.is_app]
        if not app:
            return ""
        module_level = [f for f in app if f.function == "<module>"]
        f = (module_level or app)[-1]
        where = f"{f.file.rsplit('/', 1)[-1]} line {f.line}"
        return f"{where}: {f.code}" if f.code else where


def parse_traceback(text: str) -> tuple[tuple[Frame, ...], tuple[tuple[str, str], ...]]:
    """Frames and chained exceptions of a traceback text (empty tuples if there is none)."""
    if TRACEBACK_HEAD not in text:
        return (), ()
    frames: list[Frame] = []
    excs: list[tuple[str, str]] = []
    in_tb = False
    lines = text.splitlines()
    for i, raw in enumerate(lines):
        line = raw.rstrip()
        if TRACEBACK_HEAD in line:
            in_tb = True
            continue
        if not in_tb:
            continue
        m = _FRAME_RE.match(line)
        if m:
            code = lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith("    ") else ""
            frames.append(Frame(m["file"], int(m["line"]), (m["func"] or "").strip(), code))
            continue
        if not line or line[0].isspace():
            continue
        m = _EXC_RE.match(line)
        if m:
            excs.append((m["type"], (m["msg"] or "").strip()))
            in_tb = False
    return tuple(frames), tuple(excs)


def make_event(records: tuple[Record, ...]) -> Event:
    message = records[0].message if len(records) == 1 else "\n".join(r.message for r in records)
    frames, excs = parse_traceback(message)
    return Event(records, message, frames, excs)


def _seconds(ts: str) -> float:
    return epoch_seconds(ts) or 0.0


class _Open:
    """A traceback being reassembled for one instance."""

    __slots__ = ("ended", "last_ts", "records")

    def __init__(self, record: Record) -> None:
        self.records = [record]
        self.last_ts = _seconds(record.timestamp)
        self.ended = False  # saw the final exception line; only a chain marker can continue it


def _is_continuation(text: str, tb: _Open) -> bool:
    stripped = text.strip()
    if tb.ended:
        # After "FooError: x" only a blank line or a chain marker continues the story.
        return stripped == "" or stripped in _CHAIN_LINES
    if not stripped:
        return True
    if text[0].isspace() or stripped in _CHAIN_LINES or TRACEBACK_HEAD in stripped:
        return True
    # The final exception line ends the traceback.
    return bool(_EXC_RE.match(stripped.splitlines()[0]))


def _ends(text: str) -> bool:
    last = text.rstrip().splitlines()[-1] if text.strip() else ""
    return bool(last) and not last[0].isspace() and bool(_EXC_RE.match(last.strip()))


def _opens(text: str) -> bool:
    """A record that starts a traceback but does not finish it."""
    if TRACEBACK_HEAD not in text:
        return False
    tail = text[text.rindex(TRACEBACK_HEAD) :]
    return not _ends(tail)


def assemble(records: Iterable[Record]) -> Iterator[Event]:
    """Yield events; records must arrive in timestamp order (per instance at least)."""
    open_tbs: dict[tuple[str, str, str], _Open] = {}
    for rec in records:
        key = (rec.service, rec.revision, rec.instance)
        tb = open_tbs.get(key)
        if tb is not None:
            ts = _seconds(rec.timestamp)
            if (
                rec.log in ("stdout", "stderr")
                and ts - tb.last_ts <= MAX_GAP_S
                and len(tb.records) < MAX_LINES
                and _is_continuation(rec.message, tb)
            ):
                tb.records.append(rec)
                tb.last_ts = ts
                if not tb.ended:
                    tb.ended = _ends(rec.message) and rec.message.strip() not in _CHAIN_LINES
                elif rec.message.strip() in _CHAIN_LINES:
                    tb.ended = False
                continue
            if rec.log not in ("stdout", "stderr") and ts - tb.last_ts <= MAX_GAP_S:
                # Platform lines (system, requests) interleave with the traceback; let them through.
                yield make_event((rec,))
                continue
            del open_tbs[key]
            yield make_event(tuple(tb.records))
        if rec.log in ("stdout", "stderr") and _opens(rec.message):
            open_tbs[key] = _Open(rec)
        else:
            yield make_event((rec,))
    for tb in open_tbs.values():
        yield make_event(tuple(tb.records))
