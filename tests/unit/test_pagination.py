from __future__ import annotations

import asyncio
import gc
from typing import TypeVar

import pytest
from aiohttp import web

from magine_async import MagineClient
from magine_async.pagination import AsyncPager, PaginationError

from ..support import ScriptedServer

T = TypeVar("T")


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


# -- the resume cursor: a page is consumed once its last item is taken ----------------------


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_break_after_last_item_of_a_page_moves_the_cursor_past_it(prefetch: int) -> None:
    catalogue = Catalogue(350, size=100)
    pager = AsyncPager(catalogue.fetch, prefetch=prefetch)
    taken: list[int] = []
    async for item in pager:
        taken.append(item)
        if item == 199:  # the last item of page [100, 200)
            break
    assert pager.cursor == "200"
    assert (pager.pages_read, pager.items_read) == (2, 200)
    rest = [item async for item in AsyncPager(catalogue.fetch, cursor=pager.cursor)]
    assert taken + rest == list(range(350))  # nothing processed twice, nothing skipped


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_break_after_last_item_of_the_first_page(prefetch: int) -> None:
    catalogue = Catalogue(250, size=100)
    pager = AsyncPager(catalogue.fetch, prefetch=prefetch)
    async for item in pager:
        if item == 99:
            break
    assert pager.cursor == "100"
    assert not pager.exhausted


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_break_after_the_very_last_item_marks_the_scan_finished(prefetch: int) -> None:
    catalogue = Catalogue(250, size=100)
    pager = AsyncPager(catalogue.fetch, prefetch=prefetch)
    async for item in pager:
        if item == 249:  # the last item of the last page
            break
    assert pager.cursor is None  # as after a complete scan: nothing is left to resume
    assert (pager.pages_read, pager.items_read) == (3, 250)
    assert pager.exhausted  # which tells this None from the None of a scan not started


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_complete_scan_leaves_the_pager_exhausted(prefetch: int) -> None:
    catalogue = Catalogue(250, size=100)
    pager = AsyncPager(catalogue.fetch, prefetch=prefetch)
    assert not pager.exhausted
    assert len([x async for x in pager]) == 250
    assert pager.exhausted and pager.cursor is None
    assert (pager.pages_read, pager.items_read) == (3, 250)


@pytest.mark.parametrize("prefetch", [0, 1])
@pytest.mark.parametrize("stop_at", [100, 150, 198])
async def test_break_inside_a_page_keeps_the_cursor_before_it(prefetch: int, stop_at: int) -> None:
    catalogue = Catalogue(250, size=100)
    pager = AsyncPager(catalogue.fetch, prefetch=prefetch)
    taken: list[int] = []
    async for item in pager:
        taken.append(item)
        if item == stop_at:
            break
    assert pager.cursor == "100"  # page [100, 200) is not finished: resume re-reads it
    assert (pager.pages_read, pager.items_read) == (1, 100)
    rest = [item async for item in AsyncPager(catalogue.fetch, cursor=pager.cursor)]
    assert set(taken) | set(rest) == set(range(250))
    assert rest[0] == 100


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_break_after_a_page_followed_by_an_empty_page(prefetch: int) -> None:
    catalogue = Catalogue(300, size=100, empty_at={200})
    pager = AsyncPager(catalogue.fetch, prefetch=prefetch)
    async for item in pager:
        if item == 199:
            break
    assert pager.cursor == "200"
    rest = [item async for item in AsyncPager(catalogue.fetch, cursor=pager.cursor)]
    assert rest == list(range(200, 300))


@pytest.mark.parametrize("prefetch", [0, 1])
async def test_pages_cursor_moves_when_the_next_page_is_asked_for(prefetch: int) -> None:
    catalogue = Catalogue(250, size=100)
    pager = AsyncPager(catalogue.fetch, prefetch=prefetch)
    seen: list[str | None] = []
    async for page in pager.pages():
        seen.append(pager.cursor)  # the page just yielded is not consumed yet
        if page.cursor == "200":
            break
    assert seen == [None, "100"]
    assert pager.cursor == "100"
    assert not pager.exhausted

    pager = AsyncPager(catalogue.fetch, prefetch=prefetch)
    async for _page in pager.pages():
        pass
    assert pager.exhausted and pager.cursor is None
    assert (pager.pages_read, pager.items_read) == (3, 250)


# -- cursor cycles: any cursor seen before in the scan ends it with PaginationError ---------


class CyclingServer:
    """Pages 0, 1, 2, ... of one item each; after ``prefix`` fresh cursors the cursors repeat
    with period ``period`` (cursor ``k`` stands for position ``k`` of that sequence)."""

    def __init__(self, prefix: int, period: int) -> None:
        self.prefix = prefix
        self.period = period
        self.requested: list[str | None] = []

    def position(self, k: int) -> int:
        last = self.prefix + self.period
        return k if k <= last else self.prefix + 1 + (k - self.prefix - 1) % self.period

    async def fetch(self, cursor: str | None) -> tuple[list[int], str | None]:
        self.requested.append(cursor)
        await asyncio.sleep(0)
        k = 0 if cursor is None else int(cursor.removeprefix("c"))
        return [k], f"c{self.position(k + 1)}"


