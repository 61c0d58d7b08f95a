"""The fast path (raw prefilter, light decoding, worker processes) gives exactly what the plain reference
path gives (every line parsed, normalised, reassembled and matched): issues, counts, statuses, the whole
revision history and the run statistics, on generated exports with the hard cases."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import orjson
import pytest

from triage import fastpath
from triage.analysis.issues import analyse
from triage.analysis.services import build_services
from triage.engine import Matcher, load_catalog
from triage.pipeline import Collected, collect
from triage.sources.files import FileSource

_GEN = Path(__file__).resolve().parents[1] / "benchmarks" / "generate.py"
_spec = importlib.util.spec_from_file_location("bench_generate", _GEN)
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)  # type: ignore[union-attr]

SVC = {"service_name": "netra-auth-service", "revision_name": "netra-auth-service-00003-zzz"}


def _entry(ts: str, log: str = "stdout", **extra) -> dict:
    e = {
        "insertId": f"x{ts}",
        "labels": {"instanceId": "00hard"},
        "logName": f"projects/p/logs/run.googleapis.com%2F{log}",
        "resource": {"type": "cloud_run_revision", "labels": dict(SVC)},
        "timestamp": ts,
    }
    e.update(extra)
    return e


def hard_lines() -> list[bytes]:
    """Entries that break naive raw-line shortcuts."""
    t = "2025-09-05T17:59:0"
    rows = [
        # KELVIN SIGN lower-cases to "k": the reference sees "keyerror: '" after lower()
        orjson.dumps(_entry(t + "1.000000Z", textPayload="\u212aeyError: 'DATABASE_URL'")),
        # an escaped slash and \u-escaped ASCII hide literals from a raw scan
        b'{"logName":"projects/p/logs/run.googleapis.com%2Fstdout","timestamp":"'
        + t.encode()
        + b'2.000000Z","resource":{"labels":{"service_name":"netra-auth-service"}},'
        b'"textPayload":"Container called exit(3)\\u002e \\/ KeyError: \\u0027REDIS_URL\\u0027"}',
        # a request without text: its message is built ("GET 503 https://...")
        orjson.dumps(
            _entry(
                t + "3.000000Z",
                "requests",
                httpRequest={"requestMethod": "GET", "status": "503", "requestUrl": "https://a.run.app/x"},
            )
        ),
        # statuses the reference reads as 200 and as no status at all ("²" is a digit to str.isdigit())
        orjson.dumps(
            _entry(
                t + "3.100000Z",
                "requests",
                httpRequest={"requestMethod": "GET", "status": "0200", "requestUrl": "https://a.run.app/y"},
            )
        ),
        orjson.dumps(
            _entry(
                t + "3.200000Z",
                "requests",
                httpRequest={"requestMethod": "GET", "status": "\u00b2", "requestUrl": "https://a.run.app/z"},
            )
        ),
        # the first (and only) request URL of a service, from a request without a status; a request whose
        # revision names no service
        orjson.dumps(
            {
                **_entry(
                    t + "3.300000Z",
                    "requests",
                    httpRequest={"requestMethod": "GET", "requestUrl": "https://h.run.app/"},
                ),
                "resource": {
                    "type": "cloud_run_revision",
                    "labels": {"service_name": "hard-svc", "revision_name": "hard-svc-00001-abc"},
                },
            }
        ),
        orjson.dumps(
            {
                **_entry(
                    t + "3.400000Z",
                    "requests",
                    httpRequest={"requestMethod": "GET", "status": 200, "requestUrl": "https://w.run.app/"},
                ),
                "resource": {"type": "cloud_run_revision", "labels": {"revision_name": "odd_revision"}},
            }
        ),
        # JSON payload without a message key: the message is built from its fields
        orjson.dumps(_entry(t + "4.000000Z", jsonPayload={"detail": "Connection refused", "port": 5432})),
        # numeric severity, a timestamp with an offset and nanoseconds, a numeric instance id
        orjson.dumps(_entry("2025-09-05T19:59:05.123456789+02:00", severity=500, textPayload="boom")),
        orjson.dumps({**_entry(t + "6.000000Z", textPayload="x"), "labels": {"instanceId": 12345}}),
        # equal timestamps, the same text, different insert ids
        orjson.dumps({**_entry(t + "7.000000Z", textPayload="same"), "insertId": "b"}),
        orjson.dumps({**_entry(t + "7.000000Z", textPayload="same"), "insertId": "a"}),
        # a split traceback whose last line comes late, with a benign line of the same instance between
        orjson.dumps(_entry(t + "8.000000Z", "stderr", textPayload="Traceback (most recent call last):")),
        orjson.dumps(_entry(t + "8.000100Z", "stderr", textPayload='  File "/app/main.py", line 3, in <module>')),
        orjson.dumps(_entry(t + "8.000200Z", "stdout", textPayload="INFO: still serving")),
        orjson.dumps(_entry(t + "8.000300Z", "stderr", textPayload="KeyError: 'SECRET_TOKEN'")),
        # one name in two regions (light request lines carry the location), and a job's task exit
        *(
            orjson.dumps(
                _entry(
                    f"{t}9.{i:06d}Z",
                    "requests",
                    httpRequest={"status": 200, "requestUrl": "https://a/"},
                    resource={
                        "type": "cloud_run_revision",
                        "labels": {
                            "service_name": "netra-auth-service",
                            "location": loc,
                            "revision_name": f"netra-auth-service-0000{i + 8}-{loc[:2]}1",
                        },
                    },
                )
            )
            for i, loc in enumerate(("us-central1", "europe-west1"))
        ),
        orjson.dumps(
            _entry(
                t + "9.500000Z",
                "varlog%2Fsystem",
                textPayload="Container called exit(0).",
                labels={"run.googleapis.com/execution_name": "nightly-x7k2p", "instanceId": "j1"},
                resource={"type": "cloud_run_job", "labels": {"job_name": "nightly", "location": "us-central1"}},
            )
        ),
        # not JSON, not an object, not a LogEntry
        b'{"logName": "projects/p/logs/x", "textPayload": "cut',
        b"[1, 2, 3]",
        b'{"foo": "bar"}',
        b"   ",
        # canonical-looking but impossible timestamps: malformed entries on both paths, never a date
        orjson.dumps(_entry("2025-02-30T17:59:09.000000Z", textPayload="a light line on February 30")),
        orjson.dumps(_entry("2025-09-05T24:00:00.000000Z", "requests", httpRequest={"status": 200})),
        '{"logName":"projects/p/logs/run.googleapis.com%2Fstdout","textPayload":"Ünïcödé \\"quoted\\" '
        'text\\nsecond line","timestamp":"2025-09-05T17:59:09.000000Z"}'.encode(),
    ]
    return rows


def summary(path: Path, fast: bool) -> dict:
    matcher = Matcher(load_catalog(()))
    return summarize(collect([FileSource(str(path))], matcher, fast=fast), matcher)


def summarize(c: Collected, matcher: Matcher) -> dict:
    """Everything a run's outputs are made of, as plain values to compare between two runs."""
    issues = analyse(c.matches, c.history)
    services = build_services(c.history, issues)
    h = c.history
    return {
        "issues": [
            (
                i.service,
                i.rule.id,
                i.count,
                i.status,
                i.first_seen,
                i.last_seen,
                i.revisions,
                i.instances,
                i.fixed_in,
                i.verified,
                (i.masked_by, i.fix_deployed, i.recovered_at, i.location),
                sorted(i.captures.items()),
                [(m.event.timestamp, m.event.message) for m in i.evidence],
            )
            for i in issues
        ],
        "services": [(s.name, s.status, s.entries, s.latest.name if s.latest else None, s.serving) for s in services],
        "service_entries": dict(sorted(h.service_entries.items())),
        "revisions": sorted(
            (
                k,
                v.entries,
                v.first_seen,
                v.last_seen,
                sorted(v.instances),
                v.requests,
                v.served,
                v.errors_5xx,
                v.errors_429,
                v.starts,
                v.probe_passed,
                v.probe_failed,
                v.exits,
                v.ready,
                v.ready_time,
                v.deployed_at,
                v.commit_sha,
                dict(v.rules),
                v.location,
                v.last_served,
                v.last_request,
                v.kind,
                (v.clean_exits, v.completed, v.aborted),
            )
            for k, v in h.revisions.items()
        ),
        "urls": dict(sorted(h.urls.items())),
        "instance_ready": dict(sorted(h.instance_ready.items())),
        "window": (h.first_ts, h.last_ts),
        "projects": dict(sorted(h.projects.items())),
        "deploys": [(d.time, d.service, d.revision, d.commit_sha, d.secrets, d.location, d.traffic) for d in h.deploys],
        "locations": {k: sorted(v) for k, v in sorted(h.locations.items())},
        "jobs": sorted(h.jobs),
        "stats": (
            c.stats.entries,
            c.stats.malformed,
            c.stats.events,
            c.stats.error_events,
            c.stats.matched_events,
            c.stats.unmatched_error_events,
            c.stats.notes,
            c.stats.partial,
        ),
        "matcher": (matcher.stats.events, matcher.stats.candidates, matcher.stats.matched),
        # A traceback event can be emitted a little later when benign lines are skipped; order among matches
        # is not an output (issues sort by time), so compare them as a sorted list.
        "matches": sorted(
            (m.rule.id, m.event.timestamp, m.event.message, sorted(m.captures.items())) for m in c.matches
        ),
        "unmatched_errors": sorted((e.timestamp, e.message) for e in c.error_events),
    }


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exact") / "export.jsonl"
    generate.write(20_000, path, seed=11)
    with open(path, "ab") as f:
        f.write(b"\n".join(hard_lines()) + b"\n")
    return path


