"""A tour of the SDK against the embedded sandbox: no credentials or network needed.

python examples/sandbox_tour.py
"""

from __future__ import annotations

import asyncio

from magine_async.models import EntitlementInput, ViewableMetadata
from magine_async.sandbox import Sandbox


async def main() -> None:
    async with Sandbox(viewables=5_000, seed=1) as sb, sb.client() as client:
        print("partner/test:", await client.test())

        count = 0
        kinds: dict[str, int] = {}
        async for viewable in client.viewables.list(page_size=500):
            count += 1
            kind = str(viewable.metadata.kind)
            kinds[kind] = kinds.get(kind, 0) + 1
        print(f"streamed {count} viewables:", dict(sorted(kinds.items())))

        created = await client.viewables.create(
            ViewableMetadata(kind="movie", title="Tour Movie", custom_id="tour-1"), publish=True
        )
        print("created viewable", created.value.id)

        user = await client.users.create(email="tour@example.com", country_code="se")
        result = await client.users.entitlements.create(
            user.value, [EntitlementInput(offer_id="svod-monthly")]
        )
        print("entitled user", user.value, "to", [o.offer_id for o in result.created])


if __name__ == "__main__":
    asyncio.run(main())
