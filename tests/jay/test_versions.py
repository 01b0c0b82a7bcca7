"""Both documented API versions end to end over loopback: 2025-08-04 (the path without a
playout, the ``__Secure-jay_tracking`` header, bare snake_case bodies, FastAPI errors) and
2025-09-02 (``/playouts/{playout_id}/...``, ``X-JAY-TRACKING``, ``data`` with camelCase
fields, ``{"error": {"code", "message", "details"}}``)."""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime

import pytest

from magine_async import BadRequestError, ConfigurationError, RetryPolicy, ValidationError
from magine_async.jay import SESSION_COOKIE, PlayoutClient, decode_session
from magine_async.sandbox._jay import JaySandbox

from ..support import FakeSleep, ScriptedServer, json_reply
from .conftest import MakeClient, fixed_clock

V1, V2 = "2025-08-04", "2025-09-02"
HEADER = {V1: SESSION_COOKIE, V2: "X-JAY-TRACKING"}
PLAYOUT = "tenant-42"


def _scripted(server: ScriptedServer, fake_sleep: FakeSleep, key: str) -> PlayoutClient:
    """A 2025-09-02 client of the scripted server (answers as a test lays them out)."""
    return PlayoutClient(
        api_key=key,
        base_url=server.base_url,
        playout_id=PLAYOUT,
        retry=RetryPolicy(sleep=fake_sleep),
    )


def _path(version: str, playout: str = PLAYOUT) -> str:
    if version == V1:
        return "/jay/playouts/tracking/session"
    return f"/jay/playouts/{playout}/tracking/session"


@pytest.mark.parametrize("version", [V1, V2])
@pytest.mark.parametrize("via", ["header", "cookie", "both"])
async def test_create_get_delete_in_each_version_and_by_each_carrier(
    jay: JaySandbox,
    make_client: MakeClient,
    no_secret_leaks: list[str],
    version: str,
    via: str,
) -> None:
    async with make_client(api_version=version, playout_id=PLAYOUT, session_via=via) as client:
        created = await client.tracking.create(user_id="hashed-5f2a")
        no_secret_leaks.append(created.value)
        method, path_qs, headers = jay.requests[-1]
        assert (method, path_qs) == ("POST", _path(version) + "?user_id=hashed-5f2a")
        assert headers["X-API-Version"] == version
        assert created.api_version == version
        session = created.session
        assert session.user_id == "hashed-5f2a"
        assert session.start_time == datetime(2023, 11, 14, 22, 13, 20, 123456)
        assert session.source == "jay.api.playout.sandbox"
        assert session.provider_name == ("magine-sandbox" if version == V2 else None)
        assert decode_session(created.value).session_id == session.session_id

        found = await client.tracking.get(created)
        assert found.session == session and found.api_version == version
        _, path_qs, headers = jay.requests[-1]
        assert path_qs == _path(version)
        carried = headers.get(HEADER[version])
        if via == "cookie":
            assert carried is None
        else:
            expected = f"{SESSION_COOKIE}={created.value}" if version == V1 else created.value
            assert carried == expected
        assert (headers.get("Cookie") is not None) == (via != "header")
        other = HEADER[V1 if version == V2 else V2]
        assert other not in headers

        deleted = await client.tracking.delete(created.value)
        assert deleted.message == "Tracking session deleted"
        assert jay.requests[-1][:2] == ("DELETE", _path(version))


@pytest.mark.parametrize("code_as", ["int", "str"])
async def test_a_2025_09_02_error_body_becomes_a_typed_error(
    make_client: MakeClient, fake_sleep: FakeSleep, no_secret_leaks: list[str], code_as: str
) -> None:
    async with JaySandbox(clock=fixed_clock, error_code_as=code_as) as jay:
        no_secret_leaks.append(jay.api_key)
        async with make_client(
            api_key=jay.api_key, base_url=jay.base_url, api_version=V2, playout_id=PLAYOUT
        ) as client:
            unknown = base64.b64encode(b'{"session_id": "x", "start_time": "soon"}').decode()
            with pytest.raises(BadRequestError) as caught:
                await client.tracking.get(unknown)
    error = caught.value
    assert error.status == 400
    assert error.error_code == "1001"
    assert error.messages == ["No tracking session found or session data is invalid"]
    assert error.details == "TRACKING_NOT_VALID"
    assert "TRACKING_NOT_VALID" in str(error) and "1001" in str(error)
    assert unknown not in str(error)


