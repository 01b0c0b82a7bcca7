"""Request validators: every documented pattern, minimum, minItems and enumeration."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from magine_async._errors import MagineError, ValidationError
from magine_async.models import (
    UNSET,
    AudioOutput,
    AudioTrack,
    ContentRating,
    DrmType,
    EntitlementInput,
    FormatInfo,
    FrameRate,
    HdrInfo,
    HttpImageSource,
    MediaInput,
    Outputs,
    ResellerUserCreate,
    Resolution,
    S3ImageSource,
    SubtitlesTrack,
    SubtitleType,
    SubtitleUpload,
    Tracks,
    TranscodeRequest,
    UserCreate,
    UserPatch,
    VideoTrack,
    Viewable,
    ViewableKind,
    ViewableMetadata,
    ViewablePatch,
    decode,
)
from magine_async.models import _validate as v

UUID = "b33617fe-a6c2-4f6d-a5bf-ab3c3ecc33a3"
NOW = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)


def fails(func: Any, *args: Any, field: str, rule: str = "", **kwargs: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        func(*args, **kwargs)
    err = info.value
    assert err.field == field
    assert rule in err.rule
    assert str(err).startswith(f"{field}: ")
    assert isinstance(err, MagineError)
    assert isinstance(err, ValueError)
    return err


# --------------------------------------------------------------------------- ids and patterns


def test_uuid_ids() -> None:
    assert v.validate_uuid(UUID, "x") == UUID
    assert v.validate_uuid(UUID.upper(), "x") == UUID.upper()
    assert v.validate_show_id(UUID) == UUID
    assert v.validate_play_session_id(UUID) == UUID
    assert v.validate_asset_id(UUID) == UUID
    fails(v.validate_show_id, "200001", field="metadata.show_id", rule="UUID")
    fails(v.validate_play_session_id, UUID + "\n", field="play_session_id", rule="UUID")
    fails(v.validate_asset_id, UUID[:-1] + "g", field="asset_id", rule="UUID")
    fails(v.validate_uuid, 12, "ids[0]", field="ids[0]", rule="string")


def test_viewable_ids_are_uuids_or_digits() -> None:
    assert v.validate_viewable_id(UUID) == UUID
    assert v.validate_viewable_id("200001") == "200001"
    for bad in ("", "20a", "12 ", "٣", "../x"):
        fails(v.validate_viewable_id, bad, field="viewable_id", rule="UUID or a string of digits")


def test_language_codes() -> None:
    assert v.validate_language("eng", "language") == "eng"
    for bad in ("en", "ENG", "engl", "en1", "eng\n"):
        fails(
            v.validate_language, bad, "tracks.audio[0].language", field="tracks.audio[0].language"
        )


def test_source_id_pattern() -> None:
    for good in ("my_source_id_string_0123", "a b&c/d-e", "ab", "x" * 1000):
        assert v.validate_source_id(good) == good
    for bad in ("a", "x" * 1001, "a.b", "a\\b", "å1"):
        fails(v.validate_source_id, bad, field="source_id", rule="2-1000")


def test_media_names_and_input_sources() -> None:
    assert v.validate_media_name("my_media_id_0123", "inputs[0].name") == "my_media_id_0123"
    for bad in ("a", "with space", "dot.name", "x" * 1001):
        fails(v.validate_media_name, bad, "inputs[0].name", field="inputs[0].name")
    assert v.validate_input_source("bucket/asset/file.suffix", "s") == "bucket/asset/file.suffix"
    fails(
        v.validate_input_source,
        "/bucket/file",
        "inputs[1].source",
        field="inputs[1].source",
        rule="slash",
    )
    fails(v.validate_input_source, "s3://bucket/file", "s", field="s", rule="protocol")
    fails(v.validate_input_source, "bucket/fi le", "s", field="s", rule="2-1000")


def test_non_empty_and_password() -> None:
    assert v.validate_non_empty("tag", "tag") == "tag"
    fails(v.validate_non_empty, "", "user_id", field="user_id", rule="empty")
    err = fails(v.validate_password, "", field="password", rule="empty")
    assert err.value_excerpt is None
    assert v.validate_password("s3cret") == "s3cret"


# --------------------------------------------------------------------------- numbers


def test_minimums() -> None:
    assert v.validate_min_int(1, 1, "c") == 1
    fails(
        v.validate_min_int,
        0,
        1,
        "tracks.audio[0].channels",
        field="tracks.audio[0].channels",
        rule=">= 1",
    )
    fails(v.validate_min_int, True, 1, "c", field="c", rule="integer")
    fails(v.validate_min_int, 1.0, 1, "c", field="c", rule="integer")
    v.validate_resolution(640, 480)
    fails(v.validate_resolution, 639, 480, field="resolution.width", rule=">= 640")
    fails(v.validate_resolution, 1920, 479, "r", field="r.height", rule=">= 480")
    assert v.validate_page_size(100) == 100
    fails(v.validate_page_size, 0, field="page_size")
    assert v.validate_epoch_seconds(1623920603, "t") == 1623920603
    fails(v.validate_epoch_seconds, -1, "t", field="t")
    assert v.validate_epoch_seconds(1623920603.5, "t") == 1623920603.5  # the API's `number`
    fails(v.validate_epoch_seconds, -0.5, "t", field="t")
    fails(v.validate_epoch_seconds, "1623920603", "t", field="t", rule="number")


@pytest.mark.parametrize(
    "rate",
    [(60, 1), (50, 1), (30, 1), (25, 1), (24, 1), (60000, 1001), (30000, 1001), (24000, 1001)],
)
def test_documented_frame_rates(rate: tuple[int, int]) -> None:
    v.validate_frame_rate(*rate)


@pytest.mark.parametrize("rate", [(50, 2), (29, 1), (25000, 1001), (48, 1)])
def test_other_frame_rates_are_refused(rate: tuple[int, int]) -> None:
    fails(v.validate_frame_rate, *rate, field="frame_rate", rule="60/1")


def test_frame_rate_terms_are_integers_from_one() -> None:
    fails(v.validate_frame_rate, 0, 1, field="frame_rate.numerator", rule=">= 1")
    fails(v.validate_frame_rate, 25, 0, field="frame_rate.denominator", rule=">= 1")


def test_min_items() -> None:
    assert v.validate_min_items([1], 1, "inputs") == [1]
    fails(v.validate_min_items, [], 1, "inputs", field="inputs", rule="at least 1 item")
    fails(v.validate_min_items, "ab", 1, "inputs", field="inputs", rule="list")


# --------------------------------------------------------------------------- countries, e-mail


def test_country_codes() -> None:
    assert len(v.ISO_3166_ALPHA2) == 249
    assert v.validate_country_code("SE") == "SE"
    assert v.validate_country_code("se") == "SE"
    assert v.validate_country_code("gB") == "GB"
    for bad in ("UK", "XX", "S", "SWE", "EU", "", "ZZ"):
        fails(v.validate_country_code, bad, field="country_code", rule="ISO 3166-1 alpha-2")
    assert v.validate_country_list(["SE", "dk"], "m.country_whitelist") == ["se", "dk"]
    fails(v.validate_country_list, ["se", "xx"], "m.cl", field="m.cl[1]")
    fails(v.validate_country_list, "se", "m.cl", field="m.cl", rule="list")


def test_email_shape_and_no_echo() -> None:
    for good in ("example@maginepro.com", "a.b+c@sub.example.co.uk"):
        assert v.validate_email(good) == good
    for bad in ("example", "a@b", "a b@c.se", "a@@b.se", "@b.se", "a@b.", "a@.se"):
        err = fails(v.validate_email, bad, field="email", rule="e-mail")
        assert err.value_excerpt is None


def test_known_enum() -> None:
    assert v.validate_known_enum("enhanced", DrmType, "drm_type") is DrmType.ENHANCED
    assert v.validate_known_enum(DrmType.NORMAL, DrmType, "drm_type") is DrmType.NORMAL
    fails(
        v.validate_known_enum,
        "premium",
        DrmType,
        "drm_type",
        field="drm_type",
        rule="normal, enhanced",
    )
    fails(v.validate_known_enum, DrmType("premium"), DrmType, "d", field="d")
    fails(v.validate_known_enum, None, DrmType, "d", field="d")


# --------------------------------------------------------------------------- entitlements


def test_entitlement_times() -> None:
    past = NOW - dt.timedelta(days=1)
    future = NOW + dt.timedelta(days=1)
    assert v.validate_purchased_at(past, now=NOW) == past
    assert v.validate_expiry(future, now=NOW) == future
    fails(v.validate_purchased_at, future, now=NOW, field="purchased_at", rule="past")
    fails(v.validate_expiry, past, now=NOW, field="expiry", rule="future")
    naive = dt.datetime(2020, 1, 1)
    fails(v.validate_purchased_at, naive, now=NOW, field="purchased_at", rule="timezone-aware")
    fails(v.validate_expiry, dt.date(2030, 1, 1), now=NOW, field="expiry", rule="datetime")
    assert v.validate_expiry(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))


def test_entitlement_inputs() -> None:
    items = [
        EntitlementInput(offer_id="o1"),
        EntitlementInput(
            offer_id="o2",
            purchased_at=NOW - dt.timedelta(days=3),
            expiry=NOW + dt.timedelta(days=30),
            message="m",
        ),
    ]
    assert v.validate_entitlement_inputs(items, now=NOW) is items
    bad = [*items, EntitlementInput(offer_id="o3", expiry=dt.datetime(2099, 1, 1))]
    fails(
        v.validate_entitlement_inputs,
        bad,
        now=NOW,
        field="entitlements[2].expiry",
        rule="timezone-aware",
    )
    fails(
        v.validate_entitlement_input,
        EntitlementInput(offer_id=""),
        now=NOW,
        field="entitlement.offer_id",
    )
    fails(v.validate_entitlement_inputs, "o1", field="entitlements", rule="list")


# --------------------------------------------------------------------------- users and reseller


def test_user_create_normalises_country() -> None:
    body = UserCreate(email="a@b.se", country_code="se", birth_date=dt.date(2001, 2, 23))
    assert v.validate_user_create(body) is body
    assert body.country_code == "SE"
    fails(v.validate_user_create, UserCreate(email="nope", country_code="SE"), field="email")
    fails(
        v.validate_user_create, UserCreate(email="a@b.se", country_code="XX"), field="country_code"
    )
    with_time = UserCreate(email="a@b.se", country_code="SE", birth_date=dt.datetime(2001, 1, 1))
    fails(v.validate_user_create, with_time, field="birth_date", rule="date")
    fails(v.validate_user_create, object(), field="user")


def test_user_patch_and_reseller() -> None:
    assert v.validate_user_patch(UserPatch(name="x")).name == "x"
    fails(v.validate_user_patch, UserPatch(email="x"), field="email")
    body = ResellerUserCreate(email="example@maginepro.com", country_code="se", name="John Doe")
    assert v.validate_reseller_user_create(body).country_code == "SE"
    fails(
        v.validate_reseller_user_create,
        ResellerUserCreate(email="e@x.se", country_code="S"),
        field="country_code",
    )


# --------------------------------------------------------------------------- viewables


def test_viewable_metadata_rules() -> None:
    md = ViewableMetadata(
        kind=ViewableKind.EPISODE,
        title="Pilot",
        show_id=UUID,
        country_blacklist=["SE", "dk"],
        viewable_window_start=1623920603,
        ratings=[ContentRating(system="sm-sa", rating="15")],
    )
    assert v.validate_viewable_metadata(md) is md
    assert md.country_blacklist == ["se", "dk"]
    fails(
        v.validate_viewable_metadata,
        md.replace(show_id=UNSET),
        field="metadata.show_id",
        rule="episode",
    )
    fails(v.validate_viewable_metadata, md.replace(show_id="200001"), field="metadata.show_id")
    fails(v.validate_viewable_metadata, md.replace(kind="podcast"), field="metadata.kind")
    fails(v.validate_viewable_metadata, md.replace(title=""), field="metadata.title")
    fails(
        v.validate_viewable_metadata,
        md.replace(country_whitelist=["uk"]),
        field="metadata.country_whitelist[0]",
    )
    fails(
        v.validate_viewable_metadata,
        md.replace(viewable_window_end=-5),
        field="metadata.viewable_window_end",
    )
    fails(v.validate_viewable_metadata, md.replace(season="1"), field="metadata.season")
    fails(
        v.validate_viewable_metadata,
        md.replace(ratings=[ContentRating(system="", rating="1")]),
        field="metadata.ratings[0].system",
    )
    fails(v.validate_viewable_metadata, {"kind": "movie"}, field="metadata")


def test_a_kind_sent_by_the_server_may_be_sent_back() -> None:
    body = (
        b'{"id": "1", "partnerId": "p", "createdAt": 1, "modifiedAt": 1, "publish": true,'
        b' "metadata": {"kind": "podcast", "title": "x"}}'
    )
    for viewable in (decode(body, Viewable), msgspec.json.decode(body, type=Viewable)):
        assert v.validate_viewable_metadata(viewable.metadata) is viewable.metadata
        viewable.metadata.kind = ViewableKind("webinar")
        fails(v.validate_viewable_metadata, viewable.metadata, field="metadata.kind")


def test_viewable_patch_rules() -> None:
    patch = ViewablePatch(title="T", country_whitelist=["SE"])
    assert v.validate_viewable_patch(patch) is patch
    assert patch.country_whitelist == ["se"]
    fails(v.validate_viewable_patch, ViewablePatch(show_id="nope"), field="patch.show_id")
    fails(v.validate_viewable_patch, ViewablePatch(genres=["a", 1]), field="patch.genres[1]")  # type: ignore[list-item]


def test_image_sources() -> None:
    s3 = S3ImageSource(bucket="com-magine-partners-my-partner", object_key="vods/p.jpg")
    assert v.validate_image_source(s3) is s3
    http = HttpImageSource(uri="https://example.com/images/my-movie-poster.jpg")
    assert v.validate_image_source(http) is http
    fails(v.validate_image_source, S3ImageSource(bucket="", object_key="k"), field="source.bucket")
    fails(v.validate_image_source, HttpImageSource(uri="ftp://x/y"), field="source.uri")
    fails(v.validate_image_source, HttpImageSource(uri="example.com/a.jpg"), field="source.uri")
    fails(v.validate_image_source, "https://x", field="source")


# --------------------------------------------------------------------------- subtitles


def test_subtitle_upload_rules() -> None:
    good = SubtitleUpload.from_bytes(
        b"1\n00:00:01,000 --> 00:00:02,000\nHi\n", subtitle_language="eng"
    )
    assert v.validate_subtitle_upload(good) is good
    fails(
        v.validate_subtitle_upload,
        SubtitleUpload(subtitle_data="not base64!", subtitle_language="eng"),
        field="subtitle_data",
        rule="base64",
    )
    fails(
        v.validate_subtitle_upload,
        SubtitleUpload(subtitle_data="", subtitle_language="eng"),
        field="subtitle_data",
    )
    fails(
        v.validate_subtitle_upload,
        SubtitleUpload(subtitle_data="aGk=", subtitle_language="en"),
        field="subtitle_language",
    )
    cc = SubtitleUpload(
        subtitle_data="aGk=", subtitle_language="eng", subtitle_type=SubtitleType.CC
    )
    fails(v.validate_subtitle_upload, cc, field="subtitle_type", rule="normal")
    assert v.validate_subtitle_delete("swe", "forced_narrative") is SubtitleType.FORCED_NARRATIVE
    fails(v.validate_subtitle_delete, "sv", "normal", field="subtitle_lang")
    fails(v.validate_subtitle_delete, "swe", "sdh", field="subtitle_type")


# --------------------------------------------------------------------------- transcoding


def request(**changes: Any) -> TranscodeRequest:
    tracks = Tracks(
        video=VideoTrack(
            name="video1",
            input="container1",
            resolution=Resolution(width=1920, height=1080),
            frame_rate=FrameRate(numerator=25, denominator=1),
            interlaced=False,
            format_info=FormatInfo(
                codec="hevc",
                commercial_format="HDR10",
                hdr_info=HdrInfo(format="HDR10", color_primaries="bt2020"),
            ),
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
    )
    base = TranscodeRequest(
        source_id="my_source_id_string_0123",
        inputs=[
            MediaInput(name="container1", source="bucket/prefix/file_1.suffix"),
            MediaInput(name="container2", source="bucket/prefix/file_2.srt"),
        ],
        tracks=tracks,
        outputs=Outputs(
            audio=[
                AudioOutput(tracks=["audio1"], channel_order=["r", "l"]),  # type: ignore[list-item]
                AudioOutput(tracks=["audio2"], layout="surround51"),  # type: ignore[arg-type]
            ]
        ),
        drm=True,
        drm_type=DrmType.ENHANCED,
        viewable_id=UUID,
        experimental={"a_flag": True},
    )
    return msgspec.structs.replace(base, **changes)


def test_valid_transcode_request() -> None:
    req = request()
    assert v.validate_transcode_request(req) is req
    assert v.validate_transcode_request(request(outputs=UNSET, drm_type=UNSET, viewable_id=UNSET))


def with_audio(**changes: Any) -> TranscodeRequest:
    req = request()
    req.tracks.audio[1] = msgspec.structs.replace(req.tracks.audio[1], **changes)
    return req


@pytest.mark.parametrize(
    ("req", "field"),
    [
        (request(source_id="x"), "source_id"),
        (request(inputs=[]), "inputs"),
        (request(inputs=[MediaInput(name="c 1", source="b/k")]), "inputs[0].name"),
        (request(inputs=[MediaInput(name="container1", source="/b/k")]), "inputs[0].source"),
        (
            request(
                inputs=[MediaInput(name="aa", source="b/k"), MediaInput(name="aa", source="b/l")]
            ),
            "inputs[1].name",
        ),
        (
            request(inputs=[MediaInput(name="container1", storage="gcs", source="b/k")]),  # type: ignore[arg-type]
            "inputs[0].storage",
        ),
        (with_audio(container_index=0), "tracks.audio[1].container_index"),
        (with_audio(channels=0), "tracks.audio[1].channels"),
        (with_audio(language="english"), "tracks.audio[1].language"),
        (with_audio(input="nowhere"), "tracks.audio[1].input"),
        (with_audio(name="audio1"), "tracks.audio[1].name"),
        (request(drm_type="premium"), "drm_type"),
        (request(viewable_id="200001"), "viewable_id"),
        (request(drm="yes"), "drm"),
        (request(experimental=[1]), "experimental"),
        (request(outputs=Outputs(audio=[AudioOutput(tracks=[])])), "outputs.audio[0].tracks"),
        (
            request(outputs=Outputs(audio=[AudioOutput(tracks=["audio9"])])),
            "outputs.audio[0].tracks[0]",
        ),
        (
            request(outputs=Outputs(audio=[AudioOutput(tracks=["audio1"], channel_order=[])])),
            "outputs.audio[0].channel_order",
        ),
        (
            request(outputs=Outputs(audio=[AudioOutput(tracks=["audio1"], channel_order=["x"])])),  # type: ignore[list-item]
            "outputs.audio[0].channel_order[0]",
        ),
        (
            request(outputs=Outputs(audio=[AudioOutput(tracks=["audio1"], layout="mono")])),  # type: ignore[arg-type]
            "outputs.audio[0].layout",
        ),
    ],
)
def test_invalid_transcode_requests(req: TranscodeRequest, field: str) -> None:
    fails(v.validate_transcode_request, req, field=field)


def test_invalid_tracks() -> None:
    req = request()
    req.tracks.audio = []
    fails(v.validate_transcode_request, req, field="tracks.audio", rule="at least 1")
    req = request()
    req.tracks.subtitles = []
    fails(v.validate_transcode_request, req, field="tracks.subtitles", rule="at least 1")
    req = request()
    req.tracks.video.resolution = Resolution(width=320, height=240)
    fails(v.validate_transcode_request, req, field="tracks.video.resolution.width")
    req = request()
    req.tracks.video.frame_rate = FrameRate(numerator=23976, denominator=1000)
    fails(v.validate_transcode_request, req, field="tracks.video.frame_rate")
    req = request()
    req.tracks.video.input = "container9"
    fails(v.validate_transcode_request, req, field="tracks.video.input", rule="inputs")
    req = request()
    assert req.tracks.subtitles is not UNSET
    req.tracks.subtitles[0].language = "NO"
    fails(v.validate_transcode_request, req, field="tracks.subtitles[0].language")
    req = request()
    assert req.tracks.video.format_info is not UNSET
    assert req.tracks.video.format_info.hdr_info is not UNSET
    req.tracks.video.format_info.hdr_info.maximum_content_light_level = "1000"  # type: ignore[assignment]
    fails(
        v.validate_transcode_request,
        req,
        field="tracks.video.format_info.hdr_info.maximum_content_light_level",
    )
    fails(v.validate_transcode_request, request(source_id="?"), "body", field="body.source_id")
    fails(v.validate_transcode_request, {"sourceId": "x"}, field="request")
