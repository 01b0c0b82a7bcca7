"""Viewable models: documented examples, lossless metadata, fast and lossless decoding paths."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import msgspec
import pytest

from magine_async.models import (
    UNSET,
    Broadcast,
    ChannelPlayable,
    ContentRating,
    DrmType,
    HttpImageSource,
    ImageSource,
    ImageType,
    LiveEvent,
    S3ImageSource,
    SubtitleType,
    Viewable,
    ViewableImage,
    ViewableInput,
    ViewableKind,
    ViewableMetadata,
    ViewablePage,
    ViewablePatch,
    ViewablePatchBody,
    Vod,
    VodPipeline,
    VodStatus,
    decode,
    decoder_for,
    encode,
    to_builtins,
)

# Examples copied from the API documentation.
VIEWABLE_EXAMPLE = """{
"id": "60bbb98e-2794-450b-9c8c-b1f022db7a60",
"partnerId": "magine-pro-demo",
"metadata": {
"kind": "movie",
"title": "Demo movie",
"images": [
{
"type": "poster",
"filename": "https://images.eu-west-1.test.tvoli.com/i/magine-pro-demo/v/c346d955-3834-4d9e-a2d4-09a183328969.jpg"
}
],
"synopsis": "Descriptive text about the movie"
},
"createdAt": 1623853814,
"modifiedAt": 1623853814,
"publish": true
}"""

VOD_EXAMPLE = """{ "assetId": "cac10231-b376-4493-b5ad-f27d95d9b8b3", "source": "magine-pro-demo",
"sourceId": "mpl-moe-aac-platform-test-001", "status": "transcoded", "createdAt": 1623854732,
"modifiedAt": 1623854927, "vodPipeline": "mediaconvert",
"viewableId": "60bbb98e-2794-450b-9c8c-b1f022db7a60", "drmActivated": true, "drmType": "normal",
"subtitleLanguages": [ "eng", "ell" ], "subtitleTracks": [ { "language": "eng",
"subtitleType": "normal" }, { "language": "ell", "subtitleType": "normal" } ],
"audioLanguages": [ "eng", "eng", "eng" ], "sourceResolution": { "width": 1920, "height": 1080 },
"audioChansPerLang": [ { "channels": 6, "language": "eng" } ] }"""

LIVE_EVENT_EXAMPLE = '{ "id": "afaa73a9-6891-4810-a66a-97d949275ce5", "startTimeUtc": 1568903400 }'

BROADCAST_EXAMPLE = """{ "id": "4c15071e-ff7a-462a-b608-bf1a56c4727f",
"sourceId": "4c15071e-ff7a-462a-b608-bf1a56c4727f", "startTimeUtc": 1630542000,
"stopTimeUtc": 1630545000, "catchupFrom": 1630542000, "catchupTo": 1631149800,
"channelViewableId": "200064", "extendedRights": { "pause": true, "rewind": true,
"fastForward": true }, "duration": 3000 }"""

CHANNEL_PLAYABLE_EXAMPLE = """{ "id": "200064", "streamId": "200064", "duration": 7200,
"verifyAge": false, "extendedRights": { "pause": true, "rewind": true, "fastForward": true } }"""

CREATE_EXAMPLE = """{
"metadata": {
"kind": "movie",
"title": "Terminator"
},
"publish": false
}"""

PATCH_EXAMPLE = """{
"patch": {
"title": "Terminator",
"synopsis": "A movie about the future",
"labels": ["action", "sci-fi"]
}
}"""

S3_IMAGE_EXAMPLE = """{
"sourceType": "s3",
"bucket": "com-magine-partners-my-partner",
"objectKey": "vods/my-movie/poster.jpg"
}"""

HTTP_IMAGE_EXAMPLE = """{
"sourceType": "http",
"uri": "https://example.com/images/my-movie-poster.jpg"
}"""

CURSOR = "WzE1NTI2NDQ0MDgsIjc1YzdjZjk4LTNlOGMtNGU4NC05M2I5LTE5ZmI2ZWExM2U5NCJd"


def same_json(data: bytes, expected: str | bytes | dict[str, Any]) -> bool:
    want = expected if isinstance(expected, dict) else json.loads(expected)
    return bool(json.loads(data) == want)


def full_viewable(**metadata_extra: Any) -> dict[str, Any]:
    viewable: dict[str, Any] = json.loads(VIEWABLE_EXAMPLE)
    viewable["metadata"].update(metadata_extra)
    viewable["vods"] = [json.loads(VOD_EXAMPLE)]
    viewable["liveEvents"] = [json.loads(LIVE_EVENT_EXAMPLE)]
    viewable["broadcasts"] = [json.loads(BROADCAST_EXAMPLE)]
    viewable["channelPlayable"] = json.loads(CHANNEL_PLAYABLE_EXAMPLE)
    return viewable


# --------------------------------------------------------------------------- documented examples


def test_viewable_example_decodes_with_typed_fields() -> None:
    viewable = decode(VIEWABLE_EXAMPLE.encode(), Viewable)
    assert isinstance(viewable, Viewable)
    assert viewable.id == "60bbb98e-2794-450b-9c8c-b1f022db7a60"
    assert viewable.partner_id == "magine-pro-demo"
    assert viewable.created_at == 1623853814
    assert isinstance(viewable.created_at, int)
    assert viewable.publish is True
    md = viewable.metadata
    assert md.kind is ViewableKind.MOVIE
    assert md.title == "Demo movie"
    assert md.synopsis == "Descriptive text about the movie"
    assert md.images == [
        ViewableImage(
            type=ImageType.POSTER,
            filename="https://images.eu-west-1.test.tvoli.com/i/magine-pro-demo/v/"
            "c346d955-3834-4d9e-a2d4-09a183328969.jpg",
        )
    ]
    assert md.genres is UNSET
    assert md.extra == {}
    assert viewable.vods is None


def test_viewable_example_round_trips() -> None:
    viewable = decode(VIEWABLE_EXAMPLE.encode(), Viewable)
    assert same_json(encode(viewable), VIEWABLE_EXAMPLE)


def test_list_page_example() -> None:
    body = {"viewables": [json.loads(VIEWABLE_EXAMPLE)], "cursor": CURSOR}
    page = decode(json.dumps(body).encode(), ViewablePage)
    assert page.cursor == CURSOR
    assert [v.metadata.title for v in page.viewables] == ["Demo movie"]
    assert same_json(encode(page), body)


def test_last_page_has_no_cursor() -> None:
    page = decode(b'{"viewables": []}', ViewablePage)
    assert page.cursor is None
    assert page.viewables == []


def test_vod_example() -> None:
    vod = decode(VOD_EXAMPLE.encode(), Vod)
    assert vod.status is VodStatus.TRANSCODED
    assert vod.vod_pipeline is VodPipeline.MEDIACONVERT
    assert vod.drm_type is DrmType.NORMAL
    assert vod.drm_activated is True
    assert vod.created_at == 1623854732
    assert vod.subtitle_tracks is not None
    assert [t.subtitle_type for t in vod.subtitle_tracks] == [SubtitleType.NORMAL] * 2
    assert vod.source_resolution is not None
    assert (vod.source_resolution.width, vod.source_resolution.height) == (1920, 1080)
    assert vod.audio_chans_per_lang is not None
    assert vod.audio_chans_per_lang[0].channels == 6
    assert vod.rights is None
    assert same_json(encode(vod), VOD_EXAMPLE)


def test_vod_rights() -> None:
    data = json.loads(VOD_EXAMPLE)
    data["rights"] = {"sourceId": "my_source_id_string_0123", "offlineAvailable": True}
    data["publish"] = False
    data["duration"] = 5423.5
    vod = decode(json.dumps(data).encode(), Vod)
    assert vod.rights is not None
    assert vod.rights.offline_available is True
    assert vod.publish is False
    assert vod.duration == 5423.5
    assert same_json(encode(vod), data)


def test_playables_examples() -> None:
    event = decode(LIVE_EVENT_EXAMPLE.encode(), LiveEvent)
    assert event.start_time_utc == 1568903400
    broadcast = decode(BROADCAST_EXAMPLE.encode(), Broadcast)
    assert broadcast.channel_viewable_id == "200064"
    assert broadcast.extended_rights.fast_forward is True
    assert broadcast.duration == 3000
    assert isinstance(broadcast.duration, int)
    channel = decode(CHANNEL_PLAYABLE_EXAMPLE.encode(), ChannelPlayable)
    assert channel.verify_age is False
    assert channel.stream_id == "200064"
    for text, obj in (
        (LIVE_EVENT_EXAMPLE, event),
        (BROADCAST_EXAMPLE, broadcast),
        (CHANNEL_PLAYABLE_EXAMPLE, channel),
    ):
        assert same_json(encode(obj), text)


def test_full_viewable_round_trip_on_both_paths() -> None:
    body = full_viewable()
    fast = decode(json.dumps(body).encode(), Viewable)
    exact = msgspec.json.decode(json.dumps(body).encode(), type=Viewable)
    assert fast == exact
    assert exact == fast
    assert same_json(encode(fast), body)
    assert same_json(encode(exact), body)
    assert fast.live_events is not None
    assert fast.live_events[0].id == "afaa73a9-6891-4810-a66a-97d949275ce5"
    assert fast.channel_playable is not None


def test_create_and_replace_body_example() -> None:
    body = decode(CREATE_EXAMPLE.encode(), ViewableInput)
    assert body.metadata.kind is ViewableKind.MOVIE
    assert body.publish is False
    built = ViewableInput(
        metadata=ViewableMetadata(kind=ViewableKind.MOVIE, title="Terminator"), publish=False
    )
    assert same_json(encode(built), CREATE_EXAMPLE)
    assert encode(ViewableInput(metadata=ViewableMetadata(kind="movie", title="T"))) == (
        b'{"metadata":{"kind":"movie","title":"T"}}'
    )


def test_patch_body_example() -> None:
    body = ViewablePatchBody(
        patch=ViewablePatch(
            title="Terminator", synopsis="A movie about the future", labels=["action", "sci-fi"]
        )
    )
    assert same_json(encode(body), PATCH_EXAMPLE)
    decoded = decode(PATCH_EXAMPLE.encode(), ViewablePatchBody)
    assert decoded == body
    assert decoded.patch.genres is UNSET


def test_patch_absent_fields_are_not_sent() -> None:
    assert encode(ViewablePatchBody(patch=ViewablePatch())) == b'{"patch":{}}'
    assert encode(ViewablePatch(show_id="b33617fe-a6c2-4f6d-a5bf-ab3c3ecc33a3", season=2)) == (
        b'{"showId":"b33617fe-a6c2-4f6d-a5bf-ab3c3ecc33a3","season":2}'
    )


def test_image_sources_are_tagged_by_source_type() -> None:
    s3 = decode(S3_IMAGE_EXAMPLE.encode(), ImageSource)
    assert isinstance(s3, S3ImageSource)
    assert s3.object_key == "vods/my-movie/poster.jpg"
    http = decode(HTTP_IMAGE_EXAMPLE.encode(), ImageSource)
    assert isinstance(http, HttpImageSource)
    assert same_json(encode(s3), S3_IMAGE_EXAMPLE)
    assert same_json(encode(http), HTTP_IMAGE_EXAMPLE)
    with pytest.raises(msgspec.ValidationError):
        decode(b'{"sourceType": "ftp", "uri": "x"}', ImageSource)


# --------------------------------------------------------------------------- unknown enum values


def test_unknown_kind_and_status_do_not_break_decoding() -> None:
    body = full_viewable()
    body["metadata"]["kind"] = "podcast"
    body["vods"][0]["status"] = "archived"
    body["vods"][0]["vodPipeline"] = "cloud"
    body["vods"][0]["subtitleTracks"][0]["subtitleType"] = "sdh"
    page = json.dumps({"viewables": [body, json.loads(VIEWABLE_EXAMPLE)]}).encode()
    first, second = decode(page, ViewablePage).viewables
    kind = first.metadata.kind
    assert isinstance(kind, ViewableKind)
    assert kind == "podcast"
    assert kind.value == "podcast"
    assert not kind.is_known
    assert second.metadata.kind.is_known
    assert first.vods is not None
    assert first.vods[0].status == "archived"
    assert not first.vods[0].status.is_known
    assert same_json(encode(first), body)


# --------------------------------------------------------------------------- lossless metadata

EXTRAS = {
    "customData": {"a": [1, 2.50, None, {"deep": True}], "b": "ü"},
    "productionYear": 1984,
}


@pytest.mark.parametrize("path", ["fast", "msgspec"])
def test_unknown_properties_survive_a_round_trip_byte_for_byte(path: str) -> None:
    body = full_viewable(**EXTRAS)
    raw_metadata = b'{"kind":"movie","title":"T","customData":{"a":[1,2.50,null]},"z":1e3}'
    data = json.dumps(body).encode().replace(json.dumps(body["metadata"]).encode(), raw_metadata)
    viewable = (
        decode(data, Viewable) if path == "fast" else msgspec.json.decode(data, type=Viewable)
    )
    md = viewable.metadata
    assert md.extra == {"customData": {"a": [1, 2.5, None]}, "z": 1000.0}
    assert encode(md) == raw_metadata
    replace_body = encode(ViewableInput(metadata=md))
    assert replace_body == b'{"metadata":' + raw_metadata + b"}"


def test_metadata_merge_keeps_unknowns_and_applies_changes() -> None:
    data = json.dumps(full_viewable(**EXTRAS)).encode()
    md = decode(data, Viewable).metadata
    md.title = "New title"
    md.genres = ["Action"]
    md.extra["productionYear"] = 1985
    md.extra["studio"] = "Orion"
    out = json.loads(encode(md))
    assert out == {
        "kind": "movie",
        "title": "New title",
        "images": json.loads(VIEWABLE_EXAMPLE)["metadata"]["images"],
        "synopsis": "Descriptive text about the movie",
        "customData": EXTRAS["customData"],
        "productionYear": 1985,
        "genres": ["Action"],
        "studio": "Orion",
    }
    assert list(out)[:3] == ["kind", "title", "images"]  # original order kept


def test_metadata_removal_of_fields_and_extras() -> None:
    md = decode(json.dumps(full_viewable(**EXTRAS)).encode(), Viewable).metadata
    md.synopsis = UNSET
    del md.extra["customData"]
    out = json.loads(encode(md))
    assert "synopsis" not in out
    assert "customData" not in out
    assert out["productionYear"] == 1984


def test_nested_unknown_properties_in_images_and_ratings_are_kept() -> None:
    images = [{"type": "poster", "filename": "https://x/p.jpg", "width": 1920}]
    ratings = [{"system": "sm-sa", "rating": "15", "reasons": ["violence"], "note": {"x": 1}}]
    body = full_viewable(images=images, ratings=ratings)
    viewable = decode(json.dumps(body).encode(), Viewable)
    md = viewable.metadata
    assert md.images == [ViewableImage(type=ImageType.POSTER, filename="https://x/p.jpg")]
    assert md.ratings == [ContentRating(system="sm-sa", rating="15", reasons=["violence"])]
    assert json.loads(encode(md))["images"] == images
    md.title = "Changed"  # other fields change: images and ratings still sent as received
    out = json.loads(encode(md))
    assert out["images"] == images
    assert out["ratings"] == ratings
    assert out["title"] == "Changed"
    md.ratings = [ContentRating(system="sm-sa", rating="18")]  # replaced: typed value is sent
    assert json.loads(encode(md))["ratings"] == [{"system": "sm-sa", "rating": "18"}]


def test_unexpected_null_in_a_known_field_is_tolerated_and_kept() -> None:
    body = full_viewable(synopsis=None, season="2")
    viewable = decode(json.dumps(body).encode(), Viewable)
    assert viewable.metadata.synopsis is UNSET
    assert viewable.metadata.season is UNSET
    assert same_json(encode(viewable), body)
    viewable.metadata.season = 3
    out = json.loads(encode(viewable.metadata))
    assert out["season"] == 3
    assert out["synopsis"] is None


def test_metadata_without_kind_or_title_is_rejected() -> None:
    body = json.loads(VIEWABLE_EXAMPLE)
    del body["metadata"]["title"]
    with pytest.raises(msgspec.ValidationError):
        decode(json.dumps(body).encode(), Viewable)
    body = json.loads(VIEWABLE_EXAMPLE)
    body["metadata"]["kind"] = 7
    body["metadata"]["extra"] = 1
    with pytest.raises(msgspec.ValidationError):
        decode(json.dumps(body).encode(), Viewable)


def test_fast_and_lossless_paths_give_equal_public_objects() -> None:
    plain = json.dumps({"viewables": [full_viewable()], "cursor": "c"}).encode()
    with_extra = json.dumps({"viewables": [full_viewable(x=1)], "cursor": "c"}).encode()
    fast = decode(plain, ViewablePage)
    lossless = decode(with_extra, ViewablePage)
    assert isinstance(fast, ViewablePage)
    assert isinstance(fast.viewables[0], Viewable)
    assert repr(fast).startswith("ViewablePage(viewables=[Viewable(")
    assert fast.viewables[0].metadata.extra == {}
    assert lossless.viewables[0].metadata.extra == {"x": 1}
    assert fast != lossless
    lossless.viewables[0].metadata.extra.clear()
    assert fast == lossless
    restored = pickle.loads(pickle.dumps(fast))
    assert type(restored) is ViewablePage
    assert type(restored.viewables[0]) is Viewable
    assert restored == fast


def test_decoder_for_falls_back_and_recovers() -> None:
    dec = decoder_for(ViewablePage)
    assert decoder_for(ViewablePage) is dec
    plain = json.dumps({"viewables": [full_viewable()]}).encode()
    extra = json.dumps({"viewables": [full_viewable(x=1)]}).encode()
    for _ in range(40):  # more than the back-off: both kinds keep decoding correctly
        assert dec.decode(extra).viewables[0].metadata.extra == {"x": 1}
        assert dec.decode(plain).viewables[0].metadata.extra == {}


def test_construct_metadata_with_extras() -> None:
    md = ViewableMetadata(
        kind=ViewableKind.EPISODE,
        title="Pilot",
        show_id="b33617fe-a6c2-4f6d-a5bf-ab3c3ecc33a3",
        season=1,
        episode=1,
        country_whitelist=["se"],
        ratings=[ContentRating(system="sm-sa", rating="7")],
        custom_id="ep-1",
        extra={"productionYear": 2001, "credits": {"director": "X"}},
    )
    assert json.loads(encode(md)) == {
        "kind": "episode",
        "title": "Pilot",
        "countryWhitelist": ["se"],
        "showId": "b33617fe-a6c2-4f6d-a5bf-ab3c3ecc33a3",
        "season": 1,
        "episode": 1,
        "ratings": [{"system": "sm-sa", "rating": "7"}],
        "customId": "ep-1",
        "productionYear": 2001,
        "credits": {"director": "X"},
    }
    assert md.to_dict()["customId"] == "ep-1"
    assert to_builtins(ViewableInput(metadata=md))["metadata"]["credits"] == {"director": "X"}
    assert "extra={'productionYear': 2001" in repr(md)
    with pytest.raises(ValueError, match="title"):
        ViewableMetadata(kind="movie", title="x", extra={"title": "clash"})


def test_metadata_from_dict_and_replace_and_copies() -> None:
    md = ViewableMetadata.from_dict({"kind": "show", "title": "S", "customId": "c", "foo": [1]})
    assert md.kind is ViewableKind.SHOW
    assert md.custom_id == "c"
    assert md.extra == {"foo": [1]}
    other = md.replace(title="S2")
    assert other.title == "S2"
    assert md.title == "S"
    assert other.extra == {"foo": [1]}
    assert copy.deepcopy(md) == md
    assert copy.copy(md) == md
    assert pickle.loads(pickle.dumps(md)) == md
    with pytest.raises(TypeError):
        md.replace(colour="red")
    with pytest.raises(TypeError):
        hash(md)


def test_plain_msgspec_encoding_refuses_metadata_instead_of_dropping_it() -> None:
    md = ViewableMetadata(kind="movie", title="x", extra={"a": 1})
    with pytest.raises(TypeError):
        msgspec.json.encode(md)


def test_viewable_accepts_metadata_as_mapping() -> None:
    viewable = Viewable(
        id="200001",
        partner_id="p",
        metadata={"kind": "channel", "title": "Ch", "logo": "x"},  # type: ignore[arg-type]
        created_at=1,
        modified_at=2,
        publish=True,
    )
    assert viewable.metadata.kind is ViewableKind.CHANNEL
    assert viewable.metadata.extra == {"logo": "x"}
    with pytest.raises(TypeError):
        Viewable(id="1", partner_id="p", metadata=3, created_at=1, modified_at=2, publish=True)  # type: ignore[arg-type]


def test_property_docs_and_kind_coercion() -> None:
    assert "Master copy title" in (ViewableMetadata.title.__doc__ or "")
    md = ViewableMetadata(kind="movie", title="x")
    md.kind = "trailer"  # type: ignore[assignment]
    assert md.kind is ViewableKind.TRAILER
