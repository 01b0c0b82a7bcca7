"""The Media Jay playout API's tracking-session endpoints, for the sandbox.

:func:`jay_routes` builds an aiohttp sub-application with paths relative to its mount point
(the main sandbox mounts it under ``/jay``); :class:`JaySandbox` serves it alone on loopback.

Behaviour, after the published documentation (a FastAPI service):

- every request needs ``X-API-Key``; a missing or wrong key gets 401 ``{"detail": ...}``;
- ``X-API-Version`` is answered back: the requested version if known, else the latest;
- ``POST /playouts/tracking/session[?user_id=...]`` creates a session and returns it, setting
  the base64 JSON value as ``Set-Cookie: __Secure-jay_tracking=<b64>; Secure; HttpOnly;
  Path=/`` and as the ``__Secure-jay_tracking`` response header;
- ``GET`` returns the session carried by the ``__Secure-jay_tracking`` cookie or, failing that,
  the same-named header (bare ``<b64>`` or ``__Secure-jay_tracking=<b64>``); 400 if it is
  missing or invalid;
- ``DELETE`` checks the session the same way, expires the cookie and confirms.

Sessions are not stored: like the real service, the value itself is the session. Error
bodies never echo the key or the session value.
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

__all__ = ["JAY_LATEST_VERSION", "JaySandbox", "jay_routes"]

JAY_LATEST_VERSION = "2025-08-04"
SESSION_NAME = "__Secure-jay_tracking"
SOURCE = "jay.api.playout.sandbox"
PATH = "/playouts/tracking/session"

_VERSION_HEADER = "X-API-Version"
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
    __slots__ = ("api_key", "clock", "envelope", "latest", "versions")

    def __init__(
        self,
        api_key: str,
        clock: Callable[[], float],
        versions: Sequence[str],
        envelope: str | None,
    ) -> None:
        self.api_key = api_key
        self.clock = clock
        self.versions = frozenset(versions)
        self.latest = max(versions)
        self.envelope = envelope


_CONFIG = web.AppKey("jay_config", _Config)


def _detail(status: int, detail: str, version: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"detail": detail}).encode(),
        content_type="application/json",
        headers={_VERSION_HEADER: version},
    )


def _body(config: _Config, data: Any, version: str) -> web.Response:
    if config.envelope is not None:
        data = {config.envelope: data}
    return web.Response(
        body=json.dumps(data).encode(),
        content_type="application/json",
        headers={_VERSION_HEADER: version},
    )


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


def _session(request: web.Request) -> dict[str, Any] | None:
    value = _cookie(request, SESSION_NAME)
    if value is None:
        value = request.headers.get(SESSION_NAME)
    return None if value is None else _decode(value)


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
    user_id = request.query.get("user_id")
    now = datetime.fromtimestamp(config.clock(), UTC).replace(tzinfo=None)
    session = {
        "session_id": str(uuid.uuid4()),
        "start_time": now.isoformat(timespec="microseconds"),
        "source": SOURCE,
        "user_id": user_id or None,
    }
    value = _encode(session)
    response = _body(config, session, version)
    response.headers.add("Set-Cookie", f"{SESSION_NAME}={value}; Secure; HttpOnly; Path=/")
    response.headers[SESSION_NAME] = value
    return response


async def _get(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[_CONFIG]
    version = _version(request)
    session = _session(request)
    if session is None:
        return _detail(400, "Invalid or missing tracking session", version)
    return _body(config, session, version)


async def _delete(request: web.Request) -> web.StreamResponse:
    config = request.config_dict[_CONFIG]
    version = _version(request)
    if _session(request) is None:
        return _detail(400, "Invalid or missing tracking session", version)
    response = _body(config, {"message": "Tracking session deleted"}, version)
    response.headers.add("Set-Cookie", _DELETED_COOKIE)
    return response


def jay_routes(
    api_key: str,
    *,
    clock: Callable[[], float] = time.time,
    versions: Sequence[str] = (JAY_LATEST_VERSION,),
    envelope: str | None = None,
) -> web.Application:
    """The playout tracking endpoints as a sub-application (paths relative to its mount).

    ``clock`` gives seconds since the epoch for ``start_time``; ``versions`` are the
    implementation versions the sandbox knows (the greatest is the latest); ``envelope``, if
    set, wraps every success body as ``{envelope: body}`` (the documented ``ResultResponse``).
    """
    if not api_key:
        raise ValueError("api_key: must not be empty")
    if not versions:
        raise ValueError("versions: at least one is needed")
    app = web.Application(middlewares=[_check_key])
    app[_CONFIG] = _Config(api_key, clock, versions, envelope)
    app.router.add_post(PATH, _create)
    app.router.add_get(PATH, _get, allow_head=False)
    app.router.add_delete(PATH, _delete)
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
        versions: Sequence[str] = (JAY_LATEST_VERSION,),
        envelope: str | None = None,
    ) -> None:
        self.api_key = api_key or "jay-sandbox-" + secrets.token_urlsafe(16)
        self.base_url = ""
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._app = web.Application(middlewares=[self._record])
        self._app.add_subapp(
            "/jay", jay_routes(self.api_key, clock=clock, versions=versions, envelope=envelope)
        )
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
