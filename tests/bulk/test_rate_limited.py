"""Bulk runs against a sandbox that admits a fixed rate (a token bucket answering 429 above
it): throttling is not failure, and the run keeps near the limit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from magine_async import RateLimitError, RetryPolicy
from magine_async.bulk import BulkAborted, EntitleRow
from magine_async.sandbox import RateLimit, Sandbox

from .conftest import Cli, held_pairs, make_users, write_csv


@pytest.mark.parametrize("retry_after", [None, "exact", 1])
async def test_a_rate_limited_run_ends_with_every_row_succeeded(
    sb: Sandbox, retry_after: float | str | None
) -> None:
    count = 200 if retry_after == 1 else 400
    rows = [EntitleRow(["svod-monthly"], user_id=uid) for uid in make_users(sb, count)]
    sb.rate_limit = RateLimit(rate=200, burst=20, retry_after=retry_after)  # type: ignore[arg-type]
    async with sb.client() as client:  # real time: the platform's bucket runs on it too
        started = time.monotonic()
        summary = await client.bulk.entitle(rows, concurrency=64)
        elapsed = time.monotonic() - started
    assert summary.counts["succeeded"] == count and summary.failed == 0
    assert len(held_pairs(sb)) == count
    throttled = sb.counters["rate_limit.throttled"]
    assert throttled == summary.throttled
    if retry_after != 1:  # Retry-After: 1 holds the pool a second per fresh 429 (2-4 runs)
        assert throttled <= 0.10 * (count + throttled)  # a short run: mostly the first trips
        assert elapsed < 2 * count / 200
        assert summary.send_rate is not None and summary.send_rate < 1.2 * 200


async def test_a_platform_that_throttles_everything_stops_the_run_with_one_fatal_error(
    sb: Sandbox, fake_clock: object
) -> None:
    from .conftest import FakeClock

    clock = fake_clock
    assert isinstance(clock, FakeClock)
    rows = [EntitleRow(["svod-monthly"], user_id=uid) for uid in make_users(sb, 200)]
    sb.faults.default.throttle_rate = 1.0  # every request: 429
    async with sb.client(retry=RetryPolicy(sleep=clock.sleep, clock=clock)) as client:
        run = client.bulk.entitle(rows, concurrency=8, throttle_deadline=30.0)
        with pytest.raises(BulkAborted) as caught:
            await run
    assert isinstance(caught.value.cause, RateLimitError)
    assert "429" in str(caught.value)
    assert run.summary.counts["failed"] == 0  # no row failed: the run stopped instead


async def test_the_cli_reports_the_rate_it_converged_to_and_the_time_paused(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    uids = make_users(sb, 300)
    path = write_csv(
        tmp_path / "rows.csv", ("user_id", "offer_id"), [(u, "svod-monthly") for u in uids]
    )
    sb.rate_limit = RateLimit(rate=150, burst=10, retry_after=None)
    result = await cli.run("entitle", "--input", str(path), "--concurrency", "32")
    assert result.code == 0, result.stderr
    assert "converged to" in result.stdout and "paused 0.0 s in 0 pauses" in result.stdout
    assert "sending" in result.stderr  # the progress line shows the send rate
    assert len(held_pairs(sb)) == 300
