"""The `linkwatch` command line: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import sys

import typer

from service.cli.app import app

# Command modules register themselves on `app` when imported (one line per module).

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point: exit codes 0 ok, 1 broken links, 2 usage/input, 3 offline."""
    from service.cli.app import run

    sys.exit(run(sys.argv[1:]))
