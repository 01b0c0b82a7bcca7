"""Subtitle requests (RUNNING -> SUCCEEDED / FAILED) and transcode jobs (and abort)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from magine_async.sandbox import Sandbox

from .conftest import Api

SRT = b"1\n00:00:01,000 --> 00:00:02,000\nHej\n"

TRANSCODE: dict[str, Any] = {
    "sourceId": "my_source_id_string_0123",
    "inputs": [
        {"name": "container1", "storage": "s3", "source": "bucket/prefix/file_1.suffix"},
        {"name": "container2", "storage": "s3", "source": "bucket/prefix/file_2.srt"},
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
                "channels": 2,
                "language": "eng",
            },
            {
                "name": "audio2",
                "input": "container1",
                "containerIndex": 2,
                "channels": 6,
                "language": "eng",
            },
        ],
        "subtitles": [{"name": "subtitle1", "input": "container2", "language": "nor"}],
    },
    "outputs": {"audio": [{"tracks": ["audio1"], "channelOrder": ["r", "l"]}]},
    "drm": True,
    "drmType": "normal",
}


def _generated_asset(sb: Sandbox) -> tuple[str, dict[str, Any]]:
    for i in range(len(sb.state.catalogue)):
        doc = sb.state.catalogue.doc(i)
        if doc.get("vods"):
            return str(doc["vods"][0]["assetId"]), doc
    raise AssertionError("no vod generated")


async def test_subtitle_request_runs_then_succeeds(api: Api, sb: Sandbox) -> None:
    asset_id, doc = _generated_asset(sb)
    path = f"/partner/playables/{asset_id}/subtitle-requests"
    status, body = await api.post(
        path, json={"subtitleData": base64.b64encode(SRT).decode(), "subtitleLanguage": "ukr"}
    )
    assert status == 202
    request_id = body["requestId"]
    status, body = await api.get(f"{path}/{request_id}")
    job = body["subtitleJob"]
    assert job["status"] == "RUNNING"
    assert job["requestType"] == "create"
    assert job["playableId"] == asset_id
    assert job["subtitleType"] == "normal"
    sb.clock.advance(2)
    status, body = await api.get(path)
    [job] = body["subtitleJobs"]
    assert job["status"] == "SUCCEEDED"
    assert job["updatedAt"] == job["createdAt"] + 2
    status, viewable = await api.get(f"/partner/viewables/{doc['id']}")
    tracks = viewable["vods"][0]["subtitleTracks"]
    assert {"language": "ukr", "subtitleType": "normal"} in tracks
    assert viewable["modifiedAt"] == int(sb.clock())
    # and removing it again
    status, body = await api.delete(f"{path}/ukr/normal")
    assert status == 202
    sb.clock.advance(2)
    status, body = await api.get(f"{path}/{body['requestId']}")
    assert body["subtitleJob"]["status"] == "SUCCEEDED"
    assert body["subtitleJob"]["requestType"] == "delete"
    status, viewable = await api.get(f"/partner/viewables/{doc['id']}")
    assert {"language": "ukr", "subtitleType": "normal"} not in viewable["vods"][0][
        "subtitleTracks"
    ]


async def test_subtitle_request_fails_on_undecodable_data(api: Api, sb: Sandbox) -> None:
    asset_id, _ = _generated_asset(sb)
    path = f"/partner/playables/{asset_id}/subtitle-requests"
    status, body = await api.post(
        path,
        json={
            "subtitleData": base64.b64encode(b"\xff\xfe\x00garbage").decode(),
            "subtitleLanguage": "eng",
        },
    )
    assert status == 202
    sb.clock.advance(2)
    status, body = await api.get(f"{path}/{body['requestId']}")
    assert body["subtitleJob"]["status"] == "FAILED"
    assert body["subtitleJob"]["errorMessage"]


@pytest.mark.parametrize(
    "body",
    [
        {"subtitleData": "not base64!!", "subtitleLanguage": "eng"},
        {"subtitleLanguage": "eng"},
        {"subtitleData": "MQ==", "subtitleLanguage": "en"},
        {"subtitleData": "MQ==", "subtitleLanguage": "eng", "subtitleType": "cc"},
    ],
)
async def test_subtitle_request_validation(api: Api, sb: Sandbox, body: dict[str, Any]) -> None:
    asset_id, _ = _generated_asset(sb)
    status, error = await api.post(f"/partner/playables/{asset_id}/subtitle-requests", json=body)
    assert status == 400
    assert error["errorCode"] in ("invalidInput", "invalidSubtitleData")
    assert sb.counters["subtitle_requests.created"] == 0


async def test_subtitles_for_unknown_or_unready_playables(api: Api, sb: Sandbox) -> None:
    data = {"subtitleData": base64.b64encode(SRT).decode(), "subtitleLanguage": "eng"}
    status, body = await api.post(
        "/partner/playables/b33617fe-a6c2-4f6d-a5bf-ab3c3ecc33a3/subtitle-requests", json=data
    )
    assert (status, body["errorCode"]) == (400, "playableNotFound")
    status, job = await api.post("/partner/transcode/asset", json=TRANSCODE)
    status, body = await api.post(f"/partner/playables/{job['id']}/subtitle-requests", json=data)
    assert (status, body["errorCode"]) == (400, "playableNotReady")
    status, body = await api.get(f"/partner/playables/{job['id']}/subtitle-requests/nope")
    assert status == 404


async def test_transcode_job_lifecycle(api: Api, sb: Sandbox) -> None:
    status, created = await api.post("/partner/transcode/asset", json=TRANSCODE)
    assert status == 202
    assert set(created) == {"id", "sourceId"}
    asset_id = created["id"]
    status, vod = await api.get(f"/partner/transcode/asset/{asset_id}")
    assert status == 200
    assert vod["status"] == "transcoding"
    assert vod["audioLanguages"] == ["eng", "eng"]
    assert vod["subtitleTracks"] == [{"language": "nor", "subtitleType": "normal"}]
    assert vod["sourceResolution"] == {"width": 1920, "height": 1080}
    sb.clock.advance(5)
    status, vod = await api.get(f"/partner/transcode/asset/{asset_id}")
    assert vod["status"] == "transcoded"
    status, body = await api.post(f"/partner/transcode/asset/{asset_id}/abort")
    assert (status, body["errorCode"]) == (404, "jobNotRunning")
    assert sb.counters["transcode_jobs.created"] == 1


async def test_transcode_into_a_viewable_and_abort(api: Api, sb: Sandbox) -> None:
    catalogue = sb.state.catalogue
    viewable = next(d for d in map(catalogue.doc, range(len(catalogue))) if "-" in d["id"])
    sb.clock.advance(1)
    status, created = await api.post(
        "/partner/transcode/asset", json=TRANSCODE | {"viewableId": viewable["id"]}
    )
    assert status == 202
    assert created["viewableId"] == viewable["id"]
    found = await api.scan(assetId=created["id"])
    assert [v["id"] for v in found] == [viewable["id"]]
    assert found[0]["modifiedAt"] == int(sb.clock())
    assert await api.post(f"/partner/transcode/asset/{created['id']}/abort") == (202, None)
    status, vod = await api.get(f"/partner/transcode/asset/{created['id']}")
    assert vod["status"] == "deleted"
    status, doc = await api.get(f"/partner/viewables/{viewable['id']}")
    assert doc["vods"][-1]["status"] == "deleted"
    sb.clock.advance(10)
    status, vod = await api.get(f"/partner/transcode/asset/{created['id']}")
    assert vod["status"] == "deleted"
    status, body = await api.post(
        "/partner/transcode/asset",
        json=TRANSCODE | {"viewableId": "b33617fe-a6c2-4f6d-a5bf-ab3c3ecc33a3"},
    )
    assert (status, body["errorCode"]) == (400, "viewableNotFound")
    status, _ = await api.post("/partner/transcode/asset/not-a-uuid/abort")
    assert status == 400


def _broken(path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(TRANSCODE)
    target: Any = body
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is KeyError:
        del target[last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("sourceId", "x"),
        ("sourceId", KeyError),
        ("inputs", []),
        ("inputs.0.storage", "gcs"),
        ("inputs.0.source", "/leading/slash"),
        ("tracks.video", KeyError),
        ("tracks.video.input", "nowhere"),
        ("tracks.video.resolution.width", 320),
        ("tracks.video.frameRate.numerator", 23),
        ("tracks.video.interlaced", KeyError),
        ("tracks.audio", []),
        ("tracks.audio.0.language", "english"),
        ("tracks.audio.0.containerIndex", 0),
        ("tracks.subtitles", []),
        ("outputs.audio.0.tracks", ["missing_track"]),
        ("outputs.audio.0.channelOrder", ["up", "down"]),
        ("drm", KeyError),
        ("drmType", "strong"),
        ("viewableId", "123"),
    ],
)
async def test_transcode_validation(api: Api, sb: Sandbox, path: str, value: Any) -> None:
    status, body = await api.post("/partner/transcode/asset", json=_broken(path, value))
    assert status == 400, path
    assert body["errorCode"] == "invalidInput"
    assert sb.counters["transcode_jobs.created"] == 0


async def test_transcode_get_of_generated_and_unknown_assets(api: Api, sb: Sandbox) -> None:
    asset_id, doc = _generated_asset(sb)
    assert await api.get(f"/partner/transcode/asset/{asset_id}") == (200, doc["vods"][0])
    status, _ = await api.get("/partner/transcode/asset/b33617fe-a6c2-4f6d-a5bf-ab3c3ecc33a3")
    assert status == 404


async def test_rating_systems(api: Api, sb: Sandbox) -> None:
    status, body = await api.get("/partner/parental-control/rating-systems")
    assert status == 200
    [system] = body["ratingSystems"]
    assert system["id"] == "sm-sa"
    assert [r[0]["id"] for r in system["ratings"]] == ["btl", "7", "11", "15", "18"]
    assert await api.get("/partner/parental-control/rating-system/sm-sa") == (
        200,
        {"ratingSystem": system},
    )
    status, _ = await api.get("/partner/parental-control/rating-system/mpaa")
    assert status == 404
    sb.state.parental_control = False
    status, body = await api.get("/partner/parental-control/rating-systems")
    assert (status, body["errorCode"]) == (400, "parentalControlNotConfigured")
