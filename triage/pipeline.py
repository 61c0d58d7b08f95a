"""Run the stages: sources -> records -> (history, events) -> matches.

Streaming: records are merged across sources in time order, passed once to the revision history
(which aggregates, never stores them) and to traceback reassembly, whose events go straight to the
matcher. Only matches are kept, so memory grows with findings, not with benign entries.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from triage import fastpath, pushdown
from triage.analysis.history import History, HistoryPart, service_of_revision
from triage.engine.matcher import Match, Matcher, MatchStats
from triage.events import assemble, is_error_like
from triage.records import NotAnEntry, Record, from_entry
from triage.sources import Source, SourceStats
from triage.sources.overlap import Duplicates, keyed, may_share_entries

# Lines within one source can arrive slightly out of order (sink exports, concatenated files); a bounded
# reorder buffer restores time order without holding the whole input.
REORDER_WINDOW = 4096


@dataclass
class RunStats:
    # Invariant (checked at the end of ``collect``): entries == parsed + malformed + duplicates. Every item
    # a source read is a record the run used, a malformed entry or a copy of an entry, each counted.
    entries: int = 0
    parsed: int = 0
    malformed: int = 0
    events: int = 0
    error_events: int = 0
    matched_events: int = 0
    unmatched_error_events: int = 0  # error-like events no rule explains (all of them, not just those kept)
    duplicates: int = 0  # entries another input also held (same insertId, time, log): counted once
    partial: bool = False
    notes: list[str] = field(default_factory=list)
    rule_timeouts: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    empty_sources: dict[str, str] = field(default_factory=dict)  # source name -> why it gave no entry

    @property
    def balanced(self) -> bool:
        """Nothing was dropped silently: every entry read was parsed or counted malformed."""
        return self.entries == self.parsed + self.malformed + self.duplicates


@dataclass
class Collected:
    matches: list[Match]
    history: History
    stats: RunStats
    error_events: list = field(default_factory=list)  # unmatched error-like events (for clustering)


def no_entries_reason(stats: SourceStats) -> str | None:
    """Why a source gave no usable entry, or None when it gave at least one."""
    if stats.entries > stats.malformed:
        return None
    if stats.rejected:
        return stats.rejected
    if stats.entries == 0:
        return "no entries"
    return f"not a log export ({stats.malformed} of {stats.entries} entries malformed)"


def _tail_key(rec: Record) -> tuple:
    """The order key's tie-breakers after time, insertId and message (see _records)."""
    return (
        rec.service,
        rec.revision,
        rec.instance,
        rec.log,
        rec.severity,
        -1 if rec.http_status is None else rec.http_status,
        rec.request_url,
        rec.trace,
        rec.resource_type,
        rec.audit_kind,
        rec.method,
        rec.resource_name,
        tuple(sorted(rec.labels.items())),
        _payload_key(rec),
    )


