"""The export engine (magine_async.catalogue) against the in-process sandbox."""

from __future__ import annotations

import fcntl
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from magine_async import MagineClient, catalogue
from magine_async.catalogue import (
    CHECKPOINT_VERSION,
    CLOCK_ALLOWANCE,
    Checkpoint,
    CheckpointOutput,
    ExportError,
    NewestSeen,
    export_catalogue,
    line_digest,
    load_checkpoint,
    plan_export,
)
from magine_async.models import Viewable, decode, encode
from magine_async.sandbox import Sandbox

from ..support import ScriptedServer
from .conftest import exported_ids, read_viewables

pytestmark = pytest.mark.sandbox(viewables=250, seed=3)


def sandbox_ids(sandbox: Sandbox) -> list[str]:
    catalogue = sandbox.state.catalogue
    return [str(catalogue.doc(i)["id"]) for i in range(len(catalogue))]


async def test_full_export_writes_every_viewable_once_with_its_checkpoint(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "catalogue.jsonl"
    pages: list[int] = []
    async with sandbox.client() as client:
        cp = await export_catalogue(
            client, out, page_size=40, on_page=lambda c: pages.append(c.counts.items)
        )
    assert exported_ids(out) == sandbox_ids(sandbox)
    assert pages == [40, 80, 120, 160, 200, 240, 250]  # one commit per page
    assert cp.complete and cp.cursor is None
    assert cp.counts.items == 250 and cp.counts.pages == 7 and cp.counts.skipped == 0
    assert cp.output.bytes == out.stat().st_size
    stored = load_checkpoint(tmp_path / "catalogue.jsonl.checkpoint.json")
    assert stored == cp
    newest = max(v.modified_at for v in read_viewables(out))
    assert cp.newest.modified_at == newest
    raw = json.loads((tmp_path / "catalogue.jsonl.checkpoint.json").read_text())
    assert raw["version"] == CHECKPOINT_VERSION and raw["status"] == "complete"
    assert raw["output"] == {"path": str(out.resolve()), "bytes": out.stat().st_size}


async def test_each_line_is_the_complete_viewable_unknown_properties_included(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    async with sandbox.client() as client:
        created = await client.viewables.create(
            {
                "kind": "movie",
                "title": "Keeps Extras",
                "productionYear": 1984,
                "studio": {"name": "North", "tags": ["a", None]},
            }
        )
        out = tmp_path / "c.jsonl"
        await export_catalogue(client, out)
        fetched = await client.viewables.get(created.value.id)
    lines = out.read_bytes().splitlines()
    assert len(lines) == 251
    last = json.loads(lines[-1])
    assert last["metadata"]["productionYear"] == 1984
    assert last["metadata"]["studio"] == {"name": "North", "tags": ["a", None]}
    assert decode(lines[-1], Viewable) == fetched
    assert lines[-1] == encode(fetched)


async def test_a_crash_between_output_and_checkpoint_is_undone_on_resume(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "c.jsonl"
    real = catalogue.write_atomically
    calls = 0

    def dies_at_the_fourth_checkpoint(path: Path, data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == 4:  # the initial checkpoint, pages 1 and 2, then page 3's: lost
            raise OSError("simulated crash before the checkpoint was replaced")
        real(path, data)

    monkeypatch.setattr(catalogue, "write_atomically", dies_at_the_fourth_checkpoint)
    async with sandbox.client() as client:
        with pytest.raises(OSError, match="simulated crash"):
            await export_catalogue(client, out, page_size=30)
        stored = load_checkpoint(tmp_path / "c.jsonl.checkpoint.json")
        assert stored is not None and stored.status == "running"
        assert stored.counts.items == 60
        assert out.stat().st_size > stored.output.bytes  # page 3 is in the file, unrecorded
        assert len(exported_ids(out)) == 90
        plan = plan_export(out, resume=True, source=client.base_url)
        assert plan.kind == "resume"
        cp = await plan.run(client)
    assert plan.discarded_bytes > 0
    ids = exported_ids(out)
    assert ids == sandbox_ids(sandbox)
    assert max(Counter(ids).values()) == 1
    assert cp.complete and cp.counts.items == 250 and cp.output.bytes == out.stat().st_size


async def export_then_mark_running(client: MagineClient, out: Path) -> Checkpoint:
    """Export ``out`` in pages of 100, then turn its checkpoint back to "running"."""
    await export_catalogue(client, out, page_size=100)
    stored = load_checkpoint(f"{out}.checkpoint.json")
    assert stored is not None
    stored.status = "running"
    catalogue.write_atomically(Path(f"{out}.checkpoint.json"), stored.to_json())
    return stored


async def test_a_torn_last_line_is_cut_off_on_resume(sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    async with sandbox.client() as client:
        stored = await export_then_mark_running(client, out)
        # Pretend the run died after page 1: the checkpoint of page 1, half of page 2 written.
        page1 = b"".join(out.read_bytes().splitlines(keepends=True)[:100])
        stored.output.bytes = len(page1)
        stored.counts.items = 100
        stored.counts.pages = 1
        stored.cursor = (await client.viewables.list(page_size=100)).cursor
        catalogue.write_atomically(tmp_path / "c.jsonl.checkpoint.json", stored.to_json())
        with out.open("r+b") as handle:
            handle.truncate(len(page1) + 777)  # a line torn in the middle
        await export_catalogue(client, out, resume=True)
    assert exported_ids(out) == sandbox_ids(sandbox)


async def test_resume_refuses_an_output_shorter_than_recorded(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "c.jsonl"
    async with sandbox.client() as client:
        await export_then_mark_running(client, out)
        out.write_bytes(b"")
        with pytest.raises(ExportError, match="holds 0 bytes but the checkpoint recorded"):
            await export_catalogue(client, out, resume=True)


async def test_an_interrupted_export_is_neither_overwritten_nor_resumed_by_accident(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    out = tmp_path / "c.jsonl"
    cp_path = tmp_path / "c.jsonl.checkpoint.json"
    running = Checkpoint(output=CheckpointOutput(path=str(out.resolve())))
    catalogue.write_atomically(cp_path, running.to_json())
    assert plan_export(out).kind == "full"  # no page committed yet: nothing to lose
    running.counts.pages = 1
    catalogue.write_atomically(cp_path, running.to_json())
    out.write_bytes(b"")
    with pytest.raises(ExportError, match="pass --resume to continue it, or --restart") as info:
        plan_export(out)
    assert info.value.usage
    with pytest.raises(ExportError, match="cannot be combined"):
        plan_export(out, resume=True, restart=True)
    with pytest.raises(ExportError, match="records an export to"):
        plan_export(tmp_path / "other.jsonl", checkpoint=cp_path, resume=True)
    with pytest.raises(ExportError, match="resume it without --page-size"):
        plan_export(out, resume=True, page_size=5)
    with pytest.raises(ExportError, match="nothing to resume"):
        plan_export(tmp_path / "new.jsonl", resume=True)
    async with sandbox.client() as client:
        cp = await export_catalogue(client, out, restart=True)
        assert cp.complete and exported_ids(out) == sandbox_ids(sandbox)
        again = plan_export(out, resume=True, source=client.base_url)
        assert again.kind == "done"
        assert await again.run(client) is again.checkpoint
        with pytest.raises(ExportError, match="records an export from"):
            plan_export(out, source="https://elsewhere.example/api/v1")


async def test_two_exports_never_write_one_file_at_once(sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    out.write_bytes(b"")
    with out.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        async with sandbox.client() as client:
            with pytest.raises(ExportError, match="another export is writing"):
                await export_catalogue(client, out)


async def test_modified_after_exports_only_later_viewables(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    catalogue_ = sandbox.state.catalogue
    moments = sorted(int(catalogue_.doc(i)["modifiedAt"]) for i in range(len(catalogue_)))
    cut = moments[199]
    out = tmp_path / "c.jsonl"
    async with sandbox.client() as client:
        cp = await export_catalogue(client, out, modified_after=cut, page_size=20)
    exported = read_viewables(out)
    assert sorted(v.modified_at for v in exported) == [m for m in moments if m > cut]
    assert cp.query.modified_after == cut


# -- since-last --------------------------------------------------------------------------


async def test_since_last_exports_exactly_the_modified_viewables(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cp_path = tmp_path / "cp.json"
    async with sandbox.client() as client:
        first = await export_catalogue(client, tmp_path / "all.jsonl", checkpoint=cp_path)
        touched = sandbox.state.touch_viewables(10)
        changes = tmp_path / "changes.jsonl"
        cp = await export_catalogue(client, changes, checkpoint=cp_path, since_last=True)
        assert sorted(exported_ids(changes)) == sorted(touched)
        assert cp.query.modified_after == first.newest.modified_at - 1  # type: ignore[operator]
        assert cp.counts.skipped == 1  # the newest viewable of the first run, unchanged
        assert set(cp.newest.ids) == set(touched)

        # Nothing changed since: nothing exported, and the watermark is kept.
        quiet = await export_catalogue(client, changes, checkpoint=cp_path, since_last=True)
        assert exported_ids(changes) == [] and quiet.counts.skipped == 10
        assert quiet.newest == cp.newest

        touched_again = sandbox.state.touch_viewables(3, start=5)
        await export_catalogue(client, changes, checkpoint=cp_path, since_last=True)
        assert sorted(exported_ids(changes)) == sorted(touched_again)


async def test_since_last_catches_a_change_in_the_same_second_as_the_newest(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cp_path = tmp_path / "cp.json"
    async with sandbox.client() as client:
        first = await export_catalogue(client, tmp_path / "all.jsonl", checkpoint=cp_path)
        newest = first.newest.modified_at
        assert newest is not None
        (newest_id,) = first.newest.ids
        # Within that same second, after the export read the catalogue: another viewable is
        # modified, and the newest one is changed again (same modifiedAt, new content).
        other = sandbox.state.touch_viewables(1, at=newest, start=17)
        store = sandbox.state.catalogue
        index = store.find_id(newest_id)
        assert index is not None
        doc = store.doc(index)
        doc["metadata"]["title"] = "Changed In The Same Second"
        store.replace(index, doc)
        changes = tmp_path / "changes.jsonl"
        cp = await export_catalogue(client, changes, checkpoint=cp_path, since_last=True)
    exported = read_viewables(changes)
    assert sorted(v.id for v in exported) == sorted([newest_id, *other])
    assert all(v.modified_at == newest for v in exported)
    assert cp.counts.skipped == 0


async def test_since_last_without_a_previous_run_exports_everything(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    plan = plan_export(tmp_path / "c.jsonl", since_last=True)
    assert plan.note is not None and "exporting everything" in plan.note
    async with sandbox.client() as client:
        await plan.run(client)
    assert exported_ids(tmp_path / "c.jsonl") == sandbox_ids(sandbox)


async def test_since_last_after_an_interrupted_since_last_restarts_from_the_same_point(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    cp_path = tmp_path / "cp.json"
    async with sandbox.client() as client:
        await export_catalogue(client, tmp_path / "all.jsonl", checkpoint=cp_path)
        touched = sandbox.state.touch_viewables(10)
        changes = tmp_path / "changes.jsonl"
        plan = plan_export(changes, checkpoint=cp_path, since_last=True, page_size=1)
        base = plan.checkpoint.query.modified_after
        # Interrupted after its first page:
        async for page in client.viewables.list(modified_after=base, page_size=1).pages():
            plan.checkpoint.cursor = page.cursor
            plan.checkpoint.counts.pages = 1
            break
        catalogue.write_atomically(cp_path, plan.checkpoint.to_json())
        with pytest.raises(ExportError, match="--resume"):
            plan_export(changes, checkpoint=cp_path, since_last=True)
        again = plan_export(changes, checkpoint=cp_path, since_last=True, restart=True)
        assert again.checkpoint.query.modified_after == base
        assert again.checkpoint.skip == plan.checkpoint.skip
        await again.run(client)
    assert sorted(exported_ids(changes)) == sorted(touched)


async def test_a_crowded_newest_second_is_exported_again_rather_than_missed(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogue, "MAX_NEWEST_IDS", 3)
    cp_path = tmp_path / "cp.json"
    crowd = sandbox.state.touch_viewables(5, at=1_900_000_000)
    async with sandbox.client() as client:
        first = await export_catalogue(client, tmp_path / "all.jsonl", checkpoint=cp_path)
        assert first.newest.modified_at == 1_900_000_000
        assert not first.newest.ids_complete and first.newest.ids == {}
        changes = tmp_path / "changes.jsonl"
        await export_catalogue(client, changes, checkpoint=cp_path, since_last=True)
    assert sorted(exported_ids(changes)) == sorted(crowd)


def test_next_since_last_starts_before_the_run_if_the_catalogue_moved_during_it() -> None:
    def finished(newest: int | None, started: int, after: int | None = None) -> Checkpoint:
        cp = Checkpoint(output=CheckpointOutput(path="/x"), status="complete")
        cp.newest.modified_at = newest
        if newest is not None:
            cp.newest.ids = {"a": "0" * 16}
        cp.started_at = started
        cp.query.modified_after = after
        return cp

    quiet = finished(newest=1_000, started=5_000)
    after, skip = quiet.next_since_last()
    assert after == 999 and skip is not None and skip.modified_at == 1_000
    busy = finished(newest=5_010, started=5_000)  # modified while the run went on
    after, skip = busy.next_since_last()
    assert after == 5_000 - CLOCK_ALLOWANCE - 1
    assert skip is not None and skip.modified_at == 5_010
    empty = finished(newest=None, started=5_000, after=1_000)
    assert empty.next_since_last() == (1_000, None)
    assert finished(newest=None, started=5_000).next_since_last() == (None, None)


def test_newest_seen_keeps_only_the_newest_second() -> None:
    seen = NewestSeen()

    def viewable(vid: str, modified_at: int) -> Viewable:
        return decode(
            json.dumps(
                {
                    "id": vid,
                    "partnerId": "p",
                    "metadata": {"kind": "movie", "title": vid},
                    "createdAt": 1,
                    "modifiedAt": modified_at,
                    "publish": True,
                }
            ),
            Viewable,
        )

    for vid, moment in [("a", 5), ("b", 9), ("c", 7), ("d", 9)]:
        item = viewable(vid, moment)
        seen.observe(item, encode(item))
    assert seen.modified_at == 9
    assert seen.ids == {"b": line_digest(encode(viewable("b", 9))), "d": seen.ids["d"]}


# -- the checkpoint file ------------------------------------------------------------------


def test_load_checkpoint_rejects_what_it_cannot_trust(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    assert load_checkpoint(path) is None
    path.write_text("{not json")
    with pytest.raises(ExportError, match="not JSON"):
        load_checkpoint(path)
    path.write_text('{"format": "something-else", "version": 1}')
    with pytest.raises(ExportError, match="not a catalogue export checkpoint"):
        load_checkpoint(path)
    path.write_text('{"format": "magine-async/catalogue-export", "version": 99}')
    with pytest.raises(ExportError, match="version 99 is not supported"):
        load_checkpoint(path)
    path.write_text('{"format": "magine-async/catalogue-export", "version": 1, "output": 3}')
    with pytest.raises(ExportError, match="damaged checkpoint"):
        load_checkpoint(path)


def test_the_checkpoint_is_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    catalogue.write_atomically(path, b"one")
    catalogue.write_atomically(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(os.listdir(tmp_path)) == ["cp.json"]  # no temporary file left behind


def test_a_fractional_modified_at_survives_the_checkpoint_and_the_next_since_last(
    tmp_path: Path,
) -> None:
    """The document types ``modifiedAt`` as ``number``: a float must not break the checkpoint."""
    item = decode(
        json.dumps(
            {
                "id": "a",
                "partnerId": "p",
                "metadata": {"kind": "movie", "title": "a"},
                "createdAt": 1.0,
                "modifiedAt": 1_700_000_000.5,
                "publish": True,
            }
        ),
        Viewable,
    )
    cp = Checkpoint(output=CheckpointOutput(path="/x"), status="complete")
    cp.newest.observe(item, encode(item))
    cp.started_at = 1_800_000_000
    path = tmp_path / "cp.json"
    path.write_bytes(cp.to_json())
    stored = load_checkpoint(path)
    assert stored is not None and stored.newest.modified_at == 1_700_000_000.5
    after, skip = stored.next_since_last()
    assert after == 1_699_999_999  # whole seconds, before the newest
    assert skip is not None and skip.holds(item, encode(item))


async def test_a_fractional_modified_after_is_sent_in_plain_decimal(
    server: ScriptedServer, client: MagineClient
) -> None:
    server.script((200, b'{"viewables": []}', {"Content-Type": "application/json"}))
    assert [v async for v in client.viewables.list(modified_after=1_700_000_000.25)] == []
    assert server.seen[0].query == "modifiedAfter=1700000000.25"
