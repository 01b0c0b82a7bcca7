"""Validation of request input, run by the resources before anything is sent.

Every function raises :class:`magine_async._errors.ValidationError` whose ``field`` is the
SDK's (snake_case) name of the offending argument, with a path into nested input
(``metadata.show_id``, ``inputs[0].name``, ``tracks.audio[1].container_index``) and whose
``rule`` states what the value must satisfy. Scalar validators return the value to send,
normalised where the API allows it (country codes). The rules are the ``pattern``,
``minimum``, ``minItems`` and enumerations of the API documentation:

==========================  ===============================================================
rule                        where
==========================  ===============================================================
UUID                        showId, playSessionId, transcode viewableId, abort assetId
UUID or digits              viewableId (digits are legacy live channel ids)
``^[a-z]{3}$``              subtitle and audio track languages (ISO 639-2)
sourceId pattern            ``^[A-Za-z0-9 &/_-]{2,1000}$``
media name pattern          ``^[A-Za-z0-9/_-]{2,1000}$`` (inputs, tracks, their references)
input source pattern        ``^(?!/)[0-9A-Za-z/._-]{2,1000}$`` (no protocol, no leading /)
resolution                  width >= 640, height >= 480
frame rate                  60/1, 50/1, 30/1, 25/1, 24/1, 60000/1001, 30000/1001, 24000/1001
containerIndex, channels    integers >= 1
epoch seconds               a number >= 0, int or finite float (viewable windows, filters)
season, episode             a number, int or finite float
minItems 1                  inputs, tracks.audio, tracks.subtitles, outputs.audio[].tracks,
                            outputs.audio[].channel_order
country code                ISO 3166-1 alpha-2, assigned codes, any case
e-mail                      one ``@``, no spaces, a dot in the domain
entitlement times           timezone-aware; purchased_at in the past, expiry in the future
==========================  ===============================================================

Enumerations are checked against the documented members only: an unknown value decoded from
the server is kept by the models, but sending a value the API does not document is refused
(with one exception: a viewable's ``kind`` that the server itself sent may be sent back).
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import math
import re
from collections.abc import Sequence
from typing import Any, Final, TypeVar, overload

from msgspec import UNSET

from .._errors import ValidationError
from ._base import OpenStrEnum
from .entitlements import EntitlementInput
from .reseller import ResellerUserCreate
from .subtitles import SubtitleUpload
from .transcode import ALLOWED_FRAME_RATES, AudioChannelPosition, AudioLayout, TranscodeRequest
from .transcode import InputStorage as _InputStorage
from .users import UserCreate, UserPatch
from .viewables import (
    DrmType,
    HttpImageSource,
    ImageSource,
    S3ImageSource,
    SubtitleType,
    ViewableKind,
    ViewableMetadata,
    ViewablePatch,
)

__all__ = [
    "ISO_3166_ALPHA2",
    "validate_asset_id",
    "validate_country_code",
    "validate_country_list",
    "validate_email",
    "validate_entitlement_input",
    "validate_entitlement_inputs",
    "validate_epoch_seconds",
    "validate_expiry",
    "validate_frame_rate",
    "validate_image_source",
    "validate_input_source",
    "validate_known_enum",
    "validate_language",
    "validate_media_name",
    "validate_min_int",
    "validate_min_items",
    "validate_non_empty",
    "validate_page_size",
    "validate_password",
    "validate_play_session_id",
    "validate_purchased_at",
    "validate_reseller_user_create",
    "validate_resolution",
    "validate_show_id",
    "validate_source_id",
    "validate_subtitle_delete",
    "validate_subtitle_upload",
    "validate_transcode_request",
    "validate_user_create",
    "validate_user_patch",
    "validate_uuid",
    "validate_viewable_id",
    "validate_viewable_metadata",
    "validate_viewable_patch",
]

E = TypeVar("E", bound=OpenStrEnum)

_UUID: Final = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID_RE: Final = re.compile(_UUID)
_VIEWABLE_ID_RE: Final = re.compile(rf"{_UUID}|[0-9]+")
_LANGUAGE_RE: Final = re.compile(r"[a-z]{3}")
_SOURCE_ID_RE: Final = re.compile(r"[A-Za-z0-9 &/_-]{2,1000}")
_MEDIA_NAME_RE: Final = re.compile(r"[A-Za-z0-9/_-]{2,1000}")
_INPUT_SOURCE_RE: Final = re.compile(r"(?!/)[0-9A-Za-z/._-]{2,1000}")
_EMAIL_RE: Final = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
_HTTP_URL_RE: Final = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)

_UUID_RULE: Final = "must be a UUID (8-4-4-4-12 hexadecimal digits)"

ISO_3166_ALPHA2: Final[frozenset[str]] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """.split()  # noqa: SIM905 - a table is easier to check than 249 list items
)
"""The 249 officially assigned ISO 3166-1 alpha-2 codes (upper case)."""


