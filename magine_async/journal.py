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
used for another: a journal of ``entitle`` is no record of a ``revoke``. It also records its
format (:data:`FORMAT_VERSION`) and refuses a journal of another format: format 1 (written
before version 2's unambiguous row keys) cannot be resumed; finish it with the version that
started it, or start a new journal file.

Each entry remembers the run that last finished or met it (``run_id``): a bulk run tells a key
it already met from one an earlier run finished. What an entry stores is bounded: at most
:data:`MAX_MESSAGES` messages of at most :data:`MAX_MESSAGE_LENGTH` characters, at most
:data:`MAX_TRACE_IDS` trace ids; a result must be JSON-encodable (values JSON has no type for,
such as dates, are stored as their text).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from ._errors import ConfigurationError

__all__ = [
    "FINAL_STATUSES",
    "FORMAT_VERSION",
    "MAX_MESSAGES",
    "MAX_MESSAGE_LENGTH",
    "MAX_TRACE_IDS",
    "Journal",
    "JournalEntry",
]

FORMAT_VERSION: Final = "2"
"""The journal format this version writes and reads (the ``schema`` entry of its ``meta``
table). 2: percent-encoded row keys, and the ``run_id`` of each entry; 1: the first format,
whose row keys could be ambiguous (refused)."""
SCHEMA_VERSION: Final = FORMAT_VERSION  # the earlier name
MAX_MESSAGES: Final = 100
"""Most messages an entry keeps (the rest are counted in one last message)."""
MAX_MESSAGE_LENGTH: Final = 1000
"""Longest message an entry keeps, in characters (a longer one is cut, and says how long)."""
MAX_TRACE_IDS: Final = 100
"""Most trace ids an entry keeps."""
_MAX_TRACE_ID_LENGTH: Final = 200
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
    updated_at REAL NOT NULL,
    run_id TEXT
) WITHOUT ROWID;
"""

_COLUMNS = (
    "key, status, error_code, http_status, messages, trace_ids, result, attempts, elapsed, runs"
)

_UPSERT = """
INSERT INTO rows (key, status, error_code, http_status, messages, trace_ids, result,
                  attempts, elapsed, run_id, runs, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
ON CONFLICT(key) DO UPDATE SET
    status = excluded.status, error_code = excluded.error_code,
    http_status = excluded.http_status, messages = excluded.messages,
    trace_ids = excluded.trace_ids, result = excluded.result,
    attempts = excluded.attempts, elapsed = excluded.elapsed, run_id = excluded.run_id,
    runs = rows.runs + (rows.status != 'pending'), updated_at = excluded.updated_at
"""

_MARK = "UPDATE rows SET run_id = ? WHERE key = ?"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journal row. ``messages`` and ``trace_ids`` are tuples; ``result`` is decoded JSON;
    ``runs`` counts the runs that ended the row; ``run_id`` names the run that last finished
    or met it (None in an entry from before run ids)."""

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
    run_id: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


_Record = tuple[
    str, str, str | None, int | None, str | None, str | None, str | None, int, float, str
]


class _Mark:
    """A run met an entry without changing it (``mark_seen``)."""

    __slots__ = ("key", "run_id")

    def __init__(self, key: str, run_id: str) -> None:
        self.key = key
        self.run_id = run_id


class _Flush:
    __slots__ = ("done",)

    def __init__(self, done: Callable[[], None]) -> None:
        self.done = done


_STOP: Final = object()


def _dumps(value: Any, what: str = "result") -> str | None:
    """``value`` as compact JSON (values JSON has no type for, such as dates, as their text);
    ValueError when it cannot be encoded (a cycle, keys that are not text, a failing
    ``__str__``): storing something else would make a resumed row read back a different
    value."""
    if value is None:
        return None
    try:
        return json.dumps(value, separators=(",", ":"), default=str)
    except Exception as exc:  # whatever the encoding raised, RecursionError too
        raise ValueError(
            f"journal {what}: not JSON-encodable ({type(exc).__name__}: {exc})"
        ) from None


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[: limit - 40]}... ({len(text):,} characters)"


