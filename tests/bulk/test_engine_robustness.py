"""The engine survives whatever one row does: a bug fails that row, never the run.

Every test runs under a short timeout (``asyncio.timeout`` and pytest's): a regression that
hangs the run fails here instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from magine_async import MagineError, ValidationError
from magine_async.bulk import (
    BulkAborted,
    ErrorInfo,
    InputError,
    Journal,
    Outcome,
    RowContext,
    RowResult,
    fan_out,
)
from magine_async.bulk._engine import BulkRun

pytestmark = pytest.mark.timeout(20)

LIMIT = 5.0  # seconds: far more than any of these runs needs


def ident(row: str) -> str:
    if not row:
        raise ValidationError("row", "must not be empty")
    return row


async def ok(row: str, context: RowContext) -> str:
    await asyncio.sleep(0)
    return row.upper()


async def collect(run: BulkRun[Any]) -> dict[str, Outcome[Any]]:
    async with asyncio.timeout(LIMIT):
        return {o.key: o async for o in run}


class Circular(dict[str, Any]):
    """A result that cannot be JSON-encoded: it contains itself."""

    def __init__(self) -> None:
        super().__init__()
        self["self"] = self


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")

    __repr__ = __str__


UNENCODABLE = {"circular", "non-str-keys", "unprintable"}


def bad_rows() -> dict[str, Any]:
    """What each row's action returns (or raises)."""
    return {
        "weird-status": RowResult("skipped", 1),  # type: ignore[arg-type]
        "no-status": RowResult("ok", 1),  # type: ignore[arg-type]
        "circular": Circular(),
        "non-str-keys": {(1, 2): "tuple key"},
        "unprintable": {"x": Unprintable()},
        "bad-error": RowResult("failed", None, "not an ErrorInfo"),  # type: ignore[arg-type]
    }


@pytest.mark.parametrize("journaled", [False, True])
async def test_a_row_that_breaks_the_outcome_path_fails_alone(
    tmp_path: Path, journaled: bool
) -> None:
    answers = bad_rows()

    async def action(row: str, context: RowContext) -> Any:
        await asyncio.sleep(0)
        return answers.get(row, row)

    rows = ["a", *answers, "b"] + [f"r{i}" for i in range(40)]
    journal = tmp_path / "j.db" if journaled else None
    # concurrency 2: a couple of dead workers would be enough to hang the run
    run = fan_out(rows, action, key=ident, concurrency=2, journal=journal)
    outcomes = await collect(run)
    assert set(outcomes) == set(rows)  # the run went on to the end
    # a result JSON cannot encode is only a problem for a journal
    bad = [name for name in answers if journaled or name not in UNENCODABLE]
    for name in bad:
        outcome = outcomes[name]
        assert outcome.status == "failed", name
        assert outcome.error is not None and outcome.error.error_code == "internalError", name
        assert outcome.error.messages, name
    assert "skipped" in outcomes["weird-status"].error.messages[0]  # type: ignore[union-attr]
    assert run.summary.counts["failed"] == len(bad)
    assert run.summary.counts["succeeded"] == len(rows) - len(bad)
    assert run.summary.stopped is None
    if journal is not None:
        entries = {e.key: e for e in Journal.read(journal)}
        assert set(entries) == set(rows)  # every row ends in the journal, the bad ones failed
        assert {entries[name].status for name in answers} == {"failed"}
        assert {entries[name].error_code for name in answers} == {"internalError"}
        assert "JSON" in entries["circular"].messages[0]


async def test_a_bug_in_the_engine_outcome_path_fails_the_row_and_the_run_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from magine_async.bulk import _outcome

    real = _outcome.LatencyHistogram.add

    def add(self: _outcome.LatencyHistogram, seconds: float) -> None:
        if self.count == 3:
            self.count += 1
            raise ZeroDivisionError("boom")
        real(self, seconds)

    monkeypatch.setattr(_outcome.LatencyHistogram, "add", add)
    rows = [f"r{i}" for i in range(20)]
    run = fan_out(rows, ok, key=ident, concurrency=1)
    outcomes = await collect(run)
    assert set(outcomes) == set(rows)
    failed = [o for o in outcomes.values() if o.status == "failed"]
    assert len(failed) == 1
    assert failed[0].error is not None and failed[0].error.error_code == "internalError"
    assert "ZeroDivisionError" in failed[0].error.messages[0]


