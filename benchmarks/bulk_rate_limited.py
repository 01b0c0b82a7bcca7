"""Bulk entitlements against a rate-limited platform: the SDK against a naive retry loop.

The sandbox runs in its own process (pinned to core 0) with 20 ms of latency and a token
bucket per credential (burst 30) answering 429 above its rate; this process (the clients)
is pinned to core 1. For every cell of the grid

    limit 100 / 300 / 1,000 requests/s  x  concurrency 8 / 64 / 256  x  Retry-After none / 1 / exact

two clients entitle the same number of new (user, offer) pairs, one after the other, each
starting with a full bucket:

- ``sdk``: ``client.bulk.entitle(rows, concurrency=c)`` with its defaults (the flow
  controller learns the admitted rate; a 429 is not a failure);
- ``naive``: plain aiohttp with ``c`` workers, each POST wrapped in tenacity (10 attempts,
  exponential back-off with full jitter from 0.1 s up to 10 s, on 429, 5xx and transport
  errors; ``Retry-After`` is not read), which is what a team writes without an SDK.

A cell's limit is the lower of the rate limit and concurrency / the unloaded round trip
(measured before the grid with 200 sequential requests and no rate limit). Reported per
cell: goodput (rows done per second over the cell's limit), rows failed, the share of the
requests the sandbox answered 429 (its own counters), p99 row latency, and for the SDK the
rate the flow controller ended at and the seconds a Retry-After held its pool.

    python benchmarks/bulk_rate_limited.py                  # the grid, 30 s of work per cell
    python benchmarks/bulk_rate_limited.py --seconds 60     # longer cells
    python benchmarks/bulk_rate_limited.py --quick          # 3 cells, 5 s each
    python benchmarks/bulk_rate_limited.py --json out.json  # also write the figures
    python benchmarks/bulk_rate_limited.py --baseline-only  # fan-out, no rate limit, vs 4ea8e3f

``--baseline [REV]`` also measures fan-out with no rate limit (``bulk_fanout.py``: 64 workers,
20 ms) with this tree's package and with the package at REV (a git worktree; default
4ea8e3f, the last release before the flow controller), alternating, three rounds each, against
the same sandbox code: the ratio of the medians is what the flow controller costs when the
platform never throttles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import tenacity

sys.path.insert(0, str(Path(__file__).parent))

from common import CLIENT_CORE, SandboxProcess, mint_token, pin

from magine_async import MagineClient
from magine_async.bulk import EntitleRow

LIMITS = (100, 300, 1000)
CONCURRENCIES = (8, 64, 256)
RETRY_AFTERS: tuple[str, ...] = ("none", "1", "exact")
BURST = 30
LATENCY = 0.020
USERS = 20_000
BASELINE_REV = "4ea8e3f"


class Pairs:
    """Hands out (user, offer) pairs never used before: every write is a 201."""

    def __init__(self, sandbox: SandboxProcess, users: list[str]) -> None:
        self.sandbox = sandbox
        self.users = users
        self.offers = 0
        self.next_user = len(users)  # forces an offer on first use

    def take(self, count: int) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        while len(pairs) < count:
            if self.next_user >= len(self.users):
                self.sandbox.admin("POST", "/offers", {"offerId": f"limit-{self.offers}"})
                self.offers += 1
                self.next_user = 0
            take = min(count - len(pairs), len(self.users) - self.next_user)
            offer = f"limit-{self.offers - 1}"
            pairs += [(user, offer) for user in self.users[self.next_user : self.next_user + take]]
            self.next_user += take
        return pairs


class Retryable(Exception):
    pass


async def naive_run(
    info: dict[str, Any], pairs: list[tuple[str, str]], concurrency: int
) -> dict[str, Any]:
    base = info["base_url"]
    headers = {
        "Magine-AccessToken": info["access_token"],
        "Authorization": f"Bearer {mint_token(info['issuer'], info['private_key_file'])}",
        "Accept": "application/json",
        "Content-Type": "application/json",
    }
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    latencies: list[float] = []
    failed = 0
    source: Iterator[tuple[str, str]] = iter(pairs)

    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        @tenacity.retry(
            stop=tenacity.stop_after_attempt(10),
            wait=tenacity.wait_random_exponential(multiplier=0.1, max=10),
            retry=tenacity.retry_if_exception_type((Retryable, aiohttp.ClientError)),
            reraise=True,
        )
        async def entitle(user: str, offer: str) -> None:
            body = json.dumps([{"offerId": offer}]).encode()
            async with session.post(f"{base}/partner/users/{user}/entitlements", data=body) as r:
                await r.read()
                if r.status == 429 or r.status >= 500:
                    raise Retryable(str(r.status))
                if r.status >= 300:
                    raise RuntimeError(f"HTTP {r.status}")

        async def worker() -> None:
            nonlocal failed
            for user, offer in source:
                started = time.perf_counter()
                try:
                    await entitle(user, offer)
                except Exception:
                    failed += 1
                else:
                    latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "done": len(latencies),
        "failed": failed,
        "seconds": elapsed,
        "p99_ms": _p99(latencies) * 1000,
    }


async def sdk_run(
    info: dict[str, Any], pairs: list[tuple[str, str]], concurrency: int
) -> dict[str, Any]:
    async with MagineClient(
        access_token=info["access_token"],
        issuer=info["issuer"],
        private_key=Path(info["private_key_file"]),
        base_url=info["base_url"],
        max_connections=max(100, concurrency),
    ) as client:
        await client.tokens.get()  # the JWT signed before the clock starts, as for naive
        rows = (EntitleRow([offer], user_id=user) for user, offer in pairs)
        started = time.perf_counter()
        summary = await client.bulk.entitle(rows, concurrency=concurrency)
        elapsed = time.perf_counter() - started
    return {
        "done": summary.counts["succeeded"],
        "failed": summary.failed,
        "seconds": elapsed,
        "p99_ms": (summary.p99 or 0.0) * 1000,
        "send_rate": summary.send_rate,
        "measured_rate": summary.measured_rate,
        "paused_s": summary.throttled_time,
        "pauses": summary.pauses,
        "stopped": summary.stopped,
    }


def _p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def round_trip(info: dict[str, Any], pairs: list[tuple[str, str]]) -> float:
    """The median unloaded round trip of one entitlement write (sequential, no rate limit),
    in seconds: the same request the cells send."""
    headers = {
        "Magine-AccessToken": info["access_token"],
        "Authorization": f"Bearer {mint_token(info['issuer'], info['private_key_file'])}",
        "Content-Type": "application/json",
    }
    times: list[float] = []
    async with aiohttp.ClientSession(headers=headers) as session:
        for user, offer in pairs:
            url = f"{info['base_url']}/partner/users/{user}/entitlements"
            started = time.perf_counter()
            async with session.post(url, data=json.dumps([{"offerId": offer}])) as response:
                await response.read()
                if response.status >= 300:
                    raise SystemExit(f"round trip: HTTP {response.status}")
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_grid(args: argparse.Namespace) -> dict[str, Any]:
    cells: list[dict[str, Any]] = []
    with SandboxProcess(users=USERS) as sandbox:
        info = sandbox.info
        client_where = pin(0, CLIENT_CORE)
        sandbox.set_latency(LATENCY)
        sandbox.admin("DELETE", "/rate-limit")
        users = sandbox.admin("GET", f"/users?limit={USERS}")["userIds"]
        pairs = Pairs(sandbox, users)
        rtt = asyncio.run(round_trip(info, pairs.take(300)))
        grid = [
            (limit, concurrency, retry_after)
            for limit in args.limits
            for concurrency in args.concurrencies
            for retry_after in args.retry_afters
        ]
        for limit, concurrency, retry_after in grid:
            cell_limit = min(limit, concurrency / rtt)
            rows = int(args.seconds * cell_limit)
            cell: dict[str, Any] = {
                "rate_limit": limit,
                "concurrency": concurrency,
                "retry_after": retry_after,
                "limit": cell_limit,
                "rows": rows,
            }
            for name, runner in (("sdk", sdk_run), ("naive", naive_run)):
                if name not in args.clients:
                    continue
                work = pairs.take(rows)
                sandbox.admin(
                    "PUT",
                    "/rate-limit",
                    {
                        "rate": limit,
                        "burst": BURST,
                        "retry_after": None if retry_after == "none" else _hint(retry_after),
                    },
                )
                sandbox.admin("DELETE", "/counters")
                result = asyncio.run(runner(info, work, concurrency))
                counters = sandbox.admin("GET", "/counters")["rate_limit"]
                admitted = int(counters.get("admitted", 0))
                throttled = int(counters.get("throttled", 0))
                result["requests"] = admitted + throttled
                result["throttled_share"] = throttled / max(1, admitted + throttled)
                result["goodput"] = result["done"] / result["seconds"] / cell_limit
                cell[name] = result
                print(_line(cell, name), flush=True)
            cells.append(cell)
        sandbox.admin("DELETE", "/rate-limit")
    return {
        "round_trip_ms": rtt * 1000,
        "latency_ms": LATENCY * 1000,
        "burst": BURST,
        "seconds_per_cell": args.seconds,
        "client": client_where,
        "cells": cells,
    }


def baseline(rev: str, rounds: int) -> dict[str, Any]:
    """Fan-out with no rate limit (``bulk_fanout.py``: 64 workers, 20 ms, 20,000 rows), this
    tree against the package as of ``rev`` (a git worktree), alternating, ``rounds`` each."""
    here = Path(__file__).resolve().parent
    root = here.parent
    fanout = [sys.executable, str(here / "bulk_fanout.py"), "--json", "--repeat", "1"]
    fanout += ["--rows", "20000", "--warmup", "2000"]
    with tempfile.TemporaryDirectory(prefix="magine-baseline-") as tmp:
        tree = Path(tmp) / "tree"
        git = ["git", "-C", str(root)]
        subprocess.run([*git, "worktree", "add", "--detach", str(tree), rev], check=True)
        try:
            figures: dict[str, list[float]] = {"this": [], rev: []}
            for _ in range(rounds):
                for name, path in (("this", root), (rev, tree)):
                    env = dict(os.environ, PYTHONPATH=str(path), MAGINE_BENCH_SERVER_PATH=str(root))
                    done = subprocess.run(
                        fanout, env=env, capture_output=True, text=True, check=True
                    )
                    figures[name].append(json.loads(done.stdout)["requests_per_s"])
                    print(f"fan-out, no rate limit, {name}: {figures[name][-1]:,.0f} requests/s")
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False)
    this, before = statistics.median(figures["this"]), statistics.median(figures[rev])
    return {"rev": rev, "requests_per_s": figures, "ratio": this / before}


def _hint(retry_after: str) -> float | str:
    return retry_after if retry_after == "exact" else float(retry_after)


def _line(cell: dict[str, Any], name: str) -> str:
    r = cell[name]
    extra = ""
    if name == "sdk":
        rate = r["send_rate"]
        extra = f", rate {rate:,.0f}/s" if rate else ", never limited"
        extra += f", paused {r['paused_s']:.1f} s"
    return (
        f"limit {cell['rate_limit']:>5}/s c={cell['concurrency']:<3} Retry-After "
        f"{cell['retry_after']:<5} {name:<5} goodput {r['goodput']:.3f}, failed {r['failed']}, "
        f"429 {r['throttled_share']:.1%}, p99 {r['p99_ms']:,.0f} ms{extra}"
    )


def table(results: dict[str, Any]) -> list[str]:
    """The grid as a Markdown table (used by report.py as well)."""
    lines = [
        "| limit/s | c | Retry-After | cell limit/s | SDK goodput | naive goodput | SDK failed "
        "| naive failed | SDK 429 | naive 429 | SDK p99 ms | naive p99 ms | SDK paused s |",
        "|" + " ---: |" * 2 + " --- |" + " ---: |" * 10,
    ]
    for cell in results["cells"]:
        sdk, naive = cell["sdk"], cell["naive"]
        lines.append(
            f"| {cell['rate_limit']:,} | {cell['concurrency']} | {cell['retry_after']} "
            f"| {cell['limit']:,.0f} | {sdk['goodput']:.3f} | {naive['goodput']:.3f} "
            f"| {sdk['failed']} | {naive['failed']} | {sdk['throttled_share']:.1%} "
            f"| {naive['throttled_share']:.1%} | {sdk['p99_ms']:,.0f} | {naive['p99_ms']:,.0f} "
            f"| {sdk['paused_s']:.1f} |"
        )
    return lines


def verdict(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets over the grid: each is met only if it holds in every cell."""
    cells = results["cells"]
    worst = min(cells, key=lambda c: c["sdk"]["goodput"])
    return {
        "goodput_min": worst["sdk"]["goodput"],
        "goodput_min_cell": _cell_name(worst),
        "failed_total": sum(c["sdk"]["failed"] for c in cells),
        "throttled_share_max": max(c["sdk"]["throttled_share"] for c in cells),
        "beats_naive_goodput": all(c["sdk"]["goodput"] > c["naive"]["goodput"] for c in cells),
        "beats_naive_429": all(
            c["sdk"]["throttled_share"] < c["naive"]["throttled_share"] for c in cells
        ),
        "below_target": [
            _cell_name(c) for c in cells if c["sdk"]["goodput"] < 0.95 or c["sdk"]["failed"]
        ],
    }


