"""Deterministic generator for the bundled Cloud Run log samples.

Run ``python samples/make_samples.py`` (optionally ``--out DIR``) to (re)write:

* ``samples/staging-2025-09-05.jsonl``: the staging incident of 2025-09-05 (project ``netra-staging``)
  that the hand-written audit report describes, inside realistic noise;
* ``samples/scenarios/*.jsonl``: small single-story files for later features.

Every line is one LogEntry in the REST/JSON shape (camelCase keys), as a log sink or
``entries.list`` gives it; files are sorted by ``timestamp``. Standard library only, fixed seeds, fixed
base timestamps, no wall clock: the output is byte-for-byte reproducible.

The builders (``text_entry``, ``json_entry``, ``request_entry``, ``system_entry``, ``audit_deploy``,
``audit_ready``, ``traceback_entries``, plus the platform-message and traceback-text helpers) are
importable (``from samples.make_samples import ...``) so benchmark generators and tests can reuse them.
Each builder takes a ``random.Random`` for ids and jitter, so callers control determinism.

Planted secrets (for redaction tests), all in the main sample:
* a PostgreSQL DSN with a password, ``postgresql://netra:S3cr3tPass@10.107.0.3:5432/netra``, inside the
  backend's ERROR line "Database connection failed for ..." on every backend start attempt
  (see ``backend_attempt``);
* a JWT after ``Bearer `` in a frontend DEBUG line "Forwarding request to backend ..."
  (see ``frontend_chatter``), twice in the day.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SAMPLES_DIR = Path(__file__).resolve().parent
MAIN_SAMPLE = "staging-2025-09-05.jsonl"

PROJECT = "netra-staging"
PROJECT_NUMBER = "701982941522"
LOCATION = "us-central1"
URL_HASH = "pnovr5vsba"  # per-project hash in https://<service>-<hash>-uc.a.run.app

SITE = "/usr/local/lib/python3.11/site-packages"
PYLIB = "/usr/local/lib/python3.11"

CB_MANAGED_BY = "gcp-cloud-build-deploy-cloud-run"

# --------------------------------------------------------------------------------------------------
# ids and timestamps
# --------------------------------------------------------------------------------------------------


def hex_id(rng: random.Random, n: int) -> str:
    """n lowercase hex digits."""
    return f"{rng.getrandbits(4 * n):0{n}x}"


def insert_id(rng: random.Random) -> str:
    """insertId of a container/system/request log entry: 24 hex digits."""
    return hex_id(rng, 24)


def audit_insert_id(rng: random.Random) -> str:
    """insertId of an audit entry: short lowercase alphanumeric (e.g. ``-k2x9a1e4b7c``)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "-" + "".join(alphabet[rng.getrandbits(6) % 36] for _ in range(11))


def instance_id(rng: random.Random) -> str:
    """A Cloud Run instance id (``labels.instanceId``): long hex."""
    return "00" + hex_id(rng, 110)


def revision_name(service: str, number: int, rng: random.Random) -> str:
    """``<service>-000NN-abc`` with a random 3-character suffix, as Cloud Run names revisions."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    suffix = "".join(alphabet[rng.getrandbits(6) % 36] for _ in range(3))
    return f"{service}-{number:05d}-{suffix}"


def service_url(service: str, url_hash: str = URL_HASH) -> str:
    return f"https://{service}-{url_hash}-uc.a.run.app"


def fmt_ts(when: datetime) -> str:
    """``timestamp``: RFC 3339 UTC with 6 fractional digits."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fmt_receive_ts(when: datetime, rng: random.Random) -> str:
    """``receiveTimestamp``: a little later than ``timestamp``, 9 fractional digits."""
    later = when + timedelta(microseconds=rng.randint(15_000, 450_000))
    return later.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{rng.randint(0, 999):03d}Z"


def ms(n: float) -> timedelta:
    return timedelta(milliseconds=n)


def secs(n: float) -> timedelta:
    return timedelta(seconds=n)


# --------------------------------------------------------------------------------------------------
# where an entry comes from
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    """The Cloud Run resource (and instance) an entry belongs to."""

    service: str
    revision: str = ""
    instance: str = ""
    project: str = PROJECT
    location: str = LOCATION

    def on(self, instance: str) -> Where:
        return replace(self, instance=instance)


def log_name(project: str, log: str) -> str:
    names = {
        "stdout": "run.googleapis.com%2Fstdout",
        "stderr": "run.googleapis.com%2Fstderr",
        "requests": "run.googleapis.com%2Frequests",
        "system": "run.googleapis.com%2Fvarlog%2Fsystem",
        "activity": "cloudaudit.googleapis.com%2Factivity",
        "system_event": "cloudaudit.googleapis.com%2Fsystem_event",
    }
    return f"projects/{project}/logs/{names[log]}"


def resource(where: Where, *, revision: str | None = None) -> dict[str, Any]:
    rev = where.revision if revision is None else revision
    return {
        "type": "cloud_run_revision",
        "labels": {
            "service_name": where.service,
            "revision_name": rev,
            "configuration_name": where.service if rev else "",
            "location": where.location,
            "project_id": where.project,
        },
    }


def _finish(
    entry: dict[str, Any],
    rng: random.Random,
    when: datetime,
    where: Where,
    log: str,
    severity: str | None,
    *,
    with_instance: bool = True,
) -> dict[str, Any]:
    entry["resource"] = resource(where)
    entry["timestamp"] = fmt_ts(when)
    if severity:
        entry["severity"] = severity
    if with_instance and where.instance:
        entry["labels"] = {"instanceId": where.instance}
    entry["logName"] = log_name(where.project, log)
    entry["receiveTimestamp"] = fmt_receive_ts(when, rng)
    return entry


# --------------------------------------------------------------------------------------------------
# entry builders
# --------------------------------------------------------------------------------------------------


def text_entry(
    rng: random.Random, when: datetime, where: Where, text: str, *, log: str = "stderr", severity: str | None = None
) -> dict[str, Any]:
    """A plain-text container line (``textPayload``). Plain lines carry no severity unless given."""
    return _finish({"insertId": insert_id(rng), "textPayload": text}, rng, when, where, log, severity)


