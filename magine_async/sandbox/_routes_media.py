"""/partner/playables subtitle requests and /partner/transcode jobs."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from . import _validate as v
from ._context import Route, state
from ._http import bad_request, empty, json_response, not_found, read_object
from ._state import SandboxState, SubtitleRequest, TranscodeJob

SUBTITLE_TYPES = ("normal", "cc", "forced_narrative")
FRAME_RATES = {
    (60, 1),
    (50, 1),
    (30, 1),
    (25, 1),
    (24, 1),
    (60000, 1001),
    (30000, 1001),
    (24000, 1001),
}
CHANNEL_POSITIONS = {"l", "r", "fl", "fr", "fc", "lfe", "bl", "br"}
RUNNING_STATUSES = ("imported", "transcoding")


# -- subtitles ---------------------------------------------------------------------------


def _ready_vod(st: SandboxState, asset_id: str) -> dict[str, Any]:
    vod = st.find_vod(asset_id)
    if vod is None:
        raise bad_request("playableNotFound", f"Playable {asset_id!r} not found.")
    if vod.get("status") != "transcoded":
        raise bad_request("playableNotReady", f"Playable {asset_id!r} is not ready yet.")
    return vod


def _subtitle_failure(data: bytes) -> str | None:
    """Why decoded subtitle data cannot be used (the request then ends FAILED)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "Subtitle data is not UTF-8 text."
    if "-->" not in text:
        return "Subtitle data could not be parsed as SubRip (.srt): no cue timing found."
    return None


def _finish_subtitle(st: SandboxState, request: SubtitleRequest, due: float) -> None:
    if request.status != "RUNNING":
        return
    request.updated = int(due)
    if request.failure is not None:
        request.status, request.error_message = "FAILED", request.failure
        st.counters.effect("subtitle_requests.failed")
        return
    vod = st.find_vod(request.asset_id)
    if vod is None:
        request.status, request.error_message = "FAILED", "The playable no longer exists."
        return
    track = {"language": request.language, "subtitleType": request.subtitle_type}
    tracks = [t for t in vod.get("subtitleTracks") or () if isinstance(t, dict)]
    present = track in tracks
    if request.request_type == "delete" and not present:
        request.status = "FAILED"
        request.error_message = "No subtitle track with that language and type."
        st.counters.effect("subtitle_requests.failed")
        return

    def change(target: dict[str, Any]) -> None:
        kept = [t for t in target.get("subtitleTracks") or () if t != track]
        if request.request_type == "create":
            kept.append(track)
        target["subtitleTracks"] = kept
        target["subtitleLanguages"] = sorted({str(t["language"]) for t in kept})

    st.update_vod(request.asset_id, change, at=due)
    request.status = "SUCCEEDED"
    st.counters.effect("subtitle_requests.succeeded")


def _start_subtitle(st: SandboxState, request: SubtitleRequest) -> None:
    st.subtitle_requests[request.request_id] = request
    st.counters.effect("subtitle_requests.created")
    st.schedule(st.subtitle_delay, lambda due: _finish_subtitle(st, request, due))


async def create_subtitle_request(request: web.Request) -> web.StreamResponse:
    st = state(request)
    asset_id = request.match_info["assetId"]
    body = await read_object(request)
    data = v.need_str(body, "subtitleData", non_empty=True)
    language = v.need_str(body, "subtitleLanguage", pattern=v.LANGUAGE_RE)
    subtitle_type = v.string(body, "subtitleType", "", required=False) or "normal"
    if subtitle_type != "normal":
        raise v.fail("subtitleType", "must be normal")
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(
            "invalidSubtitleData", "subtitleData is not properly base64 encoded."
        ) from None
    _ready_vod(st, asset_id)
    now = st.now()
    job = SubtitleRequest(
        st.new_uuid(),
        "create",
        asset_id,
        language,
        subtitle_type,
        now,
        now,
        failure=_subtitle_failure(decoded),
    )
    _start_subtitle(st, job)
    return json_response({"requestId": job.request_id}, status=202)


async def list_subtitle_requests(request: web.Request) -> web.StreamResponse:
    st = state(request)
    asset_id = request.match_info["assetId"]
    jobs = [r.output() for r in st.subtitle_requests.values() if r.asset_id == asset_id]
    return json_response({"subtitleJobs": jobs})


async def get_subtitle_request(request: web.Request) -> web.StreamResponse:
    st = state(request)
    job = st.subtitle_requests.get(request.match_info["requestId"])
    if job is None or job.asset_id != request.match_info["assetId"]:
        raise not_found("subtitleRequestNotFound", "Subtitle request not found.")
    return json_response({"subtitleJob": job.output()})


