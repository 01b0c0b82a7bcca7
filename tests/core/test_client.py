from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from magine_async import ClientClosedError, ConfigurationError, MagineClient, ValidationError

from ..support import ACCESS_TOKEN, ISSUER, ScriptedServer, pkcs1_pem, rsa_key

ENV = (
    "MAGINE_ACCESS_TOKEN",
    "MAGINE_ISSUER",
    "MAGINE_PRIVATE_KEY",
    "MAGINE_PRIVATE_KEY_FILE",
    "MAGINE_BASE_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("missing", "env"),
    [("access_token", "MAGINE_ACCESS_TOKEN"), ("issuer", "MAGINE_ISSUER")],
)
def test_missing_setting_names_argument_and_env_var(missing: str, env: str) -> None:
    settings: dict[str, object] = {
        "access_token": ACCESS_TOKEN,
        "issuer": ISSUER,
        "private_key": pkcs1_pem(rsa_key()),
    }
    del settings[missing]
    with pytest.raises(ConfigurationError) as info:
        MagineClient(**settings)  # type: ignore[arg-type]
    assert missing in str(info.value) and env in str(info.value)


def test_missing_private_key_names_both_env_vars() -> None:
    with pytest.raises(ConfigurationError) as info:
        MagineClient(access_token=ACCESS_TOKEN, issuer=ISSUER)
    message = str(info.value)
    assert "private_key" in message
    assert "MAGINE_PRIVATE_KEY" in message and "MAGINE_PRIVATE_KEY_FILE" in message


async def test_settings_from_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: ScriptedServer
) -> None:
    key_file = tmp_path / "jwtRS512.key"
    key_file.write_bytes(pkcs1_pem(rsa_key()))
    monkeypatch.setenv("MAGINE_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv("MAGINE_ISSUER", ISSUER)
    monkeypatch.setenv("MAGINE_PRIVATE_KEY_FILE", str(key_file))
    monkeypatch.setenv("MAGINE_BASE_URL", server.base_url)
    async with MagineClient() as client:
        assert await client.test() == "OK"
    assert server.seen[0].headers["Magine-AccessToken"] == ACCESS_TOKEN


def test_default_base_url() -> None:
    client = MagineClient(
        access_token=ACCESS_TOKEN, issuer=ISSUER, private_key=pkcs1_pem(rsa_key())
    )
    assert client.base_url == "https://platform-api.magine.com/api/v1"


@pytest.mark.parametrize("url", ["http://platform.example.com/api/v1", "http://10.0.0.5/api/v1"])
def test_plain_http_refused_for_remote_hosts(url: str) -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        MagineClient(
            access_token=ACCESS_TOKEN, issuer=ISSUER, private_key=pkcs1_pem(rsa_key()), base_url=url
        )
    client = MagineClient(
        access_token=ACCESS_TOKEN,
        issuer=ISSUER,
        private_key=pkcs1_pem(rsa_key()),
        base_url=url,
        allow_insecure_http=True,
    )
    assert client.base_url == url


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/api/v1", "http://localhost/api/v1", "http://[::1]:9/api/v1"]
)
def test_plain_http_allowed_for_loopback(url: str) -> None:
    client = MagineClient(
        access_token=ACCESS_TOKEN, issuer=ISSUER, private_key=pkcs1_pem(rsa_key()), base_url=url
    )
    assert client.base_url.startswith("http://")


def test_access_token_with_newline_is_refused_without_echo() -> None:
    with pytest.raises(ValidationError) as info:
        MagineClient(
            access_token="abc\r\nX-Evil: 1", issuer=ISSUER, private_key=pkcs1_pem(rsa_key())
        )
    assert "X-Evil" not in str(info.value)
    assert info.value.field == "access_token"


def test_repr_shows_no_secrets() -> None:
    pem = pkcs1_pem(rsa_key())
    client = MagineClient(access_token=ACCESS_TOKEN, issuer=ISSUER, private_key=pem)
    text = repr(client) + repr(client.tokens)
    assert ACCESS_TOKEN not in text and "PRIVATE KEY" not in text


async def test_closed_client_raises_clear_error(client: MagineClient) -> None:
    await client.aclose()
    await client.aclose()  # idempotent
    with pytest.raises(ClientClosedError, match="closed"):
        await client.test()


async def test_aclose_with_requests_in_flight_ends_them_cleanly(
    server: ScriptedServer, client: MagineClient
) -> None:
    release = asyncio.Event()
    arrived = 0

    async def hold(request: object) -> aiohttp.web.Response:
        nonlocal arrived
        arrived += 1
        await release.wait()
        return aiohttp.web.Response(text='"OK"')

    server.default = hold
    tasks = [asyncio.create_task(client.test()) for _ in range(20)]
    while arrived < 20:
        await asyncio.sleep(0.01)
    await client.aclose()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    release.set()
    assert all(isinstance(result, ClientClosedError) for result in results), results


async def test_borrowed_session_is_not_closed(server: ScriptedServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with MagineClient(
            access_token=ACCESS_TOKEN,
            issuer=ISSUER,
            private_key=pkcs1_pem(rsa_key()),
            base_url=server.base_url,
            session=session,
        ) as client:
            assert await client.test() == "OK"
        assert not session.closed
        async with session.get(server.base_url + "/partner/test") as response:
            assert response.status == 200


async def test_owned_pool_settings(client: MagineClient) -> None:
    session = client._transport.session()
    connector = session.connector
    assert isinstance(connector, aiohttp.TCPConnector)
    assert connector.limit == 100 and connector.limit_per_host == 100


async def test_read_timeout_ends_a_stalled_answer(server: ScriptedServer) -> None:
    from magine_async import RetryPolicy, Timeouts
    from magine_async import TimeoutError as MagineTimeout

    never = asyncio.Event()

    async def stall(request: object) -> aiohttp.web.Response:
        await never.wait()
        return aiohttp.web.Response(text='"late"')

    server.default = stall
    async with MagineClient(
        access_token=ACCESS_TOKEN,
        issuer=ISSUER,
        private_key=pkcs1_pem(rsa_key()),
        base_url=server.base_url,
        timeouts=Timeouts(connect=5, read=0.05, total=30),
        retry=RetryPolicy.disabled(),
    ) as client:
        with pytest.raises(MagineTimeout) as info:
            await client.test()
    never.set()
    assert info.value.request_sent
    assert "timeout" in str(info.value)
