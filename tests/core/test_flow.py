"""The flow controller: its rules one by one, and convergence against a token-bucket platform
in virtual time (no test waits for real)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math

import pytest

from magine_async import FlowControl, MagineClient, RetryPolicy

from ..support import ACCESS_TOKEN, ISSUER, ScriptedServer, error_reply, pkcs1_pem, rsa_key


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_stale_429_does_not_extend_the_pause_and_pauses_never_stack() -> None:
    clock = ManualClock()
    flow = FlowControl(clock=clock)
    first, second = 0.0, 0.01  # two requests sent before any answer
    clock.now = 0.1
    flow.release(first, 429, 1.0)
    assert flow.paused_until == pytest.approx(1.1)
    clock.now = 0.2
    flow.release(second, 429, 5.0)  # sent before the pause was set: no extension
    assert flow.paused_until == pytest.approx(1.1)
    clock.now = 1.3
    flow.release(1.2, 429, 1.0)  # a fresh one: the latest hint, never a sum
    assert flow.paused_until == pytest.approx(2.3)
    assert flow.stats.pauses == 2
    assert flow.stats.paused == pytest.approx(2.0)


def test_one_decrease_per_round_trip_and_no_growth_from_older_answers() -> None:
    clock = ManualClock()
    flow = FlowControl(rate=200.0, clock=clock)
    for i in range(40):  # forty answers at 200/s admitted
        flow.release(i * 0.005, 200, None)
    clock.now = 0.2
    for sent in (0.15, 0.16, 0.17):  # a burst of 429s, all sent before the decrease
        flow.release(sent, 429, None)
    assert flow.stats.decreases == 1
    cut = flow.rate
    assert cut is not None and cut < 200
    clock.now = 0.5
    for sent in (0.18, 0.19, 0.199):  # answers to requests sent before the decrease
        flow.release(sent, 200, None)
    assert flow.rate == cut
    flow.release(0.3, 200, None)  # sent after it: growth resumes
    assert flow.rate is not None and flow.rate > cut


def test_a_fixed_rate_spaces_attempts_and_never_adapts() -> None:
    clock = ManualClock()
    flow = FlowControl(rate=10.0, adaptive=False, clock=clock)
    flow.release(0.0, 429, None)
    assert flow.rate == 10.0
    with pytest.raises(ValueError, match="rate_limit"):
        FlowControl(rate=math.nan)


class VirtualTime:
    """An event loop's worth of virtual time: ``sleep`` parks the caller until the driver
    moves the clock to its deadline, once every task is blocked."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert math.isfinite(seconds) and seconds >= 0
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + seconds, next(self._order), future))
        await future

    async def drive(self, until: asyncio.Future[object], limit: float) -> None:
        while not until.done():
            for _ in range(20):
                await asyncio.sleep(0)
            if until.done():
                return
            if not self._timers:
                continue
            when, _, future = heapq.heappop(self._timers)
            assert when <= limit, "the scenario ran past its time limit"
            self.now = max(self.now, when)
            if not future.done():
                future.set_result(None)


class TokenBucketPlatform:
    def __init__(self, time: VirtualTime, rate: float, burst: float, retry_after: str) -> None:
        self.time, self.rate, self.burst = time, rate, burst
        self.tokens, self.at = burst, 0.0
        self.retry_after = retry_after
        self.admitted = self.throttled = 0

    def answer(self) -> tuple[int, float | None]:
        now = self.time.now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.admitted += 1
            return 200, None
        self.throttled += 1
        if self.retry_after == "none":
            return 429, None
        if self.retry_after == "exact":
            return 429, (1 - self.tokens) / self.rate
        return 429, float(self.retry_after)


async def _run(
    rate: float, workers: int, retry_after: str, rows: int, tokens: float = 30
) -> tuple[float, int, int]:
    time = VirtualTime()
    platform = TokenBucketPlatform(time, rate=rate, burst=30, retry_after=retry_after)
    platform.tokens = tokens
    flow = FlowControl(clock=time, sleep=time.sleep)
    todo = iter(range(rows))
    done = 0

    async def worker() -> None:
        nonlocal done
        for _ in todo:
            while True:
                sent = await flow.acquire()
                await time.sleep(0.01)  # half the round trip
                status, hint = platform.answer()
                await time.sleep(0.01)
                flow.release(sent, status, hint)
                if status == 200:
                    done += 1
                    break

    work = asyncio.gather(*(worker() for _ in range(workers)))
    await time.drive(work, limit=10 * rows / rate)
    await work
    assert done == rows
    return time.now, platform.admitted, platform.throttled


@pytest.mark.parametrize("workers", [8, 64, 256])
@pytest.mark.parametrize("retry_after", ["none", "exact"])
async def test_the_send_rate_converges_to_what_the_platform_admits(
    workers: int, retry_after: str
) -> None:
    rate, rows = 300.0, 6000
    elapsed, admitted, throttled = await _run(rate, workers, retry_after, rows)
    limit = min(rate, workers / 0.02)
    # measured in this harness: 0.97 (0.87 with 8 workers, whose lock-step batches make the
    # first measurement low); under 1 % of the answers are 429s
    assert rows / elapsed / limit >= 0.85
    assert throttled / (admitted + throttled) <= 0.02


async def test_retry_after_pauses_do_not_stack_into_a_stall() -> None:
    """Retry-After: 1 on every 429: each costs the pool a second; measured here 0.71 of the
    limit over a 20 s run, 1 % of answers 429 ."""
    elapsed, admitted, throttled = await _run(300.0, 64, "1", 6000)
    assert elapsed <= 1.5 * 6000 / 300
    assert throttled / (admitted + throttled) <= 0.02


async def test_a_client_with_adaptive_flow_waits_for_the_controller_not_a_back_off(
    server: ScriptedServer,
) -> None:
    """Under flow control a 429 is retried after the pause the controller sets; it does not
    count against max_attempts."""
    waits: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    server.script(*(error_reply(429, "tooManyRequests", "x", **{"Retry-After": "2"}),) * 4)
    async with MagineClient(
        access_token=ACCESS_TOKEN,
        issuer=ISSUER,
        private_key=pkcs1_pem(rsa_key()),
        base_url=server.base_url,
        retry=RetryPolicy(max_attempts=2, sleep=sleep, clock=lambda: now[0]),
        rate_limit="adaptive",
    ) as client:
        assert await client.test() == "OK"
        assert client.flow is not None and client.flow.stats.throttled == 4
    assert len(server.seen) == 5  # four 429s did not use up two attempts
    assert sum(waits) >= 4 * 2.0 - 1e-9  # each Retry-After waited out, by the controller


@pytest.mark.parametrize("retry_after", ["none", "exact"])
async def test_a_run_that_starts_on_an_exhausted_platform_recovers_within_seconds(
    retry_after: str,
) -> None:
    """The first answers are all 429s (another job used the capacity up): the first cut has
    nothing admitted to go by, so it takes a quarter of what was sent, not the floor."""
    elapsed, _, _ = await _run(300.0, 64, retry_after, 3000, tokens=0)
    assert elapsed < 1.3 * 3000 / 300  # before: 27 s for 10 s of work
