"""Shared fixtures: a fake Cloud Logging server (REST and gRPC) on 127.0.0.1 and an injectable clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_logging import FakeLogging


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
