"""pytest plugin: a ``sandbox`` fixture running the platform sandbox per test.

Enable it in your top-level ``conftest.py`` with
``pytest_plugins = ["magine_async.sandbox.pytest_plugin"]`` (or ``pytest -p
magine_async.sandbox.pytest_plugin``); it is not registered automatically, so it never
collides with a ``sandbox`` fixture of your own.
Options come from the ``sandbox`` marker, passed to :class:`Sandbox`::

    @pytest.mark.sandbox(viewables=500, seed=3)
    async def test_sync(sandbox):
        async with sandbox.client() as client:
            ...

``@pytest.mark.sandbox(rate_limit=RateLimit(rate=50, burst=5))`` gives it a capacity model
(429 above 50 requests/s per credential; see :class:`magine_async.sandbox.RateLimit`).

The representation (``plain``, ``varied``, ``sparse``; see :class:`Representation`) comes from
the marker's ``representation=``, else from the ``sandbox_representation`` fixture, which
answers ``pytest --sandbox-representation=varied`` (default ``plain``). Override that fixture
with ``params`` to run tests against several representations::

    @pytest.fixture(params=["plain", "varied"])
    def sandbox_representation(request):
        return request.param
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from ._representation import REPRESENTATIONS, Representation
from ._server import Sandbox

DEFAULTS: dict[str, Any] = {"viewables": 100, "users": 10, "seed": 0}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("magine-sandbox").addoption(
        "--sandbox-representation",
        choices=REPRESENTATIONS,
        default="plain",
        help="representation of the `sandbox` fixture's answers (seeded by its seed)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sandbox(**options): keyword arguments for the `sandbox` fixture's Sandbox"
    )


@pytest.fixture
def sandbox_representation(request: pytest.FixtureRequest) -> str | Representation:
    """The representation of the `sandbox` fixture: ``--sandbox-representation`` (plain)."""
    value: str = request.config.getoption("--sandbox-representation")
    return value


@pytest_asyncio.fixture
async def sandbox(
    request: pytest.FixtureRequest, sandbox_representation: str | Representation
) -> AsyncIterator[Sandbox]:
    """A started :class:`Sandbox` (100 viewables, seed 0 unless the marker says otherwise)."""
    options = dict(DEFAULTS, representation=sandbox_representation)
    marker = request.node.get_closest_marker("sandbox")
    if marker is not None:
        options.update(marker.kwargs)
    async with Sandbox(**options) as started:
        yield started
