"""Developer sessions: `nox -s tests`, `fuzz`, `lint`, `typecheck` and `bench`."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test,cli]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """The property-based tests with many more generated examples (not derandomised)."""
    session.install("-e", ".[test,cli]")
    session.run(
        "pytest",
        "-q",
        "-m",
        "property",
        *session.posargs,
        env={"MAGINE_HYPOTHESIS_PROFILE": "fuzz"},
    )


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "magine_async")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against the sandbox; writes benchmarks/RESULTS.md and chart.png."""
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/run.py", *session.posargs)
