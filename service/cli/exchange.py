"""`linkwatch export` and `linkwatch import`: the whole history as JSON lines."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from service.cli.app import app
from service.cli.common import parse_date, settings_from_cli
from service.errors import InputError
from service.store.db import open_database

_CONFIG = typer.Option(
    None, "--config", help="Configuration file (default: config/linkwatch.toml)."
)
_DATABASE = typer.Option(
    None, "--database", help="Database URL (default: database.url of the configuration)."
)
_SINCE = typer.Option(
    None, "--since", help="Only history from this date (YYYY-MM-DD) on; articles and links whole."
)
_OUTPUT = typer.Option(None, "--output", "-o", help="Write here instead of standard output.")
_SOURCE = typer.Argument("-", help="An export file, or - for standard input.")


def _url(config: Path | None, database: str | None) -> str:
    return database if database else settings_from_cli(config).database.url


@app.command("export")
def export(
    since: str | None = _SINCE,
    output: Path | None = _OUTPUT,
    config: Path | None = _CONFIG,
    database: str | None = _DATABASE,
) -> None:
    """Stream every article, link, check, snapshot, transition and alert as JSON lines."""
    from service.store.exchange import export_jsonl

    start = None
    if since:
        start = datetime.combine(parse_date(since, "--since"), datetime.min.time(), UTC)
    db = open_database(_url(config, database))
    try:
        if output is None:
            counts = export_jsonl(db, sys.stdout, start)
        else:
            with output.open("w", encoding="utf-8") as fh:
                counts = export_jsonl(db, fh, start)
    finally:
        db.dispose()
    typer.echo(f"exported {sum(counts.values())} rows from {db.display_url}", err=True)


@app.command("import")
def import_(
    source: str = _SOURCE,
    config: Path | None = _CONFIG,
    database: str | None = _DATABASE,
) -> None:
    """Load an export into an EMPTY database (SQLite or PostgreSQL), keeping every id."""
    from service.store.exchange import import_jsonl

    db = open_database(_url(config, database))
    try:
        if source == "-":
            counts = import_jsonl(db, sys.stdin, "<stdin>")
        else:
            try:
                fh = Path(source).open(encoding="utf-8")  # noqa: SIM115 (closed below)
            except OSError as exc:
                raise InputError(f"{source}: cannot read: {exc.strerror or exc}") from exc
            with fh:
                counts = import_jsonl(db, fh, source)
    finally:
        db.dispose()
    summary = ", ".join(f"{name} {count}" for name, count in counts.items() if count)
    total = sum(counts.values())
    typer.echo(f"imported {total} rows into {db.display_url}" + (f": {summary}" if summary else ""))
