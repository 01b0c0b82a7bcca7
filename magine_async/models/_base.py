"""Shared building blocks of the models: the base Struct, open enumerations, JSON codecs.

Wire conventions
----------------
Every model derives from :class:`Model`, a :class:`msgspec.Struct` configured with
``rename="camel"`` (``partner_id`` <-> ``partnerId``), ``kw_only=True`` (every constructor takes
keywords only) and ``omit_defaults=True`` (a field still at its default, notably
:data:`UNSET`, is not written). Request models type their optional fields
``T | UnsetType = UNSET`` so that "absent" and ``null`` stay different things; response models
type theirs ``T | None = None`` and are tolerant readers: unknown properties are ignored
(except where the API promises extra properties, see :class:`~.viewables.ViewableMetadata`).

Models are declared with ``gc=False``: they are trees decoded from JSON (or built from
keyword arguments) and never take part in a reference cycle, so the garbage collector has no
reason to track them. This keeps catalogue streaming fast.

Numbers
-------
The API document says ``integer`` where it means one (resolution width and height, frame rate
fractions, audio container indexes and channel counts of a transcoding request, HDR light
levels): those fields are ``int``. Every other numeric property is a JSON ``number`` (epoch
seconds such as ``createdAt``, durations, ``season``/``episode``, vod audio channel counts),
typed ``int | float``: a number written without fraction or exponent (``1623853814``) decodes
to an ``int``, any other (``1623853814.0``, ``1623853814.5``) to a ``float``, and each encodes
back in the same form, so a value received is sent back unchanged. Both work with arithmetic,
comparisons and ``datetime.fromtimestamp``.

Open enumerations
-----------------
The API documents closed value sets (a viewable ``kind``, a vod ``status``, ...), but it also
says that widening an output value set is a non-breaking change: the platform may start
sending ``"podcast"`` tomorrow. msgspec rejects an unknown value of an ordinary ``Enum``
(``Invalid enum value 'podcast'``), which would abort a catalogue sync in the middle of
millions of items. It does however consult the enum's ``_missing_`` hook before giving up, so
:class:`OpenStrEnum` answers that hook with a *pseudo-member*: an instance of the same enum
class whose ``value`` is the string received, which compares equal to that string and encodes
back to it unchanged. Known values decode to the real members (``kind is ViewableKind.MOVIE``
holds); unknown ones are kept, never lost, and :attr:`OpenStrEnum.is_known` tells them apart.
Pseudo-members are cached per class (at most :data:`_PSEUDO_MEMBER_LIMIT` of them), so a
value that repeats on every item costs one dictionary lookup. Request validators
(``magine_async.models._validate``) accept only known members, since the documented value set
is what the server accepts today.

JSON codecs
-----------
:func:`encode` uses one shared :class:`msgspec.json.Encoder`; :func:`decoder_for` returns a
decoder built once per type and cached (a :class:`msgspec.json.Decoder`, or for viewables a
wrapper that tries a faster twin type first, see ``register_fast_path``); :func:`decode` is
``decoder_for(tp).decode(data)``. Decode viewables through these helpers to get the fast path.

A type that cannot be encoded natively by msgspec (the viewable metadata, which has to
re-emit properties it does not model) implements ``__magine_encode__`` returning
:class:`msgspec.Raw` JSON and ``__magine_builtins__`` returning plain Python values.
"""

from __future__ import annotations

import enum
import threading
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, Self, TypeVar, cast, overload

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "UNSET",
    "JSONDecoder",
    "Model",
    "OpenStrEnum",
    "UnsetType",
    "decode",
    "decoder_for",
    "encode",
    "encoder",
    "to_builtins",
]

if TYPE_CHECKING:
    from typing_extensions import Buffer

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)

_PSEUDO_MEMBER_LIMIT: Final = 256
"""How many unknown values an :class:`OpenStrEnum` caches; further ones are still accepted."""


class Model(
    msgspec.Struct,
    kw_only=True,
    rename="camel",
    omit_defaults=True,
    repr_omit_defaults=True,
    gc=False,
):
    """Base of every wire model: camelCase names, keyword-only, defaults omitted on encode.

    ``kw_only`` is not inherited by msgspec, so every subclass repeats ``kw_only=True``.
    """


class OpenStrEnum(enum.StrEnum):
    """A string enumeration that keeps values it does not know.

    ``SomeEnum("unknown-value")`` (and so decoding) returns a pseudo-member of ``SomeEnum``
    whose ``value`` and ``name`` are the received string; it is equal to that string, is not
    listed by ``list(SomeEnum)`` and has ``is_known`` false.
    """

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if not isinstance(value, str):
            return None
        cache = cls._value2member_map_
        cached = cache.get(value)
        if cached is not None:
            return cast(Self, cached)
        pseudo = str.__new__(cls, value)
        pseudo._name_ = value
        pseudo._value_ = value
        if len(cache) < len(cls._member_map_) + _PSEUDO_MEMBER_LIMIT:
            cache.setdefault(value, pseudo)
        return pseudo

    @property
    def is_known(self) -> bool:
        """True for a documented member, false for a value the SDK does not know yet."""
        return type(self)._member_map_.get(self._name_) is self


