"""Varied and sparse representations: document-valid spellings of the plain answers.

The same requests go to a plain sandbox and to a varied one built from the same seed (same
state, frozen clock); every varied answer must say what the plain one says, spelled as the
document allows: floats for ``number`` (``n.0``, or ``n.5`` where a fraction keeps the meaning),
ints kept for ``integer``, only optional properties left out and only where that says the same,
unknown ``x-sandbox-*`` properties, another key order, a charset spelling.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest

from magine_async.sandbox import (
    VARIANT_PREFIX,
    Representation,
    Sandbox,
    SandboxClock,
    strip_variants,
)
from magine_async.sandbox._representation import _compiled, _Context
from magine_async.sandbox._responses import STRING, Arr, Field, Node, Num, Obj, body_shape

from .conftest import T0, Api
from .test_sandbox_media import SRT, TRANSCODE, _generated_asset

UTF8_SPELLINGS = {"application/json;charset=utf-8", "application/json; charset=UTF-8"}
JSON_SPELLINGS = {"application/json", *UTF8_SPELLINGS}

Answer = tuple[str, int, str | None, bytes]  # operation, status, Content-Type, body


def _sandbox(representation: str | Representation = "plain") -> Sandbox:
    return Sandbox(
        viewables=120, users=4, seed=7, clock=SandboxClock(start=T0), representation=representation
    )


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _exercise(sb: Sandbox, http: aiohttp.ClientSession) -> list[Answer]:
    """A fixed walk through most operations; the answers in order."""
    api = Api(sb, http)
    answers: list[Answer] = []

    async def call(operation: str, method: str, path: str, **kwargs: Any) -> Any:
        async with http.request(
            method, sb.base_url + path, headers=api.headers(), **kwargs
        ) as response:
            raw = await response.read()
            answers.append((operation, response.status, response.headers.get("Content-Type"), raw))
            return msgspec.json.decode(raw) if raw else None

    cursor = None
    while True:
        params = {"size": "25"} | ({"cursor": cursor} if cursor else {})
        page = await call("viewables.list", "GET", "/partner/viewables", params=params)
        cursor = page.get("cursor")
        if not cursor:
            break
    await call("viewables.list", "GET", "/partner/viewables", params={"size": "0"})
    for index in (0, 1, 2, 5, 7):
        vid = sb.state.catalogue.doc(index)["id"]
        await call("viewables.get", "GET", f"/partner/viewables/{vid}")
    metadata = {
        "kind": "movie",
        "title": "Varied",
        "genres": [],
        "ratings": [{"system": "sm-sa", "rating": "btl", "reasons": []}],
        "productionInfo": {"studio": {"ids": [1, 2.0, None]}},
    }
    created = await call(
        "viewables.create", "POST", "/partner/viewables", json={"metadata": metadata}
    )
    vid = created["id"]
    await call(
        "viewables.patch", "PATCH", f"/partner/viewables/{vid}", json={"patch": {"title": "V"}}
    )
    image = {"sourceType": "http", "uri": "https://example.com/p.jpg"}
    await call("viewables.images.put", "PUT", f"/partner/viewables/{vid}/images/poster", json=image)
    await call("viewables.get", "GET", "/partner/viewables/00000000-0000-4000-8000-000000000000")
    user_id = next(iter(sb.state.users))
    u = f"/partner/users/{user_id}"
    await call("users.get", "GET", u)
    await call("entitlements.list", "GET", f"{u}/entitlements")
    await call("entitlements.create", "POST", f"{u}/entitlements", json=[{"offerId": "rent-48h"}])
    both = [{"offerId": "rent-48h"}, {"offerId": "pass-7-days"}]
    await call("entitlements.create", "POST", f"{u}/entitlements", json=both)
    await call("users.segments.list", "GET", f"{u}/segments")
    await call("play_sessions.list", "GET", f"{u}/play-sessions")
    await call("users.get", "GET", "/partner/users/NOSUCHUSER")
    await call(
        "parental_control.rating_systems.list", "GET", "/partner/parental-control/rating-systems"
    )
    await call("partner.test", "GET", "/partner/test")
    job = await call("transcode.create", "POST", "/partner/transcode/asset", json=TRANSCODE)
    await call("transcode.get", "GET", f"/partner/transcode/asset/{job['id']}")
    await call("transcode.create", "POST", "/partner/transcode/asset", json={"drm": True})
    asset_id, _ = _generated_asset(sb)
    await call("transcode.get", "GET", f"/partner/transcode/asset/{asset_id}")
    s = f"/partner/playables/{asset_id}/subtitle-requests"
    upload = {"subtitleData": base64.b64encode(SRT).decode(), "subtitleLanguage": "swe"}
    request = await call("subtitles.create", "POST", s, json=upload)
    await call("subtitles.get", "GET", f"{s}/{request['requestId']}")
    return answers


def _check(plain: Any, varied: Any, node: Node | None, where: str, seen: Counter[str]) -> None:
    """``varied`` says what ``plain`` says, spelled as the document lets ``node`` be spelled."""
    if isinstance(node, Obj) and isinstance(plain, dict):
        assert isinstance(varied, dict), where
        added = [key for key in varied if key.startswith(VARIANT_PREFIX)]
        if added:
            seen[f"unknown in {where or 'top'}"] += 1
        kept = [key for key in varied if not key.startswith(VARIANT_PREFIX)]
        assert set(kept) <= set(plain), where
        if kept != [key for key in plain if key in varied]:
            seen["reordered"] += 1
        for key, value in plain.items():
            field = node.fields.get(key)
            if key not in varied:
                assert field is not None and field.omissible, f"{where}.{key} left out"
                assert seen["sparse"] or value in field.absent_like, f"{where}.{key} lost"
                seen["omitted"] += 1
            elif field is None:  # unknown to the document: exactly as stored
                assert msgspec.json.encode(varied[key]) == msgspec.json.encode(value), key
            else:
                _check(value, varied[key], field.node, key, seen)
    elif isinstance(node, Arr) and isinstance(plain, list):
        assert isinstance(varied, list) and len(varied) == len(plain), where
        for p, v in zip(plain, varied, strict=True):
            _check(p, v, node.items, f"{where}[]", seen)
    elif isinstance(node, Num) and type(varied) is float and type(plain) is int:
        seen["float"] += 1
        if varied != plain:
            assert node.fraction and varied == plain + 0.5, where
            seen["half"] += 1
    else:  # strings, booleans, integers, enums: exactly the same value and type
        assert type(varied) is type(plain) and varied == plain, where


def _compare(plain: list[Answer], varied: list[Answer], seen: Counter[str]) -> None:
    assert len(plain) == len(varied)
    for (op, status, p_media, p_body), (v_op, v_status, v_media, v_body) in zip(
        plain, varied, strict=True
    ):
        assert (v_op, v_status) == (op, status)
        if p_media == "application/json;charset=utf-8":
            assert v_media in UTF8_SPELLINGS, op
        else:
            assert v_media in JSON_SPELLINGS, op
        seen[f"media {v_media}"] += 1
        shape = body_shape(op, status)
        _check(msgspec.json.decode(p_body), msgspec.json.decode(v_body), shape, "", seen)


async def test_varied_answers_are_document_valid_spellings_of_the_plain_ones(
    http: aiohttp.ClientSession,
) -> None:
    async with _sandbox() as sb:
        plain = await _exercise(sb, http)
        blobs = list(sb.state.catalogue.blobs)
    seen: Counter[str] = Counter()
    for seed in (1, 2, 3):
        async with _sandbox(Representation("varied", seed=seed)) as sb:
            _compare(plain, await _exercise(sb, http), seen)
            # the state is what the plain sandbox holds: the spelling never reaches it
            assert sb.state.catalogue.blobs == blobs
    assert seen["float"] > 100 and seen["half"] > 50 and seen["reordered"] > 100
    assert seen["omitted"] > 10
    assert {f"media {m}" for m in JSON_SPELLINGS} <= set(seen)
    for where in ("top", "viewables[]", "metadata", "ratings[]", "images[]", "vods[]"):
        assert seen[f"unknown in {where}"] > 0, where
    for where in ("subtitleTracks[]", "audioChansPerLang[]", "user", "results[]", "broadcasts[]"):
        assert seen[f"unknown in {where}"] > 0, where


async def test_sparse_leaves_out_every_optional_property_it_may(
    http: aiohttp.ClientSession,
) -> None:
    async with _sandbox() as sb:
        plain = await _exercise(sb, http)
    seen: Counter[str] = Counter({"sparse": 1})
    async with _sandbox("sparse") as sb:
        sparse = await _exercise(sb, http)
    _compare(plain, sparse, seen)
    pages = [msgspec.json.decode(body) for op, status, _, body in sparse[:5]]
    assert all("cursor" in page for page in pages[:-1]) and "cursor" not in pages[-1]
    for page in pages:
        for viewable in page["viewables"]:
            assert set(strip_variants(viewable)) == {
                "id",
                "partnerId",
                "metadata",
                "createdAt",
                "modifiedAt",
                "publish",
            }
            assert set(strip_variants(viewable["metadata"])) <= {
                "kind",
                "title",
                "customId",
                "images",
            }
    results = [
        strip_variants(msgspec.json.decode(body))["results"]
        for op, status, _, body in sparse
        if op == "entitlements.create"
    ]
    assert [sorted(r) for r in results[1]] == [
        ["failureMessage", "offerId"],
        ["offerId", "successOutput"],
    ]


async def test_a_seed_spells_the_same_answers_the_same_way(http: aiohttp.ClientSession) -> None:
    runs = []
    for seed in (4, 4, 5):
        async with _sandbox(Representation("varied", seed=seed)) as sb:
            runs.append([(media, body) for _, _, media, body in await _exercise(sb, http)])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


async def test_a_page_item_is_spelled_alike_in_every_page(http: aiohttp.ClientSession) -> None:
    async with _sandbox(Representation("varied", seed=2, item_cache=10)) as sb:
        api = Api(sb, http)
        _, small = await api.get("/partner/viewables", params={"size": "3"})
        _, large = await api.get("/partner/viewables", params={"size": "30"})
        assert large["viewables"][:3] == small["viewables"]
        assert len(sb.representation._items) <= 10  # the cache is bounded
        _, again = await api.get("/partner/viewables", params={"size": "30"})
        assert again == large


async def test_plain_pages_are_the_stored_bytes_joined(api: Api, sb: Sandbox) -> None:
    async with api.http.get(
        sb.base_url + "/partner/viewables", params={"size": "3"}, headers=api.headers()
    ) as response:
        body = await response.read()
    blobs = sb.state.catalogue.blobs
    cursor = msgspec.json.decode(body)["cursor"]
    expected = b'{"viewables":[' + b",".join(blobs[:3]) + b'],"cursor":"' + cursor.encode() + b'"}'
    assert body == expected


async def test_properties_a_client_sends_back_are_not_stored(http: aiohttp.ClientSession) -> None:
    async with _sandbox(Representation("varied", seed=1)) as sb:
        api = Api(sb, http)
        vid = sb.state.catalogue.doc(3)["id"]
        status, viewable = await api.get(f"/partner/viewables/{vid}")
        metadata = viewable["metadata"] | {"x-sandbox-note": 1, "partnerField": {"x-sandbox-a": 2}}
        metadata["ratings"] = [r | {"x-sandbox-hint": None} for r in metadata.get("ratings", [])]
        status, _ = await api.put(f"/partner/viewables/{vid}", json={"metadata": metadata})
        assert status == 200
        stored = sb.state.catalogue.doc(3)["metadata"]
        assert stored == strip_variants(metadata)
        assert stored["partnerField"] == {}
        assert not any(key.startswith(VARIANT_PREFIX) for key in stored)


async def test_the_representation_can_change_at_runtime(api: Api, sb: Sandbox) -> None:
    vid = sb.state.catalogue.doc(0)["id"]
    _, plain = await api.get(f"/partner/viewables/{vid}")
    sb.representation.mode = "sparse"
    _, sparse = await api.get(f"/partner/viewables/{vid}")
    assert "synopsis" in plain["metadata"] and "synopsis" not in sparse["metadata"]
    sb.representation.mode = "plain"
    assert (await api.get(f"/partner/viewables/{vid}"))[1] == plain
    assert "representation=" not in repr(sb)
    with pytest.raises(ValueError, match="unknown representation 'fancy'"):
        sb.representation.mode = "fancy"


def test_a_mode_name_takes_the_sandbox_seed() -> None:
    sb = Sandbox(seed=9, users=0, representation="varied")
    assert (sb.representation.mode, sb.representation.seed) == ("varied", 9)
    assert "representation=varied" in repr(sb)
    with pytest.raises(ValueError, match="expected one of plain, varied, sparse"):
        Sandbox(users=0, representation="random")


def test_a_nullable_optional_property_may_come_as_null_where_it_may_be_left_out() -> None:
    # the document marks no property nullable; the transform still honours the mark
    shape = Obj(
        {
            "a": Field(STRING, required=False, nullable=True, absent_like=("",)),
            "b": Field(STRING, required=True, nullable=True),
        }
    )
    spellings = set()
    for seed in range(40):
        representation = Representation("varied", seed=seed)
        rng = representation.rng("test", 200, b"")
        body = msgspec.json.encode({"a": "", "b": "x"})
        data = msgspec.json.decode(_vary(representation, shape, body, rng))
        assert data["b"] == "x"
        spellings.add(repr(data.get("a", "<absent>")))
    assert spellings == {"''", "None", "'<absent>'"}


def _vary(representation: Representation, shape: Obj, body: bytes, rng: Any) -> bytes:
    vary = _compiled(shape)
    assert vary is not None
    return msgspec.json.encode(vary(msgspec.json.decode(body), _Context(rng, sparse=False)))
