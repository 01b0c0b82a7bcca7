"""Micro-benchmark: decoding viewable pages with lossless metadata vs a plain msgspec Struct.

Run:  python tests/models/bench_viewable_decode.py [--pages N]

"plain" is the same set of known fields declared as ordinary msgspec Structs (metadata as a
Struct, extra properties dropped), once with msgspec's default ``gc=True`` and once with
``gc=False`` like the SDK models. Each variant decodes a page of 100 viewables of ~1.5 KB and
reads ``metadata.title`` of every item; the figure is the best of several rounds, per viewable.
Not collected by pytest (the file name does not start with ``test_``).
"""

import argparse
import json
import time
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from magine_async.models import ViewablePage, decoder_for


def _viewable(i: int, extras: bool) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "kind": "movie",
        "title": f"Demo movie {i}",
        "synopsis": "A descriptive text about the movie that goes on for a while, " * 3,
        "genres": ["Drama", "Romance", "Action"],
        "labels": ["pack:gold", "offer:basic"],
        "viewableWindowStart": 1623920603,
        "viewableWindowEnd": 1723920603,
        "countryWhitelist": ["se", "dk", "fr", "us"],
        "ratings": [{"system": "sm-sa", "rating": "15", "reasons": ["violence"]}],
        "customId": f"cid-{i}",
        "images": [
            {
                "type": "poster",
                "filename": "https://images.example.com/i/magine-pro-demo/v/c346d955-3834.jpg",
            }
        ],
    }
    if extras:
        metadata["partnerRef"] = {"system": "erp", "ids": [1, 2, 3]}
        metadata["productionYear"] = 1999
    return {
        "id": "60bbb98e-2794-450b-9c8c-b1f022db7a60",
        "partnerId": "magine-pro-demo",
        "metadata": metadata,
        "createdAt": 1623853814,
        "modifiedAt": 1623853814,
        "publish": True,
        "vods": [
            {
                "assetId": "cac10231-b376-4493-b5ad-f27d95d9b8b3",
                "source": "magine-pro-demo",
                "sourceId": "mpl-moe-aac-platform-test-001",
                "status": "transcoded",
                "createdAt": 1623854732,
                "modifiedAt": 1623854927,
                "vodPipeline": "mediaconvert",
                "viewableId": "60bbb98e-2794-450b-9c8c-b1f022db7a60",
                "drmActivated": True,
                "drmType": "normal",
                "subtitleLanguages": ["eng", "ell"],
                "subtitleTracks": [
                    {"language": "eng", "subtitleType": "normal"},
                    {"language": "ell", "subtitleType": "normal"},
                ],
                "audioLanguages": ["eng"],
                "sourceResolution": {"width": 1920, "height": 1080},
                "audioChansPerLang": [{"channels": 6, "language": "eng"}],
            }
        ],
    }


def _page(extras: bool) -> bytes:
    items = [_viewable(i, extras) for i in range(100)]
    return json.dumps({"viewables": items, "cursor": "WzE1NTI2NDQ0MDgsIjc1YyJd"}).encode()


def _plain_page_type(gc: bool) -> Any:
    class B(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True, gc=gc):
        pass

    class Rating(B, kw_only=True):
        system: str
        rating: str
        reasons: list[str] | UnsetType = UNSET

    class Image(B, kw_only=True):
        type: str
        filename: str

    class Meta(B, kw_only=True):
        kind: str
        title: str
        synopsis: str | UnsetType = UNSET
        genres: list[str] | UnsetType = UNSET
        labels: list[str] | UnsetType = UNSET
        viewable_window_start: int | UnsetType = UNSET
        viewable_window_end: int | UnsetType = UNSET
        country_blacklist: list[str] | UnsetType = UNSET
        country_whitelist: list[str] | UnsetType = UNSET
        show_id: str | UnsetType = UNSET
        season: int | UnsetType = UNSET
        episode: int | UnsetType = UNSET
        ratings: list[Rating] | UnsetType = UNSET
        custom_id: str | UnsetType = UNSET
        images: list[Image] | UnsetType = UNSET

    class Track(B, kw_only=True):
        language: str
        subtitle_type: str

    class Res(B, kw_only=True):
        width: int
        height: int

    class Chans(B, kw_only=True):
        channels: int
        language: str

    class Rights(B, kw_only=True):
        source_id: str
        offline_available: bool

    class Vod(B, kw_only=True):
        asset_id: str
        source: str
        source_id: str
        status: str
        created_at: int | None = None
        modified_at: int | None = None
        rights: Rights | None = None
        publish: bool | None = None
        vod_pipeline: str
        duration: int | float | None = None
        viewable_id: str | None = None
        drm_activated: bool
        drm_type: str | None = None
        subtitle_languages: list[str] | None = None
        subtitle_tracks: list[Track] | None = None
        audio_languages: list[str] | None = None
        source_resolution: Res | None = None
        audio_chans_per_lang: list[Chans] | None = None

    class Viewable(B, kw_only=True):
        id: str
        partner_id: str
        metadata: Meta
        created_at: int
        modified_at: int
        publish: bool
        vods: list[Vod] | None = None

    class Page(B, kw_only=True):
        viewables: list[Viewable]
        cursor: str | None = None

    return Page


def _best(decoder: Any, data: bytes, rounds: int, pages: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(pages):
            for v in decoder.decode(data).viewables:
                v.metadata.title  # noqa: B018 - reading a field is part of the measurement
        best = min(best, time.perf_counter() - start)
    return best / (pages * 100) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()
    decoders = {
        "plain Struct (gc=True)": msgspec.json.Decoder(_plain_page_type(True)),
        "plain Struct (gc=False)": msgspec.json.Decoder(_plain_page_type(False)),
        "magine_async ViewablePage": decoder_for(ViewablePage),
    }
    for extras in (False, True):
        data = _page(extras)
        size = len(data) // 100
        results = {name: float("inf") for name in decoders}
        for _ in range(3):  # interleave to even out machine noise
            for name, dec in decoders.items():
                results[name] = min(results[name], _best(dec, data, args.rounds, args.pages))
        label = "with 2 extra properties" if extras else "no extra properties"
        print(f"{label}, ~{size} bytes per viewable, microseconds per viewable:")
        ours = results["magine_async ViewablePage"]
        for name, us in results.items():
            print(
                f"  {name:28s} {us:6.2f} us   magine_async speed relative to it: {us / ours:4.2f}x"
            )


if __name__ == "__main__":
    main()
