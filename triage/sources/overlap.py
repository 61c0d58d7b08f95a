"""Inputs that hold the same log entries: two pulls whose windows overlap, a sink export beside a gcloud read.

Cloud Logging treats entries of one project with the same ``insertId`` and timestamp as one entry (the
API removes such duplicates from a query's results); an entry in two inputs must count once too, or
every count it touches doubles. Byte-identical files and the same path twice are caught before reading
(``files.distinct``); this is for inputs that differ but share entries.

Whether two files can share an entry is answered before the run by DuckDB reading only ``insertId`` and
``logName`` of each JSON file (about a second per million entries): when no pair shares one, the run
keeps its fast path. When they do, or it cannot be proven (stdin, a file DuckDB cannot read), the run
takes the path that sees every entry, and the pipeline drops the later copies (``Duplicates``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from triage.records import Record
from triage.sources.files import FileSource

# Copies of one entry come out of the time-ordered merge next to each other (same time, same insertId);
# the window of recent keys only has to outlast the merge's reordering of slightly unordered inputs.
WINDOW = 1 << 16


def keyed(source: Any) -> bool:
    """Does the source's insertId name a log entry? A pasted text file's is its line number."""
    return not (isinstance(source, FileSource) and source.kind() == "text")


def may_share_entries(sources: Sequence[Any]) -> bool:
    """False only when it is proven that no two keyed sources hold an entry with the same insertId and log."""
    keyed_sources = [s for s in sources if keyed(s) and not _no_entries(s)]
    if len(keyed_sources) < 2:
        return False
    if not all(_scannable(s) for s in keyed_sources):
        return True
    try:
        import duckdb
    except ImportError:
        return True
    parts = []
    for i, source in enumerate(keyed_sources):
        fmt = {"array": "array", "objects": "unstructured"}.get(source.kind(), "newline_delimited")
        parts.append(
            f"SELECT {i} AS src, insertId, logName FROM read_json(?, format='{fmt}', compression='auto', "
            "columns={'insertId': 'VARCHAR', 'logName': 'VARCHAR'}, ignore_errors=true, "
            "maximum_object_size=16777216) WHERE insertId IS NOT NULL"
        )
    query = (
        f"SELECT count(*) FROM (SELECT 1 FROM ({' UNION ALL '.join(parts)}) "
        "GROUP BY insertId, logName HAVING count(DISTINCT src) > 1 LIMIT 1)"
    )
    try:
        con = duckdb.connect(config={"threads": 2, "memory_limit": "256MB"})
        try:
            (shared,) = con.execute(query, [s.path for s in keyed_sources]).fetchone()  # type: ignore[misc]
        finally:
            con.close()
    except duckdb.Error:
        return True  # not proven apart: the run that sees every entry decides
    return bool(shared)


def _no_entries(source: Any) -> bool:
    return isinstance(source, FileSource) and source.kind() in ("empty", "binary")


def _scannable(source: Any) -> bool:
    # DuckDB reads plain and gzipped UTF-8 files; a BOM or UTF-16 export, a pipe or stdin, a Cloud
    # Logging or BigQuery source are not files it can read beside the run.
    return isinstance(source, FileSource) and source.regular and source.encoding == "utf-8"


class Duplicates:
    """Drops an entry that an earlier input of the time-ordered merge already gave (same project, log,
    time and insertId), and counts what it dropped per (input, input it repeats)."""

    def __init__(self, keyed_sources: Sequence[bool]) -> None:
        self._keyed = keyed_sources
        self._recent: dict[tuple[str, str, str, str], int] = {}
        self.dropped: dict[tuple[int, int], int] = {}

    def repeated(self, rec: Record, index: int) -> bool:
        if not rec.insert_id or not self._keyed[index]:
            return False
        key = (rec.timestamp, rec.insert_id, rec.project, rec.log)
        first = self._recent.get(key)
        if first is None:
            self._recent[key] = index
            if len(self._recent) > WINDOW:
                del self._recent[next(iter(self._recent))]  # the oldest key: dicts keep insertion order
            return False
        if first == index:
            return False  # twice in one input: an export's own repeat is not what this is about
        pair = (index, first)
        self.dropped[pair] = self.dropped.get(pair, 0) + 1
        return True
