"""``client.viewables``: the metadata catalogue (list, create, read, replace, patch, images)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

from .._errors import ConflictError, ValidationError
from .._transport import Operation
from ..models import (
    UNSET,
    ContentRating,
    ImageSource,
    UnsetType,
    Viewable,
    ViewableInput,
    ViewableMetadata,
    ViewablePage,
    ViewablePatch,
    ViewablePatchBody,
)
from ..models._validate import (
    validate_epoch_seconds,
    validate_image_source,
    validate_non_empty,
    validate_page_size,
    validate_viewable_id,
    validate_viewable_metadata,
    validate_viewable_patch,
)
from ..pagination import AsyncPager
from ._base import Created, Resource, decoder

__all__ = ["Viewables"]

_LIST = Operation("viewables.list", "GET", "/partner/viewables")
_CREATE = Operation("viewables.create", "POST", "/partner/viewables", retry_safe=False)
# With a customId the create has a natural key: a retry that meets 409 finds the viewable.
_CREATE_KEYED = Operation("viewables.create", "POST", "/partner/viewables", retry_safe=True)
_GET_BY_CUSTOM_ID = Operation(
    "viewables.get_by_custom_id", "GET", "/partner/viewables/custom/{customId}"
)
_GET = Operation("viewables.get", "GET", "/partner/viewables/{viewableId}")
_REPLACE = Operation("viewables.replace", "PUT", "/partner/viewables/{viewableId}")
# A merge patch applied twice leaves the same metadata: safe to resend.
_PATCH = Operation("viewables.patch", "PATCH", "/partner/viewables/{viewableId}", retry_safe=True)
_PUT_IMAGE = Operation(
    "viewables.images.put", "PUT", "/partner/viewables/{viewableId}/images/{imageType}"
)
_DELETE_IMAGE = Operation(
    "viewables.images.delete", "DELETE", "/partner/viewables/{viewableId}/images/{imageType}"
)

_Strings = list[str]
_Ratings = list[ContentRating]
_viewable = decoder(Viewable)
_page = decoder(ViewablePage)


def _epoch(value: float | _dt.datetime | None, field: str) -> int | str | None:
    """A ``createdAfter`` / ``modifiedAfter`` query value: whole seconds as an int, a
    fraction written out in plain decimal (never an exponent form)."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError(field, "must be a timezone-aware datetime or epoch seconds")
        return int(value.timestamp())
    seconds = validate_epoch_seconds(value, field)
    if isinstance(seconds, int):
        return seconds
    if seconds.is_integer():
        return int(seconds)
    return format(seconds, ".6f").rstrip("0").rstrip(".")


