"""Log sources: where LogEntry mappings come from. Nothing downstream knows which source it was.

A source is any object with a ``name``, an ``entries()`` iterator of LogEntry mappings (REST/JSON shape,
camelCase keys) and a ``stats`` it updates while iterating: how many items it read and how many it could
not turn into a mapping (malformed), plus ``partial`` when it stopped early and ``notes`` to report.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class SourceStats:
    entries: int = 0  # items read, malformed ones included
    malformed: int = 0
    partial: bool = False  # the source stopped before the end (e.g. a pull failed after some pages)
    notes: list[str] = field(default_factory=list)  # one-line remarks for the report ("line 12: invalid JSON")
    cut_lines: int = 0  # lines longer than the reader's cap, read only up to it
    rejected: str = ""  # why the source read nothing at all ("the file is empty", "not a log export (binary data)")
    bytes_read: int = 0  # of the input as stored (gzip: compressed bytes), so far: for the progress line only


class Source(Protocol):
    name: str
    stats: SourceStats

    def entries(self) -> Iterator[Mapping[str, Any]]: ...


class MemorySource:
    """Entries already in memory: tests and library callers."""

    def __init__(self, entries: list[Mapping[str, Any]], name: str = "<memory>") -> None:
        self.name = name
        self.stats = SourceStats()
        self._entries = entries

    def entries(self) -> Iterator[Mapping[str, Any]]:
        for entry in self._entries:
            self.stats.entries += 1
            yield entry
