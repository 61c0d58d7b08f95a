"""``pull``: the file it writes (plain and gzip), the progress display, partial pulls."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from tests.conftest import FakeClock
from tests.fake_logging import FakeLogging, sample_entries
from triage.commands.pull import live_source, pull
from triage.errors import SourceError, TriageError
from triage.records import from_entry
from triage.sources.cloud import RetryPolicy


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_pull(
    fake: FakeLogging,
    transport: str,
    out: Path,
    clock: FakeClock,
    stderr: io.StringIO,
    quiet: bool = False,
    **extra: object,
) -> int:
    options = fake.live_options(transport, **extra)
    policy = RetryPolicy(attempts=2, requests_per_minute=None)
    source = live_source(options, policy=policy, sleep=clock.sleep, clock=clock)
    return pull(options, out, quiet, stderr=stderr, source=source)


def read_lines(path: Path) -> list[dict[str, object]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        return [json.loads(line) for line in fh]


@pytest.mark.parametrize("name", ["logs.jsonl", "logs.jsonl.gz"])
def test_pull_writes_entries_as_returned(
    fake: FakeLogging, transport: str, tmp_path: Path, clock: FakeClock, name: str
) -> None:
    entries = sample_entries(2300)
    entries[7]["textPayload"] = "Ünïcode ✓ stays UTF-8"
    fake.reset(entries)
    out = tmp_path / name
    stderr = io.StringIO()
    assert run_pull(fake, transport, out, clock, stderr) == 0
    assert read_lines(out) == entries
    if name.endswith(".gz"):
        assert out.read_bytes()[:2] == b"\x1f\x8b"
    else:
        assert "Ünïcode ✓" in out.read_text(encoding="utf-8")  # not \u-escaped
    # Read back, the lines normalise to the same records as the entries the server holds.
    assert [from_entry(e) for e in read_lines(out)] == [from_entry(e) for e in entries]
    assert not (tmp_path / (name + ".part")).exists()
    assert "pulled 2,300 entries in 3 pages" in stderr.getvalue()


def test_progress_off_when_stderr_is_not_a_terminal(
    fake: FakeLogging, transport: str, tmp_path: Path, clock: FakeClock
) -> None:
    fake.reset(sample_entries(1500))
    stderr = io.StringIO()
    run_pull(fake, transport, tmp_path / "x.jsonl", clock, stderr)
    text = stderr.getvalue()
    assert "\x1b[" not in text and "pulling" not in text
    assert text.count("\n") == 1 and text.startswith("pulled 1,500 entries")


def test_progress_on_a_terminal(
    fake: FakeLogging, transport: str, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TTY_COMPATIBLE", "TTY_INTERACTIVE", "FORCE_COLOR", "NO_COLOR"):  # rich reads these
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    fake.reset(sample_entries(1500))
    stderr = FakeTTY()
    run_pull(fake, transport, tmp_path / "x.jsonl", clock, stderr)
    text = stderr.getvalue()
    assert "\x1b[" in text and "pages" in text  # rich drew (and cleared) a live display


def test_quiet_prints_nothing(fake: FakeLogging, transport: str, tmp_path: Path, clock: FakeClock) -> None:
    fake.reset(sample_entries(10))
    stderr = FakeTTY()
    run_pull(fake, transport, tmp_path / "x.jsonl", clock, stderr, quiet=True)
    assert stderr.getvalue() == ""
    assert len(read_lines(tmp_path / "x.jsonl")) == 10


def test_failed_pull_leaves_no_file(fake: FakeLogging, transport: str, tmp_path: Path, clock: FakeClock) -> None:
    fake.reset(sample_entries(2500))
    fake.fail(None, 503, 503)
    out = tmp_path / "x.jsonl.gz"
    with pytest.raises(SourceError) as info:
        run_pull(fake, transport, out, clock, io.StringIO())
    assert info.value.partial is True
    assert list(tmp_path.iterdir()) == []


def test_allow_partial_keeps_the_pages_and_says_so(
    fake: FakeLogging, transport: str, tmp_path: Path, clock: FakeClock
) -> None:
    fake.reset(sample_entries(2500))
    fake.fail(None, 503, 503)
    out = tmp_path / "x.jsonl"
    stderr = io.StringIO()
    assert run_pull(fake, transport, out, clock, stderr, quiet=True, allow_partial=True) == 0
    marker, *pages = read_lines(out)  # the partial marker first (files.PARTIAL_KEY), then the pages as they came
    assert pages == fake.entries[:1000] and marker["triage_partial"]["entries"] == 1000
    assert stderr.getvalue().startswith("note: PARTIAL: pull stopped after 1 pages")


def test_out_directory_must_exist(fake: FakeLogging, tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(TriageError, match="does not exist"):
        run_pull(fake, "rest", tmp_path / "missing" / "x.jsonl", clock, io.StringIO())
    assert fake.requests == []
