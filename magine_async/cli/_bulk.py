"""Bulk sub-commands: ``entitle``, ``reseller-entitle``, ``revoke``, ``provision-users`` and
``subtitles upload``, each reading rows from a CSV or JSONL file.

Columns (CSV header names; the same keys in JSONL objects):

=================  =============================================================================
command            columns
=================  =============================================================================
entitle            ``user_id``, or ``email`` (+ ``country_code`` to create a missing user,
                   ``name``); ``offer_id`` (several: separate with ``;``, or a JSON list);
                   optional ``purchased_at``, ``expiry`` (RFC 3339 with an offset) and
                   ``message``, applied to each offer of the line
reseller-entitle   ``user_id``, or ``email`` + ``country_code`` (provisioned; ``name``);
                   ``offer_id``: reseller offer ids
revoke             ``user_id`` or ``email``; ``offer_id``
provision-users    ``email``, ``country_code``; optional ``name``, ``locale``, ``birth_date``
                   (YYYY-MM-DD), ``zip_code``, ``gender``
subtitles upload   ``asset_id``, ``language`` (ISO 639-2), ``file`` (SubRip; a relative path is
                   read from the input file's folder); optional ``subtitle_type`` (normal)
=================  =============================================================================

A line that cannot be used fails as its own row (``invalidRow``, with the line number); the
others go on. Exit status: 0 when no row failed (counting rows that failed in an earlier run of
the same journal and were not retried), 1 otherwise or on a fatal error, 2 for bad usage, 130
when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as _dt
import json
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from .._errors import ValidationError
from ..bulk import (
    BulkAborted,
    BulkRun,
    EntitleRow,
    Outcome,
    ResellerEntitleRow,
    RevokeRow,
    SubtitleRow,
    Summary,
    fan_out,
    row_key,
    user_key,
)
from ..models import UNSET, EntitlementInput, UserCreate
from ._common import CommandError, Progress, add_client_options, client_from_args

__all__ = ["register"]

Record = dict[str, Any]

_FAILURE_COLUMNS: Final = (
    "key",
    "status",
    "error_code",
    "http_status",
    "messages",
    "trace_ids",
    "attempts",
    "detail",
)


class InvalidLine:
    """An input line that could not be made into a row: its key fails with the reason."""

    __slots__ = ("line", "reason")

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason

    def key(self) -> str:
        raise ValidationError(f"line {self.line}", self.reason)


# -- reading the input ---------------------------------------------------------------------


def _text(record: Record, name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: must be text")
    value = value.strip()
    return value or None


def _required(record: Record, name: str) -> str:
    value = _text(record, name)
    if value is None:
        raise ValueError(f"{name}: required")
    return value


def _offers(record: Record) -> list[str]:
    value = record.get("offer_id")
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = value.split(";")
    else:
        raise ValueError("offer_id: required")
    offers = [str(item).strip() for item in items if str(item).strip()]
    if not offers:
        raise ValueError("offer_id: required")
    return offers


def _datetime(record: Record, name: str) -> _dt.datetime | None:
    value = _text(record, name)
    if value is None:
        return None
    try:
        parsed = _dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{name}: not an RFC 3339 date-time such as 2024-05-01T12:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{name}: needs a UTC offset (Z or +hh:mm)")
    return parsed


def _user(record: Record) -> dict[str, str | None]:
    """The user columns: ``user_id``, or ``email`` with ``country_code`` and ``name``."""
    return {name: _text(record, name) for name in ("user_id", "email", "country_code", "name")}


def _entitle_row(record: Record) -> EntitleRow:
    extra: dict[str, Any] = {}
    for name in ("purchased_at", "expiry"):
        when = _datetime(record, name)
        if when is not None:
            extra[name] = when
    message = _text(record, "message")
    if message is not None:
        extra["message"] = message
    offers = [EntitlementInput(offer_id=offer, **extra) for offer in _offers(record)]
    return EntitleRow(offers, **_user(record))


def _reseller_row(record: Record) -> ResellerEntitleRow:
    return ResellerEntitleRow(_offers(record), **_user(record))


def _revoke_row(record: Record) -> RevokeRow:
    return RevokeRow(
        _offers(record), user_id=_text(record, "user_id"), email=_text(record, "email")
    )


def _user_row(record: Record) -> UserCreate:
    birth = _text(record, "birth_date")
    try:
        birth_date = _dt.date.fromisoformat(birth) if birth else UNSET
    except ValueError:
        raise ValueError("birth_date: not a date such as 2001-02-23") from None
    optional = {name: _text(record, name) for name in ("name", "locale", "zip_code", "gender")}
    return UserCreate(
        email=_required(record, "email"),
        country_code=_required(record, "country_code"),
        birth_date=birth_date,
        **{name: UNSET if value is None else value for name, value in optional.items()},
    )


def _subtitle_row(record: Record, folder: Path) -> SubtitleRow:
    path = Path(_required(record, "file"))
    if not path.is_absolute():
        path = folder / path
    if not path.is_file():
        raise ValueError(f"file: {path} does not exist")
    return SubtitleRow(
        asset_id=_required(record, "asset_id"),
        language=_required(record, "language"),
        data=path,
        subtitle_type=_text(record, "subtitle_type") or "normal",
    )


def _format(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".txt", ""):
        return "csv"
    raise CommandError(f"--input {path}: unknown format; pass --format csv or jsonl", usage=True)


def _records(path: Path, fmt: str) -> Iterator[tuple[int, Record | None, str | None]]:
    """(line number, record or None, why not) for each data line of the file."""
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            if reader.fieldnames is None:
                return
            reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
            for record in reader:
                if None in record:
                    yield reader.line_num, None, "more values than columns"
                    continue
                if not any(value and value.strip() for value in record.values()):
                    continue
                yield reader.line_num, record, None
            return
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                yield number, None, f"not JSON ({exc.args[0] if exc.args else exc})"
                continue
            if not isinstance(record, dict):
                yield number, None, "not a JSON object"
                continue
            yield number, {str(k).lower(): v for k, v in record.items()}, None


def read_rows(
    path: Path, fmt: str, build: Callable[[Record], Any], key: Callable[[Any], str] = row_key
) -> Iterator[Any]:
    """Rows built lazily from the file; a line that cannot be built becomes an
    :class:`InvalidLine` (failed as its own row)."""
    for number, record, problem in _records(path, fmt):
        if record is None:
            yield InvalidLine(number, problem or "unreadable")
            continue
        try:
            row = build(record)
            key(row)  # validates: a bad line is reported with its line number
        except (ValueError, TypeError) as exc:  # ValidationError is a ValueError
            yield InvalidLine(number, str(exc))
            continue
        yield row


def count_rows(path: Path, fmt: str) -> int:
    """Data lines in the file (a quick count, for the progress bar)."""
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                count += 1
    return max(count - 1, 0) if fmt == "csv" else count


def check_header(path: Path, fmt: str, command: Command) -> None:
    """Fail early (usage) when a CSV header lacks the command's required columns."""
    if fmt != "csv":
        return
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), None)
    names = {name.strip().lower() for name in header or ()}
    for group in command.required:
        if not names & set(group):
            wanted = " or ".join(group)
            raise CommandError(f"--input {path}: the header has no {wanted} column", usage=True)
    unknown = names - set(command.columns)
    if unknown:
        print(
            f"warning: ignoring unknown column(s): {', '.join(sorted(unknown))}",
            file=sys.stderr,
        )


