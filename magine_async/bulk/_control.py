"""Flow control of a bulk run: the adaptive window, pool-wide pauses, a request rate limit,
the retry budget, and the shard a process owns.

One :class:`PoolControl` per run gates every HTTP attempt its workers make (through
:class:`~magine_async._retry.AttemptHooks`, so the transport's one retry loop stays the only
one):

- **Window** (AIMD): at most ``window`` requests in flight. A 429 or 503 halves it (once per
  "generation": answers to requests sent before the last cut do not cut again); any other
  answer below 500 grows it by one; it never exceeds ``concurrency`` nor drops below 1.
- **Pause**: a 429 or 503 carrying ``Retry-After`` holds every new attempt of the pool until
  that time (capped by ``max_pause``); a later, longer hint extends the pause.
- **Rate**: with ``rate_limit`` (requests per second), attempts are spaced ``1/rate`` apart.
- **Retry budget**: a failure is retried only while retries are below ``ratio`` of the recent
  attempts (at least ``min_retries`` are always allowed), so an outage does not turn into a
  retry storm: past the budget, failing rows fail instead of multiplying the load.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from .._errors import (
    APIError,
    ConfigurationError,
    InvalidResponseError,
    RateLimitError,
    TimeoutError,
    TransportError,
)
from .._retry import AttemptHooks, safe_wait
from ._outcome import Summary

__all__ = ["PoolControl", "RetryBudget", "Shard", "WorkerHooks", "retry_cause"]

_BUDGET_BUCKETS: Final = 10


@dataclass(frozen=True, slots=True)
class RetryBudget:
    """Retries allowed as a share of recent attempts.

    A retry is allowed while the retries among the last ``window`` attempts are fewer than
    ``max(min_retries, ratio * attempts)``. With the default 0.2, a total outage costs about
    1.25 attempts per row instead of ``max_attempts``.
    """

    ratio: float = 0.2
    min_retries: int = 10
    window: int = 1000

    def __post_init__(self) -> None:
        if not 0 <= self.ratio <= 1:
            raise ConfigurationError("retry_budget ratio: must be between 0 and 1")
        if self.min_retries < 0:
            raise ConfigurationError("retry_budget min_retries: must not be negative")
        if self.window < _BUDGET_BUCKETS:
            raise ConfigurationError(f"retry_budget window: must be at least {_BUDGET_BUCKETS}")


class _BudgetState:
    """Attempts and retries over the last ``window`` attempts, in rotating buckets."""

    __slots__ = ("_attempts", "_bucket_size", "_buckets", "_retries", "budget")

    def __init__(self, budget: RetryBudget) -> None:
        self.budget = budget
        self._bucket_size = budget.window // _BUDGET_BUCKETS
        self._buckets: deque[list[int]] = deque([[0, 0]], maxlen=_BUDGET_BUCKETS)
        self._attempts = 0
        self._retries = 0

    def attempt(self) -> None:
        current = self._buckets[-1]
        if current[0] >= self._bucket_size:
            if len(self._buckets) == self._buckets.maxlen:
                old = self._buckets[0]
                self._attempts -= old[0]
                self._retries -= old[1]
            current = [0, 0]
            self._buckets.append(current)
        current[0] += 1
        self._attempts += 1

    def retry(self) -> None:
        self._buckets[-1][1] += 1
        self._retries += 1

    def allows(self) -> bool:
        budget = self.budget
        return self._retries < max(budget.min_retries, budget.ratio * self._attempts)


@dataclass(frozen=True, slots=True)
class Shard:
    """This process's part of a shared input: rows whose key hashes to ``index`` modulo
    ``count`` (``"K/N"``, 0 <= K < N; e.g. a Kubernetes Indexed Job's completion index)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigurationError(f"shard: {self.index}/{self.count} is not K/N with 0 <= K < N")

    @classmethod
    def parse(cls, text: str | Shard) -> Shard:
        if isinstance(text, Shard):
            return text
        index, sep, count = str(text).partition("/")
        try:
            if not sep:
                raise ValueError
            return cls(int(index), int(count))
        except ValueError:
            raise ConfigurationError(
                f"shard: {text!r} is not K/N (for example 0/4; K counts from 0)"
            ) from None

    def owns(self, key: str) -> bool:
        if self.count == 1:
            return True
        digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def retry_cause(error: BaseException) -> str:
    """The name a retry is counted under in :attr:`Summary.retries`."""
    if isinstance(error, RateLimitError):
        return "429"
    if isinstance(error, InvalidResponseError):
        return "invalid_response"
    if isinstance(error, APIError):
        return "503" if error.status == 503 else "5xx"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, TransportError):
        return "transport"
    return type(error).__name__


