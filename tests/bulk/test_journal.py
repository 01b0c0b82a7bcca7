"""The SQLite journal: WAL, batched commits off the loop, lookups, meta checks."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from magine_async import ConfigurationError
from magine_async.journal import Journal


async def test_records_are_committed_in_batches_by_a_writer_thread(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    committed: list[list[str]] = []
    async with Journal(path, operation="entitle", batch_size=3, flush_interval=30) as journal:
        journal.on_commit = committed.append
        loop_thread = threading.get_ident()
        for i in range(7):
            journal.record(f"k{i}", "succeeded", result={"n": i}, attempts=1, elapsed=0.01)
        await journal.flush()
        assert [len(batch) for batch in committed] == [3, 3, 1]
        assert journal._writer is not None and journal._writer.ident != loop_thread
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    entries = list(Journal.read(path))
    assert [e.key for e in entries] == [f"k{i}" for i in range(7)]
    assert entries[2].result == {"n": 2} and entries[2].final


async def test_a_batch_is_committed_after_the_flush_interval(tmp_path: Path) -> None:
    async with Journal(tmp_path / "run.db", flush_interval=0.01) as journal:
        journal.record("k", "failed", error_code="x")
        for _ in range(500):
            if journal.committed:
                break
            await asyncio.sleep(0.01)
        assert journal.committed == 1
        # visible to another connection at once (what a crash would leave behind)
        other = sqlite3.connect(tmp_path / "run.db")
        assert other.execute("SELECT status FROM rows").fetchall() == [("failed",)]
        other.close()


async def test_lookup_returns_errors_and_upserts_keep_one_row_per_key(tmp_path: Path) -> None:
    async with Journal(tmp_path / "run.db") as journal:
        journal.record_pending("a", {"requestId": "r1"})
        journal.record(
            "b",
            "failed",
            error_code="serviceUnavailable",
            http_status=503,
            messages=["down"],
            trace_ids=["t1", "t2"],
            attempts=3,
        )
        await journal.flush()
        found = await journal.lookup(["a", "b", "c"])
        assert set(found) == {"a", "b"}
        assert found["a"].status == "pending" and not found["a"].final
        assert found["a"].result == {"requestId": "r1"}
        b = found["b"]
        assert (b.error_code, b.http_status, b.messages, b.trace_ids, b.attempts) == (
            "serviceUnavailable",
            503,
            ("down",),
            ("t1", "t2"),
            3,
        )
        journal.record("a", "succeeded")
        journal.record("b", "already")
        await journal.flush()
        assert await journal.counts() == {"succeeded": 1, "already": 1}
        again = await journal.lookup(["a", "b"])
        assert again["a"].runs == 1  # pending -> final is one run
        assert again["b"].runs == 2  # failed, then done by a second run
        with pytest.raises(ValueError, match="status"):
            journal.record("c", "skipped")


async def test_a_journal_refuses_another_operation_or_shard(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    async with Journal(path, operation="entitle", shard="0/2"):
        pass
    with pytest.raises(ConfigurationError, match="operation 'entitle', not 'revoke'"):
        await Journal(path, operation="revoke").open()
    with pytest.raises(ConfigurationError, match="shard '0/2', not '1/2'"):
        await Journal(path, operation="entitle", shard="1/2").open()
    path.with_name("junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConfigurationError, match="not a usable SQLite database"):
        await Journal(path.with_name("junk.db")).open()


async def test_read_only_does_not_create_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    async with Journal(path, read_only=True) as journal:
        assert await journal.lookup(["x"]) == {}
        with pytest.raises(RuntimeError, match="read-only"):
            journal.record("x", "succeeded")
    assert not path.exists()


async def test_a_writer_failure_is_reported_not_swallowed(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    journal = await Journal(path).open()
    journal.record("k", "succeeded")
    await journal.flush()
    other = sqlite3.connect(path)
    other.execute("DROP TABLE rows")
    other.commit()
    other.close()
    journal.record("k2", "succeeded")
    with pytest.raises(ConfigurationError, match="writing failed"):
        await journal.flush()
    with pytest.raises(ConfigurationError, match="writing failed"):
        journal.record("k3", "succeeded")
    with pytest.raises(ConfigurationError, match="writing failed"):
        await journal.close()
    with pytest.raises(ConfigurationError, match="batch_size"):
        Journal(path, batch_size=0)
