"""JSON shapes of the dashboard API (pydantic models; they also document /api/docs)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


class ArchiveOut(BaseModel):
    url: str
    timestamp: datetime


class ArticleOut(BaseModel):
    id: int
    location: str
    title: str | None
    published: date | None
    source_url: str | None
    active: bool
    links: int = Field(description="link occurrences in the article")
    counts: dict[str, int] = Field(description="occurrences per health")
    broken: int = Field(description="dead + suspect occurrences")
    score: float | None = Field(description="share of checked http links alive, 0-100")


class LinkOut(BaseModel):
    id: int
    url: str
    host: str
    health: str
    since: datetime | None
    last_checked_at: datetime | None
    last_outcome: str | None
    last_status: int | None
    final_url: str | None
    next_check_at: datetime | None
    ignored: bool
    retired: bool


class CitingOut(BaseModel):
    article_id: int
    article: str
    article_title: str | None
    anchor_text: str
    href: str
    line: int


class SnapshotOut(BaseModel):
    role: str
    looked_up_at: datetime | None
    found: bool
    archive_url: str | None
    captured_at: datetime | None
    status: int | None
    error: str | None


class AvailabilityOut(BaseModel):
    days: int
    checks: int
    alive: int
    uptime: float | None


class DriftOut(BaseModel):
    """One comparison of the live page with its citation capture (content drift)."""

    checked_at: datetime | None
    verdict: str = Field(description="same | drifted | replaced, or error (no verdict)")
    drift_score: float | None = Field(description="1 - cosine: 0 unchanged, 1 unrelated")
    cosine: float | None
    containment: float | None = Field(
        description="share of the capture's 4-word shingles still on the live page"
    )
    title_similarity: float | None
    word_count_capture: int | None
    word_count_live: int | None
    capture_timestamp: datetime | None
    error: str | None


class LinkDetailOut(BaseModel):
    link: LinkOut
    cited_by: list[CitingOut]
    snapshots: list[SnapshotOut]
    availability: list[AvailabilityOut]
    drift: DriftOut | None = Field(
        None, description="the newest drift verdict (None: never compared with a verdict)"
    )
    drift_history: list[DriftOut] = Field(
        default_factory=list, description="every comparison, newest first"
    )


class CheckOut(BaseModel):
    checked_at: datetime
    outcome: str | None
    http_status: int | None
    final_url: str | None
    latency_ms: int
    error: str | None


class AddArticleIn(BaseModel):
    location: str = Field(min_length=1, max_length=4096, description="file path or article URL")
    published: date | None = None
    source_url: str | None = None
    tags: list[str] = Field(default_factory=list)


class IgnoreIn(BaseModel):
    ignored: bool = True


class HealthzOut(BaseModel):
    status: str
    database: str
