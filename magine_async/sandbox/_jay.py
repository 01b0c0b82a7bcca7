"""The Media Jay playout API's tracking-session endpoints, for the sandbox.

:func:`jay_routes` builds an aiohttp sub-application with paths relative to its mount point
(the main sandbox mounts it under ``/jay``); :class:`JaySandbox` serves it alone on loopback.

It serves both documented versions, chosen per request by ``X-API-Version`` (absent or
unknown: the latest, 2025-09-02), and answers with the version it used in ``X-API-Version``.

Both versions (a FastAPI service, after the published documentation):

- every request needs ``X-API-Key``; a missing or wrong key gets 401 ``{"detail": ...}``;
- ``POST [?user_id=...]`` creates a session and returns it, setting the base64 JSON value as
  ``Set-Cookie: __Secure-jay_tracking=<b64>; Secure; HttpOnly; Path=/`` and as the version's
  response header;
- ``GET`` returns the session carried by the ``__Secure-jay_tracking`` cookie or, failing
  that, the version's header (bare ``<b64>`` or ``__Secure-jay_tracking=<b64>``); 400 if it is
  missing or invalid;
- ``DELETE`` checks the session the same way, expires the cookie and confirms.

2025-08-04: the path ``/playouts/tracking/session``; the header ``__Secure-jay_tracking``;
the session as a bare snake_case object (or under ``envelope``, if set); errors
``{"detail": ...}``; the delete confirms with ``{"message": "Tracking session deleted"}``.

2025-09-02: the path ``/playouts/{playout_id}/tracking/session``; the header
``X-JAY-TRACKING``; answers under ``data`` with camelCase fields (``sessionId``,
``startTime``, ``source``, ``userId``, ``providerName``); errors
``{"error": {"code": 1001, "message": ..., "details": "TRACKING_NOT_VALID"}}`` (the code an
integer as the schema says, or a string as the guide shows: ``error_code_as``); the delete
confirms with ``{"data": {"message": "Tracking session deleted"}}``.

A path of the other version answers 404 in the version's error format (2025-09-02: code 1002,
the sandbox's choice: the documentation lists the codes without their meanings; only 1001,
``TRACKING_NOT_VALID``, is shown in use). The 401 of a missing or wrong key keeps FastAPI's
``{"detail": ...}`` in both versions (the documentation shows no other). An unknown
``X-API-Version`` is served as the latest. Sessions are not
stored: like the real service, the value itself is the session (the encoded value keeps
snake_case keys in both versions). Error bodies never echo the key or the session value.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from aiohttp import web

__all__ = ["JAY_LATEST_VERSION", "JAY_VERSIONS", "JaySandbox", "jay_routes"]

JAY_VERSIONS = ("2025-08-04", "2025-09-02")
JAY_LATEST_VERSION = JAY_VERSIONS[-1]
SESSION_NAME = "__Secure-jay_tracking"
V2_HEADER = "X-JAY-TRACKING"
SOURCE = "jay.api.playout.sandbox"
PROVIDER = "magine-sandbox"
PATH = "/playouts/tracking/session"
V2_PATH = "/playouts/{playout_id}/tracking/session"
TRACKING_NOT_VALID = (1001, "No tracking session found or session data is invalid")

_VERSION_HEADER = "X-API-Version"
_CAMEL = {"session_id": "sessionId", "start_time": "startTime", "user_id": "userId"}
_DELETED_COOKIE = "; ".join(
    [
        f'{SESSION_NAME}=""',
        "expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "Max-Age=0",
        "Path=/",
        "Secure",
        "HttpOnly",
    ]
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class _Config:
    __slots__ = ("api_key", "clock", "code_as", "envelope", "latest", "versions")

    def __init__(
        self,
        api_key: str,
        clock: Callable[[], float],
        versions: Sequence[str],
        envelope: str | None,
        code_as: str,
    ) -> None:
        self.api_key = api_key
        self.clock = clock
        self.versions = frozenset(versions)
        self.latest = max(versions)
        self.envelope = envelope
        self.code_as = code_as


_CONFIG = web.AppKey("jay_config", _Config)


def _v2(version: str) -> bool:
    return version >= "2025-09-02"


def _json(status: int, data: Any, version: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        content_type="application/json",
        headers={_VERSION_HEADER: version},
    )


def _detail(status: int, detail: str, version: str) -> web.Response:
    return _json(status, {"detail": detail}, version)


def _error(
    config: _Config, status: int, code: int, message: str, details: str, version: str
) -> web.Response:
    """An error in the version's format (2025-08-04: FastAPI's ``detail``)."""
    if not _v2(version):
        return _detail(status, message, version)
    shown: int | str = str(code) if config.code_as == "str" else code
    error = {"code": shown, "message": message, "details": details}
    return _json(status, {"error": error}, version)


def _not_valid(config: _Config, version: str) -> web.Response:
    if not _v2(version):
        return _detail(400, "Invalid or missing tracking session", version)
    code, message = TRACKING_NOT_VALID
    return _error(config, 400, code, message, "TRACKING_NOT_VALID", version)


def _body(config: _Config, data: Any, version: str) -> web.Response:
    if _v2(version):
        data = {"data": data}
    elif config.envelope is not None:
        data = {config.envelope: data}
    return _json(200, data, version)


def _session_body(session: dict[str, Any], version: str) -> dict[str, Any]:
    if not _v2(version):
        return session
    body = {_CAMEL.get(key, key): value for key, value in session.items()}
    body["providerName"] = PROVIDER
    return body


def _version(request: web.Request) -> str:
    config = request.config_dict[_CONFIG]
    asked = request.headers.get(_VERSION_HEADER, "").strip()
    return asked if asked in config.versions else config.latest


def _encode(session: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(session, separators=(",", ":")).encode()).decode("ascii")


def _decode(value: str) -> dict[str, Any] | None:
    """The session a value carries, or None if it is not a valid encoded session."""
    value = value.strip()
    if value.startswith(SESSION_NAME + "="):
        value = value[len(SESSION_NAME) + 1 :].strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    try:
        data = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    session_id, start_time = data.get("session_id"), data.get("start_time")
    if not isinstance(session_id, str) or not session_id or not isinstance(start_time, str):
        return None
    try:
        datetime.fromisoformat(start_time)
    except ValueError:
        return None
    for optional in ("source", "user_id"):
        if data.get(optional) is not None and not isinstance(data[optional], str):
            return None
    return {
        "session_id": session_id,
        "start_time": start_time,
        "source": data.get("source"),
        "user_id": data.get("user_id"),
    }


def _cookie(request: web.Request, name: str) -> str | None:
    """The named cookie, parsed by hand (base64 values hold '=', '/' and '+')."""
    for header in request.headers.getall("Cookie", ()):
        for part in header.split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key.strip() == name:
                return value.strip()
    return None


def _session(request: web.Request, version: str) -> dict[str, Any] | None:
    """The session the cookie, else the version's header, carries (None: none or invalid)."""
    value = _cookie(request, SESSION_NAME)
    if value is None:
        value = request.headers.get(V2_HEADER if _v2(version) else SESSION_NAME)
    return None if value is None else _decode(value)


