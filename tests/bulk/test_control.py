"""The bulk run's control: the retry budget, throttling kept apart from it, and the transport
hook they rest on (one retry loop: the hooks only see, gate and veto)."""

from __future__ import annotations

from typing import Any

import pytest

from magine_async import FlowControl, MagineClient, RateLimitError, RetryPolicy, ServerError
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


def control(budget: RetryBudget | None = None) -> tuple[PoolControl, Summary]:
    summary = Summary()
    pool = PoolControl(flow=FlowControl(), budget=budget, summary=summary)
    return pool, summary


def throttled(retry_after: float | None = None) -> RateLimitError:
    return RateLimitError(429, error_code="tooManyRequests", retry_after=retry_after)


def test_throttling_spends_no_retry_budget() -> None:
    pool, summary = control(RetryBudget(ratio=0.0, min_retries=0, window=100))
    for _ in range(50):
        pool.acquire()
        pool.release(429)
        assert pool.allow_retry(throttled())
        pool.on_retry(throttled(), 0.0)
    assert not pool.allow_retry(ServerError(503))  # the budget itself is empty
    assert summary.throttled == 50 and summary.retries == {"429": 50}
    assert summary.retries_denied == 1


def test_the_retry_budget_caps_retries_to_a_share_of_recent_attempts() -> None:
    pool, summary = control(RetryBudget(ratio=0.2, min_retries=2, window=100))
    error = ServerError(503)
    allowed = 0
    for _ in range(200):  # an outage: every attempt fails, every failure asks to retry
        pool.acquire()
        pool.release(503)
        if pool.allow_retry(error):
            pool.on_retry(error, 0.0)
            allowed += 1
    assert 35 <= allowed <= 45  # about 0.2 of the attempts, not one retry per failure
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
