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

import msgspec

from .._errors import ValidationError

__all__ = [
    "SESSION_COOKIE",
    "InvalidSessionError",
    "TrackingSession",
    "decode_session",
    "normalise_session_value",
]

SESSION_COOKIE = "__Secure-jay_tracking"
"""The name of the cookie, and of the request and response header, that carries a session."""

_PREFIX = SESSION_COOKIE + "="
# RFC 6265 cookie-octet: printable ASCII without space, '"', ',', ';' and '\'.
_COOKIE_OCTETS = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+")


class TrackingSession(msgspec.Struct, frozen=True, kw_only=True):
    """A tracking session as the API describes it.

    ``start_time`` is a :class:`datetime.datetime`; it is naive when the server sends no UTC
    offset (the documented example has none). Unknown fields are ignored.
    """

    session_id: str
    start_time: datetime
    source: str | None = None
    user_id: str | None = None


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
        return msgspec.convert(data, TrackingSession)
    except msgspec.ValidationError as exc:
        raise InvalidSessionError(f"is not a tracking session ({exc})") from None
