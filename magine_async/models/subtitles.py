"""Subtitles of a vod ("playable"): upload requests and their jobs.

``POST /partner/playables/{assetId}/subtitle-requests`` takes a :class:`SubtitleUpload`
(a complete subtitle track, base64-encoded) and answers 202 with :class:`SubtitleRequestAccepted`;
the work then runs as a :class:`SubtitleJob` whose ``status`` moves from ``RUNNING`` to one of
``SUCCEEDED``, ``FAILED``, ``TIMED_OUT`` or ``ABORTED``. Deleting a subtitle
(``DELETE .../subtitle-requests/{subtitleLang}/{subtitleType}``) also creates a job, with
``request_type`` ``delete``.
"""

from __future__ import annotations

import base64

from msgspec import UNSET, UnsetType

from ._base import Model, OpenStrEnum
from .viewables import SubtitleType

__all__ = [
    "SubtitleJob",
    "SubtitleJobEnvelope",
    "SubtitleJobList",
    "SubtitleJobStatus",
    "SubtitleRequestAccepted",
    "SubtitleRequestType",
    "SubtitleUpload",
]


class SubtitleJobStatus(OpenStrEnum):
    """Status of a subtitle job (upper case on the wire)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"

    @property
    def is_final(self) -> bool:
        """True once the job stopped (any status but ``RUNNING``, unknown ones included)."""
        return self is not SubtitleJobStatus.RUNNING


class SubtitleRequestType(OpenStrEnum):
    """Whether a subtitle job adds or deletes a subtitle track."""

    CREATE = "create"
    DELETE = "delete"


class SubtitleUpload(Model, kw_only=True):
    """Body of ``POST /partner/playables/{assetId}/subtitle-requests``.

    ``subtitle_data`` is the complete subtitle track, base64-encoded (use :meth:`from_bytes`);
    ``subtitle_language`` an ISO 639-2 three-letter code such as ``eng``. The API documents
    ``normal`` as the only ``subtitle_type`` of an upload. The repr shows the data's length
    only.
    """

    subtitle_data: str
    subtitle_language: str
    subtitle_type: SubtitleType | UnsetType = UNSET

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        subtitle_language: str,
        subtitle_type: SubtitleType | UnsetType = UNSET,
    ) -> SubtitleUpload:
        """Build an upload from the raw subtitle file (e.g. the bytes of an ``.srt`` file)."""
        return cls(
            subtitle_data=base64.b64encode(data).decode("ascii"),
            subtitle_language=subtitle_language,
            subtitle_type=subtitle_type,
        )

    def __repr__(self) -> str:
        kind = "" if self.subtitle_type is UNSET else f", subtitle_type={self.subtitle_type!r}"
        return (
            f"SubtitleUpload(subtitle_data=<{len(self.subtitle_data)} base64 chars>, "
            f"subtitle_language={self.subtitle_language!r}{kind})"
        )


class SubtitleRequestAccepted(Model, kw_only=True):
    """Answer (202) of a subtitle upload: the id of the request (= of its job)."""

    request_id: str


class SubtitleJob(Model, kw_only=True):
    """A subtitle request being processed. Times are epoch seconds."""

    request_id: str
    request_type: SubtitleRequestType
    playable_id: str
    """UUID of the vod (asset) the subtitle belongs to."""
    subtitle_language: str
    subtitle_type: SubtitleType
    created_at: int | float
    updated_at: int | float
    status: SubtitleJobStatus
    error_message: str | None = None


class SubtitleJobList(Model, kw_only=True):
    """Answer of ``GET /partner/playables/{assetId}/subtitle-requests``."""

    subtitle_jobs: list[SubtitleJob]


class SubtitleJobEnvelope(Model, kw_only=True):
    """Answer of ``GET /partner/playables/{assetId}/subtitle-requests/{requestId}``."""

    subtitle_job: SubtitleJob