@pytest.mark.parametrize(
    ("error", "code", "messages", "details"),
    [
        ({"code": 2005, "message": "m", "details": {"field": "user_id"}}, "2005", ["m"], None),
        ({"code": "3001"}, "3001", [], None),
        ({"message": "only a message"}, None, ["only a message"], None),
        ("a plain string", None, [], None),  # not the envelope: the body excerpt keeps it
        ({"code": True, "message": "m"}, None, ["m"], None),
    ],
)
async def test_every_spelling_of_the_error_envelope_is_read(
    server: ScriptedServer,
    fake_sleep: FakeSleep,
    no_secret_leaks: list[str],
    error: object,
    code: str | None,
    messages: list[str],
    details: str | None,
) -> None:
    no_secret_leaks.append("jay-key-versions-1")
    server.script(json_reply(400, {"error": error, "data": None}))
    async with _scripted(server, fake_sleep, "jay-key-versions-1") as client:
        with pytest.raises(BadRequestError) as caught:
            await client.tracking.get("eyJzZXNzaW9uX2lkIjoieCJ9")
    assert caught.value.error_code == code
    assert caught.value.messages == messages
    if isinstance(error, dict) and isinstance(error.get("details"), dict):
        assert caught.value.details == json.dumps(error["details"], separators=(",", ":"))
    else:
        assert caught.value.details == details


async def test_a_bare_camel_case_answer_and_a_header_only_session_are_read(
    server: ScriptedServer, fake_sleep: FakeSleep, no_secret_leaks: list[str]
) -> None:
    """The guide shows the 2025-09-02 session without its ``data`` envelope; a server may
    also hand out the session by header alone, with no Set-Cookie."""
    value = base64.b64encode(b'{"session_id":"s-1","start_time":"2025-01-01T12:00:00"}')
    no_secret_leaks += ["jay-key-versions-2", value.decode()]
    body = {"sessionId": "s-1", "startTime": "2025-01-01T12:00:00", "providerName": "p"}
    server.script(
        json_reply(200, body, **{"X-JAY-TRACKING": value.decode(), "X-API-Version": V2}),
        json_reply(200, {"data": None}),
        json_reply(200, {"data": "Tracking session deleted"}),
    )
    async with _scripted(server, fake_sleep, "jay-key-versions-2") as client:
        created = await client.tracking.create()
        assert created.value == value.decode()
        assert created.session.session_id == "s-1" and created.session.provider_name == "p"
        assert (await client.tracking.delete(created)).message == ""
        assert (await client.tracking.delete(created)).message == "Tracking session deleted"
    paths = [seen.raw_path for seen in server.seen]
    assert paths == [f"/api/v1/playouts/{PLAYOUT}/tracking/session"] * 3


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "  ",
        ".",
        "..",
        "%2e%2E",
        "a\nb",
        "a\x00b",
        " lead",
        "a\tb",
        "a b",
        "\u200b",
        "\ud800",
        "x" * 1025,
        "\u00e9" * 700,
    ],
)
async def test_a_malformed_playout_id_fails_before_anything_is_sent(
    jay: JaySandbox, make_client: MakeClient, bad: str
) -> None:
    with pytest.raises(ConfigurationError, match="playout_id"):
        make_client(api_version=V2, playout_id=bad)
    async with make_client(api_version=V2, playout_id=PLAYOUT) as client:
        for call in (
            client.tracking.create(playout_id=bad),
            client.tracking.get("eyJzZXNzaW9uX2lkIjoieCJ9", playout_id=bad),
            client.tracking.delete("eyJzZXNzaW9uX2lkIjoieCJ9", playout_id=bad),
        ):
            with pytest.raises(ValidationError) as caught:
                await call
            assert caught.value.field == "playout_id"
    assert jay.requests == []


