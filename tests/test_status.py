"""Issue and service statuses from the revision history (issue 2's definitions)."""

from __future__ import annotations

from tests.helpers import deploy, entry, ready
from triage.commands.common import RunOptions, run_analysis
from triage.sources import MemorySource

EXIT = "Container called exit(1)."
REDIS = "redis.exceptions.ConnectionError: Error 111 connecting to localhost:6379. Connection refused."
KEYERR = "KeyError: 'DATABASE_URL'"


def _run(entries):
    a = run_analysis(RunOptions(), [MemorySource(entries)])
    return {(i.service, i.rule.id): i for i in a.issues}, {s.name: s for s in a.services}


def rev(n):
    return f"auth-{n:05d}-abc"


def test_fixed_when_later_revision_fails_on_a_different_issue():
    issues, services = _run(
        [
            deploy("09:00:00", "auth", rev(1)),
            entry("09:00:10", REDIS, service="auth", revision=rev(1)),
            deploy("09:10:00", "auth", rev(2), commit="e4d3c9c62"),
            entry("09:10:10", KEYERR, service="auth", revision=rev(2)),
            entry("09:10:11", EXIT, service="auth", revision=rev(2), log="system", severity="WARNING"),
        ]
    )
    redis = issues[("auth", "redis-connection-failed")]
    assert (redis.status, redis.fixed_in, redis.fixed_commit, redis.verified) == ("FIXED", rev(2), "e4d3c9c62", False)
    assert issues[("auth", "missing-config-env")].status == "PENDING"
    assert services["auth"].status == "Failed"


def test_a_revision_that_only_just_started_decides_nothing():
    issues, services = _run(
        [
            entry("09:00:10", KEYERR, service="auth", revision=rev(1)),
            deploy("09:10:00", "auth", rev(2)),
            entry(
                "09:10:05",
                "Starting new instance. Reason: DEPLOYMENT_ROLLOUT",
                service="auth",
                revision=rev(2),
                log="system",
            ),
        ]
    )
    assert issues[("auth", "missing-config-env")].status == "PENDING"
    assert services["auth"].status == "Deploying"


def test_verified_fix_when_a_later_revision_serves():
    issues, services = _run(
        [
            entry("09:00:10", KEYERR, service="auth", revision=rev(1)),
            ready("09:20:00", "auth", rev(2), True),
            entry("09:20:05", None, service="auth", revision=rev(2), log="requests", status=200),
        ]
    )
    i = issues[("auth", "missing-config-env")]
    assert (i.status, i.fixed_in, i.verified) == ("FIXED", rev(2), True)
    assert services["auth"].status == "Running"


def test_regressed_after_a_healthy_revision():
    issues, _ = _run(
        [
            entry("09:00:10", KEYERR, service="auth", revision=rev(1)),
            ready("09:20:00", "auth", rev(2), True),
            entry("09:30:10", KEYERR, service="auth", revision=rev(3)),
        ]
    )
    assert issues[("auth", "missing-config-env")].status == "REGRESSED"


def test_degraded_when_serving_with_an_open_issue():
    _, services = _run(
        [
            ready("09:00:00", "api", "api-00001-abc", True),
            entry("09:00:05", None, service="api", log="requests", status=200),
            entry("09:00:06", REDIS, service="api"),
        ]
    )
    assert services["api"].status == "Degraded"


IMPORT_TB = """Traceback (most recent call last):
  File "/usr/local/bin/uvicorn", line 8, in <module>
    sys.exit(main())
  File "/app/cache.py", line 41, in <module>
    cache = Cache()
  File "/usr/local/lib/python3.11/site-packages/redis/connection.py", line 283, in connect
    raise ConnectionError(self._error_message(e))
redis.exceptions.ConnectionError: Error 111 connecting to {host}:6379. Connection refused."""


def test_import_time_leads_when_the_dependency_is_a_loopback_default():
    issues, _ = _run([entry("09:00:10", IMPORT_TB.format(host="localhost"), service="auth", revision=rev(1))])
    assert set(issues) == {("auth", "import-time-initialization")}
    lead = issues[("auth", "import-time-initialization")]
    assert [s.rule.id for s in lead.symptoms] == ["redis-connection-failed"]
    assert lead.captures["app_frame"] == "cache.py line 41: cache = Cache()"


def test_a_real_dependency_host_leads_over_import_time():
    issues, _ = _run([entry("09:00:10", IMPORT_TB.format(host="10.0.0.4"), service="auth", revision=rev(1))])
    assert set(issues) == {("auth", "redis-connection-failed")}
