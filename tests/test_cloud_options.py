"""Live options without a server: durations, RFC 3339, windows, endpoints, credentials, filter pieces."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fake_logging import FakeLogging, sample_entries
from triage.commands.pull import (
    LiveOptions,
    live_source,
    parse_duration,
    parse_time,
    resolve_window,
)
from triage.errors import SourceError, TriageError
from triage.sources.cloud import describe
from triage.sources.cloud_filter import CloudQuery, build_filter, quote, rfc3339
from triage.sources.cloud_transport import parse_endpoint

NOW = datetime(2025, 9, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        (" 90S ", timedelta(seconds=90)),
    ],
)
def test_parse_duration(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta


@pytest.mark.parametrize("text", ["", "2", "h", "0m", "-1h", "1.5h", "2 hours", "1y"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(TriageError, match="30m, 2h or 1d"):
        parse_duration(text)


def test_parse_time() -> None:
    assert parse_time("2025-09-05T10:00:00Z") == datetime(2025, 9, 5, 10, tzinfo=UTC)
    assert parse_time("2025-09-05T12:00:00.5+02:00") == datetime(2025, 9, 5, 10, 0, 0, 500000, tzinfo=UTC)
    with pytest.raises(TriageError, match="timezone"):
        parse_time("2025-09-05T10:00:00")
    with pytest.raises(TriageError, match="RFC 3339"):
        parse_time("yesterday", "--to")


def test_resolve_window() -> None:
    assert resolve_window(LiveOptions("p", since="2h"), NOW) == (NOW - timedelta(hours=2), NOW)
    assert resolve_window(LiveOptions("p"), NOW) == (NOW - timedelta(hours=1), NOW)  # default --since 1h
    start, end = resolve_window(LiveOptions("p", from_="2025-09-05T08:00:00Z"), NOW)
    assert (start, end) == (datetime(2025, 9, 5, 8, tzinfo=UTC), NOW)
    with pytest.raises(TriageError, match="either --since or --from/--to"):
        resolve_window(LiveOptions("p", since="1h", from_="2025-09-05T08:00:00Z"), NOW)
    with pytest.raises(TriageError, match="--to needs --from"):
        resolve_window(LiveOptions("p", to="2025-09-05T08:00:00Z"), NOW)
    with pytest.raises(TriageError, match="empty time window"):
        resolve_window(LiveOptions("p", from_="2025-09-05T13:00:00Z"), NOW)


def test_live_source_from_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_LOGGING_ENDPOINT", "127.0.0.1:9")
    options = LiveOptions("p", services=("a", "b", "a"), since="30m", severity="error", limit=5, pushdown=True)
    source = live_source(options, keywords=["x", "", "x"], now=NOW)
    assert source.endpoint.transport == "grpc" and source.endpoint.target == "127.0.0.1:9"
    q = source.query
    assert q.services == ("a", "b") and q.pushdown == ("x",) and q.severity == "ERROR" and q.limit == 5
    assert q.start == NOW - timedelta(minutes=30) and q.end == NOW
    assert live_source(LiveOptions("p"), keywords=["x"], now=NOW).query.pushdown == ()  # not asked for
    no_terms = live_source(LiveOptions("p", pushdown=True), keywords=[], now=NOW)
    assert no_terms.query.pushdown == () and "pushdown skipped" in no_terms.stats.notes[0]
    explicit = live_source(LiveOptions("p", api_endpoint="http://localhost:8085"), now=NOW)
    assert explicit.endpoint.transport == "rest" and explicit.endpoint.loopback


@pytest.mark.parametrize(
    ("value", "transport", "loopback"),
    [
        (None, "rest", False),
        ("http://127.0.0.1:8085", "rest", True),
        ("http://localhost:8085/", "rest", True),
        ("https://logging.example.com", "rest", False),
        ("127.0.0.1:8085", "grpc", True),
        ("[::1]:8085", "grpc", True),
        ("emulator.internal:8085", "grpc", False),
    ],
)
def test_parse_endpoint(value: str | None, transport: str, loopback: bool) -> None:
    endpoint = parse_endpoint(value)
    assert (endpoint.transport, endpoint.loopback) == (transport, loopback)


@pytest.mark.parametrize("value", ["localhost", "ftp://x:1", "host:port"])
def test_parse_endpoint_rejects(value: str) -> None:
    with pytest.raises(TriageError, match="--api-endpoint"):
        parse_endpoint(value)


@pytest.mark.parametrize("endpoint", ["http://logging.example.com:8080", "logging.example.com:443", None])
def test_anonymous_refused_off_loopback(endpoint: str | None) -> None:
    options = LiveOptions("p", api_endpoint=endpoint, anonymous=True)
    with pytest.raises(TriageError, match="--anonymous is only allowed with a loopback") as info:
        list(live_source(options).entries())
    assert info.value.exit_code == 2


def test_no_credentials_message(
    fake: FakeLogging, transport: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.reset(sample_entries(3))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # do not probe a metadata server
    options = LiveOptions("p", api_endpoint=fake.endpoint(transport))
    with pytest.raises(SourceError) as info:
        list(live_source(options).entries())
    message = str(info.value)
    assert "gcloud auth application-default login" in message and "GOOGLE_APPLICATION_CREDENTIALS" in message
    assert "\n" not in message and fake.requests == []


def test_describe_library_errors() -> None:
    from google.api_core.exceptions import RetryError, ServiceUnavailable

    query = CloudQuery(project="p", start=NOW - timedelta(hours=1))
    assert describe(RetryError("Timeout of 60.0s exceeded", ServiceUnavailable("x")), query, "f")[0] is True
    assert describe(ValueError("boom"), query, "f") == (False, "Cloud Logging failed: ValueError: boom")


def test_filter_always_has_a_start_clause_and_quotes_names() -> None:
    query = CloudQuery(project="p", start=datetime(2025, 9, 5, 10, 0, 0, 250000, tzinfo=UTC), services=('we"ird\\',))
    text = build_filter(query)
    assert text.startswith('timestamp>="2025-09-05T10:00:00.250000Z"') and "timestamp<=" not in text
    assert 'resource.labels.service_name="we\\"ird\\\\"' in text
    assert quote('a"b') == '"a\\"b"' and rfc3339(NOW) == "2025-09-05T12:00:00Z"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"project": ""}, "project is required"),
        ({"severity": "LOUD"}, "unknown severity"),
        ({"limit": 0}, "--limit"),
        ({"end": NOW - timedelta(days=1)}, "must be after"),
    ],
)
def test_query_validation(kwargs: dict[str, object], match: str) -> None:
    base: dict[str, object] = {"project": "p", "start": NOW - timedelta(hours=1)}
    with pytest.raises(TriageError, match=match):
        CloudQuery(**{**base, **kwargs})  # type: ignore[arg-type]


def test_file_runs_do_not_import_the_client() -> None:
    code = (
        "import sys, triage.commands.pull, triage.sources.cloud\n"
        "heavy = [m for m in ('google.cloud.logging', 'google.cloud.logging_v2', 'grpc', 'rich', 'google.auth')"
        " if m in sys.modules]\n"
        "print(heavy)"
    )
    root = Path(__file__).parent.parent
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]"


def test_application_default_credentials_are_sent(
    fake: FakeLogging, transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import google.auth
    from google.oauth2.credentials import Credentials

    seen_scopes: list[object] = []

    def fake_default(scopes: object = None, **_: object) -> tuple[Credentials, str]:
        seen_scopes.append(scopes)
        return Credentials(token="adc-token"), "demo"

    monkeypatch.setattr(google.auth, "default", fake_default)
    fake.reset(sample_entries(3))
    source = live_source(LiveOptions("demo", api_endpoint=fake.endpoint(transport)), now=NOW)
    assert len(list(source.entries())) == 3
    assert fake.requests[0].authorization == "Bearer adc-token"
    assert seen_scopes == [["https://www.googleapis.com/auth/logging.read"]]


def test_anonymous_sends_no_token(fake: FakeLogging, transport: str) -> None:
    source = live_source(LiveOptions("demo", api_endpoint=fake.endpoint(transport), anonymous=True), now=NOW)
    list(source.entries())
    assert fake.requests[0].authorization == ""
