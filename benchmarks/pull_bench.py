"""Pull throughput: entries/s written to a .jsonl file from the fake Cloud Logging server on loopback.

    PYTHONPATH=. python benchmarks/pull_bench.py [N] [--transport rest|grpc] [--gz]

Goes through the real google-cloud-logging client (REST by default), the source's paging and the file
writer, exactly as ``triage pull`` does; only quota pacing is off, since the fake has no quota.
Target: >= 50,000 entries/s over REST.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_logging import FakeLogging, sample_entries
from triage.commands.pull import LiveOptions, live_source, pull
from triage.sources.cloud import RetryPolicy

TARGET = 50_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=200_000)
    parser.add_argument("--transport", choices=("rest", "grpc"), default="rest")
    parser.add_argument("--gz", action="store_true", help="write .jsonl.gz")
    args = parser.parse_args()
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"

    print(f"building {args.n:,} entries ...", file=sys.stderr)
    with FakeLogging(sample_entries(args.n)) as fake, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / ("pulled.jsonl.gz" if args.gz else "pulled.jsonl")
        options = LiveOptions(
            project="demo",
            from_="2025-09-05T00:00:00Z",
            to="2025-09-06T00:00:00Z",
            api_endpoint=fake.endpoint(args.transport),
            anonymous=True,
        )
        source = live_source(options, policy=RetryPolicy(requests_per_minute=None))
        # The fake's N entries live in this process; keep the collector from re-scanning them on every
        # pass, which a real pull (server elsewhere) never pays for.
        gc.freeze()
        started, cpu_started = time.perf_counter(), time.process_time()
        pull(options, out, quiet=True, source=source)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        with out.open("rb") as fh:
            size = fh.seek(0, 2)
        rate = source.stats.entries / elapsed
        print(
            f"{args.transport}: {source.stats.entries:,} entries, {source.pages} pages, "
            f"{size / 1e6:.1f} MB in {elapsed:.2f} s = {rate:,.0f} entries/s"
            + (f" (target {TARGET:,})" if args.transport == "rest" and not args.gz else "")
        )
        # CPU time of client and fake server together: steadier than wall time on a busy machine.
        print(f"  cpu {cpu:.2f} s = {source.stats.entries / cpu:,.0f} entries per CPU-second")
        if source.stats.entries != args.n:
            print(f"expected {args.n:,} entries", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