class _Tail(tuple):
    """The rest of a record's order key (``_tail_key``), compared as that tuple. Order keys mostly differ in
    their time, so it is worked out only on a tie (timestamp, insertId and message equal, which triage.fastpath
    also picks the first request URL by); a tuple subclass, so making one runs no Python code."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return _tail_key(self[0]) == _tail_key(other[0])  # type: ignore[index]

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __lt__(self, other: tuple) -> bool:
        return _tail_key(self[0]) < _tail_key(other[0])

    def __le__(self, other: tuple) -> bool:
        return _tail_key(self[0]) <= _tail_key(other[0])

    def __gt__(self, other: tuple) -> bool:
        return _tail_key(self[0]) > _tail_key(other[0])

    def __ge__(self, other: tuple) -> bool:
        return _tail_key(self[0]) >= _tail_key(other[0])

    __hash__ = None  # type: ignore[assignment]  # compared, never hashed


def _payload_key(rec: Record) -> bytes:
    # Audit payloads only (rare): two deploys at the same instant differ only here.
    if not rec.payload:
        return b""
    try:
        return orjson.dumps(rec.payload, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):  # nesting past orjson's writer limit
        return b""


def _records(
    source: Source, index: int, stats: RunStats, entries: Iterable[Mapping[str, Any]] | None = None
) -> Iterator[tuple]:
    """(*order key, source index, sequence, record) in time order: the merge compares the keys, then the
    source index (so records never are), and needs no key function of its own."""
    heap: list[tuple] = []
    seq = 0
    for entry in source.entries() if entries is None else entries:
        try:
            rec = from_entry(entry)
        except NotAnEntry as exc:
            source.stats.malformed += 1
            if len(source.stats.notes) < 20:
                source.stats.notes.append(f"{source.name}: entry {source.stats.entries}: {exc}")
            continue
        seq += 1
        stats.parsed += 1
        # The order key: time order with every field as a tie-breaker, so records at the same instant
        # (common: one timestamp per batch, duplicate insertIds) come out in the same order whatever order
        # they came in. Its parts inline, not a nested tuple: comparing two items then compares the times
        # once, not once for the nested tuples' equality and again for their order. The first three: see
        # _Tail.
        heapq.heappush(heap, (rec.timestamp, rec.insert_id, rec.message, _Tail((rec,)), index, seq, rec))
        if len(heap) > REORDER_WINDOW:
            yield heapq.heappop(heap)
    while heap:
        yield heapq.heappop(heap)


def merged_records(
    sources: Sequence[Source],
    stats: RunStats,
    entries: Sequence[Iterable[Mapping[str, Any]]] | None = None,
    duplicates: Duplicates | None = None,
) -> Iterator[Record]:
    """All sources' records in timestamp order; ties keep a stable, input-order-free order. Given
    ``duplicates``, an entry that an earlier source already gave is dropped and counted."""
    streams = [_records(s, i, stats, entries[i] if entries else None) for i, s in enumerate(sources)]
    for *_, index, _, rec in heapq.merge(*streams):
        if duplicates is not None and duplicates.repeated(rec, index):
            stats.parsed -= 1
            stats.duplicates += 1
            continue
        yield rec


def _duplicate_notes(sources: Sequence[Source], duplicates: Duplicates) -> list[str]:
    return [
        f"{sources[i].name}: {n:,} entries are also in {sources[first].name} (same insertId, time and log): "
        "counted once"
        for (i, first), n in sorted(duplicates.dropped.items(), key=lambda kv: (sources[kv[0][0]].name, kv[0]))
    ]


def collect(
    sources: Sequence[Source], matcher: Matcher, keep_unmatched_errors: int = 50_000, fast: bool = True
) -> Collected:
    """Run the stages. ``fast`` uses the raw-line prefilter and worker processes (triage.fastpath) when
    that is equivalent, and has a source that can count benign entries itself (a BigQuery push-down plan,
    triage.pushdown) do so; ``fast=False`` is the plain reference path: every line parsed, normalised,
    reassembled and matched. Both give the same issues, counts, history and statistics."""
    # Sources in name order: the report must not depend on the order files were given in (nor on which
    # of two inputs holding the same entry is read first).
    sources = sorted(sources, key=lambda s: s.name)
    stats = RunStats(sources=[s.name for s in sources])
    history = History()
    matches: list[Match] = []
    unmatched: list = []
    pool = None
    entries = None
    aggregates: list = []
    first_urls: dict[str, tuple[str, str, str, str]] = {}
    # Inputs that share entries take the path that sees every entry, which drops the copies; the fast path's
    # workers count benign lines without knowing their insertIds.
    duplicates = Duplicates([keyed(s) for s in sources]) if may_share_entries(sources) else None
    pushed = []  # sources that count benign entries where they are (a BigQuery plan)
    if fast and duplicates is None and fastpath.fast_ok(sources, matcher):
        pool = fastpath.pool_for(matcher)
        aggregates = [HistoryPart() for _ in sources]
        entries = [fastpath.source_entries(s, pool, a) for s, a in zip(sources, aggregates, strict=True)]
    elif fast and duplicates is None:
        pushed = pushdown.push_down(sources, matcher)
    counted_elsewhere = pool is not None or bool(pushed)

    def observed(records: Iterable[Record]) -> Iterator[Record]:
        for rec in records:
            if counted_elsewhere and rec.log == "requests" and rec.revision and rec.request_url.startswith("http"):
                service = rec.service or service_of_revision(rec.revision)
                if service and service not in history.urls:
                    first_urls[service] = (rec.timestamp, rec.insert_id, rec.message, rec.request_url)
            history.observe(rec)
            yield rec

    # The run allocates millions of short-lived objects that hold no reference cycles (a whole 1M-entry run
    # leaves none for gc.collect() to find), while the cyclic collector would keep re-walking the growing
    # set of kept events: off for the run, as in the fast path's workers (0.3 s of 2 s at 1M entries).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        _run(
            observed(merged_records(sources, stats, entries, duplicates)),
            matcher,
            history,
            stats,
            matches,
            unmatched,
            keep_unmatched_errors,
        )
    finally:
        if gc_was_enabled:
            gc.enable()
        if pool is not None:
            pool.terminate()
    aggregates.extend(pushdown.light_part(s.light) for s in pushed)
    if counted_elsewhere:
        # Each light line is one benign standalone event in the reference path.
        light = sum(a.lines for a in aggregates)
        stats.events += light
        stats.parsed += light  # parsed in the workers, never turned into records here
        matcher.stats.events += light
        if matcher.unfiltered:
            matcher.stats.candidates += light
        for agg in aggregates:
            history.merge(agg, first_urls)
    history.finish()

    for s in sources:
        stats.entries += s.stats.entries
        stats.malformed += s.stats.malformed
        stats.partial = stats.partial or s.stats.partial
        stats.notes.extend(s.stats.notes)
        reason = no_entries_reason(s.stats)
        if reason is not None:
            stats.empty_sources[s.name] = reason
    if duplicates is not None:
        stats.notes.extend(_duplicate_notes(sources, duplicates))
    stats.rule_timeouts = dict(sorted(matcher.stats.timeouts.items()))
    for rule_id, why in sorted(matcher.stats.disabled.items()):
        stats.notes.append(f"Rule {rule_id} was switched off for the rest of the run after {why}.")
    # A source that counts differently from what it yields is a bug, not something to report around.
    assert stats.balanced, (
        f"entries {stats.entries} != parsed {stats.parsed} + malformed {stats.malformed} + duplicates {stats.duplicates}"
    )
    return Collected(matches, history, stats, unmatched)


def _run(records, matcher, history, stats, matches, unmatched, keep_unmatched_errors) -> None:
    shared: dict = {}  # what kept events repeat, held once (Event.compact)
    for event in assemble(records):
        stats.events += 1
        found = matcher.match(event)
        error_like = is_error_like(event)
        if error_like:
            stats.error_events += 1
        if found:
            stats.matched_events += 1
            kept = event.compact(shared)  # one object for all of the event's matches: chains compare identity
            matches.extend(Match(m.rule, kept, m.captures, m.requires) for m in found)
            history.observe_matches(found)
        elif error_like:
            stats.unmatched_error_events += 1
            if len(unmatched) < keep_unmatched_errors:
                unmatched.append(event.compact(shared))


__all__ = ["Collected", "MatchStats", "RunStats", "collect", "merged_records", "no_entries_reason"]
