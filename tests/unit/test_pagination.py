from __future__ import annotations

import asyncio
import gc

import pytest

from magine_async.pagination import AsyncPager, PaginationError


class Catalogue:
    """A fake list endpoint: items 0..n-1, cursor = str(next index)."""

    def __init__(self, n: int, size: int = 100, *, empty_at: set[int] | None = None) -> None:
        self.n = n
        self.size = size
        self.requested: list[str | None] = []
        self.empty_at = empty_at or set()
        self.gate: asyncio.Event | None = None
        self.in_flight = 0

    async def fetch(self, cursor: str | None) -> tuple[list[int], str | None]:
        self.requested.append(cursor)
        self.in_flight += 1
        try:
            if self.gate is not None:
                await self.gate.wait()
            await asyncio.sleep(0)
            start = int(cursor.rstrip(".")) if cursor else 0
            if start in self.empty_at:
                self.empty_at.discard(start)
                return [], f"{start}."  # an empty page whose cursor moves on
            end = min(start + self.size, self.n)
            return list(range(start, end)), (str(end) if end < self.n else None)
        finally:
            self.in_flight -= 1


def _pending_others() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def test_every_item_once_in_order_across_ten_thousand() -> None:
    catalogue = Catalogue(10_050, size=100)
    seen = [item async for item in AsyncPager(catalogue.fetch)]
    assert seen == list(range(10_050))
    assert len(catalogue.requested) == 101


async def test_resume_from_saved_cursor_yields_exactly_the_rest() -> None:
    catalogue = Catalogue(1_000, size=100)
    pager = AsyncPager(catalogue.fetch)
    first: list[int] = []
    saved = None
    async for page in pager.pages():
        first.extend(page.items)
        saved = page.cursor
        if len(first) >= 300:
            break
    assert saved == "300"
    assert pager.cursor == "200"  # the page ending at 300 was yielded, not yet moved past
    rest = [item async for item in AsyncPager(catalogue.fetch, cursor=saved)]
    assert first + rest == list(range(1_000))


async def test_pager_cursor_tracks_consumed_pages() -> None:
    catalogue = Catalogue(250, size=100)
    pager = AsyncPager(catalogue.fetch)
    taken = []
    async for item in pager:
        taken.append(item)
        if item == 150:
            break
    assert pager.cursor == "100"  # page [100, 200) is not finished yet
    rest = [item async for item in AsyncPager(catalogue.fetch, cursor=pager.cursor)]
    assert sorted(set(taken) | set(rest)) == list(range(250))


async def test_next_page_is_requested_before_the_consumer_asks() -> None:
    catalogue = Catalogue(300, size=100)
    iterator = aiter(AsyncPager(catalogue.fetch))
    assert await anext(iterator) == 0
    for _ in range(5):
        await asyncio.sleep(0)
    assert catalogue.requested == [None, "100"]
    await iterator.aclose()


async def test_never_more_than_current_plus_prefetched_page() -> None:
    catalogue = Catalogue(1_000, size=10)
    consumed_pages = 0
    async for page in AsyncPager(catalogue.fetch).pages():
        consumed_pages += 1
        for _ in range(20):  # a slow consumer: the producer has every chance to run ahead
            await asyncio.sleep(0)
        assert len(catalogue.requested) <= consumed_pages + 1
        assert page.items
    assert consumed_pages == 100


async def test_prefetch_zero_fetches_on_demand() -> None:
    catalogue = Catalogue(300, size=100)
    iterator = aiter(AsyncPager(catalogue.fetch, prefetch=0))
    assert await anext(iterator) == 0
    for _ in range(5):
        await asyncio.sleep(0)
    assert catalogue.requested == [None]
    assert [x async for x in iterator][-1] == 299


async def test_break_cancels_prefetch_without_leaving_tasks() -> None:
    catalogue = Catalogue(10_000, size=100)
    catalogue.gate = asyncio.Event()
    catalogue.gate.set()
    pager = AsyncPager(catalogue.fetch)
    async for item in pager:
        if item == 5:
            catalogue.gate.clear()  # the prefetch now hangs in flight
            await asyncio.sleep(0)
            break
    gc.collect()
    for _ in range(5):
        await asyncio.sleep(0)
    assert _pending_others() == set()
    assert catalogue.in_flight == 0


async def test_async_with_closes_deterministically() -> None:
    catalogue = Catalogue(10_000, size=100)
    async with AsyncPager(catalogue.fetch) as pager:
        async for item in pager:
            if item == 3:
                break
    assert _pending_others() == set()


async def test_cancelling_the_consumer_cancels_the_prefetch() -> None:
    catalogue = Catalogue(10_000, size=100)
    consumer_started = asyncio.Event()

    async def consume() -> None:
        async for _item in AsyncPager(catalogue.fetch):
            consumer_started.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(consume())
    await consumer_started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gc.collect()
    for _ in range(5):
        await asyncio.sleep(0)
    assert _pending_others() == set()


async def test_empty_page_with_cursor_continues() -> None:
    catalogue = Catalogue(300, size=100, empty_at={100})
    seen = [item async for item in AsyncPager(catalogue.fetch)]
    assert seen == list(range(300))


async def test_repeated_cursor_raises_instead_of_looping_forever() -> None:
    async def stuck(cursor: str | None) -> tuple[list[int], str | None]:
        return [], "same"

    with pytest.raises(PaginationError):
        _ = [item async for item in AsyncPager(stuck, cursor="same")]


async def test_fetch_error_reaches_the_consumer_after_earlier_items() -> None:
    calls = 0

    async def failing(cursor: str | None) -> tuple[list[int], str | None]:
        nonlocal calls
        calls += 1
        if cursor == "2":
            raise RuntimeError("boom")
        return [int(cursor or 0)], str(int(cursor or 0) + 1)

    seen = []
    with pytest.raises(RuntimeError, match="boom"):
        async for item in AsyncPager(failing):
            seen.append(item)
    assert seen == [0, 1]


async def test_await_returns_first_page() -> None:
    catalogue = Catalogue(250, size=100)
    page = await AsyncPager(catalogue.fetch)
    assert page.items == list(range(100))
    assert page.cursor == "100"


async def test_pager_iterates_once() -> None:
    pager = AsyncPager(Catalogue(10).fetch)
    _ = [x async for x in pager]
    with pytest.raises(RuntimeError, match="once"):
        aiter(pager)
