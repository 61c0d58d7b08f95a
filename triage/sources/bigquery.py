"""BigQuery as a source: Log Analytics views and log-sink datasets, read with the real google-cloud-bigquery client.

Why: ``entries.list`` is capped at 60 requests a minute per project and 1,000 entries a page (about 1,000
entries/s, shared by every reader of the project); a day of a crash-looping service takes hours to pull.
Teams at that size already route their logs where SQL can read them:

* Log Analytics (an upgraded log bucket's view, ``PROJECT.LOCATION.BUCKET._AllLogs`` on the Log Analytics
  page, ``PROJECT.DATASET._AllLogs`` in its linked BigQuery dataset; cloud.google.com/logging/docs/analyze/
  examples names both forms, and BigQuery jobs read the linked one). Its columns are snake_case: ``timestamp``, ``receive_timestamp``,
  ``log_name``, ``log_id`` (decoded, e.g. ``run.googleapis.com/stderr``), ``severity``, ``insert_id``,
  ``resource`` (STRUCT of ``type`` and JSON ``labels``), JSON ``labels``, ``text_payload``, JSON
  ``json_payload``, JSON ``proto_payload`` (keeps ``@type``), ``http_request`` (STRUCT, ``status`` INT64,
  ``latency`` as ``seconds``/``nanos``), ``trace``, ``span_id``, ``operation``, ``source_location``.
* A sink to a BigQuery dataset (``PROJECT.DATASET``): one table per log, named after the log id with
  ``.``/``/`` as ``_`` (``run_googleapis_com_stderr``, ``cloudaudit_googleapis_com_activity``), date-sharded
  ``_YYYYMMDD`` by default or partitioned with ``use_partitioned_tables`` (sharded "based on UTC",
  logging.v2 BigQueryOptions). cloud.google.com/logging/docs/export/bigquery: LogEntry fields keep their
  names (``textPayload``, ``jsonPayload``, ``httpRequest.status``, ``logName``, ``insertId``,
  ``resource.labels.service_name``); user-supplied field names are lower-cased and characters other than
  letters, digits and ``_`` become ``_``; a payload with ``@type`` AuditLog becomes ``protopayload_auditlog``
  (its Struct fields as ``requestJson``/``responseJson``/``metadataJson`` strings).

Every query returns ``timestamp`` and ``TO_JSON_STRING`` of the whole row, so one code path reads every
table whatever its columns, and rows become REST LogEntry mappings (camelCase) here: nothing downstream
knows the logs came from BigQuery. Windows, services and shard suffixes travel as query parameters,
never spliced into SQL text. Each job carries ``maximumBytesBilled`` when given; ``dry_run`` asks BigQuery
what each query would scan without running it.

By default (``push_down``) one query runs the push-down plan (bigquery_plan): benign entries are counted
in BigQuery and come back as a few ``agg`` rows kept in ``light`` (the pipeline adds them to the revision
history), and only the other entries travel. Without it, every row of the window is read.

google-cloud-bigquery is imported inside functions: file runs never load it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from triage.errors import SourceError, TriageError
from triage.sources import SourceStats
from triage.sources.bigquery_plan import PlanParams, pushdown_query
from triage.sources.bigquery_sql import (
    BigQueryQuery,
    PlannedQuery,
    Table,
    from_log_analytics,
    from_sink,
    log_analytics_query,
    sink_queries,
)
from triage.sources.cloud_transport import NO_CREDENTIALS, is_loopback

__all__ = ["BigQueryQuery", "BigQuerySource", "JobSummary", "Table", "human_bytes", "sink_queries"]

DEFAULT_ENDPOINT = "https://bigquery.googleapis.com"
PAGE_SIZE = 10_000


@dataclass
class JobSummary:
    label: str
    bytes_processed: int = 0
    rows: int = 0
    dry_run: bool = False
    groups: int = 0  # push-down plan: rows that are counts of benign entries
    counted: int = 0  # the benign entries they count


# -- the client ---------------------------------------------------------------------------------------
def describe(exc: BaseException, table: str) -> str:
    """One line for whatever the client raised."""
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    if isinstance(exc, auth_exc.DefaultCredentialsError):
        return NO_CREDENTIALS
    if isinstance(exc, auth_exc.GoogleAuthError):
        return f"credentials rejected ({_first_line(exc)}): {NO_CREDENTIALS.split(': ', 1)[1]}"
    if isinstance(exc, gexc.GoogleAPICallError):
        errors = getattr(exc, "errors", None) or [{}]
        reason = errors[0].get("reason", "") if isinstance(errors[0], dict) else ""
        text = _first_line(
            errors[0].get("message") if isinstance(errors[0], dict) and errors[0].get("message") else exc.message
        )
        code = exc.code
        if reason == "bytesBilledLimitExceeded":
            return f"BigQuery refused the query over --maximum-bytes-billed ({code} {reason}: {text})"
        if code == 403 or reason == "accessDenied":
            return (
                f"BigQuery permission denied reading {table} ({code} {reason or 'accessDenied'}: {text}): the account "
                "needs roles/bigquery.jobUser on the billing project and read access to the table "
                "(roles/bigquery.dataViewer, or roles/logging.viewAccessor for a Log Analytics view)"
            )
        # The Log Analytics page's 4-part names are not BigQuery names: its jobs read a linked dataset.
        hint = "; a Log Analytics view is read through its linked dataset, PROJECT.DATASET._AllLogs"
        hint = hint if table.count(".") == 3 else ""
        if code == 404:
            return f"BigQuery: {table} not found ({code} {reason or 'notFound'}: {text}): check --bigquery{hint}"
        return f"BigQuery error {code} {reason}: {text}".replace("  ", " ") + hint
    if isinstance(exc, ConnectionError | TimeoutError) or type(exc).__module__.startswith(("requests", "urllib3")):
        return f"cannot reach BigQuery: {_first_line(exc)}"
    return f"BigQuery failed: {type(exc).__name__}: {_first_line(exc)}"


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


def open_client(endpoint: str | None, *, anonymous: bool, project: str) -> Any:
    """A ``bigquery.Client`` on ``endpoint`` (default the real API) billing ``project``."""
    url = (endpoint or DEFAULT_ENDPOINT).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TriageError(f"--bigquery-endpoint {url!r}: expected http(s)://host:port")
    loopback = is_loopback(parts.hostname)
    from google.cloud import bigquery

    if anonymous:
        if not loopback:
            raise TriageError(
                f"--anonymous is only allowed with a loopback --bigquery-endpoint (emulators, tests), not {parts.hostname!r}"
            )
        from google.auth.credentials import AnonymousCredentials

        credentials: Any = AnonymousCredentials()
    else:
        import google.auth
        import google.auth.exceptions

        try:
            credentials, _ = google.auth.default(scopes=list(bigquery.Client.SCOPE))
        except google.auth.exceptions.DefaultCredentialsError:
            raise SourceError(NO_CREDENTIALS) from None
    session = None
    if loopback:
        from google.auth.transport.requests import AuthorizedSession

        # requests would send 127.0.0.1 through $http_proxy. Handed in through the constructor's documented
        # ``_http`` argument: setting the private attribute of that name afterwards breaks on upgrade.
        session = AuthorizedSession(credentials)
        session.trust_env = False
    return bigquery.Client(
        project=project, credentials=credentials, client_options={"api_endpoint": url}, _http=session
    )


def _job_config(planned: PlannedQuery, query: BigQueryQuery, *, dry_run: bool) -> Any:
    from google.cloud import bigquery

    params: list[Any] = []
    for name, kind, value in planned.params:
        if kind.endswith("[]"):
            params.append(bigquery.ArrayQueryParameter(name, kind[:-2], value))
        else:
            params.append(bigquery.ScalarQueryParameter(name, kind, value))
    config = bigquery.QueryJobConfig(query_parameters=params, dry_run=dry_run, use_query_cache=not dry_run)
    if query.maximum_bytes_billed is not None:  # the client would send None as the string "None"
        config.maximum_bytes_billed = query.maximum_bytes_billed
    return config


@dataclass
class BigQuerySource:
    """The Source protocol over BigQuery query jobs: every table of the plan, merged oldest first."""

    query: BigQueryQuery
    endpoint: str | None = None
    anonymous: bool = False
    page_size: int = PAGE_SIZE
    stats: SourceStats = field(default_factory=SourceStats)
    jobs: list[JobSummary] = field(default_factory=list)
    pushdown: PlanParams | None = None  # see push_down
    light: list[dict[str, Any]] = field(default_factory=list)  # the plan's counts of benign entries

    @property
    def name(self) -> str:
        return f"bigquery:{self.query.table.path}"

    def _open(self) -> Any:
        return open_client(self.endpoint, anonymous=self.anonymous, project=self.query.project)

    def push_down(self, params: PlanParams) -> None:
        """Read with the push-down plan: benign entries come back as counts (``light``), not rows."""
        self.pushdown = params

    def plan(self, client: Any) -> list[PlannedQuery]:
        ordered = self.pushdown is None
        if self.query.table.kind == "log_analytics":
            planned = [log_analytics_query(self.query, ordered)]
        else:
            listing = client.list_tables(self.query.table.path, page_size=1000)
            planned, notes = sink_queries(self.query, [t.table_id for t in listing], ordered)
            self.stats.notes.extend(notes)
            if not planned:
                raise SourceError(f"BigQuery: no Cloud Run log table of the window in dataset {self.query.table.path}")
        if self.pushdown is not None:
            label = self.query.table.path
            if self.query.table.kind == "sink":
                label += f" (push-down plan over {len(planned)} log tables)"
            return [pushdown_query(planned, self.query.table.kind, self.pushdown, label)]
        return planned

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TriageError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise SourceError(describe(exc, self.query.table.path), partial=self.stats.entries > 0) from None

    def dry_run(self) -> list[JobSummary]:
        """What each query would scan; runs only dry-run jobs and reads no row."""
        self.jobs = []
        client = self._call(self._open)
        try:
            for planned in self._call(self.plan, client):
                config = _job_config(planned, self.query, dry_run=True)
                job = self._call(client.query, planned.sql, job_config=config)
                self.jobs.append(JobSummary(planned.label, int(job.total_bytes_processed or 0), dry_run=True))
        finally:
            client.close()
        return self.jobs

    def _rows(self, client: Any, planned: PlannedQuery) -> Iterator[tuple[str, str, dict[str, Any]]]:
        summary = JobSummary(planned.label)
        self.jobs.append(summary)
        config = _job_config(planned, self.query, dry_run=False)
        job = self._call(client.query, planned.sql, job_config=config)
        rows = self._call(job.result, page_size=self.page_size)
        convert = from_log_analytics if self.query.table.kind == "log_analytics" else from_sink
        pages = iter(rows.pages)
        while (page := self._call(next, pages, None)) is not None:
            for row in page:
                summary.rows += 1
                if self.pushdown is not None and row["kind"] == "agg":
                    self.light.append(dict(row.items()))
                    summary.groups += 1
                    summary.counted += int(row["n"])
                    self.stats.entries += int(row["n"])
                    continue
                try:
                    entry = convert(row["ts"], orjson.loads(row["entry"]))
                except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
                    self.stats.malformed += 1
                    self.stats.entries += 1
                    if len(self.stats.notes) < 20:
                        self.stats.notes.append(f"{planned.label}: row {summary.rows}: not a log entry ({exc})")
                    continue
                yield entry["timestamp"], str(entry.get("insertId", "")), entry
        summary.bytes_processed = int(job.total_bytes_processed or 0)

    def entries(self) -> Iterator[dict[str, Any]]:
        client = self._call(self._open)
        try:
            streams = [self._rows(client, p) for p in self._call(self.plan, client)]
            # Each query is ordered by (timestamp, insert id); merged the same way, as one export would be.
            for _, _, entry in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
                self.stats.entries += 1
                yield entry
        finally:
            client.close()
        self.stats.notes.extend(job_notes(self.jobs))


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{count} B"  # unreachable


def _counted(job: JobSummary) -> str:
    if not job.groups:
        return ""
    return f" ({job.rows - job.groups:,} entries whole, {job.groups:,} counts of {job.counted:,} benign entries)"


def job_notes(jobs: Sequence[JobSummary]) -> list[str]:
    """The Data Quality lines: each query, its rows and bytes, and the total."""
    notes = [
        f"BigQuery query {n} of {len(jobs)}: {job.label}: {job.rows:,} rows{_counted(job)}, "
        f"{job.bytes_processed:,} bytes processed ({human_bytes(job.bytes_processed)})"
        for n, job in enumerate(jobs, 1)
    ]
    total = sum(job.bytes_processed for job in jobs)
    rows = sum(job.rows for job in jobs)
    queries = "1 query" if len(jobs) == 1 else f"{len(jobs)} queries"
    notes.append(f"BigQuery: {queries}, {rows:,} rows, {total:,} bytes processed ({human_bytes(total)})")
    return notes
