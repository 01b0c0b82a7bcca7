"""A SQLite journal that makes bulk jobs resumable and accountable.

One row per key: its final status (``succeeded``, ``already``, ``failed``), the error of a
failure (error code, HTTP status, messages, trace ids), a small JSON result, the attempts and
the time it took. A bulk run records each row as it completes; a later run with the same
journal skips the finished rows (and the failed ones too, unless told to retry them).

Writes never block the event loop: :meth:`Journal.record` hands the entry to a dedicated
writer thread, which commits in batches (``batch_size`` entries or every ``flush_interval``
seconds, whichever comes first). The database runs in WAL mode with ``synchronous=NORMAL``:
a committed batch survives the process being killed (SIGKILL included); only the batch not
yet committed is lost, and a re-run does those rows again, which the bulk operations make
harmless (they report ``already``). A power cut may also lose the last committed batches,
unless ``durable=True`` (``synchronous=FULL``).

Reads (:meth:`Journal.lookup`) run in a worker thread on their own connection; WAL lets them
proceed while the writer commits.

The journal remembers which operation and which shard it was made for, and refuses to be
used for another: a journal of ``entitle`` is no record of a ``revoke``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from ._errors import ConfigurationError

__all__ = ["FINAL_STATUSES", "Journal", "JournalEntry"]

SCHEMA_VERSION: Final = "1"
FINAL_STATUSES: Final = frozenset({"succeeded", "already", "failed"})
"""Statuses a journal records as final. ``pending`` marks a row whose work was started and
may be resumed (for example a subtitle request already accepted)."""
_PENDING: Final = "pending"
_LOOKUP_CHUNK: Final = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    error_code TEXT,
    http_status INTEGER,
    messages TEXT,
    trace_ids TEXT,
    result TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    elapsed REAL NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 1,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
"""

