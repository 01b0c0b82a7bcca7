"""How the sandbox spells its answers: the documented media types, and document-valid variants.

One layer, applied to every API answer just before it is sent (:func:`representation_middleware`):

``plain``   (default) the handlers' JSON as it is, with the media type the document prints for
            the operation and status (``application/json`` where it prints none).
``varied``  the same answers in other spellings the document allows, decided by a seeded
            random draw keyed by the answer itself (so the same answer to the same request is
            spelled the same way for a seed, whatever the order of requests):

            * a ``number`` may come as a float: ``n.0``, or ``n.5`` where a fraction keeps the
              meaning (platform-set timestamps and durations; not counts such as season,
              episode or channels, nor values a client writes back); ``integer`` stays an int;
            * an optional property is left out where leaving it out says the same thing (an
              empty list; ``drmType`` at its documented default ``normal``); the listing
              ``cursor`` and an entitlement result's ``successOutput``/``failureMessage`` are
              never left out, nor is anything required;
            * unknown properties (``x-sandbox-*``, of any JSON type, null included) appear in
              documented objects: the top level, list items, ``metadata``, vods, tracks, images;
            * keys come in a shuffled order;
            * the media type's ``charset`` is spelled ``;charset=utf-8`` or ``; charset=UTF-8``
              (where the document prints a charset), or may also be left out (where it does not:
              RFC 8259 defines no charset for JSON, adding one has no effect).
``sparse``  ``varied``, and every optional property (other than those three) is left out whatever
            its value: answers then no longer echo the state faithfully. For decoder tests.

The document marks no property nullable, so no documented property is ever sent as null.
The transform works on a decoded copy of the body: the stored state is never touched, and the
``x-sandbox-*`` properties a client sends back are dropped from request bodies
(:func:`strip_variants`) so they never become stored data. Plain mode costs one dict lookup
per answer; the pre-encoded viewable pages are decoded and re-encoded only when varied.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from ._responses import JSON, JSON_UTF8, RESPONSES, Arr, Node, Num, Obj, answer, body_shape

REPRESENTATIONS = ("plain", "varied", "sparse")
VARIANT_PREFIX = "x-sandbox-"

_CHARSET_SPELLINGS = (JSON_UTF8, "application/json; charset=UTF-8")
_JSON_SPELLINGS = (JSON, *_CHARSET_SPELLINGS)
_EXTRA_RATE = 0.5  # share of objects that get unknown properties
_OMIT_RATE = 0.5  # share of omissible properties left out (varied)
_EXTRA_NAMES = ("note", "revision", "links", "flags", "hint", "region", "score", "labels", "etag")
_EXTRA_VALUES: tuple[Any, ...] = (
    "sandbox",
    "",
    0,
    2.5,
    -1,
    True,
    False,
    None,
    [],
    [1, "two", None, 3.5],
    {},
    {"nested": {"deep": [1.5, None, {"x": "y"}]}},
)
_MAX_SAFE_INT = 2**53
_ITEMS_SENTINEL = "\x00magine-sandbox-page-items\x00"
DEFAULT_ITEM_CACHE = 25_000

_decode = msgspec.json.decode
_encode = msgspec.json.encode


class Representation:
    """Which representation a sandbox answers in; mutable at runtime (read on every answer).

    ``Representation("varied", seed=3)``. ``seed`` defaults to the sandbox's seed when the
    sandbox is given only the mode name.
    """

    def __init__(
        self, mode: str = "plain", *, seed: int = 0, item_cache: int = DEFAULT_ITEM_CACHE
    ) -> None:
        self.mode = mode
        self.seed = seed
        self.item_cache = item_cache
        """How many varied page items to remember (0: none); a page item is spelled the same
        way in every page it appears in, so repeated scans reuse the spelling."""
        self._items: dict[tuple[str, int, str, bytes], bytes] = {}

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in REPRESENTATIONS:
            raise ValueError(
                f"unknown representation {value!r}; expected one of {', '.join(REPRESENTATIONS)}"
            )
        self._mode = value

    @property
    def plain(self) -> bool:
        return self._mode == "plain"

    def __repr__(self) -> str:
        return f"Representation({self._mode!r}, seed={self.seed})"

    def rng(self, operation: str, status: int, body: bytes) -> random.Random:
        """The draw for one answer: seed, operation, status and the body's own bytes."""
        key = f"magine-sandbox-repr:{self.seed}:{operation}:{status}:{zlib.crc32(body)}"
        return random.Random(key)

    def media_type(
        self, operation: str, status: int, has_body: bool, rng: random.Random | None = None
    ) -> str | None:
        """The Content-Type for an answer (None: send none). ``rng`` None: the plain one."""
        documented = answer(operation, status)
        printed = documented.media_type if documented is not None else None
        if rng is None or self.plain:
            return printed or (JSON if has_body else None)
        if printed == JSON_UTF8:
            return rng.choice(_CHARSET_SPELLINGS)
        if printed is not None or has_body:
            return rng.choice(_JSON_SPELLINGS)
        return None

    def vary(self, operation: str, status: int, body: bytes, rng: random.Random) -> bytes:
        """A document-valid variant of the JSON ``body`` of ``operation``'s ``status`` answer."""
        shape = body_shape(operation, status)
        if shape is None:
            return body
        vary = _compiled(shape)
        if vary is None:
            return body
        context = _Context(rng, sparse=self._mode == "sparse")
        return _encode(vary(_decode(body), context))

    def vary_page(self, operation: str, status: int, parts: PageParts, rng: random.Random) -> bytes:
        """Like :meth:`vary` for a page put together from pre-encoded items: each item is
        varied on its own (seeded by its own bytes, remembered), then the frame around them."""
        shape = body_shape(operation, status)
        field = shape.fields.get(parts.name) if isinstance(shape, Obj) else None
        frame_vary = _compiled(shape) if shape is not None else None
        if field is None or not isinstance(field.node, Arr) or frame_vary is None:
            frame = {parts.name: [_decode(item) for item in parts.items], **parts.rest}
            return self.vary(operation, status, _encode(frame), rng)
        sparse = self._mode == "sparse"
        item_vary = _compiled(field.node.items)
        cache, limit, seed, mode = self._items, self.item_cache, self.seed, self._mode
        varied: list[bytes] = []
        for item in parts.items:
            key = (mode, seed, operation, item)
            spelled = cache.get(key)
            if spelled is None:
                if item_vary is None:
                    spelled = item
                else:
                    item_rng = random.Random(
                        f"magine-sandbox-repr:{seed}:{operation}:item:{zlib.crc32(item)}"
                    )
                    spelled = _encode(item_vary(_decode(item), _Context(item_rng, sparse=sparse)))
                if limit > 0:
                    if len(cache) >= limit:
                        cache.clear()
                    cache[key] = spelled
            varied.append(spelled)
        context = _Context(rng, sparse=sparse)
        frame = frame_vary({parts.name: _ITEMS_SENTINEL, **parts.rest}, context)
        return _encode(frame).replace(_encode(_ITEMS_SENTINEL), b"[" + b",".join(varied) + b"]", 1)


