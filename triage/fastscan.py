"""Worker side of the fast path: one chunk of JSON lines -> the lines that need the full path, plus
exact aggregates of the rest.

A line goes to the full path (parsed, normalised, reassembled, matched) when it could matter to a rule,
to traceback reassembly, to error clustering or to history beyond counting:
- the raw prefilter finds a rule literal, the traceback head, an audit logName, or an escape that could
  hide a literal (``\\/``, ``\\u00XX``, surrogates) in it;
- it is ERROR or above, has a payload other than text (audit proto, a JSON payload without a message
  key), a request line whose built message ("GET 200 url") holds a literal, a system-log line without
  text, or anything the light decoder cannot read with the expected types (the full path then decides,
  malformed or not);
- it is stdout/stderr of an instance near a traceback head (a split traceback's lines must all reach
  reassembly, and so must the line that ends it).
Every other line is one benign, standalone event in the reference path: no rule can match it and it is
not error-like, so only its contribution to the revision history is kept, aggregated here (for system-log
lines that includes the instance start, probe and exit counters their text bumps).
"""

from __future__ import annotations

import gc
import itertools
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson

from triage.analysis.history import HistoryPart, RevisionCounts, service_of_revision, system_counter
from triage.engine.prefilter import RawPrefilter
from triage.events import MAX_GAP_S, _seconds, is_error_like
from triage.records import (
    SEVERITY_LEVELS,
    NotAnEntry,
    _project_of,
    from_entry,
    log_kind,
    normalize_timestamp,
    severity_name,
)
from triage.traces import CHAIN_LINES, EXC_RE, TRACEBACK_HEAD, may_continue

HEAD = TRACEBACK_HEAD.encode()
# Always-kept markers besides the rules' literals (see the module docstring).
MARKERS = (
    TRACEBACK_HEAD,
    "cloudaudit.googleapis.com",
    "\\/",
    "\\u00",
    *(f"\\ud{c}" for c in "89abcdef"),
)
TB_SLACK_S = 2.0  # seconds a traceback's lines may stray, in log time, from where reassembly expects them
# A canonical timestamp (normalize_timestamp's output shape) that names a real instant: months 01-12,
# each month's last day, February 29 in leap years only, hours 00-23, no second 60, no year 0000. A
# canonical-looking impossible one must not pass unread: records.from_entry counts it as malformed.
_MONTH_DAY = r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
_LEAP_DAY = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29"
_TS = rf"(?!0000)(?:[0-9]{{4}}-{_MONTH_DAY}|{_LEAP_DAY})T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{{6}}Z"
_CANON_BLOCK = re.compile(f"(?:{_TS}\n)*{_TS}")
_CANON_ONE = re.compile(_TS)


class _RL(msgspec.Struct):
    service_name: str = ""
    revision_name: str = ""
    job_name: str = ""
    project_id: str = ""
    location: str = ""


class _Res(msgspec.Struct):
    type: str = ""
    labels: _RL = msgspec.field(default_factory=_RL)


class _Labels(msgspec.Struct):
    instanceId: str = ""
    execution: str = msgspec.field(default="", name="run.googleapis.com/execution_name")


class _Http(msgspec.Struct):
    status: int | str | None = None
    requestUrl: str = ""
    requestMethod: str = ""


class _Json(msgspec.Struct):
    message: Any = None
    msg: Any = None
    textPayload: Any = None
    event: Any = None
    log: Any = None


class _Light(msgspec.Struct):
    logName: str = ""
    timestamp: str | None = None
    receiveTimestamp: str | None = None
    severity: str | int | None = None
    insertId: str = ""
    resource: _Res = msgspec.field(default_factory=_Res)
    labels: _Labels = msgspec.field(default_factory=_Labels)
    textPayload: str | None = None
    jsonPayload: _Json | None = None
    protoPayload: Any = None
    httpRequest: _Http | None = None


