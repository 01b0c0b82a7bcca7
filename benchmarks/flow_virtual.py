"""The flow controller against a token-bucket platform in virtual time (no network).

    python benchmarks/flow_virtual.py [--rate 300] [--rows 6000]

Prints, for 8, 64 and 256 workers and Retry-After none / exact / 1: goodput (rows done per
second over the lower of the rate and workers / round trip) and the share of 429 answers.
The harness is the one of tests/core/test_flow.py (20 ms round trip, burst 30).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.core.test_flow import _run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--rows", type=int, default=6000)
    args = parser.parse_args()
    print("| workers | Retry-After | goodput / limit | 429 share |")
    print("| --- | --- | --- | --- |")
    for workers in (8, 64, 256):
        for retry_after in ("none", "exact", "1"):
            elapsed, admitted, throttled = asyncio.run(
                _run(args.rate, workers, retry_after, args.rows)
            )
            limit = min(args.rate, workers / 0.02)
            goodput = args.rows / elapsed / limit
            share = throttled / (admitted + throttled)
            print(f"| {workers} | {retry_after} | {goodput:.3f} | {share:.2%} |")


if __name__ == "__main__":
    main()