# -- the transform -----------------------------------------------------------------------


class _Context:
    __slots__ = ("choice", "random", "sparse")

    def __init__(self, rng: random.Random, *, sparse: bool) -> None:
        self.random = rng.random
        self.choice = rng.choice
        self.sparse = sparse


Vary = Callable[[Any, _Context], Any]
_COMPILED: dict[int, tuple[Node, Vary | None]] = {}


def _compiled(node: Node) -> Vary | None:
    """The transform for values of shape ``node`` (None: values pass through as they are)."""
    cached = _COMPILED.get(id(node))
    if cached is not None and cached[0] is node:
        return cached[1]
    vary: Vary | None
    if isinstance(node, Num):
        vary = _number(node.fraction)
    elif isinstance(node, Arr):
        vary = _array(node)
    elif isinstance(node, Obj):
        vary = _object(node)
    else:
        vary = None
    _COMPILED[id(node)] = (node, vary)
    return vary


def _number(fraction: bool) -> Vary:
    third = 1 / 3

    def vary_number(value: Any, ctx: _Context) -> Any:
        if type(value) is not int or not -_MAX_SAFE_INT < value < _MAX_SAFE_INT:
            return value
        draw = ctx.random()
        if draw < third:
            return value
        if fraction and draw >= 2 * third:
            return value + 0.5
        return float(value)

    return vary_number


