from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from magine_async import MagineClient

from ..support import ScriptedServer, error_reply


async def test_one_debug_line_per_attempt_with_status_and_trace_id(
    server: ScriptedServer, client: MagineClient, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(error_reply(503, "unavailable", "Trace ID 4711"))
    with caplog.at_level(logging.DEBUG, logger="magine_async"):
        await client.test()
    attempts = [r.getMessage() for r in caplog.records if "attempt=" in r.getMessage()]
    assert len(attempts) == 2
    assert attempts[0].startswith("GET /partner/test -> 503 attempt=1")
    assert "trace_id=4711" in attempts[0]
    assert attempts[1].startswith("GET /partner/test -> 200 attempt=2")
    assert " ms" in attempts[1]


def test_magine_log_env_adds_a_stderr_handler() -> None:
    code = (
        "import logging, magine_async._config as c; c.configure_logging_from_env();"
        "l = logging.getLogger('magine_async'); print(l.level, len(l.handlers))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"MAGINE_LOG": "debug", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == [str(logging.DEBUG), "1"]
    quiet = subprocess.run(
        [sys.executable, "-c", code], env={"PATH": ""}, capture_output=True, text=True, check=True
    ).stdout.split()
    assert quiet == [str(logging.NOTSET), "0"]
