"""Properties the API document types as ``number`` accept JSON floats as well as integers.

The document says ``integer`` where it means one (resolution width and height, frame rates,
container indexes...); every other numeric property is a ``number``, so a server may send
``1623853814.0`` or ``1623853814.5`` for a viewable's ``createdAt``. Such a value must decode
(a whole page used to fail), must keep its value and its int/float form, and must be sent back
unchanged by a GET -> PUT round trip. Request validators accept what the document allows.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from magine_async import MagineClient
from magine_async._errors import ValidationError
from magine_async.models import (
    Broadcast,
    HttpImageSource,
    LiveEvent,
    SubtitleJob,
    SubtitleJobEnvelope,
    SubtitleJobList,
    User,
    UserEnvelope,
    Viewable,
    ViewableKind,
    ViewableMetadata,
    ViewablePage,
    ViewablePatch,
    Vod,
    decode,
    encode,
)
from magine_async.models import _validate as v

from ..support import ScriptedServer, json_reply

UUID = "d7347da2-b07a-46f6-b3d3-956fa1326591"
USER = "1YJO25UNWH2UZB6K9BRWQMECQUSR"

# The two shapes of a float the issue reports: integral (``.0``) and fractional (``.5``).
FLOATS = [1623853814.0, 1623853814.5]


def strictly_equal(a: Any, b: Any) -> bool:
    """JSON values equal *and* of the same Python types (``1 == 1.0`` is not enough here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def vod(number: float) -> dict[str, Any]:
    return {
        "assetId": "cac10231-b376-4493-b5ad-f27d95d9b8b3",
        "source": "magine-pro-demo",
        "sourceId": "mpl-moe-aac-platform-test-001",
        "status": "transcoded",
        "createdAt": number,
        "modifiedAt": number + 1,
        "vodPipeline": "mediaconvert",
        "duration": 5400.25,
        "drmActivated": True,
        "sourceResolution": {"width": 1920, "height": 1080},
        "audioChansPerLang": [{"channels": 6.0, "language": "eng"}],
    }


def broadcast(number: float) -> dict[str, Any]:
    return {
        "id": "4c15071e-ff7a-462a-b608-bf1a56c4727f",
        "sourceId": "4c15071e-ff7a-462a-b608-bf1a56c4727f",
        "startTimeUtc": number,
        "stopTimeUtc": number + 3000,
        "catchupFrom": number,
        "catchupTo": number + 607800,
        "channelViewableId": "200064",
        "extendedRights": {"pause": True, "rewind": True, "fastForward": True},
        "duration": 3000.0,
    }


def viewable(number: float, **metadata: Any) -> dict[str, Any]:
    return {
        "id": "60bbb98e-2794-450b-9c8c-b1f022db7a60",
        "partnerId": "magine-pro-demo",
        "metadata": {"kind": "movie", "title": "Demo movie", **metadata},
        "createdAt": number,
        "modifiedAt": number + 1,
        "publish": True,
        "vods": [vod(number)],
        "liveEvents": [{"id": "afaa73a9-6891-4810-a66a-97d949275ce5", "startTimeUtc": number}],
        "broadcasts": [broadcast(number)],
        "channelPlayable": {
            "id": "200064",
            "streamId": "200064",
            "duration": 7200.5,
            "verifyAge": False,
            "extendedRights": {"pause": True, "rewind": True, "fastForward": True},
        },
    }


def subtitle_job(number: float) -> dict[str, Any]:
    return {
        "requestId": "780ac3cd-9207-4cb1-87bf-de36a88ca001",
        "requestType": "create",
        "playableId": "4ef23016-e76e-43da-9919-a7654e10ed68",
        "subtitleLanguage": "eng",
        "subtitleType": "normal",
        "createdAt": number,
        "updatedAt": number + 17,
        "status": "FAILED",
    }


def check_vod(item: Vod, number: float) -> None:
    assert item.created_at == number and type(item.created_at) is float
    assert item.modified_at == number + 1
    assert item.audio_chans_per_lang is not None
    assert item.audio_chans_per_lang[0].channels == 6.0
    assert item.source_resolution is not None and item.source_resolution.width == 1920


def check_broadcast(item: Broadcast, number: float) -> None:
    assert (item.start_time_utc, item.stop_time_utc) == (number, number + 3000)
    assert (item.catchup_from, item.catchup_to) == (number, number + 607800)
    assert all(
        type(x) is float
        for x in (item.start_time_utc, item.stop_time_utc, item.catchup_from, item.catchup_to)
    )


def check_viewable(item: Viewable, number: float) -> None:
    assert item.created_at == number and type(item.created_at) is float
    assert item.modified_at == number + 1
    assert item.vods is not None
    check_vod(item.vods[0], number)
    assert item.live_events is not None
    assert item.live_events[0].start_time_utc == number
    assert item.broadcasts is not None
    check_broadcast(item.broadcasts[0], number)


# --------------------------------------------------------------------------- response models


@pytest.mark.parametrize("number", FLOATS)
@pytest.mark.parametrize("extra", [{}, {"productionYear": 1984}], ids=["fast", "lossless"])
def test_viewable_page_with_float_epochs_decodes(number: float, extra: dict[str, Any]) -> None:
    body = {"viewables": [viewable(number, **extra), viewable(1623853814)], "cursor": "c"}
    page = decode(json.dumps(body).encode(), ViewablePage)
    check_viewable(page.viewables[0], number)
    second = page.viewables[1]
    assert second.created_at == 1623853814 and type(second.created_at) is int
    assert strictly_equal(json.loads(encode(page)), body)


@pytest.mark.parametrize("number", FLOATS)
def test_vod_and_transcode_asset_with_float_numbers(number: float) -> None:
    body = vod(number)
    item = decode(json.dumps(body).encode(), Vod)
    check_vod(item, number)
    assert strictly_equal(json.loads(encode(item)), body)


@pytest.mark.parametrize("number", FLOATS)
def test_live_event_and_broadcast_with_float_epochs(number: float) -> None:
    event = decode(json.dumps({"id": UUID, "startTimeUtc": number}).encode(), LiveEvent)
    assert event.start_time_utc == number and type(event.start_time_utc) is float
    check_broadcast(decode(json.dumps(broadcast(number)).encode(), Broadcast), number)


@pytest.mark.parametrize("number", FLOATS)
def test_user_with_float_created_timestamp(number: float) -> None:
    body = {"user": {"userId": USER, "country": "SE", "createdTimestamp": number}}
    user = decode(json.dumps(body).encode(), UserEnvelope).user
    assert user.created_timestamp == number and type(user.created_timestamp) is float
    assert strictly_equal(json.loads(encode(user)), body["user"])


@pytest.mark.parametrize("number", FLOATS)
def test_subtitle_jobs_with_float_times(number: float) -> None:
    listed = decode(json.dumps({"subtitleJobs": [subtitle_job(number)]}).encode(), SubtitleJobList)
    one = decode(json.dumps({"subtitleJob": subtitle_job(number)}).encode(), SubtitleJobEnvelope)
    for job in (listed.subtitle_jobs[0], one.subtitle_job):
        assert job.created_at == number and type(job.created_at) is float
        assert job.updated_at == number + 17


def test_integral_epochs_stay_int_and_convert_to_datetime() -> None:
    item = decode(json.dumps(viewable(1623853814)).encode(), Viewable)
    assert type(item.created_at) is int
    half = decode(json.dumps(viewable(1623853814.5)).encode(), Viewable)
    when = dt.datetime.fromtimestamp(half.created_at, dt.UTC)
    assert when == dt.datetime(2021, 6, 16, 14, 30, 14, 500000, tzinfo=dt.UTC)


# --------------------------------------------------------------------------- viewable metadata


METADATA_NUMBERS = {
    "viewableWindowStart": 1623920603.0,
    "viewableWindowEnd": 1623920603.75,
    "season": 2.0,
    "episode": 3.5,
}


@pytest.mark.parametrize("extra", [{}, {"credits": {"director": "X"}}], ids=["fast", "lossless"])
def test_metadata_number_fields_are_typed_and_round_trip(extra: dict[str, Any]) -> None:
    body = viewable(1623853814, **METADATA_NUMBERS, **extra)
    md = decode(json.dumps(body).encode(), Viewable).metadata
    assert md.viewable_window_start == 1623920603.0
    assert md.viewable_window_end == 1623920603.75
    assert (md.season, md.episode) == (2.0, 3.5)
    assert all(
        type(x) is float
        for x in (md.viewable_window_start, md.viewable_window_end, md.season, md.episode)
    )
    assert strictly_equal(json.loads(encode(md)), body["metadata"])
    md.title = "Changed"  # a merge re-sends the untouched numbers exactly as received
    out = json.loads(encode(md))
    assert out.pop("title") == "Changed"
    assert strictly_equal(out, {k: x for k, x in body["metadata"].items() if k != "title"})


def test_metadata_from_json_and_from_dict_keep_float_numbers() -> None:
    text = json.dumps({"kind": "episode", "title": "E", **METADATA_NUMBERS, "x": [1.0]})
    md = ViewableMetadata.from_json(text)
    assert md.episode == 3.5
    assert encode(md) == text.encode()  # unchanged metadata is sent back byte for byte
    built = ViewableMetadata.from_dict(json.loads(text))
    assert built.episode == 3.5 and type(built.season) is float
    assert strictly_equal(json.loads(encode(built)), json.loads(text))


# --------------------------------------------------------------------------- request validators


def test_epoch_seconds_validator_accepts_document_numbers() -> None:
    assert v.validate_epoch_seconds(1623920603, "t") == 1623920603
    assert v.validate_epoch_seconds(1623920603.5, "t") == 1623920603.5
    assert v.validate_epoch_seconds(0.0, "t") == 0.0
    for bad in (-0.5, -1, math.nan, math.inf, True, "1623920603", None):
        with pytest.raises(ValidationError) as info:
            v.validate_epoch_seconds(bad, "t")
        assert info.value.field == "t"


def test_metadata_validators_accept_float_windows_and_numbers() -> None:
    md = ViewableMetadata(
        kind=ViewableKind.EPISODE,
        title="Pilot",
        show_id=UUID,
        viewable_window_start=1623920603.5,
        viewable_window_end=1623920999.0,
        season=1.0,
        episode=2.5,
    )
    assert v.validate_viewable_metadata(md) is md
    patch = ViewablePatch(viewable_window_start=1623920603.5, season=2.0, episode=1)
    assert v.validate_viewable_patch(patch) is patch
    for field, bad in (
        ("viewable_window_start", math.nan),
        ("viewable_window_end", -1.5),
        ("season", math.inf),
        ("episode", "3"),
        ("season", True),
    ):
        with pytest.raises(ValidationError) as info:
            v.validate_viewable_metadata(md.replace(**{field: bad}))
        assert info.value.field == f"metadata.{field}"
        with pytest.raises(ValidationError) as info:
            v.validate_viewable_patch(ViewablePatch(**{field: bad}))
        assert info.value.field == f"patch.{field}"


# --------------------------------------------------------------------------- through the client

Call = Callable[[MagineClient], Awaitable[Any]]
Check = Callable[[Any], None]
HALF = 1623853814.5


def check_user(user: User) -> None:
    assert user.created_timestamp == HALF


def check_jobs(jobs: list[SubtitleJob]) -> None:
    assert [(j.created_at, j.updated_at) for j in jobs] == [(HALF, HALF + 17)]


def viewable_case(call: Call, check: Callable[[Any], Viewable] = lambda r: r) -> Any:
    return (call, viewable(HALF), lambda r: check_viewable(check(r), HALF))


OPERATIONS: dict[str, tuple[Call, Any, Check]] = {
    "viewables.list": (
        lambda c: c.viewables.list().first_page(),
        {"viewables": [viewable(HALF)]},
        lambda r: check_viewable(r.items[0], HALF),
    ),
    "viewables.create": viewable_case(
        lambda c: c.viewables.create(ViewableMetadata(kind="movie", title="Demo movie")),
        lambda r: r.value,
    ),
    "viewables.get_by_custom_id": viewable_case(lambda c: c.viewables.get_by_custom_id("ext-42")),
    "viewables.get": viewable_case(lambda c: c.viewables.get(UUID)),
    "viewables.replace": viewable_case(
        lambda c: c.viewables.replace(UUID, metadata={"kind": "movie", "title": "T"})
    ),
    "viewables.patch": viewable_case(lambda c: c.viewables.patch(UUID, title="T")),
    "viewables.images.put": viewable_case(
        lambda c: c.viewables.put_image(
            UUID, "poster", HttpImageSource(uri="https://example.com/p.jpg")
        )
    ),
    "viewables.images.delete": viewable_case(lambda c: c.viewables.delete_image(UUID, "poster")),
    "users.get": (
        lambda c: c.users.get(USER),
        {"user": {"userId": USER, "country": "SE", "createdTimestamp": HALF}},
        check_user,
    ),
    "subtitles.list": (
        lambda c: c.subtitles.list(UUID),
        {"subtitleJobs": [subtitle_job(HALF)]},
        check_jobs,
    ),
    "subtitles.get": (
        lambda c: c.subtitles.get(UUID, "780ac3cd-9207-4cb1-87bf-de36a88ca001"),
        {"subtitleJob": subtitle_job(HALF)},
        lambda r: check_jobs([r]),
    ),
    "transcode.get": (
        lambda c: c.transcode.get("cac10231-b376-4493-b5ad-f27d95d9b8b3"),
        vod(HALF),
        lambda r: check_vod(r, HALF),
    ),
}


@pytest.mark.parametrize("name", list(OPERATIONS))
async def test_operations_answering_float_numbers_succeed(
    name: str, server: ScriptedServer, client: MagineClient
) -> None:
    call, reply, check = OPERATIONS[name]
    # Scripted for every attempt, so that a failure reports the decoding error itself.
    server.script(*[json_reply(201 if name == "viewables.create" else 200, reply)] * 5)
    check(await call(client))
    assert len(server.seen) == 1  # decoded at the first attempt: no retry


async def test_get_then_put_sends_float_numbers_back_exactly(
    server: ScriptedServer, client: MagineClient
) -> None:
    for extra in ({}, {"credits": {"director": "X", "rating": 7.0}}):
        server.seen.clear()
        got = viewable(HALF, **METADATA_NUMBERS, **extra)
        server.script(json_reply(200, got), json_reply(200, got))
        item = await client.viewables.get(UUID)
        await client.viewables.replace(item.id, metadata=item.metadata)
        sent = json.loads(server.seen[1].body)
        assert strictly_equal(sent["metadata"], got["metadata"])
