"""Group records into events: a stack trace split over many entries becomes one event.

Cloud Run keeps a traceback written in one ``write()`` as one entry, but output printed line by line
(or behind uvicorn's ``ERROR:    Traceback`` prefix) arrives one entry per line, often without a
severity. Rules must see the frames and the final exception line together, so this stage reassembles
them per (service, revision, instance), by time and by the shape of the lines (triage.traces knows the
shapes of every runtime). Memory holds one open event per instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import regex as re

from triage.caches import remember
from triage.records import APP_LOGS, SEVERITY_LEVELS, Record, epoch_seconds
from triage.traces import (
    CHAIN_LINES,
    EXC_RE,
    TRACEBACK_HEAD,
    continues,
    is_frame_line,
    is_library,
    parse_frames,
    trace_kind,
)

_FRAME_RE = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<func>.*))?$')
_HAS_PY_FRAME = re.compile(r'(?m)^\s*File "[^"]*", line \d+')
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
        return not is_library(self.file, self.function)


# Record fields that repeat from event to event (a service has few revisions, instances and regions).
_SHARED_FIELDS = ("service", "revision", "instance", "log", "resource_type", "project", "location")


@dataclass(frozen=True, slots=True)
class Event:
    records: tuple[Record, ...]
    message: str
    frames: tuple[Frame, ...] = ()
    exceptions: tuple[tuple[str, str], ...] = ()  # (type, message) per exception in the chain, oldest first

    @property
    def first(self) -> Record:
        return self.records[0]

    def compact(self, shared: dict) -> Event:
        """The event as kept after matching: one record (the first, with the event's severity) instead of
        one per line, so what a run holds grows with its findings, not with their lines. Everything the
        analysis reads of an event (``first``, the properties below, message, frames) stays the same.
        ``shared``: a dict kept across a run, through which equal messages, frames and labels of kept
        events become one object (a crash loop repeats them thousands of times); frames and exceptions
        are parsed from the message, so one message has one of each."""
        first = self.records[0]
        message = shared.setdefault(self.message, self.message)
        first = replace(
            first,
            severity=shared.setdefault(self.severity, self.severity),
            message=message if first.message == message else first.message,
            labels=shared.setdefault(tuple(first.labels.items()), first.labels),
            **{name: shared.setdefault(v, v) for name in _SHARED_FIELDS if (v := getattr(first, name))},
        )
        frames, exceptions = shared.setdefault(("frames", message), (self.frames, self.exceptions))
        return Event((first,), message, frames, exceptions)

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
    """Frames and chained exceptions of a Python traceback text (empty tuples if there is none). A
    traceback cut above its head (sampled or truncated logs) starts at its first frame."""
    head_at = text.find(TRACEBACK_HEAD)
    # Frames before the first head: a traceback (or a chain's first one) cut above its head.
    headless = _HAS_PY_FRAME.search(text if head_at < 0 else text[:head_at]) is not None
    if head_at < 0 and not headless:
        return (), ()
    frames: list[Frame] = []
    excs: list[tuple[str, str]] = []
    in_tb = headless
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
        m = EXC_RE.match(line)
        if m:
            excs.append((m["type"], (m["msg"] or "").strip()))
            in_tb = False
    return tuple(frames), tuple(excs)


# Per-message results of the parses below, which depend on the text alone: a run repeats the same lines
# (a trace's frames, a crash loop's traceback) thousands of times. Bounded in entries and in text length.
_CACHE_MAX = 1 << 12  # at most 4096 texts of 4 KB each: 16 MB, whatever the input
_CACHE_TEXT = 4096
_PARSED: dict[str, tuple[tuple[Frame, ...], tuple[tuple[str, str], ...]]] = {}
_OPENED: dict[str, tuple[str, bool, bool]] = {}


def _remember(cache: dict, text: str, value: Any) -> None:
    if len(text) <= _CACHE_TEXT:
        remember(cache, text, value, _CACHE_MAX)


def make_event(records: tuple[Record, ...]) -> Event:
    message = records[0].message if len(records) == 1 else "\n".join(r.message for r in records)
    parsed = _PARSED.get(message)
    if parsed is None:
        frames, excs = parse_traceback(message)
        if not frames and not excs and "\n" in message:
            found, excs = parse_frames(message)
            frames = tuple(Frame(*f) for f in found)
        parsed = (frames, tuple(excs))
        _remember(_PARSED, message, parsed)
    return Event(records, message, *parsed)


def _seconds(ts: str) -> float:
    return epoch_seconds(ts) or 0.0


class _Open:
    """An event being reassembled for one instance: a Python traceback, a Go panic, or any line that
    later lines may continue (frames, hint lines, properties)."""

    __slots__ = ("ended", "framed", "kind", "last_ts", "records")

    def __init__(self, record: Record) -> None:
        text = record.message
        self.records = [record]
        self.last_ts = _seconds(record.timestamp)
        opened = _OPENED.get(text)
        if opened is None:
            opened = _opened(text)
            _remember(_OPENED, text, opened)
        self.kind, self.ended, self.framed = opened

    def take(self, record: Record) -> bool:
        """Append the record if it continues this event."""
        text = record.message
        if self.kind != "python" and _FRAME_RE.match(text):
            self.kind = "python"  # a traceback cut above its head
        if self.kind == "python":
            if not _py_continues(text, self.ended):
                return False
            stripped = text.strip()
            if not self.ended:
                self.ended = _ends(text) and stripped not in CHAIN_LINES
            elif stripped in CHAIN_LINES:
                self.ended = False
        elif continues(self.kind, text, self.framed):
            self.framed = self.framed or is_frame_line(text)
        else:
            return False
        self.records.append(record)
        return True


def _opened(text: str) -> tuple[str, bool, bool]:
    """(kind, ended, framed) of an event that starts with a line of this text."""
    kind = _kind(text)
    # A Python traceback whose final exception line was seen: only a chain marker (or an indented hint
    # line such as libpq's) continues it.
    tail = text[text.rfind(TRACEBACK_HEAD) :] if TRACEBACK_HEAD in text else text
    ended = kind == "python" and _ends(tail)
    return kind, ended, any(is_frame_line(line) for line in text.splitlines())


def _kind(text: str) -> str:
    return "python" if _FRAME_RE.match(text) else trace_kind(text)


def _py_continues(text: str, ended: bool) -> bool:
    stripped = text.strip()
    if ended:
        # After "FooError: x" only a blank line, a chain marker or an indented hint line continues.
        return stripped == "" or stripped in CHAIN_LINES or text[0].isspace()
    if not stripped:
        return True
    if text[0].isspace() or stripped in CHAIN_LINES or TRACEBACK_HEAD in stripped:
        return True
    # The final exception line ends the traceback.
    return bool(EXC_RE.match(stripped.splitlines()[0]))


def _ends(text: str) -> bool:
    last = text.rstrip().splitlines()[-1] if text.strip() else ""
    return bool(last) and not last[0].isspace() and bool(EXC_RE.match(last.strip()))


def assemble(records: Iterable[Record]) -> Iterator[Event]:
    """Yield events; records must arrive in timestamp order (per instance at least)."""
    open_events: dict[tuple[str, str, str], _Open] = {}
    for rec in records:
        key = (rec.service, rec.revision, rec.instance)
        ev = open_events.get(key)
        if ev is not None:
            ts = _seconds(rec.timestamp)
            within = ts - ev.last_ts <= MAX_GAP_S
            if rec.log in APP_LOGS and within and len(ev.records) < MAX_LINES and ev.take(rec):
                ev.last_ts = ts
                continue
            if rec.log not in APP_LOGS and within:
                # Platform lines (system, requests) interleave with the trace; let them through.
                yield make_event((rec,))
                continue
            del open_events[key]
            yield make_event(tuple(ev.records))
        if rec.log in APP_LOGS:
            open_events[key] = _Open(rec)
        else:
            yield make_event((rec,))
    for ev in open_events.values():
        yield make_event(tuple(ev.records))


# Plain stdout/stderr lines carry no severity (DEFAULT); their own words say whether they report a failure
# ("[ERROR] Worker (pid:7) exited", "Exception in worker process"). A line that names a lower level is not one.
_FAILURE_WORDS = re.compile(r"(?i)\b(?:error|exception|fatal|critical|panic|failed|failure)\b")
_LOW_LEVEL = re.compile(
    r"^\W{0,3}(?:\S+\s+){0,4}?[\[(]?(?:(?:INFO|DEBUG|TRACE|NOTICE|WARN|WARNING)\b|(?:info|debug|warning)[\]:])"
)


def is_error_like(event: Event) -> bool:
    """Severity ERROR or above, a traceback, or an unlevelled line with failure words."""
    if event.level >= 500 or event.is_traceback:
        return True
    if event.level or event.log not in ("stdout", "stderr"):
        return False
    return failure_words(event.message)


def failure_words(message: str) -> bool:
    """Whether an unlevelled stdout/stderr line is error-like by its words (is_error_like's last test;
    triage.fastscan asks it of the light lines, which hold no traceback)."""
    head = message[:300]
    if head.isascii():  # ASCII text matches the words case-insensitively only as ASCII: a cheap reject first
        low = head.lower()  # each word holds one of these (tested one by one: a generator costs more)
        if not (
            "error" in low
            or "fail" in low
            or "exception" in low
            or "fatal" in low
            or "critical" in low
            or "panic" in low
        ):
            return False
    return _FAILURE_WORDS.search(head) is not None and _LOW_LEVEL.match(head) is None
