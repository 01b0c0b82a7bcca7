"""Fixtures of the bulk tests: a sandbox, clients with injected waits, the CLI in a subprocess.

Every wait (retry back-off, Retry-After pauses, subtitle polling) goes through a fake sleep:
no test waits for real. The CLI runs in a subprocess against the in-process sandbox, so the
test's event loop keeps serving while the command runs.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from magine_async.sandbox import Sandbox

from ..e2e.conftest import partner, reseller  # noqa: F401 - over this folder's sandbox
from ..support import secret_fragments


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "acceptance: the issue's acceptance scenarios (run by default, in CI too)"
    )


class FakeClock:
    """A monotonic clock that only moves when :meth:`sleep` is awaited."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sb(no_secret_leaks: list[str]) -> AsyncIterator[Sandbox]:
    async with Sandbox(users=0, viewables=20, seed=11, subtitle_delay=0.0) as started:
        no_secret_leaks.append(started.access_token)
        no_secret_leaks.extend(secret_fragments(started.private_key_pem.encode()))
        yield started


def make_users(sb: Sandbox, count: int, prefix: str = "user") -> list[str]:
    """Users created directly in the sandbox state (no request, no entitlement)."""
    return [sb.state.create_user(f"{prefix}{i}@example.com", "SE").user_id for i in range(count)]


def held_pairs(sb: Sandbox) -> set[tuple[str, str]]:
    """(user id, offer id) of every entitlement the sandbox holds."""
    return {(uid, offer) for uid, user in sb.state.users.items() for offer in user.entitlements}


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    """Runs ``python -m magine_async.cli`` against the sandbox, in a subprocess."""

    sb: Sandbox
    workdir: Path
    reseller: bool = False

    def connection(self) -> list[str]:
        key = self.workdir / ("reseller.key" if self.reseller else "partner.key")
        token = self.workdir / "token.txt"
        if not key.exists():
            pem = self.sb.reseller_private_key_pem if self.reseller else self.sb.private_key_pem
            key.write_text(pem)
            token.write_text(self.sb.access_token)
        issuer = self.sb.reseller_issuer if self.reseller else self.sb.issuer
        return [
            "--base-url",
            self.sb.base_url,
            "--issuer",
            issuer,
            "--private-key-file",
            str(key),
            "--access-token-file",
            str(token),
        ]

    async def start(self, *args: str, connect: bool = True) -> asyncio.subprocess.Process:
        argv = [*args, *(self.connection() if connect else [])]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAGINE_")}
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "magine_async.cli",
            *argv,
            cwd=self.workdir,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def run(self, *args: str, connect: bool = True) -> CliResult:
        process = await self.start(*args, connect=connect)
        async with asyncio.timeout(120):
            stdout, stderr = await process.communicate()
        assert process.returncode is not None
        return CliResult(process.returncode, stdout.decode(), stderr.decode())


@pytest.fixture
def cli(sb: Sandbox, tmp_path: Path) -> Cli:
    return Cli(sb, tmp_path)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    lines = [",".join(header), *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path
