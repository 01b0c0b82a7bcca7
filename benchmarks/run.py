"""Run every benchmark scenario and write ``RESULTS.md``, ``results.json`` and ``chart.png``.

    nox -s bench                     # or: python benchmarks/run.py [--quick]

The sandbox is the server (faults off, latency set per scenario), in its own process pinned
to core 0; each measurement runs in a fresh client process pinned to core 1. Every figure is
the median of ``--reps`` repetitions (5 by default) with its spread (min-max); every target is
a ratio measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from common import CLIENT_CORE, SERVER_CORE, SandboxProcess, cores  # noqa: E402

CONCURRENCIES = (8, 16, 32, 64, 128)
LATENCIES_MS = (5, 20, 50)
OFFERS = 40


class Runner:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.results: dict[str, Any] = {}
        self.log: list[str] = []

    def scenario(self, name: str, info_file: Path, **options: Any) -> dict[str, Any]:
        command = [sys.executable, str(HERE / "scenario.py"), name, "--info", str(info_file)]
        for key, value in options.items():
            command += [f"--{key.replace('_', '-')}", str(value)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"scenario failed: {' '.join(command)}\n{done.stderr[-3000:]}")
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    def repeat(self, name: str, info_file: Path, **options: Any) -> list[dict[str, Any]]:
        return [self.scenario(name, info_file, **options) for _ in range(self.args.reps)]

    def note(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {text}", flush=True)
        self.log.append(text)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": values,  # type: ignore[dict-item]
    }


def write_key(path: Path, bits: int) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def catalogue_phase(run: Runner) -> None:
    args = run.args
    big = args.stream_big
    key_dir = run.workdir / "keys-catalogue"
    key_dir.mkdir()
    write_key(key_dir / "partner.key", 4096)  # the cold-start scenario signs with 4096 bits
    run.note(f"starting a sandbox with {big:,} viewables")
    with SandboxProcess(viewables=big, users=10, key_dir=str(key_dir)) as sandbox:
        run.results["catalogue_sandbox"] = {
            "viewables": big,
            "startup_s": sandbox.startup_s,
            "rss_mb": sandbox.rss_mb,
        }
        info_file = run.workdir / "catalogue.json"
        info_file.write_text(json.dumps(sandbox.info))
        users = sandbox.admin("GET", "/users?limit=1")
        email = users["emails"][0]
        first = run.scenario("stream", info_file, client="raw", limit=1, page_size=1)
        assert first["items"] == 1
        viewable_id = _first_viewable_id(sandbox.info)

        per_request: dict[str, Any] = {}
        clients = ("sdk", "raw", "httpx_msgspec", "httpx_pydantic")
        for op in ("get", "post"):
            run.note(f"per-request CPU: {op}, clients interleaved in each repetition")
            samples: dict[str, list[float]] = {client: [] for client in clients}
            for _ in range(args.reps):
                for client in clients:
                    row = run.scenario(
                        "per_request",
                        info_file,
                        client=client,
                        op=op,
                        n=args.requests,
                        viewable_id=viewable_id,
                        email=email,
                    )
                    samples[client].append(row["cpu_us"])
            for client in clients:
                per_request[f"{op}/{client}"] = summary(samples[client])
        run.results["per_request_cpu_us"] = per_request

        streaming: dict[str, Any] = {}
        for client, limits in (
            ("sdk", (args.stream_small, big)),
            ("raw", (args.stream_small, big)),
            ("httpx_msgspec", (args.stream_small,)),
            ("httpx_pydantic", (args.stream_small,)),
        ):
            for limit in limits:
                run.note(f"streaming {limit:,}: {client}")
                rows = run.repeat("stream", info_file, client=client, limit=limit, page_size=500)
                streaming[f"{client}/{limit}"] = {
                    "items_per_s": summary([r["items_per_s"] for r in rows]),
                    "peak_rss_mb": summary([r["peak_rss_mb"] for r in rows]),
                    "cpu_s": summary([r["cpu_s"] for r in rows]),
                }
        run.results["streaming"] = streaming

        run.note("cold start")
        rows = run.repeat("cold_start", info_file)
        run.results["cold_start"] = {
            "max_loop_lag_ms": summary([r["max_loop_lag_ms"] for r in rows]),
            "first_response_ms": summary([r["first_response_ms"] for r in rows]),
            "key_bits": 4096,
        }


def _first_viewable_id(info: dict[str, Any]) -> str:
    import urllib.request

    from common import mint_token

    request = urllib.request.Request(
        info["base_url"] + "/partner/viewables?size=1",
        headers={
            "Magine-AccessToken": info["access_token"],
            "Authorization": "Bearer " + mint_token(info["issuer"], info["private_key_file"]),
        },
    )
    with urllib.request.urlopen(request) as response:
        return str(json.loads(response.read())["viewables"][0]["id"])


def fanout_phase(run: Runner) -> None:
    args = run.args
    run.note(f"starting a sandbox with {args.users:,} users for the fan-out")
    with SandboxProcess(viewables=0, users=args.users) as sandbox:
        info_file = run.workdir / "fanout.json"
        info_file.write_text(json.dumps(sandbox.info))
        users_file = run.workdir / "users.json"
        users_file.write_text(
            json.dumps(sandbox.admin("GET", f"/users?limit={args.users}")["userIds"])
        )
        for k in range(OFFERS):
            sandbox.admin("POST", "/offers", {"offerId": f"bench-{k}"})
        # every write entitles a (user, offer) pair never used before: always a 201
        cursor = {"offer": 0, "user": 0}

        def allocate(count: int) -> tuple[str, int]:
            count = min(count, args.users)
            if cursor["user"] + count > args.users:
                cursor["offer"] += 1
                cursor["user"] = 0
                if cursor["offer"] >= OFFERS:
                    raise SystemExit("out of (user, offer) pairs: raise --users")
            offset = cursor["user"]
            cursor["user"] += count
            return f"bench-{cursor['offer']}", offset

        def measure(client: str, concurrency: int, latency_ms: float) -> dict[str, Any]:
            expected = concurrency / max(latency_ms / 1000, 1e-4) * args.seconds
            budget = int(min(args.writes, expected * 1.3 + concurrency * 4))
            rates, cpu = [], []
            for _ in range(args.reps):
                offer, offset = allocate(budget)
                row = run.scenario(
                    "fanout",
                    info_file,
                    client=client,
                    concurrency=concurrency,
                    writes=budget,
                    seconds=args.seconds,
                    offer=offer,
                    users_file=users_file,
                    user_offset=offset,
                )
                if row["errors"]:
                    raise SystemExit(f"fan-out {client} c={concurrency}: {row['errors']} errors")
                rates.append(row["requests_per_s"])
                cpu.append(row["cpu_us_per_request"])
            return {"requests_per_s": summary(rates), "cpu_us_per_request": summary(cpu)}

        ceiling: dict[str, Any] = {}
        sandbox.set_latency(0.0)
        for client in ("sdk", "raw"):
            run.note(f"fan-out ceiling (no latency, c=64): {client}")
            ceiling[client] = measure(client, 64, 0.0)
        run.results["fanout_ceiling"] = ceiling

        fan: dict[str, Any] = {}
        for latency in LATENCIES_MS:
            sandbox.set_latency(latency / 1000)
            for concurrency in CONCURRENCIES:
                clients = ["sdk", "raw"] + (["httpx_pydantic"] if concurrency >= 32 else [])
                for client in clients:
                    run.note(f"fan-out {client} c={concurrency} latency={latency} ms")
                    fan[f"{client}/{concurrency}/{latency}"] = measure(client, concurrency, latency)
        run.results["fanout"] = fan


def rate_limited_phase(run: Runner) -> None:
    """``bulk_rate_limited.py``: the SDK and a naive loop against a rate-limited sandbox, and
    fan-out with no rate limit against the release before the flow controller."""
    out = run.workdir / "rate_limited.json"
    command = [sys.executable, str(HERE / "bulk_rate_limited.py"), "--json", str(out)]
    command += ["--quick"] if run.args.quick else ["--baseline"]
    run.note("rate-limited grid: " + " ".join(command[1:]))
    subprocess.run(command, check=True)
    grid = json.loads(out.read_text())
    grid["command"] = "python benchmarks/bulk_rate_limited.py" + (
        " --quick" if run.args.quick else " --baseline"
    )
    run.results["rate_limited"] = grid


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("magine-async", "aiohttp", "msgspec", "joserfc", "httpx", "pydantic"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model or platform.processor()}, {len(cores())} cores usable, {platform.system()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--stream-small", type=int, default=100_000)
    parser.add_argument("--stream-big", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=1.2)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    if args.quick:
        args.reps, args.requests = 1, 300
        args.stream_small, args.stream_big = 20_000, 60_000
        args.users, args.seconds = 20_000, 0.5
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="magine-bench-") as tmp:
        run = Runner(args, Path(tmp))
        catalogue_phase(run)
        fanout_phase(run)
        rate_limited_phase(run)
    elapsed = time.perf_counter() - started
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "pinning": f"server core {SERVER_CORE}, client core {CLIENT_CORE}"
        if len(cores()) >= 2
        else "not pinned (one core)",
        "versions": versions(),
        "command": "nox -s bench" + (" -- --quick" if args.quick else ""),
        "reps": args.reps,
        "elapsed_s": elapsed,
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
    }
    run.results["meta"] = meta
    from report import write_report

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(run.results, indent=2, default=str))
    write_report(run.results, args.out)
    print(f"done in {elapsed:.0f} s: {args.out / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
