"""Redaction under attack: secrets split by cluster templating, drafted rule patterns that re-redaction must
not break, redaction patterns that time out (notes, never quoted), and ``frame.code`` under the timeout.

Timings of adversarial lines live in benchmarks/redact_bench.py; here only a generous bound that cannot flake.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import regex as re

from tests.output_producers import cli
from tests.test_clusters_config_suggest import events
from triage.analysis.clusters import mine, template_regex
from triage.engine.catalog import Catalog
from triage.engine.matcher import Matcher
from triage.engine.rules import Rule, RuleLocation
from triage.events import make_event
from triage.records import from_entry
from triage.report.redact import TIMED_OUT, Redactor

SLACK = "xoxb-223456789012-2234567890123-ZyXwVuTsRqPoNmLkJiHgFeDc"
ENTRY = {
    "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
    "resource": {"type": "cloud_run_revision", "labels": {"service_name": "svc", "revision_name": "svc-00001-abc"}},
    "severity": "ERROR",
}


def test_templating_never_splits_a_secret_from_its_shape():
    # <NUM> would turn the token into "xoxb-<NUM>-<NUM>-ZyXw...", which no secret pattern recognises.
    lines = [f"slack post failed with {SLACK} attempt {n}" for n in range(3)]
    unscrubbed = mine(events(lines))[0].template
    assert SLACK[-12:] in Redactor().text(unscrubbed)  # redacting the template afterwards is too late
    clusters = mine(events(lines), Redactor().text)
    assert len(clusters) == 1
    template = clusters[0].template
    assert SLACK[-12:] not in template and "failed with *** attempt" in template
    assert all(SLACK[-12:] not in e for e in clusters[0].examples)


def test_a_drafted_pattern_built_from_a_redacted_template_survives_redaction():
    # The draft's regex holds the escaped mask; redacting it again must leave it valid and matching.
    lines = [f"login failed password=hunter{n}x at step {n}" for n in range(3)]
    redactor = Redactor()
    (cluster,) = mine(events(lines), redactor.text)
    pattern = template_regex(cluster.template)
    again = redactor.text(pattern)
    assert again == pattern
    assert re.search(again, redactor.text(lines[0]))
    assert redactor.text("DSN admin:\\*\\*\\*@db.internal") == "DSN admin:\\*\\*\\*@db.internal"


def test_a_user_pattern_that_times_out_is_a_report_note_that_never_quotes_it(tmp_path: Path):
    secret_pattern = r"(\w|\w\w)+[QZX]$"  # exponential on a long word; its text names the secret's shape
    src = tmp_path / "logs.jsonl"
    lines = [{**ENTRY, "timestamp": f"2025-09-05T10:00:0{i}Z", "textPayload": "a" * 60 + "!"} for i in range(3)]
    src.write_bytes(b"\n".join(orjson.dumps(e) for e in lines) + b"\n")
    start = time.perf_counter()
    code, out = cli(["report", str(src), "--format", "json", "--redact", secret_pattern])
    spent = time.perf_counter() - start
    assert code == 0, out
    report = orjson.loads(out[out.index("{") :])
    notes = report["notes"]["input"]
    assert any("redaction pattern #1" in n and "switched off" in n for n in notes), notes
    assert "[QZX]" not in out and "(\\w|\\w\\w)" not in out
    assert TIMED_OUT in out  # the string it timed out on was masked whole, not left raw
    assert spent < 30  # once switched off, the other strings do not each wait for the timeout


def test_redactor_masks_whole_on_timeout_and_notes_once():
    r = Redactor([r"(\w|\w\w)+$"], timeout_s=0.01)
    assert r.text("b" * 50 + "!") == TIMED_OUT
    assert r.text("c" * 50 + "!") == "c" * 50 + "!"  # switched off: the built-ins still run, it does not
    assert len(r.notes) == 1 and "#1" in r.notes[0] and "\\w" not in r.notes[0]


def test_frame_code_patterns_run_under_the_matcher_timeout():
    rule = Rule.from_dict(
        {
            "id": "slow-frame",
            "title": "t",
            "severity": "low",
            "category": "code",
            "component": "application",
            "match": {"all": [{"frame": {"code": r"(a|aa)+$"}}]},
            "problem": "p",
            "root_cause": "r",
            "fix": "f",
        },
        RuleLocation("<test>"),
    )
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/app/main.py", line 10, in handler\n'
        f"    {'a' * 60}!\n"
        "ValueError: boom"
    )
    event = make_event((from_entry({**ENTRY, "timestamp": "2025-09-05T10:00:00Z", "textPayload": trace}),))
    assert event.frames and event.frames[-1].code.startswith("aaaa")
    matcher = Matcher(Catalog((rule,)), timeout_s=0.05, max_timeouts=2)
    start = time.perf_counter()
    for _ in range(5):
        assert matcher.match(event) == []
    assert time.perf_counter() - start < 10  # unbounded, one search of this line takes minutes
    assert matcher.stats.timeouts["slow-frame"] == 2 and "slow-frame" in matcher.stats.disabled


def test_adversarial_100kb_lines_redact_within_a_generous_bound():
    # The benchmark measures ~0.25 s for the worst shape; 5 s per line only fails on a quadratic pattern.
    for shape in ("a.", "a@", "x://", "- ", "b'", "a:a@", "A"):
        line = (shape * (100_000 // len(shape) + 1))[:100_000]
        start = time.perf_counter()
        out = Redactor().text(line + " password=HunterPass6x")
        assert time.perf_counter() - start < 5, shape
        assert "HunterPass6x" not in out


def test_a_short_key_name_before_a_colon_is_an_id_not_a_secret() -> None:
    """`auth:missing-config-env` is the issue id of a service named auth; `auth: x` and `auth=x` are values."""
    r = Redactor()
    assert r.text("issue auth:missing-config-env in service auth") == "issue auth:missing-config-env in service auth"
    assert r.text("auth: hunter2secret") == "auth: ***"
    assert r.text('{"auth": "hunter2"}') == '{"auth": "***"}'
