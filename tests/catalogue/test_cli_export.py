"""``magine-async catalogue export``: the acceptance scenarios end to end, and its failures."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from magine_async.catalogue import (
    Checkpoint,
    CheckpointCounts,
    CheckpointOutput,
    default_checkpoint_path,
    load_checkpoint,
)
from magine_async.sandbox import Sandbox

from ..support import ACCESS_TOKEN, ISSUER, ScriptedServer, pkcs1_pem, rsa_key
from .conftest import LiveSandbox, Run, exported_ids, read_viewables

JSON = {"Content-Type": "application/json"}


def command() -> list[str]:
    """The installed console script (``[cli]`` extra) or, failing that, ``python -m``."""
    script = Path(sys.executable).with_name("magine-async")
    return [str(script)] if script.exists() else [sys.executable, "-m", "magine_async.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAGINE_")}
    env.update(extra)
    return env


def test_the_readme_first_command_exports_the_whole_sandbox(tmp_path: Path) -> None:
    # README: pip install -e '.[cli]' && magine-async catalogue export --sandbox --out ...
    done = subprocess.run(
        [*command(), "catalogue", "export", "--sandbox", "--out", "catalogue.jsonl"],
        cwd=tmp_path,
        env=clean_env(),  # no credentials needed
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "exported 50,000 viewables" in done.stdout
    viewables = read_viewables(tmp_path / "catalogue.jsonl")  # every line decodes
    expected = Sandbox(viewables=50_000, seed=0).state.catalogue
    assert len(viewables) == len(expected) == 50_000
    assert [v.id for v in viewables[:3]] == [str(expected.doc(i)["id"]) for i in range(3)]
    assert len({v.id for v in viewables}) == 50_000
    cp = load_checkpoint(tmp_path / "catalogue.jsonl.checkpoint.json")
    assert cp is not None and cp.complete and cp.counts.items == 50_000


@pytest.mark.sandbox(viewables=2_000, seed=11)
async def test_killed_exports_resumed_hold_every_viewable_exactly_once(
    sandbox: Sandbox, tmp_path: Path, no_secret_leaks: list[str]
) -> None:
    no_secret_leaks.append(sandbox.access_token)
    sandbox.faults.route("viewables.list").latency = 0.01  # so that a kill lands mid-run
    out = tmp_path / "catalogue.jsonl"
    cp_path = tmp_path / "catalogue.jsonl.checkpoint.json"
    env = clean_env(
        MAGINE_BASE_URL=sandbox.base_url,
        MAGINE_ACCESS_TOKEN=sandbox.access_token,
        MAGINE_ISSUER=sandbox.issuer,
        MAGINE_PRIVATE_KEY=sandbox.private_key_pem,
    )
    args = [*command(), "catalogue", "export", "--out", str(out), "--page-size", "25"]

    async def start(*extra: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *args, *extra, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    async def kill_after_pages(process: asyncio.subprocess.Process, pages: int) -> int:
        while True:
            cp = load_checkpoint(cp_path) if cp_path.exists() else None
            if cp is not None and cp.counts.pages >= pages:
                break
            assert process.returncode is None, "the export ended before it could be killed"
            await asyncio.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        assert await process.wait() == -signal.SIGKILL
        return cp.counts.pages

    killed_at = [await kill_after_pages(await start(), 4)]
    for _ in range(2):
        killed_at.append(await kill_after_pages(await start("--resume"), killed_at[-1] + 5))
    stored = load_checkpoint(cp_path)
    assert stored is not None and stored.status == "running"
    assert stored.counts.items < 2_000

    sandbox.faults.route("viewables.list").latency = 0
    final = await start("--resume")
    assert await final.wait() == 0
    ids = exported_ids(out)
    assert max(Counter(ids).values()) == 1
    catalogue = sandbox.state.catalogue
    assert ids == [str(catalogue.doc(i)["id"]) for i in range(len(catalogue))]
    done = load_checkpoint(cp_path)
    assert done is not None and done.complete and done.counts.items == 2_000


def test_since_last_exports_exactly_the_ten_modified_viewables(
    sandbox_env: LiveSandbox, cli: Callable[..., Run], tmp_path: Path
) -> None:
    checkpoint = tmp_path / "sync.checkpoint.json"
    first = cli("catalogue", "export", "--out", tmp_path / "all.jsonl", "--checkpoint", checkpoint)
    assert first.code == 0, first.err
    assert len(exported_ids(tmp_path / "all.jsonl")) == 300

    touched = sandbox_env.touch(10)
    changes = tmp_path / "changes.jsonl"
    run = cli("catalogue", "export", "--out", changes, "--checkpoint", checkpoint, "--since-last")
    assert run.code == 0, run.err
    assert sorted(exported_ids(changes)) == sorted(touched)
    assert "exported 10 viewables" in run.out
    assert "modified at or after" in run.err


def test_resume_and_restart_through_the_command(
    sandbox_env: LiveSandbox, cli: Callable[..., Run], tmp_path: Path
) -> None:
    out = tmp_path / "c.jsonl"
    assert cli("catalogue", "export", "--out", out, "--page-size", "100", "-q").code == 0
    cp_path = tmp_path / "c.jsonl.checkpoint.json"
    data = json.loads(cp_path.read_text())
    data["status"] = "running"
    cp_path.write_text(json.dumps(data))

    refused = cli("catalogue", "export", "--out", out)
    assert refused.code == 2
    assert refused.err.strip().splitlines() == [
        f"error: {cp_path} records an interrupted export (300 viewables so far): "
        "pass --resume to continue it, or --restart to start over"
    ]
    resumed = cli("catalogue", "export", "--out", out, "--resume")
    assert resumed.code == 0 and "resuming after 300 viewables" in resumed.err
    done = cli("catalogue", "export", "--out", out, "--resume")
    assert done.code == 0 and "already complete" in done.err
    restarted = cli("catalogue", "export", "--out", out, "--restart", "--modified-after", "0")
    assert restarted.code == 0 and len(exported_ids(out)) == 300


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sandbox", "--base-url", "https://x.example"], "--sandbox brings its own connection"),
        (["--resume"], "nothing to resume: there is no checkpoint at"),
        (["--resume", "--since-last"], "cannot be combined with --since-last"),
        (["--since-last", "--modified-after", "5"], "not allowed with argument"),
        (["--modified-after", "2024-05-01T00:00"], "has no time zone"),
        (["--modified-after", "yesterday"], "neither epoch seconds nor an ISO 8601"),
        (["--page-size", "0"], "must be at least 1"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    cli: Callable[..., Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("MAGINE_ACCESS_TOKEN", "t")
    monkeypatch.setenv("MAGINE_ISSUER", "i")
    monkeypatch.setenv("MAGINE_PRIVATE_KEY_FILE", str(tmp_path / "key.pem"))
    run = cli("catalogue", "export", "--out", tmp_path / "c.jsonl", *argv)
    assert run.code == 2
    assert message in run.err
    assert "Traceback" not in run.err
    last = run.err.strip().splitlines()[-1]
    assert last.startswith(("error:", "magine-async catalogue export: error:"))


def test_missing_settings_say_where_they_come_from(
    cli: Callable[..., Run], tmp_path: Path, no_magine_env: None
) -> None:
    run = cli("catalogue", "export", "--out", tmp_path / "c.jsonl")
    assert run.code == 2
    assert run.err.strip().splitlines() == [
        "error: the issuer is missing: pass --issuer, set MAGINE_ISSUER or put issuer in the "
        "config file (--config)"
    ]
    assert not (tmp_path / "c.jsonl").exists()


def test_a_network_problem_is_one_line_and_verbose_shows_the_detail(
    sandbox_env: LiveSandbox,
    cli: Callable[..., Run],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAGINE_BASE_URL", "http://127.0.0.1:9/api/v1")  # discard: refused
    argv = ["catalogue", "export", "--out", tmp_path / "c.jsonl", "--max-attempts", "1"]
    run = cli(*argv)
    assert run.code == 1
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: network problem:")
    assert "Traceback" not in run.err
    verbose = cli(*argv, "--verbose")
    assert verbose.code == 1 and "Traceback" in verbose.err


def test_help_documents_every_option(cli: Callable[..., Run]) -> None:
    run = cli("catalogue", "export", "--help")
    assert run.code == 0
    for text in (
        "--out",
        "--checkpoint",
        "--modified-after",
        "--since-last",
        "--page-size",
        "--resume",
        "--restart",
        "--sandbox",
        "--sandbox-viewables",
        "--config",
        "MAGINE_ACCESS_TOKEN",
        "MAGINE_CONFIG",
        "exit status",
    ):
        assert text in run.out, text


# -- a checkpoint of another source; viewables that cannot be read -------------------------


def run_command(
    *argv: str | Path, env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), "catalogue", "export", *map(str, argv)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def test_a_mistyped_base_url_does_not_block_the_corrected_export(
    live_sandbox: LiveSandbox, tmp_path: Path
) -> None:
    env = clean_env(**live_sandbox.env)
    wrong = clean_env(**{**live_sandbox.env, "MAGINE_BASE_URL": "http://127.0.0.1:9/api/v1"})
    failed = run_command("--out", "c.jsonl", "--max-attempts", "1", env=wrong, cwd=tmp_path)
    assert failed.returncode == 1
    assert one_error_line(failed.stderr).startswith("error: network problem:")
    stale = load_checkpoint(tmp_path / "c.jsonl.checkpoint.json")
    assert stale is not None and stale.source == "http://127.0.0.1:9/api/v1"
    assert stale.counts.pages == 0  # nothing was exported from there: nothing to lose

    fixed = run_command("--out", "c.jsonl", env=env, cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert "starting over" in fixed.stderr
    assert len(exported_ids(tmp_path / "c.jsonl")) == 300
    done = load_checkpoint(tmp_path / "c.jsonl.checkpoint.json")
    assert done is not None and done.complete and done.source == live_sandbox.sb.base_url


def stale_checkpoint(out: Path, status: str) -> Path:
    """A checkpoint of an export of ``out`` from another platform (a mistyped base URL that
    answered), and the output it wrote."""
    out.write_bytes(b'{"id":"from-staging"}\n')
    cp = Checkpoint(
        source=STAGING,
        status="complete" if status == "complete" else "running",
        output=CheckpointOutput(path=str(out.resolve()), bytes=out.stat().st_size),
        cursor=None if status == "complete" else "c2",
        counts=CheckpointCounts(items=1, pages=1),
    )
    cp.newest.modified_at = 1_900_000_000
    cp.newest.ids = {"from-staging": "0" * 16}
    path = default_checkpoint_path(out)
    path.write_bytes(cp.to_json())
    return path


STAGING = "https://staging.example/api/v1"


@pytest.mark.parametrize("status", ["complete", "running"])
def test_restart_starts_over_from_a_checkpoint_of_another_source(
    live_sandbox: LiveSandbox, tmp_path: Path, status: str
) -> None:
    env = clean_env(**live_sandbox.env)
    url = live_sandbox.sb.base_url
    out = tmp_path / "c.jsonl"
    cp_path = stale_checkpoint(out, status)

    refused = run_command("--out", "c.jsonl", env=env, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == [one_error_line(refused.stderr)]
    assert one_error_line(refused.stderr) == (
        f"error: {cp_path.name} records an export from {STAGING}, not {url}: --restart "
        f"starts over from {url}, replacing c.jsonl and that checkpoint (or choose another "
        "--out and --checkpoint to keep them)"
    )
    assert out.read_bytes() == b'{"id":"from-staging"}\n'  # untouched

    restarted = run_command("--out", "c.jsonl", "--since-last", "--restart", env=env, cwd=tmp_path)
    assert restarted.returncode == 0, restarted.stderr
    assert "Traceback" not in restarted.stderr
    assert "starting over" in restarted.stderr
    assert "exporting everything" in restarted.stderr  # that watermark is another platform's
    assert sorted(exported_ids(out)) == sorted(live_sandbox.all_ids())
    done = load_checkpoint(cp_path)
    assert done is not None and done.complete and done.source == url
    assert done.query.modified_after is None and done.counts.items == 300


@pytest.mark.parametrize(
    "flags", [[], ["--since-last"], ["--resume"], ["--modified-after", "0"], ["--page-size", "9"]]
)
def test_a_checkpoint_of_another_source_is_refused_whatever_the_flags(
    sandbox_env: LiveSandbox, cli: Callable[..., Run], tmp_path: Path, flags: list[str]
) -> None:
    out = tmp_path / "c.jsonl"
    cp_path = stale_checkpoint(out, "running")
    run = cli("catalogue", "export", "--out", out, *flags)
    assert run.code == 2
    (line,) = run.err.strip().splitlines()
    assert line.startswith(f"error: {cp_path} records an export from {STAGING}, not ")
    assert f"--restart starts over from {sandbox_env.sb.base_url}, replacing {out} " in line
    assert out.read_bytes() == b'{"id":"from-staging"}\n'


async def export_from(server: ScriptedServer, cwd: Path) -> tuple[int, str, str]:
    """``magine-async catalogue export --out c.jsonl`` in a subprocess, against ``server``."""
    env = clean_env(
        MAGINE_BASE_URL=server.base_url,
        MAGINE_ACCESS_TOKEN=ACCESS_TOKEN,
        MAGINE_ISSUER=ISSUER,
        MAGINE_PRIVATE_KEY=pkcs1_pem(rsa_key()).decode(),
    )
    process = await asyncio.create_subprocess_exec(
        *command(),
        "catalogue",
        "export",
        "--out",
        "c.jsonl",
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_viewables_that_cannot_be_read_fail_the_command_after_the_rest_is_exported(
    server: ScriptedServer, tmp_path: Path
) -> None:
    good = (
        b'{"id":"g1","partnerId":"p","metadata":{"kind":"movie","title":"G"},'
        b'"createdAt":1,"modifiedAt":1700000000.5,"publish":true}'
    )
    garbage = b'{"partnerId":"p","metadata":{"kind":"movie","title":"No Id"},"modifiedAt":1}'
    server.script((200, b'{"viewables":[' + garbage + b"," + good + b"]}", JSON))
    code, stdout, stderr = await export_from(server, tmp_path)
    assert code == 1, stderr
    line = one_error_line(stderr)
    assert line == (
        "error: 1 viewable could not be read and is not in c.jsonl "
        '(see "rejected" in c.jsonl.checkpoint.json)'
    )
    assert stdout.startswith("exported 1 viewable (1 pages")
    assert "left out 1 that could not be read" in stdout
    assert "newest modifiedAt 2023-11-14T22:13:20Z" in stdout
    assert (tmp_path / "c.jsonl").read_bytes() == good + b"\n"
    cp = load_checkpoint(tmp_path / "c.jsonl.checkpoint.json")
    assert cp is not None and cp.complete and cp.counts.rejected == 1
    assert cp.newest.modified_at == 1_700_000_000.5


async def test_a_modified_at_no_date_can_show_is_exported_and_summarised(
    server: ScriptedServer, tmp_path: Path
) -> None:
    far = (
        b'{"id":"far","partnerId":"p","metadata":{"kind":"movie","title":"F"},'
        b'"createdAt":1,"modifiedAt":1e300,"publish":true}'
    )
    server.script((200, b'{"viewables":[' + far + b"]}", JSON))
    code, stdout, stderr = await export_from(server, tmp_path)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "newest modifiedAt 1e+300 (epoch seconds)" in stdout
    assert (tmp_path / "c.jsonl").read_bytes() == far + b"\n"
