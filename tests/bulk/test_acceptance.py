"""Acceptance: 10,000 entitlement rows against a sandbox that answers 10 % 503, 5 % 429 (with
Retry-After) and resets connections, before and after the handler ran.

Every row must end in the journal exactly once, as succeeded, already or failed with its
error (rows lost = 0), and the sandbox's side-effect counters must show no entitlement and no
user created twice (duplicates = 0). Waits are injected: the run takes seconds, not hours.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from magine_async import MagineClient
from magine_async.bulk import EntitleRow
from magine_async.journal import Journal
from magine_async.sandbox import Sandbox
from magine_async.sandbox._state import Entitlement

from .conftest import held_pairs, make_users

USERS = 4000
NEW_USERS = 1500
BY_EMAIL = 400
BAD_OFFER = 100
PRE_HELD = 300


def rows(uids: list[str]) -> list[EntitleRow]:
    out: list[EntitleRow] = []
    for uid in uids:
        out.append(EntitleRow(["svod-monthly"], user_id=uid))
        out.append(EntitleRow(["pass-7-days", "rent-48h"], user_id=uid))
    out += [
        EntitleRow(["buy-to-own"], email=f"new{i}@example.com", country_code="SE")
        for i in range(NEW_USERS)
    ]
    out += [EntitleRow(["svod-yearly"], email=f"user{i}@example.com") for i in range(BY_EMAIL)]
    out += [EntitleRow(["retired-offer"], user_id=uids[i]) for i in range(BAD_OFFER)]
    return out


@pytest.mark.acceptance
async def test_ten_thousand_rows_under_faults_no_row_lost_no_duplicate(
    partner: MagineClient, sb: Sandbox, tmp_path: Path
) -> None:
    uids = make_users(sb, USERS)
    when = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for uid in uids[:PRE_HELD]:
        sb.state.users[uid].entitlements["svod-monthly"] = Entitlement(
            "svod-monthly", "SubscribeType", when
        )
    pre_held = held_pairs(sb)
    all_rows = rows(uids)
    keys = [row.key() for row in all_rows]
    assert len(all_rows) == len(set(keys)) == 10_000

    faults = sb.faults.default
    faults.error_rate, faults.throttle_rate = 0.10, 0.05
    faults.reset_rate, faults.reset_before_rate = 0.02, 0.01
    faults.retry_after = 1

    journal = tmp_path / "run.db"
    run = partner.bulk.entitle(iter(all_rows), concurrency=64, journal=journal)
    seen: Counter[str] = Counter()
    async for outcome in run:
        seen[outcome.key] += 1
        if outcome.status == "failed":
            assert outcome.error is not None
            assert outcome.error.error_code and outcome.error.messages
    summary = run.summary

    # every row reported once, and journaled once: rows lost = 0
    assert set(seen) == set(keys) and set(seen.values()) == {1}
    entries = {entry.key: entry for entry in Journal.read(journal)}
    assert set(entries) == set(keys)
    assert {e.status for e in entries.values()} <= {"succeeded", "already", "failed"}
    assert all(e.error_code for e in entries.values() if e.status == "failed")
    bad = {row.key() for row in all_rows[-BAD_OFFER:]}
    assert all(entries[key].status == "failed" for key in bad)

    # duplicates on the server = 0: each creation is a distinct pair held now
    held = held_pairs(sb)
    assert sb.counters["entitlements.created"] == len(held - pre_held)
    assert sb.counters["users.created"] == len(sb.state.users)
    for key, entry in entries.items():
        if entry.status in ("succeeded", "already"):
            user = entry.result["userId"]
            assert all((user, offer) in held for offer in entry.result["offers"])
            assert key not in bad

    # the faults were met and handled by the one retry loop, seen by the pool
    assert summary.total == 10_000
    assert {"429", "503", "transport"} <= set(summary.retries)
    assert summary.throttled > 0 and summary.unavailable > 0 and summary.pauses > 0
    assert summary.peak_in_flight <= 64 and summary.peak_requests <= 64
    assert summary.p50 is not None and summary.p99 is not None

    # a second run over the same journal retries the failed rows only; then all but the rows
    # naming a retired offer are done, still without a duplicate
    sb.faults.clear()
    again = await partner.bulk.entitle(iter(all_rows), journal=journal, retry_failed=True)
    assert again.counts["skipped"] == summary.counts["succeeded"] + summary.counts["already"]
    final = Counter(entry.status for entry in Journal.read(journal))
    assert final["failed"] == BAD_OFFER
    assert final["succeeded"] + final["already"] == 10_000 - BAD_OFFER
    # svod-monthly (less the pre-held), pass-7-days and rent-48h per user, the new users'
    # buy-to-own, the svod-yearly looked up by e-mail
    expected = (USERS - PRE_HELD) + 2 * USERS + NEW_USERS + BY_EMAIL
    assert sb.counters["entitlements.created"] == len(held_pairs(sb) - pre_held) == expected
    assert sb.counters["users.created"] == USERS + NEW_USERS == len(sb.state.users)
