"""Read queries of the dashboard that the report model does not cover: one link's details.

Each function takes a session and returns plain dataclasses; a fixed number of queries each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from service.model import Health, Outcome
from service.store.tables import ALL_TABLES

LINKS = ALL_TABLES[0].metadata.tables["links"]
OCCURRENCES = ALL_TABLES[0].metadata.tables["occurrences"]
ARTICLES = ALL_TABLES[0].metadata.tables["articles"]
CHECKS = ALL_TABLES[0].metadata.tables["checks"]
SNAPSHOTS = ALL_TABLES[0].metadata.tables["snapshots"]
TRANSITIONS = ALL_TABLES[0].metadata.tables["transitions"]


@dataclass(frozen=True, slots=True)
class LinkRowView:
    id: int
    url: str
    host: str
    health: Health
    since: datetime | None
    last_checked_at: datetime | None
    last_outcome: Outcome | None
    last_status: int | None
    last_final_url: str | None
    next_check_at: datetime | None
    citation_date: Any
    ignored: bool
    retired: bool


@dataclass(frozen=True, slots=True)
class CitingOccurrence:
    article_id: int
    article_location: str
    article_title: str | None
    anchor_text: str
    href: str
    line: int


@dataclass(frozen=True, slots=True)
class CheckView:
    checked_at: datetime
    outcome: Outcome | None
    http_status: int | None
    final_url: str | None
    latency_ms: int
    error: str | None


@dataclass(frozen=True, slots=True)
class SnapshotView:
    role: str
    looked_up_at: datetime | None
    found: bool
    archive_url: str | None
    captured_at: datetime | None
    status: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class TransitionView:
    at: datetime
    from_health: str
    to_health: str
    outcome: str | None


def _outcome(value: str | None) -> Outcome | None:
    try:
        return Outcome(value) if value else None
    except ValueError:
        return None


def _health(value: str | None) -> Health:
    try:
        return Health(value) if value else Health.UNCHECKED
    except ValueError:
        return Health.UNKNOWN


def _view(row: Any) -> LinkRowView:
    return LinkRowView(
        id=row.id,
        url=row.url,
        host=row.host,
        health=_health(row.health),
        since=row.health_since,
        last_checked_at=row.last_checked_at,
        last_outcome=_outcome(row.last_outcome),
        last_status=row.last_status,
        last_final_url=row.last_final_url,
        next_check_at=row.next_check_at,
        citation_date=row.citation_date,
        ignored=bool(row.ignored),
        retired=bool(row.retired),
    )


def get_link(session: Session, link_id: int) -> LinkRowView | None:
    row = session.connection().execute(sa.select(LINKS).where(LINKS.c.id == link_id)).first()
    return _view(row) if row is not None else None


def list_links(
    session: Session,
    *,
    health: set[Health] | None = None,
    article_id: int | None = None,
    include_retired: bool = False,
    limit: int = 1000,
    offset: int = 0,
) -> list[LinkRowView]:
    """Links (not occurrences), worst first, optionally only some health states / one article."""
    query = sa.select(LINKS)
    if health:
        query = query.where(LINKS.c.health.in_(sorted(h.value for h in health)))
    if not include_retired:
        query = query.where(LINKS.c.retired.is_(False))
    if article_id is not None:
        query = query.where(
            LINKS.c.id.in_(
                sa.select(OCCURRENCES.c.link_id).where(
                    OCCURRENCES.c.article_id == article_id, OCCURRENCES.c.active.is_(True)
                )
            )
        )
    rank = sa.case(
        {"dead": 0, "suspect": 1, "unknown": 2, "unchecked": 3, "alive": 4},
        value=LINKS.c.health,
        else_=5,
    )
    query = query.order_by(rank, LINKS.c.id).limit(limit).offset(offset)
    return [_view(row) for row in session.connection().execute(query)]


def citing(session: Session, link_id: int) -> list[CitingOccurrence]:
    query = (
        sa.select(
            OCCURRENCES.c.article_id,
            ARTICLES.c.location,
            ARTICLES.c.title,
            OCCURRENCES.c.anchor_text,
            OCCURRENCES.c.href,
            OCCURRENCES.c.line,
        )
        .select_from(OCCURRENCES.join(ARTICLES, ARTICLES.c.id == OCCURRENCES.c.article_id))
        .where(OCCURRENCES.c.link_id == link_id, OCCURRENCES.c.active.is_(True))
        .order_by(OCCURRENCES.c.article_id, OCCURRENCES.c.position)
    )
    return [CitingOccurrence(*row) for row in session.connection().execute(query)]


def history(session: Session, link_id: int, *, limit: int = 200) -> list[CheckView]:
    """The newest `limit` checks of a link, newest first."""
    query = (
        sa.select(
            CHECKS.c.checked_at,
            CHECKS.c.outcome,
            CHECKS.c.http_status,
            CHECKS.c.final_url,
            CHECKS.c.latency_ms,
            CHECKS.c.error,
        )
        .where(CHECKS.c.link_id == link_id)
        .order_by(CHECKS.c.checked_at.desc(), CHECKS.c.id.desc())
        .limit(limit)
    )
    return [
        CheckView(
            r.checked_at, _outcome(r.outcome), r.http_status, r.final_url, r.latency_ms, r.error
        )
        for r in session.connection().execute(query)
    ]


def snapshots(session: Session, link_id: int) -> list[SnapshotView]:
    query = (
        sa.select(
            SNAPSHOTS.c.role,
            SNAPSHOTS.c.looked_up_at,
            SNAPSHOTS.c.found,
            SNAPSHOTS.c.archive_url,
            SNAPSHOTS.c.captured_at,
            SNAPSHOTS.c.status,
            SNAPSHOTS.c.error,
        )
        .where(SNAPSHOTS.c.link_id == link_id)
        .order_by(SNAPSHOTS.c.role)
    )
    return [SnapshotView(*row) for row in session.connection().execute(query)]


def transitions(session: Session, link_id: int, *, limit: int = 100) -> list[TransitionView]:
    query = (
        sa.select(
            TRANSITIONS.c.at,
            TRANSITIONS.c.from_health,
            TRANSITIONS.c.to_health,
            TRANSITIONS.c.outcome,
        )
        .where(TRANSITIONS.c.link_id == link_id)
        .order_by(TRANSITIONS.c.at.desc(), TRANSITIONS.c.id.desc())
        .limit(limit)
    )
    return [TransitionView(*row) for row in session.connection().execute(query)]
