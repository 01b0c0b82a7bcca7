"""Users, entitlements, subtitles, transcoding, reseller, parental control and error bodies."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import msgspec
import pytest

from magine_async.models import (
    UNSET,
    AudioChannelPosition,
    AudioOutput,
    AudioTrack,
    DrmType,
    EntitlementInput,
    EntitlementResults,
    ErrorBody,
    FormatInfo,
    FrameRate,
    HdrInfo,
    InputStorage,
    LoginToken,
    MediaInput,
    OfferEntitlementList,
    Outputs,
    PasswordSet,
    PlaySessionList,
    PlaySessionRevocation,
    ProvisionedUser,
    RatingSystemEnvelope,
    RatingSystemList,
    ResellerUserCreate,
    Resolution,
    SubtitleJobEnvelope,
    SubtitleJobList,
    SubtitleJobStatus,
    SubtitleRequestAccepted,
    SubtitleRequestType,
    SubtitlesTrack,
    SubtitleType,
    SubtitleUpload,
    Tracks,
    TranscodeAccepted,
    TranscodeRequest,
    UserCreate,
    UserEnvelope,
    UserId,
    UserLookup,
    UserPatch,
    VideoTrack,
    decode,
    encode,
)


def same_json(data: bytes, expected: str | dict[str, Any] | list[Any]) -> bool:
    want = json.loads(expected) if isinstance(expected, str) else expected
    return bool(json.loads(data) == want)


# --------------------------------------------------------------------------- reseller

RESELLER_USER_EXAMPLE = """{
"email": "example@maginepro.com",
"countryCode": "SE",
"name": "John Doe"
}"""


def test_reseller_provisioning() -> None:
    body = ResellerUserCreate(email="example@maginepro.com", country_code="SE", name="John Doe")
    assert same_json(encode(body), RESELLER_USER_EXAMPLE)
    assert decode(RESELLER_USER_EXAMPLE.encode(), ResellerUserCreate) == body
    assert encode(ResellerUserCreate(email="a@b.se", country_code="SE")) == (
        b'{"email":"a@b.se","countryCode":"SE"}'
    )
    answer = decode(
        b'{"userId": "1YJO25UNWH2UZB6K9BRWQMECQUSR", "resellerClaimDate": "2019-02-02"}',
        ProvisionedUser,
    )
    assert answer.user_id == "1YJO25UNWH2UZB6K9BRWQMECQUSR"
    assert answer.reseller_claim_date == dt.date(2019, 2, 2)
    assert encode(answer) == (
        b'{"userId":"1YJO25UNWH2UZB6K9BRWQMECQUSR","resellerClaimDate":"2019-02-02"}'
    )


def test_login_token_hides_its_value() -> None:
    token = decode(b'{"token": "eyJhbGciOi.secret.sig"}', LoginToken)
    assert token.token == "eyJhbGciOi.secret.sig"
    assert "secret" not in repr(token)
    assert "atsart" not in repr(PasswordSet(password="atsart$WFQ%artrsat987"))
    assert same_json(
        encode(PasswordSet(password="atsart$WFQ%artrsat987")),
        '{"password": "atsart$WFQ%artrsat987"}',
    )


# --------------------------------------------------------------------------- users

USER_CREATE_EXAMPLE = """{
"email": "example@maginepro.com",
"countryCode": "SE",
"name": "John Doe",
"locale": "sv",
"birthDate": "2001-02-23",
"zipCode": "11106",
"gender": "male"
}"""

USER_PATCH_EXAMPLE = """{
"email": "example@maginepro.com",
"name": "John Doe",
"locale": "sv",
"zipCode": "11101",
"gender": "male"
}"""


def test_user_create_example() -> None:
    body = UserCreate(
        email="example@maginepro.com",
        country_code="SE",
        name="John Doe",
        locale="sv",
        birth_date=dt.date(2001, 2, 23),
        zip_code="11106",
        gender="male",
    )
    assert same_json(encode(body), USER_CREATE_EXAMPLE)
    assert decode(USER_CREATE_EXAMPLE.encode(), UserCreate) == body
    assert decode(b'{"userId": "1YJO25UNWH2UZB6K9BRWQMECQUSR"}', UserId).user_id == (
        "1YJO25UNWH2UZB6K9BRWQMECQUSR"
    )
    assert encode(UserLookup(email="example@maginepro.com")) == (
        b'{"email":"example@maginepro.com"}'
    )


def test_user_patch_is_flat_and_sparse() -> None:
    body = UserPatch(
        email="example@maginepro.com", name="John Doe", locale="sv", zip_code="11101", gender="male"
    )
    assert same_json(encode(body), USER_PATCH_EXAMPLE)
    assert encode(UserPatch(name="Jane")) == b'{"name":"Jane"}'
    assert encode(UserPatch()) == b"{}"
    assert decode(b'{"gender": "female"}', UserPatch).email is UNSET


def test_get_user_answer() -> None:
    user = decode(
        b'{"user": {"userId": "U1", "country": "SE", "createdTimestamp": 1623920603,'
        b' "email": "a@b.se", "somethingNew": 1}}',
        UserEnvelope,
    ).user
    assert (user.user_id, user.country, user.created_timestamp) == ("U1", "SE", 1623920603)
    assert user.name is None
    assert user.email == "a@b.se"


def test_play_sessions() -> None:
    sessions = decode(
        b'{"items": [{"id": "d7347da2-b07a-46f6-b3d3-956fa1326591", "revoked": false}]}',
        PlaySessionList,
    )
    assert sessions.items[0].revoked is False
    assert decode(b'{"revoked": true}', PlaySessionRevocation).revoked is True
    assert decode(b'["seg-1", "seg-2"]', list[str]) == ["seg-1", "seg-2"]


# --------------------------------------------------------------------------- entitlements


def test_entitlement_list_has_aware_datetimes() -> None:
    body = (
        b'{"entitlements": [{"offerId": "o1", "purchasedAt": "2021-06-17T10:00:00Z",'
        b' "expiry": "2031-06-17T10:00:00+02:00", "offerType": "ThirdParty",'
        b' "source": "reseller", "message": "hi"},'
        b' {"offerId": "o2", "purchasedAt": "2021-06-17T10:00:00", "offerType": "Pass"}]}'
    )
    first, second = decode(body, OfferEntitlementList).entitlements or []
    assert first.purchased_at == dt.datetime(2021, 6, 17, 10, tzinfo=dt.UTC)
    assert first.expiry is not None
    assert first.expiry.utcoffset() == dt.timedelta(hours=2)
    assert second.purchased_at.tzinfo is dt.UTC  # no offset on the wire: read as UTC
    assert second.expiry is None
    assert decode(b"{}", OfferEntitlementList).entitlements is None


def test_entitlement_creation_body_and_results() -> None:
    items = [
        EntitlementInput(offer_id="o1"),
        EntitlementInput(
            offer_id="o2",
            purchased_at=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            expiry=dt.datetime(2030, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            message="migrated",
        ),
    ]
    assert same_json(
        encode(items),
        [
            {"offerId": "o1"},
            {
                "offerId": "o2",
                "purchasedAt": "2024-01-02T03:04:05Z",
                "expiry": "2030-01-01T00:00:00+01:00",
                "message": "migrated",
            },
        ],
    )
    results = decode(
        b'{"results": [{"offerId": "o1", "successOutput": {"offerId": "o1",'
        b' "offerType": "Pass", "purchasedAt": "2024-01-02T03:04:05Z"}},'
        b' {"offerId": "o2", "failureMessage": "offerEntitledAlready"}]}',
        EntitlementResults,
    )
    ok, failed = results.results
    assert ok.ok and not failed.ok
    assert ok.success_output is not None
    assert ok.success_output.purchased_at.tzinfo is not None
    assert results.failed == [failed]


# --------------------------------------------------------------------------- subtitles

SUBTITLE_JOB_EXAMPLE = """{ "requestId": "780ac3cd-9207-4cb1-87bf-de36a88ca001",
"requestType": "create", "playableId": "4ef23016-e76e-43da-9919-a7654e10ed68",
"subtitleLanguage": "eng", "subtitleType": "normal", "createdAt": 1649433033,
"updatedAt": 1649433050, "status": "FAILED" }"""


def test_subtitle_upload() -> None:
    srt = b"1\n00:00:01,000 --> 00:00:02,000\nHello\n"
    upload = SubtitleUpload.from_bytes(
        srt, subtitle_language="eng", subtitle_type=SubtitleType.NORMAL
    )
    assert base64.b64decode(upload.subtitle_data) == srt
    assert same_json(
        encode(upload),
        {
            "subtitleData": base64.b64encode(srt).decode(),
            "subtitleLanguage": "eng",
            "subtitleType": "normal",
        },
    )
    assert "Hello" not in repr(upload)
    assert "base64 chars" in repr(upload)
    assert decode(b'{"requestId": "r1"}', SubtitleRequestAccepted).request_id == "r1"


def test_subtitle_job_example() -> None:
    envelope = decode(
        b'{"subtitleJob": ' + SUBTITLE_JOB_EXAMPLE.encode() + b"}", SubtitleJobEnvelope
    )
    one = envelope.subtitle_job
    assert one.status is SubtitleJobStatus.FAILED
    assert one.request_type is SubtitleRequestType.CREATE
    assert one.subtitle_type is SubtitleType.NORMAL
    assert one.error_message is None
    assert same_json(encode(one), SUBTITLE_JOB_EXAMPLE)
    listing = decode(
        b'{"subtitleJobs": [' + SUBTITLE_JOB_EXAMPLE.encode().replace(b"FAILED", b"QUEUED") + b"]}",
        SubtitleJobList,
    )
    assert listing.subtitle_jobs[0].status == "QUEUED"
    assert not listing.subtitle_jobs[0].status.is_known


# --------------------------------------------------------------------------- transcoding

TYPICAL_TRANSCODE_EXAMPLE = """{
"sourceId": "my_source_id_string_0123",
"inputs": [
{"name": "container1", "storage": "s3", "source": "bucket/prefix/file_1.suffix"},
{"name": "container2", "storage": "s3", "source": "bucket/prefix/file_2.srt"}
],
"tracks": {
"video": {
"name": "video1", "input": "container1",
"resolution": {"width": 1920, "height": 1080},
"frameRate": {"numerator": 25, "denominator": 1},
"interlaced": false
},
"audio": [
{"name": "audio1", "input": "container1", "containerIndex": 1, "channels": 2, "language": "eng"},
{"name": "audio2", "input": "container1", "containerIndex": 2, "channels": 6, "language": "eng"}
],
"subtitles": [{"name": "subtitle1", "input": "container2", "language": "nor"}]
},
"drm": true,
"drmType": "normal",
"viewableId": "d7347da2-b07a-46f6-b3d3-956fa1326591"
}"""


def typical_request() -> TranscodeRequest:
    return TranscodeRequest(
        source_id="my_source_id_string_0123",
        inputs=[
            MediaInput(name="container1", source="bucket/prefix/file_1.suffix"),
            MediaInput(
                name="container2", storage=InputStorage.S3, source="bucket/prefix/file_2.srt"
            ),
        ],
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
                ),
                AudioTrack(
                    name="audio2", input="container1", container_index=2, channels=6, language="eng"
                ),
            ],
            subtitles=[SubtitlesTrack(name="subtitle1", input="container2", language="nor")],
        ),
        drm=True,
        drm_type=DrmType.NORMAL,
        viewable_id="d7347da2-b07a-46f6-b3d3-956fa1326591",
    )


def test_typical_transcode_example() -> None:
    request = typical_request()
    assert same_json(encode(request), TYPICAL_TRANSCODE_EXAMPLE)
    assert decode(TYPICAL_TRANSCODE_EXAMPLE.encode(), TranscodeRequest) == request


def complex_example() -> str:
    # The documented "more complex example" has a trailing comma after
    # ``"tracks": ["my_track_5", "my_track_4"],`` which is not valid JSON; removed here.
    outputs = """{"audio": [
        {"tracks": ["my_track_3"], "channelOrder": ["r", "l"]},
        {"tracks": ["my_track_5", "my_track_4"]},
        {"tracks": ["my_track_5", "my_track_4", "my_track_6", "my_track_7", "my_track_8",
                    "my_track_9"]}]}"""
    audio = [
        {"name": "my_track_2", "input": "my_container_1", "containerIndex": 1, "channels": 2},
        {"name": "my_track_3", "input": "my_container_1", "containerIndex": 2, "channels": 6},
    ] + [
        {"name": f"my_track_{n}", "input": "my_container_2", "containerIndex": n - 3, "channels": 1}
        for n in range(4, 10)
    ]
    for item in audio:
        item["language"] = "eng" if item["input"] == "my_container_1" else "ger"
    body = {
        "sourceId": "my_source_id_string_0123",
        "inputs": [
            {"name": "my_container_1", "storage": "s3", "source": "bucket_1/key_1/file_1.suffix"},
            {"name": "my_container_2", "storage": "s3", "source": "bucket_2/key_2/file_2.suffix"},
            {"name": "my_container_3", "storage": "s3", "source": "bucket_2/key_2/file_3_eng.srt"},
            {"name": "my_container_4", "storage": "s3", "source": "bucket_2/key_2/file_4_ger.srt"},
        ],
        "tracks": {
            "video": {
                "name": "my_track_1",
                "input": "my_container_1",
                "resolution": {"width": 1920, "height": 1080},
                "frameRate": {"numerator": 25, "denominator": 1},
                "interlaced": False,
            },
            "audio": audio,
            "subtitles": [
                {"name": "my_track_10", "input": "my_container_3", "language": "eng"},
                {"name": "my_track_11", "input": "my_container_4", "language": "ger"},
            ],
        },
        "outputs": json.loads(outputs),
        "drm": True,
        "drmType": "enhanced",
        "experimental": {"a_flag": True},
    }
    return json.dumps(body)


def test_complex_transcode_example_round_trips() -> None:
    text = complex_example()
    request = decode(text.encode(), TranscodeRequest)
    assert request.drm_type is DrmType.ENHANCED
    assert request.experimental == {"a_flag": True}
    assert request.outputs is not UNSET
    audio_outputs = request.outputs.audio
    assert audio_outputs is not UNSET
    assert audio_outputs[0].channel_order == [AudioChannelPosition.R, AudioChannelPosition.L]
    assert audio_outputs[1].channel_order is UNSET
    assert same_json(encode(request), text)


def test_transcode_optional_parts() -> None:
    hdr = HdrInfo(format="HDR10", maximum_frameaverage_light_level=400, color_primaries="bt2020")
    info = FormatInfo(codec="hevc", commercial_format="HDR10", hdr_info=hdr)
    assert same_json(
        encode(info),
        {
            "codec": "hevc",
            "commercialFormat": "HDR10",
            "hdrInfo": {
                "format": "HDR10",
                "maximumFrameaverageLightLevel": 400,
                "colorPrimaries": "bt2020",
            },
        },
    )
    outputs = Outputs(audio=[AudioOutput(tracks=["a"], layout="stereo")])  # type: ignore[arg-type]
    assert encode(outputs) == b'{"audio":[{"tracks":["a"],"layout":"stereo"}]}'
    assert encode(MediaInput(name="in", source="b/k")) == (
        b'{"name":"in","storage":"s3","source":"b/k"}'
    )


def test_transcode_accepted() -> None:
    answer = decode(
        b'{"id": "cac10231-b376-4493-b5ad-f27d95d9b8b3",'
        b' "sourceId": "mpl-moe-aac-platform-test-001",'
        b' "viewableId": "60bbb98e-2794-450b-9c8c-b1f022db7a60"}',
        TranscodeAccepted,
    )
    assert answer.id == "cac10231-b376-4493-b5ad-f27d95d9b8b3"
    assert decode(b'{"id": "x", "sourceId": "s"}', TranscodeAccepted).viewable_id is None


# --------------------------------------------------------------------------- parental control

RATING_SYSTEM = {
    "id": "sm-sa",
    "name": "The Swedish Media Councils classification system ",
    "country": "SE",
    "ratings": [
        [{"id": "btl", "name": "Btl", "description": "All ages"}],
        [{"id": "7", "name": "7", "description": "Recommended from the age of 7"}],
        [{"id": "11", "name": "11", "description": "Recommended from the age of 11"}],
        [{"id": "15", "name": "15", "description": "Recommended from the age of 15"}],
        [{"id": "18", "name": "18", "description": "Not suited for children"}],
    ],
}


def test_rating_systems() -> None:
    listing = decode(json.dumps({"ratingSystems": [RATING_SYSTEM]}).encode(), RatingSystemList)
    system = listing.rating_systems[0]
    assert system.country == "SE"
    assert [level[0].id for level in system.ratings] == ["btl", "7", "11", "15", "18"]
    assert same_json(encode(listing), {"ratingSystems": [RATING_SYSTEM]})
    one = decode(json.dumps({"ratingSystem": RATING_SYSTEM}).encode(), RatingSystemEnvelope)
    assert one.rating_system == system


# --------------------------------------------------------------------------- error body


def test_error_body() -> None:
    body = decode(
        b'{"errorCode": "offerEntitledAlready", "messages": ["Offer entitled already"]}',
        ErrorBody,
    )
    assert body.error_code == "offerEntitledAlready"
    assert body.messages == ["Offer entitled already"]
    assert decode(b'{"errorCode": "x"}', ErrorBody).messages == []
    assert encode(ErrorBody(error_code="x")) == b'{"errorCode":"x","messages":[]}'
    with pytest.raises(msgspec.ValidationError):
        decode(b'{"messages": []}', ErrorBody)