def _metadata(value: ViewableMetadata | Mapping[str, Any]) -> ViewableMetadata:
    if isinstance(value, Mapping):
        try:
            value = ViewableMetadata.from_dict(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError("metadata", f"is not valid viewable metadata ({exc})") from None
    return validate_viewable_metadata(value, "metadata")


class Viewables(Resource):
    """The viewables (metadata assets) of the partner."""

    __slots__ = ()

    def list(
        self,
        *,
        title: str | None = None,
        source_id: str | None = None,
        asset_id: str | None = None,
        created_after: float | _dt.datetime | None = None,
        modified_after: float | _dt.datetime | None = None,
        page_size: int | None = None,
        cursor: str | None = None,
        prefetch: int = 1,
    ) -> AsyncPager[Viewable]:
        """``GET /partner/viewables``: iterate the catalogue, page by page under the hood.

        Filters: ``title`` (exact title), ``source_id`` (a vod's source id), ``asset_id`` (a
        vod's asset id), ``created_after`` / ``modified_after`` (epoch seconds or an aware
        datetime). ``page_size`` is the page ``size``; ``cursor`` resumes a scan from a saved
        ``page.cursor``. The returned :class:`~magine_async.pagination.AsyncPager` fetches
        the next page while the current one is consumed (``prefetch=0`` turns that off)::

            async for viewable in client.viewables.list(modified_after=last_run):
                ...

        Arguments are checked here, before any request is sent.
        """
        query: dict[str, str | int] = {}
        if page_size is not None:
            query["size"] = validate_page_size(page_size)
        for key, value, field in (
            ("title", title, "title"),
            ("sourceId", source_id, "source_id"),
            ("assetId", asset_id, "asset_id"),
        ):
            if value is not None:
                query[key] = validate_non_empty(value, field)
        for key, moment, field in (
            ("createdAfter", created_after, "created_after"),
            ("modifiedAfter", modified_after, "modified_after"),
        ):
            epoch = _epoch(moment, field)
            if epoch is not None:
                query[key] = epoch
        if cursor is not None:
            validate_non_empty(cursor, "cursor")

        async def fetch(page_cursor: str | None) -> tuple[list[Viewable], str | None]:
            params = query if page_cursor is None else {**query, "cursor": page_cursor}
            response = await self._call(_LIST, decode=_page, query=params)
            return response.data.viewables, response.data.cursor

        return AsyncPager(fetch, cursor=cursor, prefetch=prefetch)

    async def create(
        self,
        metadata: ViewableMetadata | Mapping[str, Any],
        *,
        publish: bool | UnsetType = UNSET,
    ) -> Created[Viewable]:
        """``POST /partner/viewables``: create a viewable; returns it and whether it is new.

        With a ``custom_id`` in the metadata the call is safe to retry: if a retried request
        meets 409 (its first attempt created the viewable), the viewable is fetched by its
        custom id and returned with ``created=False``. A 409 on the first attempt is a real
        conflict and raises :class:`~magine_async.ConflictError`. Without a custom id the
        request is never resent once it may have reached the server.
        """
        md = _metadata(metadata)
        custom_id = md.custom_id
        op = _CREATE if custom_id is UNSET else _CREATE_KEYED
        body = ViewableInput(metadata=md, publish=publish)
        try:
            response = await self._call(op, decode=_viewable, json=body)
        except ConflictError as exc:
            if isinstance(custom_id, str) and exc.attempts > 1:
                return Created(await self.get_by_custom_id(custom_id), created=False)
            raise
        return Created(response.data, created=True)

    async def get(self, viewable_id: str) -> Viewable:
        """``GET /partner/viewables/{viewableId}``: one viewable (a UUID, or digits)."""
        validate_viewable_id(viewable_id)
        return (await self._call(_GET, [viewable_id], decode=_viewable)).data

    async def get_by_custom_id(self, custom_id: str) -> Viewable:
        """``GET /partner/viewables/custom/{customId}``: the viewable with this custom id."""
        validate_non_empty(custom_id, "custom_id")
        return (await self._call(_GET_BY_CUSTOM_ID, [custom_id], decode=_viewable)).data

    async def replace(
        self,
        viewable_id: str,
        *,
        metadata: ViewableMetadata | Mapping[str, Any],
        publish: bool | UnsetType = UNSET,
    ) -> Viewable:
        """``PUT /partner/viewables/{viewableId}``: replace the metadata as a whole.

        Fields left out are removed, so send everything you want to keep. Metadata taken from
        :meth:`get` carries every property it came with, including ones this SDK does not
        model, so ``replace(v.id, metadata=v.metadata)`` after changing a field keeps them.
        """
        validate_viewable_id(viewable_id)
        body = ViewableInput(metadata=_metadata(metadata), publish=publish)
        return (await self._call(_REPLACE, [viewable_id], decode=_viewable, json=body)).data

    async def patch(
        self,
        viewable_id: str,
        patch: ViewablePatch | None = None,
        *,
        title: str | UnsetType = UNSET,
        synopsis: str | UnsetType = UNSET,
        genres: _Strings | UnsetType = UNSET,
        labels: _Strings | UnsetType = UNSET,
        viewable_window_start: int | UnsetType = UNSET,
        viewable_window_end: int | UnsetType = UNSET,
        country_blacklist: _Strings | UnsetType = UNSET,
        country_whitelist: _Strings | UnsetType = UNSET,
        show_id: str | UnsetType = UNSET,
        season: int | UnsetType = UNSET,
        episode: int | UnsetType = UNSET,
        ratings: _Ratings | UnsetType = UNSET,
    ) -> Viewable:
        """``PATCH /partner/viewables/{viewableId}``: change only the fields given.

        Sent as ``{"patch": {...}}``; fields left ``UNSET`` are not sent and keep their value.
        Images cannot be changed this way: use :meth:`put_image` and :meth:`delete_image`.
        Pass a :class:`~magine_async.models.ViewablePatch` or the fields as keywords.
        """
        validate_viewable_id(viewable_id)
        if patch is None:
            patch = ViewablePatch(
                title=title,
                synopsis=synopsis,
                genres=genres,
                labels=labels,
                viewable_window_start=viewable_window_start,
                viewable_window_end=viewable_window_end,
                country_blacklist=country_blacklist,
                country_whitelist=country_whitelist,
                show_id=show_id,
                season=season,
                episode=episode,
                ratings=ratings,
            )
        validate_viewable_patch(patch)
        body = ViewablePatchBody(patch=patch)
        return (await self._call(_PATCH, [viewable_id], decode=_viewable, json=body)).data

    async def put_image(self, viewable_id: str, image_type: str, source: ImageSource) -> Viewable:
        """``PUT /partner/viewables/{viewableId}/images/{imageType}``: add or replace an image.

        ``source`` is an :class:`~magine_async.models.S3ImageSource` (bucket and object key)
        or an :class:`~magine_async.models.HttpImageSource` (a public URL) the platform
        downloads. ``image_type`` is for example ``poster`` or ``sixteen-nine``.
        """
        validate_viewable_id(viewable_id)
        validate_non_empty(image_type, "image_type")
        validate_image_source(source)
        response = await self._call(
            _PUT_IMAGE, [viewable_id, image_type], decode=_viewable, json=source
        )
        return response.data

    async def delete_image(self, viewable_id: str, image_type: str) -> Viewable:
        """``DELETE /partner/viewables/{viewableId}/images/{imageType}``: remove an image."""
        validate_viewable_id(viewable_id)
        validate_non_empty(image_type, "image_type")
        response = await self._call(_DELETE_IMAGE, [viewable_id, image_type], decode=_viewable)
        return response.data
