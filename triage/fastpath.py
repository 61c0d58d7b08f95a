"""Main side of the fast path: chunks of JSON-lines files go to worker processes (raw prefilter and
light decoding, ``fastscan``); only the lines that can matter come back, in file order, and take the
same full path as in the reference (normalise, reorder, reassemble, match, observe). The light lines'
history counters are merged in at the end. Memory stays bounded: at most ``IN_FLIGHT`` chunks are
outstanding and only their full lines travel.

Used only when it is provably equivalent to the reference path: every source is a JSON-lines file (or
stdin, gzipped or not), and no rule without literals could match a benign line (see ``fast_ok``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from triage.analysis.history import HistoryPart
from triage.engine.benign import benign_literals
from triage.engine.matcher import Matcher
from triage.fastscan import ChunkResult, init_worker, scan_chunk
from triage.sources.decode import read_error, read_head
from triage.sources.files import MAX_LINE, MAX_NOTES, FileSource

# Bytes of one task (a file region; workers read it themselves). A worker holds its chunk's lines and decoded
# objects at once: 16 -> 8 MB took the 1M run's process tree from 233 to 161 MB at the same speed (4 MB: 123
# MB, but a line is then more often near an edge, where only CONTEXT is seen of its instance's neighbours).
CHUNK = 8 << 20
STREAM_CHUNK = 4 << 20  # bytes of one task read from a stream (sent through a pipe, so kept small)
CONTEXT = 256 << 10  # bytes read on each side of a chunk for its lines' neighbours (fastscan._joined_lines)
# Chunks handed out and not yet consumed, per source. The main process's share of a chunk varies (tracebacks
# cost it most), so a queue deeper than the two workers keeps them busy meanwhile (3 -> 5: collect 4.5 -> 4.0 s at
# 1M entries); results hold only full lines, so each costs well under a megabyte.
IN_FLIGHT = 5


def fast_ok(sources: Sequence[Any], matcher: Matcher) -> bool:
    if not sources or not all(type(s) is FileSource for s in sources):
        return False
    if benign_literals(matcher) is None:
        return False  # a rule without literals must see every line
    # Sniffed through the source itself: a pipe or stdin is opened once, so its head is not lost, and a
    # gcloud array piped to stdin is an array, not JSON lines.
    return all(s.kind() == "lines" for s in sources)


def _file_tasks(path: str, start: int = 0, notes: list[str] | None = None) -> Iterator[tuple]:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        lo = start  # after the partial marker line, if any
        while lo < size:
            hi = min(size, lo + CHUNK)
            if hi < size:  # end the chunk after a newline
                end = _line_end(f, hi, size)
                if end - hi > 1 << 20:  # a long line crosses hi: past MAX_LINE it is capped, as FileSource does
                    f.seek(lo)
                    begin = lo + f.read(hi - lo).rfind(b"\n") + 1
                    if end - begin > MAX_LINE + 1:
                        if begin > lo:
                            yield (path, lo, begin, max(0, lo - CONTEXT), begin)
                        yield _capped_line(f, path, begin, end, notes)
                        lo = end
                        continue
                hi = end
            yield (path, lo, hi, max(0, lo - CONTEXT), min(size, hi + CONTEXT))
            lo = hi


def _line_end(f: Any, pos: int, size: int) -> int:
    """Offset just past the first newline at or after ``pos`` (``size`` if none), read in 1 MB pieces
    that are not kept: a 200 MB line costs 1 MB here."""
    f.seek(pos)
    while piece := f.read(1 << 20):
        nl = piece.find(b"\n")
        if nl >= 0:
            return pos + nl + 1
        pos += len(piece)
    return size


def _capped_line(f: Any, path: str, begin: int, end: int, notes: list[str] | None) -> tuple:
    """A task of the first MAX_LINE bytes of the line at ``begin`` (the rest dropped, with a note): the
    worker sees one line, which is then a malformed entry like FileSource's capped line."""
    f.seek(begin)
    data = f.read(MAX_LINE) + b"\n"
    if notes is not None and len(notes) < MAX_NOTES:
        f.seek(end - 1)
        dropped = end - begin - MAX_LINE - (f.read(1) == b"\n")  # the newline is not part of the line
        notes.append(
            f"{path}: line at byte {begin:,} longer than {MAX_LINE:,} bytes: {dropped:,} bytes after it dropped"
        )
    return (data, 0, len(data), 0, len(data))


def _stream_tasks(source: FileSource) -> Iterator[tuple]:
    """Chunks of a stream (gzip, stdin), each sent with the neighbours' edges as context: a chunk waits
    for the next one, whose start is its context after (an instance's neighbour across the edge)."""
    held = None
    for piece in _stream_pieces(source):
        if held is not None:
            yield _task(*held, piece[0][:CONTEXT])
        held = piece
    if held is not None:
        yield _task(*held, b"")