class Doom(BaseException):
    """Not an Exception: nothing in a row's path may catch it; its worker dies."""


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_workers_that_die_anyway_end_the_run_with_a_fatal_error(concurrency: int) -> None:
    async def action(row: str, context: RowContext) -> str:
        await asyncio.sleep(0)
        raise Doom("the worker is gone")

    rows = (f"r{i}" for i in range(10_000))
    run = fan_out(rows, action, key=ident, concurrency=concurrency)
    with pytest.raises(BulkAborted) as caught:
        async with asyncio.timeout(LIMIT):
            async for _ in run:
                pass
    assert "Doom" in str(caught.value)
    assert run.summary.stopped is not None and "Doom" in run.summary.stopped


async def test_a_producer_that_dies_anyway_ends_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def rows() -> Iterator[str]:
        yield "a"
        raise Doom("the input reader is gone")

    run = fan_out(rows(), ok, key=ident, concurrency=2)
    with pytest.raises(BulkAborted, match="Doom"):
        async with asyncio.timeout(LIMIT):
            await run


async def test_a_key_function_bug_fails_that_row_only() -> None:
    def key(row: str) -> str:
        if row == "bug":
            raise KeyError("no such column")
        return row

    run = fan_out(["a", "bug", "b"], ok, key=key)
    outcomes = list((await collect(run)).values())
    assert sorted(o.status for o in outcomes) == ["failed", "succeeded", "succeeded"]
    (bug,) = [o for o in outcomes if o.status == "failed"]
    assert bug.error is not None and bug.error.error_code == "internalError"
    assert "KeyError" in bug.error.messages[0]
    assert run.summary.stopped is None


# -- item 3: a key met again in the same run --------------------------------------------------


async def fail(row: str, context: RowContext) -> Any:
    await asyncio.sleep(0)
    if row.startswith("f"):
        return row
    return RowResult("failed", None, ErrorInfo("X", "nope", ("no",)))


async def test_a_failed_key_met_again_in_the_same_run_is_counted_once() -> None:
    # concurrency 1: the first "x" is done (and forgotten as "in flight") before the second
    run = fan_out(["x", "y", "z", "x"], fail, key=ident, concurrency=1)
    async with asyncio.timeout(LIMIT):
        outcomes = [o async for o in run]
    assert sorted((o.key, o.status) for o in outcomes) == [
        ("x", "failed"),
        ("x", "skipped"),
        ("y", "failed"),
        ("z", "failed"),
    ]
    (dup,) = [o for o in outcomes if o.status == "skipped"]
    assert dup.detail == "duplicate of an earlier row"
    assert run.summary.failed == 3 and run.summary.previously_failed == 0


