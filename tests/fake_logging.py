"""A fake Cloud Logging server on 127.0.0.1 for tests and benchmarks: REST and gRPC ``entries.list``.

It serves a list of LogEntry dicts (REST/JSON shape) in pages of ``pageSize``, records every request
(filter, pageSize, pageToken, orderBy, resourceNames, transport) and can fail requests from a script of
HTTP status codes, answered as Google-style JSON error bodies over REST and the matching status over gRPC.
Like the real API it omits ``nextPageToken`` on the last page: an empty string would make the library's
REST iterator loop forever.

    with FakeLogging(entries) as fake:
        fake.rest_url        # "http://127.0.0.1:PORT"  -> REST
        fake.grpc_target     # "127.0.0.1:PORT"         -> gRPC without TLS
        fake.fail(503, 503)  # the next two requests fail, then it serves again
        fake.set_quota(60, 60.0)  # more than 60 requests in any 60 s: 429 RESOURCE_EXHAUSTED, as the API does
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from triage.commands.pull import LiveOptions

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
MESSAGES = {
    400: "Invalid filter expression",
    401: "Request had invalid authentication credentials.",
    403: "Permission 'logging.logEntries.list' denied on resource (or it may not exist).",
    404: "Project not found.",
    429: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
    504: "The request deadline was exceeded.",
}


_PB_CACHE: dict[str, Any] = {}  # entry JSON -> LogEntry protobuf, shared by every fake in the process


@dataclass(frozen=True)
class Request:
    transport: str
    resource_names: tuple[str, ...]
    filter: str
    order_by: str
    page_size: int
    page_token: str
    authorization: str = ""  # the Authorization header / metadata, "" when anonymous


class FakeLogging:
    def __init__(self, entries: Iterable[dict[str, Any]] = ()) -> None:
        self.requests: list[Request] = []
        self._script: deque[int | None] = deque()
        self._lock = threading.Lock()
        self.quota: tuple[int, float] | None = None  # (requests, window seconds), None: unlimited
        self.arrivals: list[float] = []  # monotonic arrival time of every request, the rejected ones too
        self.over_quota = 0  # requests answered 429 because of the quota (not the script)
        self.set_entries(entries)
        self._http: ThreadingHTTPServer | None = None
        self._grpc: Any = None
        self.rest_url = ""
        self.grpc_target = ""

    # -- configuration ---------------------------------------------------------------------------------
    def set_entries(self, entries: Iterable[dict[str, Any]]) -> None:
        self.entries = list(entries)
        # Encoded once: the server must not be the bottleneck of the pull benchmark.
        self._json = [json.dumps(e, separators=(",", ":")) for e in self.entries]
        self._pb: list[Any] | None = None

    def reset(self, entries: Iterable[dict[str, Any]] = ()) -> None:
        """Forget recorded requests and scripted errors; serve ``entries`` (a server shared by tests)."""
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self.quota = None
            self.arrivals.clear()
            self.over_quota = 0
        self.set_entries(entries)

    def set_quota(self, requests: int, window: float) -> None:
        """Answer 429 to a request that would be more than ``requests`` in the last ``window`` seconds.

        Rejected requests count too (the strict reading of a quota): a client that hammers stays locked out."""
        with self._lock:
            self.quota = (requests, window)

    def fail(self, *codes: int | None) -> None:
        """Queue outcomes for the next requests: an HTTP status code fails one, None serves one."""
        with self._lock:
            self._script.extend(codes)

    # -- the API ---------------------------------------------------------------------------------------
    def _handle(self, request: Request) -> tuple[int, slice, str | None]:
        """(status, entries slice, next token); records the request and applies the error script."""
        with self._lock:
            self.requests.append(request)
            now = time.monotonic()
            self.arrivals.append(now)
            code = self._script.popleft() if self._script else None
            if not code and self.quota is not None:
                limit, window = self.quota
                recent = sum(1 for t in self.arrivals[-limit - 1 :] if t > now - window)
                if recent > limit:
                    code = 429
                    self.over_quota += 1
        if code:
            return code, slice(0), None
        start = 0
        if request.page_token:
            if not request.page_token.startswith("page-"):
                return 400, slice(0), None
            start = int(request.page_token[5:])
        size = request.page_size if 0 < request.page_size <= 1000 else 1000
        end = min(start + size, len(self.entries))
        return 200, slice(start, end), (f"page-{end}" if end < len(self.entries) else None)

    # -- REST ------------------------------------------------------------------------------------------
    def _rest_page(self, body: dict[str, Any], authorization: str) -> tuple[int, bytes]:
        request = Request(
            "rest",
            tuple(body.get("resourceNames", ())),
            body.get("filter", ""),
            body.get("orderBy", ""),
            int(body.get("pageSize", 0)),
            body.get("pageToken", ""),
            authorization,
        )
        status, window, token = self._handle(request)
        if status != 200:
            error = {"code": status, "message": MESSAGES[status], "status": STATUS_NAMES[status]}
            return status, json.dumps({"error": error}).encode()
        parts = []
        if window.stop > window.start:  # the real API omits empty repeated fields
            parts.append('"entries":[' + ",".join(self._json[window]) + "]")
        if token is not None:
            parts.append(f'"nextPageToken":"{token}"')
        return 200, ("{" + ",".join(parts) + "}").encode()

    def _start_rest(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: one connection for the whole pull

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.split("?")[0] != "/v2/entries:list":
                    status, payload = 404, b'{"error":{"code":404,"message":"no such method"}}'
                else:
                    body = json.loads(raw or b"{}")
                    status, payload = fake._rest_page(body, self.headers.get("Authorization", ""))
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.rest_url = f"http://127.0.0.1:{self._http.server_address[1]}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    # -- gRPC ------------------------------------------------------------------------------------------
    def _entries_pb(self) -> list[Any]:
        if self._pb is None:
            import google.cloud.audit.audit_log_pb2  # noqa: F401  protoPayload is an Any of AuditLog
            from google.cloud.logging_v2.types import LogEntry
            from google.protobuf.json_format import ParseDict

            pb_type = LogEntry.pb()
            # ParseDict is slow (~0.2 ms an entry); tests serve the same sample entries again and again.
            for text, entry in zip(self._json, self.entries, strict=True):
                if text not in _PB_CACHE:
                    _PB_CACHE[text] = ParseDict(entry, pb_type())
            self._pb = [_PB_CACHE[text] for text in self._json]
        return self._pb

    def _start_grpc(self) -> None:
        import grpc
        from google.cloud.logging_v2.types import (
            ListLogEntriesRequest,
            ListLogEntriesResponse,
        )

        response_pb = ListLogEntriesResponse.pb()

        def list_log_entries(request: Any, context: Any) -> Any:
            req = Request(
                "grpc",
                tuple(request.resource_names),
                request.filter,
                request.order_by,
                request.page_size,
                request.page_token,
                dict(context.invocation_metadata()).get("authorization", ""),
            )
            status, window, token = self._handle(req)
            if status != 200:
                context.abort(getattr(grpc.StatusCode, STATUS_NAMES[status]), MESSAGES[status])
            return response_pb(entries=self._entries_pb()[window], next_page_token=token or "")

        handler = grpc.method_handlers_generic_handler(
            "google.logging.v2.LoggingServiceV2",
            {
                "ListLogEntries": grpc.unary_unary_rpc_method_handler(
                    list_log_entries,
                    request_deserializer=ListLogEntriesRequest.pb().FromString,
                    response_serializer=lambda message: message.SerializeToString(),
                )
            },
        )
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._grpc.add_generic_rpc_handlers((handler,))
        port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._grpc.start()
        self.grpc_target = f"127.0.0.1:{port}"

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self, rest: bool = True, grpc: bool = True) -> Self:
        if rest:
            self._start_rest()
        if grpc:
            self._start_grpc()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._grpc is not None:
            self._grpc.stop(grace=None)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def endpoint(self, transport: str) -> str:
        return self.rest_url if transport == "rest" else self.grpc_target

    def live_options(self, transport: str, **extra: Any) -> LiveOptions:
        """Live options for project "demo" on 2025-09-05, pointed at this fake, anonymous."""
        return LiveOptions(
            "demo",
            from_="2025-09-05T00:00:00Z",
            to="2025-09-06T00:00:00Z",
            api_endpoint=self.endpoint(transport),
            anonymous=True,
            **extra,
        )


def sample_entries(n: int, *, project: str = "demo", service: str = "api", start: int = 0) -> list[dict[str, Any]]:
    """``n`` Cloud Run entries in the shapes the API returns, cycling through the log kinds, oldest first."""
    resource = {
        "type": "cloud_run_revision",
        "labels": {
            "service_name": service,
            "revision_name": f"{service}-00007-abc",
            "configuration_name": service,
            "location": "europe-west1",
            "project_id": project,
        },
    }
    logs = f"projects/{project}/logs/"
    out: list[dict[str, Any]] = []
    for i in range(start, start + n):
        ts = f"2025-09-05T{10 + i // 3_600_000 % 10:02d}:{i // 60_000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}123Z"
        base = {
            "insertId": f"{i:024x}",
            "resource": resource,
            "timestamp": ts,
            "receiveTimestamp": ts[:-1] + "456Z",
            "labels": {"instanceId": "00f4c3a1b2" * 6},
        }
        kind = i % 5
        if kind == 0:
            base.update(logName=logs + "run.googleapis.com%2Fstderr", textPayload=f"worker {i} ready")
        elif kind == 1:
            base.update(
                logName=logs + "run.googleapis.com%2Fstdout",
                severity="ERROR",
                jsonPayload={"message": f"db call {i} failed", "logger": "app.db"},
            )
        elif kind == 2:
            base.update(
                logName=logs + "run.googleapis.com%2Frequests",
                severity="INFO",
                httpRequest={
                    "requestMethod": "GET",
                    "requestUrl": f"https://{service}.run.app/items/{i}",
                    "status": 200,
                    "responseSize": "512",
                    "latency": "0.012s",
                },
                trace=f"projects/{project}/traces/{i:032x}",
            )
        elif kind == 3:
            base.update(
                logName=logs + "run.googleapis.com%2Fvarlog%2Fsystem",
                severity="INFO",
                textPayload="Starting new instance. Reason: AUTOSCALING - Instance started due to traffic.",
            )
        else:
            base.update(
                logName=logs + "cloudaudit.googleapis.com%2Fsystem_event",
                severity="NOTICE",
                protoPayload={
                    "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                    "methodName": "/Services.ReplaceService",
                    "resourceName": f"namespaces/{project}/revisions/{service}-00007-abc",
                    "status": {"message": "Ready condition status changed to True"},
                },
            )
        out.append(base)
    return out
