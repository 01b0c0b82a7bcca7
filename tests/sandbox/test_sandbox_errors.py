"""Error bodies everywhere: unknown routes, wrong methods, bad JSON, server errors."""

from __future__ import annotations

import aiohttp
import pytest

from magine_async.sandbox import Sandbox, SandboxClock, _routes_misc
from magine_async.sandbox._context import Route

from .conftest import T0, Api


async def test_unknown_route_is_json_404(
    api: Api, http: aiohttp.ClientSession, sb: Sandbox
) -> None:
    status, body = await api.get("/partner/nothing-here")
    assert status == 404
    assert body["errorCode"] == "notFound"
    async with http.get(sb.root_url + "/elsewhere") as response:
        assert response.status == 404
        assert (await response.json())["errorCode"] == "notFound"


async def test_wrong_method_is_json_405(api: Api, http: aiohttp.ClientSession, sb: Sandbox) -> None:
    async with http.delete(sb.base_url + "/partner/test", headers=api.headers()) as response:
        assert response.status == 405
        assert "GET" in response.headers["Allow"]
        body = await response.json()
    assert body["errorCode"] == "methodNotAllowed"
    assert body["messages"]


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2"])
async def test_bad_json_is_400(api: Api, raw: bytes) -> None:
    status, body = await api.post(
        "/partner/users", data=raw, headers=api.headers() | {"Content-Type": "application/json"}
    )
    assert status == 400
    assert body["errorCode"] == "invalidJson"


async def test_unexpected_failure_is_500_with_trace_id(
    monkeypatch: pytest.MonkeyPatch, http: aiohttp.ClientSession
) -> None:
    async def broken(request: object) -> None:
        raise RuntimeError("boom")

    routes = [Route("partner.test", "GET", "/partner/test", broken), *_routes_misc.ROUTES[1:]]
    monkeypatch.setattr(_routes_misc, "ROUTES", routes)
    from magine_async.sandbox import _app

    patched = [r if r.operation != "partner.test" else routes[0] for r in _app.OPERATIONS]
    monkeypatch.setattr(_app, "OPERATIONS", patched)
    async with Sandbox(clock=SandboxClock(start=T0)) as sb:
        api = Api(sb, http)
        status, body = await api.get("/partner/test")
    assert status == 500
    assert body["errorCode"] == "internalServerError"
    assert "Trace ID " in body["messages"][0]


async def test_all_documented_operations_are_served(sb: Sandbox) -> None:
    from magine_async.sandbox import OPERATIONS

    assert len(OPERATIONS) == 41
    assert len({r.operation for r in OPERATIONS}) == 41
    assert len({(r.method, r.path) for r in OPERATIONS}) == 41
