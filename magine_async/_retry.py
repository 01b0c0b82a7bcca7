"""The retry policy: which failures are retried, how often, and how long to wait.

A request that succeeds at the first attempt never touches the retry machinery. From the first
retriable failure on, tenacity drives the remaining attempts with exponential back-off and full
jitter, honouring a ``Retry-After`` hint up to a cap. Cancellation is never retried.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.stop import stop_base

from ._errors import (
    APIError,
    InvalidResponseError,
    RateLimitError,
    ServerError,
    TransportError,
)

__all__ = ["RetryPolicy", "is_retriable"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed requests are retried.

    - ``max_attempts``: attempts in all, the first included (1 turns retries off).
    - ``initial_wait`` / ``max_wait``: exponential back-off ``initial_wait * 2**(n-1)`` capped
      at ``max_wait``; with ``jitter`` the wait is drawn uniformly from ``[0, that]`` (full
      jitter), so a fleet of clients does not retry in lock-step.
    - ``max_retry_after``: a server's ``Retry-After`` is honoured up to this many seconds.
    - ``deadline``: optional bound, in seconds, on the whole call including waits; no retry
      starts that would sleep past it.
    - ``sleep`` / ``clock`` / ``rng``: injectable for tests, so no test sleeps for real.

    Which failures are retried: 5xx answers, 429, timeouts, connection errors and unreadable
    bodies, for operations that are safe to repeat (GET, PUT, DELETE, and POSTs marked
    retry-safe). For the other POSTs only failures that prove the request never reached the
    server are retried: a refused connection and a 429.
    """

    max_attempts: int = 3
    initial_wait: float = 0.5
    max_wait: float = 8.0
    jitter: bool = True
    max_retry_after: float = 60.0
    deadline: float | None = None
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    rng: Callable[[], float] = field(default=random.random, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts: must be at least 1")
        if self.initial_wait < 0 or self.max_wait < 0 or self.max_retry_after < 0:
            raise ValueError("retry waits: must not be negative")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline: must be positive")

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)

    def backoff(self, retry_number: int) -> float:
        """Back-off before retry number ``retry_number`` (1 for the first retry), without hints."""
        ceiling: float = min(self.max_wait, self.initial_wait * (2 ** (retry_number - 1)))
        return ceiling * self.rng() if self.jitter else ceiling

    def wait_for(self, retry_number: int, error: BaseException | None) -> float:
        """The wait before retry ``retry_number`` after ``error``: Retry-After wins, capped."""
        hint = error.retry_after if isinstance(error, APIError) else None
        if hint is not None:
            return min(max(hint, 0.0), self.max_retry_after)
        return self.backoff(retry_number)

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        retry_safe: bool,
        first_error: BaseException,
        started: float,
        on_retry: Callable[[int, BaseException, float], None] | None = None,
    ) -> T:
        """Continue after ``first_error`` (raised by the first attempt) until success or the end.

        The first attempt runs outside this method, so a call that succeeds at once pays nothing
        for the retry machinery.
        """
        pending: list[BaseException] = [first_error]
        policy = self

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return policy.wait_for(state.attempt_number, error)

        class _Stop(stop_base):
            def __call__(self, state: RetryCallState) -> bool:
                if state.attempt_number >= policy.max_attempts:
                    return True
                if policy.deadline is None:
                    return False
                error = state.outcome.exception() if state.outcome else None
                upcoming = policy.wait_for(state.attempt_number, error)
                return policy.clock() - started + upcoming > policy.deadline

        def before_sleep(state: RetryCallState) -> None:
            if on_retry is not None and state.outcome is not None:
                error = state.outcome.exception()
                sleep_for = state.next_action.sleep if state.next_action else 0.0
                if error is not None:
                    on_retry(state.attempt_number, error, sleep_for)

        retrying = AsyncRetrying(
            stop=_Stop(),
            wait=wait,
            retry=retry_if_exception(lambda exc: is_retriable(exc, retry_safe=retry_safe)),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for state in retrying:
            with state:
                if pending:
                    raise pending.pop()
                return await attempt()
        raise AssertionError("unreachable: tenacity ends with a result or the last error")


def is_retriable(error: BaseException, *, retry_safe: bool) -> bool:
    """Whether ``error`` may be retried for an operation that is (or is not) safe to repeat."""
    if isinstance(error, RateLimitError):
        return True
    if isinstance(error, TransportError):
        return retry_safe or not error.request_sent
    if isinstance(error, ServerError | InvalidResponseError):
        return retry_safe
    return False