def test_generated_export_has_the_hard_cases(export: Path) -> None:
    lines = export.read_bytes().splitlines()
    assert len(lines) > 20_000
    assert any(b'\\"' in x for x in lines) and any(b"\\n" in x for x in lines)
    assert any(x.decode("utf-8").isascii() is False for x in lines)
    split_heads = [x for x in lines if b'"textPayload":"Traceback (most recent call last):"' in x]
    assert split_heads, "no split traceback"
    stamps = [orjson.loads(x)["timestamp"] for x in lines[:20_000]]
    assert stamps != sorted(stamps), "no entry out of order"
    assert len(set(stamps)) < len(stamps), "no equal timestamps"


def test_fast_path_equals_reference(export: Path) -> None:
    fast, ref = summary(export, True), summary(export, False)
    assert ref["issues"] and ref["matches"] and ref["stats"][1] == 5  # the catalog matched; 5 malformed lines
    for key in ref:
        assert fast[key] == ref[key], key


def test_fast_path_across_many_small_chunks_and_gzip(export: Path, tmp_path: Path, monkeypatch) -> None:
    """Chunk edges fall inside split tracebacks; gzip goes through the streaming reader."""
    ref = summary(export, False)
    monkeypatch.setattr(fastpath, "CHUNK", 64 << 10)
    monkeypatch.setattr(fastpath, "CONTEXT", 16 << 10)
    small = summary(export, True)
    gz = tmp_path / "export.jsonl.gz"
    gz.write_bytes(gzip.compress(export.read_bytes(), 1))
    zipped = summary(gz, True)
    for key in ref:
        assert small[key] == ref[key], key
        if key != "stats":
            assert zipped[key] == ref[key], key
    # the notes name the file; everything else in the statistics is the same
    assert zipped["stats"][:6] == ref["stats"][:6]


