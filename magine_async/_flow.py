"""Flow control: send requests at the rate the platform admits, just under it.

A platform that answers 429 is asking its clients to slow down. :class:`FlowControl` gates
every attempt (the transport asks it before sending and tells it the answer) and keeps the
send rate just under what the platform admits, so that throttled requests are rare and rows
wait instead of failing. One controller serves a whole client: the bulk engine and any number
of application tasks share it.

How it learns the admitted rate (each a measurement; only a *decision*, a 429 to a request
sent after the last decrease, changes the send rate downwards):

- **Saturated stretches.** A 429 to a request sent at ``s`` says the platform had no
  capacity left at ``s``. Between two such moments ``s1 < s2`` less than
  :data:`_SATURATED_GAP` apart it admitted exactly what it could, so the admitted requests
  sent in ``(s1, s2]`` over ``s2 - s1`` measure its rate (a token bucket admits its refill
  rate). Stretches of the last :data:`_MEASURE_MAX` seconds are pooled; between decisions
  they may lower the measurement, never raise it.
- **Stretches from full capacity.** The run's start, and the end of a long ``Retry-After``
  pause, find the platform's capacity full; up to the first 429 after it the platform
  admitted ``burst + rate * T``. Two such stretches of different lengths give the rate (a
  least-squares fit); one long one bounds it.
- **Probes.** A probe above the measurement that ends in a 429 measured what was admitted
  over the last second of sending, which the measurement may rise to (never above the rate
  the probe was throttled at).
- **Throttled at the measurement.** A 429 at the rate the measurement allows, once settled,
  says it measured high: it comes down to the rate that was throttled (the send rate then
  steps 3 % under it), but never below what recent 429s prove (admitted since a 429, less
  one, over the time since).

The send rate:

- **Before the first 429** only a slow start holds requests back (4 in flight, one more per
  answer while the window is in use: it doubles every round trip), so a large pool does not
  open with a burst. A 5xx halves the window.
- **Decrease**, on a decision (so at most once per round trip): to :data:`HEADROOM` of the
  measurement, else to half of what was admitted over the last second of sending (a quarter
  of what was sent, when nothing was admitted). Requests already waiting get their slots at
  the new rate.
- **Growth**, on answers to requests sent after the last decrease (older answers say
  nothing about the new rate), and only while the rate holds requests back: below the
  measurement the rate doubles every :data:`RAMP_SECONDS` (at most twice per answer); at the
  measurement it holds for :data:`HOLD_SECONDS` (20 times the last ``Retry-After`` pause once
  the measurement is sound: a failed probe costs that pause), then probes above it, growing
  as the cube of the probing time (+1 % after one second, +8 % after two; ten times faster
  while the measurement rests on few samples).
- **Retry-After** delays the request that received it (its retry waits for that time), and
  sets a not-before time for every request of the pool. A 429 to a request sent before that
  not-before time was set does not extend it (it answers a request of the burst that caused
  it); pauses never stack: the not-before time is the latest hint, never a sum.

All waits use the injected ``sleep`` and ``clock``; every wait is finite and non-negative.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final

from ._retry import safe_wait

__all__ = ["HEADROOM", "FlowControl", "FlowStats"]

logger = logging.getLogger("magine_async")

HEADROOM: Final = 0.97
"""The share of the measured admitted rate the controller sends at."""
RAMP_SECONDS: Final = 0.25
HOLD_SECONDS: Final = 2.0
PROBE_PER_SECOND: Final = 0.01
MIN_RATE: Final = 0.05
_SATURATED_GAP: Final = 0.25  # 429s closer than this: the platform had no capacity between
_MEASURE_MIN_ADMITTED: Final = 8
_MEASURE_MAX: Final = 10.0
_HOLD_PER_PAUSE: Final = 20.0
_GROWTH_STEP: Final = 0.05
_SLOW_START: Final = 4
_CLEAN_WINDOW: Final = 2.0
_ANCHOR_SPACING: Final = 0.1
_DRAIN_MIN_SPREAD: Final = 0.1
_DRAIN_MIN_LENGTH: Final = 0.25
_DRAIN_MARGIN: Final = 0.1
_CONFIDENT_SAMPLES: Final = 100
_ROUGH_SAMPLES: Final = 4
_ROUGH_PROBE_PER_SECOND: Final = 0.1
_BURST_SECONDS: Final = 0.02
_IDLE: Final = 1.0  # no request waited for a slot this long: the rate is not what limits
_SEND_WINDOW: Final = 1.0


class FlowStats:
    """What the controller did: throttled answers, time paused, the rate it settled on."""

    __slots__ = ("admitted", "decreases", "paused", "pauses", "throttled")

    def __init__(self) -> None:
        self.pauses = 0
        """Times a ``Retry-After`` held the pool back (a later one extending it included)."""
        self.admitted = 0
        self.throttled = 0
        self.decreases = 0
        self.paused = 0.0
        """Seconds during which the pool was held back by a ``Retry-After``."""


class _AdmittedBySendTime:
    """The send times of the admitted requests of the last :data:`_MEASURE_MAX` seconds (or
    up to twice that: trimmed in chunks), sorted (answers arrive nearly in send order, so an
    insertion is nearly an append)."""

    __slots__ = ("_forgotten", "_times")

    def __init__(self) -> None:
        self._times: list[float] = []
        self._forgotten = -math.inf  # the latest send time trimmed away

    def add(self, sent_at: float) -> None:
        times = self._times
        if not times or sent_at >= times[-1]:
            times.append(sent_at)
        else:
            bisect.insort(times, sent_at)
        if times[-1] - times[0] > 2 * _MEASURE_MAX:
            cut = bisect.bisect_left(times, times[-1] - _MEASURE_MAX)
            self._forgotten = max(self._forgotten, times[cut - 1])
            del times[:cut]

    def between(self, start: float, end: float) -> int | None:
        """Admitted requests sent in ``(start, end]``; None if that is no longer known.

        (A platform admits the requests that reach it at one moment before it throttles the
        rest: admitted requests sent at ``end`` count, those sent at ``start`` do not.)"""
        if start < self._forgotten:
            return None
        times = self._times
        return bisect.bisect_right(times, end) - bisect.bisect_right(times, start)


class FlowControl:
    """Gates the attempts of one client (see the module documentation).

    ``rate``: a fixed rate in requests per second to start from (None: no limit until the
    platform throttles). ``adaptive`` (default True): learn the admitted rate from 429s;
    False keeps ``rate`` fixed. ``max_pause``: the longest not-before time one ``Retry-After``
    sets. ``clock`` and ``sleep`` are injectable.
    """

    def __init__(
        self,
        *,
        rate: float | None = None,
        adaptive: bool = True,
        max_pause: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate is not None and (not math.isfinite(rate) or rate <= 0):
            raise ValueError("rate_limit: must be a positive, finite number of requests/s")
        if not math.isfinite(max_pause) or max_pause < 0:
            raise ValueError("max_pause: must be a finite number of seconds, not negative")
        self.adaptive = adaptive
        self.stats = FlowStats()
        self._clock = clock
        self._sleep = sleep
        self._max_pause = max_pause
        self._rate = rate
        self._next_slot = -math.inf
        self._slept_until = -math.inf
        # Slow start: until the platform first throttles, at most ``_window`` requests in
        # flight, one more per answer (so the window doubles every round trip).
        self._window: int | None = _SLOW_START if adaptive and rate is None else None
        self._in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._paced: deque[asyncio.Future[None]] = deque()
        self._pacer: asyncio.Task[None] | None = None
        # learning
        self._measured: float | None = None
        self._sent: deque[float] = deque()  # send times of the last _SEND_WINDOW seconds
        self._waited_at = -math.inf  # when a request last waited for a slot
        self._last_decrease = -math.inf
        self._last_growth = -math.inf
        self._at_measured_since: float | None = None
        self._last_throttle = -math.inf  # send time of the latest 429
        self._anchors: deque[float] = deque()  # 429 send times, one per _ANCHOR_SPACING
        self._drains: deque[tuple[float, int]] = deque(maxlen=8)  # (seconds, admitted)
        self._fitted: float | None = None  # the rate fitted to the drains, when they tell
        self._saturated: deque[tuple[float, int, float]] = deque()
        self._saturated_admitted = 0
        self._saturated_span = 0.0
        self._hold_for = HOLD_SECONDS
        self._probe_base: float | None = None
        self._probe_time = 0.0
        self._refill = (-math.inf, -math.inf)  # the latest long pause (start, end)
        self._resumed = -math.inf  # the end of the long pause before it
        self._admitted = _AdmittedBySendTime()
        self._first_send: float | None = None
        # Retry-After
        self._not_before = -math.inf
        self._not_before_set = -math.inf

    @property
    def rate(self) -> float | None:
        """The current send rate in requests per second (None: not limited)."""
        return self._rate

    @property
    def measured_rate(self) -> float | None:
        """The admitted rate last measured from the platform's 429s, if any."""
        return self._measured

    @property
    def paused_until(self) -> float:
        return self._not_before

    async def acquire(self, not_before: float | None = None) -> float:
        """Wait for the not-before times (the pool's, and ``not_before``, the request's own
        from :meth:`release`) and a send slot; returns the send time (the ticket).

        Every acquire must be followed by one :meth:`release` (the transport does it)."""
        if not_before is not None:
            now = self._now()
            if not_before > now:
                await self._sleep(safe_wait(not_before - now))
        window = self._window
        if window is not None and self._in_flight >= window:
            await self._slow_start_slot()
        self._in_flight += 1
        try:
            now = self._now()
            if self._paced or not self._take(now):
                self._waited_at = now
                waiter = asyncio.get_running_loop().create_future()
                self._paced.append(waiter)
                if self._pacer is None:
                    self._pacer = asyncio.get_running_loop().create_task(self._pace())
                try:
                    await waiter
                except asyncio.CancelledError:
                    if waiter.done() and not waiter.cancelled():
                        pass  # granted just before: the slot is spent, nothing to hand on
                    else:
                        with contextlib.suppress(ValueError):
                            self._paced.remove(waiter)
                    raise
                now = self._now()
        except BaseException:
            self._in_flight -= 1
            self._wake()
            raise
        if self._first_send is None:
            self._first_send = now
        sent = self._sent
        sent.append(now)
        while now - sent[0] > _SEND_WINDOW:
            sent.popleft()
        return now

    async def aclose(self) -> None:
        """Stop handing out slots: requests still waiting for one are cancelled."""
        pacer, self._pacer = self._pacer, None
        if pacer is not None and not pacer.done():
            pacer.cancel()
            await asyncio.gather(pacer, return_exceptions=True)
        while self._paced:
            self._paced.popleft().cancel()

    def _now(self) -> float:
        return max(self._clock(), self._slept_until)

    def _take(self, now: float) -> bool:
        """Take a send slot now if the pause is over and the rate allows one."""
        if now < self._not_before:
            return False
        rate = self._rate
        if rate is None:
            return True
        interval = 1.0 / rate
        slot = max(self._next_slot, now - max(_BURST_SECONDS, interval))
        if slot > now:
            return False
        self._next_slot = slot + interval
        return True

    async def _pace(self) -> None:
        """Hands out slots to the queued requests in order, at the rate of the moment (a cut
        or a pause applies to requests already waiting too)."""
        queue = self._paced
        try:
            while queue:
                now = self._now()
                if not self._take(now):
                    rate = self._rate
                    until = self._not_before
                    if rate is not None:
                        until = max(until, self._next_slot)
                    await self._sleep(safe_wait(until - now))
                    # A sleep that ended is the time it was asked for, even where the clock
                    # says otherwise (an injected sleep in a test): never spin on the clock.
                    self._slept_until = max(self._slept_until, until)
                    continue
                while queue:
                    waiter = queue.popleft()
                    if not waiter.done():
                        waiter.set_result(None)
                        break
        finally:
            self._pacer = None

    async def _slow_start_slot(self) -> None:
        while self._window is not None and self._in_flight >= self._window:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
                self._wake()
                raise

    def _wake(self) -> None:
        waiters = self._waiters
        window = self._window
        free = len(waiters) if window is None else max(0, window - self._in_flight)
        while waiters and free > 0:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def release(
        self, sent_at: float, status: int | None, retry_after: float | None
    ) -> float | None:
        """The answer to a request sent at ``sent_at``: its status (None: no answer).

        Returns the time before which that request must not be sent again (its own
        ``Retry-After``, capped at ``max_pause``), or None: pass it to :meth:`acquire`."""
        self._in_flight -= 1
        if self._first_send is None:  # a caller that gates its own sends
            self._first_send = sent_at
        window = self._window
        if window is not None:
            if status == 429:
                self._window = None  # slow start ends: the rate takes over
            elif status is not None and status >= 500:
                self._window = max(1, window // 2)
            elif status is not None and self._in_flight + 1 >= window:
                self._window = window + 1  # in use: one more per answer
            if self._waiters:
                self._wake()
        if status == 429:
            self._throttled(sent_at, retry_after)
        elif status is not None and status < 500:
            self.stats.admitted += 1
            self._admitted.add(sent_at)
            if self.adaptive and sent_at > self._last_decrease:
                self._grow()
        elif status == 503 and retry_after is not None:
            self._hold(sent_at, retry_after)
        if retry_after is None or status not in (429, 503):
            return None
        return self._now() + min(safe_wait(retry_after), self._max_pause)

    # -- throttled ---------------------------------------------------------------------------

    def _hold(self, sent_at: float, retry_after: float) -> None:
        if sent_at < self._not_before_set:
            return  # answers a request sent before the current pause was decided
        now = self._now()
        pause = min(safe_wait(retry_after), self._max_pause)
        until = now + pause
        if until > self._not_before:
            self.stats.paused += until - max(now, self._not_before)
            self.stats.pauses += 1
            self._not_before = until
            self._not_before_set = now
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("flow: Retry-After holds the pool for %.3f s", until - now)
            if pause > _SATURATED_GAP:
                if self._refill[1] <= now:
                    self._resumed = self._refill[1]
                self._refill = (now, until)
            # A probe above the measured rate costs a pause: probe less often.
            self._hold_for = max(HOLD_SECONDS, _HOLD_PER_PAUSE * pause)

    def _throttled(self, sent_at: float, retry_after: float | None) -> None:
        self.stats.throttled += 1
        if retry_after is not None:
            self._hold(sent_at, retry_after)
        if not self.adaptive:
            return
        anchors = self._anchors
        if not anchors or sent_at - anchors[-1] >= _ANCHOR_SPACING:
            anchors.append(sent_at)
            while sent_at - anchors[0] > _MEASURE_MAX:
                anchors.popleft()
        self._measure(sent_at)
        if sent_at <= self._last_decrease:
            return  # at most one decrease per round trip
        self._decide(sent_at)

    def _decide(self, sent_at: float) -> None:
        """A 429 to a request sent after the last decrease: measure, then cut the rate."""
        now = self._now()
        current = self._rate
        self._record_drain(sent_at)
        fitted = self._fitted
        saturated = self._saturated_rate(_MEASURE_MIN_ADMITTED)
        measured = self._measured
        if measured is None:  # what there is: the fit, few saturated samples, one stretch
            measured = fitted or self._saturated_rate(_ROUGH_SAMPLES) or self._one_drain()
        elif self._probe_base is not None and current is not None:
            # A probe above the measurement was throttled: the platform admitted what was
            # sent over the last second, burst included (never more than the probe's rate).
            measured = max(measured, min(self._admitted_rate(now), current))
            if fitted is not None and measured < fitted <= current:
                measured = fitted
        elif (
            current is not None
            and sent_at - self._last_decrease >= _SATURATED_GAP
            and current <= HEADROOM * measured * (1 + 1e-9)
        ):
            # Throttled at the rate the measurement allows: it measured high. What it admits
            # is under the rate throttled (the send rate steps 3 % under it), and at least
            # what recent 429s prove.
            measured = current
            if fitted is not None and 0.5 * current <= fitted < current:
                measured = fitted
            measured = max(measured, self._lower_bound(sent_at))
        elif saturated is not None:
            measured = saturated
        if measured is not None:
            self._measured = measured
            target = HEADROOM * measured
        else:  # unmeasured: half of what was admitted (a quarter of what was sent) lately
            admitted = self._admitted_rate(now)
            target = 0.5 * admitted if admitted > 2 * MIN_RATE else 0.25 * self._sent_rate(now)
        self._rate = max(MIN_RATE, target if current is None else min(current, target))
        self._last_decrease = now
        self._last_growth = now
        self._at_measured_since = None
        if self._probe_base is not None:
            # What the stretches before the probe measured is superseded by the probe's.
            self._saturated.clear()
            self._saturated_admitted, self._saturated_span = 0, 0.0
        self._probe_base = None
        self._next_slot = max(self._next_slot, now)
        self.stats.decreases += 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "flow: 429 to a request sent %.3f s ago; send rate %s -> %.1f/s (measured %s)",
                now - sent_at,
                "unlimited" if current is None else f"{current:.1f}/s",
                self._rate,
                "none" if measured is None else f"{measured:.1f}/s",
            )

    def _measure(self, sent_at: float) -> None:
        """Count the interval since the previous 429 as saturated, if nothing paused the pool
        in between and it is short enough that the platform stayed out of capacity. Between
        decisions the measurement may come down from it, never up."""
        previous, self._last_throttle = self._last_throttle, max(self._last_throttle, sent_at)
        if sent_at <= previous or sent_at - previous > _SATURATED_GAP:
            return
        start, end = self._refill
        if previous < end and sent_at > start:
            return  # a long pause came between: the platform refilled meanwhile
        admitted = self._admitted.between(previous, sent_at)
        if admitted is None:
            return
        intervals = self._saturated
        intervals.append((sent_at, admitted, sent_at - previous))
        self._saturated_admitted += admitted
        self._saturated_span += sent_at - previous
        while intervals and (sent_at - intervals[0][0] > _MEASURE_MAX or len(intervals) > 4096):
            _, old_admitted, old_span = intervals.popleft()
            self._saturated_admitted -= old_admitted
            self._saturated_span -= old_span
        saturated = self._saturated_rate(_MEASURE_MIN_ADMITTED)
        if saturated is not None and (self._measured is None or saturated < self._measured):
            self._measured = saturated

    def _saturated_rate(self, samples: int) -> float | None:
        """The saturated stretches' rate, if they hold at least ``samples`` admitted."""
        if self._saturated_admitted >= samples and self._saturated_span > 0:
            return self._saturated_admitted / self._saturated_span
        return None

    def _one_drain(self) -> float | None:
        """A little under ``admitted / T`` of the latest stretch from full capacity, which
        exceeds the rate by the burst over T: close once T is long."""
        if not self._drains:
            return None
        length, admitted = self._drains[-1]
        if length < _DRAIN_MIN_LENGTH:
            return None
        return (1 - _DRAIN_MARGIN) * admitted / length

    def _record_drain(self, sent_at: float) -> None:
        """A fresh 429 that ends a stretch which began with the platform's capacity full (the
        run's first send, or the end of a long pause) and had no 429 before it: the platform
        admitted its burst plus its rate times the stretch, ``admitted = burst + rate * T``."""
        first = self._first_send
        if first is None:
            return
        if self._last_decrease == -math.inf:
            start, admitted = first, self._admitted.between(-math.inf, sent_at)
        else:
            start = self._resumed
            if not self._last_decrease < start < sent_at:
                return
            admitted = self._admitted.between(start, sent_at)
        if admitted:
            self._drains.append((sent_at - start, admitted))
            self._fitted = self._drain_rate()

    def _drain_rate(self) -> float | None:
        """The rate fitted to the drains (least squares of ``admitted`` on ``T``: the slope is
        the rate, the intercept the burst), if their lengths differ enough to tell."""
        drains = self._drains
        if len(drains) < 2:
            return None
        mean_t = sum(t for t, _ in drains) / len(drains)
        mean_a = sum(a for _, a in drains) / len(drains)
        var = sum((t - mean_t) ** 2 for t, _ in drains)
        if var < _DRAIN_MIN_SPREAD**2:
            return None
        slope = sum((t - mean_t) * (a - mean_a) for t, a in drains) / var
        return slope if slope > 0 else None

    def _lower_bound(self, sent_at: float) -> float:
        """The best lower bound of the platform's rate the recent 429s prove.

        A platform that throttled a request sent at ``a`` had less than one request's capacity
        left then, so what it admitted from ``a`` up to a later 429 at ``s`` (less the one it
        may have had) it admitted at its rate: ``rate > (admitted(a, s] - 1) / (s - a)``, pauses
        and idle time included (they only weaken the bound). The longest spans give the
        tightest bounds; spans under :data:`_CLEAN_WINDOW` are left out, where a few
        milliseconds of network jitter would matter."""
        best = 0.0
        for anchor in self._anchors:
            span = sent_at - anchor
            if span < _CLEAN_WINDOW:
                break
            admitted = self._admitted.between(anchor, sent_at)
            if admitted:
                best = max(best, (admitted - 1) / span)
        return best

    def _admitted_rate(self, now: float) -> float:
        """Requests admitted per second over the last second of sending (time the pool was
        paused, and time before the first send, do not count)."""
        first = self._first_send
        if first is None:
            return 0.0
        resumed = self._refill[1] if self._refill[1] <= now else self._resumed
        start = max(now - 1.0, first, resumed)
        span = now - start
        if span <= 0:
            return 0.0
        return (self._admitted.between(start, now) or 0) / span

    def _sent_rate(self, now: float) -> float:
        """Requests sent per second over the last :data:`_SEND_WINDOW` (or since the first)."""
        first = self._first_send
        span = min(_SEND_WINDOW, now - first) if first is not None else 0.0
        return len(self._sent) / span if span > 0 else 4 * MIN_RATE

    # -- growth ------------------------------------------------------------------------------

    def _grow(self) -> None:
        rate = self._rate
        if rate is None:
            return
        now = self._now()
        if self._sent and now - self._waited_at > _IDLE:
            return  # no request waited for a slot lately: the rate is not what limits
        # Time without answers (a pause) is no evidence of capacity: count at most 50 ms,
        # or two intervals at a rate that slow, and at most a doubling per answer.
        elapsed = min(now - self._last_growth, max(_GROWTH_STEP, 2.0 / rate))
        if elapsed <= 0:
            return
        self._last_growth = now
        measured = self._measured
        if measured is None:  # too few saturated samples to measure: they bound the growth
            measured = self._saturated_rate(_ROUGH_SAMPLES)
        ceiling = HEADROOM * measured if measured is not None else math.inf
        if rate < ceiling and self._probe_base is None:
            rate = min(ceiling, rate * min(2.0, 2.0 ** (elapsed / RAMP_SECONDS)))
            if rate >= ceiling:
                self._at_measured_since = now
        else:
            since = self._at_measured_since
            if since is None:
                since = self._at_measured_since = now
            # A probe costs a pause where the platform sends Retry-After: hold long, unless
            # the measurement rests on few samples and is likely to be off.
            confident = self._saturated_admitted >= _CONFIDENT_SAMPLES or self._fitted is not None
            if now - since >= (self._hold_for if confident else HOLD_SECONDS):
                # Probe above the measurement, slowly at first, then faster (cubic in the
                # probing time): a limit that was measured low, or raised, is found.
                if self._probe_base is None:
                    self._probe_base, self._probe_time = rate, 0.0
                self._probe_time += elapsed
                pace = PROBE_PER_SECOND if confident else _ROUGH_PROBE_PER_SECOND
                rate = self._probe_base * (1.0 + pace * self._probe_time**3)
        self._rate = rate