@dataclass
class ChunkResult:
    lines: int  # physical lines in the chunk's own region
    entries: int  # non-empty lines
    full: list[tuple[int, int, bytes]]  # (line number, entry number, stripped line), 1-based within the chunk
    agg: HistoryPart
    size: int = 0  # bytes of the chunk's own region


_STATE: dict[str, Any] = {}


class _Probe:
    """What ``events.is_error_like`` reads of an event, for a light line (which holds no traceback)."""

    __slots__ = ("log", "message")
    level = 0
    is_traceback = False

    def __init__(self, log: str, message: str) -> None:
        self.log = log
        self.message = message


def init_worker(literals: tuple[str, ...]) -> None:
    _STATE["error_like"] = is_error_like
    _STATE["pf"] = RawPrefilter((*literals, *MARKERS))
    _STATE["dec"] = msgspec.json.Decoder(_Light)
    gc.disable()  # the chunk's objects are short-lived; the cyclic collector only costs time here


def _may_continue(text: str) -> bool:
    """Could this line extend an open traceback (the Python case of events._Open.take, ignoring its state)?"""
    stripped = text.strip()
    if not stripped or text[0].isspace() or stripped in CHAIN_LINES or TRACEBACK_HEAD in stripped:
        return True
    return bool(EXC_RE.match(stripped.splitlines()[0]))


def _record(line: bytes):
    try:
        return from_entry(orjson.loads(line))
    except (orjson.JSONDecodeError, NotAnEntry):
        return None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _windows(data: bytes, starts: list[int]) -> dict[tuple[str, str, str], list[list[float]]]:
    """(service, revision, instance) -> [[from, to], ...] (normalised timestamps) around each traceback head."""
    wins: dict[tuple[str, str, str], list[list[float]]] = {}
    for start in starts:
        end = data.find(b"\n", start)
        line = data[start : end if end >= 0 else len(data)]
        if HEAD not in line:
            continue
        rec = _record(line.strip())
        if rec is None or rec.log not in ("stdout", "stderr"):
            continue
        t = _seconds(rec.timestamp) if rec.timestamp else 0.0
        key = (rec.service, rec.revision, rec.instance)
        wins.setdefault(key, []).append([_iso(t - TB_SLACK_S), _iso(t + MAX_GAP_S + TB_SLACK_S)])
    return wins


def scan_chunk(task: tuple[Any, int, int, int, int]) -> ChunkResult:
    """``task``: (path or bytes, region start, region end, context start, context end), absolute offsets
    for a path, offsets into the bytes otherwise. The context (a little before and after the region) is
    only searched for traceback heads."""
    src, lo, hi, ctx_lo, ctx_hi = task
    if isinstance(src, str):
        with open(src, "rb") as f:
            f.seek(ctx_lo)
            data = f.read(ctx_hi - ctx_lo)
        lo, hi = lo - ctx_lo, hi - ctx_lo
    else:
        data = src
    pf: RawPrefilter = _STATE["pf"]
    starts = pf.line_starts(data)
    wins = _windows(data, starts)
    return _scan(data, lo, hi, set(starts), wins, pf)


def _class_info(log_name: str, severity: Any) -> tuple[str, bool, bool, str]:
    """(the log kind if lines of this logName and severity may be light else "", stdout/stderr, unlevelled
    stdout/stderr, the project the logName names)."""
    kind = log_kind(log_name)[0]
    level = SEVERITY_LEVELS[severity_name(severity)]
    if kind == "audit" or level >= 500:
        kind = ""
    std = kind in ("stdout", "stderr")
    return kind, std, std and not level, _project_of(log_name)


def _has_message(jp: _Json) -> bool:
    m = jp.message
    if type(m) is str and m:
        return True
    return any(isinstance(v, str) and v for v in (jp.msg, jp.textPayload, jp.event, jp.log))


def _timestamps(ts: list[str]) -> list[str]:
    """Normalised timestamps; Cloud Logging's own shape passes unchanged (checked in one regex call)."""
    if _CANON_BLOCK.fullmatch("\n".join(ts)):
        return ts
    return [normalize_timestamp(t) if t else "" for t in ts]


