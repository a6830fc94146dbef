"""Initial schema: every table, index and constraint of service/store/tables.py.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Written with explicit operations (no application imports), so it keeps working however the
models evolve. Dropping a table drops its indexes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("format", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("tags", sa.String(), nullable=False),
        sa.Column("interval_hours", sa.Float(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=True),
        sa.Column("next_fetch_at", sa.DateTime(), nullable=True),
        sa.Column("etag", sa.String(), nullable=True),
        sa.Column("last_modified", sa.String(), nullable=True),
        sa.Column("content_hash", sa.String(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_articles"),
        sa.UniqueConstraint("location", name="uq_articles_location"),
    )
    op.create_index("ix_articles_next_fetch_at", "articles", ["next_fetch_at"])

    op.create_table(
        "links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("url_hash", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=True),
        sa.Column("citation_date", sa.Date(), nullable=True),
        sa.Column("health", sa.String(length=20), nullable=False),
        sa.Column("health_since", sa.DateTime(), nullable=True),
        sa.Column("dead_streak", sa.Integer(), nullable=False),
        sa.Column("dead_streak_started", sa.DateTime(), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(), nullable=True),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_final_url", sa.Text(), nullable=True),
        sa.Column("next_check_at", sa.DateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("archive_next_at", sa.DateTime(), nullable=True),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("ignored", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_links"),
        sa.UniqueConstraint("url_hash", name="uq_links_url_hash"),
    )
    op.create_index("ix_links_archive_next_at", "links", ["archive_next_at"])
    op.create_index("ix_links_health", "links", ["health"])
    op.create_index("ix_links_host", "links", ["host"])
    op.create_index("ix_links_next_check_at", "links", ["next_check_at"])

    op.create_table(
        "monitor_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_monitor_state"),
    )
    op.create_table(
        "workers",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("beat_at", sa.DateTime(), nullable=True),
        sa.Column("stopping", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_workers"),
    )
    op.create_index("ix_workers_beat_at", "workers", ["beat_at"])

    op.create_table(
        "check_daily",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("alive", sa.Integer(), nullable=False),
        sa.Column("worst_outcome", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_check_daily_link_id_links"),
        sa.PrimaryKeyConstraint("link_id", "day", name="pk_check_daily"),
    )
    op.create_table(
        "checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("final_url", sa.Text(), nullable=True),
        sa.Column("redirect_chain", sa.Text(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("warnings", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_checks_link_id_links"),
        sa.PrimaryKeyConstraint("id", name="pk_checks"),
    )
    op.create_index("ix_checks_checked_at", "checks", ["checked_at"])
    op.create_index("ix_checks_link_time", "checks", ["link_id", "checked_at"])

    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("href", sa.Text(), nullable=False),
        sa.Column("anchor_text", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("fragment", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=True),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name="fk_occurrences_article_id_articles"
        ),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_occurrences_link_id_links"),
        sa.PrimaryKeyConstraint("id", name="pk_occurrences"),
    )
    op.create_index("ix_occurrences_article_id", "occurrences", ["article_id"])
    op.create_index("ix_occurrences_article_position", "occurrences", ["article_id", "position"])
    op.create_index("ix_occurrences_link_id", "occurrences", ["link_id"])

    op.create_table(
        "save_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("job_id", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("captured_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_save_requests_link_id_links"),
        sa.PrimaryKeyConstraint("id", name="pk_save_requests"),
    )
    op.create_index("ix_save_requests_link_id", "save_requests", ["link_id"])
    op.create_index("ix_save_requests_next_attempt_at", "save_requests", ["next_attempt_at"])

    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("looked_up_at", sa.DateTime(), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.Column("archive_url", sa.Text(), nullable=True),
        sa.Column("captured_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_snapshots_link_id_links"),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
        sa.UniqueConstraint("link_id", "role", name="uq_snapshots_link_role"),
    )
    op.create_index("ix_snapshots_link_id", "snapshots", ["link_id"])

    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("from_health", sa.String(length=20), nullable=False),
        sa.Column("to_health", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["check_id"], ["checks.id"], name="fk_transitions_check_id_checks"),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"], name="fk_transitions_link_id_links"),
        sa.PrimaryKeyConstraint("id", name="pk_transitions"),
        sa.UniqueConstraint("check_id", name="uq_transitions_check_id"),
    )
    op.create_index("ix_transitions_at", "transitions", ["at"])
    op.create_index("ix_transitions_link_id", "transitions", ["link_id"])

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("event_key", sa.String(length=128), nullable=False),
        sa.Column("transition_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transition_id"], ["transitions.id"], name="fk_alerts_transition_id_transitions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("event_key", "channel", name="uq_alerts_event_channel"),
    )
    op.create_index("ix_alerts_due", "alerts", ["state", "next_attempt_at"])
    op.create_index("ix_alerts_transition_id", "alerts", ["transition_id"])

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_notifications_alert_id_alerts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    op.create_index("ix_notifications_alert_id", "notifications", ["alert_id"])
    op.create_index("ix_notifications_at", "notifications", ["at"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("alerts")
    op.drop_table("transitions")
    op.drop_table("snapshots")
    op.drop_table("save_requests")
    op.drop_table("occurrences")
    op.drop_table("checks")
    op.drop_table("check_daily")
    op.drop_table("workers")
    op.drop_table("monitor_state")
    op.drop_table("links")
    op.drop_table("articles")
