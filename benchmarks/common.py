"""Shared pieces of the benchmarks: the sandbox in its own process, core pinning, JWTs."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

SERVER_CORE = 0
CLIENT_CORE = 1


def cores() -> set[int]:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


def pin(pid: int, core: int) -> str:
    """Pin process ``pid`` (0: this one) to ``core`` when the machine has two or more."""
    available = cores()
    if core not in available or len(available) < 2:
        return "not pinned"
    os.sched_setaffinity(pid, {core})
    return f"core {core}"


def mint_token(issuer: str, key_file: str, ttl: int = 86_400) -> str:
    """A JWT made as the API document's Get Started makes one (RS512, iat an hour back)."""
    now = int(time.time())
    claims = {"iss": issuer, "iat": now - 3600, "exp": now + ttl}
    key = RSAKey.import_key(Path(key_file).read_bytes())
    return jwt.encode({"alg": "RS512"}, claims, key, algorithms=["RS512"])


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class SandboxProcess:
    """``python -m magine_async.sandbox`` in a subprocess pinned to :data:`SERVER_CORE`.

    ``info`` holds what the sandbox printed (base URL, access token, issuer, key files).
    A ``partner.key`` already in ``key_dir`` is used as the partner key.
    """

    def __init__(
        self,
        *,
        viewables: int = 0,
        users: int = 10,
        seed: int = 1,
        key_dir: str | None = None,
    ) -> None:
        self.viewables = viewables
        self.users = users
        self.seed = seed
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if key_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="magine-bench-")
            key_dir = self._tmp.name
        self.key_dir = key_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self.startup_s = 0.0
        self.note = ""

    def start(self) -> SandboxProcess:
        command = [
            sys.executable,
            "-m",
            "magine_async.sandbox",
            "--port",
            "0",
            "--json",
            "--viewables",
            str(self.viewables),
            "--users",
            str(self.users),
            "--seed",
            str(self.seed),
            "--key-dir",
            self.key_dir,
        ]
        started = time.perf_counter()
        env = None
        server_path = os.environ.get("MAGINE_BENCH_SERVER_PATH")
        if server_path:  # the sandbox from this tree whichever client package is measured
            env = dict(os.environ, PYTHONPATH=server_path)
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        pin(process.pid, SERVER_CORE)
        assert process.stdout is not None
        assert process.stderr is not None
        line = process.stdout.readline()
        if not line:
            process.wait()
            raise SystemExit(f"sandbox did not start:\n{process.stderr.read().decode()}")
        self.note = process.stderr.readline().decode().strip()
        self.process = process
        self.info = json.loads(line)
        self.startup_s = time.perf_counter() - started
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.terminate()
            process.wait(timeout=60)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def rss_mb(self) -> float:
        return rss_mb(self.process.pid) if self.process else float("nan")

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.info["admin_url"] + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read() or b"null")

    def set_latency(self, seconds: float) -> None:
        self.admin("PUT", "/faults", {"default": {"latency": seconds}})
