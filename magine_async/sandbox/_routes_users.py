"""/partner/users: users, entitlements, tags, segments, play sessions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import OctKey

from . import _validate as v
from ._context import Route, state, user_or_404
from ._http import ApiError, bad_request, empty, json_response, not_found, read_json, read_object
from ._state import Entitlement, SandboxState, User

USER_TOKEN_TTL = 72 * 3600
_USER_TOKEN_KEY = OctKey.import_key(b"magine-sandbox-user-token-key-0123456789abcdef")


def user_token(st: SandboxState, user: User) -> str:
    """A login JWT for the Magine Client API (HS256, 72 h), as the platform issues one."""
    now = st.now()
    claims = {
        "sub": user.user_id,
        "iat": now,
        "exp": now + USER_TOKEN_TTL,
        "gen": user.login_generation,
        "iss": "magine-sandbox",
    }
    return jwt.encode({"alg": "HS256"}, claims, _USER_TOKEN_KEY)


def _user_id(request: web.Request) -> str:
    return v.path_id(request.match_info["userId"], "User id", "invalidUserId")


def _user(request: web.Request) -> tuple[SandboxState, User]:
    st = state(request)
    return st, user_or_404(st, _user_id(request))


# -- users -------------------------------------------------------------------------------


async def lookup_user(request: web.Request) -> web.StreamResponse:
    st = state(request)
    body = await read_object(request)
    user = st.user_by_email(v.need_email(body))
    if user is None:
        raise not_found("userNotFound", "No user has that e-mail address.")
    return json_response({"userId": user.user_id})


def _optional_user_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": v.string(body, "name", "", required=False),
        "locale": v.string(body, "locale", "", required=False),
        "zip_code": v.string(body, "zipCode", "", required=False),
        "gender": v.string(body, "gender", "", required=False),
    }


async def create_user(request: web.Request) -> web.StreamResponse:
    st = state(request)
    body = await read_object(request)
    email = v.need_email(body)
    country = v.need_country(body)
    fields = _optional_user_fields(body)
    fields["birth_date"] = v.date_only(body, "birthDate")
    if st.user_by_email(email) is not None:
        raise ApiError(
            409, "userAlreadyExists", "There already exists a user with the provided email address."
        )
    user = st.create_user(email, country, **fields)
    return json_response({"userId": user.user_id}, status=201)


async def auth_user(request: web.Request) -> web.StreamResponse:
    st, user = _user(request)
    st.counters.effect("users.tokens_issued")
    return json_response({"token": user_token(st, user)})


async def logout_all_devices(request: web.Request) -> web.StreamResponse:
    st, user = _user(request)
    user.login_generation += 1
    st.counters.effect("users.logged_out")
    return empty(202)


async def set_password(request: web.Request) -> web.StreamResponse:
    st, user = _user(request)
    body = await read_object(request)
    password = v.string(body, "password", "", required=True, non_empty=True)
    user.password = password
    st.counters.effect("users.passwords_set")
    return empty(200)


async def get_user(request: web.Request) -> web.StreamResponse:
    _, user = _user(request)
    return json_response({"user": user.public()})


async def patch_user(request: web.Request) -> web.StreamResponse:
    st, user = _user(request)
    body = await read_object(request)
    email = v.email(body, "email", required=False)
    fields = _optional_user_fields(body)
    taken = email is not None and st.user_by_email(email) not in (None, user)
    if taken:
        raise bad_request("emailAlreadyInUse", "Another user already has that e-mail address.")
    if email is not None:
        st.change_email(user, email)
    for name, value in fields.items():
        if value is not None:
            setattr(user, name, value)
    st.counters.effect("users.patched")
    return empty(204)


async def delete_user(request: web.Request) -> web.StreamResponse:
    st, user = _user(request)
    st.delete_user(user)
    return empty(204)


# -- entitlements ------------------------------------------------------------------------


async def list_entitlements(request: web.Request) -> web.StreamResponse:
    _, user = _user(request)
    return json_response({"entitlements": [e.output() for e in user.entitlements.values()]})


def _entitlement_inputs(st: SandboxState, data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, list) or not data:
        raise bad_request(v.INVALID, "The body must be a non-empty array of entitlements.")
    now = st.clock()
    parsed: list[dict[str, Any]] = []
    for i, item in enumerate(data):
        where = f"[{i}]."
        if not isinstance(item, dict):
            raise v.fail(f"[{i}]", "must be an object")
        offer_id = v.string(item, "offerId", where, required=True, non_empty=True)
        purchased = v.datetime_value(item, "purchasedAt", where)
        expiry = v.datetime_value(item, "expiry", where)
        message = v.string(item, "message", where, required=False)
        if purchased is not None and purchased.timestamp() > now:
            raise v.fail(f"{where}purchasedAt", "must be in the past")
        if expiry is not None and expiry.timestamp() <= now:
            raise v.fail(f"{where}expiry", "must be in the future")
        parsed.append(
            {"offer_id": offer_id, "purchased": purchased, "expiry": expiry, "message": message}
        )
    return parsed


async def create_entitlements(request: web.Request) -> web.StreamResponse:
    st, user = _user(request)
    items = _entitlement_inputs(st, await read_json(request))
    now = st.clock()
    results: list[dict[str, Any]] = []
    failures: list[tuple[int, str, str]] = []  # status, errorCode, message
    for item in items:
        offer_id = item["offer_id"]
        offer = st.offers.get(offer_id)
        existing = user.entitlements.get(offer_id)
        if offer is None:
            failures.append((404, "offerNotFound", f"Offer {offer_id} not found"))
            results.append({"offerId": offer_id, "failureMessage": failures[-1][2]})
            continue
        if existing is not None and existing.active(now):
            failures.append(
                (400, "offerEntitledAlready", f"User is already entitled to offer {offer_id}")
            )
            results.append({"offerId": offer_id, "failureMessage": failures[-1][2]})
            continue
        entitlement = Entitlement(
            offer_id,
            offer.offer_type,
            item["purchased"] or dt.datetime.fromtimestamp(int(now), dt.UTC),
            item["expiry"],
            source="partner-api",
            message=item["message"],
        )
        user.entitlements[offer_id] = entitlement
        st.counters.effect("entitlements.created")
        success = entitlement.output()
        success.pop("source", None)
        success.pop("message", None)
        results.append({"offerId": offer_id, "successOutput": success})
    if not failures:
        return json_response({"results": results}, status=201)
    if len(failures) < len(results):
        return json_response({"results": results}, status=207)
    status, code, _ = failures[0]
    raise ApiError(status, code, *(message for _, _, message in failures))


async def delete_entitlement(request: web.Request) -> web.StreamResponse:
    st, user = _user(request)
    offer_id = v.path_id(request.match_info["offerId"], "Offer id", "invalidOfferId")
    if offer_id not in st.offers:
        raise not_found("offerNotFound", f"Offer {offer_id!r} not found.")
    if user.entitlements.pop(offer_id, None) is None:
        raise not_found("entitlementNotFound", f"User is not entitled to offer {offer_id!r}.")
    st.counters.effect("entitlements.deleted")
    return empty(204)


# -- tags and segments -------------------------------------------------------------------


def _tag(request: web.Request) -> str:
    tag = request.match_info["tag"]
    if not tag.strip() or len(tag) > 256:
        raise bad_request("invalidTag", "A tag must be 1 to 256 characters.")
    return tag


async def add_tag(request: web.Request) -> web.StreamResponse:
    st, user = _user(request)
    tag = _tag(request)
    if tag not in user.tags:
        user.tags.add(tag)
        st.counters.effect("users.tags_added")
    return empty(204)


async def remove_tag(request: web.Request) -> web.StreamResponse:
    st, user = _user(request)
    tag = _tag(request)
    if tag in user.tags:
        user.tags.discard(tag)
        st.counters.effect("users.tags_removed")
    return empty(204)


async def list_segments(request: web.Request) -> web.StreamResponse:
    _, user = _user(request)
    return json_response(sorted(user.segments))


def _segment(st: SandboxState, request: web.Request) -> str:
    segment = request.match_info["segmentId"]
    if segment not in st.segments:
        raise not_found("segmentNotFound", f"Segment {segment!r} not found.")
    return segment


async def add_segment(request: web.Request) -> web.StreamResponse:
    st, user = _user(request)
    segment = _segment(st, request)
    if segment not in user.segments:
        user.segments.add(segment)
        st.counters.effect("users.segments_added")
    return json_response({}, status=202)


async def remove_segment(request: web.Request) -> web.StreamResponse:
    st, user = _user(request)
    segment = _segment(st, request)
    if segment in user.segments:
        user.segments.discard(segment)
        st.counters.effect("users.segments_removed")
    return empty(204)


# -- play sessions -----------------------------------------------------------------------


def _session_user(request: web.Request) -> tuple[SandboxState, User]:
    # the doc lists no 404 for play sessions: an unknown user is a bad request
    st = state(request)
    user = st.users.get(_user_id(request))
    if user is None:
        raise bad_request("userNotFound", "User not found.")
    return st, user


async def list_play_sessions(request: web.Request) -> web.StreamResponse:
    _, user = _session_user(request)
    items = [{"id": sid, "revoked": revoked} for sid, revoked in user.play_sessions.items()]
    return json_response({"items": items})


async def revoke_play_session(request: web.Request) -> web.StreamResponse:
    st, user = _session_user(request)
    session_id = v.uuid_path(
        request.match_info["playSessionId"], "Play session id", "invalidPlaySessionId"
    )
    # The document defines no request body (path parameters and headers only): none is
    # required. A body from older clients (``{"revoked": true}``) is still tolerated.
    if request.can_read_body and (await request.read()).strip():
        body = await read_object(request)
        revoked = v.boolean(body, "revoked", "", required=False)
        if revoked is False:
            raise bad_request(v.INVALID, "revoked: a play session can only be revoked")
    if session_id not in user.play_sessions:
        raise bad_request("playSessionNotFound", f"Play session {session_id} not found.")
    if not user.play_sessions[session_id]:
        user.play_sessions[session_id] = True
        st.counters.effect("play_sessions.revoked")
    return json_response({"revoked": True})


P = "/partner/users/{userId}"
ROUTES = [
    Route("users.lookup", "POST", "/partner/users/lookup", lookup_user),
    Route("users.create", "POST", "/partner/users", create_user),
    Route("users.auth", "POST", f"{P}/auth", auth_user),
    Route("users.logout_all_devices", "POST", f"{P}/logout-all-devices", logout_all_devices),
    Route("users.set_password", "PUT", f"{P}/password", set_password),
    Route("users.get", "GET", P, get_user),
    Route("users.patch", "PATCH", P, patch_user),
    Route("users.delete", "DELETE", P, delete_user),
    Route("entitlements.list", "GET", f"{P}/entitlements", list_entitlements),
    Route("entitlements.create", "POST", f"{P}/entitlements", create_entitlements),
    Route("entitlements.delete", "DELETE", f"{P}/entitlements/{{offerId}}", delete_entitlement),
    Route("users.tags.add", "PUT", f"{P}/tags/{{tag}}", add_tag),
    Route("users.tags.remove", "DELETE", f"{P}/tags/{{tag}}", remove_tag),
    Route("users.segments.list", "GET", f"{P}/segments", list_segments),
    Route("users.segments.add", "PUT", f"{P}/segments/{{segmentId}}", add_segment),
    Route("users.segments.remove", "DELETE", f"{P}/segments/{{segmentId}}", remove_segment),
    Route("play_sessions.list", "GET", f"{P}/play-sessions", list_play_sessions),
    Route(
        "play_sessions.revoke", "PATCH", f"{P}/play-sessions/{{playSessionId}}", revoke_play_session
    ),
]
