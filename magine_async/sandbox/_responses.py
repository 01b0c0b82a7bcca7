"""What the API document says each operation answers: per status, a media type and a body shape.

Transcribed from ``magine-platform-api-v1.txt`` (``tests/sandbox/test_sandbox_responses_doc.py``
checks this table against the document's text). Only what a representation needs is kept:

* the media type printed for an operation and status (``None`` where the document prints none:
  the sandbox then answers ``application/json`` if there is a body);
* the body's shape: which properties are ``required``, which are optional (and so may be left
  out), which are typed ``number`` (so may be sent as floats), which are ``integer``.

Beyond the document: ``metadata.images`` (in the document's examples, not in its property
lists) is described as an extension so its items get the same treatment as documented objects;
it is never left out. An optional property whose absence tells something else than its value
(the listing ``cursor``: absent means last page; a creation result's ``successOutput`` /
``failureMessage``: which one is present tells the outcome) is marked ``keep``.
The document marks no property as nullable (no ``nil`` type anywhere), so nothing here is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"
JSON_UTF8 = "application/json;charset=utf-8"


# -- shapes ------------------------------------------------------------------------------


class Node:
    """A JSON value's shape."""

    __slots__ = ()

    @property
    def doc_type(self) -> str:
        """The type name the document prints (``string``, ``number``, ``object``, ...)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Leaf(Node):
    """A value passed through as it is: string, boolean, integer, enum, date, untyped."""

    type_name: str = "string"

    @property
    def doc_type(self) -> str:
        return self.type_name


@dataclass(frozen=True, slots=True)
class Num(Node):
    """A document ``number``. ``fraction``: a value with a fractional part keeps its meaning
    (a server-set timestamp or duration); identifier-like counts (season, episode, channels)
    and values a client writes back (viewable windows) only ever become ``n.0``."""

    fraction: bool = True

    @property
    def doc_type(self) -> str:
        return "number"


@dataclass(frozen=True, slots=True, eq=False)
class Field:
    node: Node
    required: bool
    keep: bool = False  # optional, but leaving it out would say something else
    nullable: bool = False
    absent_like: tuple[Any, ...] = ()  # values that say the same as leaving the property out
    in_doc: bool = True  # False: a sandbox extension (see module docstring)

    @property
    def omissible(self) -> bool:
        return not self.required and not self.keep and self.in_doc


@dataclass(frozen=True, slots=True, eq=False)
class Obj(Node):
    fields: Mapping[str, Field] = field(default_factory=dict)
    open: bool = False  # "Additional properties can be included": unknown keys are data

    @property
    def doc_type(self) -> str:
        return "object"


@dataclass(frozen=True, slots=True, eq=False)
class Arr(Node):
    items: Node = field(default_factory=Leaf)

    @property
    def doc_type(self) -> str:
        return "array"


def req(node: Node) -> Field:
    return Field(node, required=True)


def opt(node: Node, *, absent_like: tuple[Any, ...] = ()) -> Field:
    return Field(node, required=False, absent_like=absent_like)


def opt_list(node: Node) -> Field:
    """An optional list: an empty one says the same as none."""
    return Field(node, required=False, absent_like=([],))


def keep(node: Node) -> Field:
    return Field(node, required=False, keep=True)


def extension(node: Node) -> Field:
    return Field(node, required=False, in_doc=False)


STRING = Leaf("string")
BOOLEAN = Leaf("boolean")
INTEGER = Leaf("integer")
ENUM = Leaf("enum")
DATETIME = Leaf("datetime")
DATE_ONLY = Leaf("date-only")
UNTYPED_ARRAY = Leaf("array")  # "array of array": items the document does not describe
TIME = Num()  # seconds since the epoch, durations: set by the platform
COUNT = Num(fraction=False)
STRINGS = Arr(STRING)

ERROR = Obj({"errorCode": req(STRING), "messages": req(STRINGS)})

EXTENDED_RIGHTS = Obj({"pause": req(BOOLEAN), "rewind": req(BOOLEAN), "fastForward": req(BOOLEAN)})
CONTENT_RATING = Obj({"system": req(STRING), "rating": req(STRING), "reasons": opt_list(STRINGS)})
IMAGE = Obj({"type": req(STRING), "filename": req(STRING)})
METADATA = Obj(
    {
        "kind": req(ENUM),
        "title": req(STRING),
        "synopsis": opt(STRING),
        "genres": opt_list(STRINGS),
        "labels": opt_list(STRINGS),
        "viewableWindowStart": opt(COUNT),
        "viewableWindowEnd": opt(COUNT),
        "countryBlacklist": opt_list(STRINGS),
        # an empty whitelist may well mean "nowhere", unlike no whitelist
        "countryWhitelist": opt(STRINGS),
        "showId": opt(STRING),
        "season": opt(COUNT),
        "episode": opt(COUNT),
        "ratings": opt_list(Arr(CONTENT_RATING)),
        "images": extension(Arr(IMAGE)),
    },
    open=True,
)
VOD = Obj(
    {
        "assetId": req(STRING),
        "source": req(STRING),
        "sourceId": req(STRING),
        "status": req(ENUM),
        "createdAt": opt(TIME),
        "modifiedAt": opt(TIME),
        "rights": opt(Obj({"sourceId": req(STRING), "offlineAvailable": req(BOOLEAN)})),
        "publish": opt(BOOLEAN),
        "vodPipeline": req(ENUM),
        "duration": opt(TIME),
        "viewableId": opt(STRING),
        "drmActivated": req(BOOLEAN),
        # "if not set, defaults to normal"
        "drmType": opt(ENUM, absent_like=("normal",)),
        "subtitleLanguages": opt_list(STRINGS),
        "subtitleTracks": opt_list(Arr(Obj({"language": req(STRING), "subtitleType": req(ENUM)}))),
        "audioLanguages": opt_list(STRINGS),
        "sourceResolution": opt(Obj({"width": req(INTEGER), "height": req(INTEGER)})),
        "audioChansPerLang": opt_list(Arr(Obj({"channels": req(COUNT), "language": req(STRING)}))),
    }
)
LIVE_EVENT = Obj({"id": req(STRING), "startTimeUtc": req(TIME)})
BROADCAST = Obj(
    {
        "id": req(STRING),
        "sourceId": req(STRING),
        "startTimeUtc": req(TIME),
        "stopTimeUtc": req(TIME),
        "catchupFrom": req(TIME),
        "catchupTo": req(TIME),
        "channelViewableId": req(STRING),
        "duration": req(TIME),
        "extendedRights": req(EXTENDED_RIGHTS),
    }
)
CHANNEL_PLAYABLE = Obj(
    {
        "id": req(STRING),
        "streamId": req(STRING),
        "duration": req(TIME),
        "verifyAge": req(BOOLEAN),
        "extendedRights": req(EXTENDED_RIGHTS),
    }
)
VIEWABLE = Obj(
    {
        "id": req(STRING),
        "partnerId": req(STRING),
        "metadata": req(METADATA),
        "createdAt": req(TIME),
        "modifiedAt": req(TIME),
        "publish": req(BOOLEAN),
        "vods": opt_list(Arr(VOD)),
        "liveEvents": opt_list(Arr(LIVE_EVENT)),
        "broadcasts": opt_list(Arr(BROADCAST)),
        "channelPlayable": opt(CHANNEL_PLAYABLE),
    }
)
VIEWABLE_PAGE = Obj({"viewables": req(Arr(VIEWABLE)), "cursor": keep(STRING)})
RATING_SYSTEM = Obj(
    {
        "id": req(STRING),
        "name": req(STRING),
        "country": req(STRING),
        "ratings": req(UNTYPED_ARRAY),
    }
)
USER_ID = Obj({"userId": req(STRING)})
TOKEN = Obj({"token": req(STRING)})
PROVISIONED = Obj({"userId": req(STRING), "resellerClaimDate": req(DATE_ONLY)})
USER = Obj(
    {
        "user": req(
            Obj(
                {
                    "userId": req(STRING),
                    "country": req(STRING),
                    "createdTimestamp": opt(TIME),
                    "locale": opt(STRING),
                    "email": opt(STRING),
                    "name": opt(STRING),
                    "zipCode": opt(STRING),
                    "gender": opt(STRING),
                }
            )
        )
    }
)
ENTITLEMENTS = Obj(
    {
        "entitlements": opt_list(
            Arr(
                Obj(
                    {
                        "offerId": req(STRING),
                        "purchasedAt": req(DATETIME),
                        "expiry": opt(DATETIME),
                        "offerType": req(STRING),
                        "source": opt(STRING),
                        "message": opt(STRING),
                    }
                )
            )
        )
    }
)
CREATION_RESULTS = Obj(
    {
        "results": req(
            Arr(
                Obj(
                    {
                        "offerId": req(STRING),
                        "successOutput": keep(
                            Obj(
                                {
                                    "offerId": req(STRING),
                                    "offerType": req(STRING),
                                    "purchasedAt": req(DATETIME),
                                    "expiry": opt(DATETIME),
                                }
                            )
                        ),
                        "failureMessage": keep(STRING),
                    }
                )
            )
        )
    }
)
SUBTITLE_JOB = Obj(
    {
        "requestId": req(STRING),
        "requestType": req(ENUM),
        "playableId": req(STRING),
        "subtitleLanguage": req(STRING),
        "subtitleType": req(ENUM),
        "createdAt": req(TIME),
        "updatedAt": req(TIME),
        "status": req(ENUM),
        "errorMessage": opt(STRING),
    }
)
EMPTY_OBJECT = Obj()


# -- operations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One documented status of an operation. ``body`` None: the document gives no body."""

    media_type: str | None
    body: Node | None = None


