"""Flow control: the adaptive window, Retry-After pauses, the rate limit and the retry budget,
and the transport hook they rest on (one retry loop: the hooks only see, gate and veto)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from magine_async import MagineClient, RateLimitError, RetryPolicy, ServerError
from magine_async._retry import AttemptHooks, attempt_hooks
from magine_async.bulk import PoolControl, RetryBudget, Summary

from ..support import (
    ACCESS_TOKEN,
    ISSUER,
    FakeSleep,
    ScriptedServer,
    error_reply,
    pkcs1_pem,
    rsa_key,
)
from .conftest import FakeClock


def control(
    clock: FakeClock, *, concurrency: int = 8, budget: RetryBudget | None = None, **kw: Any
) -> tuple[PoolControl, Summary]:
    summary = Summary()
    options: dict[str, Any] = {
        "adaptive": True,
        "rate_limit": None,
        "budget": budget,
        "max_pause": 60.0,
    }
    options.update(kw)
    pool = PoolControl(
        concurrency=concurrency, sleep=clock.sleep, clock=clock, summary=summary, **options
    )
    return pool, summary


def throttled(retry_after: float | None = None) -> RateLimitError:
    return RateLimitError(429, error_code="tooManyRequests", retry_after=retry_after)


async def test_the_window_halves_on_429_and_503_and_grows_by_one(fake_clock: FakeClock) -> None:
    pool, summary = control(fake_clock, concurrency=8)
    tokens = [await pool.acquire() for _ in range(4)]
    pool.release(tokens[0], 503, ServerError(503))
    assert pool.window == 4
    # answers to requests sent before the cut do not cut again (one cut per generation)
    pool.release(tokens[1], 429, throttled())
    assert pool.window == 4
    pool.release(tokens[2], 200, None)
    pool.release(tokens[3], 404, None)
    assert pool.window == 6
    for _ in range(10):
        pool.release(await pool.acquire(), 201, None)
    assert pool.window == 8  # never above the concurrency
    pool.release(await pool.acquire(), 500, ServerError(500))  # other 5xx: neither way
    pool.release(await pool.acquire(), None, None)  # no answer: neither way
    assert pool.window == 8
    for _ in range(5):
        pool.release(await pool.acquire(), 503, ServerError(503))
    assert pool.window == 1  # never below one
    assert (summary.throttled, summary.unavailable, summary.window) == (1, 6, 1)


async def test_the_window_holds_attempts_back(fake_clock: FakeClock) -> None:
    pool, summary = control(fake_clock, concurrency=4)
    first = await pool.acquire()
    pool.release(first, 503, ServerError(503))  # window 2
    held = [await pool.acquire() for _ in range(2)]
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)
    assert not waiting.done() and pool.in_flight == 2
    pool.release(held[0], 200, None)  # window 3, a slot: the waiter gets it
    await asyncio.sleep(0)
    assert waiting.done() and pool.in_flight == 2
    assert summary.peak_requests == 2


async def test_a_cancelled_waiter_gives_its_place_back(fake_clock: FakeClock) -> None:
    pool, _ = control(fake_clock, concurrency=1, adaptive=False)
    token = await pool.acquire()
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    pool.release(token, 200, None)
    assert pool.in_flight == 0
    await asyncio.wait_for(pool.acquire(), 1)  # not stuck behind the cancelled waiter


async def test_no_adaptation_when_turned_off(fake_clock: FakeClock) -> None:
    pool, _ = control(fake_clock, concurrency=8, adaptive=False)
    pool.release(await pool.acquire(), 429, throttled())
    assert pool.window == 8


async def test_retry_after_pauses_the_whole_pool(fake_clock: FakeClock) -> None:
    pool, summary = control(fake_clock)
    started = fake_clock.now
    pool.release(await pool.acquire(), 429, throttled(retry_after=5))
    assert pool.paused
    # a longer hint while paused extends the pause; a shorter one does not shorten it
    pool.pause(7)
    pool.pause(1)
    others = [asyncio.ensure_future(pool.acquire()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in others)
    await asyncio.gather(*others)
    assert fake_clock.now - started == pytest.approx(7)
    assert fake_clock.waits == [5, 2]
    assert summary.pauses == 1 and not pool.paused


async def test_a_pause_is_capped(fake_clock: FakeClock) -> None:
    pool, _ = control(fake_clock, max_pause=10)
    pool.pause(3600)
    await pool.acquire()
    assert fake_clock.waits == [10]
    await pool.aclose()


async def test_the_rate_limit_spaces_attempts(fake_clock: FakeClock) -> None:
    pool, _ = control(fake_clock, rate_limit=4.0)
    start = fake_clock.now
    for _ in range(9):
        pool.release(await pool.acquire(), 200, None)
    assert fake_clock.now - start == pytest.approx(2.0)  # 9 attempts at 4/s: 8 gaps of 0.25 s


def test_the_retry_budget_caps_retries_to_a_share_of_recent_attempts(
    fake_clock: FakeClock,
) -> None:
    async def scenario() -> Summary:
        pool, summary = control(
            fake_clock, budget=RetryBudget(ratio=0.2, min_retries=2, window=100)
        )
        error = ServerError(503)
        allowed = 0
        for _ in range(200):  # an outage: every attempt fails, every failure asks to retry
            pool.release(await pool.acquire(), 503, error)
            if pool.allow_retry(error):
                pool.on_retry(error, 0.0)
                allowed += 1
        assert 35 <= allowed <= 45  # about 0.2 of the attempts, not one retry per failure
        return summary

    summary = asyncio.run(scenario())
    assert summary.retries == {"503": summary.retries["503"]}
    assert summary.retries_denied == 200 - summary.retries["503"]
    with pytest.raises(Exception, match="ratio"):
        RetryBudget(ratio=2)


class Recorder(AttemptHooks):
    __slots__ = ("allow", "events")

    def __init__(self, allow: bool = True) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.allow = allow

    async def before_attempt(self) -> Any:
        self.events.append(("before",))
        return len(self.events)

    def after_attempt(self, token: Any, status: int | None, error: BaseException | None) -> None:
        self.events.append(("after", token, status, type(error).__name__ if error else None))

    def allow_retry(self, error: BaseException) -> bool:
        self.events.append(("allow?", type(error).__name__))
        return self.allow

    def on_retry(self, error: BaseException, wait: float) -> None:
        self.events.append(("retry", type(error).__name__, wait))


@pytest.fixture
async def scripted_client(server: ScriptedServer, fake_sleep: FakeSleep) -> Any:
    async with MagineClient(
        access_token=ACCESS_TOKEN,
        issuer=ISSUER,
        private_key=pkcs1_pem(rsa_key()),
        base_url=server.base_url,
        retry=RetryPolicy(sleep=fake_sleep, jitter=False, max_attempts=3),
    ) as client:
        yield client


async def test_the_transport_reports_every_attempt_to_the_hooks(
    server: ScriptedServer, scripted_client: MagineClient
) -> None:
    server.script(
        error_reply(503, "down", "Trace ID a1"),
        error_reply(429, "slow", "later", **{"Retry-After": "2"}),
    )
    hooks = Recorder()
    with attempt_hooks(hooks):
        assert await scripted_client.test() == "OK"
    assert hooks.events == [
        ("before",),
        ("after", 1, 503, "ServerError"),
        ("allow?", "ServerError"),
        ("retry", "ServerError", 0.5),
        ("before",),
        ("after", 5, 429, "RateLimitError"),
        ("allow?", "RateLimitError"),
        ("retry", "RateLimitError", 2.0),
        ("before",),
        ("after", 9, 200, None),
    ]
    await scripted_client.test()  # outside the block: no hooks
    assert len(hooks.events) == 10


async def test_a_vetoed_retry_ends_the_call_with_the_failure(
    server: ScriptedServer, scripted_client: MagineClient, fake_sleep: FakeSleep
) -> None:
    server.script(error_reply(503, "down", "Trace ID a1"))
    hooks = Recorder(allow=False)
    with attempt_hooks(hooks), pytest.raises(ServerError) as caught:
        await scripted_client.test()
    assert caught.value.attempts == 1
    assert fake_sleep.waits == []
    assert len(server.seen) == 1


async def test_the_last_attempt_does_not_consult_the_budget(
    server: ScriptedServer, scripted_client: MagineClient
) -> None:
    server.script(*[error_reply(503, "down")] * 3)
    hooks = Recorder()
    with attempt_hooks(hooks), pytest.raises(ServerError):
        await scripted_client.test()
    assert [e[0] for e in hooks.events].count("allow?") == 2  # before retries 1 and 2 only
