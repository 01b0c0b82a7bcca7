"""Viewables: cursor pagination, filters, create/replace/patch, customId, images."""

from __future__ import annotations

from typing import Any

import pytest

from magine_async.sandbox import Sandbox

from .conftest import Api

MOVIE: dict[str, Any] = {"metadata": {"kind": "movie", "title": "Terminator"}, "publish": False}


async def test_full_scan_returns_every_viewable_once(api: Api, sb: Sandbox) -> None:
    items = await api.scan(size=37)
    ids = [item["id"] for item in items]
    assert len(ids) == len(sb.state.catalogue) == 300
    assert len(set(ids)) == 300


async def test_page_shape_and_last_page_without_cursor(api: Api) -> None:
    status, body = await api.get("/partner/viewables", params={"size": "299"})
    assert status == 200
    assert len(body["viewables"]) == 299
    assert isinstance(body["cursor"], str)
    status, body = await api.get(
        "/partner/viewables", params={"size": "299", "cursor": body["cursor"]}
    )
    assert len(body["viewables"]) == 1
    assert "cursor" not in body
    viewable = body["viewables"][0]
    assert {"id", "partnerId", "metadata", "createdAt", "modifiedAt", "publish"} <= set(viewable)


async def test_items_created_during_a_scan_cause_no_duplicate_and_no_skip(
    api: Api, sb: Sandbox
) -> None:
    before = {item["id"] for item in await api.scan(size=50)}
    seen: list[str] = []
    created: list[str] = []
    cursor: str | None = None
    while True:
        params = {"size": "40"} | ({"cursor": cursor} if cursor else {})
        status, body = await api.get("/partner/viewables", params=params)
        assert status == 200
        seen.extend(item["id"] for item in body["viewables"])
        if len(created) < 5:
            for _ in range(3):
                status, new = await api.post("/partner/viewables", json=MOVIE)
                assert status == 201
                created.append(new["id"])
        cursor = body.get("cursor")
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert before <= set(seen)
    assert set(created) <= set(seen)  # appended at the end of the order


async def test_size_and_cursor_validation(api: Api) -> None:
    for size in ("0", "-1", "1.5", "abc", "100000"):
        status, body = await api.get("/partner/viewables", params={"size": size})
        assert status == 400, size
        assert body["errorCode"] == "invalidInput"
    status, body = await api.get("/partner/viewables", params={"cursor": "%%%not-base64"})
    assert status == 400
    assert body["errorCode"] == "invalidCursor"
    for field in ("createdAfter", "modifiedAfter"):
        status, _ = await api.get("/partner/viewables", params={field: "yesterday"})
        assert status == 400


async def test_title_filter(api: Api, sb: Sandbox) -> None:
    title = sb.state.catalogue.doc(10)["metadata"]["title"]
    items = await api.scan(title=title, size=2)
    assert items
    assert all(item["metadata"]["title"] == title for item in items)
    expected = sum(1 for t in sb.state.catalogue.titles if t == title)
    assert len(items) == expected
    assert await api.scan(title="No Such Title") == []


async def test_source_and_asset_id_filters(api: Api, sb: Sandbox) -> None:
    doc = next(d for d in (sb.state.catalogue.doc(i) for i in range(50)) if d.get("vods"))
    vod = doc["vods"][0]
    by_source = await api.scan(sourceId=vod["sourceId"])
    assert [item["id"] for item in by_source] == [doc["id"]]
    by_asset = await api.scan(assetId=vod["assetId"])
    assert [item["id"] for item in by_asset] == [doc["id"]]
    assert await api.scan(assetId="00000000-0000-4000-8000-000000000000") == []


async def test_created_and_modified_after_filters(api: Api, sb: Sandbox) -> None:
    catalogue = sb.state.catalogue
    middle = sorted(catalogue.created)[150]
    created = await api.scan(createdAfter=middle, size=25)
    assert created
    assert all(item["createdAt"] > middle for item in created)
    assert len(created) == sum(1 for c in catalogue.created if c > middle)
    pivot = sorted(catalogue.modified)[200]
    modified = await api.scan(modifiedAfter=pivot, size=25)
    assert len(modified) == sum(1 for m in catalogue.modified if m > pivot)
    both = await api.scan(createdAfter=middle, modifiedAfter=pivot)
    assert all(i["createdAt"] > middle and i["modifiedAt"] > pivot for i in both)


