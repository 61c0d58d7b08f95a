"""A Cloud Logging server that lies or stalls: bodies that are not pages, tokens that repeat, empty pages for
ever, one byte now and then. Each is an error (or, kept with --allow-partial, a PARTIAL pull), never a
hang or entries made up from garbage. The servers are real HTTP servers on 127.0.0.1, scripted per test."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from tests.fake_logging import sample_entries
from triage.errors import SourceError
from triage.sources.cloud import MAX_EMPTY_PAGES, CloudLoggingSource, RetryPolicy
from triage.sources.cloud_filter import CloudQuery

Reply = Callable[[int, BaseHTTPRequestHandler], None]  # (request number, handler) -> writes the response


class Scripted:
    """An ``entries:list`` endpoint whose n-th response is ``reply(n, handler)``."""

    def __init__(self, reply: Reply) -> None:
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests += 1
                # The client giving up on us is the point of some tests.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    reply(outer.requests, self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def body(handler: BaseHTTPRequestHandler, payload: object) -> None:
    data = orjson.dumps(payload)
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@pytest.fixture
def serve() -> Iterator[Callable[[Reply], Scripted]]:
    servers: list[Scripted] = []

    def start(reply: Reply) -> Scripted:
        servers.append(Scripted(reply))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def source(url: str, allow_partial: bool = False, **policy: object) -> CloudLoggingSource:
    query = CloudQuery(project="demo", start=datetime(2025, 9, 5, tzinfo=UTC), end=datetime(2025, 9, 6, tzinfo=UTC))
    settings = {"attempts": 1, "requests_per_minute": None, "timeout": 10.0, **policy}
    return CloudLoggingSource(
        query, endpoint=url, anonymous=True, allow_partial=allow_partial, policy=RetryPolicy(**settings)
    )


ENTRIES = sample_entries(3)


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ([1, 2, 3], "a list body"),
        ("abc", "a str body"),
        ({"entries": "abc"}, '"entries" as a str'),
        ({"entries": [1, 2]}, "an entry that is a int"),
        ({"entries": ENTRIES, "nextPageToken": 7}, "nextPageToken that is a int"),
    ],
)
def test_a_body_that_is_not_a_page_is_an_error(payload, why, serve):
    server = serve(lambda n, h: body(h, payload))
    with pytest.raises(SourceError, match=why):
        list(source(server.url).entries())
    assert server.requests == 1  # not retried: the server answered, wrongly


def test_a_bad_page_after_good_ones_is_a_partial_pull(serve):
    server = serve(lambda n, h: body(h, {"entries": ENTRIES, "nextPageToken": "t1"} if n == 1 else [1, 2, 3]))
    src = source(server.url, allow_partial=True)
    got = list(src.entries())
    assert got == ENTRIES and src.stats.partial and "not a page object" in src.stats.notes[-1]


def test_a_repeated_page_token_stops_the_pull(serve):
    server = serve(lambda n, h: body(h, {"entries": ENTRIES, "nextPageToken": "same"}))
    with pytest.raises(SourceError, match="page token it had sent before"):
        list(source(server.url).entries())
    assert server.requests == 2


def test_empty_pages_with_tokens_for_ever_stop(serve):
    server = serve(lambda n, h: body(h, {"nextPageToken": f"t{n}"}))
    src = source(server.url, allow_partial=True)
    start = time.perf_counter()
    assert list(src.entries()) == []
    assert server.requests == MAX_EMPTY_PAGES
    assert src.stats.partial and "empty pages in a row" in src.stats.notes[-1]
    assert time.perf_counter() - start < 30


def drip(interval: float) -> Reply:
    """Headers, then one byte of a valid body every ``interval`` seconds: no read ever times out."""

    def reply(n: int, h: BaseHTTPRequestHandler) -> None:
        data = orjson.dumps({"entries": ENTRIES})
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        for i in itertools.count():
            if i >= len(data):
                return
            h.wfile.write(data[i : i + 1])
            h.wfile.flush()
            time.sleep(interval)

    return reply


def test_a_request_has_a_total_deadline(serve):
    # Bytes every 0.2 s: a 1 s per-read timeout would never fire, and the body takes minutes to arrive.
    server = serve(drip(0.2))
    start = time.perf_counter()
    with pytest.raises(SourceError, match="request deadline"):
        list(source(server.url, timeout=1.0).entries())
    assert time.perf_counter() - start < 5


def test_the_whole_pull_is_bounded(serve):
    # Each request dies at its 1 s deadline and is retried; the pull as a whole stops at 2.5 s.
    server = serve(drip(0.2))
    start = time.perf_counter()
    with pytest.raises(SourceError, match=r"timeout|no time left"):
        list(source(server.url, timeout=1.0, attempts=50, base_delay=0.01, max_delay=0.02, total=2.5).entries())
    spent = time.perf_counter() - start
    assert 2.0 < spent < 6 and server.requests >= 2
