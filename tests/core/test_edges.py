"""The request path against answers it must survive: hostile Retry-After values, deadlines,
servers that echo credentials back."""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import random
import time
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from magine_async import (
    APIError,
    MagineClient,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TimeoutError,
    TransportError,
)
from magine_async._transport import retry_after_seconds

from ..support import (
    ACCESS_TOKEN,
    ISSUER,
    EchoServer,
    FakeSleep,
    ScriptedServer,
    error_reply,
    pkcs1_pem,
    rsa_key,
)

NOW = 1_700_000_000.0
HOSTILE_RETRY_AFTER = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "-1",
    "-0.5",
    "1e400",
    "1e3",
    "1_000",
    "0x10",
    "+5",
    "garbage",
    "",
    "   ",
    "5 s",
    # an HTTP date without a zone, and with the "unknown zone" -0000
    "Tue, 14 Nov 2023 22:13:40",
    "Tue, 14 Nov 2023 22:13:40 -0000",
    "Tue, 14 Nov 2023 22:13:40 +0200",
    "Tue, 99 Nov 2023 22:13:40 GMT",
    "Tue, 14 Nov 99999 22:13:40 GMT",
]


@pytest.mark.parametrize("value", HOSTILE_RETRY_AFTER)
def test_unusable_retry_after_values_are_treated_as_absent(value: str) -> None:
    assert retry_after_seconds(value, NOW) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (email.utils.formatdate(NOW + 20, usegmt=True), 20.0),
        (email.utils.formatdate(NOW - 20, usegmt=True), 0.0),  # already past
    ],
)
def test_usable_retry_after_values(value: str, seconds: float) -> None:
    assert retry_after_seconds(value, NOW) == seconds


@pytest.mark.property
@given(st.text(max_size=40) | st.from_regex(r"-?[0-9.eE+-]{1,12}", fullmatch=True))
def test_any_retry_after_is_absent_or_a_finite_non_negative_wait(value: str) -> None:
    seconds = retry_after_seconds(value, NOW)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)


@pytest.mark.property
@given(
    hint=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    rng=st.floats(allow_nan=True, allow_infinity=True),
    number=st.integers(min_value=1, max_value=5000),
)
def test_every_wait_the_policy_computes_is_finite_and_not_negative(
    hint: float | None, rng: float, number: int
) -> None:
    error = RateLimitError(429, retry_after=hint)
    wait = RetryPolicy(rng=lambda: rng).wait_for(number, error)
    assert math.isfinite(wait) and wait >= 0


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e400", "Tue, 14 Nov 2023 22:13:40 -0000"])
async def test_a_hostile_retry_after_never_reaches_a_sleep(
    server: ScriptedServer, client: MagineClient, fake_sleep: FakeSleep, value: str
) -> None:
    server.script(error_reply(429, "tooManyRequests", "slow down", **{"Retry-After": value}))
    assert await client.test() == "OK"
    assert len(fake_sleep.waits) == 1
    # the ordinary back-off instead: full jitter under the first step (0.5 s)
    assert math.isfinite(fake_sleep.waits[0]) and 0 <= fake_sleep.waits[0] <= 0.5


async def test_a_nan_retry_after_leaves_the_event_loop_timers_on_time(
    server: ScriptedServer,
) -> None:
    """With the real asyncio.sleep: a NaN timer would corrupt the loop's timer heap."""
    async with MagineClient(
        access_token=ACCESS_TOKEN,
        issuer=ISSUER,
        private_key=pkcs1_pem(rsa_key()),
        base_url=server.base_url,
        retry=RetryPolicy(initial_wait=0.001, max_wait=0.001),
    ) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        fired: dict[float, float] = {}
        # an application's timers: many due soon, many due late
        delays = [0.02 + 0.002 * i for i in range(40)] + [5.0 + i for i in range(40)]
        handles = [
            loop.call_later(d, lambda d=d: fired.__setitem__(d, loop.time() - started))
            for d in delays
        ]
        for _ in range(3):
            server.script(error_reply(429, "tooManyRequests", "x", **{"Retry-After": "nan"}))
            assert await client.test() == "OK"
        await asyncio.sleep(0.25)
        for handle in handles:
            handle.cancel()
    late = {d: t for d, t in fired.items() if t > d + 0.1}
    assert len(fired) == 40 and not late


def test_policy_settings_must_be_finite() -> None:
    for name in ("initial_wait", "max_wait", "max_retry_after", "deadline"):
        for value in (math.nan, math.inf, -1.0):
            with pytest.raises(ValueError, match=name):
                RetryPolicy(**{name: value})


