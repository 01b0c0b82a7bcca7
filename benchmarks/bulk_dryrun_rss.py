"""Memory of a bulk run over a generator: flat, whatever the number of rows.

Runs ``client.bulk.entitle(rows, dry_run=True)`` over a generator of ``EntitleRow`` objects
(each row built when the engine asks for it) in a fresh subprocess per size, and reports the
process's peak RSS (``ru_maxrss``), its RSS before the run, and RSS samples taken while it
runs. A dry run goes through the whole engine (producer, bounded queue, workers, outcome
stream, summary) and sends nothing, so no server is needed. If memory grew with the input, the
1,000,000-row peak would be far above the 100,000-row one.

    python benchmarks/bulk_dryrun_rss.py                       # 100,000 and 1,000,000 rows
    python benchmarks/bulk_dryrun_rss.py --sizes 10000 1000000 10000000
    python benchmarks/bulk_dryrun_rss.py --journal             # also consult a journal
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from magine_async import MagineClient
from magine_async.bulk import EntitleRow
from magine_async.sandbox import cached_key_pair

OFFERS = ("svod-monthly", "svod-yearly", "pass-7-days", "rent-48h", "buy-to-own")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rows(count: int) -> Iterator[EntitleRow]:
    for n in range(count):
        if n % 10 == 0:
            yield EntitleRow([OFFERS[n % 5]], email=f"user{n}@example.com", country_code="SE")
        else:
            yield EntitleRow([OFFERS[n % 5], OFFERS[(n + 1) % 5]], user_id=f"U{n:027d}")


async def child(count: int, journal: str | None) -> dict[str, float | int | list[float]]:
    key = cached_key_pair("partner").private_pem
    async with MagineClient(
        access_token="bench-token",
        issuer="bench",
        private_key=key,
        base_url="http://127.0.0.1:9/api/v1",  # never contacted: a dry run sends nothing
    ) as client:
        before = rss_mb()
        samples: list[float] = []
        run = client.bulk.entitle(rows(count), dry_run=True, concurrency=64, journal=journal)
        started = time.perf_counter()
        seen = 0
        async for _ in run:
            seen += 1
            if seen % max(count // 10, 1) == 0:
                samples.append(round(rss_mb(), 1))
        seconds = time.perf_counter() - started
    return {
        "rows": count,
        "outcomes": seen,
        "planned": run.summary.planned,
        "seconds": round(seconds, 2),
        "rows_per_s": round(count / seconds),
        "rss_before_mb": round(before, 1),
        "rss_samples_mb": samples,
        "peak_rss_mb": round(peak_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--journal", action="store_true", help="consult a (new) journal too")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--journal-path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(child(args.child, args.journal_path))))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="bulk-rss-") as tmp:
        for size in args.sizes:
            command = [sys.executable, __file__, "--child", str(size)]
            if args.journal:
                command += ["--journal-path", str(Path(tmp) / f"plan-{size}.db")]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(output))
    print(f"{'rows':>12} {'rows/s':>9} {'RSS before':>11} {'peak RSS':>9}  RSS while running (MB)")
    for r in results:
        print(
            f"{r['rows']:>12,} {r['rows_per_s']:>9,} {r['rss_before_mb']:>9.1f}MB "
            f"{r['peak_rss_mb']:>7.1f}MB  {r['rss_samples_mb']}"
        )
    growth = results[-1]["peak_rss_mb"] - results[0]["peak_rss_mb"]
    print(
        f"peak RSS grows {growth:+.1f} MB from {results[0]['rows']:,} to {results[-1]['rows']:,} "
        "rows"
    )


if __name__ == "__main__":
    main()