async def test_incremental_sync_sees_touched_and_new_viewables(api: Api, sb: Sandbox) -> None:
    mark = sb.clock()
    assert await api.scan(modifiedAfter=mark) == []
    sb.clock.advance(10)
    touched = sb.state.touch_viewables(7)
    status, new = await api.post("/partner/viewables", json=MOVIE)
    assert status == 201
    changed = await api.scan(modifiedAfter=mark, size=3)
    assert [item["id"] for item in changed][:7] == touched
    assert {item["id"] for item in changed} == {*touched, new["id"]}
    fresh = await api.scan(createdAfter=mark)
    assert [item["id"] for item in fresh] == [new["id"]]


async def test_create_get_and_custom_id(api: Api, sb: Sandbox) -> None:
    body = {
        "metadata": {
            "kind": "movie",
            "title": "Alien",
            "customId": "cid-1",
            "someExtra": {"kept": [1, 2]},
        },
        "publish": True,
    }
    status, created = await api.post("/partner/viewables", json=body)
    assert status == 201
    assert created["metadata"] == body["metadata"]
    assert created["partnerId"] == sb.state.partner_id
    assert created["createdAt"] == created["modifiedAt"] == int(sb.clock())
    assert created["publish"] is True
    assert await api.get(f"/partner/viewables/{created['id']}") == (200, created)
    assert await api.get("/partner/viewables/custom/cid-1") == (200, created)
    status, conflict = await api.post("/partner/viewables", json=body)
    assert status == 409
    assert conflict["errorCode"] == "customIdConflict"
    assert sb.counters["viewables.created"] == 1
    status, _ = await api.get("/partner/viewables/custom/unknown")
    assert status == 404


async def test_generated_custom_ids_resolve(api: Api, sb: Sandbox) -> None:
    doc = sb.state.catalogue.doc(123)
    status, body = await api.get(f"/partner/viewables/custom/{doc['metadata']['customId']}")
    assert status == 200
    assert body["id"] == doc["id"]
    status, body = await api.get(f"/partner/viewables/{doc['id']}")
    assert body == doc


@pytest.mark.parametrize(
    "metadata",
    [
        {"title": "no kind"},
        {"kind": "movie"},
        {"kind": "cartoon", "title": "x"},
        {"kind": "episode", "title": "no show"},
        {"kind": "movie", "title": "x", "genres": "Drama"},
        {"kind": "movie", "title": "x", "countryWhitelist": ["SE"]},
        {"kind": "movie", "title": "x", "showId": "not-a-uuid"},
        {"kind": "movie", "title": "x", "ratings": [{"system": "sm-sa"}]},
        {"kind": "movie", "title": "x", "viewableWindowStart": "soon"},
    ],
)
async def test_create_validation(api: Api, metadata: dict[str, Any]) -> None:
    status, body = await api.post("/partner/viewables", json={"metadata": metadata})
    assert status == 400
    assert body["errorCode"] == "invalidInput"
    status, _ = await api.post(
        "/partner/viewables", json={"metadata": {"kind": "movie", "title": "x"}, "publish": "yes"}
    )
    assert status == 400


async def test_put_replaces_metadata(api: Api, sb: Sandbox) -> None:
    catalogue = sb.state.catalogue
    doc = next(d for d in map(catalogue.doc, range(300)) if d["metadata"]["kind"] == "movie")
    sb.clock.advance(60)
    new = {"metadata": {"kind": doc["metadata"]["kind"], "title": "Replaced", "x": 1}}
    status, body = await api.put(f"/partner/viewables/{doc['id']}", json=new)
    assert status == 200
    assert body["metadata"] == new["metadata"]
    assert body["modifiedAt"] == int(sb.clock())
    assert body["createdAt"] == doc["createdAt"]
    assert body["publish"] == doc["publish"]
    assert body.get("vods") == doc.get("vods")
    status, again = await api.get(f"/partner/viewables/{doc['id']}")
    assert again == body


