"""The fan-out engine: a bounded pool of workers over a lazily read input.

``fan_out(rows, action, key=...)`` returns a :class:`BulkRun`. Starting it (iterating it or
awaiting it) starts one producer and ``concurrency`` workers:

- the **producer** reads the input one row at a time (an iterable or an async iterable; a
  generator of ten million rows is never materialised), computes each row's key (a row whose
  key cannot be computed fails with ``invalidRow`` under the key ``#<position>:<digest>``,
  journaled like any other row), drops rows of other shards, consults the journal in chunks
  and puts the rest on a queue of ``concurrency`` slots. A full queue stops it reading: memory
  stays bounded by the queue, the workers, the unread outcomes and — without a journal — the
  keys that failed;
- each **worker** takes a row, runs ``action(row, context)`` with every HTTP attempt gated by
  the run's :class:`~magine_async.bulk.PoolControl`, records the outcome in the journal and
  hands it to the consumer (another bounded queue).

A row's failure (any :class:`~magine_async.MagineError` but the fatal ones, or a bug: in the
action, in its key function, a status outside ``succeeded``/``already``/``failed``, a result
that cannot be JSON-encoded for the journal) fails that row only, the bug as
``internalError`` naming the exception. A fatal error — :class:`~magine_async.AuthenticationError`
(a 401 that a fresh JWT did not cure), :class:`~magine_async.ConfigurationError`,
:class:`~magine_async.ClientClosedError`, a journal that cannot be written, a worker task that
died anyway — stops the run: no new row starts, rows in flight finish and are reported, then
iteration raises :class:`BulkAborted`. The row that met the fatal error is not journaled, so a
re-run does it. An input that cannot be read (:class:`InputError`) is fatal too, but the rows
read before it still run, are journaled and reported.

A key is done once per run: met again (in flight, or finished by this run), the row is
``skipped`` as ``duplicate of an earlier row``; a key an earlier run finished is ``skipped``
as ``<status> in an earlier run`` (and a failed one counted once in
:attr:`Summary.previously_failed`, however often it is met).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Generic, Self, TypeVar

from .._errors import (
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    MagineError,
    RateLimitError,
)
from .._flow import FlowControl
from .._retry import RetryPolicy, attempt_hooks
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
from ._rows import InvalidRow, invalid_row_key

__all__ = ["BulkRun", "InputError", "RowContext", "Settings", "fan_out"]

R = TypeVar("R")

Action = Callable[[R, "RowContext"], Awaitable[Any]]

_FATAL: Final = (AuthenticationError, ConfigurationError, ClientClosedError)
_UNBOUNDED: Final = 2**62  # throttled attempts: bounded by the throttle deadline instead
_ENDED: Final[dict[str, Status]] = {
    "succeeded": "succeeded",
    "already": "already",
    "failed": "failed",
}
_CHUNK: Final = 256
_YIELD_EVERY: Final = 512
_MAX_ERROR_MESSAGES: Final = 10
_MAX_ERROR_MESSAGE: Final = 500
_ADDRESS: Final = re.compile(r" at 0x[0-9A-Fa-f]+")


class _Stalled(RateLimitError):
    """Every request of a run was throttled for the whole throttle deadline."""

    def __init__(self, message: str) -> None:
        super().__init__(429, messages=[message])
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(MagineError):
    """The input could not be read: the iterable raised ``cause`` (also ``__cause__``).

    ``rows_read``: the rows read before (each of them was still done, journaled and
    reported); ``line``: where the input broke, when it says so — an int ``line`` attribute
    of the exception, else of the input object — or None; ``problem``: ``"<exception type>:
    <message>"``, one line for a message such as ``rows.csv, line 12: <problem>``."""

    def __init__(self, cause: BaseException, *, rows_read: int, line: int | None = None) -> None:
        self.cause = cause
        self.rows_read = rows_read
        self.line = line
        self.problem = " ".join(f"{type(cause).__name__}: {cause}".split())
        where = f"at line {line}" if line is not None else f"after {rows_read:,} rows"
        super().__init__(f"the input could not be read {where}: {self.problem}")
        self.__cause__ = cause


