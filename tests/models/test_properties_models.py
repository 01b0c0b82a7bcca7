"""Property-based tests: every response model decodes what the API document allows.

Each response body is described once, declaratively, with the document's own types (``Num``
for ``number``, ``Int`` for ``integer``, ``OneOf`` for "one of", ``Obj`` properties marked
required or not). One generic generator turns a description into JSON documents: numbers as
ints *and* floats, optional properties present or absent, unknown properties added at every
object level (with arbitrary JSON values), keys in any order. The properties checked:

* decoding succeeds;
* every documented value generated is in the decoded object, with its value and its int/float
  form (nothing the document defines is lost);
* viewable metadata round-trips: GET body -> decode -> encode for PUT keeps every key and
  value, unknown nested ones included (byte for byte when it had unknown properties);
* the fast decoding path of viewables refuses only what it must (properties outside the
  model) and otherwise agrees with the lossless path.

The document marks no property as nullable; the models still accept ``null`` for an optional
property (their documented promise), which a separate property checks.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from magine_async.models import (
    UNSET,
    EntitlementResults,
    ErrorBody,
    LoginToken,
    OfferEntitlementList,
    PlaySessionList,
    PlaySessionRevocation,
    ProvisionedUser,
    RatingSystemEnvelope,
    RatingSystemList,
    SubtitleJobEnvelope,
    SubtitleJobList,
    SubtitleRequestAccepted,
    TranscodeAccepted,
    UserEnvelope,
    UserId,
    Viewable,
    ViewableInput,
    ViewableMetadata,
    ViewablePage,
    Vod,
    decode,
    encode,
)
from magine_async.models.viewables import _FastViewable, _FastViewablePage

pytestmark = pytest.mark.property


# --------------------------------------------------------------------------- schema language


class Type:
    """A type of the API document."""


@dataclass(frozen=True)
class Num(Type):
    """``number``: any JSON number, integral or not."""


@dataclass(frozen=True)
class Int(Type):
    """``integer``, with the document's ``minimum`` if it gives one."""

    minimum: int | None = None


@dataclass(frozen=True)
class Str(Type):
    """``string`` (patterns are the server's business: a tolerant reader takes any string)."""


@dataclass(frozen=True)
class Bool(Type):
    """``boolean``."""


@dataclass(frozen=True)
class Date(Type):
    """``date-only`` (``2019-02-23``)."""


@dataclass(frozen=True)
class DateTime(Type):
    """``datetime`` (RFC 3339, with an offset)."""


