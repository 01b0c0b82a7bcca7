"""Flow control of a bulk run: the flow controller, the retry budget, and the shard a process
owns.

One :class:`PoolControl` per run sees every HTTP attempt its workers make (through
:class:`~magine_async._retry.AttemptHooks`, so the transport's one retry loop stays the only
one):

- **Flow**: every attempt goes through one :class:`~magine_async.FlowControl` (the client's
  when it has one, else the run's own), which learns the rate the platform admits and sends
  just under it; ``concurrency`` workers bound the requests in flight.
- **Throttling is not failure**: a 429 never spends the retry budget; a throttled request
  waits for the flow controller, bounded by the run's per-row ``throttle_deadline``.
- **Retry budget**: any other failure is retried only while retries are below ``ratio`` of
  the recent attempts (at least ``min_retries`` are always allowed), so an outage does not
  turn into a retry storm: past the budget, failing rows fail instead of multiplying the load.
"""

from __future__ import annotations

import hashlib
from collections import deque
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
from .._flow import FlowControl
from .._retry import AttemptHooks, RetryPolicy
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
        flow: FlowControl,
        budget: RetryBudget | None,
        summary: Summary,
        owns_flow: bool = False,
    ) -> None:
        self.flow = flow
        self._owns_flow = owns_flow
        self.in_flight = 0
        self._summary = summary
        self._budget = _BudgetState(budget) if budget is not None else None
        self._flow_base = (flow.stats.paused, flow.stats.pauses)

    def acquire(self) -> None:
        self.in_flight += 1
        summary = self._summary
        summary.requests += 1
        if self.in_flight > summary.peak_requests:
            summary.peak_requests = self.in_flight
        if self._budget is not None:
            self._budget.attempt()

    def release(self, status: int | None) -> None:
        self.in_flight -= 1
        if status == 429:
            self._summary.throttled += 1
        elif status == 503:
            self._summary.unavailable += 1

    async def aclose(self) -> None:
        if self._owns_flow:
            await self.flow.aclose()

    def admitted(self) -> int:
        """Answers the platform admitted so far (a measure of the run's progress)."""
        return self.flow.stats.admitted

    def update(self, summary: Summary) -> None:
        """Copy what the flow controller did during this run into ``summary``."""
        stats = self.flow.stats
        base_paused, base_pauses = self._flow_base
        summary.throttled_time = stats.paused - base_paused
        summary.pauses = stats.pauses - base_pauses
        summary.send_rate = self.flow.rate
        summary.measured_rate = self.flow.measured_rate

    # -- retries ---------------------------------------------------------------------------

    def allow_retry(self, error: BaseException) -> bool:
        if isinstance(error, RateLimitError):
            return True  # throttling is not failure: the flow controller makes it wait
        if self._budget is None or self._budget.allows():
            return True
        self._summary.retries_denied += 1
        return False

    def on_retry(self, error: BaseException, wait: float) -> None:
        if self._budget is not None and not isinstance(error, RateLimitError):
            self._budget.retry()
        retries = self._summary.retries
        cause = retry_cause(error)
        retries[cause] = retries.get(cause, 0) + 1


class WorkerHooks(AttemptHooks):
    """One worker's hooks: the pool's control, plus the attempts of the worker's current row.

    Its attempts go through the run's flow controller and its retry policy (throttled
    requests wait up to the run's ``throttle_deadline``)."""

    __slots__ = ("attempts", "control", "flow", "retry")

    def __init__(self, control: PoolControl, retry: RetryPolicy | None = None) -> None:
        self.control = control
        self.flow = control.flow
        self.retry = retry
        self.attempts = 0

    async def before_attempt(self) -> Any:
        self.attempts += 1
        self.control.acquire()
        return None

    def after_attempt(self, token: Any, status: int | None, error: BaseException | None) -> None:
        self.control.release(status)

    def allow_retry(self, error: BaseException) -> bool:
        return self.control.allow_retry(error)

    def on_retry(self, error: BaseException, wait: float) -> None:
        self.control.on_retry(error, wait)