def _enc_hook(obj: Any) -> Any:
    method = getattr(type(obj), "__magine_encode__", None)
    if method is not None:
        return method(obj)
    raise TypeError(f"Objects of type {type(obj).__name__} cannot be encoded to JSON")


def _builtins_hook(obj: Any) -> Any:
    method = getattr(type(obj), "__magine_builtins__", None)
    if method is not None:
        return method(obj)
    raise TypeError(f"Objects of type {type(obj).__name__} cannot be converted")


_ENCODER: Final = msgspec.json.Encoder(enc_hook=_enc_hook)
_DECODERS: dict[Any, JSONDecoder[Any]] = {}
_DECODERS_LOCK: Final = threading.Lock()
_FAST_PATHS: dict[Any, Any] = {}
_FAST_PATH_BACKOFF: Final = 32
"""After the fast path refused a document, how many documents go straight to the exact path."""


class JSONDecoder(Protocol[T_co]):
    """What :func:`decoder_for` returns: a :class:`msgspec.json.Decoder` or a fast-path wrapper."""

    def decode(self, buf: Buffer | str, /) -> T_co: ...


class _FastFirstDecoder(Generic[T]):
    """Decode with a faster, stricter twin type first; on refusal use the exact type.

    The twin is a subclass of the exact type that refuses what only the exact type can keep
    (properties outside the model). A refusal switches to the exact type for the next
    ``_FAST_PATH_BACKOFF`` documents, so a catalogue that always carries extra properties does
    not pay for two decodes per page.
    """

    __slots__ = ("_exact", "_fast", "_skip")

    def __init__(self, exact: type[T], fast: type[T]) -> None:
        self._exact: msgspec.json.Decoder[T] = msgspec.json.Decoder(exact)
        self._fast: msgspec.json.Decoder[T] = msgspec.json.Decoder(fast)
        self._skip = 0

    def decode(self, buf: Buffer | str, /) -> T:
        if self._skip:
            self._skip -= 1
            return self._exact.decode(buf)
        try:
            return self._fast.decode(buf)
        except msgspec.ValidationError:
            self._skip = _FAST_PATH_BACKOFF
            return self._exact.decode(buf)


def register_fast_path(exact: type[T], fast: type[T]) -> None:
    """Make :func:`decoder_for` (and :func:`decode`) try ``fast`` before ``exact``.

    ``fast`` must be a subclass of ``exact`` whose instances are valid ``exact`` values and
    which only refuses documents (``msgspec.ValidationError``) that ``exact`` decodes.
    """
    with _DECODERS_LOCK:
        _FAST_PATHS[exact] = fast
        _DECODERS.pop(exact, None)


def encoder() -> msgspec.json.Encoder:
    """The shared JSON encoder (it knows how to encode every model of this package)."""
    return _ENCODER


def encode(obj: Any) -> bytes:
    """Encode a model (or any msgspec-encodable value made of models) to JSON bytes."""
    return _ENCODER.encode(obj)


def to_builtins(obj: Any) -> Any:
    """Convert a model to plain ``dict``/``list``/``str``/... values with wire (camelCase) keys."""
    return msgspec.to_builtins(obj, enc_hook=_builtins_hook)


@overload
def decoder_for(tp: type[T]) -> JSONDecoder[T]: ...


@overload
def decoder_for(tp: Any) -> JSONDecoder[Any]: ...


def decoder_for(tp: Any) -> JSONDecoder[Any]:
    """Return the cached JSON decoder for ``tp`` (a model, ``list[Model]``, ``str``, ...).

    Decoders are built once per type; building one is far more expensive than using it. For
    :class:`~magine_async.models.Viewable` and :class:`~magine_async.models.ViewablePage` the
    decoder first tries a faster path (see ``register_fast_path``).
    """
    try:
        return _DECODERS[tp]
    except KeyError:
        pass
    with _DECODERS_LOCK:
        dec: JSONDecoder[Any] | None = _DECODERS.get(tp)
        if dec is None:
            fast = _FAST_PATHS.get(tp)
            dec = msgspec.json.Decoder(tp) if fast is None else _FastFirstDecoder(tp, fast)
            _DECODERS[tp] = dec
    return dec


@overload
def decode(data: Buffer | str, tp: type[T]) -> T: ...


@overload
def decode(data: Buffer | str, tp: Any) -> Any: ...


def decode(data: Buffer | str, tp: Any) -> Any:
    """Decode JSON ``data`` into ``tp`` (a type, or a union such as ``ImageSource``) with the
    cached decoder.

    Raises :class:`msgspec.DecodeError` (malformed JSON) or :class:`msgspec.ValidationError`
    (JSON of the wrong shape); the transport turns both into ``InvalidResponseError``.
    """
    return decoder_for(tp).decode(data)
