"""Catalogue export: stream every viewable (or every one changed since the last run) to JSONL.

The job most users run first: pull the catalogue into a file another system loads. It is

- **constant in memory**: the pager holds the current page and one prefetched page; nothing
  else grows with the catalogue (the only per-viewable state kept is bounded, see below);
- **lossless**: each line is one viewable's JSON text exactly as the platform sent it, sliced
  out of the page (:class:`msgspec.Raw`) and never decoded into a model and encoded again.
  Unknown properties (at any depth), key order, number spellings and string escapes are kept
  byte for byte, and a viewable's line does not depend on the other viewables of its page. A
  viewable the platform spread over several lines (a pretty-printed page) is joined into one by
  removing the whitespace between its tokens (``msgspec.json.format``); nothing else changes;
- **resumable, exactly once**: after each page the output is appended and fsynced, then the
  checkpoint is atomically replaced (temporary file, fsync, ``os.replace``, fsync of the
  directory). The checkpoint records the cursor after that page *and the output's length*.
  Resuming truncates the output to that length and continues from that cursor, so a page
  written after the last checkpoint (the process died between the two steps, or in the middle
  of a write) is discarded and fetched again: every viewable ends up in the file exactly once;
- **incremental**: a completed checkpoint remembers the newest ``modifiedAt`` exported, and
  :func:`plan_export` with ``since_last=True`` exports only what changed after it.

What the exporter reads of a viewable
-------------------------------------
Only ``id`` (a string) and ``modifiedAt`` (a number: an integer or a float, as the document
types it) are decoded from each viewable; everything else is copied. A listed item without
them (or not a JSON object) cannot be placed in an incremental export: it is *rejected*, not
written, and never dropped silently. The checkpoint counts it (``counts.rejected``) and keeps
its page, position, the cursor that fetched the page, the reason and the start of its JSON
(the first :data:`MAX_REJECTED_RECORDED`); the export goes on with the rest, and the command
line reports it on stderr and exits 1 (like ``bulk``: done, but not everything). A page
whose body is not a viewable listing at all fails the export as an invalid answer.

Since-last and the strict, whole-second ``modifiedAfter``
--------------------------------------------------------
``modifiedAfter=T`` returns viewables with ``modifiedAt > T``, in whole seconds. Asking for
``modifiedAfter=newest`` would miss a viewable modified in the same second as the newest one
exported, after the export read it. So the next run asks for ``modifiedAfter=floor(newest) - 1``
and skips the viewables it already holds: the checkpoint keeps the id and a digest of every
viewable exported in that window (``modifiedAt > floor(newest) - 1``: the newest second, and
with fractional ``modifiedAt`` the fraction of the second before it, which a platform comparing
exactly also returns). A viewable in the window is skipped only if its id is known with the
same ``modifiedAt`` and its JSON value is unchanged; anything changed is exported. Quiet
catalogue: the next run exports exactly the viewables modified since, nothing twice.

"Unchanged" means the same JSON value, whatever its spelling: the digest (BLAKE2b, 8 bytes,
:func:`line_digest`) is taken of a canonical form of the line, with object keys sorted, no
whitespace, strings in one escaping and numbers by value (``1.0``, ``1e0`` and ``1`` are the
same number). A platform that sends the same viewable with its keys in another order, or a
timestamp as ``1714000000.0`` one day and ``1714000000`` the next, does not make since-last
export it again. The canonical form is only used for the digest, and only computed for the
viewables of the window: the line written is always the platform's text.

Two bounds keep this safe and constant in memory:

- at most :data:`MAX_NEWEST_IDS` ids are kept for the window; beyond that none are, and the
  next run exports every viewable of the window again (duplicates, never a loss);
- a viewable modified *while* an export runs may sit behind the cursor already, with a
  ``modifiedAt`` older than the newest one exported. When the newest ``modifiedAt`` is not
  older than the run's start minus :data:`CLOCK_ALLOWANCE` seconds (so the catalogue changed
  during the run, or the clocks disagree), the next run starts at that point instead
  (``modifiedAfter = started_at - CLOCK_ALLOWANCE - 1``): again duplicates, never a loss.

A checkpoint of another source
------------------------------
A checkpoint records where its cursor and watermark are valid (``source``: the base URL). A
checkpoint of another source is refused, because its cursor and watermark mean nothing here,
with a message saying that ``--restart`` (``restart=True``) starts over; ``restart`` then
ignores it altogether and starts a new export from this source (with ``since_last``, of
everything), replacing the output and the checkpoint. A checkpoint of another source that
never committed a page (the first request failed: a mistyped base URL) holds nothing to lose
and is replaced without asking.

Checkpoint format (JSON, ``version`` 1)
---------------------------------------
::

    {
      "format": "magine-async/catalogue-export",
      "version": 1,
      "status": "running" | "complete",
      "source": "https://platform-api.magine.com/api/v1",    # where the cursor is valid
      "output": {"path": "/abs/catalogue.jsonl", "bytes": 7340032},
      "query": {"modified_after": 1714000000 | null, "page_size": 100 | null},
      "cursor": "WzEwMDBd" | null,                          # resumes after the last page
      "counts": {"items": 5000, "pages": 50, "skipped": 0, "rejected": 0},
      "started_at": 1714560000,                             # epoch s, this run's start
      "updated_at": 1714560042,
      "newest": {"modified_at": 1714559990 | null,          # newest modifiedAt exported
                 "ids": {"<viewable id>": "<digest>"},       # those at exactly that moment
                 "earlier": {"<id>": [<modifiedAt>, "<digest>"]},  # the rest of the window
                 "ids_complete": true},
      "skip": {"modified_at": ..., "ids": {...}, "earlier": {...}} | null,
                                                            # the previous run's "newest",
                                                            # skipped if unchanged
      "rejected": [{"page": 3, "index": 17, "request_cursor": "..." | null,
                    "id": "..." | null, "reason": "...", "excerpt": "{\"partnerId\": ..."}]
    }

The output is complete when ``status`` is ``"complete"``. ``newest`` is cumulative: a since-last
run starts from the previous run's ``newest`` (its ``skip``), so a run that finds nothing new
keeps the watermark it started from. ``earlier`` is empty unless ``modifiedAt`` has fractions.
A checkpoint without ``earlier``, ``counts.rejected`` or ``rejected`` (written by an earlier
release) reads as if they were empty; its digests were taken of another encoding, so the first
since-last run after an upgrade exports the viewables of its window again (never a loss).

From Python::

    from magine_async.catalogue import export_catalogue

    async with MagineClient() as client:
        checkpoint = await export_catalogue(client, "catalogue.jsonl", since_last=True)
        print(checkpoint.counts.items, checkpoint.newest.modified_at)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

import msgspec

from ._errors import MagineError
from .models._validate import validate_non_empty, validate_page_size
from .pagination import AsyncPager, Page
from .resources.viewables import _LIST

if TYPE_CHECKING:
    from ._client import MagineClient

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CLOCK_ALLOWANCE",
    "MAX_NEWEST_IDS",
    "MAX_REJECTED_RECORDED",
    "Checkpoint",
    "CheckpointCounts",
    "CheckpointOutput",
    "CheckpointQuery",
    "ExportError",
    "ExportPlan",
    "NewestSeen",
    "Rejected",
    "SkipSet",
    "canonical_json",
    "default_checkpoint_path",
    "export_catalogue",
    "format_epoch",
    "line_digest",
    "load_checkpoint",
    "plan_export",
    "write_atomically",
]

CHECKPOINT_FORMAT = "magine-async/catalogue-export"
CHECKPOINT_VERSION = 1
MAX_NEWEST_IDS = 10_000
"""How many viewables of the newest window (see the module docs) a checkpoint remembers."""
CLOCK_ALLOWANCE = 60
"""Seconds of disagreement allowed between this machine's clock and the platform's."""
MAX_REJECTED_RECORDED = 100
"""How many rejected viewables a checkpoint describes (all of them are counted)."""
EXCERPT_CHARS = 200
"""How much of a rejected viewable's JSON its record keeps."""


