"""Reseller scope: provisioning (201 / 200), only provisioned users, third-party offers."""

from __future__ import annotations

from magine_async.sandbox import Sandbox

from .conftest import Api, make_jwt

PROVISION = {"email": "rita@example.com", "countryCode": "SE", "name": "Rita"}


async def _provision(api: Api, email: str = "rita@example.com") -> str:
    status, body = await api.post(
        "/reseller/users", reseller=True, json=PROVISION | {"email": email}
    )
    assert status == 201, body
    assert body["resellerClaimDate"] == "2025-06-15"
    return str(body["userId"])


async def test_provision_creates_then_reports_existing(api: Api, sb: Sandbox) -> None:
    user_id = await _provision(api)
    status, body = await api.post("/reseller/users", reseller=True, json=PROVISION)
    assert status == 200
    assert body == {"userId": user_id, "resellerClaimDate": "2025-06-15"}
    assert sb.counters["users.created"] == 1
    assert sb.counters["reseller.users.created"] == 1
    # a partner sees the provisioned user
    status, body = await api.get(f"/partner/users/{user_id}")
    assert body["user"]["email"] == "rita@example.com"


async def test_provisioning_an_existing_partner_user_claims_it(api: Api, sb: Sandbox) -> None:
    status, created = await api.post(
        "/partner/users", json={"email": "pat@example.com", "countryCode": "NO"}
    )
    user_id = created["userId"]
    status, _ = await api.post(f"/reseller/users/{user_id}/auth", reseller=True)
    assert status == 400
    status, body = await api.post(
        "/reseller/users", reseller=True, json={"email": "pat@example.com", "countryCode": "NO"}
    )
    assert status == 200
    assert body["userId"] == user_id
    status, _ = await api.post(f"/reseller/users/{user_id}/auth", reseller=True)
    assert status == 200
    assert sb.counters["reseller.users.claimed"] == 1


async def test_provision_validation(api: Api) -> None:
    for body in ({"countryCode": "SE"}, {"email": "x@y.se"}, {"email": "bad", "countryCode": "SE"}):
        status, error = await api.post("/reseller/users", reseller=True, json=body)
        assert status == 400
        assert error["errorCode"] == "invalidInput"


async def test_reseller_cannot_touch_a_user_it_did_not_provision(api: Api, sb: Sandbox) -> None:
    stranger = next(iter(sb.state.users))
    path = f"/reseller/users/{stranger}"
    for method, sub in (
        ("POST", "/auth"),
        ("PUT", "/entitlements/reseller-sports"),
        ("DELETE", "/entitlements/reseller-sports"),
    ):
        status, body = await api.call(method, path + sub, reseller=True)
        assert (status, body["errorCode"]) == (400, "userNotProvisioned"), (method, sub)
    assert sb.counters["entitlements.created"] == 0
    status, body = await api.call(
        "PUT",
        "/reseller/users/NOSUCHUSER0000000000000000000/entitlements/reseller-sports",
        reseller=True,
    )
    assert (status, body["errorCode"]) == (404, "userNotFound")


async def test_reseller_entitlements(api: Api, sb: Sandbox) -> None:
    user_id = await _provision(api)
    path = f"/reseller/users/{user_id}/entitlements/reseller-sports"
    assert await api.put(path, reseller=True) == (200, {})
    status, body = await api.put(path, reseller=True)
    assert (status, body["errorCode"]) == (400, "offerEntitledAlready")
    status, listed = await api.get(f"/partner/users/{user_id}/entitlements")
    [entitlement] = listed["entitlements"]
    assert entitlement["offerId"] == "third-party-sports"
    assert entitlement["offerType"] == "ThirdPartyType"
    status, body = await api.put(
        f"/reseller/users/{user_id}/entitlements/svod-monthly", reseller=True
    )
    assert (status, body["errorCode"]) == (404, "offerNotFound")
    assert await api.delete(path, reseller=True) == (200, {})
    status, body = await api.delete(path, reseller=True)
    assert (status, body["errorCode"]) == (404, "entitlementNotFound")
    assert sb.counters["entitlements.created"] == 1
    assert sb.counters["entitlements.deleted"] == 1


async def test_reseller_offer_must_map_to_a_third_party_offer(api: Api, sb: Sandbox) -> None:
    sb.state.add_reseller_offer(sb.reseller_id, "reseller-svod", "svod-monthly")
    user_id = await _provision(api)
    status, body = await api.put(
        f"/reseller/users/{user_id}/entitlements/reseller-svod", reseller=True
    )
    assert (status, body["errorCode"]) == (400, "offerNotThirdParty")


async def test_reseller_user_token(api: Api) -> None:
    user_id = await _provision(api)
    status, body = await api.post(f"/reseller/users/{user_id}/auth", reseller=True)
    assert status == 200
    assert body["token"].count(".") == 2


async def test_resellers_only_see_their_own_users(api: Api, sb: Sandbox) -> None:
    pair = sb.add_reseller("other-reseller-iss", "other-reseller")
    other = api.headers(token=make_jwt(pair.private_pem, "other-reseller-iss", now=sb.clock()))
    assert (await api.get("/reseller/test", headers=other))[0] == 200
    user_id = await _provision(api)
    path = f"/reseller/users/{user_id}/entitlements/reseller-kids"
    status, body = await api.put(path, headers=other)
    assert (status, body["errorCode"]) == (400, "userNotProvisioned")
    status, _ = await api.post(f"/reseller/users/{user_id}/auth", headers=other)
    assert status == 400
    # provisioning the same e-mail makes the user usable by the second reseller too
    status, body = await api.post("/reseller/users", headers=other, json=PROVISION)
    assert (status, body["userId"]) == (200, user_id)
    assert await api.put(path, headers=other) == (200, {})
