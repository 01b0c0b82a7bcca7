"""The viewable store: pre-encoded JSON per viewable, in a stable insertion order.

Position ``i`` in :attr:`Catalogue.blobs` is the viewable's insertion sequence number; it
never changes (the platform has no viewable delete), so a cursor that carries the last
position seen resumes a scan with neither duplicates nor skips, whatever is created or
modified meanwhile. Besides the encoded bytes only title, createdAt and modifiedAt are
kept per viewable (for the filters); everything else is read from the document itself.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

from ._generator import CatalogueGenerator

_decode = msgspec.json.decode
_encode = msgspec.json.encode


class Catalogue:
    def __init__(self, generator: CatalogueGenerator) -> None:
        self.generator = generator
        self.blobs: list[bytes] = []
        self.titles: list[str] = []
        self.created = array("q")
        self.modified = array("q")
        self.n_generated = 0
        self._base_max_created = -(2**62)
        self._base_max_modified = -(2**62)
        self._touched: set[int] = set()
        self._touched_sorted: list[int] | None = []
        # lookups for values not produced by the generator (verified on use)
        self._ids: dict[str, int] = {}
        self._custom: dict[str, int] = {}
        self._sources: dict[str, set[int]] = {}
        self._assets: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.blobs)

    # -- building ------------------------------------------------------------------------

    def generate(self, count: int) -> None:
        if self.blobs:
            raise RuntimeError("the catalogue can only be generated while it is empty")
        blobs, titles, created, modified = self.blobs, self.titles, self.created, self.modified
        max_c = max_m = -(2**62)
        for blob, title, c, m in self.generator.viewables(count):
            blobs.append(blob)
            titles.append(title)
            created.append(c)
            modified.append(m)
            if c > max_c:
                max_c = c
            if m > max_m:
                max_m = m
        self.n_generated = count
        self._base_max_created = max_c
        self._base_max_modified = max_m

    def add(self, doc: dict[str, Any]) -> int:
        """Append a new viewable document; returns its position."""
        index = len(self.blobs)
        blob = _encode(doc)
        self.blobs.append(blob)
        self.titles.append(str(doc["metadata"].get("title", "")))
        self.created.append(int(doc["createdAt"]))
        self.modified.append(int(doc["modifiedAt"]))
        self._ids[str(doc["id"])] = index
        self._index_values(index, doc)
        return index

    def replace(self, index: int, doc: dict[str, Any]) -> bytes:
        """Store a changed document at its position; returns the new encoding."""
        blob = _encode(doc)
        self.blobs[index] = blob
        self.titles[index] = str(doc["metadata"].get("title", ""))
        self.modified[index] = int(doc["modifiedAt"])
        if index < self.n_generated and index not in self._touched:
            self._touched.add(index)
            self._touched_sorted = None
        self._index_values(index, doc)
        return blob

    def _index_values(self, index: int, doc: dict[str, Any]) -> None:
        custom = doc["metadata"].get("customId")
        if isinstance(custom, str):
            self._custom[custom] = index
        for vod in doc.get("vods") or ():
            if isinstance(vod, dict):
                source = vod.get("sourceId")
                if isinstance(source, str):
                    self._sources.setdefault(source, set()).add(index)
                asset = vod.get("assetId")
                if isinstance(asset, str):
                    self._assets[asset] = index

    # -- reading -------------------------------------------------------------------------

    def doc(self, index: int) -> dict[str, Any]:
        value: dict[str, Any] = _decode(self.blobs[index])
        return value

    def find_id(self, viewable_id: str) -> int | None:
        index = self._ids.get(viewable_id)
        if index is not None:
            return index
        index = self.generator.index_from_id(viewable_id)
        if index is None or index >= self.n_generated:
            return None
        prefix = b'{"id":"%s"' % viewable_id.encode()
        return index if self.blobs[index].startswith(prefix) else None

    def find_custom_id(self, custom_id: str) -> int | None:
        for index in (self._custom.get(custom_id), self.generator.index_from_custom_id(custom_id)):
            if (
                index is not None
                and index < len(self.blobs)
                and self.doc(index)["metadata"].get("customId") == custom_id
            ):
                return index
        return None

    def find_asset_id(self, asset_id: str) -> int | None:
        for index in (self._assets.get(asset_id), self.generator.index_from_asset_id(asset_id)):
            if (
                index is not None
                and index < len(self.blobs)
                and any(vod.get("assetId") == asset_id for vod in self._vods(index))
            ):
                return index
        return None

    def find_source_id(self, source_id: str) -> list[int]:
        candidates = set(self._sources.get(source_id, ()))
        generated = self.generator.index_from_source_id(source_id)
        if generated is not None and generated < len(self.blobs):
            candidates.add(generated)
        return sorted(
            i for i in candidates if any(vod.get("sourceId") == source_id for vod in self._vods(i))
        )

    def _vods(self, index: int) -> list[dict[str, Any]]:
        vods = self.doc(index).get("vods")
        return [v for v in vods if isinstance(v, dict)] if isinstance(vods, list) else []

    # -- listing -------------------------------------------------------------------------

    def page(
        self,
        start: int,
        size: int,
        *,
        title: str | None = None,
        source_id: str | None = None,
        asset_id: str | None = None,
        created_after: float | None = None,
        modified_after: float | None = None,
    ) -> tuple[list[bytes], int | None]:
        """Up to ``size`` encoded viewables (a new list) from position ``start`` on, and the
        position to resume from (``None`` when nothing is left)."""
        blobs = self.blobs
        if (
            title is None
            and source_id is None
            and asset_id is None
            and created_after is None
            and modified_after is None
        ):
            chunk = blobs[start : start + size + 1]
            if len(chunk) > size:
                return chunk[:size], start + size
            return chunk, None
        positions = self._candidates(
            start, title, source_id, asset_id, created_after, modified_after
        )
        keep = self._predicate(created_after, modified_after)
        picked: list[int] = []
        for i in positions:
            if keep(i):
                if len(picked) == size:
                    return [blobs[p] for p in picked], picked[-1] + 1
                picked.append(i)
        return [blobs[p] for p in picked], None

    def _candidates(
        self,
        start: int,
        title: str | None,
        source_id: str | None,
        asset_id: str | None,
        created_after: float | None,
        modified_after: float | None,
    ) -> Iterable[int]:
        total = len(self.blobs)
        sets: list[set[int]] = []
        if source_id is not None:
            sets.append(set(self.find_source_id(source_id)))
        if asset_id is not None:
            found = self.find_asset_id(asset_id)
            sets.append({found} if found is not None else set())
        if sets:
            chosen = set.intersection(*sets)
            if title is not None:
                chosen = {i for i in chosen if self.titles[i] == title}
            return sorted(i for i in chosen if i >= start)
        if title is not None:
            return self._title_positions(title, start)
        if created_after is not None:
            if created_after >= self._base_max_created:
                return range(max(start, self.n_generated), total)
            # generated createdAt grows strictly with the position and never changes
            first = bisect.bisect_right(self.created, created_after, 0, self.n_generated)
            start = max(start, first)
        if modified_after is not None and modified_after >= self._base_max_modified:
            touched = self._sorted_touched()
            first = bisect.bisect_left(touched, start)
            return _chain_sorted(touched[first:], range(max(start, self.n_generated), total))
        return range(start, total)

    def _title_positions(self, title: str, start: int) -> Iterator[int]:
        titles = self.titles
        position = start
        while True:
            try:
                position = titles.index(title, position)
            except ValueError:
                return
            yield position
            position += 1

    def _predicate(
        self, created_after: float | None, modified_after: float | None
    ) -> Callable[[int], bool]:
        created, modified = self.created, self.modified
        if created_after is not None and modified_after is not None:
            return lambda i: created[i] > created_after and modified[i] > modified_after
        if created_after is not None:
            return lambda i: created[i] > created_after
        if modified_after is not None:
            return lambda i: modified[i] > modified_after
        return lambda i: True

    def _sorted_touched(self) -> list[int]:
        if self._touched_sorted is None:
            self._touched_sorted = sorted(self._touched)
        return self._touched_sorted


def _chain_sorted(first: list[int], second: range) -> Iterator[int]:
    """Positions of ``first`` (all below ``second``) then ``second``."""
    yield from first
    yield from second
