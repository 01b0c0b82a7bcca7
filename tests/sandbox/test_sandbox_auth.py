"""Authentication: access token + RS512 JWT checked per request, 401 with an error body."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from magine_async.sandbox import Sandbox

from .conftest import Api, make_jwt

DAY = 86_400


def _other_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def _assert_401(status: int, body: Any) -> None:
    assert status == 401
    assert set(body) == {"errorCode", "messages"}
    assert body["errorCode"] == "unauthorized"
    assert body["messages"]
    assert all(isinstance(m, str) for m in body["messages"])


async def test_get_started_token_is_accepted(api: Api) -> None:
    assert await api.get("/partner/test") == (200, "OK")
    assert await api.get("/reseller/test", reseller=True) == (200, "OK")


async def test_token_signed_by_another_key(api: Api, sb: Sandbox) -> None:
    token = make_jwt(_other_key_pem(), sb.issuer, now=sb.clock())
    _assert_401(*await api.get("/partner/test", headers=api.headers(token=token)))


async def test_wrong_issuer(api: Api, sb: Sandbox) -> None:
    token = make_jwt(sb.private_key_pem, "someone-else", now=sb.clock())
    _assert_401(*await api.get("/partner/test", headers=api.headers(token=token)))


async def test_partner_key_with_reseller_issuer(api: Api, sb: Sandbox) -> None:
    token = make_jwt(sb.private_key_pem, sb.reseller_issuer, now=sb.clock())
    _assert_401(*await api.get("/reseller/test", headers=api.headers(token=token)))


async def test_expired_token(api: Api, sb: Sandbox) -> None:
    now = sb.clock()
    token = make_jwt(sb.private_key_pem, sb.issuer, now=now, iat=now - 2 * DAY, exp=now - 1)
    _assert_401(*await api.get("/partner/test", headers=api.headers(token=token)))


async def test_lifetime_over_30_days(api: Api, sb: Sandbox) -> None:
    now = sb.clock()
    token = make_jwt(sb.private_key_pem, sb.issuer, now=now, iat=now - 60, exp=now - 60 + 31 * DAY)
    _assert_401(*await api.get("/partner/test", headers=api.headers(token=token)))
    at_limit = make_jwt(
        sb.private_key_pem, sb.issuer, now=now, iat=now - 60, exp=now - 60 + 30 * DAY
    )
    assert (await api.get("/partner/test", headers=api.headers(token=at_limit)))[0] == 200


async def test_missing_access_token(api: Api) -> None:
    headers = api.headers()
    del headers["Magine-AccessToken"]
    _assert_401(*await api.get("/partner/test", headers=headers))


async def test_wrong_access_token(api: Api) -> None:
    headers = api.headers() | {"Magine-AccessToken": "not-the-token"}
    _assert_401(*await api.get("/partner/test", headers=headers))


async def test_missing_authorization(api: Api) -> None:
    headers = api.headers()
    del headers["Authorization"]
    _assert_401(*await api.get("/partner/test", headers=headers))


@pytest.mark.parametrize("value", ["Basic abc", "Bearer", "Bearer not.a.jwt", "Bearer x"])
async def test_malformed_authorization(api: Api, value: str) -> None:
    headers = api.headers() | {"Authorization": value}
    _assert_401(*await api.get("/partner/test", headers=headers))


async def test_other_algorithm_is_refused(api: Api, sb: Sandbox) -> None:
    import jwt

    now = sb.clock()
    token = jwt.encode(
        {"iss": sb.issuer, "iat": int(now), "exp": int(now + 60)},
        sb.private_key_pem,
        algorithm="RS256",
    )
    _assert_401(*await api.get("/partner/test", headers=api.headers(token=token)))


async def test_roles_are_separate(api: Api) -> None:
    _assert_401(*await api.get("/reseller/test"))
    _assert_401(*await api.get("/partner/test", reseller=True))
    _assert_401(*await api.get("/partner/viewables", reseller=True))


async def test_cached_token_still_expires(api: Api, sb: Sandbox) -> None:
    now = sb.clock()
    token = make_jwt(sb.private_key_pem, sb.issuer, now=now, iat=now - 10, exp=now + 30)
    headers = api.headers(token=token)
    assert (await api.get("/partner/test", headers=headers))[0] == 200
    assert (await api.get("/partner/test", headers=headers))[0] == 200
    sb.clock.advance(31)
    _assert_401(*await api.get("/partner/test", headers=headers))


async def test_make_token_helper(api: Api, sb: Sandbox) -> None:
    status, _ = await api.get("/partner/test", headers=sb.headers())
    assert status == 200
    status, _ = await api.get("/reseller/test", headers=sb.headers(reseller=True))
    assert status == 200


async def test_admin_routes_need_no_auth(api: Api, sb: Sandbox) -> None:
    async with api.http.get(sb.admin_url + "/counters") as response:
        assert response.status == 200
        body = await response.json()
    assert set(body) == {"requests", "effects", "faults", "responses"}
