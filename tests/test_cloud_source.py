"""CloudLoggingSource through the real google-cloud-logging client against the fake server, REST and gRPC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import FakeClock
from tests.fake_logging import FakeLogging, sample_entries
from triage.errors import SourceError
from triage.sources.cloud import CloudLoggingSource, RetryPolicy
from triage.sources.cloud_filter import CloudQuery

START = datetime(2025, 9, 5, 10, 0, tzinfo=UTC)
END = datetime(2025, 9, 5, 12, 0, tzinfo=UTC)


def make_source(
    fake: FakeLogging,
    transport: str,
    clock: FakeClock,
    *,
    attempts: int = 4,
    per_minute: int | None = None,
    allow_partial: bool = False,
    **query: object,
) -> CloudLoggingSource:
    q = CloudQuery(project=str(query.pop("project", "demo")), start=START, end=END, **query)  # type: ignore[arg-type]
    return CloudLoggingSource(
        q,
        endpoint=fake.endpoint(transport),
        anonymous=True,
        allow_partial=allow_partial,
        policy=RetryPolicy(attempts=attempts, requests_per_minute=per_minute, timeout=10),
        sleep=clock.sleep,
        clock=clock,
        rand=lambda: 0.5,
    )


def test_pages_through_all_entries(fake: FakeLogging, transport: str, clock: FakeClock) -> None:
    fake.reset(sample_entries(2500))
    source = make_source(fake, transport, clock)
    got = list(source.entries())
    assert got == fake.entries  # the same dicts, REST shape, over both transports
    assert source.pages == 3 and source.stats.entries == 2500 and not source.stats.partial
    assert [r.page_token for r in fake.requests] == ["", "page-1000", "page-2000"]
    assert {r.page_size for r in fake.requests} == {1000}
    assert {r.transport for r in fake.requests} == {transport}
    assert all(r.order_by == "timestamp asc" for r in fake.requests)
    assert all(r.resource_names == ("projects/demo",) for r in fake.requests)


def test_empty_result_is_one_request(fake: FakeLogging, transport: str, clock: FakeClock) -> None:
    source = make_source(fake, transport, clock)
    assert list(source.entries()) == []
    assert len(fake.requests) == 1 and source.pages == 1


EXPECTED_FILTER = """\
timestamp>="2025-09-05T10:00:00Z"
AND timestamp<="2025-09-05T12:00:00Z"
AND (resource.type="cloud_run_revision" OR resource.type="cloud_run_job")
AND (resource.labels.service_name="api" OR resource.labels.service_name="worker" \
OR resource.labels.job_name="api" OR resource.labels.job_name="worker")
AND (
  ((logName="projects/demo/logs/run.googleapis.com%2Fstdout" \
OR logName="projects/demo/logs/run.googleapis.com%2Fstderr") AND ("Traceback" OR "say \\"hi\\""))
  OR (logName="projects/demo/logs/run.googleapis.com%2Frequests" \
OR logName="projects/demo/logs/run.googleapis.com%2Fvarlog%2Fsystem")
  OR (logName="projects/demo/logs/cloudaudit.googleapis.com%2Factivity" \
OR logName="projects/demo/logs/cloudaudit.googleapis.com%2Fsystem_event")
)"""


def test_server_receives_the_exact_filter(fake: FakeLogging, transport: str, clock: FakeClock) -> None:
    source = make_source(fake, transport, clock, services=("api", "worker"), pushdown=("Traceback", 'say "hi"'))
    list(source.entries())
    assert fake.requests[0].filter == EXPECTED_FILTER


def test_severity_floor_spares_audit_logs(fake: FakeLogging, transport: str, clock: FakeClock) -> None:
    list(make_source(fake, transport, clock, severity="ERROR").entries())
    text = fake.requests[0].filter
    assert text.count("severity>=ERROR") == 2  # container output and platform logs
    audit_branch = text.splitlines()[-2]
    assert "cloudaudit" in audit_branch and "severity" not in audit_branch
    assert "service_name" not in text  # no --service: every service and job of the project


def test_limit_shrinks_the_last_page(fake: FakeLogging, transport: str, clock: FakeClock) -> None:
    fake.reset(sample_entries(5000))
    source = make_source(fake, transport, clock, limit=1500)
    got = list(source.entries())
    assert len(got) == 1500 and got[-1] == fake.entries[1499]
    assert [(r.page_size, r.page_token) for r in fake.requests] == [(1000, ""), (500, "page-1000")]


def test_pushdown_over_the_filter_limit_falls_back(fake: FakeLogging, transport: str, clock: FakeClock) -> None:
    keywords = tuple(f"keyword-{i:05d}" for i in range(2000))  # ~30,000 characters of terms
    source = make_source(fake, transport, clock, pushdown=keywords)
    list(source.entries())
    sent = fake.requests[0].filter
    assert len(sent) < 20_000 and "keyword-" not in sent
    assert any("pushdown skipped" in note and "20,000" in note for note in source.stats.notes)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (400, ["rejected the filter", "400", 'filter: timestamp>="2025-09-05T10:00:00Z" AND']),
        (403, ["permission denied", "roles/logging.viewer", "'demo'"]),
        (404, ["project 'demo' not found", "404"]),
        (401, ["credentials rejected", "gcloud auth application-default login"]),
    ],
)
def test_permanent_errors_have_one_clear_line(
    fake: FakeLogging, transport: str, clock: FakeClock, code: int, expected: list[str]
) -> None:
    fake.reset(sample_entries(10))
    fake.fail(code)
    source = make_source(fake, transport, clock)
    with pytest.raises(SourceError) as info:
        list(source.entries())
    message = str(info.value)
    assert all(part in message for part in expected), message
    assert "\n" not in message
    assert info.value.exit_code == 3 and info.value.partial is False
    assert len(fake.requests) == 1 and clock.sleeps == []  # not retried


@pytest.mark.parametrize("code", [429, 500, 503, 504])
def test_transient_errors_retry_with_growing_backoff_and_resume(
    fake: FakeLogging, transport: str, clock: FakeClock, code: int
) -> None:
    fake.reset(sample_entries(2500))
    fake.fail(None, code, code)  # page 1 fine, page 2 fails twice, then serves
    source = make_source(fake, transport, clock)
    got = list(source.entries())
    assert got == fake.entries
    # Resumed from the last page token, not from the start.
    assert [r.page_token for r in fake.requests] == ["", "page-1000", "page-1000", "page-1000", "page-2000"]
    # rand=0.5 gives 3/4 of each ceiling: 1 s then 2 s ceilings.
    assert clock.sleeps == [0.75, 1.5]
    assert source.retries == 2
    # Every attempt reached the server once: no retry hidden inside the library (gRPC's default is 60 s).
    assert len(fake.requests) == source.requests == 5


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    low = [policy.delay(n, lambda: 0.0) for n in range(6)]
    high = [policy.delay(n, lambda: 0.999) for n in range(6)]
    assert low == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(h <= 8.0 for h in high)
    # Equal jitter: whatever the random draw, a retry never waits less than the one before it.
    assert all(high[n] <= low[n + 1] for n in range(3))


def test_gives_up_on_the_first_page(fake: FakeLogging, transport: str, clock: FakeClock) -> None:
    fake.reset(sample_entries(10))
    fake.fail(503, 503, 503)
    source = make_source(fake, transport, clock, attempts=3)
    with pytest.raises(SourceError) as info:
        list(source.entries())
    assert "503 UNAVAILABLE" in str(info.value) and "gave up after 3 attempts" in str(info.value)
    assert info.value.partial is False
    assert len(clock.sleeps) == 2 and clock.sleeps[1] > clock.sleeps[0]


@pytest.mark.parametrize("script", [(None, 403), (None, 503, 503, 503)], ids=["permanent", "exhausted"])
def test_failure_after_some_pages_raises_partial(
    fake: FakeLogging, transport: str, clock: FakeClock, script: tuple[int | None, ...]
) -> None:
    fake.reset(sample_entries(2500))
    fake.fail(*script)
    source = make_source(fake, transport, clock, attempts=3)
    seen = []
    with pytest.raises(SourceError) as info:
        seen.extend(source.entries())
    assert len(seen) == 1000
    assert info.value.partial is True and "after 1 pages (1,000 entries)" in str(info.value)
    assert "--allow-partial" in str(info.value)


def test_allow_partial_keeps_what_came(fake: FakeLogging, transport: str, clock: FakeClock) -> None:
    fake.reset(sample_entries(2500))
    fake.fail(None, 500, 500, 500)
    source = make_source(fake, transport, clock, attempts=3, allow_partial=True)
    got = list(source.entries())
    assert got == fake.entries[:1000]
    assert source.stats.partial is True
    assert any(note.startswith("PARTIAL") and "500 INTERNAL" in note for note in source.stats.notes)


def test_pacing_keeps_under_the_quota(fake: FakeLogging, transport: str, clock: FakeClock) -> None:
    fake.reset(sample_entries(4500))  # five pages
    source = make_source(fake, transport, clock, per_minute=3)
    assert len(list(source.entries())) == 4500
    # The 4th request waits for the window, in steps of a second (the countdown); the 5th fits after it.
    assert clock.sleeps == [1.0] * 60 and source._pacer.waited == 60.0
    assert len(fake.requests) == 5


def test_pacing_counts_retries(fake: FakeLogging, transport: str, clock: FakeClock) -> None:
    fake.reset(sample_entries(10))
    fake.fail(429, 429)
    source = make_source(fake, transport, clock, per_minute=2)
    assert len(list(source.entries())) == 10
    # two backoffs (0.75, 1.5), then the third request waits out the rest of the 60 s window.
    assert clock.sleeps[:2] == [0.75, 1.5]
    assert sum(clock.sleeps[2:]) == pytest.approx(60.0 - 0.75 - 1.5)  # first request was at t=0
    assert max(clock.sleeps[2:]) <= 1.0
    assert len(fake.requests) == 3


def test_default_policy_stays_under_60_requests_a_minute() -> None:
    policy = RetryPolicy()
    assert policy.requests_per_minute is not None and policy.requests_per_minute <= 60
    assert policy.attempts >= 5


def test_unreachable_endpoint_is_retried_then_reported(transport: str, clock: FakeClock) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}" if transport == "rest" else f"127.0.0.1:{port}"
    query = CloudQuery(project="demo", start=START, end=END)
    source = CloudLoggingSource(
        query,
        endpoint=endpoint,
        anonymous=True,
        policy=RetryPolicy(attempts=2, requests_per_minute=None, timeout=5),
        sleep=clock.sleep,
        clock=clock,
    )
    with pytest.raises(SourceError) as info:
        list(source.entries())
    assert "gave up after 2 attempts" in str(info.value)
    assert len(clock.sleeps) == 1
