"""Command line and pytest plugin."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from magine_async.sandbox import Sandbox
from magine_async.sandbox._cli import build_parser

from .conftest import make_jwt


def test_parser_defaults() -> None:
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.viewables, args.seed) == ("127.0.0.1", 8080, 1000, 0)


def _check_key_files(info: dict[str, str], key_dir: Path, printed: str) -> str:
    key_file = Path(info["private_key_file"])
    assert key_file.parent == key_dir
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(info["reseller_private_key_file"]).st_mode) == 0o600
    private = key_file.read_text()
    assert "PRIVATE KEY" not in printed
    assert private.split("\n")[1] not in printed
    return private


async def test_cli_prints_credentials_and_writes_keys(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "magine_async.sandbox",
        "--port",
        "0",
        "--viewables",
        "20",
        "--seed",
        "4",
        "--representation",
        "varied",
        "--key-dir",
        str(tmp_path),
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode()
        info = json.loads(line)
        private = _check_key_files(info, tmp_path, line)
        assert info["representation"] == "varied"
        token = make_jwt(private, info["issuer"], now=time.time())
        headers = {"Magine-AccessToken": info["access_token"], "Authorization": f"Bearer {token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.get(info["base_url"] + "/partner/viewables", headers=headers) as response,
        ):
            assert response.status == 200
            assert response.content_type == "application/json"  # whatever the charset spelling
            assert len((await response.json())["viewables"]) == 20
    finally:
        process.terminate()
        await process.wait()
    assert process.returncode == 0


@pytest.mark.sandbox(viewables=12, seed=5)
async def test_pytest_plugin_fixture(sandbox: Sandbox) -> None:
    assert len(sandbox.state.catalogue) == 12
    assert sandbox.base_url.startswith("http://127.0.0.1:")
    assert sandbox.base_url.endswith("/api/v1")


async def test_client_factory(sandbox: Sandbox) -> None:
    async with sandbox.client() as client:
        assert await client.test() == "OK"


def test_parser_takes_a_representation() -> None:
    assert build_parser().parse_args([]).representation == "plain"
    args = build_parser().parse_args(["--representation", "varied", "--seed", "3"])
    assert (args.representation, args.seed) == ("varied", 3)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--representation", "fancy"])


def test_magine_async_sandbox_command_takes_a_representation() -> None:
    from magine_async.cli._main import build_parser as cli_parser

    args = cli_parser().parse_args(["sandbox", "--representation", "sparse", "--seed", "2"])
    assert (args.representation, args.seed) == ("sparse", 2)


@pytest.mark.sandbox(viewables=3, seed=4, representation="varied")
async def test_pytest_plugin_marker_sets_the_representation(sandbox: Sandbox) -> None:
    assert (sandbox.representation.mode, sandbox.representation.seed) == ("varied", 4)


async def test_pytest_plugin_representation_defaults_to_the_option(
    sandbox: Sandbox, sandbox_representation: str, pytestconfig: pytest.Config
) -> None:
    assert sandbox_representation == pytestconfig.getoption("--sandbox-representation")
    assert sandbox.representation.mode == sandbox_representation
