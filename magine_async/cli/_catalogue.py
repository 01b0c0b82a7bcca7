"""``magine-async catalogue export``: the catalogue sync job (see :mod:`magine_async.catalogue`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from .._client import MagineClient
from ..catalogue import Checkpoint, ExportError, ExportPlan, format_epoch, plan_export
from ._common import (
    CONFIG_EXAMPLE,
    CommandError,
    Progress,
    add_client_options,
    client_from_args,
)

__all__ = ["register"]

SANDBOX_VIEWABLES = 50_000

_DESCRIPTION = """\
Stream every viewable (or every one changed since a point in time, or since the previous
run) into a JSON Lines file: one viewable per line, its JSON exactly as the platform sent it
(unknown properties, key order and number spellings included). Memory stays constant whatever
the size of the catalogue.

After each page the output is appended and flushed to disk, then the checkpoint (cursor,
output length, counts, newest modifiedAt) is replaced atomically. An interrupted export
continues with --resume: the output is cut back to the length the checkpoint recorded and
the export goes on from its cursor, so no viewable is written twice or skipped.
"""

_EPILOG = """\
examples:
  magine-async catalogue export --sandbox --out catalogue.jsonl
      try it against an embedded sandbox of 50,000 viewables (no credentials needed)
  magine-async catalogue export --out catalogue.jsonl --page-size 500
  magine-async catalogue export --out catalogue.jsonl --resume
      continue an interrupted export (the same --out, and --checkpoint if one was given)
  magine-async catalogue export --out changes.jsonl --checkpoint sync.checkpoint.json --since-last
      only the viewables changed since the previous run recorded in sync.checkpoint.json

since-last: the next run asks for modifiedAfter = (newest modifiedAt exported) - 1, because the
platform compares whole seconds strictly, and skips the viewables of that second it already
exported unchanged (the checkpoint keeps their ids and a digest of their JSON value, so another
key order or number spelling is not a change). If the catalogue changed while the previous run
was going, the next run starts 60 s before that run started instead: a few viewables may come
again, none is missed.

a checkpoint of another base URL is refused (its cursor and watermark mean nothing here):
--restart starts over from this one, replacing --out and the checkpoint. One that never got a
page (a mistyped base URL) is replaced without asking.

a listed viewable without a readable id or modifiedAt is left out: counted and described under
"rejected" in the checkpoint, reported on stderr, and the exit status is 1 once the rest is
exported.

exit status: 0 done, 1 failed or some viewables left out (one line on stderr; --verbose for
details), 2 bad usage, 130 interrupted (run again with --resume).

