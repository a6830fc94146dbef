"""`linkwatch config check|show|reference`: validate, display and document the configuration."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from service.cli.app import EXIT_USAGE, app, fail
from service.settings import DEFAULT_CONFIG, ConfigError, load_settings

config_app = typer.Typer(
    name="config",
    help="Validate and display the configuration.",
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")


_FILE = typer.Argument(
    None, help="The configuration file (default: $LINKWATCH_CONFIG, else config/linkwatch.toml)."
)
_WITH_ENV = typer.Option(
    False, "--env", help="Apply this shell's LINKWATCH_* and DATABASE_URL, as `run` would."
)
_JSON = typer.Option(False, "--json", help="Print JSON instead of TOML.")


def _default_file() -> Path:
    env = os.environ.get("LINKWATCH_CONFIG")
    return Path(env) if env is not None else DEFAULT_CONFIG


@config_app.command("check")
def check(file: Path | None = _FILE, with_env: bool = _WITH_ENV) -> None:
    """Validate a configuration file: every error with its key and line; exit 2 when invalid."""
    from service.config_tools import check_config

    path = file if file is not None else _default_file()
    problems = check_config(path, env=os.environ if with_env else None)
    if not problems:
        typer.echo(f"{path}: ok")
        return
    for problem in problems:
        typer.echo(problem.render(path), err=True)
    count = len(problems)
    raise fail(f"{path}: {count} error{'s' if count != 1 else ''}", EXIT_USAGE)


@config_app.command("show")
def show(file: Path | None = _FILE, as_json: bool = _JSON) -> None:
    """Print the effective configuration (file + environment), secrets masked."""
    from service.config_tools import effective_config, render_toml

    try:
        settings = load_settings(file)
    except ConfigError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        raise fail("invalid configuration (see `linkwatch config check`)", EXIT_USAGE) from exc
    tree = effective_config(settings)
    if as_json:
        typer.echo(json.dumps(tree, indent=2, default=str))
    else:
        typer.echo(render_toml(tree).rstrip("\n"))


@config_app.command("reference")
def reference() -> None:
    """Print every configuration key with its type, default and environment variable (Markdown)."""
    from service.config_tools import reference_markdown

    typer.echo(reference_markdown().rstrip("\n"))
