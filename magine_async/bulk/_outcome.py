"""What a bulk run reports: one :class:`Outcome` per row, and a :class:`Summary` at the end."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Literal, TypeVar

from .._errors import APIError, MagineError, TransportError, ValidationError

__all__ = [
    "BulkAborted",
    "ErrorInfo",
    "Outcome",
    "RowFailed",
    "RowResult",
    "Status",
    "Summary",
]

R = TypeVar("R")

Status = Literal["succeeded", "already", "failed", "skipped"]
STATUSES: Final[tuple[Status, ...]] = ("succeeded", "already", "failed", "skipped")


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why a row failed: the platform's ``error_code`` and ``messages``, the HTTP ``status``
    (None when there was no answer), the ``trace_ids`` to quote, and the exception ``kind``."""

    kind: str
    error_code: str | None = None
    messages: tuple[str, ...] = ()
    status: int | None = None
    trace_ids: tuple[str, ...] = ()

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        kind = type(exc).__name__
        if isinstance(exc, APIError):
            messages = tuple(exc.messages) or ((exc.body_excerpt,) if exc.body_excerpt else ())
            return cls(kind, exc.error_code, messages, exc.status, tuple(exc.trace_ids))
        if isinstance(exc, ValidationError):
            return cls(kind, "invalidRow", (str(exc),))
        if isinstance(exc, TransportError):
            return cls(kind, "transportError", (str(exc),))
        if isinstance(exc, MagineError):
            return cls(kind, None, (str(exc),))
        return cls(kind, "internalError", (f"{kind}: {exc}",))

    def describe(self) -> str:
        """One line: code, status, messages and trace ids."""
        parts = [self.error_code or self.kind]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.messages:
            parts.append("; ".join(self.messages))
        if self.trace_ids:
            parts.append("trace ids " + " ".join(self.trace_ids))
        return ": ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "errorCode": self.error_code,
            "status": self.status,
            "messages": list(self.messages),
            "traceIds": list(self.trace_ids),
        }


class RowFailed(MagineError):
    """Raised by a row action to fail its row with a prepared :class:`ErrorInfo` (and an
    optional ``result`` recording what was done before the failure)."""

    def __init__(self, error: ErrorInfo, result: Any = None) -> None:
        super().__init__(error.describe())
        self.error = error
        self.result = result


@dataclass(frozen=True, slots=True)
class RowResult:
    """What a row action returns when it wants to say more than "succeeded": ``status`` is
    ``succeeded``, ``already`` or ``failed`` (then ``error`` says why); ``value`` is the
    result reported in the outcome and kept in the journal (keep it small and JSON-able)."""

    status: Literal["succeeded", "already", "failed"]
    value: Any = None
    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True)
class Outcome(Generic[R]):
    """The end of one row.

    ``key`` identifies the row (stable across runs; see the row types); ``status`` is
    ``succeeded`` (this run changed something), ``already`` (nothing needed doing: the platform
    already had it), ``failed`` (``error`` says why) or ``skipped`` (not attempted: ``detail``
    says why, e.g. finished in an earlier run, a duplicate key, a dry run). ``result`` is what
    the operation reports; ``attempts`` counts the HTTP attempts the row made, retries
    included; ``elapsed`` is in seconds.
    """

    key: str
    status: Status
    row: R | None = None
    result: Any = None
    error: ErrorInfo | None = None
    attempts: int = 0
    elapsed: float = 0.0
    detail: str | None = None

    @property
    def ok(self) -> bool:
        """True for ``succeeded`` and ``already``."""
        return self.status in ("succeeded", "already")


class BulkAborted(MagineError):
    """A bulk run stopped early on a fatal error (bad credentials after a fresh JWT, a bad
    configuration, an input that cannot be read). ``cause`` is that error; ``summary`` counts
    what was done before: every outcome produced until then was delivered and journaled."""

    def __init__(self, cause: BaseException, summary: Summary) -> None:
        self.cause = cause
        self.summary = summary
        done = sum(summary.counts.values())
        super().__init__(f"bulk run stopped after {done:,} rows: {cause}")


class LatencyHistogram:
    """Log-spaced buckets (2 % wide) of durations: percentiles in constant memory."""

    __slots__ = ("_buckets", "count")

    _BASE: Final = 1.02
    _MIN: Final = 1e-6

    def __init__(self) -> None:
        self._buckets: Counter[int] = Counter()
        self.count = 0

    def add(self, seconds: float) -> None:
        index = 0 if seconds <= self._MIN else int(math.log(seconds / self._MIN, self._BASE)) + 1
        self._buckets[index] += 1
        self.count += 1

    def percentile(self, fraction: float) -> float | None:
        """The duration under which ``fraction`` of the samples fall (within 2 %)."""
        if not self.count:
            return None
        rank = max(1, math.ceil(fraction * self.count))
        seen = 0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if seen >= rank:
                return self._MIN * self._BASE**index if index else self._MIN
        return None  # pragma: no cover - the counts add up to self.count


@dataclass
class Summary:
    """The totals of a bulk run (a live snapshot while it runs).

    ``counts``: outcomes by status; ``read``: rows read from the input (other shards' rows
    included); ``other_shards``: rows left to other shards; ``previously_failed``: skipped keys
    that failed in an earlier run (not retried: pass ``retry_failed``), each counted once
    however often the input names it (so is a key that fails in this run: met again, it is a
    ``skipped`` duplicate, counted in neither); ``planned``: rows a dry
    run would have sent; ``requests``: HTTP attempts; ``retries``: retries by cause (``429``,
    ``503``, ``5xx``, ``timeout``, ``transport``, ``invalid_response``); ``retries_denied``:
    failures not retried because the retry budget was spent; ``throttled``/``unavailable``:
    429 and 503 answers seen; ``pauses`` and ``throttled_time``: how often and for how many
    seconds a ``Retry-After`` held the pool back; ``send_rate``: the flow controller's send
    rate at the end (None: never throttled, so never limited); ``measured_rate``: the rate
    the platform was measured to admit; ``p50``/``p99``: row latency in seconds;
    ``peak_in_flight``: most rows in progress at once; ``peak_requests``: most HTTP requests in
    flight at once; ``stopped``: why the run ended early (``"interrupted"``, or the fatal
    error).
    """

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    read: int = 0
    other_shards: int = 0
    previously_failed: int = 0
    planned: int = 0
    requests: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    retries_denied: int = 0
    throttled: int = 0
    unavailable: int = 0
    pauses: int = 0
    throttled_time: float = 0.0
    send_rate: float | None = None
    measured_rate: float | None = None
    p50: float | None = None
    p99: float | None = None
    peak_in_flight: int = 0
    peak_requests: int = 0
    elapsed: float = 0.0
    stopped: str | None = None

    @property
    def total(self) -> int:
        """Outcomes produced (every status)."""
        return sum(self.counts.values())

    @property
    def failed(self) -> int:
        """Rows that failed in this run plus skipped rows that failed in an earlier one."""
        return self.counts["failed"] + self.previously_failed

    @property
    def rate(self) -> float:
        """Outcomes per second."""
        return self.total / self.elapsed if self.elapsed > 0 else 0.0
