"""Queries of the drift stage: table `drift_checks` (one row per comparison of a link).

Like repo.py, every function works inside the caller's session and never commits.

Which links are compared (eligible): alive, not retired, with a found citation snapshot (the
capture closest to the citation date). Which of those are due is computed from the rows
themselves, no schedule column:
- never compared;
- the newest row is a verdict (same / drifted / replaced) older than `interval`;
- the newest row is an error (no verdict) older than `retry`;
- the link came back from `dead` (a transition dead -> alive) after its newest row.

Claiming a link inserts its row at once, as verdict "error" with error "in progress", in one
INSERT ... SELECT statement (on PostgreSQL the link rows are locked FOR UPDATE SKIP LOCKED):
another replica then sees a recent row and leaves the link alone; the comparison fills the
row in (`record_drift`), or deletes it when it never ran (`release_drift_claims`). A crash
leaves an error row, retried after `retry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table
from sqlmodel import Session

from service.model import Health
from service.store.tables import DriftRow, LinkRow, OccurrenceRow, SnapshotRow, TransitionRow
from service.store.types import UTCDateTime

VERDICTS = ("same", "drifted", "replaced", "error")
VERDICT_ERROR = "error"
IN_PROGRESS = "in progress"
CITATION = "citation"
CHUNK = 500

DRIFT: Table = DriftRow.__table__  # type: ignore[attr-defined]
LINKS: Table = LinkRow.__table__  # type: ignore[attr-defined]
SNAPSHOTS: Table = SnapshotRow.__table__  # type: ignore[attr-defined]
TRANSITIONS: Table = TransitionRow.__table__  # type: ignore[attr-defined]
OCCURRENCES: Table = OccurrenceRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class DriftDue:
    """A claimed comparison: the link, its citation capture, and the row to fill in."""

    check_id: int
    link_id: int
    url: str
    archive_url: str  # the citation capture's playback URL ({base}/web/<ts>/<url>)
    capture_timestamp: datetime
    previous: str | None  # the link's last verdict before this one (None: never compared)


def _chunks(items: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _newest_id(link_id: sa.ColumnElement[Any]) -> sa.ScalarSelect[Any]:
    d = DRIFT.alias("d_newest")
    return (
        sa.select(d.c.id)
        .where(d.c.link_id == link_id)
        .order_by(d.c.checked_at.desc(), d.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _previous_verdict(link_id: sa.ColumnElement[Any], before_id: Any) -> sa.ScalarSelect[Any]:
    d = DRIFT.alias("d_prev")
    return (
        sa.select(d.c.verdict)
        .where(d.c.link_id == link_id, d.c.verdict != VERDICT_ERROR, d.c.id != before_id)
        .order_by(d.c.checked_at.desc(), d.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _candidates(
    now: datetime,
    *,
    interval: timedelta,
    retry: timedelta,
    link_ids: Sequence[int] | None,
    article_id: int | None,
    force: bool,
) -> sa.Select[Any]:
    """SELECT link id, capture time of the eligible (and, unless `force`, due) links."""
    newest = DRIFT.alias("newest")
    snap = SNAPSHOTS.alias("snap")
    query = (
        sa.select(LINKS.c.id, snap.c.captured_at)
        .select_from(LINKS)
        .join(
            snap,
            sa.and_(
                snap.c.link_id == LINKS.c.id,
                snap.c.role == CITATION,
                snap.c.found.is_(True),
                snap.c.captured_at.is_not(None),
                snap.c.archive_url.is_not(None),
            ),
        )
        .outerjoin(newest, newest.c.id == _newest_id(LINKS.c.id))
        .where(LINKS.c.health == Health.ALIVE.value, LINKS.c.retired.is_(False))
        .order_by(sa.nulls_first(newest.c.checked_at.asc()), LINKS.c.id)
    )
    if not force:
        revived = (
            sa.select(TRANSITIONS.c.id)
            .where(
                TRANSITIONS.c.link_id == LINKS.c.id,
                TRANSITIONS.c.from_health == Health.DEAD.value,
                TRANSITIONS.c.to_health == Health.ALIVE.value,
                TRANSITIONS.c.at > newest.c.checked_at,
            )
            .exists()
        )
        query = query.where(
            sa.or_(
                newest.c.id.is_(None),
                sa.and_(newest.c.verdict != VERDICT_ERROR, newest.c.checked_at <= now - interval),
                sa.and_(newest.c.verdict == VERDICT_ERROR, newest.c.checked_at <= now - retry),
                revived,
            )
        )
    if link_ids is not None:
        query = query.where(LINKS.c.id.in_(list(link_ids)))
    if article_id is not None:
        cited = (
            sa.select(OCCURRENCES.c.id)
            .where(
                OCCURRENCES.c.link_id == LINKS.c.id,
                OCCURRENCES.c.article_id == article_id,
                OCCURRENCES.c.active.is_(True),
            )
            .exists()
        )
        query = query.where(cited)
    return query


def claim_due_drift(
    session: Session,
    now: datetime,
    *,
    interval: timedelta,
    retry: timedelta,
    limit: int | None = None,
    link_ids: Sequence[int] | None = None,
    article_id: int | None = None,
    force: bool = False,
) -> list[DriftDue]:
    """Claim the links due for a drift comparison (see the module docstring), oldest first.

    `force` claims every eligible link whatever its last comparison; `link_ids` and
    `article_id` narrow the choice. Commit right after: the inserted rows are the claim.
    """
    if limit is not None and limit <= 0:
        return []
    picked = _candidates(
        now, interval=interval, retry=retry, link_ids=link_ids, article_id=article_id, force=force
    )
    if limit is not None:
        picked = picked.limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True, of=LINKS)
    chosen = picked.subquery("chosen")
    stamp = sa.literal(now, type_=UTCDateTime())
    insert = (
        sa.insert(DRIFT)
        .from_select(
            ["link_id", "checked_at", "capture_timestamp", "verdict", "error"],
            sa.select(
                chosen.c.id,
                stamp,
                chosen.c.captured_at,
                sa.literal(VERDICT_ERROR),
                sa.literal(IN_PROGRESS),
            ),
        )
        .returning(DRIFT.c.id)
    )
    claim_ids = sorted(int(r[0]) for r in session.execute(insert).all())
    if not claim_ids:
        return []
    snap = SNAPSHOTS.alias("snap")
    out: list[DriftDue] = []
    for chunk in _chunks(claim_ids):
        rows = session.execute(
            sa.select(
                DRIFT.c.id,
                DRIFT.c.link_id,
                LINKS.c.url,
                snap.c.archive_url,
                snap.c.captured_at,
                _previous_verdict(DRIFT.c.link_id, DRIFT.c.id).label("previous"),
            )
            .join(LINKS, LINKS.c.id == DRIFT.c.link_id)
            .join(snap, sa.and_(snap.c.link_id == DRIFT.c.link_id, snap.c.role == CITATION))
            .where(DRIFT.c.id.in_(chunk))
        ).all()
        out.extend(
            DriftDue(
                check_id=r.id,
                link_id=r.link_id,
                url=r.url,
                archive_url=r.archive_url,
                capture_timestamp=r.captured_at,
                previous=r.previous,
            )
            for r in rows
        )
    out.sort(key=lambda d: d.check_id)
    return out


def record_drift(
    session: Session,
    check_id: int,
    *,
    verdict: str,
    checked_at: datetime | None = None,
    cosine: float | None = None,
    containment: float | None = None,
    title_similarity: float | None = None,
    word_count_capture: int | None = None,
    word_count_live: int | None = None,
    error: str | None = None,
) -> None:
    """Fill in a claimed comparison: its verdict (or "error" with the reason) and its scores."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown drift verdict {verdict!r}")
    values: dict[str, Any] = {
        "verdict": verdict,
        "cosine": cosine,
        "containment": containment,
        "title_similarity": title_similarity,
        "word_count_capture": word_count_capture,
        "word_count_live": word_count_live,
        "error": error,
    }
    if checked_at is not None:
        values["checked_at"] = checked_at
    session.execute(sa.update(DRIFT).where(DRIFT.c.id == check_id).values(**values))


