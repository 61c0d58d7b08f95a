"""A progress line on stderr while a long run reads its logs: only on a terminal, never with --quiet.

It is a transient spinner (rich) with what is being read and the elapsed time, cleared when the work
ends. It never touches stdout (no redirection: the report or JSON written there stays byte-identical)
and never reaches an output file. On a pipe, a file, TERM=dumb or with --quiet it does nothing at all.

What it says moves with the work: for a pull or a live run, pages, entries and "waiting for quota (n s)"
(the source reports each page and each second of waiting, ``Display.page``); for files, the entries read
so far and the megabytes of input read (polled at each refresh, ``Display.watch``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TextIO


def describe_work(sources: Sequence[str], project: str | None) -> str:
    """The first thing a user sees: which project (live) or how much input (files)."""
    if project:
        # Shown before the credentials are looked up: a run that cannot authenticate says so in seconds.
        return f"checking credentials for project {project}, then reading Cloud Logging"
    files = [s for s in sources if s != "-"]
    size = 0
    for name in files:
        with suppress(OSError):
            size += os.stat(name).st_size
    what = f"{len(sources)} source(s)" + (f", {size / 1e6:,.1f} MB" if size else "")
    return f"reading {what}"


def pull_line(entries: int, pages: int, elapsed: float, waiting: float = 0.0) -> str:
    """``pulling 12,000 entries, 12 pages, 950 entries/s``, and ``; waiting for quota (41 s)`` while paced."""
    rate = entries / max(elapsed, 1e-6)
    line = f"pulling {entries:,} entries, {pages} pages, {rate:,.0f} entries/s"
    if waiting > 0:
        line += f"; waiting for quota ({max(1, round(waiting))} s)"
    return line


def files_line(entries: int, size: int, done: int = 0) -> str:
    """``reading 780.0 MB: 312.4 MB (40%), 412,345 entries``: the input's size, the bytes of it read so
    far (as stored: a gzip's compressed bytes) and the entries read so far."""
    if not size:  # a pipe or stdin: its size is unknown
        return f"reading: {done / 1e6:,.1f} MB, {entries:,} entries"
    done = min(done, size)
    return f"reading {size / 1e6:,.1f} MB: {done / 1e6:,.1f} MB ({done / size:.0%}), {entries:,} entries"


def output_elsewhere(out: object | None) -> bool:
    """True when the command's output does not go to the terminal the progress line would share."""
    return out is not None or not sys.stdout.isatty()


class Display:
    """The progress line's handle. Every method is a no-op when no line is shown (pipe, --quiet)."""

    def __init__(self, bar: Any = None, task: Any = None) -> None:
        self._bar = bar
        self._task = task
        self._started = time.monotonic()
        self._sources: list[Any] = []
        self._size = 0

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def page(self, source: Any) -> None:
        """A Cloud Logging source's callback (``on_page``): after each page and each second of quota wait."""
        if self._bar is None:
            return
        line = pull_line(source.stats.entries, source.pages, time.monotonic() - self._started, source.waiting)
        self._bar.update(self._task, description=line)

    def watch(self, sources: Sequence[Any]) -> None:
        """File sources whose entry counts the line shows as they are read."""
        if self._bar is None:
            return
        self._sources = [s for s in sources if hasattr(s, "path")]
        for source in self._sources:
            with suppress(OSError):
                self._size += os.stat(source.path).st_size

    def refresh(self) -> None:
        """Called by the line at each redraw: file counts are polled, not pushed (the reader stays untouched)."""
        if self._bar is not None and self._sources:
            entries = sum(s.stats.entries for s in self._sources)
            done = sum(s.stats.bytes_read for s in self._sources)
            if entries or done:
                self._bar.update(self._task, description=files_line(entries, self._size, done))


_current = Display()


def current() -> Display:
    """The display of the run in progress (a no-op one outside ``progress``): live sources report to it."""
    return _current


@contextmanager
def progress(label: str, *, quiet: bool = False, stream: TextIO | None = None) -> Iterator[Display]:
    global _current
    stream = sys.stderr if stream is None else stream
    if quiet or not stream.isatty():
        yield Display()
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=stream)
    if not console.is_terminal:  # TERM=dumb and the like
        yield Display()
        return

    class _Bar(Progress):
        display: Display | None = None  # set once the task exists; rich may draw before that

        def get_renderables(self) -> Any:  # each redraw (10 a second) polls the file counts first
            if self.display is not None:
                self.display.refresh()
            return super().get_renderables()

    # redirect_*=False: rich would otherwise route stdout (the report) through the stderr console.
    bar = _Bar(
        SpinnerColumn(),
        TextColumn("triage: {task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    display = bar.display = Display(bar, bar.add_task(label, total=None))
    previous, _current = _current, display
    try:
        with bar:
            yield display
    finally:
        _current = previous
