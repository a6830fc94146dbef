"""The Typer application object and the error boundary: one-line messages, never a traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import click
import typer

from service import __version__
from service.errors import LinkwatchError

app = typer.Typer(
    name="linkwatch",
    help="Self-hosted link-rot and archive monitor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK = 0
EXIT_BROKEN = 1
EXIT_USAGE = 2
EXIT_OFFLINE = 3

log = logging.getLogger("linkwatch")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"linkwatch {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Self-hosted link-rot and archive monitor."""


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print `linkwatch: message` on stderr and return the Exit to raise."""
    typer.echo(f"linkwatch: {message}", err=True)
    return typer.Exit(code)


def run(argv: Sequence[str]) -> int:
    """Run the CLI and map every failure to a one-line message and an exit code."""
    from service.cli import load_commands

    try:
        load_commands(argv)
        result = app(args=list(argv), prog_name="linkwatch", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        typer.echo("linkwatch: aborted", err=True)
        return 130
    except click.ClickException as exc:
        typer.echo(f"linkwatch: {exc.format_message()}", err=True)
        return EXIT_USAGE
    except LinkwatchError as exc:
        typer.echo(f"linkwatch: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("linkwatch: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the last boundary: a one-line message, details only in debug logs
        log.debug("unexpected error", exc_info=True)
        typer.echo(f"linkwatch: internal error: {type(exc).__name__}: {exc}", err=True)
        return 70
    if result == 130:  # Typer turns a KeyboardInterrupt into exit code 130, without a word
        typer.echo("linkwatch: interrupted", err=True)
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