# -- commands ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    columns: tuple[str, ...]
    required: tuple[tuple[str, ...], ...]
    build: Callable[[Record, Path], Any]
    start: Callable[[Any, Any, dict[str, Any]], BulkRun[Any]]
    key: Callable[[Any], str] = row_key


_USER = ("user_id", "email")

COMMANDS: Final = (
    Command(
        "entitle",
        "entitle users to offers (partner API)",
        (
            "user_id",
            "email",
            "country_code",
            "name",
            "offer_id",
            "purchased_at",
            "expiry",
            "message",
        ),
        (_USER, ("offer_id",)),
        lambda record, _: _entitle_row(record),
        lambda client, rows, options: client.bulk.entitle(rows, **options),
    ),
    Command(
        "reseller-entitle",
        "entitle users to reseller offers (reseller API: use the reseller's key)",
        ("user_id", "email", "country_code", "name", "offer_id"),
        (_USER, ("offer_id",)),
        lambda record, _: _reseller_row(record),
        lambda client, rows, options: client.bulk.reseller_entitle(rows, **options),
    ),
    Command(
        "revoke",
        "remove users' entitlements to offers (partner API)",
        ("user_id", "email", "offer_id"),
        (_USER, ("offer_id",)),
        lambda record, _: _revoke_row(record),
        lambda client, rows, options: client.bulk.revoke_entitlements(rows, **options),
    ),
    Command(
        "provision-users",
        "create users unless they exist (partner API)",
        ("email", "country_code", "name", "locale", "birth_date", "zip_code", "gender"),
        (("email",), ("country_code",)),
        lambda record, _: _user_row(record),
        lambda client, rows, options: client.bulk.provision_users(rows, **options),
        key=user_key,
    ),
)

