from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from magine_async import RetryPolicy
from magine_async.jay import PlayoutClient
from magine_async.sandbox._jay import JaySandbox

from ..support import FakeSleep

# 2023-11-14T22:13:20.123456 UTC
CLOCK_NOW = 1_700_000_000.123456


def fixed_clock() -> float:
    return CLOCK_NOW


@pytest.fixture(autouse=True)
def clean_jay_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAY_API_KEY", raising=False)
    monkeypatch.delenv("JAY_BASE_URL", raising=False)
    monkeypatch.delenv("JAY_PLAYOUT_ID", raising=False)


@pytest.fixture
async def jay(no_secret_leaks: list[str]) -> AsyncIterator[JaySandbox]:
    async with JaySandbox(clock=fixed_clock) as sandbox:
        no_secret_leaks.append(sandbox.api_key)
        yield sandbox


MakeClient = Callable[..., PlayoutClient]


@pytest.fixture
async def make_client(jay: JaySandbox, fake_sleep: FakeSleep) -> AsyncIterator[MakeClient]:
    made: list[PlayoutClient] = []

    def make(**options: object) -> PlayoutClient:
        settings: dict[str, object] = {
            "api_key": jay.api_key,
            "base_url": jay.base_url,
            "api_version": "2025-08-04",  # the tests written for it; test_versions covers both
            "retry": RetryPolicy(sleep=fake_sleep),
        }
        settings.update(options)
        client = PlayoutClient(**settings)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def jay_client(make_client: MakeClient) -> AsyncIterator[PlayoutClient]:
    async with make_client() as client:
        yield client
