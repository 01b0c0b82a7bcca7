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
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from joserfc import jwt
from joserfc.jwk import RSAKey

CURSOR_MARK = b'"cursor":"'


def mint_token(issuer: str, key_file: str) -> str:
    now = int(time.time())
    claims = {"iss": issuer, "iat": now - 3600, "exp": now + 86_400}
    key = RSAKey.import_key(Path(key_file).read_bytes())
    return jwt.encode({"alg": "RS512"}, claims, key, algorithms=["RS512"])


SERVER_CORE = 0
CLIENT_CORE = 1


def pin(pid: int, core: int) -> str:
    """Pin a process to one core where the machine has it; says what was done."""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if core not in cores or len(cores) < 2:
        return "not pinned"
    os.sched_setaffinity(pid, {core})
    return f"core {core}"


def start_sandbox(
    viewables: int, seed: int, key_dir: str
) -> tuple[subprocess.Popen[bytes], dict[str, Any], str]:
    command = [
        sys.executable,
        "-m",
        "magine_async.sandbox",
        "--port",
        "0",
        "--json",
        "--viewables",
        str(viewables),
        "--seed",
        str(seed),
        "--key-dir",
        key_dir,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pin(process.pid, SERVER_CORE)
    assert process.stdout is not None
    assert process.stderr is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise SystemExit(f"sandbox did not start:\n{process.stderr.read().decode()}")
    note = process.stderr.readline().decode().strip()
    return process, json.loads(line), note


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


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
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as key_dir:
        started = time.perf_counter()
        process, info, note = start_sandbox(args.viewables, args.seed, key_dir)
        ready = time.perf_counter() - started
        try:
            memory = rss_mb(process.pid)
            result = asyncio.run(
                measure(info, args.size, args.seconds, args.concurrency, args.warmup)
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
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
