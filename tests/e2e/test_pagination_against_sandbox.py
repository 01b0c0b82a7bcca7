"""Streaming the catalogue through the SDK against the sandbox."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

import aiohttp
import pytest

from magine_async import MagineClient, RetryPolicy
from magine_async.sandbox import Representation, Sandbox

from ..support import FakeSleep


@pytest.fixture
async def big(
    no_secret_leaks: list[str], sandbox_representation: Representation
) -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(viewables=10_050, users=1, seed=3, representation=sandbox_representation)
    await sandbox.start()
    no_secret_leaks.append(sandbox.access_token)
    try:
        yield sandbox
    finally:
        await sandbox.stop()


def _checked_out(client: MagineClient) -> int:
    connector = client._transport.session().connector
    assert isinstance(connector, aiohttp.TCPConnector)
    return len(connector._acquired)


def _other_tasks() -> set[asyncio.Task[object]]:
    """Pending tasks of the client side (the in-process sandbox's own handlers excluded)."""
    return {
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and not t.done()
        and not t.get_coro().__qualname__.startswith("RequestHandler.")  # type: ignore[union-attr]
    }


async def test_every_item_once_in_order_and_resume_from_cursor(big: Sandbox) -> None:
    async with big.client() as client:
        ids = [v.id async for v in client.viewables.list(page_size=500)]
        assert len(ids) == 10_050
        assert len(set(ids)) == 10_050
        # the same order whatever the page size and with prefetching off
        sequential = [v.id async for v in client.viewables.list(page_size=1000, prefetch=0)]
        assert ids == sequential

        pager = client.viewables.list(page_size=500)
        first: list[str] = []
        saved = None
        async for page in pager.pages():
            first.extend(v.id for v in page.items)
            saved = page.cursor
            if len(first) >= 3_000:
                break
        rest = [v.id async for v in client.viewables.list(page_size=500, cursor=saved)]
        assert first + rest == ids


async def test_next_page_is_requested_before_the_consumer_asks(big: Sandbox) -> None:
    async with big.client() as client:
        iterator = aiter(client.viewables.list(page_size=100))
        await anext(iterator)
        for _ in range(200):
            if big.counters.requests["viewables.list"] >= 2:
                break
            await asyncio.sleep(0.005)
        assert big.counters.requests["viewables.list"] == 2
        await iterator.aclose()


async def test_breaking_out_leaves_no_task_and_no_connection(big: Sandbox) -> None:
    big.faults.route("viewables.list").latency = 0.05  # the prefetch is in flight at the break
    async with big.client() as client:
        async for viewable in client.viewables.list(page_size=100):
            assert viewable.id
            break
        gc.collect()
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert _other_tasks() == set()
        assert _checked_out(client) == 0


async def test_cancelling_the_consumer_leaves_no_task_and_no_connection(big: Sandbox) -> None:
    big.faults.route("viewables.list").latency = 0.02
    async with big.client() as client:
        started = asyncio.Event()

        async def consume() -> None:
            async for _ in client.viewables.list(page_size=100):
                started.set()
                await asyncio.sleep(0.001)

        task = asyncio.create_task(consume())
        await started.wait()
        await asyncio.sleep(0.03)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gc.collect()
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert _other_tasks() == set()
        assert _checked_out(client) == 0


async def test_scan_with_twenty_percent_5xx_returns_every_item_exactly_once(big: Sandbox) -> None:
    async with big.client() as reference:
        expected = [v.id async for v in reference.viewables.list(page_size=100)]
    big.faults.reseed(11)
    big.faults.route("viewables.list").error_rate = 0.2
    sleep = FakeSleep()
    async with big.client(retry=RetryPolicy(sleep=sleep, max_attempts=8)) as client:
        ids = [v.id async for v in client.viewables.list(page_size=100)]
    assert ids == expected
    assert big.counters.faults["viewables.list:error"] > 0
    assert len(sleep.waits) == big.counters.faults["viewables.list:error"]


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_resume_after_a_break_at_a_page_boundary_reads_no_page_twice(
    big: Sandbox, prefetch: int
) -> None:
    async with big.client() as client:
        pager = client.viewables.list(page_size=500, prefetch=prefetch)
        first: list[str] = []
        async for viewable in pager:
            first.append(viewable.id)
            if len(first) == 1_500:  # the last item of the third page
                break
        assert (pager.pages_read, pager.items_read) == (3, 1_500)
        assert not pager.exhausted

        # resumed from pager.cursor; break right after the last item of the catalogue
        resumed = client.viewables.list(page_size=500, cursor=pager.cursor, prefetch=prefetch)
        rest: list[str] = []
        async for viewable in resumed:
            rest.append(viewable.id)
            if len(rest) == 10_050 - 1_500:
                break
        assert len(set(first + rest)) == len(first + rest) == 10_050  # none read twice
        assert (resumed.pages_read, resumed.items_read) == (18, 8_550)
        assert resumed.exhausted and resumed.cursor is None  # nothing is left to resume
