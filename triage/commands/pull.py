"""``triage pull`` and the live options that ``report``/``analyze`` share with it.

The CLI stays thin: it turns its options into a ``LiveOptions`` and calls ``live_source`` (any command
that reads logs) or ``pull`` (write what the API returned to a file). Nothing here imports
google-cloud-logging or rich at module level, so a command that reads files never pays for them.
"""

from __future__ import annotations

import configparser
import gzip
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, TextIO

import orjson

from triage.commands.progress import describe_work, progress
from triage.errors import TriageError
from triage.sources.cloud import CloudLoggingSource, RetryPolicy
from triage.sources.cloud_filter import CloudQuery, rfc3339
from triage.sources.files import PARTIAL_KEY

ENDPOINT_ENV = "TRIAGE_LOGGING_ENDPOINT"
DEFAULT_SINCE = "1h"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``1d`` (also ``s`` and ``w``) as a positive timedelta."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise TriageError(f"--since {text!r}: expected a positive duration such as 30m, 2h or 1d")
    return timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})


def parse_time(text: str, option: str = "--from") -> datetime:
    """An RFC 3339 timestamp with an offset (``2025-09-05T10:00:00Z``); naive times are ambiguous."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise TriageError(f"{option} {text!r}: expected RFC 3339, e.g. 2025-09-05T10:00:00Z") from None
    if moment.tzinfo is None:
        raise TriageError(f"{option} {text!r}: add a timezone (Z or +02:00)")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class LiveOptions:
    """The options every live command accepts, as the user gave them."""

    project: str
    services: tuple[str, ...] = ()
    since: str | None = None
    from_: str | None = None
    to: str | None = None
    severity: str | None = None
    limit: int | None = None
    pushdown: bool = False  # send the catalog's literal keywords as server-side terms
    api_endpoint: str | None = None  # falls back to $TRIAGE_LOGGING_ENDPOINT
    anonymous: bool = False
    allow_partial: bool = False
    timeout: float | None = None  # seconds for the whole pull; None: default_timeout(limit)


def resolve_window(options: LiveOptions, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(start, end), both explicit so the report states the exact window it covers."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if options.since and (options.from_ or options.to):
        raise TriageError("use either --since or --from/--to, not both")
    if options.from_:
        start = parse_time(options.from_, "--from")
        end = parse_time(options.to, "--to") if options.to else now
    elif options.to:
        raise TriageError("--to needs --from")
    else:
        end = now
        start = now - parse_duration(options.since or DEFAULT_SINCE)
    if end <= start:
        raise TriageError(f"empty time window: {rfc3339(start)} .. {rfc3339(end)}")
    return start, end


PROJECT_ENV = ("CLOUDSDK_CORE_PROJECT", "GOOGLE_CLOUD_PROJECT")
NO_PROJECT_HINT = "no default project either: set CLOUDSDK_CORE_PROJECT or GOOGLE_CLOUD_PROJECT, or run `gcloud config set project ID`"


def gcloud_project(environ: Mapping[str, str] = os.environ) -> str | None:
    """``[core] project`` of the active gcloud configuration, read from its files (gcloud is never run).

    The config directory is ``$CLOUDSDK_CONFIG`` or ~/.config/gcloud; ``active_config`` (or
    ``$CLOUDSDK_ACTIVE_CONFIG_NAME``) names the configuration, ``default`` when neither says."""
    base = Path(environ.get("CLOUDSDK_CONFIG") or Path.home() / ".config" / "gcloud")
    name = environ.get("CLOUDSDK_ACTIVE_CONFIG_NAME", "").strip()
    if not name:
        try:
            name = (base / "active_config").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            name = ""
    path = base / "configurations" / f"config_{name or 'default'}"
    ini = configparser.ConfigParser(interpolation=None)
    try:
        ini.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise TriageError(f"gcloud configuration {path} is not readable INI: {_first_line(exc)}") from None
    return ini.get("core", "project", fallback="").strip() or None


def default_project(environ: Mapping[str, str] = os.environ) -> str | None:
    """The project a live run reads when --project is not given: $CLOUDSDK_CORE_PROJECT, then
    $GOOGLE_CLOUD_PROJECT, then the active gcloud configuration (the order gcloud itself uses)."""
    for name in PROJECT_ENV:
        if value := environ.get(name, "").strip():
            return value
    return gcloud_project(environ)


def _first_line(value: object) -> str:
    return str(value).strip().splitlines()[0] if str(value).strip() else type(value).__name__


def make_live_options(
    project: str | None,
    services: Sequence[str] | None = None,
    *,
    since: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    severity: str | None = None,
    limit: int | None = None,
    pushdown: bool = False,
    api_endpoint: str | None = None,
    anonymous: bool = False,
    allow_partial: bool = False,
    sources: Sequence[str] = (),
    always_live: bool = False,
) -> LiveOptions | None:
    """The CLI's live options, or None for a file run.

    Without --project, a run is live only when it has no files and uses a live-only option (or is
    ``pull``, ``always_live``); it then reads the default project (``default_project``). Live-only
    options next to files, or with no project to be found, are an error: a file run never turns live."""
    if not project:
        given = {
            "--service": services,
            "--since": since,
            "--from": from_,
            "--to": to,
            "--severity": severity,
            "--limit": limit,
            "--pushdown": pushdown,
            "--api-endpoint": api_endpoint,
            "--anonymous": anonymous,
        }  # fmt: skip (--allow-partial alone is for files: accept one marked partial by a pull)
        used = [name for name, value in given.items() if value]
        if not used and not always_live:
            return None
        project = None if sources else default_project()
        if not project:
            what = f"{', '.join(used)} need" if used else "reading Cloud Logging needs"
            hint = "" if sources else f"; {NO_PROJECT_HINT}"
            raise TriageError(f"{what} --project (they read Cloud Logging){hint}")
    return LiveOptions(
        project=project,
        services=tuple(services or ()),
        since=since,
        from_=from_,
        to=to,
        severity=severity,
        limit=limit,
        pushdown=pushdown,
        api_endpoint=api_endpoint,
        anonymous=anonymous,
        allow_partial=allow_partial,
    )


def default_timeout(limit: int | None) -> float:
    """The whole pull's bound: 3 minutes per 10k entries asked for (at least 5), an hour without --limit.
    At the ~55 requests/min quota 10k entries take 11 requests: minutes leave room for retries and waits."""
    if limit is None:
        return 3600.0
    return max(300.0, 180.0 * -(-limit // 10_000))


def catalog_keywords(rules: Sequence[Path] = (), disable: Sequence[str] = ()) -> tuple[str, ...]:
    """The prefilter literals of the catalog, for ``pull --pushdown`` (report/analyze have a matcher)."""
    from triage.engine import Matcher, load_catalog

    return tuple(Matcher(load_catalog(tuple(rules), disable=tuple(disable))).keywords())


def live_source(
    options: LiveOptions,
    *,
    keywords: Sequence[str] = (),
    now: datetime | None = None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_page: Callable[[CloudLoggingSource], None] | None = None,
) -> CloudLoggingSource:
    """A CloudLoggingSource for the live options (what ``report``/``analyze`` call instead of files).

    ``keywords`` are the catalog's literal keywords (``Matcher.keywords()``), used with ``--pushdown``;
    none means some rule has no literal, so every entry is needed and the pull is not narrowed.
    """
    terms = tuple(dict.fromkeys(k for k in keywords if k)) if options.pushdown else ()
    start, end = resolve_window(options, now)
    query = CloudQuery(
        project=options.project,
        start=start,
        end=end,
        services=tuple(dict.fromkeys(s for s in options.services if s)),  # de-duplicated, in order
        severity=options.severity.upper() if options.severity else None,
        limit=options.limit,
        pushdown=terms,
    )
    source = CloudLoggingSource(
        query,
        endpoint=options.api_endpoint or os.environ.get(ENDPOINT_ENV) or None,
        anonymous=options.anonymous,
        allow_partial=options.allow_partial,
        policy=replace(policy or RetryPolicy(), total=options.timeout or default_timeout(options.limit)),
        sleep=sleep,
        clock=clock,
        on_page=on_page,
    )
    if options.pushdown and not terms:
        source.stats.notes.append("pushdown skipped: some rules have no literal keyword, so every entry is needed")
    return source


def _open_out(path: Path, *, gz: bool) -> BinaryIO:
    # A fresh file: never through a link or a file someone left at OUT.part (O_EXCL after the unlink).
    path.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    handle = os.fdopen(os.open(path, flags, 0o644), "wb", buffering=1 << 20)
    if not gz:
        return handle
    # level 6: most of level 9's size at a fraction of its cost. GzipFile closes ``myfileobj`` on close.
    zipped = gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=6)
    zipped.myfileobj = handle
    return zipped  # type: ignore[return-value]


def _mark_partial(part: Path, source: CloudLoggingSource, *, gz: bool) -> None:
    """Put the partial marker in front of what was pulled (``files.PARTIAL_KEY``), so every later run on the
    file, on any path (fast or not, gzipped or not), reads it first and reports PARTIAL. A gzip output
    gets it as a member of its own: concatenated members are one valid gzip stream."""
    why = "; ".join(n for n in source.stats.notes if n.startswith("PARTIAL")) or "the pull stopped early"
    marker = orjson.dumps({PARTIAL_KEY: {"reason": why, "entries": source.stats.entries}}) + b"\n"
    marked = part.with_name(part.name + ".marked")
    with _open_out(marked, gz=False) as handle:
        handle.write(gzip.compress(marker, compresslevel=6) if gz else marker)
        with open(part, "rb") as body:
            shutil.copyfileobj(body, handle, 1 << 20)
    os.replace(marked, part)


def write_entries(source: CloudLoggingSource, out: Path) -> int:
    """One LogEntry per line, as the API returned it; ``.gz`` compresses. Returns the count written.

    Written to ``OUT.part`` and renamed at the end, so a failed pull never leaves a file that looks whole;
    a pull kept with ``--allow-partial`` starts with a marker line that every reader honours.
    """
    if not out.parent.is_dir():
        raise TriageError(f"--out {out}: directory {out.parent} does not exist")
    part = out.with_name(out.name + ".part")
    gz = out.name.endswith(".gz")
    # orjson writes compact UTF-8 about ten times faster than json.dumps; the line is the entry as it came.
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    count = 0
    try:
        with _open_out(part, gz=gz) as handle:
            write = handle.write
            for entry in source.entries():
                write(dumps(entry, option=newline))
                count += 1
        if source.stats.partial:
            _mark_partial(part, source, gz=gz)
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        part.with_name(part.name + ".marked").unlink(missing_ok=True)
        raise
    return count


def pull(
    options: LiveOptions,
    out: Path,
    quiet: bool = False,
    *,
    keywords: Sequence[str] = (),
    stderr: TextIO | None = None,
    source: CloudLoggingSource | None = None,
) -> int:
    """``triage pull``: write the live entries to ``out``; returns the exit code (0, or raises)."""
    stream = stderr if stderr is not None else sys.stderr
    source = source or live_source(options, keywords=keywords)
    started = time.monotonic()
    with progress(describe_work((), options.project), quiet=quiet, stream=stream) as display:
        source.on_page = display.page  # the source reports each page as it lands, and each second of quota wait
        count = write_entries(source, Path(out))
    for note in source.stats.notes:  # pushdown skipped, PARTIAL: worth seeing even with --quiet
        print(f"note: {note}", file=stream)
    if not quiet:
        elapsed = time.monotonic() - started
        rate = count / elapsed if elapsed > 0 else 0.0
        print(
            f"pulled {count:,} entries in {source.pages} pages ({elapsed:.1f} s, {rate:,.0f}/s) to {out}",
            file=stream,
        )
    return 0
