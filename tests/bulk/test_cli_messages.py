"""Messages that point the right way: a journal or failures file that cannot be written says
which folder or file is not writable; an answer cut short says so, not "400"."""

from __future__ import annotations

import asyncio
import csv
import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest

from magine_async.cli import _bulk
from magine_async.cli._main import main
from magine_async.sandbox import Sandbox

from .conftest import Cli, CliResult, make_users, write_csv

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _without_root_powers() -> None:
    """In the child, before exec: root loses the capability to write where permissions say
    no, so that a read-only folder is read-only for it too."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)


def _writable_for_cli(path: Path, mode: str) -> bool:
    """Whether a child process such as the CLI's can open ``path`` with ``mode``."""
    attempt = subprocess.run(
        [sys.executable, "-c", f"open({str(path)!r}, {mode!r})"],
        preexec_fn=_without_root_powers,
        capture_output=True,
        check=False,
    )
    return attempt.returncode == 0


def _lock(folder: Path) -> Path:
    """Make ``folder`` read-only for the CLI's process (skip the test where that cannot be)."""
    folder.chmod(0o555)
    probe = folder / "probe"
    if _writable_for_cli(probe, "w"):
        folder.chmod(0o755)
        probe.unlink()
        pytest.skip("this system gives no way to make a folder read-only for this user")
    return folder


async def _run(cli: Cli, *args: str) -> CliResult:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAGINE_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "magine_async.cli",
        *args,
        *cli.connection(),
        cwd=cli.workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_without_root_powers,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return CliResult(process.returncode, stdout.decode(), stderr.decode())


def _one_line(result: CliResult) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line


@pytest.fixture
def rows(sb: Sandbox, tmp_path: Path) -> Path:
    uids = make_users(sb, 3)
    return write_csv(tmp_path / "rows.csv", ("user_id", "offer_id"), [(u, "o") for u in uids])


@pytest.mark.parametrize("existing", [False, True])
async def test_a_journal_in_a_read_only_folder_says_the_folder_is_not_writable(
    sb: Sandbox, cli: Cli, tmp_path: Path, rows: Path, existing: bool
) -> None:
    folder = tmp_path / "ro"
    journal = folder / "run.db"
    folder.mkdir()
    if existing:  # a journal of an earlier run, in a folder made read-only since
        first = await cli.run("entitle", "--input", str(rows), "--journal", str(journal))
        assert first.code == 1, first.stderr  # offer "o" does not exist
    _lock(folder)
    try:
        result = await _run(cli, "entitle", "--input", str(rows), "--journal", str(journal))
    finally:
        folder.chmod(0o755)
    assert result.code == 2, result.stdout + result.stderr
    line = _one_line(result)
    assert line.startswith(f"error: --journal {journal}: "), line
    assert f"the folder {folder} is not writable" in line, line
    assert "SQLite" not in line


async def test_a_read_only_journal_file_says_so(cli: Cli, tmp_path: Path, rows: Path) -> None:
    first = await cli.run("entitle", "--input", str(rows), "--journal", "run.db")
    assert first.code == 1
    journal = tmp_path / "run.db"
    journal.chmod(0o444)
    if _writable_for_cli(journal, "a"):
        journal.chmod(0o644)
        pytest.skip("this system gives no way to make a file read-only for this user")
    try:
        result = await _run(cli, "entitle", "--input", str(rows), "--journal", "run.db")
    finally:
        journal.chmod(0o644)
    assert result.code == 2, result.stdout + result.stderr
    line = _one_line(result)
    assert line == "error: --journal run.db: the file is read-only", line


