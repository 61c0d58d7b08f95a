"""Worker side of the fast path: one chunk of JSON lines -> the lines that need the full path, plus
exact aggregates of the rest.

A line goes to the full path (parsed, normalised, reassembled, matched) when it could matter to a rule,
to traceback reassembly, to error clustering or to history beyond counting:
- the raw prefilter finds a rule literal, the traceback head, an audit or system logName, or an escape
  that could hide a literal (``\\/``, ``\\u00XX``, surrogates) in it;
- it is ERROR or above, has a payload other than text (audit proto, a JSON payload without a message
  key), a request line whose built message ("GET 200 url") holds a literal, or anything the light decoder
  cannot read with the expected types (the full path then decides, malformed or not);
- it is stdout/stderr of an instance near a traceback head (a split traceback's lines must all reach
  reassembly, and so must the line that ends it).
Every other line is one benign, standalone event in the reference path: no rule can match it and it is
not error-like, so only its contribution to the revision history is kept, aggregated here.
"""

from __future__ import annotations

import gc
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson
import regex

from triage.analysis.history import service_of_revision
from triage.engine.prefilter import RawPrefilter
from triage.events import _CHAIN_LINES, _EXC_RE, TRACEBACK_HEAD, _seconds
from triage.records import SEVERITY_LEVELS, NotAnEntry, from_entry, log_kind, normalize_timestamp, severity_name

HEAD = TRACEBACK_HEAD.encode()
# Always-kept markers besides the rules' literals (see the module docstring).
MARKERS = (
    TRACEBACK_HEAD,
    "cloudaudit.googleapis.com",
    "varlog%2fsystem",
    "varlog/system",
    "\\/",
    "\\u00",
    *(f"\\ud{c}" for c in "89abcdef"),
)
TB_SLACK_S = 30.0  # how far (in log time) a traceback's lines may stray from its head and from each other
_CANON_TS = regex.compile(r"[0-9]{4}-.{5}T.{8}\.[0-9]{6}Z")


class _RL(msgspec.Struct):
    service_name: str = ""
    revision_name: str = ""
    job_name: str = ""


class _Res(msgspec.Struct):
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
    protoPayload: msgspec.Raw | None = None
    httpRequest: _Http | None = None


@dataclass
class RevAgg:
    entries: int = 0
    first: str = ""
    last: str = ""
    instances: set[str] = field(default_factory=set)
    requests: int = 0
    served: int = 0
    errors_5xx: int = 0
    errors_429: int = 0


@dataclass
class Aggregate:
    """What the light lines contribute to the revision history (merged into History by the caller)."""

    lines: int = 0
    first_ts: str = ""
    last_ts: str = ""
    service_entries: dict[str, int] = field(default_factory=dict)
    revisions: dict[tuple[str, str], RevAgg] = field(default_factory=dict)
    urls: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)  # service -> (ts, id, msg, url)

    def merge(self, other: Aggregate) -> None:
        self.lines += other.lines
        if other.first_ts and (not self.first_ts or other.first_ts < self.first_ts):
            self.first_ts = other.first_ts
        self.last_ts = max(self.last_ts, other.last_ts)
        for k, v in other.service_entries.items():
            self.service_entries[k] = self.service_entries.get(k, 0) + v
        for key, o in other.revisions.items():
            s = self.revisions.get(key)
            if s is None:
                self.revisions[key] = o
                continue
            s.entries += o.entries
            if o.first and (not s.first or o.first < s.first):
                s.first = o.first
            s.last = max(s.last, o.last)
            s.instances |= o.instances
            s.requests += o.requests
            s.served += o.served
            s.errors_5xx += o.errors_5xx
            s.errors_429 += o.errors_429
        for svc, cand in other.urls.items():
            if svc not in self.urls or cand < self.urls[svc]:
                self.urls[svc] = cand


@dataclass
class ChunkResult:
    lines: int  # physical lines in the chunk's own region
    entries: int  # non-empty lines
    full: list[tuple[int, int, bytes]]  # (line number, entry number, stripped line), 1-based within the chunk
    agg: Aggregate


_STATE: dict[str, Any] = {}


def init_worker(literals: tuple[str, ...]) -> None:
    _STATE["pf"] = RawPrefilter((*literals, *MARKERS))
    _STATE["dec"] = msgspec.json.Decoder(_Light)
    gc.disable()  # the chunk's objects are short-lived; the cyclic collector only costs time here


def _may_continue(text: str) -> bool:
    """Could this line extend an open traceback (events._is_continuation, ignoring its state)?"""
    stripped = text.strip()
    if not stripped or text[0].isspace() or stripped in _CHAIN_LINES or TRACEBACK_HEAD in stripped:
        return True
    return bool(_EXC_RE.match(stripped.splitlines()[0]))


def _record(line: bytes):
    try:
        return from_entry(orjson.loads(line))
    except (orjson.JSONDecodeError, NotAnEntry):
        return None


def _windows(data: bytes, starts: list[int]) -> dict[tuple[str, str, str], list[list[float]]]:
    """(service, revision, instance) -> [[from, to], ...] seconds around each traceback head."""
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
        wins.setdefault((rec.service, rec.revision, rec.instance), []).append([t - TB_SLACK_S, t + TB_SLACK_S])
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
    hits = set(starts)
    return _scan(data, lo, hi, hits, wins, pf)


