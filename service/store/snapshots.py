"""Queries of the archive stage: tables `snapshots`, `save_requests`; links.archive_next_at.

Like repo.py, every function works inside the caller's session and never commits.

snapshots: one row per link and role ("citation": the capture closest to the citation date,
"latest": the newest capture), upserted by each lookup:
- an answer (ArchiveInfo.error None) replaces the row: found=True with the capture, or
  found=False ("never archived", also a stored answer);
- a failure records `error` but never erases a known capture: a found row keeps its capture
  and its looked_up_at (the time of that answer), a row without capture becomes
  found=False with the error (unknown, not "never archived").

links.archive_next_at schedules lookups: NULL or past = due. A new link is due at once (repo
sets it), `mark_archive_due` makes a link due again (the daemon calls it when a link turns
suspect or dead), an answer schedules the next refresh `refresh_days` later, a failure a retry
`retry_s` later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from service.model import ArchiveInfo, Capture, Health
from service.store.repo import url_hash
from service.store.tables import LinkRow, SaveRequestRow, SnapshotRow

ROLE_CITATION = "citation"
ROLE_LATEST = "latest"
ROLES = (ROLE_CITATION, ROLE_LATEST)

DEFAULT_REFRESH_DAYS = 30.0
DEFAULT_RETRY_S = 3600.0
DEFAULT_LEASE_S = 900.0
CHUNK = 500

LINKS: Table = LinkRow.__table__  # type: ignore[attr-defined]
SNAPSHOTS: Table = SnapshotRow.__table__  # type: ignore[attr-defined]
SAVES: Table = SaveRequestRow.__table__  # type: ignore[attr-defined]

SAVE_QUEUED = "queued"
SAVE_PENDING = "pending"
SAVE_SUCCESS = "success"
SAVE_ERROR = "error"  # retryable: tried again at next_attempt_at
SAVE_NOT_ARCHIVABLE = "not_archivable"


@dataclass(frozen=True, slots=True)
class ArchiveDue:
    """A link whose snapshots should be looked up now."""

    link_id: int
    url: str
    citation_date: date | None


@dataclass(frozen=True, slots=True)
class SaveDue:
    """A link to submit to Save Page Now (or whose pending job to poll: job_id set)."""

    link_id: int
    url: str
    job_id: str | None = None


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert(session: Session) -> Any:
    return pg_insert if _dialect(session) == "postgresql" else sqlite_insert


def _chunks(items: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- snapshots ---------------------------------------------------------------------------------


def _capture_values(capture: Capture | None) -> dict[str, Any]:
    if capture is None:
        return {"found": False, "archive_url": None, "captured_at": None, "status": None}
    return {
        "found": True,
        "archive_url": capture.archive_url,
        "captured_at": capture.timestamp,
        "status": capture.status,
    }


def _upsert_answer(
    session: Session,
    link_id: int,
    role: str,
    capture: Capture | None,
    looked_up_at: datetime,
    *,
    only_if_not_found: bool = False,
) -> None:
    values = {
        "link_id": link_id,
        "role": role,
        "looked_up_at": looked_up_at,
        "error": None,
        **_capture_values(capture),
    }
    stmt = _insert(session)(SNAPSHOTS).values(**values)
    updates = {
        k: getattr(stmt.excluded, k)
        for k in ("looked_up_at", "found", "archive_url", "captured_at", "status", "error")
    }
    where = SNAPSHOTS.c.found.is_(False) if only_if_not_found else None
    session.execute(
        stmt.on_conflict_do_update(index_elements=["link_id", "role"], set_=updates, where=where)
    )


def _upsert_failure(
    session: Session, link_id: int, role: str, error: str, looked_up_at: datetime
) -> None:
    stmt = _insert(session)(SNAPSHOTS).values(
        link_id=link_id, role=role, looked_up_at=looked_up_at, error=error, **_capture_values(None)
    )
    keep_time = sa.case(
        (SNAPSHOTS.c.found.is_(True), SNAPSHOTS.c.looked_up_at), else_=stmt.excluded.looked_up_at
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["link_id", "role"],
            set_={"error": stmt.excluded.error, "looked_up_at": keep_time},
        )
    )


def store_archive_info(
    session: Session,
    link_id: int,
    info: ArchiveInfo,
    *,
    refresh_days: float = DEFAULT_REFRESH_DAYS,
    retry_s: float = DEFAULT_RETRY_S,
) -> None:
    """Record one lookup of a link and schedule its next one (see the module docstring)."""
    at = info.looked_up_at
    if info.error is None:
        _upsert_answer(session, link_id, ROLE_CITATION, info.citation, at)
        _upsert_answer(session, link_id, ROLE_LATEST, info.latest, at)
        next_at = at + timedelta(days=refresh_days)
    else:
        for role in ROLES:
            _upsert_failure(session, link_id, role, info.error, at)
        next_at = at + timedelta(seconds=retry_s)
    session.execute(sa.update(LINKS).where(LINKS.c.id == link_id).values(archive_next_at=next_at))


def store_archive_infos(
    session: Session,
    infos: Mapping[int, ArchiveInfo],
    *,
    refresh_days: float = DEFAULT_REFRESH_DAYS,
    retry_s: float = DEFAULT_RETRY_S,
) -> None:
    """`store_archive_info` for every {link_id: ArchiveInfo}."""
    for link_id, info in infos.items():
        store_archive_info(session, link_id, info, refresh_days=refresh_days, retry_s=retry_s)


def snapshots_for_links(
    session: Session, link_ids: Iterable[int]
) -> dict[int, dict[str, SnapshotRow]]:
    """{link_id: {role: SnapshotRow}} for the links that were ever looked up."""
    ids = sorted(set(link_ids))
    out: dict[int, dict[str, SnapshotRow]] = {}
    for chunk in _chunks(ids):
        rows = session.execute(
            sa.select(SnapshotRow).where(SNAPSHOTS.c.link_id.in_(chunk))
        ).scalars()
        for row in rows:
            out.setdefault(row.link_id, {})[row.role] = row
    return out


def _capture_from_row(row: SnapshotRow | None, url: str) -> Capture | None:
    if row is None or not row.found or row.archive_url is None or row.captured_at is None:
        return None
    original = (
        row.archive_url.split("/web/", 1)[1].split("/", 1)[1] if "/web/" in row.archive_url else url
    )
    return Capture(
        original_url=original,
        timestamp=row.captured_at,
        archive_url=row.archive_url,
        status=row.status,
    )


def archive_info_from_rows(url: str, rows: Mapping[str, SnapshotRow]) -> ArchiveInfo | None:
    """The stored answer as an ArchiveInfo (None when the link was never looked up)."""
    if not rows:
        return None
    citation = _capture_from_row(rows.get(ROLE_CITATION), url)
    latest = _capture_from_row(rows.get(ROLE_LATEST), url)
    errors = [r.error for r in rows.values() if r.error]
    times = [r.looked_up_at for r in rows.values() if r.looked_up_at is not None]
    error = errors[0] if errors and citation is None and latest is None else None
    return ArchiveInfo(
        url=url,
        citation=citation,
        latest=latest,
        looked_up_at=max(times) if times else datetime.now(UTC),
        error=error,
    )


# -- scheduling lookups ------------------------------------------------------------------------


def _claim_due(
    session: Session, now: datetime, limit: int | None, lease_s: float, urls: Sequence[str] | None
) -> list[ArchiveDue]:
    due = sa.or_(LINKS.c.archive_next_at.is_(None), LINKS.c.archive_next_at <= now)
    query = (
        sa.select(LINKS.c.id, LINKS.c.url, LINKS.c.citation_date, LINKS.c.first_seen_at)
        .where(LINKS.c.retired.is_(False), due)
        .order_by(sa.nulls_first(LINKS.c.archive_next_at.asc()), LINKS.c.id)
    )
    if urls is not None:
        query = query.where(LINKS.c.url_hash.in_([url_hash(u) for u in urls]))
    if limit is not None:
        query = query.limit(limit)
    if _dialect(session) == "postgresql":
        query = query.with_for_update(skip_locked=True, of=LINKS)
    rows = session.execute(query).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    lease_until = now + timedelta(seconds=lease_s)
    for chunk in _chunks(ids):
        session.execute(
            sa.update(LINKS).where(LINKS.c.id.in_(chunk)).values(archive_next_at=lease_until)
        )
    return [
        ArchiveDue(
            link_id=r.id,
            url=r.url,
            citation_date=r.citation_date
            or (r.first_seen_at.astimezone(UTC).date() if r.first_seen_at is not None else None),
        )
        for r in rows
    ]


def links_due_for_archive(
    session: Session, now: datetime, limit: int, *, lease_s: float = DEFAULT_LEASE_S
) -> list[ArchiveDue]:
    """Claim up to `limit` links whose lookup is due (never looked up first, then the oldest).

    Claiming moves their archive_next_at `lease_s` ahead, so another worker does not take them
    too (on PostgreSQL rows locked by another transaction are skipped); storing the lookup sets
    the real next time, and a crash leaves them due again after the lease.
    """
    return _claim_due(session, now, limit, lease_s, None)


def links_due_for_archive_among(
    session: Session, urls: Iterable[str], now: datetime, *, lease_s: float = DEFAULT_LEASE_S
) -> list[ArchiveDue]:
    """Like links_due_for_archive, restricted to these URLs (for `linkwatch check`): no limit."""
    wanted = sorted(set(urls))
    out: list[ArchiveDue] = []
    for start in range(0, len(wanted), CHUNK):
        out.extend(_claim_due(session, now, None, lease_s, wanted[start : start + CHUNK]))
    return out


def mark_archive_due(session: Session, link_id: int, now: datetime) -> None:
    """Make the link's snapshots due for a lookup now (a link that turned suspect or dead)."""
    session.execute(sa.update(LINKS).where(LINKS.c.id == link_id).values(archive_next_at=now))


