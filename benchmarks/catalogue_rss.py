"""Peak memory of ``magine-async catalogue export`` for catalogues of different sizes.

The export must run in constant memory: its peak RSS exporting 1,000,000 viewables must stay
within 25 MB of exporting 100,000. For each size this starts the sandbox in its own process
(it holds the whole catalogue: about 1.8 GB for a million viewables), then runs the export
command in a child process against it and reads that child's peak RSS from ``wait4`` (the
kernel's ``ru_maxrss``, which covers the child alone). The output is checked (one line per
viewable) and removed.

    python benchmarks/catalogue_rss.py                          # 100,000 and 1,000,000
    python benchmarks/catalogue_rss.py --sizes 10000 100000 --page-size 500

Linux (and macOS) only: it needs ``os.wait4``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import CLIENT_CORE, SandboxProcess, pin

LIMIT_MB = 25.0


def count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def child_peak_rss_mb(rusage: resource.struct_rusage) -> float:
    """``ru_maxrss`` in MB: KiB on Linux, bytes on macOS."""
    return rusage.ru_maxrss / (1 << 20 if sys.platform == "darwin" else 1 << 10)


def export_once(viewables: int, page_size: int, seed: int, workdir: Path) -> dict[str, float]:
    out = workdir / f"catalogue-{viewables}.jsonl"
    with SandboxProcess(viewables=viewables, seed=seed) as sandbox:
        info = sandbox.info
        env = dict(os.environ)
        env.update(
            MAGINE_BASE_URL=info["base_url"],
            MAGINE_ACCESS_TOKEN=info["access_token"],
            MAGINE_ISSUER=info["issuer"],
            MAGINE_PRIVATE_KEY_FILE=info["private_key_file"],
        )
        command = [
            sys.executable,
            "-m",
            "magine_async.cli",
            "catalogue",
            "export",
            "--out",
            str(out),
            "--page-size",
            str(page_size),
            "--quiet",
        ]
        started = time.perf_counter()
        exporter = subprocess.Popen(command, env=env)
        pin(exporter.pid, CLIENT_CORE)
        _, status, rusage = os.wait4(exporter.pid, 0)
        seconds = time.perf_counter() - started
        exporter.returncode = os.waitstatus_to_exitcode(status)
        if exporter.returncode != 0:
            raise SystemExit(f"the export failed with exit status {exporter.returncode}")
        lines = count_lines(out)
        if lines != viewables:
            raise SystemExit(f"the export wrote {lines} lines, not {viewables}")
        size = out.stat().st_size
        out.unlink()
        print(f"  sandbox: {sandbox.note}", file=sys.stderr)
    return {
        "viewables": viewables,
        "seconds": seconds,
        "per_second": viewables / seconds,
        "peak_rss_mb": child_peak_rss_mb(rusage),
        "output_mb": size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--page-size", type=int, default=100, help="viewables per page (100)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="magine-catalogue-rss-") as tmp:
        for size in args.sizes:
            print(f"exporting {size:,} viewables ...", file=sys.stderr, flush=True)
            results.append(export_once(size, args.page_size, args.seed, Path(tmp)))
    print(f"page size {args.page_size}; python {sys.version.split()[0]}; {sys.platform}")
    print(f"{'viewables':>10} {'seconds':>8} {'items/s':>8} {'output MB':>10} {'peak RSS MB':>12}")
    for row in results:
        print(
            f"{row['viewables']:>10,.0f} {row['seconds']:>8.1f} {row['per_second']:>8,.0f} "
            f"{row['output_mb']:>10,.0f} {row['peak_rss_mb']:>12.1f}"
        )
    if len(results) >= 2:
        growth = results[-1]["peak_rss_mb"] - results[0]["peak_rss_mb"]
        verdict = "within" if growth <= LIMIT_MB else "OVER"
        print(
            f"peak RSS growth from {results[0]['viewables']:,.0f} to "
            f"{results[-1]['viewables']:,.0f} viewables: {growth:+.1f} MB "
            f"({verdict} the {LIMIT_MB:.0f} MB budget)"
        )


if __name__ == "__main__":
    main()
