"""The progress line's content: pages, entries and quota waits for pulls and live runs, entries and
megabytes for files; drawn on a (fake) terminal only, never with --quiet, never off a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from tests.conftest import FakeClock
from tests.fake_logging import FakeLogging, sample_entries
from triage.commands import progress as prog
from triage.commands.pull import live_source, pull
from triage.sources.cloud import RetryPolicy
from triage.sources.files import FileSource

ROOT = Path(__file__).resolve().parents[1]


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> FakeTTY:
    for name in ("TTY_COMPATIBLE", "TTY_INTERACTIVE", "FORCE_COLOR", "NO_COLOR"):  # rich reads these
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    return FakeTTY()


def test_pull_line_says_pages_entries_and_quota_wait() -> None:
    assert prog.pull_line(12_000, 12, 10.0) == "pulling 12,000 entries, 12 pages, 1,200 entries/s"
    waiting = prog.pull_line(55_000, 55, 50.0, waiting=9.6)
    assert waiting == "pulling 55,000 entries, 55 pages, 1,100 entries/s; waiting for quota (10 s)"


def test_files_line_says_bytes_and_entries() -> None:
    assert prog.files_line(12_345, 2_100_000, 840_000) == "reading 2.1 MB: 0.8 MB (40%), 12,345 entries"
    assert prog.files_line(5, 0, 1_500_000) == "reading: 1.5 MB, 5 entries"  # stdin: no size to compare with


def test_paced_pull_shows_the_quota_wait(
    fake: FakeLogging, tmp_path: Path, terminal: FakeTTY, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pull that hits its pacing limit draws "waiting for quota (n s)" counting down, on the terminal."""
    fake.reset(sample_entries(3000))
    clock = FakeClock()
    options = fake.live_options("rest")
    source = live_source(options, policy=RetryPolicy(requests_per_minute=2), sleep=clock.sleep, clock=clock)
    seen: list[str] = []
    original = prog.Display.page

    def page(self: prog.Display, src: object) -> None:
        original(self, src)
        seen.append(self._bar.tasks[0].description)

    monkeypatch.setattr(prog.Display, "page", page)
    pull(options, tmp_path / "x.jsonl", stderr=terminal, source=source)
    waits = [line for line in seen if "waiting for quota" in line]
    assert waits[0].endswith("waiting for quota (60 s)") and waits[-1].endswith("waiting for quota (1 s)")
    assert len(waits) == 60  # one update a second of the wait
    assert seen[-1].startswith("pulling 3,000 entries, 3 pages") and "waiting" not in seen[-1]
    assert "\x1b[" in terminal.getvalue()  # rich drew (and cleared) the line
    assert prog.current().shown is False  # restored after the run


def test_live_run_reports_pages_to_the_line(fake: FakeLogging, terminal: FakeTTY) -> None:
    """report/analyze build their Cloud Logging source through live_sources: it reports to the current line."""
    from triage.commands.common import RunOptions, live_sources
    from triage.engine import Matcher, load_catalog

    fake.reset(sample_entries(1500))
    with prog.progress("start", stream=terminal) as display:
        (source,) = live_sources(RunOptions(live=fake.live_options("rest")), Matcher(load_catalog(())))
        list(source.entries())  # type: ignore[attr-defined]
        assert display._bar.tasks[0].description.startswith("pulling 1,500 entries, 2 pages")


def test_file_run_polls_entries_read(terminal: FakeTTY) -> None:
    sample = ROOT / "samples/staging-2025-09-05.jsonl"
    source = FileSource(str(sample))
    with prog.progress("start", stream=terminal) as display:
        display.watch([source])
        count = sum(1 for _ in source.entries())
        display.refresh()
        line = display._bar.tasks[0].description
    size = sample.stat().st_size
    assert count > 0 and line == f"reading {size / 1e6:,.1f} MB: {size / 1e6:,.1f} MB (100%), {count:,} entries"


@pytest.mark.parametrize("gzipped", [False, True])
def test_bytes_read_move_with_the_reading(tmp_path: Path, gzipped: bool) -> None:
    """Bytes read are the file's as stored, counted as they are read (a gzip's compressed bytes), through
    the fast path's workers as through the plain reader: part way through a big file it is part of the size."""
    import gzip

    from tests.fake_logging import sample_entries as entries_of
    from triage.engine import Matcher, load_catalog
    from triage.pipeline import collect

    data = b"".join(orjson.dumps(e) + b"\n" for e in entries_of(40_000))
    path = tmp_path / ("big.jsonl.gz" if gzipped else "big.jsonl")
    path.write_bytes(gzip.compress(data) if gzipped else data)
    size = path.stat().st_size
    source = FileSource(str(path))
    seen = []
    for i, _ in enumerate(source.entries()):
        if i == 20_000:
            seen.append(source.stats.bytes_read)
    assert 0 < seen[0] < size and source.stats.bytes_read == size
    fast = FileSource(str(path))
    collect([fast], Matcher(load_catalog(())))
    assert fast.stats.bytes_read == size and fast.stats.entries == 40_000


def test_no_line_off_a_terminal_or_when_quiet(terminal: FakeTTY) -> None:
    pipe = io.StringIO()
    with prog.progress("x", stream=pipe) as display:
        assert not display.shown
        display.refresh()  # no-ops, no error
    with prog.progress("x", stream=terminal, quiet=True) as display:
        assert not display.shown
    assert pipe.getvalue() == "" and terminal.getvalue() == ""
