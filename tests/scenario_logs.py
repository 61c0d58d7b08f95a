"""Synthetic Cloud Run LogEntry builders and the scenarios of issue 5 (for MemorySource)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

PROJECT = "acme"
LOCATION = "us-central1"
T0 = datetime(2025, 9, 10, 14, 0, 0, tzinfo=UTC)
_SEQ = [0]


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iid() -> str:
    _SEQ[0] += 1
    return f"{_SEQ[0]:024x}"


def where(service: str) -> tuple[str, str]:
    """'checkout@europe-west1' -> ('checkout', 'europe-west1'): builders take a region after an @."""
    name, _, location = service.partition("@")
    return name, location or LOCATION


def _labels(service: str, revision: str) -> dict[str, str]:
    name, location = where(service)
    return {"service_name": name, "revision_name": revision, "location": location, "project_id": PROJECT}


def _run(t: float, service: str, revision: str, log: str, instance: str = "", severity: str | None = None) -> dict:
    entry: dict[str, Any] = {
        "insertId": _iid(),
        "timestamp": ts(t),
        "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2F{log}",
        "resource": {"type": "cloud_run_revision", "labels": _labels(service, revision)},
        "labels": {"instanceId": instance} if instance else {},
    }
    if severity:
        entry["severity"] = severity
    return entry


def text(t: float, service: str, revision: str, instance: str, message: str, log: str = "stderr", severity=None):
    e = _run(t, service, revision, log, instance, severity)
    e["textPayload"] = message
    return e


def system(t: float, service: str, revision: str, instance: str, message: str, severity: str = "INFO"):
    return text(t, service, revision, instance, message, "varlog%2Fsystem", severity)


def request(t: float, service: str, revision: str, instance: str, status: int, path: str = "/api", message: str = ""):
    sev = "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO"
    e = _run(t, service, revision, "requests", instance, sev)
    e["httpRequest"] = {"requestMethod": "GET", "requestUrl": f"https://{where(service)[0]}-xyz-uc.a.run.app{path}",
                        "status": status}  # fmt: skip
    if message:
        e["textPayload"] = message
    return e


Traffic = list[tuple[str | None, int]] | None  # (revision, or None for latestRevision: true; percent)


def _traffic_block(traffic: Traffic) -> list[dict]:
    return [{"percent": pct, "latestRevision": True} if rev is None else {"percent": pct, "revisionName": rev}
            for rev, pct in traffic or []]  # fmt: skip


def deploy(
    t: float,
    service: str,
    revision: str,
    commit: str = "",
    secrets: tuple[tuple[str, str], ...] = (),
    traffic: Traffic = None,
    previous: str = "",
) -> dict:
    """A ReplaceService audit entry that creates ``revision``. ``traffic`` is the request's traffic block
    (``gcloud run deploy`` sends [(None, 100)]; ``--no-traffic`` keeps the old revision's share); the
    response status names ``previous`` as serving, as Cloud Run writes it before the new revision is Ready."""
    env = [{"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": "latest"}}} for var, secret in secrets]
    labels = {"commit-sha": commit} if commit else {}
    template = {"metadata": {"name": revision}, "spec": {"containers": [{"env": env}]}}
    spec: dict[str, Any] = {"template": template}
    if traffic is not None:
        spec["traffic"] = _traffic_block(traffic)
    name = where(service)[0]
    payload: dict[str, Any] = {
        "methodName": "google.cloud.run.v1.Services.ReplaceService",
        "resourceName": f"namespaces/{PROJECT}/services/{name}",
        "request": {"service": {"spec": spec}},
    }
    if previous:
        payload["response"] = {"status": {"latestCreatedRevisionName": revision, "latestReadyRevisionName": previous,
                                          "traffic": [{"revisionName": previous, "percent": 100}]}}  # fmt: skip
    return {
        "insertId": _iid(),
        "timestamp": ts(t),
        "severity": "NOTICE",
        "logName": f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Factivity",
        "resource": {"type": "cloud_run_revision", "labels": _labels(service, "")},
        "labels": labels,
        "protoPayload": payload,
    }


def update_traffic(t: float, service: str, latest: str, traffic: Traffic) -> dict:
    """``gcloud run services update-traffic``: a ReplaceService that creates no revision (its template still
    names the latest one) and moves traffic; the response status shows where it went."""
    e = deploy(t, service, latest, traffic=traffic)
    block = _traffic_block(traffic)
    e["protoPayload"]["response"] = {"status": {"latestCreatedRevisionName": latest, "traffic": block}}
    return e


def ready(t: float, service: str, revision: str, ok: bool) -> dict:
    msg = f"Ready condition status changed to {'True' if ok else 'False'} for Revision {revision}"
    if not ok:
        msg += (" with message: The user-provided container failed to start and listen on the port defined provided"
                " by the PORT=8080 environment variable within the allocated timeout.")  # fmt: skip
    return {
        "insertId": _iid(),
        "timestamp": ts(t),
        "severity": "INFO" if ok else "ERROR",
        "logName": f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Fsystem_event",
        "resource": {"type": "cloud_run_revision", "labels": _labels(service, revision)},
        "protoPayload": {"methodName": "/Services.ReplaceService",
                         "resourceName": f"namespaces/{PROJECT}/revisions/{revision}", "status": {"message": msg}},
    }  # fmt: skip


PG_TRACE = """Traceback (most recent call last):
  File "/app/main.py", line 8, in <module>
    pool = create_pool()
  File "/app/db.py", line 20, in create_pool
    return asyncio.run(asyncpg.create_pool(DSN))
  File "/usr/local/lib/python3.11/site-packages/asyncpg/connect_utils.py", line 912, in _connect
    raise last_error
ConnectionRefusedError: [Errno 111] Connect call failed ('10.0.0.3', 5432)"""

REDIS_TRACE = """Traceback (most recent call last):
  File "/app/main.py", line 5, in <module>
    cache = RedisCache()
  File "/app/cache.py", line 14, in __init__
    self.client.ping()
  File "/usr/local/lib/python3.11/site-packages/redis/connection.py", line 707, in connect
    raise ConnectionError(self._error_message(e))
redis.exceptions.ConnectionError: Error 111 connecting to 10.20.0.9:6379. Connection refused."""

PROBE_FAIL = ('Default STARTUP TCP probe failed 1 time consecutively for container "app-1" on port 8080. '
              "The instance was not started.")  # fmt: skip
PROBE_OK = 'Default STARTUP TCP probe succeeded after 1 attempt for container "app-1" on port 8080.'


def crash(t: float, service: str, revision: str, instance: str, trace: str, code: int = 3) -> list[dict]:
    """One failed instance start: start, traceback, exit, startup probe failure."""
    return [
        system(t, service, revision, instance, "Starting new instance. Reason: DEPLOYMENT_ROLLOUT - rollout"),
        text(t + 1, service, revision, instance, trace),
        system(t + 1.5, service, revision, instance, f"Container called exit({code}).", "WARNING"),
        system(t + 2, service, revision, instance, PROBE_FAIL, "ERROR"),
    ]


def healthy(
    t: float, service: str, revision: str, instance: str, requests: int = 5, start_gap: float = 30
) -> list[dict]:
    out = [
        system(t, service, revision, instance, "Starting new instance. Reason: DEPLOYMENT_ROLLOUT - rollout"),
        system(t + 1, service, revision, instance, PROBE_OK),
        ready(t + 3, service, revision, True),
    ]
    out += [request(t + start_gap + 10 * i, service, revision, instance, 200) for i in range(requests)]
    return out


def crash_loop_db(starts: int = 4) -> list[dict]:
    """orders-api-00012: every instance fails to reach PostgreSQL at import; requests fail; not Ready."""
    svc, rev = "orders-api", "orders-api-00012-q2w"
    out = [deploy(0, svc, rev, "41c7d0e2b9a85f3e6c1d4b7a0e9f2c5d8b1a4e7f",
                  (("DB_PASSWORD", "orders-db-password"),))]  # fmt: skip
    for i in range(starts):
        out += crash(10 + 40 * i, svc, rev, f"inst{i}", PG_TRACE)
        out.append(request(12 + 40 * i, svc, rev, f"inst{i}", 500,
                           message="The request failed because the instance could not start successfully."))  # fmt: skip
    out.append(ready(10 + 40 * starts, svc, rev, False))
    return out


def regression(until_revision: int = 4) -> list[dict]:
    """billing-api: r1 fails on Redis at import, r2 fixes it (lazy client), r3 healthy, r4 brings it back."""
    svc = "billing-api"
    revs = {n: f"billing-api-0000{n}-r{n}x" for n in range(1, 5)}
    commits = {1: "aaaa111", 2: "e4d3c9c62aa", 3: "cccc333", 4: "dddd444"}
    out: list[dict] = []
    for n in range(1, until_revision + 1):
        base = 1000 * n
        out.append(deploy(base, svc, revs[n], commits[n]))
        if n in (1, 4):
            for i in range(2):
                out += crash(base + 10 + 30 * i, svc, revs[n], f"r{n}i{i}", REDIS_TRACE, code=1)
            out.append(ready(base + 80, svc, revs[n], False))
        else:
            out += healthy(base + 10, svc, revs[n], f"r{n}i0")
    return out


def healthy_unknown_error(n: int = 12) -> list[dict]:
    """payments-webhooks: healthy, serving; a recurring error no rule knows (signature mismatch)."""
    svc, rev = "payments-webhooks", "payments-webhooks-00031-t6n"
    out = healthy(0, svc, rev, "w1", requests=20)
    hexes = ["80dae19a7aaa", "5557bc714d08", "9e7c2cd074ff", "ed47940a9fc0"]
    merchants = [12345, 30422, 58110, 20871]
    for i in range(n):
        t = 400 + 60 * i
        out.append(request(t, svc, rev, "w1", 400, "/webhooks/stripe"))
        out.append(text(t + 0.01, svc, rev, "w1",
                        f"payment webhook {hexes[i % 4]} rejected: signature mismatch for merchant {merchants[i % 4]}",
                        log="stdout", severity="ERROR"))  # fmt: skip
    return out


# ------------------------------------------------------------------------------------------------------
# Cloud Run jobs: resource cloud_run_job, execution and task in the entry labels
# ------------------------------------------------------------------------------------------------------


def job_line(t: float, job: str, execution: str, task: int, message: str, log: str = "stderr",
             severity: str | None = None, attempt: int = 0) -> dict:  # fmt: skip
    name, location = where(job)
    entry: dict[str, Any] = {
        "insertId": _iid(),
        "timestamp": ts(t),
        "logName": f"projects/{PROJECT}/logs/run.googleapis.com%2F{log}",
        "resource": {"type": "cloud_run_job", "labels": {"job_name": name, "location": location,
                                                         "project_id": PROJECT}},
        "labels": {"run.googleapis.com/execution_name": execution, "run.googleapis.com/task_index": str(task),
                   "run.googleapis.com/task_attempt": str(attempt), "instanceId": f"{execution}-t{task}a{attempt}"},
        "textPayload": message,
    }  # fmt: skip
    if severity:
        entry["severity"] = severity
    return entry


def job_execution(t: float, job: str, execution: str, outcomes: list[list[int]], trace: str = "") -> list[dict]:
    """One execution: per task, its attempts' exit codes (Cloud Run retries a failed task); a failing attempt
    writes ``trace`` first. Ends with the execution verdict, as Cloud Run reports it."""
    out = [job_line(t, job, execution, 0, f"Execution {execution} started.", "varlog%2Fsystem", "INFO")]
    for task, codes in enumerate(outcomes):
        for attempt, code in enumerate(codes):
            at = t + 5 + 20 * task + 7 * attempt
            out.append(job_line(at, job, execution, task, "processing batch", "stdout", attempt=attempt))
            if code and trace:
                out.append(job_line(at + 1, job, execution, task, trace, attempt=attempt))
            out.append(job_line(at + 2, job, execution, task, f"Container called exit({code}).", "varlog%2Fsystem",
                                "WARNING" if code else "INFO", attempt))  # fmt: skip
    failed = sum(1 for codes in outcomes if codes[-1] != 0)
    end = t + 10 + 20 * len(outcomes)
    if failed:
        msg = f"Execution {execution} has failed to complete, {failed}/{len(outcomes)} tasks failed."
    else:
        msg = f"Execution {execution} has completed successfully."
    out.append(job_line(end, job, execution, 0, msg, "varlog%2Fsystem", "ERROR" if failed else "INFO"))
    return out


def update_service_v2(t: float, service: str, revision: str, traffic: Traffic, commit: str = "") -> dict:
    """A v2 ``Services.UpdateService`` entry: the service is ``projects/P/locations/L/services/S``, traffic
    targets are ``{type, revision, percent}``, and the resource location is in ``resourceLocation``."""
    name, location = where(service)
    targets = [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": pct} if rev is None else
               {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": rev, "percent": pct}
               for rev, pct in traffic or []]  # fmt: skip
    full = f"projects/{PROJECT}/locations/{location}/services/{name}"
    return {
        "insertId": _iid(),
        "timestamp": ts(t),
        "severity": "NOTICE",
        "logName": f"projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Factivity",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": name, "revision_name": "",
                                                               "project_id": PROJECT}},
        "labels": {"commit-sha": commit} if commit else {},
        "protoPayload": {
            "methodName": "google.cloud.run.v2.Services.UpdateService",
            "resourceName": full,
            "resourceLocation": {"currentLocations": [location]},
            "request": {"service": {"name": full, "template": {"revision": revision}, "traffic": targets}},
        },
    }  # fmt: skip
