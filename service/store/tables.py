"""SQLModel tables: the whole persistent state of linkwatch.

Schema changes go through Alembic migrations (service/store/migrations) only. Enum values are
stored as their string values (model.py); datetimes as naive UTC (store.types.UTCDateTime).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.store.types import UTCDateTime

# Every constraint gets a deterministic name (Alembic needs names to alter or drop constraints,
# notably on SQLite where unnamed constraints cannot be targeted by a batch migration).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _dt(index: bool = False, nullable: bool = True) -> datetime | None:
    return Field(default=None, sa_type=UTCDateTime, index=index, nullable=nullable)  # type: ignore[no-any-return]


class ArticleRow(SQLModel, table=True):
    """An article under watch (a file path or a URL)."""

    __tablename__ = "articles"

    id: int | None = Field(default=None, primary_key=True)
    location: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    format: str = "markdown"
    title: str | None = Field(default=None, sa_column=Column(Text))
    published: date | None = None
    source_url: str | None = Field(default=None, sa_column=Column(Text))
    tags: str = ""  # comma-separated
    interval_hours: float | None = None  # per-article override of the alive interval
    added_at: datetime | None = _dt()
    fetched_at: datetime | None = _dt()  # last time its text was (re)read
    next_fetch_at: datetime | None = _dt(index=True)
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    active: bool = True
    # Publication sources (migration 0003): the source that discovered it (None: added by hand)
    # and the `lastmod` its listing gave when it was last scheduled for a fetch.
    source_id: int | None = Field(default=None, foreign_key="sources.id", index=True)
    lastmod: str | None = Field(default=None, sa_column=Column(Text))


class LinkRow(SQLModel, table=True):
    """One normalised URL, shared by every article that cites it; holds its health and schedule."""

    __tablename__ = "links"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(Text, nullable=False))
    url_hash: str = Field(
        unique=True, max_length=64
    )  # sha256 hex of url (long URLs can't be indexed)
    host: str = Field(index=True, max_length=255)
    first_seen_at: datetime | None = _dt()
    citation_date: date | None = (
        None  # earliest published date of a citing article, else first seen
    )
    health: str = Field(default="unchecked", index=True, max_length=20)
    health_since: datetime | None = _dt()
    dead_streak: int = 0
    dead_streak_started: datetime | None = _dt()
    last_checked_at: datetime | None = _dt()
    last_outcome: str | None = Field(default=None, max_length=32)
    last_status: int | None = None
    last_final_url: str | None = Field(default=None, sa_column=Column(Text))
    next_check_at: datetime | None = _dt(index=True)
    lease_owner: str | None = Field(default=None, max_length=128)
    lease_expires_at: datetime | None = _dt()
    archive_next_at: datetime | None = _dt(index=True)  # when to look up snapshots again
    retired: bool = False  # no active occurrence cites it any more (history kept)
    ignored: bool = False  # a user marked it "not broken"


class OccurrenceRow(SQLModel, table=True):
    """One hyperlink as written in one article (placeholders too: they have no link row)."""

    __tablename__ = "occurrences"
    __table_args__ = (Index("ix_occurrences_article_position", "article_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="articles.id", index=True)
    link_id: int | None = Field(default=None, foreign_key="links.id", index=True)
    position: int = 0
    href: str = Field(sa_column=Column(Text, nullable=False))
    anchor_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    line: int = 0
    kind: str = Field(max_length=20)
    fragment: str | None = Field(default=None, sa_column=Column(Text))
    active: bool = True
    first_seen_at: datetime | None = _dt()
    retired_at: datetime | None = _dt()


class CheckRow(SQLModel, table=True):
    """One check of one link: the history row."""

    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_link_time", "link_id", "checked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="links.id")
    checked_at: datetime | None = _dt(index=True, nullable=False)
    outcome: str = Field(max_length=32)
    http_status: int | None = None
    final_url: str | None = Field(default=None, sa_column=Column(Text))
    redirect_chain: str = Field(
        default="[]", sa_column=Column(Text, nullable=False)
    )  # JSON list of hops
    latency_ms: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    warnings: str | None = Field(default=None, sa_column=Column(Text))  # JSON list
    worker: str | None = Field(default=None, max_length=128)


class CheckDailyRow(SQLModel, table=True):
    """Raw checks older than the retention period, rolled up per link per day."""

    __tablename__ = "check_daily"

    link_id: int = Field(foreign_key="links.id", primary_key=True)
    day: date = Field(primary_key=True)
    checks: int = 0
    alive: int = 0
    worst_outcome: str = Field(max_length=32)


class SnapshotRow(SQLModel, table=True):
    """The result of the latest archive lookup of a link, per role ("citation" or "latest")."""

    __tablename__ = "snapshots"
    __table_args__ = (UniqueConstraint("link_id", "role", name="uq_snapshots_link_role"),)

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="links.id", index=True)
    role: str = Field(max_length=16)  # "citation" | "latest"
    looked_up_at: datetime | None = _dt(nullable=False)
    found: bool = False  # False with error None means "never archived" (a stored answer)
    archive_url: str | None = Field(default=None, sa_column=Column(Text))
    captured_at: datetime | None = _dt()
    status: int | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))


class SaveRequestRow(SQLModel, table=True):
    """A Save Page Now 2 submission of a link and its fate."""

    __tablename__ = "save_requests"

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="links.id", index=True)
    submitted_at: datetime | None = _dt()
    job_id: str | None = Field(default=None, max_length=128)
    state: str = Field(
        default="queued", max_length=20
    )  # queued|pending|success|error|not_archivable
    error: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0
    next_attempt_at: datetime | None = _dt(index=True)
    captured_at: datetime | None = _dt()


class TransitionRow(SQLModel, table=True):
    """A change of a link's health; written in the same transaction as the check that caused it."""

    __tablename__ = "transitions"

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="links.id", index=True)
    check_id: int | None = Field(default=None, foreign_key="checks.id", unique=True)
    at: datetime | None = _dt(index=True, nullable=False)
    from_health: str = Field(max_length=20)
    to_health: str = Field(max_length=20)
    outcome: str | None = Field(default=None, max_length=32)


