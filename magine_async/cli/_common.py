"""Options and helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
import tomllib
from pathlib import Path
from typing import Any, TextIO

from .._auth import PrivateKeySource
from .._client import MagineClient
from .._errors import ConfigurationError
from .._retry import RetryPolicy

__all__ = [
    "CONFIG_EXAMPLE",
    "CONFIG_KEYS",
    "CommandError",
    "Progress",
    "add_client_options",
    "client_from_args",
    "load_config",
    "signing_settings",
]


class CommandError(Exception):
    """An expected failure of a command: printed as one line, exit code 1 (2 if ``usage``)."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


CONFIG_ENV = "MAGINE_CONFIG"

#: Keys a config file may hold (TOML, top level), with the type each takes.
CONFIG_KEYS: dict[str, type] = {
    "base_url": str,
    "issuer": str,
    "private_key_file": Path,
    "access_token_file": Path,
    "access_token": str,
    "max_attempts": int,
}

# Wrapped here: commands that show their epilog verbatim (RawDescriptionHelpFormatter) show
# group descriptions verbatim too.
_SETTINGS_HELP = textwrap.fill(
    "Each setting comes from its flag, else from its environment variable, else from the "
    "config file (--config FILE or MAGINE_CONFIG): a TOML file with the top-level keys "
    "base_url, issuer, private_key_file, access_token_file (paths relative to the file), "
    "access_token and max_attempts.",
    width=78,
)

CONFIG_EXAMPLE = """\
config file example (magine.toml; chmod 600 if it holds access_token):
  base_url = "https://platform-api.magine.com/api/v1"
  issuer = "the issuer Magine Pro gave you"
  private_key_file = "jwtRS512.key"
  access_token_file = "access-token.txt"
  max_attempts = 3
"""


def add_client_options(parser: argparse.ArgumentParser, *, signing_only: bool = False) -> None:
    """Connection settings; each falls back to its ``MAGINE_*`` environment variable, then to
    the config file. ``signing_only``: just what signing a JWT needs (issuer and key)."""
    group = parser.add_argument_group("connection", _SETTINGS_HELP)
    if not signing_only:
        group.add_argument("--base-url", help="API base URL (MAGINE_BASE_URL)")
    group.add_argument("--issuer", help="JWT issuer given by Magine Pro (MAGINE_ISSUER)")
    group.add_argument(
        "--private-key-file",
        type=Path,
        help="RSA private key, PEM (MAGINE_PRIVATE_KEY_FILE, or MAGINE_PRIVATE_KEY with the "
        "PEM text)",
    )
    if not signing_only:
        group.add_argument(
            "--access-token-file",
            type=Path,
            help="file holding the access token (else MAGINE_ACCESS_TOKEN); "
            "never passed on the command line, where other users could read it",
        )
        group.add_argument(
            "--max-attempts", type=int, default=None, help="attempts per request (default 3)"
        )
    group.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"TOML file with the settings above ({CONFIG_ENV})",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="show error details")


