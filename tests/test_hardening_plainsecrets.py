"""Secret-looking env vars set as literal values in a deploy's container spec are flagged ⚠️ in Required
Secrets Verification (move it to Secret Manager) by name only: the value reaches no output."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.output_producers import cli
from triage.analysis.deploys import plain_secret_envs

VALUE = "Lit3ralS3cretQ9"


def deploy(env: list[dict], *, v2: bool = False) -> dict:
    container = {"image": "gcr.io/p/app", "env": env}
    if v2:
        request = {"service": {"template": {"containers": [container]}}}
        method = "google.cloud.run.v2.Services.UpdateService"
    else:
        request = {"service": {"spec": {"template": {"spec": {"containers": [container]}}}}}
        method = "google.cloud.run.v1.Services.ReplaceService"
    return {
        "timestamp": "2025-09-05T10:00:00.000000Z",
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "shop", "location": "us-central1"}},
        "protoPayload": {"methodName": method, "resourceName": "namespaces/p/services/shop", "request": request},
    }


def test_literal_secret_names_are_found_and_refs_are_not() -> None:
    env = [
        {"name": "SECRET_KEY", "value": VALUE},
        {"name": "db_password", "value": VALUE},
        {"name": "GITHUB_TOKEN", "value": VALUE},
        {"name": "API_KEY", "value": VALUE},
        {"name": "STRIPE_APIKEY", "value": VALUE},
        {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis", "key": "latest"}}},
        {"name": "OTHER_TOKEN", "valueSource": {"secretKeyRef": {"secret": "other", "version": "1"}}},
        {"name": "EMPTY_PASSWORD", "value": ""},
        {"name": "TOKEN_URL", "value": "https://oauth2.googleapis.com/token"},
        {"name": "PASSWORD_MIN_LENGTH", "value": "12"},
        {"name": "PORT", "value": "8080"},
        {"name": "X" * 10_000 + "_TOKEN", "value": VALUE},  # no real env name: not looked at
        "not a mapping",
    ]
    found = sorted(set(plain_secret_envs(deploy(env)["protoPayload"])))
    assert found == ["API_KEY", "GITHUB_TOKEN", "SECRET_KEY", "STRIPE_APIKEY", "db_password"]


def test_deep_spec_is_bounded() -> None:
    node: dict = {"env": [{"name": "SECRET_KEY", "value": VALUE}]}
    for _ in range(5000):
        node = {"x": node}
    assert list(plain_secret_envs(node)) == []


def test_report_flags_plain_secrets_without_the_value(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    entries = [
        deploy([{"name": "SECRET_KEY", "value": VALUE}, {"name": "PORT", "value": "8080"}]),
        {**deploy([{"name": "DB_PASSWORD", "value": VALUE}], v2=True), "timestamp": "2025-09-05T10:05:00.000000Z"},
    ]
    logs.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in entries))
    code, md = cli(["report", str(logs)])
    assert code == 0, md
    section = md[md.index("### Required Secrets Verification") :].split("\n## ")[0]
    for env in ("SECRET_KEY", "DB_PASSWORD"):
        assert f"- ⚠️ {env} (" in section
    assert section.count("set in plain text in the deploy spec, move it to Secret Manager") == 2
    assert "PORT" not in section
    code, js = cli(["report", str(logs), "--format", "json"])
    plain = orjson.loads(js[js.index("{") :])["configuration"]["plain_secrets"]
    assert [p["env"] for p in plain] == ["DB_PASSWORD", "SECRET_KEY"]
    for fmt in ([], ["--format", "json"]):
        assert VALUE not in cli(["report", str(logs), *fmt])[1]
