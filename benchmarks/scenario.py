"""One benchmark scenario in a fresh process (run by ``run.py``); prints one JSON line.

python benchmarks/scenario.py per_request --client sdk --info info.json --op get
python benchmarks/scenario.py stream --client raw --info info.json --limit 100000
python benchmarks/scenario.py fanout --client sdk --info info.json --concurrency 64 ...
python benchmarks/scenario.py cold_start --info info.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from clients import make_client
from common import CLIENT_CORE, peak_rss_mb, pin


async def per_request(args: argparse.Namespace, info: dict[str, Any]) -> dict[str, Any]:
    client = await make_client(args.client, info, connections=4)
    try:
        if args.op == "get":

            async def call() -> Any:
                return await client.get_viewable(args.viewable_id)
        else:

            async def call() -> Any:
                return await client.lookup(args.email)

        for _ in range(args.warmup):
            await call()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(args.n):
            await call()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await client.aclose()
    return {"cpu_us": cpu / args.n * 1e6, "wall_us": wall / args.n * 1e6, "n": args.n}


async def stream(args: argparse.Namespace, info: dict[str, Any]) -> dict[str, Any]:
    client = await make_client(args.client, info, connections=4)
    base_rss = peak_rss_mb()
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        count = await client.stream(args.page_size, args.limit)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await client.aclose()
    if count != args.limit:
        raise SystemExit(f"streamed {count} items, expected {args.limit}")
    return {
        "items_per_s": count / wall,
        "cpu_s": cpu,
        "wall_s": wall,
        "peak_rss_mb": peak_rss_mb(),
        "base_rss_mb": base_rss,
        "items": count,
    }


async def fanout(args: argparse.Namespace, info: dict[str, Any]) -> dict[str, Any]:
    users: list[str] = json.loads(Path(args.users_file).read_text())
    users = users[args.user_offset : args.user_offset + args.writes]
    client = await make_client(args.client, info, connections=args.concurrency)
    position = 0
    done = 0
    errors = 0
    deadline = 0.0

    async def worker() -> None:
        nonlocal position, done, errors
        while position < len(users) and time.perf_counter() < deadline:
            user = users[position]
            position += 1
            try:
                await client.entitle(user, args.offer)
            except Exception:
                errors += 1
            else:
                done += 1

    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        deadline = wall0 + args.seconds
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await client.aclose()
    return {
        "requests_per_s": done / wall,
        "done": done,
        "errors": errors,
        "cpu_s": cpu,
        "cpu_us_per_request": cpu / max(done, 1) * 1e6,
        "wall_s": wall,
    }


async def cold_start(args: argparse.Namespace, info: dict[str, Any]) -> dict[str, Any]:
    """Client creation to first response (key load and first signing included), while a
    monitor measures how late the event loop wakes a 1 ms sleeper."""
    from magine_async import MagineClient

    worst = 0.0
    stop = False

    async def monitor() -> None:
        nonlocal worst
        while not stop:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - before - 0.001)

    watcher = asyncio.create_task(monitor())
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    async with MagineClient(
        access_token=info["access_token"],
        issuer=info["issuer"],
        private_key=Path(info["private_key_file"]),
        base_url=info["base_url"],
    ) as client:
        await client.test()
        first_response = time.perf_counter() - started
    stop = True
    await watcher
    return {"max_loop_lag_ms": worst * 1000, "first_response_ms": first_response * 1000}


SCENARIOS = {
    "per_request": per_request,
    "stream": stream,
    "fanout": fanout,
    "cold_start": cold_start,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--client", default="sdk")
    parser.add_argument("--info", required=True, help="JSON file with the sandbox's details")
    parser.add_argument("--op", choices=["get", "post"], default="get")
    parser.add_argument("--n", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--viewable-id", default="")
    parser.add_argument("--email", default="")
    parser.add_argument("--limit", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--writes", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--offer", default="")
    parser.add_argument("--users-file", default="")
    parser.add_argument("--user-offset", type=int, default=0)
    args = parser.parse_args()
    pin(0, CLIENT_CORE)
    info = json.loads(Path(args.info).read_text())
    result = asyncio.run(SCENARIOS[args.scenario](args, info))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
