"""Entry point: sub-command dispatch, one-line errors, exit codes."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from .._errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    MagineError,
    TransportError,
    ValidationError,
)
from . import _bulk, _catalogue, _credentials, _sandbox
from ._common import CommandError

__all__ = ["main"]

Register = Callable[[argparse._SubParsersAction], None]  # type: ignore[type-arg]

#: Modules that add sub-commands: each has ``register(subparsers)``.
COMMANDS: list[Register] = [
    _catalogue.register,
    _credentials.register,
    _sandbox.register,
    _bulk.register,
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="magine-async",
        description="Command line of magine_async, the asyncio SDK of the Magine Pro Platform API.",
    )
    parser.add_argument("--version", action="version", version=f"magine-async {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for register in COMMANDS:
        register(sub)
    return parser


def describe(exc: BaseException) -> str:
    """One line for an expected failure; never a secret (errors carry none)."""
    if isinstance(exc, AuthenticationError):
        code = f" ({exc.error_code})" if exc.error_code else ""
        return f"bad credentials: the platform answered 401{code}"
    if isinstance(exc, ValidationError | ConfigurationError | CommandError):
        return str(exc)
    if isinstance(exc, TransportError):
        return f"network problem: {exc}"
    if isinstance(exc, APIError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return f"{type(exc).__name__}: {exc}"


def _traceback(exc: BaseException) -> None:
    import traceback

    traceback.print_exception(exc, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    verbose: bool = getattr(args, "verbose", False)
    try:
        result = args.handler(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (MagineError, CommandError, OSError) as exc:
        if verbose:
            _traceback(exc)
        print(f"error: {describe(exc)}", file=sys.stderr)
        usage = isinstance(exc, ValidationError | ConfigurationError) or (
            isinstance(exc, CommandError) and exc.usage
        )
        return EXIT_USAGE if usage else EXIT_FAILURE
    except Exception as exc:  # a bug: still one line, the traceback with --verbose only
        if verbose:
            _traceback(exc)
        hint = "" if verbose else "; --verbose shows where"
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (a bug of magine-async{hint})",
            file=sys.stderr,
        )
        return EXIT_FAILURE
