"""Claiming due links with leases, so any number of daemons share the work without overlap.

A claim sets `lease_owner` and `lease_expires_at` on a batch of due links (`next_check_at` in
the past, not retired, not ignored, checkable, lease free or expired), most overdue first.
On PostgreSQL the batch is selected `FOR UPDATE SKIP LOCKED` in one short transaction, so
concurrent replicas never pick the same row and never wait for each other. On SQLite one
daemon owns the file (service.monitor.lock), and the same statement runs without the
row locks. A crashed daemon's leases simply expire; the next claim takes them again.

The result of a check is written only while its lease is still held (`lock_if_owned`), in
the same transaction that ends the lease (`finish`), so a link is recorded once per claim.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from service.model import Health, LinkState
from service.store.tables import ArticleRow, LinkRow, OccurrenceRow

# pg_advisory_xact_lock key serialising edits of the watch list (article syncs) between replicas.
WATCH_LIST_LOCK_KEY = int.from_bytes(b"LWwatchl", "big") & 0x7FFF_FFFF_FFFF_FFFF

_SKIP_HEALTH = (Health.NOT_APPLICABLE.value,)

LINKS: sa.Table = LinkRow.__table__  # type: ignore[attr-defined]
ARTICLES: sa.Table = ArticleRow.__table__  # type: ignore[attr-defined]
OCCURRENCES: sa.Table = OccurrenceRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ClaimedLink:
    """A link this worker holds a lease on, with what the daemon needs to check and reschedule."""

    id: int
    url: str
    host: str
    state: LinkState
    due_at: datetime | None
    citation_date: date | None = None
    interval_hours: float | None = None  # the shortest per-article interval among its citers
    fragments: tuple[str, ...] = ()  # "#anchor"s its active occurrences cite (with_fragments)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def due_condition(now: datetime) -> sa.ColumnElement[bool]:
    """Links due at `now` whose lease is free: what a claim may take."""
    links = LINKS.c
    return sa.and_(
        sa.or_(links.next_check_at.is_(None), links.next_check_at <= now),
        links.retired.is_(False),
        links.ignored.is_(False),
        links.health.not_in(_SKIP_HEALTH),
        sa.or_(links.lease_expires_at.is_(None), links.lease_expires_at <= now),
    )


def claim_due(
    session: Session,
    owner: str,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    with_fragments: bool = False,
) -> list[ClaimedLink]:
    """Lease up to `limit` due links to `owner` until `now + lease`, most overdue first.

    With `with_fragments`, each claimed link also carries the `#anchor`s its active
    occurrences cite (checks.check_fragments). Commit the session right after: the lease is
    what keeps other replicas away.
    """
    if limit <= 0:
        return []
    links = LINKS.c
    picked = (
        sa.select(links.id)
        .where(due_condition(now))
        .order_by(links.next_check_at.asc().nulls_first(), links.id)
        .limit(limit)
    )
    if _dialect(session) == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    # A CTE (not `id IN (subquery)`): PostgreSQL runs it exactly once, so LIMIT holds.
    due = picked.cte("due")
    stmt = (
        sa.update(LINKS)
        .where(links.id == due.c.id)
        .values(lease_owner=owner, lease_expires_at=now + lease)
        .returning(
            links.id,
            links.url,
            links.host,
            links.health,
            links.health_since,
            links.dead_streak,
            links.dead_streak_started,
            links.next_check_at,
            links.citation_date,
        )
    )
    rows = session.execute(stmt).all()
    intervals = article_intervals(session, [r.id for r in rows])
    fragments = cited_fragments(session, [r.id for r in rows]) if with_fragments else {}
    claimed = [
        ClaimedLink(
            id=r.id,
            url=r.url,
            host=r.host,
            state=LinkState(
                health=Health(r.health),
                since=r.health_since,
                dead_streak=r.dead_streak or 0,
                dead_streak_started=r.dead_streak_started,
            ),
            due_at=r.next_check_at,
            citation_date=r.citation_date,
            interval_hours=intervals.get(r.id),
            fragments=fragments.get(r.id, ()),
        )
        for r in rows
    ]
    claimed.sort(key=lambda c: (c.due_at is not None, c.due_at or now, c.id))
    return claimed


def cited_fragments(session: Session, link_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """Per link, the distinct `#anchor`s its active occurrences cite, sorted."""
    if not link_ids:
        return {}
    occ = OCCURRENCES.c
    rows = session.execute(
        sa.select(occ.link_id, occ.fragment)
        .where(occ.link_id.in_(link_ids), occ.active.is_(True), occ.fragment.is_not(None))
        .distinct()
    ).all()
    out: dict[int, set[str]] = {}
    for link_id, fragment in rows:
        if fragment:
            out.setdefault(link_id, set()).add(fragment)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def article_intervals(session: Session, link_ids: Sequence[int]) -> dict[int, float]:
    """Per link, the shortest `interval_hours` among the active articles that cite it (if any)."""
    if not link_ids:
        return {}
    occ, arts = OCCURRENCES.c, ARTICLES.c
    stmt = (
        sa.select(occ.link_id, sa.func.min(arts.interval_hours))
        .join_from(OCCURRENCES, ARTICLES, arts.id == occ.article_id)
        .where(
            occ.link_id.in_(list(link_ids)),
            occ.active.is_(True),
            arts.active.is_(True),
            arts.interval_hours.is_not(None),
        )
        .group_by(occ.link_id)
    )
    return {int(link_id): float(hours) for link_id, hours in session.execute(stmt).all()}


def lock_if_owned(session: Session, link_id: int, owner: str) -> LinkState | None:
    """The link's stored state when `owner` still holds its lease, else None.

    On PostgreSQL the row stays locked until the transaction ends, so nothing can take the
    link between this and the write of its check.
    """
    links = LINKS.c
    stmt = sa.select(
        links.lease_owner,
        links.health,
        links.health_since,
        links.dead_streak,
        links.dead_streak_started,
    ).where(links.id == link_id)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).one_or_none()
    if row is None or row.lease_owner != owner:
        return None
    return LinkState(
        health=Health(row.health),
        since=row.health_since,
        dead_streak=row.dead_streak or 0,
        dead_streak_started=row.dead_streak_started,
    )


def lock_many_if_owned(
    session: Session, link_ids: Sequence[int], owner: str
) -> dict[int, LinkState]:
    """`lock_if_owned` for many links in one query (chunked): {link_id: state} for the links
    whose lease `owner` still holds; they stay locked (PostgreSQL) until the transaction ends.
    Rows are locked in id order, as `repo.record_checks` does, so recorders never deadlock."""
    links = LINKS.c
    ids = sorted(set(link_ids))
    out: dict[int, LinkState] = {}
    for start in range(0, len(ids), 500):
        stmt = (
            sa.select(
                links.id,
                links.lease_owner,
                links.health,
                links.health_since,
                links.dead_streak,
                links.dead_streak_started,
            )
            .where(links.id.in_(ids[start : start + 500]))
            .order_by(links.id)
        )
        if _dialect(session) == "postgresql":
            stmt = stmt.with_for_update()
        for row in session.execute(stmt):
            if row.lease_owner == owner:
                out[row.id] = LinkState(
                    health=Health(row.health),
                    since=row.health_since,
                    dead_streak=row.dead_streak or 0,
                    dead_streak_started=row.dead_streak_started,
                )
    return out


def finish(session: Session, link_id: int, owner: str, next_check_at: datetime) -> bool:
    """Set the link's next check and end `owner`'s lease on it. False if the lease was lost."""
    links = LINKS.c
    result = session.execute(
        sa.update(LINKS)
        .where(links.id == link_id, links.lease_owner == owner)
        .values(next_check_at=next_check_at, lease_owner=None, lease_expires_at=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def extend(session: Session, owner: str, link_ids: Iterable[int], until: datetime) -> int:
    """Push `owner`'s leases on `link_ids` (checks still in flight) out to `until`."""
    links = LINKS.c
    ids = list(link_ids)
    total = 0
    for start in range(0, len(ids), 500):
        result = session.execute(
            sa.update(LINKS)
            .where(links.lease_owner == owner, links.id.in_(ids[start : start + 500]))
            .values(lease_expires_at=until)
        )
        total += int(result.rowcount)  # type: ignore[attr-defined]
    return total