def _int_attribute(thing: object, name: str) -> int | None:
    try:
        value = getattr(thing, name, None)
    except Exception:  # a property that raises says nothing
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _cut(text: str, limit: int = _MAX_ERROR_MESSAGE) -> str:
    return text if len(text) <= limit else f"{text[: limit - 40]}... ({len(text):,} characters)"


def _bounded(error: ErrorInfo) -> ErrorInfo:
    """``error`` with at most a few short messages (an engine-made error may quote a row)."""
    messages = tuple(_cut(str(m)) for m in error.messages[:_MAX_ERROR_MESSAGES])
    if len(error.messages) > _MAX_ERROR_MESSAGES:
        messages += (f"... and {len(error.messages) - _MAX_ERROR_MESSAGES:,} more messages",)
    return ErrorInfo(error.kind, error.error_code, messages, error.status, error.trace_ids)


def _internal(exc: BaseException, doing: str | None = None) -> ErrorInfo:
    """An ``internalError`` naming the exception (what a bug in a row's path becomes)."""
    kind = type(exc).__name__
    text = f"{kind}: {exc}"
    return _bounded(ErrorInfo(kind, "internalError", (f"{doing}: {text}" if doing else text,)))


def _engine_failure(what: str, exc: BaseException) -> MagineError:
    error = MagineError(f"{what} stopped on an unexpected error: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _died(task: asyncio.Task[None]) -> bool:
    """Whether ``task`` ended otherwise than by returning."""
    return task.cancelled() or task.exception() is not None


def _fingerprint(row: object) -> str | bytes:
    """A text standing for ``row``, the same in every run: what the key of an invalid row is
    digested from (:class:`InvalidRow` has its raw text; a text row is itself; another row
    its ``repr``, or its attributes when it has no ``repr`` of its own)."""
    if isinstance(row, str | bytes):
        return row
    cls = type(row)
    try:
        if cls.__repr__ is not object.__repr__:
            return _ADDRESS.sub("", repr(row))
        values: dict[str, str] = {}
        for klass in cls.__mro__:
            slots = getattr(klass, "__slots__", ())
            for name in (slots,) if isinstance(slots, str) else slots:
                if hasattr(row, name):
                    values[name] = _ADDRESS.sub("", repr(getattr(row, name)))
        for name, value in getattr(row, "__dict__", {}).items():
            values[name] = _ADDRESS.sub("", repr(value))
        return f"{cls.__module__}.{cls.__qualname__}{sorted(values.items())}"
    except Exception:  # a row that cannot be shown is still a row
        return f"{cls.__module__}.{cls.__qualname__}"


def _invalid_key(row: object, position: int) -> str:
    if isinstance(row, InvalidRow):
        return row.journal_key
    return invalid_row_key(position, _fingerprint(row))


class RowContext:
    """Given to a row action with its row: the row's ``key``; ``pending``, what the journal
    holds for this key from an earlier run — a :meth:`checkpoint` of a run that was
    interrupted, or the result of a failure being retried — else None; and :meth:`checkpoint`
    to record resumable progress (kept in the journal, if any)."""

    __slots__ = ("_journal", "_run_id", "key", "pending")

    def __init__(
        self, key: str, pending: Any, journal: Journal | None, run_id: str | None = None
    ) -> None:
        self.key = key
        self.pending = pending
        self._journal = journal
        self._run_id = run_id

    def checkpoint(self, data: Any) -> None:
        """Record ``data`` (small, JSON-able: ValueError otherwise) so that a re-run can resume
        this row from it."""
        if self._journal is not None:
            self._journal.record_pending(self.key, data, run_id=self._run_id)


class _Item(Generic[R]):
    __slots__ = ("key", "pending", "recorded", "row")

    def __init__(self, key: str, row: R, pending: Any) -> None:
        self.key = key
        self.row = row
        self.pending = pending
        self.recorded = False


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
    throttle_deadline: float = 600.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    retry: RetryPolicy | None = None,
    flow: FlowControl | None = None,
) -> BulkRun[R]:
    """Run ``action(row, context)`` for every row of ``rows`` with bounded concurrency.

    - ``key(row)``: the row's stable identity (journal, shards, duplicates); it should also
      validate the row (raise :class:`~magine_async.ValidationError`): an invalid row fails
      with ``invalidRow`` without being sent, under the key ``#<position>:<digest>`` — its
      position in the input (1 for the first row; an :class:`~magine_async.bulk.InvalidRow`
      gives its line) and 16 hexadecimal digits of the SHA-256 of the row (an
      ``InvalidRow``'s raw text, a text row itself, else its ``repr``). It is journaled like
      any row: a re-run of the same input skips it as failed in an earlier run (and checks
      it again with ``retry_failed``); fixed, the row gets its natural key. A key function
      that raises anything else fails the row as ``internalError``.
    - ``action``: returns a :class:`RowResult`, or any other value (then the row
      ``succeeded`` with that value as its result), or raises (the row ``failed``).
      ``None`` is allowed with ``dry_run`` only.
    - ``concurrency``: workers (at most that many rows, and requests, in flight).
    - ``flow``: the flow controller every attempt goes through (``client.bulk`` passes the
      client's); without one the run makes its own: adaptive (it learns the rate the
      platform admits from its 429s and sends just under it), starting from ``rate_limit``
      requests per second if given; ``adaptive=False`` keeps ``rate_limit`` fixed.
    - Throttling is not failure: a 429 never spends the retry budget nor ``max_attempts``; a
      throttled request waits for the flow controller. A row that has been throttled for
      ``throttle_deadline`` seconds (default 600) is started again while the run still makes
      progress; when nothing was admitted during that time the run stops with a fatal
      :class:`~magine_async.RateLimitError`. ``retry`` is the policy the run's requests use
      (default: ``RetryPolicy`` with the run's ``sleep`` and ``clock``).
    - ``retry_budget``: None lets every retriable failure be retried as the client's
      :class:`~magine_async.RetryPolicy` says.
    - ``journal``: a path or a :class:`~magine_async.journal.Journal`; rows it holds as
      finished are skipped, failed ones too unless ``retry_failed``.
    - ``shard``: ``"K/N"``: only the rows whose key hashes to K (of N).
    - ``dry_run``: read, validate, shard and consult the journal, send nothing, write nothing;
      rows that would be sent are reported ``skipped`` with detail ``"dry run"``.
    - ``max_pause``: longest pool-wide pause for one ``Retry-After``; ``sleep`` and ``clock``
      drive pauses and the flow controller (inject them in tests).
    """
    if concurrency < 1:
        raise ConfigurationError("concurrency: must be at least 1")
    if rate_limit is not None and (not math.isfinite(rate_limit) or rate_limit <= 0):
        raise ConfigurationError("rate_limit: must be positive (requests per second)")
    if not math.isfinite(throttle_deadline) or throttle_deadline <= 0:
        raise ConfigurationError("throttle_deadline: must be a positive number of seconds")
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
        throttle_deadline=throttle_deadline,
        sleep=sleep,
        clock=clock,
        retry=retry,
        flow=flow,
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
    throttle_deadline: float
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]
    retry: RetryPolicy | None = None
    flow: FlowControl | None = None