def _std(log_name: str) -> bool:
    return log_kind(log_name)[0] in ("stdout", "stderr")


def _norm(ts: str) -> str:
    return ts if not ts or _CANON_BLOCK.fullmatch(ts) else normalize_timestamp(ts)


def _continued_lines(data: bytes, hi: int, light: dict, conts: list, full: list) -> list[tuple]:
    """The light stdout/stderr lines that a continuation line (frames, hints, properties) may join in
    reassembly: of its instance, the latest at or before it in time order. Continuation lines are those found light-path side (``conts``), the
    full-path lines (a frame with a rule literal went there before its shape was looked at), and the
    context after the chunk (continuations of the chunk's last lines)."""
    decode = _STATE["dec"].decode
    conts = list(conts)
    for raw in itertools.chain((line for _, _, line in full), data[hi:].split(b"\n")):
        try:
            e = decode(raw)
        except msgspec.DecodeError:
            continue
        rl, labels = e.resource.labels, e.labels
        key3 = (rl.service_name or rl.job_name, rl.revision_name or labels.execution, labels.instanceId)
        if key3 in light and e.textPayload is not None and may_continue(e.textPayload) and _std(e.logName):
            conts.append((key3, e.timestamp or e.receiveTimestamp or ""))
    wanted: dict[tuple[str, str, str], list[str]] = {}
    for key3, ts in conts:
        if key3 in light:
            wanted.setdefault(key3, []).append(_norm(ts))
    out: dict[int, tuple] = {}
    for key3, stamps in wanted.items():
        lines = sorted((_norm(line[0]), line[1], line) for line in light[key3])
        times = [t for t, _, _ in lines]
        for t in stamps:
            # The line reassembly sees just before it: the latest light line at or before its time (all
            # of them at that instant), if within MAX_GAP_S. A full line in between only makes this
            # one more line than needed.
            b = bisect_right(times, t)
            if not b or (t and _seconds(t) - _seconds(times[b - 1]) > MAX_GAP_S):
                continue
            for _, n, line in lines[bisect_left(times, times[b - 1]) : b]:
                out[n] = line
    return list(out.values())


