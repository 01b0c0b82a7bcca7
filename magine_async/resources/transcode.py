"""``client.transcode``: transcoding jobs that prepare source files for streaming."""

from __future__ import annotations

from .._transport import Operation
from ..models import TranscodeAccepted, TranscodeRequest, Vod
from ..models._validate import validate_asset_id, validate_non_empty, validate_transcode_request
from ._base import Resource, decoder, ignore_body

__all__ = ["Transcode"]

# A resent request would start a second job: never resent once it may have arrived.
_CREATE = Operation("transcode.create", "POST", "/partner/transcode/asset", retry_safe=False)
_GET = Operation("transcode.get", "GET", "/partner/transcode/asset/{assetId}")
# Conservative: a resent abort of a job the first attempt already stopped answers 404.
_ABORT = Operation(
    "transcode.abort", "POST", "/partner/transcode/asset/{assetId}/abort", retry_safe=False
)
_accepted = decoder(TranscodeAccepted)
_vod = decoder(Vod)


class Transcode(Resource):
    """Create, follow and abort transcoding jobs."""

    __slots__ = ()

    async def create(self, request: TranscodeRequest) -> TranscodeAccepted:
        """``POST /partner/transcode/asset``: queue a transcoding job (202).

        The whole :class:`~magine_async.models.TranscodeRequest` is checked first: input names
        and sources (no leading slash), track references, resolution >= 640x480, the
        documented frame rates, ``container_index >= 1``, ``channels >= 1``. Never resent once
        it may have reached the platform.
        """
        body = validate_transcode_request(request)
        return (await self._call(_CREATE, decode=_accepted, json=body)).data

    async def get(self, asset_id: str) -> Vod:
        """``GET /partner/transcode/asset/{assetId}``: the vod and its transcoding status."""
        validate_non_empty(asset_id, "asset_id")
        return (await self._call(_GET, [asset_id], decode=_vod)).data

    async def abort(self, asset_id: str) -> None:
        """``POST /partner/transcode/asset/{assetId}/abort``: abort a running job (202).

        Raises :class:`~magine_async.NotFoundError` when no job is running for the asset.
        """
        validate_asset_id(asset_id)
        await self._call(_ABORT, [asset_id], decode=ignore_body)
