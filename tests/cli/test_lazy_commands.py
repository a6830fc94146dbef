"""A `linkwatch` process imports only its command's module: the registry must name them all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_the_fast_exit_keeps_the_exit_code_and_every_byte_of_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """main() skips the interpreter's teardown: what was printed must still arrive whole."""
    from service.cli.app import run

    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKWATCH_")}
    assert run(["config", "reference"]) == 0
    expected = capsys.readouterr().out
    assert len(expected) > 10_000  # large enough to sit in a buffer at exit
    shown = subprocess.run(
        [sys.executable, "-m", "service", "config", "reference"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert (shown.returncode, shown.stdout) == (0, expected)
    usage = subprocess.run(
        [sys.executable, "-m", "service", "check", str(tmp_path / "missing.md")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert usage.returncode == 2
    assert usage.stderr.startswith("linkwatch: ") and "Traceback" not in usage.stderr