"""


def _moment(text: str) -> int:
    """``--modified-after``: epoch seconds or an ISO 8601 date-time with a time zone."""
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither epoch seconds nor an ISO 8601 date-time"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone: add Z or an offset such as +02:00"
        )
    return int(value.timestamp())


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "catalogue",
        help="export the viewable catalogue to a JSON Lines file",
        description="Catalogue jobs. Run 'magine-async catalogue export --help'.",
    )
    jobs = parser.add_subparsers(dest="catalogue_command", metavar="JOB")
    jobs.required = True
    export = jobs.add_parser(
        "export",
        help="stream viewables to JSONL, resumable and incremental",
        description=_DESCRIPTION,
        epilog=_EPILOG + CONFIG_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="the JSON Lines file to write"
    )
    export.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="where the progress and the previous run's state live "
        "(default: FILE.checkpoint.json next to --out)",
    )
    which = export.add_mutually_exclusive_group()
    which.add_argument(
        "--modified-after",
        type=_moment,
        metavar="T",
        help="only viewables modified after T (epoch seconds or ISO 8601, e.g. "
        "2024-05-01T00:00:00Z)",
    )
    which.add_argument(
        "--since-last",
        action="store_true",
        help="only viewables changed since the run the checkpoint records "
        "(everything if there is none)",
    )
    export.add_argument(
        "--page-size",
        type=_positive,
        metavar="N",
        help="viewables per request (default: the platform's page size)",
    )
    again = export.add_mutually_exclusive_group()
    again.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted export the checkpoint records",
    )
    again.add_argument(
        "--restart",
        action="store_true",
        help="start over although the checkpoint records an interrupted export, or one from "
        "another base URL (replaces --out and the checkpoint)",
    )
    export.add_argument("--quiet", "-q", action="store_true", help="no progress, no summary")
    sandbox = export.add_argument_group(
        "sandbox", "Rehearse against the embedded sandbox, started in this process."
    )
    sandbox.add_argument(
        "--sandbox",
        action="store_true",
        help="export from an embedded sandbox instead of the platform (no credentials needed)",
    )
    sandbox.add_argument(
        "--sandbox-viewables",
        type=_positive,
        default=SANDBOX_VIEWABLES,
        metavar="N",
        help=f"viewables the sandbox generates (default {SANDBOX_VIEWABLES:,})",
    )
    sandbox.add_argument(
        "--sandbox-seed", type=int, default=0, metavar="S", help="seed of its catalogue (0)"
    )
    add_client_options(export)
    export.set_defaults(handler=run_export)


_CONNECTION_FLAGS = ("base_url", "issuer", "private_key_file", "access_token_file", "config")


def _note(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def _sandbox_client(args: argparse.Namespace) -> AsyncIterator[MagineClient]:
    """A client of an embedded sandbox started in this process."""
    from ..sandbox import Sandbox  # imported only when used: the sandbox is not small

    started = time.perf_counter()
    box = Sandbox(viewables=args.sandbox_viewables, seed=args.sandbox_seed)
    async with box:
        _note(
            args,
            f"sandbox: {args.sandbox_viewables:,} viewables generated in "
            f"{time.perf_counter() - started:.1f}s, serving {box.base_url}",
        )
        async with box.client() as client:
            yield client


async def run_export(args: argparse.Namespace) -> int:
    client: MagineClient | None = None
    if args.sandbox:
        given = [name for name in _CONNECTION_FLAGS if getattr(args, name, None) is not None]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise CommandError(f"--sandbox brings its own connection: drop {flag}", usage=True)
        # Not the sandbox's URL, whose port changes: the same seed and size give the same
        # catalogue and cursors, so an export from the sandbox can be resumed.
        source = f"sandbox (seed {args.sandbox_seed}, {args.sandbox_viewables} viewables)"
    else:
        client = client_from_args(args)  # checks the settings; connects only when entered
        source = client.base_url
    try:
        plan = plan_export(
            args.out,
            checkpoint=args.checkpoint,
            modified_after=args.modified_after,
            since_last=args.since_last,
            resume=args.resume,
            restart=args.restart,
            page_size=args.page_size,
            source=source,
        )
    except ExportError as exc:
        raise CommandError(str(exc), usage=exc.usage) from None
    if plan.note:
        _note(args, plan.note)
    _note(args, plan.describe())
    if plan.kind == "done":
        return 0
    connection = _sandbox_client(args) if client is None else client
    async with connection as connected:
        return await _run(args, plan, connected)


async def _run(args: argparse.Namespace, plan: ExportPlan, client: MagineClient) -> int:
    cp = plan.checkpoint
    # The platform says nothing of the total; the sandbox's is known when nothing is filtered.
    total = args.sandbox_viewables if args.sandbox and cp.query.modified_after is None else None
    progress = Progress("viewables", total=total, enabled=not args.quiet, start=cp.counts.items)
    started = time.perf_counter()

    def on_page(state: Checkpoint) -> None:
        progress.update(state.counts.items, pages=state.counts.pages)

    try:
        await plan.run(client, on_page=on_page)
    except asyncio.CancelledError:
        on_page(cp)
        progress.close()
        _note(
            args,
            f"stopped: {cp.counts.items:,} viewables are safely in {plan.out}; "
            "run the same command with --resume to continue",
        )
        raise
    except ExportError as exc:
        raise CommandError(str(exc), usage=exc.usage) from None
    progress.close()
    if plan.discarded_bytes:
        _note(args, f"discarded {plan.discarded_bytes:,} bytes written after the last checkpoint")
    if not args.quiet:
        print(_summary(plan, time.perf_counter() - started), flush=True)
    rejected = cp.counts.rejected
    if rejected:
        # Done, but not everything: a failure, like a bulk job with failed items.
        raise CommandError(
            f"{_viewables(rejected)} could not be read and {'is' if rejected == 1 else 'are'} "
            f'not in {plan.out} (see "rejected" in {plan.checkpoint_path})'
        )
    return 0


def _viewables(count: int) -> str:
    return f"{count:,} viewable" + ("" if count == 1 else "s")


def _summary(plan: ExportPlan, seconds: float) -> str:
    cp = plan.checkpoint
    text = (
        f"exported {_viewables(cp.counts.items)} ({cp.counts.pages:,} pages, "
        f"{cp.output.bytes / 1e6:,.1f} MB) to {plan.out}"
    )
    if cp.counts.skipped:
        text += f", skipped {cp.counts.skipped:,} unchanged"
    if cp.counts.rejected:
        text += f", left out {cp.counts.rejected:,} that could not be read"
    text += f" in {seconds:.1f}s"
    newest = cp.newest.modified_at
    if newest is not None:
        when = format_epoch(newest)
        text += f"; newest modifiedAt {when}"
    return text + f"; checkpoint {plan.checkpoint_path}"
