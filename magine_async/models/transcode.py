"""Transcoding: the request that turns source files into a streamable asset.

An *asset* is built from *inputs* (named source files, on S3 for now), *tracks* (named
references to media inside an input: exactly one video track, one or more audio tracks,
optional subtitle tracks in SubRip format) and optional *outputs* (audio outputs that gather
or reorder audio channels). ``POST /partner/transcode/asset`` answers 202 with
:class:`TranscodeAccepted`; ``GET /partner/transcode/asset/{assetId}`` answers a
:class:`~magine_async.models.Vod`.

Audio channel orders: stereo is ``["l", "r"]``, 5.1 surround
``["fl", "fr", "fc", "lfe", "bl", "br"]``. If no audio outputs are given they are generated;
once one is given, all of them must be. The tracks of one output must currently come from the
same container.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET, UnsetType

from ._base import Model, OpenStrEnum
from .viewables import DrmType, Resolution

__all__ = [
    "ALLOWED_FRAME_RATES",
    "AudioChannelPosition",
    "AudioLayout",
    "AudioOutput",
    "AudioTrack",
    "FormatInfo",
    "FrameRate",
    "HdrInfo",
    "InputStorage",
    "MediaInput",
    "Outputs",
    "SubtitlesTrack",
    "Tracks",
    "TranscodeAccepted",
    "TranscodeRequest",
    "VideoTrack",
]


class InputStorage(OpenStrEnum):
    """Where an input lives; ``s3`` is the only documented storage."""

    S3 = "s3"


class AudioChannelPosition(OpenStrEnum):
    """A channel position in ``AudioOutput.channel_order``."""

    L = "l"
    """Stereo left."""
    R = "r"
    """Stereo right."""
    FL = "fl"
    """Front left."""
    FR = "fr"
    """Front right."""
    FC = "fc"
    """Front center."""
    LFE = "lfe"
    """Low-frequency effects."""
    BL = "bl"
    """Back/surround left."""
    BR = "br"
    """Back/surround right."""


class AudioLayout(OpenStrEnum):
    """Spatial layout of an audio output."""

    STEREO = "stereo"
    SURROUND51 = "surround51"


ALLOWED_FRAME_RATES: frozenset[tuple[int, int]] = frozenset(
    {(60, 1), (50, 1), (30, 1), (25, 1), (24, 1), (60000, 1001), (30000, 1001), (24000, 1001)}
)
"""The documented frame rates as (numerator, denominator)."""


class MediaInput(Model, kw_only=True, omit_defaults=False):
    """A named source file. ``source`` is a path such as ``bucket/asset/file.mov`` with no
    protocol (no ``s3://``) and no leading slash. ``storage`` (only ``s3``) is always sent."""

    name: str
    storage: InputStorage = InputStorage.S3
    source: str


class FrameRate(Model, kw_only=True):
    """Frame rate as a fraction; see :data:`ALLOWED_FRAME_RATES` for the accepted ones."""

    numerator: int
    denominator: int


class HdrInfo(Model, kw_only=True):
    """HDR description of the video."""

    format: str
    standard: str | UnsetType = UNSET
    maximum_content_light_level: int | UnsetType = UNSET
    maximum_frameaverage_light_level: int | UnsetType = UNSET
    """Sent as ``maximumFrameaverageLightLevel`` (sic)."""
    color_primaries: str


class FormatInfo(Model, kw_only=True):
    """Format of the video track."""

    codec: str
    commercial_format: str
    hdr_info: HdrInfo | UnsetType = UNSET


class VideoTrack(Model, kw_only=True):
    """The video track (exactly one per asset). ``input`` is the name of its input."""

    name: str
    input: str
    resolution: Resolution
    frame_rate: FrameRate
    interlaced: bool
    format_info: FormatInfo | UnsetType = UNSET


class AudioTrack(Model, kw_only=True):
    """An audio track of an input.

    ``container_index`` counts audio tracks only, from 1, in the order a tool such as MediaInfo
    or ffprobe lists them (three audio streams at stream orders 2, 3, 5 have indexes 1, 2, 3).
    ``language`` is an ISO 639-2 code, ``channels`` the number of channels in the track.
    """

    name: str
    input: str
    container_index: int
    language: str
    channels: int


class SubtitlesTrack(Model, kw_only=True):
    """A subtitle track (a SubRip file given as an input)."""

    name: str
    input: str
    language: str


class Tracks(Model, kw_only=True):
    """The tracks of the asset."""

    video: VideoTrack
    audio: list[AudioTrack]
    subtitles: list[SubtitlesTrack] | UnsetType = UNSET


class AudioOutput(Model, kw_only=True):
    """An audio output built from one or more audio tracks (by track name, in order).

    ``channel_order`` states the channel order of the *source* so that it can be remapped to
    the standard order; ``layout`` names the spatial layout.
    """

    tracks: list[str]
    channel_order: list[AudioChannelPosition] | UnsetType = UNSET
    layout: AudioLayout | UnsetType = UNSET


class Outputs(Model, kw_only=True):
    """Outputs of the transcoding."""

    audio: list[AudioOutput] | UnsetType = UNSET


class TranscodeRequest(Model, kw_only=True):
    """Body of ``POST /partner/transcode/asset``.

    ``source_id`` identifies the source (see ``validate_source_id``). ``drm`` says whether to
    encrypt the content and ``drm_type`` which DRM to use (platform default ``normal``).
    ``viewable_id`` (a UUID) links the asset to a viewable. ``experimental`` enables
    undocumented, possibly unstable features and is sent exactly as given.
    """

    source_id: str
    inputs: list[MediaInput]
    tracks: Tracks
    outputs: Outputs | UnsetType = UNSET
    drm: bool
    drm_type: DrmType | UnsetType = UNSET
    viewable_id: str | UnsetType = UNSET
    experimental: dict[str, Any] | UnsetType = UNSET


class TranscodeAccepted(Model, kw_only=True):
    """Answer (202) of ``POST /partner/transcode/asset``: the job is queued.

    ``id`` is the UUID of the asset being transcoded.
    """

    id: str
    source_id: str
    viewable_id: str | None = None