def release(session: Session, owner: str, link_ids: Iterable[int] | None = None) -> int:
    """End `owner`'s leases (all of them, or those of `link_ids`); the links stay due."""
    links = LINKS.c
    stmt = sa.update(LINKS).where(links.lease_owner == owner)
    if link_ids is not None:
        ids = list(link_ids)
        if not ids:
            return 0
        stmt = stmt.where(links.id.in_(ids))
    result = session.execute(stmt.values(lease_owner=None, lease_expires_at=None))
    return int(result.rowcount)  # type: ignore[attr-defined]


def count_due(session: Session, now: datetime) -> int:
    """How many links are due and free at `now` (for logs and `--once`)."""
    stmt = sa.select(sa.func.count()).select_from(LINKS).where(due_condition(now))
    return int(session.execute(stmt).scalar_one())


def lock_watch_list(session: Session) -> None:
    """Serialise watch-list edits (article syncs) between replicas until the transaction ends.

    PostgreSQL: a transaction-level advisory lock. SQLite: nothing to do (one writer at a time).
    """
    if _dialect(session) == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": WATCH_LIST_LOCK_KEY})


def claim_article_fetch(
    session: Session, article_id: int, now: datetime, next_fetch_at: datetime
) -> bool:
    """Take the refresh of a URL article due at `now` by moving its `next_fetch_at` forward.

    A conditional UPDATE: exactly one replica wins a given due refresh.
    """
    arts = ARTICLES.c
    result = session.execute(
        sa.update(ARTICLES)
        .where(
            arts.id == article_id,
            sa.or_(arts.next_fetch_at.is_(None), arts.next_fetch_at <= now),
        )
        .values(next_fetch_at=next_fetch_at)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
