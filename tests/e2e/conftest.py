from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from magine_async import MagineClient, RetryPolicy
from magine_async.sandbox import Sandbox

from ..support import FakeSleep


@pytest.fixture
async def sb(no_secret_leaks: list[str]) -> AsyncIterator[Sandbox]:
    async with Sandbox(viewables=60, users=6, seed=7) as started:
        no_secret_leaks.append(started.access_token)
        yield started


@pytest.fixture
async def partner(sb: Sandbox, fake_sleep: FakeSleep) -> AsyncIterator[MagineClient]:
    async with sb.client(retry=RetryPolicy(sleep=fake_sleep)) as client:
        yield client


@pytest.fixture
async def reseller(sb: Sandbox, fake_sleep: FakeSleep) -> AsyncIterator[MagineClient]:
    async with sb.client(reseller=True, retry=RetryPolicy(sleep=fake_sleep)) as client:
        yield client
