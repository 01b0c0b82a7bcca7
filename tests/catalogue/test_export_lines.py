"""What the export writes for each viewable, against a scripted server that controls every byte.

Each line is the viewable exactly as the server sent it (insignificant whitespace removed), so
it does not depend on the rest of the page; since-last compares viewables by their JSON value
(key order, whitespace, escapes and number spellings aside).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from magine_async import MagineClient
from magine_async.catalogue import (
    Checkpoint,
    CheckpointOutput,
    NewestSeen,
    export_catalogue,
    line_digest,
    load_checkpoint,
)
from magine_async.models import ViewablePage, decoder_for

from ..support import Reply, ScriptedServer

JSON = {"Content-Type": "application/json"}


def page(*items: bytes, cursor: str | None = None, pretty: bool = False) -> Reply:
    """A ``GET /partner/viewables`` answer holding ``items`` byte for byte."""
    sep, indent = (b",\n  ", b"\n  ") if pretty else (b",", b"")
    body = b'{"viewables":[' + indent + sep.join(items) + b"]"
    if cursor is not None:
        body += b',"cursor":' + json.dumps(cursor).encode()
    return (200, body + b"}", JSON)


def viewable(vid: str, modified_at: str, metadata: str = "", tail: str = "") -> bytes:
    """A compact viewable; ``metadata`` and ``tail`` are JSON text spliced in as they are."""
    md = metadata or f'{{"kind":"movie","title":"{vid}"}}'
    return (
        f'{{"id":"{vid}","partnerId":"p","metadata":{md},"createdAt":1600000000,'
        f'"modifiedAt":{modified_at},"publish":true{tail}}}'
    ).encode()


# A viewable whose metadata keys are not in the SDK model's order, and neighbours for it: one
# the SDK models completely, one with a metadata property the SDK does not know.
ORDERED_ODDLY = viewable("a", "1700000100", '{"title":"A","genres":["Drama"],"kind":"movie"}')
MODELLED = viewable("plain", "1700000000")
UNKNOWN_PROPERTY = viewable(
    "unknown", "1700000100", '{"kind":"movie","title":"U","productionYear":1984}'
)


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def ids_of(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in lines_of(path)]


@pytest.fixture
def fresh_fast_path(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Undo the viewable page decoder's back-off after an earlier refusal (its state is
    process-wide), so that a page the SDK models completely takes the fast decoding path as
    it would in a process of its own."""
    dec = decoder_for(ViewablePage)

    def reset() -> None:
        if hasattr(dec, "_skip"):
            monkeypatch.setattr(dec, "_skip", 0)

    return reset


async def test_an_unchanged_viewable_is_the_same_bytes_whatever_its_neighbours(
    server: ScriptedServer, client: MagineClient, tmp_path: Path, fresh_fast_path: Any
) -> None:
    cp = tmp_path / "cp.json"
    first = tmp_path / "first.jsonl"
    fresh_fast_path()
    server.script(page(MODELLED, ORDERED_ODDLY))  # no neighbour with an unknown property
    done = await export_catalogue(client, first, checkpoint=cp)
    assert done.newest.modified_at == 1_700_000_100 and set(done.newest.ids) == {"a"}

    # Since last: the unchanged viewable comes back next to one with an unknown property.
    changes = tmp_path / "changes.jsonl"
    fresh_fast_path()
    server.script(page(UNKNOWN_PROPERTY, ORDERED_ODDLY))
    since = await export_catalogue(client, changes, checkpoint=cp, since_last=True)
    assert server.seen[-1].query == "modifiedAfter=1700000099"
    assert ids_of(changes) == ["unknown"]
    assert since.counts.items == 1 and since.counts.skipped == 1

    # A full export with that neighbour writes it as the same bytes as the first one did.
    again = tmp_path / "again.jsonl"
    fresh_fast_path()
    server.script(page(UNKNOWN_PROPERTY, ORDERED_ODDLY))
    await export_catalogue(client, again, checkpoint=tmp_path / "cp2.json")
    assert lines_of(first)[1] == lines_of(again)[1] == ORDERED_ODDLY


