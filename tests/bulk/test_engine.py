"""The fan-out engine on its own: rows are plain strings, actions are local coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from magine_async import AuthenticationError, ServerError, ValidationError
from magine_async.bulk import (
    BulkAborted,
    InputError,
    Journal,
    RowContext,
    RowResult,
    Shard,
    fan_out,
    invalid_row_key,
)

from .conftest import FakeClock


def ident(row: str) -> str:
    if not row:
        raise ValidationError("row", "must not be empty")
    return row


async def ok(row: str, context: RowContext) -> str:
    await asyncio.sleep(0)
    return row.upper()


async def test_outcomes_stream_with_results_and_a_summary() -> None:
    run = fan_out([f"r{i}" for i in range(50)], ok, key=ident, concurrency=8)
    outcomes = [o async for o in run]
    assert sorted(o.key for o in outcomes) == sorted(f"r{i}" for i in range(50))
    assert all(o.status == "succeeded" and o.result == o.key.upper() for o in outcomes)
    summary = run.summary
    assert summary.counts == {"succeeded": 50, "already": 0, "failed": 0, "skipped": 0}
    assert summary.read == 50
    assert 1 <= summary.peak_in_flight <= 8
    assert summary.p50 is not None and summary.p99 is not None and summary.p50 <= summary.p99


async def test_outcomes_come_back_in_completion_order() -> None:
    release = {name: asyncio.Event() for name in ("slow", "fast")}

    async def action(row: str, context: RowContext) -> str:
        if row == "slow":
            await release["slow"].wait()
        else:
            release["slow"].set()
        return row

    keys = [o.key async for o in fan_out(["slow", "fast"], action, key=ident, concurrency=2)]
    assert keys == ["fast", "slow"]


async def test_the_input_is_read_lazily_with_back_pressure() -> None:
    pulled = 0
    gate = asyncio.Event()

    def rows() -> Iterator[str]:
        nonlocal pulled
        for i in range(1_000_000):
            pulled += 1
            yield f"r{i}"

    async def blocked(row: str, context: RowContext) -> str:
        await gate.wait()
        return row

    run = fan_out(rows(), blocked, key=ident, concurrency=4)
    async with run:
        for _ in range(20):
            await asyncio.sleep(0)
        # 4 rows in the workers, 4 in the queue, one waiting to be put: nothing more is read.
        assert pulled <= 4 + 4 + 1
        assert run.in_flight == 4
        gate.set()
    assert run.summary.stopped == "interrupted"
    assert pulled < 100


async def test_an_async_iterable_is_accepted() -> None:
    async def rows() -> AsyncIterator[str]:
        for i in range(30):
            await asyncio.sleep(0)
            yield f"a{i}"

    summary = await fan_out(rows(), ok, key=ident, concurrency=5)
    assert summary.counts["succeeded"] == 30


async def test_a_failing_row_never_stops_the_run() -> None:
    async def action(row: str, context: RowContext) -> Any:
        if row == "api":
            raise ServerError(503, error_code="down", messages=["x"], trace_ids=["t1", "t2"])
        if row == "bug":
            raise KeyError("oops")
        if row == "told":
            return RowResult("failed", {"partial": True})
        if row == "same":
            return RowResult("already", 1)
        return row

    run = fan_out(["a", "api", "bug", "told", "same", "", "b"], action, key=ident)
    outcomes = {o.key: o async for o in run}
    assert outcomes["a"].status == outcomes["b"].status == "succeeded"
    api = outcomes["api"]
    assert api.status == "failed" and api.error is not None
    assert (api.error.error_code, api.error.status, api.error.trace_ids) == (
        "down",
        503,
        ("t1", "t2"),
    )
    bug = outcomes["bug"].error
    assert bug is not None and bug.error_code == "internalError" and "KeyError" in bug.messages[0]
    assert outcomes["told"].status == "failed" and outcomes["told"].result == {"partial": True}
    assert outcomes["same"].status == "already"
    # its key could not be computed: named by its position and a digest of the row
    invalid = outcomes[invalid_row_key(6, "")]
    assert invalid.status == "failed" and invalid.error is not None
    assert invalid.error.error_code == "invalidRow"
    assert run.summary.counts == {"succeeded": 2, "already": 1, "failed": 4, "skipped": 0}


async def test_a_fatal_error_stops_the_run_and_reports_what_was_done() -> None:
    seen: list[str] = []

    async def action(row: str, context: RowContext) -> str:
        seen.append(row)
        if row == "r5":
            raise AuthenticationError(401, error_code="unauthorized")
        await asyncio.sleep(0)
        return row

    run = fan_out((f"r{i}" for i in range(10_000)), action, key=ident, concurrency=2)
    delivered = []
    with pytest.raises(BulkAborted) as caught:
        async for outcome in run:
            delivered.append(outcome.key)
    assert isinstance(caught.value.cause, AuthenticationError)
    assert "r5" not in delivered  # the fatal row is not reported as done: a re-run does it
    assert len(delivered) == caught.value.summary.total >= 5
    assert len(seen) < 20  # nothing started after the stop but the row in flight
    assert run.summary.stopped is not None and "AuthenticationError" in run.summary.stopped


async def test_an_input_that_breaks_is_fatal_with_its_reason() -> None:
    def rows() -> Iterator[str]:
        yield "a"
        yield "b"
        raise OSError("disk gone")

    run = fan_out(rows(), ok, key=ident)
    with pytest.raises(BulkAborted) as caught:
        await run
    assert isinstance(caught.value.cause, InputError)
    assert "OSError: disk gone" in str(caught.value)
    assert caught.value.summary.counts["succeeded"] == 2


async def test_duplicate_keys_in_flight_are_done_once() -> None:
    gate = asyncio.Event()
    calls: list[str] = []

    async def action(row: str, context: RowContext) -> str:
        calls.append(row)
        await gate.wait()
        return row

    async def rows() -> AsyncIterator[str]:
        yield "x"
        yield "x"
        await asyncio.sleep(0)
        gate.set()
        yield "y"

    outcomes = [o async for o in fan_out(rows(), action, key=ident, concurrency=4)]
    assert calls == ["x", "y"]
    skipped = [o for o in outcomes if o.status == "skipped"]
    assert [o.detail for o in skipped] == ["duplicate of an earlier row"]


async def test_dry_run_sends_nothing() -> None:
    run = fan_out(["a", "b", ""], None, key=ident, dry_run=True)
    outcomes = [o async for o in run]
    assert {o.key: o.status for o in outcomes} == {
        "a": "skipped",
        "b": "skipped",
        invalid_row_key(3, ""): "failed",
    }
    assert run.summary.planned == 2
    with pytest.raises(Exception, match="action"):
        fan_out(["a"], None, key=ident)


def test_shards_split_the_keys_deterministically_and_completely() -> None:
    keys = [f"u:{i}|svod" for i in range(3000)]
    shards = [Shard.parse(f"{k}/3") for k in range(3)]
    owned = [[key for key in keys if shard.owns(key)] for shard in shards]
    assert sorted(key for part in owned for key in part) == sorted(keys)  # every key once
    assert all(800 < len(part) < 1200 for part in owned)
    assert owned[1] == [key for key in keys if Shard(1, 3).owns(key)]  # stable
    assert str(Shard.parse("2/3")) == "2/3"
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(Exception, match="shard"):
            Shard.parse(bad)


async def test_a_shard_runs_only_its_rows() -> None:
    rows = [f"k{i}" for i in range(200)]
    seen: set[str] = set()
    for index in range(4):
        run = fan_out(rows, ok, key=ident, shard=f"{index}/4")
        keys = {o.key async for o in run}
        assert run.summary.other_shards == 200 - len(keys)
        assert not keys & seen
        seen |= keys
    assert seen == set(rows)


async def test_stop_lets_rows_in_flight_finish_and_reads_no_more(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def action(row: str, context: RowContext) -> str:
        await gate.wait()
        return row

    run = fan_out(
        (f"r{i}" for i in range(1000)), action, key=ident, concurrency=3, journal=tmp_path / "j.db"
    )

    async def interrupt() -> None:
        while run.in_flight < 3:
            await asyncio.sleep(0)
        run.stop()
        gate.set()

    stopper = asyncio.ensure_future(interrupt())
    outcomes = [o async for o in run]
    await stopper
    assert len(outcomes) == 3 and all(o.status == "succeeded" for o in outcomes)
    assert run.summary.stopped == "interrupted"
    assert sorted(e.key for e in Journal.read(tmp_path / "j.db")) == sorted(o.key for o in outcomes)


async def test_abort_cancels_rows_in_flight_without_journaling_them(tmp_path: Path) -> None:
    async def forever(row: str, context: RowContext) -> str:
        await asyncio.Event().wait()
        return row

    run = fan_out(["a", "b"], forever, key=ident, journal=tmp_path / "j.db")
    async with run:
        while run.in_flight < 2:
            await asyncio.sleep(0)
        run.abort()
    assert list(Journal.read(tmp_path / "j.db")) == []


async def test_latency_percentiles_use_the_injected_clock(fake_clock: FakeClock) -> None:
    async def action(row: str, context: RowContext) -> str:
        await fake_clock.sleep(0.010 if row != "slow" else 1.0)
        return row

    rows = [f"r{i}" for i in range(99)] + ["slow"]
    run = fan_out(rows, action, key=ident, concurrency=1, clock=fake_clock, sleep=fake_clock.sleep)
    summary = await run
    assert summary.p50 == pytest.approx(0.010, rel=0.03)
    assert summary.p99 == pytest.approx(0.010, rel=0.03)
    assert summary.elapsed == pytest.approx(99 * 0.010 + 1.0)


async def test_bad_options_fail_before_anything_runs() -> None:
    for options in ({"concurrency": 0}, {"rate_limit": 0}):
        with pytest.raises(Exception, match=r"concurrency|rate_limit"):
            fan_out(["a"], ok, key=ident, **options)  # type: ignore[arg-type]


def test_the_public_names_are_sorted_and_present() -> None:
    import magine_async.bulk as bulk

    assert bulk.__all__ == sorted(bulk.__all__, key=lambda n: (not n[:1].isupper(), n))
    for name in bulk.__all__:
        assert hasattr(bulk, name), name