def _array(node: Arr) -> Vary | None:
    item = _compiled(node.items)
    if item is None:
        return None

    def vary_array(value: Any, ctx: _Context) -> Any:
        if type(value) is not list:
            return value
        return [item(element, ctx) for element in value]

    return vary_array


def _object(node: Obj) -> Vary:
    # name -> (omissible, absent-like values, nullable, transform of the value)
    fields = {
        name: (f.omissible, f.absent_like, f.nullable, _compiled(f.node))
        for name, f in node.fields.items()
    }
    lookup = fields.get

    def vary_object(value: Any, ctx: _Context) -> Any:
        if type(value) is not dict:
            return value
        rnd = ctx.random
        sparse = ctx.sparse
        items: list[tuple[str, Any]] = []
        append = items.append
        for key, item in value.items():
            entry = lookup(key)
            if entry is None:  # unknown to the document: data, passed through untouched
                append((key, item))
                continue
            omissible, absent_like, nullable, vary = entry
            if omissible and (sparse or (item in absent_like and rnd() < _OMIT_RATE)):
                if nullable and rnd() < 0.5:
                    append((key, None))
                continue
            append((key, item if vary is None or item is None else vary(item, ctx)))
        if rnd() < _EXTRA_RATE:
            name = VARIANT_PREFIX + ctx.choice(_EXTRA_NAMES)
            if name not in value:
                append((name, ctx.choice(_EXTRA_VALUES)))
        return dict(_reorder(items, rnd))

    return vary_object


def _reorder(items: list[tuple[str, Any]], rnd: Callable[[], float]) -> list[tuple[str, Any]]:
    """Another key order: rotated, maybe reversed, one pair swapped (cheaper than a shuffle,
    and every key is as likely to come first)."""
    n = len(items)
    if n < 2:
        return items
    k = int(rnd() * n)
    out = items[k:] + items[:k]
    if rnd() < 0.5:
        out.reverse()
    i, j = int(rnd() * n), int(rnd() * n)
    out[i], out[j] = out[j], out[i]
    return out


def strip_variants(value: Any) -> Any:
    """``value`` without the ``x-sandbox-*`` properties a varied sandbox adds (at any depth).

    The sandbox applies it to request bodies when it is not plain; tests comparing what they
    read with what they wrote can apply it to what they read."""
    if isinstance(value, dict):
        return {
            key: strip_variants(item)
            for key, item in value.items()
            if not (isinstance(key, str) and key.startswith(VARIANT_PREFIX))
        }
    if isinstance(value, list):
        return [strip_variants(item) for item in value]
    return value


# -- the layer ---------------------------------------------------------------------------

REPRESENTATION = web.AppKey("magine_sandbox_representation", Representation)


class PageParts(NamedTuple):
    """A page answer as a handler put it together: ``{name: [*items], **rest}``."""

    name: str
    items: list[bytes]  # pre-encoded JSON values
    rest: dict[str, Any]


PAGE_PARTS = web.ResponseKey("magine_sandbox_page_parts", PageParts)


@web.middleware
async def representation_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every API answer its media type and, unless plain, its varied spelling."""
    response = await handler(request)
    operation = request.match_info.route.name
    if operation is None or operation not in RESPONSES or not isinstance(response, web.Response):
        return response
    representation = request.app[REPRESENTATION]
    body = response.body
    has_body = isinstance(body, bytes) and len(body) > 0
    status = response.status
    if representation.plain:
        media = representation.media_type(operation, status, has_body)
    else:
        rng = representation.rng(operation, status, body if isinstance(body, bytes) else b"")
        if has_body and response.content_type == JSON:
            assert isinstance(body, bytes)
            parts = response.get(PAGE_PARTS)
            response.body = (
                representation.vary(operation, status, body, rng)
                if parts is None
                else representation.vary_page(operation, status, parts, rng)
            )
        media = representation.media_type(operation, status, has_body, rng)
    if media is not None and response.headers.get("Content-Type") != media:
        response.headers["Content-Type"] = media
    return response


__all__ = [
    "PAGE_PARTS",
    "REPRESENTATION",
    "REPRESENTATIONS",
    "VARIANT_PREFIX",
    "PageParts",
    "Representation",
    "representation_middleware",
    "strip_variants",
]
