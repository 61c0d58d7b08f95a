"""What a deploy or traffic-change audit entry says: the revision it created, the secrets its spec
references, where the service lives, and where traffic goes.

Cloud Run writes one admin-activity entry per CreateService / ReplaceService / UpdateService (v1 and v2
shapes), whether it created a revision (``gcloud run deploy``) or only moved traffic
(``gcloud run services update-traffic``: a rollback, a split, a tag). The request holds the spec the caller
asked for (``latestRevision: true`` or named revisions), the response the status at the moment of the call,
which for a deploy still shows the previous revision serving (the new one is not Ready yet). So the
request's traffic block wins; the response's is read only for an entry that created no revision (a traffic
change) and whose request has none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# A service spec is about ten levels deep; logs are untrusted, and the JSON parser allows ~1000 levels,
# which is past Python's recursion limit.
MAX_SPEC_DEPTH = 64
MAX_TARGETS = 32  # Cloud Run allows far fewer traffic targets; more is not a service spec


@dataclass(frozen=True)
class Target:
    """One traffic target: a named revision, or whatever the latest ready revision is (``latest``)."""

    revision: str
    percent: int
    tag: str = ""
    latest: bool = False


def get_path(d: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(key)
    return d


def _name(value: Any) -> str:
    return value.rsplit("/", 1)[-1] if isinstance(value, str) else ""


def deployed_revision(payload: Mapping[str, Any]) -> str:
    for path in (
        ("response", "status", "latestCreatedRevisionName"),
        ("response", "latestCreatedRevision"),
        ("request", "service", "spec", "template", "metadata", "name"),
        ("request", "spec", "template", "metadata", "name"),
        ("request", "service", "template", "revision"),
    ):
        value = get_path(payload, *path)
        if isinstance(value, str) and value:
            return _name(value)
    return ""


def location_of(payload: Mapping[str, Any]) -> str:
    """The region an audit entry is about: resourceLocation, else ``projects/P/locations/L/...`` names."""
    current = get_path(payload, "resourceLocation", "currentLocations")
    if isinstance(current, list) and current and isinstance(current[0], str):
        return current[0]
    for name in (payload.get("resourceName"), get_path(payload, "request", "name"),
                 get_path(payload, "request", "service", "name")):  # fmt: skip
        if isinstance(name, str) and "/locations/" in name:
            return name.split("/locations/", 1)[1].split("/", 1)[0]
    return ""


def _target(item: Any) -> Target | None:
    if not isinstance(item, Mapping):
        return None
    percent = item.get("percent", 0)
    if not isinstance(percent, int) or isinstance(percent, bool):
        percent = int(percent) if isinstance(percent, str) and percent.isascii() and percent.isdigit() else 0
    revision = _name(item.get("revisionName") or item.get("revision"))
    latest = item.get("latestRevision") is True or item.get("type") == "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    tag = item.get("tag") if isinstance(item.get("tag"), str) else ""
    if not revision and not latest:
        return None
    # A status entry names the revision "latest" resolved to: keep the name, it is the fact.
    return Target(revision, max(0, min(percent, 100)), tag, latest and not revision)


_REQUEST_TRAFFIC = (("request", "service", "spec", "traffic"), ("request", "spec", "traffic"),
                    ("request", "service", "traffic"))  # fmt: skip
_STATUS_TRAFFIC = (("response", "status", "traffic"), ("response", "trafficStatuses"))


def traffic_targets(payload: Mapping[str, Any], status: bool = False) -> tuple[Target, ...]:
    """The request's traffic block, or with ``status`` the response's (see the module docstring)."""
    for path in _STATUS_TRAFFIC if status else _REQUEST_TRAFFIC:
        block = get_path(payload, *path)
        if isinstance(block, list) and block:
            targets = tuple(t for t in map(_target, block[:MAX_TARGETS]) if t is not None)
            if targets:
                return targets
    return ()


def secret_refs(node: Any, env: str = "", depth: int = 0) -> Iterable[tuple[str, str]]:
    """(env var, secret) pairs referenced anywhere in a deploy request (v1 secretKeyRef, v2 secret)."""
    if depth > MAX_SPEC_DEPTH:
        return
    if isinstance(node, Mapping):
        name = node.get("name") if isinstance(node.get("name"), str) else env
        ref = node.get("secretKeyRef")
        if isinstance(ref, Mapping):
            secret = ref.get("name") or ref.get("secret")
            if isinstance(secret, str):
                yield (env, secret.rsplit("/", 1)[-1])
        for key, value in node.items():
            if key != "secretKeyRef":
                yield from secret_refs(value, name if key in ("valueFrom", "valueSource") else env, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from secret_refs(item, env, depth + 1)


# Env var names that hold a credential: a literal ``value`` for one of these puts the secret in the
# service spec (readable by anyone with run.services.get) instead of Secret Manager.
SECRET_ENV = re.compile(
    r"(?:^|_)(?:SECRET|SECRET_KEY|PASSWORD|PASSWD|PASS|PWD|TOKEN|API_?KEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS)$",
    re.IGNORECASE,
)


def plain_secret_envs(node: Any, depth: int = 0) -> Iterable[str]:
    """Names of secret-looking env vars set to a literal ``value`` in a deploy request's container spec
    (not ``valueFrom.secretKeyRef`` / ``valueSource``). Only names: the value is never carried further."""
    if depth > MAX_SPEC_DEPTH:
        return
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "env" and isinstance(value, list):
                for item in value[:1000]:
                    if isinstance(item, Mapping) and isinstance(name := item.get("name"), str):
                        literal = item.get("value")
                        if isinstance(literal, str) and literal and len(name) <= 256 and SECRET_ENV.search(name):
                            yield name
            else:
                yield from plain_secret_envs(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from plain_secret_envs(item, depth + 1)
