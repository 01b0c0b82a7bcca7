"""PlayoutClient: the entry point of the Media Jay playout API."""

from __future__ import annotations

import logging
import os
import re
from types import TracebackType
from typing import Any, Self, get_args

import aiohttp

from .._config import check_base_url, configure_logging_from_env, setting
from .._errors import ConfigurationError, ValidationError
from .._paths import check_header_value, quote_segment
from .._retry import RetryPolicy
from .._transport import Response, Timeouts, Transport, redact
from ._tracking import PROTOCOLS, V1, V2, SessionVia, TrackingSessions

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "MOCK_BASE_URL",
    "MAX_PLAYOUT_LENGTH",
    "PRODUCTION_BASE_URL",
    "PlayoutClient",
]

logger = logging.getLogger("magine_async")

PRODUCTION_BASE_URL = "https://live.playout.api.jay-metadata.com/v1"
"""The production server the documentation names for API version 2025-09-02."""

MOCK_BASE_URL = "https://docs.jay-metadata.com/_mock/apis/playout/latest/openapi"
"""The documentation's mock server, which the 2025-08-04 documentation names."""

DEFAULT_BASE_URL = PRODUCTION_BASE_URL
"""The base URL used when none is given (``JAY_BASE_URL``) and the version is 2025-09-02."""

DEFAULT_API_VERSION = V2
"""The latest implementation version the documentation names."""

_VERSION_HEADER = "X-API-Version"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MAX_VERSION = 64
MAX_PLAYOUT_LENGTH = 1024
"""The longest playout id accepted, in characters (2,048 once percent-encoded)."""


class PlayoutClient:
    """An asyncio client of the Media Jay playout API (tracking sessions).

    Use it as ``async with PlayoutClient(...) as jay:`` or call :meth:`aclose` when done.

    - ``api_key`` (``JAY_API_KEY``): sent as ``X-API-Key`` on every request. Never shown in a
      repr, an error or a log line.
    - ``api_version``: ``"2025-09-02"`` (default, the documented latest) or ``"2025-08-04"``,
      sent as ``X-API-Version``; it also picks how the calls are spelled. ``None`` sends no
      header: the server uses its latest version, and the client speaks 2025-09-02. The
      version the server answered with is on every result as ``api_version``; one that
      differs from the version asked for is logged once at INFO.
    - ``playout_id`` (``JAY_PLAYOUT_ID``): the playout (tenant) every 2025-09-02 path names;
      a call may pass its own. Required by 2025-09-02 (a call without one raises
      :class:`~magine_async.ValidationError` before sending), ignored by 2025-08-04.
    - ``base_url`` (``JAY_BASE_URL``): default the production server
      ``https://live.playout.api.jay-metadata.com/v1``; for 2025-08-04, which the
      documentation describes on its mock server only, that mock server
      (``https://docs.jay-metadata.com/_mock/apis/playout/latest/openapi``).
    - ``session_via``: how a tracking session is sent: ``"both"`` (default: the version's
      header and a ``Cookie`` header), ``"header"`` or ``"cookie"``.

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
        playout_id: str | None = None,
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
        headers = {"X-API-Key": key}
        if api_version is not None:
            if isinstance(api_version, str):
                api_version = api_version.strip()
            if not isinstance(api_version, str) or api_version not in PROTOCOLS:
                known = " or ".join(repr(version) for version in PROTOCOLS)
                raise ConfigurationError(
                    f"api_version: must be {known} (the documented versions), or None"
                )
            headers[_VERSION_HEADER] = api_version
        protocol = PROTOCOLS[V2 if api_version is None else api_version]
        default_url = MOCK_BASE_URL if protocol.version == V1 else PRODUCTION_BASE_URL
        url = base_url or os.environ.get("JAY_BASE_URL") or default_url
        url = check_base_url(url, allow_insecure_http=allow_insecure_http)
        if max_connections < 1:
            raise ConfigurationError("max_connections: must be at least 1")
        if session_via not in get_args(SessionVia):
            raise ConfigurationError("session_via: must be 'both', 'header' or 'cookie'")
        playout = playout_id if playout_id is not None else os.environ.get("JAY_PLAYOUT_ID") or None
        if playout is not None and protocol.playout:
            try:
                _check_playout(playout)
            except ValidationError as exc:
                raise ConfigurationError(f"playout_id (JAY_PLAYOUT_ID): {exc.rule}") from None
        self._api_key = key
        self.api_version = api_version
        """The version requested (``X-API-Version``), or None to let the server choose."""
        self.protocol = protocol
        """How the calls are spelled: 2025-09-02's, or 2025-08-04's when asked for."""
        self.playout_id = playout
        """The playout every 2025-09-02 call names unless it passes its own (None: none)."""
        self.session_via: SessionVia = session_via
        self._version_noted = False
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

    def _answered_version(self, response: Response[Any], session: str | None) -> str | None:
        """The version the server answered with (``X-API-Version``, redacted: a hostile server
        may echo anything there); one other than the version asked for is logged once."""
        answered = response.headers.get(_VERSION_HEADER)
        if answered is None:
            return None
        answered = redact(answered[:_MAX_VERSION], (self._api_key, session or ""))
        asked = self.api_version
        if asked is not None and answered != asked and not self._version_noted:
            self._version_noted = True
            shown = answered if _DATE.fullmatch(answered) else "an unrecognised version"
            logger.info("jay: asked for API version %s, the server answered with %s", asked, shown)
        return answered

    def _playout_for(self, playout_id: str | None) -> str:
        """The playout a call names: its own, else the client's; checked before sending."""
        chosen = self.playout_id if playout_id is None else playout_id
        if chosen is None:
            raise ValidationError(
                "playout_id",
                f"is required by API version {self.protocol.version}: pass playout_id= to "
                "PlayoutClient (or set JAY_PLAYOUT_ID) or to the call",
            )
        _check_playout(chosen)
        return chosen


def _check_playout(value: object) -> None:
    """A playout id: printable text without white space, at most :data:`MAX_PLAYOUT_LENGTH`
    characters (twice that once percent-encoded), that makes one safe path segment."""
    if not isinstance(value, str):
        raise ValidationError("playout_id", f"must be a string, not {type(value).__name__}")
    if not value:
        raise ValidationError("playout_id", "must not be empty")
    if not value.isprintable() or any(char.isspace() for char in value):
        raise ValidationError(
            "playout_id", "must be printable text without white space or control characters"
        )
    if len(value) > MAX_PLAYOUT_LENGTH:
        raise ValidationError("playout_id", f"must be at most {MAX_PLAYOUT_LENGTH} characters")
    if len(quote_segment(value, "playout_id")) > 2 * MAX_PLAYOUT_LENGTH:
        raise ValidationError(
            "playout_id", f"must be at most {2 * MAX_PLAYOUT_LENGTH} characters once encoded"
        )
