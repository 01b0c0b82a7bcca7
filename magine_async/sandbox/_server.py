"""``Sandbox``: start the platform sandbox on a loopback socket, in-process."""

from __future__ import annotations

import random
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import RSAKey

from ._app import ADMIN_PREFIX, API_PREFIX, build_app
from ._auth import TokenVerifier
from ._clock import SandboxClock
from ._counters import Counters
from ._faults import FaultConfig
from ._generator import default_reseller_offers
from ._jay import jay_routes
from ._keys import KeyPair, cached_key_pair
from ._ratelimit import RateLimit, RateLimiter
from ._representation import Representation
from ._state import DEFAULT_RESELLER_ID, SandboxState

if TYPE_CHECKING:
    from magine_async import MagineClient
    from magine_async.jay import PlayoutClient

JAY_PREFIX = "/jay"

KeyInput = KeyPair | str | bytes | None


def _key_pair(value: KeyInput, name: str) -> KeyPair:
    if value is None:
        return cached_key_pair(name)
    if isinstance(value, KeyPair):
        return value
    return KeyPair.from_private_pem(value)


class Sandbox:
    """An embedded Magine Platform API server with in-memory state and fault injection.

    ``async with Sandbox(viewables=1000, seed=1) as sb:`` binds 127.0.0.1 on a free port;
    ``sb.base_url`` ends in ``/api/v1``. Keys default to per-process cached 2048-bit pairs.

    ``representation="varied"`` answers in seeded document-valid variants (floats for
    ``number``, omitted optional properties, unknown properties, shuffled keys, charset
    spellings); ``"sparse"`` also leaves out every optional property; pass a
    :class:`Representation` to seed it apart from the data. See ``_representation``.

    ``rate_limit=RateLimit(rate=300, burst=30)`` puts a token bucket per credential in front
    of the handlers (429 above it); ``sb.rate_limit`` changes or removes it at runtime and
    ``sb.counters.rate_limit`` counts what it admitted and throttled. See ``_ratelimit``.
    """

    def __init__(
        self,
        *,
        viewables: int = 0,
        users: int = 10,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        partner_key: KeyInput = None,
        reseller_key: KeyInput = None,
        access_token: str | None = None,
        issuer: str = "magine-sandbox-partner",
        reseller_issuer: str = "magine-sandbox-reseller",
        reseller_id: str = DEFAULT_RESELLER_ID,
        partner_id: str = "magine-pro-sandbox",
        clock: SandboxClock | Callable[[], float] | None = None,
        faults: FaultConfig | None = None,
        subtitle_delay: float = 2.0,
        transcode_delay: float = 5.0,
        jay_api_key: str | None = None,
        representation: str | Representation = "plain",
        rate_limit: RateLimit | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.clock = clock if isinstance(clock, SandboxClock) else SandboxClock(clock)
        self.faults = faults or FaultConfig(seed=seed)
        self.counters = Counters()
        self.state = SandboxState(
            seed=seed,
            viewables=viewables,
            users=users,
            partner_id=partner_id,
            clock=self.clock,
            counters=self.counters,
            subtitle_delay=subtitle_delay,
            transcode_delay=transcode_delay,
        )
        self._partner_keys = _key_pair(partner_key, "partner")
        self._reseller_keys = _key_pair(reseller_key, "reseller")
        if access_token is None:
            bits = random.Random(f"magine-sandbox-access-token:{seed}").getrandbits(128)
            h = f"{bits:032x}"
            access_token = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        self.access_token = access_token
        self.issuer = issuer
        self.reseller_issuer = reseller_issuer
        self.reseller_id = reseller_id
        self.verifier = TokenVerifier(access_token, self.clock)
        self.verifier.register(issuer, self._partner_keys.public_pem, "partner")
        self.verifier.register(
            reseller_issuer, self._reseller_keys.public_pem, "reseller", reseller_id
        )
        self.state.reseller_offers.setdefault(reseller_id, {})
        if reseller_id != DEFAULT_RESELLER_ID:
            self.state.reseller_offers[reseller_id].update(
                self.state.reseller_offers[DEFAULT_RESELLER_ID]
            )
        if isinstance(representation, str):
            representation = Representation(representation, seed=seed)
        self.representation = representation
        """How answers are spelled: ``plain``, ``varied`` or ``sparse`` (mutable at runtime)."""
        self.rate_limiter = RateLimiter(self.state, rate_limit)
        """The buckets and the current limit (``tokens()``, ``waiting``, ``configure()``)."""
        self.app = build_app(
            self.state, self.verifier, self.faults, self.representation, self.rate_limiter
        )
        if jay_api_key is None:
            bits = random.Random(f"magine-sandbox-jay-key:{seed}").getrandbits(128)
            jay_api_key = f"jay-sandbox-{bits:032x}"
        self.jay_api_key = jay_api_key
        """The X-API-Key the Media Jay playout routes (under ``/jay``) accept."""
        self.app.add_subapp(JAY_PREFIX, jay_routes(jay_api_key, clock=self.clock))
        self._signing_keys: dict[bool, RSAKey] = {}
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def rate_limit(self) -> RateLimit | None:
        """The capacity model in force (None: unlimited). Setting it (a :class:`RateLimit`
        or None) takes effect on the next request; the buckets start full again."""
        return self.rate_limiter.limit

    @rate_limit.setter
    def rate_limit(self, value: RateLimit | None) -> None:
        self.rate_limiter.configure(value)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            return
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def add_reseller(
        self,
        issuer: str,
        reseller_id: str,
        *,
        key: KeyInput = None,
        offers: dict[str, str] | None = None,
    ) -> KeyPair:
        """Register another reseller (its own key, issuer and reseller offer ids -> offer
        ids; by default the same mapping as the built-in reseller). Returns its key pair."""
        pair = _key_pair(key, f"reseller:{reseller_id}")
        self.verifier.register(issuer, pair.public_pem, "reseller", reseller_id)
        mapping = offers if offers is not None else default_reseller_offers()
        self.state.reseller_offers.setdefault(reseller_id, {}).update(mapping)
        return pair

    # -- addresses and credentials -------------------------------------------------------

    @property
    def root_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the sandbox is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:54321/api/v1``."""
        return self.root_url + API_PREFIX

    @property
    def jay_base_url(self) -> str:
        """The Media Jay playout API base URL, e.g. ``http://127.0.0.1:54321/jay``."""
        return self.root_url + JAY_PREFIX

    @property
    def admin_url(self) -> str:
        return self.root_url + ADMIN_PREFIX

    @property
    def private_key_pem(self) -> str:
        return self._partner_keys.private_pem

    @property
    def public_key_pem(self) -> str:
        return self._partner_keys.public_pem

    @property
    def reseller_private_key_pem(self) -> str:
        return self._reseller_keys.private_pem

    @property
    def reseller_public_key_pem(self) -> str:
        return self._reseller_keys.public_pem

    def make_token(
        self,
        *,
        reseller: bool = False,
        iat: float | None = None,
        exp: float | None = None,
        issuer: str | None = None,
    ) -> str:
        """A JWT as the doc's Get Started makes one (RS512, iat 1 h back, exp 1 day on)."""
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": issuer or (self.reseller_issuer if reseller else self.issuer),
            "iat": int(iat if iat is not None else now - 3600),
            "exp": int(exp if exp is not None else now + 86_400),
        }
        key = self._signing_keys.get(reseller)
        if key is None:
            keys = self._reseller_keys if reseller else self._partner_keys
            key = self._signing_keys[reseller] = RSAKey.import_key(keys.private_pem)
        return jwt.encode({"alg": "RS512"}, claims, key, algorithms=["RS512"])

    def headers(self, *, reseller: bool = False) -> dict[str, str]:
        """Request headers for a plain HTTP client (fresh JWT each call)."""
        return {
            "Magine-AccessToken": self.access_token,
            "Authorization": f"Bearer {self.make_token(reseller=reseller)}",
        }

    def client(self, *, reseller: bool = False, **kwargs: Any) -> MagineClient:
        """A ``magine_async.MagineClient`` for this sandbox (partner or reseller key)."""
        from magine_async import MagineClient  # imported late: the sandbox stands alone

        settings: dict[str, Any] = {
            "access_token": self.access_token,
            "issuer": self.reseller_issuer if reseller else self.issuer,
            "private_key": self.reseller_private_key_pem if reseller else self.private_key_pem,
            "base_url": self.base_url,
        }
        settings.update(kwargs)
        return MagineClient(**settings)

    def jay_client(self, **kwargs: Any) -> PlayoutClient:
        """A ``magine_async.jay.PlayoutClient`` for this sandbox's playout routes (playout
        ``"sandbox"`` unless ``playout_id`` says otherwise; any id is served)."""
        from magine_async.jay import PlayoutClient  # imported late: the sandbox stands alone

        settings: dict[str, Any] = {
            "api_key": self.jay_api_key,
            "base_url": self.jay_base_url,
            "playout_id": "sandbox",
        }
        settings.update(kwargs)
        return PlayoutClient(**settings)

    def __repr__(self) -> str:
        where = self.base_url if self.port is not None else "not started"
        extra = "" if self.representation.plain else f" representation={self.representation.mode}"
        if self.rate_limit is not None:
            extra += f" rate_limit={self.rate_limit.rate:g}/s"
        return f"<Sandbox {where} viewables={len(self.state.catalogue)}{extra}>"
