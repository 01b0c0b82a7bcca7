"""The seeded generator: deterministic, realistic, about 1.5 KB a viewable, reversible ids."""

from __future__ import annotations

from collections import Counter
from itertools import islice

import msgspec

from magine_async.sandbox import CatalogueGenerator, SandboxState


def _docs(seed: int, count: int) -> list[bytes]:
    return [blob for blob, *_ in CatalogueGenerator(seed, "p").viewables(count)]


def test_same_seed_same_catalogue() -> None:
    assert _docs(3, 200) == _docs(3, 200)
    assert _docs(3, 200) != _docs(4, 200)


def test_realistic_mix_and_size() -> None:
    blobs = _docs(1, 3000)
    docs = [msgspec.json.decode(b) for b in blobs]
    average = sum(map(len, blobs)) / len(blobs)
    assert 1200 <= average <= 1900
    kinds = Counter(d["metadata"]["kind"] for d in docs)
    assert {"movie", "episode", "show", "program", "trailer", "channel"} == set(kinds)
    ids = {d["id"] for d in docs}
    assert len(ids) == len(docs)
    shows = {d["id"] for d in docs if d["metadata"]["kind"] == "show"}
    channels = {d["id"] for d in docs if d["metadata"]["kind"] == "channel"}
    for doc in docs:
        meta = doc["metadata"]
        assert meta["ratings"][0]["system"] == "sm-sa"
        assert [img["type"] for img in meta["images"]] == ["poster", "sixteen-nine"]
        if meta["kind"] == "episode":
            assert meta["showId"] in shows
        if meta["kind"] in ("movie", "episode", "trailer"):
            [vod] = doc["vods"]
            assert vod["subtitleTracks"]
            assert vod["viewableId"] == doc["id"]
        if meta["kind"] == "program":
            assert all(b["channelViewableId"] in channels for b in doc["broadcasts"])
        if meta["kind"] == "channel":
            assert doc["id"].isdigit()
            assert doc["channelPlayable"]["id"] == doc["id"]


def test_identifiers_map_back_to_positions() -> None:
    generator = CatalogueGenerator(9, "p")
    for index, (blob, _, _, _) in enumerate(islice(generator.viewables(500), 500)):
        doc = msgspec.json.decode(blob)
        assert generator.index_from_id(doc["id"]) == index
        assert generator.index_from_custom_id(doc["metadata"]["customId"]) == index
        for vod in doc.get("vods", []):
            assert generator.index_from_asset_id(vod["assetId"]) == index
            assert generator.index_from_source_id(vod["sourceId"]) == index
    assert generator.index_from_id("not-an-id") is None
    assert generator.index_from_custom_id("ext-zz") is None


def test_state_generates_users_and_offers() -> None:
    state = SandboxState(seed=2, viewables=10, users=25)
    again = SandboxState(seed=2, viewables=10, users=25)
    assert list(state.users) == list(again.users)
    assert len({u.email for u in state.users.values()}) == 25
    assert any(u.entitlements for u in state.users.values())
    assert any(o.offer_type == "ThirdPartyType" for o in state.offers.values())
    assert state.catalogue.blobs == again.catalogue.blobs
