from __future__ import annotations

from tests.helpers import entry
from triage.events import assemble, parse_traceback
from triage.records import from_entry

SPLIT = [
    "ERROR:    Traceback (most recent call last):",
    '  File "/app/main.py", line 9, in lifespan',
    "    await engine.connect()",
    '  File "/usr/local/lib/python3.11/site-packages/asyncpg/connection.py", line 2, in connect',
    "    raise err",
    "ConnectionRefusedError: [Errno 111] Connect call failed ('10.0.0.3', 5432)",
]


def _records(lines, start_ms=0, instance="inst-1", revision="api-00001-abc"):
    return [
        from_entry(entry(f"10:00:00.{start_ms + i:06d}", line, instance=instance, revision=revision))
        for i, line in enumerate(lines)
    ]


def test_split_traceback_becomes_one_event():
    events = list(assemble(_records([*SPLIT, "INFO: next request"])))
    assert len(events) == 2
    tb = events[0]
    assert len(tb.records) == len(SPLIT)
    assert tb.exception == "ConnectionRefusedError"
    assert [f.function for f in tb.frames] == ["lifespan", "connect"]
    assert tb.frames[0].is_app and not tb.frames[1].is_app
    assert events[1].message == "INFO: next request"


def test_chained_exceptions_stay_one_event():
    lines = [
        "Traceback (most recent call last):",
        '  File "/app/db.py", line 3, in connect',
        "ConnectionRefusedError: [Errno 111] Connect call failed ('10.0.0.3', 5432)",
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File "/app/main.py", line 1, in <module>',
        "sqlalchemy.exc.OperationalError: (asyncpg) connection refused",
    ]
    events = list(assemble(_records(lines)))
    assert len(events) == 1
    assert [t for t, _ in events[0].exceptions] == ["ConnectionRefusedError", "sqlalchemy.exc.OperationalError"]


def test_interleaved_instances_are_kept_apart():
    a = _records(SPLIT, 0, instance="a")
    b = _records(
        ["Traceback (most recent call last):", '  File "/app/x.py", line 1, in f', "ValueError: bad"], 0, instance="b"
    )
    merged = sorted(a + b, key=lambda r: (r.timestamp, r.instance))
    events = list(assemble(merged))
    assert sorted(len(e.records) for e in events) == [3, len(SPLIT)]


def test_one_entry_traceback_parses_frames():
    text = "\n".join(SPLIT[1:])
    frames, excs = parse_traceback("Traceback (most recent call last):\n" + text)
    assert len(frames) == 2 and excs[-1][0] == "ConnectionRefusedError"


def test_gap_closes_an_open_traceback():
    recs = [*_records(SPLIT[:3]), from_entry(entry("10:00:30.000000", SPLIT[-1]))]
    events = list(assemble(recs))
    assert len(events) == 2 and not events[0].exceptions
