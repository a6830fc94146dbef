"""SQL of the alert outbox: the `alerts` and `notifications` tables, and the facts alerts need.

Every function takes an open session and leaves the commit to the caller (`Database.session()`
commits when its block succeeds). Exactly-once rests on two statements:
- `insert_alert`: INSERT ... ON CONFLICT (event_key, channel) DO NOTHING, so replicas that
  enqueue the same event concurrently create one row;
- `claim_due`: one conditional UPDATE that moves due rows to `sending` under a claim token
  (rows picked with FOR UPDATE SKIP LOCKED on PostgreSQL); a row claimed by one worker is
  not due for another until its claim expires.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, and_, cast, exists, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from service.store.tables import (
    AlertRow,
    ArticleRow,
    CheckRow,
    DriftRow,
    LinkRow,
    MonitorStateRow,
    NotificationRow,
    OccurrenceRow,
    SnapshotRow,
    TransitionRow,
)

A = AlertRow.__table__  # type: ignore[attr-defined]
N = NotificationRow.__table__  # type: ignore[attr-defined]
T = TransitionRow.__table__  # type: ignore[attr-defined]
L = LinkRow.__table__  # type: ignore[attr-defined]
C = CheckRow.__table__  # type: ignore[attr-defined]
O = OccurrenceRow.__table__  # type: ignore[attr-defined]  # noqa: E741
AR = ArticleRow.__table__  # type: ignore[attr-defined]
S = SnapshotRow.__table__  # type: ignore[attr-defined]
M = MonitorStateRow.__table__  # type: ignore[attr-defined]
D = DriftRow.__table__  # type: ignore[attr-defined]

DRIFT_KEY_PREFIX = "drift:"
_DRIFT_VERDICTS = ("same", "drifted", "replaced")
_DRIFT_CHANGED = ("drifted", "replaced")

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# -- facts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TransitionFacts:
    """An alert-worthy transition with the link and the check that caused it."""

    id: int
    link_id: int
    at: datetime
    from_health: str
    to_health: str
    outcome: str | None
    url: str
    http_status: int | None
    final_url: str | None
    link_health: str
    link_health_since: datetime | None
    dead_streak: int
    dead_streak_started: datetime | None


@dataclass(frozen=True, slots=True)
class CitationFacts:
    location: str
    title: str | None
    tags: tuple[str, ...]
    anchor_texts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SnapshotFacts:
    role: str
    archive_url: str
    captured_at: datetime | None


@dataclass(frozen=True, slots=True)
class LinkFacts:
    id: int
    url: str
    health: str
    health_since: datetime | None
    last_outcome: str | None
    last_status: int | None
    last_final_url: str | None
    last_checked_at: datetime | None


@dataclass(frozen=True, slots=True)
class DriftChangeFacts:
    """A drift comparison whose verdict turned from same (or none) to drifted / replaced."""

    id: int  # the drift_checks row: the event key is drift:<id>
    link_id: int
    url: str
    checked_at: datetime | None
    capture_timestamp: datetime | None
    verdict: str
    previous: str | None  # the verdict before (None: first comparison)
    cosine: float | None
    containment: float | None
    title_similarity: float | None
    word_count_capture: int | None
    word_count_live: int | None
    last_outcome: str | None
    last_status: int | None


@dataclass(frozen=True, slots=True)
class ClaimedAlert:
    id: int
    event: str
    event_key: str
    channel: str
    transition_id: int | None
    created_at: datetime
    attempts: int
    payload: str


@dataclass(frozen=True, slots=True)
class NotificationFacts:
    at: datetime
    channel: str
    ok: bool
    error: str | None
    event: str
    event_key: str
    alert_state: str
    attempts: int
    next_attempt_at: datetime | None


# -- transitions ------------------------------------------------------------------------------


def _alert_worthy() -> Any:
    return or_(
        and_(T.c.to_health == "dead", T.c.from_health != "dead"),
        and_(T.c.from_health == "dead", T.c.to_health == "alive"),
    )


def transitions_to_enqueue(
    session: Session,
    *,
    after_id: int,
    recent_since: datetime,
    not_before: datetime | None,
    limit: int = 1000,
) -> list[TransitionFacts]:
    """Alert-worthy transitions with no alert row yet: newer than the watermark `after_id`,
    or (stragglers committed late by another replica) seen since `recent_since`."""
    has_alert = exists().where(A.c.transition_id == T.c.id)
    where = [
        _alert_worthy(),
        ~has_alert,
        or_(T.c.id > after_id, T.c.at >= recent_since),
    ]
    if not_before is not None:
        where.append(T.c.at >= not_before)
    stmt = (
        select(
            T.c.id,
            T.c.link_id,
            T.c.at,
            T.c.from_health,
            T.c.to_health,
            T.c.outcome,
            L.c.url,
            C.c.http_status,
            C.c.final_url,
            L.c.health.label("link_health"),
            L.c.health_since.label("link_health_since"),
            L.c.dead_streak,
            L.c.dead_streak_started,
        )
        .select_from(T.join(L, L.c.id == T.c.link_id).outerjoin(C, C.c.id == T.c.check_id))
        .where(*where)
        .order_by(T.c.id)
        .limit(limit)
    )
    return [TransitionFacts(**row._asdict()) for row in session.execute(stmt).all()]


def max_transition_id(session: Session) -> int:
    return int(session.execute(select(func.coalesce(func.max(T.c.id), 0))).scalar_one())


def previous_dead_since(session: Session, link_id: int, before_id: int) -> datetime | None:
    """When the link last became dead before transition `before_id`."""
    stmt = select(func.max(T.c.at)).where(
        T.c.link_id == link_id, T.c.id < before_id, T.c.to_health == "dead"
    )
    value: datetime | None = session.execute(stmt).scalar_one_or_none()
    return value


def count_checks(session: Session, link_id: int, until: datetime) -> int:
    stmt = (
        select(func.count()).select_from(C).where(C.c.link_id == link_id, C.c.checked_at <= until)
    )
    return int(session.execute(stmt).scalar_one())


def _link_facts_select() -> Select[Any]:
    """The columns of LinkFacts, in field order."""
    return select(
        L.c.id,
        L.c.url,
        L.c.health,
        L.c.health_since,
        L.c.last_outcome,
        L.c.last_status,
        L.c.last_final_url,
        L.c.last_checked_at,
    )


def links_facts(session: Session, link_ids: Iterable[int]) -> dict[int, LinkFacts]:
    ids = sorted(set(link_ids))
    if not ids:
        return {}
    stmt = _link_facts_select().where(L.c.id.in_(ids))
    return {row[0]: LinkFacts(*row) for row in session.execute(stmt).all()}


def dead_links_since(session: Session, older_than: datetime) -> list[LinkFacts]:
    """Links dead since before `older_than` (not retired, not ignored): reminder candidates."""
    stmt = _link_facts_select().where(
        L.c.health == "dead",
        L.c.health_since <= older_than,
        L.c.retired.is_(False),
        L.c.ignored.is_(False),
    )
    return [LinkFacts(*row) for row in session.execute(stmt).all()]


def moved_links(session: Session) -> list[LinkFacts]:
    """Alive links whose last check saw a permanent redirect to another page."""
    stmt = _link_facts_select().where(
        L.c.last_outcome == "moved",
        L.c.last_final_url.is_not(None),
        L.c.retired.is_(False),
        L.c.ignored.is_(False),
    )
    return [LinkFacts(*row) for row in session.execute(stmt).all()]


def drift_changes(
    session: Session, *, since: datetime, limit: int = 1000
) -> list[DriftChangeFacts]:
    """Drift comparisons made since `since` whose verdict is drifted or replaced while the
    link's previous verdict was same (or it had none), with no `drift:<id>` alert yet.

    Only links still alive, cited (not retired) and not ignored; oldest first.
    """
    prev_row = D.alias("d_prev")
    previous = (
        select(prev_row.c.verdict)
        .where(
            prev_row.c.link_id == D.c.link_id,
            prev_row.c.verdict.in_(_DRIFT_VERDICTS),
            or_(
                prev_row.c.checked_at < D.c.checked_at,
                and_(prev_row.c.checked_at == D.c.checked_at, prev_row.c.id < D.c.id),
            ),
        )
        .order_by(prev_row.c.checked_at.desc(), prev_row.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    key = literal(DRIFT_KEY_PREFIX) + cast(D.c.id, String)
    stmt = (
        select(
            D.c.id,
            D.c.link_id,
            L.c.url,
            D.c.checked_at,
            D.c.capture_timestamp,
            D.c.verdict,
            previous.label("previous"),
            D.c.cosine,
            D.c.containment,
            D.c.title_similarity,
            D.c.word_count_capture,
            D.c.word_count_live,
            L.c.last_outcome,
            L.c.last_status,
        )
        .select_from(D.join(L, L.c.id == D.c.link_id))
        .where(
            D.c.verdict.in_(_DRIFT_CHANGED),
            D.c.checked_at >= since,
            func.coalesce(previous, "same") == "same",
            ~exists().where(A.c.event_key == key),
            L.c.health == "alive",
            L.c.retired.is_(False),
            L.c.ignored.is_(False),
        )
        .order_by(D.c.checked_at, D.c.id)
        .limit(limit)
    )
    return [DriftChangeFacts(**row._asdict()) for row in session.execute(stmt).all()]


def citations_for_links(
    session: Session, link_ids: Iterable[int]
) -> dict[int, list[CitationFacts]]:
    """Per link: the active articles citing it (active occurrences), with their anchor texts."""
    ids = sorted(set(link_ids))
    if not ids:
        return {}
    stmt = (
        select(O.c.link_id, AR.c.id, AR.c.location, AR.c.title, AR.c.tags, O.c.anchor_text)
        .select_from(O.join(AR, AR.c.id == O.c.article_id))
        .where(O.c.link_id.in_(ids), O.c.active.is_(True), AR.c.active.is_(True))
        .order_by(O.c.link_id, AR.c.id, O.c.position)
    )
    grouped: dict[int, dict[int, tuple[str, str | None, str, list[str]]]] = defaultdict(dict)
    for link_id, article_id, location, title, tags, anchor in session.execute(stmt).all():
        slot = grouped[link_id].setdefault(article_id, (location, title, tags or "", []))
        slot[3].append(anchor or "")
    out: dict[int, list[CitationFacts]] = {}
    for link_id, articles in grouped.items():
        out[link_id] = [
            CitationFacts(
                location=loc,
                title=title,
                tags=tuple(t.strip() for t in tags.split(",") if t.strip()),
                anchor_texts=tuple(anchors),
            )
            for loc, title, tags, anchors in articles.values()
        ]
    return out


def snapshots_for_links(
    session: Session, link_ids: Iterable[int]
) -> dict[int, dict[str, SnapshotFacts]]:
    """Per link and role ("citation", "latest"): the archived copy found, if any."""
    ids = sorted(set(link_ids))
    if not ids:
        return {}
    stmt = select(S.c.link_id, S.c.role, S.c.archive_url, S.c.captured_at).where(
        S.c.link_id.in_(ids), S.c.found.is_(True), S.c.archive_url.is_not(None)
    )
    out: dict[int, dict[str, SnapshotFacts]] = defaultdict(dict)
    for link_id, role, url, captured in session.execute(stmt).all():
        out[link_id][role] = SnapshotFacts(role, url, captured)
    return dict(out)


# -- monitor_state ----------------------------------------------------------------------------


def get_state(session: Session, key: str) -> str | None:
    value: str | None = session.execute(
        select(M.c.value).where(M.c.key == key)
    ).scalar_one_or_none()
    return value


def put_state(session: Session, key: str, value: str, now: datetime) -> None:
    """Insert or overwrite a monitor_state entry."""
    stmt = _insert(session, M).values(key=key, value=value, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[M.c.key], set_={"value": value, "updated_at": now}
    )
    session.execute(stmt)


def put_state_if_absent(session: Session, key: str, value: str, now: datetime) -> str:
    """Insert the entry unless one exists; return the value now stored (first writer wins)."""
    stmt = _insert(session, M).values(key=key, value=value, updated_at=now).on_conflict_do_nothing()
    session.execute(stmt)
    stored = get_state(session, key)
    return stored if stored is not None else value


def delete_state(session: Session, *keys: str) -> None:
    session.execute(M.delete().where(M.c.key.in_(keys)))


# -- alerts -----------------------------------------------------------------------------------


def _insert(session: Session, table: Any) -> Any:
    if _dialect(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_alert(
    session: Session,
    *,
    event: str,
    event_key: str,
    channel: str,
    created_at: datetime,
    next_attempt_at: datetime,
    payload: str,
    transition_id: int | None = None,
    state: str = PENDING,
    attempts: int = 0,
    delivered_at: datetime | None = None,
) -> int | None:
    """Insert one alert unless (event_key, channel) exists; its id, or None when it existed."""
    stmt = (
        _insert(session, A)
        .values(
            event=event,
            event_key=event_key[:128],
            channel=channel,
            transition_id=transition_id,
            created_at=created_at,
            state=state,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            delivered_at=delivered_at,
            payload=payload,
        )
        .on_conflict_do_nothing(index_elements=[A.c.event_key, A.c.channel])
        .returning(A.c.id)
    )
    row = session.execute(stmt).first()
    return int(row[0]) if row is not None else None


def existing_event_keys(session: Session, prefix: str) -> set[str]:
    stmt = select(A.c.event_key).where(A.c.event_key.like(f"{prefix}%")).distinct()
    return set(session.execute(stmt).scalars().all())


def _due(now: datetime) -> Any:
    return or_(
        and_(A.c.state == PENDING, or_(A.c.next_attempt_at.is_(None), A.c.next_attempt_at <= now)),
        and_(A.c.state == SENDING, A.c.claimed_until < now),
    )


def due_channels(session: Session, now: datetime) -> list[str]:
    stmt = select(A.c.channel).where(_due(now)).distinct().order_by(A.c.channel)
    return list(session.execute(stmt).scalars().all())


def claim_due(
    session: Session, *, channel: str, token: str, now: datetime, lease_until: datetime, limit: int
) -> list[ClaimedAlert]:
    """Move up to `limit` due alerts of `channel` to `sending` under `token`; return them.

    One conditional UPDATE: a row another worker claimed (and whose claim has not expired) is
    not due, so it is never claimed twice. On PostgreSQL the candidates are locked with
    FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint rows without waiting.
    """
    candidates = (
        select(A.c.id).where(A.c.channel == channel, _due(now)).order_by(A.c.id).limit(limit)
    )
    if _dialect(session) == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    stmt = (
        update(A)
        .where(A.c.id.in_(candidates.scalar_subquery()), _due(now))
        .values(state=SENDING, claimed_by=token, claimed_until=lease_until)
    )
    session.execute(stmt)
    rows = session.execute(
        select(
            A.c.id,
            A.c.event,
            A.c.event_key,
            A.c.channel,
            A.c.transition_id,
            A.c.created_at,
            A.c.attempts,
            A.c.payload,
        )
        .where(A.c.claimed_by == token, A.c.state == SENDING)
        .order_by(A.c.id)
    ).all()
    return [ClaimedAlert(*row) for row in rows]


def mark_delivered(session: Session, ids: Sequence[int], *, token: str, now: datetime) -> int:
    if not ids:
        return 0
    result = session.execute(
        update(A)
        .where(A.c.id.in_(list(ids)), A.c.claimed_by == token, A.c.state == SENDING)
        .values(state=DELIVERED, delivered_at=now, attempts=A.c.attempts + 1, claimed_until=None)
    )
    return _rowcount(result)


def mark_retry(session: Session, alert_id: int, *, token: str, next_attempt_at: datetime) -> int:
    result = session.execute(
        update(A)
        .where(A.c.id == alert_id, A.c.claimed_by == token, A.c.state == SENDING)
        .values(
            state=PENDING,
            attempts=A.c.attempts + 1,
            next_attempt_at=next_attempt_at,
            claimed_until=None,
        )
    )
    return _rowcount(result)


def mark_failed(session: Session, ids: Sequence[int], *, token: str) -> int:
    """Give up on alerts for good (e.g. their channel is no longer configured)."""
    if not ids:
        return 0
    result = session.execute(
        update(A)
        .where(A.c.id.in_(list(ids)), A.c.claimed_by == token, A.c.state == SENDING)
        .values(state=FAILED, attempts=A.c.attempts + 1, claimed_until=None)
    )
    return _rowcount(result)


def record_attempts(
    session: Session,
    alert_ids: Sequence[int],
    *,
    channel: str,
    at: datetime,
    ok: bool,
    error: str | None,
) -> None:
    """One `notifications` row per alert for one delivery attempt."""
    if not alert_ids:
        return
    session.execute(
        N.insert(),
        [
            {"alert_id": i, "channel": channel, "at": at, "ok": ok, "error": error}
            for i in alert_ids
        ],
    )


def recent_notifications(session: Session, limit: int = 20) -> list[NotificationFacts]:
    stmt = (
        select(
            N.c.at,
            N.c.channel,
            N.c.ok,
            N.c.error,
            A.c.event,
            A.c.event_key,
            A.c.state,
            A.c.attempts,
            A.c.next_attempt_at,
        )
        .select_from(N.join(A, A.c.id == N.c.alert_id))
        .order_by(N.c.at.desc(), N.c.id.desc())
        .limit(limit)
    )
    return [NotificationFacts(*row) for row in session.execute(stmt).all()]


def count_alerts(session: Session) -> dict[str, int]:
    """Alerts per state (pending, sending, delivered, failed), test messages left out."""
    stmt = select(A.c.state, func.count()).where(A.c.event != "test").group_by(A.c.state)
    return {state: int(n) for state, n in session.execute(stmt).all()}


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
