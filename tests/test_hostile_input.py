"""Hostile log input: the run never crashes, every entry is either parsed or counted malformed, and the
report renders (markdown and JSON). Property tests are bounded (few examples, small sizes)."""

from __future__ import annotations

import gzip

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile_run import ENTRY_DEFAULTS, run_bytes

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=False), st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
timestamps = st.one_of(
    st.just("2025-09-05T10:00:00.123456Z"),
    st.just("2025-09-05T10:00:00Z"),
    st.just("0001-01-01T00:00:00+01:00"),  # converting to UTC overflows
    st.just("9999-12-31T23:59:59-01:00"),
    st.just("2025-99-99T99:99:99.000000Z"),
    st.just("١٢٣٤-05-06T07:08:09Z"),  # non-ASCII digits
    st.dictionaries(st.sampled_from(["seconds", "nanos"]), json_values, max_size=2),
    json_values,
)
# Every LogEntry field, each either a plausible value or anything at all (wrong types included).
fields = {
    "timestamp": timestamps,
    "receiveTimestamp": timestamps,
    "severity": st.one_of(st.sampled_from(["ERROR", "warn", "INFO", "", "BOGUS"]), json_values),
    "logName": st.one_of(
        st.sampled_from(
            [
                "projects/p/logs/run.googleapis.com%2Fstderr",
                "projects/p/logs/run.googleapis.com%2Frequests",
                "projects/p/logs/run.googleapis.com%2Fvarlog%2Fsystem",
                "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
                "projects/p/logs/cloudaudit.googleapis.com%2Fsystem_event",
            ]
        ),
        json_values,
    ),
    "resource": st.one_of(st.just(ENTRY_DEFAULTS["resource"]), st.text(max_size=20), json_values),
    "labels": st.one_of(
        st.just({"instanceId": "00aa", "commit-sha": "abc"}), st.lists(json_values, max_size=3), json_values
    ),
    "insertId": st.one_of(st.sampled_from(["dup", "dup", "a1"]), json_values),
    "textPayload": st.one_of(
        st.sampled_from(
            [
                "Traceback (most recent call last):",
                '  File "/app/main.py", line 3, in <module>',
                "ConnectionRefusedError: [Errno 111] Connect call failed ('10.0.0.3', 5432)",
                "Container called exit(1).",
                "Ready condition status changed to False for Revision api-00001-abc with message: boom",
            ]
        ),
        st.text(max_size=200),
        json_values,
    ),
    "jsonPayload": st.one_of(
        st.fixed_dictionaries({}, optional={"message": json_values, "exc_info": json_values, "error": json_values}),
        json_values,
    ),
    "protoPayload": st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "methodName": st.sampled_from(["google.cloud.run.v1.Services.ReplaceService", "x"]) | json_values,
                "resourceName": st.sampled_from(["namespaces/p/services/api", "namespaces/p/revisions/api-00002-x"])
                | json_values,
                "status": json_values,
                "request": json_values,
                "response": json_values,
            },
        ),
        json_values,
    ),
    "httpRequest": st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "status": st.one_of(st.integers(0, 999), st.sampled_from(["503", "²", "５００", "abc"]), json_values),
                "latency": st.one_of(st.sampled_from(["0.1s", "1e400s", "xs"]), json_values),
                "requestUrl": json_values,
            },
        ),
        json_values,
    ),
}
entries = st.fixed_dictionaries({}, optional=fields)


def check(chunks: list[bytes]) -> None:
    stats, model, md, js = run_bytes(chunks)
    assert stats.entries == stats.parsed + stats.malformed
    assert model["stats"]["entries"] == stats.entries
    assert md.startswith("# ") and "## Executive Summary" in md
    assert orjson.loads(js)["stats"]["malformed"] == stats.malformed


def jsonl(items: list) -> bytes:
    return b"".join(orjson.dumps(x) + b"\n" for x in items)


@SETTINGS
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=3))
def test_random_bytes(chunks):
    check(chunks)


@SETTINGS
@given(st.lists(entries, min_size=1, max_size=8))
def test_wrong_types_and_missing_fields(items):
    check([jsonl(items)])


@SETTINGS
@given(st.lists(entries, min_size=1, max_size=6))
def test_same_entries_as_gcloud_array(items):
    check([orjson.dumps(items, option=orjson.OPT_INDENT_2)])


