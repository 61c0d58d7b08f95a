"""Pull throughput against the quota: entries/s with pacing on, from a fake that enforces the quota.

    PYTHONPATH=. python benchmarks/pull_bench.py [N] [--transport rest|grpc] [--gz] [--window S]

Cloud Logging allows 60 ``entries.list`` requests a minute per project at 1,000 entries a page: about
1,000 entries/s is the ceiling for any client, so that is the target, not raw client speed. The fake
answers 429 past 60 requests in any ``--window`` seconds (60 is the real minute; the default 6 s scales
time down tenfold so a run takes seconds), and the pull paces itself on the same window exactly as
``triage pull`` does (55 of the 60). Printed: measured entries/s, the quota's ceiling, their ratio, and
the ratio applied to the real minute. Goes through the real client (REST by default), the source's
paging and the file writer.
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
from triage.sources.cloud import PAGE_SIZE, RetryPolicy

QUOTA = 60  # entries.list requests per minute per project (cloud.google.com/logging/quotas)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=200_000)
    parser.add_argument("--transport", choices=("rest", "grpc"), default="rest")
    parser.add_argument("--gz", action="store_true", help="write .jsonl.gz")
    parser.add_argument("--window", type=float, default=6.0, help="seconds standing for the quota's minute")
    args = parser.parse_args()
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"

    print(f"building {args.n:,} entries ...", file=sys.stderr)
    with FakeLogging(sample_entries(args.n)) as fake, tempfile.TemporaryDirectory() as tmp:
        fake.set_quota(QUOTA, args.window)
        out = Path(tmp) / ("pulled.jsonl.gz" if args.gz else "pulled.jsonl")
        options = LiveOptions(
            project="demo",
            from_="2025-09-05T00:00:00Z",
            to="2025-09-06T00:00:00Z",
            api_endpoint=fake.endpoint(args.transport),
            anonymous=True,
        )
        source = live_source(options, policy=RetryPolicy(quota_window=args.window))  # default pacing: 55 a window
        # The fake's N entries live in this process; keep the collector from re-scanning them on every
        # pass, which a real pull (server elsewhere) never pays for.
        gc.freeze()
        started, cpu_started = time.perf_counter(), time.process_time()
        pull(options, out, quiet=True, source=source)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        rate = source.stats.entries / elapsed
        ceiling = QUOTA * PAGE_SIZE / args.window
        ratio = rate / ceiling
        print(
            f"{args.transport}: {source.stats.entries:,} entries, {source.pages} pages in {elapsed:.2f} s "
            f"(quota {QUOTA} requests per {args.window:g} s)"
        )
        print(f"  measured {rate:,.0f} entries/s, quota ceiling {ceiling:,.0f} entries/s, ratio {ratio:.2f}")
        print(
            f"  on the real minute: {ratio * QUOTA * PAGE_SIZE / 60:,.0f} of {QUOTA * PAGE_SIZE / 60:,.0f} entries/s; "
            f"429s from the fake: {fake.over_quota}, retries: {source.retries}, waited {source._pacer.waited:.1f} s"
        )
        # A pull starts with a full window's burst, so short pulls beat the steady ceiling: the fastest any
        # client can finish P pages is (ceil(P / quota) - 1) windows.
        fastest = (-(-source.requests // QUOTA) - 1) * args.window
        if fastest > 0:
            print(
                f"  fastest the quota allows for {source.requests} requests: {fastest:.1f} s; ours {fastest / elapsed:.2f} of that"
            )
        print(f"  cpu {cpu:.2f} s (client and fake together)")
        if source.stats.entries != args.n:
            print(f"expected {args.n:,} entries", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
