"""Validation of viewable metadata (POST/PUT bodies and PATCH patches)."""

from __future__ import annotations

from typing import Any

from . import _validate as v
from ._http import bad_request

KINDS = frozenset({"movie", "program", "episode", "show", "trailer", "channel"})

# documented metadata properties that PATCH may change (plus undocumented extras)
_NOT_PATCHABLE = frozenset({"images"})


def _check_field(meta: dict[str, Any], key: str, where: str) -> None:
    """Check one documented metadata property; unknown properties are kept as they are."""
    if key == "kind":
        kind = v.string(meta, "kind", where, required=False)
        if kind is not None and kind not in KINDS:
            raise v.fail(f"{where}kind", f"must be one of {', '.join(sorted(KINDS))}")
    elif key in ("title", "synopsis"):
        v.string(meta, key, where, required=False)
    elif key == "customId":
        v.string(meta, key, where, required=False, non_empty=True)
    elif key in ("genres", "labels"):
        v.string_list(meta, key, where)
    elif key in ("viewableWindowStart", "viewableWindowEnd", "season", "episode"):
        v.number(meta, key, where, required=False)
    elif key in ("countryBlacklist", "countryWhitelist"):
        v.string_list(meta, key, where, pattern=v.LOWER_COUNTRY_RE)
    elif key == "showId":
        v.string(meta, key, where, required=False, pattern=v.UUID_RE)
    elif key == "ratings":
        _check_ratings(meta, where)
    elif key == "images":
        _check_images(meta, where)


def _check_ratings(meta: dict[str, Any], where: str) -> None:
    ratings = v.array(meta, "ratings", where, required=False)
    if ratings is None:
        return
    systems: set[str] = set()
    for i, item in enumerate(ratings):
        at = f"{where}ratings[{i}]."
        if not isinstance(item, dict):
            raise v.fail(f"{where}ratings[{i}]", "must be an object")
        system = v.need_str(item, "system", at)
        v.need_str(item, "rating", at)
        v.string_list(item, "reasons", at)
        if system in systems:
            raise v.fail(f"{where}ratings", f"has more than one rating for system {system!r}")
        systems.add(system)


def _check_images(meta: dict[str, Any], where: str) -> None:
    images = v.array(meta, "images", where, required=False)
    for i, item in enumerate(images or ()):
        if not isinstance(item, dict):
            raise v.fail(f"{where}images[{i}]", "must be an object")
        v.string(item, "type", f"{where}images[{i}].", required=True)
        v.string(item, "filename", f"{where}images[{i}].", required=True)


def check_metadata(meta: dict[str, Any]) -> None:
    """Validate a complete metadata object (POST and PUT)."""
    where = "metadata."
    v.string(meta, "kind", where, required=True)
    v.string(meta, "title", where, required=True)
    for key in meta:
        _check_field(meta, key, where)
    if meta["kind"] == "episode" and meta.get("showId") is None:
        raise v.fail(f"{where}showId", "is required for a viewable of kind 'episode'")


def check_patch(patch: dict[str, Any]) -> None:
    """Validate a PATCH ``patch`` object before it is merged."""
    where = "patch."
    for key, value in patch.items():
        if key in _NOT_PATCHABLE:
            raise bad_request(
                "imagesNotPatchable",
                "Images can't be updated with PATCH; use "
                "/partner/viewables/{viewableId}/images/{imageType}.",
            )
        if value is None:
            if key in ("kind", "title"):
                raise v.fail(f"{where}{key}", "cannot be removed")
            continue
        _check_field(patch, key, where)


def merge_patch(meta: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Each property sent replaces the stored one; ``null`` removes it; others are kept."""
    merged = dict(meta)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