async def delete_subtitle(request: web.Request) -> web.StreamResponse:
    st = state(request)
    asset_id = request.match_info["assetId"]
    language = request.match_info["subtitleLang"]
    subtitle_type = request.match_info["subtitleType"]
    if not v.LANGUAGE_RE.match(language):
        raise v.fail("subtitleLang", "must be a three-letter ISO 639-2 code")
    if subtitle_type not in SUBTITLE_TYPES:
        raise v.fail("subtitleType", f"must be one of {', '.join(SUBTITLE_TYPES)}")
    _ready_vod(st, asset_id)
    now = st.now()
    job = SubtitleRequest(st.new_uuid(), "delete", asset_id, language, subtitle_type, now, now)
    _start_subtitle(st, job)
    return json_response({"requestId": job.request_id}, status=202)


# -- transcoding -------------------------------------------------------------------------


def _check_transcode(body: dict[str, Any]) -> None:
    v.string(body, "sourceId", "", required=True, pattern=v.SOURCE_ID_RE)
    inputs = v.array(body, "inputs", "", required=True, min_items=1) or []
    input_names: set[str] = set()
    for i, item in enumerate(inputs):
        at = f"inputs[{i}]."
        if not isinstance(item, dict):
            raise v.fail(f"inputs[{i}]", "must be an object")
        name = v.need_str(item, "name", at, pattern=v.MEDIA_NAME_RE)
        if v.need_str(item, "storage", at) != "s3":
            raise v.fail(f"{at}storage", "must be s3")
        v.need_str(item, "source", at, pattern=v.INPUT_SOURCE_RE)
        if name in input_names:
            raise v.fail(f"{at}name", "must be unique")
        input_names.add(name)
    tracks = v.need_obj(body, "tracks")
    track_names: set[str] = set()
    audio_names: set[str] = set()

    def track(item: Any, at: str) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise v.fail(at.rstrip("."), "must be an object")
        name = v.need_str(item, "name", at, pattern=v.MEDIA_NAME_RE)
        source = v.need_str(item, "input", at, pattern=v.MEDIA_NAME_RE)
        if source not in input_names:
            raise v.fail(f"{at}input", f"names no input ({source!r})")
        if name in track_names:
            raise v.fail(f"{at}name", "must be unique")
        track_names.add(name)
        return item

    video = track(v.need_obj(tracks, "video", "tracks."), "tracks.video.")
    resolution = v.need_obj(video, "resolution", "tracks.video.")
    v.integer(resolution, "width", "tracks.video.resolution.", required=True, minimum=640)
    v.integer(resolution, "height", "tracks.video.resolution.", required=True, minimum=480)
    rate = v.need_obj(video, "frameRate", "tracks.video.")
    numerator = v.integer(rate, "numerator", "tracks.video.frameRate.", required=True, minimum=1)
    denominator = v.integer(
        rate, "denominator", "tracks.video.frameRate.", required=True, minimum=1
    )
    if (numerator, denominator) not in FRAME_RATES:
        raise v.fail(
            "tracks.video.frameRate",
            "must be one of 60/1, 50/1, 30/1, 25/1, 24/1, 60000/1001, 30000/1001, 24000/1001",
        )
    v.boolean(video, "interlaced", "tracks.video.", required=True)
    info = v.obj(video, "formatInfo", "tracks.video.", required=False)
    if info is not None:
        v.string(info, "codec", "tracks.video.formatInfo.", required=True)
        v.string(info, "commercialFormat", "tracks.video.formatInfo.", required=True)
        hdr = v.obj(info, "hdrInfo", "tracks.video.formatInfo.", required=False)
        if hdr is not None:
            at = "tracks.video.formatInfo.hdrInfo."
            v.string(hdr, "format", at, required=True)
            v.string(hdr, "colorPrimaries", at, required=True)
            v.string(hdr, "standard", at, required=False)
            v.integer(hdr, "maximumContentLightLevel", at, required=False)
            v.integer(hdr, "maximumFrameaverageLightLevel", at, required=False)
    for i, item in enumerate(v.array(tracks, "audio", "tracks.", required=True, min_items=1) or []):
        at = f"tracks.audio[{i}]."
        audio = track(item, at)
        v.integer(audio, "containerIndex", at, required=True, minimum=1)
        v.string(audio, "language", at, required=True, pattern=v.LANGUAGE_RE)
        v.integer(audio, "channels", at, required=True, minimum=1)
        audio_names.add(str(audio["name"]))
    for i, item in enumerate(
        v.array(tracks, "subtitles", "tracks.", required=False, min_items=1) or []
    ):
        at = f"tracks.subtitles[{i}]."
        v.string(track(item, at), "language", at, required=True, pattern=v.LANGUAGE_RE)
    outputs = v.obj(body, "outputs", "", required=False)
    if outputs is not None:
        for i, item in enumerate(v.array(outputs, "audio", "outputs.", required=False) or []):
            at = f"outputs.audio[{i}]."
            if not isinstance(item, dict):
                raise v.fail(at.rstrip("."), "must be an object")
            for name in v.string_list(item, "tracks", at, required=True) or []:
                if name not in audio_names:
                    raise v.fail(f"{at}tracks", f"names no audio track ({name!r})")
            if not item["tracks"]:
                raise v.fail(f"{at}tracks", "must have at least 1 item(s)")
            order = v.string_list(item, "channelOrder", at)
            if order is not None and (not order or set(order) - CHANNEL_POSITIONS):
                raise v.fail(
                    f"{at}channelOrder",
                    f"must list positions among {', '.join(sorted(CHANNEL_POSITIONS))}",
                )
            layout = v.string(item, "layout", at, required=False)
            if layout is not None and layout not in ("stereo", "surround51"):
                raise v.fail(f"{at}layout", "must be one of stereo, surround51")
    v.boolean(body, "drm", "", required=True)
    drm_type = v.string(body, "drmType", "", required=False)
    if drm_type is not None and drm_type not in ("normal", "enhanced"):
        raise v.fail("drmType", "must be one of normal, enhanced")
    v.string(body, "viewableId", "", required=False, pattern=v.UUID_RE)
    v.obj(body, "experimental", "", required=False)


