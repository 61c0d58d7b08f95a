from __future__ import annotations

import pytest

from tests.helpers import deploy, entry, ready
from triage.records import NotAnEntry, from_entry, log_kind, normalize_timestamp, severity_name


def test_plain_stderr_line_has_default_severity():
    rec = from_entry(entry("10:00:00.123456", "boom"))
    assert rec.severity == "DEFAULT" and rec.level == 0
    assert (rec.service, rec.revision, rec.instance, rec.log) == ("api", "api-00001-abc", "inst-1", "stderr")
    assert rec.timestamp == "2025-09-05T10:00:00.123456Z"


def test_json_payload_message_and_exception_fields():
    e = entry("10:00:00", None, log="stdout", severity="ERROR")
    e["jsonPayload"] = {"message": "request failed", "exc_info": "Traceback (most recent call last):\nValueError: x"}
    rec = from_entry(e)
    assert rec.message.startswith("request failed\nTraceback")
    assert rec.severity == "ERROR"


def test_request_log_status_latency_and_url():
    e = entry("10:00:00", None, log="requests", status=503, severity="ERROR")
    e["httpRequest"]["latency"] = "0.250s"
    rec = from_entry(e)
    assert (rec.log, rec.http_status, rec.latency_s) == ("requests", 503, 0.25)
    assert rec.request_url.startswith("https://api-x")


def test_audit_deploy_and_ready_entries():
    d = from_entry(deploy("10:00:00", "auth", "auth-00002-xyz", commit="e4d3c9c62"))
    assert (d.log, d.audit_kind, d.service, d.commit_sha) == ("audit", "activity", "auth", "e4d3c9c62")
    assert d.method.endswith("Services.ReplaceService")
    r = from_entry(ready("10:01:00", "auth", "auth-00002-xyz", False, "boom"))
    assert (r.audit_kind, r.revision) == ("system_event", "auth-00002-xyz")
    assert "Ready condition status changed to False" in r.message


def test_cloud_run_job_resource():
    e = {
        "timestamp": "2025-09-05T10:00:00Z",
        "logName": "projects/p/logs/run.googleapis.com%2Fstderr",
        "resource": {"type": "cloud_run_job", "labels": {"job_name": "migrate"}},
        "labels": {"run.googleapis.com/execution_name": "migrate-abc12"},
        "textPayload": "x",
    }
    rec = from_entry(e)
    assert (rec.service, rec.revision, rec.resource_type) == ("migrate", "migrate-abc12", "cloud_run_job")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-09-05T10:00:00Z", "2025-09-05T10:00:00.000000Z"),
        ("2025-09-05T10:00:00.123456789Z", "2025-09-05T10:00:00.123456Z"),
        ("2025-09-05T12:00:00+02:00", "2025-09-05T10:00:00.000000Z"),
        ({"seconds": 1757066400, "nanos": 5000}, "2025-09-05T10:00:00.000005Z"),
        ("garbage", ""),
        (12, ""),
    ],
)
def test_normalize_timestamp(value, expected):
    assert normalize_timestamp(value) == expected


def test_severity_names():
    assert severity_name("warn") == "WARNING"
    assert severity_name(500) == "ERROR"
    assert severity_name(None) == "DEFAULT"
    assert severity_name("bogus") == "DEFAULT"


def test_not_an_entry():
    with pytest.raises(NotAnEntry):
        from_entry({"hello": "world"})
    with pytest.raises(NotAnEntry):
        from_entry(["x"])


def test_log_kind_decodes_names():
    assert log_kind("projects/p/logs/run.googleapis.com%2Fvarlog%2Fsystem") == ("system", "")
    assert log_kind("projects/p/logs/cloudaudit.googleapis.com%2Fsystem_event") == ("audit", "system_event")
    assert log_kind("projects/p/logs/my-app") == ("other", "")


def test_an_apps_own_json_line_is_its_json_payload() -> None:
    """docker json-file, zap/pino lines: what Cloud Run makes of such a line on stdout."""
    docker = from_entry(
        {"log": "connect ECONNREFUSED 10.0.0.3:5432\n", "stream": "stderr", "time": "2021-10-15T15:37:28.04Z"}
    )
    assert (docker.message, docker.timestamp) == ("connect ECONNREFUSED 10.0.0.3:5432", "2021-10-15T15:37:28.040000Z")
    zap = from_entry(
        {"level": "error", "ts": 1677416451.5, "msg": "probe failing", "err": "the database system is starting up"}
    )
    assert (zap.severity, zap.timestamp) == ("ERROR", "2023-02-26T13:00:51.500000Z")
    assert zap.message == "probe failing\nthe database system is starting up"
    api = from_entry({"error": {"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED"}})
    assert api.message == "429 Quota exceeded. RESOURCE_EXHAUSTED"


def test_an_apps_time_format_triage_cannot_read_leaves_the_line_untimed() -> None:
    """Mattermost's logger writes "2024-11-01 09:11:24.798 Z": the line is kept, untimed, not malformed."""
    rec = from_entry({"timestamp": "2024-11-01 09:11:24.798 Z", "level": "error", "msg": "Failed to ping DB"})
    assert (rec.timestamp, rec.severity, rec.message) == ("", "ERROR", "Failed to ping DB")
    # With a resource it is a LogEntry that lost its payload, as before: its resource is kept.
    lost = from_entry(
        {"timestamp": "2025-09-05T10:00:00Z", "msg": "x", "resource": {"labels": {"service_name": "api"}}}
    )
    assert (lost.service, lost.message) == ("api", "")
    # A LogEntry's own timestamp stays strict: a date that is not one is a malformed entry.
    with pytest.raises(NotAnEntry):
        from_entry({"timestamp": "2025-02-30T10:00:00Z", "logName": "projects/p/logs/x", "textPayload": "x"})


def test_an_object_without_a_message_is_not_a_log_line() -> None:
    with pytest.raises(NotAnEntry):
        from_entry({"name": "x", "version": 1})
