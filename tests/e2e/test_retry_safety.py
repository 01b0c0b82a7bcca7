"""No retry ever creates a second side effect: proven with the sandbox's counters.

``reset`` faults run the handler (the side effect happens) and then drop the connection
before the answer, which is exactly when a careless client would create twice.
"""

from __future__ import annotations

import pytest

from magine_async import InvalidResponseError, MagineClient, ServerError, TransportError
from magine_async.models import EntitlementInput, ViewableMetadata
from magine_async.sandbox import Sandbox

from .test_operations_against_sandbox import _transcode_request


async def test_user_create_after_a_lost_answer_resolves_by_lookup(
    partner: MagineClient, sb: Sandbox
) -> None:
    sb.faults.route("users.create").script = ["reset"]
    created = await partner.users.create(email="lost@example.com", country_code="SE")
    assert created.created is False  # the retry met 409 and found the user by e-mail
    assert created.value == await partner.users.lookup("lost@example.com")
    assert sb.counters["users.created"] == 1
    assert sb.counters.requests["users.create"] == 2


async def test_viewable_create_with_custom_id_after_a_lost_answer(
    partner: MagineClient, sb: Sandbox
) -> None:
    sb.faults.route("viewables.create").script = ["reset", "error"]
    metadata = ViewableMetadata(kind="movie", title="Once", custom_id="ext-once")
    created = await partner.viewables.create(metadata)
    assert created.created is False
    assert created.value.metadata.custom_id == "ext-once"
    assert sb.counters["viewables.created"] == 1


async def test_viewable_create_without_custom_id_is_not_resent(
    partner: MagineClient, sb: Sandbox
) -> None:
    sb.faults.route("viewables.create").script = ["reset"]
    with pytest.raises(TransportError):
        await partner.viewables.create(ViewableMetadata(kind="movie", title="No key"))
    assert sb.counters.requests["viewables.create"] == 1
    assert sb.counters["viewables.created"] == 1


async def test_viewable_create_without_custom_id_is_resent_when_it_never_arrived(
    partner: MagineClient, sb: Sandbox
) -> None:
    sb.faults.route("viewables.create").script = ["throttle"]
    created = await partner.viewables.create(ViewableMetadata(kind="movie", title="Throttled"))
    assert created.created
    assert sb.counters["viewables.created"] == 1


async def test_entitlement_create_after_a_lost_answer_reports_already(
    partner: MagineClient, sb: Sandbox
) -> None:
    user_id = (await partner.users.create(email="ent-lost@example.com", country_code="SE")).value
    sb.faults.route("entitlements.create").script = ["reset"]
    result = await partner.users.entitlements.create(
        user_id,
        [EntitlementInput(offer_id="svod-yearly"), EntitlementInput(offer_id="pass-7-days")],
    )
    assert {o.offer_id for o in result.already} == {"svod-yearly", "pass-7-days"}
    assert sb.counters["entitlements.created"] == 2


@pytest.mark.parametrize("fault", ["reset", "truncate", "error"])
async def test_transcode_create_is_never_resent(
    partner: MagineClient, sb: Sandbox, fault: str
) -> None:
    viewable = (await partner.viewables.create(ViewableMetadata(kind="movie", title="T"))).value
    sb.faults.route("transcode.create").script = [fault]
    with pytest.raises((TransportError, ServerError, InvalidResponseError)):
        await partner.transcode.create(_transcode_request(viewable.id))
    assert sb.counters.requests["transcode.create"] == 1


async def test_subtitle_upload_and_logout_are_never_resent(
    partner: MagineClient, sb: Sandbox
) -> None:
    user_id = (await partner.users.create(email="lo@example.com", country_code="SE")).value
    sb.faults.route("users.logout_all_devices").script = ["error"]
    with pytest.raises(ServerError):
        await partner.users.logout_all_devices(user_id)
    assert sb.counters.requests["users.logout_all_devices"] == 1
    sb.faults.route("subtitles.create").script = ["reset"]
    with pytest.raises(TransportError):
        await partner.subtitles.upload("00000000-0000-4000-8000-000000000001", b"x", language="eng")
    assert sb.counters.requests["subtitles.create"] == 1


async def test_reseller_provision_and_entitle_survive_lost_answers(
    reseller: MagineClient, sb: Sandbox
) -> None:
    sb.faults.route("reseller.users.provision").script = ["reset"]
    provisioned = await reseller.reseller.users.provision(email="rl@example.com", country_code="SE")
    assert provisioned.created is False  # the first attempt created it; the retry got 200
    sb.faults.route("reseller.entitlements.put").script = ["reset"]
    assert (
        await reseller.reseller.entitlements.add(provisioned.value.user_id, "reseller-kids")
        is False
    )
    assert sb.counters["reseller.users.created"] == 1
