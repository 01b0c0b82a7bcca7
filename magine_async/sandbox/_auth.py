"""Request authentication as the platform does it: access token plus an RS512 JWT."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal

import msgspec
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from ._clock import SandboxClock
from ._http import ApiError

Role = Literal["partner", "reseller"]

MAX_LIFETIME = 30 * 24 * 3600  # exp may be at most 30 days after iat / into the future
_CLOCK_LEEWAY = 60
_CACHE_LIMIT = 50_000


@dataclass(frozen=True)
class Principal:
    """Who is calling: a partner, or a reseller identified by ``reseller_id``."""

    issuer: str
    role: Role
    reseller_id: str | None = None


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


class TokenVerifier:
    """Checks ``Magine-AccessToken`` and ``Authorization: Bearer <JWT>``.

    The JWT must be RS512-signed by the key registered for its ``iss``, not expired, with
    ``exp - iat`` and ``exp - now`` at most 30 days. A verified token is cached (by its
    string, until its ``exp``) so the RSA check runs once per token.
    """

    def __init__(self, access_token: str, clock: SandboxClock) -> None:
        self.access_token = access_token
        self._clock = clock
        self._issuers: dict[str, tuple[RSAKey, Principal]] = {}
        self._cache: dict[str, tuple[float, Principal]] = {}

    def register(
        self,
        issuer: str,
        public_key_pem: str | bytes,
        role: Role = "partner",
        reseller_id: str | None = None,
    ) -> Principal:
        if role == "reseller" and not reseller_id:
            raise ValueError("a reseller key needs a reseller_id")
        key = RSAKey.import_key(public_key_pem)
        principal = Principal(issuer, role, reseller_id if role == "reseller" else None)
        self._issuers[issuer] = (key, principal)
        self._cache.clear()
        return principal

    def unregister(self, issuer: str) -> None:
        self._issuers.pop(issuer, None)
        self._cache.clear()

    @property
    def issuers(self) -> dict[str, Principal]:
        return {iss: principal for iss, (_, principal) in self._issuers.items()}

    def verify(self, access_token: str | None, authorization: str | None) -> Principal:
        if not access_token:
            raise unauthorized("The Magine-AccessToken header is missing.")
        if access_token != self.access_token:
            raise unauthorized("The Magine-AccessToken is not valid.")
        if not authorization:
            raise unauthorized("The Authorization header is missing.")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("The Authorization header must be 'Bearer <JWT>'.")
        now = self._clock()
        cached = self._cache.get(token)
        if cached is not None:
            if cached[0] > now:
                return cached[1]
            del self._cache[token]
            raise unauthorized("The JWT has expired.")
        exp, principal = self._verify_new(token, now)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = (exp, principal)
        return principal

    def _verify_new(self, token: str, now: float) -> tuple[float, Principal]:
        issuer = _unverified_issuer(token)
        entry = self._issuers.get(issuer) if issuer is not None else None
        if entry is None:
            raise unauthorized("The JWT issuer (iss) is not recognised.")
        key, principal = entry
        try:
            claims = jwt.decode(token, key, algorithms=["RS512"]).claims
        except (JoseError, ValueError):
            raise unauthorized(
                "The JWT signature does not verify with the key registered for its issuer."
            ) from None
        if claims.get("iss") != principal.issuer:
            raise unauthorized("The JWT issuer (iss) does not match.")
        iat, exp = _number(claims.get("iat")), _number(claims.get("exp"))
        if iat is None or exp is None:
            raise unauthorized("The JWT must carry numeric iat and exp claims.")
        if exp <= now:
            raise unauthorized("The JWT has expired.")
        if exp - iat > MAX_LIFETIME or exp - now > MAX_LIFETIME + _CLOCK_LEEWAY:
            raise unauthorized("The JWT expiry (exp) may be at most 30 days after iat.")
        if exp <= iat:
            raise unauthorized("The JWT expiry (exp) must be after iat.")
        return exp, principal


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _unverified_issuer(token: str) -> str | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = msgspec.json.decode(raw)
    except (ValueError, msgspec.DecodeError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None
