"""The pipeline's side of a push-down plan (triage/sources/bigquery_plan.py): what makes an entry benign,
and the plan's counts of benign entries turned back into revision history.

An entry is benign when the reference path would make it one standalone event that no rule matches and
that is not error-like, and History learns nothing from it but counts: a container or request line (or a
system-log line whose counter SQL can read) of a revision, below ERROR, with none of the catalog's
literals in its message, that reassembly cannot join with a neighbour. The patterns below are RE2 and
are *supersets* of what Python decides (triage.fastscan._shape for the trace shapes, events.is_error_like
for the failure words): where SQL and Python could disagree, the entry travels and Python decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from triage.analysis.history import SYSTEM_COUNTERS, SYSTEM_REGEX_MARKERS, HistoryPart, service_of_revision
from triage.engine.benign import benign_literals
from triage.engine.matcher import Matcher
from triage.events import MAX_GAP_S
from triage.records import EXC_KEYS, MESSAGE_KEYS, normalize_timestamp, project_of
from triage.sources.bigquery_plan import PlanParams
from triage.sources.bigquery_sql import bigquery_timestamp

# TRIGGER: a line that may continue the one before it: blank or starting with a space or any character
# outside printable ASCII, `... N more`, `}`, `Caused by:`/`Suppressed:`, Go dump lines, a first token
# with "(" (Go calls), a traceback head anywhere, chain markers, a panic, `in goroutine N`.
TRIGGER_RE = (
    r"^(?:[^!-~]|$)|^\.\.\.|^\}|^(?:Caused by|Suppressed): |^(?:goroutine \d|\[signal |created by |exit status \d)"
    r"|^[^\s(]*\(|Traceback \(most recent call last\):|^(?:The above exception|During handling of the above)"
    r"|^(?:panic|fatal error): | in goroutine \d"
)
# EXTENDER: traces.EXC_RE on the first line (a token with an upper-case letter after its first character,
# then ":" or the line's end) or a one-token first line (traces.GO_FUNC). The token may be followed by any
# whitespace Python's str.strip() removes (RE2's \s is ASCII only): "x\t\u3000" is one token to Python.
_TRAILING = r"[ \t\x0b\x0c\x1c-\x1f\x{85}\p{Z}]*"
EXTENDER_RE = rf"^[A-Za-z_][^\s:]*[A-Z][^\s:]*(?::|{_TRAILING}(?:\n|$))|^\S+{_TRAILING}(?:\n|$)"
# events.is_error_like's failure words anywhere (RE2's \b is ASCII-only, Python's is not).
FAILURE_RE = r"(?i)error|exception|fatal|critical|panic|fail"
# Line breaks Python's splitlines knows and RE2's $ does not, and letters whose case folds differ
# (the prefilter's case traps and their kin).
ODD_RE = r"[\r\x0b\x0c\x1c-\x1e\x{85}\x{2028}\x{2029}\x{212A}\x{130}\x{131}\x{17F}]"
NEVER_RE = r"[^\x00-\x{10FFFF}]"  # the literal regex of a catalog without literals: matches nothing
BENIGN_SEVERITIES = ("DEBUG", "INFO", "NOTICE", "WARNING")
_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")


def literal_regex(literals: Sequence[str]) -> str:
    """One RE2 alternation of the (lower-cased) literals, each matched as written."""
    if not literals:
        return NEVER_RE
    return "|".join(sorted("".join("\\" + c if c in _RE2_SPECIAL else c for c in lit) for lit in literals))


def plan_params(literals: Sequence[str]) -> PlanParams:
    """``literals``: engine.benign.benign_literals of the run's catalog."""
    return PlanParams(
        literals_re=literal_regex(literals),
        trigger_re=TRIGGER_RE,
        extender_re=EXTENDER_RE,
        failure_re=FAILURE_RE,
        odd_re=ODD_RE,
        benign_severities=BENIGN_SEVERITIES,
        gap_us=int(MAX_GAP_S * 1_000_000) + 1000,  # the tolerance fastscan._near allows
        message_keys=MESSAGE_KEYS,
        exception_keys=EXC_KEYS,
        counters=SYSTEM_COUNTERS,
        counter_markers=SYSTEM_REGEX_MARKERS,
    )


@runtime_checkable
class PushDownSource(Protocol):
    """A source that can run the plan: after ``push_down`` it yields only the entries that travel, and
    ``light`` holds the plan's ``agg`` rows (bigquery_plan.AGG_COLUMNS) once it is read."""

    light: list[dict[str, Any]]

    def push_down(self, params: PlanParams) -> None: ...


def push_down(sources: Sequence[Any], matcher: Matcher) -> list[PushDownSource]:
    """Have every source that can run the plan count benign entries itself, when that is exact for this
    catalog (engine.benign); the sources that will."""
    literals = benign_literals(matcher)
    if literals is None:
        return []
    pushed = [s for s in sources if isinstance(s, PushDownSource)]
    for source in pushed:
        source.push_down(plan_params(literals))
    return pushed


def _stamp(value: Any) -> str:
    # The chain a travelling row's time takes (bigquery_sql rebuilds its entry, records normalises it).
    return normalize_timestamp(bigquery_timestamp(value)) if value is not None else ""


def light_part(rows: Iterable[Mapping[str, Any]]) -> HistoryPart:
    """The plan's ``agg`` rows as a HistoryPart: each is ``n`` benign entries of one group."""
    part = HistoryPart()
    for row in rows:
        n = int(row["n"])
        first, last = _stamp(row["ts"]), _stamp(row["last_ts"])
        service, revision, instance = row["svc"] or row["job"], row["rev"] or row["exe"], row["inst"]
        part.lines += n
        st = part.add(
            service, revision, instance, row["proj"] or project_of(row["log_name"]), row["loc"], n, first, last
        )
        if row["req"] and revision and row["url"]:
            owner = service or service_of_revision(revision)
            if owner:
                part.offer_url(owner, (_stamp(row["url_ts"]), row["url_iid"], row["url_msg"], row["url"]))
        if st is None:
            continue
        if row["req"] and row["status"] is not None:
            part.add_requests(st, instance, int(row["status"]), n, first, last)
        if row["counter"]:
            part.add_counter(st, row["counter"], instance, n, first)
    return part
