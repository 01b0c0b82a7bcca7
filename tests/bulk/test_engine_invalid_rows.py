"""Invalid rows end in the journal like any other row, once, under a key a re-run recognises."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from magine_async import ValidationError
from magine_async.bulk import InvalidRow, Journal, Outcome, RowContext, fan_out

pytestmark = pytest.mark.timeout(20)

LIMIT = 5.0
INVALID_KEY = re.compile(r"#\d+:[0-9a-f]{16}")


def ident(row: str) -> str:
    if not row or row.startswith("bad"):
        raise ValidationError("row", "must not be empty nor bad")
    return row


async def ok(row: Any, context: RowContext) -> str:
    await asyncio.sleep(0)
    return "done"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def run_all(rows: list[Any], **options: Any) -> tuple[list[Outcome[Any]], Any]:
    run = fan_out(rows, ok, key=options.pop("key", ident), **options)
    async with asyncio.timeout(LIMIT):
        outcomes = [o async for o in run]
    return outcomes, run.summary


async def test_an_invalid_row_is_journaled_and_a_rerun_reports_it_as_earlier(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    rows = ["a", "bad-1", "b"]
    outcomes, summary = await run_all(rows, journal=path)
    (invalid,) = [o for o in outcomes if o.status == "failed"]
    assert invalid.key == f"#2:{digest('bad-1')}"  # its position and what it was
    assert invalid.error is not None and invalid.error.error_code == "invalidRow"
    entries = {e.key: e for e in Journal.read(path)}
    assert set(entries) == {"a", "b", invalid.key}  # every row ends in the journal, once
    assert entries[invalid.key].status == "failed"
    assert entries[invalid.key].error_code == "invalidRow"
    assert entries[invalid.key].messages == invalid.error.messages

    outcomes, summary = await run_all(rows, journal=path)
    again = {o.key: o for o in outcomes}
    assert again[invalid.key].status == "skipped"
    assert again[invalid.key].detail == "failed in an earlier run"
    assert again[invalid.key].error is not None
    assert again[invalid.key].error.error_code == "invalidRow"
    assert (summary.counts["failed"], summary.previously_failed, summary.failed) == (0, 1, 1)

    # retried, it is checked again: still invalid, a failure of this run, journaled once
    outcomes, summary = await run_all(rows, journal=path, retry_failed=True)
    assert {o.key: o.status for o in outcomes}[invalid.key] == "failed"
    assert (summary.counts["failed"], summary.previously_failed) == (1, 0)
    entries = {e.key: e for e in Journal.read(path)}
    assert len(entries) == 3 and entries[invalid.key].runs == 2

    # fixed in the input, the row gets its natural key and is done
    outcomes, summary = await run_all(["a", "c", "b"], journal=path)
    assert {o.key: o.status for o in outcomes} == {
        "a": "skipped",
        "c": "succeeded",
        "b": "skipped",
    }
    assert summary.failed == 0


async def test_another_invalid_row_at_the_same_position_is_not_taken_for_the_old_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    await run_all(["a", "bad-1"], journal=path)
    outcomes, summary = await run_all(["a", "bad-2"], journal=path)
    (fresh,) = [o for o in outcomes if o.status == "failed"]
    assert fresh.key == f"#2:{digest('bad-2')}"
    assert summary.previously_failed == 0


async def test_an_invalid_row_object_is_keyed_by_its_line_and_raw_text(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    rows: list[Any] = ["a", InvalidRow(23, "offer_id: required", raw="U1,,,\r\n")]

    def key(row: Any) -> str:
        return row if isinstance(row, str) else row.key()

    outcomes, _ = await run_all(rows, key=key, journal=path)
    (invalid,) = [o for o in outcomes if o.status == "failed"]
    assert invalid.key == f"#23:{digest('U1,,,')}" == rows[1].journal_key
    assert invalid.error is not None
    assert invalid.error.messages == ("line 23: offer_id: required",)
    # the same line read again has the same key; the same line changed has another
    assert InvalidRow(23, "other words", raw="U1,,,").journal_key == invalid.key
    assert InvalidRow(23, "offer_id: required", raw="U2,,,").journal_key != invalid.key
    assert InvalidRow(24, "offer_id: required", raw="U1,,,").journal_key != invalid.key
    assert InvalidRow(5, "x", raw=b"\xffbytes").journal_key.startswith("#5:")
    with pytest.raises(ValidationError, match="line 23"):
        rows[1].key()
    outcomes, summary = await run_all(rows, key=key, journal=path)
    assert summary.previously_failed == 1 and summary.counts["failed"] == 0


async def test_what_the_journal_keeps_of_a_huge_invalid_row_is_small(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    huge = "x" * (10 * 1024 * 1024)
    rows: list[Any] = [InvalidRow(2, f"file: {huge} does not exist", raw=huge), "bad" + huge]

    def key(row: Any) -> str:
        if isinstance(row, InvalidRow):
            return row.key()
        raise ValidationError("user_id", f"not {row}")  # a careless message, echoing it all

    outcomes, _ = await run_all(rows, key=key, journal=path)
    assert all(o.status == "failed" and INVALID_KEY.fullmatch(o.key) for o in outcomes)
    for outcome in outcomes:
        assert outcome.error is not None
        assert sum(len(m) for m in outcome.error.messages) < 2_000  # the failures file too
    size = 0
    for entry in Journal.read(path):
        size += len(entry.key) + sum(len(m) for m in entry.messages) + len(str(entry.result))
    assert size < 5_000


async def test_an_invalid_row_is_reported_by_one_shard_only(tmp_path: Path) -> None:
    rows = [f"k{i}" for i in range(40)] + ["bad-1", "bad-2", ""]
    reported: list[str] = []
    for index in range(3):
        outcomes, _ = await run_all(rows, shard=f"{index}/3", journal=tmp_path / f"s{index}.db")
        reported += [o.key for o in outcomes if o.status == "failed"]
    assert len(reported) == len(set(reported)) == 3


async def test_without_a_journal_invalid_rows_have_the_same_keys(tmp_path: Path) -> None:
    outcomes, _ = await run_all(["a", "", "a"])
    assert [o.key for o in outcomes if o.status == "failed"] == [f"#2:{digest('')}"]
    dry, _ = await run_all(["a", ""], dry_run=True)
    assert {o.key: o.status for o in dry} == {"a": "skipped", f"#2:{digest('')}": "failed"}
