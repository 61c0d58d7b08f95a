"""Issue 13's engine question, measured: the push-down plan run by DuckDB over a JSON-lines export.

    PYTHONPATH=. python benchmarks/duckdb_plan.py [N] [--data DIR] [--memory-limit 250MB] [--profile]

The plan is triage/sources/bigquery_plan.py's, unchanged: its stages after ``e`` (``stages_sql``) and its
count rows (``AGG_SQL``), transpiled from GoogleSQL to DuckDB by sqlglot. Only ``e`` is DuckDB's own here:
each line read once as text (``read_csv``, one column), its fields taken by one multi-path
``json_extract`` (a parse per line, not one per field), and a line whose fields are not the types
records.from_entry reads (or no canonical timestamp) made to travel. The travelling rows carry their line
number, not the line: carrying the text through the windows cost 2.4 s more at 1M entries, so they are
fetched by a second scan, timed apart. Lines longer than DuckDB's default ``max_line_size`` (2 MB) fail
the read: raising it to triage's 16 MB line cap makes the CSV reader take 256 MB buffers, more than the
memory target by itself.

It prints the plan's wall and CPU time, the process's peak RSS, the rows that travel and the entries
counted (at 1M they match benchmarks/bigquery_share.py's, which runs the same plan through the fake
BigQuery), and with ``--profile`` the operators that cost most. This is the experiment behind keeping
triage.fastpath: the whole fast-path report takes about 6 s and 148 MB at 1M entries; the plan alone,
before any Python sees a row, costs more (README, Performance): 11.2 s and 2.5 GB at 1M, 15.3 s within
``--memory-limit 250MB`` (it spills).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import sqlglot

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import generate  # noqa: E402

from triage.engine import Matcher, load_catalog  # noqa: E402
from triage.engine.benign import benign_literals  # noqa: E402
from triage.pushdown import plan_params  # noqa: E402
from triage.sources.bigquery_plan import AGG_COLUMNS, AGG_SQL, PlanParams, stages_sql  # noqa: E402

# The REST LogEntry fields the plan reads, in the order of the extracted list (1-based in SQL).
STRINGS = {
    "iid": "$.insertId", "log_name": "$.logName", "sev": "$.severity", "rtype": "$.resource.type",
    "svc": "$.resource.labels.service_name", "job": "$.resource.labels.job_name",
    "rev": "$.resource.labels.revision_name", "exe": '$.labels."run.googleapis.com/execution_name"',
    "inst": "$.labels.instanceId", "proj": "$.resource.labels.project_id", "loc": "$.resource.labels.location",
    "text": "$.textPayload", "method": "$.httpRequest.requestMethod", "url": "$.httpRequest.requestUrl",
}  # fmt: skip
OBJECTS = {"json": "$.jsonPayload", "proto": "$.protoPayload", "http": "$.httpRequest"}
# Cloud Logging's timestamp shape, fraction of 1 to 9 digits (records.normalize_timestamp's fast path).
TS_RE = r'"[0-9]{4}-[0-9][0-9]-[0-9][0-9]T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?Z"'


def _e_stage(path: Path, params: PlanParams) -> str:
    paths = ["$.timestamp", "$.httpRequest.status", *STRINGS.values(), *OBJECTS.values()]
    paths += [f"$.jsonPayload.{k}" for k in (*params.message_keys, *params.exception_keys)]
    at = {p: i + 1 for i, p in enumerate(paths)}

    def raw(p: str) -> str:
        return f"v[{at[p]}]::VARCHAR"

    def string(p: str) -> str:  # the JSON string's value; NULL for null or absent
        return f"(v[{at[p]}] ->> '$')"

    def present(p: str) -> str:
        return f"IFNULL({raw(p)}, 'null') != 'null'"

    typed = " AND ".join(f"IFNULL({raw(p)}, 'null') = 'null' OR starts_with({raw(p)}, '\"')" for p in STRINGS.values())
    typed += " AND " + " AND ".join(
        f"IFNULL({raw(p)}, 'null') = 'null' OR starts_with({raw(p)}, '{{')" for p in OBJECTS.values()
    )
    ts = raw("$.timestamp")
    frac = f"rpad(IFNULL(NULLIF(substr({ts}, 22, 6), 'Z'), ''), 6, '0')"
    cols = [f"IFNULL({string(p)}, '') AS {name}" for name, p in STRINGS.items() if name not in ("sev", "text", "rtype")]
    jmsg = ", ".join(
        f"CASE WHEN starts_with({raw(p)}, '\"') THEN NULLIF({string(p)}, '') END"
        for p in (f"$.jsonPayload.{k}" for k in params.message_keys)
    )
    exc = " OR ".join(present(f"$.jsonPayload.{k}") for k in params.exception_keys)
    pathlist = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    source = str(path).replace("'", "''")
    return f"""raw AS NOT MATERIALIZED (
  SELECT row_number() OVER () AS pos, line FROM read_csv('{source}', columns={{'line': 'VARCHAR'}}, delim='\\x01',
    quote='', escape='', header=false, auto_detect=false, strict_mode=false)
), p AS NOT MATERIALIZED (SELECT pos, TRY(json_extract(line, {pathlist})) AS v FROM raw
), e AS NOT MATERIALIZED (SELECT
  CASE WHEN regexp_full_match({ts}, '{TS_RE}') THEN TRY_CAST(substr({ts}, 2, 10) || ' ' || substr({ts}, 13, 8)
    || '.' || {frac} || '+00' AS TIMESTAMPTZ) END AS ts,
  CAST(pos AS VARCHAR) AS entry,
  -- a line the plan cannot read as records.from_entry does: not a Cloud Run line to it, so it travels
  CASE WHEN v IS NOT NULL AND {typed} THEN IFNULL({string(STRINGS["rtype"])}, '') ELSE '' END AS rtype,
  {string(STRINGS["sev"])} AS sev, {string(STRINGS["text"])} AS text, {", ".join(cols)},
  {present(OBJECTS["json"])} AS has_json, COALESCE({jmsg}) AS jmsg, ({exc}) AS has_exc,
  {present(OBJECTS["proto"])} AS has_proto, {present(OBJECTS["http"])} AS has_http,
  TRY_CAST(v[{at["$.httpRequest.status"]}] ->> '$' AS BIGINT) AS status
  FROM p
)"""


def plan_query(path: Path, params: PlanParams) -> str:
    """The plan over ``path``: count rows, then one row per travelling line (its number as ``entry``)."""
    rows = f"SELECT 'row', ts, entry, iid{', NULL' * (len(AGG_COLUMNS) - 4)} FROM c WHERE cand"
    shared = sqlglot.transpile(
        f"WITH {stages_sql(params)}\n{AGG_SQL}\nUNION ALL\n{rows}", read="bigquery", write="duckdb"
    )
    text = shared[0].removeprefix("WITH ")
    # o and s are read twice each (by the next stage and by c): materialised, or DuckDB runs each, JSON parse
    # included, twice; raw, p and e once, never materialised (a copy of every line).
    for cte in ("o", "s"):
        assert f", {cte} AS (" in text, cte
        text = text.replace(f", {cte} AS (", f", {cte} AS MATERIALIZED (", 1)
    return f"WITH {_e_stage(path, params)}, {text}"


def _profile(path: str) -> list[tuple[float, str]]:
    found: list[tuple[float, str]] = []

    def walk(node: dict) -> None:
        info = node.get("extra_info", {})
        what = info.get("CTE Name") or str(info.get("Projections") or info.get("Function") or "")[:90]
        found.append((float(node.get("timing", 0.0)), f"{node['name']} {what}"))
        for child in node.get("children", []):
            walk(child)

    for node in json.loads(Path(path).read_text())["operator"]:
        walk(node)
    return sorted(found, reverse=True)[:8]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / ".data")
    parser.add_argument("--memory-limit", default="", help="DuckDB's memory_limit (it spills past it)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="print the operators that cost most")
    args = parser.parse_args()
    path = args.data / f"export-{args.n}.jsonl"
    if not path.exists():
        generate.write(args.n, path, seed=7)
    params = plan_params(benign_literals(Matcher(load_catalog(()))) or ())
    sql = plan_query(path, params)
    bound = {name: value for name, _, value in params.sql_params() if f"${name}" in sql}
    with tempfile.TemporaryDirectory() as spill:
        db = duckdb.connect()
        db.execute(f"SET threads = {args.threads}; SET TimeZone = 'UTC'; SET temp_directory = '{spill}'")
        if args.memory_limit:
            db.execute(f"SET memory_limit = '{args.memory_limit}'")
        if args.profile:
            db.execute(f"PRAGMA enable_profiling = 'json'; PRAGMA profiling_output = '{spill}/profile.json'")
        wall, cpu = time.perf_counter(), time.process_time()
        result = db.execute(sql, bound).fetchall()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        travel = [int(row[2]) for row in result if row[0] == "row"]
        counted = sum(int(row[AGG_COLUMNS.index("n")]) for row in result if row[0] == "agg")
        top = _profile(f"{spill}/profile.json") if args.profile else []
        if args.profile:
            db.execute("PRAGMA disable_profiling")
        fetch = time.perf_counter()
        db.execute("CREATE TEMP TABLE travel AS SELECT unnest($t) AS pos", {"t": travel})
        lines = db.execute(
            "SELECT count(*), sum(strlen(line)) FROM ("
            + sql.split("), p AS")[0].removeprefix("WITH raw AS NOT MATERIALIZED (")
            + ") JOIN travel USING (pos)"
        ).fetchone()
        fetch = time.perf_counter() - fetch
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{path.name}: plan {wall:.2f} s wall, {cpu:.2f} s CPU ({args.threads} threads), peak RSS {peak:,.0f} MB")
    print(
        f"travel: {len(travel):,} lines ({len(travel) / args.n:.2%}); counted: {counted:,} in {len(result) - len(travel):,} count rows"
    )
    print(f"fetching the travelling lines (a second scan): {fetch:.2f} s, {lines[0]:,} lines, {lines[1] or 0:,} bytes")
    for seconds, what in top:
        print(f"  {seconds:6.2f} s CPU  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
