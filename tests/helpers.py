"""Small LogEntry builders for unit tests (the realistic ones live in samples/make_samples.py)."""

from __future__ import annotations

from typing import Any

from samples.make_samples import log_name


def entry(
    ts: str,
    text: str | None = None,
    *,
    service: str = "api",
    revision: str = "api-00001-abc",
    log: str = "stderr",
    severity: str | None = None,
    status: int | None = None,
    instance: str = "inst-1",
    insert_id: str | None = None,
    proto: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    e: dict[str, Any] = {
        "timestamp": f"2025-09-05T{ts}Z" if "T" not in ts else ts,
        "logName": log_name("netra-staging", log),
        "resource": {
            "type": "cloud_run_revision",
            "labels": {
                "service_name": service,
                "revision_name": "" if proto else revision,
                "project_id": "netra-staging",
            },
        },
        "labels": {"instanceId": instance, **(labels or {})},
        "insertId": insert_id or f"{ts}-{service}-{abs(hash(text)) % 10**8}",
    }
    if text is not None:
        e["textPayload"] = text
    if severity:
        e["severity"] = severity
    if status is not None:
        e["httpRequest"] = {
            "status": status,
            "requestMethod": "GET",
            "requestUrl": f"https://{service}-x-uc.a.run.app/",
        }
    if proto is not None:
        e["protoPayload"] = proto
    return e


def deploy(ts: str, service: str, revision: str, commit: str = "", secrets: dict[str, str] | None = None) -> dict:
    env = [{"name": k, "valueFrom": {"secretKeyRef": {"name": v, "key": "latest"}}} for k, v in (secrets or {}).items()]
    proto = {
        "methodName": "google.cloud.run.v1.Services.ReplaceService",
        "resourceName": f"namespaces/netra-staging/services/{service}",
        "request": {"spec": {"template": {"metadata": {"name": revision}, "spec": {"containers": [{"env": env}]}}}},
    }
    return entry(
        ts,
        service=service,
        log="activity",
        proto=proto,
        severity="NOTICE",
        labels={"commit-sha": commit} if commit else None,
    )


def ready(ts: str, service: str, revision: str, ok: bool, message: str = "") -> dict:
    text = f"Ready condition status changed to {ok} for Revision {revision}"
    if message:
        text += f" with message: {message}"
    proto = {
        "methodName": "/Services.ReplaceService",
        "resourceName": f"namespaces/netra-staging/revisions/{revision}",
        "status": {"message": text},
    }
    return entry(ts, service=service, log="system_event", proto=proto, severity="INFO" if ok else "ERROR")
