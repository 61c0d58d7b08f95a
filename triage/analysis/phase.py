"""Startup or request time: did an issue happen while instances were starting, or while serving?

An instance is starting until it first passes its startup probe or answers a request
(``History.instance_ready``). A match on a request log line is serving by definition; a match with no
instance (a revision's Ready condition) is startup unless its revision ever got healthy.
"""

from __future__ import annotations

from collections.abc import Sequence

from triage.analysis.history import History, service_of_revision
from triage.engine.matcher import Match

STARTUP, SERVING = "startup", "serving"
# How far an instance got when something struck, for comparing failures: importing the application (a
# module-level application frame in the traceback), the rest of startup, serving requests.
IMPORT_DEPTH, STARTUP_DEPTH, SERVING_DEPTH = 0, 1, 2


def match_phase(m: Match, history: History) -> str:
    ev = m.event
    if ev.http_status is not None:
        return SERVING
    if ev.instance:
        ready = history.instance_ready.get(ev.instance)
        return STARTUP if ready is None or ev.timestamp < ready else SERVING
    if ev.revision:
        state = history.revisions.get((ev.service or service_of_revision(ev.revision), ev.revision))
        if state is not None and state.healthy and (not state.ready_time or ev.timestamp >= state.ready_time):
            return SERVING
    return STARTUP


def issue_phase(matches: Sequence[Match], history: History) -> str:
    """The phase most of the issue's own (root) matches happened in; a tie counts as startup."""
    startup = sum(1 for m in matches if match_phase(m, history) == STARTUP)
    return STARTUP if startup * 2 >= len(matches) else SERVING


def match_depth(m: Match, history: History) -> int:
    if match_phase(m, history) == SERVING:
        return SERVING_DEPTH
    at_import = any(f.is_app and f.function == "<module>" for f in m.event.frames)
    return IMPORT_DEPTH if at_import else STARTUP_DEPTH


def issue_depth(phase: str, matches: Sequence[Match], history: History) -> int:
    """How far instances got before the issue struck: SERVING_DEPTH for a serving issue, else the
    earliest depth among its matches (an import-time failure is before the rest of startup)."""
    if phase == SERVING:
        return SERVING_DEPTH
    return min((match_depth(m, history) for m in matches), default=STARTUP_DEPTH)