async def test_patch_merges_and_refuses_images(api: Api, sb: Sandbox) -> None:
    doc = sb.state.catalogue.doc(7)
    patch = {"patch": {"title": "Patched", "labels": ["a"], "synopsis": None}}
    status, body = await api.patch(f"/partner/viewables/{doc['id']}", json=patch)
    assert status == 200
    meta = body["metadata"]
    assert meta["title"] == "Patched"
    assert meta["labels"] == ["a"]
    assert "synopsis" not in meta
    assert meta["genres"] == doc["metadata"]["genres"]
    assert meta["images"] == doc["metadata"]["images"]
    status, err = await api.patch(f"/partner/viewables/{doc['id']}", json={"patch": {"images": []}})
    assert status == 400
    assert err["errorCode"] == "imagesNotPatchable"
    status, err = await api.patch(f"/partner/viewables/{doc['id']}", json={"title": "x"})
    assert status == 400


async def test_custom_id_conflicts_on_update(api: Api, sb: Sandbox) -> None:
    first, second = sb.state.catalogue.doc(20), sb.state.catalogue.doc(21)
    taken = first["metadata"]["customId"]
    status, body = await api.patch(
        f"/partner/viewables/{second['id']}", json={"patch": {"customId": taken}}
    )
    assert (status, body["errorCode"]) == (409, "customIdConflict")
    meta = dict(second["metadata"], customId=taken)
    status, _ = await api.put(f"/partner/viewables/{second['id']}", json={"metadata": meta})
    assert status == 409
    # a viewable may keep its own customId, and a freed customId can be reused
    status, _ = await api.put(
        f"/partner/viewables/{first['id']}",
        json={"metadata": dict(first["metadata"], customId="moved")},
    )
    assert status == 200
    status, _ = await api.put(f"/partner/viewables/{second['id']}", json={"metadata": meta})
    assert status == 200
    status, body = await api.get(f"/partner/viewables/custom/{taken}")
    assert body["id"] == second["id"]


async def test_unknown_and_malformed_viewable_ids(api: Api) -> None:
    for method in ("GET", "PUT", "PATCH"):
        status, body = await api.call(
            method, "/partner/viewables/b33617fe-a6c2-4f6d-a5bf-ab3c3ecc33a3", json=MOVIE
        )
        assert (status, body["errorCode"]) == (404, "viewableNotFound"), method
    status, _ = await api.get("/partner/viewables/999999999")
    assert status == 404
    status, body = await api.get("/partner/viewables/not-an-id")
    assert status == 400


async def test_images_put_and_delete(api: Api, sb: Sandbox) -> None:
    status, created = await api.post("/partner/viewables", json=MOVIE)
    path = f"/partner/viewables/{created['id']}/images/poster"
    status, body = await api.put(
        path, json={"sourceType": "http", "uri": "https://example.com/p.jpg"}
    )
    assert status == 200
    assert [img["type"] for img in body["metadata"]["images"]] == ["poster"]
    status, body = await api.put(
        path, json={"sourceType": "s3", "bucket": "b", "objectKey": "k/p.jpg"}
    )
    assert len(body["metadata"]["images"]) == 1
    sb.state.missing_image_keys.add("k/missing.jpg")
    status, body = await api.put(
        path, json={"sourceType": "s3", "bucket": "b", "objectKey": "k/missing.jpg"}
    )
    assert (status, body["errorCode"]) == (400, "imageNotFound")
    status, body = await api.put(path, json={"sourceType": "ftp"})
    assert status == 400
    status, body = await api.put(path, json={"sourceType": "s3", "bucket": "b"})
    assert status == 400
    status, body = await api.delete(path)
    assert status == 200
    assert body["metadata"]["images"] == []
    status, body = await api.delete(path)  # absent image type: still 200
    assert status == 200
    status, _ = await api.delete(
        "/partner/viewables/b33617fe-a6c2-4f6d-a5bf-ab3c3ecc33a3/images/poster"
    )
    assert status == 404


async def test_channel_viewables_have_digit_ids(api: Api, sb: Sandbox) -> None:
    status, channel = await api.get("/partner/viewables/2000000")
    assert status == 200
    assert channel["metadata"]["kind"] == "channel"
    assert channel["channelPlayable"]["id"] == "2000000"
    assert all(b["channelViewableId"] == "2000000" for b in channel["broadcasts"])
