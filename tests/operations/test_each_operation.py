"""One test per documented operation: what arrives at the server, and what the SDK returns.

The server here is the scripted loopback server: it records method, raw path, query, headers
and body exactly as they arrive, and answers with the documented example payloads.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest

from magine_async import MagineClient
from magine_async.models import (
    AudioTrack,
    EntitlementInput,
    FrameRate,
    HttpImageSource,
    MediaInput,
    Resolution,
    Tracks,
    TranscodeRequest,
    VideoTrack,
    ViewableMetadata,
)

from ..support import ACCESS_TOKEN, ScriptedServer, json_reply

UUID = "d7347da2-b07a-46f6-b3d3-956fa1326591"
UUID2 = "60bbb98e-2794-450b-9c8c-b1f022db7a60"
USER = "1YJO25UNWH2UZB6K9BRWQMECQUSR"
VIEWABLE = {
    "id": UUID2,
    "partnerId": "magine-pro-demo",
    "metadata": {
        "kind": "movie",
        "title": "Demo movie",
        "images": [{"type": "poster", "filename": "https://img.example/p.jpg"}],
        "synopsis": "Descriptive text about the movie",
    },
    "createdAt": 1623853814,
    "modifiedAt": 1623853814,
    "publish": True,
}
RATING_SYSTEM = {
    "id": "sm-sa",
    "name": "The Swedish Media Councils classification system ",
    "country": "SE",
    "ratings": [[{"id": "btl", "name": "Btl", "description": "All ages"}]],
}
SUBTITLE_JOB = {
    "requestId": "780ac3cd-9207-4cb1-87bf-de36a88ca001",
    "requestType": "create",
    "playableId": "4ef23016-e76e-43da-9919-a7654e10ed68",
    "subtitleLanguage": "eng",
    "subtitleType": "normal",
    "createdAt": 1649433033,
    "updatedAt": 1649433050,
    "status": "FAILED",
}
VOD = {
    "assetId": "cac10231-b376-4493-b5ad-f27d95d9b8b3",
    "source": "magine-pro-demo",
    "sourceId": "mpl-moe-aac-platform-test-001",
    "status": "transcoded",
    "vodPipeline": "mediaconvert",
    "drmActivated": True,
    "sourceResolution": {"width": 1920, "height": 1080},
    "audioChansPerLang": [{"channels": 6, "language": "eng"}],
}
TRANSCODE = TranscodeRequest(
    source_id="my_source_id_string_0123",
    inputs=[MediaInput(name="container1", source="bucket_1/key_1/file_1.mp4")],
    tracks=Tracks(
        video=VideoTrack(
            name="video1",
            input="container1",
            resolution=Resolution(width=1920, height=1080),
            frame_rate=FrameRate(numerator=25, denominator=1),
            interlaced=False,
        ),
        audio=[
            AudioTrack(
                name="audio1", input="container1", container_index=1, channels=2, language="eng"
            )
        ],
    ),
    drm=True,
    viewable_id=UUID,
)
PAST = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
FUTURE = dt.datetime(2999, 1, 1, tzinfo=dt.UTC)

Call = Callable[[MagineClient], Awaitable[Any]]


@dataclass
class Case:
    call: Call
    reply: Any
    method: str
    path: str
    check: Callable[[Any], bool]
    body: Any = None
    query: dict[str, str] | None = None


def ok(status: int, body: Any = None) -> Any:
    if body is None:
        return (status, b"", {})
    return json_reply(status, body)


CASES: dict[str, Case] = {
    "reseller.test": Case(
        lambda c: c.reseller.test(), ok(200, "OK"), "GET", "/reseller/test", lambda r: r == "OK"
    ),
    "reseller.users.provision": Case(
        lambda c: c.reseller.users.provision(
            email="example@maginepro.com", country_code="se", name="John Doe"
        ),
        ok(201, {"userId": USER, "resellerClaimDate": "2019-02-02"}),
        "POST",
        "/reseller/users",
        lambda r: (
            r.created
            and r.value.user_id == USER
            and r.value.reseller_claim_date == dt.date(2019, 2, 2)
        ),
        body={"email": "example@maginepro.com", "countryCode": "SE", "name": "John Doe"},
    ),
    "reseller.users.auth": Case(
        lambda c: c.reseller.users.login_token(USER),
        ok(200, {"token": "user-jwt-value"}),
        "POST",
        f"/reseller/users/{USER}/auth",
        lambda r: r.token == "user-jwt-value",
    ),
    "reseller.entitlements.put": Case(
        lambda c: c.reseller.entitlements.add(USER, "reseller-offer-1"),
        ok(200, {}),
        "PUT",
        f"/reseller/users/{USER}/entitlements/reseller-offer-1",
        lambda r: r is True,
    ),
    "reseller.entitlements.delete": Case(
        lambda c: c.reseller.entitlements.remove(USER, "reseller-offer-1"),
        ok(200, {}),
        "DELETE",
        f"/reseller/users/{USER}/entitlements/reseller-offer-1",
        lambda r: r is None,
    ),
    "partner.test": Case(
        lambda c: c.test(), ok(200, "OK"), "GET", "/partner/test", lambda r: r == "OK"
    ),
    "viewables.list": Case(
        lambda c: c.viewables.list(
            title="Superman returns",
            source_id="test_0005",
            asset_id="e2d7ece-c6b2",
            created_after=1671112297,
            modified_after=dt.datetime.fromtimestamp(1671112298, dt.UTC),
            page_size=50,
        ).first_page(),
        ok(200, {"viewables": [VIEWABLE], "cursor": "WzE1NTI2NDQ0MDgsIjc1YzdjZjk4Il0"}),
        "GET",
        "/partner/viewables",
        lambda r: (
            [v.id for v in r.items] == [UUID2] and r.cursor == "WzE1NTI2NDQ0MDgsIjc1YzdjZjk4Il0"
        ),
        query={
            "size": "50",
            "title": "Superman returns",
            "sourceId": "test_0005",
            "assetId": "e2d7ece-c6b2",
            "createdAfter": "1671112297",
            "modifiedAfter": "1671112298",
        },
    ),
    "viewables.create": Case(
        lambda c: c.viewables.create(
            ViewableMetadata(kind="movie", title="Demo movie", extra={"productionYear": 1984}),
            publish=True,
        ),
        ok(201, VIEWABLE),
        "POST",
        "/partner/viewables",
        lambda r: r.created and r.value.metadata.title == "Demo movie",
        body={
            "metadata": {"kind": "movie", "title": "Demo movie", "productionYear": 1984},
            "publish": True,
        },
    ),
    "viewables.get_by_custom_id": Case(
        lambda c: c.viewables.get_by_custom_id("ext 42/a"),
        ok(200, VIEWABLE),
        "GET",
        "/partner/viewables/custom/ext%2042%2Fa",
        lambda r: r.id == UUID2,
    ),
    "viewables.get": Case(
        lambda c: c.viewables.get(UUID2),
        ok(200, VIEWABLE),
        "GET",
        f"/partner/viewables/{UUID2}",
        lambda r: r.metadata.images[0].filename == "https://img.example/p.jpg",
    ),
    "viewables.replace": Case(
        lambda c: c.viewables.replace("200001", metadata={"kind": "channel", "title": "TV1"}),
        ok(200, VIEWABLE),
        "PUT",
        "/partner/viewables/200001",
        lambda r: r.id == UUID2,
        body={"metadata": {"kind": "channel", "title": "TV1"}},
    ),
    "viewables.patch": Case(
        lambda c: c.viewables.patch(UUID2, title="New title", genres=["Drama"]),
        ok(200, VIEWABLE),
        "PATCH",
        f"/partner/viewables/{UUID2}",
        lambda r: r.id == UUID2,
        body={"patch": {"title": "New title", "genres": ["Drama"]}},
    ),
    "viewables.images.put": Case(
        lambda c: c.viewables.put_image(
            UUID2, "sixteen-nine", HttpImageSource(uri="https://example.com/p.jpg")
        ),
        ok(200, VIEWABLE),
        "PUT",
        f"/partner/viewables/{UUID2}/images/sixteen-nine",
        lambda r: r.id == UUID2,
        body={"sourceType": "http", "uri": "https://example.com/p.jpg"},
    ),
    "viewables.images.delete": Case(
        lambda c: c.viewables.delete_image(UUID2, "poster"),
        ok(200, VIEWABLE),
        "DELETE",
        f"/partner/viewables/{UUID2}/images/poster",
        lambda r: r.id == UUID2,
    ),
    "parental_control.rating_systems.list": Case(
        lambda c: c.parental_control.rating_systems(),
        ok(200, {"ratingSystems": [RATING_SYSTEM]}),
        "GET",
        "/partner/parental-control/rating-systems",
        lambda r: [s.id for s in r] == ["sm-sa"] and r[0].ratings[0][0].description == "All ages",
    ),
    "parental_control.rating_systems.get": Case(
        lambda c: c.parental_control.rating_system("sm-sa"),
        ok(200, {"ratingSystem": RATING_SYSTEM}),
        "GET",
        "/partner/parental-control/rating-system/sm-sa",
        lambda r: r.country == "SE",
    ),
    "users.lookup": Case(
        lambda c: c.users.lookup("example@maginepro.com"),
        ok(200, {"userId": USER}),
        "POST",
        "/partner/users/lookup",
        lambda r: r == USER,
        body={"email": "example@maginepro.com"},
    ),
    "users.create": Case(
        lambda c: c.users.create(
            email="example@maginepro.com",
            country_code="se",
            name="John Doe",
            locale="sv",
            birth_date=dt.date(2001, 2, 23),
            zip_code="11106",
            gender="male",
        ),
        ok(201, {"userId": USER}),
        "POST",
        "/partner/users",
        lambda r: r.created and r.value == USER,
        body={
            "email": "example@maginepro.com",
            "countryCode": "SE",
            "name": "John Doe",
            "locale": "sv",
            "birthDate": "2001-02-23",
            "zipCode": "11106",
            "gender": "male",
        },
    ),
    "users.auth": Case(
        lambda c: c.users.login_token(USER),
        ok(200, {"token": "t"}),
        "POST",
        f"/partner/users/{USER}/auth",
        lambda r: r.token == "t",
    ),
    "users.logout_all_devices": Case(
        lambda c: c.users.logout_all_devices(USER),
        ok(202),
        "POST",
        f"/partner/users/{USER}/logout-all-devices",
        lambda r: r is None,
    ),
    "users.set_password": Case(
        lambda c: c.users.set_password(USER, "atsart$WFQ%artrsat987"),
        ok(200),
        "PUT",
        f"/partner/users/{USER}/password",
        lambda r: r is None,
        body={"password": "atsart$WFQ%artrsat987"},
    ),
    "users.get": Case(
        lambda c: c.users.get(USER),
        ok(
            200,
            {
                "user": {
                    "userId": USER,
                    "country": "SE",
                    "createdTimestamp": 1623920603,
                    "email": "a@b.se",
                }
            },
        ),
        "GET",
        f"/partner/users/{USER}",
        lambda r: r.user_id == USER and r.created_timestamp == 1623920603,
    ),
    "users.patch": Case(
        lambda c: c.users.patch(USER, name="John Doe", zip_code="11101"),
        ok(204),
        "PATCH",
        f"/partner/users/{USER}",
        lambda r: r is None,
        body={"name": "John Doe", "zipCode": "11101"},
    ),
    "users.delete": Case(
        lambda c: c.users.delete(USER),
        ok(204),
        "DELETE",
        f"/partner/users/{USER}",
        lambda r: r is None,
    ),
    "entitlements.list": Case(
        lambda c: c.users.entitlements.list(USER),
        ok(
            200,
            {
                "entitlements": [
                    {
                        "offerId": "o1",
                        "purchasedAt": "2024-01-01T00:00:00Z",
                        "offerType": "subscription",
                    }
                ]
            },
        ),
        "GET",
        f"/partner/users/{USER}/entitlements",
        lambda r: r[0].offer_id == "o1" and r[0].purchased_at == PAST,
    ),
    "entitlements.create": Case(
        lambda c: c.users.entitlements.create(
            USER,
            [EntitlementInput(offer_id="o1", purchased_at=PAST, expiry=FUTURE, message="gift")],
        ),
        ok(
            201,
            {
                "results": [
                    {
                        "offerId": "o1",
                        "successOutput": {
                            "offerId": "o1",
                            "offerType": "tvod",
                            "purchasedAt": "2024-01-01T00:00:00Z",
                        },
                    }
                ]
            },
        ),
        "POST",
        f"/partner/users/{USER}/entitlements",
        lambda r: r.status == 201 and [o.offer_id for o in r.created] == ["o1"],
        body=[
            {
                "offerId": "o1",
                "purchasedAt": "2024-01-01T00:00:00Z",
                "expiry": "2999-01-01T00:00:00Z",
                "message": "gift",
            }
        ],
    ),
    "entitlements.delete": Case(
        lambda c: c.users.entitlements.delete(USER, "o1"),
        ok(204),
        "DELETE",
        f"/partner/users/{USER}/entitlements/o1",
        lambda r: r is None,
    ),
    "users.tags.add": Case(
        lambda c: c.users.tags.add(USER, "vip"),
        ok(204),
        "PUT",
        f"/partner/users/{USER}/tags/vip",
        lambda r: r is None,
    ),
    "users.tags.remove": Case(
        lambda c: c.users.tags.remove(USER, "vip"),
        ok(204),
        "DELETE",
        f"/partner/users/{USER}/tags/vip",
        lambda r: r is None,
    ),
    "users.segments.list": Case(
        lambda c: c.users.segments.list(USER),
        ok(200, ["s1", "s2"]),
        "GET",
        f"/partner/users/{USER}/segments",
        lambda r: r == ["s1", "s2"],
    ),
    "users.segments.add": Case(
        lambda c: c.users.segments.add(USER, "s1"),
        ok(202, {}),
        "PUT",
        f"/partner/users/{USER}/segments/s1",
        lambda r: r is None,
    ),
    "users.segments.remove": Case(
        lambda c: c.users.segments.remove(USER, "s1"),
        ok(204, {}),
        "DELETE",
        f"/partner/users/{USER}/segments/s1",
        lambda r: r is None,
    ),
    "play_sessions.list": Case(
        lambda c: c.users.play_sessions.list(USER),
        ok(200, {"items": [{"id": UUID, "revoked": False}]}),
        "GET",
        f"/partner/users/{USER}/play-sessions",
        lambda r: r[0].id == UUID and not r[0].revoked,
    ),
    "play_sessions.revoke": Case(
        lambda c: c.users.play_sessions.revoke(USER, UUID),
        ok(200, {"revoked": True}),
        "PATCH",
        f"/partner/users/{USER}/play-sessions/{UUID}",
        lambda r: r is True,  # the document defines no request body: none is sent
    ),
    "subtitles.create": Case(
        lambda c: c.subtitles.upload(
            UUID, b"1\n00:00:01,000 --> 00:00:02,000\nHej\n", language="swe"
        ),
        ok(202, {"requestId": UUID2}),
        "POST",
        f"/partner/playables/{UUID}/subtitle-requests",
        lambda r: r == UUID2,
        body={
            "subtitleData": "MQowMDowMDowMSwwMDAgLS0+IDAwOjAwOjAyLDAwMApIZWoK",
            "subtitleLanguage": "swe",
        },
    ),
    "subtitles.list": Case(
        lambda c: c.subtitles.list(UUID),
        ok(200, {"subtitleJobs": [SUBTITLE_JOB]}),
        "GET",
        f"/partner/playables/{UUID}/subtitle-requests",
        lambda r: r[0].status == "FAILED",
    ),
    "subtitles.get": Case(
        lambda c: c.subtitles.get(UUID, SUBTITLE_JOB["requestId"]),
        ok(200, {"subtitleJob": SUBTITLE_JOB}),
        "GET",
        f"/partner/playables/{UUID}/subtitle-requests/{SUBTITLE_JOB['requestId']}",
        lambda r: r.created_at == 1649433033 and r.status.is_final,
    ),
    "subtitles.delete": Case(
        lambda c: c.subtitles.delete(UUID, language="eng", subtitle_type="cc"),
        ok(202, {"requestId": UUID2}),
        "DELETE",
        f"/partner/playables/{UUID}/subtitle-requests/eng/cc",
        lambda r: r == UUID2,
    ),
    "transcode.create": Case(
        lambda c: c.transcode.create(TRANSCODE),
        ok(
            202,
            {
                "id": "cac10231-b376-4493-b5ad-f27d95d9b8b3",
                "sourceId": "my_source_id_string_0123",
                "viewableId": UUID,
            },
        ),
        "POST",
        "/partner/transcode/asset",
        lambda r: r.id == "cac10231-b376-4493-b5ad-f27d95d9b8b3" and r.viewable_id == UUID,
        body={
            "sourceId": "my_source_id_string_0123",
            "inputs": [
                {"name": "container1", "storage": "s3", "source": "bucket_1/key_1/file_1.mp4"}
            ],
            "tracks": {
                "video": {
                    "name": "video1",
                    "input": "container1",
                    "resolution": {"width": 1920, "height": 1080},
                    "frameRate": {"numerator": 25, "denominator": 1},
                    "interlaced": False,
                },
                "audio": [
                    {
                        "name": "audio1",
                        "input": "container1",
                        "containerIndex": 1,
                        "language": "eng",
                        "channels": 2,
                    }
                ],
            },
            "drm": True,
            "viewableId": UUID,
        },
    ),
    "transcode.get": Case(
        lambda c: c.transcode.get("cac10231-b376-4493-b5ad-f27d95d9b8b3"),
        ok(200, VOD),
        "GET",
        "/partner/transcode/asset/cac10231-b376-4493-b5ad-f27d95d9b8b3",
        lambda r: r.status == "transcoded" and r.source_resolution.width == 1920,
    ),
    "transcode.abort": Case(
        lambda c: c.transcode.abort(UUID),
        ok(202),
        "POST",
        f"/partner/transcode/asset/{UUID}/abort",
        lambda r: r is None,
    ),
}


def test_every_documented_operation_has_a_case() -> None:
    from magine_async.sandbox import OPERATIONS

    assert len(CASES) == 41
    assert set(CASES) == {route.operation for route in OPERATIONS}


@pytest.mark.parametrize("name", list(CASES))
async def test_operation(name: str, server: ScriptedServer, client: MagineClient) -> None:
    case = CASES[name]
    server.script(case.reply)
    result = await case.call(client)
    assert len(server.seen) == 1
    seen = server.seen[0]
    assert seen.method == case.method
    assert seen.raw_path == "/api/v1" + case.path
    assert dict(parse_qsl(seen.query)) == (case.query or {})
    assert seen.headers["Magine-AccessToken"] == ACCESS_TOKEN
    assert seen.headers["Authorization"].startswith("Bearer ey")
    assert seen.headers["Accept"] == "application/json"
    if case.body is None:
        assert seen.body == b""
    else:
        assert seen.headers["Content-Type"] == "application/json"
        assert json.loads(seen.body) == case.body
    assert case.check(result), result


async def _revoke_as_seen(server: ScriptedServer, client: MagineClient) -> dict[str, str]:
    """The request ``play_sessions.revoke`` sends, its header names lower-cased."""
    server.script(ok(200, {"revoked": True}))
    assert await client.users.play_sessions.revoke(USER, UUID) is True
    (seen,) = server.seen
    assert (seen.method, seen.raw_path) == (
        "PATCH",
        f"/api/v1/partner/users/{USER}/play-sessions/{UUID}",
    )
    # PATCH /partner/users/{userId}/play-sessions/{playSessionId} documents path parameters
    # and headers only: no request body.
    assert seen.body == b""
    return {name.lower(): value for name, value in seen.headers.items()}


async def test_play_sessions_revoke_sends_no_body(
    server: ScriptedServer, client: MagineClient
) -> None:
    headers = await _revoke_as_seen(server, client)
    assert headers.get("content-length", "0") == "0"
    assert "transfer-encoding" not in headers
    assert headers.get("content-type") != "application/json"


async def test_play_sessions_revoke_sends_no_content_type(
    server: ScriptedServer, client: MagineClient
) -> None:
    headers = await _revoke_as_seen(server, client)
    assert "content-type" not in headers
