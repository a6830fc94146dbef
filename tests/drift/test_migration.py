"""Migration 0002 adds `drift_checks` exactly as the model says, and goes back cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import service.store.tables  # noqa: F401
from service.store.db import alembic_config, open_database


def test_revision_0002_follows_0001() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    rev = script.get_revision("0002")
    assert rev is not None and rev.down_revision == "0001"


def test_drift_table_up_and_down(db_url: str) -> None:
    db = open_database(db_url)
    try:
        inspector = sa.inspect(db.engine)
        assert "drift_checks" in inspector.get_table_names()
        assert {ix["name"] for ix in inspector.get_indexes("drift_checks")} == {
            "ix_drift_checks_link_time"
        }
        assert [fk["referred_table"] for fk in inspector.get_foreign_keys("drift_checks")] == [
            "links"
        ]
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = [d for d in compare_metadata(ctx, SQLModel.metadata) if "drift" in repr(d)]
        assert diff == []
        with db.engine.connect() as conn:
            command.downgrade(alembic_config(conn), "0001")
            conn.commit()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert "drift_checks" not in tables and "links" in tables
        db.upgrade()
        assert "drift_checks" in set(sa.inspect(db.engine).get_table_names())
    finally:
        db.dispose()