def load_config(path: Path) -> dict[str, Any]:
    """The settings of a TOML config file (paths made relative to its directory)."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise CommandError(f"config file {path}: not valid TOML ({exc})", usage=True) from None
    settings: dict[str, Any] = {}
    for key, value in data.items():
        kind = CONFIG_KEYS.get(key)
        if kind is None:
            known = ", ".join(CONFIG_KEYS)
            raise CommandError(
                f"config file {path}: unknown key {key!r} (known: {known})", usage=True
            )
        expected = str if kind is Path else kind
        if not isinstance(value, expected) or isinstance(value, bool):
            what = "an integer" if expected is int else "a string"
            raise CommandError(f"config file {path}: {key} must be {what}", usage=True)
        settings[key] = path.parent / str(value) if kind is Path else value
    if "access_token" in settings and path.stat().st_mode & 0o077:
        print(
            f"warning: {path} holds access_token and other users may read it (chmod 600 {path})",
            file=sys.stderr,
        )
    return settings


def _config(args: argparse.Namespace) -> dict[str, Any]:
    path = getattr(args, "config", None) or os.environ.get(CONFIG_ENV) or None
    return load_config(Path(path)) if path else {}


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _missing(setting: str, flag: str, env: str) -> ConfigurationError:
    return ConfigurationError(
        f"{setting} is missing: pass {flag}, set {env} or put "
        f"{flag[2:].replace('-', '_')} in the config file (--config)"
    )


def signing_settings(
    args: argparse.Namespace, config: dict[str, Any] | None = None
) -> tuple[str, PrivateKeySource]:
    """The issuer and the private key: flag, else environment, else config file."""
    if config is None:
        config = _config(args)
    issuer = getattr(args, "issuer", None) or _env("MAGINE_ISSUER") or config.get("issuer")
    if not issuer:
        raise _missing("the issuer", "--issuer", "MAGINE_ISSUER")
    key: PrivateKeySource | None = getattr(args, "private_key_file", None)
    if key is None:
        key = _env("MAGINE_PRIVATE_KEY")
    if key is None:
        file = _env("MAGINE_PRIVATE_KEY_FILE")
        key = Path(file) if file else config.get("private_key_file")
    if key is None:
        raise _missing("the private key", "--private-key-file", "MAGINE_PRIVATE_KEY_FILE")
    return issuer, key


def client_from_args(args: argparse.Namespace, **overrides: Any) -> MagineClient:
    """A MagineClient from the connection options: flags first, then the environment, then
    the config file."""
    config = _config(args)
    issuer, key = signing_settings(args, config)
    token_file: Path | None = getattr(args, "access_token_file", None)
    access_token = _env("MAGINE_ACCESS_TOKEN") if token_file is None else None
    if token_file is None and access_token is None:
        access_token = config.get("access_token")
        token_file = config.get("access_token_file") if access_token is None else None
    if token_file is not None:
        try:
            access_token = Path(token_file).read_text().strip()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the access token file {token_file}: {exc.strerror or exc}"
            ) from None
    if not access_token:
        raise _missing("the access token", "--access-token-file", "MAGINE_ACCESS_TOKEN")
    attempts = getattr(args, "max_attempts", None) or config.get("max_attempts") or 3
    settings: dict[str, Any] = {
        "access_token": access_token,
        "issuer": issuer,
        "private_key": key,
        "base_url": getattr(args, "base_url", None)
        or _env("MAGINE_BASE_URL")
        or config.get("base_url"),
        "retry": RetryPolicy(max_attempts=max(1, attempts)),
    }
    settings.update(overrides)
    return MagineClient(**settings)


class Progress:
    """A one-line progress display on a terminal (plain periodic lines otherwise).

    ``update(**counts)`` redraws at most every ``interval`` seconds; ``close()`` ends the line.
    ``start`` is where ``done`` begins (work done by an earlier run): the rate counts only
    what this run does.
    """

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        stream: TextIO | None = None,
        interval: float = 0.2,
        enabled: bool = True,
        start: int = 0,
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
        self._start = start
        self._done = start
        self._note = ""

    def update(self, done: int, note: str = "", **counts: int) -> None:
        self._done = done
        self._counts = counts
        self._note = note
        now = time.monotonic()
        if self.enabled and now - self._last >= (self.interval if self.tty else 5.0):
            self._last = now
            self._draw(final=False)

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = (self._done - self._start) / elapsed
        parts = [f"{self.label}: {self._done:,}"]
        if self.total:
            parts[0] += f"/{self.total:,} ({100 * self._done / self.total:.0f}%)"
        parts.extend(f"{name} {value:,}" for name, value in self._counts.items())
        parts.append(f"{rate:,.0f}/s")
        if self.total and rate > 0 and self._done < self.total:
            parts.append(f"ETA {(self.total - self._done) / rate:,.0f}s")
        if self._note:
            parts.append(self._note)
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
