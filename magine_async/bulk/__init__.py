"""Bulk operations: one bounded, adaptive fan-out engine and the helpers built on it.

``client.bulk`` runs a migration over any number of rows — an iterable or async iterable,
read lazily — with ``concurrency`` workers, an adaptive window that backs off on 429/503, a
pool-wide pause on ``Retry-After``, an optional request rate limit and a retry budget. Each
row ends in an :class:`Outcome` (``succeeded``, ``already``, ``failed`` or ``skipped``),
streamed as it completes and, with a ``journal``, recorded so that a re-run (after a crash, a
kill or Ctrl-C) does each row exactly once::

    from magine_async.bulk import EntitleRow

    rows = (EntitleRow(["svod-monthly"], user_id=uid) for uid in user_ids)
    async with client.bulk.entitle(rows, concurrency=64, journal="run.db") as run:
        async for outcome in run:
            if outcome.status == "failed":
                print(outcome.key, outcome.error.describe())
    print(run.summary)

:func:`fan_out` is the engine itself, for any row action of your own.
"""

from ..journal import Journal, JournalEntry
from ._control import PoolControl, RetryBudget, Shard
from ._engine import BulkRun, InputError, RowContext, Settings, fan_out
from ._ops import Bulk, BulkOptions, SubtitlePolling, row_key
from ._outcome import BulkAborted, ErrorInfo, Outcome, RowFailed, RowResult, Status, Summary
from ._rows import (
    MAX_EMAIL_LENGTH,
    MAX_ID_LENGTH,
    MAX_OFFERS,
    EntitleRow,
    InvalidRow,
    ResellerEntitleRow,
    RevokeRow,
    SubtitleRow,
    encode_key_part,
    invalid_row_key,
    user_key,
)

__all__ = [
    "Bulk",
    "BulkAborted",
    "BulkOptions",
    "BulkRun",
    "EntitleRow",
    "ErrorInfo",
    "InputError",
    "InvalidRow",
    "Journal",
    "JournalEntry",
    "MAX_EMAIL_LENGTH",
    "MAX_ID_LENGTH",
    "MAX_OFFERS",
    "Outcome",
    "PoolControl",
    "ResellerEntitleRow",
    "RetryBudget",
    "RevokeRow",
    "RowContext",
    "RowFailed",
    "RowResult",
    "Settings",
    "Shard",
    "Status",
    "SubtitlePolling",
    "SubtitleRow",
    "Summary",
    "encode_key_part",
    "fan_out",
    "invalid_row_key",
    "row_key",
    "user_key",
]
