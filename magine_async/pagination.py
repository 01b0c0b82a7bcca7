"""Cursor pagination that streams a catalogue in constant memory.

An :class:`AsyncPager` walks the pages of a list operation. ``async for item in pager`` yields
items across pages; ``async for page in pager.pages()`` yields :class:`Page` objects, whose
``cursor`` resumes the scan right after that page (save it as a checkpoint); ``await pager``
returns the first page alone.

While the caller works on one page, the next is already being fetched (``prefetch=1``, the
default; ``prefetch=0`` fetches on demand). At most the current page and ``prefetch`` more are
held, whatever the size of the catalogue. A page that is empty but carries a cursor continues the
scan; a page without a cursor ends it.

Leaving a loop early (``break``, an exception, cancellation) cancels the fetch in progress:
use ``async with pager:`` (or ``aclose()``) to make that deterministic; otherwise it happens
as soon as the iterator is dropped.

A server whose cursors come back to one already used in the scan (``c1 -> c2 -> c1``) would
make the scan endless: the pager raises :class:`PaginationError` instead. The check keeps
constant memory whatever the length of the scan: a digest of each of the last
:data:`RECENT_CURSORS` cursors catches a cycle of up to that many pages before any page is
handed out twice; Brent's cycle detection (one more digest) catches longer cycles too, within
a few rounds of the cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from types import TracebackType
from typing import Generic, Self, TypeVar

from ._errors import MagineError

__all__ = ["RECENT_CURSORS", "AsyncPager", "Page", "PaginationError"]

T = TypeVar("T")

FetchPage = Callable[[str | None], Awaitable[tuple[list[T], str | None]]]


RECENT_CURSORS = 1024
"""How many of the latest cursors of a scan are remembered (as 16-byte digests) to catch a
cursor cycle at once; longer cycles are caught by Brent's algorithm, in constant memory."""


class PaginationError(MagineError):
    """The server returned a cursor already used in this scan: its cursors cycle, and the scan
    would repeat pages without end."""


