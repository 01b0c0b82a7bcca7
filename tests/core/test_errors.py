from __future__ import annotations

import pytest

from magine_async import (
    APIError,
    BadRequestError,
    ConflictError,
    InvalidResponseError,
    MagineClient,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from magine_async._errors import parse_trace_id

from ..support import ScriptedServer, error_reply, json_reply

HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.fixture
def no_retry(client: MagineClient) -> MagineClient:
    client._transport.retry = RetryPolicy.disabled()
    return client


async def test_html_502_from_a_proxy(server: ScriptedServer, no_retry: MagineClient) -> None:
    server.script((502, HTML_502, {"Content-Type": "text/html"}))
    with pytest.raises(ServerError) as info:
        await no_retry.test()
    assert info.value.status == 502
    assert info.value.error_code is None
    assert "502 Bad Gateway" in info.value.body_excerpt
    assert "502" in str(info.value)


async def test_empty_500(server: ScriptedServer, no_retry: MagineClient) -> None:
    server.script((500, b"", {}))
    with pytest.raises(ServerError) as info:
        await no_retry.test()
    assert info.value.status == 500
    assert info.value.body_excerpt == ""


async def test_truncated_json_with_200(server: ScriptedServer, no_retry: MagineClient) -> None:
    server.script((200, b'{"viewables": [{"id": "1"', {"Content-Type": "application/json"}))
    with pytest.raises(InvalidResponseError) as info:
        await no_retry.test()
    assert info.value.status == 200
    assert info.value.body_excerpt.startswith('{"viewables"')


async def test_long_body_excerpt_is_bounded(server: ScriptedServer, no_retry: MagineClient) -> None:
    server.script((503, b"x" * 10_000, {}))
    with pytest.raises(ServerError) as info:
        await no_retry.test()
    assert len(info.value.body_excerpt) <= 210


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, BadRequestError), (404, NotFoundError), (409, ConflictError), (418, APIError)],
)
async def test_documented_error_body_is_parsed(
    server: ScriptedServer, no_retry: MagineClient, status: int, cls: type[APIError]
) -> None:
    server.script(error_reply(status, "someCode", "first message", "second message"))
    with pytest.raises(cls) as info:
        await no_retry.test()
    error = info.value
    assert type(error) is cls
    assert (error.status, error.error_code) == (status, "someCode")
    assert error.messages == ["first message", "second message"]
    assert error.method == "GET" and error.path == "/partner/test"
    assert "someCode" in str(error) and "first message" in str(error)


async def test_rate_limit_carries_retry_after(
    server: ScriptedServer, no_retry: MagineClient
) -> None:
    server.script(error_reply(429, "tooManyRequests", "slow down", **{"Retry-After": "12"}))
    with pytest.raises(RateLimitError) as info:
        await no_retry.test()
    assert info.value.retry_after == 12.0


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (["Internal error. Trace ID 098765"], "098765"),
        (["Trace ID: abc-123"], "abc-123"),
        (["nothing here"], None),
        (["first", "see trace id: Z9"], "Z9"),
    ],
)
def test_trace_id_parsing(messages: list[str], expected: str | None) -> None:
    assert parse_trace_id(messages) == expected


async def test_echoed_access_token_is_redacted(
    server: ScriptedServer, no_retry: MagineClient
) -> None:
    from ..support import ACCESS_TOKEN

    server.script(error_reply(400, "badToken", f"token {ACCESS_TOKEN} is not valid"))
    with pytest.raises(BadRequestError) as info:
        await no_retry.test()
    assert info.value.messages == ["token <redacted> is not valid"]
    server.script((502, f"<html>{ACCESS_TOKEN}</html>", {"Content-Type": "text/html"}))
    with pytest.raises(ServerError) as info2:
        await no_retry.test()
    assert info2.value.body_excerpt == "<html><redacted></html>"


async def test_fastapi_detail_body_becomes_messages(
    server: ScriptedServer, no_retry: MagineClient
) -> None:
    server.script(
        (422, b'{"detail": [{"loc": ["query", "size"], "msg": "too big", "input": "x"}]}', {})
    )
    with pytest.raises(APIError) as info:
        await no_retry.test()
    assert info.value.messages == ["query.size: too big"]


async def test_no_cookie_is_replayed_between_requests(
    server: ScriptedServer, client: MagineClient
) -> None:
    server.script((200, b'"OK"', {"Set-Cookie": "session=abc; Path=/"}))
    await client.test()
    await client.test()
    assert "Cookie" not in server.seen[1].headers


async def test_an_error_field_beside_the_documented_body_changes_nothing(
    server: ScriptedServer, no_retry: MagineClient
) -> None:
    """The Media Jay error envelope is read where it is the body's error; a platform body
    with its documented errorCode keeps it, and an OAuth-style string error keeps the
    excerpt with its description."""
    server.script(
        json_reply(400, {"errorCode": "E1", "messages": ["m"], "error": "Bad Request"}),
        json_reply(400, {"error": "invalid_grant", "error_description": "grant expired"}),
    )
    with pytest.raises(BadRequestError) as first:
        await no_retry.test()
    assert (first.value.error_code, first.value.messages) == ("E1", ["m"])
    assert first.value.details is None
    with pytest.raises(BadRequestError) as second:
        await no_retry.test()
    assert second.value.error_code is None and second.value.messages == []
    assert "grant expired" in second.value.body_excerpt


async def test_secrets_in_structured_error_details_are_redacted_before_encoding(
    server: ScriptedServer, client: MagineClient, no_secret_leaks: list[str]
) -> None:
    client._transport.retry = RetryPolicy.disabled()
    secret = client._transport._secrets[0]  # the access token
    server.script(
        json_reply(400, {"error": {"code": 7, "details": {"echo": [secret, f'"{secret}"']}}})
    )
    with pytest.raises(BadRequestError) as caught:
        await client.test()
    assert caught.value.error_code == "7"
    assert caught.value.details is not None and secret not in caught.value.details
    assert "<redacted>" in caught.value.details


async def test_deeply_nested_or_huge_details_stay_a_typed_error_and_cost_little(
    server: ScriptedServer, no_retry: MagineClient
) -> None:
    deep: object = "x"
    for _ in range(600):
        deep = [deep]
    server.script(
        json_reply(400, {"error": {"code": 1, "message": "m", "details": deep}}),
        json_reply(400, {"error": {"code": 2, "message": "m", "details": ["ab"] * 200_000}}),
    )
    with pytest.raises(BadRequestError) as first:
        await no_retry.test()
    assert first.value.error_code == "1" and first.value.details is not None
    with pytest.raises(BadRequestError) as second:
        await no_retry.test()
    assert second.value.details is not None and len(second.value.details) <= 1000
