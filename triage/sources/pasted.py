"""Plain text as people paste it: strip what the tool in between added, keep what it said.

Text input comes from `docker compose logs` (`web-1  | ...`), foreman/overmind (`10:00:01 web.1 | ...`),
`kubectl logs --prefix` (`[pod/api-7d9/app] ...`), Heroku (`2025-09-05T10:00:00+00:00 app[web.1]: ...`),
`gcloud logging read`/`gcloud run services logs read` style timestamp and severity columns, and terminals
with ANSI colours. Rules are written against the application's own line (some anchor at its start), so
the prefixes go; a timestamp becomes the entry's time, a severity its severity, and a container, pod or
dyno name its instance (so one container's trace is reassembled apart from another's).
"""

from __future__ import annotations

from dataclasses import dataclass

import regex as re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]")
_SEVERITIES = "DEFAULT|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL|ALERT|EMERGENCY"
_TS = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2}| UTC)?"
# Each prefix shape, tried in order; each may leave another below it (compose, then a timestamp). The
# first TOOL_PREFIXES are added by a tool between the app and the screen; the rest the app may print.
TOOL_PREFIXES = 4
_PREFIXES = (
    # kubectl logs --prefix: [pod/name/container]
    re.compile(r"^\[pod/(?P<instance>[^/\]\s]+)/[^\]\s]+\] "),
    # Heroku: 2025-09-05T10:00:00.123456+00:00 app[web.1]: (or heroku[router]:)
    re.compile(rf"^(?P<ts>{_TS}) (?:app|heroku)\[(?P<instance>[\w.-]+)\]: "),
    # foreman / overmind: 10:00:01 web.1  | (the clock alone is no timestamp)
    re.compile(r"^\d{2}:\d{2}:\d{2} (?P<instance>[\w.-]+)\s+\| ?"),
    # docker compose: web-1  | , app_1       | (padded to align); not a severity column (loguru's "INFO | ")
    re.compile(rf"^(?!(?:{_SEVERITIES})\s)(?P<instance>[A-Za-z0-9][\w.-]*)\s+\| ?"),
    # gcloud: SEVERITY then timestamp columns
    re.compile(rf"^(?P<sev>{_SEVERITIES})\s+(?P<ts>{_TS})\s+"),
    # timestamp, then an optional severity ([ERROR], ERROR:, ERROR)
    re.compile(rf"^(?P<ts>{_TS})\s+(?:\[?(?P<sev>{_SEVERITIES})\]?:?\s+)?"),
    # a severity alone at the start: [ERROR] x, ERROR: x, ERROR x (not ERROR:root:x, whose logger name stays)
    re.compile(rf"^\[?(?P<sev>{_SEVERITIES})\]?:?\s+(?=\S)"),
)


@dataclass(frozen=True, slots=True)
class Pasted:
    message: str
    timestamp: str = ""
    severity: str = ""
    instance: str = ""


def strip_prefixes(line: str, tools_only: bool = False) -> Pasted:
    """The line without the prefixes pasted text carries, and what they said. ``tools_only`` keeps what
    the app itself may have printed (its timestamp and severity): the line as the container wrote it."""
    text = _ANSI.sub("", line) if "\x1b" in line else line
    ts = sev = instance = ""
    patterns = _PREFIXES[:TOOL_PREFIXES] if tools_only else _PREFIXES
    for _ in range(len(patterns)):
        for pattern in patterns:
            m = pattern.match(text)
            if m is None or m.end() == 0:
                continue
            groups = m.groupdict()
            # The first (outermost) of each wins: a compose prefix's container before an inner name.
            ts = ts or groups.get("ts") or ""
            sev = sev or groups.get("sev") or ""
            instance = instance or groups.get("instance") or ""
            text = text[m.end() :]
            break
        else:
            break
    return Pasted(text, ts, sev, instance)
