"""The retry policy: which failures are retried, how often, and how long to wait.

A request that succeeds at the first attempt never touches the retry machinery. From the first
retriable failure on, tenacity drives the remaining attempts with exponential back-off and full
jitter, honouring a ``Retry-After`` hint up to a cap. Cancellation is never retried.

:class:`AttemptHooks` let a caller that runs many requests (the bulk engine) see and gate every
attempt made in its tasks, through a context variable set with :func:`attempt_hooks`: it may
hold an attempt back (an adaptive concurrency window, a pool-wide pause), observe its outcome
(429 and 503 shrink the window) and veto a retry (a retry budget). It does not retry by itself:
the one retry loop stays here.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.stop import stop_base

from ._errors import (
    APIError,
    InvalidResponseError,
    RateLimitError,
    ServerError,
    TransportError,
)

__all__ = ["AttemptHooks", "RetryPolicy", "attempt_hooks", "current_attempt_hooks", "is_retriable"]

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
        allow_retry: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """Continue after ``first_error`` (raised by the first attempt) until success or the end.

        The first attempt runs outside this method, so a call that succeeds at once pays nothing
        for the retry machinery. ``allow_retry`` is consulted only when a retry would otherwise
        happen (the failure is retriable, attempts and deadline allow it); False stops there.
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
                error = state.outcome.exception() if state.outcome else None
                if policy.deadline is not None:
                    upcoming = policy.wait_for(state.attempt_number, error)
                    if policy.clock() - started + upcoming > policy.deadline:
                        return True
                return allow_retry is not None and error is not None and not allow_retry(error)

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


class AttemptHooks:
    """Sees and gates every attempt of the requests made while it is current.

    Set it for the current task (and the tasks it creates afterwards) with
    :func:`attempt_hooks`. The transport then calls, for each attempt of each request:
    :meth:`before_attempt` (may wait; its return value comes back to :meth:`after_attempt`),
    :meth:`after_attempt` with the answer's status or the error (both None when cancelled),
    :meth:`allow_retry` when a failure would be retried (False stops retrying), and
    :meth:`on_retry` when a retry is decided, with the wait before it. The defaults do nothing.
    """

    __slots__ = ()

    async def before_attempt(self) -> Any:
        return None

    def after_attempt(self, token: Any, status: int | None, error: BaseException | None) -> None:
        return None

    def allow_retry(self, error: BaseException) -> bool:
        return True

    def on_retry(self, error: BaseException, wait: float) -> None:
        return None


_HOOKS: ContextVar[AttemptHooks | None] = ContextVar("magine_async_attempt_hooks", default=None)


def current_attempt_hooks() -> AttemptHooks | None:
    """The hooks set for the current context, if any."""
    return _HOOKS.get()


@contextlib.contextmanager
def attempt_hooks(hooks: AttemptHooks | None) -> Iterator[None]:
    """Make ``hooks`` current for the requests made inside the ``with`` block."""
    token = _HOOKS.set(hooks)
    try:
        yield
    finally:
        _HOOKS.reset(token)