def _digest(cursor: str) -> bytes:
    return hashlib.blake2b(cursor.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _shown(cursor: str) -> str:
    return repr(cursor if len(cursor) <= 80 else cursor[:77] + "...")


class _CursorGuard:
    """Raises PaginationError when a scan's cursor sequence comes back to a cursor it held.

    Position 0 is the starting cursor (if any), position ``k`` the cursor returned by page
    ``k``. Two checks, each in bounded memory:

    * the digests of the last :data:`RECENT_CURSORS` cursors: a cycle of up to that many pages
      is caught the first time a cursor repeats, before any page is read twice;
    * Brent's algorithm: one saved cursor (the "tortoise"), moved to the current position
      whenever the distance to it reaches a power of two, which then doubles. Once the tortoise
      stands inside the cycle and the power is at least the cycle's length, the sequence meets
      it again: a cycle of any length is caught, within ``2 * max(prefix + 2, period) +
      period`` pages (``prefix`` being the number of cursors before the cycle).
    """

    __slots__ = ("_order", "_position", "_power", "_recent", "_tortoise", "_tortoise_at")

    def __init__(self, start: str | None) -> None:
        self._recent: dict[bytes, int] = {}  # digest -> position
        self._order: deque[bytes] = deque()
        self._position = 0
        self._tortoise: bytes | None = None
        self._tortoise_at = 0
        self._power = 1
        if start is not None:
            self._tortoise = _digest(start)
            self._remember(self._tortoise)

    def _remember(self, digest: bytes) -> None:
        self._recent[digest] = self._position
        self._order.append(digest)
        while len(self._order) > max(RECENT_CURSORS, 1):
            del self._recent[self._order.popleft()]

    def check(self, cursor: str) -> None:
        """Record the cursor of the next page; raise PaginationError if it was seen before."""
        digest = _digest(cursor)
        self._position += 1
        seen_at = self._recent.get(digest)
        if seen_at is None and digest == self._tortoise:
            seen_at = self._tortoise_at
        if seen_at is not None:
            period = self._position - seen_at
            pages = "page" if period == 1 else "pages"
            raise PaginationError(
                f"the server's cursors cycle: cursor {_shown(cursor)} came back after {period} "
                f"{pages}, so the scan would repeat pages without end"
            )
        if self._position - self._tortoise_at == self._power:
            self._tortoise, self._tortoise_at = digest, self._position
            self._power *= 2
        self._remember(digest)


class Page(Generic[T]):
    """One page of results: ``items``, the ``cursor`` that continues after it (None at the end),
    and ``request_cursor``, the cursor that fetched it (None for the first page)."""

    __slots__ = ("cursor", "items", "request_cursor")

    def __init__(self, items: list[T], cursor: str | None, request_cursor: str | None) -> None:
        self.items = items
        self.cursor = cursor
        self.request_cursor = request_cursor

    @property
    def is_last(self) -> bool:
        return self.cursor is None

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"Page(items={len(self.items)}, cursor={self.cursor!r})"


class _PageStream(Generic[T]):
    """Fetches pages in order, at most ``prefetch`` ahead of the consumer."""

    def __init__(self, fetch: FetchPage[T], cursor: str | None, prefetch: int) -> None:
        self._fetch = fetch
        self._guard = _CursorGuard(cursor)
        self._next_cursor = cursor
        self._started = False
        self._done = False
        self._prefetch = prefetch
        self._queue: asyncio.Queue[Page[T] | BaseException | None] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._producer: asyncio.Task[None] | None = None

    async def _fetch_page(self, cursor: str | None) -> Page[T]:
        # Pages are fetched one after the other, in order, by the producer or the consumer.
        items, next_cursor = await self._fetch(cursor)
        if next_cursor is not None:
            self._guard.check(next_cursor)
        return Page(items, next_cursor, cursor)

    async def _produce(self, cursor: str | None) -> None:
        assert self._queue is not None
        assert self._slots is not None
        try:
            while True:
                await self._slots.acquire()
                page = await self._fetch_page(cursor)
                self._queue.put_nowait(page)
                if page.cursor is None:
                    self._queue.put_nowait(None)
                    return
                cursor = page.cursor
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._queue.put_nowait(exc)

    async def next_page(self) -> Page[T] | None:
        if self._done:
            return None
        if self._prefetch <= 0:
            if self._started and self._next_cursor is None:
                self._done = True
                return None
            self._started = True
            page = await self._fetch_page(self._next_cursor)
            self._next_cursor = page.cursor
            return page
        if self._producer is None:
            # One slot for the page the consumer holds, ``prefetch`` for pages fetched ahead.
            self._queue = asyncio.Queue()
            self._slots = asyncio.Semaphore(self._prefetch + 1)
            self._producer = asyncio.get_running_loop().create_task(
                self._produce(self._next_cursor), name="magine_async-page-prefetch"
            )
        else:
            assert self._slots is not None
            self._slots.release()  # the consumer is done with its previous page
        assert self._queue is not None
        item = await self._queue.get()
        if item is None:
            self._done = True
            return None
        if isinstance(item, BaseException):
            self._done = True
            raise item
        return item

    def cancel(self) -> None:
        self._done = True
        producer = self._producer
        if producer is not None and not producer.done():
            producer.cancel()

    async def aclose(self) -> None:
        self._done = True
        producer, self._producer = self._producer, None
        if producer is not None and not producer.done():
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer

    def __del__(self) -> None:
        # Dropped without aclose() (a ``break`` out of ``async for``): stop the prefetch.
        self.cancel()


class _Iterator(Generic[T]):
    __slots__ = ("_on_page", "_page", "_position", "_stream")

    def __init__(self, stream: _PageStream[T], on_page: Callable[[Page[T]], None]) -> None:
        self._stream = stream
        self._on_page = on_page
        self._page: Page[T] | None = None
        self._position = 0

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        page = self._page
        while page is None or self._position >= len(page.items):
            try:
                page = self._page = await self._stream.next_page()
            except BaseException:
                self._stream.cancel()
                raise
            self._position = 0
            if page is None:
                raise StopAsyncIteration
            if not page.items:
                self._on_page(page)  # an empty page is consumed as soon as it arrives
        item = page.items[self._position]
        self._position += 1
        if self._position == len(page.items):
            # Its last item is taken: the page is consumed, even if the loop breaks right now.
            self._on_page(page)
        return item

    async def aclose(self) -> None:
        await self._stream.aclose()

    def __del__(self) -> None:
        # A ``break`` drops the iterator: stop fetching ahead even if the pager is still held.
        self._stream.cancel()


class AsyncPager(Generic[T]):
    """Iterate a paginated list: ``async for item in pager`` or ``async for page in pager.pages()``.

    ``cursor`` is the position after the last page fully consumed: store it, and pass it as
    ``cursor=`` to the same list call to resume. Iterating items, a page counts as consumed
    once its last item has been taken (an empty page, once it has arrived); iterating
    ``pages()``, once the next page is asked for. A break in the middle of a page leaves
    ``cursor`` before that page, so a resumed scan reads it again rather than skip any of it.
    After the last page is consumed ``cursor`` is None and ``exhausted`` is True: nothing is
    left to resume (while ``exhausted`` is False, a None ``cursor`` is the very start of the
    list). ``pages_read`` and ``items_read`` count the consumed pages and their items. A pager
    can be iterated once.
    """

    def __init__(
        self, fetch: FetchPage[T], *, cursor: str | None = None, prefetch: int = 1
    ) -> None:
        if prefetch < 0:
            raise ValueError("prefetch: must be 0 or more")
        self._fetch = fetch
        self._start_cursor = cursor
        self.cursor = cursor
        self._prefetch = prefetch
        self._stream: _PageStream[T] | None = None
        self.pages_read = 0
        self.items_read = 0
        self.exhausted = False

    def __repr__(self) -> str:
        return f"AsyncPager(cursor={self.cursor!r}, prefetch={self._prefetch})"

    def _open(self) -> _PageStream[T]:
        if self._stream is not None:
            raise RuntimeError("an AsyncPager can be iterated only once; create a new one")
        self._stream = _PageStream(self._fetch, self._start_cursor, self._prefetch)
        return self._stream

    def _consumed(self, page: Page[T]) -> None:
        self.pages_read += 1
        self.items_read += len(page.items)
        self.cursor = page.cursor
        if page.cursor is None:
            self.exhausted = True

    def __aiter__(self) -> _Iterator[T]:
        return _Iterator(self._open(), self._consumed)

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Yield whole pages; ``page.cursor`` resumes right after the page."""
        stream = self._open()
        try:
            while True:
                page = await stream.next_page()
                if page is None:
                    return
                yield page
                self._consumed(page)
        finally:
            await stream.aclose()

    async def first_page(self) -> Page[T]:
        """Fetch only the page at the starting cursor."""
        items, cursor = await self._fetch(self._start_cursor)
        return Page(items, cursor, self._start_cursor)

    def __await__(self) -> Generator[object, None, Page[T]]:
        return self.first_page().__await__()

    async def aclose(self) -> None:
        """Stop the scan and cancel any fetch in progress."""
        if self._stream is not None:
            await self._stream.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
