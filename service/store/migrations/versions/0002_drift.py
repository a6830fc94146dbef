"""Content drift: the table `drift_checks` (one comparison of a live page with its capture).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Written with explicit operations (no application imports), like 0001. Due-ness of a drift
check is computed from this table (and `transitions`), so `links` is unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "drift_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("capture_timestamp", sa.DateTime(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("cosine", sa.Float(), nullable=True),
        sa.Column("containment", sa.Float(), nullable=True),
        sa.Column("title_similarity", sa.Float(), nullable=True),
        sa.Column("word_count_capture", sa.Integer(), nullable=True),
        sa.Column("word_count_live", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_drift_checks_link_id_links"),
        sa.PrimaryKeyConstraint("id", name="pk_drift_checks"),
    )
    op.create_index("ix_drift_checks_link_time", "drift_checks", ["link_id", "checked_at"])


def downgrade() -> None:
    op.drop_table("drift_checks")
