"""Pages per second the sandbox serves: GET /partner/viewables pages over loopback.

Starts ``python -m magine_async.sandbox`` in a subprocess (its own core), mints one RS512
JWT as the doc's Get Started does, then has ``--concurrency`` plain aiohttp workers walk
the catalogue page by page (following the cursor, starting over at the end) for
``--seconds`` seconds. Reports pages/s, items/s and MB/s, plus the sandbox's generation
time and resident memory.

    python benchmarks/sandbox_pages.py --viewables 1000000 --size 100 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
from common import CLIENT_CORE, SERVER_CORE, SandboxProcess, mint_token, pin

CURSOR_MARK = b'"cursor":"'


async def walk(
    session: aiohttp.ClientSession, url: str, size: int, deadline: float, totals: dict[str, int]
) -> None:
    cursor: str | None = None
    while time.perf_counter() < deadline:
        params = {"size": str(size)}
        if cursor:
            params["cursor"] = cursor
        async with session.get(url, params=params) as response:
            body = await response.read()
            if response.status != 200:
                raise SystemExit(f"HTTP {response.status}: {body[:200]!r}")
        totals["pages"] += 1
        totals["bytes"] += len(body)
        at = body.rfind(CURSOR_MARK)
        if at < 0:
            cursor = None
            totals["scans"] += 1
        else:
            start = at + len(CURSOR_MARK)
            cursor = body[start : body.index(b'"', start)].decode()


async def measure(
    info: dict[str, Any], size: int, seconds: float, concurrency: int, warmup: float
) -> dict[str, float]:
    token = mint_token(info["issuer"], info["private_key_file"])
    headers = {"Magine-AccessToken": info["access_token"], "Authorization": f"Bearer {token}"}
    url = info["base_url"] + "/partner/viewables"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        if warmup > 0:
            scratch = {"pages": 0, "bytes": 0, "scans": 0}
            end = time.perf_counter() + warmup
            await asyncio.gather(
                *(walk(session, url, size, end, scratch) for _ in range(concurrency))
            )
        totals = {"pages": 0, "bytes": 0, "scans": 0}
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(walk(session, url, size, deadline, totals) for _ in range(concurrency))
        )
        elapsed = time.perf_counter() - started
    return {
        "pages_per_s": totals["pages"] / elapsed,
        "items_per_s": totals["pages"] * size / elapsed,
        "mb_per_s": totals["bytes"] / elapsed / 1e6,
        "avg_page_kb": totals["bytes"] / max(1, totals["pages"]) / 1e3,
        "pages": totals["pages"],
        "seconds": elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewables", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    client_pinning = pin(0, CLIENT_CORE)
    with SandboxProcess(viewables=args.viewables, seed=args.seed) as sandbox:
        ready, note, memory = sandbox.startup_s, sandbox.note, sandbox.rss_mb
        result = asyncio.run(
            measure(sandbox.info, args.size, args.seconds, args.concurrency, args.warmup)
        )
    print(
        f"sandbox: {args.viewables} viewables, {note}; ready in {ready:.1f}s; RSS {memory:.0f} MB"
    )
    print(
        f"pages of {args.size}: {result['pages_per_s']:.0f} pages/s, "
        f"{result['items_per_s']:.0f} items/s, {result['mb_per_s']:.0f} MB/s "
        f"(avg page {result['avg_page_kb']:.0f} kB, {result['pages']} pages in "
        f"{result['seconds']:.1f}s, concurrency {args.concurrency}, cpus {os.cpu_count()})"
    )
    print(f"server pinned to core {SERVER_CORE}; client: {client_pinning}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
