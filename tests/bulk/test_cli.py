"""The bulk commands of ``magine-async``, run in a subprocess against the sandbox."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import signal
import sqlite3
from pathlib import Path

import pytest

from magine_async.cli._bulk import count_rows, read_rows
from magine_async.cli._main import main
from magine_async.journal import Journal
from magine_async.sandbox import Sandbox

from ..support import secret_fragments
from .conftest import Cli, held_pairs, make_users, write_csv
from .test_operations import SRT, _vod_assets

HEADER = ("user_id", "email", "country_code", "offer_id")


def failures(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def invalid(key: str) -> str:
    """``#<line>`` of the key ``#<line>:<digest>`` of an invalid row (else the key itself)."""
    return key.split(":", 1)[0] if key.startswith("#") else key


def table(stdout: str) -> dict[str, int]:
    """The counts of the summary table: {"succeeded": 3, "would send": 1, ...}."""
    found = {}
    for line in stdout.splitlines():
        match = re.match(r"^  ([a-z][a-z ]*?)\s{2,}([\d,]+)\b", line)
        if match:
            found[match.group(1)] = int(match.group(2).replace(",", ""))
    return found


def assert_no_secret(sb: Sandbox, *texts: str) -> None:
    for text in texts:
        assert sb.access_token not in text
        assert "eyJ" not in text  # no JWT
        for fragment in secret_fragments(sb.private_key_pem.encode()):
            assert fragment not in text


