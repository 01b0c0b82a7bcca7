"""A capacity model: a token bucket per credential (or one for all), answering 429 above it.

``Sandbox(rate_limit=RateLimit(rate=300, burst=30))`` admits, per credential, a burst of 30
requests and then 300 requests/s; a request finding the bucket empty is answered
``429 {"errorCode": "tooManyRequests", "messages": [...]}`` (the document's shared error format;
it names no code for 429, so the code is the one the ``throttle`` fault already sends) with an
optional ``Retry-After``. ``sb.rate_limit = RateLimit(...)`` or ``None`` changes it at runtime,
as does ``PUT``/``PATCH``/``DELETE /_sandbox/rate-limit``.

The bucket holds at most ``burst`` tokens and refills continuously on the sandbox clock
(:class:`SandboxClock`: freeze and advance it for deterministic tests):
``tokens = min(burst, tokens + rate * elapsed)``. A request takes one token when at least one
is there (within :data:`TOLERANCE` seconds' worth of refill, so that a clock advanced by exactly
``1 / rate`` admits the next request despite float rounding at epoch magnitudes). For many
steps, set times absolutely (``clock.freeze(at=t0 + k / rate)``): repeated ``advance(1 / rate)``
accumulates the clock's own rounding, which the sandbox then truly sees.

Place in the request path (middlewares, outermost first)::

    faults -> representation -> errors -> auth -> [rate limit] -> handler

* **after authentication**: a request with bad credentials is a 401 and takes no token; the
  bucket is chosen by the verified credential (its JWT issuer: partner and each reseller have
  their own bucket with ``scope="credential"``).
* **before the handler**: a throttled request has no side effect (no state change, no effect
  counter, no timer tick).
* **inside the fault layer**: the probabilistic faults model the network and proxies in front
  of the platform, so they are decided first. The configured ``latency``/``jitter`` is spent
  before the bucket is consulted and therefore applies to 429 answers too (a real platform
  answers 429 after a round trip). A request faulted before the handler (``error``,
  ``throttle``, ``html502``, ``reset_before``) never reaches the platform and takes no token;
  ``reset`` and ``truncate`` requests do (their answer, a 429 included, is then cut).
* **inside representation and errors**: a 429 gets the media type and, in the varied
  representation, the spellings of any other error answer.

Overload mode (``queue=True``): a request finding no token is not refused but waits for its
token (it reserves it, so the bucket goes into debt and each later request waits longer):
latency grows with the queue. Once ``max_queue`` requests are waiting, a further one is
answered ``503 serviceUnavailable`` with a Trace ID, like an overloaded platform.

With no rate limit configured the request path costs one attribute check (in the auth
middleware); nothing else is installed.

Counters (``sb.counters.rate_limit``, also ``"rate_limit"`` in ``GET /_sandbox/counters``),
named like the fault counters: ``admitted``, ``throttled`` (429), ``queued`` (admitted after a
wait) and ``overloaded`` (503), in total and per operation as ``f"{operation}:admitted"``.
``sb.counters["rate_limit.throttled"]`` reads one. Requests the limit does not apply to
(reads, with ``methods="writes"``) are not counted.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, Literal, cast

from aiohttp import web

from ._auth import Principal
from ._http import error_response
from ._state import SandboxState

Scope = Literal["credential", "global"]
Methods = Literal["all", "writes"]
RetryAfter = float | Literal["exact"] | None

SCOPES: tuple[Scope, ...] = ("credential", "global")
METHOD_SETS: tuple[Methods, ...] = ("all", "writes")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOLERANCE = 1e-6  # seconds: a token due within this is there (float clock rounding)
_GLOBAL = "*"
_FIELDS = ("rate", "burst", "retry_after", "scope", "methods", "queue", "max_queue")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _seconds(value: object) -> bool:
    """A finite number >= 0."""
    return _is_number(value) and math.isfinite(cast(float, value)) and cast(float, value) >= 0


def _number_text(value: float) -> str:
    """``300`` for 300.0, ``0.5`` for 0.5: how a rate or a delay is written."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def exact_seconds(seconds: float) -> str:
    """A wait as a decimal number of seconds, rounded up to the microsecond (a client that
    waits that long finds its token): ``0.003334`` for 1/300 s, ``0`` for none."""
    micros = math.ceil(max(0.0, seconds) * 1_000_000 - 1e-6)
    if micros <= 0:
        return "0"
    whole, frac = divmod(micros, 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class RateLimit:
    """The sandbox's capacity: a token bucket of ``burst`` tokens refilled at ``rate``/s.

    ``rate``         requests per second, > 0 and finite.
    ``burst``        bucket size in tokens, >= 1 (None: one second's worth, ``max(1, rate)``;
                     always a number after construction).
    ``retry_after``  the ``Retry-After`` of a 429: None (no header), a number of seconds
                     (written as it is: ``1``, ``0.5``), or ``"exact"``: the time until the
                     next token, in decimal seconds rounded up to the microsecond.
    ``scope``        ``"credential"``: one bucket per authenticated credential (JWT issuer:
                     the partner, each reseller); ``"global"``: one bucket for all.
    ``methods``      ``"all"`` calls, or ``"writes"`` only (POST, PUT, PATCH, DELETE).
    ``queue``        overload mode: wait for a token instead of answering 429.
    ``max_queue``    with ``queue``: requests that may wait at once; past it, 503
                     (None: no bound).
    """

    rate: float
    burst: float | None = None
    retry_after: RetryAfter = 1
    scope: Scope = "credential"
    methods: Methods = "all"
    queue: bool = False
    max_queue: int | None = None

    def __post_init__(self) -> None:
        rate = self.rate
        if not _is_number(rate) or not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"rate must be a finite number of requests/s > 0, not {rate!r}")
        burst = self.burst
        if burst is None:
            object.__setattr__(self, "burst", max(1.0, float(rate)))
        elif not _is_number(burst) or not math.isfinite(burst) or burst < 1:
            raise ValueError(f"burst must be a finite number of tokens >= 1, not {burst!r}")
        retry_after = self.retry_after
        if retry_after is not None and retry_after != "exact" and not _seconds(retry_after):
            raise ValueError(
                'retry_after must be None, "exact" or a finite number of seconds >= 0, '
                f"not {retry_after!r}"
            )
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {self.scope!r}")
        if self.methods not in METHOD_SETS:
            raise ValueError(
                f"methods must be one of {', '.join(METHOD_SETS)}, not {self.methods!r}"
            )
        if not isinstance(self.queue, bool):
            raise ValueError(f"queue must be true or false, not {self.queue!r}")
        max_queue = self.max_queue
        if max_queue is not None:
            if not isinstance(max_queue, int) or isinstance(max_queue, bool) or max_queue < 0:
                raise ValueError(f"max_queue must be an integer >= 0 or None, not {max_queue!r}")
            if not self.queue:
                raise ValueError("max_queue needs queue=True (the overload mode)")

    @property
    def capacity(self) -> float:
        """``burst`` as a number (it always is one after construction)."""
        return float(cast(float, self.burst))

    def applies_to(self, method: str) -> bool:
        return self.methods == "all" or method in WRITE_METHODS

    def describe(self) -> str:
        """One line for banners: ``300 requests/s, burst 30, per credential, ...``."""
        parts = [
            f"{_number_text(self.rate)} requests/s",
            f"burst {_number_text(self.capacity)}",
            "per credential" if self.scope == "credential" else "global",
            "all calls" if self.methods == "all" else "writes only",
        ]
        if self.retry_after is None:
            parts.append("no Retry-After")
        elif self.retry_after == "exact":
            parts.append("Retry-After exact")
        else:
            parts.append(f"Retry-After {_number_text(self.retry_after)}")
        if self.queue:
            bound = "unbounded" if self.max_queue is None else f"503 past {self.max_queue}"
            parts.append(f"overload queue ({bound})")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RateLimit:
        if not isinstance(data, dict):
            raise ValueError("a rate limit must be an object")
        unknown = set(data) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown rate limit settings: {', '.join(sorted(unknown))}")
        if "rate" not in data:
            raise ValueError("rate is required")
        return cls(**data)