async def _read_until_error(pager: AsyncPager[T]) -> tuple[list[T], PaginationError]:
    seen: list[T] = []
    with pytest.raises(PaginationError) as info:
        async for item in pager:
            seen.append(item)
            assert len(seen) < 1_000_000, "the cycle was not detected"
    return seen, info.value


@pytest.mark.parametrize("prefetch", [0, 1])
@pytest.mark.parametrize(("prefix", "period"), [(0, 1), (3, 1), (0, 2), (5, 2), (0, 50), (7, 50)])
async def test_a_cursor_cycle_is_caught_before_any_page_repeats(
    prefetch: int, prefix: int, period: int
) -> None:
    server = CyclingServer(prefix, period)
    seen, error = await _read_until_error(AsyncPager(server.fetch, prefetch=prefetch))
    # every distinct page once; the page whose cursor points back is not handed out
    assert seen == list(range(prefix + period))
    assert f"'c{prefix + 1}'" in str(error)
    assert "cycle" in str(error)
    assert f"after {period} page" in str(error)


async def test_a_cycle_back_to_the_resume_cursor_is_caught() -> None:
    async def fetch(cursor: str | None) -> tuple[list[str], str | None]:
        return [f"at {cursor}"], {"a": "b", "b": "a"}[cursor or "a"]

    seen, error = await _read_until_error(AsyncPager(fetch, cursor="a"))
    assert seen == ["at a"]  # page "b" points back to "a": it is not handed out
    assert "cursor 'a' came back after 2 pages" in str(error)


@pytest.mark.parametrize("window", [1, 8])
@pytest.mark.parametrize(("prefix", "period"), [(0, 1), (0, 2), (0, 50), (1_000, 2), (37, 333)])
async def test_cycles_longer_than_the_recent_window_are_caught_in_bounded_memory(
    monkeypatch: pytest.MonkeyPatch, window: int, prefix: int, period: int
) -> None:
    from magine_async import pagination

    monkeypatch.setattr(pagination, "RECENT_CURSORS", window)
    server = CyclingServer(prefix, period)
    pager = AsyncPager(server.fetch)
    seen, error = await _read_until_error(pager)
    assert f"after {period} page" in str(error)
    distinct = prefix + period
    assert seen[:distinct] == list(range(distinct))
    # Brent's check: caught within a few periods once the tortoise is inside the cycle
    assert len(seen) <= 2 * max(prefix + 2, period) + period
    stream = pager._stream
    assert stream is not None
    assert len(stream._guard._recent) <= window


def test_the_cycle_guard_keeps_constant_memory_over_a_long_scan() -> None:
    from magine_async.pagination import RECENT_CURSORS, _CursorGuard

    guard = _CursorGuard(None)
    prefix, period = 100_000, 5_000
    for k in range(prefix):
        guard.check(f"cursor-{k}")
    assert len(guard._recent) == RECENT_CURSORS == len(guard._order)
    # a cycle far longer than the window, entered after a long prefix, is still caught
    checked = prefix
    with pytest.raises(PaginationError, match=f"after {period} pages"):
        for k in range(10 * (prefix + period)):
            checked += 1
            guard.check(f"cycle-{k % period}")
    assert checked <= 2 * max(prefix + 2, period) + period
    assert len(guard._recent) == RECENT_CURSORS


# -- the same against HTTP: a scripted server whose cursors cycle ---------------------------


def _viewable(n: int) -> dict[str, object]:
    return {
        "id": f"00000000-0000-4000-8000-{n:012d}",
        "partnerId": "magine-pro-demo",
        "metadata": {"kind": "movie", "title": f"Movie {n}"},
        "createdAt": 1623853814,
        "modifiedAt": 1623853814,
        "publish": True,
    }


@pytest.mark.parametrize("period", [1, 2, 50])
async def test_sdk_list_stops_on_a_server_whose_cursors_cycle(
    server: ScriptedServer, client: MagineClient, period: int
) -> None:
    cycling = CyclingServer(prefix=2, period=period)

    async def page(request: web.Request) -> web.StreamResponse:
        items, cursor = await cycling.fetch(request.query.get("cursor"))
        body = {"viewables": [_viewable(n) for n in items], "cursor": cursor}
        return web.json_response(body)

    server.default = page
    ids: list[str] = []
    with pytest.raises(PaginationError, match="cycle"):
        async for viewable in client.viewables.list(page_size=1):
            ids.append(viewable.id)
            assert len(ids) < 10_000, "the cycle was not detected"
    assert ids == [_viewable(n)["id"] for n in range(2 + period)]
    assert len(server.seen) <= 2 + period + 2  # the failing page and at most one prefetched
