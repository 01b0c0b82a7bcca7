"""/reseller: provisioning, login tokens and third-party entitlements, scoped per reseller."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from . import _validate as v
from ._context import Route, principal, state, user_or_404
from ._http import ApiError, bad_request, json_response, not_found, read_object
from ._routes_users import user_token
from ._state import Entitlement, Offer, SandboxState, User

THIRD_PARTY = "ThirdPartyType"


def _reseller_id(request: web.Request) -> str:
    reseller_id = principal(request).reseller_id
    if reseller_id is None:  # pragma: no cover - the auth middleware lets only resellers in
        raise ApiError(401, "unauthorized", "A reseller key is required.")
    return reseller_id


def _provisioned_user(request: web.Request) -> tuple[SandboxState, User, str]:
    st = state(request)
    reseller_id = _reseller_id(request)
    user_id = v.path_id(request.match_info["userId"], "User id", "invalidUserId")
    user = user_or_404(st, user_id)
    if reseller_id not in user.resellers:
        raise bad_request(
            "userNotProvisioned", "The user was not provisioned by this reseller account."
        )
    return st, user, reseller_id


def _reseller_offer(st: SandboxState, reseller_id: str, request: web.Request) -> Offer:
    reseller_offer_id = request.match_info["resellerOfferId"]
    offer_id = st.reseller_offers.get(reseller_id, {}).get(reseller_offer_id)
    offer = st.offers.get(offer_id) if offer_id is not None else None
    if offer is None:
        raise not_found("offerNotFound", f"Reseller offer {reseller_offer_id!r} not found.")
    if offer.offer_type != THIRD_PARTY:
        raise bad_request(
            "offerNotThirdParty", "Only third-party offers can be used by a reseller."
        )
    return offer


async def reseller_test(request: web.Request) -> web.StreamResponse:
    return json_response("OK")


async def provision_user(request: web.Request) -> web.StreamResponse:
    st = state(request)
    reseller_id = _reseller_id(request)
    body = await read_object(request)
    email = v.need_email(body)
    country = v.need_country(body)
    name = v.string(body, "name", "", required=False)
    today = dt.datetime.fromtimestamp(st.clock(), dt.UTC).date().isoformat()
    user = st.user_by_email(email)
    if user is not None:
        if reseller_id not in user.resellers:
            user.resellers[reseller_id] = today
            st.counters.effect("reseller.users.claimed")
        return json_response(
            {"userId": user.user_id, "resellerClaimDate": user.resellers[reseller_id]}
        )
    user = st.create_user(email, country, name=name)
    user.resellers[reseller_id] = today
    st.counters.effect("reseller.users.created")
    return json_response({"userId": user.user_id, "resellerClaimDate": today}, status=201)


async def reseller_auth(request: web.Request) -> web.StreamResponse:
    st, user, _ = _provisioned_user(request)
    st.counters.effect("users.tokens_issued")
    return json_response({"token": user_token(st, user)})


async def reseller_entitle(request: web.Request) -> web.StreamResponse:
    st, user, reseller_id = _provisioned_user(request)
    offer = _reseller_offer(st, reseller_id, request)
    existing = user.entitlements.get(offer.offer_id)
    if existing is not None and existing.active(st.clock()):
        raise bad_request("offerEntitledAlready", "The user is already entitled to the offer.")
    user.entitlements[offer.offer_id] = Entitlement(
        offer.offer_id,
        offer.offer_type,
        dt.datetime.fromtimestamp(st.now(), dt.UTC),
        source=f"reseller:{reseller_id}",
    )
    st.counters.effect("entitlements.created")
    return json_response({})


async def reseller_unentitle(request: web.Request) -> web.StreamResponse:
    st, user, reseller_id = _provisioned_user(request)
    offer = _reseller_offer(st, reseller_id, request)
    if user.entitlements.pop(offer.offer_id, None) is None:
        raise not_found("entitlementNotFound", "The user is not entitled to the offer.")
    st.counters.effect("entitlements.deleted")
    return json_response({})


_E = "/reseller/users/{userId}/entitlements/{resellerOfferId}"
ROUTES = [
    Route("reseller.test", "GET", "/reseller/test", reseller_test),
    Route("reseller.users.provision", "POST", "/reseller/users", provision_user),
    Route("reseller.users.auth", "POST", "/reseller/users/{userId}/auth", reseller_auth),
    Route("reseller.entitlements.put", "PUT", _E, reseller_entitle),
    Route("reseller.entitlements.delete", "DELETE", _E, reseller_unentitle),
]