def json_entry(
    rng: random.Random,
    when: datetime,
    where: Where,
    message: str,
    *,
    severity: str = "INFO",
    log: str = "stdout",
    trace: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A structured container line: ``jsonPayload`` {message, **fields}; severity lifted to the top."""
    payload: dict[str, Any] = {"message": message, **fields}
    entry: dict[str, Any] = {"insertId": insert_id(rng), "jsonPayload": payload}
    _finish(entry, rng, when, where, log, severity)
    if trace:
        entry["trace"] = trace
    return entry


def system_entry(
    rng: random.Random, when: datetime, where: Where, text: str, *, severity: str = "INFO"
) -> dict[str, Any]:
    """A Cloud Run platform line in ``run.googleapis.com/varlog/system``."""
    return _finish({"insertId": insert_id(rng), "textPayload": text}, rng, when, where, "system", severity)


def trace_id(rng: random.Random, project: str = PROJECT) -> str:
    return f"projects/{project}/traces/{hex_id(rng, 32)}"


def request_entry(
    rng: random.Random,
    when: datetime,
    where: Where,
    method: str,
    url: str,
    status: int,
    *,
    latency_s: float = 0.01,
    response_size: int = 0,
    request_size: int | None = None,
    user_agent: str = "",
    remote_ip: str = "",
    text: str | None = None,
    severity: str | None = None,
    protocol: str = "HTTP/1.1",
) -> dict[str, Any]:
    """A request log (``run.googleapis.com/requests``). ``text`` is the platform error, if any.

    Requests that never reached an instance have ``where.instance == ""`` and no instanceId label.
    """
    if severity is None:
        severity = "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO"
    http: dict[str, Any] = {
        "requestMethod": method,
        "requestUrl": url,
        "requestSize": str(request_size if request_size is not None else rng.randint(280, 900)),
        "status": status,
        "responseSize": str(response_size),
        "userAgent": user_agent,
        "remoteIp": remote_ip,
        "serverIp": "216.239.32.53",
        "latency": f"{latency_s:.6f}s",
        "protocol": protocol,
    }
    entry: dict[str, Any] = {"httpRequest": http, "insertId": insert_id(rng)}
    if text is not None:
        entry["textPayload"] = text
    _finish(entry, rng, when, where, "requests", severity)
    entry["trace"] = trace_id(rng, where.project)
    entry["spanId"] = hex_id(rng, 16)
    entry["traceSampled"] = True
    return entry


def secret_env(secrets: dict[str, str]) -> list[dict[str, Any]]:
    """Container env entries that reference Secret Manager secrets (env name -> secret name)."""
    return [{"name": k, "valueFrom": {"secretKeyRef": {"name": v, "key": "latest"}}} for k, v in secrets.items()]


def audit_deploy(
    rng: random.Random,
    when: datetime,
    service: str,
    revision: str,
    *,
    image: str,
    container: str,
    secrets: dict[str, str],
    env: dict[str, str] | None = None,
    commit_sha: str = "",
    build_id: str = "",
    principal: str = "",
    previous_ready: str = "",
    generation: int = 1,
    project: str = PROJECT,
    location: str = LOCATION,
    memory: str = "512Mi",
    cpu: str = "1",
    vpc_connector: str = "",
    user_agent: str = "",
) -> dict[str, Any]:
    """Admin-activity audit entry of a deploy (``google.cloud.run.v1.Services.ReplaceService``).

    ``request.service`` carries the full spec (containers, env with ``valueFrom.secretKeyRef``);
    ``response.status.latestCreatedRevisionName`` and ``spec.template.metadata.name`` name the new
    revision. A Cloud Build deploy (``commit_sha`` given) also carries the ``commit-sha``,
    ``gcb-build-id`` and ``managed-by`` labels, on the service metadata and on the entry itself.
    """
    cb_labels: dict[str, str] = {}
    if commit_sha:
        cb_labels = {"commit-sha": commit_sha, "gcb-build-id": build_id, "managed-by": CB_MANAGED_BY}
    if not principal:
        principal = (
            f"{PROJECT_NUMBER}@cloudbuild.gserviceaccount.com"
            if commit_sha
            else "deploy-bot@netra-staging.iam.gserviceaccount.com"
        )
    if not user_agent:
        user_agent = (
            "google-cloud-sdk gcloud/486.0.0 command/gcloud.run.deploy invocation-id/"
            f"{hex_id(rng, 32)} environment/GCE environment-version/None client-os/LINUX "
            "client-os-ver/5.15.0 client-pltf-arch/x86_64 interactive/False from-script/True "
            "python/3.12.4 term/ (Linux 5.15.0-1062-gcp),gzip(gfe)"
        )
    name = f"namespaces/{project}/services/{service}"
    env_list: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in (env or {}).items()]
    env_list += secret_env(secrets)
    template_annotations = {
        "autoscaling.knative.dev/maxScale": "10",
        "run.googleapis.com/client-name": "gcloud",
        "run.googleapis.com/client-version": "486.0.0",
        "run.googleapis.com/startup-cpu-boost": "true",
    }
    if vpc_connector:
        template_annotations["run.googleapis.com/vpc-access-connector"] = vpc_connector
        template_annotations["run.googleapis.com/vpc-access-egress"] = "private-ranges-only"
    spec = {
        "template": {
            "metadata": {
                "name": revision,
                "labels": {**cb_labels, "client.knative.dev/nonce": hex_id(rng, 10)},
                "annotations": template_annotations,
            },
            "spec": {
                "containerConcurrency": 80,
                "timeoutSeconds": 300,
                "serviceAccountName": f"{service}@{project}.iam.gserviceaccount.com",
                "containers": [
                    {
                        "name": container,
                        "image": image,
                        "ports": [{"name": "http1", "containerPort": 8080}],
                        "env": env_list,
                        "resources": {"limits": {"cpu": cpu, "memory": memory}},
                        "startupProbe": {
                            "timeoutSeconds": 240,
                            "periodSeconds": 240,
                            "failureThreshold": 1,
                            "tcpSocket": {"port": 8080},
                        },
                    }
                ],
            },
        },
        "traffic": [{"percent": 100, "latestRevision": True}],
    }
    metadata = {
        "name": service,
        "namespace": project,
        "labels": {**cb_labels, "cloud.googleapis.com/location": location},
        "annotations": {"run.googleapis.com/ingress": "all", "run.googleapis.com/launch-stage": "GA"},
    }
    proto = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "status": {},
        "authenticationInfo": {"principalEmail": principal},
        "requestMetadata": {
            "callerIp": f"34.{rng.randint(16, 127)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "callerSuppliedUserAgent": user_agent,
            "requestAttributes": {"time": fmt_ts(when), "auth": {}},
            "destinationAttributes": {},
        },
        "serviceName": "run.googleapis.com",
        "methodName": "google.cloud.run.v1.Services.ReplaceService",
        "authorizationInfo": [
            {"resource": name, "permission": "run.services.update", "granted": True, "resourceAttributes": {}}
        ],
        "resourceName": name,
        "request": {
            "@type": "type.googleapis.com/google.cloud.run.v1.ReplaceServiceRequest",
            "name": name,
            "service": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": metadata, "spec": spec},
        },
        "response": {
            "@type": "type.googleapis.com/google.cloud.run.v1.Service",
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {
                **metadata,
                "generation": generation,
                "uid": _uuid(rng),
                "resourceVersion": "AAY" + hex_id(rng, 10),
            },
            "spec": spec,
            "status": {
                "observedGeneration": generation,
                "latestCreatedRevisionName": revision,
                "latestReadyRevisionName": previous_ready,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "Unknown",
                        "reason": "Deploying",
                        "message": f"Revision '{revision}' is waiting for a Route to be created.",
                        "lastTransitionTime": fmt_ts(when)[:19] + "Z",
                    },
                    {"type": "ConfigurationsReady", "status": "Unknown", "lastTransitionTime": fmt_ts(when)[:19] + "Z"},
                ],
                "url": service_url(service),
            },
        },
        "resourceLocation": {"currentLocations": [location]},
    }
    where = Where(service, "", "", project, location)
    entry: dict[str, Any] = {"protoPayload": proto, "insertId": audit_insert_id(rng)}
    entry["resource"] = resource(where, revision="")
    entry["timestamp"] = fmt_ts(when)
    entry["severity"] = "NOTICE"
    if cb_labels:
        entry["labels"] = dict(cb_labels)
    entry["logName"] = log_name(project, "activity")
    entry["receiveTimestamp"] = fmt_receive_ts(when, rng)
    return entry


READY_FALSE_PORT = (
    "The user-provided container failed to start and listen on the port defined provided by the "
    "PORT=8080 environment variable within the allocated timeout. This can happen when the container "
    "port is misconfigured or if the timeout is too short. The health check timeout can be extended. "
    "Logs for this revision might contain more information."
)


def logs_url(where: Where) -> str:
    return (
        f"https://console.cloud.google.com/logs/viewer?project={where.project}&resource=cloud_run_revision/"
        f"service_name/{where.service}/revision_name/{where.revision}&advancedFilter=resource.type%3D"
        f"%22cloud_run_revision%22%0Aresource.labels.service_name%3D%22{where.service}%22%0A"
        f"resource.labels.revision_name%3D%22{where.revision}%22"
    )


def audit_ready(
    rng: random.Random, when: datetime, where: Where, ready: bool, message: str = READY_FALSE_PORT
) -> dict[str, Any]:
    """System-event audit entry: the revision's Ready condition changed (to True, or to False + why)."""
    if ready:
        text = f"Ready condition status changed to True for Revision {where.revision}."
        status: dict[str, Any] = {"message": text}
    else:
        text = (
            f"Ready condition status changed to False for Revision {where.revision} with message: "
            f"{message}\n\nLogs URL: {logs_url(where)} \nFor more troubleshooting guidance, see "
            "https://cloud.google.com/run/docs/troubleshooting#container-failed-to-start"
        )
        status = {"code": 9, "message": text}
    proto = {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "status": status,
        "serviceName": "run.googleapis.com",
        "methodName": "/Services.ReplaceService",
        "resourceName": f"namespaces/{where.project}/revisions/{where.revision}",
        "response": {
            "metadata": {
                "name": where.revision,
                "namespace": PROJECT_NUMBER,
                "labels": {
                    "serving.knative.dev/service": where.service,
                    "serving.knative.dev/configuration": where.service,
                },
            },
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if ready else "False",
                        **({} if ready else {"reason": "HealthCheckContainerError", "message": message}),
                        "lastTransitionTime": fmt_ts(when)[:19] + "Z",
                    }
                ]
            },
            "@type": "type.googleapis.com/google.cloud.run.v1.Revision",
        },
    }
    entry: dict[str, Any] = {"protoPayload": proto, "insertId": audit_insert_id(rng)}
    entry["resource"] = resource(replace(where, instance=""))
    entry["timestamp"] = fmt_ts(when)
    entry["severity"] = "INFO" if ready else "ERROR"
    entry["logName"] = log_name(where.project, "system_event")
    entry["receiveTimestamp"] = fmt_receive_ts(when, rng)
    return entry


def traceback_entries(
    rng: random.Random,
    when: datetime,
    where: Where,
    lines: Sequence[str],
    *,
    split: bool = False,
    prefix: str = "",
    log: str = "stderr",
    step_ms: tuple[float, float] = (0.2, 4.0),
) -> list[dict[str, Any]]:
    """A Python traceback on stderr, as Cloud Run delivers it.

    ``split=False``: one entry whose textPayload holds all lines. ``split=True``: one entry per non-blank
    line, a few ms apart, same instance, no severity (what uvicorn's ``ERROR:    Traceback`` output
    often looks like). ``prefix`` goes in front of the first line.
    """
    lines = list(lines)
    if lines:
        lines[0] = prefix + lines[0]
    if not split:
        return [text_entry(rng, when, where, "\n".join(lines), log=log)]
    out = []
    t = when
    for line in lines:
        if not line.strip():
            continue
        out.append(text_entry(rng, t, where, line, log=log))
        t += ms(rng.uniform(*step_ms))
    return out


def end_of(entries: Sequence[dict[str, Any]]) -> datetime:
    """Timestamp of the last entry (as a datetime)."""
    return datetime.fromisoformat(entries[-1]["timestamp"].replace("Z", "+00:00"))


# --------------------------------------------------------------------------------------------------
# platform messages
# --------------------------------------------------------------------------------------------------

START_REASONS = {
    "DEPLOYMENT_ROLLOUT": "Instance started due to traffic shifting between revisions due to deployment, "
    "traffic split adjustment, or deployment health check.",
    "AUTOSCALING": "Instance started due to configured scaling factors (e.g. CPU utilization, request "
    "throughput, etc.) or no existing capacity for current traffic.",
    "MANUAL_OR_CUSTOMER_MIN_INSTANCE": "Instance started because of customer-configured min-instances or "
    "manual scaling.",
}


def instance_start(rng: random.Random, when: datetime, where: Where, reason: str = "AUTOSCALING") -> dict:
    return system_entry(rng, when, where, f"Starting new instance. Reason: {reason} - {START_REASONS[reason]}")


def probe_succeeded(rng: random.Random, when: datetime, where: Where, container: str) -> dict:
    return system_entry(
        rng,
        when,
        where,
        f'Default STARTUP TCP probe succeeded after 1 attempt for container "{container}" on port 8080.',
    )


def probe_failed(rng: random.Random, when: datetime, where: Where, container: str, status: str = "CANCELLED") -> dict:
    return system_entry(
        rng,
        when,
        where,
        f'Default STARTUP TCP probe failed 1 time consecutively for container "{container}" '
        f"on port 8080. The instance was not started.\nConnection failed with status {status}.",
        severity="ERROR",
    )


def container_exit(rng: random.Random, when: datetime, where: Where, code: int) -> dict:
    return system_entry(
        rng, when, where, f"Container called exit({code}).", severity="INFO" if code == 0 else "WARNING"
    )


COULD_NOT_START = "The request failed because the instance could not start successfully."
MALFORMED = (
    "The request failed because either the HTTP response was malformed or connection to the "
    "instance had an error. Additional troubleshooting documentation can be found at: "
    "https://cloud.google.com/run/docs/troubleshooting#malformed-response-or-connection-error"
)

# --------------------------------------------------------------------------------------------------
# traceback texts
# --------------------------------------------------------------------------------------------------

TB_HEAD = "Traceback (most recent call last):"
CAUSE = "The above exception was the direct cause of the following exception:"
DURING = "During handling of the above exception, another exception occurred:"


def frame(
    path: str, line: int, func: str, code: str | None = None, caret: str | None = None, marks: str | None = None
) -> list[str]:
    """One traceback frame; ``caret`` underlines that part of ``code`` (3.11 style), ``marks`` is raw."""
    out = [f'  File "{path}", line {line}, in {func}']
    if code is not None:
        out.append("    " + code)
        if caret:
            out.append("    " + " " * code.index(caret) + "^" * len(caret))
        elif marks:
            out.append("    " + marks)
    return out


