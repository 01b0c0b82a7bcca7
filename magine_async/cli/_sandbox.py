"""``magine-async sandbox``: run the embedded platform sandbox."""

from __future__ import annotations

import argparse

from ..sandbox._cli import build_parser as sandbox_parser
from ..sandbox._cli import run


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    template = sandbox_parser("magine-async sandbox")
    parser = sub.add_parser(
        "sandbox",
        help="run the embedded Magine Platform sandbox",
        description=template.description,
        parents=[template],
        add_help=False,
    )
    parser.set_defaults(handler=run)
