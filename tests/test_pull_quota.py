"""Pull against a fake that enforces a quota: pacing never trips it and keeps it busy.

The quota is scaled down (6 requests a second instead of 60 a minute) and the pacer with it (5 a second,
as the default 55 of 60 leaves headroom for other readers), so the test takes about two seconds of real time.
Assertions are on request counts and on what the pacer waited, not on wall-time thresholds.
"""

from __future__ import annotations

import math
from pathlib import Path

from tests.fake_logging import FakeLogging, sample_entries
from triage.commands.pull import live_source, pull
from triage.sources.cloud import PAGE_SIZE, RetryPolicy

QUOTA, WINDOW, PACED = 6, 1.0, 5


def test_page_size_is_the_api_maximum() -> None:
    assert PAGE_SIZE == 1000


def test_fake_quota_rejects_unpaced_pull(fake: FakeLogging, tmp_path: Path) -> None:
    """The fake's quota is real enough to fail: without pacing a pull trips it and has to back off."""
    fake.reset(sample_entries(9000))
    fake.set_quota(QUOTA, WINDOW)
    policy = RetryPolicy(requests_per_minute=None, base_delay=0.05, max_delay=0.5, attempts=30, quota_window=WINDOW)
    source = live_source(fake.live_options("rest"), policy=policy)
    pull(fake.live_options("rest"), tmp_path / "out.jsonl", quiet=True, source=source)
    assert fake.over_quota > 0 and source.retries == fake.over_quota
    assert source.stats.entries == 9000


def test_paced_pull_never_trips_the_quota_and_keeps_it_busy(fake: FakeLogging, tmp_path: Path) -> None:
    fake.reset(sample_entries(12_000))
    fake.set_quota(QUOTA, WINDOW)
    policy = RetryPolicy(requests_per_minute=PACED, quota_window=WINDOW)
    source = live_source(fake.live_options("rest"), policy=policy)
    pull(fake.live_options("rest"), tmp_path / "out.jsonl", quiet=True, source=source)
    assert source.stats.entries == 12_000 and source.pages == 12
    assert fake.over_quota == 0 and source.retries == 0
    assert {r.page_size for r in fake.requests} == {1000}  # full pages: the fewest requests for the entries
    # Never more than PACED requests in any window, by the fake's own arrival times (the margin is
    # for a request that took a while to arrive; a pacer on the wrong window, say half, fails it).
    arrivals = fake.arrivals
    assert all(arrivals[i + PACED] - arrivals[i] > WINDOW * 0.75 for i in range(len(arrivals) - PACED))
    # Not slower than the quota allows: the pacer waits only for full windows. 12 requests at 5 a window
    # need two waits; it waited no more than the two windows those cost (and did wait: the quota was hit).
    full_windows = math.ceil(source.requests / PACED) - 1
    waited = source._pacer.waited
    assert 0 < waited <= full_windows * WINDOW
