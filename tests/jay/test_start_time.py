"""``start_time`` as servers may send it: a value that does not parse is kept, not fatal.

The document shows one example, naive ISO 8601 (``2023-04-21T14:32:17.123456``). Anything that
parses as an ISO 8601 / RFC 3339 date-time becomes a :class:`datetime.datetime`; anything else
(garbage, an empty string, a number, ...) is kept as the raw text, and ``create()`` and
``get()`` still succeed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from magine_async import InvalidResponseError, RetryPolicy
from magine_async.jay import SESSION_COOKIE, PlayoutClient, TrackingSession, decode_session

from ..support import FakeSleep, ScriptedServer, json_reply

KEY = "jay-start-time-key-5c1e9d0a"
SESSION_ID = "b69d5c78-a2e9-4a7d-b3f8-c96c3a43d207"

PLUS_TWO = timezone(timedelta(hours=2))
PARSED = [
    ("2023-04-21T14:32:17.123456", datetime(2023, 4, 21, 14, 32, 17, 123456)),  # the document's
    ("2023-04-21T14:32:17", datetime(2023, 4, 21, 14, 32, 17)),
    ("2023-04-21T14:32:17.123456+02:00", datetime(2023, 4, 21, 14, 32, 17, 123456, PLUS_TWO)),
    ("2023-04-21T14:32:17Z", datetime(2023, 4, 21, 14, 32, 17, tzinfo=UTC)),
    ("2023-04-21T14:32:17+00:00", datetime(2023, 4, 21, 14, 32, 17, tzinfo=UTC)),
    (
        "2023-04-21T14:32:17-05:30",
        datetime(2023, 4, 21, 14, 32, 17, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
    ),
    ("2023-04-21T14:32:17+0200", datetime(2023, 4, 21, 14, 32, 17, tzinfo=PLUS_TWO)),
    ("2023-04-21 14:32:17.5", datetime(2023, 4, 21, 14, 32, 17, 500000)),
]
# (the JSON value of start_time, the raw text kept)
KEPT = [
    ("soon", "soon"),
    ("yesterday at noon", "yesterday at noon"),
    ("", ""),
    ("   ", "   "),
    ("1700000000", "1700000000"),
    (1700000000, "1700000000"),
    (1700000000.25, "1700000000.25"),
    ("2023-13-45T99:00:00", "2023-13-45T99:00:00"),
    ("2023-04-21T14:32:17+25:00", "2023-04-21T14:32:17+25:00"),
    (None, "null"),
    (True, "true"),
]


def _session(start_time: object) -> dict[str, object]:
    return {
        "session_id": SESSION_ID,
        "start_time": start_time,
        "source": "jay.api.playout.1.0.0",
        "user_id": "user-123456",
    }


def _encoded(data: object) -> str:
    return base64.b64encode(json.dumps(data).encode()).decode()


@pytest.fixture
async def jay(
    server: ScriptedServer, fake_sleep: FakeSleep, no_secret_leaks: list[str]
) -> AsyncIterator[PlayoutClient]:
    no_secret_leaks.append(KEY)
    async with PlayoutClient(
        api_key=KEY,
        base_url=server.base_url,
        api_version="2025-08-04",
        retry=RetryPolicy(sleep=fake_sleep),
    ) as client:
        yield client


async def _create_and_get(
    server: ScriptedServer, jay: PlayoutClient, start_time: object
) -> tuple[TrackingSession, TrackingSession, TrackingSession]:
    session = _session(start_time)
    value = _encoded(session)
    server.script(
        json_reply(200, session, **{SESSION_COOKIE: value}),
        json_reply(200, {"result": session}),
    )
    created = await jay.tracking.create(user_id="user-123456")
    assert created.value == value
    found = await jay.tracking.get(session=created)
    return created.session, found.session, decode_session(created.value)


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[text for text, _ in PARSED])
async def test_iso_start_times_are_datetimes(
    server: ScriptedServer, jay: PlayoutClient, text: str, expected: datetime
) -> None:
    for session in await _create_and_get(server, jay, text):
        assert isinstance(session.start_time, datetime)
        assert session.start_time == expected
        assert session.start_time.utcoffset() == expected.utcoffset()  # naive stays naive
        assert session.session_id == SESSION_ID


@pytest.mark.parametrize(("value", "raw"), KEPT, ids=[repr(value) for value, _ in KEPT])
async def test_a_start_time_that_does_not_parse_is_kept_raw(
    server: ScriptedServer, jay: PlayoutClient, value: object, raw: str
) -> None:
    created, found, decoded = await _create_and_get(server, jay, value)
    for session in (created, found, decoded):
        assert session.start_time == raw
        assert type(session.start_time) is str
        assert session.session_id == SESSION_ID
        assert session.user_id == "user-123456"
    assert created == found == decoded


async def test_a_session_without_start_time_is_still_an_invalid_response(
    server: ScriptedServer, jay: PlayoutClient
) -> None:
    server.default = json_reply(200, {"session_id": SESSION_ID})  # every attempt, if retried
    with pytest.raises(InvalidResponseError, match="start_time"):
        await jay.tracking.get(session=_encoded(_session("x")))


def test_the_document_example_round_trips_through_the_model() -> None:
    session = TrackingSession(
        session_id=SESSION_ID, start_time=datetime(2023, 4, 21, 14, 32, 17, 123456)
    )
    assert decode_session(_encoded({"session_id": SESSION_ID, **_iso(session)})) == session
    kept = TrackingSession(session_id=SESSION_ID, start_time="soon")
    assert decode_session(_encoded({"session_id": SESSION_ID, "start_time": "soon"})) == kept


def _iso(session: TrackingSession) -> dict[str, str]:
    start = session.start_time
    return {"start_time": start.isoformat() if isinstance(start, datetime) else start}