async def test_a_failures_file_in_a_read_only_folder_is_refused_before_the_run(
    sb: Sandbox, cli: Cli, tmp_path: Path, rows: Path
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    _lock(folder)
    try:
        result = await _run(
            cli, "entitle", "--input", str(rows), "--failures", str(folder / "f.csv")
        )
    finally:
        folder.chmod(0o755)
    assert result.code == 2, result.stdout + result.stderr
    line = _one_line(result)
    assert f"--failures {folder / 'f.csv'}: the folder {folder} is not writable" in line, line
    assert sum(sb.counters.requests.values()) == 0  # refused before anything was sent


@pytest.mark.parametrize("folder", ["missing", "a-file"])
async def test_a_journal_whose_folder_does_not_exist_says_so(
    cli: Cli, tmp_path: Path, rows: Path, folder: str
) -> None:
    if folder == "a-file":
        (tmp_path / folder).write_text("not a folder")
    journal = f"{folder}/run.db"
    result = await cli.run("entitle", "--input", str(rows), "--journal", journal)
    assert result.code == 2, result.stdout + result.stderr
    line = _one_line(result)
    expected = "does not exist" if folder == "missing" else "is not a folder"
    assert line.startswith(f"error: --journal {journal}: the folder {folder} {expected}"), line


async def test_an_answer_cut_short_is_reported_as_cut_short_not_as_400(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    (uid,) = make_users(sb, 1)
    sb.state.create_user("cut@example.com", "SE")
    path = write_csv(
        tmp_path / "rows.csv",
        ("user_id", "email", "offer_id"),
        [(uid, "", "svod-monthly"), ("", "cut@example.com", "svod-monthly")],
    )
    sb.faults.route("entitlements.create").script = ["truncate"]  # the first row's answer
    sb.faults.route("users.lookup").script = ["truncate"]  # the second row's lookup
    result = await cli.run(
        "entitle",
        "--input",
        str(path),
        "--max-attempts",
        "1",
        "--concurrency",
        "1",
        "--verbose",
        "--no-progress",
    )
    assert result.code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    with (tmp_path / "rows.failures.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2, rows
    for row in rows:
        assert row["error_code"] == "transportError", row
        assert "cut short" in row["messages"], row
        assert "400" not in row["messages"] and "ContentLengthError" not in row["messages"], row
        assert row["http_status"] == ""
    reported = [ln for ln in result.stderr.splitlines() if ln.startswith("failed ")]
    assert len(reported) == 2 and all("cut short" in ln for ln in reported), result.stderr
    assert not any("400" in ln for ln in reported), result.stderr


@pytest.mark.parametrize("verbose", [False, True])
def test_a_bug_is_one_line_and_its_traceback_only_with_verbose(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    verbose: bool,
) -> None:
    async def broken(*_: object) -> int:
        raise KeyError("boom")

    monkeypatch.setattr(_bulk, "_run", broken)
    path = write_csv(tmp_path / "rows.csv", ("user_id", "offer_id"), [("U1", "o")])
    argv = ["entitle", "--input", str(path), *(["--verbose"] if verbose else [])]
    assert main(argv) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: unexpected KeyError: 'boom' (a bug of magine-async"), err
    assert ("Traceback" in err) == verbose
    if not verbose:
        assert len(err.strip().splitlines()) == 1 and "--verbose shows where" in last


@pytest.mark.parametrize("clash", ["input", "journal", "default"])
async def test_a_failures_file_that_is_the_input_or_the_journal_is_refused(
    sb: Sandbox, cli: Cli, tmp_path: Path, clash: str
) -> None:
    uids = make_users(sb, 3)
    name = "r.failures.csv" if clash == "default" else "in.csv"
    path = write_csv(tmp_path / name, ("user_id", "offer_id"), [(u, "svod-monthly") for u in uids])
    before = path.read_bytes()
    flags = {"input": ["--failures", name], "journal": ["--failures", "r.db"], "default": []}
    result = await cli.run("entitle", "--input", name, "--journal", "r.db", *flags[clash])
    assert result.code == 2, result.stdout
    assert "--failures" in result.stderr and "overwrite" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert path.read_bytes() == before
    assert sum(sb.counters.requests.values()) == 0
