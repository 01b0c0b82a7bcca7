"""The sandbox itself, over raw HTTP: cookies, headers, status codes and error bodies."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from magine_async.sandbox._jay import JaySandbox, jay_routes

from .conftest import fixed_clock

NAME = "__Secure-jay_tracking"
URL_PATH = "/playouts/tracking/session"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # These are 2025-08-04's routes (test_versions covers 2025-09-02's).
    headers = {"X-API-Version": "2025-08-04"}
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), headers=headers
    ) as session:
        yield session


async def _create(
    jay: JaySandbox, http: aiohttp.ClientSession, query: str = ""
) -> tuple[str, dict[str, object]]:
    async with http.post(jay.base_url + URL_PATH + query, headers={"X-API-Key": jay.api_key}) as r:
        assert r.status == 200
        cookies = r.headers.getall("Set-Cookie")
        assert len(cookies) == 1
        value = r.headers[NAME]
        assert cookies[0] == f"{NAME}={value}; Secure; HttpOnly; Path=/"
        body = await r.json()
    return value, body


async def test_create_sets_cookie_and_header(jay: JaySandbox, http: aiohttp.ClientSession) -> None:
    value, body = await _create(jay, http, "?user_id=user-1")
    assert json.loads(base64.b64decode(value)) == body
    assert body["user_id"] == "user-1"
    assert body["start_time"] == "2023-11-14T22:13:20.123456"
    assert set(body) == {"session_id", "start_time", "source", "user_id"}


@pytest.mark.parametrize(
    "carrier",
    [
        lambda v: {"Cookie": f"{NAME}={v}"},
        lambda v: {"Cookie": f"other=1; {NAME}={v}; more=2"},
        lambda v: {NAME: f"{NAME}={v}"},
        lambda v: {NAME: v},
    ],
    ids=["cookie", "cookie-among-others", "header-doc-form", "header-bare"],
)
async def test_get_and_delete_accept_cookie_or_header(
    jay: JaySandbox, http: aiohttp.ClientSession, carrier: object
) -> None:
    value, body = await _create(jay, http)
    headers = {"X-API-Key": jay.api_key, **carrier(value)}  # type: ignore[operator]
    async with http.get(jay.base_url + URL_PATH, headers=headers) as r:
        assert r.status == 200
        assert await r.json() == body
    async with http.delete(jay.base_url + URL_PATH, headers=headers) as r:
        assert r.status == 200
        assert await r.json() == {"message": "Tracking session deleted"}
        expired = r.headers["Set-Cookie"]
        assert expired.startswith(f'{NAME}=""')
        assert "Max-Age=0" in expired
        assert "expires=Thu, 01 Jan 1970 00:00:00 GMT" in expired


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize(
    "headers",
    [{}, {NAME: "garbage"}, {"Cookie": f"{NAME}=Zm9v"}, {"Cookie": "other=1"}],
    ids=["missing", "bad-header", "bad-cookie", "other-cookie"],
)
async def test_missing_or_invalid_session_is_400(
    jay: JaySandbox, http: aiohttp.ClientSession, method: str, headers: dict[str, str]
) -> None:
    async with http.request(
        method, jay.base_url + URL_PATH, headers={"X-API-Key": jay.api_key, **headers}
    ) as r:
        assert r.status == 400
        assert await r.json() == {"detail": "Invalid or missing tracking session"}
        assert r.headers["X-API-Version"] == "2025-08-04"


@pytest.mark.parametrize(("key", "detail"), [(None, "Missing API key"), ("no", "Invalid API key")])
@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
async def test_api_key_is_required(
    jay: JaySandbox, http: aiohttp.ClientSession, key: str | None, detail: str, method: str
) -> None:
    headers = {} if key is None else {"X-API-Key": key}
    async with http.request(method, jay.base_url + URL_PATH, headers=headers) as r:
        assert r.status == 401
        text = await r.text()
        assert json.loads(text) == {"detail": detail}
        assert jay.api_key not in text


async def test_version_is_answered(http: aiohttp.ClientSession) -> None:
    async with JaySandbox(clock=fixed_clock, versions=("2024-01-01", "2025-08-04")) as jay:
        url = jay.base_url + URL_PATH
        for asked, answered in [
            (None, "2025-08-04"),
            ("2024-01-01", "2024-01-01"),
            ("2025-08-04", "2025-08-04"),
            ("3000-01-01", "2025-08-04"),
        ]:
            headers = {"X-API-Key": jay.api_key}
            if asked is not None:
                headers["X-API-Version"] = asked
            async with http.post(url, headers=headers) as r:
                assert r.headers["X-API-Version"] == answered


async def test_routes_are_relative_to_any_mount_point(http: aiohttp.ClientSession) -> None:
    root = web.Application()
    root.add_subapp("/elsewhere", jay_routes("k-123456", clock=fixed_clock))
    runner = web.AppRunner(root, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/elsewhere{URL_PATH}"
        async with http.post(url, headers={"X-API-Key": "k-123456"}) as r:
            assert r.status == 200
    finally:
        await runner.cleanup()


def test_jay_routes_refuses_empty_key() -> None:
    with pytest.raises(ValueError, match="api_key"):
        jay_routes("")


async def test_sandbox_repr_hides_key() -> None:
    async with JaySandbox() as jay:
        assert jay.api_key.startswith("jay-sandbox-")
        assert jay.api_key not in repr(jay)
        assert jay.base_url.startswith("http://127.0.0.1:")
