from __future__ import annotations

import asyncio
import builtins
import email.utils
import time

import aiohttp
import pytest
from aioresponses import aioresponses

from magine_async import (
    MagineClient,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TimeoutError,
    TransportError,
)
from magine_async._transport import Operation, ignore_body

from ..support import (
    ACCESS_TOKEN,
    ISSUER,
    FakeSleep,
    ScriptedServer,
    error_reply,
    pkcs1_pem,
    rsa_key,
)

NOT_RETRY_SAFE = Operation("transcode.create", "POST", "/partner/transcode/asset")
RETRY_SAFE_POST = Operation("users.create", "POST", "/partner/users", retry_safe=True)


async def test_503_twice_then_200_succeeds_on_attempt_three(
    server: ScriptedServer, client: MagineClient, fake_sleep: FakeSleep
) -> None:
    server.script(
        error_reply(503, "unavailable", "Trace ID 111"),
        error_reply(503, "unavailable", "Trace ID 222"),
    )
    assert await client.test() == "OK"
    assert len(server.seen) == 3
    assert len(fake_sleep.waits) == 2
    # full jitter: each wait lies in [0, 0.5 * 2**(n-1)]
    assert 0 <= fake_sleep.waits[0] <= 0.5 and 0 <= fake_sleep.waits[1] <= 1.0


async def test_503_three_times_raises_with_every_trace_id(
    server: ScriptedServer, client: MagineClient
) -> None:
    server.script(
        *(
            error_reply(503, "unavailable", f"Internal error. Trace ID {n}")
            for n in ("a1", "b2", "c3")
        )
    )
    with pytest.raises(ServerError) as info:
        await client.test()
    assert len(server.seen) == 3
    assert info.value.trace_ids == ["a1", "b2", "c3"]
    assert info.value.trace_id == "c3"


async def test_post_not_marked_retry_safe_is_sent_once_on_503(
    server: ScriptedServer, client: MagineClient
) -> None:
    server.script(error_reply(503, "unavailable", "Trace ID 1"))
    with pytest.raises(ServerError):
        await client._transport.request(NOT_RETRY_SAFE, decode=ignore_body, body=b"{}")
    assert len(server.seen) == 1


async def test_retry_safe_post_is_retried(server: ScriptedServer, client: MagineClient) -> None:
    server.script(error_reply(503, "unavailable", "Trace ID 1"))
    response = await client._transport.request(RETRY_SAFE_POST, decode=ignore_body, body=b"{}")
    assert response.status == 200
    assert len(server.seen) == 2
    assert server.seen[0].body == server.seen[1].body == b"{}"


async def test_429_waits_for_retry_after_seconds(
    server: ScriptedServer, client: MagineClient, fake_sleep: FakeSleep
) -> None:
    server.script(error_reply(429, "tooManyRequests", "slow down", **{"Retry-After": "7"}))
    assert await client.test() == "OK"
    assert fake_sleep.waits == [7.0]


async def test_429_retry_after_as_http_date(
    server: ScriptedServer, client: MagineClient, fake_sleep: FakeSleep
) -> None:
    client._transport._wall_clock = lambda: 1_700_000_000.0
    when = email.utils.formatdate(1_700_000_000 + 20, usegmt=True)
    server.script(error_reply(429, "tooManyRequests", "later", **{"Retry-After": when}))
    assert await client.test() == "OK"
    assert fake_sleep.waits == [20.0]


async def test_retry_after_is_capped(server: ScriptedServer, client: MagineClient) -> None:
    sleep = FakeSleep()
    client._transport.retry = RetryPolicy(sleep=sleep, max_retry_after=30)
    server.script(error_reply(429, "tooManyRequests", "later", **{"Retry-After": "3600"}))
    await client.test()
    assert sleep.waits == [30]


async def test_429_is_retried_even_for_a_post_that_is_not_retry_safe(
    server: ScriptedServer, client: MagineClient
) -> None:
    server.script(error_reply(429, "tooManyRequests", "later", **{"Retry-After": "1"}))
    await client._transport.request(NOT_RETRY_SAFE, decode=ignore_body, body=b"{}")
    assert len(server.seen) == 2


async def test_exhausted_429_raises_rate_limit_error(
    server: ScriptedServer, client: MagineClient, fake_sleep: FakeSleep
) -> None:
    client._transport.retry = RetryPolicy(sleep=fake_sleep, max_throttled=4)
    server.default = error_reply(429, "tooManyRequests", "later")
    with pytest.raises(RateLimitError):
        await client.test()
    assert len(server.seen) == 4


async def test_429s_do_not_use_up_the_attempts_for_failures(
    server: ScriptedServer, client: MagineClient, fake_sleep: FakeSleep
) -> None:
    """Throttling is not failure: five 429s and two 503s within max_attempts=3."""
    server.script(
        *(error_reply(429, "tooManyRequests", "later") for _ in range(5)),
        *(error_reply(503, "serviceUnavailable", "Trace ID t") for _ in range(2)),
    )
    assert await client.test() == "OK"
    assert len(server.seen) == 8


