"""``client.subtitles``: subtitle tracks of a transcoded vod (a playable)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from .._transport import Operation, any_json
from ..models import (
    UNSET,
    SubtitleJob,
    SubtitleJobEnvelope,
    SubtitleJobList,
    SubtitleRequestAccepted,
    SubtitleType,
    SubtitleUpload,
    UnsetType,
)
from ..models._validate import (
    validate_non_empty,
    validate_subtitle_delete,
    validate_subtitle_upload,
)
from ._base import Resource, decoder

__all__ = ["Subtitles"]

_P = "/partner/playables/{assetId}/subtitle-requests"
# A resent upload would queue a second subtitle request: never resent once it may have arrived.
_UPLOAD = Operation("subtitles.create", "POST", _P, retry_safe=False)
_LIST = Operation("subtitles.list", "GET", _P)
_GET = Operation("subtitles.get", "GET", _P + "/{requestId}")
_DELETE = Operation("subtitles.delete", "DELETE", _P + "/{subtitleLang}/{subtitleType}")

_accepted = decoder(SubtitleRequestAccepted)
_jobs = decoder(SubtitleJobList)
_job = decoder(SubtitleJobEnvelope)


class Subtitles(Resource):
    """Upload, list, read and delete subtitle requests of a vod (``asset_id``)."""

    __slots__ = ()

    async def upload(
        self,
        asset_id: str,
        data: bytes | str | os.PathLike[str],
        *,
        language: str,
        subtitle_type: SubtitleType | UnsetType = UNSET,
    ) -> str:
        """``POST /partner/playables/{assetId}/subtitle-requests``: upload a subtitle track.

        ``data`` is the subtitle file (SubRip): its bytes, its text, or a path to read (off
        the event loop); the SDK base64-encodes it. ``language`` is ISO 639-2 (``^[a-z]{3}$``).
        Returns the request id; poll :meth:`get` until the job is final. The upload is not
        resent once it may have reached the platform, since that would queue it twice.
        """
        validate_non_empty(asset_id, "asset_id")
        if isinstance(data, os.PathLike):
            raw = await asyncio.to_thread(Path(data).read_bytes)
        elif isinstance(data, str):
            raw = data.encode("utf-8")
        else:
            raw = bytes(data)
        body = validate_subtitle_upload(
            SubtitleUpload.from_bytes(raw, subtitle_language=language, subtitle_type=subtitle_type)
        )
        response = await self._call(_UPLOAD, [asset_id], decode=_accepted, json=body)
        return response.data.request_id

    async def list(self, asset_id: str) -> list[SubtitleJob]:
        """``GET /partner/playables/{assetId}/subtitle-requests``: every request of the vod."""
        validate_non_empty(asset_id, "asset_id")
        return (await self._call(_LIST, [asset_id], decode=_jobs)).data.subtitle_jobs

    async def get(self, asset_id: str, request_id: str) -> SubtitleJob:
        """``GET /partner/playables/{assetId}/subtitle-requests/{requestId}``: one request.

        ``status`` moves from ``RUNNING`` to ``SUCCEEDED``, ``FAILED`` (see
        ``error_message``), ``TIMED_OUT`` or ``ABORTED``.
        """
        validate_non_empty(asset_id, "asset_id")
        validate_non_empty(request_id, "request_id")
        return (await self._call(_GET, [asset_id, request_id], decode=_job)).data.subtitle_job

    async def delete(
        self, asset_id: str, *, language: str, subtitle_type: SubtitleType | str
    ) -> str | None:
        """``DELETE .../subtitle-requests/{subtitleLang}/{subtitleType}``: delete a track.

        Returns the id of the deletion request when the platform answers with one.
        """
        validate_non_empty(asset_id, "asset_id")
        kind = validate_subtitle_delete(language, subtitle_type)
        response = await self._call(_DELETE, [asset_id, language, kind.value], decode=any_json)
        data = response.data
        if isinstance(data, dict) and isinstance(data.get("requestId"), str):
            return str(data["requestId"])
        return None
