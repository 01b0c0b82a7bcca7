"""Bad input files given to the bulk commands: one line on stderr naming the file, the line and
what is wrong, exit status 2, never a traceback; CSV and JSONL alike.

Two kinds of trouble:

- the file cannot be used at all (missing, a folder, empty, a bad header): refused before
  anything runs, nothing journaled;
- the text breaks at some line (bytes that are not UTF-8, a value over csv's field size limit,
  broken quoting): the run stops there, the rows read before that line finish and are
  journaled, and the message says to fix the line and re-run with the same journal.

A line that is read but cannot be used (not JSON, not an object, a value of the wrong type)
is not a broken file: it fails as its own row (``invalidRow``, with its line) and the run goes
on.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from magine_async.bulk import EntitleRow
from magine_async.cli._bulk import count_rows
from magine_async.journal import Journal
from magine_async.sandbox import Sandbox

from .conftest import Cli, CliResult, held_pairs, make_users

HEADER = b"user_id,offer_id\n"
LIMIT = csv.field_size_limit()


def error_line(result: CliResult) -> str:
    """The one line the command wrote to stderr (asserting there is just that one)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith("error: "), line
    return line


def failures(path: Path) -> dict[str, str]:
    """messages by key of a failures CSV."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["key"]: row["messages"] for row in csv.DictReader(handle)}


def journal_keys(path: Path) -> set[str]:
    return {entry.key for entry in Journal.read(path)} if path.exists() else set()


def data(uids: list[str], offer: str = "svod-monthly", *, crlf: bool = False) -> bytes:
    end = b"\r\n" if crlf else b"\n"
    return b"".join(f"{uid},{offer}".encode() + end for uid in uids)


def keys(uids: list[str], offer: str = "svod-monthly") -> set[str]:
    return {EntitleRow([offer], user_id=uid).key() for uid in uids}


# -- the file cannot be used: refused before anything runs ---------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("header.csv", b"user_id,offer\xe9id\nU1,svod-monthly\n", "line 1: not UTF-8"),
        ("bom-only.csv", b"\xef\xbb\xbf", "is empty"),
        ("empty.csv", b"", "is empty"),
        ("blank.csv", b"\n \r\n\n", "is empty"),
        ("empty.jsonl", b"", "is empty"),
        ("blank.jsonl", b"\n\n   \n", "is empty"),
        (
            "wide-header.csv",
            b"user_id,offer_id," + b"x" * (LIMIT + 10) + b"\nU1,svod-monthly,\n",
            f"line 1: a value longer than {LIMIT:,} characters",
        ),
        ("quoted-header.csv", b'user_id,"offer_id"x\nU1,svod-monthly\n', "line 1: broken quoting"),
        ("first.jsonl", b'{"user_id": "U\xff1", "offer_id": "o"}\n', "line 1: not UTF-8"),
        ("columns.csv", b"user,offer_id\nU1,svod-monthly\n", "no user_id or email column"),
        ("twice.csv", b"user_id,offer_id,user_id\nU1,o,U2\n", "user_id twice"),
    ],
)
async def test_a_file_that_cannot_be_used_is_refused_with_one_line(
    cli: Cli, tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = await cli.run("entitle", "--input", str(path), "--journal", "run.db")
    assert result.code == 2, result.stdout + result.stderr
    line = error_line(result)
    assert f"--input {path}" in line and expected in line, line
    assert not (tmp_path / "run.db").exists()  # refused before the run: nothing journaled
    assert not (tmp_path / "run.failures.csv").exists()


@pytest.mark.parametrize("kind", ["missing", "folder"])
async def test_a_missing_file_or_a_folder_is_refused_with_one_line(
    cli: Cli, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "rows.csv"
    if kind == "folder":
        path.mkdir()
    result = await cli.run("entitle", "--input", str(path))
    assert result.code == 2
    line = error_line(result)
    assert str(path) in line
    assert ("no such file" if kind == "missing" else "is a folder") in line, line


# -- the text breaks mid-file: the rows before finish, then one line and exit 2 --------------


def broken_files(uids: list[str]) -> list[tuple[str, bytes, int, str]]:
    """(file name, content, bad line, what the message says) for each way a file breaks after
    the rows of ``uids``."""
    ok = data(uids)
    bad = len(uids) + 2  # the line after the header and the good rows
    after = data(["AFTER1", "AFTER2"])
    lines = [
        ("early-byte.csv", HEADER + ok + b"U\xff9,svod-monthly\n" + after, "not UTF-8"),
        ("latin1.csv", HEADER + ok + "Zoë,svod-monthly\n".encode("latin-1") + after, "not UTF-8"),
        (
            "utf16.csv",
            HEADER + ok + "UX,svod-monthly\n".encode("utf-16-le") + after,
            "holds a NUL byte",
        ),
        (
            "huge-field.csv",
            HEADER + ok + b"UX," + b"o" * (LIMIT + 1) + b"\n" + after,
            f"a value longer than {LIMIT:,} characters",
        ),
        ("quoting.csv", HEADER + ok + b'"UX"y,svod-monthly\n' + after, "broken quoting"),
        (
            "unclosed.csv",
            HEADER + ok + b'UX,"svod-monthly\n' + after,
            "a quote opened on this line is never closed",
        ),
    ]
    out = [(name, content, bad, what) for name, content, what in lines]
    jsonl = b"".join(
        json.dumps({"user_id": uid, "offer_id": "svod-monthly"}).encode() + b"\n" for uid in uids
    )
    out.append(
        (
            "byte.jsonl",
            jsonl + b'{"user_id": "U\xc3", "offer_id": "x"}\n' + jsonl,
            len(uids) + 1,
            "not UTF-8",
        )
    )
    return out


@pytest.mark.parametrize("case", range(7))
async def test_a_file_that_breaks_mid_way_stops_there_with_its_line_and_what_to_do(
    sb: Sandbox, cli: Cli, tmp_path: Path, case: int
) -> None:
    uids = make_users(sb, 40)
    name, content, bad, what = broken_files(uids)[case]
    path = tmp_path / name
    path.write_bytes(content)
    result = await cli.run("entitle", "--input", str(path), "--journal", "run.db", "--no-progress")
    assert result.code == 2, result.stdout + result.stderr
    line = error_line(result)
    assert f"--input {path}: line {bad}: {what}" in line, line
    assert "fix" in line and "re-run with the same journal" in line and "skipped" in line, line
    assert "to continue" not in line  # a plain re-run meets the same line again
    assert "InputError" not in line and "UnicodeDecodeError" not in line, line
    # the rows before the broken line were done and journaled, none after it
    assert journal_keys(tmp_path / "run.db") == keys(uids)
    assert len(held_pairs(sb)) == len(uids)

    # fixed, the same command with the same journal does the rest and nothing twice
    fixed = content.replace(content.splitlines(keepends=True)[bad - 1], b"\n")
    path.write_bytes(fixed.replace(b"\x00", b""))  # the UTF-16 line leaves a NUL behind
    again = await cli.run("entitle", "--input", str(path), "--journal", "run.db", "--no-progress")
    assert again.code in (0, 1), again.stdout + again.stderr  # AFTER* are unknown users
    assert "Traceback" not in again.stderr
    assert keys(uids) <= journal_keys(tmp_path / "run.db")
    assert sb.counters["entitlements.created"] == len(uids)  # none sent twice


@pytest.mark.parametrize("progress", [True, False])
async def test_a_dry_run_and_the_progress_count_meet_a_broken_file_the_same_way(
    cli: Cli, tmp_path: Path, progress: bool
) -> None:
    path = tmp_path / "rows.csv"
    uids = [f"U{i}" for i in range(3000)]  # the bad byte lies well after the first 8 KB
    path.write_bytes(HEADER + data(uids) + b"U\x80,svod-monthly\n" + data(["U9"]))
    args = ["entitle", "--input", str(path), "--dry-run"]
    if not progress:
        args.append("--no-progress")
    result = await cli.run(*args, connect=False)
    assert result.code == 2
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and f"line {len(uids) + 2}: not UTF-8" in errors[0], result.stderr
    assert errors[0] == result.stderr.strip().splitlines()[-1]
    if not progress:
        assert len(result.stderr.strip().splitlines()) == 1


# -- lines that are read but cannot be used fail alone; odd but valid files just work -------


async def test_jsonl_lines_that_are_not_rows_fail_alone_with_their_line(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    (uid,) = make_users(sb, 1)
    lines = [
        json.dumps({"user_id": uid, "offer_id": "svod-monthly"}),
        "{not json",
        "[1, 2]",
        '"just text"',
        json.dumps({"user_id": 42, "offer_id": "svod-monthly"}),
        json.dumps({"user_id": uid, "offer_id": [1, 2]}),
        json.dumps({"user_id": uid, "offer_id": "rent-48h", "expiry": 2099}),
        json.dumps({"user_id": "\ud800", "offer_id": "svod-monthly"}),
        "[" * 100_000,
        json.dumps({"email": True, "offer_id": "svod-monthly"}),
        json.dumps({"user_id": uid, "offer_id": "pass-7-days"}),
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = await cli.run("entitle", "--input", str(path), "--journal", "run.db", "--no-progress")
    assert result.code == 1, result.stdout + result.stderr
    assert result.stderr == ""  # each bad line is a failed row, not an error of the run
    reasons = " || ".join(failures(tmp_path / "run.failures.csv").values())
    for number, what in [
        (2, "not JSON"),
        (3, "not a JSON object"),
        (4, "not a JSON object"),
        (5, "user_id: must be text"),
        (6, "offer_id: must be text"),
        (7, "expiry: must be text"),
        (8, "user_id: not valid text"),
        (9, "not JSON"),
        (10, "email: must be text"),
    ]:
        assert f"line {number}: {what}" in reasons, (number, reasons)
    assert len(failures(tmp_path / "run.failures.csv")) == 9
    held = sb.state.users[uid].entitlements
    assert set(held) == {"svod-monthly", "pass-7-days"}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_a_bom_crlf_and_blank_lines_are_read_as_plain_lines(
    sb: Sandbox, cli: Cli, tmp_path: Path, fmt: str
) -> None:
    uids = make_users(sb, 5)
    if fmt == "csv":
        body = b"\xef\xbb\xbfUser_ID , offer_id\r\n\r\n"
        body += b"\r\n   \r\n".join(f"{u},svod-monthly".encode() for u in uids) + b"\r\n\r\n"
    else:
        rows = [json.dumps({"user_id": u, "offer_id": "svod-monthly"}).encode() for u in uids]
        body = b"\xef\xbb\xbf" + b"\r\n\r\n \t\r\n".join(rows) + b"\r\n"
    path = tmp_path / f"rows.{fmt}"
    path.write_bytes(body)
    assert count_rows(path, fmt) == 5
    result = await cli.run("entitle", "--input", str(path), "--journal", "run.db", "--no-progress")
    assert result.code == 0, result.stdout + result.stderr
    assert result.stderr == ""
    assert journal_keys(tmp_path / "run.db") == keys(uids)


async def test_a_quoted_value_that_swallows_lines_fails_its_row_naming_the_lines(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    uids = make_users(sb, 4)
    path = tmp_path / "rows.csv"
    # the quote opened on line 3 closes on line 4: one record, whose offer holds a line break
    path.write_bytes(
        HEADER
        + data(uids[:1])
        + f'{uids[1]},"svod-monthly\n{uids[2]},svod-monthly"\n'.encode()
        + data(uids[3:])
    )
    result = await cli.run("entitle", "--input", str(path), "--journal", "run.db", "--no-progress")
    assert result.code == 1, result.stdout + result.stderr
    assert result.stderr == ""
    (reason,) = failures(tmp_path / "run.failures.csv").values()
    assert "line 3: offer_id: holds a line break" in reason and "line 4" in reason, reason
    assert journal_keys(tmp_path / "run.db") >= keys([uids[0], uids[3]])


def test_counting_the_rows_for_the_progress_never_fails(tmp_path: Path) -> None:
    """count_rows reads the whole file in a thread while the run reads it too."""
    cases = {
        "crlf.csv": (b"a,b\r\n1,2\r\n\r\n3,4\r\n", 2),
        "cr.csv": (b"a,b\r1,2\r3,4\r", 2),
        "bytes.csv": (b"a,b\n\xff\xfe,\x00\n", 1),
        "long.jsonl": (b"x" * (3 << 20), 1),  # one long line: counted without holding it
        "empty.csv": (b"", 0),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert count_rows(path, "jsonl" if name.endswith("jsonl") else "csv") == expected, name
    (tmp_path / "folder.csv").mkdir()
    assert count_rows(tmp_path / "folder.csv", "csv") == 0
    assert count_rows(tmp_path / "missing.csv", "csv") == 0