def uvicorn_import_frames() -> list[str]:
    """Frames from ``uvicorn app:app`` down to importlib, as printed when the app module fails to import."""
    return [
        *frame("/usr/local/bin/uvicorn", 8, "<module>", "sys.exit(main())", "main()"),
        *frame(
            f"{SITE}/click/core.py", 1157, "__call__", "return self.main(*args, **kwargs)", "self.main(*args, **kwargs)"
        ),
        *frame(f"{SITE}/click/core.py", 1078, "main", "rv = self.invoke(ctx)", "self.invoke(ctx)"),
        *frame(
            f"{SITE}/click/core.py",
            1434,
            "invoke",
            "return ctx.invoke(self.callback, **ctx.params)",
            "ctx.invoke(self.callback, **ctx.params)",
        ),
        *frame(
            f"{SITE}/click/core.py", 783, "invoke", "return __callback(*args, **kwargs)", "__callback(*args, **kwargs)"
        ),
        *frame(f"{SITE}/uvicorn/main.py", 410, "main", "run("),
        *frame(f"{SITE}/uvicorn/main.py", 577, "run", "server.run()"),
        *frame(
            f"{SITE}/uvicorn/server.py",
            65,
            "run",
            "return asyncio.run(self.serve(sockets=sockets))",
            "asyncio.run(self.serve(sockets=sockets))",
        ),
        *frame(f"{PYLIB}/asyncio/runners.py", 190, "run", "return runner.run(main)", "runner.run(main)"),
        *frame(
            f"{PYLIB}/asyncio/runners.py",
            118,
            "run",
            "return self._loop.run_until_complete(task)",
            "self._loop.run_until_complete(task)",
        ),
        *frame(
            f"{PYLIB}/asyncio/base_events.py", 653, "run_until_complete", "return future.result()", "future.result()"
        ),
        *frame(f"{SITE}/uvicorn/server.py", 69, "serve", "await self._serve(sockets)"),
        *frame(f"{SITE}/uvicorn/server.py", 76, "_serve", "config.load()"),
        *frame(
            f"{SITE}/uvicorn/config.py",
            434,
            "load",
            "self.loaded_app = import_from_string(self.app)",
            "import_from_string(self.app)",
        ),
        *frame(
            f"{SITE}/uvicorn/importer.py",
            19,
            "import_from_string",
            "module = importlib.import_module(module_str)",
            "importlib.import_module(module_str)",
        ),
        *frame(
            f"{PYLIB}/importlib/__init__.py",
            126,
            "import_module",
            "return _bootstrap._gcd_import(name[level:], package, level)",
            "_bootstrap._gcd_import(name[level:], package, level)",
        ),
        *frame("<frozen importlib._bootstrap>", 1204, "_gcd_import"),
        *frame("<frozen importlib._bootstrap>", 1176, "_find_and_load"),
        *frame("<frozen importlib._bootstrap>", 1147, "_find_and_load_unlocked"),
        *frame("<frozen importlib._bootstrap>", 690, "_load_unlocked"),
        *frame("<frozen importlib._bootstrap_external>", 940, "exec_module"),
        *frame("<frozen importlib._bootstrap>", 241, "_call_with_frames_removed"),
    ]


AUTH_REDIS_APP_FRAMES = [
    *frame(
        "/app/auth_service/main.py",
        24,
        "<module>",
        "from auth_service.auth_core.routes.auth_routes import router as auth_router",
    ),
    *frame(
        "/app/auth_service/auth_core/routes/auth_routes.py",
        31,
        "<module>",
        "from auth_service.redis_manager import auth_redis_manager",
    ),
    *frame(
        "/app/auth_service/redis_manager.py",
        366,
        "<module>",
        "auth_redis_manager = AuthRedisManager()",
        "AuthRedisManager()",
    ),
    *frame("/app/auth_service/redis_manager.py", 58, "__init__", "self._client.ping()"),
]


def redis_import_traceback(
    host: str = "localhost", port: int = 6379, app_frames: Sequence[str] = AUTH_REDIS_APP_FRAMES
) -> list[str]:
    """A Redis client built at import time pings Redis and is refused (auth rev 00041 by default).

    ``app_frames`` are the application frames between importlib and redis-py's ``ping``.
    """
    return [
        TB_HEAD,
        *frame(
            f"{SITE}/redis/connection.py",
            277,
            "connect",
            "sock = self.retry.call_with_retry(",
            "self.retry.call_with_retry(",
        ),
        *frame(f"{SITE}/redis/retry.py", 62, "call_with_retry", "return do()", "do()"),
        *frame(
            f"{SITE}/redis/connection.py",
            278,
            "<lambda>",
            "lambda: self._connect(), lambda error: self.disconnect(error)",
            "self._connect()",
        ),
        *frame(f"{SITE}/redis/connection.py", 639, "_connect", "raise err"),
        *frame(f"{SITE}/redis/connection.py", 627, "_connect", "sock.connect(socket_address)"),
        "ConnectionRefusedError: [Errno 111] Connection refused",
        "",
        DURING,
        "",
        TB_HEAD,
        *uvicorn_import_frames(),
        *app_frames,
        *frame(
            f"{SITE}/redis/commands/core.py",
            1216,
            "ping",
            'return self.execute_command("PING", **kwargs)',
            'self.execute_command("PING", **kwargs)',
        ),
        *frame(
            f"{SITE}/redis/client.py",
            542,
            "execute_command",
            "conn = self.connection or pool.get_connection(command_name, **options)",
            "pool.get_connection(command_name, **options)",
        ),
        *frame(f"{SITE}/redis/connection.py", 1109, "get_connection", "connection.connect()"),
        *frame(f"{SITE}/redis/connection.py", 283, "connect", "raise ConnectionError(self._error_message(e))"),
        f"redis.exceptions.ConnectionError: Error 111 connecting to {host}:{port}. Connection refused.",
    ]


def database_url_traceback(app: str = "auth_service", entry_import: str | None = None) -> list[str]:
    """Config read at import time: ``os.environ["DATABASE_URL"]`` raises ``KeyError``."""
    main_import = entry_import or f"from {app}.auth_core.database.connection import auth_db"
    db_module = main_import.split(" ")[1].replace(".", "/")
    code = 'DATABASE_URL = os.environ["DATABASE_URL"]'
    return [
        TB_HEAD,
        *uvicorn_import_frames(),
        *frame(f"/app/{app}/main.py", 29, "<module>", main_import),
        *frame(
            f"/app/{db_module}.py",
            24,
            "<module>",
            code,
            marks=" " * code.index("os.") + "~" * len("os.environ") + "^" * len('["DATABASE_URL"]'),
        ),
        *frame("<frozen os>", 679, "__getitem__"),
        "KeyError: 'DATABASE_URL'",
    ]


SECRET_KEY_MSG = "SECRET_KEY must be explicitly set in staging/production environments"


def secret_key_traceback() -> list[str]:
    """Auth rev 00043: settings validation refuses an empty SECRET_KEY in staging."""
    return [
        TB_HEAD,
        *uvicorn_import_frames(),
        *frame("/app/auth_service/main.py", 22, "<module>", "from auth_service.auth_core.config import settings"),
        *frame(
            "/app/auth_service/auth_core/config.py",
            231,
            "<module>",
            "settings = AuthConfig.load()",
            "AuthConfig.load()",
        ),
        *frame(
            "/app/auth_service/auth_core/config.py",
            214,
            "load",
            "cls._validate_secret_key(env, secret_key)",
            "cls._validate_secret_key(env, secret_key)",
        ),
        *frame(
            "/app/auth_service/auth_core/config.py",
            188,
            "_validate_secret_key",
            f'raise ValueError("{SECRET_KEY_MSG}")',
        ),
        f"ValueError: {SECRET_KEY_MSG}",
    ]


def asyncpg_refused_frames(host: str, port: int) -> list[str]:
    """SQLAlchemy async engine -> asyncpg -> asyncio connect, refused (no uvloop)."""
    return [
        *frame(f"{SITE}/sqlalchemy/ext/asyncio/engine.py", 1066, "begin", "async with conn:"),
        *frame(
            f"{SITE}/sqlalchemy/ext/asyncio/base.py",
            121,
            "__aenter__",
            "return await self.start(is_ctxmanager=True)",
            "self.start(is_ctxmanager=True)",
        ),
        *frame(
            f"{SITE}/sqlalchemy/ext/asyncio/engine.py", 274, "start", "await greenlet_spawn(self.sync_engine.connect)"
        ),
        *frame(
            f"{SITE}/sqlalchemy/util/_concurrency_py3k.py",
            201,
            "greenlet_spawn",
            "result = context.throw(*sys.exc_info())",
            "context.throw(*sys.exc_info())",
        ),
        *frame(
            f"{SITE}/sqlalchemy/engine/base.py",
            3276,
            "connect",
            "return self._connection_cls(self)",
            "self._connection_cls(self)",
        ),
        *frame(
            f"{SITE}/sqlalchemy/engine/base.py",
            146,
            "__init__",
            "self._dbapi_connection = engine.raw_connection()",
            "engine.raw_connection()",
        ),
        *frame(
            f"{SITE}/sqlalchemy/engine/base.py",
            3300,
            "raw_connection",
            "return self.pool.connect()",
            "self.pool.connect()",
        ),
        *frame(
            f"{SITE}/sqlalchemy/pool/base.py",
            449,
            "connect",
            "return _ConnectionFairy._checkout(self)",
            "_ConnectionFairy._checkout(self)",
        ),
        *frame(
            f"{SITE}/sqlalchemy/pool/base.py",
            1263,
            "_checkout",
            "fairy = _ConnectionRecord.checkout(pool)",
            "_ConnectionRecord.checkout(pool)",
        ),
        *frame(f"{SITE}/sqlalchemy/pool/base.py", 712, "checkout", "rec = pool._do_get()", "pool._do_get()"),
        *frame(f"{SITE}/sqlalchemy/pool/impl.py", 179, "_do_get", "with util.safe_reraise():"),
        *frame(
            f"{SITE}/sqlalchemy/pool/impl.py",
            177,
            "_do_get",
            "return self._create_connection()",
            "self._create_connection()",
        ),
        *frame(
            f"{SITE}/sqlalchemy/engine/create.py",
            646,
            "connect",
            "return dialect.connect(*cargs, **cparams)",
            "dialect.connect(*cargs, **cparams)",
        ),
        *frame(
            f"{SITE}/sqlalchemy/engine/default.py",
            625,
            "connect",
            "return self.loaded_dbapi.connect(*cargs, **cparams)",
            "self.loaded_dbapi.connect(*cargs, **cparams)",
        ),
        *frame(
            f"{SITE}/sqlalchemy/dialects/postgresql/asyncpg.py",
            961,
            "connect",
            "await_only(creator_fn(*arg, **kw)),",
            "await_only(creator_fn(*arg, **kw))",
        ),
        *frame(
            f"{SITE}/sqlalchemy/util/_concurrency_py3k.py",
            132,
            "await_only",
            "return current.driver.switch(awaitable)  # type: ignore[no-any-return]",
            "current.driver.switch(awaitable)",
        ),
        *frame(f"{SITE}/sqlalchemy/util/_concurrency_py3k.py", 196, "greenlet_spawn", "value = await result"),
        *frame(f"{SITE}/asyncpg/connection.py", 2329, "connect", "return await connect_utils._connect("),
        *frame(
            f"{SITE}/asyncpg/connect_utils.py",
            1017,
            "_connect",
            "raise last_error or exceptions.TargetServerAttributeNotMatched(",
        ),
        *frame(f"{SITE}/asyncpg/connect_utils.py", 991, "_connect", "conn = await _connect_addr("),
        *frame(
            f"{SITE}/asyncpg/connect_utils.py", 828, "_connect_addr", "return await __connect_addr(params, True, *args)"
        ),
        *frame(f"{SITE}/asyncpg/connect_utils.py", 873, "__connect_addr", "tr, pr = await connector"),
        *frame(
            f"{SITE}/asyncpg/connect_utils.py", 744, "_create_ssl_connection", "tr, pr = await loop.create_connection("
        ),
        *frame(f"{PYLIB}/asyncio/base_events.py", 1085, "create_connection", "raise exceptions[0]"),
        *frame(f"{PYLIB}/asyncio/base_events.py", 1069, "create_connection", "sock = await self._connect_sock("),
        *frame(f"{PYLIB}/asyncio/base_events.py", 973, "_connect_sock", "await self.sock_connect(sock, address)"),
        *frame(f"{PYLIB}/asyncio/selector_events.py", 634, "sock_connect", "return await fut"),
        *frame(
            f"{PYLIB}/asyncio/selector_events.py",
            674,
            "_sock_connect_cb",
            "raise OSError(err, f'Connect call failed {address}')",
        ),
        f"ConnectionRefusedError: [Errno 111] Connect call failed ('{host}', {port})",
    ]


