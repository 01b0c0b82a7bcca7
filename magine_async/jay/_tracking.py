"""``client.tracking``: create, read and delete a tracking session."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import msgspec
from multidict import CIMultiDictProxy

from .._errors import InvalidResponseError, ValidationError
from .._transport import Operation, Response
from ._session import SESSION_COOKIE, TrackingSession, normalise_session_value

if TYPE_CHECKING:
    from ._client import PlayoutClient

__all__ = [
    "CreatedSession",
    "DeletedSession",
    "SessionResult",
    "TrackingSessions",
]

SessionVia = Literal["both", "header", "cookie"]
T = TypeVar("T")

_PATH = "/playouts/tracking/session"
_CREATE = Operation("jay.tracking.create", "POST", _PATH, retry_safe=False)
_GET = Operation("jay.tracking.get", "GET", _PATH)
_DELETE = Operation("jay.tracking.delete", "DELETE", _PATH)

_ENVELOPE_KEYS = ("result", "data")


@dataclass(frozen=True, slots=True)
class CreatedSession:
    """The answer of ``tracking.create()``.

    ``session`` is the decoded :class:`TrackingSession`; ``value`` the encoded session (from
    the ``__Secure-jay_tracking`` cookie or header) to pass to ``get``/``delete`` later. It is
    a secret and is left out of ``repr()``. ``api_version`` is the version the server used.
    """

    session: TrackingSession
    value: str = field(repr=False)
    api_version: str | None


@dataclass(frozen=True, slots=True)
class SessionResult:
    """The answer of ``tracking.get()``: the session and the version the server used."""

    session: TrackingSession
    api_version: str | None


@dataclass(frozen=True, slots=True)
class DeletedSession:
    """The answer of ``tracking.delete()``: the server's confirmation message and version."""

    message: str
    api_version: str | None


def _unwrap(raw: Any) -> Any:
    """The payload of a ``ResultResponse`` (under ``result`` or ``data``), or ``raw`` itself."""
    if isinstance(raw, dict):
        for key in _ENVELOPE_KEYS:
            inner = raw.get(key)
            if isinstance(inner, dict | str):
                return inner
    return raw


def _decode_session(payload: bytes) -> TrackingSession:
    raw = _unwrap(msgspec.json.decode(payload))
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object holding a tracking session")
    # A start_time that does not parse is kept raw: it does not fail the call.
    return TrackingSession.from_json_object(raw)


def _decode_message(payload: bytes) -> str:
    if not payload.strip():
        return ""
    raw = _unwrap(msgspec.json.decode(payload))
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        message = raw.get("message")
        if message is None:
            return ""
        if isinstance(message, str):
            return message
    raise ValueError('expected {"message": "..."}')


def _cookie_values(headers: CIMultiDictProxy[str]) -> list[str]:
    values: list[str] = []
    for line in headers.getall("Set-Cookie", ()):
        name, sep, rest = line.partition("=")
        if sep and name.strip() == SESSION_COOKIE:
            values.append(rest.split(";", 1)[0].strip())
    return values


def _session_value(headers: CIMultiDictProxy[str]) -> str | None:
    """The encoded session from the Set-Cookie (preferred) or the same-named header."""
    for candidate in [*_cookie_values(headers), *headers.getall(SESSION_COOKIE, ())]:
        try:
            return normalise_session_value(candidate)
        except ValidationError:
            continue
    return None


class TrackingSessions:
    """The tracking-session endpoints, as ``PlayoutClient.tracking``.

    The session is carried by the ``__Secure-jay_tracking`` request header (in the
    documented ``__Secure-jay_tracking=<value>`` form) and by an explicit ``Cookie`` header;
    the client's ``session_via`` option restricts it to one of them. No cookie jar is involved,
    so one client can serve many end users' sessions at once.
    """

    __slots__ = ("_client",)

    def __init__(self, client: PlayoutClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"TrackingSessions({self._client!r})"

    async def create(self, user_id: str | None = None) -> CreatedSession:
        """``POST /playouts/tracking/session``: start a new tracking session.

        ``user_id`` (optional) links sessions of one user. The request is not retried once it
        may have reached the server, since a repeat would create a second session.
        """
        query: dict[str, str] | None = None
        if user_id is not None:
            if not isinstance(user_id, str):
                raise ValidationError("user_id", f"must be a string, not {type(user_id).__name__}")
            if not user_id:
                raise ValidationError("user_id", "must not be empty")
            query = {"user_id": user_id}
        response = await self._send(_CREATE, _decode_session, query=query)
        value = _session_value(response.headers)
        if value is None:
            raise InvalidResponseError(
                response.status,
                messages=[f"the answer carried no {SESSION_COOKIE} cookie or header"],
                method=_CREATE.method,
                path=_PATH,
            )
        return CreatedSession(response.data, value, self._client._answered_version(response))

    async def get(self, session: str | CreatedSession) -> SessionResult:
        """``GET /playouts/tracking/session``: the session the encoded ``session`` stands for.

        ``session`` is the encoded value (or the :class:`CreatedSession` from ``create``).
        An invalid or unknown session raises :class:`~magine_async.BadRequestError`.
        """
        value = _value_of(session)
        response = await self._send(_GET, _decode_session, session=value)
        return SessionResult(response.data, self._client._answered_version(response))

    async def delete(self, session: str | CreatedSession) -> DeletedSession:
        """``DELETE /playouts/tracking/session``: end the session; returns the confirmation.

        The server only expires its cookie: stop sending the value after this call.
        """
        value = _value_of(session)
        response = await self._send(_DELETE, _decode_message, session=value)
        return DeletedSession(response.data, self._client._answered_version(response))

    async def _send(
        self,
        op: Operation,
        decode: Callable[[bytes], T],
        *,
        query: Mapping[str, str] | None = None,
        session: str | None = None,
    ) -> Response[T]:
        client = self._client
        headers: dict[str, str] = {}
        if session is not None:
            if client.session_via in ("both", "header"):
                headers[SESSION_COOKIE] = f"{SESSION_COOKIE}={session}"
            if client.session_via in ("both", "cookie"):
                headers["Cookie"] = f"{SESSION_COOKIE}={session}"
        return await client._transport.request(
            op,
            decode=decode,
            query=query,
            headers=headers,
            secrets=(session,) if session else (),
        )


def _value_of(session: str | CreatedSession) -> str:
    if isinstance(session, CreatedSession):
        session = session.value
    return normalise_session_value(session)