def release_drift_claims(session: Session, check_ids: Iterable[int]) -> int:
    """Delete claims whose comparison never ran (the links are due again at once)."""
    ids = sorted(set(check_ids))
    released = 0
    for chunk in _chunks(ids):
        result = session.execute(
            sa.delete(DRIFT).where(DRIFT.c.id.in_(chunk), DRIFT.c.error == IN_PROGRESS)
        )
        released += int(getattr(result, "rowcount", 0) or 0)
    return released


def latest_drift(
    session: Session, link_ids: Iterable[int], *, include_errors: bool = False
) -> dict[int, DriftRow]:
    """{link_id: newest DriftRow} with a verdict (same/drifted/replaced) of each link.

    Links never compared (or only with errors) are absent. `include_errors`: the newest row
    whatever it says (a failed or running comparison too).
    """
    ids = sorted(set(link_ids))
    out: dict[int, DriftRow] = {}
    for chunk in _chunks(ids):
        d = DRIFT.alias("d_newer")
        newer = sa.select(d.c.id).where(
            d.c.link_id == DRIFT.c.link_id,
            sa.or_(
                d.c.checked_at > DRIFT.c.checked_at,
                sa.and_(d.c.checked_at == DRIFT.c.checked_at, d.c.id > DRIFT.c.id),
            ),
        )
        query = sa.select(DriftRow).where(DRIFT.c.link_id.in_(chunk))
        if not include_errors:
            newer = newer.where(d.c.verdict != VERDICT_ERROR)
            query = query.where(DRIFT.c.verdict != VERDICT_ERROR)
        query = query.where(~newer.exists())
        for row in session.execute(query).scalars():
            out[row.link_id] = row
    return out


def drift_history(session: Session, link_id: int) -> list[DriftRow]:
    """Every comparison of a link, oldest first."""
    query = (
        sa.select(DriftRow)
        .where(DRIFT.c.link_id == link_id)
        .order_by(DRIFT.c.checked_at, DRIFT.c.id)
    )
    return list(session.execute(query).scalars())
