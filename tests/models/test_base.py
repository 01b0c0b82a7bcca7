"""Shared helpers: open enumerations, codecs, package exports."""

from __future__ import annotations

import pickle

import msgspec
import pytest

import magine_async.models as models
from magine_async.models import (
    UNSET,
    Model,
    OpenStrEnum,
    SubtitleJobStatus,
    UnsetType,
    ViewableKind,
    VodStatus,
    _base,
    decode,
    decoder_for,
    encode,
    encoder,
    to_builtins,
)


class Colour(OpenStrEnum):
    RED = "red"
    GREEN = "green"


class Paint(Model, kw_only=True):
    colour: Colour
    brand_name: str | UnsetType = UNSET
    shade: str | None = None


def test_known_values_decode_to_members() -> None:
    paint = decode(b'{"colour": "red"}', Paint)
    assert paint.colour is Colour.RED
    assert paint.colour.is_known


def test_unknown_values_decode_to_preserved_pseudo_members() -> None:
    paint = decode(b'{"colour": "mauve"}', Paint)
    assert isinstance(paint.colour, Colour)
    assert paint.colour == "mauve"
    assert paint.colour.value == "mauve"
    assert str(paint.colour) == "mauve"
    assert not paint.colour.is_known
    assert list(Colour) == [Colour.RED, Colour.GREEN]
    assert encode(paint) == b'{"colour":"mauve"}'
    again = decode(b'{"colour": "mauve"}', Paint)
    assert again.colour is paint.colour  # cached
    assert Colour("mauve") is paint.colour
    assert pickle.loads(pickle.dumps(paint.colour)) is paint.colour


def test_unknown_value_that_looks_like_a_member_name_is_not_known() -> None:
    assert not Colour("RED").is_known
    assert Colour("RED") != Colour.RED


def test_non_string_values_are_still_rejected() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode(b'{"colour": 1}', Paint)
    with pytest.raises(ValueError, match="not a valid Colour"):
        Colour(1)  # type: ignore[arg-type]


def test_pseudo_member_cache_is_bounded() -> None:
    class Many(OpenStrEnum):
        ONE = "one"

    values = [Many(f"v{i}") for i in range(_base._PSEUDO_MEMBER_LIMIT + 50)]
    assert all(v == f"v{i}" for i, v in enumerate(values))
    assert len(Many._value2member_map_) <= 1 + _base._PSEUDO_MEMBER_LIMIT


def test_sdk_enums_are_open() -> None:
    assert decode(b'"podcast"', ViewableKind) == "podcast"
    assert decode(b'"archived"', VodStatus) == "archived"
    status = decode(b'"PAUSED"', SubtitleJobStatus)
    assert status.is_final and not status.is_known
    assert not SubtitleJobStatus.RUNNING.is_final
    assert SubtitleJobStatus.SUCCEEDED.is_final


def test_model_wire_conventions() -> None:
    assert encode(Paint(colour=Colour.RED)) == b'{"colour":"red"}'
    assert encode(Paint(colour=Colour.RED, brand_name="x")) == b'{"colour":"red","brandName":"x"}'
    with pytest.raises(TypeError):
        Paint(Colour.RED)  # type: ignore[call-arg]
    paint = decode(b'{"colour": "green", "brandName": "b", "other": 1, "shade": null}', Paint)
    assert paint.brand_name == "b"
    assert paint.shade is None
    assert repr(Paint(colour=Colour.RED)) == "Paint(colour=<Colour.RED: 'red'>)"
    assert to_builtins(paint) == {"colour": "green", "brandName": "b"}


def test_decoders_are_cached_per_type() -> None:
    assert decoder_for(Paint) is decoder_for(Paint)
    assert decoder_for(list[Paint]) is decoder_for(list[Paint])
    assert decoder_for(list[str]).decode(b'["a", "b"]') == ["a", "b"]
    assert encoder() is encoder()


def test_encode_rejects_unknown_types() -> None:
    with pytest.raises(TypeError):
        encode(object())
    with pytest.raises(TypeError):
        to_builtins(object())


def test_package_exports_are_sorted_and_complete() -> None:
    assert models.__all__ == sorted(models.__all__)
    for name in models.__all__:
        assert hasattr(models, name), name
    modules = [
        "_base",
        "viewables",
        "parental_control",
        "users",
        "entitlements",
        "subtitles",
        "transcode",
        "reseller",
        "errors",
    ]
    exported = set(models.__all__)
    for module in modules:
        mod = getattr(models, module)
        assert set(mod.__all__) <= exported, module