def _stream_pieces(source: FileSource) -> Iterator[tuple[bytes, bytes]]:
    """(chunk, the CONTEXT bytes before it) of a stream, in order."""
    stream = source.open()
    if source.skip:
        stream.readline()  # the partial marker line
    prev_tail = b""
    pending = b""
    dropped = -1  # bytes of a capped line skipped so far (-1: not inside one)
    try:
        while True:
            block, error = read_head(stream, STREAM_CHUNK)  # small reads: a truncated gzip loses only its last piece
            error = error or read_error(stream)
            if error is not None:
                source.stats.partial = True
                source.stats.notes.append(f"{source.name}: read stopped early: {error}")
            if not block:
                break
            if error is not None:
                pending += block  # the last piece before the error; no more reads after it
                break
            data = pending + block
            if dropped >= 0:  # inside a line past MAX_LINE: skip to its end, keeping nothing
                nl = data.find(b"\n")
                dropped += len(data) if nl < 0 else nl
                pending, data = b"", b"" if nl < 0 else data[nl + 1 :]
                if nl < 0:
                    continue
                _note_dropped(source, dropped)
                dropped = -1
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) > MAX_LINE:  # a gzip bomb without newlines costs MAX_LINE, not its size
                    yield data[:MAX_LINE] + b"\n", prev_tail
                    prev_tail, pending, dropped = b"", b"", len(data) - MAX_LINE
                else:
                    pending = data
                continue
            current, pending = data[:cut], data[cut:]
            yield current, prev_tail
            prev_tail = current[-CONTEXT:]
        if pending:
            yield pending, prev_tail
        if dropped >= 0:
            _note_dropped(source, dropped)
    finally:
        source.close(stream)


def _note_dropped(source: FileSource, dropped: int) -> None:
    if len(source.stats.notes) < MAX_NOTES:
        source.stats.notes.append(
            f"{source.name}: a line longer than {MAX_LINE:,} bytes: {dropped:,} bytes after it dropped"
        )


def _task(current: bytes, before: bytes, after: bytes) -> tuple:
    data = before + current + after
    return (data, len(before), len(before) + len(current), 0, len(data))


class _Pipe:
    """Hands a source's chunks to the pool and yields their results in order, a few at a time."""

    def __init__(self, pool: Any, tasks: Iterator[tuple]) -> None:
        self.pool = pool
        self.tasks = tasks

    def __iter__(self) -> Iterator[ChunkResult]:
        window: deque = deque()
        for task in self.tasks:
            window.append(self.pool.apply_async(scan_chunk, (task,)))
            if len(window) >= IN_FLIGHT:
                yield window.popleft().get()
        while window:
            yield window.popleft().get()


def full_entries(source: FileSource, results: Iterator[ChunkResult], agg: HistoryPart) -> Iterator[Mapping[str, Any]]:
    """The full lines of ``source`` as LogEntry mappings, in file order; counts as FileSource does."""
    lines = entries = 0
    done = source.skip  # bytes before the first region (the partial marker line)
    for res in results:
        for line_no, entry_no, line in res.full:
            source.stats.entries = entries + entry_no
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                source._malformed(lines + line_no, f"invalid JSON: {str(exc).split(':')[0]}")
                continue
            if isinstance(item, dict):
                yield item
            else:
                source._malformed(lines + line_no, f"a JSON {type(item).__name__}, not a LogEntry object")
        lines += res.lines
        entries += res.entries
        source.stats.entries = entries
        if source.plain:  # the workers read the file; a stream's bytes are counted as the main process reads them
            done += res.size
            source.stats.bytes_read = done
        agg.merge(res.agg)


def _worker_start(literals: tuple[str, ...]) -> None:
    # Ctrl-C reaches the whole process group: only the parent handles it (one "interrupted" line),
    # workers would each print a KeyboardInterrupt traceback; the parent's pool terminates them.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    init_worker(literals)


def pool_for(matcher: Matcher) -> Any:
    literals = tuple(lit for lits in matcher.literals.values() for lit in lits)
    workers = max(1, min(2, os.cpu_count() or 1))
    ctx = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    return ctx.Pool(workers, initializer=_worker_start, initargs=(literals,))


def source_entries(source: FileSource, pool: Any, agg: HistoryPart) -> Iterator[Mapping[str, Any]]:
    tasks = _file_tasks(source.path, source.skip, source.stats.notes) if source.plain else _stream_tasks(source)
    return full_entries(source, iter(_Pipe(pool, tasks)), agg)
