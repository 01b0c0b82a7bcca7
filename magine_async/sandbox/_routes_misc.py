"""/partner/test and /partner/parental-control."""

from __future__ import annotations

from aiohttp import web

from ._context import Route, state
from ._http import bad_request, json_response, not_found


async def partner_test(request: web.Request) -> web.StreamResponse:
    return json_response("OK")


async def list_rating_systems(request: web.Request) -> web.StreamResponse:
    st = state(request)
    if not st.parental_control or not st.rating_systems:
        raise bad_request(
            "parentalControlNotConfigured", "Partner is not configured for parental control."
        )
    return json_response({"ratingSystems": list(st.rating_systems.values())})


async def get_rating_system(request: web.Request) -> web.StreamResponse:
    st = state(request)
    system = st.rating_systems.get(request.match_info["ratingSystemId"])
    if system is None:
        raise not_found("ratingSystemNotFound", "Rating system not found.")
    return json_response({"ratingSystem": system})


ROUTES = [
    Route("partner.test", "GET", "/partner/test", partner_test),
    Route(
        "parental_control.rating_systems.list",
        "GET",
        "/partner/parental-control/rating-systems",
        list_rating_systems,
    ),
    Route(
        "parental_control.rating_systems.get",
        "GET",
        "/partner/parental-control/rating-system/{ratingSystemId}",
        get_rating_system,
    ),
]
