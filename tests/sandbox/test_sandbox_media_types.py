"""Every answer carries the media type the API document prints for its operation and status.

The document prints ``application/json;charset=utf-8`` for the partner and reseller tests, for
their 401s and for the error bodies of viewables list, segments, play sessions and transcode;
``application/json`` for the other bodies. Where it prints none, a JSON body is sent as
``application/json`` and a bodiless answer has no Content-Type.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from magine_async.sandbox import Sandbox

from .conftest import Api
from .test_sandbox_media import SRT, TRANSCODE, _generated_asset

UTF8 = "application/json;charset=utf-8"
JSON = "application/json"


async def _answer(
    api: Api, method: str, path: str, *, reseller: bool = False, **kwargs: Any
) -> tuple[int, str | None, Any]:
    headers = kwargs.pop("headers", None) or api.headers(reseller=reseller)
    async with api.http.request(
        method, api.sb.base_url + path, headers=headers, **kwargs
    ) as response:
        raw = await response.read()
        body = await response.json(content_type=None) if raw else None
        return response.status, response.headers.get("Content-Type"), body


@pytest.mark.parametrize("reseller", [False, True])
async def test_credential_tests_and_their_401_are_utf8(api: Api, reseller: bool) -> None:
    path = "/reseller/test" if reseller else "/partner/test"
    assert await _answer(api, "GET", path, reseller=reseller) == (200, UTF8, "OK")
    bad = {"Magine-AccessToken": "wrong", "Authorization": "Bearer x"}
    status, media, body = await _answer(api, "GET", path, headers=bad)
    assert (status, media, body["errorCode"]) == (401, UTF8, "unauthorized")


async def test_viewable_answers(api: Api, sb: Sandbox) -> None:
    seen: list[tuple[str, int, str | None]] = []

    async def call(name: str, method: str, path: str, **kwargs: Any) -> Any:
        status, media, body = await _answer(api, method, path, **kwargs)
        seen.append((name, status, media))
        return body

    await call("list", "GET", "/partner/viewables", params={"size": "5"})
    await call("list 400", "GET", "/partner/viewables", params={"size": "0"})
    created = await call(
        "create",
        "POST",
        "/partner/viewables",
        json={"metadata": {"kind": "movie", "title": "M", "customId": "c-1"}},
    )
    vid = created["id"]
    await call("get", "GET", f"/partner/viewables/{vid}")
    await call("get 404", "GET", "/partner/viewables/00000000-0000-4000-8000-000000000000")
    await call("by custom id", "GET", "/partner/viewables/custom/c-1")
    await call(
        "replace",
        "PUT",
        f"/partner/viewables/{vid}",
        json={"metadata": {"kind": "movie", "title": "N"}},
    )
    await call("patch", "PATCH", f"/partner/viewables/{vid}", json={"patch": {"title": "O"}})
    image = {"sourceType": "http", "uri": "https://example.com/p.jpg"}
    await call("image put", "PUT", f"/partner/viewables/{vid}/images/poster", json=image)
    await call("image delete", "DELETE", f"/partner/viewables/{vid}/images/poster")
    assert seen == [
        ("list", 200, JSON),
        ("list 400", 400, UTF8),
        ("create", 201, JSON),
        ("get", 200, JSON),
        ("get 404", 404, JSON),
        ("by custom id", 200, JSON),
        ("replace", 200, JSON),
        ("patch", 200, JSON),
        ("image put", 200, JSON),
        ("image delete", 200, JSON),
    ]


async def test_user_answers(api: Api, sb: Sandbox) -> None:
    user_id = next(iter(sb.state.users))
    session_id = sb.state.add_play_session(user_id)
    u = f"/partner/users/{user_id}"
    bad = "/partner/users/not%20an%20id"
    cases: list[tuple[str, str, dict[str, Any], int, str | None]] = [
        (
            "POST",
            "/partner/users",
            {"json": {"email": "m@example.com", "countryCode": "SE"}},
            201,
            JSON,
        ),
        ("POST", "/partner/users/lookup", {"json": {"email": "m@example.com"}}, 200, JSON),
        ("GET", u, {}, 200, JSON),
        ("POST", f"{u}/auth", {}, 200, JSON),
        ("POST", f"{u}/logout-all-devices", {}, 202, None),
        ("PUT", f"{u}/password", {"json": {"password": "pw-123456"}}, 200, None),
        ("PATCH", u, {"json": {"name": "N"}}, 204, None),
        ("GET", f"{u}/entitlements", {}, 200, JSON),
        ("POST", f"{u}/entitlements", {"json": [{"offerId": "rent-48h"}]}, 201, JSON),
        (
            "POST",
            f"{u}/entitlements",
            {"json": [{"offerId": "rent-48h"}, {"offerId": "buy-to-own"}]},
            207,
            JSON,
        ),
        ("DELETE", f"{u}/entitlements/rent-48h", {}, 204, None),
        ("PUT", f"{u}/tags/vip", {}, 204, None),
        ("GET", f"{u}/segments", {}, 200, JSON),
        ("GET", f"{bad}/segments", {}, 400, UTF8),
        ("PUT", f"{u}/segments/vip", {}, 202, JSON),
        ("PUT", f"{bad}/segments/vip", {}, 400, UTF8),
        # the document prints a JSON object for this 204: the media type, without a body
        ("DELETE", f"{u}/segments/vip", {}, 204, JSON),
        ("DELETE", f"{bad}/segments/vip", {}, 400, UTF8),
        ("GET", f"{u}/play-sessions", {}, 200, JSON),
        ("GET", f"{bad}/play-sessions", {}, 400, UTF8),
        ("PATCH", f"{u}/play-sessions/{session_id}", {}, 200, JSON),
        ("PATCH", f"{u}/play-sessions/not-a-uuid", {}, 400, UTF8),
        ("GET", "/partner/parental-control/rating-systems", {}, 200, JSON),
        ("GET", "/partner/parental-control/rating-system/sm-sa", {}, 200, JSON),
        ("GET", "/partner/parental-control/rating-system/nope", {}, 404, JSON),
        ("DELETE", u, {}, 204, None),
    ]
    for method, path, kwargs, status, media in cases:
        got = await _answer(api, method, path, **kwargs)
        assert got[:2] == (status, media), (method, path, got)


async def test_reseller_answers(api: Api) -> None:
    body = {"email": "r@example.com", "countryCode": "SE"}
    status, media, created = await _answer(api, "POST", "/reseller/users", reseller=True, json=body)
    assert (status, media) == (201, JSON)
    assert (await _answer(api, "POST", "/reseller/users", reseller=True, json=body))[:2] == (
        200,
        JSON,
    )
    user = f"/reseller/users/{created['userId']}"
    assert (await _answer(api, "POST", f"{user}/auth", reseller=True))[:2] == (200, JSON)
    offer = f"{user}/entitlements/reseller-sports"
    assert await _answer(api, "PUT", offer, reseller=True) == (200, JSON, {})
    assert await _answer(api, "DELETE", offer, reseller=True) == (200, JSON, {})


async def test_media_answers(api: Api, sb: Sandbox) -> None:
    asset_id, _ = _generated_asset(sb)
    s = f"/partner/playables/{asset_id}/subtitle-requests"
    upload = {"subtitleData": base64.b64encode(SRT).decode(), "subtitleLanguage": "swe"}
    status, media, created = await _answer(api, "POST", s, json=upload)
    assert (status, media) == (202, JSON)
    assert (await _answer(api, "GET", s))[:2] == (200, JSON)
    assert (await _answer(api, "GET", f"{s}/{created['requestId']}"))[:2] == (200, JSON)
    t = "/partner/transcode/asset"
    status, media, job = await _answer(api, "POST", t, json=TRANSCODE)
    assert (status, media) == (202, JSON)
    assert (await _answer(api, "POST", t, json={"sourceId": "x"}))[:2] == (400, UTF8)
    assert (await _answer(api, "GET", f"{t}/{job['id']}"))[:2] == (200, JSON)
    assert (await _answer(api, "POST", f"{t}/not-a-uuid/abort"))[:2] == (400, UTF8)
    assert await _answer(api, "POST", f"{t}/{job['id']}/abort") == (202, None, None)
    assert (await _answer(api, "POST", f"{t}/{job['id']}/abort"))[:2] == (404, JSON)


async def test_answers_outside_the_operations_keep_plain_json(api: Api, sb: Sandbox) -> None:
    status, media, _ = await _answer(api, "GET", "/partner/no-such-route")
    assert (status, media) == (404, JSON)
    sb.faults.route("partner.test").script = ["throttle"]
    status, media, _ = await _answer(api, "GET", "/partner/test")
    assert (status, media) == (429, JSON)
