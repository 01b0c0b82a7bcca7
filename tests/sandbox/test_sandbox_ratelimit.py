"""The capacity model: a token bucket per credential (or global), 429 above it.

Deterministic: the sandbox clock is frozen (``conftest.T0``) and moved by the tests; the bucket
refills only when they move it. Times are set absolutely (``freeze(at=T0 + k / rate)``) where
many steps are taken, so float rounding of the clock never accumulates.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from magine_async.sandbox import FaultSpec, RateLimit, Sandbox, SandboxClock
from magine_async.sandbox._cli import build_parser, main, rate_limit_from_args
from magine_async.sandbox._ratelimit import exact_seconds

from .conftest import T0, Api, make_jwt

TEST = "/partner/test"
RESELLER_TEST = "/reseller/test"


@pytest.fixture
async def limited() -> AsyncIterator[Sandbox]:
    """A sandbox at frozen time T0 with 300 requests/s and a burst of 30 per credential."""
    async with Sandbox(
        viewables=20,
        users=3,
        seed=7,
        clock=SandboxClock(start=T0),
        rate_limit=RateLimit(rate=300, burst=30),
    ) as started:
        yield started


@pytest.fixture
async def lapi(limited: Sandbox, http: aiohttp.ClientSession) -> Api:
    return Api(limited, http)


async def _status(api: Api, path: str = TEST, **kwargs: Any) -> int:
    status, _ = await api.get(path, **kwargs)
    return status


async def _raw(api: Api, method: str, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
    """One request; the response (read) with its headers."""
    async with api.http.request(
        method, api.sb.base_url + path, headers=kwargs.pop("headers", api.headers()), **kwargs
    ) as response:
        await response.read()
        return response


async def _admin(api: Api, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with api.http.request(method, api.sb.admin_url + path, **kwargs) as response:
        return response.status, await response.json()


# -- the RateLimit value -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": -1}, "rate"),
        ({"rate": float("inf")}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"rate": True}, "rate"),
        ({"rate": "300"}, "rate"),
        ({"rate": 10, "burst": 0.5}, "burst"),
        ({"rate": 10, "burst": float("inf")}, "burst"),
        ({"rate": 10, "retry_after": -1}, "retry_after"),
        ({"rate": 10, "retry_after": "soon"}, "retry_after"),
        ({"rate": 10, "retry_after": float("nan")}, "retry_after"),
        ({"rate": 10, "scope": "user"}, "scope"),
        ({"rate": 10, "methods": "reads"}, "methods"),
        ({"rate": 10, "queue": 1}, "queue"),
        ({"rate": 10, "queue": True, "max_queue": -1}, "max_queue"),
        ({"rate": 10, "max_queue": 5}, "max_queue"),
    ],
)
def test_invalid_settings_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RateLimit(**kwargs)


def test_defaults_and_dict_round_trip() -> None:
    limit = RateLimit(rate=300)
    assert (limit.burst, limit.retry_after, limit.scope, limit.methods) == (
        300.0,
        1,
        "credential",
        "all",
    )
    assert RateLimit(rate=0.5).burst == 1.0  # at least one token
    custom = RateLimit(rate=50, burst=5, retry_after="exact", scope="global", methods="writes")
    assert RateLimit.from_dict(custom.to_dict()) == custom
    assert "writes only" in custom.describe() and "global" in custom.describe()
    with pytest.raises(ValueError, match="unknown rate limit settings: speed"):
        RateLimit.from_dict({"rate": 1, "speed": 2})
    with pytest.raises(ValueError, match="rate is required"):
        RateLimit.from_dict({"burst": 2})
    with pytest.raises(AttributeError):
        limit.rate = 5  # type: ignore[misc]  # frozen


def test_exact_seconds_rounds_up_to_the_microsecond() -> None:
    assert exact_seconds(1 / 300) == "0.003334"
    assert exact_seconds(0.25) == "0.25"
    assert exact_seconds(2.0) == "2"
    assert exact_seconds(0.0) == "0"
    assert exact_seconds(-1.0) == "0"


# -- admission -----------------------------------------------------------------------------


async def test_burst_then_steady_admission_at_exactly_the_rate(lapi: Api, limited: Sandbox) -> None:
    statuses = [await _status(lapi) for _ in range(31)]
    assert statuses == [200] * 30 + [429]
    for k in range(1, 61):  # 60 token periods of 1/300 s: one request each, not two
        limited.clock.freeze(at=T0 + k / 300)
        assert await _status(lapi) == 200, k
        assert await _status(lapi) == 429, k
    limited.clock.freeze(at=T0 + 61 / 300 - 1 / 600)  # half a token: not yet
    assert await _status(lapi) == 429
    limited.clock.advance(1 / 600)
    assert await _status(lapi) == 200
    assert limited.counters.rate_limit["admitted"] == 30 + 60 + 1
    assert limited.counters.rate_limit["throttled"] == 1 + 60 + 1


async def test_an_idle_bucket_holds_at_most_the_burst(lapi: Api, limited: Sandbox) -> None:
    for _ in range(30):
        assert await _status(lapi) == 200
    limited.clock.advance(3600)
    statuses = [await _status(lapi) for _ in range(32)]
    assert statuses == [200] * 30 + [429, 429]


async def test_429_body_and_default_retry_after(lapi: Api, limited: Sandbox) -> None:
    for _ in range(30):
        await _status(lapi)
    response = await _raw(lapi, "GET", TEST)
    assert response.status == 429
    assert response.content_type == "application/json"
    assert response.headers["Retry-After"] == "1"
    assert await response.json() == {
        "errorCode": "tooManyRequests",
        "messages": ["Rate limit exceeded: 300 requests/s per credential."],
    }
    assert limited.counters.responses["partner.test 429"] == 1


@pytest.mark.parametrize(("retry_after", "header"), [(None, None), (2, "2"), (0.5, "0.5")])
async def test_fixed_or_no_retry_after(
    lapi: Api, limited: Sandbox, retry_after: float | None, header: str | None
) -> None:
    limited.rate_limit = RateLimit(rate=10, burst=1, retry_after=retry_after)
    assert (await _raw(lapi, "GET", TEST)).status == 200
    response = await _raw(lapi, "GET", TEST)
    assert response.status == 429
    assert response.headers.get("Retry-After") == header


async def test_exact_retry_after_is_the_time_to_the_next_token(lapi: Api, limited: Sandbox) -> None:
    limited.rate_limit = RateLimit(rate=300, burst=2, retry_after="exact")
    for _ in range(2):
        assert await _status(lapi) == 200
    response = await _raw(lapi, "GET", TEST)
    assert (response.status, response.headers["Retry-After"]) == (429, "0.003334")
    limited.clock.advance(0.001)  # part of the token is back
    response = await _raw(lapi, "GET", TEST)
    header = response.headers["Retry-After"]
    assert header == exact_seconds(1 / 300 - 0.001) == "0.002334"
    limited.clock.advance(float(header))  # waiting as long as told is enough
    assert await _status(lapi) == 200
    limited.rate_limit = RateLimit(rate=4, burst=1, retry_after="exact")
    assert await _status(lapi) == 200
    assert (await _raw(lapi, "GET", TEST)).headers["Retry-After"] == "0.25"


async def test_the_configured_latency_applies_to_429s(lapi: Api, limited: Sandbox) -> None:
    limited.rate_limit = RateLimit(rate=1, burst=1)
    limited.faults.default = FaultSpec(latency=0.03)
    assert await _status(lapi) == 200
    started = time.perf_counter()
    assert await _status(lapi) == 429
    assert time.perf_counter() - started >= 0.03


async def test_faults_before_the_platform_take_no_token(lapi: Api, limited: Sandbox) -> None:
    limited.rate_limit = RateLimit(rate=1, burst=1)
    limited.faults.route("partner.test").script = ["error", "throttle"]
    assert await _status(lapi) == 503  # injected, never reached the bucket
    assert await _status(lapi) == 429  # the injected throttle fault
    assert limited.counters.faults["throttle"] == 1
    assert limited.counters.rate_limit["throttled"] == 0
    assert await _status(lapi) == 200  # the token is still there
    assert await _status(lapi) == 429
    assert limited.counters.rate_limit["throttled"] == 1


async def test_bad_credentials_are_401_and_take_no_token(lapi: Api, limited: Sandbox) -> None:
    limited.rate_limit = RateLimit(rate=1, burst=1)
    bad = {"Magine-AccessToken": "wrong", "Authorization": f"Bearer {lapi.partner_token}"}
    for _ in range(3):
        assert await _status(lapi, headers=bad) == 401
    reseller_on_partner = lapi.headers(reseller=True)
    assert await _status(lapi, headers=reseller_on_partner) == 401
    assert limited.counters.rate_limit == {}
    assert limited.rate_limiter.tokens() == {}
    assert await _status(lapi) == 200


# -- scope and methods ---------------------------------------------------------------------


async def test_credential_scope_keeps_a_bucket_per_issuer(lapi: Api, limited: Sandbox) -> None:
    limited.rate_limit = RateLimit(rate=1, burst=2)
    assert [await _status(lapi) for _ in range(3)] == [200, 200, 429]
    reseller = [await _status(lapi, RESELLER_TEST, reseller=True) for _ in range(3)]
    assert reseller == [200, 200, 429]
    pair = limited.add_reseller("other-reseller", "reseller-2")
    token = make_jwt(pair.private_pem, "other-reseller", now=limited.clock())
    other = lapi.headers(token=token)
    assert [await _status(lapi, RESELLER_TEST, headers=other) for _ in range(3)] == [
        200,
        200,
        429,
    ]
    tokens = limited.rate_limiter.tokens()
    assert set(tokens) == {limited.issuer, limited.reseller_issuer, "other-reseller"}
    assert all(abs(value) < 1e-9 for value in tokens.values())


async def test_global_scope_shares_one_bucket(lapi: Api, limited: Sandbox) -> None:
    limited.rate_limit = RateLimit(rate=1, burst=2, scope="global")
    assert await _status(lapi) == 200
    assert await _status(lapi, RESELLER_TEST, reseller=True) == 200
    assert await _status(lapi) == 429
    assert await _status(lapi, RESELLER_TEST, reseller=True) == 429
    response = await _raw(lapi, "GET", TEST)
    assert (await response.json())["messages"] == ["Rate limit exceeded: 1 requests/s in total."]
    assert set(limited.rate_limiter.tokens()) == {"*"}


async def test_writes_only(lapi: Api, limited: Sandbox) -> None:
    limited.rate_limit = RateLimit(rate=1, burst=1, methods="writes")
    for _ in range(5):
        assert await _status(lapi) == 200  # reads are not limited, nor counted
    user = {"email": "writes-1@example.com", "countryCode": "SE"}
    assert (await lapi.post("/partner/users", json=user))[0] == 201
    status, body = await lapi.post(
        "/partner/users", json={"email": "writes-2@example.com", "countryCode": "SE"}
    )
    assert (status, body["errorCode"]) == (429, "tooManyRequests")
    assert await _status(lapi, "/partner/viewables") == 200
    assert dict(limited.counters.rate_limit) == {
        "admitted": 1,
        "users.create:admitted": 1,
        "throttled": 1,
        "users.create:throttled": 1,
    }


# -- no side effect, counters, runtime changes ---------------------------------------------


async def test_a_throttled_write_has_no_side_effect(lapi: Api, limited: Sandbox) -> None:
    limited.rate_limit = RateLimit(rate=1, burst=1)
    users_before = dict(limited.state.users)
    status, created = await lapi.post(
        "/partner/users", json={"email": "first@example.com", "countryCode": "SE"}
    )
    assert status == 201
    effects = dict(limited.counters.effects)
    users = dict(limited.state.users)
    assert len(users) == len(users_before) + 1
    status, body = await lapi.post(
        "/partner/users", json={"email": "second@example.com", "countryCode": "SE"}
    )
    assert (status, body["errorCode"]) == (429, "tooManyRequests")
    user_id = created["userId"]
    status, _ = await lapi.delete(f"/partner/users/{user_id}")
    assert status == 429
    assert dict(limited.state.users) == users
    assert dict(limited.counters.effects) == effects
    assert limited.counters["users.created"] == 1
    assert limited.counters.responses["users.create 429"] == 1
    assert limited.counters.responses["users.delete 429"] == 1


async def test_counters_per_operation_and_over_admin(lapi: Api, limited: Sandbox) -> None:
    limited.rate_limit = RateLimit(rate=1, burst=2)
    assert await _status(lapi) == 200
    assert await _status(lapi, "/partner/viewables") == 200
    assert await _status(lapi, "/partner/viewables") == 429
    expected = {
        "admitted": 2,
        "partner.test:admitted": 1,
        "throttled": 1,
        "viewables.list:admitted": 1,
        "viewables.list:throttled": 1,
    }
    assert dict(limited.counters.rate_limit) == expected
    assert limited.counters["rate_limit.admitted"] == 2
    assert limited.counters["rate_limit.throttled"] == 1
    assert limited.counters["rate_limit.viewables.list:throttled"] == 1
    status, body = await _admin(lapi, "GET", "/counters")
    assert body["rate_limit"] == expected
    await _admin(lapi, "DELETE", "/counters")
    assert limited.counters.rate_limit == {}
    status, body = await _admin(lapi, "GET", "/counters")
    assert status == 200
    assert body["rate_limit"] == {}  # present (empty) while a limit is configured
    limited.rate_limit = None
    _, body = await _admin(lapi, "GET", "/counters")
    assert "rate_limit" not in body


async def test_change_and_remove_at_runtime(lapi: Api, limited: Sandbox) -> None:
    for _ in range(30):
        assert await _status(lapi) == 200
    assert await _status(lapi) == 429
    limited.rate_limit = None
    assert limited.rate_limit is None
    assert [await _status(lapi) for _ in range(40)] == [200] * 40
    limited.rate_limit = RateLimit(rate=1, burst=3)  # fresh buckets, full
    assert [await _status(lapi) for _ in range(4)] == [200, 200, 200, 429]
    with pytest.raises(TypeError):
        limited.rate_limit = {"rate": 1}  # type: ignore[assignment]
    assert "rate_limit=1/s" in repr(limited)


async def test_admin_rate_limit_routes(lapi: Api, limited: Sandbox) -> None:
    status, body = await _admin(lapi, "GET", "/rate-limit")
    assert status == 200
    assert body["rateLimit"] == RateLimit(rate=300, burst=30).to_dict()
    assert body["waiting"] == 0
    status, body = await _admin(lapi, "PUT", "/rate-limit", json={"rate": 2, "burst": 1})
    assert (status, body["rateLimit"]["rate"], body["rateLimit"]["burst"]) == (200, 2, 1)
    assert limited.rate_limit == RateLimit(rate=2, burst=1)
    assert await _status(lapi) == 200
    assert await _status(lapi) == 429
    status, body = await _admin(lapi, "GET", "/rate-limit")
    assert abs(body["tokens"][limited.issuer]) < 1e-9
    status, body = await _admin(lapi, "PATCH", "/rate-limit", json={"retry_after": "exact"})
    assert limited.rate_limit == RateLimit(rate=2, burst=1, retry_after="exact")
    status, body = await _admin(lapi, "PUT", "/rate-limit", json={"rate": 0})
    assert (status, body["errorCode"]) == (400, "invalidRateLimit")
    assert "rate must be" in body["messages"][0]
    status, body = await _admin(lapi, "PUT", "/rate-limit", json={"rate": 1, "speed": 1})
    assert (status, body["errorCode"]) == (400, "invalidRateLimit")
    status, body = await _admin(lapi, "DELETE", "/rate-limit")
    assert (status, body["rateLimit"]) == (200, None)
    assert limited.rate_limit is None
    status, body = await _admin(lapi, "PATCH", "/rate-limit", json={"burst": 4})
    assert (status, body["errorCode"]) == (400, "invalidRateLimit")  # no rate to patch
    status, body = await _admin(lapi, "PATCH", "/rate-limit", json={"rate": 5})
    assert body["rateLimit"]["burst"] == 5


async def test_no_rate_limit_by_default(api: Api, sb: Sandbox) -> None:
    assert sb.rate_limit is None
    assert [await _status(api) for _ in range(50)] == [200] * 50
    assert sb.counters.rate_limit == {}
    assert "rate_limit" not in sb.counters.snapshot()


@pytest.mark.sandbox(viewables=5, rate_limit=RateLimit(rate=1, burst=1))
async def test_pytest_plugin_marker(sandbox: Sandbox) -> None:
    assert sandbox.rate_limit == RateLimit(rate=1, burst=1)


# -- overload mode -------------------------------------------------------------------------


async def test_overload_queues_then_503s_past_the_depth(lapi: Api, limited: Sandbox) -> None:
    limited.rate_limit = RateLimit(rate=20, burst=1, queue=True, max_queue=1)
    assert await _status(lapi) == 200
    started = time.perf_counter()
    statuses = await asyncio.gather(_status(lapi), _status(lapi))
    assert sorted(statuses) == [200, 503]  # one waits for its token, one finds the queue full
    assert time.perf_counter() - started >= 0.05 - 0.005  # 1/20 s for the next token
    counts = limited.counters.rate_limit
    assert (counts["admitted"], counts["queued"], counts["overloaded"]) == (2, 1, 1)
    assert counts["partner.test:overloaded"] == 1
    assert limited.rate_limiter.waiting == 0
    # the bucket is in debt by the reserved token: the next waits longer (latency grows)
    assert limited.rate_limiter.tokens()[limited.issuer] == pytest.approx(-1.0)


async def test_overload_503_body(lapi: Api, limited: Sandbox) -> None:
    limited.rate_limit = RateLimit(rate=1000, burst=1, queue=True, max_queue=0)
    assert await _status(lapi) == 200
    status, body = await lapi.get(TEST)
    assert (status, body["errorCode"]) == (503, "serviceUnavailable")
    assert "Trace ID " in body["messages"][0]


# -- command line --------------------------------------------------------------------------


def test_cli_options_make_a_rate_limit() -> None:
    parser = build_parser()
    assert rate_limit_from_args(parser.parse_args([])) is None
    args = parser.parse_args(
        [
            "--rate-limit",
            "300",
            "--rate-burst",
            "30",
            "--retry-after",
            "exact",
            "--rate-scope",
            "global",
            "--rate-methods",
            "writes",
        ]
    )
    assert rate_limit_from_args(args) == RateLimit(
        rate=300, burst=30, retry_after="exact", scope="global", methods="writes"
    )
    none = rate_limit_from_args(parser.parse_args(["--rate-limit", "5", "--retry-after", "none"]))
    assert none == RateLimit(rate=5, retry_after=None)
    queue = parser.parse_args(["--rate-limit", "5", "--rate-queue", "--max-queue", "8"])
    assert rate_limit_from_args(queue) == RateLimit(rate=5, queue=True, max_queue=8)
    with pytest.raises(ValueError, match="--rate-burst needs --rate-limit"):
        rate_limit_from_args(parser.parse_args(["--rate-burst", "5"]))


def test_cli_rejects_bad_rate_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--rate-limit", "0"]) == 2
    assert "rate must be" in capsys.readouterr().err
    assert main(["--rate-scope", "global"]) == 2
    assert "--rate-scope needs --rate-limit" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--rate-limit", "5", "--retry-after", "later"])
    assert exc.value.code == 2


def _read(path: Path) -> str:
    return path.read_text()


async def test_cli_serves_with_a_rate_limit(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "magine_async.sandbox",
        "--port",
        "0",
        "--viewables",
        "5",
        "--key-dir",
        str(tmp_path),
        "--rate-limit",
        "0.5",
        "--rate-burst",
        "1",
        "--retry-after",
        "exact",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        info = json.loads(await process.stdout.readline())
        assert info["rate_limit"] == RateLimit(rate=0.5, burst=1, retry_after="exact").to_dict()
        private = _read(Path(info["private_key_file"]))
        token = make_jwt(private, info["issuer"], now=time.time())
        headers = {"Magine-AccessToken": info["access_token"], "Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as http:
            async with http.get(info["base_url"] + TEST, headers=headers) as response:
                assert response.status == 200
            async with http.get(info["base_url"] + TEST, headers=headers) as response:
                assert response.status == 429
                assert 0 < float(response.headers["Retry-After"]) <= 2
    finally:
        process.terminate()
        await process.wait()


def test_magine_async_sandbox_banner_names_the_rate_limit(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("magine-async")
    if not script.exists():
        pytest.skip("the magine-async script is not installed next to this Python")
    process = subprocess.Popen(
        [
            str(script),
            "sandbox",
            "--port",
            "0",
            "--viewables",
            "5",
            "--key-dir",
            str(tmp_path),
            "--rate-limit",
            "300",
            "--rate-burst",
            "30",
            "--rate-methods",
            "writes",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.strip().startswith("rate limit"):
                break
        banner = "".join(lines)
        assert "running" in banner
        assert (
            "rate limit                 300 requests/s, burst 30, per credential, writes only, "
            "Retry-After 1" in banner
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
