"""Required Secrets Verification: the secrets the deploys mount or the project config requires, and the
open issues that point at each one's value (names only: a secret's value is never read).

Also the naming knowledge the prose sections share: which dependency an env var or secret name, or a rule
component, is about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import regex as re

from triage.analysis.history import History
from triage.analysis.services import ServiceState
from triage.analysis.statuses import OPEN
from triage.config import ProjectConfig

# Dependency hints from env var / secret names and from rule components.
DEPENDENCY_HINTS = (
    (re.compile(r"(?i)postgres|pghost|database_url|\bdb[_-]|cloudsql|sql"), "PostgreSQL"),
    (re.compile(r"(?i)redis|memorystore"), "Redis"),
    (re.compile(r"(?i)mysql"), "MySQL"),
    (re.compile(r"(?i)rabbit|amqp"), "RabbitMQ"),
)
COMPONENTS = {"postgresql": "PostgreSQL", "cloud-sql": "PostgreSQL", "redis": "Redis", "mysql": "MySQL"}


def configuration(
    services: Sequence[ServiceState],
    issues: list[dict[str, Any]],
    history: History,
    project: ProjectConfig | None = None,
) -> dict[str, Any]:
    """Config problems found, and the secrets the deploys reference or the project config requires (with
    what the logs say about them: referenced by a deploy in the window or not, the open issues that point
    at their value)."""
    names = {s.name: s.display_name for s in services}
    problems = [
        f"{i['title']} for {names.get(i['service'], i['service'])} ({i['status']})"
        for i in issues
        if i["category"] == "configuration"
    ]
    secrets: dict[str, dict[str, Any]] = {}
    for deploy in sorted(history.deploys, key=lambda d: d.time):
        for env, secret in deploy.secrets:
            entry = secrets.setdefault(secret, {"name": secret, "env": [], "services": [], "problems": []})
            if env and env not in entry["env"]:
                entry["env"].append(env)
            sid = history.service_id(deploy.service, deploy.revision, deploy.location)  # issues use ids
            if sid not in entry["services"]:
                entry["services"].append(sid)
    for secret in secrets.values():
        secret["referenced"] = True
        secret["required"] = False
    required: dict[str, list[str]] = {}
    if project is not None:
        for name in project.required_secrets:
            required.setdefault(name, [])
        for svc, names in sorted(project.service_secrets.items()):
            for name in names:
                required.setdefault(name, []).append(svc)
    for name, svcs in required.items():
        entry = secrets.setdefault(
            name, {"name": name, "env": [], "services": list(svcs), "problems": [], "referenced": False}
        )
        entry["required"] = True
    _secrets_named_by_errors(secrets, issues)
    for secret in secrets.values():
        secret["implicated_by"] = [
            {"issue": i["id"], "number": i["number"], "status": i["status"], "reason": why}
            for i in issues
            if (i["service"] in secret["services"] or not secret["services"]) and i["log_status"] in OPEN
            for why in [implicates(i, secret["name"], secret["env"])]
            if why
        ]
        secret["problems"] = [
            f"issue {x['number']} ({_title(issues, x['issue'])}, {x['status']}): {x['reason']}"
            for x in secret["implicated_by"]
        ]
        # ✅ needs a deploy that mounts it and no open issue that points at what it holds.
        secret["ok"] = not secret["implicated_by"] and secret["referenced"]
    return {
        "problems": problems,
        "secrets": [secrets[k] for k in sorted(secrets)],
        "plain_secrets": _plain(history, names),
    }


def _plain(history: History, names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Secret-looking env vars a deploy in the window set as literal values (names only, never the value):
    each is a ⚠️ in Required Secrets Verification, to move to Secret Manager."""
    found: dict[str, list[str]] = {}
    for deploy in sorted(history.deploys, key=lambda d: d.time):
        sid = history.service_id(deploy.service, deploy.revision, deploy.location)
        sid = names.get(sid, sid)
        for env in deploy.plain_secrets:
            services = found.setdefault(env, [])
            if sid not in services:
                services.append(sid)
    return [{"env": env, "services": found[env]} for env in sorted(found)]


