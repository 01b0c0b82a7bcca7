"""Every SDK operation end to end against the embedded sandbox, over a loopback socket."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from magine_async import (
    BadRequestError,
    ConflictError,
    MagineClient,
    NotFoundError,
)
from magine_async.models import (
    EntitlementInput,
    HttpImageSource,
    SubtitleJobStatus,
    TranscodeRequest,
    ViewableMetadata,
    VodStatus,
)
from magine_async.sandbox import Sandbox, strip_variants

from ..operations.test_each_operation import TRANSCODE

NESTED = {"productionInfo": {"studio": {"name": "Nordic Films", "ids": [1, 2, {"x": None}]}}}


async def test_credentials_checks(partner: MagineClient, reseller: MagineClient) -> None:
    assert await partner.test()
    assert await reseller.reseller.test()


async def test_viewable_lifecycle(partner: MagineClient, sb: Sandbox) -> None:
    metadata = ViewableMetadata(
        kind="movie", title="Sandbox Movie", custom_id="ext-movie-1", genres=["Drama"], extra=NESTED
    )
    created = await partner.viewables.create(metadata, publish=True)
    assert created.created
    viewable = created.value
    assert strip_variants(viewable.metadata.extra) == NESTED

    fetched = await partner.viewables.get(viewable.id)
    assert fetched.metadata.title == "Sandbox Movie"
    assert (await partner.viewables.get_by_custom_id("ext-movie-1")).id == viewable.id

    page = await partner.viewables.list(title="Sandbox Movie").first_page()
    assert [v.id for v in page.items] == [viewable.id]

    fetched.metadata.title = "Sandbox Movie (restored)"
    replaced = await partner.viewables.replace(fetched.id, metadata=fetched.metadata, publish=True)
    assert replaced.metadata.title == "Sandbox Movie (restored)"
    assert strip_variants(replaced.metadata.extra) == NESTED

    patched = await partner.viewables.patch(viewable.id, synopsis="Now with a synopsis")
    assert patched.metadata.synopsis == "Now with a synopsis"
    assert patched.metadata.title == "Sandbox Movie (restored)"

    with_image = await partner.viewables.put_image(
        viewable.id, "poster", HttpImageSource(uri="https://example.com/poster.jpg")
    )
    assert [image.type for image in with_image.metadata.images] == ["poster"]
    without = await partner.viewables.delete_image(viewable.id, "poster")
    assert not without.metadata.images

    with pytest.raises(ConflictError):
        await partner.viewables.create(
            ViewableMetadata(kind="movie", title="x", custom_id="ext-movie-1")
        )
    with pytest.raises(NotFoundError):
        await partner.viewables.get("00000000-0000-4000-8000-000000000000")


async def test_get_then_replace_keeps_unknown_nested_metadata_exactly(
    partner: MagineClient, sb: Sandbox
) -> None:
    created = await partner.viewables.create(
        ViewableMetadata(kind="movie", title="Round trip", extra=NESTED)
    )
    before = await partner.viewables.get(created.value.id)
    before.metadata.genres = ["Comedy"]
    await partner.viewables.replace(before.id, metadata=before.metadata)
    after = await partner.viewables.get(before.id)
    assert strip_variants(after.metadata.extra) == NESTED
    assert after.metadata.genres == ["Comedy"]
    assert sb.counters["viewables.replaced"] == 1


async def test_rating_systems(partner: MagineClient) -> None:
    systems = await partner.parental_control.rating_systems()
    assert [s.id for s in systems] == ["sm-sa"]
    system = await partner.parental_control.rating_system("sm-sa")
    assert system.country == "SE"
    assert [r[0].id for r in system.ratings] == ["btl", "7", "11", "15", "18"]
    with pytest.raises(NotFoundError):
        await partner.parental_control.rating_system("nope")


async def test_user_lifecycle(partner: MagineClient, sb: Sandbox) -> None:
    created = await partner.users.create(email="Ada@Example.com", country_code="se", name="Ada")
    assert created.created
    user_id = created.value
    assert await partner.users.lookup("ada@example.com") == user_id
    user = await partner.users.get(user_id)
    assert (user.country, user.name) == ("SE", "Ada")

    await partner.users.patch(user_id, name="Ada L", zip_code="11101")
    assert (await partner.users.get(user_id)).zip_code == "11101"
    await partner.users.set_password(user_id, "s3cret-Passw0rd")
    token = await partner.users.login_token(user_id)
    assert token.token
    assert token.token not in repr(token)
    await partner.users.logout_all_devices(user_id)

    await partner.users.tags.add(user_id, "vip")
    await partner.users.tags.remove(user_id, "vip")
    await partner.users.segments.add(user_id, "newsletter")
    assert "newsletter" in await partner.users.segments.list(user_id)
    await partner.users.segments.remove(user_id, "newsletter")
    assert "newsletter" not in await partner.users.segments.list(user_id)

    session_id = sb.state.add_play_session(user_id)
    sessions = await partner.users.play_sessions.list(user_id)
    assert [(s.id, s.revoked) for s in sessions] == [(session_id, False)]
    assert await partner.users.play_sessions.revoke(user_id, session_id) is True

    with pytest.raises(ConflictError):
        await partner.users.create(email="ada@example.com", country_code="SE")
    again = await partner.users.create(email="ada@example.com", country_code="SE", exist_ok=True)
    assert (again.value, again.created) == (user_id, False)

    await partner.users.delete(user_id)
    with pytest.raises(NotFoundError):
        await partner.users.get(user_id)
    assert sb.counters["users.created"] == 1


async def test_entitlements(partner: MagineClient, sb: Sandbox) -> None:
    user_id = (await partner.users.create(email="ent@example.com", country_code="NO")).value
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    first = await partner.users.entitlements.create(
        user_id, [EntitlementInput(offer_id="svod-monthly", purchased_at=past)]
    )
    assert first.status == 201
    assert [o.offer_id for o in first.created] == ["svod-monthly"]

    mixed = await partner.users.entitlements.create(
        user_id, [EntitlementInput(offer_id="svod-monthly"), EntitlementInput(offer_id="rent-48h")]
    )
    assert mixed.status == 207
    assert [o.offer_id for o in mixed.already] == ["svod-monthly"]
    assert [o.offer_id for o in mixed.created] == ["rent-48h"]

    repeat = await partner.users.entitlements.create(
        user_id, [EntitlementInput(offer_id="svod-monthly"), EntitlementInput(offer_id="rent-48h")]
    )
    assert repeat.status == 400
    assert {o.offer_id for o in repeat.already} == {"svod-monthly", "rent-48h"}

    unknown = await partner.users.entitlements.create(
        user_id,
        [EntitlementInput(offer_id="no-such-offer"), EntitlementInput(offer_id="buy-to-own")],
    )
    assert [o.offer_id for o in unknown.failed] == ["no-such-offer"]

    held = await partner.users.entitlements.list(user_id)
    assert {e.offer_id for e in held} == {"svod-monthly", "rent-48h", "buy-to-own"}
    await partner.users.entitlements.delete(user_id, "rent-48h")
    assert "rent-48h" not in {e.offer_id for e in await partner.users.entitlements.list(user_id)}
    assert sb.counters["entitlements.created"] == 3


def _transcode_request(viewable_id: str) -> TranscodeRequest:
    return msgspec.structs.replace(TRANSCODE, viewable_id=viewable_id)


async def test_transcode_and_subtitles(partner: MagineClient, sb: Sandbox) -> None:
    viewable = (
        await partner.viewables.create(ViewableMetadata(kind="movie", title="Encoded"))
    ).value
    accepted = await partner.transcode.create(_transcode_request(viewable.id))
    assert accepted.viewable_id == viewable.id
    assert (await partner.transcode.get(accepted.id)).status != VodStatus.TRANSCODED
    sb.clock.advance(sb.state.transcode_delay + 1)
    vod = await partner.transcode.get(accepted.id)
    assert vod.status == VodStatus.TRANSCODED

    request_id = await partner.subtitles.upload(
        accepted.id, b"1\n00:00:01,000 --> 00:00:02,000\nHej\n", language="swe"
    )
    job = await partner.subtitles.get(accepted.id, request_id)
    assert job.status == SubtitleJobStatus.RUNNING
    sb.clock.advance(sb.state.subtitle_delay + 1)
    assert (
        await partner.subtitles.get(accepted.id, request_id)
    ).status == SubtitleJobStatus.SUCCEEDED
    assert [j.request_id for j in await partner.subtitles.list(accepted.id)] == [request_id]
    assert await partner.subtitles.delete(accepted.id, language="swe", subtitle_type="normal")

    second = await partner.transcode.create(_transcode_request(viewable.id))
    await partner.transcode.abort(second.id)
    assert sb.counters["transcode_jobs.aborted"] == 1
    with pytest.raises(NotFoundError):
        await partner.transcode.abort(second.id)


async def test_reseller_operations(
    reseller: MagineClient, partner: MagineClient, sb: Sandbox
) -> None:
    provisioned = await reseller.reseller.users.provision(email="r1@example.com", country_code="dk")
    assert provisioned.created
    user_id = provisioned.value.user_id
    again = await reseller.reseller.users.provision(email="r1@example.com", country_code="DK")
    assert (again.value.user_id, again.created) == (user_id, False)

    assert (await reseller.reseller.users.login_token(user_id)).token
    assert await reseller.reseller.entitlements.add(user_id, "reseller-sports") is True
    assert await reseller.reseller.entitlements.add(user_id, "reseller-sports") is False
    assert "third-party-sports" in {
        e.offer_id for e in await partner.users.entitlements.list(user_id)
    }
    await reseller.reseller.entitlements.remove(user_id, "reseller-sports")


async def test_reseller_cannot_touch_users_it_did_not_provision(
    reseller: MagineClient, partner: MagineClient
) -> None:
    other = (await partner.users.create(email="partner-only@example.com", country_code="SE")).value
    with pytest.raises(BadRequestError):
        await reseller.reseller.users.login_token(other)
    with pytest.raises(BadRequestError):
        await reseller.reseller.entitlements.add(other, "reseller-sports")
    assert await partner.users.entitlements.list(other) == []
