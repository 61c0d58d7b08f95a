from __future__ import annotations

import gzip
import json

import pytest

from tests.helpers import entry
from triage.errors import InputError
from triage.sources.files import FileSource, text_entry


def _read(path):
    src = FileSource(str(path))
    return list(src.entries()), src.stats


def test_json_lines_with_malformed_lines_counted(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(
        json.dumps(entry("10:00:00", "a")).encode()
        + b"\n{broken\n\n[1,2]\n\xff\xfe\n"
        + json.dumps(entry("10:00:01", "b")).encode()
        + b"\n"
    )
    items, stats = _read(p)
    assert [i["textPayload"] for i in items] == ["a", "b"]
    assert (stats.entries, stats.malformed) == (5, 3)
    assert any(":2: invalid JSON" in n for n in stats.notes)


def test_gcloud_array_is_returned_oldest_first(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps([entry("10:00:02", "new"), entry("10:00:01", "old")], indent=2))
    items, stats = _read(p)
    assert [i["textPayload"] for i in items] == ["old", "new"]
    assert stats.malformed == 0


def test_pretty_printed_objects_one_after_another(tmp_path):
    """jq's output of an export (``jq '.[]'``): objects over many lines, newest first, no array around them."""
    p = tmp_path / "x.json"
    p.write_text("".join(json.dumps(e, indent=2) + "\n" for e in (entry("10:00:02", "new"), entry("10:00:01", "old"))))
    src = FileSource(str(p))
    items, stats = list(src.entries()), src.stats
    assert src.kind() == "objects"
    assert [i["textPayload"] for i in items] == ["old", "new"]
    assert (stats.entries, stats.malformed) == (2, 0)


def test_a_broken_object_ends_the_walk_counted(tmp_path):
    p = tmp_path / "x.json"
    good = json.dumps(entry("10:00:01", "kept"), indent=2)
    p.write_text(good + '\n{\n  "textPayload": oops\n}\n' + good + "\n")
    items, stats = _read(p)
    assert [i["textPayload"] for i in items] == ["kept"]
    assert (stats.entries, stats.malformed) == (2, 1)
    line = good.count("\n") + 2  # the broken object's first line
    assert any(f":{line}: invalid JSON value" in n and "rest of the file skipped" in n for n in stats.notes)


def test_a_closing_bracket_without_an_array_is_malformed(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps(entry("10:00:01", "kept"), indent=2) + "\n]\n")
    items, stats = _read(p)
    assert (len(items), stats.entries, stats.malformed) == (1, 2, 1)


def test_a_pasted_api_error_body_is_an_entry(tmp_path):
    """A pretty-printed ``{"error": "..."}`` (what an API answered, pasted from a terminal) is one app line."""
    p = tmp_path / "x.log"
    p.write_text('{\n"error": "pq: password authentication failed for user \\"dev\\""\n}\n')
    items, stats = _read(p)
    assert stats.malformed == 0
    assert items[0]["error"] == 'pq: password authentication failed for user "dev"'


def test_a_runtime_object_dump_is_a_text_log(tmp_path):
    """Node's util.inspect of an error opens with a brace but is no JSON: its lines are text, not malformed."""
    p = tmp_path / "x.log"
    p.write_text(
        "{ Error: connect ECONNREFUSED 127.0.0.1:5432\n    at TCPConnectWrap.afterConnect (net.js:1083:14)\n  port: 5432 }\n"
    )
    src = FileSource(str(p))
    items, stats = list(src.entries()), src.stats
    assert src.kind() == "text"
    assert (stats.entries, stats.malformed) == (3, 0)
    assert items[0]["textPayload"].startswith("{ Error: connect ECONNREFUSED")


def test_gzip_is_sniffed(tmp_path):
    p = tmp_path / "x.log"  # no .gz suffix on purpose
    p.write_bytes(gzip.compress(json.dumps(entry("10:00:00", "z")).encode() + b"\n"))
    items, _ = _read(p)
    assert items[0]["textPayload"] == "z"


def test_truncated_gzip_marks_partial(tmp_path):
    data = gzip.compress(b"".join(json.dumps(entry(f"10:00:{i:02d}", "x" * 50)).encode() + b"\n" for i in range(50)))
    p = tmp_path / "cut.jsonl.gz"
    p.write_bytes(data[: len(data) // 2])
    items, stats = _read(p)
    assert stats.partial and 0 < len(items) < 50


def test_plain_text_prefix(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("2025-09-05 10:00:00,123 ERROR boom happened\njust text\n")
    items, _ = _read(p)
    assert items[0]["severity"] == "ERROR" and items[0]["textPayload"] == "boom happened"
    assert items[0]["timestamp"] == "2025-09-05T10:00:00.123000Z"
    assert items[1]["textPayload"] == "just text"
    assert text_entry("x")["textPayload"] == "x"


def test_empty_file_has_zero_entries(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"")
    items, stats = _read(p)
    assert items == [] and (stats.entries, stats.malformed) == (0, 0) and stats.rejected == "the input is empty"


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        FileSource(str(tmp_path / "nope.jsonl"))