def test_fast_path_is_used() -> None:
    matcher = Matcher(load_catalog(()))
    assert fastpath.fast_ok([FileSource(str(_GEN))], matcher) is False  # not JSON lines


@pytest.mark.parametrize("seed", range(6))
def test_fast_path_equals_reference_on_hostile_reassembly(seed: int, tmp_path: Path, monkeypatch) -> None:
    """Traces in every runtime cut and interleaved on few instances, blank and whitespace lines, exception
    lines after headless frames, JSON payloads that continue a trace, bare tokens after a Go panic, equal,
    out-of-order and MAX_GAP_S-apart times: the same events, matches and counts as the reference, whole and
    in chunks of 8 KB (edges inside every trace) with a context that reaches the instance's neighbours."""
    from tests import hostile_logs

    path = tmp_path / "hostile.jsonl"
    path.write_bytes(hostile_logs.export_bytes(1500, seed))
    ref = summary(path, False)
    assert ref["matches"] and ref["unmatched_errors"]
    assert ref["stats"][2] < ref["stats"][0] - 300  # hundreds of lines were joined into multi-line events
    whole = summary(path, True)
    monkeypatch.setattr(fastpath, "CHUNK", 8 << 10)
    monkeypatch.setattr(fastpath, "CONTEXT", 64 << 10)
    monkeypatch.setattr(fastpath, "STREAM_CHUNK", 8 << 10)
    chunked = summary(path, True)
    for key in ref:
        assert whole[key] == ref[key], key
        assert chunked[key] == ref[key], key
    # Gzipped and cut mid-stream (a truncated download): both paths keep the same readable part.
    data = gzip.compress(path.read_bytes(), 1)
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    cut_ref, cut_fast = summary(cut, False), summary(cut, True)
    assert cut_ref["stats"][7] and 500 < cut_ref["stats"][0] < 1500  # partial, with a good part read
    for key in ref:
        assert cut_fast[key] == cut_ref[key], key
