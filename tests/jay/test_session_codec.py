from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest

from magine_async import ValidationError
from magine_async.jay import SESSION_COOKIE, InvalidSessionError, TrackingSession, decode_session

DOC_EXAMPLE = {
    "session_id": "b69d5c78-a2e9-4a7d-b3f8-c96c3a43d207",
    "start_time": "2023-04-21T14:32:17.123456",
    "source": "jay.api.playout.1.0.0",
    "user_id": "user-123456",
}
EXPECTED = TrackingSession(
    session_id="b69d5c78-a2e9-4a7d-b3f8-c96c3a43d207",
    start_time=datetime(2023, 4, 21, 14, 32, 17, 123456),
    source="jay.api.playout.1.0.0",
    user_id="user-123456",
)


def _encoded(data: object, *, urlsafe: bool = False) -> str:
    raw = json.dumps(data).encode()
    return (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()


def test_decodes_the_documented_example() -> None:
    assert decode_session(_encoded(DOC_EXAMPLE)) == EXPECTED


@pytest.mark.parametrize(
    "form",
    [
        lambda v: v,
        lambda v: f"{SESSION_COOKIE}={v}",
        lambda v: f'"{v}"',
        lambda v: f"  {v}\t",
        lambda v: v.rstrip("="),
    ],
)
def test_accepts_the_usual_forms(form: object) -> None:
    value = _encoded({**DOC_EXAMPLE, "user_id": "u?>>"})
    assert "=" in value or "+" in value or "/" in value
    decoded = decode_session(form(value))  # type: ignore[operator]
    assert decoded.user_id == "u?>>"


def test_accepts_urlsafe_base64_and_optional_fields() -> None:
    minimal = {"session_id": "s", "start_time": "2024-01-01T00:00:00+00:00", "extra": 1}
    decoded = decode_session(_encoded(minimal, urlsafe=True))
    assert decoded.session_id == "s"
    assert decoded.source is None and decoded.user_id is None
    assert isinstance(decoded.start_time, datetime)
    assert decoded.start_time.tzinfo is not None


@pytest.mark.parametrize(
    ("start_time", "kept"), [("soon", "soon"), ("", ""), (1700000000, "1700000000")]
)
def test_a_start_time_that_does_not_parse_is_kept_raw(start_time: object, kept: str) -> None:
    decoded = decode_session(_encoded({**DOC_EXAMPLE, "start_time": start_time}))
    assert decoded.start_time == kept
    assert decoded.session_id == DOC_EXAMPLE["session_id"]


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("", "must not be empty"),
        ("abcde", "base64"),
        ("ab$cd", "base64"),
        (base64.b64encode(b"not json").decode(), "JSON"),
        (base64.b64encode(b'"text"').decode(), "JSON object"),
        (_encoded({"session_id": "s"}), "start_time"),
        (_encoded({**DOC_EXAMPLE, "session_id": None}), "session_id"),
        (_encoded({**DOC_EXAMPLE, "user_id": 5}), "user_id"),
        ("a;b", "cookie-safe"),
    ],
)
def test_malformed_values_raise_a_clear_validation_error(
    value: str, rule: str, no_secret_leaks: list[str]
) -> None:
    if len(value) > 8:
        no_secret_leaks.append(value)
    with pytest.raises(InvalidSessionError) as info:
        decode_session(value)
    error = info.value
    assert isinstance(error, ValidationError)
    assert error.field == "session"
    assert rule in str(error)
    assert error.value_excerpt is None
    assert error.__cause__ is None


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidSessionError, match="must be a string"):
        decode_session(b"abc")  # type: ignore[arg-type]
