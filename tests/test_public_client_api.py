"""triage talks to Google's libraries through their public API only: private attributes break on upgrade."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fake_logging import FakeLogging, sample_entries
from triage.sources.cloud_transport import RestPages, parse_endpoint

ROOT = Path(__file__).resolve().parent.parent / "triage"
# ``client._connection.api_request``, ``client._http.trust_env``: the private halves of google-cloud-core clients.
PRIVATE = re.compile(r"\._(?:connection|http)\b")


def test_no_private_client_attributes_under_triage() -> None:
    hits = [
        f"{path.relative_to(ROOT.parent)}:{no}: {line.strip()}"
        for path in sorted(ROOT.rglob("*.py"))
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert hits == []


def test_the_grep_catches_what_the_old_code_did() -> None:
    # The pattern itself could be wrong: it must flag both former uses and spare ordinary names.
    assert PRIVATE.search("self._client._connection.api_request")
    assert PRIVATE.search("client._http.trust_env = False")
    assert not PRIVATE.search("with_http.append(x)") and not PRIVATE.search("self._https = 1")


def test_rest_pages_is_an_authorized_session_without_proxy(fake: FakeLogging, monkeypatch: pytest.MonkeyPatch) -> None:
    """Behaviour, not only text: REST goes through google-auth's public AuthorizedSession, ignores a proxy
    for loopback, and still reads every page from the fake."""
    from google.auth.credentials import AnonymousCredentials
    from google.auth.transport.requests import AuthorizedSession

    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there: a proxied request fails
    monkeypatch.setenv("no_proxy", "")
    fake.reset(sample_entries(1500))
    pages = RestPages(parse_endpoint(fake.rest_url), AnonymousCredentials(), "demo", "", "timestamp asc", 10.0)
    try:
        session = pages._session  # our own attribute, not the library's
        assert isinstance(session, AuthorizedSession) and session.trust_env is False
        first, token = pages.fetch(None, 1000)
        rest, end = pages.fetch(token, 1000)
    finally:
        pages.close()
    assert first + rest == fake.entries and token == "page-1000" and end is None


def test_rest_errors_are_api_core_exceptions(fake: FakeLogging) -> None:
    from google.api_core import exceptions as gexc
    from google.auth.credentials import AnonymousCredentials

    fake.reset(sample_entries(10))
    fake.fail(429, 403)
    pages = RestPages(parse_endpoint(fake.rest_url), AnonymousCredentials(), "demo", "", "timestamp asc", 10.0)
    try:
        with pytest.raises(gexc.TooManyRequests):
            pages.fetch(None, 1000)
        with pytest.raises(gexc.Forbidden):
            pages.fetch(None, 1000)
    finally:
        pages.close()
