"""`linkwatch db upgrade|current|revision`: the database schema and its migrations."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from service.cli.app import app
from service.cli.common import settings_from_cli
from service.errors import UsageError
from service.store.db import MIGRATIONS_DIR, Database, head_revision

db_app = typer.Typer(
    name="db",
    help="The database schema: apply migrations, show the revision.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")

_CONFIG = typer.Option(
    None, "--config", help="Configuration file (default: config/linkwatch.toml)."
)


def _database(config: Path | None) -> Database:
    return Database(settings_from_cli(config).database.url)


def _describe(revision: str | None, head: str | None) -> str:
    if revision is None:
        return "none (empty database; run `linkwatch db upgrade`)"
    if revision == head:
        return f"{revision} (head)"
    return f"{revision} (head is {head}; run `linkwatch db upgrade`)"


def _status(db: Database) -> str:
    revision = _describe(db.current_revision(), head_revision())
    return f"{db.display_url}: schema at revision {revision}"


@db_app.command("upgrade")
def upgrade(config: Path | None = _CONFIG) -> None:
    """Apply every pending migration (also done automatically on first use); print the revision."""
    db = _database(config)
    try:
        db.upgrade()
        typer.echo(_status(db))
    finally:
        db.dispose()


@db_app.command("current")
def current(config: Path | None = _CONFIG) -> None:
    """Print the schema revision the database is at."""
    db = _database(config)
    try:
        typer.echo(_status(db))
    finally:
        db.dispose()


@db_app.command("revision", hidden=True)
def revision(
    message: str = typer.Argument(..., help="What the migration does, e.g. 'add links.notes'."),
    autogenerate: bool = typer.Option(
        False, "--autogenerate", help="Diff the tables against a database at head (DATABASE_URL)."
    ),
    config: Path | None = _CONFIG,
) -> None:
    """(Developers) Write service/store/migrations/versions/NNNN_<slug>.py for a schema change."""
    from alembic import command

    from service.store.db import alembic_config

    existing = sorted(
        p.name for p in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    )
    number = int(existing[-1][:4]) + 1 if existing else 1
    rev_id = f"{number:04d}"
    if not re.search(r"\w", message):
        raise UsageError("revision: the message must contain a word")
    db = _database(config)
    try:
        if autogenerate:
            db.upgrade()
        with db.engine.connect() as conn:
            script = command.revision(
                alembic_config(conn), message, autogenerate=autogenerate, rev_id=rev_id
            )
            conn.commit()
    finally:
        db.dispose()
    paths = script if isinstance(script, list) else [script]
    for item in paths:
        if item is not None:
            typer.echo(item.path)
