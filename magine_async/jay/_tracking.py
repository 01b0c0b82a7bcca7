"""``client.tracking``: create, read and delete a tracking session."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import msgspec
from multidict import CIMultiDictProxy

from .._errors import InvalidResponseError, ValidationError
from .._transport import Operation, Response, redact
from ._session import SESSION_COOKIE, SESSION_HEADER, TrackingSession, normalise_session_value

if TYPE_CHECKING:
    from ._client import PlayoutClient

__all__ = [
    "PROTOCOLS",
    "V1",
    "V2",
    "CreatedSession",
    "DeletedSession",
    "SessionResult",
    "TrackingSessions",
]

SessionVia = Literal["both", "header", "cookie"]
T = TypeVar("T")

V1 = "2025-08-04"
V2 = "2025-09-02"


@dataclass(frozen=True, slots=True)
class _Protocol:
    """How one API version spells the tracking-session operations: ``header`` carries the
    session besides the cookie, ``prefixed`` says whether its value repeats the cookie's
    ``name=`` (2025-08-04's documented form), ``playout`` whether the path names a playout."""

    version: str
    header: str
    prefixed: bool
    playout: bool
    create: Operation = field(init=False, repr=False)
    get: Operation = field(init=False, repr=False)
    delete: Operation = field(init=False, repr=False)

    def __post_init__(self) -> None:
        path = "/playouts/{playout_id}/tracking/session" if self.playout else _PATH
        op = object.__setattr__
        op(self, "create", Operation("jay.tracking.create", "POST", path, retry_safe=False))
        op(self, "get", Operation("jay.tracking.get", "GET", path))
        op(self, "delete", Operation("jay.tracking.delete", "DELETE", path))


_PATH = "/playouts/tracking/session"
PROTOCOLS = {
    V1: _Protocol(V1, header=SESSION_COOKIE, prefixed=True, playout=False),
    V2: _Protocol(V2, header=SESSION_HEADER, prefixed=False, playout=True),
}
"""The documented versions and how each spells the calls."""


_ENVELOPE_KEYS = ("data", "result")


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
    """The confirmation of a delete: ``{"message": ...}`` as 2025-08-04 answers it (bare, or
    in a ``result`` envelope), or 2025-09-02's ``data``, documented as any value (a string is
    the message; an object's ``message``, else its first text value; anything else an empty
    confirmation)."""
    if not payload.strip():
        return ""
    raw = msgspec.json.decode(payload)
    if isinstance(raw, dict) and "data" in raw:
        data = raw["data"]
        if isinstance(data, str):
            return data
        if isinstance(data, dict):
            texts = [data.get("message"), *data.values()]
            return next((text for text in texts if isinstance(text, str)), "")
        return ""
    raw = _unwrap(raw)
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        message = raw.get("message")
        if message is None or isinstance(message, str):
            return message or ""
    raise ValueError('expected {"message": "..."}')


def _cookie_values(headers: CIMultiDictProxy[str]) -> list[str]:
    values: list[str] = []
    for line in headers.getall("Set-Cookie", ()):
        name, sep, rest = line.partition("=")
        if sep and name.strip() == SESSION_COOKIE:
            values.append(rest.split(";", 1)[0].strip())
    return values


def _session_value(headers: CIMultiDictProxy[str], header: str) -> str | None:
    """The encoded session from the Set-Cookie (preferred) or the version's header (either
    version's header name is read, bare or in the ``name=value`` form)."""
    names = dict.fromkeys((header, SESSION_HEADER, SESSION_COOKIE))
    values = [value for name in names for value in headers.getall(name, ())]
    for candidate in [*_cookie_values(headers), *values]:
        try:
            return normalise_session_value(candidate)
        except ValidationError:
            continue
    return None


class TrackingSessions:
    """The tracking-session endpoints, as ``PlayoutClient.tracking``.

    The session is carried by a request header (``X-JAY-TRACKING: <value>`` in API version
    2025-09-02, ``__Secure-jay_tracking: __Secure-jay_tracking=<value>`` in 2025-08-04) and by
    an explicit ``Cookie`` header; the client's ``session_via`` option restricts it to one of
    them. No cookie jar is involved, so one client can serve many end users' sessions at once.

    In 2025-09-02 every path names a playout: the client's ``playout_id``, or the one a call
    passes. A missing or malformed playout id raises :class:`~magine_async.ValidationError`
    before anything is sent. 2025-08-04 has no playout in its paths and ignores it.
    """

    __slots__ = ("_client",)

    def __init__(self, client: PlayoutClient) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"TrackingSessions({self._client!r})"

    async def create(
        self, user_id: str | None = None, *, playout_id: str | None = None
    ) -> CreatedSession:
        """Start a new tracking session (``POST .../tracking/session``).

        ``user_id`` (optional) links the sessions of one user: pass it only for a logged-in
        user who agreed to tracking, and pass a hashed or encrypted value, not the platform's
        own user id (the documentation's guidance). The request is not retried once it may
        have reached the server, since a repeat would create a second session.
        """
        query: dict[str, str] | None = None
        if user_id is not None:
            if not isinstance(user_id, str):
                raise ValidationError("user_id", f"must be a string, not {type(user_id).__name__}")
            if not user_id:
                raise ValidationError("user_id", "must not be empty")
            query = {"user_id": user_id}
        protocol = self._client.protocol
        response = await self._send(protocol.create, _decode_session, playout_id, query=query)
        value = _session_value(response.headers, protocol.header)
        if value is None:
            raise InvalidResponseError(
                response.status,
                messages=[
                    f"the answer carried no {SESSION_COOKIE} cookie or {protocol.header} header"
                ],
                method=protocol.create.method,
                path=protocol.create.path,
            )
        return CreatedSession(response.data, value, self._client._answered_version(response, value))

    async def get(
        self, session: str | CreatedSession, *, playout_id: str | None = None
    ) -> SessionResult:
        """The session the encoded ``session`` stands for (``GET .../tracking/session``).

        ``session`` is the encoded value (or the :class:`CreatedSession` from ``create``).
        An invalid or unknown session raises :class:`~magine_async.BadRequestError`.
        """
        value = _value_of(session)
        protocol = self._client.protocol
        response = await self._send(protocol.get, _decode_session, playout_id, session=value)
        return SessionResult(response.data, self._client._answered_version(response, value))

    async def delete(
        self, session: str | CreatedSession, *, playout_id: str | None = None
    ) -> DeletedSession:
        """End the session (``DELETE .../tracking/session``); returns the confirmation.

        The server only expires its cookie: stop sending the value after this call.
        """
        value = _value_of(session)
        protocol = self._client.protocol
        response = await self._send(protocol.delete, _decode_message, playout_id, session=value)
        message = redact(response.data, (self._client._api_key, value))  # a server may echo
        return DeletedSession(message, self._client._answered_version(response, value))

    async def _send(
        self,
        op: Operation,
        decode: Callable[[bytes], T],
        playout_id: str | None,
        *,
        query: Mapping[str, str] | None = None,
        session: str | None = None,
    ) -> Response[T]:
        client = self._client
        protocol = client.protocol
        params: tuple[str, ...] = ()
        if protocol.playout:
            params = (client._playout_for(playout_id),)
        headers: dict[str, str] = {}
        if session is not None:
            if client.session_via in ("both", "header"):
                headers[protocol.header] = (
                    f"{SESSION_COOKIE}={session}" if protocol.prefixed else session
                )
            if client.session_via in ("both", "cookie"):
                headers["Cookie"] = f"{SESSION_COOKIE}={session}"
        return await client._transport.request(
            op,
            params,
            decode=decode,
            query=query,
            headers=headers,
            secrets=(session,) if session else (),
        )


def _value_of(session: str | CreatedSession) -> str:
    if isinstance(session, CreatedSession):
        session = session.value
    return normalise_session_value(session)