@dataclass(frozen=True)
class OneOf(Type):
    """``one of a, b, c``."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Arr(Type):
    """``array of <item>``."""

    item: Type


@dataclass(frozen=True)
class P:
    """A property of an object."""

    type: Type
    required: bool = False


@dataclass(frozen=True)
class Obj(Type):
    """``object``; ``open`` when the document promises to keep additional properties."""

    props: dict[str, P] = field(default_factory=dict)
    open: bool = False


def req(tp: Type) -> P:
    return P(tp, required=True)


def opt(tp: Type) -> P:
    return P(tp)


# --------------------------------------------------------------------------- the document

STR, NUM, BOOL = Str(), Num(), Bool()
STRS = Arr(STR)
SUBTITLE_TYPE = OneOf(("normal", "cc", "forced_narrative"))
EXTENDED_RIGHTS = Obj({"pause": req(BOOL), "rewind": req(BOOL), "fastForward": req(BOOL)})

METADATA = Obj(
    {
        "kind": req(OneOf(("movie", "program", "episode", "show", "trailer", "channel"))),
        "title": req(STR),
        "synopsis": opt(STR),
        "genres": opt(STRS),
        "labels": opt(STRS),
        "viewableWindowStart": opt(NUM),
        "viewableWindowEnd": opt(NUM),
        "countryBlacklist": opt(STRS),
        "countryWhitelist": opt(STRS),
        "showId": opt(STR),
        "season": opt(NUM),
        "episode": opt(NUM),
        "ratings": opt(Arr(Obj({"system": req(STR), "rating": req(STR), "reasons": opt(STRS)}))),
        # Not in the property list but modelled by the SDK: customId (path of
        # GET /partner/viewables/custom/{customId}) and images (the documented example).
        "customId": opt(STR),
        "images": opt(
            Arr(Obj({"type": req(OneOf(("poster", "sixteen-nine"))), "filename": req(STR)}))
        ),
    },
    open=True,  # "Additional properties can be included beyond the ones listed below."
)
VOD = Obj(
    {
        "assetId": req(STR),
        "source": req(STR),
        "sourceId": req(STR),
        "status": req(
            OneOf(
                (
                    "imported",
                    "transcoding",
                    "transcoded",
                    "transcoding_error",
                    "import_error",
                    "deleted",
                )
            )
        ),
        "createdAt": opt(NUM),
        "modifiedAt": opt(NUM),
        "rights": opt(Obj({"sourceId": req(STR), "offlineAvailable": req(BOOL)})),
        "publish": opt(BOOL),
        "vodPipeline": req(OneOf(("inhouse", "mediaconvert"))),
        "duration": opt(NUM),
        "viewableId": opt(STR),
        "drmActivated": req(BOOL),
        "drmType": opt(OneOf(("normal", "enhanced"))),
        "subtitleLanguages": opt(STRS),
        "subtitleTracks": opt(Arr(Obj({"language": req(STR), "subtitleType": req(SUBTITLE_TYPE)}))),
        "audioLanguages": opt(STRS),
        "sourceResolution": opt(Obj({"width": req(Int(640)), "height": req(Int(480))})),
        "audioChansPerLang": opt(Arr(Obj({"channels": req(NUM), "language": req(STR)}))),
    }
)
VIEWABLE = Obj(
    {
        "id": req(STR),
        "partnerId": req(STR),
        "metadata": req(METADATA),
        "createdAt": req(NUM),
        "modifiedAt": req(NUM),
        "publish": req(BOOL),
        "vods": opt(Arr(VOD)),
        "liveEvents": opt(Arr(Obj({"id": req(STR), "startTimeUtc": req(NUM)}))),
        "broadcasts": opt(
            Arr(
                Obj(
                    {
                        "id": req(STR),
                        "sourceId": req(STR),
                        "startTimeUtc": req(NUM),
                        "stopTimeUtc": req(NUM),
                        "catchupFrom": req(NUM),
                        "catchupTo": req(NUM),
                        "channelViewableId": req(STR),
                        "duration": req(NUM),
                        "extendedRights": req(EXTENDED_RIGHTS),
                    }
                )
            )
        ),
        "channelPlayable": opt(
            Obj(
                {
                    "id": req(STR),
                    "streamId": req(STR),
                    "duration": req(NUM),
                    "verifyAge": req(BOOL),
                    "extendedRights": req(EXTENDED_RIGHTS),
                }
            )
        ),
    }
)
RATING_SYSTEM = Obj(
    {
        "id": req(STR),
        "name": req(STR),
        "country": req(STR),
        # "array of array": the document leaves the items untyped; shaped after its example.
        "ratings": req(Arr(Arr(Obj({"id": req(STR), "name": req(STR), "description": opt(STR)})))),
    }
)
SUBTITLE_JOB = Obj(
    {
        "requestId": req(STR),
        "requestType": req(OneOf(("create", "delete"))),
        "playableId": req(STR),
        "subtitleLanguage": req(STR),
        "subtitleType": req(SUBTITLE_TYPE),
        "createdAt": req(NUM),
        "updatedAt": req(NUM),
        "status": req(OneOf(("SUCCEEDED", "RUNNING", "TIMED_OUT", "ABORTED", "FAILED"))),
        "errorMessage": opt(STR),
    }
)
ENTITLEMENT_SUCCESS = Obj(
    {
        "offerId": req(STR),
        "offerType": req(STR),
        "purchasedAt": req(DateTime()),
        "expiry": opt(DateTime()),
    }
)

RESPONSES: dict[str, tuple[Any, Type]] = {
    "ViewablePage": (
        ViewablePage,
        Obj({"viewables": req(Arr(VIEWABLE)), "cursor": opt(STR)}),
    ),
    "Viewable": (Viewable, VIEWABLE),
    "Vod": (Vod, VOD),
    "UserEnvelope": (
        UserEnvelope,
        Obj(
            {
                "user": req(
                    Obj(
                        {
                            "userId": req(STR),
                            "country": req(STR),
                            "createdTimestamp": opt(NUM),
                            "locale": opt(STR),
                            "email": opt(STR),
                            "name": opt(STR),
                            "zipCode": opt(STR),
                            "gender": opt(STR),
                        }
                    )
                )
            }
        ),
    ),
    "UserId": (UserId, Obj({"userId": req(STR)})),
    "LoginToken": (LoginToken, Obj({"token": req(STR)})),
    "PlaySessionList": (
        PlaySessionList,
        Obj({"items": req(Arr(Obj({"id": req(STR), "revoked": req(BOOL)})))}),
    ),
    "PlaySessionRevocation": (PlaySessionRevocation, Obj({"revoked": req(BOOL)})),
    "OfferEntitlementList": (
        OfferEntitlementList,
        Obj(
            {
                "entitlements": opt(
                    Arr(
                        Obj(
                            {
                                "offerId": req(STR),
                                "purchasedAt": req(DateTime()),
                                "expiry": opt(DateTime()),
                                "offerType": req(STR),
                                "source": opt(STR),
                                "message": opt(STR),
                            }
                        )
                    )
                )
            }
        ),
    ),
    "EntitlementResults": (
        EntitlementResults,
        Obj(
            {
                "results": req(
                    Arr(
                        Obj(
                            {
                                "offerId": req(STR),
                                "successOutput": opt(ENTITLEMENT_SUCCESS),
                                "failureMessage": opt(STR),
                            }
                        )
                    )
                )
            }
        ),
    ),
    "RatingSystemList": (RatingSystemList, Obj({"ratingSystems": req(Arr(RATING_SYSTEM))})),
    "RatingSystemEnvelope": (RatingSystemEnvelope, Obj({"ratingSystem": req(RATING_SYSTEM)})),
    "SubtitleJobList": (SubtitleJobList, Obj({"subtitleJobs": req(Arr(SUBTITLE_JOB))})),
    "SubtitleJobEnvelope": (SubtitleJobEnvelope, Obj({"subtitleJob": req(SUBTITLE_JOB)})),
    "SubtitleRequestAccepted": (SubtitleRequestAccepted, Obj({"requestId": req(STR)})),
    "TranscodeAccepted": (
        TranscodeAccepted,
        Obj({"id": req(STR), "sourceId": req(STR), "viewableId": opt(STR)}),
    ),
    "ProvisionedUser": (
        ProvisionedUser,
        Obj({"userId": req(STR), "resellerClaimDate": req(Date())}),
    ),
    "ErrorBody": (ErrorBody, Obj({"errorCode": req(STR), "messages": req(STRS)})),
    "segments": (list[str], STRS),
    "test": (str, STR),
}


# --------------------------------------------------------------------------- the generator

_text = st.text(max_size=10)
_finite = st.floats(allow_nan=False, allow_infinity=False)
_numbers = st.integers() | _finite | st.integers(0, 2**33).map(float)  # 1623853814.0 and kin
_offsets = st.integers(-1439, 1439).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
_any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _finite | _text,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_text, inner, max_size=2),
    max_leaves=4,
)
_unknown_key_lists = st.lists(
    _text | st.sampled_from(["x-trace", "productionYear", "credits", "_links"]),
    max_size=2,
    unique=True,
)


def _rfc3339(moment: dt.datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def json_of(tp: Type, *, nulls: bool = False, unknowns: bool = True) -> st.SearchStrategy[Any]:
    """JSON values of type ``tp``. With ``nulls`` optional properties may also be null; with
    ``unknowns`` objects get properties the document does not define."""
    if isinstance(tp, Num):
        return _numbers
    if isinstance(tp, Int):
        return st.integers(min_value=tp.minimum)
    if isinstance(tp, Str):
        return _text
    if isinstance(tp, Bool):
        return st.booleans()
    if isinstance(tp, Date):
        return st.dates().map(dt.date.isoformat)
    if isinstance(tp, DateTime):
        return st.datetimes(
            min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=_offsets
        ).map(_rfc3339)
    if isinstance(tp, OneOf):
        return st.sampled_from(tp.values)
    if isinstance(tp, Arr):
        return st.lists(json_of(tp.item, nulls=nulls, unknowns=unknowns), max_size=2)
    assert isinstance(tp, Obj)
    return _objects(tp, nulls, unknowns)


@st.composite
def _objects(draw: st.DrawFn, tp: Obj, nulls: bool, unknowns: bool) -> dict[str, Any]:
    pairs: list[tuple[str, Any]] = []
    for name, prop in tp.props.items():
        if not prop.required and draw(st.booleans()):
            continue  # optional: absent
        if nulls and not prop.required and draw(st.booleans()):
            pairs.append((name, None))
        else:
            pairs.append((name, draw(json_of(prop.type, nulls=nulls, unknowns=unknowns))))
    for key in draw(_unknown_key_lists) if unknowns else ():
        if key not in tp.props:
            pairs.append((key, draw(_any_json)))
    return dict(draw(st.permutations(pairs)))


# --------------------------------------------------------------------------- the checker


def _attr(wire: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", wire).lower()


def strictly_equal(a: Any, b: Any) -> bool:
    """Equal JSON values of the same types all the way down (``1`` and ``1.0`` differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(strictly_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def same_values(a: Any, b: Any) -> bool:
    """As :func:`strictly_equal`, but object keys may come in any order."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_values(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def assert_kept(tp: Type, sent: Any, got: Any, path: str = "$", *, nulls: bool = False) -> None:
    """Every documented value of ``sent`` is in the decoded ``got``, with the same form.

    With ``nulls`` (optional properties may have been sent as null), a metadata property
    holding a null somewhere may stay untyped (``UNSET``): it is then checked as JSON."""
    if sent is None:
        assert got is None or got is UNSET, path
    elif isinstance(tp, Num | Int):
        assert type(got) is type(sent) and got == sent, f"{path}: {got!r} != {sent!r}"
    elif isinstance(tp, Bool):
        assert got is sent, path
    elif isinstance(tp, Str | OneOf):
        assert got == sent, path
    elif isinstance(tp, Date):
        assert got == dt.date.fromisoformat(sent), path
    elif isinstance(tp, DateTime):
        assert got.tzinfo is not None, path
        assert got == dt.datetime.fromisoformat(sent.replace("Z", "+00:00")), path
    elif isinstance(tp, Arr):
        assert len(got) == len(sent), path
        for i, (item_sent, item_got) in enumerate(zip(sent, got, strict=True)):
            assert_kept(tp.item, item_sent, item_got, f"{path}[{i}]", nulls=nulls)
    else:
        assert isinstance(tp, Obj)
        if tp.open:  # all of it, unknown properties and their nested values included
            assert isinstance(got, ViewableMetadata)
            assert same_values(got.to_dict(), sent), path
        for key, value in sent.items():
            prop = tp.props.get(key)
            if prop is None:
                continue  # unknown to the document: tolerated (kept only by open objects)
            typed = getattr(got, _attr(key))
            if nulls and tp.open and typed is UNSET and "null" in json.dumps(value):
                continue  # kept as received: checked by to_dict() above
            assert_kept(prop.type, value, typed, f"{path}.{key}", nulls=nulls)


def _outside_model(tp: Type, value: Any) -> bool:
    """True if the viewable metadata inside ``value`` holds anything the fast path refuses."""
    if value is None:
        return False  # a null outside the metadata is an optional property left empty
    if isinstance(tp, Arr):
        return any(_outside_model(tp.item, v) for v in value)
    if not isinstance(tp, Obj) or not isinstance(value, dict):
        return False
    if tp is METADATA:
        return _foreign(tp, value)
    return any(k in tp.props and _outside_model(tp.props[k].type, v) for k, v in value.items())


def _foreign(tp: Type, value: Any) -> bool:
    """A property unknown to the model, or a null, anywhere in ``value``."""
    if value is None:
        return True
    if isinstance(tp, Arr):
        return any(_foreign(tp.item, v) for v in value)
    if isinstance(tp, Obj):
        return any(
            key not in tp.props or _foreign(tp.props[key].type, item) for key, item in value.items()
        )
    return False


# --------------------------------------------------------------------------- properties

SMALL = [name for name in RESPONSES if name not in ("Viewable", "ViewablePage")]
PAGE = RESPONSES["ViewablePage"][1]


@pytest.mark.parametrize("name", SMALL)
@given(data=st.data())
def test_documented_responses_decode_without_losing_values(name: str, data: st.DataObject) -> None:
    model, schema = RESPONSES[name]
    nulls, unknowns = data.draw(st.booleans(), "nulls"), data.draw(st.booleans(), "unknowns")
    doc = data.draw(json_of(schema, nulls=nulls, unknowns=unknowns), label="document")
    decoded = decode(json.dumps(doc).encode(), model)
    assert_kept(schema, doc, decoded, nulls=nulls)


@given(nulls=st.booleans(), unknowns=st.booleans(), data=st.data())
def test_viewable_metadata_round_trips_from_get_to_put(
    nulls: bool, unknowns: bool, data: st.DataObject
) -> None:
    doc = data.draw(json_of(VIEWABLE, nulls=nulls, unknowns=unknowns), label="GET body")
    viewable = decode(json.dumps(doc).encode(), Viewable)
    assert_kept(VIEWABLE, doc, viewable, nulls=nulls)
    body = encode(ViewableInput(metadata=viewable.metadata, publish=viewable.publish))
    sent = json.loads(body)["metadata"]
    assert same_values(sent, doc["metadata"])
    if _outside_model(VIEWABLE, doc):  # kept as received: the same text, byte for byte
        assert encode(viewable.metadata) == json.dumps(doc["metadata"]).encode()
        assert strictly_equal(sent, doc["metadata"])


@given(nulls=st.booleans(), unknowns=st.booleans(), data=st.data())
def test_viewable_pages_decode_on_either_path_alike(
    nulls: bool, unknowns: bool, data: st.DataObject
) -> None:
    doc = data.draw(json_of(PAGE, nulls=nulls, unknowns=unknowns), label="page")
    raw = json.dumps(doc).encode()
    exact = msgspec.json.decode(raw, type=ViewablePage)  # the lossless path only
    assert_kept(PAGE, doc, exact, nulls=nulls)
    assert decode(raw, ViewablePage) == exact
    refusals = [_outside_model(VIEWABLE, v) for v in doc["viewables"]]
    try:
        fast = msgspec.json.decode(raw, type=_FastViewablePage)
    except msgspec.ValidationError:
        assert any(refusals)  # the twin refuses only what it cannot keep
    else:
        assert not any(refusals)  # ... and everything else, floats included, it decodes
        assert fast == exact
    for item, refused in zip(doc["viewables"], refusals, strict=True):
        one = json.dumps(item).encode()
        try:
            fast_one = msgspec.json.decode(one, type=_FastViewable)
        except msgspec.ValidationError:
            assert refused
        else:
            assert not refused
            assert fast_one == msgspec.json.decode(one, type=Viewable)
