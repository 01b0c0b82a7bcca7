"""Options and helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .._client import MagineClient
from .._retry import RetryPolicy

__all__ = ["CommandError", "Progress", "add_client_options", "client_from_args"]


class CommandError(Exception):
    """An expected failure of a command: printed as one line, exit code 1 (2 if ``usage``)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def add_client_options(parser: argparse.ArgumentParser) -> None:
    """Connection settings; each falls back to its ``MAGINE_*`` environment variable."""
    group = parser.add_argument_group(
        "connection",
        "Each setting falls back to its environment variable: MAGINE_ACCESS_TOKEN, "
        "MAGINE_ISSUER, MAGINE_PRIVATE_KEY_FILE (or MAGINE_PRIVATE_KEY with PEM text), "
        "MAGINE_BASE_URL.",
    )
    group.add_argument("--base-url", help="API base URL (MAGINE_BASE_URL)")
    group.add_argument("--issuer", help="JWT issuer given by Magine Pro (MAGINE_ISSUER)")
    group.add_argument(
        "--private-key-file",
        type=Path,
        help="RSA private key, PEM (MAGINE_PRIVATE_KEY_FILE)",
    )
    group.add_argument(
        "--access-token-file",
        type=Path,
        help="file holding the access token (else MAGINE_ACCESS_TOKEN); "
        "never passed on the command line, where other users could read it",
    )
    group.add_argument(
        "--max-attempts", type=int, default=3, help="attempts per request (default 3)"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="show error details")


def client_from_args(args: argparse.Namespace, **overrides: Any) -> MagineClient:
    """A MagineClient from the connection options (flags first, then the environment)."""
    access_token = None
    if getattr(args, "access_token_file", None):
        access_token = Path(args.access_token_file).read_text().strip()
    settings: dict[str, Any] = {
        "access_token": access_token,
        "issuer": getattr(args, "issuer", None),
        "private_key": getattr(args, "private_key_file", None),
        "base_url": getattr(args, "base_url", None),
        "retry": RetryPolicy(max_attempts=max(1, getattr(args, "max_attempts", 3))),
    }
    settings.update(overrides)
    return MagineClient(**settings)


class Progress:
    """A one-line progress display on a terminal (plain periodic lines otherwise).

    ``update(**counts)`` redraws at most every ``interval`` seconds; ``close()`` ends the line.
    """

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        stream: TextIO | None = None,
        interval: float = 0.2,
        enabled: bool = True,
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.interval = interval
        self.enabled = enabled
        self.tty = self.stream.isatty() and os.environ.get("TERM") != "dumb"
        self.started = time.monotonic()
        self._last = 0.0
        self._counts: dict[str, int] = {}
        self._done = 0

    def update(self, done: int, **counts: int) -> None:
        self._done = done
        self._counts = counts
        now = time.monotonic()
        if self.enabled and now - self._last >= (self.interval if self.tty else 5.0):
            self._last = now
            self._draw(final=False)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self._done / elapsed
        parts = [f"{self.label}: {self._done:,}"]
        if self.total:
            parts[0] += f"/{self.total:,} ({100 * self._done / self.total:.0f}%)"
        parts.extend(f"{name} {value:,}" for name, value in self._counts.items())
        parts.append(f"{rate:,.0f}/s")
        if self.total and rate > 0 and self._done < self.total:
            parts.append(f"ETA {(self.total - self._done) / rate:,.0f}s")
        return ", ".join(parts)

    def _draw(self, *, final: bool) -> None:
        text = self.line()
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(final=True)
