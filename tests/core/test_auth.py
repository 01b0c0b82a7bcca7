from __future__ import annotations

import asyncio
import time

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from magine_async import (
    AuthenticationError,
    ConfigurationError,
    MagineClient,
    TokenProvider,
    load_private_key,
)

from ..support import (
    ACCESS_TOKEN,
    ISSUER,
    ScriptedServer,
    error_reply,
    pkcs1_pem,
    pkcs8_pem,
    public_pem_via_openssl,
    rsa_key,
)


async def test_thousand_concurrent_calls_sign_once_and_token_verifies(
    server: ScriptedServer,
) -> None:
    key = rsa_key(4096)
    pem = pkcs1_pem(key)
    async with MagineClient(
        access_token=ACCESS_TOKEN, issuer=ISSUER, private_key=pem, base_url=server.base_url
    ) as client:
        results = await asyncio.gather(*(client.test() for _ in range(1000)))
        assert results == ["OK"] * 1000
        assert client.tokens.signings == 1
    assert len(server.seen) == 1000
    bearers = {seen.headers["Authorization"] for seen in server.seen}
    assert len(bearers) == 1
    (bearer,) = bearers
    assert bearer.startswith("Bearer ")
    token = bearer.removeprefix("Bearer ")
    claims = pyjwt.decode(
        token,
        public_pem_via_openssl(pem),
        algorithms=["RS512"],
        issuer=ISSUER,
        options={"require": ["iss", "iat", "exp"]},
    )
    assert pyjwt.get_unverified_header(token)["alg"] == "RS512"
    assert claims["iss"] == ISSUER
    assert 0 < claims["exp"] - claims["iat"] <= 30 * 24 * 3600
    assert claims["iat"] <= time.time() - 29  # backdated by the clock-skew allowance


async def test_every_request_carries_the_documented_headers(
    server: ScriptedServer, client: MagineClient
) -> None:
    await client.test()
    seen = server.seen[0]
    assert seen.method == "GET"
    assert seen.raw_path == "/api/v1/partner/test"
    assert seen.headers["Magine-AccessToken"] == ACCESS_TOKEN
    assert seen.headers["Accept"] == "application/json"
    agent = seen.headers["User-Agent"]
    assert agent.startswith("magine-async/") and " python/3." in agent and " aiohttp/" in agent


def test_ttl_is_capped_at_thirty_days() -> None:
    with pytest.raises(ValueError, match="30 days"):
        TokenProvider(issuer=ISSUER, private_key=pkcs1_pem(rsa_key()), ttl=30 * 24 * 3600 + 1)


async def test_thirty_day_ttl_keeps_exp_within_thirty_days_of_iat() -> None:
    provider = TokenProvider(issuer=ISSUER, private_key=pkcs1_pem(rsa_key()), ttl=30 * 24 * 3600)
    token = await provider.get()
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] <= 30 * 24 * 3600


async def test_token_is_reminted_ahead_of_expiry() -> None:
    now = [1_000_000.0]
    provider = TokenProvider(
        issuer=ISSUER, private_key=pkcs1_pem(rsa_key()), ttl=3600, clock=lambda: now[0]
    )
    first = await provider.get()
    now[0] += 3600 - 7 * 60  # 7 minutes left: more than 10 % of an hour, still cached
    assert await provider.get() == first
    now[0] += 2 * 60  # 5 minutes left: under 10 % of the TTL, so re-minted
    second = await provider.get()
    assert second != first
    assert provider.signings == 2


async def test_concurrent_refresh_is_single_flight() -> None:
    now = [1_000_000.0]
    provider = TokenProvider(
        issuer=ISSUER, private_key=pkcs1_pem(rsa_key()), ttl=600, clock=lambda: now[0]
    )
    await provider.get()
    now[0] += 10_000
    tokens = await asyncio.gather(*(provider.get() for _ in range(200)))
    assert len(set(tokens)) == 1
    assert provider.signings == 2


def test_pkcs1_and_pkcs8_keys_load() -> None:
    key = rsa_key()
    assert load_private_key(pkcs1_pem(key)) is not None
    assert load_private_key(pkcs8_pem(key).decode()) is not None


def test_key_from_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "jwtRS512.key"
    path.write_bytes(pkcs1_pem(rsa_key()))
    assert load_private_key(path) is not None


def test_encrypted_key_is_refused_with_reason() -> None:
    pem = rsa_key().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    with pytest.raises(ConfigurationError, match="encrypted"):
        load_private_key(pem)


def test_non_rsa_key_is_refused_with_reason() -> None:
    with pytest.raises(ConfigurationError, match="RSA"):
        load_private_key(pkcs8_pem(ec.generate_private_key(ec.SECP256R1())))


def test_short_key_is_refused_with_reason() -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ConfigurationError, match="1024 bits is too short"):
        load_private_key(pkcs1_pem(short))


def test_garbage_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_private_key(
            "-----BEGIN RSA PRIVATE KEY-----\nnot-a-key-c2VjcmV0\n-----END RSA PRIVATE KEY-----\n"
        )
    assert "c2VjcmV0" not in str(info.value)


async def test_bad_key_fails_when_the_client_starts(server: ScriptedServer) -> None:
    client = MagineClient(
        access_token=ACCESS_TOKEN,
        issuer=ISSUER,
        private_key=pkcs8_pem(ec.generate_private_key(ec.SECP256R1())),
        base_url=server.base_url,
    )
    with pytest.raises(ConfigurationError, match="RSA"):
        async with client:
            pass
    await client.aclose()
    assert server.seen == []


async def test_401_causes_one_remint_and_one_resend(
    server: ScriptedServer, client: MagineClient
) -> None:
    server.script(error_reply(401, "unauthorized", "token expired"))
    assert await client.test() == "OK"
    assert len(server.seen) == 2
    assert client.tokens.signings == 2  # the rejected token was discarded and a new one signed


async def test_second_401_raises_authentication_error(
    server: ScriptedServer, client: MagineClient
) -> None:
    server.script(
        error_reply(401, "unauthorized", "bad token"),
        error_reply(401, "unauthorized", "bad token"),
    )
    with pytest.raises(AuthenticationError) as info:
        await client.test()
    assert info.value.status == 401
    assert info.value.error_code == "unauthorized"
    assert len(server.seen) == 2


def test_key_loading_skips_the_gil_holding_consistency_check() -> None:
    """Loading must not run OpenSSL's RSA consistency check: for a 4096-bit key it holds the
    GIL for ~280 ms, so even from a worker thread it stalled the event loop (the benchmark
    ``benchmarks/cold_start`` measures the lag). A key whose CRT values were tampered with is
    therefore accepted at load time; the platform rejects its signatures with a 401."""
    numbers = rsa_key().private_numbers()
    tampered = rsa.RSAPrivateNumbers(
        p=numbers.p,
        q=numbers.q,
        d=numbers.d,
        dmp1=numbers.dmp1 ^ 2,
        dmq1=numbers.dmq1,
        iqmp=numbers.iqmp,
        public_numbers=numbers.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    assert load_private_key(pkcs1_pem(tampered)) is not None