async def test_a_failed_key_met_again_after_its_commit_is_counted_once(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")

    async def rows() -> AsyncIterator[str]:
        yield "x"
        for i in range(255):  # the first chunk: dispatched at its 256th row
            yield f"f{i}"
        while journal.committed < 256:  # "x" failed, and its failure is committed
            await journal.flush()
        yield "x"

    run = fan_out(rows(), fail, key=ident, concurrency=4, journal=journal)
    async with asyncio.timeout(LIMIT):
        outcomes = [o async for o in run if o.key == "x"]
    assert [(o.status, o.detail) for o in outcomes] == [
        ("failed", None),
        ("skipped", "duplicate of an earlier row"),
    ]
    assert run.summary.failed == 1 and run.summary.previously_failed == 0


async def test_a_key_that_failed_in_an_earlier_run_met_twice_is_counted_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.db"
    first = await fan_out(["x"], fail, key=ident, journal=path)
    assert first.failed == 1
    fillers = [f"f{i}" for i in range(300)]  # the second "x" comes in another chunk
    for journal in (path, Journal(path, read_only=True)):
        run = fan_out(["x", *fillers, "x"], fail, key=ident, journal=journal)
        async with asyncio.timeout(LIMIT):
            outcomes = [o async for o in run if o.key == "x"]
        assert [o.detail for o in outcomes] == [
            "failed in an earlier run",
            "duplicate of an earlier row",
        ]
        assert run.summary.previously_failed == 1 and run.summary.failed == 1
    again = fan_out(["x", *fillers, "x"], fail, key=ident, journal=path, dry_run=True)
    async with asyncio.timeout(LIMIT):
        await again
    assert again.summary.previously_failed == 1


async def test_one_open_journal_shared_by_two_runs_keeps_them_apart(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.db") as journal:
        first = await fan_out(["x"], fail, key=ident, journal=journal)
        second = await fan_out(["x"], fail, key=ident, journal=journal)
        third = await fan_out(["x"], fail, key=ident, journal=journal, retry_failed=True)
    assert (first.counts["failed"], first.previously_failed) == (1, 0)
    assert (second.counts["skipped"], second.previously_failed) == (1, 1)
    assert (third.counts["failed"], third.previously_failed) == (1, 0)


# -- item 5: an input that breaks ---------------------------------------------------------------


class Reader:
    """An input that knows the line it is on, and breaks at line ``bad``."""

    def __init__(self, good: int, bad: int) -> None:
        self.good = good
        self.bad = bad
        self.line = 1  # a header

    def __iter__(self) -> Iterator[str]:
        for i in range(self.good):
            self.line += 1
            yield f"r{i}"
        self.line = self.bad
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")


@pytest.mark.parametrize("concurrency", [1, 8, 64])
async def test_rows_read_before_an_input_error_are_all_done_and_journaled(
    tmp_path: Path, concurrency: int
) -> None:
    done: list[str] = []

    async def action(row: str, context: RowContext) -> str:
        await asyncio.sleep(0)
        done.append(row)
        return row

    path = tmp_path / "j.db"
    reader = Reader(3000, 3002)
    run = fan_out(iter(reader), action, key=ident, concurrency=concurrency, journal=path)
    delivered: list[str] = []
    with pytest.raises(BulkAborted) as caught:
        async with asyncio.timeout(LIMIT * 4):
            async for outcome in run:
                delivered.append(outcome.key)
    assert len(done) == len(set(done)) == 3000
    assert len(delivered) == 3000
    assert len(list(Journal.read(path))) == 3000
    error = caught.value.cause
    assert isinstance(error, InputError)
    assert isinstance(error.cause, UnicodeDecodeError) and error.__cause__ is error.cause
    assert error.rows_read == 3000
    assert "UnicodeDecodeError" in error.problem and "invalid start byte" in error.problem
    assert error.line is None  # a generator of the reader does not say its line


async def test_an_input_error_names_the_line_when_the_input_says_it(tmp_path: Path) -> None:
    reader = Reader(10, 12)
    run = fan_out(reader, ok, key=ident, journal=tmp_path / "j.db")  # the object itself
    with pytest.raises(BulkAborted) as caught:
        async with asyncio.timeout(LIMIT):
            await run
    error = caught.value.cause
    assert isinstance(error, InputError)
    assert error.line == 12 and error.rows_read == 10
    assert "line 12" in str(error)
    assert caught.value.summary.counts["succeeded"] == 10


async def test_an_input_error_may_carry_its_line_itself(tmp_path: Path) -> None:
    class Broken(ValueError):
        line = 7

    async def rows() -> AsyncIterator[str]:
        yield "a"
        raise Broken("field larger than field limit (131072)")

    run = fan_out(rows(), ok, key=ident, journal=tmp_path / "j.db")
    with pytest.raises(BulkAborted) as caught:
        async with asyncio.timeout(LIMIT):
            await run
    error = caught.value.cause
    assert isinstance(error, InputError) and error.line == 7 and error.rows_read == 1
    assert "field larger than field limit" in error.problem
    assert [e.key for e in Journal.read(tmp_path / "j.db")] == ["a"]


async def test_a_journal_error_is_not_an_input_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")

    async def broken_lookup(keys: Any) -> Any:
        raise MagineError("the journal disk is gone")

    run = fan_out(["a", "b"], ok, key=ident, journal=journal)
    await journal.open()
    journal.lookup = broken_lookup  # type: ignore[method-assign]
    with pytest.raises(BulkAborted) as caught:
        async with asyncio.timeout(LIMIT):
            await run
    assert not isinstance(caught.value.cause, InputError)
    assert "journal disk is gone" in str(caught.value)
    await journal.close()


# -- item 8: async with + async for -----------------------------------------------------------


async def test_a_run_iterated_to_the_end_inside_async_with_is_not_interrupted(
    tmp_path: Path,
) -> None:
    for journal in (None, tmp_path / "j.db"):
        async with asyncio.timeout(LIMIT):
            async with fan_out(["a", "b", "c"], ok, key=ident, journal=journal) as run:
                keys = [o.key async for o in run]
        assert sorted(keys) == ["a", "b", "c"]
        assert run.summary.stopped is None


async def test_leaving_async_with_early_still_stops_the_run() -> None:
    gate = asyncio.Event()

    async def slow(row: str, context: RowContext) -> str:
        await gate.wait()
        return row

    async with asyncio.timeout(LIMIT):
        async with fan_out((f"r{i}" for i in range(100)), slow, key=ident) as run:
            gate.set()
            async for _ in run:
                break
    assert run.summary.stopped == "interrupted"
    assert run.summary.total < 100
