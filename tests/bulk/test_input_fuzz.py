"""Acceptance: generated CSV and JSONL inputs, odd and broken, run through the CLI with a
journal against the sandbox.

Each file (a seeded generator: ``MAGINE_BULK_FUZZ_SEED`` replays another draw) mixes good
rows with duplicates, conflicting rows (the same user and offer, another expiry), blank lines,
a BOM, CRLF or LF endings, rows that cannot be used (a missing column, a bad date, too many
values, not JSON, not an object, a value of the wrong type) and lines that break the file
(bytes that are not UTF-8, a NUL, a value over csv's field size limit, broken or unclosed
quoting). A broken line stops the run with one line naming it and exit 2; the test then fixes
that line (blanks it) and runs the same command again, with the same journal, until the
file is done. Afterwards:

- every row that can be read is in the journal exactly once (``runs == 1``: nothing done
  twice), finished; the sandbox created no entitlement twice;
- every row that cannot be used failed with its line, in the failures file and the journal;
- every broken line was reported, one per run, and nothing else stopped a run; no
  traceback, ever.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from magine_async.bulk import EntitleRow
from magine_async.journal import Journal
from magine_async.models import EntitlementInput
from magine_async.sandbox import Sandbox

from .conftest import Cli, held_pairs, make_users

SEED = int(os.environ.get("MAGINE_BULK_FUZZ_SEED", "20240612"))
FILES = 30
PARALLEL = 6
OFFERS = ("svod-monthly", "pass-7-days", "rent-48h", "buy-to-own")
EXPIRY = "2099-01-01T00:00:00Z"
LIMIT = csv.field_size_limit()
_LINE = re.compile(r"line (\d+):")


@dataclass
class Generated:
    """One generated input file and what the CLI must make of it."""

    name: str
    fmt: str
    lines: list[bytes] = field(default_factory=list)  # physical lines, endings included
    keys: dict[int, str] = field(default_factory=dict)  # line -> key of a good row
    pairs: set[tuple[str, str]] = field(default_factory=set)  # (user, offer) to hold
    invalid: set[int] = field(default_factory=set)  # lines that fail as their row
    broken: set[int] = field(default_factory=set)  # lines that break the file

    def content(self) -> bytes:
        return b"".join(self.lines)


def _key(uid: str, offer: str, expiry: str | None) -> str:
    when = dt.datetime.fromisoformat(expiry) if expiry else None
    extra = {"expiry": when} if when is not None else {}
    return EntitleRow([EntitlementInput(offer_id=offer, **extra)], user_id=uid).key()


def _good(fmt: str, uid: str, offer: str, expiry: str | None) -> bytes:
    if fmt == "csv":
        return f"{uid},{offer},{expiry or ''}".encode()
    record: dict[str, str] = {"user_id": uid, "offer_id": offer}
    if expiry:
        record["expiry"] = expiry
    return json.dumps(record).encode()


def _invalid(fmt: str, draw: random.Random, uid: str) -> bytes:
    offer = draw.choice(OFFERS)
    if fmt == "csv":
        return draw.choice(
            [
                f"{uid},,".encode(),  # no offer
                f"{uid},{offer},tomorrow".encode(),  # not a date-time
                f"{uid},{offer},,extra".encode(),  # more values than columns
                f",{offer},".encode(),  # no user
                f"{uid},{offer},2099-01-01".encode(),  # no UTC offset
            ]
        )
    return draw.choice(
        [
            b"{not json",
            b"[1, 2]",
            b'"text"',
            json.dumps({"user_id": 7, "offer_id": offer}).encode(),
            json.dumps({"user_id": uid, "offer_id": [1]}).encode(),
            json.dumps({"offer_id": offer}).encode(),
            json.dumps({"user_id": uid, "offer_id": offer, "expiry": "soon"}).encode(),
        ]
    )


def _broken(fmt: str, draw: random.Random) -> bytes:
    if fmt == "csv":
        return draw.choice(
            [
                b"U\xff1,svod-monthly,",  # not UTF-8
                "Zoë,svod-monthly,".encode("cp1252"),
                b"U\x001,svod-monthly,",  # a NUL
                b"UX," + b"o" * (LIMIT + 1) + b",",  # a value over the field size limit
                b'"UX"y,svod-monthly,',  # broken quoting
                b'UX,"svod-monthly,',  # a quote never closed
            ]
        )
    return draw.choice(
        [
            b'{"user_id": "U\xc3(", "offer_id": "svod-monthly"}',
            b'{"user_id": "U\x00", "offer_id": "svod-monthly"}',
            b'{"user_id": "\xed\xa0\x80", "offer_id": "svod-monthly"}',  # an encoded surrogate
        ]
    )


def generate(draw: random.Random, index: int, uids: list[str]) -> Generated:
    fmt = draw.choice(("csv", "jsonl"))
    out = Generated(f"in{index}.{fmt}", fmt)
    end = draw.choice((b"\n", b"\r\n"))
    bom = b"\xef\xbb\xbf" if draw.random() < 0.3 else b""
    if fmt == "csv":
        out.lines.append(bom + b"user_id,offer_id,expiry" + end)
        bom = b""
    broken_left = draw.choice((0, 0, 1, 1, 2))
    done: list[tuple[str, str, str | None]] = []
    for _ in range(draw.randint(4, 18)):
        number = len(out.lines) + 1
        kind = draw.choices(
            ("good", "duplicate", "conflict", "blank", "invalid", "broken"),
            weights=(6, 1, 1, 1, 2, 1 if broken_left else 0),
        )[0]
        if kind in ("duplicate", "conflict") and not done:
            kind = "good"
        if kind == "blank":
            out.lines.append(bom + draw.choice((b"", b"   ", b"\t")) + end)
        elif kind == "invalid":
            out.lines.append(bom + _invalid(fmt, draw, draw.choice(uids)) + end)
            out.invalid.add(number)
        elif kind == "broken":
            out.lines.append(bom + _broken(fmt, draw) + end)
            out.broken.add(number)
            broken_left -= 1
        else:
            if kind == "good":
                row = (draw.choice(uids), draw.choice(OFFERS), draw.choice((None, EXPIRY)))
            else:
                uid, offer, expiry = draw.choice(done)
                row = (uid, offer, expiry if kind == "duplicate" else (None if expiry else EXPIRY))
            done.append(row)
            out.lines.append(bom + _good(fmt, *row) + end)
            out.keys[number] = _key(*row)
            out.pairs.add(row[:2])
        bom = b""
    return out


def _failed_lines(path: Path) -> set[int]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {int(m.group(1)) for row in rows for m in [_LINE.search(row["messages"])] if m}


async def _one_file(cli: Cli, tmp_path: Path, generated: Generated) -> list[str]:
    """Run the file to its end, fixing each broken line reported; the problems found."""
    problems: list[str] = []
    name = generated.name
    folder = tmp_path / name.replace(".", "-")
    folder.mkdir()
    path = folder / name
    path.write_bytes(generated.content())
    journal = folder / "run.db"
    args = ("entitle", "--input", str(path), "--journal", str(journal), "--no-progress")
    left = sorted(generated.broken)
    for _ in range(len(generated.broken) + 1):
        result = await cli.run(*args)
        if "Traceback" in result.stderr:
            return [f"{name}: a traceback:\n{result.stderr}"]
        if result.code != 2:
            break
        lines = result.stderr.strip().splitlines()
        match = _LINE.search(lines[-1]) if lines else None
        if len(lines) != 1 or not lines[0].startswith("error: --input") or match is None:
            return [f"{name}: exit 2 without one line naming a line: {result.stderr!r}"]
        reported = int(match.group(1))
        if reported not in left:  # the first left, or one inside a quote left open before it
            return [f"{name}: line {reported} reported, not one of the broken lines {left}"]
        left.remove(reported)
        generated.lines[reported - 1] = b"\n"  # fixed: the line is blank now
        path.write_bytes(generated.content())
    else:
        return [f"{name}: still exit 2 after every broken line was fixed"]
    if left:
        problems.append(f"{name}: broken lines {left} never reported")
    expected_code = 1 if generated.invalid else 0
    if result.code != expected_code or result.stderr:
        problems.append(f"{name}: exit {result.code} ({result.stderr!r}), not {expected_code}")

    entries = {entry.key: entry for entry in Journal.read(journal)}
    for number, key in sorted(generated.keys.items()):
        entry = entries.get(key)
        if entry is None:
            problems.append(f"{name}: line {number}'s row ({key}) is not in the journal")
        elif entry.status not in ("succeeded", "already") or entry.runs != 1:
            problems.append(f"{name}: line {number}: {entry.status} after {entry.runs} runs")
    listed = _failed_lines(folder / "run.failures.csv")
    if listed != generated.invalid:
        problems.append(f"{name}: failures file lists lines {listed}, not {generated.invalid}")
    others = [entry for key, entry in entries.items() if key not in set(generated.keys.values())]
    journaled = {
        int(m.group(1)) for e in others for text in e.messages for m in [_LINE.search(text)] if m
    }
    if journaled != generated.invalid or any(e.status != "failed" for e in others):
        problems.append(
            f"{name}: the journal holds the unusable lines {sorted(journaled)}, "
            f"not {sorted(generated.invalid)}"
        )
    return problems


@pytest.mark.acceptance
@pytest.mark.timeout(120)
async def test_generated_inputs_end_with_every_readable_row_journaled_once(
    sb: Sandbox, cli: Cli, tmp_path: Path
) -> None:
    draw = random.Random(SEED)
    uids = make_users(sb, 12, prefix="fuzz")
    files = [generate(draw, index, uids) for index in range(FILES)]
    assert any(f.broken for f in files) and any(f.invalid for f in files)
    assert {f.fmt for f in files} == {"csv", "jsonl"}
    gate = asyncio.Semaphore(PARALLEL)

    async def one(generated: Generated) -> list[str]:
        async with gate:
            return await _one_file(cli, tmp_path, generated)

    found = await asyncio.gather(*(one(f) for f in files))
    problems = [problem for per_file in found for problem in per_file]
    assert sb.counters["entitlements.created"] == len(held_pairs(sb))  # none created twice
    assert held_pairs(sb) == set().union(*(f.pairs for f in files))
    assert not problems, f"seed {SEED}:\n" + "\n".join(problems)