async def test_a_missing_playout_id_fails_before_sending_and_says_where_to_give_it(
    jay: JaySandbox, make_client: MakeClient
) -> None:
    async with make_client(api_version=V2) as client:
        with pytest.raises(ValidationError, match=r"playout_id.*2025-09-02.*JAY_PLAYOUT_ID"):
            await client.tracking.create()
        with pytest.raises(ValidationError, match="playout_id"):
            await client.tracking.get("eyJzZXNzaW9uX2lkIjoieCJ9")
    assert jay.requests == []


async def test_a_call_names_its_own_playout_and_the_environment_gives_a_default(
    jay: JaySandbox,
    make_client: MakeClient,
    monkeypatch: pytest.MonkeyPatch,
    no_secret_leaks: list[str],
) -> None:
    monkeypatch.setenv("JAY_PLAYOUT_ID", "from-env")
    async with make_client(api_version=V2) as client:
        assert client.playout_id == "from-env"
        created = await client.tracking.create()
        no_secret_leaks.append(created.value)
        assert jay.requests[-1][1] == _path(V2, "from-env")
        await client.tracking.get(created, playout_id="other/tenant")
        assert jay.requests[-1][1] == _path(V2, "other%2Ftenant")


async def test_2025_08_04_ignores_a_playout_id(
    jay: JaySandbox, make_client: MakeClient, no_secret_leaks: list[str]
) -> None:
    async with make_client(api_version=V1, playout_id=PLAYOUT) as client:
        created = await client.tracking.create()
        no_secret_leaks.append(created.value)
    assert jay.requests[-1][1] == _path(V1)


@pytest.mark.parametrize(("asked", "protocol"), [(V1, V1), (V2, V2), (f" {V1} ", V1), (None, V2)])
def test_each_documented_version_speaks_its_own_protocol(asked: str | None, protocol: str) -> None:
    client = PlayoutClient(api_key="k-123456", api_version=asked)
    assert client.protocol.version == protocol


@pytest.mark.parametrize(
    "asked",
    [
        "latest",
        "2025-08-27",
        "2025-9-2",
        "\uff12\uff10\uff12\uff15-\uff10\uff19-\uff10\uff12",
        "2026-01-01",
    ],
)
def test_a_version_that_is_not_documented_is_refused(asked: str) -> None:
    with pytest.raises(ConfigurationError, match=r"api_version.*2025-08-04.*2025-09-02"):
        PlayoutClient(api_key="k-123456", api_version=asked)


async def test_a_different_answered_version_is_logged_once_at_info(
    server: ScriptedServer,
    fake_sleep: FakeSleep,
    caplog: pytest.LogCaptureFixture,
    no_secret_leaks: list[str],
) -> None:
    caplog.set_level(logging.INFO, logger="magine_async")
    no_secret_leaks.append("jay-key-versions-4")
    body = {"data": {"sessionId": "s", "startTime": "2025-01-01T12:00:00"}}
    later = json_reply(200, body, **{"X-API-Version": "2025-10-01"})
    server.script(later, later)
    async with _scripted(server, fake_sleep, "jay-key-versions-4") as client:
        for _ in range(2):
            found = await client.tracking.get("eyJzZXNzaW9uX2lkIjoieCJ9")
            assert found.api_version == "2025-10-01"
    noted = [r for r in caplog.records if r.levelno == logging.INFO and "answered" in r.message]
    assert len(noted) == 1
    assert V2 in noted[0].message and "2025-10-01" in noted[0].message


