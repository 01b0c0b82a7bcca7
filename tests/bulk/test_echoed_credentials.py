"""A server that echoes every request header back: no credential reaches the journal, the
failures file or the command's output."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

from ..support import ACCESS_TOKEN, ISSUER, EchoServer, pkcs1_pem, rsa_key, secret_fragments


async def test_echoed_jwt_and_access_token_stay_out_of_journal_and_failures(
    tmp_path: Path,
) -> None:
    echo = EchoServer(style="rotate")
    await echo.start()
    try:
        (tmp_path / "partner.key").write_bytes(pkcs1_pem(rsa_key()))
        (tmp_path / "token.txt").write_text(ACCESS_TOKEN)
        rows = ["user_id,offer_id", *(f"user-{i},svod-monthly" for i in range(12))]
        (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAGINE_")}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "magine_async.cli",
            "entitle",
            "--input",
            "rows.csv",
            "--journal",
            "run.db",
            "--concurrency",
            "4",
            "--max-attempts",
            "1",  # no back-off to wait for: every answer is an error
            "--base-url",
            echo.base_url,
            "--issuer",
            ISSUER,
            "--private-key-file",
            "partner.key",
            "--access-token-file",
            "token.txt",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(120):
            stdout, stderr = await process.communicate()
    finally:
        await echo.stop()
    assert process.returncode == 1, stderr.decode()
    assert echo.requests >= 12
    with sqlite3.connect(tmp_path / "run.db") as db:
        failed = db.execute("SELECT count(*) FROM rows WHERE status = 'failed'").fetchone()[0]
        echoed = db.execute("SELECT count(*) FROM rows WHERE messages LIKE '%redacted%'")
        assert echoed.fetchone()[0] > 0  # the echo did reach the journal, redacted
    assert failed == 12
    files = [
        (tmp_path / "run.db").read_bytes(),
        (tmp_path / "run.failures.csv").read_bytes(),
        stdout,
        stderr,
    ]
    wal = tmp_path / "run.db-wal"
    if wal.exists():
        files.append(wal.read_bytes())
    secrets = [
        b"eyJhbGciOi",
        b"eyJ0eXAiOi",
        ACCESS_TOKEN.encode(),
        *(fragment.encode() for fragment in secret_fragments(pkcs1_pem(rsa_key()))),
    ]
    for content in files:
        for secret in secrets:
            assert secret not in content