_UPSERT = """
INSERT INTO rows (key, status, error_code, http_status, messages, trace_ids, result,
                  attempts, elapsed, runs, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
ON CONFLICT(key) DO UPDATE SET
    status = excluded.status, error_code = excluded.error_code,
    http_status = excluded.http_status, messages = excluded.messages,
    trace_ids = excluded.trace_ids, result = excluded.result,
    attempts = excluded.attempts, elapsed = excluded.elapsed,
    runs = rows.runs + (rows.status != 'pending'), updated_at = excluded.updated_at
"""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journal row. ``messages`` and ``trace_ids`` are tuples; ``result`` is decoded JSON."""

    key: str
    status: str
    error_code: str | None = None
    http_status: int | None = None
    messages: tuple[str, ...] = ()
    trace_ids: tuple[str, ...] = ()
    result: Any = None
    attempts: int = 0
    elapsed: float = 0.0
    runs: int = 1

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


_Record = tuple[str, str, str | None, int | None, str | None, str | None, str | None, int, float]


class _Flush:
    __slots__ = ("done",)

    def __init__(self, done: Callable[[], None]) -> None:
        self.done = done


_STOP: Final = object()


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return json.dumps(str(value))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _connect(path: Path, *, durable: bool) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    return connection


class Journal:
    """A SQLite journal of a bulk job (see the module documentation).

    ``async with Journal("run.db", operation="entitle") as journal:`` opens (creating it if
    needed) and closes it, committing everything recorded. ``shard`` (``"K/N"``) is checked
    like ``operation``: a journal made for one shard is not used by another.
    ``on_commit(keys)`` is called on the event loop after each batch is committed, with the
    keys whose final status it committed.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        operation: str | None = None,
        shard: str | None = None,
        batch_size: int = 1000,
        flush_interval: float = 0.2,
        durable: bool = False,
        read_only: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError("journal batch_size: must be at least 1")
        if flush_interval <= 0:
            raise ConfigurationError("journal flush_interval: must be positive")
        self.path = Path(path)
        self.operation = operation
        self.shard = shard
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.durable = durable
        self.read_only = read_only
        self.on_commit: Callable[[list[str]], None] | None = None
        self.committed = 0
        """Entries committed by this journal object so far."""
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._reader: sqlite3.Connection | None = None
        self._read_lock = asyncio.Lock()
        self._writer: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r}, operation={self.operation!r}, shard={self.shard!r})"

    @property
    def is_open(self) -> bool:
        return self._reader is not None

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> Self:
        """Open the database (creating it) in a worker thread and start the writer thread."""
        if self._reader is not None:
            return self
        self._loop = asyncio.get_running_loop()
        self._reader = await asyncio.to_thread(self._open_sync)
        if not self.read_only:
            self._writer = threading.Thread(
                target=self._write_loop, name=f"magine-journal:{self.path.name}", daemon=True
            )
            self._writer.start()
        return self

    def _open_sync(self) -> sqlite3.Connection:
        if self.read_only and not self.path.exists():
            connection = sqlite3.connect(":memory:", check_same_thread=False)
            connection.executescript(_SCHEMA)
            return connection
        try:
            connection = _connect(self.path, durable=self.durable)
            connection.executescript(_SCHEMA)
            self._check_meta(connection)
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(
                f"journal {str(self.path)!r}: not a usable SQLite database ({exc})"
            ) from None
        return connection

    def _check_meta(self, connection: sqlite3.Connection) -> None:
        meta = dict(connection.execute("SELECT name, value FROM meta").fetchall())
        version = meta.get("schema")
        if version is not None and version != SCHEMA_VERSION:
            raise ConfigurationError(
                f"journal {str(self.path)!r}: schema version {version}, expected {SCHEMA_VERSION}"
            )
        wanted = {"schema": SCHEMA_VERSION, "operation": self.operation, "shard": self.shard}
        for name, value in wanted.items():
            if value is None or name == "schema":
                continue
            found = meta.get(name)
            if found is not None and found != value:
                raise ConfigurationError(
                    f"journal {str(self.path)!r} was made for {name} {found!r}, not {value!r}; "
                    "use another journal file"
                )
        if self.read_only:
            return
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            for name, value in wanted.items():
                if value is not None:
                    connection.execute(
                        "INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (name, value)
                    )

    async def close(self) -> None:
        """Commit what was recorded, stop the writer thread and close the connections."""
        if self._closed:
            return
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is not None:
            self._queue.put(_STOP)
            await asyncio.to_thread(writer.join)
        reader, self._reader = self._reader, None
        if reader is not None:
            async with self._read_lock:
                await asyncio.to_thread(reader.close)
        self._raise_writer_error()

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- writing -------------------------------------------------------------------------

    def record(
        self,
        key: str,
        status: str,
        *,
        error_code: str | None = None,
        http_status: int | None = None,
        messages: Sequence[str] = (),
        trace_ids: Sequence[str] = (),
        result: Any = None,
        attempts: int = 0,
        elapsed: float = 0.0,
    ) -> None:
        """Queue one entry for the writer thread; returns at once (never blocks the loop)."""
        if status not in FINAL_STATUSES and status != _PENDING:
            raise ValueError(f"journal status: {status!r} is not one the journal records")
        self._check_writable()
        record: _Record = (
            key,
            status,
            error_code,
            http_status,
            _dumps(list(messages)) if messages else None,
            _dumps(list(trace_ids)) if trace_ids else None,
            _dumps(result),
            attempts,
            elapsed,
        )
        self._queue.put(record)

    def record_pending(self, key: str, result: Any) -> None:
        """Mark ``key`` as started, with what a later run needs to resume it (``result``)."""
        self.record(key, _PENDING, result=result)

    async def flush(self) -> None:
        """Wait until everything recorded so far is committed."""
        self._check_writable()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            if not done.done():
                done.set_result(None)

        def from_writer() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(resolve)

        self._queue.put(_Flush(from_writer))
        writer = self._writer
        while not done.done():
            # The writer answers every flush; should it have died between our check and our
            # request, notice instead of waiting for ever.
            await asyncio.wait([done], timeout=0.5)
            if writer is not None and not writer.is_alive():
                break
        self._raise_writer_error()

    def _check_writable(self) -> None:
        if self.read_only:
            raise RuntimeError("the journal was opened read-only")
        if self._writer is None:
            raise RuntimeError("the journal is not open")
        self._raise_writer_error()

    def _raise_writer_error(self) -> None:
        if self._error is not None:
            raise ConfigurationError(
                f"journal {str(self.path)!r}: writing failed ({self._error})"
            ) from None

    def _write_loop(self) -> None:
        connection: sqlite3.Connection | None = None
        flushes: list[_Flush] = []
        try:
            connection = _connect(self.path, durable=self.durable)
            stopping = False
            while not stopping:
                batch: list[_Record] = []
                item = self._queue.get()
                deadline = time.monotonic() + self.flush_interval
                while True:
                    if item is _STOP:
                        stopping = True
                        break
                    if isinstance(item, _Flush):
                        flushes.append(item)
                        break
                    batch.append(item)
                    if len(batch) >= self.batch_size:
                        break
                    timeout = deadline - time.monotonic()
                    if timeout <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=timeout)
                    except queue.Empty:
                        break
                if batch:
                    self._commit(connection, batch)
                while flushes:
                    flushes.pop().done()
        except BaseException as exc:  # reported on the loop by flush(), record() and close()
            self._error = exc
        finally:
            for flush in flushes:
                flush.done()
            self._drain_after_error()
            if connection is not None:
                connection.close()

    def _drain_after_error(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Flush):
                item.done()

    def _commit(self, connection: sqlite3.Connection, batch: list[_Record]) -> None:
        now = time.time()
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(_UPSERT, [(*record, now) for record in batch])
        self.committed += len(batch)
        callback, loop = self.on_commit, self._loop
        if callback is not None and loop is not None:
            keys = [record[0] for record in batch if record[1] != _PENDING]
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(callback, keys)

    # -- reading -------------------------------------------------------------------------

    async def lookup(self, keys: Iterable[str]) -> dict[str, JournalEntry]:
        """The entries of those ``keys`` that the journal holds (committed ones)."""
        wanted = list(keys)
        if not wanted:
            return {}
        reader = self._reader
        if reader is None:
            raise RuntimeError("the journal is not open")
        async with self._read_lock:
            return await asyncio.to_thread(self._lookup_sync, reader, wanted)

    @staticmethod
    def _lookup_sync(reader: sqlite3.Connection, keys: list[str]) -> dict[str, JournalEntry]:
        found: dict[str, JournalEntry] = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            part = keys[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(part))
            cursor = reader.execute(f"SELECT * FROM rows WHERE key IN ({marks})", part)  # noqa: S608
            for row in cursor:
                entry = _entry(row)
                found[entry.key] = entry
        return found

    async def counts(self) -> dict[str, int]:
        """How many keys the journal holds in each status."""
        reader = self._reader
        if reader is None:
            raise RuntimeError("the journal is not open")
        async with self._read_lock:
            rows = await asyncio.to_thread(
                lambda: reader.execute(
                    "SELECT status, COUNT(*) FROM rows GROUP BY status"
                ).fetchall()
            )
        return {str(status): int(count) for status, count in rows}

    @staticmethod
    def read(path: str | Path, *, status: str | None = None) -> Iterator[JournalEntry]:
        """Iterate a journal file's entries (synchronously; for reports and tests)."""
        connection = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            if status is None:
                cursor = connection.execute("SELECT * FROM rows ORDER BY key")
            else:
                cursor = connection.execute(
                    "SELECT * FROM rows WHERE status = ? ORDER BY key", (status,)
                )
            for row in cursor:
                yield _entry(row)
        finally:
            connection.close()


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    key, status, code, http, messages, traces, result, attempts, elapsed, runs, _ = row
    return JournalEntry(
        key=key,
        status=status,
        error_code=code,
        http_status=http,
        messages=tuple(_loads(messages) or ()),
        trace_ids=tuple(_loads(traces) or ()),
        result=_loads(result),
        attempts=attempts,
        elapsed=elapsed,
        runs=runs,
    )