async def test_a_throttle_deadline_ends_the_429_retries(
    server: ScriptedServer, client: MagineClient
) -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    client._transport.retry = RetryPolicy(
        sleep=sleep, clock=lambda: now[0], max_throttled=1000, throttle_deadline=10.0
    )
    server.default = error_reply(429, "tooManyRequests", "x", **{"Retry-After": "3"})
    with pytest.raises(RateLimitError):
        await client.test()
    assert len(server.seen) == 4 and now[0] == 9.0  # a fourth wait would end at 12 s


def test_backoff_is_exponential_capped_with_full_jitter() -> None:
    policy = RetryPolicy(jitter=False)
    assert [policy.backoff(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]
    jittered = RetryPolicy(rng=lambda: 0.25)
    assert jittered.backoff(3) == 0.5


async def test_deadline_stops_retries_that_would_overrun_it(
    server: ScriptedServer, client: MagineClient
) -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    client._transport.retry = RetryPolicy(
        sleep=sleep, clock=lambda: now[0], max_attempts=5, deadline=5.0
    )
    server.script(
        *(error_reply(429, "tooManyRequests", "x", **{"Retry-After": "4"}) for _ in range(5))
    )
    with pytest.raises(RateLimitError):
        await client.test()
    # t=0: a 4 s wait fits the 5 s deadline; t=4: another would end at 8 s, so it stops.
    assert waits == [4.0]
    assert len(server.seen) == 2


async def test_per_request_policy_override(server: ScriptedServer, client: MagineClient) -> None:
    server.script(error_reply(503, "unavailable", "Trace ID 1"))
    with pytest.raises(ServerError):
        await client._transport.request(
            Operation("partner.test", "GET", "/partner/test"),
            decode=ignore_body,
            retry=RetryPolicy.disabled(),
        )
    assert len(server.seen) == 1


async def test_cancellation_is_never_retried(server: ScriptedServer, client: MagineClient) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow(request: object) -> aiohttp.web.Response:
        entered.set()
        await release.wait()
        return aiohttp.web.Response(text='"late"')

    server.script(slow)
    task = asyncio.create_task(client.test())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    assert len(server.seen) == 1


def _client(url: str, sleep: FakeSleep) -> MagineClient:
    return MagineClient(
        access_token=ACCESS_TOKEN,
        issuer=ISSUER,
        private_key=pkcs1_pem(rsa_key()),
        base_url=url,
        retry=RetryPolicy(sleep=sleep),
    )


URL = "https://platform.example.test/api/v1"


async def _reset(request: aiohttp.web.Request) -> aiohttp.web.Response:
    assert request.transport is not None
    request.transport.abort()
    return aiohttp.web.Response()


async def test_connection_reset_is_retried_for_idempotent_calls(
    server: ScriptedServer, client: MagineClient, fake_sleep: FakeSleep
) -> None:
    server.default = _reset
    with pytest.raises(TransportError) as info:
        await client.test()
    assert "ServerDisconnectedError" in str(info.value)
    assert len(fake_sleep.waits) == 2  # three attempts by the SDK's policy


async def test_connection_reset_is_not_retried_for_unsafe_post(fake_sleep: FakeSleep) -> None:
    with aioresponses() as mocked:
        mocked.post(f"{URL}/partner/transcode/asset", exception=aiohttp.ServerDisconnectedError())
        async with _client(URL, fake_sleep) as client:
            with pytest.raises(TransportError) as info:
                await client._transport.request(NOT_RETRY_SAFE, decode=ignore_body, body=b"{}")
    assert info.value.request_sent
    assert fake_sleep.waits == []


async def test_timeouts_are_typed_and_also_builtin_timeout_errors(fake_sleep: FakeSleep) -> None:
    with aioresponses() as mocked:
        for _ in range(3):
            mocked.get(f"{URL}/partner/test", exception=builtins.TimeoutError())
        async with _client(URL, fake_sleep) as client:
            with pytest.raises(TimeoutError) as info:
                await client.test()
    assert isinstance(info.value, TransportError)
    assert isinstance(info.value, builtins.TimeoutError)
    assert len(fake_sleep.waits) == 2


async def test_refused_connection_is_a_transport_error(fake_sleep: FakeSleep) -> None:
    # Nothing listens on this loopback port (it was bound and released).
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    started = time.monotonic()
    async with _client(f"http://127.0.0.1:{port}/api/v1", fake_sleep) as client:
        with pytest.raises(TransportError) as info:
            await client._transport.request(NOT_RETRY_SAFE, decode=ignore_body, body=b"{}")
    assert not info.value.request_sent
    assert len(fake_sleep.waits) == 2  # never reached the server, so even this POST is retried
    assert "cannot connect" in str(info.value)
    assert time.monotonic() - started < 5