class BulkRun(Generic[R]):
    """A bulk run: ``async for outcome in run`` streams outcomes as rows complete;
    ``summary = await run`` runs it to the end; :attr:`summary` is live meanwhile.

    Use ``async with run:`` when leaving the loop early: on exit it stops reading, lets the
    rows in flight finish, and commits the journal (a run whose outcomes were all read is not
    stopped: it ended). :meth:`stop` does the same from elsewhere (a signal handler);
    :meth:`abort` cancels the rows in flight too.
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
        self._run_id = uuid.uuid4().hex
        self.summary = Summary()
        self._latency = LatencyHistogram()
        self._active: set[str] = set()
        self._failed_keys: set[str] = set()  # without a writable journal: failed this run
        self._chunk: list[tuple[str, R, ErrorInfo | None]] = []
        self._rows_in_flight = 0
        self._stopping = False
        self._aborting = False
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
    def flow(self) -> FlowControl | None:
        """The flow controller the run's requests go through (once started)."""
        return self._control.flow if self._control is not None else None

    @property
    def journal(self) -> Journal | None:
        return self._journal

    @property
    def run_id(self) -> str:
        """This run's id, recorded with each journal entry it writes."""
        return self._run_id

    def stop(self, reason: str = "interrupted") -> None:
        """Read no more rows and start none; rows in flight finish and are reported."""
        if not self._stopping:
            self._stopping = True
            if self.summary.stopped is None:
                self.summary.stopped = reason

    def abort(self) -> None:
        """Stop, and cancel the rows in flight (they are not journaled; a re-run does them)."""
        self.stop()
        self._aborting = True
        for task in (*self._tasks, *self._producer):
            task.cancel()

    def snapshot(self) -> Summary:
        """:attr:`summary` with its elapsed time and percentiles brought up to date."""
        summary = self.summary
        if self._started and not self._finished:
            summary.elapsed = self._clock() - self._started_at
        summary.p50 = self._latency.percentile(0.50)
        summary.p99 = self._latency.percentile(0.99)
        if self._control is not None:
            self._control.update(summary)
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
        """Stop (see :meth:`stop`) unless the run has ended, drop the outcomes nobody read,
        wait for the end."""
        if not self._started or self._supervisor is None:
            return
        if not (self._ended or self._finished):  # an ended run was not interrupted
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
        flow = settings.flow or FlowControl(
            rate=settings.rate_limit,
            adaptive=settings.adaptive,
            max_pause=settings.max_pause,
            clock=settings.clock,
            sleep=settings.sleep,
        )
        self._control = PoolControl(
            flow=flow,
            budget=settings.retry_budget,
            summary=self.summary,
            owns_flow=settings.flow is None,
        )
        base = settings.retry or RetryPolicy(sleep=settings.sleep, clock=settings.clock)
        self._retry = dataclasses.replace(
            base, max_throttled=_UNBOUNDED, throttle_deadline=settings.throttle_deadline
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
        if self._writes(journal):
            journal.add_key_listener(self._committed)
        self._journal = journal

    def _writes(self, journal: Journal | None) -> bool:
        """Whether this run writes ``journal`` (not in a dry run, nor a read-only journal)."""
        return journal is not None and not journal.read_only and not self.settings.dry_run

    def _committed(self, keys: list[str]) -> None:
        active = self._active
        for key in keys:
            active.discard(key)

    async def _supervise(self, producer: asyncio.Task[None]) -> None:
        workers = list(self._tasks)
        try:
            pending: set[asyncio.Task[None]] = {producer, *workers}
            released = False
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    self._ended_task(task, "the bulk producer" if task is producer else "a worker")
                alive = [worker for worker in workers if not worker.done()]
                if not producer.done() and not alive:
                    producer.cancel()  # nobody is left to take the rows it would queue
                elif producer.done() and alive and not released and _died(producer):
                    released = True
                    self._release(len(alive))  # it may have died before its end markers
        except BaseException as exc:  # the supervisor itself: never leave the run hanging
            for task in (producer, *workers):
                task.cancel()
            if not isinstance(exc, asyncio.CancelledError):
                self._fatal_error(_engine_failure("the bulk run's supervisor", exc))
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

    def _ended_task(self, task: asyncio.Task[None], what: str) -> None:
        """A task of the run ended: if it died, the run cannot go on as it should."""
        if task.cancelled():
            return  # aborted, or the producer cancelled above
        exc = task.exception()
        if exc is not None:
            self._fatal_error(_engine_failure(what, exc))

    def _release(self, workers: int) -> None:
        """Hand an end marker to each of ``workers`` live workers (the queue emptied first, so
        that this never waits: the run is stopping, the rows queued would not start)."""
        queue = self._queue
        assert queue is not None
        while not queue.empty():
            item = queue.get_nowait()
            if item is not None:
                self._active.discard(item.key)
        for _ in range(workers):
            queue.put_nowait(None)

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
        finally:
            journal.remove_key_listener(self._committed)

    def _fatal_error(self, exc: BaseException, *, finish_queued: bool = False) -> None:
        """Record the first fatal error; no new row starts (unless ``finish_queued``: rows
        already read still run, as when the input breaks but the platform is fine)."""
        if self._fatal is None:
            self._fatal = exc
            self.summary.stopped = f"{type(exc).__name__}: {exc}"
        if not finish_queued:
            self._stopping = True

    # -- the producer --------------------------------------------------------------------

    async def _produce(self) -> None:
        queue = self._queue
        assert queue is not None
        cancelled = False
        try:
            await self._read()
            if self._chunk and not self._stopping:
                await self._dispatch()  # the rows read last (before the end, or an error)
        except asyncio.CancelledError:
            cancelled = True
            raise
        except MagineError as exc:  # the journal could not be read or written
            self._fatal_error(exc)
        except Exception as exc:  # a bug of the engine's own
            self._fatal_error(_engine_failure("the bulk producer", exc))
        finally:
            if not cancelled:  # an aborted run's workers are cancelled too
                for _ in self._tasks:
                    await queue.put(None)

    async def _read(self) -> None:
        """Admit every row of the input; an error of the input itself (not of a row) ends the
        reading with an :class:`InputError`, the rows read until then going on."""
        rows = self._rows
        if isinstance(rows, AsyncIterable):
            try:
                stream = aiter(rows)
            except Exception as exc:
                self._input_failed(exc)
                return
            while not self._stopping:
                try:
                    row = await anext(stream)
                except StopAsyncIteration:
                    return
                except Exception as exc:
                    self._input_failed(exc)
                    return
                await self._admit(row)
            return
        try:
            iterator = iter(rows)
        except Exception as exc:
            self._input_failed(exc)
            return
        count = 0
        while not self._stopping:
            try:
                row = next(iterator)
            except StopIteration:
                return
            except Exception as exc:
                self._input_failed(exc)
                return
            await self._admit(row)
            count += 1
            if count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the workers run between skipped rows

    def _input_failed(self, exc: Exception) -> None:
        line = _int_attribute(exc, "line")
        if line is None:
            line = _int_attribute(self._rows, "line")
        error = InputError(exc, rows_read=self.summary.read, line=line)
        self._fatal_error(error, finish_queued=True)

    async def _admit(self, row: R) -> None:
        summary = self.summary
        summary.read += 1
        error: ErrorInfo | None = None
        try:
            key = self.settings.key(row)
            if not isinstance(key, str):
                raise TypeError(f"the key function returned {type(key).__name__}, not str")
        except (MagineError, ValueError) as exc:
            error = ErrorInfo.from_exception(exc)
            if error.error_code in (None, "internalError"):
                error = ErrorInfo(error.kind, "invalidRow", error.messages)
            error = _bounded(error)
        except Exception as exc:  # a bug in the key function: this row fails, not the run
            error = _internal(exc, "the row's key could not be computed")
        if error is not None:
            key = _invalid_key(row, summary.read)
        shard = self.settings.shard
        if shard is not None and not shard.owns(key):
            summary.other_shards += 1
            return
        if self._journal is not None:
            self._chunk.append((key, row, error))
            if len(self._chunk) >= _CHUNK:
                await self._dispatch()
            return
        if error is not None:
            await self._fail_unsent(key, row, error)
            return
        if key in self._active or key in self._failed_keys:
            await self._skip_duplicate(key, row)
            return
        self._active.add(key)
        assert self._queue is not None
        await self._queue.put(_Item(key, row, None))

    async def _skip_duplicate(self, key: str, row: R) -> None:
        await self._emit(Outcome(key, "skipped", row, detail="duplicate of an earlier row"))

    async def _dispatch(self) -> None:
        chunk, self._chunk = self._chunk, []
        fresh: list[tuple[str, R, ErrorInfo | None]] = []
        seen: set[str] = set()
        for key, row, error in chunk:
            # Checked before the lookup: a key leaves _active only once committed, so a key
            # not active here is either new or visible to the lookup.
            if key in self._active or key in seen or key in self._failed_keys:
                await self._skip_duplicate(key, row)
            else:
                seen.add(key)
                fresh.append((key, row, error))
        journal = self._journal
        assert journal is not None
        assert self._queue is not None
        found = await journal.lookup(key for key, _, _ in fresh)
        for key, row, error in fresh:
            entry = found.get(key)
            if entry is not None and entry.final and entry.run_id == self._run_id:
                await self._skip_duplicate(key, row)  # finished by this very run
                continue
            retry = entry is not None and entry.status == "failed" and self.settings.retry_failed
            if entry is not None and entry.final and not retry:
                await self._skip_finished(key, row, entry)
                continue
            if self._stopping:
                return
            if error is not None:  # checked again, and failed again
                await self._fail_unsent(key, row, error)
                continue
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
            # met again in this run, it is a duplicate, not another earlier failure
            journal = self._journal
            if journal is not None and self._writes(journal):
                journal.mark_seen(key, self._run_id)
                self._active.add(key)  # until the mark is committed
            else:
                self._failed_keys.add(key)
        detail = f"{entry.status} in an earlier run"
        await self._emit(
            Outcome(key, "skipped", row, entry.result, error, entry.attempts, detail=detail)
        )

    async def _fail_unsent(self, key: str, row: R, error: ErrorInfo) -> None:
        """An invalid row: failed without being sent, journaled like any other."""
        journal = self._journal
        if journal is not None and self._writes(journal):
            self._active.add(key)  # until committed
            journal.record(
                key,
                "failed",
                error_code=error.error_code,
                messages=error.messages,
                run_id=self._run_id,
            )
        else:
            self._failed_keys.add(key)
        await self._emit(Outcome(key, "failed", row, error=error))

    # -- the workers ---------------------------------------------------------------------

    async def _work(self) -> None:
        queue = self._queue
        assert queue is not None
        assert self._control is not None
        hooks = WorkerHooks(self._control, self._retry)
        with attempt_hooks(hooks):
            while True:
                item = await queue.get()
                if item is None:
                    return
                if self._stopping:
                    self._active.discard(item.key)  # never started: a re-run does it
                    continue
                try:
                    outcome = await self._process(item, hooks)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a bug on the row's path: it fails, the run goes on
                    outcome = self._crashed(item, hooks, exc)
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
        status: str = "succeeded"
        result: Any = None
        error: Any = None
        journal = self._journal
        try:
            value = await self._run_action(item, journal)
            if isinstance(value, RowResult):
                status, result, error = value.status, value.value, value.error
            else:
                result = value
        except (_Stalled, *_FATAL) as exc:
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
        checked, error = self._checked(status, error)
        return self._finish(item, checked, result, error, hooks.attempts, elapsed)

    async def _run_action(self, item: _Item[R], journal: Journal | None) -> Any:
        """The row's action; started again after a throttle deadline while the run progresses
        (throttling is not failure), a fatal RateLimitError when nothing was admitted."""
        assert self._action is not None
        assert self._control is not None
        control = self._control
        while True:
            admitted = control.admitted()
            started = self._clock()
            context = RowContext(item.key, item.pending, journal, self._run_id)
            try:
                value = await self._action(item.row, context)
            except RateLimitError as exc:
                throttled = exc
            except RowFailed as exc:
                if exc.error.status != 429:
                    raise
                throttled = RateLimitError(429, messages=list(exc.error.messages))
            else:
                if not isinstance(value, RowResult) or value.error is None:
                    return value
                if value.error.status != 429:
                    return value
                throttled = RateLimitError(429, messages=list(value.error.messages))
            if control.admitted() == admitted:
                waited = self._clock() - started
                raise _Stalled(
                    f"the platform answered every request with 429 for {waited:.0f} s "
                    f"(the throttle deadline is {self.settings.throttle_deadline:g} s): "
                    "stopping; re-run later with the same journal to continue"
                ) from throttled

    @staticmethod
    def _checked(status: object, error: object) -> tuple[Status, ErrorInfo | None]:
        """The row's status and error as the action gave them, if they make sense."""
        ended = _ENDED.get(status) if isinstance(status, str) else None
        if ended is None:
            message = f"the action ended the row {status!r}, not succeeded, already or failed"
            return "failed", _bounded(ErrorInfo("RowResult", "internalError", (message,)))
        if error is not None and not isinstance(error, ErrorInfo):
            kind = type(error).__name__
            message = f"the action gave an error of type {kind}, not an ErrorInfo"
            return "failed", ErrorInfo("RowResult", "internalError", (message,))
        if ended == "failed" and error is None:
            error = ErrorInfo("RowResult", "failed")
        return ended, error

    def _finish(
        self,
        item: _Item[R],
        status: Status,
        result: Any,
        error: ErrorInfo | None,
        attempts: int,
        elapsed: float,
    ) -> Outcome[R]:
        """Journal the row's end (the last step that may fail) and make its outcome."""
        key = item.key
        journal = self._journal
        if journal is None:
            self._active.discard(key)
            if status == "failed":
                self._failed_keys.add(key)
        else:
            try:
                self._record(journal, key, status, result, error, attempts, elapsed)
            except MagineError as exc:  # the journal cannot be written: fatal
                self._fatal_error(exc)
            except Exception as exc:  # what the row gave cannot be journaled: it fails
                status, result = "failed", None
                error = _internal(exc, "the row's result could not be journaled")
                try:
                    self._record(journal, key, status, result, error, attempts, elapsed)
                except MagineError as again:
                    self._fatal_error(again)
        item.recorded = True
        return Outcome(key, status, item.row, result, error, attempts, elapsed)

    def _record(
        self,
        journal: Journal,
        key: str,
        status: Status,
        result: Any,
        error: ErrorInfo | None,
        attempts: int,
        elapsed: float,
    ) -> None:
        journal.record(
            key,
            status,
            error_code=error.error_code if error else None,
            http_status=error.status if error else None,
            messages=error.messages if error else (),
            trace_ids=error.trace_ids if error else (),
            result=result,
            attempts=attempts,
            elapsed=elapsed,
            run_id=self._run_id,
        )

    def _crashed(self, item: _Item[R], hooks: WorkerHooks, exc: Exception) -> Outcome[R]:
        """A bug on the row's path (the engine's own): the row fails as ``internalError``,
        journaled when it was not yet."""
        key = item.key
        error = _internal(exc)
        journal = self._journal
        if not item.recorded:
            if journal is None or not self._writes(journal):
                self._active.discard(key)
                self._failed_keys.add(key)
            else:
                try:
                    self._record(journal, key, "failed", None, error, hooks.attempts, 0.0)
                except Exception as again:  # the journal itself is broken
                    self._active.discard(key)
                    self._fatal_error(
                        again
                        if isinstance(again, MagineError)
                        else _engine_failure("the journal", again)
                    )
        return Outcome(key, "failed", item.row, None, error, hooks.attempts)

    async def _emit(self, outcome: Outcome[R]) -> None:
        self.summary.counts[outcome.status] += 1
        assert self._out is not None
        await self._out.put(outcome)