def _scan(data: bytes, lo: int, hi: int, hits: set[int], wins: dict, pf: RawPrefilter) -> ChunkResult:
    decode = _STATE["dec"].decode
    classes: dict[tuple[str, Any], tuple[str, bool, bool, str]] = _STATE.setdefault("classes", {})
    error_like = _STATE["error_like"]
    full: list[tuple[int, int, bytes]] = []  # lines as read: stripped at the end
    # light lines without httpRequest: timestamps per (service, revision, instance, project, location)
    groups: dict[tuple[str, str, str, str, str], list[str]] = {}
    with_http: list[tuple] = []
    system: dict[tuple, list[str]] = {}  # light system-log lines: timestamps per (key, counter)
    blanks = 0  # blank lines so far: entry number = line number - blanks
    # light stdout/stderr lines per instance, and the continuation lines that may join them
    light: dict[tuple[str, str, str], list[tuple[str, int]]] = {}
    conts: list[tuple[tuple[str, str, str], str]] = []
    line_no = 0
    pos = lo
    for line_no, raw in enumerate(data[lo:hi].split(b"\n"), 1):
        start = pos
        pos += len(raw) + 1
        if start in hits and raw.strip():
            full.append((line_no, line_no - blanks, raw))
            continue
        try:
            e = decode(raw)  # JSON allows the whitespace bytes.strip() would remove, except \v and \f
        except msgspec.DecodeError:
            if raw.strip():
                full.append((line_no, line_no - blanks, raw))
            else:
                blanks += 1
            continue
        ck = (e.logName, e.severity)
        info = classes.get(ck)
        if info is None:
            info = classes[ck] = _class_info(*ck)
        kind, std, unlevelled, log_project = info
        # Job lines take the full path: History learns from them that the name is a job (they are few).
        if not kind or e.protoPayload is not None or e.resource.type == "cloud_run_job":
            full.append((line_no, line_no - blanks, raw))
            continue
        text = e.textPayload
        http = e.httpRequest
        if kind == "system" and (text is None or http is not None):
            full.append((line_no, line_no - blanks, raw))  # its message is not its text
            continue
        if text is None:
            jp = e.jsonPayload
            if jp is not None:
                if http is not None or not _has_message(jp):
                    full.append((line_no, line_no - blanks, raw))
                    continue
            elif http is None and not e.logName and e.timestamp is None:
                full.append((line_no, line_no - blanks, raw))  # maybe not a LogEntry: the full path decides
                continue
        # An unlevelled line can be error-like by its words (events.is_error_like): the full path.
        if unlevelled and (text is None or error_like(_Probe(kind, text))):
            full.append((line_no, line_no - blanks, raw))
            continue
        rl = e.resource.labels
        labels = e.labels
        key = (
            rl.service_name or rl.job_name,
            rl.revision_name or labels.execution,
            labels.instanceId,
            rl.project_id or log_project,
            rl.location,
        )
        ts = e.timestamp or e.receiveTimestamp or ""
        if ts and not _CANON_ONE.fullmatch(ts) and not normalize_timestamp(ts):
            full.append((line_no, line_no - blanks, raw))  # no real instant: a malformed entry, counted there
            continue
        if std and text is not None and may_continue(text):
            # A trace's frames, a hint or property line: reassembly joins it to a line before it of the
            # same instance, so those (if light) go to the full path too (see _continued_lines).
            conts.append((key[:3], ts))
            full.append((line_no, line_no - blanks, raw))
            continue
        if wins and std and key[:3] in wins:
            t = ts if _CANON_BLOCK.fullmatch(ts) else normalize_timestamp(ts)
            inside = [s for s in wins[key[:3]] if s[0] <= t <= s[1]]
            if inside:
                full.append((line_no, line_no - blanks, raw))
                if text is None:  # a JSON payload: its message as records.from_entry builds it
                    rec = _record(raw.strip())
                    text = None if rec is None else rec.message
                if text is not None and _may_continue(text):
                    until = _iso(_seconds(t) + MAX_GAP_S + TB_SLACK_S) if t else ""
                    for s in inside:
                        s[1] = max(s[1], until)
                continue
        if kind == "system":
            g = system.setdefault((key, system_counter(text)), [])
            g.append(ts)
        elif http is None:
            g = groups.get(key)
            if g is None:
                groups[key] = [ts]
            else:
                g.append(ts)
            if std:
                light.setdefault(key[:3], []).append((ts, line_no, key, line_no - blanks, raw))
        else:
            with_http.append((line_no, line_no - blanks, raw, key, ts, http, e.insertId, text, kind))
    entry_no = line_no - blanks
    if conts or light:
        for stamp, n, key, entry, raw in _continued_lines(data, hi, light, conts, full):
            groups[key].remove(stamp)  # counted as light: counted by the full path instead
            full.append((n, entry, raw))
    if data[hi - 1 : hi] == b"\n":
        line_no -= 1  # the piece after the last newline is not a line
    agg = HistoryPart()
    agg.lines = sum(map(len, groups.values()))
    rev_service: dict[str, str] = _STATE.setdefault("rev_service", {})

    def state(key: tuple[str, str, str, str, str], n: int, stamps: list[str]) -> RevisionCounts | None:
        service, revision, instance, project, location = key
        if project:
            agg.projects[project] = agg.projects.get(project, 0) + n
        if not service and revision:
            service = rev_service.get(revision)
            if service is None:
                service = rev_service[revision] = service_of_revision(revision)
        stamps = [t for t in stamps if t]
        if stamps:
            lo_t, hi_t = min(stamps), max(stamps)
            if not agg.first_ts or lo_t < agg.first_ts:
                agg.first_ts = lo_t
            agg.last_ts = max(agg.last_ts, hi_t)
        if not service:
            return None
        agg.service_entries[service] = agg.service_entries.get(service, 0) + n
        if location:
            agg.locations.setdefault(service, set()).add(location)
        if not revision:
            return None
        st = agg.revisions.get((service, revision))
        if st is None:
            st = agg.revisions[(service, revision)] = RevisionCounts()
        st.location = st.location or location
        st.entries += n
        if stamps:
            if not st.first_seen or lo_t < st.first_seen:
                st.first_seen = lo_t
            st.last_seen = max(st.last_seen, hi_t)
        if instance:
            st.add_instance(instance)
        return st

    for key, stamps in groups.items():
        state(key, len(stamps), _timestamps(stamps))
    ready = agg.instance_ready
    for (key, counter), stamps in system.items():
        agg.lines += len(stamps)
        stamps = _timestamps(stamps)
        st = state(key, len(stamps), stamps)
        if st is None or not counter:
            continue
        setattr(st, counter, getattr(st, counter) + len(stamps))
        instance = key[2]
        if counter == "probe_passed" and instance:
            first = min(stamps)
            if instance not in ready or first < ready[instance]:
                ready[instance] = first
    if with_http:
        _requests(with_http, full, agg, pf, state)
    return ChunkResult(line_no, entry_no, [(a, b, line.strip()) for a, b, line in full], agg, hi - lo)


