"""Alembic environment of linkwatch: the target metadata is every SQLModel table.

`service.store.db.Database.upgrade()` runs it programmatically on an open connection
(config.attributes["connection"]). Outside of that it connects to
`config.get_main_option("sqlalchemy.url")`, else to the configured database (settings,
DATABASE_URL).
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import service.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from service.store.types import UTCDateTime

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    from service.store.db import normalize_url

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from service.settings import load_settings

        url = load_settings().database.url
    return normalize_url(url).render_as_string(hide_password=False)


def _render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate plain SQLAlchemy types, so migrations never import application types."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    if kind == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=NullPool)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
