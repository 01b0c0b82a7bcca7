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
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.stop import stop_base

from ._errors import (
    APIError,
    InvalidResponseError,
    RateLimitError,
    ServerError,
    TransportError,
)

if TYPE_CHECKING:
    from ._flow import FlowControl

__all__ = [
    "AttemptHooks",
    "RetryPolicy",
    "attempt_hooks",
    "current_attempt_hooks",
    "is_retriable",
    "safe_wait",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed requests are retried.

    - ``max_attempts``: attempts in all, the first included (1 turns retries off).
    - ``initial_wait`` / ``max_wait``: exponential back-off ``initial_wait * 2**(n-1)`` capped
      at ``max_wait``; with ``jitter`` the wait is drawn uniformly from ``[0, that]`` (full
      jitter), so a fleet of clients does not retry in lock-step.
    - ``max_retry_after``: a server's ``Retry-After`` is honoured up to this many seconds.
    - ``deadline``: optional bound, in seconds, on the whole call including waits: no retry
      starts whose wait would end past it, and each attempt's total timeout is capped at the
      time that remains. A call with a deadline therefore ends within it, give or take the
      event loop's scheduling (a few milliseconds) and the time to sign a JWT when one is due
      (a worker thread, about 2 ms).
    - ``max_throttled`` / ``throttle_deadline``: throttling is not failure, so 429 answers do
      not count against ``max_attempts``: a call is answered 429 at most ``max_throttled``
      times (default 10), and with ``throttle_deadline`` it stops retrying 429s once that many
      seconds have passed since it started. Under a client's flow control a throttled
      request waits for the controller (its ``Retry-After`` and the learned send rate)
      instead of a back-off of its own.
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
    max_throttled: int = 10
    throttle_deadline: float | None = None
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    rng: Callable[[], float] = field(default=random.random, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts: must be at least 1")
        for name in ("initial_wait", "max_wait", "max_retry_after"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: must be a finite number of seconds, not negative")
        for name in ("deadline", "throttle_deadline"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value <= 0):
                raise ValueError(f"{name}: must be a finite, positive number of seconds")
        if self.max_throttled < 1:
            raise ValueError("max_throttled: must be at least 1")

    async def _sleep_safely(self, seconds: float) -> None:
        await self.sleep(safe_wait(seconds))

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1, max_throttled=1)

    def backoff(self, retry_number: int) -> float:
        """Back-off before retry number ``retry_number`` (1 for the first retry), without hints."""
        # The exponent is bounded: max_wait caps the wait long before 2**64.
        exponent = min(max(retry_number - 1, 0), 64)
        ceiling: float = min(self.max_wait, self.initial_wait * float(2**exponent))
        return safe_wait(ceiling * self.rng() if self.jitter else ceiling)

    def wait_for(self, retry_number: int, error: BaseException | None) -> float:
        """The wait before retry ``retry_number`` after ``error``: Retry-After wins, capped.

        Always a finite number of seconds, zero or more, whatever the hint or the ``rng``.
        """
        hint = error.retry_after if isinstance(error, APIError) else None
        if hint is not None and math.isfinite(hint) and hint >= 0:
            return min(hint, self.max_retry_after)
        return self.backoff(retry_number)

    def remaining(self, started: float) -> float | None:
        """Seconds left before the deadline of a call that started at ``started`` (None: no
        deadline)."""
        if self.deadline is None:
            return None
        return self.deadline - (self.clock() - started)

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        retry_safe: bool,
        first_error: BaseException,
        started: float,
        on_retry: Callable[[int, BaseException, float], None] | None = None,
        allow_retry: Callable[[BaseException], bool] | None = None,
        paced: bool = False,
    ) -> T:
        """Continue after ``first_error`` (raised by the first attempt) until success or the end.

        The first attempt runs outside this method, so a call that succeeds at once pays nothing
        for the retry machinery. ``allow_retry`` is consulted only when a retry would otherwise
        happen (the failure is retriable, attempts and deadline allow it); False stops there.
        ``paced``: the request runs under flow control, which makes a throttled retry wait.
        """
        pending: list[BaseException] = [first_error]
        policy = self
        # Each failed attempt is judged once (tenacity asks for the wait and the stop in an
        # order of its own): the deadline check and the sleep see the same drawn wait, and
        # 429s are counted apart from failures.
        failed = throttled = 0
        judged: dict[int, tuple[float, bool]] = {}

        def judge(state: RetryCallState) -> tuple[float, bool]:
            nonlocal failed, throttled
            number = state.attempt_number
            verdict = judged.get(number)
            if verdict is not None:
                return verdict
            judged.clear()
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, RateLimitError):
                throttled += 1
                wait = 0.0 if paced else policy.wait_for(throttled, error)
                stop = throttled >= policy.max_throttled
                if policy.throttle_deadline is not None:
                    spent = policy.clock() - started
                    stop = stop or spent + wait >= policy.throttle_deadline
            else:
                failed += 1
                wait = policy.wait_for(failed, error)
                stop = failed >= policy.max_attempts
            remaining = policy.remaining(started)
            if remaining is not None and wait >= remaining:
                stop = True
            if not stop and allow_retry is not None and error is not None:
                stop = not allow_retry(error)
            verdict = judged[number] = (wait, stop)
            return verdict

        def wait(state: RetryCallState) -> float:
            return judge(state)[0]

        class _Stop(stop_base):
            def __call__(self, state: RetryCallState) -> bool:
                return judge(state)[1]

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
            sleep=self._sleep_safely,
            before_sleep=before_sleep,
            reraise=True,
        )
        async for state in retrying:
            with state:
                if pending:
                    raise pending.pop()
                return await attempt()
        raise AssertionError("unreachable: tenacity ends with a result or the last error")


def safe_wait(seconds: float) -> float:
    """``seconds`` if it is a finite number of seconds, zero or more; else 0.

    Every wait the SDK sleeps passes through here: a NaN or infinite timer corrupts the event
    loop's timer heap (other timers of the application then fire late), and a negative one is
    meaningless.
    """
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


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

    flow: FlowControl | None = None
    """The flow controller the attempts of these hooks go through (else the client's)."""
    retry: RetryPolicy | None = None
    """The retry policy of requests made under these hooks that name none themselves."""

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
