"""Page fetchers over the public Google client APIs: one ``entries.list`` call per ``fetch``.

Both fetchers return raw pages as REST/JSON-shaped dicts (camelCase), not ``LogEntry`` objects: building
an entry object costs about 60 us and ``to_api_repr`` as much again, which alone would cap a pull
far below what the client must keep up with. Paging, retries and pacing live in the source, so every request the
fetchers make is exactly one page and no library retry hides behind it.

google-cloud-logging, google-auth, requests and grpc are imported inside functions: file runs never load them.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from triage.errors import SourceError, TriageError

READ_SCOPE = "https://www.googleapis.com/auth/logging.read"
DEFAULT_REST_URL = "https://logging.googleapis.com"
NO_CREDENTIALS = (
    "no Google Cloud credentials found: run `gcloud auth application-default login`, "
    "or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, "
    "or pass --anonymous with a loopback --api-endpoint (emulators)"
)


@dataclass(frozen=True)
class Endpoint:
    transport: str  # "rest" or "grpc"
    target: str  # base URL for REST, host:port for gRPC
    host: str
    loopback: bool


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_endpoint(value: str | None) -> Endpoint:
    """``http(s)://host:port`` selects REST, bare ``host:port`` gRPC without TLS, nothing the real API."""
    if not value:
        return Endpoint("rest", DEFAULT_REST_URL, "logging.googleapis.com", False)
    value = value.strip()
    if value.startswith(("http://", "https://")):
        host = urlsplit(value).hostname
        if not host:
            raise TriageError(f"--api-endpoint {value!r} has no host")
        return Endpoint("rest", value.rstrip("/"), host, is_loopback(host))
    host, sep, port = value.rpartition(":")
    if "://" in value or not sep or not host or not port.isdigit():
        raise TriageError(f"--api-endpoint {value!r}: use http://host:port (REST) or host:port (gRPC without TLS)")
    host = host.strip("[]")
    return Endpoint("grpc", value, host, is_loopback(host))


def load_credentials(endpoint: Endpoint, anonymous: bool) -> Any:
    """Application Default Credentials, or anonymous ones for a local emulator or test server."""
    if anonymous:
        if not endpoint.loopback:
            raise TriageError(
                f"--anonymous is only allowed with a loopback --api-endpoint (emulators, tests), not {endpoint.host!r}"
            )
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    # Off GCE, google-auth probes the metadata server 3 times at 3 s each before giving up; one probe keeps
    # a run without credentials failing in seconds (read when google-auth's metadata module first loads).
    os.environ.setdefault("GCE_METADATA_DETECT_RETRIES", "1")
    import google.auth
    import google.auth.exceptions

    try:
        credentials, _ = google.auth.default(scopes=[READ_SCOPE])
    except google.auth.exceptions.DefaultCredentialsError:
        raise SourceError(NO_CREDENTIALS) from None
    return credentials


class BadPage(Exception):
    """The server answered, but not with a page: a body that is not an object, entries that are not a list
    of objects, a token that is not a string. Never retried, never turned into entries."""


class RequestDeadline(TimeoutError):
    """No complete response within the request's total deadline (a server sending a byte now and then
    never trips a per-read timeout)."""