class _Bucket:
    __slots__ = ("last", "tokens")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.last = now

    def refill(self, limit: RateLimit, now: float) -> float:
        elapsed = now - self.last
        if elapsed > 0:
            self.tokens = min(limit.capacity, self.tokens + limit.rate * elapsed)
        self.last = now  # a clock that stepped back restarts the refill from there
        return self.tokens


class RateLimiter:
    """The buckets of one sandbox and its current :class:`RateLimit` (None: off)."""

    def __init__(self, state: SandboxState, limit: RateLimit | None = None) -> None:
        self._state = state
        self._clock = state.clock
        self._counts = state.counters.rate_limit
        self._buckets: dict[str, _Bucket] = {}
        self._waiting = 0
        self.limit: RateLimit | None = None
        """Read on every authenticated request; set it with :meth:`configure`."""
        self.configure(limit)

    def configure(self, limit: RateLimit | None) -> None:
        """Apply ``limit`` (None: no limit). The buckets start full again."""
        if limit is not None and not isinstance(limit, RateLimit):
            raise TypeError(f"rate_limit must be a RateLimit or None, not {type(limit).__name__}")
        self.limit = limit
        self._buckets.clear()

    @property
    def waiting(self) -> int:
        """Requests waiting for a token now (overload mode)."""
        return self._waiting

    def tokens(self) -> dict[str, float]:
        """The tokens in each bucket now, by key (the JWT issuer, or ``"*"`` when global)."""
        limit = self.limit
        if limit is None:
            return {}
        now = self._clock()
        return {key: bucket.refill(limit, now) for key, bucket in sorted(self._buckets.items())}

    def to_dict(self) -> dict[str, Any]:
        limit = self.limit
        return {
            "rateLimit": None if limit is None else limit.to_dict(),
            "tokens": self.tokens(),
            "waiting": self._waiting,
        }

    async def gate(
        self, operation: str, method: str, principal: Principal
    ) -> web.StreamResponse | None:
        """None to let the request through (after its wait, in overload mode), else the
        answer that refuses it (429, or 503 past ``max_queue``)."""
        limit = self.limit
        if limit is None or not limit.applies_to(method):
            return None
        key = principal.issuer if limit.scope == "credential" else _GLOBAL
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(limit.capacity, now)
        tokens = bucket.refill(limit, now)
        missing = 1.0 - tokens
        counts = self._counts
        if missing <= limit.rate * TOLERANCE:
            bucket.tokens = tokens - 1.0
            counts["admitted"] += 1
            counts[f"{operation}:admitted"] += 1
            return None
        wait = missing / limit.rate
        if not limit.queue:
            counts["throttled"] += 1
            counts[f"{operation}:throttled"] += 1
            return self._too_many(limit, wait)
        if limit.max_queue is not None and self._waiting >= limit.max_queue:
            counts["overloaded"] += 1
            counts[f"{operation}:overloaded"] += 1
            trace = self._state.trace_id()
            message = f"Service temporarily unavailable: overloaded. Trace ID {trace}"
            return error_response(
                503, "serviceUnavailable", [message], headers={"X-Trace-Id": trace}
            )
        bucket.tokens = tokens - 1.0  # reserved: the next request queues behind this one
        counts["queued"] += 1
        counts[f"{operation}:queued"] += 1
        self._waiting += 1
        try:
            await asyncio.sleep(wait)
        finally:
            self._waiting -= 1
        counts["admitted"] += 1
        counts[f"{operation}:admitted"] += 1
        return None

    @staticmethod
    def _too_many(limit: RateLimit, wait: float) -> web.Response:
        scope = "per credential" if limit.scope == "credential" else "in total"
        message = f"Rate limit exceeded: {_number_text(limit.rate)} requests/s {scope}."
        retry_after = limit.retry_after
        if retry_after is None:
            return error_response(429, "tooManyRequests", [message])
        value = exact_seconds(wait) if retry_after == "exact" else _number_text(retry_after)
        return error_response(429, "tooManyRequests", [message], headers={"Retry-After": value})


__all__ = [
    "METHOD_SETS",
    "SCOPES",
    "TOLERANCE",
    "WRITE_METHODS",
    "RateLimit",
    "RateLimiter",
    "exact_seconds",
]
