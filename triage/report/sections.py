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
from triage.analysis.statuses import NEEDS_ACTION
from triage.engine.rules import Rule
from triage.report.secret_checks import COMPONENTS, DEPENDENCY_HINTS

_PRIORITY = {"critical": "P0", "high": "P1", "medium": "P2"}  # anything lower: P3


def recommendations(numbered: Sequence[tuple[Issue, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Immediate and long-term actions from the rules, deduplicated, with the owner and bug link of their
    issues' annotations and a priority from the most severe open one.

    An immediate action is done when every linked issue is FIXED (a later revision got past the failure:
    the logs prove the fix worked). A long-term one is never marked done: no log proves that a practice
    (lazy initialisation everywhere, staged startup) was adopted."""
    recs: dict[tuple[str, str], dict[str, Any]] = {}
    linked: dict[tuple[str, str], list[tuple[Issue, dict[str, Any]]]] = {}
    for issue, d in numbered:
        values = {"service": issue.service, **issue.captures}
        for horizon, texts in (("immediate", issue.rule.immediate), ("long_term", issue.rule.long_term)):
            for raw in texts:
                text = issue.rule.render(raw, values)
                key = (horizon, text)
                rec = recs.setdefault(key, {"text": text, "horizon": horizon, "done": False, "issues": []})
                rec["issues"].append(d["id"])
                linked.setdefault(key, []).append((issue, d))
    out = []
    for key, rec in recs.items():
        ds = [d for _, d in linked[key]]
        fixed = all(d["status"] == "FIXED" for d in ds)
        rec["done"] = rec["horizon"] == "immediate" and fixed
        rec["proof"] = "; ".join(f"issue {d['number']} fixed in {d['fixed_in']}" for d in ds) if rec["done"] else None
        rec["owner"] = next((d["owner"] for d in ds if d["owner"]), None)
        rec["link"] = next((d["link"] for d in ds if d["link"]), None)
        severities = [d["severity"] for d in ds if d["status"] != "FIXED"] or [d["severity"] for d in ds]
        rec["priority"] = min((_PRIORITY.get(sv, "P3") for sv in severities), default="P3")
        out.append(rec)
    # Done first (as the reference lists them), then in issue order; stable for equal keys.
    return sorted(out, key=lambda r: (r["horizon"] != "immediate", not r["done"]))


def summary(services: Sequence[ServiceState], issues: list[dict[str, Any]]) -> str:
    failed = [s.display_name for s in services if s.status == FAILED]
    open_issues = [i for i in issues if i["status"] in NEEDS_ACTION]
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


def _dependencies(
    svc: ServiceState, issues: list[dict[str, Any]], history: History, known: Sequence[str] = ()
) -> list[str]:
    found: list[str] = list(known)
    for i in issues:
        comp = COMPONENTS.get(i["component"])
        if i["service"] == svc.name and comp and comp not in found:
            found.append(comp)
    for deploy in history.deploys_of(svc.name):
        for env, secret in deploy.secrets:
            for pattern, comp in DEPENDENCY_HINTS:
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
    patterns = startup_patterns(services, issues)
    startup = [p["text"] for p in patterns]
    loops = [s for s in services if s.latest and s.latest.starts >= 3 and s.latest.failed]
    for s in loops:
        startup.append(
            f"{s.display_name} is crash-looping: {s.latest.starts} instance starts of {s.latest.name} failed"
        )
    return {"dependencies": deps, "startup_problems": startup, "startup_patterns": patterns}


_STORE_NAMES = {**COMPONENTS, "mongodb": "MongoDB"}
_PROBE_RULES = frozenset({"startup-probe-failed", "container-failed-to-listen"})
_EXIT_RULE = "container-exit-nonzero"


def _refs(items: Sequence[tuple[str, str]]) -> str:
    """'issues 1.1 Redis, 2.1 PostgreSQL' / 'issue 1.2'."""
    parts = [f"{n} {what}" if what else n for n, what in items]
    return ("issues " if len(parts) > 1 else "issue ") + ", ".join(parts)


def _chain(issue: Issue) -> list[Rule]:
    return [issue.rule, *(s.rule for s in issue.symptoms)]


def startup_patterns(services: Sequence[ServiceState], issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the startup issues have in common, each trait with the issues that show it.

    Traits: dependencies connected to while the app starts (import time or a startup hook); configuration
    validated at import; no retry that outlasts the failure (every instance that hit it exited); startup
    probes and the Ready check that give up before the service recovers."""
    by_id = {i["id"]: i for i in issues}
    startup = [(i, by_id[f"{i.service}:{i.rule.id}"]) for s in services for i in s.issues
               if f"{i.service}:{i.rule.id}" in by_id and (i.phase == "startup" or i.rule.category == "startup")]  # fmt: skip
    connect, config, exits, probes = [], [], [], []
    for issue, d in startup:
        at_import = any(", in <module>" in e["text"] for e in d["evidence"]) or any(
            r.id == "import-time-initialization" for r in _chain(issue)
        )
        stores = [_STORE_NAMES[r.component] for r in _chain(issue)
                  if r.category in ("dependency", "network") and r.component in _STORE_NAMES]  # fmt: skip
        if stores or issue.rule.category in ("dependency", "network"):
            connect.append((d["number"], stores[0] if stores else "", at_import))
            n = next((s.count for s in issue.symptoms if s.rule.id == _EXIT_RULE), 0)
            if n and n >= issue.instances:  # "every instance exited" needs as many exits as instances
                exits.append((d["number"], f"with {n} exit{'s' if n > 1 else ''}"))
        elif issue.rule.category == "configuration":
            config.append((d["number"], _config_name(d), at_import))
        failed = sum(s.count for s in issue.symptoms if s.rule.id in _PROBE_RULES)
        if failed:
            probes.append((d["number"], ""))
    out: list[dict[str, Any]] = []
    if connect:
        where = (
            "at import time" if all(c[2] for c in connect) else "while the app starts (at import or in a startup hook)"
        )
        out.append(_pattern("connect_at_startup", connect,
                            f"Connections are opened and validated {where}, before the server listens on its port "
                            f"({_refs([c[:2] for c in connect])}): an unreachable dependency kills the container "
                            "instead of failing a request"))  # fmt: skip
    if config:
        where = "at import time" if all(c[2] for c in config) else "while the app starts"
        out.append(_pattern("config_at_startup", config,
                            f"Configuration is read and validated {where} ({_refs([c[:2] for c in config])}): a "
                            "missing or invalid value stops every instance before it can serve"))  # fmt: skip
    if exits:
        out.append(_pattern("no_retry", exits,
                            f"No retry outlasts a failed connection: every instance that hit it exited "
                            f"({_refs(exits)})"))  # fmt: skip
    if probes:
        out.append(_pattern("probe_gives_up", probes,
                            f"Startup probes time out before the service can recover ({_refs(probes)}): the "
                            "revision is not Ready and its instances are restarted"))  # fmt: skip
    return out


def _pattern(kind: str, items: Sequence[tuple[str, ...]], text: str) -> dict[str, Any]:
    return {"kind": kind, "issues": [x[0] for x in items], "text": text}


def _config_name(issue: dict[str, Any]) -> str:
    """The variable a configuration issue is about, when its capture or problem names one."""
    for key in ("var", "variable", "env", "key"):
        if issue["captures"].get(key):
            return issue["captures"][key]
    m = re.search(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", issue["problem"])
    return m[0] if m else ""


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
        if i["status"] in NEEDS_ACTION:
            steps.append(f"Resolve issue {i['number']} in {i['service']}: {i['title']}")
    for i in issues:
        if i["status"] == "FIXED" and not i["verified"]:
            steps.append(
                f"Confirm the fix of issue {i['number']} ({i['title']}) once a {i['service']} revision serves traffic"
            )
    steps.append("Re-run triage after the next deploy and compare with this report")
    return steps