class ExportError(MagineError):
    """An export cannot start or continue as asked (``usage``: the flags are the problem)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def _number(text: str) -> Any:
    """A JSON number with a fraction or an exponent, by value: integral ones as ints."""
    value = float(text)
    if value.is_integer():
        return int(value)
    if math.isfinite(value):
        return value
    return msgspec.Raw(text.encode())  # beyond a double (1e400): compared as spelled


_canonical_decoder: Final = msgspec.json.Decoder(float_hook=_number)
_canonical_encoder: Final = msgspec.json.Encoder(order="sorted")


def canonical_json(line: bytes) -> bytes:
    """The JSON value of ``line`` in one spelling: object keys sorted, no whitespace, strings
    in msgspec's escaping, numbers by value (``1.0`` and ``1e0`` are written ``1``)."""
    return _canonical_encoder.encode(_canonical_decoder.decode(line))


def line_digest(line: bytes) -> str:
    """The digest a checkpoint keeps of an exported JSON line (16 hex digits), taken of its
    canonical form (:func:`canonical_json`): two spellings of the same JSON value have the
    same digest."""
    try:
        data = canonical_json(line)
    except (msgspec.DecodeError, msgspec.EncodeError):  # not JSON: as it is
        data = bytes(line)
    return hashlib.blake2b(data, digest_size=8).hexdigest()


