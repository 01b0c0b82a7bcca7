"""The failures file keeps up with the journal: after a SIGKILL it holds every failure the
journal holds, and a re-run lists the failures of earlier runs it skips (or did not reach)."""

from __future__ import annotations

import asyncio
import csv
import signal
import sqlite3
from pathlib import Path

from magine_async.journal import Journal
from magine_async.sandbox import Sandbox

from .conftest import Cli, make_users, write_csv

HEADER = ("user_id", "offer_id")


def listed(path: Path) -> dict[str, dict[str, str]]:
    """The failures file's rows by key (every line of it complete: it parses as CSV)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_key = {row["key"]: row for row in rows}
    assert len(by_key) == len(rows), "a key is listed twice"
    return by_key


def journal_failed(path: Path) -> set[str]:
    return {entry.key for entry in Journal.read(path, status="failed")}


def committed_failures(path: Path) -> int:
    if not path.exists():
        return 0
    connection = sqlite3.connect(path, timeout=5)
    try:
        query = "SELECT COUNT(*) FROM rows WHERE status = 'failed'"
        return int(connection.execute(query).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        connection.close()


def input_with_failures(sb: Sandbox, path: Path, count: int) -> Path:
    """``count`` rows, one in five naming an offer the platform does not have (they fail)."""
    uids = make_users(sb, count)
    lines = [(uid, "retired-offer" if i % 5 == 0 else "svod-monthly") for i, uid in enumerate(uids)]
    return write_csv(path, HEADER, lines)


async def kill_when(process: asyncio.subprocess.Process, journal: Path, failed: int) -> None:
    try:
        async with asyncio.timeout(60):
            while await asyncio.to_thread(committed_failures, journal) < failed:
                assert process.returncode is None, "the run ended before it could be killed"
                await asyncio.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        await process.communicate()
    assert process.returncode == -signal.SIGKILL


async def test_after_a_sigkill_the_failures_file_holds_every_failure_the_journal_holds(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    path = input_with_failures(sb, tmp_path / "rows.csv", 2500)
    sb.faults.default.latency = 0.004
    journal = tmp_path / "run.db"
    failures = tmp_path / "run.failures.csv"
    args = ("entitle", "--input", str(path), "--journal", str(journal), "--concurrency", "4")

    await kill_when(await cli.start(*args, "--no-progress"), journal, 19)
    held = journal_failed(journal)
    assert 19 <= len(held) < 500, "the kill did not land mid-run"
    assert held <= set(listed(failures))  # nothing the journal holds is missing from the file

    # a re-run killed in its turn still lists the failures of the first run it did not reach
    await kill_when(await cli.start(*args, "--no-progress"), journal, len(held) + 19)
    assert journal_failed(journal) <= set(listed(failures))

    sb.faults.clear()
    done = await cli.run(*args, "--no-progress")
    assert done.code == 1, done.stdout + done.stderr
    rows = listed(failures)
    assert set(rows) == journal_failed(journal)
    assert len(rows) == 500
    statuses = {row["status"] for row in rows.values()}
    assert statuses <= {"failed", "skipped"}
    earlier = [row for row in rows.values() if row["status"] == "skipped"]
    assert earlier and all(row["detail"] == "failed in an earlier run" for row in earlier)
    assert all(row["error_code"] for row in rows.values())


async def test_a_re_run_lists_the_earlier_failures_it_skips_or_does_not_reach(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    path = input_with_failures(sb, tmp_path / "rows.csv", 30)
    args = ("entitle", "--input", str(path), "--journal", "run.db", "--no-progress")
    first = await cli.run(*args)
    assert first.code == 1
    failures = tmp_path / "run.failures.csv"
    before = listed(failures)
    assert set(before) == journal_failed(tmp_path / "run.db") and len(before) == 6

    again = await cli.run(*args)  # every row is skipped: the failed ones are listed again
    assert again.code == 1, again.stdout + again.stderr
    rows = listed(failures)
    assert set(rows) == set(before)
    assert {row["status"] for row in rows.values()} == {"skipped"}
    assert {row["error_code"] for row in rows.values()} == {
        row["error_code"] for row in before.values()
    }

    sb.verifier.unregister(sb.issuer)  # the next run stops at its first request (401)
    stopped = await cli.run(*args, "--retry-failed")
    assert stopped.code == 1 and "bad credentials" in stopped.stderr
    assert set(listed(failures)) == set(before)  # not reached, still failed: still listed
