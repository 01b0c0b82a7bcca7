from __future__ import annotations

import pytest

from magine_async import AuthenticationError, BadRequestError
from magine_async.sandbox import Sandbox


async def test_playout_routes_are_served_by_the_platform_sandbox(
    no_secret_leaks: list[str],
) -> None:
    async with Sandbox() as sb:
        no_secret_leaks.append(sb.jay_api_key)
        async with sb.jay_client() as jay:
            created = await jay.tracking.create(user_id="user-1")
            no_secret_leaks.append(created.value)
            assert created.session.user_id == "user-1"
            assert created.api_version == "2025-09-02"
            assert created.session.provider_name is not None
            found = await jay.tracking.get(session=created.value)
            assert found.session == created.session
            deleted = await jay.tracking.delete(session=created)
            assert deleted.message
            with pytest.raises(BadRequestError):
                await jay.tracking.get(session="bm90LWpzb24")
        async with sb.jay_client(api_key="wrong-key") as wrong:
            with pytest.raises(AuthenticationError):
                await wrong.tracking.create()