@SETTINGS
@given(st.lists(entries, min_size=1, max_size=6), st.data())
def test_truncated_json(items, data):
    for blob in (jsonl(items), orjson.dumps(items, option=orjson.OPT_INDENT_2)):
        cut = data.draw(st.integers(0, len(blob)))
        check([blob[:cut]])


@SETTINGS
@given(
    st.lists(st.binary(max_size=60), min_size=1, max_size=5),
    st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3(", b"\xed\xa0\x80"]),
)
def test_nul_bytes_and_invalid_utf8(parts, bad):
    line = orjson.dumps({**ENTRY_DEFAULTS, "timestamp": "2025-09-05T10:00:00Z", "textPayload": "x"})
    check([bad.join(parts), line[:20] + bad + line[20:] + b"\n" + line + b"\n", b"ERROR " + bad + b" text line\n"])


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["dup", "a", "b"])), min_size=1, max_size=12))
def test_duplicate_insert_ids_out_of_order(order):
    items = [
        {**ENTRY_DEFAULTS, "timestamp": f"2025-09-05T10:00:0{sec}Z", "insertId": iid, "textPayload": f"line {n}"}
        for n, (sec, iid) in enumerate(order)
    ]
    check([jsonl(items)])


def test_deeply_nested_json_is_malformed_not_fatal():
    deep_array = b"[" * 5000 + b"]" * 5000
    deep_obj = b'{"textPayload": "x", "jsonPayload": ' + b'{"a":' * 2000 + b"1" + b"}" * 2000 + b"}"
    stats, *_ = run_bytes([deep_array + b"\n", deep_obj + b"\n"])
    assert stats.malformed == 2 and stats.parsed == 0


def test_nesting_just_under_the_parser_limit():
    # orjson accepts ~1000 levels, which is at Python's recursion limit: code that walks payloads recursively
    # (deploy requests, labels) must not fall over.
    depth = 1000
    nested = (
        b'{"env":[' * (depth // 2) + b'{"name":"X","valueFrom":{"secretKeyRef":{"name":"s"}}}' + b"]}" * (depth // 2)
    )
    deploy = {
        "timestamp": "2025-09-05T10:00:00Z",
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "protoPayload": {
            "methodName": "google.cloud.run.v1.Services.ReplaceService",
            "resourceName": "namespaces/p/services/api",
            "request": "@NESTED@",
        },
        "labels": {"deep": "@NESTED@"},
    }
    line = orjson.dumps(deploy).replace(b'"@NESTED@"', nested)
    assert orjson.loads(line)  # within the parser's limit
    stats, *_ = run_bytes([line + b"\n"])
    assert stats.entries == stats.parsed + stats.malformed == 1


def test_ten_megabyte_line():
    big = "A" * (10 * 1024 * 1024)
    entry = {**ENTRY_DEFAULTS, "timestamp": "2025-09-05T10:00:00Z", "severity": "ERROR", "textPayload": big}
    stats, _, md, js = run_bytes([orjson.dumps(entry) + b"\n", b"ERROR " + big.encode() + b"\n"])
    assert stats.parsed == 2 and stats.malformed == 0
    assert len(md) < 100_000 and len(js) < 200_000


def test_truncated_gzip_is_partial():
    data = gzip.compress(
        jsonl(
            [{**ENTRY_DEFAULTS, "timestamp": f"2025-09-05T10:00:{s:02d}Z", "textPayload": "x" * 50} for s in range(60)]
        )
    )
    stats, model, md, js = run_bytes([data[: len(data) // 2]])
    assert stats.partial and model["partial"] is True
    assert "PARTIAL" in md and orjson.loads(js)["partial"] is True
    assert stats.entries == stats.parsed + stats.malformed


def test_truncated_gcloud_array_keeps_whole_objects_and_is_partial():
    items = [
        {**ENTRY_DEFAULTS, "timestamp": f"2025-09-05T10:00:{s:02d}Z", "textPayload": f"line {s}"} for s in range(5)
    ]
    blob = orjson.dumps(items, option=orjson.OPT_INDENT_2)
    cut = blob.index(b"line 3")  # inside the fourth object
    stats, _, md, _ = run_bytes([blob[:cut]])
    assert (stats.entries, stats.parsed, stats.malformed) == (4, 3, 1)
    assert stats.partial and "PARTIAL" in md


def test_text_log_with_bracketed_prefix_is_text_not_a_broken_array():
    stats, *_ = run_bytes([b"[INFO] starting\n[ERROR] boom\n"])
    assert (stats.entries, stats.parsed, stats.malformed, stats.partial) == (2, 2, 0, False)
