"""The `linkwatch` command line: one Typer app; each command group lives in its own module."""

from __future__ import annotations

import sys

# Command modules register themselves on `app` when imported (one line per module).
from service.cli import (
    alerts,  # linkwatch alerts test|list
    archive,  # linkwatch archive lookup|save
    check,  # linkwatch check
    config,  # linkwatch config check|show|reference
    daemon,  # linkwatch run
    db,  # linkwatch db upgrade|current
    drift,  # linkwatch drift
    exchange,  # linkwatch export, linkwatch import
    recover,  # linkwatch recover
    report,  # linkwatch report, fix, serve
    sources,  # linkwatch sources, publication-report
    watch,  # linkwatch add|list|remove|status
)
from service.cli.app import app

__all__ = [
    "alerts",
    "app",
    "archive",
    "check",
    "config",
    "daemon",
    "db",
    "drift",
    "exchange",
    "main",
    "recover",
    "report",
    "sources",
    "watch",
]


def main() -> None:
    """Console-script entry point: exit codes 0 ok, 1 broken links, 2 usage/input, 3 offline."""
    from service.cli.app import run

    sys.exit(run(sys.argv[1:]))
