"""Since the last audit: compare this report's issues with an earlier report's JSON.

Works on report models (plain dicts), so any earlier ``triage report --format json`` output will do.
Each current issue gets ``change``: ``new`` (not in the previous report), ``persisting`` (there before
and not resolved then), ``regressed`` (the previous report had it FIXED; now it is open again, or it occurred after
that report's logs ended). Previous
issues that are FIXED now or absent from this window are listed in ``resolved_since_previous``. A previous
issue that is now a symptom inside another issue's chain is neither new nor resolved: it is still there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from triage.errors import TriageError

NEW, PERSISTING, REGRESSED = "new", "persisting", "regressed"
CLOSED = ("FIXED", "WONTFIX", "MUTED")


def _issues(model: Mapping[str, Any], what: str) -> list[Mapping[str, Any]]:
    issues = model.get("issues")
    if not isinstance(issues, list) or not all(isinstance(i, Mapping) and "id" in i for i in issues):
        raise TriageError(f"{what}: not a triage report (no issues list with ids)")
    return issues


def compare(current: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """``change`` per current issue id, ``resolved`` previous issues and a ``summary`` of counts."""
    if str(previous.get("schema", "")).split("/")[0] != "triage.report":
        raise TriageError("--previous: not a triage report JSON (schema triage.report/v1 expected)")
    before = {i["id"]: i for i in _issues(previous, "--previous")}
    now = _issues(current, "report")
    window = previous.get("window") if isinstance(previous.get("window"), Mapping) else {}
    previous_end = str(window.get("end") or "9999")
    nested = {f"{i['service']}:{s['rule']}" for i in now for s in i.get("symptoms", [])}
    change: dict[str, str] = {}
    for issue in now:
        old = before.get(issue["id"])
        if old is None:
            change[issue["id"]] = NEW
        elif old.get("status") == "FIXED" and (issue["status"] != "FIXED" or issue["last_seen"] > previous_end):
            change[issue["id"]] = REGRESSED  # open again, or it came back after that audit's logs ended
        else:
            change[issue["id"]] = PERSISTING
    current_ids = {i["id"]: i for i in now}
    resolved = []
    for pid, old in sorted(before.items()):
        if old.get("status") == "FIXED":
            continue  # resolved before the previous audit already
        cur = current_ids.get(pid)
        if cur is not None and cur["status"] != "FIXED":
            continue
        if cur is None and pid in nested:
            continue
        resolved.append(
            {
                "id": pid,
                "rule": old.get("rule"),
                "service": old.get("service"),
                "title": old.get("title"),
                "previous_status": old.get("status"),
                "status": cur["status"] if cur is not None else "ABSENT",
                "fixed_in": cur.get("fixed_in") if cur is not None else None,
            }
        )
    counts = {k: sum(1 for v in change.values() if v == k) for k in (NEW, PERSISTING, REGRESSED)}
    return {
        "change": change,
        "resolved": resolved,
        "summary": {
            "previous_date": previous.get("date"),
            "previous_window": previous.get("window"),
            **counts,
            "resolved": len(resolved),
        },
    }
