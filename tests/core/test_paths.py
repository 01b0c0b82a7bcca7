from __future__ import annotations

from urllib.parse import unquote

import pytest

from magine_async import MagineClient, ValidationError
from magine_async._transport import Operation, ignore_body

from ..support import ScriptedServer

GET_USER = Operation("users.get", "GET", "/partner/users/{userId}")

ENCODABLE = ["../x", "a/b", "a?b", "a#b", "../viewables", "x y", "ü", "a%2Fb"]
REFUSED = ["..", ".", "", "%2e%2e", "%2E", ".%2e", "\x00", "a\rb", "a\nb", "%0a"]


@pytest.mark.parametrize("value", ENCODABLE)
async def test_parameter_arrives_as_one_encoded_segment(
    server: ScriptedServer, client: MagineClient, value: str
) -> None:
    await client._transport.request(GET_USER, [value], decode=ignore_body)
    (seen,) = server.seen
    prefix = "/api/v1/partner/users/"
    assert seen.raw_path.startswith(prefix)
    segment = seen.raw_path[len(prefix) :]
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert unquote(segment) == value
    assert seen.query == ""


@pytest.mark.parametrize("value", REFUSED)
async def test_unsafe_parameter_is_refused_before_sending(
    server: ScriptedServer, client: MagineClient, value: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await client._transport.request(GET_USER, [value], decode=ignore_body)
    assert info.value.field == "user_id"
    assert server.seen == []