# -- Save Page Now -----------------------------------------------------------------------------


def links_due_for_save(
    session: Session, now: datetime, *, max_age_days: float, limit: int
) -> list[SaveDue]:
    """Alive links whose newest capture is missing ("never archived") or older than max_age_days.

    Only links already looked up qualify (an unknown answer is not "no capture"), and none
    with a save request in flight or waiting for its next attempt (retry, not archivable).
    """
    cutoff = now - timedelta(days=max_age_days)
    latest = SNAPSHOTS.alias("latest")
    blocked = (
        sa.select(SAVES.c.id)
        .where(
            SAVES.c.link_id == LINKS.c.id,
            sa.or_(SAVES.c.state == SAVE_PENDING, SAVES.c.next_attempt_at > now),
        )
        .exists()
    )
    query = (
        sa.select(LINKS.c.id, LINKS.c.url)
        .join(latest, sa.and_(latest.c.link_id == LINKS.c.id, latest.c.role == ROLE_LATEST))
        .where(
            LINKS.c.health == Health.ALIVE.value,
            LINKS.c.retired.is_(False),
            sa.or_(
                sa.and_(latest.c.found.is_(True), latest.c.captured_at < cutoff),
                sa.and_(latest.c.found.is_(False), latest.c.error.is_(None)),
            ),
            ~blocked,
        )
        .order_by(LINKS.c.id)
        .limit(limit)
    )
    return [SaveDue(link_id=r.id, url=r.url) for r in session.execute(query).all()]


