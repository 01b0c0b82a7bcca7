"""The tracking session: its data model and the encoded value that carries it.

The API hands out a session as base64-encoded JSON (the ``__Secure-jay_tracking`` cookie and
response header). That encoded value is treated as a secret: it never appears in a repr, an
error message or a log line.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Any

import msgspec

from .._errors import ValidationError

__all__ = [
    "SESSION_COOKIE",
    "SESSION_HEADER",
    "InvalidSessionError",
    "TrackingSession",
    "decode_session",
    "normalise_session_value",
]

SESSION_COOKIE = "__Secure-jay_tracking"
"""The cookie that carries a session (and, in API version 2025-08-04, the header too)."""

SESSION_HEADER = "X-JAY-TRACKING"
"""The header that carries a session in API version 2025-09-02."""

_PREFIX = SESSION_COOKIE + "="
# RFC 6265 cookie-octet: printable ASCII without space, '"', ',', ';' and '\'.
_COOKIE_OCTETS = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+")


class TrackingSession(msgspec.Struct, frozen=True, kw_only=True):
    """A tracking session as the API describes it.

    ``start_time`` is a :class:`datetime.datetime` when the server's value parses as an ISO
    8601 / RFC 3339 date-time; it is naive when the value has no UTC offset (the documented
    example, ``2023-04-21T14:32:17.123456``, has none). The document does not define the
    format any further, so a value that does not parse is kept as the raw text (a JSON string
    as it is, any other JSON value as its JSON text, such as ``"1700000000"``) instead of
    failing the call: check ``isinstance(session.start_time, datetime)`` before date
    arithmetic. ``provider_name`` is answered by API version 2025-09-02 only (None before).
    Unknown fields are ignored.

    Build it from decoded JSON with :meth:`from_json_object` (``msgspec.convert`` cannot
    target it, since ``start_time`` may be either type).
    """

    session_id: str
    start_time: datetime | str
    source: str | None = None
    user_id: str | None = None
    provider_name: str | None = None

    @classmethod
    def from_json_object(cls, data: dict[str, Any]) -> TrackingSession:
        """The session a decoded JSON object describes, with snake_case field names (API
        version 2025-08-04 and the encoded session value) or camelCase ones (2025-09-02).

        Raises :class:`msgspec.ValidationError` if ``session_id`` or ``start_time`` is
        missing or a field has the wrong type; an unparsable ``start_time`` is kept raw.
        """
        if any(key in _SNAKE for key in data):
            data = {_SNAKE.get(key, key): value for key, value in data.items()}
        wire = msgspec.convert(data, _WireSession)
        return cls(
            session_id=wire.session_id,
            start_time=_parse_start_time(wire.start_time),
            source=wire.source,
            user_id=wire.user_id,
            provider_name=wire.provider_name,
        )


_SNAKE = {
    "sessionId": "session_id",
    "startTime": "start_time",
    "userId": "user_id",
    "providerName": "provider_name",
}


class _WireSession(msgspec.Struct, frozen=True, kw_only=True):
    """The session's JSON object, ``start_time`` as whatever JSON value it holds."""

    session_id: str
    start_time: Any
    source: str | None = None
    user_id: str | None = None
    provider_name: str | None = None


def _parse_start_time(value: object) -> datetime | str:
    """``start_time`` as a datetime when it parses, else the raw text.

    A string parses if it is RFC 3339 or, failing that, ISO 8601 as
    :meth:`datetime.fromisoformat` reads it (``2023-04-21 14:32:17``, ``+0200`` offsets).
    Any other string is returned as it is; any other JSON value as its JSON text.
    """
    if not isinstance(value, str):
        return msgspec.json.encode(value).decode()
    try:
        return msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        pass
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return value


class InvalidSessionError(ValidationError):
    """A session value is malformed: not base64, not JSON, or not a tracking session.

    ``field`` is ``"session"``. The value itself is never part of the message.
    """

    def __init__(self, rule: str) -> None:
        super().__init__("session", rule)


def normalise_session_value(value: str) -> str:
    """The bare encoded value, from either ``<b64>`` or ``__Secure-jay_tracking=<b64>``.

    Surrounding whitespace and double quotes (a quoted cookie value) are removed. Raises
    :class:`InvalidSessionError` if the result is empty or could not be sent as a cookie value.
    """
    if not isinstance(value, str):
        raise InvalidSessionError(f"must be a string, not {type(value).__name__}")
    text = value.strip()
    if text.startswith(_PREFIX):
        text = text[len(_PREFIX) :].strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not text:
        raise InvalidSessionError("must not be empty")
    if not _COOKIE_OCTETS.fullmatch(text):
        raise InvalidSessionError(
            "must be a cookie-safe token (printable ASCII without spaces, quotes, ',', ';' or '\\')"
        )
    return text


def decode_session(value: str) -> TrackingSession:
    """Decode an encoded session value (base64 of the session's JSON) into a TrackingSession.

    Accepts standard or URL-safe base64, with or without padding, bare or in the
    ``__Secure-jay_tracking=<b64>`` form. Raises :class:`InvalidSessionError` (a
    :class:`~magine_async.ValidationError` with ``field == "session"``) for anything else.
    """
    text = normalise_session_value(value).rstrip("=").replace("-", "+").replace("_", "/")
    if len(text) % 4 == 1:
        raise InvalidSessionError("is not valid base64")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSessionError("is not valid base64") from None
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise InvalidSessionError("does not decode to JSON") from None
    if not isinstance(data, dict):
        raise InvalidSessionError("does not decode to a JSON object")
    try:
        return TrackingSession.from_json_object(data)
    except msgspec.ValidationError as exc:
        raise InvalidSessionError(f"is not a tracking session ({exc})") from None
