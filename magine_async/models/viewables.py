"""Viewables: the metadata assets of the catalogue, their vods, live events, broadcasts, images.

A viewable is a movie, program, episode, show, trailer or live channel. Its ``metadata`` is the
only part a partner writes (``POST``/``PUT``/``PATCH /partner/viewables``); the platform adds
the id, timestamps and the playables (vods, live events, broadcasts, channel playable).

Metadata that keeps what it does not model
------------------------------------------
The API says viewable metadata "can include additional properties beyond the ones listed"
(``customId``, ``images``, anything a partner or a later API version adds), and ``PUT``
replaces the metadata wholesale. :class:`ViewableMetadata` therefore keeps the JSON text it was
decoded from. Its documented fields are decoded into typed attributes (``metadata.title``,
``metadata.ratings``); everything else is reachable through ``metadata.extra`` (a ``dict`` of
plain JSON values). When it is encoded again:

* unchanged metadata is sent back with the same JSON values, unknown properties and nested
  objects included (a later ``replace(v.id, metadata=v.metadata)`` loses nothing); metadata
  that had properties outside the model is even sent back byte for byte;
* changed metadata is merged: properties keep their original order and original text unless
  their value changed, new ones are appended, removed ones (set to ``UNSET`` or deleted from
  ``extra``) are left out. An image object or rating the SDK only partly models is re-sent
  exactly as received as long as its typed value is unchanged.

How it is decoded, and why (msgspec Structs drop unknown fields):

* Fast path. :func:`~magine_async.models.decode` and ``decoder_for`` first decode a viewable
  (or page) with twin classes whose metadata Struct *refuses* any property outside the model
  (``forbid_unknown_fields``, nested ratings and images included). When the metadata has
  none, it was decoded in the same pass as the rest and there is nothing to keep: this costs
  about as much as a plain Struct. Such metadata is re-encoded from its typed fields (same
  JSON values; key order and escapes may differ from what was received).
* Lossless path. When the twin refuses the document, the public classes decode it: a
  :class:`Viewable` takes its ``metadata`` as :class:`msgspec.Raw`, then ``__post_init__``
  decodes the known fields with a decoder built once and keeps a private copy of the raw
  text; extras are parsed only when asked for or when the metadata is re-encoded after a
  change. After a refusal the next 32 documents go straight to this path.

Figures (``python tests/models/bench_viewable_decode.py``: pages of 100 viewables of ~1.5 KB,
decode and read ``metadata.title``), as speed relative to plain Structs of the same fields
declared like ours with ``gc=False`` / with msgspec's default ``gc=True``: fast path 0.92x /
1.07x; lossless path (metadata with extra properties) 0.73x / 0.84x. A custom metadata type
decoded from a ``dict`` through ``dec_hook`` measured about 0.55x. Decoding with plain
``msgspec`` and the public classes is always correct; it just never takes the fast path.
Fast-path instances are subclasses named like the public classes: test them with
``isinstance``, not ``type(x) is``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import operator
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, overload

import msgspec
from msgspec import UNSET, UnsetType

from ._base import Model, OpenStrEnum, encode, register_fast_path

__all__ = [
    "Broadcast",
    "ChannelPlayable",
    "ContentRating",
    "DrmType",
    "ExtendedRights",
    "HttpImageSource",
    "ImageSource",
    "ImageType",
    "LiveEvent",
    "Resolution",
    "S3ImageSource",
    "SubtitleTrack",
    "SubtitleType",
    "Viewable",
    "ViewableImage",
    "ViewableInput",
    "ViewableKind",
    "ViewableMetadata",
    "ViewablePage",
    "ViewablePatch",
    "ViewablePatchBody",
    "Vod",
    "VodAudioChannels",
    "VodPipeline",
    "VodRights",
    "VodStatus",
]

_T = TypeVar("_T")


# --------------------------------------------------------------------------- enumerations


class ViewableKind(OpenStrEnum):
    """``metadata.kind``. Unknown kinds decode to pseudo-members (see ``OpenStrEnum``)."""

    MOVIE = "movie"
    PROGRAM = "program"
    EPISODE = "episode"
    SHOW = "show"
    TRAILER = "trailer"
    CHANNEL = "channel"


class VodStatus(OpenStrEnum):
    """Status of the vod transcoding."""

    IMPORTED = "imported"
    TRANSCODING = "transcoding"
    TRANSCODED = "transcoded"
    TRANSCODING_ERROR = "transcoding_error"
    IMPORT_ERROR = "import_error"
    DELETED = "deleted"


class VodPipeline(OpenStrEnum):
    """The pipeline responsible for the vod transcoding."""

    INHOUSE = "inhouse"
    MEDIACONVERT = "mediaconvert"


class DrmType(OpenStrEnum):
    """Which type of DRM the transcoding uses; the platform defaults to ``normal``."""

    NORMAL = "normal"
    ENHANCED = "enhanced"


class SubtitleType(OpenStrEnum):
    """The type of a subtitle track."""

    NORMAL = "normal"
    CC = "cc"
    FORCED_NARRATIVE = "forced_narrative"


class ImageType(OpenStrEnum):
    """Image types of a viewable (the ``{imageType}`` path parameter; the API documents these two
    as examples, any other string is passed through)."""

    POSTER = "poster"
    SIXTEEN_NINE = "sixteen-nine"


# --------------------------------------------------------------------------- metadata parts


class ContentRating(Model, kw_only=True, forbid_unknown_fields=True):
    """A content rating of a viewable, one per applicable rating system.

    Decoding refuses properties it does not know so that metadata carrying one takes the
    lossless path (the rating is then re-sent exactly as received while unchanged).
    """

    system: str
    """Id of the rating system (see ``RatingSystem.id``)."""
    rating: str
    """Id of the rating within the system."""
    reasons: list[str] | UnsetType = UNSET


class ViewableImage(Model, kw_only=True, forbid_unknown_fields=True):
    """An image listed in ``metadata.images`` (managed with the images endpoints, not PATCH).

    Unknown properties are refused by decoding, as for :class:`ContentRating`.
    """

    type: ImageType
    filename: str
    """URL of the image as served by the platform."""


class _MetadataFields(Model, kw_only=True):
    """The documented (plus ``customId`` and ``images``) properties of viewable metadata."""

    kind: ViewableKind
    title: str
    synopsis: str | UnsetType = UNSET
    genres: list[str] | UnsetType = UNSET
    labels: list[str] | UnsetType = UNSET
    viewable_window_start: int | float | UnsetType = UNSET
    viewable_window_end: int | float | UnsetType = UNSET
    country_blacklist: list[str] | UnsetType = UNSET
    country_whitelist: list[str] | UnsetType = UNSET
    show_id: str | UnsetType = UNSET
    season: int | float | UnsetType = UNSET
    episode: int | float | UnsetType = UNSET
    ratings: list[ContentRating] | UnsetType = UNSET
    custom_id: str | UnsetType = UNSET
    images: list[ViewableImage] | UnsetType = UNSET


class _StrictMetadataFields(_MetadataFields, kw_only=True, forbid_unknown_fields=True):
    """Fast-path twin: decodes only metadata that has no property outside the model."""


class _LooseContentRating(Model, kw_only=True):
    system: str
    rating: str
    reasons: list[str] | UnsetType = UNSET


class _LooseViewableImage(Model, kw_only=True):
    type: ImageType
    filename: str


_FIELD_DOCS: Final[dict[str, str]] = {
    "kind": "One of movie, program, episode, show, trailer, channel (required).",
    "title": "Master copy title (required).",
    "synopsis": "Master copy synopsis.",
    "genres": 'Master copy genres, e.g. ["Drama", "Romance", "Action"].',
    "labels": "String labels; the platform adds some automatically (pack/offer labels).",
    "viewable_window_start": (
        "Epoch seconds: available from this time on, as long as publish is true."
    ),
    "viewable_window_end": "Epoch seconds: available until this time, as long as publish is true.",
    "country_blacklist": "ISO 3166-1 alpha-2 codes, lowercase: not available there (GeoIP).",
    "country_whitelist": "ISO 3166-1 alpha-2 codes, lowercase: available only there (GeoIP).",
    "show_id": "UUID of the show an episode belongs to; required for kind 'episode'.",
    "season": "Season number of an episode.",
    "episode": "Episode number within the season.",
    "ratings": "Content ratings, one per applicable rating system.",
    "custom_id": "Partner's own unique id (``customId``); unique across viewables (409 if not).",
    "images": "Images of the viewable (read-only here: use the images endpoints to change).",
}

_FIELD_INFOS: Final = msgspec.structs.fields(_MetadataFields)
_ATTRS: Final[tuple[str, ...]] = tuple(f.name for f in _FIELD_INFOS)
_WIRE_TO_ATTR: Final[dict[str, str]] = {f.encode_name: f.name for f in _FIELD_INFOS}
_ATTR_TO_WIRE: Final[dict[str, str]] = {f.name: f.encode_name for f in _FIELD_INFOS}
_REQUIRED_WIRE: Final = ("kind", "title")


def _strip_unset(tp: Any) -> Any:
    """``T | UnsetType`` -> ``T`` (``int | float | UnsetType`` -> ``int | float``)."""
    args = [a for a in getattr(tp, "__args__", (tp,)) if a is not UnsetType]
    return functools.reduce(operator.or_, args)


_FIELDS_DECODER: Final = msgspec.json.Decoder(_MetadataFields)
_SPLIT_DECODER: Final = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ANY_DECODER: Final = msgspec.json.Decoder()
_PER_KEY_DECODERS: Final[dict[str, msgspec.json.Decoder[Any]]] = {
    f.encode_name: msgspec.json.Decoder(_strip_unset(f.type)) for f in _FIELD_INFOS
}


_LOOSE_DECODERS: Final[dict[str, msgspec.json.Decoder[Any]]] = {
    "ratings": msgspec.json.Decoder(list[_LooseContentRating]),
    "images": msgspec.json.Decoder(list[_LooseViewableImage]),
}


def _tighten(key: str, items: list[Any]) -> list[Any]:
    if key == "ratings":
        return [ContentRating(system=r.system, rating=r.rating, reasons=r.reasons) for r in items]
    return [ViewableImage(type=i.type, filename=i.filename) for i in items]


def _decode_fields(src: msgspec.Raw) -> _MetadataFields:
    """Decode the known fields of metadata JSON.

    The usual path is one Struct decode (unknown top-level properties are skipped by msgspec).
    If that fails, properties are decoded one by one: ratings or images with properties the
    SDK does not model are typed without them; a known property of an unexpected type
    (``"synopsis": null``, a ``season`` sent as a string) stays ``UNSET`` in the typed view. Either
    way the raw text is re-emitted on encode while the value is unchanged. ``kind`` and
    ``title`` must be valid.
    """
    try:
        return _FIELDS_DECODER.decode(src)
    except msgspec.ValidationError:
        pass
    values: dict[str, Any] = {}
    for key, raw in _SPLIT_DECODER.decode(src).items():
        attr = _WIRE_TO_ATTR.get(key)
        if attr is None:
            continue
        try:
            values[attr] = _PER_KEY_DECODERS[key].decode(raw)
        except msgspec.ValidationError as exc:
            if key in _REQUIRED_WIRE:
                raise msgspec.ValidationError(f"{exc} - at `$.{key}`") from None
            loose = _LOOSE_DECODERS.get(key)
            if loose is not None:
                with contextlib.suppress(msgspec.ValidationError):
                    values[attr] = _tighten(key, loose.decode(raw))
    for key in _REQUIRED_WIRE:
        if key not in values:
            raise msgspec.ValidationError(f"Object missing required field `{key}`")
    return _MetadataFields(**values)


def _same_json(value: Any, raw: msgspec.Raw) -> bool:
    """True when ``value`` encodes to the same JSON as the original ``raw`` text."""
    try:
        return encode(value) == encode(_ANY_DECODER.decode(raw))
    except (TypeError, msgspec.EncodeError):
        return False


def _pair(key: str, value_json: bytes | msgspec.Raw) -> bytes:
    return encode(key) + b":" + bytes(value_json)


class _Known(Generic[_T]):
    """Typing stand-in for the properties installed on :class:`ViewableMetadata`."""

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _Known[_T]: ...

    @overload
    def __get__(self, obj: ViewableMetadata, owner: type[Any]) -> _T: ...

    def __get__(self, obj: ViewableMetadata | None, owner: type[Any]) -> Any:
        raise NotImplementedError  # pragma: no cover - replaced by properties at import

    def __set__(self, obj: ViewableMetadata, value: _T) -> None:
        raise NotImplementedError  # pragma: no cover - replaced by properties at import


class ViewableMetadata:
    """Metadata of a viewable: typed documented fields plus every other property, kept.

    Construct it for ``create``/``replace`` with keyword arguments; properties the SDK does not
    model go in ``extra`` (wire names, JSON values)::

        ViewableMetadata(kind=ViewableKind.MOVIE, title="Terminator",
                         genres=["Action"], extra={"productionYear": 1984})

    Attributes (documented fields, ``UNSET`` when absent): ``kind``, ``title``, ``synopsis``,
    ``genres``, ``labels``, ``viewable_window_start``/``viewable_window_end`` (epoch seconds,
    effective only while ``publish`` is true), ``country_blacklist``/``country_whitelist``
    (ISO 3166-1 alpha-2, lowercase), ``show_id`` (UUID, required for episodes), ``season``,
    ``episode``, ``ratings``, ``custom_id`` and ``images``. They can be assigned. ``extra`` is
    a mutable ``dict`` of the other properties.

    Decoded metadata remembers its JSON text and re-sends it unchanged, or merged with your
    changes (see the module documentation). Instances compare equal when their typed fields
    and extras are equal. Encode them with :func:`magine_async.models.encode`; plain
    ``msgspec.json.encode`` raises ``TypeError`` for this type rather than dropping data.
    """

    __slots__ = ("_extra", "_fields", "_origin_kind", "_source")

    _fields: _MetadataFields
    _source: msgspec.Raw | None
    """A private copy of the JSON text this metadata was decoded from. None when built here,
    and when decoding found no property outside the model (nothing to preserve then)."""
    _extra: dict[str, Any] | None
    """Materialised extras; None while they are only in ``_source``."""
    _origin_kind: ViewableKind | None
    """The ``kind`` received from the server (None if built here)."""

    if TYPE_CHECKING:
        kind = _Known[ViewableKind]()
        title = _Known[str]()
        synopsis = _Known[str | UnsetType]()
        genres = _Known[list[str] | UnsetType]()
        labels = _Known[list[str] | UnsetType]()
        viewable_window_start = _Known[int | float | UnsetType]()
        viewable_window_end = _Known[int | float | UnsetType]()
        country_blacklist = _Known[list[str] | UnsetType]()
        country_whitelist = _Known[list[str] | UnsetType]()
        show_id = _Known[str | UnsetType]()
        season = _Known[int | float | UnsetType]()
        episode = _Known[int | float | UnsetType]()
        ratings = _Known[list[ContentRating] | UnsetType]()
        custom_id = _Known[str | UnsetType]()
        images = _Known[list[ViewableImage] | UnsetType]()

    def __init__(
        self,
        *,
        kind: ViewableKind | str,
        title: str,
        synopsis: str | UnsetType = UNSET,
        genres: list[str] | UnsetType = UNSET,
        labels: list[str] | UnsetType = UNSET,
        viewable_window_start: int | float | UnsetType = UNSET,
        viewable_window_end: int | float | UnsetType = UNSET,
        country_blacklist: list[str] | UnsetType = UNSET,
        country_whitelist: list[str] | UnsetType = UNSET,
        show_id: str | UnsetType = UNSET,
        season: int | float | UnsetType = UNSET,
        episode: int | float | UnsetType = UNSET,
        ratings: list[ContentRating] | UnsetType = UNSET,
        custom_id: str | UnsetType = UNSET,
        images: list[ViewableImage] | UnsetType = UNSET,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self._fields = _MetadataFields(
            kind=ViewableKind(kind),
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
            custom_id=custom_id,
            images=images,
        )
        self._source = None
        self._extra = _checked_extra(extra)
        self._origin_kind = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def _from_wire(cls, raw: msgspec.Raw | bytes) -> ViewableMetadata:
        src = raw.copy() if isinstance(raw, msgspec.Raw) else msgspec.Raw(raw)
        obj = object.__new__(cls)
        obj._fields = _decode_fields(src)
        obj._source = src
        obj._extra = None
        obj._origin_kind = obj._fields.kind
        return obj

    @classmethod
    def from_json(cls, data: bytes | str) -> ViewableMetadata:
        """Decode metadata from its JSON text (the value of a viewable's ``metadata``)."""
        return cls._from_wire(data.encode() if isinstance(data, str) else data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ViewableMetadata:
        """Build metadata from a mapping with wire (camelCase) keys, e.g. parsed JSON.

        Documented keys are converted to their types (``msgspec.ValidationError`` if they do
        not fit); every other key goes to ``extra`` unchanged.
        """
        known = {k: v for k, v in data.items() if k in _WIRE_TO_ATTR}
        obj = object.__new__(cls)
        obj._fields = msgspec.convert(known, _MetadataFields)
        obj._source = None
        obj._extra = {k: v for k, v in data.items() if k not in _WIRE_TO_ATTR}
        obj._origin_kind = None
        return obj

    def replace(self, **changes: Any) -> ViewableMetadata:
        """Return a copy with some fields (snake_case names, or ``extra=``) replaced.

        The copy still remembers the original JSON, so unknown properties survive.
        """
        extra = changes.pop("extra", None)
        unknown = set(changes) - set(_ATTRS)
        if unknown:
            raise TypeError(f"unknown ViewableMetadata field(s): {', '.join(sorted(unknown))}")
        if "kind" in changes:
            changes["kind"] = ViewableKind(changes["kind"])
        obj = object.__new__(type(self))
        obj._fields = msgspec.structs.replace(copy.deepcopy(self._fields), **changes)
        obj._source = self._source
        obj._origin_kind = self._origin_kind
        if extra is not None:
            obj._extra = _checked_extra(extra)
        else:
            obj._extra = None if self._extra is None else copy.deepcopy(self._extra)
        return obj

    def _received_kind(self) -> ViewableKind | None:
        """The ``kind`` in the JSON this metadata was decoded from (None if built locally)."""
        return self._origin_kind

    # ------------------------------------------------------------------ extras

    @property
    def extra(self) -> dict[str, Any]:
        """Properties beyond the modelled ones, wire names to JSON values (mutable)."""
        extra = self._extra
        if extra is None:
            extra = {}
            if self._source is not None:
                for key, raw in _SPLIT_DECODER.decode(self._source).items():
                    if key not in _WIRE_TO_ATTR:
                        extra[key] = _ANY_DECODER.decode(raw)
            self._extra = extra
        return extra

    @extra.setter
    def extra(self, value: Mapping[str, Any]) -> None:
        self._extra = _checked_extra(value)

    # ------------------------------------------------------------------ encoding

    def _is_pristine(self, src: msgspec.Raw) -> bool:
        if not _same_fields(self._fields, _decode_fields(src)):
            return False
        if self._extra is None:
            return True
        original = {k: v for k, v in _SPLIT_DECODER.decode(src).items() if k not in _WIRE_TO_ATTR}
        if original.keys() != self._extra.keys():
            return False
        return all(_same_json(self._extra[k], raw) for k, raw in original.items())

    def _render_new(self) -> bytes:
        body = encode(self._fields)
        if not self._extra:
            return body
        pairs = [_pair(k, encode(v)) for k, v in self._extra.items()]
        return body[:-1] + b"," + b",".join(pairs) + b"}"

    def _render_merged(self, src: msgspec.Raw) -> bytes:
        snapshot = _decode_fields(src)
        current = self._fields
        extra = self._extra
        out: list[bytes] = []
        seen: set[str] = set()
        for key, raw in _SPLIT_DECODER.decode(src).items():
            seen.add(key)
            attr = _WIRE_TO_ATTR.get(key)
            if attr is not None:
                value = getattr(current, attr)
                before = getattr(snapshot, attr)
                if value is UNSET:
                    if before is UNSET:  # on the wire but not typable: keep as received
                        out.append(_pair(key, raw))
                    continue  # removed by the caller
                if type(value) is type(before) and value == before:
                    out.append(_pair(key, raw))
                else:
                    out.append(_pair(key, encode(value)))
            elif extra is None:
                out.append(_pair(key, raw))
            elif key in extra:
                value = extra[key]
                out.append(_pair(key, raw if _same_json(value, raw) else encode(value)))
        for attr in _ATTRS:
            key = _ATTR_TO_WIRE[attr]
            value = getattr(current, attr)
            if key not in seen and value is not UNSET:
                out.append(_pair(key, encode(value)))
        if extra:
            out.extend(_pair(k, encode(v)) for k, v in extra.items() if k not in seen)
        return b"{" + b",".join(out) + b"}"

    def to_json(self) -> bytes:
        """The JSON text this metadata is sent as (original text when unchanged)."""
        src = self._source
        if src is None:
            return self._render_new()
        if self._is_pristine(src):
            return bytes(src)
        return self._render_merged(src)

    def __magine_encode__(self) -> msgspec.Raw:
        src = self._source
        if src is not None and self._is_pristine(src):
            return src
        return msgspec.Raw(self.to_json())

    def __magine_builtins__(self) -> Any:
        return _ANY_DECODER.decode(self.to_json())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values with wire keys (known fields and extras)."""
        result: dict[str, Any] = self.__magine_builtins__()
        return result

    # ------------------------------------------------------------------ dunder

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ViewableMetadata):
            return NotImplemented
        return _same_fields(self._fields, other._fields) and self.extra == other.extra

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = repr(self._fields)[len(type(self._fields).__name__) + 1 : -1]
        extra = self.extra
        if extra:
            inner += f", extra={extra!r}"
        return f"{type(self).__name__}({inner})"

    def __copy__(self) -> ViewableMetadata:
        return self.replace()

    def __deepcopy__(self, memo: dict[int, Any]) -> ViewableMetadata:
        return self.replace()

    def __reduce__(self) -> tuple[Any, ...]:
        return (ViewableMetadata.from_json, (self.to_json(),))


def _same_fields(a: _MetadataFields, b: _MetadataFields) -> bool:
    # Compared field by field: the fast path decodes into a subclass, and msgspec's ``==``
    # requires the exact same class.
    return msgspec.structs.astuple(a) == msgspec.structs.astuple(b)


def _checked_extra(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    if not extra:
        return {}
    clash = [k for k in extra if k in _WIRE_TO_ATTR]
    if clash:
        raise ValueError(
            f"extra must not contain modelled properties ({', '.join(clash)}); "
            "use the keyword arguments instead"
        )
    for key in extra:
        if not isinstance(key, str):
            raise TypeError("extra keys must be strings")
    return dict(extra)


def _install_properties() -> None:
    for attr in _ATTRS:
        getter = operator.attrgetter(f"_fields.{attr}")

        def setter(self: ViewableMetadata, value: Any, _attr: str = attr) -> None:
            if _attr == "kind":
                value = ViewableKind(value)
            setattr(self._fields, _attr, value)

        setattr(ViewableMetadata, attr, property(getter, setter, None, _FIELD_DOCS[attr]))


_install_properties()


_Raw: Final = msgspec.Raw
_new: Final = object.__new__


def _metadata_from_raw(raw: msgspec.Raw) -> ViewableMetadata:
    src = raw.copy()  # detach from the page buffer, which would otherwise stay alive
    md: ViewableMetadata = _new(ViewableMetadata)
    try:
        md._fields = _FIELDS_DECODER.decode(src)
    except msgspec.ValidationError:
        md._fields = _decode_fields(src)
    md._source = src
    md._extra = None
    md._origin_kind = md._fields.kind
    return md


def _coerce_metadata(value: object) -> ViewableMetadata:
    if type(value) is msgspec.Raw:
        return _metadata_from_raw(value)
    if isinstance(value, ViewableMetadata):
        return value
    if isinstance(value, Mapping):
        return ViewableMetadata.from_dict(value)
    raise TypeError(f"metadata must be ViewableMetadata, not {type(value).__name__}")


class ViewablePatch(Model, kw_only=True):
    """The ``patch`` object of ``PATCH /partner/viewables/{id}``: only the fields given change.

    Fields left ``UNSET`` are not sent and stay as they are. ``kind`` and images cannot be
    patched (images have their own endpoints).
    """

    title: str | UnsetType = UNSET
    synopsis: str | UnsetType = UNSET
    genres: list[str] | UnsetType = UNSET
    labels: list[str] | UnsetType = UNSET
    viewable_window_start: int | float | UnsetType = UNSET
    viewable_window_end: int | float | UnsetType = UNSET
    country_blacklist: list[str] | UnsetType = UNSET
    country_whitelist: list[str] | UnsetType = UNSET
    show_id: str | UnsetType = UNSET
    season: int | float | UnsetType = UNSET
    episode: int | float | UnsetType = UNSET
    ratings: list[ContentRating] | UnsetType = UNSET


class ViewablePatchBody(Model, kw_only=True):
    """Request body of ``PATCH /partner/viewables/{viewableId}``: ``{"patch": {...}}``."""

    patch: ViewablePatch


class ViewableInput(Model, kw_only=True):
    """Request body of ``POST /partner/viewables`` and ``PUT /partner/viewables/{id}``.

    ``PUT`` replaces the metadata completely, so send every field you want to keep (a
    metadata object obtained from a ``get`` does that by itself).
    """

    if TYPE_CHECKING:
        metadata: ViewableMetadata
    else:
        metadata: msgspec.Raw
    publish: bool | UnsetType = UNSET

    def __post_init__(self) -> None:
        self.metadata = _coerce_metadata(self.metadata)


# --------------------------------------------------------------------------- playables


class Resolution(Model, kw_only=True):
    """Dimensions of a video frame in pixels (at least 640x480)."""

    width: int
    height: int


class VodRights(Model, kw_only=True):
    """Special rights of a vod asset."""

    source_id: str
    offline_available: bool


class SubtitleTrack(Model, kw_only=True):
    """A subtitle track of a vod."""

    language: str
    """Three-letter language code, e.g. ``swe``."""
    subtitle_type: SubtitleType


class VodAudioChannels(Model, kw_only=True):
    """An ``audioChansPerLang`` item: number of audio channels for a language."""

    channels: int | float
    language: str


class Vod(Model, kw_only=True):
    """A transcoded video asset (also the answer of ``GET /partner/transcode/asset/{id}``)."""

    asset_id: str
    """UUID of the transcoded asset."""
    source: str
    """Id of the partner."""
    source_id: str
    status: VodStatus
    created_at: int | float | None = None
    """Epoch seconds."""
    modified_at: int | float | None = None
    """Epoch seconds."""
    rights: VodRights | None = None
    publish: bool | None = None
    vod_pipeline: VodPipeline
    duration: int | float | None = None
    """Video duration in seconds."""
    viewable_id: str | None = None
    drm_activated: bool
    drm_type: DrmType | None = None
    """``None`` means the platform default, ``normal``."""
    subtitle_languages: list[str] | None = None
    subtitle_tracks: list[SubtitleTrack] | None = None
    audio_languages: list[str] | None = None
    source_resolution: Resolution | None = None
    audio_chans_per_lang: list[VodAudioChannels] | None = None


class LiveEvent(Model, kw_only=True):
    """A live event playable."""

    id: str
    start_time_utc: int | float
    """Epoch seconds."""


class ExtendedRights(Model, kw_only=True):
    """Trick-play rights of a broadcast or channel."""

    pause: bool
    rewind: bool
    fast_forward: bool


class Broadcast(Model, kw_only=True):
    """A broadcast (EPG entry) of a channel; all times are epoch seconds."""

    id: str
    source_id: str
    start_time_utc: int | float
    stop_time_utc: int | float
    catchup_from: int | float
    catchup_to: int | float
    channel_viewable_id: str
    """Id of the channel viewable: a UUID, or digits for legacy live channels."""
    duration: int | float
    extended_rights: ExtendedRights


class ChannelPlayable(Model, kw_only=True):
    """The playable of a live channel."""

    id: str
    stream_id: str
    duration: int | float
    verify_age: bool
    extended_rights: ExtendedRights


class Viewable(Model, kw_only=True):
    """A viewable as returned by the platform.

    ``id`` is a UUID, or digits for legacy live channels. ``created_at`` and ``modified_at`` are
    epoch seconds. ``metadata`` keeps unknown properties (see :class:`ViewableMetadata`).
    """

    id: str
    partner_id: str
    if TYPE_CHECKING:
        metadata: ViewableMetadata
    else:
        metadata: msgspec.Raw
    created_at: int | float
    modified_at: int | float
    publish: bool
    vods: list[Vod] | None = None
    live_events: list[LiveEvent] | None = None
    broadcasts: list[Broadcast] | None = None
    channel_playable: ChannelPlayable | None = None

    def __post_init__(self) -> None:
        # Runs once per decoded viewable: msgspec left the metadata as raw JSON text.
        raw: Any = self.metadata
        cls = raw.__class__
        if cls is _StrictMetadataFields:  # fast path: nothing outside the model to keep
            md: ViewableMetadata = _new(ViewableMetadata)
            md._fields = raw
            md._source = None
            md._extra = None
            md._origin_kind = raw.kind
            self.metadata = md
        elif cls is _Raw:
            self.metadata = _metadata_from_raw(raw)
        elif cls is not ViewableMetadata:
            self.metadata = _coerce_metadata(raw)

    def __eq__(self, other: object) -> bool:
        # Field-wise, so that a viewable from the fast decoding path equals one from the
        # lossless path (msgspec's ``==`` would require the exact same class).
        if not isinstance(other, Viewable):
            return NotImplemented
        return msgspec.structs.astuple(self) == msgspec.structs.astuple(other)

    __hash__ = None  # type: ignore[assignment]


class ViewablePage(Model, kw_only=True):
    """A page of ``GET /partner/viewables``; ``cursor`` is absent on the last page."""

    viewables: list[Viewable]
    cursor: str | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ViewablePage):
            return NotImplemented
        return self.viewables == other.viewables and self.cursor == other.cursor

    __hash__ = None  # type: ignore[assignment]


# Fast decoding path. ``decode``/``decoder_for`` (``_base``) first try these twins, which decode
# the metadata in the same pass as the rest of the viewable but refuse any property outside the
# model; on refusal they decode the public types above, which keep such properties. Instances
# are subclasses named like the public classes: use ``isinstance``, not ``type(x) is``.


def _rebuild_viewable(fields: dict[str, Any]) -> Viewable:
    return Viewable(**fields)


def _rebuild_page(fields: dict[str, Any]) -> ViewablePage:
    return ViewablePage(**fields)


class _FastViewable(Viewable, kw_only=True):
    if not TYPE_CHECKING:
        metadata: _StrictMetadataFields

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_viewable, (msgspec.structs.asdict(self),))


class _FastViewablePage(ViewablePage, kw_only=True):
    if not TYPE_CHECKING:
        viewables: list[_FastViewable]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_page, (msgspec.structs.asdict(self),))


_FastViewable.__name__ = "Viewable"
_FastViewablePage.__name__ = "ViewablePage"
register_fast_path(Viewable, _FastViewable)
register_fast_path(ViewablePage, _FastViewablePage)


# --------------------------------------------------------------------------- image sources


class S3ImageSource(Model, kw_only=True, tag_field="sourceType", tag="s3"):
    """Image to be downloaded by the platform from an S3 bucket (``sourceType: s3``)."""

    bucket: str
    object_key: str
    """Path/filename in the bucket."""


class HttpImageSource(Model, kw_only=True, tag_field="sourceType", tag="http"):
    """Image to be downloaded by the platform from a public URL (``sourceType: http``)."""

    uri: str


ImageSource = S3ImageSource | HttpImageSource
"""Body of ``PUT /partner/viewables/{viewableId}/images/{imageType}``, tagged by ``sourceType``."""