# --------------------------------------------------------------------------- helpers


def _excerpt(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fail(field: str, rule: str, value: object = UNSET, *, show: bool = True) -> ValidationError:
    return ValidationError(field, rule, _excerpt(value) if show and value is not UNSET else None)


def _require_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise _fail(field, f"must be a string, not {type(value).__name__}", show=False)
    return value


def _match(regex: re.Pattern[str], value: object, field: str, rule: str) -> str:
    text = _require_str(value, field)
    if regex.fullmatch(text) is None:
        raise _fail(field, rule, text)
    return text


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    """A JSON ``number``: an int (``bool`` excluded) or a finite float (NaN and infinities
    have no JSON form)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return _is_int(value)


# --------------------------------------------------------------------------- scalars


def validate_non_empty(value: object, field: str) -> str:
    """A non-empty string (path parameters without a documented pattern: user ids, tags...)."""
    text = _require_str(value, field)
    if not text:
        raise _fail(field, "must not be empty")
    return text


def validate_uuid(value: object, field: str) -> str:
    """A UUID, ``^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$``."""
    return _match(_UUID_RE, value, field, _UUID_RULE)


def validate_viewable_id(value: object, field: str = "viewable_id") -> str:
    """A viewable id: a UUID, or only digits (legacy live channels, e.g. ``200001``)."""
    return _match(_VIEWABLE_ID_RE, value, field, "must be a UUID or a string of digits")


def validate_show_id(value: object, field: str = "metadata.show_id") -> str:
    """The ``showId`` linking an episode to its show: a UUID."""
    return validate_uuid(value, field)


def validate_play_session_id(value: object, field: str = "play_session_id") -> str:
    """A play session id: a UUID."""
    return validate_uuid(value, field)


def validate_asset_id(value: object, field: str = "asset_id") -> str:
    """The asset id of ``POST /partner/transcode/asset/{assetId}/abort``: a UUID."""
    return validate_uuid(value, field)


def validate_language(value: object, field: str) -> str:
    """An ISO 639-2 language code: exactly three lower-case letters (``^[a-z]{3}$``)."""
    return _match(_LANGUAGE_RE, value, field, "must be three lower-case letters (ISO 639-2)")


def validate_source_id(value: object, field: str = "source_id") -> str:
    """A transcoding ``sourceId``: 2-1000 of letters, digits, space, ``&``, ``/``, ``_``, ``-``."""
    return _match(
        _SOURCE_ID_RE,
        value,
        field,
        "must be 2-1000 characters of A-Z a-z 0-9 space & / _ -",
    )


def validate_media_name(value: object, field: str) -> str:
    """A transcoding input or track name (or a reference to one): ``^[A-Za-z0-9/_-]{2,1000}$``."""
    return _match(_MEDIA_NAME_RE, value, field, "must be 2-1000 characters of A-Z a-z 0-9 / _ -")


def validate_input_source(value: object, field: str) -> str:
    """A transcoding input ``source`` path: no protocol, no leading slash."""
    text = _require_str(value, field)
    if "://" in text:
        raise _fail(field, "must be a path without a protocol such as s3://", text)
    if text.startswith("/"):
        raise _fail(field, "must not start with a slash", text)
    if _INPUT_SOURCE_RE.fullmatch(text) is None:
        raise _fail(field, "must be 2-1000 characters of A-Z a-z 0-9 / . _ -", text)
    return text


def validate_min_int(value: object, minimum: int, field: str) -> int:
    """An integer (``bool`` excluded) of at least ``minimum``."""
    if not _is_int(value):
        raise _fail(field, "must be an integer", value)
    assert isinstance(value, int)
    if value < minimum:
        raise _fail(field, f"must be >= {minimum}", value)
    return value


def validate_min_items(items: object, minimum: int, field: str) -> Sequence[Any]:
    """A list (or tuple) with at least ``minimum`` items."""
    if not isinstance(items, list | tuple):
        raise _fail(field, "must be a list", show=False)
    if len(items) < minimum:
        noun = "item" if minimum == 1 else "items"
        raise _fail(field, f"must contain at least {minimum} {noun}")
    return items


@overload
def validate_epoch_seconds(value: int, field: str) -> int: ...


@overload
def validate_epoch_seconds(value: object, field: str) -> int | float: ...


def validate_epoch_seconds(value: object, field: str) -> int | float:
    """A number of seconds since the epoch (the API's ``number``): a non-negative int or
    finite float, returned as given (a float is not truncated)."""
    if not _is_number(value):
        raise _fail(field, "must be a number of seconds since the epoch", value)
    assert isinstance(value, int | float)
    if value < 0:
        raise _fail(field, "must be >= 0 (seconds since the epoch)", value)
    return value


def validate_page_size(value: object, field: str = "page_size") -> int:
    """The ``size`` of a viewables page: a positive integer."""
    return validate_min_int(value, 1, field)


def validate_resolution(width: object, height: object, field: str = "resolution") -> None:
    """A video resolution of at least 640x480 (``width >= 640``, ``height >= 480``)."""
    validate_min_int(width, 640, f"{field}.width")
    validate_min_int(height, 480, f"{field}.height")


def validate_frame_rate(numerator: object, denominator: object, field: str = "frame_rate") -> None:
    """One of the documented frame rates (60/1, 50/1, 30/1, 25/1, 24/1, 60000/1001,
    30000/1001, 24000/1001); numerator and denominator are integers >= 1."""
    num = validate_min_int(numerator, 1, f"{field}.numerator")
    den = validate_min_int(denominator, 1, f"{field}.denominator")
    if (num, den) not in ALLOWED_FRAME_RATES:
        raise _fail(
            field,
            "must be one of 60/1, 50/1, 30/1, 25/1, 24/1, 60000/1001, 30000/1001, 24000/1001",
            f"{num}/{den}",
        )


def validate_country_code(value: object, field: str = "country_code") -> str:
    """An assigned ISO 3166-1 alpha-2 code, any case; returns it in upper case."""
    text = _require_str(value, field)
    code = text.upper()
    if len(code) != 2 or code not in ISO_3166_ALPHA2:
        raise _fail(field, "must be an assigned ISO 3166-1 alpha-2 country code", text)
    return code


def validate_country_list(values: object, field: str) -> list[str]:
    """A list of ISO 3166-1 alpha-2 codes; returns them in lower case, as viewable metadata
    (``country_blacklist``/``country_whitelist``) wants them."""
    if not isinstance(values, list | tuple):
        raise _fail(field, "must be a list of country codes", show=False)
    return [validate_country_code(v, f"{field}[{i}]").lower() for i, v in enumerate(values)]


def validate_email(value: object, field: str = "email") -> str:
    """An e-mail address of the usual shape (``local@domain.tld``, no spaces).

    The value is not echoed in the error (it is personal data).
    """
    text = _require_str(value, field)
    if len(text) > 320 or _EMAIL_RE.fullmatch(text) is None:
        raise _fail(field, "must be an e-mail address such as name@example.com", show=False)
    return text


def validate_password(value: object, field: str = "password") -> str:
    """A non-empty password string (never echoed in the error)."""
    text = _require_str(value, field)
    if not text:
        raise _fail(field, "must not be empty", show=False)
    return text


def validate_known_enum(value: object, enum_cls: type[E], field: str) -> E:
    """A documented member of ``enum_cls`` (given as the member or its string value)."""
    allowed = ", ".join(m.value for m in enum_cls)
    if not isinstance(value, str):
        raise _fail(field, f"must be one of {allowed}", show=False)
    member = enum_cls(value)
    if not member.is_known:
        raise _fail(field, f"must be one of {allowed}", str(value))
    return member


def _require_aware(value: object, field: str) -> _dt.datetime:
    if not isinstance(value, _dt.datetime):
        raise _fail(field, "must be a datetime", show=False)
    if value.tzinfo is None or value.utcoffset() is None:
        raise _fail(field, "must be timezone-aware (e.g. datetime.now(timezone.utc))", value)
    return value


def validate_purchased_at(
    value: object, field: str = "purchased_at", *, now: _dt.datetime | None = None
) -> _dt.datetime:
    """An entitlement's ``purchased_at``: timezone-aware and in the past."""
    when = _require_aware(value, field)
    if when >= (now or _dt.datetime.now(_dt.UTC)):
        raise _fail(field, "must be in the past", value)
    return when


def validate_expiry(
    value: object, field: str = "expiry", *, now: _dt.datetime | None = None
) -> _dt.datetime:
    """An entitlement's ``expiry``: timezone-aware and in the future."""
    when = _require_aware(value, field)
    if when <= (now or _dt.datetime.now(_dt.UTC)):
        raise _fail(field, "must be in the future", value)
    return when


# --------------------------------------------------------------------------- viewables


def _validate_metadata_common(obj: ViewableMetadata | ViewablePatch, field: str) -> None:
    if obj.title is not UNSET:
        _require_str(obj.title, f"{field}.title")
    if obj.synopsis is not UNSET:
        _require_str(obj.synopsis, f"{field}.synopsis")
    for name in ("genres", "labels"):
        values = getattr(obj, name)
        if values is not UNSET:
            if not isinstance(values, list):
                raise _fail(f"{field}.{name}", "must be a list of strings", show=False)
            for i, item in enumerate(values):
                _require_str(item, f"{field}.{name}[{i}]")
    for name in ("viewable_window_start", "viewable_window_end"):
        value = getattr(obj, name)
        if value is not UNSET:
            validate_epoch_seconds(value, f"{field}.{name}")
    for name in ("country_blacklist", "country_whitelist"):
        values = getattr(obj, name)
        if values is not UNSET:
            normalised = validate_country_list(values, f"{field}.{name}")
            if normalised != values:
                setattr(obj, name, normalised)
    if obj.show_id is not UNSET:
        validate_show_id(obj.show_id, f"{field}.show_id")
    for name in ("season", "episode"):
        value = getattr(obj, name)
        if value is not UNSET and not _is_number(value):
            raise _fail(f"{field}.{name}", "must be a number", value)
    if obj.ratings is not UNSET:
        if not isinstance(obj.ratings, list):
            raise _fail(f"{field}.ratings", "must be a list of ContentRating", show=False)
        for i, rating in enumerate(obj.ratings):
            validate_non_empty(rating.system, f"{field}.ratings[{i}].system")
            validate_non_empty(rating.rating, f"{field}.ratings[{i}].rating")


def validate_viewable_metadata(metadata: object, field: str = "metadata") -> ViewableMetadata:
    """Metadata for ``create``/``replace``.

    Checks ``kind`` (a documented kind, or the kind the server sent for this metadata),
    ``title``, epoch-second windows, ``show_id`` (UUID; required for an episode), numeric
    season/episode, ratings, and country lists, which it lower-cases in place.
    """
    if not isinstance(metadata, ViewableMetadata):
        raise _fail(field, "must be a ViewableMetadata", show=False)
    kind = metadata.kind
    if not kind.is_known and kind != metadata._received_kind():
        allowed = ", ".join(m.value for m in ViewableKind)
        raise _fail(f"{field}.kind", f"must be one of {allowed}", str(kind))
    validate_non_empty(metadata.title, f"{field}.title")
    _validate_metadata_common(metadata, field)
    if kind is ViewableKind.EPISODE and metadata.show_id is UNSET:
        raise _fail(f"{field}.show_id", "is required for a viewable of kind 'episode'")
    return metadata


def validate_viewable_patch(patch: object, field: str = "patch") -> ViewablePatch:
    """A PATCH of viewable metadata: the same rules as the metadata for the fields given."""
    if not isinstance(patch, ViewablePatch):
        raise _fail(field, "must be a ViewablePatch", show=False)
    _validate_metadata_common(patch, field)
    return patch


def validate_image_source(source: object, field: str = "source") -> ImageSource:
    """An image source: an S3 bucket and object key, or an absolute http(s) URL."""
    if isinstance(source, S3ImageSource):
        validate_non_empty(source.bucket, f"{field}.bucket")
        validate_non_empty(source.object_key, f"{field}.object_key")
        return source
    if isinstance(source, HttpImageSource):
        uri = _require_str(source.uri, f"{field}.uri")
        if _HTTP_URL_RE.fullmatch(uri) is None:
            raise _fail(f"{field}.uri", "must be an absolute http:// or https:// URL", uri)
        return source
    raise _fail(field, "must be an S3ImageSource or an HttpImageSource", show=False)


# --------------------------------------------------------------------------- users


def validate_user_create(body: object, field: str = "") -> UserCreate:
    """``POST /partner/users``: e-mail shape and country code (upper-cased in place)."""
    if not isinstance(body, UserCreate):
        raise _fail(field or "user", "must be a UserCreate", show=False)
    prefix = f"{field}." if field else ""
    validate_email(body.email, f"{prefix}email")
    body.country_code = validate_country_code(body.country_code, f"{prefix}country_code")
    if body.birth_date is not UNSET and (
        not isinstance(body.birth_date, _dt.date) or isinstance(body.birth_date, _dt.datetime)
    ):
        raise _fail(f"{prefix}birth_date", "must be a date (no time of day)", show=False)
    for name in ("name", "locale", "zip_code", "gender"):
        value = getattr(body, name)
        if value is not UNSET:
            _require_str(value, f"{prefix}{name}")
    return body


def validate_user_patch(patch: object, field: str = "") -> UserPatch:
    """``PATCH /partner/users/{userId}``: the e-mail shape when an e-mail is given."""
    if not isinstance(patch, UserPatch):
        raise _fail(field or "patch", "must be a UserPatch", show=False)
    prefix = f"{field}." if field else ""
    if patch.email is not UNSET:
        validate_email(patch.email, f"{prefix}email")
    for name in ("name", "locale", "zip_code", "gender"):
        value = getattr(patch, name)
        if value is not UNSET:
            _require_str(value, f"{prefix}{name}")
    return patch


def validate_reseller_user_create(body: object, field: str = "") -> ResellerUserCreate:
    """``POST /reseller/users``: e-mail shape and country code (upper-cased in place)."""
    if not isinstance(body, ResellerUserCreate):
        raise _fail(field or "user", "must be a ResellerUserCreate", show=False)
    prefix = f"{field}." if field else ""
    validate_email(body.email, f"{prefix}email")
    body.country_code = validate_country_code(body.country_code, f"{prefix}country_code")
    if body.name is not UNSET:
        _require_str(body.name, f"{prefix}name")
    return body


# --------------------------------------------------------------------------- entitlements


def validate_entitlement_input(
    item: object, field: str = "entitlement", *, now: _dt.datetime | None = None
) -> EntitlementInput:
    """One entitlement to create: an offer id, aware ``purchased_at`` in the past and aware
    ``expiry`` in the future (each when given), ``purchased_at`` before ``expiry``."""
    if not isinstance(item, EntitlementInput):
        raise _fail(field, "must be an EntitlementInput", show=False)
    now = now or _dt.datetime.now(_dt.UTC)
    validate_non_empty(item.offer_id, f"{field}.offer_id")
    if item.purchased_at is not UNSET:
        validate_purchased_at(item.purchased_at, f"{field}.purchased_at", now=now)
    if item.expiry is not UNSET:
        validate_expiry(item.expiry, f"{field}.expiry", now=now)
    if item.message is not UNSET:
        _require_str(item.message, f"{field}.message")
    return item


def validate_entitlement_inputs(
    items: object, field: str = "entitlements", *, now: _dt.datetime | None = None
) -> Sequence[EntitlementInput]:
    """The body of ``POST /partner/users/{userId}/entitlements``: each item validated."""
    if not isinstance(items, list | tuple):
        raise _fail(field, "must be a list of EntitlementInput", show=False)
    now = now or _dt.datetime.now(_dt.UTC)
    for i, item in enumerate(items):
        validate_entitlement_input(item, f"{field}[{i}]", now=now)
    return items


# --------------------------------------------------------------------------- subtitles


def validate_subtitle_upload(body: object, field: str = "") -> SubtitleUpload:
    """A subtitle upload: base64 data, ``^[a-z]{3}$`` language, ``normal`` type if given."""
    if not isinstance(body, SubtitleUpload):
        raise _fail(field or "subtitle", "must be a SubtitleUpload", show=False)
    prefix = f"{field}." if field else ""
    data = _require_str(body.subtitle_data, f"{prefix}subtitle_data")
    if not data:
        raise _fail(f"{prefix}subtitle_data", "must not be empty")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(
            f"{prefix}subtitle_data", "must be base64-encoded (see SubtitleUpload.from_bytes)"
        ) from None
    validate_language(body.subtitle_language, f"{prefix}subtitle_language")
    if body.subtitle_type is not UNSET and body.subtitle_type != SubtitleType.NORMAL:
        raise _fail(
            f"{prefix}subtitle_type",
            "must be normal (the only documented upload type)",
            str(body.subtitle_type),
        )
    return body


def validate_subtitle_delete(subtitle_lang: object, subtitle_type: object) -> SubtitleType:
    """The ``{subtitleLang}/{subtitleType}`` of a subtitle deletion."""
    validate_language(subtitle_lang, "subtitle_lang")
    return validate_known_enum(subtitle_type, SubtitleType, "subtitle_type")


# --------------------------------------------------------------------------- transcoding


def validate_transcode_request(request: object, field: str = "") -> TranscodeRequest:
    """A transcoding request: every documented pattern, minimum and enumeration, plus the
    references between its parts (input and track names unique, each track's ``input`` an
    input name, each output track an audio track name)."""
    if not isinstance(request, TranscodeRequest):
        raise _fail(field or "request", "must be a TranscodeRequest", show=False)
    p = f"{field}." if field else ""
    validate_source_id(request.source_id, f"{p}source_id")

    validate_min_items(request.inputs, 1, f"{p}inputs")
    input_names: set[str] = set()
    for i, media_input in enumerate(request.inputs):
        at = f"{p}inputs[{i}]"
        name = validate_media_name(media_input.name, f"{at}.name")
        if name in input_names:
            raise _fail(f"{at}.name", "must be unique among the inputs", name)
        input_names.add(name)
        validate_known_enum(media_input.storage, _InputStorage, f"{at}.storage")
        validate_input_source(media_input.source, f"{at}.source")

    track_names: set[str] = set()

    def check_track(name: object, input_ref: object, at: str) -> None:
        text = validate_media_name(name, f"{at}.name")
        if text in track_names:
            raise _fail(f"{at}.name", "must be unique among the tracks", text)
        track_names.add(text)
        ref = validate_media_name(input_ref, f"{at}.input")
        if ref not in input_names:
            raise _fail(f"{at}.input", "must be the name of one of the inputs", ref)

    tracks = request.tracks
    video = tracks.video
    at = f"{p}tracks.video"
    check_track(video.name, video.input, at)
    validate_resolution(video.resolution.width, video.resolution.height, f"{at}.resolution")
    rate = video.frame_rate
    validate_frame_rate(rate.numerator, rate.denominator, f"{at}.frame_rate")
    if not isinstance(video.interlaced, bool):
        raise _fail(f"{at}.interlaced", "must be a boolean", video.interlaced)
    if video.format_info is not UNSET:
        info = video.format_info
        validate_non_empty(info.codec, f"{at}.format_info.codec")
        validate_non_empty(info.commercial_format, f"{at}.format_info.commercial_format")
        if info.hdr_info is not UNSET:
            hdr = info.hdr_info
            hat = f"{at}.format_info.hdr_info"
            validate_non_empty(hdr.format, f"{hat}.format")
            validate_non_empty(hdr.color_primaries, f"{hat}.color_primaries")
            for name in ("maximum_content_light_level", "maximum_frameaverage_light_level"):
                value = getattr(hdr, name)
                if value is not UNSET and not _is_int(value):
                    raise _fail(f"{hat}.{name}", "must be an integer", value)

    validate_min_items(tracks.audio, 1, f"{p}tracks.audio")
    audio_names: set[str] = set()
    for i, audio in enumerate(tracks.audio):
        at = f"{p}tracks.audio[{i}]"
        check_track(audio.name, audio.input, at)
        audio_names.add(audio.name)
        validate_min_int(audio.container_index, 1, f"{at}.container_index")
        validate_language(audio.language, f"{at}.language")
        validate_min_int(audio.channels, 1, f"{at}.channels")

    if tracks.subtitles is not UNSET:
        validate_min_items(tracks.subtitles, 1, f"{p}tracks.subtitles")
        for i, subtitle in enumerate(tracks.subtitles):
            at = f"{p}tracks.subtitles[{i}]"
            check_track(subtitle.name, subtitle.input, at)
            validate_language(subtitle.language, f"{at}.language")

    if request.outputs is not UNSET and request.outputs.audio is not UNSET:
        for i, output in enumerate(request.outputs.audio):
            at = f"{p}outputs.audio[{i}]"
            validate_min_items(output.tracks, 1, f"{at}.tracks")
            for j, ref in enumerate(output.tracks):
                name = validate_media_name(ref, f"{at}.tracks[{j}]")
                if name not in audio_names:
                    raise _fail(f"{at}.tracks[{j}]", "must be the name of an audio track", name)
            if output.channel_order is not UNSET:
                validate_min_items(output.channel_order, 1, f"{at}.channel_order")
                for j, position in enumerate(output.channel_order):
                    validate_known_enum(position, AudioChannelPosition, f"{at}.channel_order[{j}]")
            if output.layout is not UNSET:
                validate_known_enum(output.layout, AudioLayout, f"{at}.layout")

    if not isinstance(request.drm, bool):
        raise _fail(f"{p}drm", "must be a boolean", request.drm)
    if request.drm_type is not UNSET:
        validate_known_enum(request.drm_type, DrmType, f"{p}drm_type")
    if request.viewable_id is not UNSET:
        validate_uuid(request.viewable_id, f"{p}viewable_id")
    if request.experimental is not UNSET and not isinstance(request.experimental, dict):
        raise _fail(f"{p}experimental", "must be a dict", show=False)
    return request
