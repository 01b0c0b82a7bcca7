"""Answers the sandbox does not give: retries, other header forms, FastAPI error bodies."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import pytest

from magine_async import (
    APIError,
    InvalidResponseError,
    RetryPolicy,
    ServerError,
)
from magine_async.jay import SESSION_COOKIE, PlayoutClient

from ..support import FakeSleep, Reply, ScriptedServer, json_reply

KEY = "jay-scripted-key-77aa88bb"
SESSION = {
    "session_id": "b69d5c78-a2e9-4a7d-b3f8-c96c3a43d207",
    "start_time": "2023-04-21T14:32:17.123456",
    "source": "jay.api.playout.1.0.0",
    "user_id": "user-123456",
}
VALUE = base64.b64encode(json.dumps(SESSION).encode()).decode()


@pytest.fixture
async def unguarded(server: ScriptedServer, fake_sleep: FakeSleep) -> AsyncIterator[PlayoutClient]:
    """A client whose secrets the scripted server echoes in error bodies on purpose.

    The transport's own (discarded) error keeps the raw excerpt, so these tests check the
    error the SDK raises themselves instead of registering the secrets with the fixture.
    """
    async with PlayoutClient(
        api_key=KEY,
        base_url=server.base_url,
        api_version="2025-08-04",
        retry=RetryPolicy(sleep=fake_sleep),
    ) as client:
        yield client


@pytest.fixture
def scripted(unguarded: PlayoutClient, no_secret_leaks: list[str]) -> PlayoutClient:
    no_secret_leaks.extend([KEY, VALUE])
    return unguarded


def _created(**headers: str) -> Reply:
    return json_reply(200, SESSION, **headers)


async def test_create_is_not_retried_after_a_server_error(
    server: ScriptedServer, scripted: PlayoutClient
) -> None:
    server.script(json_reply(503, {"detail": "busy"}), _created(**{SESSION_COOKIE: VALUE}))
    with pytest.raises(ServerError) as info:
        await scripted.tracking.create()
    assert len(server.seen) == 1
    assert info.value.messages == ["busy"]


async def test_get_and_delete_are_retried(
    server: ScriptedServer, scripted: PlayoutClient, fake_sleep: FakeSleep
) -> None:
    server.script(
        json_reply(503, {"detail": "busy"}),
        json_reply(200, SESSION, **{"X-API-Version": "2025-08-04"}),
        json_reply(502, {}),
        json_reply(200, {"message": "Tracking session deleted"}),
    )
    found = await scripted.tracking.get(session=VALUE)
    assert found.session.session_id == SESSION["session_id"]
    assert found.api_version == "2025-08-04"
    deleted = await scripted.tracking.delete(session=VALUE)
    assert deleted.message == "Tracking session deleted"
    assert deleted.api_version is None
    assert len(server.seen) == 4
    assert len(fake_sleep.waits) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {SESSION_COOKIE: VALUE},
        {SESSION_COOKIE: f"{SESSION_COOKIE}={VALUE}"},
        {"Set-Cookie": f'{SESSION_COOKIE}="{VALUE}"; Secure; HttpOnly; Path=/'},
        {"Set-Cookie": f"{SESSION_COOKIE}={VALUE}; Path=/", SESSION_COOKIE: "ignored"},
    ],
    ids=["header", "header-cookie-form", "quoted-cookie", "cookie-preferred"],
)
async def test_create_takes_the_value_from_cookie_or_header(
    server: ScriptedServer, scripted: PlayoutClient, headers: dict[str, str]
) -> None:
    server.script(_created(**headers))
    created = await scripted.tracking.create(user_id="user-123456")
    assert created.value == VALUE
    assert server.seen[0].query == "user_id=user-123456"


async def test_create_without_a_session_value_is_an_invalid_response(
    server: ScriptedServer, scripted: PlayoutClient
) -> None:
    server.script(_created(**{"Set-Cookie": "unrelated=1; Path=/"}))
    with pytest.raises(
        InvalidResponseError,
        match="no __Secure-jay_tracking cookie or __Secure-jay_tracking header",
    ):
        await scripted.tracking.create()


@pytest.mark.parametrize(
    "body",
    [
        {"session_id": 5},
        {"result": [1]},
        [SESSION],
    ],
)
async def test_unexpected_session_body_is_an_invalid_response(
    server: ScriptedServer, scripted: PlayoutClient, body: object
) -> None:
    server.script(json_reply(200, body))
    with pytest.raises(InvalidResponseError):
        await scripted.tracking.get(session=VALUE)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", ""),
        (b'{"message": "gone"}', "gone"),
        (b'{"result": "gone"}', "gone"),
        (b'{"result": {"message": "gone"}, "status": "ok"}', "gone"),
        (b'{"data": {"message": "gone"}}', "gone"),
        (b"{}", ""),
    ],
)
async def test_delete_message_shapes(
    server: ScriptedServer, scripted: PlayoutClient, body: bytes, message: str
) -> None:
    server.script((200, body, {"Content-Type": "application/json"}))
    assert (await scripted.tracking.delete(session=VALUE)).message == message


async def test_fastapi_error_details_become_messages(
    server: ScriptedServer, scripted: PlayoutClient
) -> None:
    body = {"detail": [{"loc": ["query", "user_id"], "msg": "too long", "input": "x"}]}
    server.script(json_reply(422, body))
    with pytest.raises(APIError) as info:
        await scripted.tracking.create(user_id="x")
    error = info.value
    assert type(error) is APIError
    assert error.status == 422
    assert error.messages == ["query.user_id: too long"]
    assert error.body_excerpt == ""
    assert "query.user_id: too long" in str(error)
    assert error.__context__ is None


async def test_echoed_secrets_are_redacted(
    server: ScriptedServer, unguarded: PlayoutClient
) -> None:
    short = {"detail": [{"loc": ["header", "x-api-key"], "msg": f"bad {KEY}", "input": KEY}]}
    server.script(json_reply(422, short))
    with pytest.raises(APIError) as info:
        await unguarded.tracking.get(session=VALUE)
    assert info.value.messages == ["header.x-api-key: bad <redacted>"]

    long_detail = {"detail": "x" * 300 + " session " + VALUE}
    server.script(json_reply(400, long_detail))
    with pytest.raises(APIError) as info:
        await unguarded.tracking.get(session=VALUE)
    assert info.value.messages == ["x" * 300 + " session <redacted>"]

    # Longer than the transport's 200-byte excerpt: the value is cut short at the end.
    cut = "x" * 60 + " session " + VALUE + "y" * 300
    server.script((400, cut, {"Content-Type": "text/plain"}))
    with pytest.raises(APIError) as info:
        await unguarded.tracking.get(session=VALUE)
    excerpt = info.value.body_excerpt
    assert excerpt.endswith("session <redacted>...")
    for error in (info.value,):
        for text in (str(error), repr(error), excerpt):
            assert KEY not in text
            assert VALUE[:12] not in text


async def test_non_json_error_body_is_scrubbed(
    server: ScriptedServer, unguarded: PlayoutClient
) -> None:
    server.script((500, f"<html>key={KEY}</html>", {"Content-Type": "text/html"}))
    with pytest.raises(ServerError) as info:
        await unguarded.tracking.create()
    assert info.value.body_excerpt == "<html>key=<redacted></html>"
    assert KEY not in str(info.value)
