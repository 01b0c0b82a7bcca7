from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, settings

import magine_async
from magine_async import MagineClient, RetryPolicy

from .support import (
    ACCESS_TOKEN,
    ISSUER,
    FakeSleep,
    ScriptedServer,
    pkcs1_pem,
    rsa_key,
    secret_fragments,
)

pytest_plugins = ["magine_async.sandbox.pytest_plugin"]

# Property-based tests: a fixed, derandomised profile in CI and by default (bounded, the same
# examples every run); `nox -s fuzz` selects the long "fuzz" profile.
settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "fuzz",
    max_examples=3000,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("MAGINE_HYPOTHESIS_PROFILE", "ci"))

_created_errors: list[BaseException] = []
_original_init = magine_async.MagineError.__init__


def _recording_init(self: BaseException, *args: object, **kwargs: object) -> None:
    _original_init(self, *args, **kwargs)  # type: ignore[arg-type]
    _created_errors.append(self)


magine_async.MagineError.__init__ = _recording_init  # type: ignore[method-assign]


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_secret_leaks(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Every test runs with DEBUG logging on; afterwards, no error text and no log line may
    contain the private key, a JWT or the access token. Tests add their own secrets to the list
    this fixture yields."""
    logger = logging.getLogger("magine_async")
    collector = _Collector()
    previous = logger.level
    logger.addHandler(collector)
    logger.setLevel(logging.DEBUG)
    start = len(_created_errors)
    secrets: list[str] = [
        ACCESS_TOKEN,
        "eyJhbGciOi",
        "eyJ0eXAiOi",
        *secret_fragments(pkcs1_pem(rsa_key())),
    ]
    try:
        yield secrets
    finally:
        logger.removeHandler(collector)
        logger.setLevel(previous)
    texts = list(collector.lines)
    for error in _created_errors[start:]:
        texts.extend([str(error), repr(error), repr(error.args)])
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"secret leaked into output: {text[:200]!r}"


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    srv = ScriptedServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
async def client(server: ScriptedServer, fake_sleep: FakeSleep) -> AsyncIterator[MagineClient]:
    async with MagineClient(
        access_token=ACCESS_TOKEN,
        issuer=ISSUER,
        private_key=pkcs1_pem(rsa_key()),
        base_url=server.base_url,
        retry=RetryPolicy(sleep=fake_sleep),
    ) as c:
        yield c