def _vod_from_request(st: SandboxState, asset_id: str, body: dict[str, Any]) -> dict[str, Any]:
    now = st.now()
    tracks = body["tracks"]
    audio = tracks["audio"]
    subtitles = tracks.get("subtitles") or []
    vod: dict[str, Any] = {
        "assetId": asset_id,
        "source": st.partner_id,
        "sourceId": body["sourceId"],
        "status": "transcoding",
        "createdAt": now,
        "modifiedAt": now,
        "vodPipeline": "mediaconvert",
    }
    if body.get("viewableId") is not None:
        vod["viewableId"] = body["viewableId"]
    vod.update(
        {
            "drmActivated": body["drm"],
            "drmType": body.get("drmType") or "normal",
            "subtitleLanguages": [s["language"] for s in subtitles],
            "subtitleTracks": [
                {"language": s["language"], "subtitleType": "normal"} for s in subtitles
            ],
            "audioLanguages": [a["language"] for a in audio],
            "sourceResolution": dict(tracks["video"]["resolution"]),
            "audioChansPerLang": [
                {"channels": a["channels"], "language": a["language"]} for a in audio
            ],
        }
    )
    return vod


def _finish_transcode(st: SandboxState, job: TranscodeJob, due: float) -> None:
    if job.vod.get("status") != "transcoding":
        return

    def done(vod: dict[str, Any]) -> None:
        vod["status"] = "transcoded"
        vod["duration"] = 1200 + int(job.asset_id[:4], 16) % 6000

    st.update_vod(job.asset_id, done, at=due)
    st.counters.effect("transcode_jobs.completed")


async def create_transcode_job(request: web.Request) -> web.StreamResponse:
    st = state(request)
    body = await read_object(request)
    _check_transcode(body)
    viewable_id = body.get("viewableId")
    index = None
    if viewable_id is not None:
        index = st.catalogue.find_id(str(viewable_id))
        if index is None:
            raise bad_request("viewableNotFound", f"Viewable {viewable_id!r} not found.")
    asset_id = st.new_uuid()
    job = TranscodeJob(
        asset_id, body["sourceId"], viewable_id, body, _vod_from_request(st, asset_id, body)
    )
    st.transcode_jobs[asset_id] = job
    if index is not None:
        st.attach_vod(index, job.vod)
    st.counters.effect("transcode_jobs.created")
    st.schedule(st.transcode_delay, lambda due: _finish_transcode(st, job, due))
    answer: dict[str, Any] = {"id": asset_id, "sourceId": job.source_id}
    if viewable_id is not None:
        answer["viewableId"] = viewable_id
    return json_response(answer, status=202)


async def get_transcode_asset(request: web.Request) -> web.StreamResponse:
    st = state(request)
    vod = st.find_vod(request.match_info["assetId"])
    if vod is None:
        raise not_found("assetNotFound", "Asset not found.")
    return json_response(vod)


async def abort_transcode(request: web.Request) -> web.StreamResponse:
    st = state(request)
    asset_id = v.uuid_path(request.match_info["assetId"], "Asset id", "invalidAssetId")
    job = st.transcode_jobs.get(asset_id)
    if job is None or job.vod.get("status") not in RUNNING_STATUSES:
        raise not_found("jobNotRunning", "No running transcoding job has that asset id.")

    def abort(vod: dict[str, Any]) -> None:
        vod["status"] = "deleted"

    st.update_vod(asset_id, abort)
    st.counters.effect("transcode_jobs.aborted")
    return empty(202)


_S = "/partner/playables/{assetId}/subtitle-requests"
ROUTES = [
    Route("subtitles.create", "POST", _S, create_subtitle_request),
    Route("subtitles.list", "GET", _S, list_subtitle_requests),
    Route("subtitles.get", "GET", f"{_S}/{{requestId}}", get_subtitle_request),
    Route("subtitles.delete", "DELETE", f"{_S}/{{subtitleLang}}/{{subtitleType}}", delete_subtitle),
    Route("transcode.create", "POST", "/partner/transcode/asset", create_transcode_job),
    Route("transcode.get", "GET", "/partner/transcode/asset/{assetId}", get_transcode_asset),
    Route("transcode.abort", "POST", "/partner/transcode/asset/{assetId}/abort", abort_transcode),
]
