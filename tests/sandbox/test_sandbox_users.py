"""Users, entitlements (201 / 207 / offerEntitledAlready), tags, segments, play sessions."""

from __future__ import annotations

from typing import Any

import pytest

from magine_async.sandbox import Sandbox

from .conftest import T0, Api

USER = {
    "email": "ada@example.com",
    "countryCode": "se",
    "name": "Ada",
    "locale": "sv",
    "birthDate": "2001-02-23",
    "zipCode": "11106",
    "gender": "female",
}


async def _user(api: Api, **overrides: Any) -> str:
    status, body = await api.post("/partner/users", json=USER | overrides)
    assert status == 201, body
    return str(body["userId"])


async def test_create_lookup_get(api: Api, sb: Sandbox) -> None:
    user_id = await _user(api)
    assert len(user_id) == 28
    assert await api.post("/partner/users/lookup", json={"email": "ADA@example.com"}) == (
        200,
        {"userId": user_id},
    )
    status, body = await api.get(f"/partner/users/{user_id}")
    assert status == 200
    assert body == {
        "user": {
            "userId": user_id,
            "country": "SE",
            "createdTimestamp": int(T0),
            "locale": "sv",
            "email": "ada@example.com",
            "name": "Ada",
            "zipCode": "11106",
            "gender": "female",
        }
    }
    assert sb.counters["users.created"] == 1


async def test_email_is_unique(api: Api, sb: Sandbox) -> None:
    await _user(api)
    status, body = await api.post("/partner/users", json=USER | {"email": "Ada@Example.com"})
    assert (status, body["errorCode"]) == (409, "userAlreadyExists")
    assert sb.counters["users.created"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"countryCode": "SE"},
        {"email": "not-an-email", "countryCode": "SE"},
        {"email": "a@b.se"},
        {"email": "a@b.se", "countryCode": "SWE"},
        {"email": "a@b.se", "countryCode": "SE", "birthDate": "23/02/2001"},
        {"email": "a@b.se", "countryCode": "SE", "name": 5},
    ],
)
async def test_create_validation(api: Api, body: dict[str, Any]) -> None:
    status, error = await api.post("/partner/users", json=body)
    assert status == 400
    assert error["errorCode"] == "invalidInput"


async def test_lookup_unknown_and_bad(api: Api) -> None:
    status, body = await api.post("/partner/users/lookup", json={"email": "x@nowhere.se"})
    assert (status, body["errorCode"]) == (404, "userNotFound")
    status, _ = await api.post("/partner/users/lookup", json={})
    assert status == 400


async def test_patch_and_delete(api: Api, sb: Sandbox) -> None:
    user_id = await _user(api)
    other = await _user(api, email="bob@example.com")
    assert await api.patch(f"/partner/users/{user_id}", json={"name": "Ada L"}) == (204, None)
    status, body = await api.patch(f"/partner/users/{user_id}", json={"email": "bob@example.com"})
    assert (status, body["errorCode"]) == (400, "emailAlreadyInUse")
    assert (await api.patch(f"/partner/users/{user_id}", json={"email": "ada2@example.com"}))[
        0
    ] == 204
    status, body = await api.get(f"/partner/users/{user_id}")
    assert body["user"]["name"] == "Ada L"
    assert body["user"]["email"] == "ada2@example.com"
    assert (await api.post("/partner/users/lookup", json={"email": "ada@example.com"}))[0] == 404
    assert await api.delete(f"/partner/users/{other}") == (204, None)
    for method in ("GET", "PATCH", "DELETE"):
        status, body = await api.call(method, f"/partner/users/{other}", json={})
        assert (status, body["errorCode"]) == (404, "userNotFound")
    status, _ = await api.get("/partner/users/bad id!")
    assert status == 400


async def test_auth_logout_password(api: Api, sb: Sandbox) -> None:
    user_id = await _user(api)
    status, body = await api.post(f"/partner/users/{user_id}/auth")
    assert status == 200
    assert body["token"].count(".") == 2
    assert await api.post(f"/partner/users/{user_id}/logout-all-devices") == (202, None)
    assert await api.put(f"/partner/users/{user_id}/password", json={"password": "s3cret!"}) == (
        200,
        None,
    )
    status, _ = await api.put(f"/partner/users/{user_id}/password", json={})
    assert status == 400
    status, _ = await api.post("/partner/users/NOSUCHUSER0000000000000000000/auth")
    assert status == 404


async def test_entitlements_201(api: Api, sb: Sandbox) -> None:
    user_id = await _user(api)
    body = [
        {
            "offerId": "svod-monthly",
            "purchasedAt": "2025-01-01T10:00:00Z",
            "expiry": "2026-01-01T00:00:00+00:00",
            "message": "welcome",
        },
        {"offerId": "pass-7-days"},
    ]
    status, answer = await api.post(f"/partner/users/{user_id}/entitlements", json=body)
    assert status == 201
    assert answer == {
        "results": [
            {
                "offerId": "svod-monthly",
                "successOutput": {
                    "offerId": "svod-monthly",
                    "purchasedAt": "2025-01-01T10:00:00Z",
                    "expiry": "2026-01-01T00:00:00Z",
                    "offerType": "SubscribeType",
                },
            },
            {
                "offerId": "pass-7-days",
                "successOutput": {
                    "offerId": "pass-7-days",
                    "purchasedAt": "2025-06-15T15:06:40Z",
                    "offerType": "PassType",
                },
            },
        ]
    }
    status, listed = await api.get(f"/partner/users/{user_id}/entitlements")
    assert status == 200
    assert [e["offerId"] for e in listed["entitlements"]] == ["svod-monthly", "pass-7-days"]
    assert listed["entitlements"][0]["message"] == "welcome"
    assert sb.counters["entitlements.created"] == 2