class AlertRow(SQLModel, table=True):
    """Outbox: one event to deliver to one channel; claimed with a conditional UPDATE."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("event_key", "channel", name="uq_alerts_event_channel"),
        Index("ix_alerts_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event: str = Field(max_length=32)  # broken|recovered|moved|monitor_offline|monitor_online|...
    event_key: str = Field(max_length=128)  # e.g. "transition:42", unique per channel
    transition_id: int | None = Field(default=None, foreign_key="transitions.id", index=True)
    channel: str = Field(max_length=128)  # the channel's configured name, never its secret URL
    created_at: datetime | None = _dt(nullable=False)
    state: str = Field(default="pending", max_length=16)  # pending|sending|delivered|failed
    attempts: int = 0
    next_attempt_at: datetime | None = _dt()
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_until: datetime | None = _dt()
    delivered_at: datetime | None = _dt()
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON


class NotificationRow(SQLModel, table=True):
    """Every delivery attempt of an alert: channel, time, result, error."""

    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alerts.id", index=True)
    channel: str = Field(max_length=128)
    at: datetime | None = _dt(index=True, nullable=False)
    ok: bool = False
    error: str | None = Field(default=None, sa_column=Column(Text))


class WorkerRow(SQLModel, table=True):
    """A running daemon: its heartbeat (linkwatch status reads it)."""

    __tablename__ = "workers"

    name: str = Field(primary_key=True, max_length=128)
    hostname: str = Field(default="", max_length=255)
    pid: int = 0
    started_at: datetime | None = _dt()
    beat_at: datetime | None = _dt(index=True)
    stopping: bool = False


class MonitorStateRow(SQLModel, table=True):
    """Small named facts of the monitor itself (e.g. when the canaries started failing)."""

    __tablename__ = "monitor_state"

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_at: datetime | None = _dt()


class DriftRow(SQLModel, table=True):
    """One comparison of a live page with its citation capture (content drift, issue 11).

    verdict: same | drifted | replaced, or error (no verdict: the capture or the live page could
    not be fetched or read; retried later). The newest row of a link also serves as the claim of
    a running comparison (verdict error, error "in progress") so replicas never compare twice.
    """

    __tablename__ = "drift_checks"
    __table_args__ = (Index("ix_drift_checks_link_time", "link_id", "checked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="links.id")
    checked_at: datetime | None = _dt(nullable=False)
    capture_timestamp: datetime | None = _dt()  # the citation capture compared with
    verdict: str = Field(max_length=16)
    cosine: float | None = None  # TF-IDF cosine similarity of the main texts
    containment: float | None = None  # share of the capture's 4-word shingles in the live page
    title_similarity: float | None = None
    word_count_capture: int | None = None
    word_count_live: int | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))


class SourceRow(SQLModel, table=True):
    """A publication source (migration 0003): a sitemap or sitemap index, an RSS/Atom feed, or
    a folder of Markdown/HTML files. Its articles carry its id (`ArticleRow.source_id`)."""

    __tablename__ = "sources"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # sitemap | feed | dir
    location: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    tags: str = ""  # comma-separated, given to its articles
    all_links: bool = False  # keep the navigation/footer links of fetched pages
    added_at: datetime | None = _dt()
    last_scan_at: datetime | None = _dt()
    next_scan_at: datetime | None = _dt(index=True)
    etag: str | None = Field(default=None, sa_column=Column(Text))
    last_modified: str | None = Field(default=None, sa_column=Column(Text))
    active: bool = True


ALL_TABLES = (
    ArticleRow,
    LinkRow,
    OccurrenceRow,
    CheckRow,
    CheckDailyRow,
    SnapshotRow,
    SaveRequestRow,
    TransitionRow,
    AlertRow,
    NotificationRow,
    WorkerRow,
    MonitorStateRow,
    DriftRow,
    SourceRow,
)
