"""Typed access to the sandbox objects from a request, and the route table type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

from aiohttp import web

from ._auth import Principal, TokenVerifier
from ._faults import FaultConfig
from ._http import ApiError, not_found
from ._ratelimit import RateLimiter
from ._state import SandboxState, User

STATE = web.AppKey("magine_sandbox_state", SandboxState)
VERIFIER = web.AppKey("magine_sandbox_verifier", TokenVerifier)
FAULTS = web.AppKey("magine_sandbox_faults", FaultConfig)
RATE_LIMITER = web.AppKey("magine_sandbox_rate_limiter", RateLimiter)
PRINCIPAL = web.RequestKey("magine_sandbox_principal", Principal)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Route(NamedTuple):
    """One documented operation: its name, method and path (below /api/v1)."""

    operation: str
    method: str
    path: str
    handler: Handler


def state(request: web.Request) -> SandboxState:
    return request.app[STATE]


def principal(request: web.Request) -> Principal:
    value = request.get(PRINCIPAL)
    if not isinstance(value, Principal):
        raise ApiError(401, "unauthorized", "The request is not authenticated.")
    return value


def user_or_404(st: SandboxState, user_id: str) -> User:
    user = st.users.get(user_id)
    if user is None:
        raise not_found("userNotFound", f"User {user_id!r} not found.")
    return user
