"""Shared fixtures: fake Cloud Logging (REST and gRPC) and BigQuery servers on 127.0.0.1, an injectable clock."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from tests.fake_bigquery import FakeBigQuery
from tests.fake_logging import FakeLogging

# Every credential lookup stays on 127.0.0.1: no metadata server probe leaves the machine, no token endpoint
# is reached, no developer's gcloud login or key file is picked up. google-auth reads NO_GCE_CHECK and
# GCE_METADATA_HOST when it is first imported, so the values are in place before any test module loads
# (pytest imports this file first); it compares NO_GCE_CHECK to "true" exactly, so "True" would not count.
_GCLOUD_DIR = tempfile.mkdtemp(prefix="triage-empty-gcloud-")
LOOPBACK_AUTH_ENV = {
    "NO_GCE_CHECK": "true",
    "GCE_METADATA_HOST": "127.0.0.1:1",
    "GCE_METADATA_IP": "127.0.0.1:1",
    "CLOUDSDK_CONFIG": _GCLOUD_DIR,
}
UNSET_AUTH_ENV = ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT")
os.environ.update(LOOPBACK_AUTH_ENV)
for _name in UNSET_AUTH_ENV:
    os.environ.pop(_name, None)


@pytest.fixture(scope="session", autouse=True)
def _credentials_on_loopback() -> Iterator[None]:
    """The whole session runs with the loopback credential environment (re-applied, in case a plugin changed it)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in LOOPBACK_AUTH_ENV.items():
            patch.setenv(name, value)
        for name in UNSET_AUTH_ENV:
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # An http_proxy in the environment would swallow requests to 127.0.0.1.
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("TRIAGE_LOGGING_ENDPOINT", raising=False)


@pytest.fixture(scope="session")
def _fake_server() -> Iterator[FakeLogging]:
    with FakeLogging() as fake:
        yield fake


@pytest.fixture
def fake(_fake_server: FakeLogging) -> FakeLogging:
    """The shared fake server, emptied: no entries, no recorded requests, no scripted errors."""
    _fake_server.reset()
    return _fake_server


@pytest.fixture(scope="session")
def _bigquery_server() -> Iterator[FakeBigQuery]:
    with FakeBigQuery() as server:
        yield server


@pytest.fixture
def bigquery(_bigquery_server: FakeBigQuery, monkeypatch: pytest.MonkeyPatch, tmp_path) -> FakeBigQuery:
    """The shared fake BigQuery, emptied; any credential lookup fails here, never reaching a metadata server
    or gcloud's config."""
    _bigquery_server.reset()
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("TRIAGE_BIGQUERY_ENDPOINT", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    return _bigquery_server


@pytest.fixture(params=["rest", "grpc"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


class FakeClock:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
