"""What the BigQuery push-down plan sends back: rows returned against the table's rows, on a generated export.

    PYTHONPATH=. python benchmarks/bigquery_share.py [N] [--data DIR] [--sink]

Loads N generated entries (the benchmark generator, cached as benchmarks/.data/export-N.jsonl) into the fake
BigQuery (tests/fake_bigquery.py: DuckDB running the transpiled GoogleSQL) as a Log Analytics view, or
with ``--sink`` as a date-sharded sink dataset, runs ``collect`` through the real client, and prints the
entries that travelled whole, the count rows, the benign entries they count and the wall time. The fake's
time says nothing about BigQuery's; the shares are what the plan decides, whatever engine runs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import generate  # noqa: E402

from tests.fake_bigquery import FakeBigQuery  # noqa: E402
from tests.test_bigquery_pushdown import stored  # noqa: E402
from triage.engine import Matcher, load_catalog  # noqa: E402
from triage.pipeline import collect  # noqa: E402
from triage.sources.bigquery import BigQueryQuery, BigQuerySource, Table  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / ".data")
    parser.add_argument("--sink", action="store_true", help="a date-sharded sink dataset, not a view")
    args = parser.parse_args()
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    os.environ.update(NO_GCE_CHECK="True", GCE_METADATA_HOST="127.0.0.1:9", GCE_METADATA_IP="127.0.0.1:9")
    path = args.data / f"export-{args.n}.jsonl"
    if not path.exists():
        generate.write(args.n, path, seed=7)
    entries = [e for e in (stored(orjson.loads(line)) for line in path.read_bytes().splitlines()) if e]
    with FakeBigQuery() as fake:
        table = "bench.sink" if args.sink else "bench.us.logs._AllLogs"
        if args.sink:
            fake.load_sink(table, entries)
        else:
            fake.load_log_analytics(table, entries)
        window = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
        source = BigQuerySource(BigQueryQuery(Table.parse(table), *window), endpoint=fake.url, anonymous=True)
        start = time.perf_counter()
        collected = collect([source], Matcher(load_catalog(())))
        wall = time.perf_counter() - start
    job = source.jobs[0]
    whole = job.rows - job.groups
    print(f"table rows: {len(entries):,} ({'sink dataset' if args.sink else 'Log Analytics view'})")
    print(f"returned: {job.rows:,} rows = {whole:,} entries whole ({whole / len(entries):.2%}) + {job.groups:,} counts")
    print(f"counted in BigQuery: {job.counted:,} benign entries ({job.counted / len(entries):.2%})")
    print(f"issues' matched events: {collected.stats.matched_events:,}; collect through the fake: {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
