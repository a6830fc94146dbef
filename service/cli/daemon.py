"""`linkwatch run`: the daemon, in the foreground (SIGTERM/SIGINT stop it gracefully)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from service.cli.app import app, fail
from service.cli.common import settings_from_cli

CONFIG_OPTION = typer.Option(
    None, "--config", help="Configuration file (default config/linkwatch.toml)."
)


@app.command("run")
def run_daemon(
    once: bool = typer.Option(
        False, "--once", help="One sweep of everything due (and each job once), then exit."
    ),
    log_format: str | None = typer.Option(
        None, "--log-format", help="text (default) or json (one JSON object per line)."
    ),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Run the monitor: check due links on schedule, record history, run periodic jobs.

    Exit codes: 0 stopped cleanly, 2 bad configuration or another daemon already owns the
    SQLite database, 4 the database cannot be used.
    """
    from service.monitor.daemon import serve
    from service.monitor.jobs import default_jobs
    from service.monitor.logs import configure_logging

    if log_format not in (None, "text", "json"):
        raise fail(f"--log-format: {log_format!r} is not one of text, json")
    settings = settings_from_cli(config)
    configure_logging(log_format or settings.log_format, settings.log_level)
    code = asyncio.run(serve(settings, once=once, jobs=default_jobs(settings)))
    raise typer.Exit(code)
