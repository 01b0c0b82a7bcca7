"""The SDK reads every spelling the document allows: media types, and sparse answers.

These build their own sandboxes (the `sb` runs of this directory already cover plain and
varied answers for every operation test).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import msgspec
import pytest

from magine_async import NotFoundError, RetryPolicy
from magine_async.models import EntitlementInput, TranscodeRequest, ViewableMetadata
from magine_async.sandbox import Representation, Sandbox

from ..operations.test_each_operation import TRANSCODE
from ..support import FakeSleep

UTF8 = {"application/json;charset=utf-8", "application/json; charset=UTF-8"}
ANY_JSON = {"application/json", *UTF8}
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _media_type(http: aiohttp.ClientSession, sb: Sandbox, path: str) -> str:
    async with http.get(sb.base_url + path, headers=sb.headers()) as response:
        await response.read()
        return response.headers["Content-Type"]


async def test_every_media_type_spelling_is_read_for_answers_and_errors(
    http: aiohttp.ClientSession, no_secret_leaks: list[str], fake_sleep: FakeSleep
) -> None:
    seen_ok: set[str] = set()
    seen_error: set[str] = set()
    async with Sandbox(users=1, representation="varied") as sb:
        no_secret_leaks.append(sb.access_token)
        async with sb.client(retry=RetryPolicy(sleep=fake_sleep)) as client:
            for seed in range(12):
                # an answer's spelling depends only on the seed and the answer: look, then read
                sb.representation.seed = seed
                seen_ok.add(await _media_type(http, sb, "/partner/test"))
                assert await client.test() == "OK"
                seen_error.add(await _media_type(http, sb, f"/partner/viewables/{MISSING}"))
                with pytest.raises(NotFoundError) as caught:
                    await client.viewables.get(MISSING)
                assert caught.value.error_code == "viewableNotFound"
    assert seen_ok == UTF8  # the document prints a charset here: it is never left out
    assert seen_error == ANY_JSON


async def test_sparse_answers_decode_for_every_read(
    no_secret_leaks: list[str], fake_sleep: FakeSleep
) -> None:
    """Every optional property the document lets go is left out: the SDK still reads all."""
    async with Sandbox(viewables=40, users=3, seed=5, representation="sparse") as sb:
        no_secret_leaks.append(sb.access_token)
        retry = RetryPolicy(sleep=fake_sleep)
        async with sb.client(retry=retry) as partner, sb.client(reseller=True, retry=retry) as rs:
            expected = [sb.state.catalogue.doc(i)["id"] for i in range(40)]
            assert [v.id async for v in partner.viewables.list(page_size=7)] == expected
            first = sb.state.catalogue.doc(2)
            assert (await partner.viewables.get(first["id"])).id == first["id"]
            custom = first["metadata"]["customId"]
            assert (await partner.viewables.get_by_custom_id(custom)).id == first["id"]
            created = await partner.viewables.create(ViewableMetadata(kind="movie", title="S"))
            assert created.value.metadata.title == "S"

            user_id = next(iter(sb.state.users))
            user = await partner.users.get(user_id)
            assert user.user_id == user_id
            await partner.users.entitlements.list(user_id)
            result = await partner.users.entitlements.create(
                user_id, [EntitlementInput(offer_id="buy-to-own")]
            )
            assert [o.offer_id for o in result.created] == ["buy-to-own"]
            await partner.users.segments.list(user_id)
            await partner.users.play_sessions.list(user_id)
            assert [s.id for s in await partner.parental_control.rating_systems()] == ["sm-sa"]

            request = msgspec.structs.replace(TRANSCODE, viewable_id=created.value.id)
            assert isinstance(request, TranscodeRequest)
            accepted = await partner.transcode.create(request)
            sb.clock.advance(sb.state.transcode_delay + 1)
            assert (await partner.transcode.get(accepted.id)).asset_id == accepted.id
            request_id = await partner.subtitles.upload(
                accepted.id, b"1\n00:00:01,000 --> 00:00:02,000\nHej\n", language="swe"
            )
            assert (await partner.subtitles.get(accepted.id, request_id)).request_id == request_id
            assert [j.request_id for j in await partner.subtitles.list(accepted.id)] == [request_id]

            provisioned = await rs.reseller.users.provision(
                email="s@example.com", country_code="SE"
            )
            assert (await rs.reseller.users.login_token(provisioned.value.user_id)).token


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_varied_catalogue_decodes_like_the_plain_one(
    seed: int, no_secret_leaks: list[str]
) -> None:
    """Item by item, the SDK's decoded viewables are equal, floats for ints included."""
    decoded: list[list[object]] = []
    for representation in (Representation("plain"), Representation("varied", seed=seed)):
        async with Sandbox(viewables=150, users=0, seed=5, representation=representation) as sb:
            no_secret_leaks.append(sb.access_token)
            async with sb.client() as client:
                decoded.append(
                    [
                        (v.id, v.created_at, v.modified_at, v.metadata.title, v.metadata.season)
                        async for v in client.viewables.list(page_size=50)
                    ]
                )
    plain, varied = decoded
    assert len(plain) == 150
    for p, v in zip(plain, varied, strict=True):
        assert v[0] == p[0] and v[3:] == p[3:]  # ids, titles, season (n or n.0)
        # timestamps: the same second (n, n.0 or n.5)
        assert [int(t) for t in v[1:3]] == [int(t) for t in p[1:3]]  # type: ignore[call-overload]