def _ok(body: Node, media_type: str = JSON) -> Answer:
    return Answer(media_type, body)


_FAIL = Answer(JSON_UTF8, ERROR)  # an error the document prints the schema of
_BARE = Answer(None)  # a status the document lists with a description only

RESPONSES: dict[str, dict[int, Answer]] = {
    "reseller.test": {200: _ok(STRING, JSON_UTF8), 401: _FAIL, 404: _FAIL},
    "reseller.users.provision": {
        200: _ok(PROVISIONED),
        201: _ok(PROVISIONED),
        400: _BARE,
        401: _BARE,
        500: _BARE,
    },
    "reseller.users.auth": {200: _ok(TOKEN), 400: _BARE, 401: _BARE, 404: _BARE, 500: _BARE},
    "reseller.entitlements.put": {
        200: _ok(EMPTY_OBJECT),
        400: _BARE,
        401: _BARE,
        404: _BARE,
        500: _BARE,
    },
    "reseller.entitlements.delete": {
        200: _ok(EMPTY_OBJECT),
        400: _BARE,
        401: _BARE,
        404: _BARE,
        500: _BARE,
    },
    "partner.test": {200: _ok(STRING, JSON_UTF8), 401: _FAIL, 404: _FAIL},
    "viewables.list": {200: _ok(VIEWABLE_PAGE), 400: _FAIL, 500: _BARE},
    "viewables.create": {201: _ok(VIEWABLE), 409: _BARE},
    "viewables.get_by_custom_id": {200: _ok(VIEWABLE), 404: _BARE, 500: _BARE},
    "viewables.get": {200: _ok(VIEWABLE), 404: _BARE, 500: _BARE},
    "viewables.replace": {200: _ok(VIEWABLE), 404: _BARE, 409: _BARE},
    "viewables.patch": {200: _ok(VIEWABLE), 404: _BARE, 409: _BARE},
    "viewables.images.put": {200: _ok(VIEWABLE), 400: _BARE, 404: _BARE, 500: _BARE},
    "viewables.images.delete": {200: _ok(VIEWABLE), 404: _BARE, 500: _BARE},
    "parental_control.rating_systems.list": {
        200: _ok(Obj({"ratingSystems": req(Arr(RATING_SYSTEM))})),
        400: _BARE,
        500: _BARE,
    },
    "parental_control.rating_systems.get": {
        200: _ok(Obj({"ratingSystem": req(RATING_SYSTEM)})),
        404: _BARE,
        500: _BARE,
    },
    "users.lookup": {200: _ok(USER_ID), 400: _BARE, 401: _BARE, 404: _BARE, 500: _BARE},
    "users.create": {201: _ok(USER_ID), 400: _BARE, 401: _BARE, 409: _BARE, 500: _BARE},
    "users.auth": {200: _ok(TOKEN), 400: _BARE, 401: _BARE, 404: _BARE, 500: _BARE},
    "users.logout_all_devices": {202: _BARE, 400: _BARE, 401: _BARE, 404: _BARE, 500: _BARE},
    "users.set_password": {200: _BARE, 400: _BARE, 401: _BARE, 404: _BARE, 500: _BARE},
    "users.get": {200: _ok(USER), 400: _BARE, 401: _BARE, 404: _BARE, 500: _BARE},
    "users.patch": {204: _BARE, 400: _BARE, 401: _BARE, 404: _BARE, 500: _BARE},
    "users.delete": {204: _BARE, 400: _BARE, 401: _BARE, 404: _BARE, 500: _BARE},
    "entitlements.list": {200: _ok(ENTITLEMENTS), 400: _BARE, 401: _BARE, 404: _BARE, 500: _BARE},
    "entitlements.create": {
        201: _ok(CREATION_RESULTS),
        207: _ok(CREATION_RESULTS),
        400: _BARE,
        401: _BARE,
        404: _BARE,
        500: _BARE,
    },
    "entitlements.delete": {204: _BARE, 400: _BARE, 401: _BARE, 404: _BARE, 500: _BARE},
    "users.tags.add": {},
    "users.tags.remove": {},
    "users.segments.list": {200: _ok(STRINGS), 400: _FAIL, 401: _BARE, 404: _BARE, 500: _BARE},
    "users.segments.add": {
        202: _ok(EMPTY_OBJECT),
        400: _FAIL,
        401: _BARE,
        404: _BARE,
        500: _BARE,
    },
    # the document prints a JSON object body for this 204; a 204 carries none, so only the
    # media type is sent
    "users.segments.remove": {
        204: _ok(EMPTY_OBJECT),
        400: _FAIL,
        401: _BARE,
        404: _BARE,
        500: _BARE,
    },
    "play_sessions.list": {
        200: _ok(Obj({"items": req(Arr(Obj({"id": req(STRING), "revoked": req(BOOLEAN)})))})),
        400: _FAIL,
        401: _BARE,
        500: _BARE,
    },
    "play_sessions.revoke": {
        200: _ok(Obj({"revoked": req(BOOLEAN)})),
        400: _FAIL,
        401: _BARE,
        500: _BARE,
    },
    "subtitles.create": {202: _ok(Obj({"requestId": req(STRING)})), 400: _BARE, 401: _BARE},
    "subtitles.list": {200: _ok(Obj({"subtitleJobs": req(Arr(SUBTITLE_JOB))}))},
    "subtitles.get": {200: _ok(Obj({"subtitleJob": req(SUBTITLE_JOB)})), 404: _BARE},
    "subtitles.delete": {},
    "transcode.create": {
        202: _ok(Obj({"id": req(STRING), "sourceId": req(STRING), "viewableId": opt(STRING)})),
        400: _FAIL,
        401: _BARE,
        500: _BARE,
    },
    "transcode.get": {200: _ok(VOD)},
    "transcode.abort": {202: _BARE, 400: _FAIL, 401: _BARE, 404: _BARE, 500: _BARE},
}


def answer(operation: str, status: int) -> Answer | None:
    """The documented answer of ``operation`` with ``status``, or None if not documented."""
    statuses = RESPONSES.get(operation)
    return None if statuses is None else statuses.get(status)


def body_shape(operation: str, status: int) -> Node | None:
    """The shape to vary a body by: the documented one; for an undocumented (or schema-less)
    error status the document's shared error format; else None (passed through as it is)."""
    documented = answer(operation, status)
    if documented is not None and documented.body is not None:
        return documented.body
    return ERROR if status >= 400 else None


def flat_properties(node: Node) -> set[tuple[str, bool, str]]:
    """``(name, required, doc_type)`` of every documented property below ``node``."""
    found: set[tuple[str, bool, str]] = set()
    if isinstance(node, Arr):
        return flat_properties(node.items)
    if isinstance(node, Obj):
        for name, item in node.fields.items():
            if not item.in_doc:
                continue
            found.add((name, item.required, item.node.doc_type))
            found |= flat_properties(item.node)
    return found


__all__ = ["JSON", "JSON_UTF8", "RESPONSES", "Answer", "answer", "body_shape", "flat_properties"]