def pending_saves(session: Session, now: datetime, *, limit: int) -> list[SaveDue]:
    """Submitted jobs whose status should be polled again."""
    query = (
        sa.select(SAVES.c.link_id, LINKS.c.url, SAVES.c.job_id)
        .join(LINKS, LINKS.c.id == SAVES.c.link_id)
        .where(
            SAVES.c.state == SAVE_PENDING,
            SAVES.c.job_id.is_not(None),
            sa.or_(SAVES.c.next_attempt_at.is_(None), SAVES.c.next_attempt_at <= now),
        )
        .order_by(SAVES.c.next_attempt_at, SAVES.c.id)
        .limit(limit)
    )
    return [
        SaveDue(link_id=r.link_id, url=r.url, job_id=r.job_id) for r in session.execute(query).all()
    ]


def save_request_for(session: Session, link_id: int) -> SaveRequestRow | None:
    """The save request of a link (one row per link, updated by each attempt)."""
    return (
        session.execute(
            sa.select(SaveRequestRow)
            .where(SAVES.c.link_id == link_id)
            .order_by(SAVES.c.id.desc())
            .limit(1)
        )
        .scalars()
        .first()
    )


def record_save(
    session: Session,
    link_id: int,
    *,
    state: str,
    now: datetime,
    submitted: bool = False,
    job_id: str | None = None,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    captured_at: datetime | None = None,
) -> None:
    """Write the link's save request (state, job, error, next try); `submitted`: one more try."""
    values: dict[str, Any] = {"state": state, "error": error, "next_attempt_at": next_attempt_at}
    if job_id is not None:
        values["job_id"] = job_id
    if captured_at is not None:
        values["captured_at"] = captured_at
    if submitted:
        values["submitted_at"] = now
    row = save_request_for(session, link_id)
    if row is None:
        session.execute(
            sa.insert(SAVES).values(link_id=link_id, attempts=1 if submitted else 0, **values)
        )
        return
    if submitted:
        values["attempts"] = SAVES.c.attempts + 1
        if job_id is None:
            values["job_id"] = None
    session.execute(sa.update(SAVES).where(SAVES.c.id == row.id).values(**values))


def store_saved_capture(session: Session, link_id: int, capture: Capture, now: datetime) -> None:
    """A capture made by Save Page Now: the newest snapshot (and the citation one if none)."""
    _upsert_answer(session, link_id, ROLE_LATEST, capture, now)
    _upsert_answer(session, link_id, ROLE_CITATION, capture, now, only_if_not_found=True)