class _Keyed(Protocol):
    """What the since-last bookkeeping reads of a viewable (a :class:`~.models.Viewable` too)."""

    @property
    def id(self) -> str: ...

    @property
    def modified_at(self) -> int | float: ...


def format_epoch(seconds: int | float, pattern: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    """Epoch seconds as a UTC date-time; a number no date-time can show, as it is."""
    try:
        return _dt.datetime.fromtimestamp(seconds, _dt.UTC).strftime(pattern)
    except (OverflowError, ValueError, OSError):
        return f"{seconds} (epoch seconds)"


def _window_start(newest: int | float) -> int:
    """The window of ``newest`` is ``modifiedAt > _window_start(newest)``: what the next
    since-last run asks for again (see the module docs)."""
    return math.floor(newest) - 1


# -- the checkpoint file -----------------------------------------------------------------


class CheckpointOutput(msgspec.Struct, kw_only=True):
    path: str
    bytes: int = 0


class CheckpointQuery(msgspec.Struct, kw_only=True):
    modified_after: int | None = None
    page_size: int | None = None


class CheckpointCounts(msgspec.Struct, kw_only=True):
    items: int = 0
    pages: int = 0
    skipped: int = 0
    rejected: int = 0


class Rejected(msgspec.Struct, kw_only=True):
    """A listed item that was not exported because its ``id`` or ``modifiedAt`` cannot be read.

    ``page`` counts the pages of the export from 1, ``index`` the items of that page from 0;
    ``request_cursor`` is the cursor that fetched the page (None for the first one), so the
    page can be fetched again; ``excerpt`` is the start of the item's JSON.
    """

    page: int
    index: int
    request_cursor: str | None = None
    id: str | None = None
    reason: str
    excerpt: str


class SkipSet(msgspec.Struct, kw_only=True):
    """Viewables exported earlier in the window of ``modified_at``, to skip if unchanged.

    ``ids``: id -> line digest of those with ``modifiedAt == modified_at``; ``earlier``: id ->
    ``(modifiedAt, digest)`` of the others (only with fractional ``modifiedAt``).
    """

    modified_at: int | float
    ids: dict[str, str] = msgspec.field(default_factory=dict)
    earlier: dict[str, tuple[int | float, str]] = msgspec.field(default_factory=dict)

    def known_digest(self, viewable_id: str, modified_at: int | float) -> str | None:
        """The digest recorded for this id at this ``modifiedAt``; None if there is none."""
        if modified_at == self.modified_at:
            return self.ids.get(viewable_id)
        entry = self.earlier.get(viewable_id)
        if entry is not None and entry[0] == modified_at:
            return entry[1]
        return None

    def holds(self, viewable: _Keyed, line: bytes) -> bool:
        """True if ``viewable`` was exported before with the JSON value ``line`` encodes."""
        known = self.known_digest(viewable.id, viewable.modified_at)
        return known is not None and known == line_digest(line)


class NewestSeen(msgspec.Struct, kw_only=True):
    """The newest ``modifiedAt`` exported and the viewables exported in its window.

    The window is ``modifiedAt > floor(modified_at) - 1``: the newest second (and, with
    fractional ``modifiedAt``, the fraction of the second before it), which the next since-last
    run asks for again. ``ids`` holds those at exactly ``modified_at``, ``earlier`` the rest.
    """

    modified_at: int | float | None = None
    ids: dict[str, str] = msgspec.field(default_factory=dict)
    earlier: dict[str, tuple[int | float, str]] = msgspec.field(default_factory=dict)
    ids_complete: bool = True

    def advance(self, moment: int | float) -> None:
        """Move the newest ``modifiedAt`` to ``moment`` if it is newer, dropping what falls out
        of the window."""
        newest = self.modified_at
        if newest is not None and moment <= newest:
            return
        start = _window_start(moment)
        earlier: dict[str, tuple[int | float, str]] = {}
        complete = True
        if newest is not None:
            if self.ids_complete:
                earlier = {k: v for k, v in self.earlier.items() if v[0] > start}
                if newest > start:
                    for key, digest in self.ids.items():
                        earlier[key] = (newest, digest)
            else:  # some were dropped: complete again once all of them are out of the window
                complete = newest <= start
        self.modified_at = moment
        self.ids = {}
        self.earlier = earlier
        self.ids_complete = complete

    def in_window(self, moment: int | float) -> bool:
        newest = self.modified_at
        return newest is not None and moment <= newest and moment > _window_start(newest)

    def add(self, viewable_id: str, moment: int | float, digest: str) -> None:
        """Record a viewable of the window (call :meth:`advance` first)."""
        if not self.ids_complete:
            return
        ids, earlier = self.ids, self.earlier
        if (
            len(ids) + len(earlier) >= MAX_NEWEST_IDS
            and viewable_id not in ids
            and viewable_id not in earlier
        ):
            self.ids = {}
            self.earlier = {}
            self.ids_complete = False
        elif moment == self.modified_at:
            ids[viewable_id] = digest
            earlier.pop(viewable_id, None)
        else:
            earlier[viewable_id] = (moment, digest)
            ids.pop(viewable_id, None)

    def observe(self, viewable: _Keyed, line: bytes) -> None:
        """Take an exported viewable into account (``line``: its JSON)."""
        moment = viewable.modified_at
        self.advance(moment)
        if self.in_window(moment):
            self.add(viewable.id, moment, line_digest(line))

    def as_skip(self) -> SkipSet | None:
        if self.modified_at is None or not self.ids_complete:
            return None
        return SkipSet(modified_at=self.modified_at, ids=dict(self.ids), earlier=dict(self.earlier))

    @classmethod
    def starting_from(cls, skip: SkipSet | None) -> NewestSeen:
        if skip is None:
            return cls()
        return cls(modified_at=skip.modified_at, ids=dict(skip.ids), earlier=dict(skip.earlier))


class Checkpoint(msgspec.Struct, kw_only=True):
    """The state of one export, as stored in the checkpoint file (see the module docs)."""

    format: str = CHECKPOINT_FORMAT
    version: int = CHECKPOINT_VERSION
    status: Literal["running", "complete"] = "running"
    source: str | None = None
    output: CheckpointOutput
    query: CheckpointQuery = msgspec.field(default_factory=CheckpointQuery)
    cursor: str | None = None
    counts: CheckpointCounts = msgspec.field(default_factory=CheckpointCounts)
    started_at: int = 0
    updated_at: int = 0
    newest: NewestSeen = msgspec.field(default_factory=NewestSeen)
    skip: SkipSet | None = None
    rejected: list[Rejected] = msgspec.field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def to_json(self) -> bytes:
        return msgspec.json.format(msgspec.json.encode(self), indent=1) + b"\n"

    def reject(
        self,
        *,
        page: int,
        index: int,
        cursor: str | None,
        item: bytes,
        reason: str,
        viewable_id: str | None = None,
    ) -> None:
        """Count a listed item that is not exported, and describe it while there is room."""
        self.counts.rejected += 1
        if len(self.rejected) >= MAX_REJECTED_RECORDED:
            return
        excerpt = bytes(item[: EXCERPT_CHARS * 4]).decode("utf-8", "replace")[:EXCERPT_CHARS]
        self.rejected.append(
            Rejected(
                page=page,
                index=index,
                request_cursor=cursor,
                id=viewable_id,
                reason=reason,
                excerpt=excerpt,
            )
        )

    def next_since_last(
        self, clock_allowance: int = CLOCK_ALLOWANCE
    ) -> tuple[int | None, SkipSet | None]:
        """``(modified_after, skip)`` for the export that follows this completed one."""
        newest = self.newest.modified_at
        # Whole seconds: one before the newest exported (a fractional modifiedAt included).
        after = self.query.modified_after if newest is None else _window_start(newest)
        if after is not None:
            # A viewable modified during this run may be behind the cursor with an older
            # modifiedAt than the newest exported: start again from the run's start then.
            after = min(after, self.started_at - clock_allowance - 1)
        return after, self.newest.as_skip()


_checkpoint_decoder = msgspec.json.Decoder(Checkpoint)


class _Header(msgspec.Struct):
    format: str = ""
    version: int = 0


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint | None:
    """The checkpoint stored at ``path``; None if there is no such file."""
    where = Path(path)
    try:
        data = where.read_bytes()
    except FileNotFoundError:
        return None
    try:
        header = msgspec.json.decode(data, type=_Header)
    except msgspec.DecodeError:
        raise ExportError(f"{where}: not a catalogue export checkpoint (not JSON)") from None
    if header.format != CHECKPOINT_FORMAT:
        raise ExportError(f"{where}: not a catalogue export checkpoint (format {header.format!r})")
    if header.version != CHECKPOINT_VERSION:
        raise ExportError(
            f"{where}: checkpoint version {header.version} is not supported "
            f"(this magine-async reads version {CHECKPOINT_VERSION})"
        )
    try:
        return _checkpoint_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ExportError(f"{where}: damaged checkpoint ({exc})") from None


def default_checkpoint_path(out: str | os.PathLike[str]) -> Path:
    """Where the checkpoint lives unless told otherwise: ``<out>.checkpoint.json``."""
    return Path(f"{os.fspath(out)}.checkpoint.json")


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems refusing to sync a directory
        pass
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: a reader sees the old file or the new one, never a mix,
    and the new one survives a crash once this returns."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_directory(path.parent)


# -- planning ------------------------------------------------------------------------------

PlanKind = Literal["full", "modified_after", "since_last", "resume", "done"]


@dataclass
class ExportPlan:
    """What an export will do, decided from the flags and the checkpoint before any request.

    ``kind``: ``"full"``, ``"modified_after"``, ``"since_last"``, ``"resume"`` or ``"done"``
    (resuming an export that had already completed: nothing to do). ``note`` says why, when
    the plan differs from what was asked (``since_last`` without a previous run).
    """

    kind: PlanKind
    out: Path
    checkpoint_path: Path
    checkpoint: Checkpoint
    note: str | None = None
    clock: Callable[[], float] = time.time
    discarded_bytes: int = 0
    """Bytes written after the last checkpoint that resuming discarded (set by :meth:`run`)."""

    def describe(self) -> str:
        cp = self.checkpoint
        if self.kind == "done":
            return f"the export recorded in {self.checkpoint_path} is already complete"
        if self.kind == "resume":
            return (
                f"resuming after {cp.counts.items:,} viewables "
                f"({cp.counts.pages:,} pages) already in {self.out}"
            )
        after = cp.query.modified_after
        if after is None:
            return f"exporting every viewable to {self.out}"
        when = format_epoch(after + 1, "%Y-%m-%d %H:%M:%SZ")
        return (
            f"exporting viewables modified at or after {when} (modifiedAfter={after}) to {self.out}"
        )

    async def run(
        self,
        client: MagineClient,
        *,
        on_page: Callable[[Checkpoint], None] | None = None,
        prefetch: int = 1,
    ) -> Checkpoint:
        """Run (or continue) the export; returns the final checkpoint (``status`` complete).

        ``on_page`` is called after each page is durably committed.
        """
        cp = self.checkpoint
        if self.kind == "done":
            return cp
        with _OutputFile(self.out, self.checkpoint_path, cp, resume=self.kind == "resume") as sink:
            self.discarded_bytes = sink.discarded
            pager = _listing(client, cp, prefetch)
            async with pager:
                async for page in pager.pages():
                    await sink.commit(page, int(self.clock()))
                    if on_page is not None:
                        on_page(cp)
        return cp


# -- reading the listing -------------------------------------------------------------------


class _Listing(msgspec.Struct, gc=False):
    """A ``GET /partner/viewables`` page with each viewable left as the JSON text received."""

    viewables: list[msgspec.Raw]
    cursor: str | None = None


class _Listed(msgspec.Struct, rename="camel", gc=False):
    """What the exporter reads of a listed viewable (everything else is copied)."""

    id: str
    modified_at: int | float


class _IdOnly(msgspec.Struct, gc=False):
    id: str | None = None


_listing_decoder: Final = msgspec.json.Decoder(_Listing)
_listed_decoder: Final = msgspec.json.Decoder(_Listed)
_id_decoder: Final = msgspec.json.Decoder(_IdOnly)


def _listing(client: MagineClient, cp: Checkpoint, prefetch: int) -> AsyncPager[msgspec.Raw]:
    """The pages of ``GET /partner/viewables`` the checkpoint asks for, through the SDK's
    request path and pager (the operation, transport, retries and errors of
    ``client.viewables.list``, the same query), each viewable as :class:`msgspec.Raw`."""
    query: dict[str, str | int] = {}
    if cp.query.page_size is not None:
        query["size"] = validate_page_size(cp.query.page_size)
    if cp.query.modified_after is not None:
        query["modifiedAfter"] = cp.query.modified_after
    if cp.cursor is not None:
        validate_non_empty(cp.cursor, "cursor")
    viewables = client.viewables

    async def fetch(cursor: str | None) -> tuple[list[msgspec.Raw], str | None]:
        params = query if cursor is None else {**query, "cursor": cursor}
        response = await viewables._call(_LIST, decode=_listing_decoder.decode, query=params)
        return response.data.viewables, response.data.cursor

    return AsyncPager(fetch, cursor=cp.cursor, prefetch=prefetch)


def _line(item: msgspec.Raw) -> bytes:
    """A listed viewable's line: its JSON text as received, on one line."""
    line = bytes(item)
    if b"\n" in line or b"\r" in line or b"\t" in line:  # only whitespace between tokens
        line = msgspec.json.format(line, indent=-1)
    return line


class _OutputFile:
    """The output file and its checkpoint, committed together page by page."""

    def __init__(self, out: Path, checkpoint_path: Path, cp: Checkpoint, *, resume: bool) -> None:
        self.out = out
        self.checkpoint_path = checkpoint_path
        self.cp = cp
        self.resume = resume
        self.fd = -1
        self.discarded = 0

    def __enter__(self) -> _OutputFile:
        fd = os.open(self.out, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            _lock(fd, self.out)
            if not self.resume:
                # The checkpoint first: a crash right after leaves "running, 0 bytes", which
                # a resume handles; the old output is truncated only once that is on disk.
                write_atomically(self.checkpoint_path, self.cp.to_json())
            size = os.fstat(fd).st_size
            keep = self.cp.output.bytes
            if size < keep:
                raise ExportError(
                    f"{self.out} holds {size:,} bytes but the checkpoint recorded {keep:,}: "
                    "the output was changed since; start over with --restart"
                )
            if self.resume:
                self.discarded = size - keep
            os.ftruncate(fd, keep)
            os.lseek(fd, keep, os.SEEK_SET)
            os.fsync(fd)
            _fsync_directory(self.out.parent)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    async def commit(self, page: Page[msgspec.Raw], now: int) -> None:
        """Append the page's new viewables, then record the cursor after it."""
        cp = self.cp
        number = cp.counts.pages + 1
        items = page.items
        keys: list[_Listed | None] = []
        top: int | float | None = None
        for index, item in enumerate(items):
            try:
                key = _listed_decoder.decode(item)
            except msgspec.ValidationError as exc:
                self._reject(number, index, page.request_cursor, item, str(exc))
                keys.append(None)
                continue
            keys.append(key)
            if top is None or key.modified_at > top:
                top = key.modified_at
        skip = cp.skip
        newest = cp.newest
        if top is not None:
            # The window after this page is known now: only its viewables need a digest.
            newest.advance(top)
        lines: list[bytes] = []
        skipped = 0
        for item, listed in zip(items, keys, strict=True):
            if listed is None:
                continue
            line = _line(item)
            digest: str | None = None
            if skip is not None:
                known = skip.known_digest(listed.id, listed.modified_at)
                if known is not None:
                    digest = line_digest(line)
                    if digest == known:
                        skipped += 1
                        continue
            lines.append(line)
            if newest.in_window(listed.modified_at):
                newest.add(listed.id, listed.modified_at, digest or line_digest(line))
        data = b"\n".join(lines) + b"\n" if lines else b""
        cp.output.bytes += len(data)
        cp.counts.items += len(lines)
        cp.counts.skipped += skipped
        cp.counts.pages += 1
        cp.cursor = page.cursor
        cp.updated_at = now
        if page.cursor is None:
            cp.status = "complete"
        # The disk work runs in a worker thread, so the next page keeps arriving meanwhile.
        await _finish_in_thread(self._write, data, cp.to_json())

    def _reject(
        self, page: int, index: int, cursor: str | None, item: msgspec.Raw, reason: str
    ) -> None:
        try:
            viewable_id = _id_decoder.decode(item).id
        except msgspec.ValidationError:  # not an object, or an id that is not a string
            viewable_id = None
        self.cp.reject(
            page=page,
            index=index,
            cursor=cursor,
            item=bytes(item),
            reason=reason,
            viewable_id=viewable_id,
        )

    def _write(self, data: bytes, checkpoint: bytes) -> None:
        if data:
            _write_all(self.fd, data)
            os.fsync(self.fd)
        write_atomically(self.checkpoint_path, checkpoint)


async def _finish_in_thread(func: Callable[[bytes, bytes], None], *args: bytes) -> None:
    """Run ``func`` in a worker thread; if cancelled meanwhile, wait for it to finish first
    (the file it writes must not be closed under it), then let the cancellation through."""
    task = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task})
        raise


