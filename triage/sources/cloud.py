"""Cloud Logging as a source: pages of LogEntry dicts with our own retries, quota pacing and resume.

The library's own behaviour is not enough here: REST does not retry at all, gRPC retries only
500/503/504 and then raises RetryError after about a minute, and neither knows about the ~60 requests per
minute ``entries.list`` quota. So each page is one request, and this module decides when to send it,
when to try again (same page token, so a transient failure resumes where it stopped) and when to give up.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from triage.errors import SourceError
from triage.sources import SourceStats
from triage.sources.cloud_filter import CloudQuery, filter_with_fallback
from triage.sources.cloud_transport import (
    NO_CREDENTIALS,
    BadPage,
    Endpoint,
    PageFetcher,
    open_pages,
    parse_endpoint,
)

PAGE_SIZE = 1000  # the API's maximum
# Empty pages that still carry a token: the API sends some while it scans a sparse window, a broken or
# hostile server sends them for ever. Past this many in a row the pull stops with an error.
MAX_EMPTY_PAGES = 100
RETRYABLE_CODES = frozenset({429, 500, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 7  # tries per page, the first included: 1+2+4+8+16+32 s outlasts a quota minute
    base_delay: float = 1.0
    max_delay: float = 32.0
    requests_per_minute: int | None = 55  # under the ~60/min quota, headroom for other readers; None: off
    quota_window: float = 60.0  # seconds the quota counts requests over (tests and benchmarks scale it)
    timeout: float = 60.0  # total deadline of one request (not per read)
    total: float | None = None  # the whole pull (``--timeout``): no request or retry starts past it

    def delay(self, retry: int, rand: Callable[[], float]) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, so delays still grow."""
        ceiling = min(self.max_delay, self.base_delay * 2**retry)
        return ceiling / 2 + rand() * ceiling / 2


class Pacer:
    """At most ``per_minute`` requests in any ``window`` seconds (the quota's minute; tests scale it down):
    small pulls run at full speed, big ones wait exactly until the oldest request leaves the window."""

    def __init__(
        self,
        per_minute: int | None,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        window: float = 60.0,
        on_wait: Callable[[float], None] | None = None,
    ):
        self.per_minute = per_minute
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self.waited = 0.0
        self.on_wait = on_wait  # told the seconds left, about once a second while waiting (progress)

    def wait(self) -> None:
        if not self.per_minute:
            return
        now = self._clock()
        if len(self._sent) >= self.per_minute:
            until = self._sent[0] + self.window
            while (pause := until - now) > 0:
                if self.on_wait is not None:
                    self.on_wait(pause)
                # Slept in steps of at most a second so the countdown the user sees moves.
                step = min(pause, 1.0)
                self._sleep(step)
                self.waited += step
                now = self._clock()
            self._sent.popleft()
        self._sent.append(now)


class _PageFailed(Exception):
    """A page could not be fetched; ``message`` is the one line the user sees."""


