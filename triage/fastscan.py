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
- it is an app-log line (stdout, stderr, other logs) that reassembly may join with a neighbour of its
  instance: a line that can continue the one before it (blank, indented, chain markers, `Caused by:`, Go
  dumps; ``_shape``), the line before such a line, and exception or Go function lines right after a
  trace (``_joined_lines``, in the order the pipeline merges lines). Neighbours are looked for in the
  chunk and CONTEXT bytes on each side of it (fastpath.CONTEXT): an instance's next line further away in
  the file than that is not seen (at 256 KB, a few hundred lines of other instances between two lines of
  one trace).
Every other line is one benign, standalone event in the reference path: no rule can match it and it is
not error-like, so only its contribution to the revision history is kept, aggregated here (for system-log
lines that includes the instance start, probe and exit counters their text bumps).
"""

from __future__ import annotations

import gc
import itertools
import operator
import re
from dataclasses import dataclass
from typing import Any

import msgspec

from triage.analysis.history import HistoryPart, RevisionCounts, service_of_revision, system_counter
from triage.caches import remember
from triage.engine.prefilter import RawPrefilter
from triage.events import MAX_GAP_S, _seconds, failure_words
from triage.records import (
    APP_LOGS,
    CANONICAL_TS,
    EXC_KEYS,
    MESSAGE_KEYS,
    SEVERITY_LEVELS,
    json_message,
    log_kind,
    normalize_timestamp,
    project_of,
    severity_name,
)
from triage.traces import CHAIN_LINES, EXC_RE, GO_FUNC, GO_PANIC, TRACEBACK_HEAD, may_continue

# Always-kept markers besides the rules' literals (see the module docstring).
MARKERS = (
    TRACEBACK_HEAD,
    "cloudaudit.googleapis.com",
    "\\/",
    "\\u00",
    *(f"\\ud{c}" for c in "89abcdef"),
)
_CANON_BLOCK = re.compile(f"(?:{CANONICAL_TS}\n)*{CANONICAL_TS}")  # _norm's test (a block passes unchanged, as before)
_CANON_ONE = re.compile(CANONICAL_TS)


class _RL(msgspec.Struct, gc=False):
    service_name: str = ""
    revision_name: str = ""
    job_name: str = ""
    project_id: str = ""
    location: str = ""


class _Res(msgspec.Struct, gc=False):
    type: str = ""
    labels: _RL = msgspec.field(default_factory=_RL)


class _Labels(msgspec.Struct, gc=False):
    instanceId: str = ""
    execution: str = msgspec.field(default="", name="run.googleapis.com/execution_name")


class _Http(msgspec.Struct, gc=False):
    status: int | str | None = None
    requestUrl: str = ""
    requestMethod: str = ""


class _Json(msgspec.Struct, gc=False):
    message: Any = None
    msg: Any = None
    textPayload: Any = None
    event: Any = None
    log: Any = None
    exc_info: Any = None  # records.EXC_KEYS: appended to the message by records.json_message
    stack_trace: Any = None
    exception: Any = None
    traceback: Any = None
    stacktrace: Any = None
    error: Any = None
    err: Any = None


class _Light(msgspec.Struct, gc=False):
    logName: str = ""
    timestamp: str | None = None
    receiveTimestamp: str | None = None
    severity: str | int | None = None
    insertId: str = ""
    # Raw: a run has few distinct resources and label sets, decoded once each (see _place)
    resource: msgspec.Raw = msgspec.Raw(b"")
    labels: msgspec.Raw = msgspec.Raw(b"")
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


def init_worker(literals: tuple[str, ...]) -> None:
    _STATE["error_like"] = failure_words
    _STATE["pf"] = RawPrefilter((*literals, *MARKERS))
    _STATE["dec"] = msgspec.json.Decoder(_Light)
    gc.disable()  # the chunk's objects are short-lived; the cyclic collector only costs time here


def scan_chunk(task: tuple[Any, int, int, int, int]) -> ChunkResult:
    """``task``: (path or bytes, region start, region end, context start, context end), absolute offsets
    for a path, offsets into the bytes otherwise. The context (a little before and after the region) is
    read only for the region's lines' neighbours (``_joined_lines``), never counted."""
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
    return _scan(data, lo, hi, set(starts), pf)


def _class_info(log_name: str, severity: Any) -> tuple[str, bool, str]:
    """(the log kind if lines of this logName and severity may be light else "", unlevelled stdout/stderr,
    the project the logName names)."""
    kind = log_kind(log_name)[0]
    level = SEVERITY_LEVELS[severity_name(severity)]
    if kind == "audit" or level >= 500:
        kind = ""
    return kind, kind in ("stdout", "stderr") and not level, project_of(log_name)


def _has_message(jp: _Json) -> bool:
    m = jp.message
    if type(m) is str and m:
        return True
    return any(isinstance(v, str) and v for v in (jp.msg, jp.textPayload, jp.event, jp.log))


def _norm(ts: str) -> str:
    return ts if not ts or _CANON_BLOCK.fullmatch(ts) else normalize_timestamp(ts)


_JSON_KEYS = (*MESSAGE_KEYS, *EXC_KEYS)
_exc_fields = operator.attrgetter(*EXC_KEYS)
TRIGGER, EXTENDER = 2, 1


def _json_text(jp: _Json) -> str:
    """The message records.from_entry builds from a JSON payload that has a message key."""
    if not any(_exc_fields(jp)):  # falsy ones (None, "", []) add nothing to the message
        for k in MESSAGE_KEYS:  # records.json_message without exception fields to append
            v = getattr(jp, k)
            if isinstance(v, str) and v:
                return v
    return json_message({k: v for k in _JSON_KEYS if (v := getattr(jp, k)) is not None})


# First words after which a line can still be a trace line: may_continue's prefixes, chain markers, Go.
_SPECIAL_WORDS = frozenset(
    {"Caused", "Suppressed", "goroutine", "[signal", "created", "exit", "panic:", "fatal", "The", "During"}
)


# EXC_RE's answer for a line by the part up to its first colon (see _exception_head), bounded.
_EXC_HEADS: dict[str, bool] = {}


def _exception_head(prefix: str) -> bool:
    """EXC_RE.match of a line whose first colon ends ``prefix`` (and comes before its first space), from
    ``prefix`` alone: the exception type holds no colon, so it can only end at that colon, and after
    ``:`` the pattern takes anything to the end of a line. Few distinct prefixes ("INFO:", a logger's)."""
    hit = _EXC_HEADS.get(prefix)
    if hit is None:
        hit = EXC_RE.match(prefix) is not None
        if len(prefix) <= _CACHED_TEXT:
            remember(_EXC_HEADS, prefix, hit, _SHAPES_MAX)
    return hit


def _shape(text: str) -> int:
    """What reassembly may do with a line of this text (events._Open.take, whatever the event's state):
    TRIGGER: it may continue the line before it (blank, indented, a chain marker, a traceback head, `Caused
    by:`, `}`, Go dump lines) or opens a trace that takes bare lines (a Go panic); EXTENDER: it continues
    only a trace already open (an exception line after frames, a Go function line); else 0."""
    if not text or text[0].isspace():
        return TRIGGER
    # Most lines are words: "order 42 updated". Every trace shape but the head is one token (an exception
    # type, a Go function), a token ending in ":" or holding "(", or starts with one of a few words, so
    # such a line is settled without a regex.
    nl = text.find("\n")
    head = text if nl < 0 else text[:nl]
    sp = head.find(" ")
    if sp > 0:
        word = head[:sp]
        if (
            "(" not in word
            and not word.startswith("...")
            and word not in _SPECIAL_WORDS
            and " in goroutine " not in head
            and TRACEBACK_HEAD not in text
        ):
            # Not one token, so not a Go function line: an exception line ("KeyError: 'x'", but also
            # "INFO: ready") or nothing.
            colon = word.find(":")
            return EXTENDER if colon >= 0 and _exception_head(word[: colon + 1]) else 0
    if not text.strip() or may_continue(text) or TRACEBACK_HEAD in text:
        return TRIGGER
    first = text.strip().splitlines()[0]
    if first in CHAIN_LINES or GO_PANIC.match(first):
        return TRIGGER
    return EXTENDER if EXC_RE.match(first) or GO_FUNC.match(first) else 0


def _message(e: _Light) -> str | None:
    """The line's message as records.from_entry builds it from a text payload or a JSON payload with a
    message key; None for any other payload (such lines take the full path)."""
    if e.textPayload is not None:
        return e.textPayload
    if e.jsonPayload is not None and _has_message(e.jsonPayload):
        return _json_text(e.jsonPayload)
    return None


# _shape by text: many messages repeat (probe lines, access lines, templates). Bounded in entries and in
# text length, like every cache here: each worker holds its own, and at 1 << 16 entries of any length the
# two workers' caches took the 10M-entry run's process tree from 278 to 353 MB.
_SHAPES: dict[str, int] = {}
_SHAPES_MAX = 1 << 13
_CACHED_TEXT = 512


def _shape_of(text: str) -> int:
    shape = _SHAPES.get(text)
    if shape is None:
        shape = _shape(text)
        if len(text) <= _CACHED_TEXT:
            remember(_SHAPES, text, shape, _SHAPES_MAX)
    return shape


_RES_DEC = msgspec.json.Decoder(_Res)
_LABELS_DEC = msgspec.json.Decoder(_Labels)
# ((service, revision, instance, project, location), resource type, the instance's part of that key) by (raw
# resource, raw labels, the logName's project); () for a resource or labels of the wrong shape. Bounded like
# _SHAPES.
_PLACES: dict[tuple[bytes, bytes, str], tuple] = {}
_CACHED_PLACE = 4096  # bytes of raw resource and labels (Cloud Run's are a few hundred)


def _place(e: _Light, log_project: str) -> tuple:
    """(key, resource type, instance key) of a decoded line, or () when its resource or labels do not decode as _Res and
    _Labels (a line the light decoder cannot read with the expected types: the full path decides)."""
    k = (bytes(e.resource), bytes(e.labels), log_project)
    got = _PLACES.get(k)
    if got is None:
        try:
            res = _RES_DEC.decode(k[0]) if k[0] else _Res()
            labels = _LABELS_DEC.decode(k[1]) if k[1] else _Labels()
        except msgspec.DecodeError:
            got = ()
        else:
            rl = res.labels
            key = (
                rl.service_name or rl.job_name,
                rl.revision_name or labels.execution,
                labels.instanceId,
                rl.project_id or log_project,
                rl.location,
            )
            got = (key, res.type, key[:3])
        if len(k[0]) + len(k[1]) <= _CACHED_PLACE:  # a hostile megabyte of labels is decoded, not kept
            remember(_PLACES, k, got, _SHAPES_MAX)
    return got


def _app_item(e: _Light, light: dict) -> tuple[tuple[str, str, str], tuple] | None:
    """(instance key, (time, insertId, message, shape, None)) of a decoded app-log line of an instance in
    ``light``, for the pass; None for any other line (its message and shape are then not worked out)."""
    place = _place(e, "")
    if not place:
        return None  # a resource or labels of the wrong shape: not a line the scan made light
    key3 = place[2]
    if key3 not in light or log_kind(e.logName)[0] not in APP_LOGS:
        return None
    text = _message(e)
    if text is None:
        return None
    return key3, (_norm(e.timestamp or e.receiveTimestamp or ""), e.insertId, text, _shape_of(text), None)


def _near(prev: Any, it: Any) -> bool:
    return _seconds(it[0]) - _seconds(prev[0]) <= MAX_GAP_S + 0.001


_MERGE_KEY = operator.itemgetter(0, 1, 2)  # (time, insertId, message): the pipeline's merge order


def _joined_lines(data: bytes, lo: int, hi: int, light: dict, extenders: set, full: list, known: dict) -> list[tuple]:
    """The light app-log lines reassembly may join with another line: the line just before a TRIGGER line
    (or a full EXTENDER line) of its instance within MAX_GAP_S, and EXTENDER lines right after a trigger or
    a joined extender. ``extenders``: the instances with a light EXTENDER line (light lines are never
    TRIGGER lines: those take the full path).
    Lines are ordered per instance as the pipeline merges them (time, insertId, message); the full-path
    lines and the context on both sides of the chunk (a neighbour across the edge) take part as known.
    ``known``: the items of the full lines the scan already read (by instance, their line numbers under None),
    which are not decoded again (the order of known items does not matter: the same merge key, the same item)."""
    decode = _STATE["dec"].decode
    read = known.pop(None)
    rest = (line for n, _, line in full if n not in read)
    for raw in itertools.chain(rest, data[:lo].split(b"\n"), data[hi:].split(b"\n")):
        try:
            item = _app_item(decode(raw), light)
        except msgspec.DecodeError:
            continue
        if item is not None:
            known.setdefault(item[0], []).append(item[1])
    out: list[tuple] = []
    for key3, items in light.items():
        shapes = {it[3] for it in known.get(key3, ())}
        # Nothing here can join (every line stays a standalone event) without a trigger, or without a known
        # line of a shape: a light line is taken only next to a trigger or before a known extender.
        if (key3 not in extenders and TRIGGER not in shapes) or not (shapes - {0}):
            continue
        seq = sorted([*items, *known.get(key3, ())], key=_MERGE_KEY)
        _join(seq, [i for i, it in enumerate(seq) if it[3]], out)
    return out


def _join(seq: list, marked: list[int], out: list) -> None:
    """One instance's pass over its lines in merge order (``marked``: the positions of lines with a shape,
    ascending; a line without one neither joins nor lets a run of extenders go on)."""
    for i in marked:
        it = seq[i]
        if it[3] != TRIGGER:
            continue
        if i and seq[i - 1][4] is not None and _near(seq[i - 1], it):
            prev = seq[i - 1]
            out.append(prev[4])  # the line this one may continue
            prev[4] = None
        # Extenders right after it continue it while each is near the one before: an exception line after
        # frames, a Go function after the panic.
        j = i + 1
        while j < len(seq) and seq[j][3] == EXTENDER and _near(seq[j - 1], seq[j]):
            if seq[j][4] is not None:
                out.append(seq[j][4])
                seq[j][4] = None
            j += 1
    # A full exception line may join an open trace unless the line before it ends that trace first: that
    # line goes too (backwards, so a run of such lines is followed to its start).
    for i in reversed(marked):
        it = seq[i]
        if i and it[3] == EXTENDER and it[4] is None and seq[i - 1][4] is not None and _near(seq[i - 1], it):
            prev = seq[i - 1]
            out.append(prev[4])
            prev[4] = None


def _scan(data: bytes, lo: int, hi: int, hits: set[int], pf: RawPrefilter) -> ChunkResult:
    decode = _STATE["dec"].decode
    classes: dict[tuple[str, Any], tuple[str, bool, str]] = _STATE.setdefault("classes", {})
    error_like = _STATE["error_like"]
    shapes = _SHAPES
    places = _PLACES
    built_hits = _BUILT_HITS  # _built_hit's cache, looked up inline: one call less per request line
    full: list[tuple[int, int, bytes]] = []  # lines as read: stripped at the end
    # light lines without httpRequest: timestamps per (service, revision, instance, project, location)
    groups: dict[tuple[str, str, str, str, str], list[str]] = {}
    # light lines with an httpRequest, grouped by (key, status, is a request line): see _requests
    with_http: dict[tuple, list[tuple]] = {}
    resort = False  # a line went to the full path after a later one: full is put back in order at the end
    system: dict[tuple, list[str]] = {}  # light system-log lines: timestamps per (key, counter)
    blanks = 0  # blank lines so far: entry number = line number - blanks
    # light app-log lines per instance ([time, insertId, message, shape, (time, key, line number, entry number,
    # start, end)]): see _joined_lines
    light: dict[tuple[str, str, str], list[list]] = {}
    extenders: set[tuple[str, str, str]] = set()  # instances with a light EXTENDER line
    known: dict[Any, Any] = {None: set()}  # _joined_lines's items of full lines read here
    # Lines are decoded from views of ``data``: a line is copied out only when kept (most are not)
    view = memoryview(data)
    find = data.find
    line_no = 0
    end = lo - 1
    while end < hi:  # every piece between newlines, the one after the last too (as bytes.split gives them)
        start = end + 1
        end = find(b"\n", start, hi)
        if end < 0:
            end = hi
        line_no += 1
        if start in hits:
            raw = data[start:end]
            if raw.strip():
                full.append((line_no, line_no - blanks, raw))
                continue
        try:
            e = decode(view[start:end])  # JSON allows the whitespace bytes.strip() would remove, except \v and \f
        except msgspec.DecodeError:
            raw = data[start:end]
            if raw.strip():
                full.append((line_no, line_no - blanks, raw))
            else:
                blanks += 1
            continue
        ck = (e.logName, e.severity)
        info = classes.get(ck)
        if info is None:
            info = classes[ck] = _class_info(*ck)
        kind, unlevelled, log_project = info
        # Job lines take the full path: History learns from them that the name is a job (they are few).
        if not kind or e.protoPayload is not None:
            full.append((line_no, line_no - blanks, data[start:end]))
            continue
        place = places.get((bytes(e.resource), bytes(e.labels), log_project))  # _place, inline
        if place is None:
            place = _place(e, log_project)
        if not place or place[1] == "cloud_run_job":  # wrong-shaped (the full path decides), or a job
            full.append((line_no, line_no - blanks, data[start:end]))
            continue
        text = e.textPayload
        http = e.httpRequest
        if kind == "system" and (text is None or http is not None):
            full.append((line_no, line_no - blanks, data[start:end]))  # its message is not its text
            continue
        jp = e.jsonPayload
        if text is None:
            if jp is not None:
                if http is not None or not _has_message(jp):
                    full.append((line_no, line_no - blanks, data[start:end]))
                    continue
            elif http is None and not e.logName:  # maybe an app's own line, not a LogEntry: the full path decides
                full.append((line_no, line_no - blanks, data[start:end]))
                continue
        # An unlevelled line can be error-like by its words (events.is_error_like): the full path.
        if unlevelled and (text is None or error_like(text)):
            full.append((line_no, line_no - blanks, data[start:end]))
            continue
        key = place[0]
        ts = raw_ts = e.timestamp or e.receiveTimestamp or ""
        if ts and not _CANON_ONE.fullmatch(ts):
            ts = normalize_timestamp(ts)  # normalised once here: every later use takes this form
            if not ts:  # no real instant: a malformed entry, counted there
                full.append((line_no, line_no - blanks, data[start:end]))
                continue
        app = kind in APP_LOGS
        if app:
            if http is not None:  # an app line with a request: rare, exact there
                full.append((line_no, line_no - blanks, data[start:end]))
                continue
            # _message, knowing what the checks above found: a JSON payload here has a message key
            message = text if text is not None else "" if jp is None else _json_text(jp)
            shape = shapes.get(message)  # _shape_of's cache first: no call for the common hit
            if shape is None:
                shape = _shape_of(message)
            if shape == TRIGGER:
                # A trace's frames, a hint or property line: reassembly joins it to the line before it of
                # the same instance, so that one (if light) goes to the full path too (see _joined_lines).
                full.append((line_no, line_no - blanks, data[start:end]))
                light.setdefault(place[2], [])
                if text is not None or jp is not None:  # _app_item's item, read here (it needs a payload)
                    stamp = ts if ts is raw_ts else _norm(raw_ts)
                    known.setdefault(place[2], []).append([stamp, e.insertId, message, shape, None])
                    known[None].add(line_no)
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
            if app:
                line = (ts, key, line_no, line_no - blanks, start, end)  # copied out if joined
                key3 = place[2]
                light.setdefault(key3, []).append([ts, e.insertId, message, shape, line])
                if shape:
                    extenders.add(key3)
        else:
            status = http.status
            if type(status) is not int:
                status = _status(status)
            hit = built_hits.get((http.requestMethod, status, http.requestUrl)) if text is None else False
            if hit is None:
                hit = _built_hit(http, status, pf)
            if hit:
                full.append((line_no, line_no - blanks, data[start:end]))  # a literal in its built message
                resort = True
                continue
            is_request = kind == "requests"
            k = (key, status if is_request else None, is_request)
            g = with_http.get(k)
            if g is None:
                with_http[k] = g = []
            g.append((ts, e.insertId, text, http, status))
    entry_no = line_no - blanks
    if light:
        for stamp, key, n, entry, start, end in _joined_lines(data, lo, hi, light, extenders, full, known):
            groups[key].remove(stamp)  # counted as light: counted by the full path instead
            full.append((n, entry, data[start:end]))
    if data[hi - 1 : hi] == b"\n":
        line_no -= 1  # the piece after the last newline is not a line
    agg = _history(groups, system, with_http)
    if resort:
        full.sort()
    return ChunkResult(line_no, entry_no, [(a, b, line.strip()) for a, b, line in full], agg, hi - lo)


def _status(raw: int | str | None) -> int | None:
    """httpRequest.status as records.from_entry reads it ("0200" -> 200; "²" is no status)."""
    if type(raw) is int:
        return raw
    if type(raw) is str and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def _built(http: _Http, status: int | None) -> str:
    """The message records.from_entry builds for a request line without text."""
    return f"{http.requestMethod} {status or ''} {http.requestUrl}".strip()


# Whether a built request message holds a literal, by (method, status, URL): few distinct ones repeat in
# every chunk. Bounded like _SHAPES.
_BUILT_HITS: dict[tuple[str, int | None, str], bool] = {}


def _built_hit(http: _Http, status: int | None, pf: RawPrefilter) -> bool:
    """Whether the message records.from_entry builds for a request line without text holds a literal ("GET
    500 https://...": one may span its fields)."""
    k = (http.requestMethod, status, http.requestUrl)
    hit = _BUILT_HITS.get(k)
    if hit is None:
        hit = bool(pf.hit_offsets(_built(http, status).encode()))
        if len(k[2]) <= _CACHED_TEXT:  # URLs of any length are checked, short ones kept
            remember(_BUILT_HITS, k, hit, _SHAPES_MAX)
    return hit


def _history(
    groups: dict[tuple, list[str]], system: dict[tuple, list[str]], with_http: dict[tuple, list[tuple]]
) -> HistoryPart:
    """The chunk's light lines as a HistoryPart. One ``add`` per revision (service, revision, project, location)
    with its instances as a set: the same sums as one per instance, of which a chunk holds thousands at 10M
    entries. Then the counters kept per instance."""
    agg = HistoryPart()
    revisions: dict[tuple[str, str, str, str], tuple[list[str], set[str]]] = {}

    def count(key: tuple[str, str, str, str, str], stamps: list[str]) -> tuple[str, str, str, str]:
        agg.lines += len(stamps)
        rk = (key[0], key[1], key[3], key[4])
        acc = revisions.get(rk)
        if acc is None:
            revisions[rk] = acc = ([], set())
        acc[0].extend(stamps)  # already normalised
        if key[2]:
            acc[1].add(key[2])
        return rk

    for key, stamps in groups.items():
        count(key, stamps)
    counters = [(count(key, stamps), key[2], counter, stamps) for (key, counter), stamps in system.items()]
    requests = _requests(with_http, agg, count) if with_http else []
    states: dict[tuple[str, str, str, str], RevisionCounts] = {}
    for (service, revision, project, location), (stamps, instances) in revisions.items():
        timed = [t for t in stamps if t]
        first, last = (min(timed), max(timed)) if timed else ("", "")
        st = agg.add(service, revision, "", project, location, len(stamps), first, last)
        if st is not None:
            st.add_instances(instances)
            states[(service, revision, project, location)] = st
    for rk, instance, counter, stamps in counters:
        st = states.get(rk)
        if st is not None and counter:
            agg.add_counter(st, counter, instance, len(stamps), min(stamps))
    for rk, instance, status, n, first, last in requests:
        st = states.get(rk)
        if st is not None:
            agg.add_requests(st, instance, status, n, first, last)
    return agg


def _requests(by_status: dict[tuple, list[tuple]], agg: HistoryPart, count: Any) -> list[tuple]:
    """Light lines with an httpRequest, as (time, insertId, text, httpRequest, status) per (key, status, is a
    request line): counted (``count``, _history's), the first URL offered; their request counters as
    (revision key, instance, status, n, first, last) for _history to add."""
    urls = agg.urls
    counters = []
    for (key, status, is_request), items in by_status.items():
        n = len(items)
        ts_list = [x[0] for x in items]
        rk = count(key, ts_list)
        service = (key[0] or service_of_revision(key[1])) if is_request and key[1] else ""
        if service:  # the first request URL in time order (History.urls), by the reference's sort key
            # The key starts with the time: only the earliest lines with such a URL can be first, mostly the
            # earliest lines of all (building a candidate costs)
            low = min(ts_list)
            offers = [x for x in items if x[0] == low and x[3].requestUrl.startswith("http")]
            if not offers:
                offers = [x for x in items if x[3].requestUrl.startswith("http")]
                low = min([x[0] for x in offers], default=None)
            cur = urls.get(service)
            if low is not None and (cur is None or low <= cur[0]):
                for ts, insert_id, text, http, line_status in offers:
                    if ts == low:
                        message = text if text is not None else _built(http, line_status)
                        agg.offer_url(service, (ts, insert_id, message, http.requestUrl))
        if status is not None:
            counters.append((rk, key[2], status, n, min(ts_list), max(ts_list)))
    return counters
