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

The file is UTF-8 text (a BOM is fine), with LF or CRLF line endings; blank lines are
skipped. A record that cannot be used (a missing or bad value, too many values, a JSONL line
that is not a JSON object) fails as its own row (``invalidRow``, with its line number); the
others go on. A file that cannot be used at all (missing, empty, a bad header) is refused
before anything runs. A line where the text itself breaks (bytes that are not UTF-8, a NUL,
broken quoting, a value over csv's field size limit) stops the run there: the rows read
before it finish and are journaled, and the message names the file and the line; fix that
line and re-run with the same journal (the rows done are skipped).

The failures file (``--failures``) lists the failed rows, and those of earlier runs of the
journal, each written before the journal commits it: after a kill it still holds every
failure the journal holds.

Exit status: 0 when no row failed (counting rows that failed in an earlier run of the same
journal and were not retried), 1 otherwise or on a fatal error, 2 for bad usage or an input
file that cannot be read, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import datetime as _dt
import json
import os
import re
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Self

from .._errors import ConfigurationError
from .._flow import FlowControl
from ..bulk import (
    BulkAborted,
    BulkRun,
    EntitleRow,
    InvalidRow,
    Journal,
    Outcome,
    ResellerEntitleRow,
    RevokeRow,
    Shard,
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
_EARLIER: Final = "failed in an earlier run"


class InputFileError(Exception):
    """The input file cannot be read as text of its format: at ``line`` (1-based), or as a
    whole (``line`` None). Raised by the readers; a run stops there."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        super().__init__(path, line, problem)

    def __str__(self) -> str:
        return self.where()

    def where(self) -> str:
        """``--input rows.csv: line 12: what is wrong``."""
        line = f"line {self.line}: " if self.line is not None else ""
        return f"--input {self.path}: {line}{self.problem}"


# -- reading the input ---------------------------------------------------------------------

_Read = tuple[int, int, str, Record | None, str | None]
_MAX_LINE: Final = 1 << 20
"""Longest line read (characters): a longer one is no row of any command."""
_NOT_UTF8: Final = re.compile("[\udc80-\udcff]")  # bytes that surrogateescape kept
_COUNT_CHUNK: Final = 1 << 20


def _clean(name: str, value: str) -> str | None:
    """``value`` stripped (None if blank); a value no row can hold raises ValueError."""
    value = value.strip()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name}: not valid text (a lone surrogate)") from None
    if "\x00" in value:
        raise ValueError(f"{name}: holds a NUL character")
    if name != "message" and ("\n" in value or "\r" in value):
        raise ValueError(f"{name}: holds a line break")
    return value or None


def _text(record: Record, name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name}: must be text")
    return _clean(name, value)


def _required(record: Record, name: str) -> str:
    value = _text(record, name)
    if value is None:
        raise ValueError(f"{name}: required")
    return value


def _offers(record: Record) -> list[str]:
    value = record.get("offer_id")
    if value is None:
        raise ValueError("offer_id: required")
    items = value.split(";") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError("offer_id: must be text or a list of texts")
    offers = [offer for offer in (_clean("offer_id", item) for item in items) if offer]
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


def _unreadable(path: Path, exc: OSError) -> InputFileError:
    if isinstance(exc, FileNotFoundError):
        return InputFileError(path, None, "no such file")
    if isinstance(exc, IsADirectoryError):
        return InputFileError(path, None, "is a folder, not a file")
    if isinstance(exc, PermissionError):
        return InputFileError(path, None, "cannot be read (permission denied)")
    return InputFileError(path, None, f"cannot be read ({exc.strerror or exc})")


class _Lines:
    """The physical lines of a text file (CRLF, LF or CR), numbered from 1, each checked to be
    UTF-8 text (a BOM at the start is dropped); the first that is not raises
    :class:`InputFileError`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.number = 0
        self.taken: list[str] = []  # the lines read since the caller last emptied it
        try:
            self._handle = path.open(
                "r", encoding="utf-8-sig", errors="surrogateescape", newline=""
            )
        except OSError as exc:
            raise _unreadable(path, exc) from None

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        try:
            line = self._handle.readline(_MAX_LINE + 1)
        except OSError as exc:
            raise InputFileError(
                self.path, self.number + 1, f"cannot be read ({exc.strerror or exc})"
            ) from None
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) > _MAX_LINE and not line.endswith(("\n", "\r")):
            raise InputFileError(self.path, self.number, f"longer than {_MAX_LINE:,} characters")
        bad = _NOT_UTF8.search(line)
        if bad is not None:
            byte = ord(bad.group()) - 0xDC00
            raise InputFileError(
                self.path,
                self.number,
                f"not UTF-8 text (byte 0x{byte:02x} at column {bad.start() + 1}: "
                "save the file as UTF-8)",
            )
        if "\x00" in line:
            raise InputFileError(
                self.path,
                self.number,
                "holds a NUL byte (a UTF-16 or binary file? save it as UTF-8 text)",
            )
        self.taken.append(line)
        return line

    def close(self) -> None:
        self._handle.close()


def _csv_problem(exc: csv.Error, start: int, end: int) -> str:
    text = str(exc)
    spans = f" (the value runs from line {start} to line {end})" if end > start else ""
    if text.startswith("field larger than field limit"):
        return f"a value longer than {csv.field_size_limit():,} characters{spans}"
    if text.startswith("unexpected end of data"):
        return "a quote opened on this line is never closed (the value runs to the end of the file)"
    if "expected after" in text:
        return (
            "broken quoting: a closing quote must be followed by a comma or the end of the line"
            + (f" (the quoted value ends on line {end})" if end > start else "")
        )
    return f"not valid CSV ({text}){spans}"


def _csv_record(reader: Any, lines: _Lines) -> tuple[int, list[str]] | None:
    """The next record and the line it starts on; None at the end of the file."""
    start = lines.number + 1
    lines.taken = []
    try:
        return start, next(reader)
    except StopIteration:
        return None
    except InputFileError as exc:
        if exc.line is not None and exc.line > start:
            exc.problem += f" (inside a quoted value opened on line {start}: a quote left open?)"
        raise
    except csv.Error as exc:
        raise InputFileError(lines.path, start, _csv_problem(exc, start, lines.number)) from None


def _csv_header(reader: Any, lines: _Lines) -> list[str] | None:
    """The column names (stripped, lower case) of the first line that is not blank."""
    while True:
        record = _csv_record(reader, lines)
        if record is None:
            return None
        if any(value.strip() for value in record[1]):
            return [name.strip().lower() for name in record[1]]


def _csv_records(lines: _Lines) -> Iterator[_Read]:
    reader = csv.reader(lines, strict=True)
    names = _csv_header(reader, lines)
    if names is None:
        return
    while True:
        found = _csv_record(reader, lines)
        if found is None:
            return
        start, values = found
        if not any(value.strip() for value in values):
            continue  # a blank line
        if len(values) > len(names) and any(v.strip() for v in values[len(names) :]):
            problem = f"{len(values)} values for {len(names)} columns (an unquoted comma?)"
            yield start, lines.number, "".join(lines.taken), None, problem
            continue
        record = {name: value for name, value in zip(names, values, strict=False) if name}
        yield start, lines.number, "".join(lines.taken), record, None


def _jsonl_records(lines: _Lines) -> Iterator[_Read]:
    for line in lines:
        number = lines.number
        text = line.strip()
        if not text:
            continue
        problem: str | None = None
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = f"not JSON ({exc.msg} at column {exc.colno})"
        except RecursionError:
            problem = "not JSON (nested too deeply)"
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            problem = f"not JSON ({exc})"
        else:
            if not isinstance(record, dict):
                problem = "not a JSON object"
        if problem is not None:
            yield number, number, line, None, problem
            continue
        yield number, number, line, {str(k).strip().lower(): v for k, v in record.items()}, None


def _records(path: Path, fmt: str) -> Iterator[_Read]:
    """(first line, last line, raw text, record or None, why not) for each data record;
    raises :class:`InputFileError` where the text itself breaks."""
    lines = _Lines(path)
    try:
        yield from (_csv_records(lines) if fmt == "csv" else _jsonl_records(lines))
    finally:
        lines.close()


def read_rows(
    path: Path, fmt: str, build: Callable[[Record], Any], key: Callable[[Any], str] = row_key
) -> Iterator[Any]:
    """Rows built lazily from the file; a record that cannot be built becomes an
    :class:`~magine_async.bulk.InvalidRow` (failed as its own row, journaled under its line
    and a digest of its text). Raises :class:`InputFileError` at a line
    where the file cannot be read (bad encoding, broken quoting, a value over the size limit):
    the rows before it are yielded first."""
    for start, end, raw, record, problem in _records(path, fmt):
        if record is None:
            yield InvalidRow(start, problem or "unreadable", raw=raw)
            continue
        try:
            row = build(record)
            key(row)  # validates: a bad line is reported with its line number
        except (ValueError, TypeError) as exc:  # ValidationError is a ValueError
            reason = str(exc)
            if end > start:
                reason += (
                    f" (the record runs from line {start} to line {end}: "
                    f"a quote left open on line {start}?)"
                )
            yield InvalidRow(start, reason, raw=raw)
            continue
        yield row


def count_rows(path: Path, fmt: str, stop: threading.Event | None = None) -> int:
    """Lines that are not blank, less the header of a CSV file: the progress display's total
    (an estimate: a quoted value spanning lines counts once per line). Reads the bytes in
    chunks, so it never fails on bad text nor holds a long line whole; 0 when the file cannot
    be read; ``stop`` ends it early."""
    count = 0
    content = False  # the line being read so far holds more than blanks
    first = True
    try:
        with path.open("rb") as handle:
            while stop is None or not stop.is_set():
                chunk = handle.read(_COUNT_CHUNK)
                if not chunk:
                    break
                if first:
                    chunk = chunk.removeprefix(b"\xef\xbb\xbf")
                    first = False
                pieces = chunk.replace(b"\r", b"\n").split(b"\n")
                content = content or bool(pieces[0].strip())
                if len(pieces) > 1:
                    count += content
                    count += sum(1 for piece in pieces[1:-1] if piece.strip())
                    content = bool(pieces[-1].strip())
    except OSError:
        return 0
    count += content
    return max(count - 1, 0) if fmt == "csv" else count


def check_input(path: Path, fmt: str, command: Command) -> None:
    """Refuse (usage) a file that cannot be used at all: missing, a folder, empty, a first line
    that cannot be read, a CSV header without the command's required columns."""
    try:
        lines = _Lines(path)
    except InputFileError as exc:
        raise CommandError(exc.where(), usage=True) from None
    try:
        if fmt == "csv":
            names = _csv_header(csv.reader(lines, strict=True), lines)
        else:  # the first line that is not blank must be text: the others are read by the run
            names = [] if any(line.strip() for line in lines) else None
    except InputFileError as exc:
        raise CommandError(exc.where(), usage=True) from None
    finally:
        lines.close()
    if names is None:
        raise CommandError(f"--input {path}: the file is empty", usage=True)
    if fmt != "csv":
        return
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            raise CommandError(f"--input {path}: the header names {name} twice", usage=True)
        seen.add(name)
    for group in command.required:
        if not seen & set(group):
            wanted = " or ".join(group)
            raise CommandError(f"--input {path}: the header has no {wanted} column", usage=True)
    unknown = seen - set(command.columns) - {""}
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
        "--concurrency", type=int, default=32, help="workers: rows in flight at most (32)"
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        help="start the flow controller at this many requests per second",
    )
    parser.add_argument(
        "--no-adaptive",
        dest="adaptive",
        action="store_false",
        help="keep --rate-limit fixed (do not learn the rate the platform admits)",
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
    """The failed rows of a run, and the rows that failed in an earlier run of its journal, as
    CSV; each row is on disk (flushed) before the journal can commit it, and the file is
    synced whenever the journal commits a batch: after a kill, it lists every failure the
    journal holds.

    With a journal, the file starts (once the journal is open) with the journal's failed
    rows; the run's own failures follow as they happen. At the end, rows of earlier runs that
    this run did again are dropped (their new outcome is listed if it failed), and so are
    those this run did not meet though it read its whole input (rows no longer in the input).
    A run refused at the start (a bad journal, bad credentials) leaves an earlier file alone.
    """

    def __init__(self, path: Path, journal: Path | None = None) -> None:
        self.path = path
        self.rows = 0
        self._journal = journal
        self._handle: IO[str] | None = None
        self._writer: Any = None
        self._dirty = False
        self._earlier: set[str] = set()  # listed from the journal at the start
        self._met: set[str] = set()  # of those, met again as skipped
        self._redone: set[str] = set()  # of those, done again by this run
        self._listed: set[str] = set()  # listed by this run

    def _fail(self, exc: OSError) -> ConfigurationError:
        return ConfigurationError(
            f"failures file {self.path}: cannot be written ({exc.strerror or exc})"
        )

    def _open(self) -> Any:
        if self._writer is None:
            try:
                self._handle = self.path.open(
                    "w", encoding="utf-8", errors="backslashreplace", newline=""
                )
                self._writer = csv.writer(self._handle)
                self._writer.writerow(_FAILURE_COLUMNS)
                self._list_earlier()
                self._handle.flush()
            except OSError as exc:
                raise self._fail(exc) from None
        return self._writer

    def _list_earlier(self) -> None:
        journal = self._journal
        if journal is None or not journal.exists():
            return
        try:
            for entry in Journal.read(journal, status="failed"):
                self._write(
                    entry.key,
                    "skipped",
                    entry.error_code,
                    entry.http_status,
                    entry.messages,
                    entry.trace_ids,
                    entry.attempts,
                    _EARLIER,
                )
                self._earlier.add(entry.key)
        except sqlite3.Error:  # the run itself reports what is wrong with its journal
            return

    def start(self) -> None:
        """The journal is open: write the file's header and the earlier runs' failures."""
        self._open()

    def _write(
        self,
        key: str,
        status: str,
        error_code: str | None,
        http_status: int | None,
        messages: Sequence[str],
        trace_ids: Sequence[str],
        attempts: int,
        detail: str,
    ) -> None:
        writer = self._open()
        try:
            writer.writerow(
                (
                    key,
                    status,
                    error_code or "failed",
                    "" if http_status is None else http_status,
                    " | ".join(messages),
                    " ".join(trace_ids),
                    attempts,
                    detail,
                )
            )
            assert self._handle is not None
            self._handle.flush()  # on disk for the OS: it survives the process being killed
        except OSError as exc:
            raise self._fail(exc) from None
        self.rows += 1
        self._dirty = True

    def recorded(self, key: str, status: str, fields: dict[str, Any]) -> None:
        """The run is about to journal ``key`` with ``status``: list it first if it failed."""
        if key in self._earlier and status != "pending":
            self._redone.add(key)
        if status != "failed" or key in self._listed:
            return
        self._listed.add(key)
        self._write(
            key,
            status,
            fields.get("error_code"),
            fields.get("http_status"),
            fields.get("messages", ()),
            fields.get("trace_ids", ()),
            fields.get("attempts", 0),
            "",
        )

    def add(self, outcome: Outcome[Any]) -> None:
        """An outcome of the run: listed if it failed (or is skipped after failing before),
        unless it is listed already."""
        error = outcome.error
        key = outcome.key
        if error is None or key in self._listed:
            return
        if key in self._earlier and key not in self._redone:
            self._met.add(key)
            return
        self._listed.add(key)
        self._write(
            key,
            outcome.status,
            error.error_code or error.kind,
            error.status,
            error.messages,
            error.trace_ids,
            outcome.attempts,
            outcome.detail or "",
        )

    def sync(self, *_: Any) -> None:
        """Make what was written durable (called when the journal commits a batch)."""
        if self._dirty and self._handle is not None:
            self._dirty = False
            try:
                self._handle.flush()
                os.fsync(self._handle.fileno())
            except OSError as exc:
                raise self._fail(exc) from None

    def finish(self, *, read_all: bool) -> None:
        """The run ended (``read_all``: after reading its whole input): make sure the file
        exists (its header only, if nothing failed) and drop the earlier rows it outdated."""
        self._open()
        drop = self._redone | (self._earlier - self._met if read_all else set())
        if drop:
            self._rewrite(drop)
        self.sync()

    def _rewrite(self, drop: set[str]) -> None:
        """The file without the rows listed from the journal whose key is in ``drop``."""
        assert self._handle is not None
        self._handle.close()
        spare = self.path.with_name(self.path.name + ".tmp")
        earlier = len(self._earlier)
        rows = 0
        try:
            with (
                self.path.open(encoding="utf-8", newline="") as old,
                spare.open("w", encoding="utf-8", errors="backslashreplace", newline="") as new,
            ):
                reader = csv.reader(old)
                writer = csv.writer(new)
                writer.writerow(next(reader))
                for number, row in enumerate(reader):
                    if number < earlier and row and row[0] in drop:
                        continue
                    writer.writerow(row)
                    rows += 1
                new.flush()
                os.fsync(new.fileno())
            os.replace(spare, self.path)
            self.rows = rows
        except OSError as exc:
            raise self._fail(exc) from None
        finally:
            self._handle = self.path.open("a", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
            self._earlier = set()

    def close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self.sync()
            self._handle.close()
            self._handle = None


class _ListingJournal(Journal):
    """The run's journal: each failure is listed in the failures file before the journal
    queues it for commit, and the file is synced after each committed batch."""

    def __init__(self, path: Path, failures: FailureFile, **options: Any) -> None:
        super().__init__(path, **options)
        self._failures = failures

    async def open(self) -> Self:
        opening = not self.is_open
        await super().open()
        if opening:
            await asyncio.to_thread(self._failures.start)
            listen = getattr(self, "add_commit_listener", None)
            if listen is not None:  # else each row is flushed anyway, synced at the end
                listen(self._failures.sync)
        return self

    def record(self, key: str, status: str, **fields: Any) -> None:
        self._failures.recorded(key, status, fields)
        super().record(key, status, **fields)


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
        flow = ""
        if summary.send_rate is not None:
            flow += f", converged to {summary.send_rate:,.1f} requests/s"
        if summary.measured_rate is not None:
            flow += f" (platform measured at {summary.measured_rate:,.1f}/s)"
        lines.append(
            f"  {'requests':<14} {summary.requests:>10,}  (429: {summary.throttled:,}, "
            f"503: {summary.unavailable:,}, paused {summary.throttled_time:,.1f} s in "
            f"{summary.pauses:,} pauses{flow})"
        )
        lines.append(
            f"  {'latency':<14} p50 {_ms(summary.p50)}, p99 {_ms(summary.p99)}; "
            f"peak in flight {summary.peak_in_flight} rows, {summary.peak_requests} requests"
        )
    return "\n".join(lines)


def flow_note(flow: FlowControl | None) -> str:
    """The flow controller's state for the progress line: send rate and time paused."""
    if flow is None or (flow.rate is None and not flow.stats.throttled):
        return ""
    rate = "unlimited" if flow.rate is None else f"{flow.rate:,.0f}/s"
    return f"sending {rate}, 429s {flow.stats.throttled:,}, paused {flow.stats.paused:,.0f}s"


def _check_writable(option: str, path: Path, what: str) -> None:
    """Refuse (usage) an output file whose folder or file cannot be written."""
    folder = path.parent
    shown = f"the folder {folder}" if str(folder) != "." else f"the current folder ({Path.cwd()})"
    if not folder.exists():
        raise CommandError(f"{option} {path}: the folder {folder} does not exist", usage=True)
    if not folder.is_dir():
        raise CommandError(f"{option} {path}: the folder {folder} is not a folder", usage=True)
    if path.is_dir():
        raise CommandError(f"{option} {path}: is a folder, not a file", usage=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(
            f"{option} {path}: {shown} is not writable ({what} written there)", usage=True
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise CommandError(f"{option} {path}: the file is read-only", usage=True)


def _prepare(args: argparse.Namespace, command: Command) -> tuple[Path, str, Path]:
    """The input file, its format and its folder; usage errors before anything runs."""
    path = Path(args.input)
    if not path.exists():
        raise CommandError(f"--input {path}: no such file", usage=True)
    if path.is_dir():
        raise CommandError(f"--input {path}: is a folder, not a file", usage=True)
    if not path.is_file():
        raise CommandError(f"--input {path}: not a regular file", usage=True)
    if args.concurrency < 1:
        raise CommandError("--concurrency: must be at least 1", usage=True)
    fmt = _format(path, args.format)
    check_input(path, fmt, command)
    if args.journal is not None and not args.dry_run:
        _check_writable("--journal", Path(args.journal), "the journal and its -wal and -shm are")
    failures = _failures_path(args)
    _check_writable("--failures", failures, "the failures file is")
    # The failures file is rewritten: it must be neither the input nor the journal.
    others = {path.resolve(): "--input"}
    if args.journal is not None:
        journal = Path(args.journal).resolve()
        for suffix in ("", "-wal", "-shm"):
            others[journal.with_name(journal.name + suffix)] = "--journal"
    clash = others.get(failures.resolve())
    if clash is not None:
        raise CommandError(
            f"--failures {failures}: is the file of {clash}, which it would overwrite; "
            "pass --failures with another file",
            usage=True,
        )
    return path, fmt, path.resolve().parent


def _journal(args: argparse.Namespace, command: Command, failures: FailureFile) -> Any:
    """What the run is given as its journal: one that lists each failure as it is recorded."""
    if args.journal is None or args.dry_run:
        return args.journal
    shard = str(Shard.parse(args.shard)) if args.shard is not None else None
    return _ListingJournal(Path(args.journal), failures, operation=_operation(command), shard=shard)


async def _run(args: argparse.Namespace, command: Command) -> int:
    path, fmt, folder = _prepare(args, command)
    rows = read_rows(path, fmt, lambda record: command.build(record, folder), command.key)
    journaled = args.journal is not None and not args.dry_run
    failures = FailureFile(_failures_path(args), Path(args.journal) if journaled else None)
    options: dict[str, Any] = {
        "concurrency": args.concurrency,
        "adaptive": args.adaptive,
        "rate_limit": args.rate_limit,
        "journal": _journal(args, command, failures),
        "retry_failed": args.retry_failed,
        "shard": args.shard,
        "dry_run": args.dry_run,
    }
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


def _input_problem(exc: BaseException | None) -> InputFileError | None:
    """The :class:`InputFileError` behind a fatal error of the run, if that is what it was."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, InputFileError):
            return exc
        seen.add(id(exc))
        cause = getattr(exc, "cause", None)
        exc = cause if isinstance(cause, BaseException) else exc.__cause__
    return None


def _stopped(fatal: BulkAborted, args: argparse.Namespace, done: int) -> CommandError:
    """The one line that ends a run stopped by a fatal error."""
    from ._main import describe  # imported here: _main imports this module

    problem = _input_problem(fatal.cause)
    if problem is None:
        return CommandError(
            f"stopped: {describe(fatal.cause)} ({done:,} rows done before; "
            "re-run with the same journal to continue)"
        )
    if problem.line is None:
        return CommandError(problem.where(), usage=True)
    if args.dry_run or done == 0:
        advice = "fix that line and run again" + ("" if args.dry_run else " (no row was done)")
    elif args.journal is not None:
        advice = (
            f"fix that line and re-run with the same journal: the {done:,} rows already done "
            "are skipped"
        )
    else:
        advice = (
            f"fix that line and re-run: the {done:,} rows already done come back as 'already' "
            "(--journal would skip them)"
        )
    return CommandError(f"{problem.where()}; {advice}", usage=True)


async def _drive(
    run: BulkRun[Any],
    args: argparse.Namespace,
    command: Command,
    path: Path,
    fmt: str,
    failures: FailureFile,
) -> int:
    progress = Progress(command.name, enabled=not args.no_progress)
    stop_counting = threading.Event()
    counting = asyncio.ensure_future(asyncio.to_thread(count_rows, path, fmt, stop_counting))
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
                    flow_note(run.flow),
                    ok=counts["succeeded"] + counts["already"],
                    failed=counts["failed"],
                    skipped=counts["skipped"],
                )
        except BulkAborted as exc:
            fatal = exc
        except Exception:
            # an error of ours (the failures file cannot be written): rows in flight finish
            # and are journaled before it is reported
            with contextlib.suppress(Exception):
                await run.aclose()
            raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        stop_counting.set()
        counting.cancel()
        with contextlib.suppress(BaseException):
            await counting
    progress.close()
    summary = run.snapshot()
    failures.finish(read_all=fatal is None and summary.stopped is None and not interrupts[0])
    print(summary_table(command.name, summary, dry_run=args.dry_run))
    if args.journal is not None and not args.dry_run:
        print(f"  {'journal':<14} {args.journal}")
    print(f"  {'failures':<14} {failures.path} ({failures.rows:,} rows)")
    if fatal is not None:
        raise _stopped(fatal, args, summary.total) from None
    if interrupts[0]:
        return 130
    return 0 if summary.failed == 0 else 1
