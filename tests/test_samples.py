"""The bundled samples are what the generator makes, parse as LogEntries and tell the intended stories."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from samples import make_samples as ms
from triage.events import TRACEBACK_HEAD, assemble
from triage.records import from_entry

SAMPLES = Path(ms.__file__).resolve().parent
FILES = [ms.MAIN_SAMPLE, *(f"scenarios/{name}" for name in ms.SCENARIOS)]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    ms.write_all(out)
    return out


def _entries(rel: str) -> list[dict]:
    with open(SAMPLES / rel, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _records(rel: str):
    return [from_entry(e) for e in _entries(rel)]


@pytest.mark.parametrize("rel", FILES)
def test_committed_file_matches_generator(rel: str, regenerated: Path) -> None:
    assert (SAMPLES / rel).read_bytes() == (regenerated / rel).read_bytes(), (
        f"{rel} is stale: run `python samples/make_samples.py`"
    )


def test_generator_is_deterministic(tmp_path: Path, regenerated: Path) -> None:
    ms.write_all(tmp_path)
    for rel in FILES:
        assert (tmp_path / rel).read_bytes() == (regenerated / rel).read_bytes()


@pytest.mark.parametrize("rel", FILES)
def test_every_line_is_a_sorted_logentry(rel: str) -> None:
    lines = (SAMPLES / rel).read_text(encoding="utf-8").splitlines()
    assert lines
    stamps = []
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict)
        rec = from_entry(entry)
        assert rec.timestamp and rec.service and rec.log != "other"
        assert entry["resource"]["type"] == "cloud_run_revision"
        assert len(entry["timestamp"]) == 27 and len(entry["receiveTimestamp"]) == 30
        if rec.log in ("stdout", "stderr", "system", "requests"):
            assert len(entry["insertId"]) == 24
        stamps.append(entry["timestamp"])
    assert stamps == sorted(stamps)


def test_main_sample_size_and_day() -> None:
    path = SAMPLES / ms.MAIN_SAMPLE
    assert path.stat().st_size < 2_100_000
    recs = _records(ms.MAIN_SAMPLE)
    assert 1500 <= len(recs) <= 2500
    assert all(r.timestamp.startswith("2025-09-05T") for r in recs)
    assert {r.service for r in recs} == {ms.AUTH, ms.BACKEND, ms.FRONTEND}


def test_auth_story() -> None:
    recs = [r for r in _records(ms.MAIN_SAMPLE) if r.service == ms.AUTH]
    assert {r.revision for r in recs if r.revision} == set(ms.AUTH_REVS.values())
    deploys = [r for r in recs if r.method == "google.cloud.run.v1.Services.ReplaceService"]
    assert len(deploys) == 4 and all(r.revision == "" for r in deploys)
    assert [r.commit_sha[:9] for r in deploys] == ["2c9b0e4a1", "e4d3c9c62", "13dfd91be", ""]
    not_ready = [r for r in recs if r.audit_kind == "system_event" and "changed to False" in r.message]
    assert sorted(r.revision for r in not_ready) == [ms.AUTH_REVS[41], ms.AUTH_REVS[42], ms.AUTH_REVS[43]]
    by_rev = {rev: "\n".join(r.message for r in recs if r.revision == rev) for rev in ms.AUTH_REVS.values()}
    assert "Error 111 connecting to localhost:6379" in by_rev[ms.AUTH_REVS[41]]
    assert "line 366, in <module>" in by_rev[ms.AUTH_REVS[41]]
    assert "KeyError: 'DATABASE_URL'" in by_rev[ms.AUTH_REVS[42]]
    assert "KeyError" not in by_rev[ms.AUTH_REVS[43]]
    assert ms.SECRET_KEY_MSG in by_rev[ms.AUTH_REVS[43]]
    last = by_rev[ms.AUTH_REVS[44]]
    assert "DEPLOYMENT_ROLLOUT" in last and "Traceback" not in last and "exit(" not in last
    # 00044 is the last thing in the window.
    assert recs[-1].revision == ms.AUTH_REVS[44]
    assert _records(ms.MAIN_SAMPLE)[-1].revision == ms.AUTH_REVS[44]


def test_backend_split_traceback_reassembles() -> None:
    recs = sorted((r for r in _records(ms.MAIN_SAMPLE)), key=lambda r: r.timestamp)
    backend = [r for r in recs if r.service == ms.BACKEND]
    # Some traceback lines arrive as their own entries, without severity.
    assert any(r.message == "ERROR:    Traceback (most recent call last):" for r in backend)
    assert any(r.message.startswith("ConnectionRefusedError: [Errno 111]") and r.severity == "DEFAULT" for r in backend)
    events = [e for e in assemble(recs) if e.service == ms.BACKEND and e.is_traceback]
    split = [e for e in events if len(e.records) > 1]
    whole = [e for e in events if len(e.records) == 1]
    assert split and whole
    for e in split:
        assert TRACEBACK_HEAD in e.message and "ConnectionRefusedError: [Errno 111]" in e.message
        assert "ConnectionRefusedError" in [t for t, _ in e.exceptions]
    exits = [r for r in backend if r.message == "Container called exit(3)."]
    assert len(exits) == 10
    failed = [r for r in backend if r.http_status == 500 and r.message == ms.COULD_NOT_START]
    assert failed


def test_frontend_healthy_and_secrets_referenced() -> None:
    recs = _records(ms.MAIN_SAMPLE)
    front = [r for r in recs if r.service == ms.FRONTEND]
    assert {r.revision for r in front if r.revision} == {ms.FRONTEND_REV}
    assert not any("Traceback" in r.message or "exit(" in r.message for r in front)
    statuses = Counter(r.http_status for r in front if r.http_status)
    assert statuses[200] > 500 and statuses[304] and statuses[404]
    assert any(r.request_url.startswith("https://netra-frontend-staging-pnovr5vsba-uc.a.run.app/") for r in front)
    assert any("changed to True" in r.message for r in front)
    secrets = set()
    for r in recs:
        if r.payload and "request" in r.payload:
            for c in r.payload["request"]["service"]["spec"]["template"]["spec"]["containers"]:
                for env in c["env"]:
                    if "valueFrom" in env:
                        secrets.add(env["valueFrom"]["secretKeyRef"]["name"])
    assert {
        "jwt-secret-key-staging",
        "postgres-host-staging",
        "postgres-port-staging",
        "postgres-db-staging",
        "postgres-user-staging",
        "postgres-password-staging",
        "redis-url-staging",
        "secret-key-staging",
    } <= secrets


def test_planted_secrets_present() -> None:
    text = (SAMPLES / ms.MAIN_SAMPLE).read_text(encoding="utf-8")
    assert ms.PLANTED_DSN in text
    assert "Bearer eyJ" in text


def test_scenarios() -> None:
    crash = _records("scenarios/crash-loop-db.jsonl")
    assert sum(r.message == "Container called exit(3)." for r in crash) == 10
    assert sum("STARTUP TCP probe failed" in r.message for r in crash) == 10

    reg = _records("scenarios/regression.jsonl")
    revs = sorted({r.revision for r in reg if r.revision})
    assert len(revs) == 3
    tb = {r.revision for r in reg if "redis.exceptions.ConnectionError" in r.message}
    assert tb == {revs[0], revs[2]}
    assert any(r.revision == revs[1] and r.http_status == 200 for r in reg)
    assert any(r.revision == revs[1] and "changed to True" in r.message for r in reg)

    unknown = _records("scenarios/healthy-unknown-error.jsonl")
    errors = [r for r in unknown if r.severity == "ERROR" and r.log == "stdout"]
    assert len(errors) >= 10 and len({r.message for r in errors}) > 5
    assert all("signature mismatch" in r.message for r in errors)

    ok = _records("scenarios/deploy-ok.jsonl")
    assert any("probe succeeded" in r.message for r in ok)
    assert not any(r.level >= 500 for r in ok)

    bad = _records("scenarios/deploy-failed.jsonl")
    assert any("KeyError: 'DATABASE_URL'" in r.message for r in bad)
    assert any("changed to False" in r.message for r in bad)
    for rel in FILES[1:]:
        assert 100 <= len(_entries(rel)) <= 600
