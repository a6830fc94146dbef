"""Publication sources: the table `sources` and, on `articles`, `source_id` and `lastmod`.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Written with explicit operations (no application imports), like 0001. The two new article
columns are nullable, so existing rows keep every value (articles added by hand have no
source). On SQLite the columns are added with ALTER TABLE (never a table rebuild):
recreating `articles` would mean dropping a table that `occurrences` references, which the
enforced foreign keys refuse; SQLite accepts a nullable REFERENCES column in ALTER TABLE.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK_NAME = "fk_articles_source_id_sources"


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("tags", sa.String(), nullable=False),
        sa.Column("all_links", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=True),
        sa.Column("last_scan_at", sa.DateTime(), nullable=True),
        sa.Column("next_scan_at", sa.DateTime(), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sources"),
        sa.UniqueConstraint("location", name="uq_sources_location"),
    )
    op.create_index("ix_sources_next_scan_at", "sources", ["next_scan_at"])

    if op.get_bind().dialect.name == "sqlite":
        # Alembic would emit the foreign key as a separate ALTER (unsupported by SQLite).
        op.execute(
            f"ALTER TABLE articles ADD COLUMN source_id INTEGER "
            f"CONSTRAINT {FK_NAME} REFERENCES sources (id)"
        )
        with op.batch_alter_table("articles", recreate="never") as batch:
            batch.add_column(sa.Column("lastmod", sa.Text(), nullable=True))
    else:
        with op.batch_alter_table("articles") as batch:
            batch.add_column(sa.Column("source_id", sa.Integer(), nullable=True))
            batch.add_column(sa.Column("lastmod", sa.Text(), nullable=True))
            batch.create_foreign_key(FK_NAME, "sources", ["source_id"], ["id"])
    op.create_index("ix_articles_source_id", "articles", ["source_id"])


def downgrade() -> None:
    op.drop_index("ix_articles_source_id", table_name="articles")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_drop_article_columns()
    else:
        with op.batch_alter_table("articles") as batch:
            batch.drop_constraint(FK_NAME, type_="foreignkey")
            batch.drop_column("lastmod")
            batch.drop_column("source_id")
    op.drop_index("ix_sources_next_scan_at", table_name="sources")
    op.drop_table("sources")


def _sqlite_drop_article_columns() -> None:
    op.execute("ALTER TABLE articles DROP COLUMN lastmod")
    # SQLite refuses DROP COLUMN on a column with a REFERENCES clause, and rebuilding the
    # table would drop a table `occurrences` references. So the clause is removed from the
    # stored schema text first (SQLite's documented writable_schema procedure), then the
    # column is dropped in place. The clause is spelled inline when this migration's upgrade
    # added the column, as a table constraint when the table came from the metadata
    # (`create_all` on an empty database, service/store/db.py).
    op.execute("UPDATE articles SET source_id = NULL")
    version = op.get_bind().exec_driver_sql("PRAGMA schema_version").scalar_one()
    op.execute("PRAGMA writable_schema = ON")
    for clause in (
        f" CONSTRAINT {FK_NAME} REFERENCES sources (id)",
        f", \n\tCONSTRAINT {FK_NAME} FOREIGN KEY(source_id) REFERENCES sources (id)",
    ):
        op.get_bind().exec_driver_sql(
            "UPDATE sqlite_master SET sql = replace(sql, ?, '') "
            "WHERE type = 'table' AND name = 'articles'",
            (clause,),
        )
    op.execute(f"PRAGMA schema_version = {int(version) + 1}")
    op.execute("PRAGMA writable_schema = OFF")
    op.execute("ALTER TABLE articles DROP COLUMN source_id")