async def test_entitle_reports_a_table_a_failures_file_and_exit_1(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    uids = make_users(sb, 20)
    rows = [(uid, "", "", "svod-monthly;pass-7-days") for uid in uids]
    rows += [("", "cli-new@example.com", "SE", "rent-48h"), ("", "", "", "svod-monthly")]
    path = write_csv(tmp_path / "rows.csv", HEADER, rows)
    doomed = uids[3]
    sb.faults.route("entitlements.create").script = ["none"] * 3 + ["error"] * 3
    result = await cli.run(
        "entitle", "--input", str(path), "--journal", "run.db", "--concurrency", "1"
    )
    assert result.code == 1, result.stderr
    assert "entitle: 22 rows" in result.stdout
    counts = table(result.stdout)
    assert (counts["succeeded"], counts["failed"], counts["retries"]) == (20, 2, 2)
    assert "(503: 2)" in result.stdout
    rows_failed = {invalid(row["key"]): row for row in failures(tmp_path / "run.failures.csv")}
    assert set(rows_failed) == {f"u:{doomed}|pass-7-days,svod-monthly", "#23"}
    unavailable = rows_failed[f"u:{doomed}|pass-7-days,svod-monthly"]
    assert unavailable["error_code"] == "serviceUnavailable"
    assert unavailable["http_status"] == "503"
    assert len(unavailable["trace_ids"].split()) == 3 and unavailable["attempts"] == "3"
    assert "Trace ID" in unavailable["messages"]
    line = rows_failed["#23"]  # an invalid row's key starts with its line
    assert line["error_code"] == "invalidRow" and "line 23" in line["messages"]
    assert sb.counters["entitlements.created"] == 2 * 19 + 1
    assert_no_secret(sb, result.stdout, result.stderr)

    sb.faults.clear()
    again = await cli.run("entitle", "--input", str(path), "--journal", "run.db", "--retry-failed")
    assert again.code == 1  # the invalid line still fails: it is fixed in the input, not here
    assert [invalid(r["key"]) for r in failures(tmp_path / "run.failures.csv")] == ["#23"]
    fixed = write_csv(tmp_path / "rows.csv", HEADER, rows[:-1])
    done = await cli.run("entitle", "--input", str(fixed), "--journal", "run.db")
    assert done.code == 0, done.stdout
    assert failures(tmp_path / "run.failures.csv") == []
    assert sb.counters["entitlements.created"] == len(held_pairs(sb)) == 41


async def test_jsonl_input_with_offer_lists_dates_and_bad_lines(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    (uid,) = make_users(sb, 1)
    lines = [
        json.dumps(
            {
                "user_id": uid,
                "offer_id": ["svod-monthly", "rent-48h"],
                "purchased_at": "2024-01-02T03:04:05Z",
                "expiry": "2099-01-01T00:00:00+02:00",
                "message": "migrated",
            }
        ),
        "",
        "{not json",
        json.dumps({"user_id": uid, "offer_id": "buy-to-own", "expiry": "2099-01-01"}),
        json.dumps(["a list"]),
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = await cli.run("entitle", "--input", str(path), "--verbose")
    assert result.code == 1
    entitlement = sb.state.users[uid].entitlements["rent-48h"]
    assert entitlement.message == "migrated"
    assert entitlement.purchased_at.year == 2024 and entitlement.expiry is not None
    failed = failures(tmp_path / "rows.failures.csv")
    reasons = {invalid(row["key"]): row["messages"] for row in failed}
    assert "line 3: not JSON" in reasons["#3"]
    assert "line 4: expiry: needs a UTC offset" in reasons["#4"]
    assert "line 5: not a JSON object" in reasons["#5"]
    assert f"failed {failed[0]['key']}: invalidRow" in result.stderr  # --verbose lists each


async def test_dry_run_needs_no_credentials_and_sends_nothing(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "rows.csv", HEADER, [("U1", "", "", "svod-monthly")] * 1)
    result = await cli.run(
        "entitle", "--input", str(path), "--journal", "plan.db", "--dry-run", connect=False
    )
    assert result.code == 0, result.stderr
    assert "[dry run]" in result.stdout and table(result.stdout)["would send"] == 1
    assert not (tmp_path / "plan.db").exists()
    assert sum(sb.counters.requests.values()) == 0


async def test_shards_split_one_input_between_processes(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    uids = make_users(sb, 60)
    path = write_csv(tmp_path / "rows.csv", HEADER, [(u, "", "", "svod-monthly") for u in uids])
    runs = await asyncio.gather(
        *(
            cli.run(
                "entitle", "--input", str(path), "--journal", f"shard{k}.db", "--shard", f"{k}/3"
            )
            for k in range(3)
        )
    )
    assert [r.code for r in runs] == [0, 0, 0], [r.stderr for r in runs]
    parts = [{e.key for e in Journal.read(tmp_path / f"shard{k}.db")} for k in range(3)]
    assert sum(len(p) for p in parts) == 60 and set.union(*parts) == {
        f"u:{u}|svod-monthly" for u in uids
    }
    assert "other shards" in runs[0].stdout
    assert sb.counters["entitlements.created"] == 60
    wrong = await cli.run(
        "entitle", "--input", str(path), "--journal", "shard0.db", "--shard", "1/3"
    )
    assert wrong.code == 2 and "shard '0/3', not '1/3'" in wrong.stderr


async def test_ctrl_c_lets_rows_in_flight_finish_and_keeps_the_journal(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    uids = make_users(sb, 3000)
    path = write_csv(tmp_path / "rows.csv", HEADER, [(u, "", "", "svod-monthly") for u in uids])
    sb.faults.default.latency = 0.01
    args = ("entitle", "--input", str(path), "--journal", "run.db", "--concurrency", "8")
    process = await cli.start(*args)
    db = tmp_path / "run.db"

    def committed() -> int:
        try:
            with sqlite3.connect(db) as connection:
                return int(connection.execute("SELECT COUNT(*) FROM rows").fetchone()[0])
        except sqlite3.OperationalError:
            return 0

    async with asyncio.timeout(60):
        while not db.exists() or await asyncio.to_thread(committed) < 50:
            await asyncio.sleep(0.01)
    process.send_signal(signal.SIGINT)
    stdout, stderr = await process.communicate()
    assert process.returncode == 130, stderr.decode()
    assert "stopped early  interrupted" in stdout.decode()
    assert "rows in flight finish" in stderr.decode()
    entries = list(Journal.read(db))
    assert 50 <= len(entries) < 3000
    assert {e.status for e in entries} == {"succeeded"}  # in-flight rows finished, journaled
    assert sb.counters["entitlements.created"] == len(entries)  # nothing done but journaled

    sb.faults.clear()
    rest = await cli.run(*args)
    assert rest.code == 0
    assert len(list(Journal.read(db))) == 3000 == sb.counters["entitlements.created"]


async def test_the_other_bulk_commands(sb: Sandbox, tmp_path: Path) -> None:
    partner = Cli(sb, tmp_path)
    (uid,) = make_users(sb, 1)
    sb.state.users[uid].entitlements.clear()
    users = write_csv(
        tmp_path / "users.csv",
        ("email", "country_code", "name", "birth_date"),
        [("p1@example.com", "SE", "P One", "2001-02-03"), ("user0@example.com", "NO", "", "")],
    )
    result = await partner.run("provision-users", "--input", str(users))
    assert result.code == 0, result.stdout + result.stderr
    counts = table(result.stdout)
    assert (counts["succeeded"], counts["already"]) == (1, 1)

    entitle = write_csv(tmp_path / "e.csv", ("user_id", "offer_id"), [(uid, "svod-monthly")])
    assert (await partner.run("entitle", "--input", str(entitle))).code == 0
    revoke = write_csv(
        tmp_path / "r.csv",
        ("email", "offer_id"),
        [("user0@example.com", "svod-monthly;pass-7-days")],
    )
    result = await partner.run("revoke", "--input", str(revoke))
    assert result.code == 0 and sb.state.users[uid].entitlements == {}

    reseller = Cli(sb, tmp_path, reseller=True)
    rows = write_csv(
        tmp_path / "rs.csv",
        ("email", "country_code", "offer_id"),
        [("rs@example.com", "SE", "reseller-kids")],
    )
    result = await reseller.run("reseller-entitle", "--input", str(rows))
    assert result.code == 0, result.stdout + result.stderr
    assert sb.counters["reseller.users.created"] == 1

    asset, bad_asset = _vod_assets(sb, 2)
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "a.srt").write_bytes(SRT)
    (tmp_path / "subs" / "b.srt").write_bytes(b"garbage")
    subs = write_csv(
        tmp_path / "subs" / "subs.csv",
        ("asset_id", "language", "file"),
        [(asset, "eng", "a.srt"), (bad_asset, "eng", "b.srt"), (asset, "swe", "missing.srt")],
    )
    result = await partner.run("subtitles", "upload", "--input", str(subs))
    assert result.code == 1
    reasons = {invalid(r["key"]): r for r in failures(tmp_path / "subs.failures.csv")}
    assert reasons[f"{bad_asset}|eng|normal"]["error_code"] == "subtitleFailed"
    assert "missing.srt does not exist" in reasons["#4"]["messages"]
    assert sb.counters["subtitle_requests.succeeded"] == 1


async def test_a_fatal_401_stops_with_one_line(sb: Sandbox, cli: Cli, tmp_path: Path) -> None:
    uids = make_users(sb, 30)
    path = write_csv(tmp_path / "rows.csv", HEADER, [(u, "", "", "svod-monthly") for u in uids])
    sb.verifier.unregister(sb.issuer)
    result = await cli.run("entitle", "--input", str(path), "--journal", "run.db")
    assert result.code == 1
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert line.startswith("error: stopped: bad credentials: the platform answered 401")
    assert "Traceback" not in result.stderr
    assert "re-run with the same journal" in line
    assert list(Journal.read(tmp_path / "run.db")) == []
    assert_no_secret(sb, result.stdout, result.stderr)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--input", "missing.csv"], "no such file"),
        (["--input", "bad.csv"], "the header has no offer_id column"),
        (["--input", "ok.csv", "--shard", "2/2", "--dry-run"], "shard"),
        (["--input", "ok.csv", "--concurrency", "0"], "--concurrency"),
        (["--input", "ok.xml"], "unknown format"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path,
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text("user_id,offers\nu,x\n")
    (tmp_path / "ok.csv").write_text("user_id,offer_id\nu,x\n")
    (tmp_path / "ok.xml").write_text("<rows/>")
    assert main(["entitle", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_reading_is_lazy_and_counts_lines(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("USER_ID , offer_id\n" + "".join(f"u{i},o\n" for i in range(1000)))
    from magine_async.cli._bulk import _entitle_row

    rows = read_rows(path, "csv", _entitle_row)
    first = next(rows)
    assert first.user_id == "u0"
    assert count_rows(path, "csv") == 1000
