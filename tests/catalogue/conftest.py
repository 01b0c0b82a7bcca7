"""Fixtures of the catalogue export and credential command tests.

``live_sandbox`` runs a :class:`Sandbox` on its own event loop in a background thread, so a
test can call the CLI's ``main(argv)`` (which runs ``asyncio.run`` itself) or start the CLI in
a subprocess against it, and rearrange the catalogue between runs through the admin routes.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from magine_async.cli._main import main
from magine_async.models import Viewable, decode
from magine_async.sandbox import Sandbox

from ..support import secret_fragments

T = TypeVar("T")


class LiveSandbox:
    """A started sandbox served from a background thread."""

    def __init__(self, **options: Any) -> None:
        self.sb = Sandbox(**options)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.call(self.sb.start())

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.call(self.sb.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    @property
    def env(self) -> dict[str, str]:
        """MAGINE_* settings that point the CLI at this sandbox."""
        return {
            "MAGINE_BASE_URL": self.sb.base_url,
            "MAGINE_ACCESS_TOKEN": self.sb.access_token,
            "MAGINE_ISSUER": self.sb.issuer,
            "MAGINE_PRIVATE_KEY": self.sb.private_key_pem,
        }

    @property
    def secrets(self) -> list[str]:
        return [
            self.sb.access_token,
            *secret_fragments(self.sb.private_key_pem.encode()),
            *secret_fragments(self.sb.reseller_private_key_pem.encode()),
        ]

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.sb.admin_url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def touch(self, count: int, **options: Any) -> list[str]:
        """Modify ``count`` viewables (POST /_sandbox/viewables/touch); their ids."""
        ids: list[str] = self.admin("POST", "/viewables/touch", {"count": count, **options})["ids"]
        return ids

    def all_ids(self) -> list[str]:
        catalogue = self.sb.state.catalogue
        return [str(catalogue.doc(i)["id"]) for i in range(len(catalogue))]


@pytest.fixture
def live_sandbox(
    request: pytest.FixtureRequest, no_secret_leaks: list[str]
) -> Iterator[LiveSandbox]:
    options: dict[str, Any] = {"viewables": 300, "seed": 7}
    marker = request.node.get_closest_marker("sandbox")
    if marker is not None:
        options.update(marker.kwargs)
    live = LiveSandbox(**options)
    no_secret_leaks.extend(live.secrets)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def no_magine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MAGINE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def sandbox_env(live_sandbox: LiveSandbox, monkeypatch: pytest.MonkeyPatch) -> LiveSandbox:
    """``live_sandbox`` with the MAGINE_* variables pointing at it."""
    for key, value in live_sandbox.env.items():
        monkeypatch.setenv(key, value)
    return live_sandbox


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], no_secret_leaks: list[str]) -> Callable[..., Run]:
    """``cli(*argv)``: run ``magine-async`` in-process; checks that no secret was printed
    (on stderr only, with ``secret_output=True``: the token command's stdout is the JWT)."""

    def run(*argv: str | Path, secret_output: bool = False) -> Run:
        try:
            code = main([str(arg) for arg in argv])
        except SystemExit as exit_:  # argparse: --help, usage errors
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        result = Run(code, captured.out, captured.err)
        texts = [result.err] if secret_output else [result.out, result.err]
        for text in texts:
            for secret in no_secret_leaks:
                assert secret not in text, f"secret printed: {text[:300]!r}"
        return result

    return run


def read_viewables(path: Path) -> list[Viewable]:
    """Every line of an export, decoded (a test-size file: a list is fine here)."""
    with path.open("rb") as handle:
        return [decode(line, Viewable) for line in handle]


def exported_ids(path: Path) -> list[str]:
    return [viewable.id for viewable in read_viewables(path)]
