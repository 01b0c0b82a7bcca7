from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from magine_async import MagineClient, RetryPolicy
from magine_async.sandbox import Representation, Sandbox

from ..support import FakeSleep

# Every end-to-end test meets the sandbox's plain answers and three seeded varied ones
# (floats for `number`, omitted optional properties, unknown properties, shuffled keys,
# charset spellings): the SDK must read all of them alike. One Representation per run is
# shared by the tests, so the spelling of a catalogue item is worked out once (its cache).
RUNS = {"plain": ("plain", 0), **{f"varied-{seed}": ("varied", seed) for seed in (1, 2, 3)}}
_SHARED = {run: Representation(mode, seed=seed) for run, (mode, seed) in RUNS.items()}


@pytest.fixture(params=list(RUNS))
def sandbox_representation(request: pytest.FixtureRequest) -> Representation:
    """The representation of this test's sandboxes."""
    representation = _SHARED[request.param]
    representation.mode, representation.seed = RUNS[request.param]  # whatever a test changed
    return representation


@pytest.fixture
async def sb(
    no_secret_leaks: list[str], sandbox_representation: Representation
) -> AsyncIterator[Sandbox]:
    async with Sandbox(
        viewables=60, users=6, seed=7, representation=sandbox_representation
    ) as started:
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
