"""/partner/viewables: list (cursor + filters), create, get, replace, patch, images."""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import msgspec
from aiohttp import web

from . import _validate as v
from ._context import Route, state
from ._http import ApiError, bad_request, not_found, page_json, raw_json, read_object
from ._metadata import check_metadata, check_patch, merge_patch
from ._state import SandboxState

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_IMAGE_TYPE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# -- cursors -----------------------------------------------------------------------------


def encode_cursor(position: int) -> str:
    """Opaque cursor: base64 of the catalogue position to resume from."""
    return base64.urlsafe_b64encode(b"[%d]" % position).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> int:
    text = cursor.strip().replace("+", "-").replace("/", "_")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise bad_request("invalidCursor", "The cursor is not valid.") from None
    if (
        not isinstance(value, list)
        or len(value) != 1
        or not isinstance(value[0], int)
        or isinstance(value[0], bool)
        or value[0] < 0
    ):
        raise bad_request("invalidCursor", "The cursor is not valid.")
    return value[0]


# -- query parsing -----------------------------------------------------------------------


def _query_number(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise bad_request(v.INVALID, f"{name}: must be a number") from None
    if not math.isfinite(value):
        raise bad_request(v.INVALID, f"{name}: must be a finite number")
    return value


def _page_size(request: web.Request) -> int:
    value = _query_number(request, "size")
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not value.is_integer() or not 1 <= value <= MAX_PAGE_SIZE:
        raise bad_request(v.INVALID, f"size: must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(value)


def _query_text(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    return raw if raw else None


# -- helpers -----------------------------------------------------------------------------


def _viewable_index(st: SandboxState, viewable_id: str) -> int:
    if not v.VIEWABLE_ID_RE.match(viewable_id):
        raise bad_request(
            "invalidViewableId", f"Viewable id {viewable_id!r} is not a UUID or a channel id."
        )
    index = st.catalogue.find_id(viewable_id)
    if index is None:
        raise not_found("viewableNotFound", f"Viewable {viewable_id!r} not found.")
    return index


def _check_custom_id(st: SandboxState, meta: dict[str, Any], index: int | None) -> None:
    custom = meta.get("customId")
    if custom is None:
        return
    owner = st.catalogue.find_custom_id(str(custom))
    if owner is not None and owner != index:
        raise ApiError(
            409, "customIdConflict", f"customId {custom!r} already exists in another viewable."
        )


# -- handlers ----------------------------------------------------------------------------


async def list_viewables(request: web.Request) -> web.StreamResponse:
    st = state(request)
    size = _page_size(request)
    raw_cursor = request.query.get("cursor")
    start = decode_cursor(raw_cursor) if raw_cursor else 0
    blobs, resume = st.catalogue.page(
        start,
        size,
        title=_query_text(request, "title"),
        source_id=_query_text(request, "sourceId"),
        asset_id=_query_text(request, "assetId"),
        created_after=_query_number(request, "createdAfter"),
        modified_after=_query_number(request, "modifiedAfter"),
    )
    rest = {} if resume is None else {"cursor": encode_cursor(resume)}
    return page_json("viewables", blobs, rest)


async def create_viewable(request: web.Request) -> web.StreamResponse:
    st = state(request)
    body = await read_object(request)
    meta = v.need_obj(body, "metadata")
    check_metadata(meta)
    publish = v.boolean(body, "publish", "", required=False)
    _check_custom_id(st, meta, None)
    now = st.now()
    doc = {
        "id": st.new_uuid(),
        "partnerId": st.partner_id,
        "metadata": meta,
        "createdAt": now,
        "modifiedAt": now,
        "publish": bool(publish),
    }
    index = st.catalogue.add(doc)
    st.counters.effect("viewables.created")
    return raw_json(st.catalogue.blobs[index], status=201)


async def get_by_custom_id(request: web.Request) -> web.StreamResponse:
    st = state(request)
    custom_id = request.match_info["customId"]
    index = st.catalogue.find_custom_id(custom_id)
    if index is None:
        raise not_found("viewableNotFound", f"No viewable has customId {custom_id!r}.")
    return raw_json(st.catalogue.blobs[index])


async def get_viewable(request: web.Request) -> web.StreamResponse:
    st = state(request)
    index = _viewable_index(st, request.match_info["viewableId"])
    return raw_json(st.catalogue.blobs[index])


async def replace_viewable(request: web.Request) -> web.StreamResponse:
    st = state(request)
    index = _viewable_index(st, request.match_info["viewableId"])
    body = await read_object(request)
    meta = v.need_obj(body, "metadata")
    check_metadata(meta)
    publish = v.boolean(body, "publish", "", required=False)
    _check_custom_id(st, meta, index)
    doc = st.catalogue.doc(index)
    doc["metadata"] = meta
    if publish is not None:
        doc["publish"] = publish
    doc["modifiedAt"] = st.now()
    blob = st.catalogue.replace(index, doc)
    st.counters.effect("viewables.replaced")
    return raw_json(blob)


async def patch_viewable(request: web.Request) -> web.StreamResponse:
    st = state(request)
    index = _viewable_index(st, request.match_info["viewableId"])
    body = await read_object(request)
    patch = v.need_obj(body, "patch")
    check_patch(patch)
    doc = st.catalogue.doc(index)
    merged = merge_patch(doc["metadata"], patch)
    check_metadata(merged)
    _check_custom_id(st, merged, index)
    doc["metadata"] = merged
    doc["modifiedAt"] = st.now()
    blob = st.catalogue.replace(index, doc)
    st.counters.effect("viewables.patched")
    return raw_json(blob)


def _image_type(request: web.Request) -> str:
    image_type = request.match_info["imageType"]
    if not _IMAGE_TYPE_RE.match(image_type):
        raise bad_request("invalidImageType", f"Image type {image_type!r} is not valid.")
    return image_type


async def put_image(request: web.Request) -> web.StreamResponse:
    st = state(request)
    index = _viewable_index(st, request.match_info["viewableId"])
    image_type = _image_type(request)
    body = await read_object(request)
    source_type = v.string(body, "sourceType", "", required=True)
    if source_type == "s3":
        v.need_str(body, "bucket", non_empty=True)
        key = v.need_str(body, "objectKey", non_empty=True)
        if key in st.missing_image_keys:
            raise bad_request("imageNotFound", "The image key does not exist in the S3 bucket.")
    elif source_type == "http":
        uri = v.need_str(body, "uri")
        if not uri.startswith(("http://", "https://")):
            raise v.fail("uri", "must be an http(s) URL")
    else:
        raise v.fail("sourceType", "must be one of s3, http")
    doc = st.catalogue.doc(index)
    meta = doc["metadata"]
    images = [img for img in meta.get("images") or () if isinstance(img, dict)]
    filename = f"https://images.sandbox.maginepro.test/i/{st.partner_id}/v/{st.new_uuid()}.jpg"
    entry = {"type": image_type, "filename": filename}
    for i, img in enumerate(images):
        if img.get("type") == image_type:
            images[i] = entry
            break
    else:
        images.append(entry)
    meta["images"] = images
    doc["modifiedAt"] = st.now()
    blob = st.catalogue.replace(index, doc)
    st.counters.effect("viewables.images_put")
    return raw_json(blob)


async def delete_image(request: web.Request) -> web.StreamResponse:
    st = state(request)
    index = _viewable_index(st, request.match_info["viewableId"])
    image_type = _image_type(request)
    doc = st.catalogue.doc(index)
    meta = doc["metadata"]
    images = meta.get("images")
    if isinstance(images, list) and any(
        isinstance(img, dict) and img.get("type") == image_type for img in images
    ):
        meta["images"] = [
            img for img in images if not (isinstance(img, dict) and img.get("type") == image_type)
        ]
        doc["modifiedAt"] = st.now()
        blob = st.catalogue.replace(index, doc)
        st.counters.effect("viewables.images_deleted")
        return raw_json(blob)
    return raw_json(st.catalogue.blobs[index])


ROUTES = [
    Route("viewables.list", "GET", "/partner/viewables", list_viewables),
    Route("viewables.create", "POST", "/partner/viewables", create_viewable),
    Route(
        "viewables.get_by_custom_id",
        "GET",
        "/partner/viewables/custom/{customId}",
        get_by_custom_id,
    ),
    Route("viewables.get", "GET", "/partner/viewables/{viewableId}", get_viewable),
    Route("viewables.replace", "PUT", "/partner/viewables/{viewableId}", replace_viewable),
    Route("viewables.patch", "PATCH", "/partner/viewables/{viewableId}", patch_viewable),
    Route(
        "viewables.images.put",
        "PUT",
        "/partner/viewables/{viewableId}/images/{imageType}",
        put_image,
    ),
    Route(
        "viewables.images.delete",
        "DELETE",
        "/partner/viewables/{viewableId}/images/{imageType}",
        delete_image,
    ),
]
