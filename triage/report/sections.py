"""Prose sections of the audit report, derived from services, issues and the revision history.

Each function returns plain data (lists and dicts of strings) for the report model; wording lives here
and in the templates, never in the analysis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import regex as re

from triage.analysis.history import History
from triage.analysis.issues import Issue
from triage.analysis.services import DEPLOYING, FAILED, RUNNING, ServiceState
from triage.analysis.statuses import NEEDS_ACTION as OPEN
from triage.config import ProjectConfig

# Dependency hints from env var / secret names and from rule components.
_DEPENDENCY_HINTS = (
    (re.compile(r"(?i)postgres|pghost|database_url|\bdb[_-]|cloudsql|sql"), "PostgreSQL"),
    (re.compile(r"(?i)redis|memorystore"), "Redis"),
    (re.compile(r"(?i)mysql"), "MySQL"),
    (re.compile(r"(?i)rabbit|amqp"), "RabbitMQ"),
)
_COMPONENTS = {"postgresql": "PostgreSQL", "cloud-sql": "PostgreSQL", "redis": "Redis", "mysql": "MySQL"}


def recommendations(numbered: Sequence[tuple[Issue, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Immediate and long-term actions from the rules, deduplicated; done when every linked issue is FIXED."""
    recs: dict[tuple[str, str], dict[str, Any]] = {}
    statuses: dict[tuple[str, str], list[str]] = {}
    for issue, d in numbered:
        values = {"service": issue.service, **issue.captures}
        for horizon, texts in (("immediate", issue.rule.immediate), ("long_term", issue.rule.long_term)):
            for raw in texts:
                text = issue.rule.render(raw, values)
                key = (horizon, text)
                rec = recs.setdefault(key, {"text": text, "horizon": horizon, "done": False, "issues": []})
                rec["issues"].append(d["id"])
                statuses.setdefault(key, []).append(d["status"])
    out = []
    for key, rec in recs.items():
        rec["done"] = all(s == "FIXED" for s in statuses[key])
        out.append(rec)
    # Done first (as the reference lists them), then in issue order; stable for equal keys.
    return sorted(out, key=lambda r: (r["horizon"] != "immediate", not r["done"]))


def summary(services: Sequence[ServiceState], issues: list[dict[str, Any]]) -> str:
    failed = [s.display_name for s in services if s.status == FAILED]
    open_issues = [i for i in issues if i["status"] in OPEN]
    fixed = [i for i in issues if i["status"] == "FIXED"]
    critical = [i for i in open_issues if i["severity"] in ("critical", "high")]
    if not issues:
        return f"No known failure signatures found across {len(services)} service(s)."
    head = (
        f"{len(issues)} issue(s) identified across {len({i['service'] for i in issues})} service(s): "
        f"{len(fixed)} fixed, {len(open_issues)} still open."
    )
    parts = [head]
    if failed:
        parts.append(f"Failing to start: {', '.join(failed)}.")
    if critical:
        parts.append(
            "Open critical/high-severity issues: " + "; ".join(f"{i['title']} ({i['service']})" for i in critical) + "."
        )
    running = [s for s in services if s.status == RUNNING]
    clean = [s.display_name for s in running if not s.open_issues]
    # Running, with an open issue: a revision that is not serving has it (a failed rollout, a rollback), or
    # it stopped by itself on the serving revision.
    held = [f"{s.display_name} (on {', '.join(s.serving)})" for s in running if s.open_issues
            and not all(i.recovered_at for i in s.open_issues)]  # fmt: skip
    recovered = [s.display_name for s in running if s.open_issues and all(i.recovered_at for i in s.open_issues)]
    if held:
        parts.append(f"Serving from a healthy revision while a newer one fails: {', '.join(held)}.")
    if recovered:
        parts.append(f"Recovered without a deploy (errors stopped): {', '.join(recovered)}.")
    if clean:
        parts.append(f"Running without issues: {', '.join(clean)}.")
    return " ".join(parts)


def configuration(
    services: Sequence[ServiceState],
    issues: list[dict[str, Any]],
    history: History,
    project: ProjectConfig | None = None,
) -> dict[str, Any]:
    """Config problems found, and the secrets the deploys reference or the project config requires (with
    what the logs say about them: referenced by a deploy in the window or not, access errors seen or not)."""
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
    for secret in secrets.values():
        for i in issues:
            if i["service"] not in secret["services"] or i["status"] not in OPEN:
                continue
            text = " ".join([i["problem"], *i["captures"].values()])
            if secret["name"] in text or any(env and env in text for env in secret["env"]):
                secret["problems"].append(f"{i['title']} ({i['status']})")
        secret["ok"] = not secret["problems"] and secret["referenced"]
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


def _dependencies(
    svc: ServiceState, issues: list[dict[str, Any]], history: History, known: Sequence[str] = ()
) -> list[str]:
    found: list[str] = list(known)
    for i in issues:
        comp = _COMPONENTS.get(i["component"])
        if i["service"] == svc.name and comp and comp not in found:
            found.append(comp)
    for deploy in history.deploys_of(svc.name):
        for env, secret in deploy.secrets:
            for pattern, comp in _DEPENDENCY_HINTS:
                if (pattern.search(env) or pattern.search(secret)) and comp not in found:
                    found.append(comp)
    return found


def architecture(
    services: Sequence[ServiceState],
    issues: list[dict[str, Any]],
    history: History,
    known: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    deps = []
    for svc in services:
        found = _dependencies(svc, issues, history, (known or {}).get(svc.name, ()))
        if found:
            deps.append({"service": svc.name, "display_name": svc.display_name, "depends_on": found})
    startup = []
    for i in issues:
        if i["category"] == "startup" or i.get("phase") == "startup":
            startup.append(
                f"{i['title']} in {i['service']} ({i['count']}x, revisions {', '.join(i['revisions']) or 'unknown'})"
            )
    loops = [s for s in services if s.latest and s.latest.starts >= 3 and s.latest.failed]
    for s in loops:
        startup.append(
            f"{s.display_name} is crash-looping: {s.latest.starts} instance starts of {s.latest.name} failed"
        )
    return {"dependencies": deps, "startup_problems": startup}


def testing(services: Sequence[ServiceState], issues: list[dict[str, Any]]) -> dict[str, list[str]]:
    checks: list[str] = []
    for i in issues:
        for v in i["verify"]:
            if v not in checks:
                checks.append(v)
    validation = ["All services start without errors and their latest revisions become Ready"]
    for svc in services:
        if svc.issues:
            validation.append(f"{svc.display_name} ({svc.name}) serves requests without 5xx errors")
    return {"checks": checks, "validation": validation}


def next_steps(services: Sequence[ServiceState], issues: list[dict[str, Any]]) -> list[str]:
    steps = []
    for svc in services:
        if svc.status == DEPLOYING and svc.latest:
            steps.append(f"Monitor the {svc.display_name} rollout of {svc.latest.name}")
    for i in issues:
        if i["status"] in OPEN:
            steps.append(f"Resolve issue {i['number']} in {i['service']}: {i['title']}")
    for i in issues:
        if i["status"] == "FIXED" and not i["verified"]:
            steps.append(
                f"Confirm the fix of issue {i['number']} ({i['title']}) once a {i['service']} revision serves traffic"
            )
    steps.append("Re-run triage after the next deploy and compare with this report")
    return steps
