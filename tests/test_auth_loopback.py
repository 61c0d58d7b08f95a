"""The suite's credential environment (tests/conftest.py) keeps google-auth on 127.0.0.1.

google-auth's ``default()`` looks, in turn, at GOOGLE_APPLICATION_CREDENTIALS, the gcloud config directory,
and the GCE metadata server. Under the suite it must find nothing and never open a connection off the machine.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LOOPBACK_AUTH_ENV


def _host(address: object) -> str:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return str(address)  # AF_UNIX paths: local by definition


def _is_local(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost" or host.startswith("/")


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every socket connect made during the test, by host; a non-loopback one is refused, not made."""
    seen: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(address: object) -> None:
        host = _host(address)
        seen.append(host)
        if not _is_local(host):
            raise OSError(f"test guard: connect to non-loopback {host} refused")

    def connect(self: socket.socket, address: object) -> None:
        guard(address)
        real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        guard(address)
        return real_connect_ex(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield seen


def test_default_credentials_fail_fast_without_leaving_loopback(connects: list[str]) -> None:
    import google.auth
    import google.auth.exceptions

    started = time.monotonic()
    with pytest.raises(google.auth.exceptions.DefaultCredentialsError):
        google.auth.default(scopes=["https://www.googleapis.com/auth/logging.read"])
    assert time.monotonic() - started < 5.0  # generous: the machine is shared; in practice milliseconds
    assert [h for h in connects if not _is_local(h)] == []


def test_the_metadata_server_probe_itself_targets_loopback(connects: list[str]) -> None:
    # Even past NO_GCE_CHECK, the metadata host google-auth would probe is the closed port 127.0.0.1:1.
    import google.auth.transport.requests
    from google.auth.compute_engine import _metadata

    assert LOOPBACK_AUTH_ENV["GCE_METADATA_HOST"] == _metadata._GCE_METADATA_HOST
    started = time.monotonic()
    assert _metadata.ping(google.auth.transport.requests.Request(), timeout=1, retry_count=1) is False
    assert time.monotonic() - started < 5.0
    assert connects and all(_is_local(h) for h in connects)


def test_the_environment_is_the_loopback_one() -> None:
    import os

    for name, value in LOOPBACK_AUTH_ENV.items():
        assert os.environ.get(name) == value
    assert "GOOGLE_APPLICATION_CREDENTIALS" not in os.environ
    assert list(Path(os.environ["CLOUDSDK_CONFIG"]).iterdir()) == []  # no gcloud login to pick up
