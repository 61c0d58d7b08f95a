"""A progress line on stderr while a long run reads its logs: only on a terminal, never with --quiet.

It is a transient spinner (rich) with what is being read and the elapsed time, cleared when the work
ends. It never touches stdout (no redirection: the report or JSON written there stays byte-identical)
and never reaches an output file. On a pipe, a file, TERM=dumb or with --quiet it does nothing at all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TextIO


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


def output_elsewhere(out: object | None) -> bool:
    """True when the command's output does not go to the terminal the progress line would share."""
    return out is not None or not sys.stdout.isatty()


@contextmanager
def progress(label: str, *, quiet: bool = False, stream: TextIO | None = None) -> Iterator[None]:
    stream = sys.stderr if stream is None else stream
    if quiet or not stream.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=stream)
    if not console.is_terminal:  # TERM=dumb and the like
        yield
        return
    # redirect_*=False: rich would otherwise route stdout (the report) through the stderr console.
    bar = Progress(
        SpinnerColumn(),
        TextColumn("triage: {task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    with bar:
        bar.add_task(label, total=None)
        yield
