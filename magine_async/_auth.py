"""RS512 JWT minting with an in-memory, single-flight cache.

The platform authenticates every call with ``Authorization: Bearer <jwt>``: a JWT signed with
the partner's (or reseller's) RSA private key, carrying ``iss``, ``iat`` and ``exp``, where
``exp`` may lie at most 30 days after ``iat``. Tokens live in memory only.

Loading a 4096-bit key costs a few hundred milliseconds and signing about a millisecond and a
half, so both run in a worker thread: a web backend's event loop never stalls on them. Any
number of concurrent requests that find no usable token wait on one lock and cause exactly one
signing.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

from ._errors import ConfigurationError

__all__ = ["MAX_TOKEN_TTL", "PrivateKeySource", "TokenProvider", "load_private_key"]

MAX_TOKEN_TTL = 30 * 24 * 3600.0
"""The platform refuses tokens whose ``exp`` is more than 30 days after ``iat``."""

MIN_KEY_BITS = 2048
_REFRESH_MARGIN = 300.0
_REFRESH_FRACTION = 0.10
_RECENT_TOKENS = 16  # signed tokens kept (in memory) to redact them wherever they come back

PrivateKeySource = str | bytes | os.PathLike[str]


def _pem_bytes(source: PrivateKeySource) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str):
        if "-----BEGIN" in source:
            return source.encode("ascii", "replace")
        source = Path(source)
    path = Path(source)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"private_key: cannot read key file {str(path)!r}: {exc.strerror or type(exc).__name__}"
        ) from None


def load_private_key(source: PrivateKeySource) -> RSAKey:
    """Load an RSA private key from PEM text, PEM bytes or a path.

    PKCS#1 (``-----BEGIN RSA PRIVATE KEY-----``, what ``ssh-keygen -m PEM`` writes) and PKCS#8
    are accepted. An encrypted key, a key that is not RSA or one shorter than 2048 bits raises
    :class:`ConfigurationError` saying why; the message never contains key material.
    """
    pem = _pem_bytes(source)
    if b"-----BEGIN" not in pem:
        raise ConfigurationError(
            "private_key: not PEM text (expected '-----BEGIN ... PRIVATE KEY-----')"
        )
    if b"ENCRYPTED" in pem:
        raise ConfigurationError(
            "private_key: the key is encrypted with a passphrase; the SDK needs an unencrypted key"
        )
    try:
        # The RSA consistency check costs ~280 ms for a 4096-bit key and holds the GIL (a
        # worker thread would still stall the event loop). The key is the caller's own, not
        # untrusted input; a damaged key shows up as a 401 at the first request instead.
        key = serialization.load_pem_private_key(
            pem, password=None, unsafe_skip_rsa_key_validation=True
        )
    except TypeError:
        raise ConfigurationError(
            "private_key: the key is encrypted with a passphrase; the SDK needs an unencrypted key"
        ) from None
    except (ValueError, Exception) as exc:  # cryptography raises ValueError or UnsupportedAlgorithm
        raise ConfigurationError(
            f"private_key: could not be parsed as a PEM private key ({type(exc).__name__})"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(
            f"private_key: RS512 needs an RSA key, got {type(key).__name__.lstrip('_')}"
        )
    if key.key_size < MIN_KEY_BITS:
        raise ConfigurationError(
            f"private_key: an RSA key of {key.key_size} bits is too short; "
            f"at least {MIN_KEY_BITS} bits are required"
        )
    return RSAKey.import_key(key)


@dataclass(slots=True, frozen=True)
class _Token:
    value: str
    expires_at: float
    refresh_at: float

    def __repr__(self) -> str:
        return f"_Token(expires_at={self.expires_at}, refresh_at={self.refresh_at})"


class TokenProvider:
    """Mints and caches the RS512 JWT that authenticates requests.

    ``ttl`` is the token lifetime in seconds (default one hour, at most 30 days);
    ``clock_skew`` backdates ``iat`` so a server whose clock runs a little behind still
    accepts the token. A token is re-minted once less than 5 minutes or 10 % of its lifetime
    remain (whichever is longer, but never more than half of it).
    """

    __slots__ = (
        "_clock",
        "_key",
        "_key_source",
        "_lock",
        "_recent",
        "_token",
        "clock_skew",
        "issuer",
        "signings",
        "ttl",
    )

    def __init__(
        self,
        *,
        issuer: str,
        private_key: PrivateKeySource | RSAKey,
        ttl: float = 3600.0,
        clock_skew: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(ttl, int | float) or not math.isfinite(ttl) or ttl <= 0:
            raise ValueError("token_ttl: must be a positive number of seconds")
        if ttl > MAX_TOKEN_TTL:
            raise ValueError("token_ttl: must not exceed 30 days (2592000 s), the platform's limit")
        if clock_skew < 0:
            raise ValueError("clock_skew: must not be negative")
        self.issuer = issuer
        self.ttl = float(ttl)
        self.clock_skew = float(clock_skew)
        self._clock = clock
        self._key: RSAKey | None = private_key if isinstance(private_key, RSAKey) else None
        self._key_source: PrivateKeySource | None = (
            None if isinstance(private_key, RSAKey) else private_key
        )
        self._token: _Token | None = None
        self._recent: deque[_Token] = deque(maxlen=_RECENT_TOKENS)
        self._lock: asyncio.Lock | None = None
        self.signings = 0
        """How many tokens this provider has signed (for diagnostics and tests)."""

    def __repr__(self) -> str:
        return f"TokenProvider(issuer={self.issuer!r}, ttl={self.ttl})"

    async def load_key(self) -> None:
        """Load the private key in a worker thread, if it is not loaded yet."""
        if self._key is None:
            source = self._key_source
            assert source is not None
            self._key = await asyncio.to_thread(load_private_key, source)
            self._key_source = None

    def cached(self) -> str | None:
        """The cached token if it needs no refresh yet, without waiting; else None."""
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        return None

    async def get(self) -> str:
        """A valid token: the cached one, or one freshly signed (single-flight)."""
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token.value
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            token = self._token
            if token is not None and self._clock() < token.refresh_at:
                return token.value
            await self.load_key()
            token = await asyncio.to_thread(self._sign)
            self._token = token
            self._recent.append(token)
            return token.value

    def recent_secrets(self) -> tuple[str, ...]:
        """The tokens signed lately that may still be in use, and their signatures (an echo
        that mangles the dots still shows one whole): secrets for redaction."""
        now = self._clock()
        found: list[str] = []
        for token in self._recent:
            if token.expires_at > now:
                found.append(token.value)
                found.append(token.value.rsplit(".", 1)[-1])
        return tuple(found)

    def invalidate(self, value: str) -> None:
        """Forget ``value`` after the server rejected it, unless a newer token replaced it."""
        if self._token is not None and self._token.value == value:
            self._token = None

    def _sign(self) -> _Token:
        key = self._key
        assert key is not None
        now = self._clock()
        iat = int(now - self.clock_skew)
        exp = int(now + self.ttl)
        exp = min(exp, iat + int(MAX_TOKEN_TTL))
        value = jwt.encode(
            {"alg": "RS512", "typ": "JWT"},
            {"iss": self.issuer, "iat": iat, "exp": exp},
            key,
            algorithms=["RS512"],
        )
        lifetime = exp - now
        margin = min(max(_REFRESH_MARGIN, _REFRESH_FRACTION * self.ttl), lifetime / 2)
        self.signings += 1
        return _Token(value=value, expires_at=float(exp), refresh_at=exp - margin)
