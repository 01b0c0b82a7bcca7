"""PlayoutClient: the entry point of the Media Jay playout API."""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Self, get_args

import aiohttp

from .._config import check_base_url, configure_logging_from_env, setting
from .._errors import ConfigurationError
from .._paths import check_header_value
from .._retry import RetryPolicy
from .._transport import Response, Timeouts, Transport
from ._tracking import SessionVia, TrackingSessions

__all__ = ["DEFAULT_API_VERSION", "DEFAULT_BASE_URL", "PlayoutClient"]

DEFAULT_BASE_URL = "https://docs.jay-metadata.com/_mock/apis/playout/latest/openapi"
"""The documented base URL (Media Jay's mock server)."""

DEFAULT_API_VERSION = "2025-08-04"
"""The latest implementation version the documentation names."""

_VERSION_HEADER = "X-API-Version"


class PlayoutClient:
    """An asyncio client of the Media Jay playout API (tracking sessions).

    Use it as ``async with PlayoutClient(...) as jay:`` or call :meth:`aclose` when done.

    - ``api_key`` (``JAY_API_KEY``): sent as ``X-API-Key`` on every request. Never shown in a
      repr, an error or a log line.
    - ``base_url`` (``JAY_BASE_URL``): default the documented
      ``https://docs.jay-metadata.com/_mock/apis/playout/latest/openapi``.
    - ``api_version``: sent as ``X-API-Version``; default ``"2025-08-04"`` (the documented
      latest). ``None`` sends no header and lets the server choose. The version the server
      answered with is on every result as ``api_version``.
    - ``session_via``: how a tracking session is sent: ``"both"`` (default: the
      ``__Secure-jay_tracking`` header and a ``Cookie`` header), ``"header"`` or ``"cookie"``.

    Other options, as for :class:`~magine_async.MagineClient`: ``session`` lends an aiohttp
    session (never closed by the client; give it an :class:`aiohttp.DummyCookieJar`, or its
    jar's cookies are sent too); ``max_connections``; ``timeouts``; ``retry``;
    ``allow_insecure_http``.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        api_version: str | None = DEFAULT_API_VERSION,
        session: aiohttp.ClientSession | None = None,
        max_connections: int = 100,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        session_via: SessionVia = "both",
        allow_insecure_http: bool = False,
    ) -> None:
        configure_logging_from_env()
        key = check_header_value(setting(api_key, "api_key", "JAY_API_KEY"), "api_key")
        if not key.strip():
            raise ConfigurationError("api_key: must not be empty")
        url = base_url or os.environ.get("JAY_BASE_URL") or DEFAULT_BASE_URL
        url = check_base_url(url, allow_insecure_http=allow_insecure_http)
        if max_connections < 1:
            raise ConfigurationError("max_connections: must be at least 1")
        if session_via not in get_args(SessionVia):
            raise ConfigurationError("session_via: must be 'both', 'header' or 'cookie'")
        headers = {"X-API-Key": key}
        if api_version is not None:
            if not isinstance(api_version, str) or not api_version.strip():
                raise ConfigurationError("api_version: must be a non-empty string or None")
            headers[_VERSION_HEADER] = check_header_value(api_version, "api_version")
        self._api_key = key
        self.api_version = api_version
        """The version requested (``X-API-Version``), or None to let the server choose."""
        self.session_via: SessionVia = session_via
        self._transport = Transport(
            base_url=url,
            headers=headers,
            session=session,
            max_connections=max_connections,
            timeouts=timeouts or Timeouts(),
            retry=retry or RetryPolicy(),
            secrets=(key,),
        )
        self.tracking = TrackingSessions(self)
        """The tracking-session endpoints: ``create``, ``get`` and ``delete``."""

    def __repr__(self) -> str:
        state = "closed" if self._transport.closed else "open"
        return (
            f"PlayoutClient(base_url={self._transport.base_url!r}, "
            f"api_version={self.api_version!r}, {state})"
        )

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def closed(self) -> bool:
        return self._transport.closed

    async def __aenter__(self) -> Self:
        self._transport.session()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (unless it was lent). Safe to call more than once."""
        await self._transport.aclose()

    @staticmethod
    def _answered_version(response: Response[Any]) -> str | None:
        return response.headers.get(_VERSION_HEADER)