async def test_unknown_properties_anywhere_survive_byte_exact(
    server: ScriptedServer, client: MagineClient, tmp_path: Path, fresh_fast_path: Any
) -> None:
    odd = viewable(
        "x",
        "1700000000.250",
        '{"title":"Caf\\u00e9 \\/ \\"X\\"","kind":"podcast",'
        '"studio":{"name":"North","tags":["a",null,{"deep":[1.50,2e3,-0.0]}]},'
        '"ratings":[{"system":"s","rating":"7","scheme":{"v":2}}],"season":1.0}',
        ',"vods":[{"assetId":"d7347da2-b07a-46f6-b3d3-956fa1326591","source":"p",'
        '"sourceId":"s1","status":"transcoded","vodPipeline":"mediaconvert",'
        '"drmActivated":true,"x-note":{"k":[]}}],"x-top":{"a":[true,false,null,1E+2]}',
    )
    out = tmp_path / "c.jsonl"
    fresh_fast_path()
    server.script(page(MODELLED, odd, ORDERED_ODDLY))
    await export_catalogue(client, out)
    assert lines_of(out) == [MODELLED, odd, ORDERED_ODDLY]


async def test_a_pretty_printed_page_is_written_one_compact_line_per_viewable(
    server: ScriptedServer, client: MagineClient, tmp_path: Path
) -> None:
    spaced = (
        b'{\n    "id" : "s",\n    "partnerId": "p",\n    "metadata": {"kind": "movie",'
        b' "title": "Two  spaces, kept"},\n    "createdAt": 1600000000,\n'
        b'    "modifiedAt": 1700000000,\n    "publish": true\n  }'
    )
    out = tmp_path / "c.jsonl"
    server.script(page(spaced, MODELLED, pretty=True))
    await export_catalogue(client, out)
    assert lines_of(out) == [
        b'{"id":"s","partnerId":"p","metadata":{"kind":"movie","title":"Two  spaces, kept"},'
        b'"createdAt":1600000000,"modifiedAt":1700000000,"publish":true}',
        MODELLED,
    ]


async def test_since_last_skips_a_viewable_the_server_spells_differently(
    server: ScriptedServer, client: MagineClient, tmp_path: Path
) -> None:
    cp = tmp_path / "cp.json"
    server.script(page(MODELLED, ORDERED_ODDLY))
    await export_catalogue(client, tmp_path / "all.jsonl", checkpoint=cp)
    # The same JSON value: other key order, whitespace, escapes and number spellings.
    respelled = (
        b'{ "modifiedAt": 1.7000001e9, "id": "a", "publish": true, "partnerId": "\\u0070",'
        b' "createdAt": 1600000000.0, "metadata": {"kind": "movie", "genres": ["Drama"],'
        b' "title": "\\u0041"} }'
    )
    assert line_digest(respelled) == line_digest(ORDERED_ODDLY)
    changed = viewable("a", "1700000100", '{"title":"A","genres":["Drama "],"kind":"movie"}')
    assert line_digest(changed) != line_digest(ORDERED_ODDLY)

    changes = tmp_path / "changes.jsonl"
    server.script(page(respelled))
    since = await export_catalogue(client, changes, checkpoint=cp, since_last=True)
    assert lines_of(changes) == [] and since.counts.skipped == 1
    server.script(page(changed))
    since = await export_catalogue(client, changes, checkpoint=cp, since_last=True)
    assert lines_of(changes) == [changed] and since.counts.skipped == 0


