"""The `linkwatch` command line: one Typer app; each command group lives in its own module.

A process imports only the module of the command it runs (`load_commands`): `linkwatch check`
does not pay for the store, archive, alert and web modules the other commands need (start-up
is a large share of a short command), and it starts its checks before it imports SQLAlchemy
(service.oneshot). `linkwatch --help` and anything unknown load every module.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import threading
from collections.abc import Sequence

# Top-level command (or command group) -> the module under service/cli/ that registers it.
COMMANDS: dict[str, str] = {
    "add": "watch",
    "alerts": "alerts",
    "archive": "archive",
    "check": "check",
    "config": "config",
    "db": "db",
    "drift": "drift",
    "export": "exchange",
    "fix": "report",
    "import": "exchange",
    "list": "watch",
    "publication-report": "sources",
    "recover": "recover",
    "remove": "watch",
    "report": "report",
    "run": "daemon",
    "serve": "report",
    "sources": "sources",
    "status": "watch",
}
MODULES: tuple[str, ...] = tuple(sorted(set(COMMANDS.values())))


def command_module(argv: Sequence[str]) -> str | None:
    """The module of the command `argv` names (None: no known command).

    The root takes no option with a value, so the first argument without a dash is the command.
    """
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    return COMMANDS.get(name) if name is not None else None


def load_commands(argv: Sequence[str] = ()) -> None:
    """Register the command that `argv` names on the app, or every command when it names none."""
    module = command_module(argv)
    for each in (module,) if module is not None else MODULES:
        importlib.import_module(f"service.cli.{each}")


def main() -> None:
    """Console-script entry point: exit codes 0 ok, 1 broken links, 2 usage/input, 3 offline."""
    argv = sys.argv[1:]
    if command_module(argv) == "check":
        # First thing: the first checking worker imports the checker meanwhile, on another
        # core (service.oneshot.prefork_checks).
        from service.oneshot import prefork_checks

        prefork_checks()
    from service.cli.app import run

    exit_now(run(argv))


def exit_now(code: int) -> None:
    """End the process with `code`, skipping the interpreter's teardown when that is safe.

    Tearing down the modules and objects of a finished command (SQLAlchemy, pydantic, a few
    thousand results) costs 0.1-0.3 s and does nothing for the user: every file and database
    connection is closed by then. The exit handlers still run and the standard streams are
    flushed first; with another thread still alive, the normal exit (which joins it) is used.
    """
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()  # what sys.exit would run: logging.shutdown, multiprocessing, ...
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`), a closed stream
            stream.flush()
    os._exit(code)
