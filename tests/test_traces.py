"""Stack traces of every runtime, split one line per entry as Cloud Run writes them, become one event."""

from __future__ import annotations

import pytest

from tests.helpers import entry
from triage.events import assemble
from triage.records import from_entry

JAVA = [
    'Exception in thread "main" org.postgresql.util.PSQLException: Connection to localhost:5433 refused.',
    "\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnectionImpl(ConnectionFactoryImpl.java:252)",
    "\tat com.example.App.main(App.java:94)",
    "Caused by: java.net.ConnectException: Connection refused (Connection refused)",
    "\tat java.net.PlainSocketImpl.socketConnect(Native Method)",
    "\t... 12 more",
]
NODE = [
    "Error: connect ECONNREFUSED 127.0.0.1:5432",
    "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
    "    at /app/src/db.js:12:5",
    "  errno: -111,",
    "  code: 'ECONNREFUSED',",
    "}",
]
GO = [
    "panic: runtime error: invalid memory address or nil pointer dereference",
    "",
    "goroutine 1 [running]:",
    "main.connect(0x0)",
    "\t/app/main.go:19 +0x120",
    "main.main()",
    "\t/app/main.go:8 +0x25",
    "exit status 2",
]
RUBY = [
    '/app/config/puma.rb:12:in `bind\': Address already in use - bind(2) for "0.0.0.0" port 8080 (Errno::EADDRINUSE)',
    "\tfrom /usr/local/bundle/gems/puma-6.3.0/lib/puma/binder.rb:334:in `initialize'",
    "\tfrom /app/config.ru:3:in `<main>'",
]
LIBPQ = [
    "could not connect to server: Connection refused",
    '\tIs the server running on host "localhost" (::1) and accepting',
    "\tTCP/IP connections on port 5432?",
]


def _events(lines: list[str]):
    records = [from_entry(entry(f"10:00:00.{i:06d}", line, instance="i-1")) for i, line in enumerate(lines)]
    return list(assemble([*records, from_entry(entry("10:00:01.000000", "INFO: next", instance="i-1"))]))


@pytest.mark.parametrize(
    ("lines", "exception", "app_function"),
    [
        (JAVA, "java.net.ConnectException", "com.example.App.main"),
        (NODE, "Error", ""),
        (GO, "panic", "main.connect"),
        (RUBY, "Errno::EADDRINUSE", "bind"),
        (LIBPQ, "", ""),
    ],
    ids=["java", "node", "go", "ruby", "libpq"],
)
def test_split_trace_is_one_event(lines: list[str], exception: str, app_function: str) -> None:
    events = _events(lines)
    assert [len(e.records) for e in events] == [len(lines), 1]
    trace = events[0]
    assert trace.message == "\n".join(lines)
    assert trace.exception == exception
    if app_function:
        assert app_function in [f.function for f in trace.frames if f.is_app]


def test_library_frames_are_not_the_app() -> None:
    frames = _events(JAVA)[0].frames
    assert [f.is_app for f in frames] == [False, True, False]
    node = _events(NODE)[0].frames
    assert [(f.file, f.is_app) for f in node] == [("node:net", False), ("/app/src/db.js", True)]


def test_unindented_lines_stay_apart() -> None:
    events = _events(["[negroni] listen tcp :3000: bind: address already in use", "http: proxy error"])
    assert [e.message for e in events] == [
        "[negroni] listen tcp :3000: bind: address already in use",
        "http: proxy error",
        "INFO: next",
    ]


def test_headless_python_traceback_keeps_frames_and_exception() -> None:
    lines = ['  File "/app/main.py", line 4, in <module>', "    import db", "KeyError: 'DATABASE_URL'"]
    trace = _events(lines)[0]
    assert len(trace.records) == 3
    assert (trace.exception, trace.frames[0].function) == ("KeyError", "<module>")