SUBTITLES_UPLOAD: Final = Command(
    "subtitles upload",
    "upload subtitle tracks and wait for each request to end",
    ("asset_id", "language", "file", "subtitle_type"),
    (("asset_id",), ("language",), ("file",)),
    _subtitle_row,
    lambda client, rows, options: client.bulk.upload_subtitles(rows, **options),
)


def _add_options(parser: argparse.ArgumentParser, command: Command) -> None:
    parser.add_argument("--input", "-i", type=Path, required=True, help="rows: CSV or JSONL")
    parser.add_argument("--format", choices=("csv", "jsonl"), help="default: by file extension")
    parser.add_argument(
        "--journal",
        type=Path,
        help="SQLite journal: records every row; a re-run skips the finished ones",
    )
    parser.add_argument(
        "--retry-failed", action="store_true", help="re-run rows the journal holds as failed"
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="workers and window ceiling (32)"
    )
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="at most this many requests per second"
    )
    parser.add_argument(
        "--no-adaptive",
        dest="adaptive",
        action="store_false",
        help="keep the window at --concurrency (no halving on 429/503)",
    )
    parser.add_argument(
        "--shard", help="K/N: only the rows whose key hashes to K of N (0 <= K < N)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="read, validate and plan; send nothing, write no journal",
    )
    parser.add_argument(
        "--failures",
        type=Path,
        help="CSV of the failed rows (default: next to the journal, else <input>.failures.csv)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    add_client_options(parser)
    parser.set_defaults(handler=lambda args: _run(args, command))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    epilog = "Columns and exit codes: see the README section 'Bulk migrations'."
    for command in COMMANDS:
        parser = sub.add_parser(
            command.name,
            help=command.help,
            description=f"{command.help[0].upper()}{command.help[1:]}. "
            f"Columns: {', '.join(command.columns)}.",
            epilog=epilog,
        )
        _add_options(parser, command)
    subtitles = sub.add_parser("subtitles", help="subtitle tracks in bulk")
    actions = subtitles.add_subparsers(dest="subtitles_command", metavar="ACTION")
    actions.required = True
    upload = actions.add_parser(
        "upload",
        help=SUBTITLES_UPLOAD.help,
        description=f"Upload subtitle tracks. Columns: {', '.join(SUBTITLES_UPLOAD.columns)}.",
        epilog=epilog,
    )
    _add_options(upload, SUBTITLES_UPLOAD)


# -- running -------------------------------------------------------------------------------


def _failures_path(args: argparse.Namespace) -> Path:
    if args.failures is not None:
        return Path(args.failures)
    if args.journal is not None:
        journal = Path(args.journal)
        return journal.with_name(journal.stem + ".failures.csv")
    return Path(Path(args.input).stem + ".failures.csv")


class FailureFile:
    """The failed rows of a run (and the skipped rows that failed before), as CSV.

    The file is (re)written only once the run has started: a run refused at the start (a bad
    journal, bad credentials) leaves an earlier failures file alone.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def _open(self) -> Any:
        if self._writer is None:
            self._handle = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(_FAILURE_COLUMNS)
        return self._writer

    def add(self, outcome: Outcome[Any]) -> None:
        error = outcome.error
        if error is None:
            return
        self.rows += 1
        self._open().writerow(
            (
                outcome.key,
                outcome.status,
                error.error_code or error.kind,
                error.status if error.status is not None else "",
                " | ".join(error.messages),
                " ".join(error.trace_ids),
                outcome.attempts,
                outcome.detail or "",
            )
        )

    def finish(self) -> None:
        """The run ended: make sure the file exists (with its header only, if nothing failed)."""
        self._open()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f} ms"


def summary_table(name: str, summary: Summary, *, dry_run: bool) -> str:
    counts = summary.counts
    lines = [
        f"{name}: {summary.total:,} rows in {summary.elapsed:,.1f}s "
        f"({summary.rate:,.0f} rows/s)" + (" [dry run]" if dry_run else ""),
    ]
    if summary.stopped:
        lines.append(f"  stopped early  {summary.stopped}")
    for status in ("succeeded", "already", "failed", "skipped"):
        lines.append(f"  {status:<14} {counts[status]:>10,}")
    if summary.previously_failed:
        lines.append(
            f"  {'':<14} {summary.previously_failed:>10,} of the skipped failed in an earlier "
            "run (--retry-failed retries them)"
        )
    if dry_run:
        lines.append(f"  {'would send':<14} {summary.planned:>10,}")
    if summary.other_shards:
        lines.append(f"  {'other shards':<14} {summary.other_shards:>10,}")
    if not dry_run:
        causes = ", ".join(f"{cause}: {n:,}" for cause, n in sorted(summary.retries.items()))
        retries = sum(summary.retries.values())
        lines.append(
            f"  {'retries':<14} {retries:>10,}"
            + (f"  ({causes})" if causes else "")
            + (
                f"; {summary.retries_denied:,} not retried (budget)"
                if summary.retries_denied
                else ""
            )
        )
        lines.append(
            f"  {'requests':<14} {summary.requests:>10,}  (429: {summary.throttled:,}, "
            f"503: {summary.unavailable:,}, pauses: {summary.pauses:,}, "
            f"window at end: {summary.window})"
        )
        lines.append(
            f"  {'latency':<14} p50 {_ms(summary.p50)}, p99 {_ms(summary.p99)}; "
            f"peak in flight {summary.peak_in_flight} rows, {summary.peak_requests} requests"
        )
    return "\n".join(lines)


def _prepare(args: argparse.Namespace, command: Command) -> tuple[Path, str, Path]:
    """The input file, its format and its folder; usage errors before anything runs."""
    path = Path(args.input)
    if not path.is_file():
        raise CommandError(f"--input {path}: no such file", usage=True)
    if args.concurrency < 1:
        raise CommandError("--concurrency: must be at least 1", usage=True)
    fmt = _format(path, args.format)
    check_header(path, fmt, command)
    return path, fmt, path.resolve().parent


async def _run(args: argparse.Namespace, command: Command) -> int:
    path, fmt, folder = _prepare(args, command)
    rows = read_rows(path, fmt, lambda record: command.build(record, folder), command.key)
    options: dict[str, Any] = {
        "concurrency": args.concurrency,
        "adaptive": args.adaptive,
        "rate_limit": args.rate_limit,
        "journal": args.journal,
        "retry_failed": args.retry_failed,
        "shard": args.shard,
        "dry_run": args.dry_run,
    }
    failures = FailureFile(_failures_path(args))
    try:
        if args.dry_run:
            run = fan_out(rows, None, key=command.key, operation=_operation(command), **options)
            return await _drive(run, args, command, path, fmt, failures)
        async with client_from_args(args, max_connections=max(100, args.concurrency)) as client:
            run = command.start(client, rows, options)
            return await _drive(run, args, command, path, fmt, failures)
    finally:
        failures.close()


def _operation(command: Command) -> str:
    return command.name.replace(" ", "-")


async def _drive(
    run: BulkRun[Any],
    args: argparse.Namespace,
    command: Command,
    path: Path,
    fmt: str,
    failures: FailureFile,
) -> int:
    progress = Progress(command.name, enabled=not args.no_progress)
    counting = asyncio.ensure_future(asyncio.to_thread(count_rows, path, fmt))
    loop = asyncio.get_running_loop()
    interrupts = [0]

    def interrupted() -> None:
        interrupts[0] += 1
        if interrupts[0] == 1:
            run.stop()
            print(
                f"\nstopping: {run.in_flight} rows in flight finish, the journal is kept "
                "(Ctrl-C again to abort them)",
                file=sys.stderr,
            )
        else:
            run.abort()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, interrupted)
            installed.append(sig)
    summary = run.summary
    fatal: BulkAborted | None = None
    try:
        try:
            async for outcome in run:
                if outcome.error is not None:
                    failures.add(outcome)
                    if args.verbose:
                        print(f"failed {outcome.key}: {outcome.error.describe()}", file=sys.stderr)
                if progress.total is None and counting.done() and not counting.exception():
                    progress.total = counting.result() or None
                counts = summary.counts
                progress.update(
                    summary.total + summary.other_shards,
                    ok=counts["succeeded"] + counts["already"],
                    failed=counts["failed"],
                    skipped=counts["skipped"],
                )
        except BulkAborted as exc:
            fatal = exc
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        counting.cancel()
        with contextlib.suppress(BaseException):
            await counting
    progress.close()
    failures.finish()
    summary = run.snapshot()
    print(summary_table(command.name, summary, dry_run=args.dry_run))
    if args.journal is not None and not args.dry_run:
        print(f"  {'journal':<14} {args.journal}")
    print(f"  {'failures':<14} {failures.path} ({failures.rows:,} rows)")
    if fatal is not None:
        from ._main import describe  # imported here: _main imports this module

        raise CommandError(
            f"stopped: {describe(fatal.cause)} ({summary.total:,} rows done before; "
            "re-run with the same journal to continue)"
        ) from None
    if interrupts[0]:
        return 130
    return 0 if summary.failed == 0 else 1
