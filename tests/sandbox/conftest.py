from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import jwt
import pytest

from magine_async.sandbox import Sandbox, SandboxClock

T0 = 1_750_000_000.0  # frozen sandbox time for deterministic tests


def make_jwt(
    private_key_pem: str,
    issuer: str,
    *,
    now: float,
    iat: float | None = None,
    exp: float | None = None,
    **extra: Any,
) -> str:
    """A JWT made the way the doc's Get Started makes one, with PyJWT."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "iat": int(now - 3600 if iat is None else iat),
        "exp": int(now + 86_400 if exp is None else exp),
        **extra,
    }
    return jwt.encode(claims, private_key_pem, algorithm="RS512")


@functools.lru_cache(maxsize=64)
def cached_jwt(private_key_pem: str, issuer: str, now: float) -> str:
    return make_jwt(private_key_pem, issuer, now=now)


class Api:
    """Plain aiohttp calls against a sandbox, with partner or reseller credentials."""

    def __init__(self, sb: Sandbox, http: aiohttp.ClientSession) -> None:
        self.sb = sb
        self.http = http
        now = sb.clock()
        self.partner_token = cached_jwt(sb.private_key_pem, sb.issuer, now)
        self.reseller_token = cached_jwt(sb.reseller_private_key_pem, sb.reseller_issuer, now)

    def headers(self, *, reseller: bool = False, token: str | None = None) -> dict[str, str]:
        token = token or (self.reseller_token if reseller else self.partner_token)
        return {"Magine-AccessToken": self.sb.access_token, "Authorization": f"Bearer {token}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        reseller: bool = False,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        url = self.sb.base_url + path
        async with self.http.request(
            method,
            url,
            headers=headers if headers is not None else self.headers(reseller=reseller),
            **kwargs,
        ) as response:
            raw = await response.read()
            body = await response.json(content_type=None) if raw else None
            return response.status, body

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.call("DELETE", path, **kwargs)

    async def scan(self, path: str = "/partner/viewables", **params: Any) -> list[dict[str, Any]]:
        """Every viewable of a listing, following cursors."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {k: str(v) for k, v in params.items()}
            if cursor:
                query["cursor"] = cursor
            status, body = await self.get(path, params=query)
            assert status == 200, body
            items.extend(body["viewables"])
            cursor = body.get("cursor")
            if not cursor:
                return items


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    clock = SandboxClock(start=T0)
    async with Sandbox(
        viewables=300, users=5, seed=7, clock=clock, subtitle_delay=2.0, transcode_delay=5.0
    ) as started:
        yield started


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def api(sb: Sandbox, http: aiohttp.ClientSession) -> Api:
    return Api(sb, http)
