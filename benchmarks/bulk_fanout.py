"""Fan-out throughput of ``client.bulk.entitle`` against 20 ms of sandbox latency.

Little's law bounds a pool of ``concurrency`` requests, each taking ``latency`` seconds, at
``concurrency / latency`` requests per second: 64 / 0.020 s = 3,200 requests/s. This measures
how close the bulk engine gets.

The sandbox runs in a subprocess pinned to core 0 with every request delayed by ``--latency``
(fault injection, no errors); this process (the client) is pinned to core 1. The rows entitle
the sandbox's seeded users (the same seed generates the same user ids here) to one offer; a
user who already holds it costs a second request (the entitlement list), so requests/s is
the figure compared with the limit, rows/s is reported beside it. CPU seconds of both
processes during the measured run show which side bounds it.

    python benchmarks/bulk_fanout.py                     # 64 workers, 20 ms, 3 x 30,000 rows
    python benchmarks/bulk_fanout.py --baseline          # also: plain asyncio tasks, no engine
    python benchmarks/bulk_fanout.py --concurrency 128 --rows 60000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from common import CLIENT_CORE, SandboxProcess, pin

from magine_async import MagineClient
from magine_async.bulk import EntitleRow, Summary
from magine_async.sandbox._generator import CatalogueGenerator

SEED = 1
OFFERS = ("svod-monthly", "svod-yearly", "pass-7-days", "rent-48h", "buy-to-own")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rows(user_ids: list[str], count: int, offset: int) -> Iterator[EntitleRow]:
    """``count`` rows, each a (user, offer) pair not used before in this process."""
    for n in range(offset, offset + count):
        user = user_ids[n % len(user_ids)]
        offer = OFFERS[(n // len(user_ids)) % len(OFFERS)]
        yield EntitleRow([offer], user_id=user)


async def engine_run(
    client: MagineClient, user_ids: list[str], count: int, offset: int, concurrency: int
) -> Summary:
    run = client.bulk.entitle(rows(user_ids, count, offset), concurrency=concurrency)
    return await run


async def plain_run(
    client: MagineClient, user_ids: list[str], count: int, offset: int, concurrency: int
) -> tuple[int, float]:
    """The same calls from ``concurrency`` plain tasks: what the SDK does without the engine."""
    source = rows(user_ids, count, offset)
    done = 0

    async def worker() -> None:
        nonlocal done
        for row in source:
            await client.users.entitlements.create(row.user_id or "", list(row.offers))
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, time.perf_counter() - started


async def measure(
    args: argparse.Namespace, info: dict[str, Any], server_pid: int
) -> dict[str, Any]:
    generator = CatalogueGenerator(SEED, "magine-pro-sandbox")  # the sandbox's own seed
    user_ids = [u.user_id for u in generator.users(args.users)]
    async with MagineClient(
        access_token=info["access_token"],
        issuer=info["issuer"],
        private_key=Path(info["private_key_file"]),
        base_url=info["base_url"],
        max_connections=max(100, args.concurrency),
    ) as client:
        await engine_run(client, user_ids, args.warmup, 0, args.concurrency)
        offset = args.warmup
        runs: list[dict[str, Any]] = []
        for _ in range(args.repeat):
            client_cpu, server_cpu = time.process_time(), cpu_seconds(server_pid)
            started = time.perf_counter()
            summary = await engine_run(client, user_ids, args.rows, offset, args.concurrency)
            wall = time.perf_counter() - started
            offset += args.rows
            runs.append(
                {
                    "rows": summary.total,
                    "requests": summary.requests,
                    "seconds": wall,
                    "rows_per_s": summary.total / wall,
                    "requests_per_s": summary.requests / wall,
                    "client_cpu": time.process_time() - client_cpu,
                    "server_cpu": cpu_seconds(server_pid) - server_cpu,
                    "counts": summary.counts,
                    "p50_ms": (summary.p50 or 0) * 1000,
                    "p99_ms": (summary.p99 or 0) * 1000,
                    "peak_requests": summary.peak_requests,
                    # the flow controller's send rate (None: never throttled, so unlimited);
                    # releases before it reported an adaptive window instead
                    "send_rate": getattr(summary, "send_rate", getattr(summary, "window", None)),
                }
            )
        by_rate = sorted(runs, key=lambda run: float(run["requests_per_s"]))
        result = dict(by_rate[len(by_rate) // 2])  # the median run
        result["all_requests_per_s"] = [round(run["requests_per_s"]) for run in runs]
        if args.baseline:
            client_cpu, server_cpu = time.process_time(), cpu_seconds(server_pid)
            done, seconds = await plain_run(client, user_ids, args.rows, offset, args.concurrency)
            result["baseline"] = {
                "calls_per_s": done / seconds,
                "client_cpu": time.process_time() - client_cpu,
                "server_cpu": cpu_seconds(server_pid) - server_cpu,
                "seconds": seconds,
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.020, help="seconds per request")
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--warmup", type=int, default=3_000)
    parser.add_argument("--users", type=int, default=30_000, help="seeded sandbox users")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs (median shown)")
    parser.add_argument("--baseline", action="store_true", help="also run plain asyncio tasks")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if (args.warmup + args.rows * (args.repeat + args.baseline)) > args.users * len(OFFERS):
        raise SystemExit("--users too small: every row must be a new (user, offer) pair")

    with SandboxProcess(users=args.users, seed=SEED) as sandbox:
        sandbox.set_latency(args.latency)
        assert sandbox.process is not None
        client_where = pin(0, CLIENT_CORE)
        result = asyncio.run(measure(args, sandbox.info, sandbox.process.pid))
    server_where = "core 0" if client_where != "not pinned" else "not pinned"
    limit = args.concurrency / args.latency
    result.update(
        {
            "concurrency": args.concurrency,
            "latency_ms": args.latency * 1000,
            "limit_per_s": limit,
            "share_of_limit": result["requests_per_s"] / limit,
            "server": server_where,
            "client": client_where,
        }
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"sandbox {server_where}, client {client_where}; {args.concurrency} workers, "
        f"{args.latency * 1000:.0f} ms latency; Little's law limit {limit:,.0f} requests/s"
    )
    print(
        f"bulk.entitle, median of {args.repeat} runs: {result['rows']:,} rows, "
        f"{result['requests']:,} requests in {result['seconds']:.2f} s "
        f"(all runs: {', '.join(f'{r:,}' for r in result['all_requests_per_s'])} requests/s)"
    )
    print(
        f"  {result['requests_per_s']:,.0f} requests/s = {100 * result['share_of_limit']:.1f} % "
        f"of the limit; {result['rows_per_s']:,.0f} rows/s"
    )
    print(
        f"  row latency p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms; "
        f"peak {result['peak_requests']} requests in flight; send rate {result['send_rate']}"
    )
    print(
        f"  CPU during the run: client {result['client_cpu']:.2f} s "
        f"({100 * result['client_cpu'] / result['seconds']:.0f} % of its core), "
        f"sandbox {result['server_cpu']:.2f} s "
        f"({100 * result['server_cpu'] / result['seconds']:.0f} % of its core)"
    )
    print(f"  outcomes {result['counts']}")
    if "baseline" in result:
        base = result["baseline"]
        print(
            f"plain tasks, no engine: {base['calls_per_s']:,.0f} calls/s "
            f"({100 * base['calls_per_s'] / limit:.1f} % of the limit); CPU client "
            f"{base['client_cpu']:.2f} s, sandbox {base['server_cpu']:.2f} s "
            f"in {base['seconds']:.2f} s"
        )


if __name__ == "__main__":
    main()