async def test_a_version_header_echoing_a_secret_is_redacted(
    server: ScriptedServer, fake_sleep: FakeSleep, no_secret_leaks: list[str]
) -> None:
    key = "jay-key-echoed-in-version"
    no_secret_leaks.append(key)
    body = {"data": {"sessionId": "s", "startTime": "2025-01-01T12:00:00"}}
    server.script(json_reply(200, body, **{"X-API-Version": key}))
    async with _scripted(server, fake_sleep, key) as client:
        found = await client.tracking.get("eyJzZXNzaW9uX2lkIjoieCJ9")
    assert found.api_version is not None and key not in found.api_version
    assert key not in repr(found)


async def test_a_session_value_echoed_in_an_error_envelope_is_redacted_whole(
    server: ScriptedServer, fake_sleep: FakeSleep, no_secret_leaks: list[str]
) -> None:
    # base64 with '+' and '/', where a JWT-shaped match would stop
    value = base64.b64encode(b'{"session_id":"s>>?","start_time":"~~~"}').decode()
    assert "+" in value or "/" in value
    no_secret_leaks += ["jay-key-versions-3", value, 'sec"ret\\key-123']
    error = {"code": value, "message": f"bad session {value}", "details": {value: [value]}}
    server.script(json_reply(400, {"error": error}))
    async with _scripted(server, fake_sleep, "jay-key-versions-3") as client:
        with pytest.raises(BadRequestError) as caught:
            await client.tracking.get(value)
    texts = [str(caught.value), repr(caught.value), *caught.value.messages]
    texts += [caught.value.details or "", caught.value.error_code or ""]
    for text in texts:
        for part in (value, value[10:30], value[-20:]):
            assert part not in text, text


async def test_the_sandbox_uses_the_latest_version_when_none_is_asked_for(
    jay: JaySandbox,
) -> None:
    import aiohttp

    headers = {"X-API-Key": jay.api_key}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as http:
        async with http.post(f"{jay.base_url}/playouts/p/tracking/session", headers=headers) as r:
            assert r.status == 200 and r.headers["X-API-Version"] == V2
            assert set((await r.json())["data"]) == {
                "sessionId",
                "startTime",
                "source",
                "userId",
                "providerName",
            }
        async with http.post(f"{jay.base_url}/playouts/tracking/session", headers=headers) as r:
            assert r.status == 404  # 2025-08-04's path, in 2025-09-02's error format
            assert isinstance((await r.json())["error"]["code"], int)


async def test_a_secret_a_server_escaped_or_echoed_in_a_delete_stays_hidden(
    server: ScriptedServer, fake_sleep: FakeSleep, no_secret_leaks: list[str]
) -> None:
    key = 'k"ey\\with-quote-123456'
    value = base64.b64encode(b'{"session_id":"s>>?","start_time":"~~~"}').decode()
    no_secret_leaks += [key, value]
    escaped_body = json.dumps({"error": {"details": {"echo": [key, value]}}}).replace("/", "\\/")
    server.script(
        (400, escaped_body.encode(), {"Content-Type": "application/json"}),
        json_reply(200, {"data": {"message": f"Tracking session {value} deleted"}}),
    )
    async with _scripted(server, fake_sleep, key) as client:
        with pytest.raises(BadRequestError) as caught:
            await client.tracking.get(value)
        deleted = await client.tracking.delete(value)
    texts = [str(caught.value), caught.value.body_excerpt, caught.value.details or ""]
    texts += [repr(deleted), deleted.message]
    escaped_key = json.dumps(key)[1:-1]
    for text in texts:
        for part in (key, escaped_key, value, value.replace("/", "\\/"), value[-16:]):
            assert part not in text, text


@pytest.mark.parametrize("asked", [["2025-09-02"], {"v": 1}, 20250902])
def test_a_version_of_another_type_is_a_configuration_error(asked: object) -> None:
    with pytest.raises(ConfigurationError, match="api_version"):
        PlayoutClient(api_key="k-123456", api_version=asked)  # type: ignore[arg-type]