def _cell_name(cell: dict[str, Any]) -> str:
    return f"{cell['rate_limit']}/s c={cell['concurrency']} Retry-After {cell['retry_after']}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="work per cell at its limit")
    parser.add_argument("--limits", type=int, nargs="+", default=list(LIMITS))
    parser.add_argument("--concurrencies", type=int, nargs="+", default=list(CONCURRENCIES))
    parser.add_argument("--retry-afters", nargs="+", default=list(RETRY_AFTERS))
    parser.add_argument("--clients", nargs="+", default=["sdk", "naive"])
    parser.add_argument("--quick", action="store_true", help="3 cells of 5 s (a smoke run)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument(
        "--baseline",
        nargs="?",
        const=BASELINE_REV,
        metavar="REV",
        help="also compare fan-out with no rate limit against the package at REV "
        f"(default {BASELINE_REV}, the release before the flow controller)",
    )
    parser.add_argument("--baseline-only", action="store_true", help="skip the grid")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.limits, args.concurrencies = 5.0, [300], [64]
    started = time.perf_counter()
    results: dict[str, Any] = {} if args.baseline_only else run_grid(args)
    if args.baseline or args.baseline_only:
        results["baseline"] = baseline(args.baseline or BASELINE_REV, rounds=3)
        ratio = results["baseline"]["ratio"]
        print(f"fan-out with no rate limit: {ratio:.3f}x of {results['baseline']['rev']}")
    results["wall_s"] = time.perf_counter() - started
    if "cells" in results and set(args.clients) == {"sdk", "naive"}:
        results["verdict"] = verdict(results)
        print("\n".join(table(results)))
        print(json.dumps(results["verdict"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
