"""MagineClient: the entry point of the Magine Pro Platform SDK."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import aiohttp

from ._auth import PrivateKeySource, TokenProvider
from ._config import check_base_url, configure_logging_from_env, setting
from ._errors import ConfigurationError
from ._flow import FlowControl
from ._paths import check_header_value
from ._retry import RetryPolicy
from ._transport import Operation, Timeouts, Transport, text_body
from .bulk import Bulk
from .resources.parental_control import ParentalControl
from .resources.reseller import Reseller
from .resources.subtitles import Subtitles
from .resources.transcode import Transcode
from .resources.users import Users
from .resources.viewables import Viewables

__all__ = ["DEFAULT_BASE_URL", "MagineClient"]

DEFAULT_BASE_URL = "https://platform-api.magine.com/api/v1"

_PARTNER_TEST = Operation("partner.test", "GET", "/partner/test")


def _private_key_setting(private_key: PrivateKeySource | None) -> PrivateKeySource:
    if private_key is not None:
        if isinstance(private_key, str) and "-----BEGIN" not in private_key:
            raise ConfigurationError(
                "private_key: a str must be PEM text; pass a pathlib.Path to read a key file"
            )
        return private_key
    pem = os.environ.get("MAGINE_PRIVATE_KEY")
    if pem:
        return pem
    path = os.environ.get("MAGINE_PRIVATE_KEY_FILE")
    if path:
        return Path(path)
    raise ConfigurationError(
        "private_key is required: pass private_key=... (PEM text, bytes or a Path) "
        "or set MAGINE_PRIVATE_KEY or MAGINE_PRIVATE_KEY_FILE"
    )


def flow_control(
    rate_limit: float | Literal["adaptive"] | FlowControl | None, retry: RetryPolicy
) -> FlowControl | None:
    """The flow controller a ``rate_limit`` setting asks for (waits on the policy's clock)."""
    if rate_limit is None or isinstance(rate_limit, FlowControl):
        return rate_limit
    if rate_limit == "adaptive":
        return FlowControl(clock=retry.clock, sleep=retry.sleep)
    if isinstance(rate_limit, bool) or not isinstance(rate_limit, int | float):
        raise ConfigurationError(
            "rate_limit: must be 'adaptive', a number of requests per second or a FlowControl"
        )
    try:
        return FlowControl(rate=rate_limit, adaptive=False, clock=retry.clock, sleep=retry.sleep)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


class MagineClient:
    """An asyncio client of the Magine Pro Platform API, for a partner or a reseller.

    Use it as ``async with MagineClient(...) as client:`` or call :meth:`aclose` when done. One
    client is meant to live as long as the application and to be shared by all its tasks: it
    owns one connection pool and one cached JWT.

    Settings fall back to environment variables:

    - ``access_token`` (``MAGINE_ACCESS_TOKEN``): sent as ``Magine-AccessToken``.
    - ``issuer`` (``MAGINE_ISSUER``): the JWT ``iss`` claim given by Magine Pro.
    - ``private_key`` (``MAGINE_PRIVATE_KEY`` with PEM text, or ``MAGINE_PRIVATE_KEY_FILE``):
      the RSA private key, as PEM text or bytes or a :class:`pathlib.Path`.
    - ``base_url`` (``MAGINE_BASE_URL``): default ``https://platform-api.magine.com/api/v1``.

    Other options: ``session`` lends an existing :class:`aiohttp.ClientSession` (the client
    then never closes it); ``max_connections`` bounds the pool (default 100, per host too);
    ``timeouts`` (:class:`Timeouts`); ``retry`` (:class:`RetryPolicy`); ``token_ttl`` (seconds,
    default 3600, at most 30 days) and ``clock_skew`` (seconds ``iat`` is backdated, default
    30); ``allow_insecure_http`` permits ``http://`` to a non-loopback host.

    ``rate_limit`` turns on flow control for every request of the client (off by default):
    ``"adaptive"`` learns the rate the platform admits from its 429 answers and sends just
    under it; a number sends at most that many requests per second; a
    :class:`~magine_async.FlowControl` is used as it is (to share one between clients, or
    to inject its clock). Bulk runs use the client's controller when it has one.
    """

    def __init__(
        self,
        *,
        access_token: str | None = None,
        issuer: str | None = None,
        private_key: PrivateKeySource | None = None,
        base_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        max_connections: int = 100,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        token_ttl: float = 3600.0,
        clock_skew: float = 30.0,
        allow_insecure_http: bool = False,
        rate_limit: float | Literal["adaptive"] | FlowControl | None = None,
    ) -> None:
        configure_logging_from_env()
        token = check_header_value(
            setting(access_token, "access_token", "MAGINE_ACCESS_TOKEN"), "access_token"
        )
        iss = setting(issuer, "issuer", "MAGINE_ISSUER")
        key = _private_key_setting(private_key)
        url = base_url or os.environ.get("MAGINE_BASE_URL") or DEFAULT_BASE_URL
        url = check_base_url(url, allow_insecure_http=allow_insecure_http)
        if max_connections < 1:
            raise ConfigurationError("max_connections: must be at least 1")
        policy = retry or RetryPolicy()
        self._tokens = TokenProvider(
            issuer=iss, private_key=key, ttl=token_ttl, clock_skew=clock_skew
        )
        self._transport = Transport(
            base_url=url,
            headers={"Magine-AccessToken": token},
            tokens=self._tokens,
            session=session,
            max_connections=max_connections,
            timeouts=timeouts or Timeouts(),
            retry=policy,
            secrets=(token,),
            flow=flow_control(rate_limit, policy),
        )
        self.viewables = Viewables(self._transport)
        """Viewables: list (paginated), create, get, replace, patch, images."""
        self.parental_control = ParentalControl(self._transport)
        """Rating systems."""
        self.users = Users(self._transport)
        """Users and their entitlements, tags, segments and play sessions."""
        self.subtitles = Subtitles(self._transport)
        """Subtitle requests of a vod."""
        self.transcode = Transcode(self._transport)
        """Transcoding jobs."""
        self.reseller = Reseller(self._transport)
        """The Reseller API (for a client holding a reseller's key)."""
        self.bulk = Bulk(self, self._transport.retry)
        """Bulk operations over many rows: entitle, revoke, provision users, subtitles."""

    def __repr__(self) -> str:
        state = "closed" if self._transport.closed else "open"
        return (
            f"MagineClient(base_url={self._transport.base_url!r}, "
            f"issuer={self._tokens.issuer!r}, {state})"
        )

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def closed(self) -> bool:
        return self._transport.closed

    @property
    def flow(self) -> FlowControl | None:
        """The client's flow controller (``rate_limit=``), if any: its ``rate``,
        ``measured_rate`` and ``stats`` tell what it learned."""
        return self._transport.flow

    @property
    def tokens(self) -> TokenProvider:
        """The JWT provider (its ``signings`` counter is useful in diagnostics)."""
        return self._tokens

    async def __aenter__(self) -> Self:
        # Load the key now, in a worker thread, so a bad key fails at start-up, not mid-job.
        await self._tokens.load_key()
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
        """Close the connection pool (unless it was lent). Safe to call more than once.

        Requests still in flight end with :class:`ClientClosedError`; later calls raise it too.
        """
        await self._transport.aclose()

    async def test(self) -> str:
        """``GET /partner/test``: check that the credentials are accepted; returns the answer."""
        response = await self._transport.request(_PARTNER_TEST, decode=text_body)
        return response.data
