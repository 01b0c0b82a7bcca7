"""Admin routes under /_sandbox (no auth, no faults): faults, rate limit, counters, clock,
catalogue."""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

from . import _validate as v
from ._context import FAULTS, RATE_LIMITER, STATE, VERIFIER
from ._http import bad_request, json_response, read_object
from ._ratelimit import RateLimit

ADMIN_PREFIX = "/_sandbox"


async def info(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE]
    verifier = request.app[VERIFIER]
    return json_response(
        {
            "partnerId": st.partner_id,
            "viewables": len(st.catalogue),
            "users": len(st.users),
            "now": st.clock(),
            "issuers": {
                iss: {"role": p.role, "resellerId": p.reseller_id}
                for iss, p in verifier.issuers.items()
            },
        }
    )


async def get_faults(request: web.Request) -> web.StreamResponse:
    return json_response(request.app[FAULTS].to_dict())


async def put_faults(request: web.Request) -> web.StreamResponse:
    faults = request.app[FAULTS]
    body = await read_object(request)
    try:
        faults.load(body)
    except (TypeError, ValueError) as exc:
        raise bad_request("invalidFaults", str(exc)) from None
    return json_response(faults.to_dict())


async def patch_faults(request: web.Request) -> web.StreamResponse:
    """Merge: ``{"default": {...}, "routes": {key: {...}}}`` changes only what it names."""
    faults = request.app[FAULTS]
    body = await read_object(request)
    merged = faults.to_dict()
    if "seed" in body:
        merged["seed"] = body["seed"]
    if isinstance(body.get("default"), dict):
        merged["default"].update(body["default"])
    routes = body.get("routes")
    if isinstance(routes, dict):
        for key, spec in routes.items():
            if spec is None:
                merged["routes"].pop(key, None)
            elif isinstance(spec, dict):
                merged["routes"].setdefault(key, {}).update(spec)
    try:
        faults.load(merged)
    except (TypeError, ValueError) as exc:
        raise bad_request("invalidFaults", str(exc)) from None
    return json_response(faults.to_dict())


async def delete_faults(request: web.Request) -> web.StreamResponse:
    request.app[FAULTS].clear()
    return json_response(request.app[FAULTS].to_dict())


async def get_rate_limit(request: web.Request) -> web.StreamResponse:
    """``{"rateLimit": {...} | null, "tokens": {bucket: tokens now}, "waiting": n}``."""
    return json_response(request.app[RATE_LIMITER].to_dict())


async def put_rate_limit(request: web.Request) -> web.StreamResponse:
    """Replace the rate limit with the body (``RateLimit`` fields: ``rate`` required)."""
    return _configure_rate_limit(request, await read_object(request))


async def patch_rate_limit(request: web.Request) -> web.StreamResponse:
    """Change only the fields named (on top of the current limit, if there is one)."""
    current = request.app[RATE_LIMITER].limit
    body = await read_object(request)
    return _configure_rate_limit(request, ({} if current is None else current.to_dict()) | body)


def _configure_rate_limit(request: web.Request, fields: dict[str, Any]) -> web.StreamResponse:
    limiter = request.app[RATE_LIMITER]
    try:
        limit = RateLimit.from_dict(fields)
    except (TypeError, ValueError) as exc:
        raise bad_request("invalidRateLimit", str(exc)) from None
    limiter.configure(limit)
    return json_response(limiter.to_dict())


async def delete_rate_limit(request: web.Request) -> web.StreamResponse:
    limiter = request.app[RATE_LIMITER]
    limiter.configure(None)
    return json_response(limiter.to_dict())


async def get_counters(request: web.Request) -> web.StreamResponse:
    snapshot = request.app[STATE].counters.snapshot()
    if request.app[RATE_LIMITER].limit is not None:
        snapshot.setdefault("rate_limit", {})
    return json_response(snapshot)


async def delete_counters(request: web.Request) -> web.StreamResponse:
    counters = request.app[STATE].counters
    counters.reset()
    return json_response(counters.snapshot())


async def touch_viewables(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE]
    body = await read_object(request)
    count = v.integer(body, "count", "", required=True, minimum=0) or 0
    at = v.number(body, "at", "", required=False)
    start = v.integer(body, "start", "", required=False, minimum=0) or 0
    ids = st.touch_viewables(count, at=at, start=start)
    return json_response({"ids": ids})


async def add_offer(request: web.Request) -> web.StreamResponse:
    """Register an offer (benchmarks and tests that need offers no seeded user holds)."""
    st = request.app[STATE]
    body = await read_object(request)
    offer_id = v.string(body, "offerId", "", required=True, non_empty=True) or ""
    offer_type = v.string(body, "offerType", "", required=False) or "SubscribeType"
    st.add_offer(offer_id, offer_type)
    return json_response({"offerId": offer_id, "offerType": offer_type}, status=201)


async def list_user_ids(request: web.Request) -> web.StreamResponse:
    """The ids and e-mails of the first ``limit`` users (default 100), in creation order."""
    st = request.app[STATE]
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise v.fail("limit", "must be an integer") from None
    users = list(itertools.islice(st.users.values(), max(0, limit)))
    return json_response(
        {"userIds": [u.user_id for u in users], "emails": [u.email for u in users]}
    )


async def get_clock(request: web.Request) -> web.StreamResponse:
    clock = request.app[STATE].clock
    return json_response({"now": clock(), "frozen": clock.frozen})


async def advance_clock(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE]
    body = await read_object(request)
    seconds = v.number(body, "seconds", "", required=True) or 0.0
    if seconds < 0:
        raise v.fail("seconds", "must be >= 0")
    st.clock.advance(seconds)
    st.tick()
    return json_response({"now": st.clock(), "frozen": st.clock.frozen})


def add_admin_routes(app: web.Application) -> None:
    routes: list[tuple[str, str, Any, str]] = [
        ("GET", "", info, "info"),
        ("GET", "/faults", get_faults, "faults.get"),
        ("PUT", "/faults", put_faults, "faults.put"),
        ("PATCH", "/faults", patch_faults, "faults.patch"),
        ("DELETE", "/faults", delete_faults, "faults.delete"),
        ("GET", "/rate-limit", get_rate_limit, "rate_limit.get"),
        ("PUT", "/rate-limit", put_rate_limit, "rate_limit.put"),
        ("PATCH", "/rate-limit", patch_rate_limit, "rate_limit.patch"),
        ("DELETE", "/rate-limit", delete_rate_limit, "rate_limit.delete"),
        ("GET", "/counters", get_counters, "counters.get"),
        ("DELETE", "/counters", delete_counters, "counters.delete"),
        ("POST", "/viewables/touch", touch_viewables, "viewables.touch"),
        ("POST", "/offers", add_offer, "offers.add"),
        ("GET", "/users", list_user_ids, "users.list"),
        ("GET", "/clock", get_clock, "clock.get"),
        ("POST", "/clock/advance", advance_clock, "clock.advance"),
    ]
    for method, path, handler, name in routes:
        app.router.add_route(method, ADMIN_PREFIX + path, handler, name=f"_sandbox.{name}")