def _wrong_path(request: web.Request, version: str) -> web.Response | None:
    """404 for a path of the other version (the version decides which path exists)."""
    if _v2(version) == ("playout_id" in request.match_info):
        return None
    config = request.config_dict[_CONFIG]
    return _error(config, 404, 1002, "Not Found", "NOT_FOUND", version)


@web.middleware
async def _check_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    config = request.config_dict[_CONFIG]
    given = request.headers.get("X-API-Key")
    if given is None:
        return _detail(401, "Missing API key", _version(request))
    if not hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), config.api_key.encode("utf-8", "surrogateescape")
    ):
        return _detail(401, "Invalid API key", _version(request))
    return await handler(request)


async def _create(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[_CONFIG]
    version = _version(request)
    wrong = _wrong_path(request, version)
    if wrong is not None:
        return wrong
    user_id = request.query.get("user_id")
    now = datetime.fromtimestamp(config.clock(), UTC).replace(tzinfo=None)
    session = {
        "session_id": str(uuid.uuid4()),
        "start_time": now.isoformat(timespec="microseconds"),
        "source": SOURCE,
        "user_id": user_id or None,
    }
    value = _encode(session)
    response = _body(config, _session_body(session, version), version)
    response.headers.add("Set-Cookie", f"{SESSION_NAME}={value}; Secure; HttpOnly; Path=/")
    response.headers[V2_HEADER if _v2(version) else SESSION_NAME] = value
    return response


async def _get(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[_CONFIG]
    version = _version(request)
    wrong = _wrong_path(request, version)
    if wrong is not None:
        return wrong
    session = _session(request, version)
    if session is None:
        return _not_valid(config, version)
    return _body(config, _session_body(session, version), version)


async def _delete(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[_CONFIG]
    version = _version(request)
    wrong = _wrong_path(request, version)
    if wrong is not None:
        return wrong
    if _session(request, version) is None:
        return _not_valid(config, version)
    response = _body(config, {"message": "Tracking session deleted"}, version)
    response.headers.add("Set-Cookie", _DELETED_COOKIE)
    return response


def jay_routes(
    api_key: str,
    *,
    clock: Callable[[], float] = time.time,
    versions: Sequence[str] = JAY_VERSIONS,
    envelope: str | None = None,
    error_code_as: str = "int",
) -> web.Application:
    """The playout tracking endpoints as a sub-application (paths relative to its mount).

    ``clock`` gives seconds since the epoch for ``start_time``; ``versions`` are the
    implementation versions the sandbox knows (the greatest is the latest); ``envelope``, if
    set, wraps every 2025-08-04 success body as ``{envelope: body}`` (the documented
    ``ResultResponse``); ``error_code_as`` (``"int"`` or ``"str"``) spells a 2025-09-02
    error's ``code`` as the schema does or as the guide's example does.
    """
    if not api_key:
        raise ValueError("api_key: must not be empty")
    if not versions:
        raise ValueError("versions: at least one is needed")
    if error_code_as not in ("int", "str"):
        raise ValueError("error_code_as: must be 'int' or 'str'")
    app = web.Application(middlewares=[_check_key])
    app[_CONFIG] = _Config(api_key, clock, versions, envelope, error_code_as)
    for path in (PATH, V2_PATH):
        app.router.add_post(path, _create)
        app.router.add_get(path, _get, allow_head=False)
        app.router.add_delete(path, _delete)
    return app


class JaySandbox:
    """The playout tracking sandbox on ``127.0.0.1`` (a free port), mounted under ``/jay``.

    ``async with JaySandbox() as jay:`` then use ``jay.base_url`` and ``jay.api_key``.
    ``requests`` records ``(method, path, headers)`` of every request, for tests.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        versions: Sequence[str] = JAY_VERSIONS,
        envelope: str | None = None,
        error_code_as: str = "int",
    ) -> None:
        self.api_key = api_key or "jay-sandbox-" + secrets.token_urlsafe(16)
        self.base_url = ""
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._app = web.Application(middlewares=[self._record])
        routes = jay_routes(
            self.api_key,
            clock=clock,
            versions=versions,
            envelope=envelope,
            error_code_as=error_code_as,
        )
        self._app.add_subapp("/jay", routes)
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        return f"JaySandbox(base_url={self.base_url!r})"

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        return await handler(request)

    async def start(self) -> None:
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/jay"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
