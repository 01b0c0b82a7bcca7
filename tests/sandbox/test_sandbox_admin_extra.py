from __future__ import annotations

import aiohttp

from magine_async.models import EntitlementInput
from magine_async.sandbox import Sandbox


async def test_admin_adds_offers_and_lists_user_ids() -> None:
    async with Sandbox(users=5) as sb, aiohttp.ClientSession() as http:
        async with http.post(sb.admin_url + "/offers", json={"offerId": "bench-1"}) as r:
            assert r.status == 201
        async with http.get(sb.admin_url + "/users", params={"limit": "3"}) as r:
            ids = (await r.json())["userIds"]
        assert ids == list(sb.state.users)[:3]
        async with sb.client() as client:
            result = await client.users.entitlements.create(
                ids[0], [EntitlementInput(offer_id="bench-1")]
            )
        assert [o.offer_id for o in result.created] == ["bench-1"]
