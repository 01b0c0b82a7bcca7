"""Fault injection: every kind observable, per route, deterministic by seed, admin routes."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from magine_async.sandbox import FaultConfig, FaultSpec, Sandbox

from .conftest import Api

NEW_USER = {"email": "fault@example.com", "countryCode": "SE"}


async def test_error_rate_gives_503_with_trace_id(api: Api, sb: Sandbox) -> None:
    sb.faults.route("partner.test").error_rate = 1.0
    status, body = await api.get("/partner/test")
    assert status == 503
    assert body["errorCode"] == "serviceUnavailable"
    assert "Trace ID " in body["messages"][0]
    assert sb.counters.faults["error"] == 1
    assert sb.counters.faults["partner.test:error"] == 1
    assert (await api.get("/partner/viewables", params={"size": "1"}))[0] == 200


async def test_throttle_gives_429_with_retry_after(api: Api, sb: Sandbox) -> None:
    sb.faults.default = FaultSpec(throttle_rate=1.0, retry_after=3)
    async with api.http.get(sb.base_url + "/partner/test", headers=api.headers()) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "3"
        body = await response.json()
    assert body["errorCode"] == "tooManyRequests"


async def test_html_502_as_a_proxy_sends_it(api: Api, sb: Sandbox) -> None:
    sb.faults.route("viewables.list").html502_rate = 1.0
    async with api.http.get(sb.base_url + "/partner/viewables", headers=api.headers()) as response:
        assert response.status == 502
        assert response.content_type == "text/html"
        assert "502 Bad Gateway" in await response.text()


async def test_latency(api: Api, sb: Sandbox) -> None:
    sb.faults.route("partner.test").latency = 0.005
    started = time.perf_counter()
    assert (await api.get("/partner/test"))[0] == 200
    assert time.perf_counter() - started >= 0.005


async def test_reset_after_the_side_effect(api: Api, sb: Sandbox) -> None:
    sb.faults.route("POST /partner/users").script = ["reset"]
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.post("/partner/users", json=NEW_USER)
    assert sb.counters["users.created"] == 1
    assert sb.counters.faults["reset"] == 1
    status, body = await api.post("/partner/users", json=NEW_USER)  # the retry
    assert (status, body["errorCode"]) == (409, "userAlreadyExists")
    assert sb.counters["users.created"] == 1


async def test_reset_before_the_handler(api: Api, sb: Sandbox) -> None:
    sb.faults.route("users.create").script = ["reset_before"]
    with pytest.raises(aiohttp.ClientConnectionError):
        await api.post("/partner/users", json=NEW_USER)
    assert sb.counters["users.created"] == 0
    assert (await api.post("/partner/users", json=NEW_USER))[0] == 201


async def test_truncated_body(api: Api, sb: Sandbox) -> None:
    sb.faults.route("viewables.list").truncate_rate = 1.0
    async with api.http.get(
        sb.base_url + "/partner/viewables", headers=api.headers(), params={"size": "20"}
    ) as response:
        assert response.status == 200
        declared = int(response.headers["Content-Length"])
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert declared > 20 * 1000
    assert sb.counters.faults["truncate"] == 1


async def test_script_fails_twice_then_succeeds(api: Api, sb: Sandbox) -> None:
    sb.faults.route("GET /partner/viewables/{viewableId}").script = ["error", "throttle"]
    first = sb.state.catalogue.doc(0)["id"]
    path = f"/partner/viewables/{first}"
    statuses = [(await api.get(path))[0] for _ in range(3)]
    assert statuses == [503, 429, 200]
    assert (await api.get("/partner/test"))[0] == 200


async def _statuses(api: Api, count: int) -> list[int]:
    return [(await api.get("/partner/test"))[0] for _ in range(count)]


async def test_rates_are_deterministic_by_seed(api: Api, sb: Sandbox) -> None:
    sb.faults.reseed(42)
    sb.faults.default = FaultSpec(error_rate=0.3, throttle_rate=0.2)
    first = await _statuses(api, 40)
    assert {503, 429, 200} <= set(first)
    sb.faults.reseed(42)
    assert await _statuses(api, 40) == first
    sb.faults.reseed(43)
    assert await _statuses(api, 40) != first


def test_fault_config_decisions_follow_the_seed() -> None:
    def run(seed: int) -> list[str | None]:
        config = FaultConfig(
            seed=seed, default=FaultSpec(error_rate=0.25, reset_rate=0.25, jitter=0.01)
        )
        out: list[str | None] = []
        for _ in range(50):
            kind, delay = config.decide("*", config.default)
            assert 0 <= delay <= 0.01
            out.append(kind)
        return out

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert set(run(1)) == {None, "error", "reset"}


def test_fault_config_validation() -> None:
    config = FaultConfig()
    for bad in (
        {"default": {"error_rate": 2}},
        {"default": {"error_rate": 0.6, "throttle_rate": 0.6}},
        {"default": {"nonsense": 1}},
        {"routes": {"x": {"script": ["explode"]}}},
        {"seed": "one"},
        {"extra": 1},
    ):
        with pytest.raises(ValueError, match=r"."):
            config.load(bad)


async def _admin(api: Api, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with api.http.request(method, api.sb.admin_url + path, **kwargs) as response:
        return response.status, await response.json()


async def test_admin_faults_and_counters(api: Api, sb: Sandbox) -> None:
    config = {"seed": 5, "routes": {"GET /api/v1/partner/test": {"error_rate": 1.0}}}
    status, body = await _admin(api, "PUT", "/faults", json=config)
    assert status == 200
    assert body["routes"]["GET /partner/test"]["error_rate"] == 1.0
    assert (await api.get("/partner/test"))[0] == 503
    status, body = await _admin(
        api, "PATCH", "/faults", json={"routes": {"viewables.list": {"throttle_rate": 1.0}}}
    )
    assert set(body["routes"]) == {"GET /partner/test", "viewables.list"}
    assert (await api.get("/partner/viewables"))[0] == 429
    status, body = await _admin(api, "GET", "/counters")
    assert body["faults"] == {
        "error": 1,
        "partner.test:error": 1,
        "throttle": 1,
        "viewables.list:throttle": 1,
    }
    assert body["requests"] == {"partner.test": 1, "viewables.list": 1}
    status, body = await _admin(api, "PUT", "/faults", json={"default": {"error_rate": 5}})
    assert (status, body["errorCode"]) == (400, "invalidFaults")
    status, body = await _admin(api, "DELETE", "/faults")
    assert body["routes"] == {}
    assert (await api.get("/partner/test"))[0] == 200
    status, body = await _admin(api, "DELETE", "/counters")
    assert body["requests"] == {}


async def test_admin_touch_and_clock(api: Api, sb: Sandbox) -> None:
    status, body = await _admin(api, "POST", "/clock/advance", json={"seconds": 30})
    assert body["now"] == sb.clock()
    status, body = await _admin(api, "POST", "/viewables/touch", json={"count": 4})
    assert status == 200
    assert len(body["ids"]) == 4
    changed = await api.scan(modifiedAfter=sb.clock() - 1)
    assert [v["id"] for v in changed] == body["ids"]
    assert sb.counters["viewables.touched"] == 4
    status, body = await _admin(api, "GET", "")
    assert body["viewables"] == 300
