"""The journal's format version, the commit listeners, what it refuses to store."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from magine_async import ConfigurationError
from magine_async.journal import FORMAT_VERSION, Journal, JournalEntry

pytestmark = pytest.mark.timeout(20)


def old_journal(path: Path) -> None:
    """A journal as magine_async wrote it before the key format changed (format 1)."""
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE rows (
            key TEXT PRIMARY KEY, status TEXT NOT NULL, error_code TEXT, http_status INTEGER,
            messages TEXT, trace_ids TEXT, result TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            elapsed REAL NOT NULL DEFAULT 0, runs INTEGER NOT NULL DEFAULT 1,
            updated_at REAL NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO meta VALUES ('schema', '1'), ('operation', 'entitle');
        INSERT INTO rows (key, status, updated_at) VALUES ('u:U1|gold,silver', 'succeeded', 0);
        """
    )
    connection.commit()
    connection.close()


@pytest.mark.parametrize("read_only", [False, True])
async def test_a_journal_of_the_old_key_format_is_refused_with_what_to_do(
    tmp_path: Path, read_only: bool
) -> None:
    path = tmp_path / "old.db"
    old_journal(path)
    with pytest.raises(ConfigurationError) as caught:
        await Journal(path, operation="entitle", read_only=read_only).open()
    message = str(caught.value)
    assert "format 1" in message and f"format {FORMAT_VERSION}" in message
    assert "new journal file" in message  # what to do
    # the old file is left as it was
    rows = sqlite3.connect(path).execute("SELECT key FROM rows").fetchall()
    assert rows == [("u:U1|gold,silver",)]


async def test_a_journal_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    async with Journal(path):
        pass
    connection = sqlite3.connect(path)
    connection.execute("UPDATE meta SET value = '99' WHERE name = 'schema'")
    connection.commit()
    connection.close()
    with pytest.raises(ConfigurationError, match="newer"):
        await Journal(path).open()


async def test_a_new_journal_records_its_format(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    async with Journal(path, operation="entitle"):
        pass
    meta = dict(sqlite3.connect(path).execute("SELECT name, value FROM meta").fetchall())
    assert meta["schema"] == FORMAT_VERSION == "2"


async def test_commit_listeners_get_each_batch_with_its_final_statuses(tmp_path: Path) -> None:
    batches: list[list[JournalEntry]] = []
    keys: list[list[str]] = []
    async with Journal(tmp_path / "run.db", batch_size=2, flush_interval=30) as journal:
        journal.on_commit = keys.append  # the old hook still works beside the new one
        journal.add_commit_listener(batches.append)
        journal.record_pending("p", {"requestId": "r1"})
        journal.record(
            "f",
            "failed",
            error_code="offerNotFound",
            http_status=404,
            messages=["no such offer"],
            trace_ids=["t1"],
            attempts=2,
        )
        journal.record("s", "succeeded", result={"userId": "U1"})
        await journal.flush()
        assert [[e.key for e in batch] for batch in batches] == [["f"], ["s"]]
        (failed,) = batches[0]
        assert (failed.status, failed.error_code, failed.http_status) == (
            "failed",
            "offerNotFound",
            404,
        )
        assert failed.messages == ("no such offer",) and failed.trace_ids == ("t1",)
        assert failed.attempts == 2
        assert batches[1][0].result == {"userId": "U1"}
        assert keys == [["f"], ["s"]]
        journal.remove_commit_listener(batches.append)
        journal.record("t", "already")
        await journal.flush()
        assert len(batches) == 2 and keys[-1] == ["t"]


async def test_a_listener_that_raises_does_not_stop_the_journal(tmp_path: Path) -> None:
    seen: list[str] = []

    def bad(entries: list[JournalEntry]) -> None:
        raise RuntimeError("listener bug")

    loop = asyncio.get_running_loop()
    errors: list[object] = []
    loop.set_exception_handler(lambda _, context: errors.append(context.get("exception")))
    try:
        async with Journal(tmp_path / "run.db") as journal:
            journal.add_commit_listener(bad)
            journal.add_commit_listener(lambda entries: seen.extend(e.key for e in entries))
            journal.record("a", "succeeded")
            await journal.flush()
            await asyncio.sleep(0)
            journal.record("b", "succeeded")
            await journal.flush()
            await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert seen == ["a", "b"]
    assert [e for e in (Journal.read(tmp_path / "run.db"))][1].key == "b"


async def test_a_result_that_cannot_be_json_encoded_is_refused_at_once(tmp_path: Path) -> None:
    circular: dict[str, object] = {}
    circular["self"] = circular
    async with Journal(tmp_path / "run.db") as journal:
        for bad in (circular, {(1, 2): "tuple key"}):
            with pytest.raises(ValueError, match="JSON"):
                journal.record("k", "succeeded", result=bad)
            with pytest.raises(ValueError, match="JSON"):
                journal.record_pending("k", bad)
        journal.record("ok", "succeeded", result={"when": "2024", "n": 1})
    assert [e.key for e in Journal.read(tmp_path / "run.db")] == ["ok"]


async def test_huge_messages_are_bounded_in_the_journal(tmp_path: Path) -> None:
    async with Journal(tmp_path / "run.db") as journal:
        journal.record(
            "k",
            "failed",
            error_code="invalidRow",
            messages=["x" * 1_000_000, *(f"m{i}" for i in range(1000))],
            trace_ids=[f"t{i}" for i in range(1000)],
        )
    (entry,) = Journal.read(tmp_path / "run.db")
    assert sum(len(m) for m in entry.messages) < 110_000  # not 1 MB
    assert entry.messages[0].startswith("xxx") and "1,000,000 characters" in entry.messages[0]
    assert len(entry.trace_ids) <= 100


async def test_read_gives_the_run_of_each_entry(tmp_path: Path) -> None:
    async with Journal(tmp_path / "run.db") as journal:
        journal.record("a", "succeeded", run_id="run-1")
        journal.record("b", "succeeded")
        await journal.flush()
        found = await journal.lookup(["a", "b"])
    assert found["a"].run_id == "run-1"
    assert found["b"].run_id == journal.run_id
    assert {e.key: e.run_id for e in Journal.read(tmp_path / "run.db")}["a"] == "run-1"


async def test_a_journal_in_a_missing_folder_says_so(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "nowhere" / "run.db", operation="entitle")
    with pytest.raises(ConfigurationError, match="does not exist"):
        await journal.open()