async def test_entitlements_207_multi_status(api: Api, sb: Sandbox) -> None:
    user_id = await _user(api)
    await api.post(f"/partner/users/{user_id}/entitlements", json=[{"offerId": "rent-48h"}])
    body = [{"offerId": "rent-48h"}, {"offerId": "buy-to-own"}, {"offerId": "no-such-offer"}]
    status, answer = await api.post(f"/partner/users/{user_id}/entitlements", json=body)
    assert status == 207
    results = answer["results"]
    assert [r["offerId"] for r in results] == ["rent-48h", "buy-to-own", "no-such-offer"]
    assert "failureMessage" in results[0] and "successOutput" not in results[0]
    assert results[1]["successOutput"]["offerType"] == "BuyType"
    assert "failureMessage" in results[2]
    assert sb.counters["entitlements.created"] == 2


async def test_entitled_already_and_offer_not_found(api: Api) -> None:
    user_id = await _user(api)
    path = f"/partner/users/{user_id}/entitlements"
    assert (await api.post(path, json=[{"offerId": "svod-yearly"}]))[0] == 201
    status, body = await api.post(path, json=[{"offerId": "svod-yearly"}])
    assert (status, body["errorCode"]) == (400, "offerEntitledAlready")
    status, body = await api.post(path, json=[{"offerId": "nope"}])
    assert (status, body["errorCode"]) == (404, "offerNotFound")


@pytest.mark.parametrize(
    "body",
    [
        [],
        {},
        [{}],
        [{"offerId": 5}],
        [{"offerId": "svod-yearly", "purchasedAt": "2999-01-01T00:00:00Z"}],
        [{"offerId": "svod-yearly", "expiry": "2001-01-01T00:00:00Z"}],
        [{"offerId": "svod-yearly", "expiry": "tomorrow"}],
    ],
)
async def test_entitlement_validation(api: Api, sb: Sandbox, body: Any) -> None:
    user_id = await _user(api)
    status, error = await api.post(f"/partner/users/{user_id}/entitlements", json=body)
    assert status == 400
    assert error["errorCode"] == "invalidInput"
    assert sb.counters["entitlements.created"] == 0


async def test_delete_entitlement(api: Api) -> None:
    user_id = await _user(api)
    path = f"/partner/users/{user_id}/entitlements"
    await api.post(path, json=[{"offerId": "svod-yearly"}])
    assert await api.delete(f"{path}/svod-yearly") == (204, None)
    status, body = await api.delete(f"{path}/svod-yearly")
    assert (status, body["errorCode"]) == (404, "entitlementNotFound")
    status, body = await api.delete(f"{path}/no-such-offer")
    assert (status, body["errorCode"]) == (404, "offerNotFound")
    status, body = await api.get("/partner/users/NOSUCHUSER0000000000000000000/entitlements")
    assert status == 404


async def test_tags_and_segments(api: Api, sb: Sandbox) -> None:
    user_id = await _user(api)
    assert await api.put(f"/partner/users/{user_id}/tags/early-adopter") == (204, None)
    assert sb.state.users[user_id].tags == {"early-adopter"}
    assert await api.delete(f"/partner/users/{user_id}/tags/early-adopter") == (204, None)
    assert sb.state.users[user_id].tags == set()
    assert await api.get(f"/partner/users/{user_id}/segments") == (200, [])
    assert await api.put(f"/partner/users/{user_id}/segments/vip") == (202, {})
    assert await api.get(f"/partner/users/{user_id}/segments") == (200, ["vip"])
    assert await api.delete(f"/partner/users/{user_id}/segments/vip") == (204, None)
    status, body = await api.put(f"/partner/users/{user_id}/segments/unknown")
    assert (status, body["errorCode"]) == (404, "segmentNotFound")


async def test_play_sessions_revoke(api: Api, sb: Sandbox) -> None:
    user_id = await _user(api)
    session = sb.state.add_play_session(user_id)
    assert await api.get(f"/partner/users/{user_id}/play-sessions") == (
        200,
        {"items": [{"id": session, "revoked": False}]},
    )
    path = f"/partner/users/{user_id}/play-sessions/{session}"
    assert await api.patch(path) == (200, {"revoked": True})
    assert await api.patch(path, json={"revoked": True}) == (200, {"revoked": True})
    assert (await api.get(f"/partner/users/{user_id}/play-sessions"))[1]["items"][0]["revoked"]
    assert sb.counters["play_sessions.revoked"] == 1
    status, body = await api.patch(f"/partner/users/{user_id}/play-sessions/not-a-uuid")
    assert status == 400
    status, body = await api.patch(
        f"/partner/users/{user_id}/play-sessions/b33617fe-a6c2-4f6d-a5bf-ab3c3ecc33a3"
    )
    assert (status, body["errorCode"]) == (400, "playSessionNotFound")


async def test_generated_users(sb: Sandbox, api: Api) -> None:
    assert len(sb.state.users) == 5
    user = next(iter(sb.state.users.values()))
    assert await api.post("/partner/users/lookup", json={"email": user.email}) == (
        200,
        {"userId": user.user_id},
    )
