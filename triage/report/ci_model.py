"""The CI view of a report model: which issues count for this deploy, which are known, which fail the job.

Input is the redacted report model (``triage.report/v1``); output is the same model with ``issues``
narrowed and flagged and a ``ci`` section added. Every CI writer (plain summary, step summary, workflow
commands, JUnit, SARIF, JSON) renders this one structure, so they always agree.

- ``--since-deploy``: for each service with a deploy audit event in the logs, the window starts at its
  latest deploy. An issue counts when it occurred at or after that moment (``last_seen >= deploy``);
  issues that stopped before the deploy belong to earlier rollouts and are dropped. The issue keeps its
  full history (count, first_seen, status), because its status is decided against all revisions.
  Services without a deploy event in the input keep all their issues (listed in ``ci.no_deploy``).
- ``--baseline``: issues whose id (``service:rule``) is in the baseline are ``known`` and never fail.
- ``--fail-on``: an issue ``fails`` when it is open (PENDING or REGRESSED), not known, and at or above
  the threshold severity (``any`` = every severity, ``none`` = never).
- Exit: 1 when an issue fails; else 3 when the logs were read only partly (a pass cannot be vouched
  for); else 0. Failing issues win over partial input: what was found is real either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from triage.analysis.statuses import OPEN
from triage.engine.rules import SEVERITIES
from triage.errors import InputError

FAIL_ON = ("critical", "high", "medium", "low", "any", "none")
EXIT_PASS, EXIT_FAIL, EXIT_PARTIAL = 0, 1, 3


def threshold_rank(fail_on: str) -> int:
    """Index into SEVERITIES at or below which an open issue fails (-1: nothing fails)."""
    if fail_on == "none":
        return -1
    if fail_on == "any":
        return len(SEVERITIES) - 1
    if fail_on not in SEVERITIES:
        raise InputError(f"--fail-on {fail_on!r}: expected one of {', '.join(FAIL_ON)}")
    return SEVERITIES.index(fail_on)


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def load_baseline(path: Path) -> frozenset[str]:
    """Issue ids from a previous ``triage report/analyze/ci --format json`` (or a JSON list of ids)."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"--baseline {path}: no such file") from None
    except OSError as exc:
        raise InputError(f"--baseline {path}: cannot read: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"--baseline {path}: invalid JSON: {exc}") from None
    items = data.get("issues") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InputError(f"--baseline {path}: expected a triage JSON report (with 'issues') or a list of issue ids")
    ids = []
    for n, item in enumerate(items):
        value = item.get("id") if isinstance(item, dict) else item
        if not isinstance(value, str) or not value:
            raise InputError(f"--baseline {path}: issues[{n}]: expected an issue id such as 'svc:rule'")
        ids.append(value)
    return frozenset(ids)


def deploy_cutoffs(deploys: Iterable[tuple[str, str]]) -> dict[str, str]:
    """service -> timestamp of its latest deploy, from (service, time) pairs."""
    out: dict[str, str] = {}
    for service, time in deploys:
        if service and time and time > out.get(service, ""):
            out[service] = time
    return dict(sorted(out.items()))


def sort_key(issue: Mapping[str, Any]) -> tuple:
    """Failing first, then open, known, fixed; most severe first; then id (stable output)."""
    if issue["failing"]:
        group = 0
    elif issue["status"] in OPEN:
        group = 2 if issue["known"] else 1
    else:
        group = 3
    return (group, severity_rank(issue["severity"]), issue["id"])


def build_ci_view(
    model: Mapping[str, Any],
    *,
    fail_on: str = "high",
    known: frozenset[str] = frozenset(),
    cutoffs: Mapping[str, str] | None = None,
    baseline: str | None = None,
    allow_partial: bool = False,
) -> dict[str, Any]:
    """``allow_partial``: partial input alone does not fail the check (``ci --allow-partial FILE``)."""
    rank = threshold_rank(fail_on)
    services = [s["name"] for s in model.get("services", ())]
    issues: list[dict[str, Any]] = []
    dropped: list[str] = []
    for issue in model.get("issues", ()):
        cutoff = (cutoffs or {}).get(issue["service"])
        if cutoffs is not None and cutoff and (issue.get("last_seen") or "") < cutoff:
            dropped.append(issue["id"])
            continue
        is_known = issue["id"] in known
        is_open = issue["status"] in OPEN
        failing = is_open and not is_known and severity_rank(issue["severity"]) <= rank
        issues.append({**issue, "known": is_known, "failing": failing})
    issues.sort(key=sort_key)
    kept = {i["id"] for i in issues}
    recs = [
        {**r, "issues": [i for i in r.get("issues", ()) if i in kept]}
        for r in model.get("recommendations", ())
        if any(i in kept for i in r.get("issues", ()))
    ]
    failing = [i["id"] for i in issues if i["failing"]]
    partial = bool(model.get("partial"))
    exit_code = EXIT_FAIL if failing else EXIT_PARTIAL if partial and not allow_partial else EXIT_PASS
    counts = {
        "failing": len(failing),
        "open": sum(1 for i in issues if i["status"] in OPEN and not i["known"]),
        "known": sum(1 for i in issues if i["known"]),
        "fixed": sum(1 for i in issues if i["status"] == "FIXED" and not i["known"]),
        "dropped_before_deploy": len(dropped),
    }
    ci = {
        "fail_on": fail_on,
        "result": {EXIT_FAIL: "fail", EXIT_PARTIAL: "partial", EXIT_PASS: "pass"}[exit_code],
        "exit_code": exit_code,
        "counts": counts,
        "failing": failing,
        "baseline": baseline,
        "since_deploy": dict(cutoffs) if cutoffs is not None else None,
        "no_deploy": sorted(s for s in services if cutoffs is not None and s not in cutoffs),
    }
    return {**model, "issues": issues, "recommendations": recs, "ci": ci}


def open_issues(view: Mapping[str, Any]) -> Sequence[dict[str, Any]]:
    return [i for i in view["issues"] if i["status"] in OPEN]