def lifespan_db_traceback(host: str = "10.107.0.3", port: int = 5432) -> list[str]:
    """Backend rev 00087: FastAPI lifespan opens the DB; asyncpg is refused; the app re-raises.

    The first line is ``Traceback (most recent call last):``; uvicorn prefixes it with ``ERROR:    ``.
    """
    starlette = [
        *frame(
            f"{SITE}/starlette/routing.py", 693, "lifespan", "async with self.lifespan_context(app) as maybe_state:"
        ),
        *frame(f"{PYLIB}/contextlib.py", 204, "__aenter__", "return await anext(self.gen)", "anext(self.gen)"),
        *frame(
            f"{SITE}/fastapi/routing.py",
            133,
            "merged_lifespan",
            "async with original_context(app) as maybe_original_state:",
        ),
        *frame(f"{PYLIB}/contextlib.py", 204, "__aenter__", "return await anext(self.gen)", "anext(self.gen)"),
    ]
    return [
        TB_HEAD,
        *frame(
            "/app/netra_backend/app/db/postgres.py",
            132,
            "initialize_postgres",
            "async with async_engine.begin() as conn:",
        ),
        *frame(f"{PYLIB}/contextlib.py", 204, "__aenter__", "return await anext(self.gen)", "anext(self.gen)"),
        *asyncpg_refused_frames(host, port),
        "",
        CAUSE,
        "",
        TB_HEAD,
        *starlette,
        *frame(
            "/app/netra_backend/app/core/lifespan_manager.py",
            52,
            "lifespan",
            'raise DatabaseConnectionError(f"PostgreSQL unreachable at {host}:{port}") from exc',
        ),
        f"netra_backend.app.core.exceptions.DatabaseConnectionError: PostgreSQL unreachable at {host}:{port}",
    ]


def gunicorn_import_db_traceback(host: str, app_module: str, app_path: str) -> list[str]:
    """A gunicorn UvicornWorker fails to boot: the app connects to PostgreSQL (psycopg2) at import time."""
    refused = (
        f'connection to server at "{host}", port 5432 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?"
    )
    return [
        TB_HEAD,
        *frame(
            f"{SITE}/sqlalchemy/engine/base.py",
            146,
            "__init__",
            "self._dbapi_connection = engine.raw_connection()",
            "engine.raw_connection()",
        ),
        *frame(
            f"{SITE}/sqlalchemy/engine/base.py",
            3300,
            "raw_connection",
            "return self.pool.connect()",
            "self.pool.connect()",
        ),
        *frame(
            f"{SITE}/sqlalchemy/pool/base.py",
            449,
            "connect",
            "return _ConnectionFairy._checkout(self)",
            "_ConnectionFairy._checkout(self)",
        ),
        *frame(
            f"{SITE}/sqlalchemy/engine/default.py",
            625,
            "connect",
            "return self.loaded_dbapi.connect(*cargs, **cparams)",
            "self.loaded_dbapi.connect(*cargs, **cparams)",
        ),
        *frame(
            f"{SITE}/psycopg2/__init__.py",
            122,
            "connect",
            "conn = _connect(dsn, connection_factory=connection_factory, **kwasync)",
            "_connect(dsn, connection_factory=connection_factory, **kwasync)",
        ),
        f"psycopg2.OperationalError: {refused}",
        "",
        "",
        CAUSE,
        "",
        TB_HEAD,
        *frame(f"{SITE}/gunicorn/arbiter.py", 609, "spawn_worker", "worker.init_process()"),
        *frame(f"{SITE}/uvicorn/workers.py", 75, "init_process", "super().init_process()"),
        *frame(f"{SITE}/gunicorn/workers/base.py", 134, "init_process", "self.load_wsgi()"),
        *frame(f"{SITE}/gunicorn/workers/base.py", 146, "load_wsgi", "self.wsgi = self.app.wsgi()", "self.app.wsgi()"),
        *frame(f"{SITE}/gunicorn/app/base.py", 67, "wsgi", "self.callable = self.load()", "self.load()"),
        *frame(f"{SITE}/gunicorn/app/wsgiapp.py", 58, "load", "return self.load_wsgiapp()", "self.load_wsgiapp()"),
        *frame(
            f"{SITE}/gunicorn/app/wsgiapp.py",
            48,
            "load_wsgiapp",
            "return util.import_app(self.app_uri)",
            "util.import_app(self.app_uri)",
        ),
        *frame(
            f"{SITE}/gunicorn/util.py",
            371,
            "import_app",
            "mod = importlib.import_module(module)",
            "importlib.import_module(module)",
        ),
        *frame(
            f"{PYLIB}/importlib/__init__.py",
            126,
            "import_module",
            "return _bootstrap._gcd_import(name[level:], package, level)",
            "_bootstrap._gcd_import(name[level:], package, level)",
        ),
        *frame("<frozen importlib._bootstrap>", 1204, "_gcd_import"),
        *frame("<frozen importlib._bootstrap>", 1176, "_find_and_load"),
        *frame("<frozen importlib._bootstrap>", 1147, "_find_and_load_unlocked"),
        *frame("<frozen importlib._bootstrap>", 690, "_load_unlocked"),
        *frame("<frozen importlib._bootstrap_external>", 940, "exec_module"),
        *frame("<frozen importlib._bootstrap>", 241, "_call_with_frames_removed"),
        *frame(f"/app/{app_path}/main.py", 12, "<module>", f"from {app_module}.db import engine, SessionLocal"),
        *frame(f"/app/{app_path}/db.py", 21, "<module>", "with engine.connect() as conn:", "engine.connect()"),
        *frame(
            f"{SITE}/sqlalchemy/engine/base.py",
            3276,
            "connect",
            "return self._connection_cls(self)",
            "self._connection_cls(self)",
        ),
        *frame(
            f"{SITE}/sqlalchemy/engine/base.py", 148, "__init__", "Connection._handle_dbapi_exception_noconnection("
        ),
        *frame(
            f"{SITE}/sqlalchemy/engine/base.py",
            2440,
            "_handle_dbapi_exception_noconnection",
            "raise sqlalchemy_exception.with_traceback(exc_info[2]) from e",
        ),
        f"sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) {refused}",
        "",
        "(Background on this error at: https://sqlalche.me/e/20/e3q8)",
    ]


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------


