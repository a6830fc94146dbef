"""Queries of the watch list: per-article summaries (`linkwatch list`) and refresh bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from service.model import Health
from service.store.tables import ArticleRow, LinkRow, OccurrenceRow

LINKS: sa.Table = LinkRow.__table__  # type: ignore[attr-defined]
ARTICLES: sa.Table = ArticleRow.__table__  # type: ignore[attr-defined]
OCCURRENCES: sa.Table = OccurrenceRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ArticleSummary:
    id: int
    location: str
    title: str | None
    tags: tuple[str, ...]
    interval_hours: float | None
    links: int  # distinct checkable links cited
    dead: int
    suspect: int
    unchecked: int
    last_checked_at: datetime | None
    fetched_at: datetime | None


def article_summaries(session: Session, *, include_inactive: bool = False) -> list[ArticleSummary]:
    """One summary per article under watch, in the order added."""
    arts, occ, links = ARTICLES.c, OCCURRENCES.c, LINKS.c
    cited = (
        sa.select(occ.article_id.label("article_id"), occ.link_id.label("link_id"))
        .where(occ.active.is_(True), occ.link_id.is_not(None))
        .distinct()
        .subquery()
    )

    def count_health(health: Health) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((links.health == health.value, 1), else_=0)), 0)

    stmt = (
        sa.select(
            arts.id,
            arts.location,
            arts.title,
            arts.tags,
            arts.interval_hours,
            arts.fetched_at,
            sa.func.count(links.id).label("links"),
            count_health(Health.DEAD).label("dead"),
            count_health(Health.SUSPECT).label("suspect"),
            count_health(Health.UNCHECKED).label("unchecked"),
            sa.func.max(links.last_checked_at).label("last_checked_at"),
        )
        .select_from(ARTICLES)
        .outerjoin(cited, cited.c.article_id == arts.id)
        .outerjoin(LINKS, links.id == cited.c.link_id)
        .group_by(
            arts.id, arts.location, arts.title, arts.tags, arts.interval_hours, arts.fetched_at
        )
        .order_by(arts.id)
    )
    if not include_inactive:
        stmt = stmt.where(arts.active.is_(True))
    out = []
    for r in session.execute(stmt).all():
        last = r.last_checked_at
        if isinstance(last, str):  # SQLite: MAX() over a typed column comes back as text
            last = datetime.fromisoformat(last)
        out.append(
            ArticleSummary(
                id=r.id,
                location=r.location,
                title=r.title,
                tags=tuple(t for t in (r.tags or "").split(",") if t),
                interval_hours=r.interval_hours,
                links=int(r.links),
                dead=int(r.dead),
                suspect=int(r.suspect),
                unchecked=int(r.unchecked),
                last_checked_at=_aware(last),
                fetched_at=r.fetched_at,
            )
        )
    return out


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def mark_fetched(
    session: Session,
    article_id: int,
    now: datetime,
    *,
    next_fetch_at: datetime | None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> None:
    """Record a (re)read of an article: when, when next, and its validators for conditional GET."""
    session.execute(
        sa.update(ARTICLES)
        .where(ARTICLES.c.id == article_id)
        .values(fetched_at=now, next_fetch_at=next_fetch_at, etag=etag, last_modified=last_modified)
    )


def set_article_options(
    session: Session,
    article_id: int,
    *,
    tags: Sequence[str] | None = None,
    interval_hours: float | None = None,
    active: bool | None = None,
) -> None:
    """Update the watch options of an article without re-reading it (`tags` None: keep)."""
    values: dict[str, object] = {"interval_hours": interval_hours}
    if tags is not None:
        values["tags"] = ",".join(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if active is not None:
        values["active"] = active
    session.execute(sa.update(ARTICLES).where(ARTICLES.c.id == article_id).values(**values))
