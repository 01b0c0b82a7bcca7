"""End to end over loopback: PlayoutClient against JaySandbox."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from magine_async import AuthenticationError, BadRequestError, ValidationError
from magine_async.jay import (
    SESSION_COOKIE,
    CreatedSession,
    PlayoutClient,
    TrackingSession,
    decode_session,
)
from magine_async.sandbox._jay import JaySandbox

from .conftest import MakeClient, fixed_clock

START = datetime(2023, 11, 14, 22, 13, 20, 123456)


V1 = "2025-08-04"  # this module's client (conftest.make_client); test_versions covers both


def _headers_of_last(jay: JaySandbox) -> dict[str, str]:
    return jay.requests[-1][2]


async def test_create_returns_session_value_and_answered_version(
    jay: JaySandbox, jay_client: PlayoutClient, no_secret_leaks: list[str]
) -> None:
    created = await jay_client.tracking.create(user_id="user-123456")
    no_secret_leaks.append(created.value)

    assert isinstance(created.session, TrackingSession)
    assert created.session.user_id == "user-123456"
    assert created.session.source == "jay.api.playout.sandbox"
    assert created.session.start_time == START
    assert isinstance(created.session.start_time, datetime)
    assert created.api_version == V1
    assert decode_session(created.value) == created.session

    method, path_qs, headers = jay.requests[-1]
    assert (method, path_qs) == ("POST", "/jay/playouts/tracking/session?user_id=user-123456")
    assert headers["X-API-Key"] == jay.api_key
    assert headers["X-API-Version"] == V1
    assert SESSION_COOKIE not in headers
    assert "Cookie" not in headers


async def test_create_without_user_id(jay: JaySandbox, jay_client: PlayoutClient) -> None:
    created = await jay_client.tracking.create()
    assert created.session.user_id is None
    assert jay.requests[-1][1] == "/jay/playouts/tracking/session"


async def test_get_and_delete_send_header_and_cookie_by_default(
    jay: JaySandbox, jay_client: PlayoutClient, no_secret_leaks: list[str]
) -> None:
    created = await jay_client.tracking.create(user_id="u1")
    no_secret_leaks.append(created.value)

    found = await jay_client.tracking.get(session=created.value)
    assert found.session == created.session
    assert found.api_version == V1
    headers = _headers_of_last(jay)
    assert headers[SESSION_COOKIE] == f"{SESSION_COOKIE}={created.value}"
    assert headers["Cookie"] == f"{SESSION_COOKIE}={created.value}"
    assert headers["X-API-Key"] == jay.api_key

    deleted = await jay_client.tracking.delete(session=created.value)
    assert deleted.message == "Tracking session deleted"
    assert deleted.api_version == V1
    assert jay.requests[-1][0] == "DELETE"
    assert _headers_of_last(jay)["Cookie"] == f"{SESSION_COOKIE}={created.value}"


@pytest.mark.parametrize(("via", "absent"), [("header", "Cookie"), ("cookie", SESSION_COOKIE)])
async def test_session_carried_by_one_channel_only(
    jay: JaySandbox,
    make_client: MakeClient,
    no_secret_leaks: list[str],
    via: str,
    absent: str,
) -> None:
    async with make_client(session_via=via) as client:
        created = await client.tracking.create(user_id="u2")
        no_secret_leaks.append(created.value)

        found = await client.tracking.get(session=created.value)
        assert found.session == created.session
        assert absent not in _headers_of_last(jay)

        deleted = await client.tracking.delete(session=created.value)
        assert deleted.message == "Tracking session deleted"
        assert absent not in _headers_of_last(jay)


async def test_get_accepts_created_result_and_prefixed_value(
    jay_client: PlayoutClient, no_secret_leaks: list[str]
) -> None:
    created = await jay_client.tracking.create()
    no_secret_leaks.append(created.value)
    assert (await jay_client.tracking.get(session=created)).session == created.session
    prefixed = f"{SESSION_COOKIE}={created.value}"
    assert (await jay_client.tracking.get(session=prefixed)).session == created.session
    assert (await jay_client.tracking.delete(session=created)).message


@pytest.mark.parametrize("requested", ["2025-08-04", "2025-09-02"])
async def test_version_header_sent_and_answered_version_exposed(
    jay: JaySandbox, make_client: MakeClient, requested: str, no_secret_leaks: list[str]
) -> None:
    async with make_client(api_version=requested, playout_id="p-1") as client:
        created = await client.tracking.create()
        no_secret_leaks.append(created.value)
        assert jay.requests[-1][2]["X-API-Version"] == requested
        assert created.api_version == requested
        assert (await client.tracking.get(session=created)).api_version == requested
        assert (await client.tracking.delete(session=created)).api_version == requested


async def test_no_version_lets_the_server_choose(jay: JaySandbox, make_client: MakeClient) -> None:
    """No X-API-Version: the server uses its latest (2025-09-02), and so does the client."""
    async with make_client(api_version=None, playout_id="tenant-1") as client:
        created = await client.tracking.create()
        _, path, headers = jay.requests[-1]
        assert "X-API-Version" not in headers
        assert path == "/jay/playouts/tenant-1/tracking/session"
        assert created.api_version == "2025-09-02"
        assert client.api_version is None


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "malformed",
    [
        "bm90LWpzb24",  # base64 but not JSON
        _b64('{"session_id": 1}'),
        _b64('{"session_id": "x", "start_time": "yesterday"}'),
        _b64("[1, 2]"),
        "%%%%not-base64%%%%",
    ],
)
@pytest.mark.parametrize("op", ["get", "delete"])
async def test_malformed_session_is_a_bad_request(
    jay_client: PlayoutClient, no_secret_leaks: list[str], malformed: str, op: str
) -> None:
    no_secret_leaks.append(malformed)
    with pytest.raises(BadRequestError) as info:
        await getattr(jay_client.tracking, op)(session=malformed)
    error = info.value
    assert error.status == 400
    assert error.messages == ["Invalid or missing tracking session"]
    assert "Invalid or missing tracking session" in str(error)
    assert error.path == "/playouts/tracking/session"


@pytest.mark.parametrize("bad", ["", "   ", "a;b=c", "a b", 'x"y', "tab\there", "über"])
async def test_unsendable_session_is_refused_before_sending(
    jay: JaySandbox, jay_client: PlayoutClient, bad: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await jay_client.tracking.get(session=bad)
    assert info.value.field == "session"
    assert jay.requests == []


async def test_wrong_api_key_is_an_authentication_error(
    jay: JaySandbox, make_client: MakeClient, no_secret_leaks: list[str]
) -> None:
    wrong = "jay-wrong-key-0f9e8d7c"
    no_secret_leaks.append(wrong)
    async with make_client(api_key=wrong) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.tracking.create()
    assert info.value.status == 401
    assert info.value.messages == ["Invalid API key"]
    assert len(jay.requests) == 1  # a 401 is not retried


async def test_user_id_is_checked(jay: JaySandbox, jay_client: PlayoutClient) -> None:
    with pytest.raises(ValidationError) as info:
        await jay_client.tracking.create(user_id="")
    assert info.value.field == "user_id"
    with pytest.raises(ValidationError):
        await jay_client.tracking.create(user_id=123)  # type: ignore[arg-type]
    assert jay.requests == []


@pytest.mark.parametrize("envelope", ["result", "data"])
async def test_wrapped_answers_are_unwrapped(
    make_client: MakeClient, envelope: str, no_secret_leaks: list[str]
) -> None:
    async with JaySandbox(clock=fixed_clock, envelope=envelope) as jay:
        no_secret_leaks.append(jay.api_key)
        async with make_client(api_key=jay.api_key, base_url=jay.base_url) as client:
            created = await client.tracking.create(user_id="wrapped")
            no_secret_leaks.append(created.value)
            assert created.session.user_id == "wrapped"
            assert (await client.tracking.get(session=created)).session == created.session
            deleted = await client.tracking.delete(session=created)
            assert deleted.message == "Tracking session deleted"


async def test_created_session_repr_hides_value(
    jay_client: PlayoutClient, no_secret_leaks: list[str]
) -> None:
    created = await jay_client.tracking.create()
    no_secret_leaks.append(created.value)
    assert isinstance(created, CreatedSession)
    assert created.value not in repr(created)
    assert "session_id" in repr(created)
