"""Command line: ``python -m magine_async.sandbox`` (also for a ``magine-async sandbox``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._faults import FaultConfig
from ._keys import KeyPair
from ._ratelimit import METHOD_SETS, SCOPES, RateLimit, RetryAfter
from ._representation import REPRESENTATIONS
from ._server import Sandbox

_RATE_OPTIONS = {
    "rate_burst": "--rate-burst",
    "retry_after": "--retry-after",
    "rate_scope": "--rate-scope",
    "rate_methods": "--rate-methods",
    "rate_queue": "--rate-queue",
    "max_queue": "--max-queue",
}


def _retry_after(text: str) -> RetryAfter:
    value = text.strip().lower()
    if value == "none":
        return None
    if value == "exact":
        return "exact"
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected none, exact or a number of seconds, not {text!r}"
        ) from None


def build_parser(prog: str = "python -m magine_async.sandbox") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run an embedded Magine Platform API sandbox until interrupted.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind; 0 picks one")
    parser.add_argument("--viewables", type=int, default=1000, help="generated viewables")
    parser.add_argument("--users", type=int, default=10, help="generated users")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    parser.add_argument(
        "--key-dir",
        type=Path,
        default=None,
        help="directory for the key pairs (reused when present; "
        "default: a new temporary directory)",
    )
    parser.add_argument(
        "--faults",
        type=Path,
        default=None,
        help="JSON fault configuration, as PUT /_sandbox/faults takes",
    )
    parser.add_argument(
        "--subtitle-delay", type=float, default=2.0, help="seconds a subtitle request stays RUNNING"
    )
    parser.add_argument(
        "--transcode-delay",
        type=float,
        default=5.0,
        help="seconds a transcode job stays transcoding",
    )
    parser.add_argument(
        "--representation",
        choices=REPRESENTATIONS,
        default="plain",
        help="how answers are spelled: plain (default); varied, seeded by --seed (floats for "
        "numbers, optional properties left out, unknown properties, shuffled keys, charset "
        "spellings); sparse (varied, and every optional property left out)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the connection details as one JSON line"
    )
    limits = parser.add_argument_group(
        "rate limit", "A capacity model: a token bucket answering 429 above it (default: none)."
    )
    limits.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="RATE",
        help="requests per second each credential may make (per --rate-scope)",
    )
    limits.add_argument(
        "--rate-burst",
        type=float,
        default=None,
        metavar="TOKENS",
        help="bucket size: requests admitted at once (default: one second's worth)",
    )
    limits.add_argument(
        "--retry-after",
        type=_retry_after,
        default=1.0,
        metavar="none|exact|SECONDS",
        help="Retry-After of a 429: none, exact (time to the next token) or seconds (1)",
    )
    limits.add_argument(
        "--rate-scope",
        choices=SCOPES,
        default="credential",
        help="one bucket per credential (JWT issuer; default) or one for all",
    )
    limits.add_argument(
        "--rate-methods",
        choices=METHOD_SETS,
        default="all",
        help="limit all calls (default) or writes only (POST, PUT, PATCH, DELETE)",
    )
    limits.add_argument(
        "--rate-queue",
        action="store_true",
        help="overload mode: requests above the rate wait for a token instead of a 429",
    )
    limits.add_argument(
        "--max-queue",
        type=int,
        default=None,
        metavar="N",
        help="with --rate-queue: requests that may wait at once; past it, 503",
    )
    return parser


def rate_limit_from_args(args: argparse.Namespace) -> RateLimit | None:
    """The :class:`RateLimit` the ``--rate-*`` options describe (None without --rate-limit).

    Raises ValueError for a bad combination or value."""
    if args.rate_limit is None:
        parser = build_parser()
        given = [
            flag
            for name, flag in _RATE_OPTIONS.items()
            if getattr(args, name) != parser.get_default(name)
        ]
        if given:
            raise ValueError(f"{', '.join(given)} needs --rate-limit")
        return None
    return RateLimit(
        rate=args.rate_limit,
        burst=args.rate_burst,
        retry_after=args.retry_after,
        scope=args.rate_scope,
        methods=args.rate_methods,
        queue=args.rate_queue,
        max_queue=args.max_queue,
    )


def _key_pair(directory: Path, stem: str) -> tuple[KeyPair, Path]:
    private_path = directory / f"{stem}.key"
    if private_path.exists():
        pair = KeyPair.from_private_pem(private_path.read_bytes())
        public_path = directory / f"{stem}.key.pub"
        if not public_path.exists():
            public_path.write_text(pair.public_pem)
        return pair, private_path
    pair = KeyPair.generate()
    private_path, _ = pair.write(directory, stem)
    return pair, private_path


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the sandbox with parsed arguments (see :func:`build_parser`) until interrupted."""
    faults = FaultConfig(seed=args.seed)
    if args.faults is not None:
        try:
            faults.load(json.loads(args.faults.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            print(f"error: cannot load faults from {args.faults}: {exc}", file=sys.stderr)
            return 2
    try:
        rate_limit = rate_limit_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    key_dir: Path = args.key_dir or Path(tempfile.mkdtemp(prefix="magine-sandbox-"))
    partner, partner_path = _key_pair(key_dir, "partner")
    reseller, reseller_path = _key_pair(key_dir, "reseller")
    started = time.perf_counter()
    sandbox = Sandbox(
        viewables=args.viewables,
        users=args.users,
        seed=args.seed,
        host=args.host,
        port=args.port,
        partner_key=partner,
        reseller_key=reseller,
        faults=faults,
        subtitle_delay=args.subtitle_delay,
        transcode_delay=args.transcode_delay,
        representation=args.representation,
        rate_limit=rate_limit,
    )
    print(
        f"generated {args.viewables} viewables in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    details = {"partner_key_file": str(partner_path), "reseller_key_file": str(reseller_path)}
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(sandbox, details, as_json=args.json))
    return 0


async def _serve(sandbox: Sandbox, details: dict[str, str], *, as_json: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with sandbox:
        info: dict[str, Any] = {
            "base_url": sandbox.base_url,
            "admin_url": sandbox.admin_url,
            "access_token": sandbox.access_token,
            "issuer": sandbox.issuer,
            "private_key_file": details["partner_key_file"],
            "reseller_issuer": sandbox.reseller_issuer,
            "reseller_private_key_file": details["reseller_key_file"],
            "representation": sandbox.representation.mode,
        }
        limit = sandbox.rate_limit
        if as_json:
            info["rate_limit"] = None if limit is None else limit.to_dict()
            print(json.dumps(info), flush=True)
        else:
            info["rate_limit"] = "none" if limit is None else limit.describe()
            print("Magine Platform sandbox is running (Ctrl-C stops it)", flush=True)
            for key, value in info.items():
                print(f"  {key.replace('_', ' '):<26} {value}", flush=True)
        await stop.wait()