def check_page(response: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The entries and next token of an ``entries.list`` body, or BadPage."""
    if not isinstance(response, dict):
        raise BadPage(f"Cloud Logging returned a {type(response).__name__} body, not a page object")
    entries = response.get("entries", [])
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise BadPage(f'Cloud Logging returned "entries" as a {type(entries).__name__}, not a list')
    odd = next((e for e in entries if not isinstance(e, dict)), None)
    if odd is not None:
        raise BadPage(f"Cloud Logging returned an entry that is a {type(odd).__name__}, not an object")
    token = response.get("nextPageToken")
    if token is not None and not isinstance(token, str):
        raise BadPage(f"Cloud Logging returned a nextPageToken that is a {type(token).__name__}")
    # The API omits nextPageToken on the last page; treat "" the same so we never loop on it.
    return entries, token or None


class PageFetcher(Protocol):
    def fetch(
        self, page_token: str | None, page_size: int, deadline: float | None = None
    ) -> tuple[list[dict[str, Any]], str | None]: ...

    def close(self) -> None: ...


class RestPages:
    """``POST /v2/entries:list`` through google-auth's public ``AuthorizedSession``, one page per call.

    Not ``LoggingServiceV2Client(transport="rest")``: google-cloud-logging ships only gRPC transports for it
    (no ``transports/rest.py`` in 3.x). Not ``google.cloud.logging.Client`` either: its HTTP path is only
    reachable through the private ``_connection``/``_http``, which break on upgrade. An AuthorizedSession is
    a requests.Session that adds (and refreshes) the bearer token; errors become google.api_core exceptions
    through the public ``from_http_response``, the same classes the gRPC path raises.
    """

    def __init__(
        self, endpoint: Endpoint, credentials: Any, project: str, filter_: str, order_by: str, timeout: float
    ) -> None:
        from google.api_core.exceptions import from_http_response
        from google.auth.transport.requests import AuthorizedSession

        self._session = AuthorizedSession(credentials)
        if endpoint.loopback:
            # requests would route 127.0.0.1 through $http_proxy unless no_proxy lists it.
            self._session.trust_env = False
        self._error = from_http_response
        self._url = f"{endpoint.target}/v2/entries:list"
        self._body = {"resourceNames": [f"projects/{project}"], "filter": filter_, "orderBy": order_by}
        self._timeout = timeout

    def _post(self, body: dict[str, Any], limit: float) -> bytes:
        response = self._session.post(
            self._url,
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
            timeout=limit,
        )
        if response.status_code >= 400:
            raise self._error(response)
        return response.content

    def fetch(
        self, page_token: str | None, page_size: int, deadline: float | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        body: dict[str, Any] = {**self._body, "pageSize": page_size}
        if page_token:
            body["pageToken"] = page_token
        limit = self._timeout if deadline is None else min(self._timeout, deadline)
        # requests' timeout bounds each read, not the request: a byte every 20 s holds it for ever. The call
        # runs in a thread and is abandoned at the deadline (its connection is closed, the read then fails).
        done: dict[str, Any] = {}

        def call() -> None:
            try:
                # The raw bytes, decoded by orjson at several times requests' json speed.
                done["raw"] = self._post(body, limit)
            except BaseException as exc:  # handed to the caller's thread
                done["error"] = exc

        worker = threading.Thread(target=call, name="triage-page", daemon=True)
        worker.start()
        worker.join(limit)
        if worker.is_alive():
            self._session.close()  # drop the pooled connections; the next request opens a new one
            raise RequestDeadline(f"no complete response within {limit:g} s (request deadline)")
        if "error" in done:
            raise done["error"]
        raw = done.get("raw")
        try:
            response = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError as exc:
            raise BadPage(f"Cloud Logging returned a body that is not JSON ({exc})") from None
        return check_page(response)

    def close(self) -> None:
        self._session.close()


class GrpcPages:
    """``LoggingServiceV2/ListLogEntries`` on a plaintext channel (emulators and tests)."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Any,
        project: str,
        filter_: str,
        order_by: str,
        timeout: float,
        anonymous: bool,
    ) -> None:
        import google.cloud.audit.audit_log_pb2  # noqa: F401  registers AuditLog for protoPayload (an Any)
        import grpc
        from google.cloud.logging_v2.services.logging_service_v2 import (
            LoggingServiceV2Client,
        )
        from google.cloud.logging_v2.services.logging_service_v2.transports import (
            LoggingServiceV2GrpcTransport,
        )
        from google.cloud.logging_v2.types import ListLogEntriesRequest
        from google.protobuf.json_format import MessageToDict

        options: list[tuple[str, Any]] = [("grpc.max_receive_message_length", -1)]
        if endpoint.loopback:
            options.append(("grpc.enable_http_proxy", 0))
        self._channel = grpc.insecure_channel(endpoint.target, options=options)
        self._client = LoggingServiceV2Client(transport=LoggingServiceV2GrpcTransport(channel=self._channel))
        self._request_type = ListLogEntriesRequest
        self._to_dict = MessageToDict
        self._base = {"resource_names": [f"projects/{project}"], "filter": filter_, "order_by": order_by}
        self._timeout = timeout
        # A plaintext channel cannot carry gRPC call credentials, so real ones travel as a bearer header.
        self._credentials = None if anonymous else credentials

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        if self._credentials is None:
            return ()
        if not self._credentials.valid:
            from google.auth.transport.requests import Request

            self._credentials.refresh(Request())
        return (("authorization", f"Bearer {self._credentials.token}"),)

    def fetch(
        self, page_token: str | None, page_size: int, deadline: float | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        request = self._request_type(**self._base, page_size=page_size, page_token=page_token or "")
        limit = self._timeout if deadline is None else min(self._timeout, deadline)
        # retry=None: the library would otherwise retry 500/503/504 for about 60 s on its own. A gRPC
        # timeout is a deadline for the whole call, not per read.
        pager = self._client.list_log_entries(request=request, retry=None, timeout=limit, metadata=self._metadata())
        response = next(iter(pager.pages))  # the first page only: the source drives paging
        raw = type(response).pb(response)
        # MessageToDict gives the REST shape: camelCase keys, enums as names, int64 as strings.
        entries = [self._to_dict(entry) for entry in raw.entries]
        return entries, raw.next_page_token or None

    def close(self) -> None:
        self._channel.close()


def open_pages(
    endpoint: Endpoint,
    *,
    project: str,
    filter_: str,
    anonymous: bool,
    order_by: str = "timestamp asc",
    timeout: float = 60.0,
) -> PageFetcher:
    credentials = load_credentials(endpoint, anonymous)
    if endpoint.transport == "grpc":
        return GrpcPages(endpoint, credentials, project, filter_, order_by, timeout, anonymous)
    return RestPages(endpoint, credentials, project, filter_, order_by, timeout)
