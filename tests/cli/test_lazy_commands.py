"""A `linkwatch` process imports only its command's module: the registry must name them all."""

from __future__ import annotations

import subprocess
import sys

from service.cli import COMMANDS, MODULES


def _registered(modules: list[str]) -> list[str]:
    """The top-level commands and groups a fresh process registers after importing `modules`."""
    code = (
        "import importlib\n"
        f"for m in {modules!r}: importlib.import_module('service.cli.' + m)\n"
        "from service.cli.app import app\n"
        "names = [c.name or c.callback.__name__.replace('_', '-')\n"
        "         for c in app.registered_commands]\n"
        "names += [g.name for g in app.registered_groups]\n"
        "print(' '.join(sorted(names)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_every_command_is_in_the_registry_with_the_module_that_registers_it() -> None:
    assert sorted(_registered(list(MODULES))) == sorted(COMMANDS)
    for module in MODULES:
        assert _registered([module]) == sorted(c for c, m in COMMANDS.items() if m == module)


def test_help_lists_every_command_and_a_command_runs_alone() -> None:
    from service.cli.app import run

    assert run(["--version"]) == 0
    helped = subprocess.run(
        [sys.executable, "-m", "service", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in COMMANDS:
        assert name in helped