def _lock(fd: int, path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory lock
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ExportError(f"another export is writing {path}") from None


def _same_file(a: str, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def plan_export(
    out: str | os.PathLike[str],
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    modified_after: int | _dt.datetime | None = None,
    since_last: bool = False,
    resume: bool = False,
    restart: bool = False,
    page_size: int | None = None,
    source: str | None = None,
    clock: Callable[[], float] = time.time,
    clock_allowance: int = CLOCK_ALLOWANCE,
) -> ExportPlan:
    """Decide what an export does, from the arguments and the checkpoint file (no request).

    - default: export every viewable (or those with ``modifiedAt > modified_after``),
      replacing ``out``;
    - ``since_last``: only what changed since the run the checkpoint records (everything if
      there is none);
    - ``resume``: continue the interrupted export the checkpoint records;
    - ``restart``: start over although the checkpoint records an interrupted export (with
      ``since_last``, from the point that export started from), or an export from another
      source (ignoring it: with ``since_last``, everything is exported). An interrupted
      export that had not committed a page yet is started over without it.

    ``checkpoint`` defaults to ``<out>.checkpoint.json``. ``source`` names what is exported
    (the base URL): a checkpoint written for another source is refused unless ``restart``
    (its cursor and watermark would not mean anything here), or replaced if it never
    committed a page. Starting over replaces ``out`` and the checkpoint.
    """
    out_path = Path(out)
    cp_path = Path(checkpoint) if checkpoint is not None else default_checkpoint_path(out_path)
    after = _epoch(modified_after)
    if page_size is not None and page_size < 1:
        raise ExportError("page_size: must be at least 1", usage=True)
    if resume and (since_last or after is not None or restart):
        raise ExportError(
            "--resume continues the recorded export as it was started: "
            "it cannot be combined with --since-last, --modified-after or --restart",
            usage=True,
        )
    if since_last and after is not None:
        raise ExportError("--since-last and --modified-after exclude each other", usage=True)
    previous = load_checkpoint(cp_path)
    note = None
    if previous is not None and source is not None and previous.source not in (None, source):
        # Its cursor and watermark mean nothing here.
        if restart:
            note = (
                f"{cp_path} records an export from {previous.source}: starting over from {source}"
            )
            previous = None
        elif not resume and not previous.complete and not previous.counts.pages:
            note = (
                f"{cp_path} records an export from {previous.source} that exported nothing: "
                f"starting over from {source}"
            )
            previous = None
        else:
            raise ExportError(
                f"{cp_path} records an export from {previous.source}, not {source}: "
                f"--restart starts over from {source}, replacing {out_path} and that "
                "checkpoint (or choose another --out and --checkpoint to keep them)",
                usage=True,
            )

    if resume:
        if previous is None:
            raise ExportError(f"nothing to resume: there is no checkpoint at {cp_path}", usage=True)
        if not _same_file(previous.output.path, out_path):
            raise ExportError(
                f"{cp_path} records an export to {previous.output.path}, not {out_path}",
                usage=True,
            )
        if page_size is not None and page_size != previous.query.page_size:
            raise ExportError(
                f"the recorded export uses page size {previous.query.page_size}; "
                "resume it without --page-size",
                usage=True,
            )
        kind: PlanKind = "done" if previous.complete else "resume"
        return ExportPlan(kind, out_path, cp_path, previous, clock=clock)

    if previous is not None and not previous.complete and previous.counts.pages and not restart:
        raise ExportError(
            f"{cp_path} records an interrupted export ({previous.counts.items:,} viewables "
            "so far): pass --resume to continue it, or --restart to start over",
            usage=True,
        )

    kind = "full" if after is None else "modified_after"
    skip: SkipSet | None = None
    if since_last:
        kind = "since_last"
        if previous is None:
            if note is None:
                note = f"no previous export is recorded in {cp_path}: exporting everything"
            else:
                note += ", exporting everything"
        elif previous.complete:
            after, skip = previous.next_since_last(clock_allowance)
        else:  # an interrupted run, restarted: start from where that one started
            after, skip = previous.query.modified_after, previous.skip
    started = int(clock())
    cp = Checkpoint(
        source=source,
        output=CheckpointOutput(path=os.path.abspath(out_path)),
        query=CheckpointQuery(modified_after=after, page_size=page_size),
        started_at=started,
        updated_at=started,
        newest=NewestSeen.starting_from(skip),
        skip=skip,
    )
    return ExportPlan(kind, out_path, cp_path, cp, note=note, clock=clock)


def _epoch(value: int | _dt.datetime | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ExportError(
                "modified_after: must be a timezone-aware datetime or epoch seconds", usage=True
            )
        return int(value.timestamp())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExportError("modified_after: must be epoch seconds (an int)", usage=True)
    return value


async def export_catalogue(
    client: MagineClient,
    out: str | os.PathLike[str],
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    modified_after: int | _dt.datetime | None = None,
    since_last: bool = False,
    resume: bool = False,
    restart: bool = False,
    page_size: int | None = None,
    prefetch: int = 1,
    on_page: Callable[[Checkpoint], None] | None = None,
) -> Checkpoint:
    """Plan (:func:`plan_export`) and run an export with ``client``; returns the final
    checkpoint. The checkpoint's source is the client's base URL."""
    plan = plan_export(
        out,
        checkpoint=checkpoint,
        modified_after=modified_after,
        since_last=since_last,
        resume=resume,
        restart=restart,
        page_size=page_size,
        source=client.base_url,
    )
    return await plan.run(client, on_page=on_page, prefetch=prefetch)
