"""The fan-out engine: a bounded pool of workers over a lazily read input.

``fan_out(rows, action, key=...)`` returns a :class:`BulkRun`. Starting it (iterating it or
awaiting it) starts one producer and ``concurrency`` workers:

- the **producer** reads the input one row at a time (an iterable or an async iterable; a
  generator of ten million rows is never materialised), computes each row's key (a row whose
  key cannot be computed fails at once with ``invalidRow``), drops rows of other shards,
  consults the journal in chunks and puts the rest on a queue of ``concurrency`` slots. A full
  queue stops it reading: memory stays bounded by the queue, the workers and the unread
  outcomes;
- each **worker** takes a row, runs ``action(row, context)`` with every HTTP attempt gated by
  the run's :class:`~magine_async.bulk.PoolControl`, records the outcome in the journal and
  hands it to the consumer (another bounded queue).

A row's failure (any :class:`~magine_async.MagineError` but the fatal ones, or a bug in the
action) fails that row only. A fatal error — :class:`~magine_async.AuthenticationError` (a 401
that a fresh JWT did not cure), :class:`~magine_async.ConfigurationError`,
:class:`~magine_async.ClientClosedError`, an input that cannot be read — stops the run: no new
row starts, rows in flight finish and are reported, then iteration raises
:class:`BulkAborted`. The row that met the fatal error is not journaled, so a re-run does it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Generic, Self, TypeVar

from .._errors import AuthenticationError, ClientClosedError, ConfigurationError, MagineError
from .._retry import attempt_hooks
from ..journal import Journal, JournalEntry
from ._control import PoolControl, RetryBudget, Shard, WorkerHooks
from ._outcome import (
    BulkAborted,
    ErrorInfo,
    LatencyHistogram,
    Outcome,
    RowFailed,
    RowResult,
    Status,
    Summary,
)

__all__ = ["BulkRun", "InputError", "RowContext", "Settings", "fan_out"]

R = TypeVar("R")

Action = Callable[[R, "RowContext"], Awaitable[Any]]

_FATAL: Final = (AuthenticationError, ConfigurationError, ClientClosedError)
_CHUNK: Final = 256
_YIELD_EVERY: Final = 512


class InputError(MagineError):
    """The input could not be read (the iterable raised); ``__cause__`` is the original error."""


class RowContext:
    """Given to a row action with its row: the row's ``key``; ``pending``, what the journal
    holds for this key from an earlier run — a :meth:`checkpoint` of a run that was
    interrupted, or the result of a failure being retried — else None; and :meth:`checkpoint`
    to record resumable progress (kept in the journal, if any)."""

    __slots__ = ("_journal", "key", "pending")

    def __init__(self, key: str, pending: Any, journal: Journal | None) -> None:
        self.key = key
        self.pending = pending
        self._journal = journal

    def checkpoint(self, data: Any) -> None:
        """Record ``data`` (small, JSON-able) so that a re-run can resume this row from it."""
        if self._journal is not None:
            self._journal.record_pending(self.key, data)


class _Item(Generic[R]):
    __slots__ = ("key", "pending", "row")

    def __init__(self, key: str, row: R, pending: Any) -> None:
        self.key = key
        self.row = row
        self.pending = pending


_END: Final = object()


def fan_out(
    rows: Iterable[R] | AsyncIterable[R],
    action: Action[R] | None,
    *,
    key: Callable[[R], str],
    operation: str = "bulk",
    concurrency: int = 32,
    adaptive: bool = True,
    rate_limit: float | None = None,
    retry_budget: RetryBudget | None = RetryBudget(),  # noqa: B008 - immutable
    journal: Journal | str | Path | None = None,
    retry_failed: bool = False,
    shard: str | Shard | None = None,
    dry_run: bool = False,
    max_pause: float = 60.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> BulkRun[R]:
    """Run ``action(row, context)`` for every row of ``rows`` with bounded concurrency.

    - ``key(row)``: the row's stable identity (journal, shards, duplicates); it should also
      validate the row (raise :class:`~magine_async.ValidationError`): an invalid row fails
      with ``invalidRow`` and key ``#<position>`` without being sent.
    - ``action``: returns a :class:`RowResult`, or any other value (then the row
      ``succeeded`` with that value as its result), or raises (the row ``failed``).
      ``None`` is allowed with ``dry_run`` only.
    - ``concurrency``: workers, and the ceiling of the adaptive window; ``adaptive=False``
      keeps the window there. ``rate_limit``: at most that many requests per second.
    - ``retry_budget``: None lets every retriable failure be retried as the client's
      :class:`~magine_async.RetryPolicy` says.
    - ``journal``: a path or a :class:`~magine_async.journal.Journal`; rows it holds as
      finished are skipped, failed ones too unless ``retry_failed``.
    - ``shard``: ``"K/N"``: only the rows whose key hashes to K (of N).
    - ``dry_run``: read, validate, shard and consult the journal, send nothing, write nothing;
      rows that would be sent are reported ``skipped`` with detail ``"dry run"``.
    - ``max_pause``: longest pool-wide pause for one ``Retry-After``; ``sleep`` and ``clock``
      drive pauses and the rate limit (inject them in tests).
    """
    if concurrency < 1:
        raise ConfigurationError("concurrency: must be at least 1")
    if rate_limit is not None and rate_limit <= 0:
        raise ConfigurationError("rate_limit: must be positive (requests per second)")
    if action is None and not dry_run:
        raise ConfigurationError("action: required unless dry_run")
    settings = Settings(
        key=key,
        operation=operation,
        concurrency=concurrency,
        adaptive=adaptive,
        rate_limit=rate_limit,
        retry_budget=retry_budget,
        journal=journal,
        retry_failed=retry_failed,
        shard=Shard.parse(shard) if shard is not None else None,
        dry_run=dry_run,
        max_pause=max_pause,
        sleep=sleep,
        clock=clock,
    )
    return BulkRun(rows, action, settings)


@dataclass(frozen=True, slots=True)
class Settings(Generic[R]):
    """The options of a run, as :func:`fan_out` took them (``run.settings``)."""

    key: Callable[[R], str]
    operation: str
    concurrency: int
    adaptive: bool
    rate_limit: float | None
    retry_budget: RetryBudget | None
    journal: Journal | str | Path | None
    retry_failed: bool
    shard: Shard | None
    dry_run: bool
    max_pause: float
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]


class BulkRun(Generic[R]):
    """A bulk run: ``async for outcome in run`` streams outcomes as rows complete;
    ``summary = await run`` runs it to the end; :attr:`summary` is live meanwhile.

    Use ``async with run:`` when leaving the loop early: on exit it stops reading, lets the
    rows in flight finish, and commits the journal. :meth:`stop` does the same from elsewhere
    (a signal handler); :meth:`abort` cancels the rows in flight too.
    """

    def __init__(
        self,
        rows: Iterable[R] | AsyncIterable[R],
        action: Action[R] | None,
        settings: Settings[R],
    ) -> None:
        self._rows = rows
        self._action = action
        self.settings = settings
        self._clock = settings.clock
        self._journal: Journal | None = None
        self._owns_journal = False
        self.summary = Summary()
        self._latency = LatencyHistogram()
        self._active: set[str] = set()
        self._chunk: list[tuple[str, R]] = []
        self._rows_in_flight = 0
        self._stopping = False
        self._fatal: BaseException | None = None
        self._started_at = 0.0
        self._started = False
        self._iterating = False
        self._finished = False
        self._ended = False
        self._control: PoolControl | None = None
        self._queue: asyncio.Queue[_Item[R] | None] | None = None
        self._out: asyncio.Queue[Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._producer: list[asyncio.Task[None]] = []
        self._supervisor: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        state = "finished" if self._finished else "running" if self._started else "not started"
        return f"<BulkRun {self.settings.operation} {state} {self.summary.counts}>"

    # -- public control ------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Rows being processed right now."""
        return self._rows_in_flight

    @property
    def journal(self) -> Journal | None:
        return self._journal

    def stop(self, reason: str = "interrupted") -> None:
        """Read no more rows and start none; rows in flight finish and are reported."""
        if not self._stopping:
            self._stopping = True
            if self.summary.stopped is None:
                self.summary.stopped = reason

    def abort(self) -> None:
        """Stop, and cancel the rows in flight (they are not journaled; a re-run does them)."""
        self.stop()
        for task in (*self._tasks, *self._producer):
            task.cancel()

    def snapshot(self) -> Summary:
        """:attr:`summary` with its elapsed time and percentiles brought up to date."""
        summary = self.summary
        if self._started and not self._finished:
            summary.elapsed = self._clock() - self._started_at
        summary.p50 = self._latency.percentile(0.50)
        summary.p99 = self._latency.percentile(0.99)
        return summary

    # -- consuming -----------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Outcome[R]]:
        if self._iterating:
            raise RuntimeError("a BulkRun can be iterated once")
        self._iterating = True
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Outcome[R]]:
        await self._start()
        out = self._out
        assert out is not None
        while not self._ended:
            item = await out.get()
            if item is _END:
                self._ended = True
                break
            yield item
        if self._supervisor is not None:
            await self._supervisor
        if self._fatal is not None:
            raise BulkAborted(self._fatal, self.summary) from self._fatal

    async def wait(self) -> Summary:
        """Run to the end, dropping the outcomes; returns the summary (raises
        :class:`BulkAborted` after a fatal error)."""
        async for _ in self:
            pass
        return self.summary

    def __await__(self) -> Generator[Any, None, Summary]:
        return self.wait().__await__()

    async def __aenter__(self) -> Self:
        await self._start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):
            self.abort()  # cancelled or interrupted: do not wait for the rows in flight
        await self.aclose()

    async def aclose(self) -> None:
        """Stop (see :meth:`stop`), drop the outcomes nobody read, wait for the end."""
        if not self._started or self._supervisor is None:
            return
        self.stop()
        out = self._out
        assert out is not None
        while not self._ended:
            if await out.get() is _END:
                self._ended = True
        await asyncio.gather(self._supervisor, return_exceptions=True)

    # -- machinery -----------------------------------------------------------------------

    async def _start(self) -> None:
        if self._started:
            return
        self._started = True
        self._started_at = self._clock()
        await self._open_journal()
        settings = self.settings
        self._control = PoolControl(
            concurrency=settings.concurrency,
            adaptive=settings.adaptive,
            rate_limit=settings.rate_limit,
            budget=settings.retry_budget,
            sleep=settings.sleep,
            clock=settings.clock,
            max_pause=settings.max_pause,
            summary=self.summary,
        )
        self._queue = asyncio.Queue(maxsize=settings.concurrency)
        self._out = asyncio.Queue(maxsize=max(64, 2 * settings.concurrency))
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._work()) for _ in range(settings.concurrency)]
        producer = loop.create_task(self._produce())
        self._producer = [producer]
        self._supervisor = loop.create_task(self._supervise(producer))

    async def _open_journal(self) -> None:
        settings = self.settings
        given = settings.journal
        if given is None:
            return
        if isinstance(given, Journal):
            journal = given
            self._owns_journal = not journal.is_open
        else:
            journal = Journal(
                given,
                operation=settings.operation,
                shard=str(settings.shard) if settings.shard is not None else None,
                read_only=settings.dry_run,
            )
            self._owns_journal = True
        await journal.open()
        if not settings.dry_run:
            journal.on_commit = self._committed
        self._journal = journal

    def _committed(self, keys: list[str]) -> None:
        active = self._active
        for key in keys:
            active.discard(key)

    async def _supervise(self, producer: asyncio.Task[None]) -> None:
        try:
            await asyncio.gather(producer, *self._tasks, return_exceptions=True)
        finally:
            try:
                if self._control is not None:
                    await self._control.aclose()
                await self._close_journal()
            finally:
                self.snapshot()
                self._finished = True
                assert self._out is not None
                await self._out.put(_END)

    async def _close_journal(self) -> None:
        journal = self._journal
        if journal is None:
            return
        try:
            if self._owns_journal:
                await journal.close()
            elif not journal.read_only:
                await journal.flush()
        except MagineError as exc:
            self._fatal_error(exc)

    def _fatal_error(self, exc: BaseException, *, finish_queued: bool = False) -> None:
        """Record the first fatal error; no new row starts (unless ``finish_queued``: rows
        already read still run, as when the input breaks but the platform is fine)."""
        if self._fatal is None:
            self._fatal = exc
            self.summary.stopped = f"{type(exc).__name__}: {exc}"
        if not finish_queued:
            self._stopping = True

    async def _produce(self) -> None:
        queue = self._queue
        assert queue is not None
        cancelled = False
        try:
            rows = self._rows
            if isinstance(rows, AsyncIterable):
                async for row in rows:
                    if self._stopping:
                        break
                    await self._admit(row)
            else:
                for count, row in enumerate(rows, 1):
                    if self._stopping:
                        break
                    await self._admit(row)
                    if count % _YIELD_EVERY == 0:
                        await asyncio.sleep(0)  # let the workers run between skipped rows
            if self._chunk and not self._stopping:
                await self._dispatch()
        except asyncio.CancelledError:
            cancelled = True
            raise
        except MagineError as exc:
            self._fatal_error(exc)
        except Exception as exc:
            error = InputError(f"the input could not be read: {type(exc).__name__}: {exc}")
            error.__cause__ = exc
            self._fatal_error(error, finish_queued=True)
        finally:
            if not cancelled:  # an aborted run's workers are cancelled too
                for _ in self._tasks:
                    await queue.put(None)

    async def _admit(self, row: R) -> None:
        summary = self.summary
        summary.read += 1
        try:
            key = self.settings.key(row)
        except (MagineError, ValueError, TypeError) as exc:
            error = ErrorInfo.from_exception(exc)
            if error.error_code in (None, "internalError"):
                error = ErrorInfo(error.kind, "invalidRow", error.messages)
            await self._emit(Outcome(f"#{summary.read}", "failed", row, error=error))
            return
        shard = self.settings.shard
        if shard is not None and not shard.owns(key):
            summary.other_shards += 1
            return
        if self._journal is not None:
            self._chunk.append((key, row))
            if len(self._chunk) >= _CHUNK:
                await self._dispatch()
            return
        if key in self._active:
            await self._skip_duplicate(key, row)
            return
        self._active.add(key)
        assert self._queue is not None
        await self._queue.put(_Item(key, row, None))

    async def _skip_duplicate(self, key: str, row: R) -> None:
        await self._emit(Outcome(key, "skipped", row, detail="duplicate of an earlier row"))

    async def _dispatch(self) -> None:
        chunk, self._chunk = self._chunk, []
        fresh: list[tuple[str, R]] = []
        seen: set[str] = set()
        for key, row in chunk:
            # Checked before the lookup: a key leaves _active only once committed, so a key
            # not active here is either new or visible to the lookup.
            if key in self._active or key in seen:
                await self._skip_duplicate(key, row)
            else:
                seen.add(key)
                fresh.append((key, row))
        assert self._journal is not None
        assert self._queue is not None
        found = await self._journal.lookup(key for key, _ in fresh)
        for key, row in fresh:
            entry = found.get(key)
            retry = entry is not None and entry.status == "failed" and self.settings.retry_failed
            if entry is not None and entry.final and not retry:
                await self._skip_finished(key, row, entry)
                continue
            if self._stopping:
                return
            pending = entry.result if entry is not None else None  # a checkpoint, or a failure's
            self._active.add(key)
            await self._queue.put(_Item(key, row, pending))

    async def _skip_finished(self, key: str, row: R, entry: JournalEntry) -> None:
        error = None
        if entry.status == "failed":
            self.summary.previously_failed += 1
            error = ErrorInfo(
                "JournalEntry",
                entry.error_code,
                entry.messages,
                entry.http_status,
                entry.trace_ids,
            )
        detail = f"{entry.status} in an earlier run"
        await self._emit(
            Outcome(key, "skipped", row, entry.result, error, entry.attempts, detail=detail)
        )

    async def _work(self) -> None:
        queue = self._queue
        assert queue is not None
        assert self._control is not None
        hooks = WorkerHooks(self._control)
        with attempt_hooks(hooks):
            while True:
                item = await queue.get()
                if item is None:
                    return
                if self._stopping:
                    self._active.discard(item.key)  # never started: a re-run does it
                    continue
                outcome = await self._process(item, hooks)
                if outcome is not None:
                    await self._emit(outcome)

    async def _process(self, item: _Item[R], hooks: WorkerHooks) -> Outcome[R] | None:
        key, row = item.key, item.row
        if self._action is None or self.settings.dry_run:
            self._active.discard(key)
            self.summary.planned += 1
            return Outcome(key, "skipped", row, detail="dry run")
        summary = self.summary
        hooks.attempts = 0
        self._rows_in_flight += 1
        if self._rows_in_flight > summary.peak_in_flight:
            summary.peak_in_flight = self._rows_in_flight
        started = self._clock()
        status: Status = "succeeded"
        result: Any = None
        error: ErrorInfo | None = None
        journal = self._journal
        try:
            value = await self._action(row, RowContext(key, item.pending, journal))
            if isinstance(value, RowResult):
                status, result, error = value.status, value.value, value.error
            else:
                result = value
        except _FATAL as exc:
            self._active.discard(key)
            self._fatal_error(exc)
            return None
        except RowFailed as exc:
            status, result, error = "failed", exc.result, exc.error
        except asyncio.CancelledError:
            self._active.discard(key)
            raise
        except Exception as exc:  # a failing row never stops the run, even through a bug
            status, error = "failed", ErrorInfo.from_exception(exc)
        finally:
            self._rows_in_flight -= 1
        elapsed = self._clock() - started
        self._latency.add(elapsed)
        if status == "failed" and error is None:
            error = ErrorInfo("RowResult", "failed")
        if journal is None:
            self._active.discard(key)
        else:
            try:
                journal.record(
                    key,
                    status,
                    error_code=error.error_code if error else None,
                    http_status=error.status if error else None,
                    messages=error.messages if error else (),
                    trace_ids=error.trace_ids if error else (),
                    result=result,
                    attempts=hooks.attempts,
                    elapsed=elapsed,
                )
            except MagineError as exc:
                self._fatal_error(exc)
        return Outcome(key, status, row, result, error, hooks.attempts, elapsed)

    async def _emit(self, outcome: Outcome[R]) -> None:
        self.summary.counts[outcome.status] += 1
        assert self._out is not None
        await self._out.put(outcome)