def _scan(data: bytes, lo: int, hi: int, hits: set[int], wins: dict, pf: RawPrefilter) -> ChunkResult:
    dec = _STATE["dec"]
    full: list[tuple[int, int, bytes]] = []
    agg = Aggregate()
    kinds: dict[str, str] = {}
    levels: dict[Any, int] = {}
    rev_service: dict[str, str] = {}
    built: list[tuple[int, int, bytes, str]] = []  # request lines with a built message, checked in one scan
    light: list[tuple] = []
    pos = lo
    line_no = entry_no = 0
    for raw in data[lo:hi].split(b"\n"):
        start = pos
        pos += len(raw) + 1
        line_no += 1
        line = raw.strip()
        if not line:
            continue
        entry_no += 1
        if start in hits:
            full.append((line_no, entry_no, line))
            continue
        try:
            e = dec.decode(line)
        except msgspec.DecodeError:
            full.append((line_no, entry_no, line))
            continue
        kind = kinds.get(e.logName)
        if kind is None:
            kind = kinds[e.logName] = log_kind(e.logName)[0]
        sev = e.severity
        level = levels.get(sev)
        if level is None:
            level = levels[sev] = SEVERITY_LEVELS[severity_name(sev)]
        if (
            level >= 500
            or kind in ("audit", "system")
            or e.protoPayload is not None
            or not (e.logName or e.timestamp is not None or e.textPayload is not None or e.jsonPayload is not None
                    or e.httpRequest is not None)
        ):
            full.append((line_no, entry_no, line))
            continue
        if e.httpRequest is not None and e.jsonPayload is not None:
            full.append((line_no, entry_no, line))
            continue
        if e.textPayload is None and e.jsonPayload is not None:
            jp = e.jsonPayload
            if not any(isinstance(v, str) and v for v in (jp.message, jp.msg, jp.textPayload, jp.event, jp.log)):
                full.append((line_no, entry_no, line))  # message built from the payload's fields
                continue
        ts = e.timestamp or e.receiveTimestamp or ""
        if ts and not _CANON_TS.fullmatch(ts):
            ts = normalize_timestamp(ts)
        rl = e.resource.labels
        service = rl.service_name or rl.job_name
        revision = rl.revision_name or e.labels.execution
        instance = e.labels.instanceId
        if wins and kind in ("stdout", "stderr"):
            spans = wins.get((service, revision, instance))
            if spans:
                t = _seconds(ts) if ts else 0.0
                inside = [s for s in spans if s[0] <= t <= s[1]]
                if inside:
                    full.append((line_no, entry_no, line))
                    rec = _record(line)
                    if rec is not None and _may_continue(rec.message):
                        for s in inside:
                            s[1] = max(s[1], t + 5.0 + TB_SLACK_S)
                    continue
        http = e.httpRequest
        message = e.textPayload
        if http is not None and e.jsonPayload is None and message is None:
            status_txt = "" if http.status is None else str(http.status)
            message = f"{http.requestMethod} {status_txt} {http.requestUrl}".strip()
            built.append((line_no, entry_no, line, message))
        if not service and revision:
            service = rev_service.get(revision)
            if service is None:
                service = rev_service[revision] = service_of_revision(revision)
        light.append((line_no, entry_no, line, ts, service, revision, instance, kind, http, e.insertId, message))
    if built:  # a literal may span the fields of a built request message ("GET 500 ...")
        offs, off = [], 0
        for b in built:
            offs.append(off)
            off += len(b[3].encode()) + 1
        ends = pf.hit_offsets("\n".join(b[3] for b in built).encode())
        bad = {built[bisect_right(offs, end - 1) - 1][0] for end in ends}
        if bad:
            full.extend((ln, en, li) for ln, en, li, _ in built if ln in bad)
            light = [x for x in light if x[0] not in bad]
            full.sort()
    _aggregate(light, agg)
    return ChunkResult(line_no, entry_no, full, agg)


def _aggregate(light: list[tuple], agg: Aggregate) -> None:
    """History.observe for light records, as counters (order-free, so chunks can be merged in any order)."""
    agg.lines = len(light)
    first = last = ""
    service_entries = agg.service_entries
    revisions = agg.revisions
    urls = agg.urls
    for _ln, _en, _line, ts, service, revision, instance, kind, http, insert_id, message in light:
        if ts:
            if not first or ts < first:
                first = ts
            if ts > last:
                last = ts
        if not service:
            continue
        service_entries[service] = service_entries.get(service, 0) + 1
        if not revision:
            continue
        st = revisions.get((service, revision))
        if st is None:
            st = revisions[(service, revision)] = RevAgg()
        st.entries += 1
        if ts:
            if not st.first or ts < st.first:
                st.first = ts
            if ts > st.last:
                st.last = ts
        if instance:
            st.instances.add(instance)
        if kind == "requests" and http is not None:
            url = http.requestUrl
            if url.startswith("http"):
                cand = (ts, insert_id, message or "", url)
                cur = urls.get(service)
                if cur is None or cand < cur:
                    urls[service] = cand
            status = http.status
            if isinstance(status, str):
                status = int(status) if status.isdigit() else None
            if status is not None:
                st.requests += 1
                if status == 429:
                    st.errors_429 += 1
                elif status >= 500:
                    st.errors_5xx += 1
                else:
                    st.served += 1
    agg.first_ts, agg.last_ts = first, last