def _bounded_messages(messages: Sequence[str]) -> list[str]:
    kept = [_cut(str(message), MAX_MESSAGE_LENGTH) for message in messages[:MAX_MESSAGES]]
    if len(messages) > MAX_MESSAGES:
        kept.append(f"... and {len(messages) - MAX_MESSAGES:,} more messages")
    return kept


def _bounded_trace_ids(trace_ids: Sequence[str]) -> list[str]:
    return [_cut(str(trace), _MAX_TRACE_ID_LENGTH) for trace in trace_ids[:MAX_TRACE_IDS]]


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
    keys whose final status it committed. :meth:`add_commit_listener` registers any number of
    callbacks told the same with the whole entries (status, error, attempts, result).

    ``run_id`` is the default run of what is recorded (one per journal object): a bulk run
    passes its own.
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
        self.run_id = uuid.uuid4().hex
        self._listeners: list[Callable[[list[JournalEntry]], None]] = []
        self._key_listeners: list[Callable[[list[str]], None]] = []
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
        except sqlite3.OperationalError as exc:
            raise ConfigurationError(f"journal {str(self.path)!r}: {self._why(exc)}") from None
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(
                f"journal {str(self.path)!r}: not a usable SQLite database ({exc})"
            ) from None
        return connection

    def _why(self, exc: sqlite3.OperationalError) -> str:
        """Why the journal cannot be opened or written, in terms of files and folders."""
        folder = self.path.parent
        if not folder.is_dir():
            return f"the folder {str(folder)!r} does not exist"
        if not os.access(folder, os.W_OK | os.X_OK):
            return (
                f"the folder {str(folder)!r} is not writable (the journal and its -wal and "
                "-shm files are written there)"
            )
        if self.path.exists() and not os.access(self.path, os.W_OK):
            return "the file is read-only"
        return f"cannot be opened ({exc})"

    def _check_meta(self, connection: sqlite3.Connection) -> None:
        meta = dict(connection.execute("SELECT name, value FROM meta").fetchall())
        version = meta.get("schema")
        if version is None and connection.execute("SELECT 1 FROM rows LIMIT 1").fetchone():
            version = "1"  # rows but no format: nothing but an early version wrote that
        if version is not None and version != FORMAT_VERSION:
            self._refuse_format(version)
        wanted = {"schema": FORMAT_VERSION, "operation": self.operation, "shard": self.shard}
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

    def _refuse_format(self, version: str) -> None:
        path = str(self.path)
        if version.isdigit() and int(version) > int(FORMAT_VERSION):
            raise ConfigurationError(
                f"journal {path!r} has format {version}, newer than this magine_async "
                f"understands (format {FORMAT_VERSION}); upgrade magine_async to resume it"
            )
        raise ConfigurationError(
            f"journal {path!r} has format {version}, written by an earlier magine_async whose "
            f"row keys could be ambiguous; this version writes format {FORMAT_VERSION} and "
            "cannot resume it. Finish that job with the version that started it, or start a "
            "new journal file (rows done already then come back as 'already')"
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
        run_id: str | None = None,
    ) -> None:
        """Queue one entry for the writer thread; returns at once (never blocks the loop).

        Raises ValueError, recording nothing, for a status the journal does not record or a
        ``result`` that cannot be JSON-encoded. ``messages`` and ``trace_ids`` are bounded
        (see the module). ``run_id``: the run recording it (default: :attr:`run_id`)."""
        if status not in FINAL_STATUSES and status != _PENDING:
            raise ValueError(f"journal status: {status!r} is not one the journal records")
        self._check_writable()
        record: _Record = (
            key,
            status,
            error_code,
            http_status,
            _dumps(_bounded_messages(messages), "messages") if messages else None,
            _dumps(_bounded_trace_ids(trace_ids), "trace ids") if trace_ids else None,
            _dumps(result),
            attempts,
            elapsed,
            run_id if run_id is not None else self.run_id,
        )
        self._queue.put(record)

    def record_pending(self, key: str, result: Any, *, run_id: str | None = None) -> None:
        """Mark ``key`` as started, with what a later run needs to resume it (``result``)."""
        self.record(key, _PENDING, result=result, run_id=run_id)

    def mark_seen(self, key: str, run_id: str) -> None:
        """Record that run ``run_id`` met the entry of ``key`` (finished by an earlier run)
        without changing it, so that the run knows the key when it meets it again."""
        self._check_writable()
        self._queue.put(_Mark(key, run_id))

    def add_commit_listener(self, callback: Callable[[list[JournalEntry]], None]) -> None:
        """Call ``callback(entries)`` on the event loop after each committed batch, with the
        entries whose final status (``succeeded``, ``already``, ``failed``) the batch
        committed, in the order they were recorded, as they are now on disk (``pending``
        marks are left out). A callback that raises is reported to the loop's exception
        handler; the journal goes on."""
        self._listeners.append(callback)

    def remove_commit_listener(self, callback: Callable[[list[JournalEntry]], None]) -> None:
        """Stop calling ``callback`` (see :meth:`add_commit_listener`)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(callback)

    def add_key_listener(self, callback: Callable[[list[str]], None]) -> None:
        """Call ``callback(keys)`` on the event loop after each committed batch, with every key
        whose final status or :meth:`mark_seen` it committed (what a bulk run keeps in memory
        until it is on disk)."""
        self._key_listeners.append(callback)

    def remove_key_listener(self, callback: Callable[[list[str]], None]) -> None:
        with contextlib.suppress(ValueError):
            self._key_listeners.remove(callback)

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
                batch: list[_Record | _Mark] = []
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

    def _commit(self, connection: sqlite3.Connection, batch: list[_Record | _Mark]) -> None:
        now = time.time()
        records = [item for item in batch if not isinstance(item, _Mark)]
        marks = [item for item in batch if isinstance(item, _Mark)]
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            if not marks:
                connection.executemany(_UPSERT, [(*record, now) for record in records])
            else:  # in order: a mark after a record of its key applies to it
                for item in batch:
                    if isinstance(item, _Mark):
                        connection.execute(_MARK, (item.run_id, item.key))
                    else:
                        connection.execute(_UPSERT, (*item, now))
        self.committed += len(records)
        loop = self._loop
        if loop is None:
            return
        final = [record for record in records if record[1] != _PENDING]
        notes: list[tuple[Callable[..., None], list[Any]]] = []
        if self.on_commit is not None:
            notes.append((self.on_commit, [record[0] for record in final]))
        if self._key_listeners:
            keys = [record[0] for record in final] + [mark.key for mark in marks]
            notes.extend((listener, keys) for listener in self._key_listeners)
        if self._listeners and final:
            entries = self._committed_entries(connection, final)
            notes.extend((listener, entries) for listener in self._listeners)
        for callback, payload in notes:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(callback, payload)

    @staticmethod
    def _committed_entries(
        connection: sqlite3.Connection, records: list[_Record]
    ) -> list[JournalEntry]:
        """The entries of those records as they are now on disk (``runs`` counted there)."""
        on_disk = Journal._lookup_sync(connection, list(dict.fromkeys(r[0] for r in records)))
        entries: list[JournalEntry] = []
        for record in records:
            stored = on_disk.get(record[0])
            entries.append(
                _entry((*record[:9], stored.runs if stored is not None else 1, record[9]))
            )
        return entries

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
            cursor = reader.execute(
                f"SELECT {_COLUMNS}, run_id FROM rows WHERE key IN ({marks})",  # noqa: S608
                part,
            )
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
            names = {row[1] for row in connection.execute("PRAGMA table_info(rows)")}
            run = "run_id" if "run_id" in names else "NULL"  # a format 1 journal has none
            select = f"SELECT {_COLUMNS}, {run} FROM rows"  # noqa: S608 - constant names
            if status is None:
                cursor = connection.execute(f"{select} ORDER BY key")
            else:
                cursor = connection.execute(f"{select} WHERE status = ? ORDER BY key", (status,))
            for row in cursor:
                yield _entry(row)
        finally:
            connection.close()


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    key, status, code, http, messages, traces, result, attempts, elapsed, runs, run_id = row
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
        run_id=run_id,
    )