class PoolControl:
    """Gates and observes the HTTP attempts of one bulk run (see the module documentation)."""

    def __init__(
        self,
        *,
        concurrency: int,
        adaptive: bool,
        rate_limit: float | None,
        budget: RetryBudget | None,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        max_pause: float,
        summary: Summary,
    ) -> None:
        self.limit = concurrency
        self.window = concurrency
        self.adaptive = adaptive
        self.in_flight = 0
        self._summary = summary
        self._sleep_for = sleep
        self._clock = clock
        self._max_pause = max_pause
        self._interval = 1.0 / rate_limit if rate_limit else 0.0
        self._next_slot = 0.0
        self._budget = _BudgetState(budget) if budget is not None else None
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._generation = 0
        self._open = asyncio.Event()
        self._open.set()
        self._pause_until = 0.0
        self._pause_extra = 0.0
        self._pause_task: asyncio.Task[None] | None = None
        summary.window = concurrency

    # -- gate ------------------------------------------------------------------------------

    async def acquire(self) -> int:
        """Wait for the pool to be open, a rate slot and a window slot; returns the generation."""
        if not self._open.is_set():
            await self._open.wait()
        if self._interval:
            now = self._clock()
            slot = max(self._next_slot, now)
            self._next_slot = slot + self._interval
            if slot > now:
                await self._sleep(slot - now)
        if self.in_flight < self.window and not self._waiters:
            self.in_flight += 1
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter  # the releaser counted us in
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self.in_flight -= 1  # granted just before the cancellation: hand it on
                    self._wake()
                else:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
                raise
        summary = self._summary
        summary.requests += 1
        if self.in_flight > summary.peak_requests:
            summary.peak_requests = self.in_flight
        if self._budget is not None:
            self._budget.attempt()
        return self._generation

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters and self.in_flight < self.window:
            waiter = waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def release(self, generation: Any, status: int | None, error: BaseException | None) -> None:
        self.in_flight -= 1
        if status == 429 or status == 503:
            summary = self._summary
            if status == 429:
                summary.throttled += 1
            else:
                summary.unavailable += 1
            if self.adaptive and generation == self._generation:
                self.window = max(1, self.window // 2)
                self._generation += 1
                summary.window = self.window
            hint = error.retry_after if isinstance(error, APIError) else None
            if hint:
                self.pause(hint)
        elif status is not None and status < 500 and self.adaptive and self.window < self.limit:
            self.window += 1
            self._summary.window = self.window
        if self._waiters:
            self._wake()

    # -- pause -----------------------------------------------------------------------------

    def pause(self, seconds: float) -> None:
        """Hold every new attempt for ``seconds`` (capped), or extend the current pause."""
        seconds = min(safe_wait(seconds), self._max_pause)
        if seconds <= 0:
            return
        until = self._clock() + seconds
        if self._open.is_set():
            self._open.clear()
            self._pause_until = until
            self._summary.pauses += 1
            self._pause_task = asyncio.get_running_loop().create_task(self._resume(seconds))
        elif until > self._pause_until:
            self._pause_extra += until - self._pause_until
            self._pause_until = until

    async def _resume(self, seconds: float) -> None:
        try:
            await self._sleep(seconds)
            while self._pause_extra > 0:
                extra, self._pause_extra = self._pause_extra, 0.0
                await self._sleep(extra)
        finally:
            self._open.set()

    async def _sleep(self, seconds: float) -> None:
        await self._sleep_for(safe_wait(seconds))

    @property
    def paused(self) -> bool:
        return not self._open.is_set()

    async def aclose(self) -> None:
        task, self._pause_task = self._pause_task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._open.set()

    # -- retries ---------------------------------------------------------------------------

    def allow_retry(self, error: BaseException) -> bool:
        if self._budget is None or self._budget.allows():
            return True
        self._summary.retries_denied += 1
        return False

    def on_retry(self, error: BaseException, wait: float) -> None:
        if self._budget is not None:
            self._budget.retry()
        retries = self._summary.retries
        cause = retry_cause(error)
        retries[cause] = retries.get(cause, 0) + 1


class WorkerHooks(AttemptHooks):
    """One worker's hooks: the pool's control, plus the attempts of the worker's current row."""

    __slots__ = ("attempts", "control")

    def __init__(self, control: PoolControl) -> None:
        self.control = control
        self.attempts = 0

    async def before_attempt(self) -> Any:
        self.attempts += 1
        return await self.control.acquire()

    def after_attempt(self, token: Any, status: int | None, error: BaseException | None) -> None:
        self.control.release(token, status, error)

    def allow_retry(self, error: BaseException) -> bool:
        return self.control.allow_retry(error)

    def on_retry(self, error: BaseException, wait: float) -> None:
        self.control.on_retry(error, wait)
