from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from magine_async.cli._main import main


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "sandbox" in capsys.readouterr().out


async def test_sandbox_command_serves_until_terminated(tmp_path: Path) -> None:
    process = subprocess.Popen(  # noqa: ASYNC220 - a short-lived server for this test
        [
            sys.executable,
            "-m",
            "magine_async.cli",
            "sandbox",
            "--port",
            "0",
            "--json",
            "--viewables",
            "20",
            "--key-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        key_file = Path(info["private_key_file"])
        assert key_file.parent == tmp_path
        assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
        async with aiohttp.ClientSession() as session, session.get(info["admin_url"]) as r:
            assert r.status == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0
