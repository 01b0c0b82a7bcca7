"""Each bulk operation end to end against the sandbox: statuses, results, idempotency."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from magine_async import MagineClient
from magine_async.bulk import (
    EntitleRow,
    Outcome,
    ResellerEntitleRow,
    RevokeRow,
    SubtitleRow,
)
from magine_async.journal import Journal
from magine_async.models import EntitlementInput, UserCreate
from magine_async.sandbox import Sandbox

from .conftest import make_users

SRT = b"1\n00:00:01,000 --> 00:00:02,000\nHello\n"


def by_key(outcomes: list[Outcome[Any]]) -> dict[str, Outcome[Any]]:
    return {o.key: o for o in outcomes}


async def test_entitle_by_user_id_and_by_email(partner: MagineClient, sb: Sandbox) -> None:
    (uid,) = make_users(sb, 1)
    sb.state.create_user("known@example.com", "SE")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    rows = [
        EntitleRow(["svod-monthly", "pass-7-days"], user_id=uid),
        EntitleRow(
            [EntitlementInput(offer_id="rent-48h", expiry=later)], email="Known@Example.com"
        ),
        EntitleRow(["buy-to-own"], email="new@example.com", country_code="se", name="New"),
        EntitleRow(["buy-to-own"], email="nobody@example.com"),  # no country: not created
    ]
    outcomes = by_key([o async for o in partner.bulk.entitle(rows)])
    first = outcomes[f"u:{uid}|pass-7-days,svod-monthly"]
    assert first.status == "succeeded"
    assert first.result == {
        "userId": uid,
        "offers": {"svod-monthly": "created", "pass-7-days": "created"},
    }
    assert first.attempts == 1
    assert outcomes["e:known@example.com|rent-48h"].status == "succeeded"
    created = outcomes["e:new@example.com|buy-to-own"]
    assert created.status == "succeeded" and created.result["userCreated"] is True
    missing = outcomes["e:nobody@example.com|buy-to-own"]
    assert missing.status == "failed" and missing.error is not None
    assert missing.error.error_code == "userNotFound" and missing.error.status == 404
    assert sb.counters["entitlements.created"] == 4
    assert sb.counters["users.created"] == 3  # two made by the test, one by the row

    again = by_key([o async for o in partner.bulk.entitle(rows[:3])])
    assert {o.status for o in again.values()} == {"already"}
    assert sb.counters["entitlements.created"] == 4


async def test_a_row_mixing_created_and_failed_offers_is_failed_and_safe_to_rerun(
    partner: MagineClient, sb: Sandbox
) -> None:
    (uid,) = make_users(sb, 1)
    row = EntitleRow(["svod-yearly", "no-such-offer"], user_id=uid)
    (outcome,) = [o async for o in partner.bulk.entitle([row])]
    assert outcome.status == "failed"
    assert outcome.result["offers"] == {"svod-yearly": "created", "no-such-offer": "failed"}
    assert outcome.error is not None
    assert outcome.error.error_code == "offerFailed" and outcome.error.status == 207
    assert outcome.error.messages == ("no-such-offer: Offer no-such-offer not found",)
    (again,) = [o async for o in partner.bulk.entitle([row])]
    assert again.status == "failed"
    # the platform refuses the whole request (400 offerEntitledAlready for one offer, 404 for
    # the other); asked again for the missing offer alone, the error is about that offer
    assert again.result["offers"] == {"svod-yearly": "already", "no-such-offer": "failed"}
    assert again.error is not None and again.error.error_code == "offerNotFound"
    assert again.error.messages[0].startswith("no-such-offer: ")
    assert sb.counters["entitlements.created"] == 1


async def test_bad_rows_fail_before_anything_is_sent(partner: MagineClient, sb: Sandbox) -> None:
    past = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    rows: list[Any] = [
        EntitleRow([], user_id="u"),
        EntitleRow(["a", "a"], user_id="u"),
        EntitleRow(["a"]),
        EntitleRow(["a"], user_id="", email="x@example.com"),
        EntitleRow([EntitlementInput(offer_id="a", expiry=past)], user_id="u"),
        EntitleRow(["a"], email="not-an-email"),
    ]
    outcomes = [o async for o in partner.bulk.entitle(rows)]
    assert [o.key.partition(":")[0] for o in outcomes] == [f"#{i}" for i in range(1, 7)]
    assert all(
        o.status == "failed" and o.error and o.error.error_code == "invalidRow" for o in outcomes
    )
    assert sum(sb.counters.requests.values()) == 0


async def test_revoke_counts_a_missing_entitlement_as_already(
    partner: MagineClient, sb: Sandbox
) -> None:
    (uid,) = make_users(sb, 1)
    await partner.users.entitlements.create(uid, [EntitlementInput(offer_id="svod-monthly")])
    rows = [
        RevokeRow(["svod-monthly"], user_id=uid),
        RevokeRow(["pass-7-days"], email="user0@example.com"),
        RevokeRow(["svod-monthly"], user_id="NOSUCHUSER"),
    ]
    outcomes = by_key([o async for o in partner.bulk.revoke_entitlements(rows)])
    assert outcomes[f"u:{uid}|svod-monthly"].status == "succeeded"
    assert outcomes[f"u:{uid}|svod-monthly"].result["offers"] == {"svod-monthly": "revoked"}
    absent = outcomes["e:user0@example.com|pass-7-days"]
    assert absent.status == "already" and absent.result["offers"] == {"pass-7-days": "absent"}
    unknown = outcomes["u:NOSUCHUSER|svod-monthly"]
    assert unknown.status == "failed" and unknown.error is not None
    assert unknown.error.messages[0].startswith("svod-monthly: ")
    assert sb.counters["entitlements.deleted"] == 1


async def test_provision_users_resolves_existing_ones_by_lookup(
    partner: MagineClient, sb: Sandbox
) -> None:
    existing = sb.state.create_user("old@example.com", "NO").user_id
    rows = [
        UserCreate(email="old@example.com", country_code="SE"),
        UserCreate(
            email="fresh@example.com",
            country_code="se",
            name="Fresh",
            birth_date=dt.date(2001, 2, 3),
        ),
        UserCreate(email="bad", country_code="SE"),
    ]
    outcomes = by_key([o async for o in partner.bulk.provision_users(rows)])
    old = outcomes["e:old@example.com"]
    assert old.status == "already" and old.result == {"userId": existing}
    fresh = outcomes["e:fresh@example.com"]
    assert fresh.status == "succeeded"
    user = sb.state.users[fresh.result["userId"]]
    assert (user.name, user.birth_date, user.country) == ("Fresh", "2001-02-03", "SE")
    (invalid,) = [o for k, o in outcomes.items() if k.startswith("#3:")]
    assert invalid.error is not None and invalid.error.error_code == "invalidRow"
    assert sb.counters["users.created"] == 2


async def test_reseller_entitle_provisions_and_entitles(
    reseller: MagineClient, sb: Sandbox
) -> None:
    rows = [
        ResellerEntitleRow(
            ["reseller-kids", "reseller-sports"], email="r@example.com", country_code="SE"
        ),
        ResellerEntitleRow("reseller-nope", email="r2@example.com", country_code="SE"),
    ]
    outcomes = by_key([o async for o in reseller.bulk.reseller_entitle(rows)])
    ok = outcomes["e:r@example.com|reseller-kids,reseller-sports"]
    assert ok.status == "succeeded" and ok.result["userCreated"] is True
    assert ok.result["offers"] == {"reseller-kids": "created", "reseller-sports": "created"}
    bad = outcomes["e:r2@example.com|reseller-nope"]
    assert bad.status == "failed" and bad.error is not None
    assert bad.error.error_code == "offerNotFound"
    uid = ok.result["userId"]
    again = [
        o
        async for o in reseller.bulk.reseller_entitle(
            [ResellerEntitleRow(["reseller-kids"], user_id=uid)]
        )
    ]
    assert again[0].status == "already"
    assert sb.counters["entitlements.created"] == 2
    with pytest.raises(Exception, match="country_code"):
        ResellerEntitleRow(["x"], email="a@example.com").key()


def _vod_assets(sb: Sandbox, count: int) -> list[str]:
    found: list[str] = []
    for index in range(len(sb.state.catalogue)):
        for vod in sb.state.catalogue.doc(index).get("vods") or ():
            if vod.get("status") == "transcoded":
                found.append(vod["assetId"])
        if len(found) >= count:
            return found[:count]
    raise AssertionError("the sandbox catalogue has too few transcoded vods")


async def test_upload_subtitles_polls_until_each_request_ends(
    partner: MagineClient, sb: Sandbox, tmp_path: Path
) -> None:
    good, bad = _vod_assets(sb, 2)
    path = tmp_path / "eng.srt"
    path.write_bytes(SRT)
    rows = [SubtitleRow(good, "eng", path), SubtitleRow(bad, "swe", b"no cues here")]
    outcomes = by_key([o async for o in partner.bulk.upload_subtitles(rows)])
    done = outcomes[f"{good}|eng|normal"]
    assert done.status == "succeeded" and done.result["status"] == "SUCCEEDED"
    failed = outcomes[f"{bad}|swe|normal"]
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.error_code == "subtitleFailed"
    assert "SubRip" in failed.error.messages[0]
    assert sb.counters["subtitle_requests.created"] == 2


async def test_subtitle_polling_backs_off_and_adopts_a_running_request(
    partner: MagineClient, sb: Sandbox, tmp_path: Path
) -> None:
    (asset,) = _vod_assets(sb, 1)
    sb.state.subtitle_delay = 10.0
    await partner.subtitles.upload(asset, SRT, language="eng")  # already running elsewhere
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # polling waits move the sandbox's clock
        waits.append(seconds)
        sb.clock.advance(seconds)
        await asyncio.sleep(0)

    run = partner.bulk.upload_subtitles(
        [SubtitleRow(asset, "eng", SRT)],
        polling={"poll_initial": 1.0, "poll_factor": 2.0, "poll_max": 4.0},
        sleep=sleep,
    )
    (outcome,) = [o async for o in run]
    assert outcome.status == "already"  # no second upload: the running one was followed
    assert sb.counters["subtitle_requests.created"] == 1
    assert waits == [1.0, 2.0, 4.0, 4.0]


async def test_a_subtitle_upload_accepted_before_a_crash_is_resumed_not_resent(
    partner: MagineClient, sb: Sandbox, tmp_path: Path
) -> None:
    (asset,) = _vod_assets(sb, 1)
    request_id = await partner.subtitles.upload(asset, SRT, language="eng")
    journal_path = tmp_path / "subs.db"
    row = SubtitleRow(asset, "eng", SRT)
    async with Journal(journal_path, operation="subtitles-upload") as journal:
        journal.record_pending(row.key(), {"requestId": request_id})  # what the crash left
    run = partner.bulk.upload_subtitles([row], journal=journal_path)
    (outcome,) = [o async for o in run]
    assert outcome.status == "already" and outcome.result["requestId"] == request_id
    assert sb.counters["subtitle_requests.created"] == 1
    (entry,) = Journal.read(journal_path)
    assert entry.status == "already"


async def test_a_journal_skips_finished_rows_and_retries_failed_ones_only_when_asked(
    partner: MagineClient, sb: Sandbox, tmp_path: Path
) -> None:
    uids = make_users(sb, 4)
    journal = tmp_path / "run.db"
    rows = [EntitleRow(["svod-monthly"], user_id=uid) for uid in uids]
    sb.faults.route("entitlements.create").script = ["none", "none", "error", "error", "error"]
    first = await partner.bulk.entitle(rows, journal=journal, concurrency=1)
    assert first.counts == {"succeeded": 3, "already": 0, "failed": 1, "skipped": 0}

    second_run = partner.bulk.entitle(rows, journal=journal)
    second = [o async for o in second_run]
    assert {o.status for o in second} == {"skipped"}
    assert second_run.summary.previously_failed == 1
    failed = [o for o in second if o.error is not None]
    assert len(failed) == 1 and failed[0].error is not None
    assert (
        failed[0].error.error_code == "serviceUnavailable" and len(failed[0].error.trace_ids) == 3
    )

    third = await partner.bulk.entitle(rows, journal=journal, retry_failed=True)
    assert third.counts == {"succeeded": 1, "already": 0, "failed": 0, "skipped": 3}
    entries = list(Journal.read(journal))
    assert len(entries) == 4 and {e.status for e in entries} == {"succeeded"}
    assert sb.counters["entitlements.created"] == 4


async def test_dry_run_reports_the_plan_and_writes_nothing(
    partner: MagineClient, sb: Sandbox, tmp_path: Path
) -> None:
    uids = make_users(sb, 3)
    rows = [EntitleRow(["svod-monthly"], user_id=uid) for uid in uids]
    journal = tmp_path / "run.db"
    await partner.bulk.entitle(rows[:1], journal=journal)
    run = partner.bulk.entitle([*rows, EntitleRow([], user_id="x")], journal=journal, dry_run=True)
    outcomes = [o async for o in run]
    assert run.summary.planned == 2
    assert [o.detail for o in outcomes if o.status == "skipped"].count("dry run") == 2
    assert run.summary.counts["failed"] == 1
    assert sum(sb.counters.requests.values()) == 1
    assert len(list(Journal.read(journal))) == 1


async def test_a_401_after_a_fresh_jwt_stops_the_run(partner: MagineClient, sb: Sandbox) -> None:
    uids = make_users(sb, 50)
    sb.verifier.unregister(sb.issuer)  # the key is no longer accepted
    from magine_async.bulk import BulkAborted

    run = partner.bulk.entitle(
        (EntitleRow(["svod-monthly"], user_id=u) for u in uids), concurrency=4
    )
    with pytest.raises(BulkAborted) as caught:
        await run
    assert "401" in str(caught.value)
    assert sb.counters.requests["entitlements.create"] <= 2 * 4  # the pool stopped at once


async def test_a_subtitle_row_whose_polling_failed_is_retried_without_a_second_upload(
    partner: MagineClient, sb: Sandbox, tmp_path: Path
) -> None:
    (asset,) = _vod_assets(sb, 1)
    journal = tmp_path / "subs.db"
    rows = [SubtitleRow(asset, "eng", SRT)]
    sb.faults.route("subtitles.get").script = ["error"] * 3
    (failed,) = [o async for o in partner.bulk.upload_subtitles(rows, journal=journal)]
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.error_code == "serviceUnavailable"
    request_id = failed.result["requestId"]
    run = partner.bulk.upload_subtitles(rows, journal=journal, retry_failed=True)
    (done,) = [o async for o in run]
    assert done.status == "already" and done.result == {
        "requestId": request_id,
        "status": "SUCCEEDED",
    }
    assert sb.counters["subtitle_requests.created"] == 1


@pytest.mark.parametrize("fault", ["reset", "truncate"])
async def test_retry_failed_follows_an_upload_the_platform_accepted_before_the_answer_was_lost(
    partner: MagineClient, sb: Sandbox, tmp_path: Path, fault: str
) -> None:
    """The answer to an accepted upload is lost (after the handler ran): --retry-failed finds
    that request, even once it has SUCCEEDED, and polls it instead of uploading again."""
    assets = _vod_assets(sb, 3)
    journal = tmp_path / "subs.db"
    rows = [SubtitleRow(asset, "eng", SRT) for asset in assets]
    sb.faults.route("subtitles.create").script = [fault] * 3
    first = [o async for o in partner.bulk.upload_subtitles(rows, journal=journal)]
    assert {o.status for o in first} == {"failed"}
    assert sb.counters["subtitle_requests.created"] == 3  # accepted, answers lost
    sb.faults.clear()
    run = partner.bulk.upload_subtitles(rows, journal=journal, retry_failed=True)
    again = [o async for o in run]
    assert {o.status for o in again} == {"already"}
    assert sb.counters["subtitle_requests.created"] == 3  # nothing uploaded twice


async def test_a_retry_whose_lookup_failed_still_remembers_when_the_row_started(
    partner: MagineClient, sb: Sandbox, tmp_path: Path
) -> None:
    (asset,) = _vod_assets(sb, 1)
    journal = tmp_path / "subs.db"
    rows = [SubtitleRow(asset, "eng", SRT)]
    sb.faults.route("subtitles.create").script = ["reset"]
    assert [o.status async for o in partner.bulk.upload_subtitles(rows, journal=journal)] == [
        "failed"
    ]
    sb.faults.clear()
    sb.faults.route("subtitles.list").script = ["error"] * 3
    second = partner.bulk.upload_subtitles(rows, journal=journal, retry_failed=True)
    assert [o.status async for o in second] == ["failed"]
    sb.faults.clear()
    third = partner.bulk.upload_subtitles(rows, journal=journal, retry_failed=True)
    assert [o.status async for o in third] == ["already"]
    assert sb.counters["subtitle_requests.created"] == 1