class SimulatedClock:
    """Monotonic time that moves only when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_deadline_is_never_overshot_by_the_jitter_drawn_for_the_stop_check() -> None:
    """200 calls against a server that always fails: none may sleep past its deadline."""
    rng = random.Random(7)
    worst = 0.0
    for _ in range(200):
        clock = SimulatedClock()
        policy = RetryPolicy(
            max_attempts=10,
            initial_wait=1.0,
            max_wait=8.0,
            deadline=3.0,
            sleep=clock.sleep,
            clock=clock,
            rng=rng.random,
        )

        async def always_fails() -> None:
            raise ServerError(503)

        with pytest.raises(ServerError):
            await policy.run(
                always_fails, retry_safe=True, first_error=ServerError(503), started=0.0
            )
        worst = max(worst, clock.now)
    assert worst < 3.0


async def test_deadline_is_never_overshot_end_to_end(server: ScriptedServer) -> None:
    clock = SimulatedClock()
    server.default = error_reply(503, "serviceUnavailable", "Trace ID t")
    async with MagineClient(
        access_token=ACCESS_TOKEN,
        issuer=ISSUER,
        private_key=pkcs1_pem(rsa_key()),
        base_url=server.base_url,
        retry=RetryPolicy(
            max_attempts=50,
            initial_wait=1.0,
            deadline=3.0,
            sleep=clock.sleep,
            clock=clock,
            rng=random.Random(3).random,
        ),
    ) as client:
        for _ in range(20):
            clock.now = 0.0
            with pytest.raises(ServerError):
                await client.test()
            assert clock.now < 3.0


async def test_deadline_caps_the_time_of_an_attempt(server: ScriptedServer) -> None:
    """A stalled answer ends at the deadline, not at the (much longer) total timeout."""

    release = asyncio.Event()

    async def stall(request: object) -> object:
        await release.wait()
        raise AssertionError("unreachable: the client gave up before")

    server.default = stall  # type: ignore[assignment]
    async with MagineClient(
        access_token=ACCESS_TOKEN,
        issuer=ISSUER,
        private_key=pkcs1_pem(rsa_key()),
        base_url=server.base_url,
        retry=RetryPolicy(deadline=0.3, sleep=FakeSleep()),
    ) as client:
        await client.tokens.get()  # sign outside the measured time
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await client.test()
        elapsed = time.monotonic() - started
        release.set()
    assert 0.25 <= elapsed < 0.45


# -- credentials echoed back ------------------------------------------------------------------


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    srv = EchoServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.mark.parametrize("style", ["json", "html", "trace"])
@pytest.mark.parametrize("padding", [0, 150, 180, 190, 195, 199])
async def test_an_echoed_jwt_is_redacted_in_errors(
    echo: EchoServer, style: str, padding: int
) -> None:
    """Whatever the body and wherever the excerpt cuts the echoed token, no JWT shows."""
    echo.style, echo.padding = style, padding
    async with MagineClient(
        access_token=ACCESS_TOKEN,
        issuer=ISSUER,
        private_key=pkcs1_pem(rsa_key()),
        base_url=echo.base_url,
        retry=RetryPolicy(sleep=FakeSleep()),
    ) as client:
        token = await client.tokens.get()
        with pytest.raises(APIError) as caught:
            await client.test()
    error = caught.value
    texts = [str(error), repr(error), error.body_excerpt, *error.messages]
    texts += [str(error.error_code), *error.trace_ids]
    for text in texts:
        assert token not in text
        assert token[:12] not in text
        assert ACCESS_TOKEN not in text
    if padding <= 150 or style != "html":  # else the echo lies beyond the excerpt
        assert "<redacted>" in " ".join(texts)


async def test_an_answer_cut_short_says_so_instead_of_naming_a_status() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        await writer.drain()
        writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with MagineClient(
            access_token=ACCESS_TOKEN,
            issuer=ISSUER,
            private_key=pkcs1_pem(rsa_key()),
            base_url=f"http://127.0.0.1:{port}/api/v1",
            retry=RetryPolicy(max_attempts=1),
        ) as client:
            with pytest.raises(TransportError) as caught:
                await client.test()
    finally:
        listener.close()
        await listener.wait_closed()
    assert "cut short" in str(caught.value)
    assert "400" not in str(caught.value)


@pytest.mark.property
@given(
    status=st.sampled_from([400, 404, 409, 429, 500, 502, 503, 504]),
    content_type=st.sampled_from(
        ["application/json", "application/json;charset=utf-8", "text/html", "text/plain", ""]
    ),
    body=st.one_of(
        st.builds(
            lambda code, messages: json.dumps({"errorCode": code, "messages": messages}),
            st.text(max_size=30),
            st.lists(st.text(max_size=60), max_size=5),
        ),
        st.builds(lambda text: f"<html><body><h1>{text}</h1></body></html>", st.text()),
        st.just(""),
        st.builds(lambda text: json.dumps({"messages": [text]})[: len(text) // 2], st.text()),
        st.builds(lambda n: "x" * n, st.integers(0, 300_000)),
        st.text(max_size=500),
    ),
    jwt_at=st.integers(0, 400),
)
def test_any_error_answer_becomes_a_typed_error_with_a_bounded_text_and_no_credential(
    status: int, content_type: str, body: str, jwt_at: int
) -> None:
    from magine_async._transport import Operation, Transport

    jwt = "eyJhbGciOiJSUzUxMiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    payload = (body[:jwt_at] + f" Bearer {jwt} {ACCESS_TOKEN} " + body[jwt_at:]).encode()
    transport = Transport(base_url="http://127.0.0.1:9", headers={}, secrets=[ACCESS_TOKEN])
    headers = CIMultiDictProxy(CIMultiDict({"Content-Type": content_type}))
    op = Operation("partner.test", "GET", "/partner/test")
    error = transport._error(op, "/partner/test", status, payload, headers, [], ())
    assert isinstance(error, APIError) and error.status == status
    text = str(error) + repr(error) + error.body_excerpt + " ".join(error.messages)
    assert "c2lnbmF0dXJl" not in text and ACCESS_TOKEN not in text
    assert len(error.body_excerpt) <= 220
