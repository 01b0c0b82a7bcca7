"""An embedded Magine Platform API server for tests, demos and benchmarks.

A real aiohttp server on a loopback socket with in-memory state, the documented
behaviour of all 41 operations under ``/api/v1``, RS512 JWT authentication, a seeded
catalogue generator and deterministic fault injection. It does not import the SDK's
client or models (only :meth:`Sandbox.client` does, lazily)::

    async with Sandbox(viewables=1000, seed=1) as sb:
        async with sb.client() as client:
            ...
        sb.faults.route("viewables.list").error_rate = 0.2
        assert sb.counters["users.created"] == 1

``Sandbox(representation="varied", seed=3)`` answers in seeded document-valid variants
(floats, omitted optional properties, unknown ``x-sandbox-*`` properties, shuffled keys,
charset spellings); :func:`strip_variants` removes the added properties from what was read.

``Sandbox(rate_limit=RateLimit(rate=300, burst=30))`` models the platform's capacity: a token
bucket per credential (or global; all calls or writes only) answering 429 above it, with
``sb.counters.rate_limit`` counting admitted and throttled requests per operation.

Command line: ``python -m magine_async.sandbox --port 8080 --viewables 100000``
(``--rate-limit 300 --rate-burst 30`` for a capacity model).
"""

from ._app import API_PREFIX, OPERATIONS, build_app
from ._auth import Principal, TokenVerifier
from ._catalogue import Catalogue
from ._cli import main
from ._clock import SandboxClock
from ._counters import Counters
from ._faults import FAULT_KINDS, FaultConfig, FaultSpec
from ._generator import CatalogueGenerator
from ._keys import KeyPair, cached_key_pair
from ._ratelimit import RateLimit, RateLimiter
from ._representation import REPRESENTATIONS, VARIANT_PREFIX, Representation, strip_variants
from ._server import Sandbox
from ._state import SandboxState

__all__ = [
    "API_PREFIX",
    "FAULT_KINDS",
    "OPERATIONS",
    "REPRESENTATIONS",
    "VARIANT_PREFIX",
    "Catalogue",
    "CatalogueGenerator",
    "Counters",
    "FaultConfig",
    "FaultSpec",
    "KeyPair",
    "Principal",
    "RateLimit",
    "RateLimiter",
    "Representation",
    "Sandbox",
    "SandboxClock",
    "SandboxState",
    "TokenVerifier",
    "build_app",
    "cached_key_pair",
    "main",
    "strip_variants",
]