# What an open issue says about a secret's value. It names the secret or its variable (SECRET_KEY fails
# validation, Secret Manager denies access to it); or it failed to reach an endpoint (a captured host or
# port) of a store the secret's name points at and the secret holds an address (host, port, URL); or the
# store rejected a login and the secret holds credentials. Secret values are never read: only names.
_ENDPOINT = re.compile(r"(?i)host|port|url|uri|dsn|addr|endpoint|server|socket|instance|connection")
_CREDENTIALS = re.compile(r"(?i)user|passw|pwd|url|uri|dsn|credential|auth|token")
_STORE_PORTS = {"5432": "PostgreSQL", "6432": "PostgreSQL", "6379": "Redis", "6380": "Redis", "3306": "MySQL"}
_STORES = {**COMPONENTS, "database": "", "mongodb": "MongoDB"}  # "": any database
_HINTS = {**{comp: pattern for pattern, comp in DEPENDENCY_HINTS}, "MongoDB": re.compile(r"(?i)mongo")}


def _names(text: str, name: str) -> bool:
    return bool(name) and re.search(rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_-])", text) is not None


# A rule about databases in general (a rejected login): the client library in its evidence names the store.
_STORE_WORDS = (
    (re.compile(r"(?i)postgres|psycopg|asyncpg|libpq|pgx|\bpg\b"), "PostgreSQL"),
    (re.compile(r"(?i)redis|NOAUTH|WRONGPASS"), "Redis"),
    (re.compile(r"(?i)mysql|mariadb"), "MySQL"),
    (re.compile(r"(?i)mongo"), "MongoDB"),
)


def _store(issue: dict[str, Any]) -> str | None:
    """The data store an issue is about ("" for a database of any kind), None when it is about none."""
    if issue["component"] not in _STORES:
        return _STORE_PORTS.get(issue["captures"].get("port", ""))
    if _STORES[issue["component"]]:
        return _STORES[issue["component"]]
    text = " ".join(e["text"] for e in issue["evidence"][:1])
    return next((store for pattern, store in _STORE_WORDS if pattern.search(text)), "")


def _for_store(store: str, words: str) -> bool:
    if store:
        return _HINTS[store].search(words) is not None
    return any(p.search(words) for p in _HINTS.values())


def implicates(issue: dict[str, Any], secret: str, envs: Sequence[str]) -> str:
    """Why ``issue`` points at the value of ``secret`` (mounted as ``envs``), or "" when it does not."""
    text = " ".join([issue["problem"], *issue["captures"].values()])
    named = [n for n in (secret, *envs) if _names(text, n)]
    if named:
        return f"the failure names {named[0]}"
    store, words = _store(issue), " ".join((secret, *envs))
    if store is None or not _for_store(store, words):
        return ""
    caps = issue["captures"]
    if issue["category"] == "configuration" and _CREDENTIALS.search(words):
        return "the login it provides is rejected: check the credentials it holds"
    if (
        issue["category"] in ("dependency", "network")
        and (caps.get("host") or caps.get("port"))
        and _ENDPOINT.search(words)
    ):
        where = ":".join(v for v in (caps.get("host"), caps.get("port")) if v)
        return f"connections to {where} fail: check the address it holds"
    return ""


def _secrets_named_by_errors(secrets: dict[str, dict[str, Any]], issues: list[dict[str, Any]]) -> None:
    """A secret an open issue names (Secret Manager denied access to it) is listed even when no deploy in
    the window mounts it: the failing revision does."""
    for i in issues:
        name = i["captures"].get("secret")
        if name and i["log_status"] in OPEN and name not in secrets:
            secrets[name] = {"name": name, "env": [], "services": [i["service"]], "referenced": False,
                             "required": False}  # fmt: skip


def _title(issues: list[dict[str, Any]], issue_id: str) -> str:
    return next(i["title"] for i in issues if i["id"] == issue_id)
