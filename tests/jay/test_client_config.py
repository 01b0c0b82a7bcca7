from __future__ import annotations

import aiohttp
import pytest

from magine_async import ClientClosedError, ConfigurationError, ValidationError
from magine_async.jay import DEFAULT_API_VERSION, DEFAULT_BASE_URL, PlayoutClient
from magine_async.sandbox._jay import JaySandbox

KEY = "jay-config-key-5a4b3c2d"


def test_defaults_reach_production() -> None:
    client = PlayoutClient(api_key=KEY)
    assert client.base_url == DEFAULT_BASE_URL == "https://live.playout.api.jay-metadata.com/v1"
    assert client.api_version == DEFAULT_API_VERSION == "2025-09-02"
    assert client.protocol.version == "2025-09-02" and client.playout_id is None
    assert client.session_via == "both"


def test_the_older_version_defaults_to_the_documented_mock_server() -> None:
    client = PlayoutClient(api_key=KEY, api_version="2025-08-04")
    assert client.base_url == "https://docs.jay-metadata.com/_mock/apis/playout/latest/openapi"
    assert client.protocol.version == "2025-08-04"


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAY_API_KEY", KEY)
    monkeypatch.setenv("JAY_BASE_URL", "https://jay.example.test/playout/")
    client = PlayoutClient()
    assert client.base_url == "https://jay.example.test/playout"
    assert client._api_key == KEY


def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAY_API_KEY", "from-env")
    monkeypatch.setenv("JAY_BASE_URL", "https://env.example.test")
    client = PlayoutClient(api_key=KEY, base_url="https://arg.example.test")
    assert client._api_key == KEY
    assert client.base_url == "https://arg.example.test"


def test_missing_key_names_argument_and_env_var() -> None:
    with pytest.raises(ConfigurationError, match=r"api_key.*JAY_API_KEY"):
        PlayoutClient()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"api_key": "  "}, "api_key"),
        ({"base_url": "http://jay.example.test"}, "plain http"),
        ({"base_url": "ftp://jay.example.test"}, "http"),
        ({"session_via": "pigeon"}, "session_via"),
        ({"api_version": ""}, "api_version"),
        ({"max_connections": 0}, "max_connections"),
    ],
)
def test_bad_settings(options: dict[str, object], match: str) -> None:
    settings: dict[str, object] = {"api_key": KEY, **options}
    with pytest.raises(ConfigurationError, match=match):
        PlayoutClient(**settings)  # type: ignore[arg-type]


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        PlayoutClient(api_key="x\r\nX-Evil: 1")
    assert info.value.field == "api_key"
    with pytest.raises(ConfigurationError, match="api_version"):  # not a documented version
        PlayoutClient(api_key=KEY, api_version="2025-09-02\r\nX-Evil: 1")


def test_insecure_http_allowed_when_asked() -> None:
    client = PlayoutClient(
        api_key=KEY, base_url="http://jay.internal.test", allow_insecure_http=True
    )
    assert client.base_url == "http://jay.internal.test"


def test_repr_shows_no_key() -> None:
    client = PlayoutClient(api_key=KEY)
    text = repr(client) + repr(client.tracking)
    assert KEY not in text
    assert "PlayoutClient(base_url=" in text


async def test_context_manager_closes_and_refuses_later_calls(jay: JaySandbox) -> None:
    async with PlayoutClient(
        api_key=jay.api_key, base_url=jay.base_url, playout_id="p-1"
    ) as client:
        assert not client.closed
        assert "open" in repr(client)
        await client.tracking.create()
    assert client.closed
    assert "closed" in repr(client)
    with pytest.raises(ClientClosedError):
        await client.tracking.create()
    await client.aclose()  # idempotent


async def test_borrowed_session_is_not_closed(jay: JaySandbox) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        client = PlayoutClient(
            api_key=jay.api_key, base_url=jay.base_url, playout_id="p-1", session=session
        )
        created = await client.tracking.create()
        await client.aclose()
        assert not session.closed
        assert created.session.session_id


async def test_own_session_keeps_no_cookies(jay: JaySandbox) -> None:
    async with PlayoutClient(
        api_key=jay.api_key, base_url=jay.base_url, playout_id="p-1"
    ) as client:
        await client.tracking.create()
        jar = client._transport.session().cookie_jar
        assert isinstance(jar, aiohttp.DummyCookieJar)
        assert len(jar) == 0