def _status(raw: int | str | None) -> int | None:
    """httpRequest.status as records.from_entry reads it ("0200" -> 200; "²" is no status)."""
    if type(raw) is int:
        return raw
    if type(raw) is str and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def _requests(lines: list[tuple], full: list, agg: HistoryPart, pf: RawPrefilter, state) -> None:
    """Light lines with an httpRequest: request counters, the first URL, and the built message check."""
    statuses = [_status(x[5].status) for x in lines]
    built = [j for j, x in enumerate(lines) if x[7] is None]  # no text: records.from_entry builds a message
    messages = {j: f"{lines[j][5].requestMethod} {statuses[j] or ''} {lines[j][5].requestUrl}".strip() for j in built}
    bad: set[int] = set()
    if built:  # a literal may span the fields of a built message ("GET 500 https://...")
        encoded = [messages[j].encode() for j in built]
        offs, off = [], 0
        for msg in encoded:
            offs.append(off)
            off += len(msg) + 1
        ends = pf.hit_offsets(b"\n".join(encoded))
        bad = {built[bisect_right(offs, end - 1) - 1] for end in ends}
    stamps = _timestamps([x[4] for x in lines])
    by_status: dict[tuple, list[int]] = {}
    for j, x in enumerate(lines):
        if bad and j in bad:
            full.append(x[:3])
            continue
        k = (x[3], statuses[j] if x[8] == "requests" else None, x[8] == "requests")
        g = by_status.get(k)
        if g is None:
            by_status[k] = [j]
        else:
            g.append(j)
    urls = agg.urls
    ready = agg.instance_ready
    for (key, status, is_request), idx in by_status.items():
        n = len(idx)
        agg.lines += n
        ts_list = [stamps[j] for j in idx]
        st = state(key, n, ts_list)
        service = (key[0] or service_of_revision(key[1])) if is_request and key[1] else ""
        if service:  # the first request URL in time order (History.urls), by the reference's sort key
            for j in idx:
                x = lines[j]
                url = x[5].requestUrl
                if url.startswith("http"):
                    ts = stamps[j]
                    cur = urls.get(service)
                    if cur is None or ts <= cur[0]:
                        cand = (ts, x[6], x[7] if x[7] is not None else messages[j], url)
                        if cur is None or cand < cur:
                            urls[service] = cand
        if st is None or status is None:
            continue
        instance = key[2]
        if instance and status != 429 and status < 500:
            first = min(ts_list)
            if instance not in ready or first < ready[instance]:
                ready[instance] = first
        st.requests += n
        st.last_request = max(st.last_request, *ts_list)
        if status == 429:
            st.errors_429 += n
        elif status >= 500:
            st.errors_5xx += n
        else:
            st.served += n
            st.last_served = max(st.last_served, *ts_list)
    if bad:
        full.sort()
