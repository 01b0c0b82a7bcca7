"""The aiohttp application: route table, middlewares (faults, errors, auth, rate limit)."""

from __future__ import annotations

import asyncio
import logging
import math

from aiohttp import web
from aiohttp.typedefs import Handler

from . import _routes_media, _routes_misc, _routes_reseller, _routes_users, _routes_viewables
from ._admin import ADMIN_PREFIX, add_admin_routes
from ._auth import TokenVerifier
from ._context import FAULTS, PRINCIPAL, RATE_LIMITER, STATE, VERIFIER, Route, state
from ._faults import FaultConfig
from ._http import ApiError, error_response
from ._ratelimit import RateLimiter
from ._representation import REPRESENTATION, Representation, representation_middleware
from ._state import SandboxState

API_PREFIX = "/api/v1"
OPERATIONS: list[Route] = [
    *_routes_reseller.ROUTES,
    *_routes_misc.ROUTES[:1],
    *_routes_viewables.ROUTES,
    *_routes_misc.ROUTES[1:],
    *_routes_users.ROUTES,
    *_routes_media.ROUTES,
]
_TEMPLATES = web.AppKey("magine_sandbox_templates", dict)

log = logging.getLogger("magine_async.sandbox")

_STATUS_CODES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "notFound",
    405: "methodNotAllowed",
    406: "notAcceptable",
    413: "requestEntityTooLarge",
    415: "unsupportedMediaType",
}

HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _is_api(name: str) -> bool:
    return not name.startswith("_sandbox")


def _server_error(request: web.Request, status: int, code: str, text: str) -> web.Response:
    trace = state(request).trace_id()
    return error_response(status, code, [f"{text} Trace ID {trace}"], headers={"X-Trace-Id": trace})


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    operation = request.match_info.route.name
    if operation is None or not _is_api(operation):
        return await handler(request)
    st = request.app[STATE]
    counters = st.counters
    counters.requests[operation] += 1
    faults = request.app[FAULTS]
    key, spec = faults.spec_for(operation, request.method, request.app[_TEMPLATES][operation])
    kind: str | None = None
    if not spec.quiet:
        kind, delay = faults.decide(key, spec)
        if delay > 0:
            await asyncio.sleep(delay)
    if kind is None:
        response = await handler(request)
        counters.responses[f"{operation} {response.status}"] += 1
        return response
    counters.faults[kind] += 1
    counters.faults[f"{operation}:{kind}"] += 1
    if kind == "error":
        return _server_error(request, 503, "serviceUnavailable", "Service temporarily unavailable.")
    if kind == "throttle":
        seconds = max(0, math.ceil(spec.retry_after))
        return error_response(
            429,
            "tooManyRequests",
            [f"Too many requests; retry after {seconds} second(s)."],
            headers={"Retry-After": str(seconds)},
        )
    if kind == "html502":
        return web.Response(status=502, text=HTML_502, content_type="text/html")
    if kind == "reset_before":
        _drop(request)
        return web.Response(status=500)  # never sent: the connection is gone
    response = await handler(request)
    body = response.body if isinstance(response, web.Response) else None
    if kind == "reset" or not isinstance(body, bytes) or not body:
        _drop(request)
        return response
    return await _truncated(request, response, body)


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def _truncated(
    request: web.Request, response: web.StreamResponse, body: bytes
) -> web.StreamResponse:
    """Declare the full Content-Length, send half the body, close the connection."""
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "transfer-encoding")
    }
    stream = web.StreamResponse(status=response.status, reason=response.reason, headers=headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    transport = request.transport
    if transport is not None:
        transport.close()
    return stream


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.messages, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status >= 500:
            return _server_error(request, exc.status, "internalServerError", exc.reason + ".")
        headers = {k: exc.headers[k] for k in ("Allow", "Retry-After") if k in exc.headers}
        if exc.status == 404:
            message = f"No route matches {request.method} {request.path}."
        elif exc.status == 405:
            message = f"Method {request.method} is not allowed for {request.path}."
        else:
            message = exc.text or exc.reason
        return error_response(
            exc.status, _STATUS_CODES.get(exc.status, "clientError"), [message], headers=headers
        )
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception:
        log.exception("sandbox handler failed: %s %s", request.method, request.path)
        return _server_error(request, 500, "internalServerError", "Internal server error.")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    operation = request.match_info.route.name
    if operation is None or not _is_api(operation):
        return await handler(request)
    found = request.app[VERIFIER].verify(
        request.headers.get("Magine-AccessToken"), request.headers.get("Authorization")
    )
    needed = "reseller" if operation.startswith("reseller.") else "partner"
    if found.role != needed:
        raise ApiError(401, "unauthorized", f"A {found.role} key cannot call {needed} operations.")
    request[PRINCIPAL] = found
    limiter = request.app[RATE_LIMITER]
    if limiter.limit is not None:  # the whole cost of the rate limit when there is none
        refused = await limiter.gate(operation, request.method, found)
        if refused is not None:
            return refused
    request.app[STATE].tick()
    return await handler(request)


def build_app(
    sandbox_state: SandboxState,
    verifier: TokenVerifier,
    faults: FaultConfig,
    representation: Representation | None = None,
    rate_limiter: RateLimiter | None = None,
) -> web.Application:
    """The sandbox application: the 41 operations under /api/v1, admin under /_sandbox.

    Middlewares, outermost first: faults (a truncated answer is cut after it is spelled),
    representation (media types and varied spellings, errors included), errors, auth, which
    ends with the rate limit (after authentication, before the handler; see ``_ratelimit``)."""
    app = web.Application(
        middlewares=[
            fault_middleware,
            representation_middleware,
            error_middleware,
            auth_middleware,
        ],
        client_max_size=64 * 1024 * 1024,
    )
    app[STATE] = sandbox_state
    app[VERIFIER] = verifier
    app[FAULTS] = faults
    app[RATE_LIMITER] = rate_limiter or RateLimiter(sandbox_state)
    app[REPRESENTATION] = representation or Representation()
    app[_TEMPLATES] = {route.operation: route.path for route in OPERATIONS}
    for route in OPERATIONS:
        app.router.add_route(
            route.method, API_PREFIX + route.path, route.handler, name=route.operation
        )
    add_admin_routes(app)
    return app


__all__ = ["ADMIN_PREFIX", "API_PREFIX", "OPERATIONS", "build_app"]