async def test_fractional_modified_at_since_last_skips_every_unchanged_viewable(
    server: ScriptedServer, client: MagineClient, tmp_path: Path
) -> None:
    """``modifiedAt`` is a ``number``: fractions must not make since-last export anything twice.

    ``modifiedAfter`` is whole seconds, so the next run asks for everything after the second
    before the newest one: that may bring back viewables of two seconds, not one.
    """
    items = [
        viewable("early", "1699999998.5"),  # not asked for again
        viewable("prev-second", "1699999999.5"),  # > 1699999999: asked for again
        viewable("same-second", "1700000000"),
        viewable("newest", "1700000000.75"),
        viewable("fraction", "1700000000.25"),
    ]
    cp = tmp_path / "cp.json"
    server.script(page(*items[:2], cursor="c1"), page(*items[2:]))
    first = await export_catalogue(client, tmp_path / "all.jsonl", checkpoint=cp)
    assert first.newest.modified_at == 1_700_000_000.75
    stored = load_checkpoint(cp)
    assert stored is not None and stored.newest == first.newest

    changes = tmp_path / "changes.jsonl"
    server.script(page(*items[1:]))  # what modifiedAfter=1699999999 returns, unchanged
    quiet = await export_catalogue(client, changes, checkpoint=cp, since_last=True)
    assert server.seen[-1].query == "modifiedAfter=1699999999"
    assert lines_of(changes) == []
    assert quiet.counts.skipped == 4 and quiet.newest == first.newest

    # One of them modified again in the same second: exported, the others still skipped.
    touched = viewable("fraction", "1700000000.5", '{"kind":"movie","title":"changed"}')
    server.script(page(items[1], items[2], items[3], touched))
    since = await export_catalogue(client, changes, checkpoint=cp, since_last=True)
    assert lines_of(changes) == [touched] and since.counts.skipped == 3


def test_the_newest_window_follows_the_newest_second() -> None:
    """Unit view of the same rule, one ``observe`` at a time."""

    class Item:
        def __init__(self, vid: str, modified_at: float) -> None:
            self.id = vid
            self.modified_at = modified_at

    seen = NewestSeen()
    for vid, moment in [("a", 5), ("b", 9.5), ("c", 8.25), ("d", 9), ("e", 7.75), ("f", 9.5)]:
        seen.observe(Item(vid, moment), viewable(vid, str(moment)))
    assert seen.modified_at == 9.5
    assert set(seen.ids) == {"b", "f"}
    assert set(seen.earlier) == {"c", "d"}  # after 8, the second before the newest one
    seen.observe(Item("g", 10), viewable("g", "10"))
    assert set(seen.ids) == {"g"} and set(seen.earlier) == {"b", "f"}  # 9 is not after 9
    seen.observe(Item("h", 12), viewable("h", "12"))
    assert set(seen.ids) == {"h"} and seen.earlier == {}
    skip = seen.as_skip()
    assert skip is not None and skip.holds(Item("h", 12), viewable("h", "12"))
    assert not skip.holds(Item("h", 12.5), viewable("h", "12.5"))


# -- viewables that cannot be read -----------------------------------------------------------


async def test_a_viewable_that_cannot_be_read_is_left_out_counted_and_recorded(
    server: ScriptedServer, client: MagineClient, tmp_path: Path
) -> None:
    no_id = b'{"partnerId":"p","metadata":{"kind":"movie","title":"No Id"},"modifiedAt":1}'
    bad_time = viewable("bad-time", '"yesterday"')
    server.script(
        page(viewable("one", "1700000000"), no_id, viewable("two", "1700000001"), cursor="c1"),
        page(b"42", bad_time, viewable("three", "1700000002.5")),
    )
    out = tmp_path / "c.jsonl"
    cp = await export_catalogue(client, out)
    assert ids_of(out) == ["one", "two", "three"]
    assert cp.complete and cp.counts.items == 3 and cp.counts.rejected == 3
    assert [(r.page, r.index) for r in cp.rejected] == [(1, 1), (2, 0), (2, 1)]
    assert [r.id for r in cp.rejected] == [None, None, "bad-time"]
    assert "`id`" in cp.rejected[0].reason and "modifiedAt" in cp.rejected[2].reason
    assert cp.rejected[0].excerpt == no_id.decode()
    assert cp.rejected[1].request_cursor == "c1"
    stored = load_checkpoint(f"{out}.checkpoint.json")
    assert stored is not None and stored.rejected == cp.rejected
    assert cp.newest.modified_at == 1_700_000_002.5


def test_a_checkpoint_keeps_a_bounded_record_of_rejected_viewables() -> None:
    cp = Checkpoint(output=CheckpointOutput(path="/x"))
    for index in range(250):
        cp.reject(page=1, index=index, cursor=None, item=b"[" * 5000, reason="not an object")
    assert cp.counts.rejected == 250 and len(cp.rejected) == 100
    assert all(len(r.excerpt) <= 200 for r in cp.rejected)