def describe(exc: BaseException, query: CloudQuery, filter_: str) -> tuple[bool, str]:
    """(retryable, one-line message) for whatever the client raised."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    if isinstance(exc, BadPage):
        return False, str(exc)
    if isinstance(exc, gexc.RetryError):
        return True, f"Cloud Logging kept failing: {exc.message}"
    if isinstance(exc, auth_exc.TransportError):  # fetching a token failed on the network
        return True, f"cannot reach the token endpoint: {_first_line(exc)}"
    # A 401 makes the authorised session refresh and retry once; anonymous credentials cannot refresh.
    if isinstance(exc, auth_exc.RefreshError | auth_exc.InvalidOperation | gexc.Unauthorized):
        return False, f"credentials rejected ({_first_line(exc)}): {NO_CREDENTIALS.split(': ', 1)[1]}"
    if isinstance(exc, gexc.GoogleAPICallError):
        code, text = exc.code, _first_line(exc.message or str(exc))
        if code in RETRYABLE_CODES:
            name = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
            return True, f"Cloud Logging {code} {name[code]}: {text}"
        if code == 400:
            flat = " ".join(filter_.split())
            return False, f"Cloud Logging rejected the filter (400 INVALID_ARGUMENT: {text}); filter: {flat}"
        if code == 403:
            return False, (
                f"permission denied reading logs of project {query.project!r} (403): "
                "the account needs roles/logging.viewer on it (the API also says 403 for a project that does not exist)"
            )
        if code == 404:
            return False, f"project {query.project!r} not found (404): check --project"
        return False, f"Cloud Logging error {code}: {text}"
    # Connection refused/reset and timeouts below the API layer (requests, grpc) are worth retrying.
    if isinstance(exc, ConnectionError | TimeoutError) or type(exc).__module__.startswith("requests"):
        return True, f"cannot reach Cloud Logging: {_first_line(exc)}"
    return False, f"Cloud Logging failed: {type(exc).__name__}: {_first_line(exc)}"


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


class CloudLoggingSource:
    """The Source protocol over ``entries.list``: oldest first, 1000 per page, stats updated as it goes."""

    def __init__(
        self,
        query: CloudQuery,
        *,
        endpoint: Endpoint | str | None = None,
        anonymous: bool = False,
        allow_partial: bool = False,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        on_page: Callable[[CloudLoggingSource], None] | None = None,
    ) -> None:
        self.query = query
        self.endpoint = endpoint if isinstance(endpoint, Endpoint) else parse_endpoint(endpoint)
        self.anonymous = anonymous
        self.allow_partial = allow_partial
        self.policy = policy or RetryPolicy()
        self.name = f"cloud-logging:projects/{query.project}"
        self.stats = SourceStats()
        self.filter, notes = filter_with_fallback(query)
        self.stats.notes.extend(notes)
        self.pages = 0
        self.requests = 0
        self.retries = 0
        self.sleeps: list[float] = []  # backoff delays requested, in order (tests and diagnostics)
        self._sleep = sleep
        self._clock = clock
        self._rand = rand
        self._deadline: float | None = None
        self.waiting = 0.0  # seconds left of the current wait for quota, 0 when not waiting
        self._pacer = Pacer(self.policy.requests_per_minute, clock, sleep, self.policy.quota_window, self._waiting)
        self.on_page = on_page  # called after each page and each second of waiting for quota: progress displays

    def _waiting(self, seconds: float) -> None:
        self.waiting = seconds
        if self.on_page is not None:
            self.on_page(self)

    def open(self) -> PageFetcher:
        return open_pages(
            self.endpoint,
            project=self.query.project,
            filter_=self.filter,
            anonymous=self.anonymous,
            timeout=self.policy.timeout,
        )

    def entries(self) -> Iterator[dict[str, Any]]:
        fetcher = self.open()
        remaining = self.query.limit
        token: str | None = None
        seen: set[str] = set()  # every token sent: one coming back again would loop for ever
        empty = 0
        self._deadline = None if self.policy.total is None else self._clock() + self.policy.total
        try:
            while remaining is None or remaining > 0:
                size = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
                try:
                    page, next_token = self._fetch(fetcher, token, size)
                except _PageFailed as failure:
                    self._stop(str(failure))
                    return
                self.pages += 1
                if remaining is not None:
                    page = page[:remaining]
                    remaining -= len(page)
                self.stats.entries += len(page)
                yield from page
                if self.on_page is not None:
                    self.on_page(self)
                if next_token is None:
                    break
                empty = 0 if page else empty + 1
                stuck = self._stuck(next_token, seen, empty)
                if stuck:
                    self._stop(stuck)
                    return
                seen.add(next_token)
                token = next_token
        finally:
            fetcher.close()

    @staticmethod
    def _stuck(token: str, seen: set[str], empty: int) -> str | None:
        if token in seen:
            return "Cloud Logging sent a page token it had sent before: paging would never end"
        if empty >= MAX_EMPTY_PAGES:
            return f"Cloud Logging sent {empty} empty pages in a row, each with a next page token: paging stopped"
        return None

    def _left(self) -> float | None:
        """Seconds left of the whole pull (None: unbounded); _PageFailed once it is spent."""
        if self._deadline is None:
            return None
        left = self._deadline - self._clock()
        if left <= 0:
            raise _PageFailed(f"the pull took longer than --timeout {self.policy.total:g} s")
        return left

    def _fetch(self, fetcher: PageFetcher, token: str | None, size: int) -> tuple[list[dict[str, Any]], str | None]:
        retry = 0
        while True:
            self._pacer.wait()  # retries count against the quota too
            self.waiting = 0.0
            self.requests += 1
            try:
                return fetcher.fetch(token, size, self._left())
            except _PageFailed:
                raise
            except Exception as exc:
                retryable, message = describe(exc, self.query, self.filter)
                if not retryable:
                    raise _PageFailed(message) from exc
                if retry + 1 >= self.policy.attempts:
                    raise _PageFailed(f"{message} (gave up after {retry + 1} attempts)") from exc
                delay = self.policy.delay(retry, self._rand)
                left = self._left()
                if left is not None and delay >= left:
                    raise _PageFailed(f"{message} (no time left under --timeout {self.policy.total:g} s)") from exc
                self.sleeps.append(delay)
                self.retries += 1
                retry += 1
                self._sleep(delay)

    def _stop(self, message: str) -> None:
        if self.pages == 0:
            raise SourceError(message, partial=False)
        where = f"after {self.pages} pages ({self.stats.entries:,} entries)"
        if not self.allow_partial:
            raise SourceError(f"{message} [{where}; --allow-partial keeps them]", partial=True)
        self.stats.partial = True
        self.stats.notes.append(f"PARTIAL: pull stopped {where}: {message}")