def sort_entries(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stable sort by timestamp (fixed-width strings sort as times)."""
    return sorted(entries, key=lambda e: e["timestamp"])


def dumps(entries: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in entries)


def write_jsonl(path: Path, entries: Iterable[dict[str, Any]]) -> int:
    entries = sort_entries(entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dumps(entries).encode("utf-8"))
    return len(entries)


def _uuid(rng: random.Random) -> str:
    h = hex_id(rng, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"


def fake_jwt(rng: random.Random, sub: str, exp: int) -> str:
    """A syntactically real HS256 JWT (random signature) for redaction tests."""

    def b64(obj: dict) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    sig = base64.urlsafe_b64encode(rng.getrandbits(256).to_bytes(32, "big")).rstrip(b"=").decode()
    return f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64({'sub': sub, 'iat': exp - 3600, 'exp': exp})}.{sig}"


# --------------------------------------------------------------------------------------------------
# shared noise: clients, uvicorn lines, healthy traffic
# --------------------------------------------------------------------------------------------------

BROWSER_UAS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/128.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 "
    "Safari/537.36 Edg/128.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
]
UPTIME_UA = "GoogleStackdriverMonitoring-UptimeChecks(https://cloud.google.com/monitoring)"
SCANNER_UA = "Mozilla/5.0 zgrab/0.x"


def client_ips(rng: random.Random, n: int) -> list[str]:
    firsts = [24, 47, 73, 81, 98, 104, 136, 174, 185, 203]
    return [f"{rng.choice(firsts)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}" for _ in range(n)]


def uvicorn_started(rng: random.Random, t: datetime, where: Where, *, complete: bool = True) -> list[dict]:
    """uvicorn's own startup lines (stderr, no severity)."""
    out = [
        text_entry(rng, t, where, "INFO:     Started server process [1]"),
        text_entry(rng, t + ms(0.6), where, "INFO:     Waiting for application startup."),
    ]
    if complete:
        out += [
            text_entry(rng, t + ms(rng.uniform(40, 300)), where, "INFO:     Application startup complete."),
            text_entry(
                rng,
                t + ms(rng.uniform(301, 320)),
                where,
                "INFO:     Uvicorn running on http://0.0.0.0:8080 (Press CTRL+C to quit)",
            ),
        ]
    return out


def uvicorn_access(rng: random.Random, t: datetime, where: Where, method: str, path: str, status: int) -> dict:
    """uvicorn access log line on stdout (client address is the Cloud Run front end)."""
    phrase = {
        200: "OK",
        201: "Created",
        204: "No Content",
        304: "Not Modified",
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        422: "Unprocessable Entity",
        500: "Internal Server Error",
    }[status]
    addr = f"169.254.169.126:{rng.randint(30000, 60999)}"
    return text_entry(rng, t, where, f'INFO:     {addr} - "{method} {path} HTTP/1.1" {status} {phrase}', log="stdout")


def api_traffic(
    rng: random.Random,
    instances: Sequence[tuple[datetime, datetime, Where]],
    start: datetime,
    end: datetime,
    n: int,
    base_url: str,
    routes: Sequence[tuple[str, str, int, float]],
    *,
    access_logs: bool = True,
    status_picker=None,
) -> list[dict]:
    """``n`` requests spread over [start, end) served by whichever instance is up, with access lines.

    ``routes``: (method, path, typical response size, weight). ``instances``: (up_from, up_to, where).
    ``status_picker(rng, method, path) -> int`` defaults to 200.
    """
    out: list[dict] = []
    ips = client_ips(rng, 25)
    weights = [r[3] for r in routes]
    span = (end - start).total_seconds()
    for _ in range(n):
        t = start + secs(rng.uniform(0, span))
        up = [w for (a, b, w) in instances if a <= t < b]
        if not up:
            continue
        where = rng.choice(up)
        method, path, size, _w = rng.choices(routes, weights)[0]
        path = path.replace("{id}", hex_id(rng, 8))
        status = status_picker(rng, method, path) if status_picker else 200
        latency = rng.uniform(0.004, 0.09) if status < 500 else rng.uniform(0.05, 0.4)
        if access_logs:
            out.append(uvicorn_access(rng, t + secs(latency) - ms(1), where, method, path.split("?")[0], status))
        out.append(
            request_entry(
                rng,
                t,
                where,
                method,
                base_url + path,
                status,
                latency_s=latency,
                response_size=size + rng.randint(-40, 40) if status == 200 else 120,
                user_agent=rng.choice(["python-httpx/0.27.0", "Go-http-client/2.0", "axios/1.7.2"]),
                remote_ip=rng.choice(ips),
            )
        )
    return out


# --------------------------------------------------------------------------------------------------
# main sample: netra-staging, 2025-09-05
# --------------------------------------------------------------------------------------------------

DAY = datetime(2025, 9, 5, tzinfo=UTC)
AUTH = "netra-auth-service"
BACKEND = "netra-backend-staging"
FRONTEND = "netra-frontend-staging"
REGISTRY = f"us-central1-docker.pkg.dev/{PROJECT}/netra-containers"
VPC = f"projects/{PROJECT}/locations/{LOCATION}/connectors/staging-connector"

AUTH_REVS = {41: f"{AUTH}-00041-7dn", 42: f"{AUTH}-00042-fq2", 43: f"{AUTH}-00043-x8w", 44: f"{AUTH}-00044-b4c"}
BACKEND_REV = f"{BACKEND}-00087-z5m"
FRONTEND_REV = f"{FRONTEND}-00023-kqv"

COMMITS = {
    AUTH_REVS[41]: "2c9b0e4a17f35d8e6b1c0a9f4e7d2b5c8a3f6e10",
    AUTH_REVS[42]: "e4d3c9c62a7b1f0e5d8c3b6a9f2e4d7c1b0a5e8f",  # fix: lazy Redis init
    AUTH_REVS[43]: "13dfd91be4c2a8e6f0b3d7a1c5e9f2b8d4a6c0e3",  # fix: DatabaseURLBuilder
    BACKEND_REV: "8f1e3a5c7b9d0e2f4a6c8b1d3e5f7a9c0b2d4e6f",
    FRONTEND_REV: "5d7f9b1c3e5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e",
}
BUILDS = {
    AUTH_REVS[41]: "b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    AUTH_REVS[42]: "c7e2a9f1-3b4d-4e5f-9a6b-7c8d9e0f1a2b",
    AUTH_REVS[43]: "d1a4b7c0-2e3f-4a5b-8c6d-9e0f1a2b3c4d",
    BACKEND_REV: "a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c6d",
    FRONTEND_REV: "f0e1d2c3-b4a5-4968-8776-5a4b3c2d1e0f",
}

POSTGRES_SECRETS = {
    "POSTGRES_HOST": "postgres-host-staging",
    "POSTGRES_PORT": "postgres-port-staging",
    "POSTGRES_DB": "postgres-db-staging",
    "POSTGRES_USER": "postgres-user-staging",
    "POSTGRES_PASSWORD": "postgres-password-staging",
}
AUTH_SECRETS_OLD = {
    "JWT_SECRET_KEY": "jwt-secret-key-staging",
    "REDIS_URL": "redis-url-staging",
    "SECRET_KEY": "secret-key-staging",
}
AUTH_SECRETS_NEW = {
    "JWT_SECRET_KEY": "jwt-secret-key-staging",
    **POSTGRES_SECRETS,
    "REDIS_URL": "redis-url-staging",
    "SECRET_KEY": "secret-key-staging",
}
BACKEND_SECRETS = {
    "JWT_SECRET_KEY": "jwt-secret-key-staging",
    **POSTGRES_SECRETS,
    "REDIS_URL": "redis-url-staging",
    "SECRET_KEY": "secret-key-staging",
}
FRONTEND_SECRETS = {"SECRET_KEY": "secret-key-staging", "REDIS_URL": "redis-url-staging"}

PLANTED_DSN = "postgresql://netra:S3cr3tPass@10.107.0.3:5432/netra"  # secret planted for redaction tests


def deploy(
    rng: random.Random,
    when: datetime,
    service: str,
    rev: str,
    *,
    container: str,
    image: str,
    secrets: dict[str, str],
    env: dict[str, str],
    previous_ready: str,
    generation: int,
    cloud_build: bool = True,
    principal: str = "",
    user_agent: str = "",
) -> dict:
    return audit_deploy(
        rng,
        when,
        service,
        rev,
        image=image,
        container=container,
        secrets=secrets,
        env=env,
        commit_sha=COMMITS.get(rev, "") if cloud_build else "",
        build_id=BUILDS.get(rev, "") if cloud_build else "",
        previous_ready=previous_ready,
        generation=generation,
        vpc_connector=VPC,
        principal=principal,
        user_agent=user_agent,
    )


def auth_attempt(rng: random.Random, t: datetime, where: Where, reason: str, kind: str) -> list[dict]:
    """One auth instance start that dies at import time (kind: redis, dburl, secret)."""
    out = [instance_start(rng, t, where, reason)]
    t += secs(rng.uniform(1.2, 2.4))
    out.append(
        json_entry(
            rng,
            t,
            where,
            f"Auth service starting (environment=staging, revision={where.revision})",
            logger="auth_service.main",
        )
    )
    t += ms(rng.uniform(20, 60))
    if kind == "redis":
        out.append(
            json_entry(
                rng,
                t,
                where,
                "REDIS_URL not available at import time; AuthRedisManager falling back to redis://localhost:6379/0",
                severity="WARNING",
                logger="auth_service.redis_manager",
            )
        )
        t += ms(rng.uniform(3, 9))
        lines = redis_import_traceback()
    else:
        out.append(
            json_entry(
                rng,
                t,
                where,
                "AuthRedisManager created (lazy init; connects on first use)",
                logger="auth_service.redis_manager",
            )
        )
        t += ms(rng.uniform(5, 20))
        if kind == "dburl":
            lines = database_url_traceback()
        else:
            out.append(
                json_entry(
                    rng,
                    t,
                    where,
                    "Database URL built from POSTGRES_* components via "
                    "DatabaseURLBuilder (host=10.107.0.3, port=5432, db=netra_auth)",
                    logger="auth_service.auth_core.database.connection",
                )
            )
            t += ms(rng.uniform(5, 20))
            out.append(
                json_entry(
                    rng,
                    t,
                    where,
                    "SECRET_KEY validation failed for environment 'staging': value is empty (length 0, minimum 32)",
                    severity="CRITICAL",
                    logger="auth_service.auth_core.config",
                )
            )
            t += ms(rng.uniform(1, 4))
            lines = secret_key_traceback()
    out += traceback_entries(rng, t, where, lines, split=False)
    t += ms(rng.uniform(250, 700))
    out.append(container_exit(rng, t, where, 1))
    t += ms(rng.uniform(80, 300))
    out.append(probe_failed(rng, t, where, "auth-service-1"))
    return out


def auth_section(rng: random.Random) -> list[dict]:
    out: list[dict] = []
    image = f"{REGISTRY}/auth-service"
    env = {"ENVIRONMENT": "staging", "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"}
    plan = [  # (rev number, deploy time, kind, secrets)
        (41, DAY.replace(hour=9, minute=18, second=44, microsecond=217_306), "redis", AUTH_SECRETS_OLD),
        (42, DAY.replace(hour=10, minute=2, second=17, microsecond=904_551), "dburl", AUTH_SECRETS_OLD),
        (43, DAY.replace(hour=10, minute=57, second=38, microsecond=45_102), "secret", AUTH_SECRETS_NEW),
    ]
    for num, t0, kind, secrets in plan:
        rev = AUTH_REVS[num]
        out.append(
            deploy(
                rng,
                t0,
                AUTH,
                rev,
                container="auth-service-1",
                image=f"{image}:{COMMITS[rev]}",
                secrets=secrets,
                env=env,
                previous_ready="",
                generation=num,
            )
        )
        t = t0 + secs(rng.uniform(7, 11))
        for _attempt in range(3):
            where = Where(AUTH, rev, instance_id(rng))
            ents = auth_attempt(rng, t, where, "DEPLOYMENT_ROLLOUT", kind)
            out += ents
            t = end_of(ents) + secs(rng.uniform(25, 40))
        out.append(audit_ready(rng, t + secs(rng.uniform(5, 15)), Where(AUTH, rev), False))
    # 00044: manual secret update at the very end of the window; still deploying.
    rev = AUTH_REVS[44]
    t0 = DAY.replace(hour=12, minute=37, second=2, microsecond=118_774)
    out.append(
        deploy(
            rng,
            t0,
            AUTH,
            rev,
            container="auth-service-1",
            image=f"{image}:{COMMITS[AUTH_REVS[43]]}",
            secrets=AUTH_SECRETS_NEW,
            env=env,
            previous_ready="",
            generation=44,
            cloud_build=False,
            principal="anthony.chaudhary@netrasystems.ai",
            user_agent="google-cloud-sdk gcloud/486.0.0 command/gcloud.run.services.update "
            "invocation-id/0c8f5a2e9d1b4c7a8e3f6b2d9a0c5e1f environment/None "
            "environment-version/None client-os/MACOSX client-os-ver/24.6.0 "
            "client-pltf-arch/arm interactive/True from-script/False python/3.12.4 "
            "term/xterm-256color (Macintosh; Intel Mac OS X 24.6.0),gzip(gfe)",
        )
    )
    where = Where(AUTH, rev, instance_id(rng))
    t = t0 + secs(8.37)
    out.append(instance_start(rng, t, where, "DEPLOYMENT_ROLLOUT"))
    t += secs(1.84)
    out.append(
        json_entry(
            rng, t, where, f"Auth service starting (environment=staging, revision={rev})", logger="auth_service.main"
        )
    )
    out.append(
        json_entry(
            rng,
            t + ms(31.2),
            where,
            "AuthRedisManager created (lazy init; connects on first use)",
            logger="auth_service.redis_manager",
        )
    )
    out.append(
        json_entry(
            rng,
            t + ms(44.9),
            where,
            "Database URL built from POSTGRES_* components via "
            "DatabaseURLBuilder (host=10.107.0.3, port=5432, db=netra_auth)",
            logger="auth_service.auth_core.database.connection",
        )
    )
    out.append(
        json_entry(
            rng,
            t + ms(52.6),
            where,
            "Loading configuration for environment: staging",
            logger="auth_service.auth_core.config",
        )
    )
    return out


BACKEND_SECRET_NAMES = ", ".join(BACKEND_SECRETS)


def backend_attempt(rng: random.Random, t: datetime, where: Where, reason: str, split: bool) -> list[dict]:
    """One backend instance start: FastAPI lifespan cannot reach PostgreSQL -> exit(3)."""
    out = [instance_start(rng, t, where, reason)]
    t += secs(rng.uniform(2.0, 3.5))
    out.append(
        json_entry(
            rng, t, where, "Loading configuration for environment: staging", logger="netra_backend.app.core.config"
        )
    )
    t += ms(rng.uniform(10, 40))
    out.append(
        json_entry(
            rng,
            t,
            where,
            f"Secrets loaded from environment: {BACKEND_SECRET_NAMES}",
            logger="netra_backend.app.core.config",
        )
    )
    t += ms(rng.uniform(400, 900))
    out += uvicorn_started(rng, t, where, complete=False)
    t += ms(rng.uniform(5, 15))
    out.append(
        json_entry(
            rng,
            t,
            where,
            "Initializing PostgreSQL connection pool (host=10.107.0.3 port=5432 database=netra pool_size=10)",
            logger="netra_backend.app.db.postgres",
        )
    )
    t += ms(rng.uniform(3, 12))
    # PLANTED SECRET: DSN with password inside an ERROR line (redaction test).
    out.append(
        json_entry(
            rng,
            t,
            where,
            f"Database connection failed for {PLANTED_DSN}: [Errno 111] Connect call failed ('10.107.0.3', 5432)",
            severity="ERROR",
            logger="netra_backend.app.db.postgres",
        )
    )
    t += ms(rng.uniform(1, 3))
    tb = traceback_entries(rng, t, where, lifespan_db_traceback(), split=split, prefix="ERROR:    ")
    out += tb
    t = end_of(tb) + ms(rng.uniform(2, 8))
    out.append(text_entry(rng, t, where, "ERROR:    Application startup failed. Exiting."))
    t += ms(rng.uniform(200, 600))
    out.append(container_exit(rng, t, where, 3))
    t += ms(rng.uniform(60, 250))
    out.append(probe_failed(rng, t, where, "backend-1"))
    return out


BACKEND_PATHS = ["/api/threads", "/api/user/me", "/api/agents/status", "/health", "/api/threads?limit=20"]


def backend_section(rng: random.Random) -> list[dict]:
    out: list[dict] = []
    t0 = DAY.replace(hour=8, minute=31, second=5, microsecond=412_880)
    env = {"ENVIRONMENT": "staging", "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1", "WORKERS": "1"}
    out.append(
        deploy(
            rng,
            t0,
            BACKEND,
            BACKEND_REV,
            container="backend-1",
            image=f"{REGISTRY}/backend:{COMMITS[BACKEND_REV]}",
            secrets=BACKEND_SECRETS,
            env=env,
            previous_ready="",
            generation=87,
        )
    )
    url = service_url(BACKEND)
    ips = client_ips(rng, 12)
    t = t0 + secs(rng.uniform(8, 10))
    autoscale_times = [
        DAY.replace(hour=h, minute=m, second=s)
        for h, m, s in [(8, 58, 13), (9, 27, 40), (9, 55, 2), (10, 31, 47), (11, 6, 20), (11, 44, 55), (12, 19, 31)]
    ]
    for i in range(10):
        where = Where(BACKEND, BACKEND_REV, instance_id(rng))
        split = i % 2 == 0
        if i < 3:
            ents = backend_attempt(rng, t, where, "DEPLOYMENT_ROLLOUT", split)
            out += ents
            t = end_of(ents) + secs(rng.uniform(25, 40))
            if i == 2:
                out.append(
                    audit_ready(rng, end_of(ents) + secs(rng.uniform(6, 12)), Where(BACKEND, BACKEND_REV), False)
                )
            continue
        start = autoscale_times[i - 3] + ms(rng.uniform(0, 999))
        # Requests that triggered the cold start wait for it, then fail.
        ents = backend_attempt(rng, start + ms(rng.uniform(80, 400)), where, "AUTOSCALING", split)
        out += ents
        done = end_of(ents)
        for _ in range(rng.randint(2, 4)):
            arrive = start + ms(rng.uniform(0, 1500))
            fail_at = done + ms(rng.uniform(5, 60))
            out.append(
                request_entry(
                    rng,
                    arrive,
                    Where(BACKEND, BACKEND_REV),
                    "GET",
                    url + rng.choice(BACKEND_PATHS),
                    500,
                    latency_s=(fail_at - arrive).total_seconds(),
                    response_size=0,
                    user_agent=rng.choice(BROWSER_UAS),
                    remote_ip=rng.choice(ips),
                    text=COULD_NOT_START,
                )
            )
        if rng.random() < 0.6:
            arrive = done + secs(rng.uniform(2, 20))
            out.append(
                request_entry(
                    rng,
                    arrive,
                    Where(BACKEND, BACKEND_REV),
                    "GET",
                    url + "/api/threads",
                    503,
                    latency_s=rng.uniform(0.002, 0.01),
                    response_size=0,
                    user_agent=rng.choice(BROWSER_UAS),
                    remote_ip=rng.choice(ips),
                    text=MALFORMED,
                )
            )
    return out


FRONTEND_ASSETS = [
    ("/_next/static/chunks/webpack-8a1f4e2c9b7d3a65.js", 3_812),
    ("/_next/static/chunks/main-app-3f9c2a1b7e4d6c80.js", 486),
    ("/_next/static/chunks/framework-f66176bb897dc684.js", 45_214),
    ("/_next/static/chunks/app/layout-2b7e9d4c1a3f8e60.js", 18_630),
    ("/_next/static/chunks/app/chat/page-9c4b2e7f1a8d3e05.js", 61_877),
    ("/_next/static/css/7c3e1a9f5b2d8e46.css", 14_903),
    ("/_next/static/media/inter-latin.3a8b2c1d.woff2", 48_256),
]
FRONTEND_PAGES = [
    ("/", 21_480, 5),
    ("/chat", 24_102, 6),
    ("/dashboard", 19_877, 3),
    ("/login", 9_330, 2),
    ("/settings", 12_045, 1),
]


def frontend_instance_boot(rng: random.Random, t: datetime, where: Where, reason: str) -> list[dict]:
    out = [instance_start(rng, t, where, reason)]
    t += secs(rng.uniform(0.8, 1.4))
    for i, line in enumerate(
        [
            "  ▲ Next.js 14.2.5",
            "  - Local:        http://localhost:8080",
            "  - Network:      http://0.0.0.0:8080",
            " ✓ Starting...",
        ]
    ):
        out.append(text_entry(rng, t + ms(i * 1.3), where, line, log="stdout"))
    t += ms(rng.uniform(330, 480))
    out.append(text_entry(rng, t, where, f" ✓ Ready in {rng.randint(340, 470)}ms", log="stdout"))
    t += ms(rng.uniform(30, 90))
    out.append(probe_succeeded(rng, t, where, "frontend-1"))
    t += ms(rng.uniform(150, 400))
    # Mentions SECRET_KEY but nothing fails.
    out.append(
        json_entry(
            rng,
            t,
            where,
            "SECRET_KEY loaded from Secret Manager (secret-key-staging, version "
            "latest); NEXTAUTH_SECRET not set, using SECRET_KEY for session signing",
            severity="WARNING",
            component="config",
        )
    )
    t += ms(rng.uniform(40, 120))
    out.append(
        json_entry(rng, t, where, "Connected to Redis at 10.107.0.4:6379 (db=2, session cache)", component="cache")
    )
    t += ms(rng.uniform(20, 60))
    # Retry, then success: not an incident.
    out.append(
        json_entry(
            rng,
            t,
            where,
            "Postgres connection attempt 1/5 failed: connect ECONNREFUSED 10.107.0.8:5432; retrying in 2000ms",
            severity="WARNING",
            component="db",
        )
    )
    t += ms(rng.uniform(2010, 2090))
    out.append(
        json_entry(
            rng,
            t,
            where,
            "Postgres connection established after 2 attempts (host=10.107.0.8 db=netra_frontend pool=5)",
            component="db",
        )
    )
    return out


def frontend_chatter(rng: random.Random, t: datetime, where: Where, *, bearer: bool = False) -> dict:
    if bearer:
        # PLANTED SECRET: a JWT after "Bearer " in a DEBUG line (redaction test).
        token = fake_jwt(rng, f"usr_{hex_id(rng, 6)}", 1757070000 + rng.randint(0, 40000))
        return json_entry(
            rng,
            t,
            where,
            f"Forwarding request to backend GET /api/threads with headers "
            f'{{"authorization": "Bearer {token}", "x-request-id": "{_uuid(rng)}"}}',
            severity="DEBUG",
            component="proxy",
        )
    kind = rng.choices(["session", "render", "cache", "prefs", "flag", "backend"], [30, 25, 8, 6, 4, 12])[0]
    if kind == "session":
        return json_entry(
            rng, t, where, f"Session validated for user usr_{hex_id(rng, 6)} (provider=google)", component="auth"
        )
    if kind == "render":
        page, title = rng.choice(
            [("/dashboard", "Übersicht"), ("/chat", "Unterhaltungen"), ("/settings", "Paramètres"), ("/", "ホーム")]
        )
        return json_entry(
            rng,
            t,
            where,
            f'Rendered "{page}" in {rng.randint(18, 240)}ms (locale='
            f'{rng.choice(["de-DE", "fr-FR", "ja-JP", "en-US"])}, title="{title}")',
            component="render",
        )
    if kind == "cache":
        return json_entry(
            rng,
            t,
            where,
            f"Cache stats: hit_ratio=0.{rng.randint(86, 97)} entries={rng.randint(300, 520)} evictions=0",
            component="cache",
        )
    if kind == "prefs":
        name = rng.choice(["José Álvarez", "Zoë Müller", "Łukasz Wójcik", "Ana O'Brien"])
        return json_entry(
            rng,
            t,
            where,
            f'User "{name}" updated preferences {{"theme": "dark", "lang": "{rng.choice(["es", "de", "pl", "en"])}"}}',
            component="settings",
        )
    if kind == "flag":
        return json_entry(
            rng, t, where, 'Feature flag "chat_v2" evaluated: enabled for 25% of users', component="flags"
        )
    if t < DAY.replace(hour=8, minute=31):
        return json_entry(rng, t, where, "Backend health probe ok (GET /health 200 in 41ms)", component="proxy")
    return json_entry(
        rng,
        t,
        where,
        "Backend request failed: GET /api/threads returned 500; serving cached threads",
        severity="WARNING",
        component="proxy",
    )


def frontend_section(rng: random.Random) -> list[dict]:
    out: list[dict] = []
    t0 = DAY.replace(hour=8, minute=4, second=12, microsecond=318_442)
    env = {
        "NODE_ENV": "production",
        "NEXT_PUBLIC_API_URL": service_url(BACKEND),
        "NEXT_PUBLIC_AUTH_URL": service_url(AUTH),
        "PORT": "8080",
    }
    out.append(
        deploy(
            rng,
            t0,
            FRONTEND,
            FRONTEND_REV,
            container="frontend-1",
            image=f"{REGISTRY}/frontend:{COMMITS[FRONTEND_REV]}",
            secrets=FRONTEND_SECRETS,
            env=env,
            previous_ready=f"{FRONTEND}-00022-h3s",
            generation=23,
        )
    )
    rev = Where(FRONTEND, FRONTEND_REV)
    instances = []  # (up_from, up_to, where)
    end = DAY.replace(hour=12, minute=36, second=30)
    for start, reason in [
        (t0 + secs(7.2), "DEPLOYMENT_ROLLOUT"),
        (DAY.replace(hour=9, minute=41, second=7, microsecond=503_112), "AUTOSCALING"),
        (DAY.replace(hour=11, minute=12, second=44, microsecond=88_310), "AUTOSCALING"),
    ]:
        where = rev.on(instance_id(rng))
        ents = frontend_instance_boot(rng, start, where, reason)
        out += ents
        instances.append((end_of(ents) - secs(2.2), end, where))
    out.append(audit_ready(rng, t0 + secs(19.6), rev, True))
    traffic_start = instances[0][0] + secs(3)
    span = (end - traffic_start).total_seconds()

    def up(t: datetime) -> list[Where]:
        return [w for (a, b, w) in instances if a <= t < b]

    url = service_url(FRONTEND)
    ips = client_ips(rng, 40)
    # Browser visits: a page, its assets (200 or 304), a session call.
    for _ in range(168):
        t = traffic_start + secs(rng.uniform(0, span))
        where = rng.choice(up(t))
        ip, ua = rng.choice(ips), rng.choice(BROWSER_UAS)
        page, size, _w = rng.choices(FRONTEND_PAGES, [p[2] for p in FRONTEND_PAGES])[0]
        out.append(
            request_entry(
                rng,
                t,
                where,
                "GET",
                url + page,
                200,
                latency_s=rng.uniform(0.02, 0.35),
                response_size=size + rng.randint(-200, 200),
                user_agent=ua,
                remote_ip=ip,
                protocol="HTTP/2",
            )
        )
        cached = rng.random() < 0.35
        for asset, asize in rng.sample(FRONTEND_ASSETS, rng.randint(3, 5)):
            t += ms(rng.uniform(15, 120))
            status = 304 if cached else 200
            out.append(
                request_entry(
                    rng,
                    t,
                    where,
                    "GET",
                    url + asset,
                    status,
                    latency_s=rng.uniform(0.002, 0.03),
                    response_size=0 if status == 304 else asize,
                    user_agent=ua,
                    remote_ip=ip,
                    protocol="HTTP/2",
                )
            )
        t += ms(rng.uniform(50, 400))
        out.append(
            request_entry(
                rng,
                t,
                where,
                "GET",
                url + "/api/auth/session",
                200,
                latency_s=rng.uniform(0.01, 0.08),
                response_size=rng.randint(180, 420),
                user_agent=ua,
                remote_ip=ip,
                protocol="HTTP/2",
            )
        )
    # Uptime checks every 5 minutes.
    t = traffic_start + secs(17.4)
    while t < end:
        where = rng.choice(up(t))
        out.append(
            request_entry(
                rng,
                t,
                where,
                "GET",
                url + "/api/health",
                200,
                latency_s=rng.uniform(0.003, 0.02),
                response_size=rng.randint(48, 52),
                user_agent=UPTIME_UA,
                remote_ip=f"35.{rng.choice([186, 187, 199])}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            )
        )
        t += secs(300 + rng.uniform(-0.5, 0.5))
    # Scanners and stray requests: 404s.
    for path in [
        "/wp-login.php",
        "/.env",
        "/robots.txt",
        "/admin/.git/config",
        "/favicon.ico.bak",
        "/api/v1/../../etc/passwd",
        "/xmlrpc.php",
    ]:
        t = traffic_start + secs(rng.uniform(0, span))
        out.append(
            request_entry(
                rng,
                t,
                rng.choice(up(t)),
                "GET",
                url + path,
                404,
                latency_s=rng.uniform(0.005, 0.03),
                response_size=rng.randint(2300, 2500),
                user_agent=SCANNER_UA,
                remote_ip=client_ips(rng, 1)[0],
            )
        )
    # App chatter.
    bearer_at = {37, 141}
    for i in range(210):
        t = traffic_start + secs(rng.uniform(0, span))
        out.append(frontend_chatter(rng, t, rng.choice(up(t)), bearer=i in bearer_at))
    return out


def main_sample() -> list[dict]:
    return [
        *frontend_section(random.Random(2025_09_05_1)),
        *backend_section(random.Random(2025_09_05_2)),
        *auth_section(random.Random(2025_09_05_3)),
    ]


# --------------------------------------------------------------------------------------------------
# scenario files (project acme-shop-prod)
# --------------------------------------------------------------------------------------------------

SCENARIO_PROJECT = "acme-shop-prod"
SCENARIO_HASH = "q7x2k4m9za"
SC_REGISTRY = f"us-central1-docker.pkg.dev/{SCENARIO_PROJECT}/services"


def sc_where(service: str, rev: str = "", instance: str = "") -> Where:
    return Where(service, rev, instance, project=SCENARIO_PROJECT)


def sc_deploy(
    rng: random.Random,
    when: datetime,
    service: str,
    rev: str,
    *,
    container: str,
    secrets: dict[str, str],
    env: dict[str, str],
    previous_ready: str,
    generation: int,
    commit_sha: str,
) -> dict:
    return audit_deploy(
        rng,
        when,
        service,
        rev,
        image=f"{SC_REGISTRY}/{service}:{commit_sha}",
        container=container,
        secrets=secrets,
        env=env,
        commit_sha=commit_sha,
        build_id=_uuid(rng),
        previous_ready=previous_ready,
        generation=generation,
        project=SCENARIO_PROJECT,
        principal="318220440917@cloudbuild.gserviceaccount.com",
    )


def healthy_boot(
    rng: random.Random, t: datetime, where: Where, container: str, reason: str, chatter: Sequence[str] = ()
) -> list[dict]:
    """Instance start -> app INFO lines -> uvicorn startup complete -> probe succeeded."""
    out = [instance_start(rng, t, where, reason)]
    t += secs(rng.uniform(1.5, 2.5))
    for msg in chatter:
        out.append(json_entry(rng, t, where, msg, logger="app"))
        t += ms(rng.uniform(5, 40))
    ents = uvicorn_started(rng, t, where)
    out += ents
    out.append(probe_succeeded(rng, end_of(ents) + ms(rng.uniform(20, 80)), where, container))
    return out


def failed_import_boot(
    rng: random.Random,
    t: datetime,
    where: Where,
    container: str,
    reason: str,
    lines: Sequence[str],
    chatter: Sequence[str] = (),
) -> list[dict]:
    """Instance start -> traceback at import (one entry) -> exit(1) -> startup probe failed."""
    out = [instance_start(rng, t, where, reason)]
    t += secs(rng.uniform(1.2, 2.2))
    for msg in chatter:
        out.append(json_entry(rng, t, where, msg, logger="app"))
        t += ms(rng.uniform(5, 40))
    out += traceback_entries(rng, t, where, lines)
    t += ms(rng.uniform(250, 700))
    out.append(container_exit(rng, t, where, 1))
    out.append(probe_failed(rng, t + ms(rng.uniform(80, 300)), where, container))
    return out


def gunicorn_db_boot(rng: random.Random, t: datetime, where: Where, reason: str, host: str) -> list[dict]:
    """gunicorn + UvicornWorker; the app connects to PostgreSQL at import; worker fails to boot; exit(3)."""

    def g(when: datetime, pid: int, level: str, msg: str) -> dict:
        return text_entry(rng, when, where, f"[{when.strftime('%Y-%m-%d %H:%M:%S')} +0000] [{pid}] [{level}] {msg}")

    out = [instance_start(rng, t, where, reason)]
    t += secs(rng.uniform(1.0, 1.8))
    out.append(g(t, 1, "INFO", "Starting gunicorn 22.0.0"))
    out.append(g(t + ms(1.1), 1, "INFO", "Listening at: http://0.0.0.0:8080 (1)"))
    out.append(g(t + ms(1.4), 1, "INFO", "Using worker: uvicorn.workers.UvicornWorker"))
    out.append(g(t + ms(3.9), 7, "INFO", "Booting worker with pid: 7"))
    t += ms(rng.uniform(600, 900))
    lines = gunicorn_import_db_traceback(host, "orders", "orders")
    out += traceback_entries(
        rng,
        t,
        where,
        lines,
        prefix=f"[{t.strftime('%Y-%m-%d %H:%M:%S')} +0000] [7] [ERROR] Exception in worker process\n",
    )
    t += ms(rng.uniform(2, 6))
    out.append(g(t, 7, "INFO", "Worker exiting (pid: 7)"))
    t += ms(rng.uniform(80, 140))
    out.append(g(t, 1, "ERROR", "Worker (pid:7) exited with code 3"))
    out.append(g(t + ms(0.9), 1, "ERROR", "Shutting down: Master"))
    out.append(g(t + ms(1.2), 1, "ERROR", "Reason: Worker failed to boot."))
    t += ms(rng.uniform(200, 500))
    out.append(container_exit(rng, t, where, 3))
    out.append(probe_failed(rng, t + ms(rng.uniform(60, 250)), where, "orders-api-1"))
    return out


def scenario_crash_loop_db() -> list[dict]:
    """orders-api rev 00012: import-time PostgreSQL connect refused -> worker failed to boot -> exit(3), x10."""
    rng = random.Random(7101)
    svc = "orders-api"
    rev = f"{svc}-00012-q2w"
    t0 = datetime(2025, 9, 10, 14, 0, 3, 511_208, tzinfo=UTC)
    out = [
        sc_deploy(
            rng,
            t0,
            svc,
            rev,
            container="orders-api-1",
            secrets={"DB_PASSWORD": "orders-db-password"},
            env={"DB_HOST": "10.20.0.5", "DB_NAME": "orders", "DB_USER": "orders"},
            previous_ready=f"{svc}-00011-m8d",
            generation=12,
            commit_sha="41c7d0e2b9a85f3e6c1d4b7a0e9f2c5d8b1a4e7f",
        )
    ]
    url = service_url(svc, SCENARIO_HASH)
    t = t0 + secs(8.6)
    for i in range(10):
        where = sc_where(svc, rev, instance_id(rng))
        reason = "DEPLOYMENT_ROLLOUT" if i < 3 else "AUTOSCALING"
        ents = gunicorn_db_boot(rng, t, where, reason, "10.20.0.5")
        out += ents
        done = end_of(ents)
        if i == 2:
            out.append(audit_ready(rng, done + secs(9.3), sc_where(svc, rev), False))
        if i >= 3:
            for _ in range(rng.randint(2, 4)):
                arrive = t + ms(rng.uniform(-300, 900))
                out.append(
                    request_entry(
                        rng,
                        arrive,
                        sc_where(svc, rev),
                        rng.choice(["GET", "POST"]),
                        url + rng.choice(["/v1/orders", "/v1/orders/recent", "/healthz"]),
                        500,
                        latency_s=(done - arrive).total_seconds() + 0.02,
                        response_size=0,
                        user_agent="python-httpx/0.27.0",
                        remote_ip="10.8.0.14",
                        text=COULD_NOT_START,
                    )
                )
        t = done + secs(rng.uniform(30, 45) if i < 3 else rng.uniform(90, 240))
    return out


BILLING_FRAMES = [
    *frame("/app/billing/main.py", 9, "<module>", "from billing.cache import cache"),
    *frame(
        "/app/billing/cache.py",
        41,
        "<module>",
        'cache = RedisCache(os.getenv("REDIS_URL", "redis://localhost:6379/0"))',
        'RedisCache(os.getenv("REDIS_URL", "redis://localhost:6379/0"))',
    ),
    *frame("/app/billing/cache.py", 18, "__init__", "self._client.ping()"),
]


def scenario_regression() -> list[dict]:
    """billing-api: 00005 fails (Redis refused at import), 00006 fixed and serving, 00007 fails the same way."""
    rng = random.Random(7102)
    svc = "billing-api"
    revs = {5: f"{svc}-00005-d4k", 6: f"{svc}-00006-p9r", 7: f"{svc}-00007-w2c"}
    shas = {
        5: "0a3c5e7f9b1d2f4a6c8e0b2d4f6a8c1e3b5d7f9a",
        6: "6e8a0c2e4b6d8f1a3c5e7b9d1f3a5c7e9b2d4f6a",
        7: "c2e4a6b8d0f1a3c5e7f9b1d3a5c7e9f0b2d4f6a8",
    }
    url = service_url(svc, SCENARIO_HASH)
    env = {"APP_ENV": "production"}
    out: list[dict] = []
    day = datetime(2025, 9, 11, tzinfo=UTC)
    routes = [
        ("GET", "/v1/invoices", 2_400, 5),
        ("GET", "/v1/invoices/inv_{id}", 900, 4),
        ("POST", "/v1/invoices", 640, 2),
        ("GET", "/healthz", 15, 3),
    ]

    def failing(num: int, t0: datetime, prev: str, secrets: dict[str, str]) -> None:
        rev = revs[num]
        out.append(
            sc_deploy(
                rng,
                t0,
                svc,
                rev,
                container="billing-api-1",
                secrets=secrets,
                env=env,
                previous_ready=prev,
                generation=num,
                commit_sha=shas[num],
            )
        )
        t = t0 + secs(9.1)
        for _ in range(3):
            where = sc_where(svc, rev, instance_id(rng))
            ents = failed_import_boot(
                rng,
                t,
                where,
                "billing-api-1",
                "DEPLOYMENT_ROLLOUT",
                redis_import_traceback(app_frames=BILLING_FRAMES),
                chatter=["billing-api starting (env=production)"],
            )
            out.extend(ents)
            t = end_of(ents) + secs(rng.uniform(25, 40))
        out.append(audit_ready(rng, t, sc_where(svc, rev), False))

    failing(5, day.replace(hour=9, minute=0, second=12, microsecond=402_113), "", {})
    # 00006: reads REDIS_URL from Secret Manager and connects lazily; healthy.
    t0 = day.replace(hour=9, minute=48, second=30, microsecond=117_540)
    rev6 = revs[6]
    out.append(
        sc_deploy(
            rng,
            t0,
            svc,
            rev6,
            container="billing-api-1",
            secrets={"REDIS_URL": "billing-redis-url"},
            env=env,
            previous_ready="",
            generation=6,
            commit_sha=shas[6],
        )
    )
    w1 = sc_where(svc, rev6, instance_id(rng))
    ents = healthy_boot(
        rng,
        t0 + secs(8.8),
        w1,
        "billing-api-1",
        "DEPLOYMENT_ROLLOUT",
        ["billing-api starting (env=production)", "Redis cache configured (lazy): redis://10.20.0.9:6379/1"],
    )
    out += ents
    out.append(audit_ready(rng, end_of(ents) + secs(4.2), sc_where(svc, rev6), True))
    w2 = sc_where(svc, rev6, instance_id(rng))
    t2 = day.replace(hour=11, minute=3, second=51, microsecond=660_001)
    out += healthy_boot(rng, t2, w2, "billing-api-1", "AUTOSCALING", ["billing-api starting (env=production)"])
    out.append(json_entry(rng, t2 + secs(40), w2, "Connected to Redis at 10.20.0.9:6379", logger="billing.cache"))
    end = day.replace(hour=13, minute=0)
    out += api_traffic(
        rng, [(end_of(ents), end, w1), (t2 + secs(3), end, w2)], end_of(ents) + secs(5), end, 150, url, routes
    )
    # 00007: a refactor reintroduces the import-time client without REDIS_URL; traffic stays on 00006.
    failing(7, day.replace(hour=12, minute=14, second=5, microsecond=88_902), rev6, {})
    return out


def scenario_healthy_unknown_error() -> list[dict]:
    """payments-webhooks: healthy and serving, with a recurring ERROR no catalog rule knows."""
    rng = random.Random(7103)
    svc = "payments-webhooks"
    rev = f"{svc}-00031-t6n"
    url = service_url(svc, SCENARIO_HASH)
    day = datetime(2025, 9, 12, tzinfo=UTC)
    start, end = day.replace(hour=10), day.replace(hour=14)
    w1 = sc_where(svc, rev, instance_id(rng))
    w2 = sc_where(svc, rev, instance_id(rng))
    t2 = day.replace(hour=11, minute=27, second=9, microsecond=311_000)
    out = healthy_boot(
        rng, t2, w2, "payments-webhooks-1", "AUTOSCALING", ["payments-webhooks starting (env=production)"]
    )
    instances = [(start, end, w1), (t2 + secs(3), end, w2)]
    merchants = [12345, 20871, 30422, 12345, 58110]
    out += api_traffic(
        rng, instances, start, end, 140, url, [("POST", "/webhooks/stripe", 2, 8), ("GET", "/healthz", 15, 2)]
    )
    span = (end - start).total_seconds()
    for _ in range(24):
        t = start + secs(rng.uniform(0, span))
        where = w1 if t < t2 or rng.random() < 0.5 else w2
        wid = hex_id(rng, 12)
        merchant = rng.choice(merchants)
        out.append(
            request_entry(
                rng,
                t,
                where,
                "POST",
                url + "/webhooks/stripe",
                400,
                latency_s=rng.uniform(0.004, 0.02),
                response_size=61,
                user_agent="Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                remote_ip=rng.choice(["3.18.12.63", "3.130.192.231", "13.235.14.237"]),
            )
        )
        out.append(
            json_entry(
                rng,
                t + ms(rng.uniform(2, 8)),
                where,
                f"payment webhook {wid} rejected: signature mismatch for merchant {merchant}",
                severity="ERROR",
                logger="payments.webhooks",
                merchant_id=merchant,
                webhook_id=wid,
            )
        )
        out.append(uvicorn_access(rng, t + ms(rng.uniform(9, 15)), where, "POST", "/webhooks/stripe", 400))
    for _ in range(40):
        t = start + secs(rng.uniform(0, span))
        where = w1 if t < t2 or rng.random() < 0.5 else w2
        out.append(
            json_entry(
                rng,
                t,
                where,
                f"payment webhook {hex_id(rng, 12)} processed: "
                f"{rng.choice(['invoice.paid', 'charge.succeeded', 'customer.updated'])} "
                f"for merchant {rng.choice(merchants)}",
                logger="payments.webhooks",
            )
        )
    return out


def scenario_deploy_ok() -> list[dict]:
    """catalog-api rev 00009: clean deploy, probe succeeded, Ready True, serving 200s."""
    rng = random.Random(7104)
    svc = "catalog-api"
    rev = f"{svc}-00009-h5j"
    url = service_url(svc, SCENARIO_HASH)
    t0 = datetime(2025, 9, 13, 15, 20, 41, 223_650, tzinfo=UTC)
    out = [
        sc_deploy(
            rng,
            t0,
            svc,
            rev,
            container="catalog-api-1",
            secrets={"DATABASE_URL": "catalog-database-url"},
            env={"APP_ENV": "production"},
            previous_ready=f"{svc}-00008-c1v",
            generation=9,
            commit_sha="9d1f3b5a7c9e0a2c4e6b8d0f2a4c6e8b0d2f4a6c",
        )
    ]
    where = sc_where(svc, rev, instance_id(rng))
    ents = healthy_boot(
        rng,
        t0 + secs(9.4),
        where,
        "catalog-api-1",
        "DEPLOYMENT_ROLLOUT",
        ["catalog-api starting (env=production)", "Connected to PostgreSQL (pool_size=5)"],
    )
    out += ents
    up = end_of(ents)
    out.append(audit_ready(rng, up + secs(3.8), sc_where(svc, rev), True))
    out += api_traffic(
        rng,
        [(up, up + secs(5400), where)],
        up + secs(6),
        up + secs(5400),
        130,
        url,
        [("GET", "/v1/products", 8_200, 5), ("GET", "/v1/products/{id}", 1_300, 6), ("GET", "/healthz", 15, 2)],
    )
    return out


def scenario_deploy_failed() -> list[dict]:
    """inventory-api: 00014 serving; deploy 00015 misses DATABASE_URL -> exit(1), probe failed, not Ready."""
    rng = random.Random(7105)
    svc = "inventory-api"
    old, new = f"{svc}-00014-r3e", f"{svc}-00015-n7g"
    url = service_url(svc, SCENARIO_HASH)
    day = datetime(2025, 9, 14, tzinfo=UTC)
    start, end = day.replace(hour=16), day.replace(hour=17, minute=30)
    w_old = sc_where(svc, old, instance_id(rng))
    out = api_traffic(
        rng,
        [(start, end, w_old)],
        start,
        end,
        110,
        url,
        [("GET", "/v1/stock/{id}", 420, 6), ("POST", "/v1/reservations", 310, 2), ("GET", "/healthz", 15, 2)],
    )
    t0 = day.replace(hour=16, minute=41, second=19, microsecond=704_233)
    out.append(
        sc_deploy(
            rng,
            t0,
            svc,
            new,
            container="inventory-api-1",
            secrets={},
            env={"APP_ENV": "production"},
            previous_ready=old,
            generation=15,
            commit_sha="f3a5c7e9b1d3f5a7c9e1b3d5f7a9c2e4b6d8f0a1",
        )
    )
    t = t0 + secs(8.9)
    lines = database_url_traceback("inventory", "from inventory.db import engine")
    for _ in range(3):
        where = sc_where(svc, new, instance_id(rng))
        ents = failed_import_boot(
            rng,
            t,
            where,
            "inventory-api-1",
            "DEPLOYMENT_ROLLOUT",
            lines,
            chatter=["inventory-api starting (env=production)"],
        )
        out += ents
        t = end_of(ents) + secs(rng.uniform(25, 40))
    out.append(audit_ready(rng, t, sc_where(svc, new), False))
    return out


SCENARIOS = {
    "crash-loop-db.jsonl": scenario_crash_loop_db,
    "regression.jsonl": scenario_regression,
    "healthy-unknown-error.jsonl": scenario_healthy_unknown_error,
    "deploy-ok.jsonl": scenario_deploy_ok,
    "deploy-failed.jsonl": scenario_deploy_failed,
}


def all_files() -> dict[str, list[dict]]:
    """Relative path -> entries (unsorted) for every bundled file."""
    files = {MAIN_SAMPLE: main_sample()}
    for name, build in SCENARIOS.items():
        files[f"scenarios/{name}"] = build()
    return files


def write_all(out_dir: Path = SAMPLES_DIR) -> dict[str, int]:
    """Write every sample under ``out_dir``; returns entry counts by relative path."""
    return {rel: write_jsonl(out_dir / rel, entries) for rel, entries in all_files().items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="output directory (default: samples/)")
    args = parser.parse_args(argv)
    for rel, n in write_all(args.out).items():
        print(f"{n:6d}  {args.out / rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
